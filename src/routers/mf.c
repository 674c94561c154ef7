// The matrix-factorisation router (RouteLLM §2.3). The file holds the trained parameters
//   P.weight            (M, H)  one row per model
//   text_proj.0.weight  (H, D)  W₁, no bias
//   classifier.0.weight (1, H)  w₂, no bias
// with δ(m, e) = w₂ · (P̂[m] ⊙ W₁e) and P(strong wins) = σ(δ(s, e) − δ(w, e)), P̂ = P/‖P‖.
// Everything is linear in e, so at load each model collapses to v[m] = W₁ᵀ(P̂[m] ⊙ w₂) ∈ R^D and
// a pair to u = v[s] − v[w]: a score is one dot product (the default pair's u is kept ready).
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "core/safetensors.h"
#include "routers/mf.h"
#include "routers/router_impl.h"
#include "train/train_impl.h"

struct mf {
    int n_models, dim;
    float *v;     // (M, D) per-model collapsed vectors
    float *u_def; // (D) v[default strong] − v[default weak]
};

void rl__mf_collapse(const float *p, const float *w1, const float *w2, int n_models, int hidden,
                     int dim, float *v) {
    for (int m = 0; m < n_models; m++) {
        const float *pm = p + (size_t)m * hidden;
        double norm = 0;
        for (int h = 0; h < hidden; h++)
            norm += (double)pm[h] * pm[h];
        norm = sqrt(norm);
        // F.normalize clamps the norm at 1e-12.
        float inv = (float)(1.0 / (norm > 1e-12 ? norm : 1e-12));
        float *vm = v + (size_t)m * dim;
        memset(vm, 0, (size_t)dim * sizeof *vm);
        for (int h = 0; h < hidden; h++) {
            float c = pm[h] * inv * w2[h];
            const float *row = w1 + (size_t)h * dim;
            for (int d = 0; d < dim; d++)
                vm[d] += c * row[d];
        }
    }
}

static double sigmoid(double x) {
    return x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x));
}

static int mf_score(const struct rl_router *r, const struct rl_router_pair *pair,
                    const struct rl_prompt *prompt, const float *e, double *p_strong) {
    (void)prompt;
    const struct mf *mf = r->impl;
    const int D = mf->dim;
    float acc = 0;
    if (pair->strong == r->def_pair.strong && pair->weak == r->def_pair.weak) {
        for (int d = 0; d < D; d++)
            acc += mf->u_def[d] * e[d];
    } else {
        const float *vs = mf->v + (size_t)pair->strong * D, *vw = mf->v + (size_t)pair->weak * D;
        for (int d = 0; d < D; d++)
            acc += (vs[d] - vw[d]) * e[d];
    }
    *p_strong = sigmoid(acc);
    return RL_OK;
}

static void mf_free(void *impl) {
    struct mf *mf = impl;
    if (!mf)
        return;
    free(mf->v);
    free(mf->u_def);
    free(mf);
}

static int mf_load(struct rl_router *r, const struct rl_safetensors *st, char *errbuf) {
    const int M = r->n_models, D = rl__router_input_dim(r);
    const struct rl_tensor *tp, *tw1, *tw2;
    int64_t sp[2] = {M, -1};
    int rc = rl_safetensors_expect(st, "P.weight", RL_DTYPE_F32, 2, sp, &tp, errbuf);
    if (rc != RL_OK)
        return rc;
    const int H = (int)tp->shape[1];
    if (H <= 0 || H > 4096)
        return rl__errf(errbuf, RL_EFORMAT, "%s: P.weight has width %d", rl_safetensors_path(st),
                        H);
    int64_t s1[2] = {H, D}, s2[2] = {1, H};
    rc = rl_safetensors_expect(st, "text_proj.0.weight", RL_DTYPE_F32, 2, s1, &tw1, errbuf);
    if (rc == RL_OK)
        rc = rl_safetensors_expect(st, "classifier.0.weight", RL_DTYPE_F32, 2, s2, &tw2, errbuf);
    if (rc != RL_OK)
        return rc;
    struct mf *mf = calloc(1, sizeof *mf);
    if (!mf)
        return rl__errf(errbuf, RL_ENOMEM, "out of memory");
    r->impl = mf;
    mf->n_models = M;
    mf->dim = D;
    mf->v = malloc((size_t)M * D * sizeof *mf->v);
    mf->u_def = malloc((size_t)D * sizeof *mf->u_def);
    if (!mf->v || !mf->u_def)
        return rl__errf(errbuf, RL_ENOMEM, "out of memory");
    rl__mf_collapse(tp->data, tw1->data, tw2->data, M, H, D, mf->v);
    // Every model's vector is checked, not only the default pair's: any known pair may be asked.
    for (size_t i = 0; i < (size_t)M * D; i++)
        if (!isfinite(mf->v[i]))
            return rl__errf(errbuf, RL_EFORMAT, "%s: parameters are not finite",
                            rl_safetensors_path(st));
    for (int d = 0; d < D; d++) {
        mf->u_def[d] =
            mf->v[(size_t)r->def_pair.strong * D + d] - mf->v[(size_t)r->def_pair.weak * D + d];
        if (!isfinite(mf->u_def[d]))
            return rl__errf(errbuf, RL_EFORMAT, "%s: parameters are not finite",
                            rl_safetensors_path(st));
    }
    return RL_OK;
}

static const char *const per_model[] = {"P.weight", NULL};

const struct rl_router_kind rl__router_kind_mf = {
    .name = "mf",
    .ranks_models = true,
    .needs_encoder = true,
    .shipped = true,
    .load = mf_load,
    .score = mf_score,
    .free = mf_free,
    .features = true,
    .train = rl__train_mf,
    .per_model = per_model,
};
