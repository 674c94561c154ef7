// Training the matrix-factorisation router (RouteLLM §2.3, train_matrix_factorization.py):
// samples are decisive battles (winner, loser, prompt), the logit is δ(win) − δ(lose) with
// δ(m, x) = w₂ · (P̂[m] ⊙ W₁x) on the prompt embedding plus N(0, noise²) noise, the loss is
// BCE-with-logits against 1, and Adam (L2 weight decay added to the gradient, as torch.optim.Adam
// does) updates all parameters through the shared minibatch loop (minibatch.c), whose fixed
// two-halves split makes one or two threads give the same bits. Ties are not used.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

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
// Training

struct mf_model {
    int M, H, D;
    const struct rl_mf_sample *val; // (n_val) held-out samples
    size_t n_val;
    const float *emb; // (n_prompts, D) clean embeddings
};

static uint32_t mf_prompt(const void *s) {
    return ((const struct rl_mf_sample *)s)->prompt;
}

static float mf_weight(const void *s) {
    return ((const struct rl_mf_sample *)s)->weight;
}

static double mf_loss_grad(const void *model, const float *theta, const void *s, size_t n,
                           const float *x, float *grad) {
    const struct mf_model *m = model;
    return rl__mf_loss_grad(theta, m->M, m->H, m->D, s, n, x, grad);
}

// Validation: mean weighted loss and accuracy (logit > 0) on the clean embeddings.
static void mf_validate(const void *model, const float *theta, double *loss, double *acc) {
    const struct mf_model *m = model;
    const struct rl_mf_sample *s = m->val;
    const size_t n = m->n_val;
    if (n == 0) {
        *loss = *acc = NAN;
        return;
    }
    double l = 0, wsum = 0;
    size_t right = 0;
    for (size_t i = 0; i < n; i++) {
        struct rl_mf_sample one = s[i];
        one.weight = 1;
        double li = rl__mf_loss_grad(theta, m->M, m->H, m->D, &one, 1,
                                     m->emb + (size_t)s[i].prompt * m->D, NULL);
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
    int rc = rl__minibatch_check(p, "mf", c->errbuf);
    if (rc != RL_OK)
        return rc;

    // Decisive battles only, as the original (ties carry no winner for BCE against 1).
    size_t n_train = 0, n_val = 0;
    struct rl_mf_sample *train = malloc((b->n + 1) * sizeof *train);
    struct rl_mf_sample *val = malloc((b->n + 1) * sizeof *val);
    size_t n_params = rl__mf_n_params(M, H, D);
    float *theta = calloc(n_params, sizeof *theta);
    if (!train || !val || !theta) {
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

    struct mf_model model = {M, H, D, val, n_val, c->emb};
    struct rl_minibatch mb = {
        .c = c,
        .kind = "mf",
        .theta = theta,
        .n_params = n_params,
        .train = train,
        .n_train = n_train,
        .sample_size = sizeof *train,
        .mean_by_weight = false,
        .prompt = mf_prompt,
        .weight = mf_weight,
        .model = &model,
        .loss_grad = mf_loss_grad,
        .validate = mf_validate,
    };
    double val_loss, val_acc;
    rc = rl__minibatch_train(&mb, &val_loss, &val_acc);
    if (rc != RL_OK)
        goto done;

    snprintf(out->hyper, sizeof out->hyper,
             "{\"hidden\":%d,\"epochs\":%d,\"batch\":%d,\"lr\":%g,\"weight_decay\":%g,"
             "\"noise\":%g,\"seed\":%llu,\"holdout\":%g,\"optimizer\":\"adam\"}",
             H, p->epochs, p->batch, p->lr, p->weight_decay, p->noise, (unsigned long long)p->seed,
             p->holdout);
    snprintf(out->metrics, sizeof out->metrics,
             "{\"train_battles\":%zu,\"val_battles\":%zu,\"val_loss\":%.6f,\"val_acc\":%.6f}",
             n_train, n_val, isnan(val_loss) ? -1 : val_loss, isnan(val_acc) ? -1 : val_acc);
    // The three tensors are consecutive in θ; each gets its own buffer.
    const struct rl_train_tensor t[] = {
        {"P.weight", RL_DTYPE_F32, 2, {M, H}, NULL},
        {"text_proj.0.weight", RL_DTYPE_F32, 2, {H, D}, NULL},
        {"classifier.0.weight", RL_DTYPE_F32, 2, {1, H}, NULL},
    };
    rc = rl__train_out_slices(out, theta, t, RL_COUNTOF(t), "mf", c->errbuf);
done:
    free(train);
    free(val);
    free(theta);
    return rc;
}
