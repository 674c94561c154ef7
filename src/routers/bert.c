// The BERT-style classifier router (RouteLLM §2.4): three classes (0 strong wins, 1 tie, 2 weak
// wins) predicted from the prompt and P(strong wins) = softmax₀, so a tie counts for the weak
// model. This build keeps the encoder frozen and trains a two-layer GELU head on its pooled
// embedding (tensors head.0.weight (H, D), head.0.bias (H), head.2.weight (3, H), head.2.bias
// (3)); it does not fine-tune the encoder layers. As in the original, the classes are about the
// stronger versus the weaker model, so the score does not depend on which known pair is asked.
//
// The causal-LLM router (RouteLLM §2.4) is the same head on a causal LM's final hidden state in
// the routing template (lm/route.h), where the model would write its score of the weak model's
// answer. The LM stays frozen; the hidden states of different prompts point in much the same
// direction, so the input is standardised per dimension with the training prompts' mean and
// standard deviation (tensors input.mean, input.std (D)) before the head.
//
// Its variant after the paper's reads only the LM's next-token distribution over the score tokens
// "1" … "5": with tensor score.rows (5, D), the tokens' output-matrix rows, the head's input is the
// five logits at the unit-length embedding, centred on their mean (the distribution up to its
// temperature), standardised (input.mean, input.std (5)); head.0.weight is then (H, 5).
#include <math.h>
#include <stdlib.h>

#include "core/core.h"
#include "core/safetensors.h"
#include "rl/encoder.h"
#include "routers/bert.h"
#include "routers/router_impl.h"
#include "train/train_impl.h"

#define MAX_HIDDEN 4096

static float gelu(float x) {
    return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
}

void rl__bert_forward(const struct rl_bert_head *h, const float *e, float *hidden, double *logits) {
    const int D = h->dim, H = h->hidden;
    float z[RL_ROUTER_MAX_INPUT], logit[RL_ENCODER_SCORE_TOKENS];
    if (h->score_rows) {
        double l[RL_ENCODER_SCORE_TOKENS], mean = 0;
        for (int k = 0; k < RL_ENCODER_SCORE_TOKENS; k++) {
            l[k] = 0;
            for (int d = 0; d < h->in_dim; d++)
                l[k] += (double)h->score_rows[(size_t)k * h->in_dim + d] * e[d];
            mean += l[k] / RL_ENCODER_SCORE_TOKENS;
        }
        for (int k = 0; k < RL_ENCODER_SCORE_TOKENS; k++)
            logit[k] = (float)(l[k] - mean);
        e = logit;
    }
    if (h->mean) {
        for (int d = 0; d < D; d++)
            z[d] = (e[d] - h->mean[d]) / h->std[d];
        e = z;
    }
    for (int j = 0; j < H; j++) {
        const float *row = h->w1 + (size_t)j * D;
        float acc = h->b1[j];
        for (int d = 0; d < D; d++)
            acc += row[d] * e[d];
        hidden[j] = gelu(acc);
    }
    for (int k = 0; k < RL_BERT_CLASSES; k++) {
        const float *row = h->w2 + (size_t)k * H;
        double acc = h->b2[k];
        for (int j = 0; j < H; j++)
            acc += (double)row[j] * hidden[j];
        logits[k] = acc;
    }
}

static int bert_score(const struct rl_router *r, const struct rl_router_pair *pair,
                      const struct rl_prompt *prompt, const float *e, double *p_strong) {
    (void)pair;
    (void)prompt;
    float hidden[MAX_HIDDEN];
    double z[RL_BERT_CLASSES];
    rl__bert_forward(r->impl, e, hidden, z);
    double mx = fmax(z[0], fmax(z[1], z[2]));
    double s = exp(z[0] - mx) + exp(z[1] - mx) + exp(z[2] - mx);
    *p_strong = exp(z[0] - mx) / s;
    return RL_OK;
}

// The head's tensors, and with standardise the input's mean and standard deviation.
static int head_load(struct rl_router *r, const struct rl_safetensors *st, bool standardise,
                     char *errbuf) {
    const int in_dim = rl__router_input_dim(r);
    const struct rl_tensor *w1, *b1, *w2, *b2, *mean = NULL, *std = NULL, *rows = NULL;
    int rc = RL_OK;
    if (standardise && rl_safetensors_find(st, "score.rows")) {
        int64_t sr[2] = {RL_ENCODER_SCORE_TOKENS, in_dim};
        rc = rl_safetensors_expect(st, "score.rows", RL_DTYPE_F32, 2, sr, &rows, errbuf);
    }
    const int D = rows ? RL_ENCODER_SCORE_TOKENS : in_dim;
    int64_t s1[2] = {-1, D};
    if (rc == RL_OK)
        rc = rl_safetensors_expect(st, "head.0.weight", RL_DTYPE_F32, 2, s1, &w1, errbuf);
    if (rc != RL_OK)
        return rc;
    const int H = (int)w1->shape[0];
    if (H < 1 || H > MAX_HIDDEN)
        return rl__errf(errbuf, RL_EFORMAT, "%s: head width %d is not in 1..%d",
                        rl_safetensors_path(st), H, MAX_HIDDEN);
    int64_t sb1[1] = {H}, s2[2] = {RL_BERT_CLASSES, H}, sb2[1] = {RL_BERT_CLASSES}, sd[1] = {D};
    rc = rl_safetensors_expect(st, "head.0.bias", RL_DTYPE_F32, 1, sb1, &b1, errbuf);
    if (rc == RL_OK)
        rc = rl_safetensors_expect(st, "head.2.weight", RL_DTYPE_F32, 2, s2, &w2, errbuf);
    if (rc == RL_OK)
        rc = rl_safetensors_expect(st, "head.2.bias", RL_DTYPE_F32, 1, sb2, &b2, errbuf);
    if (rc == RL_OK && standardise)
        rc = rl_safetensors_expect(st, "input.mean", RL_DTYPE_F32, 1, sd, &mean, errbuf);
    if (rc == RL_OK && standardise)
        rc = rl_safetensors_expect(st, "input.std", RL_DTYPE_F32, 1, sd, &std, errbuf);
    if (rc != RL_OK)
        return rc;
    const struct rl_tensor *parts[] = {w1, b1, w2, b2, mean, std, rows};
    void *at[RL_COUNTOF(parts)];
    struct rl_bert_head *h = rl__router_impl_new(sizeof *h, parts, RL_COUNTOF(parts), at);
    if (!h)
        return rl__errf(errbuf, RL_ENOMEM, "out of memory");
    r->impl = h;
    for (size_t i = 0; i < RL_COUNTOF(parts); i++) {
        const float *x = at[i];
        for (size_t k = 0; parts[i] && k < parts[i]->nbytes / sizeof *x; k++)
            if (!isfinite(x[k]) || (parts[i] == std && !(x[k] > 0)))
                return rl__errf(errbuf, RL_EFORMAT, "%s: head parameters are not finite",
                                rl_safetensors_path(st));
    }
    *h = (struct rl_bert_head){D, H, at[0], at[1], at[2], at[3], at[4], at[5], at[6], in_dim};
    return RL_OK;
}

static int bert_load(struct rl_router *r, const struct rl_safetensors *st, char *errbuf) {
    return head_load(r, st, false, errbuf);
}

static int causal_llm_load(struct rl_router *r, const struct rl_safetensors *st, char *errbuf) {
    return head_load(r, st, true, errbuf);
}

// The head and its parameters are one allocation (rl__router_impl_new).
const struct rl_router_kind rl__router_kind_bert = {
    .name = "bert",
    .needs_encoder = true,
    .shipped = true,
    .load = bert_load,
    .score = bert_score,
    .free = free,
    .features = true,
    .train = rl__train_bert,
    .train_defaults = rl__train_bert_defaults,
};

// The head and its standardisation are one allocation (rl__router_impl_new).
const struct rl_router_kind rl__router_kind_causal_llm = {
    .name = "causal_llm",
    .needs_encoder = true,
    .load = causal_llm_load,
    .score = bert_score,
    .free = free,
    .train = rl__train_causal_llm,
    .train_defaults = rl__train_bert_defaults,
};
