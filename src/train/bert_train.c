// Training the BERT-style router's head (RouteLLM §2.4 labels on a frozen encoder): each battle
// between two tiers becomes a sample "stronger model wins / tie / weaker model wins", with the
// stronger side given by the global tiers. Samples of one prompt and label are merged (their
// weights add up), which leaves the loss unchanged and makes an epoch over the AlpacaEval battles
// (805 prompts, 100k battles) a few thousand samples. Loss: weighted cross-entropy; optimiser and
// loop: the minibatch loop shared with MF (minibatch.c), so threads do not change the bits.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "rl/encoder.h"
#include "routers/bert.h"
#include "train/train_impl.h"

#define MAX_H 4096

static float gelu(float x) {
    return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
}

// d/dx of x·Φ(x): Φ(x) + x·φ(x).
static float gelu_grad(float x) {
    return 0.5f * (1.0f + erff(x * 0.70710678118654752f)) +
           x * 0.3989422804014327f * expf(-0.5f * x * x);
}

double rl__bert_loss_grad(const float *theta, int D, int H, const struct rl_bert_sample *s,
                          size_t n, const float *x, float *grad) {
    const int C = RL_BERT_CLASSES;
    const float *W1 = theta, *b1 = W1 + (size_t)H * D, *W2 = b1 + H, *b2 = W2 + (size_t)C * H;
    float *gW1 = grad, *gb1 = grad ? gW1 + (size_t)H * D : NULL, *gW2 = grad ? gb1 + H : NULL,
          *gb2 = grad ? gW2 + (size_t)C * H : NULL;
    float z1[MAX_H], h[MAX_H], dh[MAX_H];
    double loss = 0;
    for (size_t i = 0; i < n; i++) {
        const float *xi = x + i * (size_t)D;
        for (int j = 0; j < H; j++) {
            const float *row = W1 + (size_t)j * D;
            float acc = b1[j];
            for (int d = 0; d < D; d++)
                acc += row[d] * xi[d];
            z1[j] = acc;
            h[j] = gelu(acc);
        }
        double z2[RL_BERT_CLASSES], mx = -INFINITY;
        for (int k = 0; k < C; k++) {
            double acc = b2[k];
            for (int j = 0; j < H; j++)
                acc += (double)W2[(size_t)k * H + j] * h[j];
            z2[k] = acc;
            mx = fmax(mx, acc);
        }
        double sum = 0;
        for (int k = 0; k < C; k++)
            sum += exp(z2[k] - mx);
        double lse = mx + log(sum);
        loss += s[i].weight * (lse - z2[s[i].label]);
        if (!grad)
            continue;
        float dz2[RL_BERT_CLASSES];
        for (int k = 0; k < C; k++)
            dz2[k] = (float)(s[i].weight * (exp(z2[k] - lse) - (k == s[i].label)));
        for (int j = 0; j < H; j++)
            dh[j] = 0;
        for (int k = 0; k < C; k++) {
            gb2[k] += dz2[k];
            for (int j = 0; j < H; j++) {
                gW2[(size_t)k * H + j] += dz2[k] * h[j];
                dh[j] += dz2[k] * W2[(size_t)k * H + j];
            }
        }
        for (int j = 0; j < H; j++) {
            float dz1 = dh[j] * gelu_grad(z1[j]);
            gb1[j] += dz1;
            float *row = gW1 + (size_t)j * D;
            for (int d = 0; d < D; d++)
                row[d] += dz1 * xi[d];
        }
    }
    return loss;
}

// ----------------------------------------------------------------------------
// Samples

struct merge_key {
    uint32_t prompt;
    uint8_t label;
    float weight;
};

static int key_cmp(const void *x, const void *y) {
    const struct merge_key *a = x, *b = y;
    if (a->prompt != b->prompt)
        return a->prompt < b->prompt ? -1 : 1;
    return (int)a->label - (int)b->label;
}

// Labelled samples of the battles selected by `held` == want_held, merged by (prompt, label).
static size_t make_samples(const struct rl_train_ctx *c, const int32_t *tier, bool want_held,
                           struct rl_bert_sample *out, struct merge_key *keys) {
    const struct rl_battles *b = c->b;
    size_t n = 0;
    for (size_t i = 0; i < b->n; i++) {
        const struct rl_battle *x = &b->items[i];
        int ta = tier[x->model_a], tb = tier[x->model_b];
        if (c->held_out[i] != want_held || ta == tb || x->weight <= 0)
            continue;
        bool a_strong = ta < tb;
        uint8_t label = 1;
        if (x->outcome == RL_OUTCOME_A_WINS)
            label = a_strong ? 0 : 2;
        else if (x->outcome == RL_OUTCOME_B_WINS)
            label = a_strong ? 2 : 0;
        keys[n++] = (struct merge_key){x->prompt, label, x->weight};
    }
    qsort(keys, n, sizeof *keys, key_cmp);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (m > 0 && out[m - 1].prompt == keys[i].prompt && out[m - 1].label == keys[i].label) {
            out[m - 1].weight += keys[i].weight;
            continue;
        }
        out[m++] = (struct rl_bert_sample){keys[i].prompt, keys[i].label, keys[i].weight};
    }
    return m;
}

// ----------------------------------------------------------------------------
// Training

struct bert_model {
    int D, H;
    const struct rl_bert_sample *val; // (n_val) held-out samples
    size_t n_val;
    const float *emb; // (n_prompts, D) clean embeddings
};

static uint32_t bert_prompt(const void *s) {
    return ((const struct rl_bert_sample *)s)->prompt;
}

static float bert_weight(const void *s) {
    return ((const struct rl_bert_sample *)s)->weight;
}

static double bert_loss_grad(const void *model, const float *theta, const void *s, size_t n,
                             const float *x, float *grad) {
    const struct bert_model *m = model;
    return rl__bert_loss_grad(theta, m->D, m->H, s, n, x, grad);
}

// Held-out figures: weighted cross-entropy, and the accuracy of softmax₀ > softmax₂ on the
// samples with a winner (ties excluded), counted by weight.
static void bert_validate(const void *model, const float *theta, double *loss, double *acc) {
    const struct bert_model *m = model;
    const int D = m->D, H = m->H, C = RL_BERT_CLASSES;
    const struct rl_bert_sample *s = m->val;
    struct rl_bert_head head = {.dim = D,
                                .hidden = H,
                                .w1 = theta,
                                .b1 = theta + (size_t)H * D,
                                .w2 = theta + (size_t)H * D + H,
                                .b2 = theta + (size_t)H * D + H + (size_t)C * H};
    float hidden[MAX_H];
    double l = 0, w = 0, right = 0, decisive = 0;
    for (size_t i = 0; i < m->n_val; i++) {
        double z[RL_BERT_CLASSES];
        rl__bert_forward(&head, m->emb + (size_t)s[i].prompt * D, hidden, z);
        double mx = fmax(z[0], fmax(z[1], z[2]));
        double lse = mx + log(exp(z[0] - mx) + exp(z[1] - mx) + exp(z[2] - mx));
        l += s[i].weight * (lse - z[s[i].label]);
        w += s[i].weight;
        if (s[i].label != 1) {
            decisive += s[i].weight;
            right += s[i].weight * ((z[0] > z[2]) == (s[i].label == 0));
        }
    }
    *loss = w > 0 ? l / w : NAN;
    *acc = decisive > 0 ? right / decisive : NAN;
}

// A head on frozen pooled embeddings: a small MLP, trained longer with a larger step than mf.
void rl__train_bert_defaults(struct rl_train_params *p) {
    p->epochs = 20;
    p->batch = 64;
    p->lr = 1e-3;
    p->weight_decay = 1e-4;
    p->noise = 0;
    p->hidden = 256;
}

int rl__train_bert(const struct rl_train_ctx *c, struct rl_train_out *out) {
    const struct rl_battles *b = c->b;
    const struct rl_train_params *p = c->p;
    const int M = (int)b->n_models, D = c->dim, H = p->hidden, C = RL_BERT_CLASSES;
    if (H < 1 || H > MAX_H)
        return rl__errf(c->errbuf, RL_EINVAL, "bert: head width %d is not in 1..%d", H, MAX_H);
    int rc = rl__minibatch_check(p, "bert", c->errbuf);
    if (rc != RL_OK)
        return rc;
    int iters = 0;
    size_t n_params = rl__bert_n_params(D, H);
    float *rating = malloc((size_t)M * sizeof *rating);
    int32_t *tier = malloc((size_t)M * sizeof *tier);
    struct rl_bert_sample *train = malloc((b->n + 1) * sizeof *train);
    struct rl_bert_sample *val = malloc((b->n + 1) * sizeof *val);
    struct merge_key *keys = malloc((b->n + 1) * sizeof *keys);
    float *theta = malloc(n_params * sizeof *theta);
    if (!rating || !tier || !train || !val || !keys || !theta) {
        rc = rl__errf(c->errbuf, RL_ENOMEM, "bert: out of memory");
        goto done;
    }
    int T = rl__train_tiers(c, p->n_tiers, rating, tier, &iters);
    if (T < 0) {
        rc = T;
        goto done;
    }
    size_t n_train = make_samples(c, tier, false, train, keys);
    size_t n_val = make_samples(c, tier, true, val, keys);
    if (n_train == 0) {
        rc = rl__errf(c->errbuf, RL_EINVAL, "bert: no training battle between two tiers");
        goto done;
    }

    // torch.nn.Linear initialisation: weights and biases U(±1/√fan_in).
    struct rl_rng rng;
    rl__rng_seed(&rng, p->seed);
    for (size_t i = 0; i < n_params; i++) {
        int fan_in = i < (size_t)H * D + (size_t)H ? D : H;
        theta[i] = (float)((2 * rl__rng_uniform(&rng) - 1) / sqrt((double)fan_in));
    }
    struct bert_model model = {D, H, val, n_val, c->emb};
    struct rl_minibatch mb = {
        .c = c,
        .kind = "bert",
        .theta = theta,
        .n_params = n_params,
        .train = train,
        .n_train = n_train,
        .sample_size = sizeof *train,
        // Merged samples carry very different weights: normalise by the batch's weight.
        .mean_by_weight = true,
        .prompt = bert_prompt,
        .weight = bert_weight,
        .model = &model,
        .loss_grad = bert_loss_grad,
        .validate = bert_validate,
    };
    double val_loss, val_acc;
    rc = rl__minibatch_train(&mb, &val_loss, &val_acc);
    if (rc != RL_OK)
        goto done;
    snprintf(out->hyper, sizeof out->hyper,
             "{\"head\":\"mlp-gelu\",\"hidden\":%d,\"encoder\":\"frozen\",\"epochs\":%d,"
             "\"batch\":%d,\"lr\":%g,\"weight_decay\":%g,\"noise\":%g,\"seed\":%llu,"
             "\"n_tiers\":%d,\"holdout\":%g}",
             H, p->epochs, p->batch, p->lr, p->weight_decay, p->noise, (unsigned long long)p->seed,
             T, p->holdout);
    snprintf(out->metrics, sizeof out->metrics,
             "{\"train_samples\":%zu,\"val_samples\":%zu,\"strong_tier\":%d,\"weak_tier\":%d,"
             "\"val_loss\":%.6f,\"val_acc\":%.6f}",
             n_train, n_val, tier[c->strong], tier[c->weak], isnan(val_loss) ? -1 : val_loss,
             isnan(val_acc) ? -1 : val_acc);
    const struct rl_train_tensor t[] = {
        {"head.0.weight", RL_DTYPE_F32, 2, {H, D}, NULL},
        {"head.0.bias", RL_DTYPE_F32, 1, {H, 0}, NULL},
        {"head.2.weight", RL_DTYPE_F32, 2, {C, H}, NULL},
        {"head.2.bias", RL_DTYPE_F32, 1, {C, 0}, NULL},
    };
    rc = rl__train_out_slices(out, theta, t, RL_COUNTOF(t), "bert", c->errbuf);
done:
    free(rating);
    free(tier);
    free(train);
    free(val);
    free(keys);
    free(theta);
    return rc;
}

// The logits of the score tokens at each prompt, centred on their mean: the distribution over
// "1" … "5" up to its temperature, which the unit-length embedding no longer carries.
static float *score_logits(const struct rl_train_ctx *c) {
    const size_t D = (size_t)c->dim, P = c->b->n_prompts, S = RL_ENCODER_SCORE_TOKENS;
    float *x = malloc((P ? P : 1) * S * sizeof *x);
    for (size_t p = 0; x && p < P; p++) {
        double l[RL_ENCODER_SCORE_TOKENS], mean = 0;
        for (size_t k = 0; k < S; k++) {
            l[k] = 0;
            for (size_t d = 0; d < D; d++)
                l[k] += (double)c->p->score_rows[k * D + d] * c->emb[p * D + d];
            mean += l[k] / (double)S;
        }
        for (size_t k = 0; k < S; k++)
            x[p * S + k] = (float)(l[k] - mean);
    }
    return x;
}

// The head's input (the hidden state, or its score logits with p->score_rows), the mean and
// standard deviation of each of its dimensions over the training prompts (every prompt of a
// training battle), the inputs standardised with them, and bert's head on those.
int rl__train_causal_llm(const struct rl_train_ctx *c, struct rl_train_out *out) {
    const struct rl_battles *b = c->b;
    const bool scores = c->p->score_rows != NULL;
    const size_t D = scores ? RL_ENCODER_SCORE_TOKENS : (size_t)c->dim, P = b->n_prompts;
    float *in = scores ? score_logits(c) : NULL;
    const float *x = scores ? in : c->emb;
    float *rows = scores ? malloc(RL_ENCODER_SCORE_TOKENS * (size_t)c->dim * sizeof *rows) : NULL;
    double *sum = calloc(2 * D, sizeof *sum);
    bool *used = calloc(P ? P : 1, sizeof *used);
    float *mean = malloc(D * sizeof *mean), *std = malloc(D * sizeof *std);
    float *z = malloc((P ? P : 1) * D * sizeof *z);
    int rc = sum && used && mean && std && z && x && (rows || !scores)
                 ? RL_OK
                 : rl__errf(c->errbuf, RL_ENOMEM, "causal_llm: out of memory");
    size_t n = 0;
    for (size_t i = 0; rc == RL_OK && i < b->n; i++)
        if (!c->held_out[i])
            used[b->items[i].prompt] = true;
    for (size_t p = 0; rc == RL_OK && p < P; p++) {
        n += used[p];
        for (size_t d = 0; used[p] && d < D; d++) {
            double v = x[p * D + d];
            sum[d] += v;
            sum[D + d] += v * v;
        }
    }
    if (rc == RL_OK && n == 0)
        rc = rl__errf(c->errbuf, RL_EINVAL, "causal_llm: no training battle");
    for (size_t d = 0; rc == RL_OK && d < D; d++) {
        double m = sum[d] / (double)n, var = sum[D + d] / (double)n - m * m;
        mean[d] = (float)m;
        std[d] = (float)sqrt(var > 1e-12 ? var : 1e-12);
    }
    for (size_t p = 0; rc == RL_OK && p < P; p++)
        for (size_t d = 0; d < D; d++)
            z[p * D + d] = (x[p * D + d] - mean[d]) / std[d];
    if (rc == RL_OK) {
        struct rl_train_ctx standardised = *c;
        standardised.emb = z;
        standardised.dim = (int)D;
        rc = rl__train_bert(&standardised, out);
    }
    size_t n_hyper = strlen(out->hyper);
    if (rc == RL_OK && scores && n_hyper > 0) // the input, inside the head's JSON object
        snprintf(out->hyper + n_hyper - 1, sizeof out->hyper - (n_hyper - 1),
                 ",\"input\":\"score_tokens\"}");
    if (rows)
        memcpy(rows, c->p->score_rows, RL_ENCODER_SCORE_TOKENS * (size_t)c->dim * sizeof *rows);
    const struct rl_train_tensor t[] = {
        {"input.mean", RL_DTYPE_F32, 1, {(int64_t)D, 0}, mean},
        {"input.std", RL_DTYPE_F32, 1, {(int64_t)D, 0}, std},
        {"score.rows", RL_DTYPE_F32, 2, {RL_ENCODER_SCORE_TOKENS, c->dim}, rows},
    };
    if (rc == RL_OK) {
        rc = rl__train_out_take(out, t, RL_COUNTOF(t) - !scores);
        mean = std = rows = NULL;
        if (rc != RL_OK)
            rl__errf(c->errbuf, rc, "causal_llm: cannot collect the tensors");
    }
    free(in);
    free(rows);
    free(sum);
    free(used);
    free(mean);
    free(std);
    free(z);
    return rc;
}
