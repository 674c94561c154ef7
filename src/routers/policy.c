// Qualities of many models from a router's pair scores, and the policies that choose among them
// (rl/policy.h).
#include <limits.h>
#include <math.h>
#include <string.h>

#include "rl/policy.h"
#include "routers/router_impl.h"

bool rl_router_kind_ranks_models(const struct rl_router_kind *k) {
    return k && k->ranks_models;
}

int rl_router_qualities(const struct rl_router *r, const int *models, size_t n, int ref,
                        const struct rl_prompt *prompt, double *quality) {
    if (!r->kind->ranks_models)
        return RL_EUNSUPPORTED;
    if (n == 0 || ref < 0 || ref >= r->n_models)
        return RL_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (models[i] < 0 || models[i] >= r->n_models)
            return RL_EINVAL;
    // Scored into a copy first, so that an error leaves quality as it was.
    double q[64];
    for (size_t done = 0; done < n; done += RL_COUNTOF(q)) {
        size_t m = n - done < RL_COUNTOF(q) ? n - done : RL_COUNTOF(q);
        for (size_t i = 0; i < m; i++) {
            struct rl_router_pair pair = {models[done + i], ref};
            if (pair.strong == ref) {
                q[i] = 0.5;
                continue;
            }
            int rc = rl_router_score_prompt(r, &pair, prompt, &q[i]);
            if (rc != RL_OK)
                return rc;
        }
        memcpy(quality + done, q, m * sizeof *q);
    }
    return RL_OK;
}

int rl_policy_kind_parse(const char *name, enum rl_policy_kind *kind) {
    if (strcmp(name, "cheapest") == 0)
        *kind = RL_POLICY_CHEAPEST;
    else if (strcmp(name, "utility") == 0)
        *kind = RL_POLICY_UTILITY;
    else
        return RL_EINVAL;
    return RL_OK;
}

const char *rl_policy_kind_name(enum rl_policy_kind kind) {
    return kind == RL_POLICY_CHEAPEST ? "cheapest" : "utility";
}

double rl_policy_request_cost(double price_in, double price_out, double prompt_tokens,
                              double output_tokens) {
    return (price_in * prompt_tokens + price_out * output_tokens) / 1e6;
}

// Whether candidate i beats the best so far b: higher quality, then lower cost.
static bool better(const double *quality, const double *cost, size_t i, size_t b) {
    if (quality[i] != quality[b])
        return quality[i] > quality[b];
    return cost[i] < cost[b];
}

int rl_policy_check(const struct rl_policy *p) {
    double max = p->kind == RL_POLICY_CHEAPEST ? 1 : RL_POLICY_LAMBDA_MAX;
    bool known = p->kind == RL_POLICY_CHEAPEST || p->kind == RL_POLICY_UTILITY;
    return known && isfinite(p->param) && p->param >= 0 && p->param <= max ? RL_OK : RL_EINVAL;
}

int rl_policy_choose(const struct rl_policy *p, const double *quality, const double *cost,
                     size_t n) {
    if (n == 0 || n > (size_t)INT_MAX || rl_policy_check(p) != RL_OK)
        return RL_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(quality[i]) || !isfinite(cost[i]))
            return RL_EINVAL;
    size_t best = 0;
    if (p->kind == RL_POLICY_CHEAPEST) {
        for (size_t i = 1; i < n; i++)
            if (better(quality, cost, i, best))
                best = i;
        double floor = quality[best] - p->param;
        size_t pick = best;
        for (size_t i = 0; i < n; i++) {
            if (quality[i] < floor)
                continue;
            if (cost[i] < cost[pick] || (cost[i] == cost[pick] && better(quality, cost, i, pick)))
                pick = i;
        }
        return (int)pick;
    }
    double best_u = quality[0] - p->param * cost[0];
    for (size_t i = 1; i < n; i++) {
        double u = quality[i] - p->param * cost[i];
        if (u > best_u || (u == best_u && better(quality, cost, i, best))) {
            best = i;
            best_u = u;
        }
    }
    return (int)best;
}

// ----------------------------------------------------------------------------
// Calibration

int rl_policy_sample_cost(const struct rl_policy *p, const double *quality, const double *cost,
                          size_t n, size_t m, double *avg_cost, size_t *counts) {
    if (n == 0)
        return RL_EINVAL;
    if (counts)
        memset(counts, 0, m * sizeof *counts);
    double total = 0;
    for (size_t i = 0; i < n; i++) {
        int pick = rl_policy_choose(p, quality + i * m, cost + i * m, m);
        if (pick < 0)
            return pick;
        total += cost[i * m + (size_t)pick];
        if (counts)
            counts[pick]++;
    }
    *avg_cost = total / (double)n;
    return RL_OK;
}

int rl_policy_sample_share(const struct rl_policy *p, const double *quality, const double *cost,
                           size_t n, size_t m, size_t model, double *share) {
    if (n == 0 || model >= m)
        return RL_EINVAL;
    size_t dear = 0;
    for (size_t i = 0; i < n; i++) {
        int pick = rl_policy_choose(p, quality + i * m, cost + i * m, m);
        if (pick < 0)
            return pick;
        dear += cost[i * m + (size_t)pick] >= cost[i * m + model];
    }
    *share = (double)dear / (double)n;
    return RL_OK;
}

// What a calibration holds within its limit: the sample's mean cost (model < 0), or its share of
// prompts that go to `model` or a dearer candidate. Both never rise with the parameter.
struct budget {
    long model;
    double limit;
};

// Whether the policy at param keeps the sample within the budget; rc gets an error.
static bool within(enum rl_policy_kind kind, double param, const double *quality,
                   const double *cost, size_t n, size_t m, const struct budget *b, int *rc) {
    struct rl_policy p = {kind, param};
    double v = 0;
    *rc = b->model < 0 ? rl_policy_sample_cost(&p, quality, cost, n, m, &v, NULL)
                       : rl_policy_sample_share(&p, quality, cost, n, m, (size_t)b->model, &v);
    return *rc == RL_OK && v <= b->limit;
}

static int calibrate(enum rl_policy_kind kind, const double *quality, const double *cost, size_t n,
                     size_t m, const struct budget *b, double *param) {
    int rc;
    double lo = 0, hi = kind == RL_POLICY_CHEAPEST ? 1 : RL_POLICY_LAMBDA_MAX;
    if (within(kind, lo, quality, cost, n, m, b, &rc)) {
        *param = lo;
        return RL_OK;
    }
    if (rc != RL_OK)
        return rc;
    if (!within(kind, hi, quality, cost, n, m, b, &rc)) {
        *param = hi;
        return rc != RL_OK ? rc : RL_ETOOBIG;
    }
    // The average cost is a step function that never rises with the parameter: bisect to the
    // step (λ on a log scale, as its useful values span many decades).
    if (kind == RL_POLICY_UTILITY)
        lo = 1e-12;
    for (int it = 0; it < 200 && hi - lo > 1e-12 * hi; it++) {
        double mid = kind == RL_POLICY_UTILITY ? sqrt(lo * hi) : 0.5 * (lo + hi);
        if (within(kind, mid, quality, cost, n, m, b, &rc))
            hi = mid;
        else if (rc != RL_OK)
            return rc;
        else
            lo = mid;
    }
    *param = hi;
    return RL_OK;
}

int rl_policy_calibrate(enum rl_policy_kind kind, const double *quality, const double *cost,
                        size_t n, size_t m, double target_cost, double *param) {
    if (!isfinite(target_cost))
        return RL_EINVAL;
    const struct budget b = {-1, target_cost};
    return calibrate(kind, quality, cost, n, m, &b, param);
}

int rl_policy_calibrate_share(enum rl_policy_kind kind, const double *quality, const double *cost,
                              size_t n, size_t m, size_t model, double target_share,
                              double *param) {
    if (!(target_share >= 0 && target_share <= 1) || model >= m)
        return RL_EINVAL;
    const struct budget b = {(long)model, target_share};
    return calibrate(kind, quality, cost, n, m, &b, param);
}
