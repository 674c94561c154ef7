// The item-response-theory router: from a prompt's input x (its embedding, its prompt features,
// or both) it predicts a discrimination a = softplus(w_a·x + c_a) and a difficulty b = w_b·x + c_b,
// and each model's chance of a good answer P_m = σ(a (θ_m − b)) from its ability θ_m (IRT-Router,
// 2025; the 2PL model). For a pair, p_strong = 1/2 + (P_s − P_w)/2: the probability that the
// strong model wins when the two answer independently and a tie counts one half. Trained on
// per-model scores of many models at once (src/train/irt_train.c). The file holds
//   irt.theta (M)  abilities      irt.w_a, irt.w_b (D)  weights on the input
//   irt.bias  (2)  c_a, c_b
#include <math.h>
#include <stdlib.h>

#include "core/core.h"
#include "core/safetensors.h"
#include "routers/router_impl.h"
#include "train/train_impl.h"

struct irt {
    int dim;
    const float *theta, *wa, *wb, *bias; // point into the same allocation
};

static double sigmoid(double x) {
    return x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x));
}

static double softplus(double x) {
    return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x));
}

static int irt_score(const struct rl_router *r, const struct rl_router_pair *pair,
                     const struct rl_prompt *prompt, const float *x, double *p_strong) {
    (void)prompt;
    const struct irt *m = r->impl;
    double za = m->bias[0], zb = m->bias[1];
    for (int k = 0; k < m->dim; k++) {
        za += (double)m->wa[k] * x[k];
        zb += (double)m->wb[k] * x[k];
    }
    double a = softplus(za);
    double ps = sigmoid(a * (m->theta[pair->strong] - zb));
    double pw = sigmoid(a * (m->theta[pair->weak] - zb));
    *p_strong = 0.5 + 0.5 * (ps - pw);
    return RL_OK;
}

static int irt_load(struct rl_router *r, const struct rl_safetensors *st, char *errbuf) {
    const char *path = rl_safetensors_path(st);
    const int D = rl__router_input_dim(r);
    if (D == 0)
        return rl__errf(errbuf, RL_EFORMAT, "%s: irt needs an encoder or prompt features", path);
    const struct rl_tensor *t[4];
    int64_t s_theta[1] = {r->n_models}, s_w[1] = {D}, s_bias[1] = {2};
    int rc = rl_safetensors_expect(st, "irt.theta", RL_DTYPE_F32, 1, s_theta, &t[0], errbuf);
    if (rc == RL_OK)
        rc = rl_safetensors_expect(st, "irt.w_a", RL_DTYPE_F32, 1, s_w, &t[1], errbuf);
    if (rc == RL_OK)
        rc = rl_safetensors_expect(st, "irt.w_b", RL_DTYPE_F32, 1, s_w, &t[2], errbuf);
    if (rc == RL_OK)
        rc = rl_safetensors_expect(st, "irt.bias", RL_DTYPE_F32, 1, s_bias, &t[3], errbuf);
    if (rc != RL_OK)
        return rc;
    void *dst[4];
    struct irt *m = rl__router_impl_new(sizeof *m, t, 4, dst);
    if (!m)
        return rl__errf(errbuf, RL_ENOMEM, "out of memory");
    r->impl = m;
    m->dim = D;
    m->theta = dst[0];
    m->wa = dst[1];
    m->wb = dst[2];
    m->bias = dst[3];
    for (int i = 0; i < 4; i++)
        for (size_t k = 0; k < t[i]->nbytes / sizeof(float); k++)
            if (!isfinite(((const float *)dst[i])[k]))
                return rl__errf(errbuf, RL_EFORMAT, "%s: %s is not finite", path, t[i]->name);
    return RL_OK;
}

static const char *const per_model[] = {"irt.theta", NULL};

const struct rl_router_kind rl__router_kind_irt = {
    .name = "irt",
    .ranks_models = true,
    .shipped = true,
    .features = true,
    .cells = true,
    .load = irt_load,
    .score = irt_score,
    .free = free,
    .train = rl__train_irt,
    .train_defaults = rl__train_irt_defaults,
    .per_model = per_model,
};
