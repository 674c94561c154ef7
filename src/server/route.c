// Routing: the body of a chat, completions or route request is parsed, and its `model` names
// one of:
//   - an upstream: the request goes straight there;
//   - an alias router-<router>-<threshold>: the router scores the pair routing.strong/weak;
//   - a route of the routes: section, as <route> or <route>:<policy>-<parameter> (a policy of
//     include/rl/policy.h, e.g. smart:cheapest-0.1 or smart:utility-500); a body member
//     "routellm": {"policy", "tolerance", "lambda"} overrides the policy too, and is removed
//     before the body goes upstream. The route's router gives each candidate a quality, the
//     models' prices an expected cost, and the policy picks.
// Routers score the routing prompt: the last user message of a chat body, the prompt of a
// completions body (POST /v1/route takes either). The random router scores inline; the others need
// the prompt's embedding, which comes from the encoder workers (embed.c) while the request waits,
// suspended. The decision then goes to the attempts (attempt.c), or back to the client for POST
// /v1/route.
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "server/server_impl.h"

// POST /v1/route for a route: the pick, and every candidate's quality and expected cost.
static void answer_route(struct srv_request *q, const double *quality, const double *cost) {
    const struct srv_routing *g = &q->routing;
    const struct srv_route_cfg *rc = q->gen->routes[g->route].cfg;
    const struct srv_config *c = q->gen->c;
    json_t *scores = json_object(), *costs = json_object();
    for (size_t i = 0; scores && costs && i < rc->n_candidates; i++) {
        const char *name = c->models[rc->models[i]].name;
        json_object_set_new(scores, name, json_real(quality[i]));
        json_object_set_new(costs, name, json_real(cost[i]));
    }
    const struct srv_route *rt = &q->gen->routes[g->route];
    const struct rl_router *r = q->gen->routers[g->router].r;
    json_t *j =
        json_pack("{s:s,s:s,s:s,s:s,s:f,s:s,s:o*,s:o*}", "route", rc->name, "model",
                  c->models[q->model].name, "router", q->gen->routers[g->router].name, "policy",
                  rl_policy_kind_name(g->policy.kind), "param", g->policy.param, "reference",
                  rl_router_model(r, (size_t)rt->ref), "scores", scores, "costs", costs);
    srv__answer_value(q, j);
}

// A route's decision: each candidate's quality from the router, its expected cost from its
// prices (the prompt's tokens estimated from its bytes, as `calibrate` does), the policy's pick.
// Returns false when it answered an error.
static bool route_decide(struct srv_request *q, const struct rl_prompt *prompt, double *quality,
                         double *cost) {
    struct srv_routing *g = &q->routing;
    const struct srv_route *rt = &q->gen->routes[g->route];
    const struct srv_route_cfg *rc = rt->cfg;
    if (rl_router_qualities(q->gen->routers[g->router].r, rt->router_models, rc->n_candidates,
                            rt->ref, prompt, quality) != RL_OK) {
        srv__answer_error(q, 500, "the router failed to score the prompt", "server_error", NULL,
                          NULL);
        return false;
    }
    double tokens = ceil((double)prompt->len / RL_POLICY_BYTES_PER_TOKEN);
    for (size_t i = 0; i < rc->n_candidates; i++) {
        const struct srv_model *m = &q->gen->c->models[rc->models[i]];
        cost[i] = rl_policy_request_cost(m->price_in, m->price_out, tokens, rc->output_tokens);
    }
    int pick = rl_policy_choose(&g->policy, quality, cost, rc->n_candidates);
    if (pick < 0) {
        srv__answer_error(q, 500, "the route's policy failed to choose", "server_error", NULL,
                          NULL);
        return false;
    }
    q->model = rc->models[pick];
    g->quality = quality[pick];
    srv_metrics_route(q->gen->metrics, g->route, q->model);
    return true;
}

// The decision on the routing prompt and its embedding, if the router needs one: a route's
// policy, or the pair's threshold (rl_router_decide); then the attempts, or the answer of POST
// /v1/route.
static void routed(struct srv_request *q, const float *embedding) {
    struct srv_routing *g = &q->routing;
    const struct srv_router *rt = &q->gen->routers[g->router];
    struct rl_prompt prompt = {g->prompt.data, g->prompt.len, embedding};
    if (g->route >= 0) {
        double quality[SRV_MAX_MODELS], cost[SRV_MAX_MODELS];
        if (!route_decide(q, &prompt, quality, cost))
            return;
        srv_metrics_routing(q->gen->metrics, g->router, q->model,
                            (double)(srv_now_ns() - g->t0) * 1e-9);
        if (q->kind == SRV_KIND_ROUTE)
            answer_route(q, quality, cost);
        else
            srv__attempts_begin(q);
        return;
    }
    struct rl_router_decision d;
    if (rl_router_decide(rt->r, &rt->pair, &prompt, g->threshold, &d) != RL_OK) {
        srv__answer_error(q, 500, "the router failed to score the prompt", "server_error", NULL,
                          NULL);
        return;
    }
    // The router decides between its own pair; the upstreams are the config's routed pair.
    g->p_strong = d.p_strong;
    q->model = d.strong ? q->gen->strong : q->gen->weak;
    srv_metrics_p_strong(q->gen->metrics, g->router, d.p_strong);
    srv_metrics_routing(q->gen->metrics, g->router, q->model,
                        (double)(srv_now_ns() - g->t0) * 1e-9);
    if (q->kind == SRV_KIND_ROUTE) {
        char text[512];
        snprintf(text, sizeof text,
                 "{\"model\":\"%s\",\"p_strong\":%.15g,\"threshold\":%.15g,\"router\":\"%s\"}",
                 q->gen->c->models[q->model].name, g->p_strong, g->threshold, rt->name);
        srv__answer_json(q, 200, text);
        return;
    }
    srv__attempts_begin(q);
}

static void on_embedding(struct srv_embed_waiter *w, const float *embedding, int status) {
    struct srv_request *q =
        (struct srv_request *)((char *)w - offsetof(struct srv_request, routing.waiter));
    if (status != RL_OK) {
        srv__answer_error(q, 500, "the encoder failed to embed the prompt", "server_error", NULL,
                          NULL);
        return;
    }
    routed(q, embedding);
}

// The parsed body is needed only to route: it is freed before the upstream is called, so a
// request waiting on a slow upstream holds its body's bytes and nothing more.
static void drop_body_tree(struct srv_request *q) {
    json_decref(q->routing.json);
    q->routing.json = NULL;
}

// Whether the request is a completions request, or a POST /v1/route of a completions body.
static bool completions_body(const struct srv_request *q) {
    const json_t *j = q->routing.json;
    return q->kind == SRV_KIND_COMPLETIONS ||
           (q->kind == SRV_KIND_ROUTE && !json_object_get(j, "messages") &&
            json_object_get(j, "prompt"));
}

// A model that names an upstream: no routing, only its own fallbacks; POST /v1/route refuses
// it. The capture, when there is one, still records its routing prompt (when it has one).
static void direct(struct srv_request *q, const char *name) {
    q->model = q->kind == SRV_KIND_ROUTE ? -1 : srv_config_model_index(q->gen->c, name);
    if (q->model >= 0) {
        struct srv_routing *g = &q->routing;
        const char *why;
        if (q->s->capture) {
            rl_buf_init(&g->prompt, SRV_MAX_PROMPT + 1);
            if ((completions_body(q) ? srv_completion_prompt(g->json, &g->prompt, &why)
                                     : srv_routing_prompt(g->json, &g->prompt, &why)) != RL_OK)
                rl_buf_reset(&g->prompt);
        }
        drop_body_tree(q);
        srv__attempts_begin(q);
        return;
    }
    char msg[400];
    snprintf(msg, sizeof msg,
             q->kind == SRV_KIND_ROUTE
                 ? "'%.100s' is not a router model; use router-<router>-<threshold>"
                 : "the model '%.100s' does not exist; GET /v1/models lists the router "
                   "aliases and upstream models",
             name);
    srv__answer_error(q, 400, msg, "invalid_request_error", "model", "model_not_found");
}

// Find the router by name; answers 400 and returns -1 when it is not loaded.
static int find_router(struct srv_request *q, const char *router) {
    for (size_t i = 0; i < q->gen->n_routers; i++)
        if (strcmp(q->gen->routers[i].name, router) == 0)
            return (int)i;
    char msg[400];
    int n = snprintf(msg, sizeof msg, "the router '%s' is not loaded; loaded:", router);
    for (size_t i = 0; i < q->gen->n_routers && n > 0 && (size_t)n < sizeof msg; i++)
        n += snprintf(msg + n, sizeof msg - (size_t)n, " %s", q->gen->routers[i].name);
    srv__answer_error(q, 400, msg, "invalid_request_error", "model", "model_not_found");
    return -1;
}

// Whether `name` is a route, as <route> or <route>:<policy>-<parameter>; sets the request's
// route and router.
static bool find_named_route(struct srv_request *q, const char *name) {
    const char *colon = strchr(name, ':');
    int k = srv_config_route_index(q->gen->c, name, colon ? (size_t)(colon - name) : strlen(name));
    if (k < 0)
        return false;
    q->routing.route = k;
    q->routing.router = q->gen->routes[k].router;
    return true;
}

static void bad_policy(struct srv_request *q, const char *param, const char *fmt, const char *a) {
    char msg[400];
    snprintf(msg, sizeof msg, fmt, a);
    srv__answer_error(q, 400, msg, "invalid_request_error", param, "invalid_policy");
}

// The request's policy: the route's, then <policy>-<parameter> after the ':' of the model
// string, then the body's "routellm" member ({"policy", "tolerance", "lambda"}). Answers 400 and
// returns false for a bad one.
static bool take_policy(struct srv_request *q, const char *name, const json_t *options) {
    struct srv_routing *g = &q->routing;
    const struct srv_route_cfg *rc = q->gen->routes[g->route].cfg;
    g->policy.kind = (enum rl_policy_kind)rc->policy;
    g->policy.param = rc->policy == RL_POLICY_CHEAPEST ? rc->tolerance : rc->lambda;
    const char *colon = strchr(name, ':');
    if (colon) {
        const char *dash = strchr(colon, '-');
        char word[16];
        snprintf(word, sizeof word, "%.*s", dash ? (int)(dash - colon - 1) : 0, colon + 1);
        double v;
        if (!dash || rl_policy_kind_parse(word, &g->policy.kind) != RL_OK ||
            !srv_parse_number(dash + 1, &v)) {
            bad_policy(q, "model",
                       "invalid model '%.100s': a route is <route> or <route>:<policy>-<number>, "
                       "e.g. smart:cheapest-0.05 or smart:utility-500",
                       name);
            return false;
        }
        g->policy.param = v;
    }
    if (options) {
        if (!json_is_object(options)) {
            bad_policy(q, SRV_OPTIONS_MEMBER, "'%s' must be an object", SRV_OPTIONS_MEMBER);
            return false;
        }
        const char *key;
        const json_t *v;
        json_object_foreach((json_t *)options, key, v) {
            if (strcmp(key, "policy") == 0) {
                if (!json_is_string(v) ||
                    rl_policy_kind_parse(json_string_value(v), &g->policy.kind) != RL_OK) {
                    bad_policy(q, SRV_OPTIONS_MEMBER,
                               "%s.policy must be \"cheapest\" or \"utility\"", SRV_OPTIONS_MEMBER);
                    return false;
                }
            } else if (strcmp(key, "tolerance") != 0 && strcmp(key, "lambda") != 0) {
                bad_policy(q, SRV_OPTIONS_MEMBER,
                           "unknown member '%.60s' (known: policy, tolerance, lambda)", key);
                return false;
            }
        }
        const char *want = g->policy.kind == RL_POLICY_CHEAPEST ? "tolerance" : "lambda";
        const char *other = g->policy.kind == RL_POLICY_CHEAPEST ? "lambda" : "tolerance";
        if (json_object_get(options, other)) {
            bad_policy(q, SRV_OPTIONS_MEMBER, "%s goes with the other policy", other);
            return false;
        }
        const json_t *param = json_object_get(options, want);
        if (param && !json_is_number(param)) {
            bad_policy(q, SRV_OPTIONS_MEMBER, "%s must be a number", want);
            return false;
        }
        if (param)
            g->policy.param = json_number_value(param);
        else if (g->policy.kind != (enum rl_policy_kind)rc->policy && !colon) {
            bad_policy(q, SRV_OPTIONS_MEMBER, "a policy other than the route's needs its %s", want);
            return false;
        }
    }
    if (isnan(g->policy.param) || rl_policy_check(&g->policy) != RL_OK) {
        bad_policy(q, "model",
                   g->policy.kind == RL_POLICY_CHEAPEST
                       ? "the tolerance must be a number in [0, 1]%s"
                       : "the utility policy needs lambda, a number in [0, 1e12]%s",
                   "");
        return false;
    }
    return true;
}

// Remove the "routellm" member from the body that goes upstream (OpenAI refuses members it does
// not know). Answers 500 and returns false when out of memory.
static bool drop_options(struct srv_request *q, const json_t *options) {
    if (!options)
        return true;
    struct rl_buf out;
    rl_buf_init(&out, q->client.body.len + 1);
    if (srv_body_drop_member(q->client.body.data, q->client.body.len, SRV_OPTIONS_MEMBER, &out) !=
        RL_OK) {
        rl_buf_free(&out);
        srv__answer_error(q, 500, "could not rewrite the request body", "server_error", NULL, NULL);
        return false;
    }
    rl_buf_free(&q->client.body);
    q->client.body = out;
    return true;
}

// Take the routing prompt from the body as its kind has it; answers 400 and returns false when
// there is none.
static bool take_prompt(struct srv_request *q) {
    struct srv_routing *g = &q->routing;
    // POST /v1/route takes a chat body, or a completions body when it has no messages.
    bool completions = completions_body(q);
    const char *why = NULL;
    rl_buf_init(&g->prompt, SRV_MAX_PROMPT + 1);
    int rc = completions ? srv_completion_prompt(g->json, &g->prompt, &why)
                         : srv_routing_prompt(g->json, &g->prompt, &why);
    if (rc == RL_OK)
        return true;
    if (q->kind == SRV_KIND_ROUTE && !completions && !json_object_get(g->json, "messages"))
        why = "the body needs 'messages' (a chat request) or 'prompt' (a completions request)";
    srv__answer_error(q, 400, why ? why : "out of memory", "invalid_request_error",
                      completions ? "prompt" : "messages",
                      completions ? "invalid_prompt" : "invalid_messages");
    return false;
}

// Score with the router, now or once the prompt's embedding is ready.
static void score_prompt(struct srv_request *q) {
    struct srv_routing *g = &q->routing;
    if (!take_prompt(q))
        return;
    drop_body_tree(q);
    g->t0 = srv_now_ns();
    if (!q->gen->routers[g->router].needs_embedding) {
        routed(q, NULL);
        return;
    }
    const float *embedding = NULL;
    g->waiter.cb = on_embedding;
    g->embedder = q->gen->routers[g->router].encoder->emb;
    int rc = srv_embedder_get(g->embedder, g->prompt.data, g->prompt.len, &g->waiter, &embedding);
    if (rc < 0) {
        srv__answer_error(q, 500, "out of memory while routing", "server_error", NULL, NULL);
        return;
    }
    if (rc == 1) {
        routed(q, embedding);
        return;
    }
    q->state = SRV_EMBEDDING;
}

void srv__route(struct srv_request *q) {
    struct srv_routing *g = &q->routing;
    g->json = srv__body_json(q);
    if (!g->json)
        return;
    char msg[400];
    const char *name = json_string_value(json_object_get(g->json, "model"));
    if (!name) {
        srv__answer_error(q, 400, "'model' is required and must be a string",
                          "invalid_request_error", "model", "invalid_model");
        return;
    }
    const json_t *stream = json_object_get(g->json, "stream");
    if (stream && !json_is_boolean(stream) && !json_is_null(stream)) {
        srv__answer_error(q, 400, "'stream' must be true or false", "invalid_request_error",
                          "stream", "invalid_stream");
        return;
    }
    g->stream = json_is_true(stream);
    char router[SRV_NAME_MAX];
    const char *why = NULL;
    int rc = srv_parse_router_model(name, router, sizeof router, &g->threshold, &why);
    if (rc < 0) {
        snprintf(msg, sizeof msg, "invalid model '%.100s': %s", name, why);
        srv__answer_error(q, 400, msg, "invalid_request_error", "model", "invalid_model");
        return;
    }
    const json_t *options = json_object_get(g->json, SRV_OPTIONS_MEMBER);
    if (rc == 0 && srv_config_model_index(q->gen->c, name) < 0 && find_named_route(q, name)) {
        if (take_policy(q, name, options) && drop_options(q, options))
            score_prompt(q);
        return;
    }
    if (options) {
        srv__answer_error(q, 400, "'" SRV_OPTIONS_MEMBER "' applies to route requests only",
                          "invalid_request_error", SRV_OPTIONS_MEMBER, "invalid_routellm");
        return;
    }
    if (rc == 0) {
        direct(q, name);
        return;
    }
    g->router = find_router(q, router);
    if (g->router >= 0)
        score_prompt(q);
}
