// Training the matrix-factorisation router (RouteLLM §2.3, train_matrix_factorization.py):
// samples are decisive battles (winner, loser, prompt), the logit is δ(win) − δ(lose) with
// δ(m, x) = w₂ · (P̂[m] ⊙ W₁x) on the prompt embedding plus N(0, noise²) noise, the loss is
// BCE-with-logits against 1, and Adam (L2 weight decay added to the gradient, as torch.optim.Adam
// does) updates all parameters. Each batch is cut into two fixed halves whose gradients are
// summed in a fixed order, so one or two threads give the same bits. Ties are not used.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "train/train_impl.h"

// M models, H hidden (model-embedding width), D embedding width; θ = [P (M,H) | W₁ (H,D) | w₂ (H)].

static double softplus(double x) {
    return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x));
}

static double sigmoid(double x) {
    return x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x));
}

// Normalised model embedding n = P[m]/max(‖P[m]‖, 1e-12) and the norm used.
static float unit_row(const float *pm, int H, float *n) {
    double ss = 0;
    for (int h = 0; h < H; h++)
        ss += (double)pm[h] * pm[h];
    float norm = (float)fmax(sqrt(ss), 1e-12);
    for (int h = 0; h < H; h++)
        n[h] = pm[h] / norm;
    return norm;
}

// Backward through n = p/‖p‖: dp = (dn − n (n·dn)) / ‖p‖.
static void unit_row_backward(const float *n, const float *dn, float norm, int H, float *dp) {
    double dot = 0;
    for (int h = 0; h < H; h++)
        dot += (double)n[h] * dn[h];
    for (int h = 0; h < H; h++)
        dp[h] += (dn[h] - n[h] * (float)dot) / norm;
}

#define MAX_H 1024

double rl__mf_loss_grad(const float *theta, int M, int H, int D, const struct rl_mf_sample *s,
                        size_t n, const float *x, float *grad) {
    const float *P = theta, *W1 = theta + (size_t)M * H, *w2 = W1 + (size_t)H * D;
    float *gP = grad, *gW1 = grad ? grad + (size_t)M * H : NULL,
          *gw2 = gW1 ? gW1 + (size_t)H * D : NULL;
    float z[MAX_H], nw[MAX_H], nl[MAX_H], dz[MAX_H], dn[MAX_H];
    double loss = 0;
    for (size_t i = 0; i < n; i++) {
        const float *xi = x + i * (size_t)D;
        // z = W₁x  (H)
        for (int h = 0; h < H; h++) {
            const float *row = W1 + (size_t)h * D;
            float acc = 0;
            for (int d = 0; d < D; d++)
                acc += row[d] * xi[d];
            z[h] = acc;
        }
        float norm_w = unit_row(P + (size_t)s[i].win * H, H, nw);
        float norm_l = unit_row(P + (size_t)s[i].lose * H, H, nl);
        double logit = 0;
        for (int h = 0; h < H; h++)
            logit += (double)w2[h] * (nw[h] - nl[h]) * z[h];
        loss += s[i].weight * softplus(-logit);
        if (!grad)
            continue;
        float g = (float)(-s[i].weight * sigmoid(-logit)); // d loss / d logit
        for (int h = 0; h < H; h++) {
            float diff = nw[h] - nl[h];
            gw2[h] += g * diff * z[h];
            dz[h] = g * w2[h] * diff;
        }
        // gW₁ += dz ⊗ x
        for (int h = 0; h < H; h++) {
            float c = dz[h];
            float *row = gW1 + (size_t)h * D;
            for (int d = 0; d < D; d++)
                row[d] += c * xi[d];
        }
        for (int h = 0; h < H; h++)
            dn[h] = g * w2[h] * z[h];
        unit_row_backward(nw, dn, norm_w, H, gP + (size_t)s[i].win * H);
        for (int h = 0; h < H; h++)
            dn[h] = -dn[h];
        unit_row_backward(nl, dn, norm_l, H, gP + (size_t)s[i].lose * H);
    }
    return loss;
}

// ----------------------------------------------------------------------------
// One half of a batch: make the noisy inputs, then loss and gradient into this half's buffer.

struct half {
    const float *theta;
    int M, H, D;
    const struct rl_mf_sample *s;
    size_t n;
    const float *emb;
    double noise;
    uint64_t noise_seed; // a function of (seed, epoch, step, half): independent of threads
    float *x;            // (n, D) scratch
    float *grad;         // (n_params) zeroed by the worker
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
            xi[d] = e[d] + (float)(w->noise * rl__rng_normal(&rng));
    }
    memset(w->grad, 0, w->n_params * sizeof *w->grad);
    w->loss = rl__mf_loss_grad(w->theta, w->M, w->H, w->D, w->s, w->n, w->x, w->grad);
}

// Validation: mean weighted loss and accuracy (logit > 0) on the clean embeddings.
static void mf_validate(const float *theta, int M, int H, int D, const struct rl_mf_sample *s,
                        size_t n, const float *emb, double *loss, double *acc) {
    if (n == 0) {
        *loss = *acc = NAN;
        return;
    }
    double l = 0, wsum = 0;
    size_t right = 0;
    for (size_t i = 0; i < n; i++) {
        struct rl_mf_sample one = s[i];
        one.weight = 1;
        double li = rl__mf_loss_grad(theta, M, H, D, &one, 1, emb + (size_t)s[i].prompt * D, NULL);
        // softplus(−logit) < ln 2 exactly when logit > 0.
        right += li < log(2.0);
        l += s[i].weight * li;
        wsum += s[i].weight;
    }
    *loss = wsum > 0 ? l / wsum : NAN;
    *acc = (double)right / (double)n;
}

int rl__train_mf(const struct rl_train_ctx *c, struct rl_train_out *out) {
    const struct rl_battles *b = c->b;
    const struct rl_train_params *p = c->p;
    const int M = (int)b->n_models, H = p->hidden, D = c->dim;
    if (H <= 0 || H > MAX_H)
        return rl__errf(c->errbuf, RL_EINVAL, "mf: hidden width %d is not in 1..%d", H, MAX_H);
    if (p->batch <= 1 || p->epochs <= 0 || !(p->lr > 0) || !(p->weight_decay >= 0) ||
        !(p->noise >= 0))
        return rl__errf(c->errbuf, RL_EINVAL, "mf: bad hyper-parameters");

    // Decisive battles only, as the original (ties carry no winner for BCE against 1).
    size_t n_train = 0, n_val = 0;
    struct rl_mf_sample *train = malloc((b->n + 1) * sizeof *train);
    struct rl_mf_sample *val = malloc((b->n + 1) * sizeof *val);
    size_t n_params = rl__mf_n_params(M, H, D);
    float *theta = calloc(n_params, sizeof *theta);
    float *g0 = malloc(n_params * sizeof *g0), *g1 = malloc(n_params * sizeof *g1);
    struct rl_adam adam = {0};
    bool adam_ok = rl__adam_init(&adam, n_params) == RL_OK;
    size_t half_max = (size_t)(p->batch + 1) / 2;
    float *x0 = malloc(half_max * D * sizeof *x0), *x1 = malloc(half_max * D * sizeof *x1);
    uint32_t *order = malloc((b->n + 1) * sizeof *order);
    struct rl_par2 par;
    bool par_ok = false;
    int rc = RL_OK;
    if (!train || !val || !theta || !g0 || !g1 || !adam_ok || !x0 || !x1 || !order) {
        rc = rl__errf(c->errbuf, RL_ENOMEM, "mf: out of memory");
        goto done;
    }
    for (size_t i = 0; i < b->n; i++) {
        const struct rl_battle *x = &b->items[i];
        if (x->outcome != RL_OUTCOME_A_WINS && x->outcome != RL_OUTCOME_B_WINS)
            continue;
        if (x->weight <= 0)
            continue;
        bool a_wins = x->outcome == RL_OUTCOME_A_WINS;
        struct rl_mf_sample s = {a_wins ? x->model_a : x->model_b, a_wins ? x->model_b : x->model_a,
                                 x->prompt, x->weight};
        if (c->held_out[i])
            val[n_val++] = s;
        else
            train[n_train++] = s;
    }
    if (n_train == 0) {
        rc = rl__errf(c->errbuf, RL_EINVAL, "mf: no decisive battles to train on");
        goto done;
    }
    rc = rl__par2_init(&par, p->n_threads);
    if (rc != RL_OK) {
        rl__errf(c->errbuf, rc, "mf: cannot start a thread");
        goto done;
    }
    par_ok = true;

    // Initialisation as torch: nn.Embedding ~ N(0, 1); nn.Linear ~ U(±1/√fan_in).
    struct rl_rng rng;
    rl__rng_seed(&rng, p->seed);
    float *P = theta, *W1 = theta + (size_t)M * H, *w2 = W1 + (size_t)H * D;
    for (size_t i = 0; i < (size_t)M * H; i++)
        P[i] = (float)rl__rng_normal(&rng);
    for (size_t i = 0; i < (size_t)H * D; i++)
        W1[i] = (float)((2 * rl__rng_uniform(&rng) - 1) / sqrt((double)D));
    for (int i = 0; i < H; i++)
        w2[i] = (float)((2 * rl__rng_uniform(&rng) - 1) / sqrt((double)H));

    size_t n_steps = (n_train + (size_t)p->batch - 1) / (size_t)p->batch;
    struct rl_train_progress prog = {.n_epochs = p->epochs, .n_steps = n_steps};
    double val_loss = NAN, val_acc = NAN;
    for (size_t i = 0; i < n_train; i++)
        order[i] = (uint32_t)i;
    struct rl_mf_sample *batch = malloc((size_t)p->batch * sizeof *batch);
    if (!batch) {
        rc = rl__errf(c->errbuf, RL_ENOMEM, "mf: out of memory");
        goto done;
    }
    for (int ep = 1; ep <= p->epochs; ep++) {
        struct rl_rng er;
        rl__rng_seed(&er, p->seed ^ (0x5bd1e995ull * (uint64_t)ep));
        rl__rng_shuffle(&er, order, n_train);
        double ep_loss = 0, ep_w = 0;
        for (size_t step = 0; step < n_steps; step++) {
            size_t lo = step * (size_t)p->batch;
            size_t n = n_train - lo < (size_t)p->batch ? n_train - lo : (size_t)p->batch;
            for (size_t i = 0; i < n; i++)
                batch[i] = train[order[lo + i]];
            size_t n0 = (n + 1) / 2;
            uint64_t ns = p->seed * 0x9e3779b97f4a7c15ull + (uint64_t)ep * 1000003u + step * 2;
            struct half h0 = {theta, M, H, D, batch, n0, c->emb, p->noise, ns, x0, g0, n_params, 0};
            struct half h1 = {theta,    M,      H,  D,  batch + n0, n - n0, c->emb,
                              p->noise, ns + 1, x1, g1, n_params,   0};
            rl__par2_run(&par, half_run, &h0, &h1);
            // Mean over the batch, as BCEWithLogitsLoss(reduction="mean").
            float inv = 1.0f / (float)n;
            for (size_t i = 0; i < n_params; i++)
                g0[i] = (g0[i] + g1[i]) * inv;
            rl__adam_step(&adam, theta, g0, n_params, p->lr, p->weight_decay);
            ep_loss += h0.loss + h1.loss;
            for (size_t i = 0; i < n; i++)
                ep_w += batch[i].weight;
            prog.epoch = ep;
            prog.step = step + 1;
            prog.epoch_done = false;
            prog.train_loss = ep_w > 0 ? ep_loss / ep_w : NAN;
            if (p->progress)
                p->progress(p->progress_ctx, &prog);
        }
        mf_validate(theta, M, H, D, val, n_val, c->emb, &val_loss, &val_acc);
        prog.epoch_done = true;
        prog.val_loss = val_loss;
        prog.val_acc = val_acc;
        if (p->progress)
            p->progress(p->progress_ctx, &prog);
        for (size_t i = 0; i < n_params; i++) {
            if (!isfinite(theta[i])) {
                free(batch);
                rc = rl__errf(c->errbuf, RL_EINVAL, "mf: training diverged in epoch %d", ep);
                goto done;
            }
        }
    }
    free(batch);

    snprintf(out->hyper, sizeof out->hyper,
             "{\"hidden\":%d,\"epochs\":%d,\"batch\":%d,\"lr\":%g,\"weight_decay\":%g,"
             "\"noise\":%g,\"seed\":%llu,\"holdout\":%g,\"optimizer\":\"adam\"}",
             H, p->epochs, p->batch, p->lr, p->weight_decay, p->noise, (unsigned long long)p->seed,
             p->holdout);
    snprintf(out->metrics, sizeof out->metrics,
             "{\"train_battles\":%zu,\"val_battles\":%zu,\"val_loss\":%.6f,\"val_acc\":%.6f}",
             n_train, n_val, isnan(val_loss) ? -1 : val_loss, isnan(val_acc) ? -1 : val_acc);
    // Copy the three tensors out of θ so that each has its own buffer.
    float *tP = malloc((size_t)M * H * sizeof *tP), *tW1 = malloc((size_t)H * D * sizeof *tW1);
    float *tw2 = malloc((size_t)H * sizeof *tw2);
    if (!tP || !tW1 || !tw2) {
        free(tP);
        free(tW1);
        free(tw2);
        rc = rl__errf(c->errbuf, RL_ENOMEM, "mf: out of memory");
        goto done;
    }
    memcpy(tP, P, (size_t)M * H * sizeof *tP);
    memcpy(tW1, W1, (size_t)H * D * sizeof *tW1);
    memcpy(tw2, w2, (size_t)H * sizeof *tw2);
    int64_t sP[2] = {M, H}, sW1[2] = {H, D}, sw2[2] = {1, H};
    rc = rl__train_out_add(out, "P.weight", RL_DTYPE_F32, 2, sP, tP);
    if (rc == RL_OK)
        rc = rl__train_out_add(out, "text_proj.0.weight", RL_DTYPE_F32, 2, sW1, tW1);
    else
        free(tW1);
    if (rc == RL_OK)
        rc = rl__train_out_add(out, "classifier.0.weight", RL_DTYPE_F32, 2, sw2, tw2);
    else
        free(tw2);
    if (rc != RL_OK)
        rl__errf(c->errbuf, rc, "mf: cannot collect the tensors");
done:
    if (par_ok)
        rl__par2_free(&par);
    free(train);
    free(val);
    free(theta);
    free(g0);
    free(g1);
    rl__adam_free(&adam);
    free(x0);
    free(x1);
    free(order);
    return rc;
}
