// Routing: the body of a chat, completions or route request is parsed, its `model` names either
// an upstream (the request goes straight there) or an alias router-<router>-<threshold>, whose
// router scores the routing prompt: the last user message of a chat body, the prompt of a
// completions body (POST /v1/route takes either). The random router scores inline; the others need
// the prompt's embedding, which comes from the encoder workers (embed.c) while the request waits,
// suspended. The decision then goes to the attempts (attempt.c), or back to the client for POST
// /v1/route.
#include <stdio.h>
#include <string.h>

#include "server/server_impl.h"

// The decision (rl_router_decide) on the routing prompt and its embedding, if the router needs one;
// then the attempts, or the answer of POST /v1/route.
static void routed(struct srv_request *q, const float *embedding) {
    struct srv_routing *g = &q->routing;
    const struct srv_route *rt = &q->gen->routes[g->route];
    struct rl_router_decision d;
    struct rl_prompt prompt = {g->prompt.data, g->prompt.len, embedding};
    if (rl_router_decide(rt->r, &rt->pair, &prompt, g->threshold, &d) != RL_OK) {
        srv__answer_error(q, 500, "the router failed to score the prompt", "server_error", NULL,
                          NULL);
        return;
    }
    // The router decides between its own pair; the upstreams are the config's routed pair.
    g->p_strong = d.p_strong;
    q->model = d.strong ? q->gen->strong : q->gen->weak;
    srv_metrics_routing(q->gen->metrics, g->route, q->model, (double)(srv_now_ns() - g->t0) * 1e-9);
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

// A model that names an upstream: no routing, no fallback; POST /v1/route refuses it.
static void direct(struct srv_request *q, const char *name) {
    q->model = q->kind == SRV_KIND_ROUTE ? -1 : srv_config_model_index(q->gen->c, name);
    if (q->model >= 0) {
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
static int find_route(struct srv_request *q, const char *router) {
    for (size_t i = 0; i < q->gen->n_routes; i++)
        if (strcmp(q->gen->routes[i].name, router) == 0)
            return (int)i;
    char msg[400];
    int n = snprintf(msg, sizeof msg, "the router '%s' is not loaded; loaded:", router);
    for (size_t i = 0; i < q->gen->n_routes && n > 0 && (size_t)n < sizeof msg; i++)
        n += snprintf(msg + n, sizeof msg - (size_t)n, " %s", q->gen->routes[i].name);
    srv__answer_error(q, 400, msg, "invalid_request_error", "model", "model_not_found");
    return -1;
}

// Take the routing prompt from the body as its kind has it; answers 400 and returns false when
// there is none.
static bool take_prompt(struct srv_request *q) {
    struct srv_routing *g = &q->routing;
    // POST /v1/route takes a chat body, or a completions body when it has no messages.
    bool completions = q->kind == SRV_KIND_COMPLETIONS ||
                       (q->kind == SRV_KIND_ROUTE && !json_object_get(g->json, "messages") &&
                        json_object_get(g->json, "prompt"));
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
    struct srv_server *s = q->s;
    struct srv_routing *g = &q->routing;
    if (!take_prompt(q))
        return;
    drop_body_tree(q);
    g->t0 = srv_now_ns();
    if (!q->gen->routes[g->route].needs_embedding) {
        routed(q, NULL);
        return;
    }
    const float *embedding = NULL;
    g->waiter.cb = on_embedding;
    int rc = srv_embedder_get(s->emb, g->prompt.data, g->prompt.len, &g->waiter, &embedding);
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
    struct rl_buf *body = &q->client.body;
    char msg[400];
    g->json = srv_body_parse(body->data ? body->data : "", body->len, msg, sizeof msg);
    if (!g->json) {
        srv__answer_error(q, 400, msg, "invalid_request_error", NULL, "invalid_json");
        return;
    }
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
    if (rc == 0) {
        direct(q, name);
        return;
    }
    g->route = find_route(q, router);
    if (g->route >= 0)
        score_prompt(q);
}
