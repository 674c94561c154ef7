// The minibatch loop of the gradient-trained routers (MF and the BERT head) and its optimiser,
// Adam as torch.optim.Adam. Each epoch shuffles the training samples with a seed of (seed,
// epoch); each batch is cut into two fixed halves whose noisy inputs, losses and gradients are
// computed apart (on two threads when asked) and summed in a fixed order, so one or two threads
// give the same bits. The model itself (loss, gradient, validation) comes from the trainer.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "train/train_impl.h"

// ----------------------------------------------------------------------------
// Adam (β = 0.9, 0.999, ε = 1e-8, L2 weight decay added to the gradient)

struct adam {
    float *m, *v; // (n) first and second moments
    long t;
};

static void adam_free(struct adam *a) {
    free(a->m);
    free(a->v);
    a->m = a->v = NULL;
}

static int adam_init(struct adam *a, size_t n) {
    a->m = calloc(n ? n : 1, sizeof *a->m);
    a->v = calloc(n ? n : 1, sizeof *a->v);
    a->t = 0;
    if (!a->m || !a->v) {
        adam_free(a);
        return RL_ENOMEM;
    }
    return RL_OK;
}

// g ← g + λθ; m ← β₁m + (1−β₁)g; v ← β₂v + (1−β₂)g²; θ ← θ − lr · m̂ / (√v̂ + ε).
static void adam_step(struct adam *a, float *theta, const float *g, size_t n, double lr,
                      double wd) {
    const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
    a->t++;
    double c1 = 1 - pow(b1, (double)a->t), c2 = 1 - pow(b2, (double)a->t);
    for (size_t i = 0; i < n; i++) {
        double gi = g[i] + wd * theta[i];
        a->m[i] = (float)(b1 * a->m[i] + (1 - b1) * gi);
        a->v[i] = (float)(b2 * a->v[i] + (1 - b2) * gi * gi);
        double mh = a->m[i] / c1, vh = a->v[i] / c2;
        theta[i] -= (float)(lr * mh / (sqrt(vh) + eps));
    }
}

// ----------------------------------------------------------------------------
// One half of a batch

struct half {
    const struct rl_minibatch *mb;
    const unsigned char *samples; // (n) samples of mb->sample_size bytes
    size_t n;
    uint64_t noise_seed; // a function of (seed, epoch, step, half): independent of threads
    float *x;            // (n, dim) scratch
    float *grad;         // (n_params) zeroed here
    double loss;
};

// The noisy inputs x = e + N(0, noise²) of the half's prompts, then its loss and gradient.
static void half_run(void *arg) {
    struct half *w = arg;
    const struct rl_minibatch *mb = w->mb;
    const int D = mb->c->dim;
    const double noise = mb->c->p->noise;
    struct rl_rng rng;
    rl__rng_seed(&rng, w->noise_seed);
    for (size_t i = 0; i < w->n; i++) {
        const unsigned char *s = w->samples + i * mb->sample_size;
        const float *e = mb->c->emb + (size_t)mb->prompt(s) * D;
        float *xi = w->x + i * (size_t)D;
        for (int d = 0; d < D; d++)
            xi[d] = e[d] + (noise > 0 ? (float)(noise * rl__rng_normal(&rng)) : 0.0f);
    }
    memset(w->grad, 0, mb->n_params * sizeof *w->grad);
    w->loss = mb->loss_grad(mb->model, mb->theta, w->samples, w->n, w->x, w->grad);
}

// ----------------------------------------------------------------------------
// The loop

int rl__minibatch_check(const struct rl_train_params *p, const char *kind, char *errbuf) {
    if (p->batch <= 1 || p->epochs <= 0 || !(p->lr > 0) || !(p->weight_decay >= 0) ||
        !(p->noise >= 0))
        return rl__errf(errbuf, RL_EINVAL, "%s: bad hyper-parameters", kind);
    return RL_OK;
}

int rl__minibatch_train(const struct rl_minibatch *mb, double *val_loss, double *val_acc) {
    const struct rl_train_params *p = mb->c->p;
    const size_t B = (size_t)p->batch, n_train = mb->n_train, n_params = mb->n_params;
    const size_t half_max = (B + 1) / 2, D = (size_t)mb->c->dim, size = mb->sample_size;
    char *errbuf = mb->c->errbuf;
    uint32_t *order = malloc((n_train ? n_train : 1) * sizeof *order);
    unsigned char *batch = malloc(B * size);
    float *x0 = malloc(half_max * D * sizeof *x0), *x1 = malloc(half_max * D * sizeof *x1);
    float *g0 = malloc(n_params * sizeof *g0), *g1 = malloc(n_params * sizeof *g1);
    struct adam adam = {0};
    struct rl_par2 par;
    bool par_ok = false;
    int rc = RL_OK;
    *val_loss = *val_acc = NAN;
    if (!order || !batch || !x0 || !x1 || !g0 || !g1 || adam_init(&adam, n_params) != RL_OK) {
        rc = rl__errf(errbuf, RL_ENOMEM, "%s: out of memory", mb->kind);
        goto done;
    }
    rc = rl__par2_init(&par, p->n_threads);
    if (rc != RL_OK) {
        rl__errf(errbuf, rc, "%s: cannot start a thread", mb->kind);
        goto done;
    }
    par_ok = true;

    for (size_t i = 0; i < n_train; i++)
        order[i] = (uint32_t)i;
    size_t n_steps = (n_train + B - 1) / B;
    struct rl_train_progress prog = {.n_epochs = p->epochs, .n_steps = n_steps};
    for (int ep = 1; ep <= p->epochs; ep++) {
        struct rl_rng er;
        rl__rng_seed(&er, p->seed ^ (0x5bd1e995ull * (uint64_t)ep));
        rl__rng_shuffle(&er, order, n_train);
        double ep_loss = 0, ep_w = 0;
        for (size_t step = 0; step < n_steps; step++) {
            size_t lo = step * B;
            size_t n = n_train - lo < B ? n_train - lo : B;
            double wsum = 0;
            for (size_t i = 0; i < n; i++) {
                const unsigned char *s = (const unsigned char *)mb->train + order[lo + i] * size;
                memcpy(batch + i * size, s, size);
                wsum += mb->weight(s);
            }
            size_t n0 = (n + 1) / 2;
            uint64_t ns = p->seed * RL_GOLDEN64 + (uint64_t)ep * 1000003u + step * 2;
            struct half h0 = {mb, batch, n0, ns, x0, g0, 0};
            struct half h1 = {mb, batch + n0 * size, n - n0, ns + 1, x1, g1, 0};
            rl__par2_run(&par, half_run, &h0, &h1);
            // The mean over the batch (BCEWithLogitsLoss(reduction="mean")), or over its weight
            // when samples carry very different weights.
            float inv = mb->mean_by_weight ? (float)(1.0 / wsum) : 1.0f / (float)n;
            for (size_t i = 0; i < n_params; i++)
                g0[i] = (g0[i] + g1[i]) * inv;
            adam_step(&adam, mb->theta, g0, n_params, p->lr, p->weight_decay);
            ep_loss += h0.loss + h1.loss;
            ep_w += wsum;
            prog.epoch = ep;
            prog.step = step + 1;
            prog.epoch_done = false;
            prog.train_loss = ep_w > 0 ? ep_loss / ep_w : NAN;
            if (p->progress)
                p->progress(p->progress_ctx, &prog);
        }
        mb->validate(mb->model, mb->theta, val_loss, val_acc);
        prog.epoch_done = true;
        prog.val_loss = *val_loss;
        prog.val_acc = *val_acc;
        if (p->progress)
            p->progress(p->progress_ctx, &prog);
        for (size_t i = 0; i < n_params; i++) {
            if (!isfinite(mb->theta[i])) {
                rc = rl__errf(errbuf, RL_EINVAL, "%s: training diverged in epoch %d", mb->kind, ep);
                goto done;
            }
        }
    }
done:
    if (par_ok)
        rl__par2_free(&par);
    free(order);
    free(batch);
    free(x0);
    free(x1);
    free(g0);
    free(g1);
    adam_free(&adam);
    return rc;
}
