// Training the item-response-theory router (irt.c): every cell (prompt q, model m, quality y in
// [0, 1]) is a soft label for
//
//   P(m answers q well) = σ(a_q (θ_m − b_q − δ_s)),  a_q = softplus(w_a·x_q + c_a),
//                                                    b_q = w_b·x_q + c_b,
//
// with x_q the prompt's input (embedding and/or prompt features), θ_m each model's ability and
// δ_s an offset per data source that absorbs how hard a source is as a whole (or how its scores
// are scaled) and is dropped at scoring. The loss is the mean binary cross-entropy over the
// training cells plus an L2 penalty (weight_decay) on w_a, w_b and, a hundred times smaller, on θ
// and δ, which only pins the shift they share with c_b. Full-batch Adam from zeros, on inputs
// standardised per column; the weights are mapped back to the raw input before they are saved.
// Deterministic: no random draw but the split of prompts held out for validation.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "routers/router_impl.h"
#include "train/train_impl.h"

static double sigmoid(double x) {
    return x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x));
}

static double softplus(double x) {
    return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x));
}

// The parameters in one block: w_a (D), w_b (D), c_a, c_b, θ (M), δ (S).
struct irt_params {
    size_t n;
    float *all;
    float *wa, *wb, *ca, *cb, *theta, *delta;
};

static int params_new(struct irt_params *p, int D, int M, int S) {
    p->n = 2 * (size_t)D + 2 + (size_t)M + (size_t)S;
    p->all = calloc(p->n, sizeof *p->all);
    if (!p->all)
        return RL_ENOMEM;
    p->wa = p->all;
    p->wb = p->wa + D;
    p->ca = p->wb + D;
    p->cb = p->ca + 1;
    p->theta = p->cb + 1;
    p->delta = p->theta + M;
    return RL_OK;
}

// The prompts' inputs standardised per column (mean and deviation over the prompts with cells);
// rows of prompts without cells are left zero.
struct irt_data {
    const struct rl_battles *b;
    int D;
    float *z;          // (n_prompts, D)
    double *mean, *sd; // (D)
    bool *val;         // (n_prompts) the prompt is held out
    size_t n_train, n_val;
};

static int data_new(const struct rl_train_ctx *c, struct irt_data *d) {
    const struct rl_battles *b = c->b;
    const int D = c->dim;
    const size_t n = b->n_prompts;
    memset(d, 0, sizeof *d);
    d->b = b;
    d->D = D;
    d->z = calloc((n ? n : 1) * (size_t)D, sizeof *d->z);
    d->mean = calloc((size_t)D, sizeof *d->mean);
    d->sd = calloc((size_t)D, sizeof *d->sd);
    d->val = calloc(n ? n : 1, sizeof *d->val);
    bool *used = calloc(n ? n : 1, sizeof *used);
    uint32_t *order = malloc((n ? n : 1) * sizeof *order);
    if (!d->z || !d->mean || !d->sd || !d->val || !used || !order) {
        free(used);
        free(order);
        return RL_ENOMEM;
    }
    for (size_t i = 0; i < b->n_cells; i++)
        used[b->cells[i].prompt] = true;
    size_t n_used = 0;
    for (size_t q = 0; q < n; q++) {
        if (!used[q])
            continue;
        order[n_used++] = (uint32_t)q;
        for (int k = 0; k < D; k++)
            d->mean[k] += c->emb[q * (size_t)D + k];
    }
    for (int k = 0; k < D; k++)
        d->mean[k] /= n_used ? (double)n_used : 1;
    for (size_t i = 0; i < n_used; i++)
        for (int k = 0; k < D; k++) {
            double v = c->emb[order[i] * (size_t)D + k] - d->mean[k];
            d->sd[k] += v * v;
        }
    for (int k = 0; k < D; k++) {
        double var = n_used ? d->sd[k] / (double)n_used : 0;
        d->sd[k] = var > 1e-12 ? sqrt(var) : 1;
    }
    for (size_t i = 0; i < n_used; i++)
        for (int k = 0; k < D; k++) {
            size_t at = order[i] * (size_t)D + k;
            d->z[at] = (float)((c->emb[at] - d->mean[k]) / d->sd[k]);
        }
    // The validation prompts: the last share of a seed-42 permutation of the used prompts.
    struct rl_rng rng;
    rl__rng_seed(&rng, RL_TRAIN_SPLIT_SEED);
    rl__rng_shuffle(&rng, order, n_used);
    size_t n_val_prompts = (size_t)floor(c->p->holdout * (double)n_used);
    for (size_t i = n_used - n_val_prompts; i < n_used; i++)
        d->val[order[i]] = true;
    for (size_t i = 0; i < b->n_cells; i++) {
        if (d->val[b->cells[i].prompt])
            d->n_val++;
        else
            d->n_train++;
    }
    free(used);
    free(order);
    return RL_OK;
}

static void data_free(struct irt_data *d) {
    free(d->z);
    free(d->mean);
    free(d->sd);
    free(d->val);
}

// Per-prompt pre-activations za = w_a·z + c_a and zb = w_b·z + c_b.
static void project(const struct irt_data *d, const struct irt_params *p, double *za, double *zb) {
    const int D = d->D;
    for (size_t q = 0; q < d->b->n_prompts; q++) {
        const float *zq = d->z + q * (size_t)D;
        double a = p->ca[0], bq = p->cb[0];
        for (int k = 0; k < D; k++) {
            a += (double)p->wa[k] * zq[k];
            bq += (double)p->wb[k] * zq[k];
        }
        za[q] = a;
        zb[q] = bq;
    }
}

// Mean cross-entropy over the training (val false) or validation cells, and, when g is not NULL,
// its gradient with respect to the per-prompt pre-activations (ga, gb), θ and δ. acc receives the
// share of cells whose prediction falls on the same side of 1/2 as the label.
static double cells_loss(const struct irt_data *d, const struct irt_params *p, const double *za,
                         const double *zb, bool val, struct irt_params *g, double *ga, double *gb,
                         double *acc) {
    const struct rl_battles *b = d->b;
    const double n = (double)(val ? d->n_val : d->n_train);
    double loss = 0, right = 0;
    for (size_t i = 0; i < b->n_cells; i++) {
        const struct rl_cell *x = &b->cells[i];
        if (d->val[x->prompt] != val)
            continue;
        double a = softplus(za[x->prompt]);
        double diff = p->theta[x->model] - zb[x->prompt] - p->delta[x->source];
        double z = a * diff, y = x->score;
        // BCE with logits: softplus(z) − y·z.
        loss += softplus(z) - y * z;
        right += (z > 0) == (y > 0.5);
        if (!g)
            continue;
        double r = (sigmoid(z) - y) / n;
        ga[x->prompt] += r * diff * sigmoid(za[x->prompt]);
        gb[x->prompt] -= r * a;
        g->theta[x->model] += (float)(r * a);
        g->delta[x->source] -= (float)(r * a);
    }
    *acc = n > 0 ? right / n : 0;
    return n > 0 ? loss / n : 0;
}

// Chain the per-prompt gradients into w and c, and add the L2 penalties.
static void gradient(const struct irt_data *d, const struct irt_params *p, const double *ga,
                     const double *gb, double l2, struct irt_params *g) {
    const int D = d->D;
    double sa[RL_ROUTER_MAX_INPUT] = {0}, sb[RL_ROUTER_MAX_INPUT] = {0}, ca = 0, cb = 0;
    for (size_t q = 0; q < d->b->n_prompts; q++) {
        if (ga[q] == 0 && gb[q] == 0)
            continue;
        const float *zq = d->z + q * (size_t)D;
        for (int k = 0; k < D; k++) {
            sa[k] += ga[q] * zq[k];
            sb[k] += gb[q] * zq[k];
        }
        ca += ga[q];
        cb += gb[q];
    }
    for (int k = 0; k < D; k++) {
        g->wa[k] = (float)(sa[k] + l2 * p->wa[k]);
        g->wb[k] = (float)(sb[k] + l2 * p->wb[k]);
    }
    g->ca[0] = (float)ca;
    g->cb[0] = (float)cb;
    const size_t n_small = (size_t)(p->all + p->n - p->theta);
    for (size_t i = 0; i < n_small; i++)
        g->theta[i] += (float)(0.01 * l2 * p->theta[i]);
}

// The saved tensors: θ, and w and c mapped from standardised columns back to the raw input
// (w_raw = w / sd, c_raw = c − Σ w·mean / sd).
static int collect(const struct rl_train_ctx *c, const struct irt_data *d,
                   const struct irt_params *p, struct rl_train_out *out) {
    const int D = d->D, M = (int)c->b->n_models;
    float *theta = malloc((size_t)M * sizeof *theta), *wa = malloc((size_t)D * sizeof *wa),
          *wb = malloc((size_t)D * sizeof *wb), *bias = malloc(2 * sizeof *bias);
    double ca = p->ca[0], cb = p->cb[0];
    if (wa && wb) {
        for (int k = 0; k < D; k++) {
            wa[k] = (float)(p->wa[k] / d->sd[k]);
            wb[k] = (float)(p->wb[k] / d->sd[k]);
            ca -= p->wa[k] * d->mean[k] / d->sd[k];
            cb -= p->wb[k] * d->mean[k] / d->sd[k];
        }
    }
    if (theta)
        memcpy(theta, p->theta, (size_t)M * sizeof *theta);
    if (bias) {
        bias[0] = (float)ca;
        bias[1] = (float)cb;
    }
    const struct rl_train_tensor t[] = {
        {"irt.theta", RL_DTYPE_F32, 1, {M}, theta},
        {"irt.w_a", RL_DTYPE_F32, 1, {D}, wa},
        {"irt.w_b", RL_DTYPE_F32, 1, {D}, wb},
        {"irt.bias", RL_DTYPE_F32, 1, {2}, bias},
    };
    if (!theta || !wa || !wb || !bias) {
        for (size_t i = 0; i < RL_COUNTOF(t); i++)
            free(t[i].data);
        return rl__errf(c->errbuf, RL_ENOMEM, "irt: out of memory");
    }
    int rc = rl__train_out_take(out, t, RL_COUNTOF(t));
    return rc == RL_OK ? RL_OK : rl__errf(c->errbuf, rc, "irt: cannot collect the tensors");
}

int rl__train_irt(const struct rl_train_ctx *c, struct rl_train_out *out) {
    const struct rl_train_params *hp = c->p;
    if (c->b->n_cells == 0)
        return rl__errf(c->errbuf, RL_EINVAL,
                        "irt: no per-model scores to train on (read tables in cells mode)");
    if (hp->epochs < 1 || !(hp->lr > 0) || !(hp->weight_decay >= 0))
        return rl__errf(c->errbuf, RL_EINVAL, "irt: bad hyper-parameters");
    // One offset per source id the cells use (ids need not have been named with
    // rl_battles_source: a set built by hand may leave every cell at source 0).
    int S = (int)c->b->n_sources;
    for (size_t i = 0; i < c->b->n_cells; i++)
        S = c->b->cells[i].source >= S ? c->b->cells[i].source + 1 : S;
    const int D = c->dim, M = (int)c->b->n_models;
    const size_t n_prompts = c->b->n_prompts;
    struct irt_data d;
    struct irt_params p = {0}, g = {0}, m1 = {0}, m2 = {0};
    double *za = malloc((n_prompts ? n_prompts : 1) * 4 * sizeof *za);
    int rc = data_new(c, &d);
    if (rc == RL_OK)
        rc = params_new(&p, D, M, S);
    if (rc == RL_OK)
        rc = params_new(&g, D, M, S);
    if (rc == RL_OK)
        rc = params_new(&m1, D, M, S);
    if (rc == RL_OK)
        rc = params_new(&m2, D, M, S);
    if (rc != RL_OK || !za) {
        rc = rl__errf(c->errbuf, RL_ENOMEM, "irt: out of memory");
        goto done;
    }
    double *zb = za + n_prompts, *ga = zb + n_prompts, *gb = ga + n_prompts;
    p.ca[0] = (float)log(exp(1.0) - 1); // softplus(c_a) = 1: every a_q starts at 1
    const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
    double loss = 0, acc = 0, val_loss = 0, val_acc = 0;
    for (int t = 1; t <= hp->epochs; t++) {
        project(&d, &p, za, zb);
        memset(g.all, 0, g.n * sizeof *g.all);
        memset(ga, 0, 2 * n_prompts * sizeof *ga);
        loss = cells_loss(&d, &p, za, zb, false, &g, ga, gb, &acc);
        gradient(&d, &p, ga, gb, hp->weight_decay, &g);
        double c1 = 1 - pow(b1, t), c2 = 1 - pow(b2, t);
        for (size_t i = 0; i < p.n; i++) {
            m1.all[i] = (float)(b1 * m1.all[i] + (1 - b1) * g.all[i]);
            m2.all[i] = (float)(b2 * m2.all[i] + (1 - b2) * (double)g.all[i] * g.all[i]);
            p.all[i] -= (float)(hp->lr * (m1.all[i] / c1) / (sqrt(m2.all[i] / c2) + eps));
        }
        if (hp->progress && (t % 10 == 0 || t == hp->epochs)) {
            project(&d, &p, za, zb);
            val_loss = cells_loss(&d, &p, za, zb, true, NULL, NULL, NULL, &val_acc);
            struct rl_train_progress pr = {.epoch = t,
                                           .n_epochs = hp->epochs,
                                           .step = 1,
                                           .n_steps = 1,
                                           .epoch_done = true,
                                           .train_loss = loss,
                                           .val_loss = d.n_val ? val_loss : NAN,
                                           .val_acc = d.n_val ? val_acc : NAN};
            hp->progress(hp->progress_ctx, &pr);
        }
    }
    project(&d, &p, za, zb);
    loss = cells_loss(&d, &p, za, zb, false, NULL, NULL, NULL, &acc);
    val_loss = cells_loss(&d, &p, za, zb, true, NULL, NULL, NULL, &val_acc);
    snprintf(out->hyper, sizeof out->hyper,
             "{\"epochs\":%d,\"lr\":%g,\"weight_decay\":%g,\"holdout\":%g,\"optimizer\":"
             "\"adam\",\"batch\":\"full\",\"source_offsets\":true}",
             hp->epochs, hp->lr, hp->weight_decay, hp->holdout);
    snprintf(out->metrics, sizeof out->metrics,
             "{\"train_cells\":%zu,\"val_cells\":%zu,\"train_loss\":%.6f,\"train_acc\":%.6f,"
             "\"val_loss\":%.6f,\"val_acc\":%.6f}",
             d.n_train, d.n_val, loss, acc, val_loss, val_acc);
    rc = collect(c, &d, &p, out);
done:
    free(za);
    data_free(&d);
    free(p.all);
    free(g.all);
    free(m1.all);
    free(m2.all);
    return rc;
}

// Full-batch steps: many more of them, and larger, than minibatch training takes.
void rl__train_irt_defaults(struct rl_train_params *p) {
    p->epochs = 300;
    p->lr = 0.05;
    p->weight_decay = 1e-3;
    p->noise = 0;
}
