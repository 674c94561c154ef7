// Trainers: finite-difference gradient checks of MF and of the BERT head, determinism for a seed
// whatever the thread count, router files that load back and score what the parameters say (the
// collapsed MF vector against the full computation), and the encoder check.
#include <math.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/core.h"
#include "core/safetensors.h"
#include "rl/encoder.h"
#include "rl/train.h"
#include "routers/bert.h"
#include "test.h"
#include "train/train_impl.h"

#define D_SYN 16
#define N_SYN 300

static const struct rl_router_kind *kind_of(const char *name) {
    return rl_router_kind_find(name, NULL);
}

// A synthetic task: the strong model wins when the prompt's first coordinate exceeds -0.1, a third
// model loses to both. Prompts i are interned in order, so prompt i has embedding emb[i]. Like
// real sentence embeddings the vectors share a common direction (coordinate 1), which is what
// lets the bias-free MF model express "m3 loses whatever the prompt".
static struct rl_battles *synthetic(float **emb_out) {
    struct rl_battles *b = rl_battles_new();
    float *emb = malloc((size_t)N_SYN * D_SYN * sizeof *emb);
    struct rl_rng rng;
    rl__rng_seed(&rng, 99);
    for (int i = 0; i < N_SYN; i++) {
        float *e = emb + (size_t)i * D_SYN;
        double ss = 0;
        for (int d = 0; d < D_SYN; d++) {
            e[d] = (float)(rl__rng_normal(&rng) + (d == 1 ? 2.0 : 0.0));
            ss += (double)e[d] * e[d];
        }
        for (int d = 0; d < D_SYN; d++)
            e[d] = (float)(e[d] / sqrt(ss));
        char p[64];
        int n = snprintf(p, sizeof p, "synthetic prompt number %d", i);
        enum rl_outcome o = e[0] > -0.1f ? RL_OUTCOME_A_WINS : RL_OUTCOME_B_WINS;
        if (rl_battles_add(b, p, (size_t)n, "gpt-4-1106-preview", "mixtral-8x7b-instruct-v0.1", o,
                           1, 0) != 1 ||
            rl_battles_add(b, p, (size_t)n, "mixtral-8x7b-instruct-v0.1", "m3",
                           i % 7 ? RL_OUTCOME_A_WINS : RL_OUTCOME_TIE, 1, 0) != 1 ||
            rl_battles_add(b, p, (size_t)n, "m3", "gpt-4-1106-preview", RL_OUTCOME_B_WINS, 0.5f,
                           0) != 1)
            abort();
    }
    *emb_out = emb;
    return b;
}

static char *tmp_path(const char *name) {
    static char buf[8][256];
    static int k;
    char *p = buf[k++ % 8];
    snprintf(p, 256, "/tmp/rl_test_%ld_%s", (long)getpid(), name);
    return p;
}

static int same_file(const char *a, const char *b) {
    char *x, *y;
    size_t nx, ny;
    if (rl_file_read(a, 1 << 26, &x, &nx, NULL) != RL_OK)
        return -1;
    if (rl_file_read(b, 1 << 26, &y, &ny, NULL) != RL_OK) {
        free(x);
        return -1;
    }
    int same = nx == ny && memcmp(x, y, nx) == 0;
    free(x);
    free(y);
    return same;
}

// ----------------------------------------------------------------------------
// Gradient checks

// A loss over parameters theta that adds its gradient to grad (NULL: loss only).
typedef double (*loss_fn)(const void *ctx, const float *theta, float *grad);

// Largest relative gap, |num − grad| / (1e-2 + |num|), between the analytic gradient and
// central differences of step 1e-2 over every parameter. theta is restored.
static double gradient_maxdiff(loss_fn loss, const void *ctx, float *theta, size_t n_params) {
    float *grad = calloc(n_params, sizeof *grad);
    if (!grad)
        return INFINITY;
    loss(ctx, theta, grad);
    double maxdiff = 0;
    for (size_t i = 0; i < n_params; i++) {
        const float h = 1e-2f;
        float keep = theta[i];
        theta[i] = keep + h;
        double up = loss(ctx, theta, NULL);
        theta[i] = keep - h;
        double down = loss(ctx, theta, NULL);
        theta[i] = keep;
        double num = (up - down) / (2 * h);
        maxdiff = fmax(maxdiff, fabs(num - grad[i]) / (1e-2 + fabs(num)));
    }
    free(grad);
    return maxdiff;
}

static void normals(struct rl_rng *rng, float *x, size_t n) {
    for (size_t i = 0; i < n; i++)
        x[i] = (float)rl__rng_normal(rng);
}

struct mf_case {
    int M, H, D;
    const struct rl_mf_sample *s;
    size_t n;
    const float *x;
};

static double mf_loss(const void *ctx, const float *theta, float *grad) {
    const struct mf_case *c = ctx;
    return rl__mf_loss_grad(theta, c->M, c->H, c->D, c->s, c->n, c->x, grad);
}

TEST(train_mf_gradient_check) {
    enum { M = 4, H = 5, D = 6, N = 7 };
    float theta[M * H + H * D + H], x[N * D];
    struct rl_rng rng;
    rl__rng_seed(&rng, 5);
    normals(&rng, theta, RL_COUNTOF(theta));
    normals(&rng, x, RL_COUNTOF(x));
    struct rl_mf_sample s[N];
    for (int i = 0; i < N; i++)
        s[i] = (struct rl_mf_sample){(uint32_t)(i % M), (uint32_t)((i + 1 + i / M) % M), 0,
                                     0.5f + (float)i / N};
    ASSERT_EQ(rl__mf_n_params(M, H, D), RL_COUNTOF(theta));
    struct mf_case c = {M, H, D, s, N, x};
    double maxdiff = gradient_maxdiff(mf_loss, &c, theta, RL_COUNTOF(theta));
    printf("  maxdiff %.3g (relative)\n", maxdiff);
    ASSERT(maxdiff < 2e-2);
    return 0;
}

struct bert_case {
    int H, D;
    const struct rl_bert_sample *s;
    size_t n;
    const float *x;
};

static double bert_loss(const void *ctx, const float *theta, float *grad) {
    const struct bert_case *c = ctx;
    return rl__bert_loss_grad(theta, c->D, c->H, c->s, c->n, c->x, grad);
}

TEST(train_bert_gradient_check) {
    enum { H = 5, D = 6, N = 7, C = RL_BERT_CLASSES };
    float theta[H * D + H + C * H + C], x[N * D];
    struct rl_rng rng;
    rl__rng_seed(&rng, 6);
    normals(&rng, theta, RL_COUNTOF(theta));
    normals(&rng, x, RL_COUNTOF(x));
    struct rl_bert_sample s[N];
    for (int i = 0; i < N; i++)
        s[i] = (struct rl_bert_sample){0, (uint8_t)(i % C), 0.5f + (float)i / N};
    ASSERT_EQ(rl__bert_n_params(D, H), RL_COUNTOF(theta));
    struct bert_case c = {H, D, s, N, x};
    double maxdiff = gradient_maxdiff(bert_loss, &c, theta, RL_COUNTOF(theta));
    printf("  maxdiff %.3g (relative)\n", maxdiff);
    ASSERT(maxdiff < 2e-2);
    return 0;
}

// ----------------------------------------------------------------------------
// Training end to end

struct last {
    double val_acc;
    int epochs_done;
};

static void keep_last(void *ctx, const struct rl_train_progress *p) {
    struct last *l = ctx;
    if (p->epoch_done) {
        l->val_acc = p->val_acc;
        l->epochs_done++;
    }
}

// The defaults of kind, with each epoch's figures kept in *l.
static struct rl_train_params watched_params(const struct rl_router_kind *kind, struct last *l) {
    struct rl_train_params p = rl_train_params_default(kind);
    p.progress = keep_last;
    p.progress_ctx = l;
    return p;
}

static double mean_p(const struct rl_router *r, const float *emb, bool positive) {
    double sum = 0;
    int n = 0;
    struct rl_router_pair pair;
    if (rl_router_pair(r, NULL, NULL, &pair, NULL) != RL_OK)
        return NAN;
    for (int i = 0; i < N_SYN; i++) {
        const float *e = emb + (size_t)i * D_SYN;
        if ((e[0] > 0.2f) != positive || (e[0] < -0.3f) == positive)
            continue;
        double p;
        if (rl_router_score(r, &pair, e, &p) != RL_OK || !(p >= 0 && p <= 1))
            return NAN;
        sum += p;
        n++;
    }
    return sum / n;
}

TEST(train_mf_deterministic_and_learns) {
    float *emb;
    struct rl_battles *b = synthetic(&emb);
    char err[RL_ERRBUF_SIZE] = "";
    struct last l = {0};
    struct rl_train_params p = watched_params(kind_of("mf"), &l);
    p.epochs = 30;
    p.lr = 1e-2;
    p.noise = 0.02; // the paper's 0.1 is large against 16-d unit vectors
    p.holdout = 0.1;
    p.seed = 3;
    p.n_threads = 1;
    const char *f1 = tmp_path("mf1.safetensors"), *f2 = tmp_path("mf2.safetensors"),
               *f3 = tmp_path("mf3.safetensors");
    ASSERT_OK(rl_train(kind_of("mf"), b, emb, "test-encoder", D_SYN, &p, f1, err));
    ASSERT_EQ(l.epochs_done, 30);
    printf("  validation accuracy %.3f\n", l.val_acc);
    ASSERT(l.val_acc > 0.85);
    p.n_threads = 2;
    ASSERT_OK(rl_train(kind_of("mf"), b, emb, "test-encoder", D_SYN, &p, f2, err));
    ASSERT_EQ(same_file(f1, f2), 1);
    p.seed = 4;
    ASSERT_OK(rl_train(kind_of("mf"), b, emb, "test-encoder", D_SYN, &p, f3, err));
    ASSERT_EQ(same_file(f1, f3), 0);

    struct rl_router *r = rl_router_load(f1, NULL, err);
    ASSERT_NOT_NULL(r);
    ASSERT_STR_EQ(rl_router_name(r), "mf");
    ASSERT_STR_EQ(rl_router_encoder_name(r), "test-encoder");
    ASSERT_EQ(rl_router_encoder_dim(r), D_SYN);
    ASSERT_EQ(rl_router_n_models(r), 3);
    ASSERT_STR_CONTAINS(rl_router_meta(r, "hyper"), "\"lr\":0.01");
    ASSERT_EQ(strlen(rl_router_meta(r, "data_digest")), 64);
    ASSERT(mean_p(r, emb, true) > 0.6);
    ASSERT(mean_p(r, emb, false) < 0.4);

    // The collapsed score equals σ(δ(s) − δ(w)) computed from the stored tensors in double.
    struct rl_safetensors *st = rl_safetensors_open(f1, err);
    ASSERT_NOT_NULL(st);
    const float *P = rl_safetensors_find(st, "P.weight")->data;
    const float *W1 = rl_safetensors_find(st, "text_proj.0.weight")->data;
    const float *w2 = rl_safetensors_find(st, "classifier.0.weight")->data;
    const int H = (int)rl_safetensors_find(st, "P.weight")->shape[1];
    double maxdiff = 0;
    struct rl_router_pair pairs[2];
    ASSERT_OK(rl_router_pair(r, NULL, NULL, &pairs[0], err));
    ASSERT_OK(rl_router_pair(r, "M3", "Mixtral-8x7B", &pairs[1], err));
    for (int k = 0; k < 2; k++) {
        for (int i = 0; i < 50; i++) {
            const float *e = emb + (size_t)i * D_SYN;
            double delta[2];
            int ms[2] = {pairs[k].strong, pairs[k].weak};
            for (int j = 0; j < 2; j++) {
                const float *pm = P + (size_t)ms[j] * H;
                double norm = 0, acc = 0;
                for (int h = 0; h < H; h++)
                    norm += (double)pm[h] * pm[h];
                norm = sqrt(norm);
                for (int h = 0; h < H; h++) {
                    double z = 0;
                    for (int d = 0; d < D_SYN; d++)
                        z += (double)W1[(size_t)h * D_SYN + d] * e[d];
                    acc += w2[h] * (pm[h] / norm) * z;
                }
                delta[j] = acc;
            }
            double want = 1 / (1 + exp(-(delta[0] - delta[1]))), got;
            ASSERT_OK(rl_router_score(r, &pairs[k], e, &got));
            maxdiff = fmax(maxdiff, fabs(got - want));
        }
    }
    printf("  collapsed vs full maxdiff %.3g\n", maxdiff);
    ASSERT(maxdiff < 1e-5);
    rl_safetensors_free(st);

    // A router trained on another encoder is refused.
    struct rl_encoder *enc = rl_encoder_open(RL_TEST_MODEL, err);
    ASSERT_NOT_NULL(enc);
    ASSERT_EQ(rl_router_check_encoder(r, enc, err), RL_EINVAL);
    ASSERT_STR_CONTAINS(err, "trained on encoder test-encoder (16-d)");
    ASSERT_STR_CONTAINS(err, "all-MiniLM-L6-v2 (384-d)");
    rl_encoder_free(enc);

    // Unknown models are named with the list of known ones.
    struct rl_router_pair pr;
    ASSERT_EQ(rl_router_pair(r, "gpt-4o", NULL, &pr, err), RL_EINVAL);
    ASSERT_STR_CONTAINS(err, "'gpt-4o'");
    ASSERT_STR_CONTAINS(err, "gpt-4-1106-preview, mixtral-8x7b-instruct-v0.1, m3");
    ASSERT_EQ(rl_router_pair(r, "m3", "M3", &pr, err), RL_EINVAL);
    ASSERT_EQ(rl_router_score(r, NULL, NULL, &maxdiff), RL_EINVAL);
    rl_router_free(r);
    unlink(f1);
    unlink(f2);
    unlink(f3);
    rl_battles_free(b);
    free(emb);
    return 0;
}

TEST(train_sw_ranking) {
    float *emb;
    struct rl_battles *b = synthetic(&emb);
    char err[RL_ERRBUF_SIZE] = "";
    struct last l = {0};
    struct rl_train_params p = watched_params(kind_of("sw_ranking"), &l);
    const char *f1 = tmp_path("sw1.safetensors"), *f2 = tmp_path("sw2.safetensors");
    ASSERT_OK(rl_train(kind_of("sw_ranking"), b, emb, "test-encoder", D_SYN, &p, f1, err));
    printf("  validation accuracy %.3f\n", l.val_acc);
    ASSERT(l.val_acc > 0.7);
    struct rl_router *r = rl_router_load(f1, NULL, err);
    ASSERT_NOT_NULL(r);
    ASSERT_STR_EQ(rl_router_name(r), "sw_ranking");
    ASSERT_STR_CONTAINS(rl_router_meta(r, "metrics"), "\"strong_tier\":0");
    double hi = mean_p(r, emb, true), lo = mean_p(r, emb, false);
    printf("  mean p: %.3f where the strong model wins, %.3f where it loses\n", hi, lo);
    ASSERT(hi > lo + 0.05);
    rl_router_free(r);
    p.sw_int8 = 1;
    ASSERT_OK(rl_train(kind_of("sw_ranking"), b, emb, "test-encoder", D_SYN, &p, f2, err));
    struct rl_router *r8 = rl_router_load(f2, NULL, err);
    ASSERT_NOT_NULL(r8);
    ASSERT_NEAR(mean_p(r8, emb, true), hi, 0.01);
    rl_router_free(r8);
    unlink(f1);
    unlink(f2);
    rl_battles_free(b);
    free(emb);
    return 0;
}

TEST(train_bert_head) {
    float *emb;
    struct rl_battles *b = synthetic(&emb);
    char err[RL_ERRBUF_SIZE] = "";
    struct last l = {0};
    struct rl_train_params p = watched_params(kind_of("bert"), &l);
    p.hidden = 32;
    p.epochs = 30;
    p.holdout = 0.1;
    const char *f1 = tmp_path("bert1.safetensors"), *f2 = tmp_path("bert2.safetensors");
    ASSERT_OK(rl_train(kind_of("bert"), b, emb, "test-encoder", D_SYN, &p, f1, err));
    printf("  validation accuracy %.3f\n", l.val_acc);
    ASSERT(l.val_acc > 0.8);
    p.n_threads = 1;
    ASSERT_OK(rl_train(kind_of("bert"), b, emb, "test-encoder", D_SYN, &p, f2, err));
    ASSERT_EQ(same_file(f1, f2), 1);
    struct rl_router *r = rl_router_load(f1, NULL, err);
    ASSERT_NOT_NULL(r);
    ASSERT_STR_EQ(rl_router_name(r), "bert");
    // The classes are "the stronger model of a battle wins"; two of the three pairings are won
    // by the stronger model on every prompt, so only the gap between the groups is tested.
    double hi = mean_p(r, emb, true), lo = mean_p(r, emb, false);
    printf("  mean p: %.3f where the strong model wins, %.3f where it loses\n", hi, lo);
    ASSERT(hi > lo + 0.1);
    rl_router_free(r);
    unlink(f1);
    unlink(f2);
    rl_battles_free(b);
    free(emb);
    return 0;
}

// causal_llm: bert's head on inputs standardised per dimension. Its file holds the training
// prompts' mean and standard deviation and records the encoder's precision; an input shifted
// and scaled per dimension (what an LM's hidden states look like beside a sentence encoder's)
// learns what the plain one does.
TEST(train_causal_llm_standardises_its_input) {
    float *emb;
    struct rl_battles *b = synthetic(&emb);
    // Every coordinate but the first, which decides the battles (and groups mean_p's prompts).
    for (size_t i = 0; i < (size_t)N_SYN * D_SYN; i++)
        if (i % D_SYN)
            emb[i] = emb[i] * (float)(i % D_SYN) * 10.0f + 50.0f;
    char err[RL_ERRBUF_SIZE] = "";
    struct last l = {0};
    struct rl_train_params p = watched_params(kind_of("causal_llm"), &l);
    p.hidden = 32;
    p.epochs = 30;
    p.holdout = 0.1;
    p.encoder_precision = "int8";
    const char *f = tmp_path("causal_llm.safetensors");
    ASSERT_OK(rl_train(kind_of("causal_llm"), b, emb, "test-lm", D_SYN, &p, f, err));
    ASSERT(l.val_acc > 0.8);
    struct rl_router *r = rl_router_load(f, NULL, err);
    ASSERT_NOT_NULL(r);
    ASSERT_STR_EQ(rl_router_name(r), "causal_llm");
    ASSERT_STR_EQ(rl_router_meta(r, "encoder_precision"), "int8");
    double hi = mean_p(r, emb, true), lo = mean_p(r, emb, false);
    ASSERT(hi > lo + 0.1);
    rl_router_free(r);

    // The file's standardisation is what the score reads.
    struct rl_safetensors *st = rl_safetensors_open(f, err);
    ASSERT_NOT_NULL(st);
    const struct rl_tensor *mean = rl_safetensors_find(st, "input.mean"),
                           *sd = rl_safetensors_find(st, "input.std");
    ASSERT_NOT_NULL(mean);
    ASSERT_NOT_NULL(sd);
    const float *mu = (const float *)mean->data, *sigma = (const float *)sd->data;
    for (int d = 1; d < D_SYN; d++)
        ASSERT(fabs(mu[d] - 50.0) < 10.0 && sigma[d] > 0.5);
    ASSERT(fabs(mu[0]) < 1.0 && sigma[0] > 0 && sigma[0] < 1.0);
    rl_safetensors_free(st);
    unlink(f);
    rl_battles_free(b);
    free(emb);
    return 0;
}

// The score-token variant reads the embedding only through the score rows: with a row on the
// coordinate that decides the battles it learns them, with rows blind to it it cannot.
TEST(train_causal_llm_score_tokens_read_only_their_rows) {
    float *emb;
    struct rl_battles *b = synthetic(&emb);
    float rows[RL_ENCODER_SCORE_TOKENS * D_SYN] = {0};
    for (int k = 0; k < RL_ENCODER_SCORE_TOKENS; k++)
        rows[k * D_SYN + 2 + k] = 1.0f; // coordinates 2..6: noise
    double acc[2], gap[2];
    const char *f = tmp_path("causal_llm_scores.safetensors");
    for (int sees = 0; sees < 2; sees++) {
        rows[0 * D_SYN + 0] = sees ? 3.0f : 0.0f; // "1" reads the deciding coordinate
        char err[RL_ERRBUF_SIZE] = "";
        struct last l = {0};
        struct rl_train_params p = watched_params(kind_of("causal_llm"), &l);
        p.hidden = 16;
        p.epochs = 30;
        p.holdout = 0.1;
        p.score_rows = rows;
        ASSERT_OK(rl_train(kind_of("causal_llm"), b, emb, "test-lm", D_SYN, &p, f, err));
        struct rl_router *r = rl_router_load(f, NULL, err);
        ASSERT_NOT_NULL(r);
        ASSERT_STR_CONTAINS(rl_router_meta(r, "hyper"), "\"input\":\"score_tokens\"");
        acc[sees] = l.val_acc;
        gap[sees] = mean_p(r, emb, true) - mean_p(r, emb, false);
        rl_router_free(r);

        // The file keeps the rows, and the head reads five inputs.
        struct rl_safetensors *st = rl_safetensors_open(f, err);
        ASSERT_NOT_NULL(st);
        const struct rl_tensor *kept = rl_safetensors_find(st, "score.rows"),
                               *w1 = rl_safetensors_find(st, "head.0.weight"),
                               *mean = rl_safetensors_find(st, "input.mean");
        ASSERT_NOT_NULL(kept);
        ASSERT_EQ(kept->shape[0], RL_ENCODER_SCORE_TOKENS);
        ASSERT_EQ(kept->shape[1], D_SYN);
        ASSERT(memcmp(kept->data, rows, sizeof rows) == 0);
        ASSERT_EQ(w1->shape[1], RL_ENCODER_SCORE_TOKENS);
        ASSERT_EQ(mean->shape[0], RL_ENCODER_SCORE_TOKENS);
        rl_safetensors_free(st);
    }
    ASSERT(acc[1] > 0.8 && gap[1] > 0.2);
    ASSERT(fabs(gap[0]) < 0.05); // blind: the same p_strong on both sides
    unlink(f);
    rl_battles_free(b);
    free(emb);
    return 0;
}

TEST(train_rejects_bad_input) {
    float *emb;
    struct rl_battles *b = synthetic(&emb);
    char err[RL_ERRBUF_SIZE] = "";
    struct rl_train_params p = rl_train_params_default(kind_of("mf"));
    const char *f = tmp_path("bad.safetensors");
    p.strong = "gpt-4o";
    ASSERT_EQ(rl_train(kind_of("mf"), b, emb, "e", D_SYN, &p, f, err), RL_EINVAL);
    ASSERT_STR_CONTAINS(err, "no battles of the strong model 'gpt-4o' (it has "
                             "gpt-4-1106-preview, mixtral-8x7b-instruct-v0.1, m3)");
    p = rl_train_params_default(kind_of("mf"));
    p.holdout = 0.7;
    ASSERT_EQ(rl_train(kind_of("mf"), b, emb, "e", D_SYN, &p, f, err), RL_EINVAL);
    p = rl_train_params_default(kind_of("mf"));
    ASSERT_EQ(rl_train(kind_of("random"), b, emb, "e", D_SYN, &p, f, err), RL_EINVAL);
    p.n_tiers = 1;
    ASSERT_EQ(rl_train(kind_of("sw_ranking"), b, emb, "e", D_SYN, &p, f, err), RL_EINVAL);
    ASSERT(!rl_file_exists(f));
    rl_battles_free(b);
    free(emb);
    return 0;
}

// An alias is one more model name with another model's parameters; the default pair may use it.
TEST(train_aliases) {
    float *emb;
    struct rl_battles *b = synthetic(&emb);
    char err[RL_ERRBUF_SIZE] = "";
    const char *aliases[] = {"my-gpt4=gpt-4-1106-preview", "cheap=M3"};
    const struct rl_router_kind *kinds[2] = {kind_of("mf"), kind_of("sw_ranking")};
    for (int k = 0; k < 2; k++) {
        struct rl_train_params p = rl_train_params_default(kinds[k]);
        p.epochs = 2;
        p.aliases = aliases;
        p.n_aliases = 2;
        p.strong = "My-GPT4";
        p.weak = "cheap";
        const char *f = tmp_path("alias.safetensors");
        ASSERT_OK(rl_train(kinds[k], b, emb, "test-encoder", D_SYN, &p, f, err));
        struct rl_router *r = rl_router_load(f, NULL, err);
        ASSERT_NOT_NULL(r);
        ASSERT_EQ(rl_router_n_models(r), 5);
        ASSERT_STR_EQ(rl_router_model(r, 3), "my-gpt4");
        ASSERT_STR_CONTAINS(rl_router_meta(r, "aliases"), "\"cheap\":\"m3\"");
        struct rl_router_pair def, direct;
        ASSERT_OK(rl_router_default_pair(r, &def));
        ASSERT_EQ(def.strong, 3);
        ASSERT_EQ(def.weak, 4);
        ASSERT_OK(rl_router_pair(r, "gpt-4-1106-preview", "m3", &direct, err));
        for (int i = 0; i < 20; i++) {
            double a, c;
            ASSERT_OK(rl_router_score(r, &def, emb + (size_t)i * D_SYN, &a));
            ASSERT_OK(rl_router_score(r, &direct, emb + (size_t)i * D_SYN, &c));
            ASSERT_NEAR(a, c, 1e-6);
        }
        rl_router_free(r);
        unlink(f);
    }
    struct rl_train_params p = rl_train_params_default(kind_of("mf"));
    const char *bad[][1] = {{"x"}, {"x=nobody"}, {"m3=gpt-4-1106-preview"}};
    const char *want[] = {"is not NAME=MODEL", "the data has no model 'nobody'",
                          "'m3' is already a model of the data"};
    for (int i = 0; i < 3; i++) {
        p.aliases = bad[i];
        p.n_aliases = 1;
        ASSERT_EQ(rl_train(kind_of("mf"), b, emb, "e", D_SYN, &p, tmp_path("x"), err), RL_EINVAL);
        ASSERT_STR_CONTAINS(err, want[i]);
    }
    rl_battles_free(b);
    free(emb);
    return 0;
}
