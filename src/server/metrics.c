// Prometheus metrics for the proxy, rendered by hand in the text exposition format 0.0.4. Every
// counter lives in plain memory owned by the loop thread, so updates are increments with no
// locks or atomics. Labels are model and router names, which srv_config_finish restricts to a
// safe alphabet, so they need no escaping. It does not keep per-client or per-key series.
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/server.h"

static const double routing_le[] = {1e-5, 2.5e-5, 5e-5,  1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3,
                                    5e-3, 0.01,   0.025, 0.05, 0.1,    0.25, 1};
static const double p_strong_le[] = {0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1};
static const double upstream_le[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                     0.5,   1,      2.5,   5,    10,    30,   60,  120};
#define HIST_MAX 16

static const char *const outcomes[] = {"ok",        "http_4xx",      "http_429", "http_5xx",
                                       "http_auth", "http_redirect", "timeout",  "connect_error",
                                       "malformed", "too_large",     "error",    "cancelled"};
#define N_OUTCOMES (sizeof outcomes / sizeof outcomes[0])

struct hist {
    uint64_t counts[HIST_MAX]; // per bucket (not cumulative); +Inf is n
    uint64_t n;
    double sum;
};

struct req_count {
    const char *endpoint; // the path, a string of http.c's endpoint table
    int router, model, status;
    uint64_t n;
};

struct srv_metrics {
    size_t n_models, n_routers, n_routes;
    const char **models;                // borrowed from the config
    const struct srv_model *cfg;        // prices, borrowed from the config
    const struct srv_route_cfg *routes; // borrowed from the config
    char **routers;                     // copies
    struct req_count *reqs;
    size_t n_reqs, cap_reqs;
    struct hist *routing;             // [router]
    struct hist *p_strong;            // [router]: pair decisions
    struct hist *upstream;            // [model]
    uint64_t *routed;                 // [router][model]
    uint64_t *attempts;               // [model][outcome]
    uint64_t *fallbacks;              // [from][to]
    bool *may_fall_back;              // [from][to]: the configuration allows it
    uint64_t *route_picks;            // [route][model]
    uint64_t *cooldowns;              // [model]
    uint64_t *stream_errors;          // [model]
    uint64_t *tokens_in, *tokens_out; // [model]
    double *cost;                     // [model]
    double cost_strong, saving;
    long inflight;
};

// Which models a failed one may fall back to, by the configuration: the routed pair both ways
// (routing.fallback), each model's fallback and context fallback chains, and each route's
// candidates to its chain.
static void mark_fallbacks(struct srv_metrics *m, const struct srv_config *c) {
    size_t nm = c->n_models;
    int strong = srv_config_model_index(c, c->strong), weak = srv_config_model_index(c, c->weak);
    if (c->fallback && strong >= 0 && weak >= 0 && strong != weak) {
        m->may_fall_back[(size_t)strong * nm + (size_t)weak] = true;
        m->may_fall_back[(size_t)weak * nm + (size_t)strong] = true;
    }
    for (size_t i = 0; i < nm; i++) {
        const struct srv_model *md = &c->models[i];
        for (size_t j = 0; j < md->chain.n; j++)
            m->may_fall_back[i * nm + (size_t)md->chain.items[j]] = true;
        for (size_t j = 0; j < md->context_chain.n; j++)
            m->may_fall_back[i * nm + (size_t)md->context_chain.items[j]] = true;
    }
    for (size_t r = 0; r < c->n_routes; r++) {
        const struct srv_route_cfg *rc = &c->routes[r];
        for (size_t i = 0; i < rc->n_candidates; i++)
            for (size_t j = 0; j < rc->chain.n; j++)
                if (rc->chain.items[j] != rc->models[i])
                    m->may_fall_back[(size_t)rc->models[i] * nm + (size_t)rc->chain.items[j]] =
                        true;
    }
}

struct srv_metrics *srv_metrics_new(const struct srv_config *c, const char *const *router_names,
                                    size_t n_routers) {
    struct srv_metrics *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    size_t nm = c->n_models, nr = n_routers;
    m->n_models = nm;
    m->n_routers = nr;
    m->cfg = c->models;
    m->routes = c->routes;
    m->n_routes = c->n_routes;
    m->models = calloc(nm, sizeof *m->models);
    m->routers = calloc(nr + 1, sizeof *m->routers);
    m->routing = calloc(nr + 1, sizeof *m->routing);
    m->p_strong = calloc(nr + 1, sizeof *m->p_strong);
    m->upstream = calloc(nm, sizeof *m->upstream);
    m->routed = calloc((nr + 1) * nm, sizeof *m->routed);
    m->attempts = calloc(nm * N_OUTCOMES, sizeof *m->attempts);
    m->fallbacks = calloc(nm * nm, sizeof *m->fallbacks);
    m->may_fall_back = calloc(nm * nm, sizeof *m->may_fall_back);
    m->route_picks = calloc((c->n_routes + 1) * nm, sizeof *m->route_picks);
    m->cooldowns = calloc(nm, sizeof *m->cooldowns);
    m->stream_errors = calloc(nm, sizeof *m->stream_errors);
    m->tokens_in = calloc(nm, sizeof *m->tokens_in);
    m->tokens_out = calloc(nm, sizeof *m->tokens_out);
    m->cost = calloc(nm, sizeof *m->cost);
    bool ok = m->models && m->routers && m->routing && m->p_strong && m->upstream && m->routed &&
              m->attempts && m->fallbacks && m->may_fall_back && m->route_picks && m->cooldowns &&
              m->stream_errors && m->tokens_in && m->tokens_out && m->cost;
    for (size_t i = 0; ok && i < nm; i++)
        m->models[i] = c->models[i].name;
    for (size_t i = 0; ok && i < nr; i++)
        ok = (m->routers[i] = strdup(router_names[i])) != NULL;
    if (!ok) {
        srv_metrics_free(m);
        return NULL;
    }
    mark_fallbacks(m, c);
    return m;
}

void srv_metrics_free(struct srv_metrics *m) {
    if (!m)
        return;
    for (size_t i = 0; m->routers && i < m->n_routers; i++)
        free(m->routers[i]);
    free(m->routers);
    free(m->models);
    free(m->reqs);
    free(m->routing);
    free(m->p_strong);
    free(m->upstream);
    free(m->routed);
    free(m->attempts);
    free(m->fallbacks);
    free(m->may_fall_back);
    free(m->route_picks);
    free(m->cooldowns);
    free(m->stream_errors);
    free(m->tokens_in);
    free(m->tokens_out);
    free(m->cost);
    free(m);
}

static void hist_add(struct hist *h, const double *le, size_t n_le, double v) {
    size_t i = 0;
    while (i < n_le && v > le[i])
        i++;
    if (i < n_le)
        h->counts[i]++;
    h->n++;
    h->sum += v;
}

static bool model_ok(const struct srv_metrics *m, int model) {
    return model >= 0 && (size_t)model < m->n_models;
}

// Count n requests of (endpoint, router, model, status).
static void reqs_add(struct srv_metrics *m, const char *endpoint, int router, int model, int status,
                     uint64_t n) {
    for (size_t i = 0; i < m->n_reqs; i++) {
        struct req_count *r = &m->reqs[i];
        if (r->router == router && r->model == model && r->status == status &&
            strcmp(r->endpoint, endpoint) == 0) {
            r->n += n;
            return;
        }
    }
    if (m->n_reqs == m->cap_reqs) {
        size_t cap = m->cap_reqs ? 2 * m->cap_reqs : 16;
        struct req_count *grown = realloc(m->reqs, cap * sizeof *grown);
        if (!grown)
            return; // a lost sample is better than a failed request
        m->reqs = grown;
        m->cap_reqs = cap;
    }
    m->reqs[m->n_reqs++] = (struct req_count){endpoint, router, model, status, n};
}

void srv_metrics_request(struct srv_metrics *m, const char *endpoint, int router, int model,
                         int status) {
    reqs_add(m, endpoint, router, model, status, 1);
}

void srv_metrics_routing(struct srv_metrics *m, int router, int model, double seconds) {
    if (router < 0 || (size_t)router >= m->n_routers || !model_ok(m, model))
        return;
    hist_add(&m->routing[router], routing_le, RL_COUNTOF(routing_le), seconds);
    m->routed[(size_t)router * m->n_models + (size_t)model]++;
}

void srv_metrics_p_strong(struct srv_metrics *m, int router, double p_strong) {
    if (router >= 0 && (size_t)router < m->n_routers)
        hist_add(&m->p_strong[router], p_strong_le, RL_COUNTOF(p_strong_le), p_strong);
}

void srv_metrics_attempt(struct srv_metrics *m, int model, const char *outcome, double seconds) {
    if (!model_ok(m, model))
        return;
    size_t k = 0;
    while (k < N_OUTCOMES - 1 && strcmp(outcomes[k], outcome) != 0)
        k++;
    m->attempts[(size_t)model * N_OUTCOMES + k]++;
    hist_add(&m->upstream[model], upstream_le, RL_COUNTOF(upstream_le), seconds);
}

void srv_metrics_fallback(struct srv_metrics *m, int from, int to) {
    if (model_ok(m, from) && model_ok(m, to))
        m->fallbacks[(size_t)from * m->n_models + (size_t)to]++;
}

void srv_metrics_route(struct srv_metrics *m, int route, int model) {
    if (route >= 0 && (size_t)route < m->n_routes && model_ok(m, model))
        m->route_picks[(size_t)route * m->n_models + (size_t)model]++;
}

void srv_metrics_cooldown(struct srv_metrics *m, int model) {
    if (model_ok(m, model))
        m->cooldowns[model]++;
}

void srv_metrics_stream_error(struct srv_metrics *m, int model) {
    if (model_ok(m, model))
        m->stream_errors[model]++;
}

// Prices are per million tokens (RouteLLM Appendix D prices the same way).
static double cost_usd(const struct srv_model *a, long prompt_tokens, long completion_tokens) {
    return ((double)prompt_tokens * a->price_in + (double)completion_tokens * a->price_out) / 1e6;
}

void srv_metrics_usage(struct srv_metrics *m, int model, int strong, long prompt_tokens,
                       long completion_tokens) {
    if (!model_ok(m, model))
        return;
    m->tokens_in[model] += (uint64_t)prompt_tokens;
    m->tokens_out[model] += (uint64_t)completion_tokens;
    double cost = cost_usd(&m->cfg[model], prompt_tokens, completion_tokens);
    double if_strong =
        model_ok(m, strong) ? cost_usd(&m->cfg[strong], prompt_tokens, completion_tokens) : cost;
    m->cost[model] += cost;
    m->cost_strong += if_strong;
    m->saving += if_strong - cost;
}

void srv_metrics_inflight(struct srv_metrics *m, int delta) {
    m->inflight += delta;
}

// ----------------------------------------------------------------------------
// Rendering

static int header(struct rl_buf *b, const char *name, const char *type, const char *help) {
    return rl_buf_appendf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

// A family with one unlabelled sample, whose value fmt formats.
static int single(struct rl_buf *b, const char *name, const char *type, const char *help,
                  const char *fmt, ...) RL_PRINTF(5, 6);
static int single(struct rl_buf *b, const char *name, const char *type, const char *help,
                  const char *fmt, ...) {
    char value[64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(value, sizeof value, fmt, ap);
    va_end(ap);
    int rc = header(b, name, type, help);
    if (rc == RL_OK)
        rc = rl_buf_appendf(b, "%s %s\n", name, value);
    return rc;
}

// A counter family over pairs of labels: counts[i * n_b + j] is the sample of la = a[i] and
// lb = bv[j].
static int pair_counts(struct rl_buf *b, const char *name, const char *help, const char *la,
                       const char *const *a, size_t n_a, const char *lb, const char *const *bv,
                       size_t n_b, const uint64_t *counts) {
    int rc = header(b, name, "counter", help);
    for (size_t i = 0; rc == RL_OK && i < n_a; i++)
        for (size_t j = 0; rc == RL_OK && j < n_b; j++)
            rc = rl_buf_appendf(b, "%s{%s=\"%s\",%s=\"%s\"} %llu\n", name, la, a[i], lb, bv[j],
                                (unsigned long long)counts[i * n_b + j]);
    return rc;
}

static int hist_render(struct rl_buf *b, const char *name, const char *label, const char *value,
                       const struct hist *h, const double *le, size_t n_le) {
    uint64_t cum = 0;
    int rc = RL_OK;
    for (size_t i = 0; i < n_le && rc == RL_OK; i++) {
        cum += h->counts[i];
        rc = rl_buf_appendf(b, "%s_bucket{%s=\"%s\",le=\"%g\"} %llu\n", name, label, value, le[i],
                            (unsigned long long)cum);
    }
    if (rc == RL_OK)
        rc = rl_buf_appendf(b,
                            "%s_bucket{%s=\"%s\",le=\"+Inf\"} %llu\n%s_sum{%s=\"%s\"} %.9g\n"
                            "%s_count{%s=\"%s\"} %llu\n",
                            name, label, value, (unsigned long long)h->n, name, label, value,
                            h->sum, name, label, value, (unsigned long long)h->n);
    return rc;
}

static const char *router_label(const struct srv_metrics *m, int router) {
    return router >= 0 && (size_t)router < m->n_routers ? m->routers[router] : "none";
}

int srv_metrics_render(const struct srv_metrics *m, const struct srv_embed_stats *emb,
                       struct rl_buf *b) {
    size_t nm = m->n_models;
    int rc = header(b, "routellm_requests_total", "counter",
                    "Requests answered, by endpoint, router (none: an upstream model named "
                    "directly, or no routing), model and HTTP status.");
    for (size_t i = 0; rc == RL_OK && i < m->n_reqs; i++) {
        const struct req_count *r = &m->reqs[i];
        rc = rl_buf_appendf(b,
                            "routellm_requests_total{endpoint=\"%s\",router=\"%s\",model=\"%s\","
                            "status=\"%d\"} %llu\n",
                            r->endpoint, router_label(m, r->router),
                            model_ok(m, r->model) ? m->models[r->model] : "none", r->status,
                            (unsigned long long)r->n);
    }
    if (rc == RL_OK)
        rc = pair_counts(
            b, "routellm_routed_total", "Routing decisions, by router and chosen model.", "router",
            (const char *const *)m->routers, m->n_routers, "model", m->models, nm, m->routed);
    if (rc == RL_OK)
        rc = header(b, "routellm_routing_seconds", "histogram",
                    "Time to decide a route, embedding included.");
    for (size_t r = 0; rc == RL_OK && r < m->n_routers; r++)
        rc = hist_render(b, "routellm_routing_seconds", "router", m->routers[r], &m->routing[r],
                         routing_le, RL_COUNTOF(routing_le));
    if (rc == RL_OK)
        rc = header(b, "routellm_p_strong", "histogram",
                    "p_strong of the pair decisions (router-<name>-<threshold>), by router.");
    for (size_t r = 0; rc == RL_OK && r < m->n_routers; r++)
        rc = hist_render(b, "routellm_p_strong", "router", m->routers[r], &m->p_strong[r],
                         p_strong_le, RL_COUNTOF(p_strong_le));
    if (rc == RL_OK)
        rc = header(b, "routellm_upstream_seconds", "histogram",
                    "Duration of upstream attempts, from start to the last byte.");
    for (size_t i = 0; rc == RL_OK && i < nm; i++)
        rc = hist_render(b, "routellm_upstream_seconds", "model", m->models[i], &m->upstream[i],
                         upstream_le, RL_COUNTOF(upstream_le));
    if (rc == RL_OK)
        rc = header(b, "routellm_upstream_attempts_total", "counter",
                    "Upstream attempts, by model and outcome (retries and fallbacks included).");
    for (size_t i = 0; rc == RL_OK && i < nm; i++)
        for (size_t k = 0; rc == RL_OK && k < N_OUTCOMES; k++)
            if (m->attempts[i * N_OUTCOMES + k] || k == 0)
                rc = rl_buf_appendf(
                    b, "routellm_upstream_attempts_total{model=\"%s\",outcome=\"%s\"} %llu\n",
                    m->models[i], outcomes[k], (unsigned long long)m->attempts[i * N_OUTCOMES + k]);
    // Only the pairs that can fall back by the configuration are shown, and any other pair that
    // ever did: 64 models would otherwise give 4,032 lines of zeros.
    if (rc == RL_OK)
        rc = header(b, "routellm_fallbacks_total", "counter",
                    "Requests moved to the other model after their model failed.");
    for (size_t i = 0; rc == RL_OK && i < nm; i++)
        for (size_t j = 0; rc == RL_OK && j < nm; j++) {
            uint64_t n = m->fallbacks[i * nm + j];
            if (i != j && (n || m->may_fall_back[i * nm + j]))
                rc = rl_buf_appendf(b, "routellm_fallbacks_total{from=\"%s\",to=\"%s\"} %llu\n",
                                    m->models[i], m->models[j], (unsigned long long)n);
        }
    if (rc == RL_OK && m->n_routes)
        rc = header(b, "routellm_route_requests_total", "counter",
                    "Route decisions, by route and the candidate chosen.");
    for (size_t r = 0; rc == RL_OK && r < m->n_routes; r++)
        for (size_t i = 0; rc == RL_OK && i < m->routes[r].n_candidates; i++) {
            int model = m->routes[r].models[i];
            rc =
                rl_buf_appendf(b, "routellm_route_requests_total{route=\"%s\",model=\"%s\"} %llu\n",
                               m->routes[r].name, m->models[model],
                               (unsigned long long)m->route_picks[r * nm + (size_t)model]);
        }
    if (rc == RL_OK)
        rc = header(b, "routellm_upstream_cooldowns_total", "counter",
                    "Times a model was put in cooldown after cooldown_errors failed requests.");
    for (size_t i = 0; rc == RL_OK && i < nm; i++)
        rc = rl_buf_appendf(b, "routellm_upstream_cooldowns_total{model=\"%s\"} %llu\n",
                            m->models[i], (unsigned long long)m->cooldowns[i]);
    if (rc == RL_OK)
        rc = header(b, "routellm_stream_errors_total", "counter",
                    "Streams that ended with an error event after they had begun.");
    for (size_t i = 0; rc == RL_OK && i < nm; i++)
        rc = rl_buf_appendf(b, "routellm_stream_errors_total{model=\"%s\"} %llu\n", m->models[i],
                            (unsigned long long)m->stream_errors[i]);
    if (rc == RL_OK)
        rc = header(b, "routellm_tokens_total", "counter",
                    "Tokens reported by upstream usage objects, by model and type.");
    for (size_t i = 0; rc == RL_OK && i < nm; i++)
        rc = rl_buf_appendf(b,
                            "routellm_tokens_total{model=\"%s\",type=\"prompt\"} %llu\n"
                            "routellm_tokens_total{model=\"%s\",type=\"completion\"} %llu\n",
                            m->models[i], (unsigned long long)m->tokens_in[i], m->models[i],
                            (unsigned long long)m->tokens_out[i]);
    if (rc == RL_OK)
        rc = header(b, "routellm_cost_usd_total", "counter",
                    "Estimated spend from token usage and the configured prices, by model.");
    for (size_t i = 0; rc == RL_OK && i < nm; i++)
        rc = rl_buf_appendf(b, "routellm_cost_usd_total{model=\"%s\"} %.9g\n", m->models[i],
                            m->cost[i]);
    if (rc == RL_OK)
        rc = single(b, "routellm_cost_always_strong_usd_total", "counter",
                    "Estimated spend had every answered request gone to the strong model.", "%.9g",
                    m->cost_strong);
    if (rc == RL_OK)
        rc = single(b, "routellm_saving_usd_total", "counter",
                    "Estimated saving against always-strong (always-strong minus actual).", "%.9g",
                    m->saving);
    if (rc == RL_OK)
        rc = single(b, "routellm_in_flight_requests", "gauge", "Requests being handled now.", "%ld",
                    m->inflight);
    if (rc == RL_OK && emb) {
        rc = header(b, "routellm_embedding_cache_total", "counter",
                    "Embedding look-ups, by result (hit includes joining one in progress).");
        if (rc == RL_OK)
            rc = rl_buf_appendf(b,
                                "routellm_embedding_cache_total{result=\"hit\"} %llu\n"
                                "routellm_embedding_cache_total{result=\"miss\"} %llu\n",
                                (unsigned long long)emb->hits, (unsigned long long)emb->misses);
        if (rc == RL_OK)
            rc = single(b, "routellm_encoder_batches_total", "counter",
                        "Encoder passes; prompts_total / batches_total is the mean batch size.",
                        "%llu", (unsigned long long)emb->batches);
        if (rc == RL_OK)
            rc = single(b, "routellm_encoder_prompts_total", "counter", "Prompts embedded.", "%llu",
                        (unsigned long long)emb->prompts);
        if (rc == RL_OK)
            rc = single(b, "routellm_encoder_errors_total", "counter",
                        "Prompts whose encoder pass failed.", "%llu",
                        (unsigned long long)emb->errors);
    }
    return rc;
}

// Index of name in names[0..n), or -1.
static int name_index(const char *const *names, size_t n, const char *name) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0)
            return (int)i;
    return -1;
}

void srv_metrics_carry(struct srv_metrics *to, const struct srv_metrics *from) {
    size_t nm = to->n_models, fm = from->n_models;
    int model_from[SRV_MAX_MODELS], router_from[SRV_MAX_ROUTERS + 1];
    for (size_t i = 0; i < nm; i++)
        model_from[i] = name_index(from->models, fm, to->models[i]);
    for (size_t r = 0; r < to->n_routers; r++)
        router_from[r] =
            name_index((const char *const *)from->routers, from->n_routers, to->routers[r]);
    for (size_t i = 0; i < nm; i++) {
        int f = model_from[i];
        if (f < 0)
            continue;
        to->upstream[i] = from->upstream[f];
        memcpy(&to->attempts[i * N_OUTCOMES], &from->attempts[(size_t)f * N_OUTCOMES],
               N_OUTCOMES * sizeof *to->attempts);
        to->stream_errors[i] = from->stream_errors[f];
        to->cooldowns[i] = from->cooldowns[f];
        to->tokens_in[i] = from->tokens_in[f];
        to->tokens_out[i] = from->tokens_out[f];
        to->cost[i] = from->cost[f];
        for (size_t j = 0; j < nm; j++)
            if (model_from[j] >= 0)
                to->fallbacks[i * nm + j] = from->fallbacks[(size_t)f * fm + (size_t)model_from[j]];
    }
    for (size_t r = 0; r < to->n_routers; r++) {
        int f = router_from[r];
        if (f < 0)
            continue;
        to->routing[r] = from->routing[f];
        to->p_strong[r] = from->p_strong[f];
        for (size_t i = 0; i < nm; i++)
            if (model_from[i] >= 0)
                to->routed[r * nm + i] = from->routed[(size_t)f * fm + (size_t)model_from[i]];
    }
    for (size_t r = 0; r < to->n_routes; r++)
        for (size_t k = 0; k < from->n_routes; k++) {
            if (strcmp(to->routes[r].name, from->routes[k].name) != 0)
                continue;
            for (size_t i = 0; i < nm; i++)
                if (model_from[i] >= 0)
                    to->route_picks[r * nm + i] = from->route_picks[k * fm + (size_t)model_from[i]];
        }
    // Requests by (router, model, status): carried where both names still exist (router -1,
    // "none", always does).
    for (size_t k = 0; k < from->n_reqs; k++) {
        const struct req_count *c = &from->reqs[k];
        int router = c->router < 0 ? -1 : -2, model = c->model < 0 ? -1 : -2;
        for (size_t r = 0; router == -2 && r < to->n_routers; r++)
            if (router_from[r] == c->router)
                router = (int)r;
        for (size_t i = 0; model == -2 && i < nm; i++)
            if (model_from[i] == c->model)
                model = (int)i;
        if (router == -2 || model == -2)
            continue;
        reqs_add(to, c->endpoint, router, model, c->status, c->n);
    }
    to->cost_strong = from->cost_strong;
    to->saving = from->saving;
    to->inflight = from->inflight;
}
