// Training the BERT-style router's head (RouteLLM §2.4 labels on a frozen encoder): each battle
// between two tiers becomes a sample "stronger model wins / tie / weaker model wins", with the
// stronger side given by the global tiers. Samples of one prompt and label are merged (their
// weights add up), which leaves the loss unchanged and makes an epoch over the AlpacaEval battles
// (805 prompts, 100k battles) a few thousand samples. Loss: weighted cross-entropy; optimiser:
// Adam; parallelism: the same fixed two-halves split as MF, so threads do not change the bits.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
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
// Training loop

struct half {
    const float *theta;
    int D, H;
    const struct rl_bert_sample *s;
    size_t n;
    const float *emb;
    double noise;
    uint64_t noise_seed;
    float *x;
    float *grad;
    size_t n_params;
    double loss;
};

static void half_run(void *arg) {
    struct half *w = arg;
    struct rl_rng rng;
    rl__rng_seed(&rng, w->noise_seed);
    for (size_t i = 0; i < w->n; i++) {
        const float *e = w->emb + (size_t)w->s[i].prompt * w->D;
        float *xi = w->x + i * (size_t)w->D;
        for (int d = 0; d < w->D; d++)
            xi[d] = e[d] + (w->noise > 0 ? (float)(w->noise * rl__rng_normal(&rng)) : 0.0f);
    }
    memset(w->grad, 0, w->n_params * sizeof *w->grad);
    w->loss = rl__bert_loss_grad(w->theta, w->D, w->H, w->s, w->n, w->x, w->grad);
}

// Held-out figures: weighted cross-entropy, and the accuracy of softmax₀ > softmax₂ on the
// samples with a winner (ties excluded), counted by weight.
static void validate(const float *theta, int D, int H, const struct rl_bert_sample *s, size_t n,
                     const float *emb, double *loss, double *acc) {
    const int C = RL_BERT_CLASSES;
    struct rl_bert_head head = {D,
                                H,
                                theta,
                                theta + (size_t)H * D,
                                theta + (size_t)H * D + H,
                                theta + (size_t)H * D + H + (size_t)C * H};
    float hidden[MAX_H];
    double l = 0, w = 0, right = 0, decisive = 0;
    for (size_t i = 0; i < n; i++) {
        double z[RL_BERT_CLASSES];
        rl__bert_forward(&head, emb + (size_t)s[i].prompt * D, hidden, z);
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

int rl__train_bert(const struct rl_train_ctx *c, struct rl_train_out *out) {
    const struct rl_battles *b = c->b;
    const struct rl_train_params *p = c->p;
    const int M = (int)b->n_models, D = c->dim, H = p->hidden, C = RL_BERT_CLASSES;
    if (H < 1 || H > MAX_H)
        return rl__errf(c->errbuf, RL_EINVAL, "bert: head width %d is not in 1..%d", H, MAX_H);
    if (p->batch <= 1 || p->epochs <= 0 || !(p->lr > 0) || !(p->weight_decay >= 0) ||
        !(p->noise >= 0))
        return rl__errf(c->errbuf, RL_EINVAL, "bert: bad hyper-parameters");
    int rc = RL_OK, iters = 0;
    size_t n_params = rl__bert_n_params(D, H);
    float *rating = malloc((size_t)M * sizeof *rating);
    int32_t *tier = malloc((size_t)M * sizeof *tier);
    struct rl_bert_sample *train = malloc((b->n + 1) * sizeof *train);
    struct rl_bert_sample *val = malloc((b->n + 1) * sizeof *val);
    struct merge_key *keys = malloc((b->n + 1) * sizeof *keys);
    float *theta = malloc(n_params * sizeof *theta);
    float *g0 = malloc(n_params * sizeof *g0), *g1 = malloc(n_params * sizeof *g1);
    size_t half_max = (size_t)(p->batch + 1) / 2;
    float *x0 = malloc(half_max * D * sizeof *x0), *x1 = malloc(half_max * D * sizeof *x1);
    struct rl_bert_sample *batch = malloc((size_t)p->batch * sizeof *batch);
    uint32_t *order = NULL;
    struct rl_adam adam = {0};
    struct rl_par2 par;
    bool par_ok = false;
    if (!rating || !tier || !train || !val || !keys || !theta || !g0 || !g1 || !x0 || !x1 ||
        !batch || rl__adam_init(&adam, n_params) != RL_OK) {
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
    order = malloc(n_train * sizeof *order);
    if (!order) {
        rc = rl__errf(c->errbuf, RL_ENOMEM, "bert: out of memory");
        goto done;
    }
    rc = rl__par2_init(&par, p->n_threads);
    if (rc != RL_OK) {
        rl__errf(c->errbuf, rc, "bert: cannot start a thread");
        goto done;
    }
    par_ok = true;

    // torch.nn.Linear initialisation: weights and biases U(±1/√fan_in).
    struct rl_rng rng;
    rl__rng_seed(&rng, p->seed);
    for (size_t i = 0; i < n_params; i++) {
        int fan_in = i < (size_t)H * D + (size_t)H ? D : H;
        theta[i] = (float)((2 * rl__rng_uniform(&rng) - 1) / sqrt((double)fan_in));
    }
    for (size_t i = 0; i < n_train; i++)
        order[i] = (uint32_t)i;
    size_t n_steps = (n_train + (size_t)p->batch - 1) / (size_t)p->batch;
    struct rl_train_progress prog = {.n_epochs = p->epochs, .n_steps = n_steps};
    double val_loss = NAN, val_acc = NAN;
    for (int ep = 1; ep <= p->epochs; ep++) {
        struct rl_rng er;
        rl__rng_seed(&er, p->seed ^ (0x5bd1e995ull * (uint64_t)ep));
        rl__rng_shuffle(&er, order, n_train);
        double ep_loss = 0, ep_w = 0;
        for (size_t step = 0; step < n_steps; step++) {
            size_t lo = step * (size_t)p->batch;
            size_t n = n_train - lo < (size_t)p->batch ? n_train - lo : (size_t)p->batch;
            double wsum = 0;
            for (size_t i = 0; i < n; i++) {
                batch[i] = train[order[lo + i]];
                wsum += batch[i].weight;
            }
            size_t n0 = (n + 1) / 2;
            uint64_t ns = p->seed * 0x9e3779b97f4a7c15ull + (uint64_t)ep * 1000003u + step * 2;
            struct half h0 = {theta, D, H, batch, n0, c->emb, p->noise, ns, x0, g0, n_params, 0};
            struct half h1 = {theta,    D,      H,  batch + n0, n - n0,   c->emb,
                              p->noise, ns + 1, x1, g1,         n_params, 0};
            rl__par2_run(&par, half_run, &h0, &h1);
            // Merged samples carry very different weights: normalise by the batch's weight.
            float inv = (float)(1.0 / wsum);
            for (size_t i = 0; i < n_params; i++)
                g0[i] = (g0[i] + g1[i]) * inv;
            rl__adam_step(&adam, theta, g0, n_params, p->lr, p->weight_decay);
            ep_loss += h0.loss + h1.loss;
            ep_w += wsum;
            prog.epoch = ep;
            prog.step = step + 1;
            prog.epoch_done = false;
            prog.train_loss = ep_loss / ep_w;
            if (p->progress)
                p->progress(p->progress_ctx, &prog);
        }
        validate(theta, D, H, val, n_val, c->emb, &val_loss, &val_acc);
        prog.epoch_done = true;
        prog.val_loss = val_loss;
        prog.val_acc = val_acc;
        if (p->progress)
            p->progress(p->progress_ctx, &prog);
        for (size_t i = 0; i < n_params; i++) {
            if (!isfinite(theta[i])) {
                rc = rl__errf(c->errbuf, RL_EINVAL, "bert: training diverged in epoch %d", ep);
                goto done;
            }
        }
    }
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
    const size_t sizes[4] = {(size_t)H * D, (size_t)H, (size_t)C * H, (size_t)C};
    static const char *const names[4] = {"head.0.weight", "head.0.bias", "head.2.weight",
                                         "head.2.bias"};
    const int64_t shapes[4][2] = {{H, D}, {H, 0}, {C, H}, {C, 0}};
    const int dims[4] = {2, 1, 2, 1};
    const float *at = theta;
    for (int i = 0; i < 4 && rc == RL_OK; i++) {
        float *t = malloc(sizes[i] * sizeof *t);
        if (!t) {
            rc = rl__errf(c->errbuf, RL_ENOMEM, "bert: out of memory");
            break;
        }
        memcpy(t, at, sizes[i] * sizeof *t);
        at += sizes[i];
        rc = rl__train_out_add(out, names[i], RL_DTYPE_F32, dims[i], shapes[i], t);
        if (rc != RL_OK)
            rl__errf(c->errbuf, rc, "bert: cannot collect the tensors");
    }
done:
    if (par_ok)
        rl__par2_free(&par);
    free(rating);
    free(tier);
    free(train);
    free(val);
    free(keys);
    free(theta);
    free(g0);
    free(g1);
    free(x0);
    free(x1);
    free(batch);
    free(order);
    rl__adam_free(&adam);
    return rc;
}
