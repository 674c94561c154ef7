// The HTTP glue: the request object, the endpoint table, client keys and answers, on top of the
// connections of conn.c. A request's path is looked up once in the endpoint table below, which
// says the method it takes, whether it needs a client key, and who handles it: endpoints without
// a body are answered from the head, those that take one get it once it is in: routing (route.c)
// for chat, completions and route, the encoder (embeddings.c) for embeddings.
//
// While a request waits on an embedding, an upstream or a slow stream, its connection watches
// for a hang-up, so a client that leaves cancels its upstream call at once rather than at the
// next write.
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server/server_impl.h"

// ----------------------------------------------------------------------------
// Answering

// The headers every answer carries: the request id, and for a routed or model request that
// succeeded, the model and p_strong (a pair router) or the route and the model's quality.
static void route_headers(const struct srv_request *q, const char *ctype, char *out, size_t size) {
    bool answered = q->state == SRV_ANSWERED && q->reply.status < 400;
    int n = snprintf(out, size, "Content-Type: %s\r\nx-request-id: %s\r\n", ctype, q->id);
    if (n > 0 && (size_t)n < size && q->model >= 0 && q->kind != SRV_KIND_OTHER && answered)
        n += snprintf(out + n, size - (size_t)n, "x-routellm-model: %s\r\n",
                      q->gen->c->models[q->model].name);
    if (n > 0 && (size_t)n < size && q->routing.route >= 0 && answered)
        n += snprintf(out + n, size - (size_t)n,
                      "x-routellm-route: %s\r\nx-routellm-quality: %.6f\r\n",
                      q->gen->routes[q->routing.route].cfg->name, q->routing.quality);
    else if (n > 0 && (size_t)n < size && q->routing.router >= 0 && answered)
        n += snprintf(out + n, size - (size_t)n, "x-routellm-p-strong: %.6f\r\n",
                      q->routing.p_strong);
    if (n > 0 && (size_t)n < size && q->reply.retry_after_s > 0)
        snprintf(out + n, size - (size_t)n, "Retry-After: %d\r\n", q->reply.retry_after_s);
}

void srv__answer(struct srv_request *q, int status, struct rl_buf *body, const char *ctype) {
    srv__answer_with(q, status, body, ctype, "");
}

void srv__answer_with(struct srv_request *q, int status, struct rl_buf *body, const char *ctype,
                      const char *extra) {
    struct srv_reply *a = &q->reply;
    if (a->ready) {
        rl_buf_free(body);
        return;
    }
    a->status = status;
    a->ready = true;
    q->state = SRV_ANSWERED;
    char headers[1024];
    route_headers(q, ctype, headers, sizeof headers);
    size_t used = strlen(headers);
    snprintf(headers + used, sizeof headers - used, "%s", extra);
    size_t len;
    char *data = rl_buf_take(body, &len);
    if (!data)
        len = 0;
    srv_conn_respond(q->client.conn, status, headers, data, len);
}

void srv__answer_error(struct srv_request *q, int status, const char *message, const char *type,
                       const char *param, const char *code) {
    struct rl_buf b;
    rl_buf_init(&b, 1 << 16);
    if (srv_error_body(&b, message, type, param, code) != RL_OK)
        rl_buf_init(&b, 0); // out of memory: an empty body still carries the status
    srv__answer(q, status, &b, "application/json");
}

void srv__answer_json(struct srv_request *q, int status, const char *text) {
    struct rl_buf b;
    rl_buf_init(&b, strlen(text) + 1);
    if (rl_buf_append(&b, text, strlen(text)) != RL_OK)
        rl_buf_init(&b, 0);
    srv__answer(q, status, &b, "application/json");
}

void srv__answer_value(struct srv_request *q, json_t *j) {
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!text) {
        srv__answer_error(q, 500, "out of memory", "server_error", NULL, NULL);
        return;
    }
    srv__answer_json(q, 200, text);
    free(text);
}

void srv__answer_stream(struct srv_request *q, int status, const char *ctype) {
    struct srv_reply *a = &q->reply;
    a->status = status;
    a->stream = true;
    a->ready = true;
    q->state = SRV_ANSWERED;
    char headers[640];
    route_headers(q, ctype, headers, sizeof headers);
    size_t n = strlen(headers);
    snprintf(headers + n, sizeof headers - n,
             "Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\n");
    srv_conn_respond_stream(q->client.conn, status, headers);
}

void srv__stream_wake(struct srv_request *q) {
    srv_conn_wake(q->client.conn);
}

static void refuse_too_large(struct srv_request *q) {
    char msg[128];
    snprintf(msg, sizeof msg, "the body exceeds the limit of %zu bytes", q->gen->c->max_body);
    srv__answer_error(q, 413, msg, "invalid_request_error", NULL, "body_too_large");
}

// Request bodies held by the server, all requests together, stay within
// server.max_inflight_body_bytes: a body that would pass it is refused with 503 and Retry-After.
static bool reserve_body(struct srv_request *q, uint64_t n) {
    struct srv_server *s = q->s;
    if (s->body_bytes + n > q->gen->c->max_inflight_body)
        return false;
    s->body_bytes += n;
    q->client.reserved += n;
    return true;
}

static void refuse_busy(struct srv_request *q) {
    q->reply.retry_after_s = 1;
    srv__answer_error(q, 503,
                      "the server holds too many request bytes at the moment; retry shortly",
                      "server_error", NULL, "server_busy");
}

// Stop every piece of work the request has outstanding (no callbacks follow).
static void cancel_work(struct srv_request *q) {
    if (q->routing.embedder)
        srv_embedder_cancel(q->routing.embedder, &q->routing.waiter);
    srv__embeddings_stop(q);
    srv__attempts_stop(q);
}

// The drain deadline passed: a stream under way ends with an error event, a request not yet
// answered gets 503; an answer being written is left to finish.
void srv__request_cut(struct srv_request *q) {
    q->drain_cut = true;
    if (q->up.committed) {
        srv__attempts_stop(q);
        srv_relay_cut(&q->relay, "the server is shutting down");
        return;
    }
    if (q->reply.ready)
        return;
    cancel_work(q);
    srv__answer_error(q, 503, "the server is shutting down and its drain deadline passed",
                      "server_error", NULL, "server_shutting_down");
}

json_t *srv__body_json(struct srv_request *q) {
    const struct rl_buf *body = &q->client.body;
    char msg[400];
    json_t *j = srv_body_parse(body->data ? body->data : "", body->len, msg, sizeof msg);
    if (!j)
        srv__answer_error(q, 400, msg, "invalid_request_error", NULL, "invalid_json");
    return j;
}

// ----------------------------------------------------------------------------
// Endpoints

static void get_health(struct srv_request *q) {
    bool draining = q->s->draining;
    srv__answer_json(q, draining ? 503 : 200,
                     draining ? "{\"status\":\"draining\"}" : "{\"status\":\"online\"}");
}

static void get_metrics(struct srv_request *q) {
    struct srv_server *s = q->s;
    struct rl_buf b;
    rl_buf_init(&b, 16u << 20);
    // The encoders' counters summed: each prompt counts once per encoder that read it.
    struct srv_embed_stats st = {0};
    bool any = false;
    for (size_t i = 0; i < s->n_encoders; i++) {
        if (!s->encoders[i].emb)
            continue;
        struct srv_embed_stats one = srv_embedder_stats(s->encoders[i].emb);
        st.hits += one.hits;
        st.misses += one.misses;
        st.batches += one.batches;
        st.prompts += one.prompts;
        st.errors += one.errors;
        any = true;
    }
    if (srv_metrics_render(s->gen->metrics, any ? &st : NULL, &b) != RL_OK) {
        srv__answer_error(q, 500, "could not render the metrics", "server_error", NULL, NULL);
        return;
    }
    srv__answer(q, 200, &b, "text/plain; version=0.0.4; charset=utf-8");
}

static void get_models(struct srv_request *q) {
    srv__answer_json(q, 200, q->gen->models_json);
}

// One entry of the list, found by its exact id.
static void get_model(struct srv_request *q) {
    const char *id = q->path + strlen("/v1/models/");
    for (size_t i = 0; i < q->gen->n_model_entries; i++) {
        if (strcmp(q->gen->model_entries[i].id, id) == 0) {
            srv__answer_json(q, 200, q->gen->model_entries[i].json);
            return;
        }
    }
    srv__answer_error(q, 404, "no such model", "invalid_request_error", "model", "model_not_found");
}

// The endpoints, looked up by path: an unknown path gets 404, and a known one answers 405 to any
// method but its own. The handler runs once the headers are in, or, for an endpoint that takes
// a body, once the whole body (at most server.max_body_bytes) is.
struct srv_endpoint {
    const char *method;
    const char *path; // a path ending in '/' (but "/" itself) matches every path below it
    enum srv_kind kind;
    bool public; // answered without a client key
    bool takes_body;
    void (*handler)(struct srv_request *q); // answers, or passes the request on to route.c
};

static const struct srv_endpoint endpoints[] = {
    {"GET", "/", SRV_KIND_OTHER, true, false, srv__dashboard_page},
    {"GET", "/ui", SRV_KIND_OTHER, true, false, srv__dashboard_page},
    {"GET", "/v1/dashboard", SRV_KIND_OTHER, false, false, srv__dashboard_data},
    {"GET", "/v1/dashboard/calibration", SRV_KIND_OTHER, false, false, srv__dashboard_calibration},
    {"GET", "/health", SRV_KIND_OTHER, true, false, get_health},
    {"GET", "/metrics", SRV_KIND_OTHER, true, false, get_metrics},
    {"GET", "/v1/models", SRV_KIND_OTHER, false, false, get_models},
    {"GET", "/v1/models/", SRV_KIND_OTHER, false, false, get_model},
    {"POST", "/v1/chat/completions", SRV_KIND_CHAT, false, true, srv__route},
    {"POST", "/v1/completions", SRV_KIND_COMPLETIONS, false, true, srv__route},
    {"POST", "/v1/route", SRV_KIND_ROUTE, false, true, srv__route},
    {"POST", "/v1/embeddings", SRV_KIND_EMBEDDINGS, false, true, srv__embeddings},
    {"POST", "/v1/feedback", SRV_KIND_FEEDBACK, false, true, srv__feedback},
};

static const struct srv_endpoint *find_endpoint(const char *path) {
    for (size_t i = 0; i < RL_COUNTOF(endpoints); i++) {
        const char *p = endpoints[i].path;
        size_t n = strlen(p);
        if (n > 1 && p[n - 1] == '/' ? strncmp(path, p, n) == 0 : strcmp(path, p) == 0)
            return &endpoints[i];
    }
    return NULL;
}

static bool authorized(struct srv_request *q) {
    const struct srv_config *c = q->gen->c;
    if (c->n_keys == 0)
        return true;
    size_t n;
    const char *h = srv_http_field(q->head, "Authorization", &n);
    if (!h || n < 7 || strncasecmp(h, "Bearer ", 7) != 0)
        return false;
    char key[512];
    if (n - 7 >= sizeof key)
        return false;
    memcpy(key, h + 7, n - 7);
    key[n - 7] = '\0';
    return srv_key_allowed(c, key);
}

// The headers are in: answer what can be answered now, or get ready for the body.
static void begin(struct srv_request *q, const char *method) {
    const struct srv_endpoint *ep = q->path_too_long ? NULL : find_endpoint(q->path);
    if (!ep) {
        srv__answer_error(q, 404, "no such endpoint", "invalid_request_error", NULL, "not_found");
        return;
    }
    q->ep = ep;
    q->kind = ep->kind;
    if (strcmp(method, ep->method) != 0) {
        char msg[32];
        snprintf(msg, sizeof msg, "use %s", ep->method);
        srv__answer_error(q, 405, msg, "invalid_request_error", NULL, "method_not_allowed");
        return;
    }
    if (!ep->public && !authorized(q)) {
        srv__answer_error(q, 401, "missing or wrong API key (send 'Authorization: Bearer <key>')",
                          "invalid_request_error", NULL, "invalid_api_key");
        return;
    }
    if (!ep->takes_body) {
        ep->handler(q);
        return;
    }
    if (q->head->has_length && q->head->length > q->gen->c->max_body) {
        refuse_too_large(q);
        return;
    }
    if (q->head->has_length && !reserve_body(q, q->head->length)) {
        refuse_busy(q);
        return;
    }
    rl_buf_init(&q->client.body, q->gen->c->max_body);
}

// ----------------------------------------------------------------------------
// Requests: creation, the access handler, completion

static void make_id(struct srv_request *q) {
    size_t n = 0;
    const char *given = srv_http_field(q->head, "x-request-id", &n);
    bool ok = given && n && n < sizeof q->id;
    for (size_t i = 0; ok && i < n; i++) {
        char ch = given[i];
        ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
             ch == '-' || ch == '_' || ch == '.';
    }
    if (ok) {
        memcpy(q->id, given, n);
        q->id[n] = '\0';
        return;
    }
    uint64_t x = rl__splitmix64_at(q->s->id_seed, q->s->id_next++);
    snprintf(q->id, sizeof q->id, "req_%016llx", (unsigned long long)x);
}

static struct srv_request *request_new(struct srv_server *s, struct srv_conn *conn,
                                       const struct srv_http_head *h) {
    struct srv_request *q = calloc(1, sizeof *q);
    if (!q)
        return NULL;
    q->s = s;
    q->gen = s->gen;
    q->gen->refs++;
    q->head = h;
    q->client.conn = conn;
    q->t0 = srv_now_ns();
    q->routing.router = -1;
    q->routing.route = -1;
    q->model = -1;
    q->up.first_model = -1;
    q->up.target = -1;
    q->up.body_model = -1;
    q->up.retries_left = q->gen->c->retries;
    q->kind = SRV_KIND_OTHER;
    snprintf(q->method, sizeof q->method, "%s", h->method);
    // The path without its query; one too long for any endpoint is kept cut, and is not found.
    const char *query = memchr(h->target, '?', h->target_len);
    size_t plen = query ? (size_t)(query - h->target) : h->target_len;
    snprintf(q->path, sizeof q->path, "%.*s",
             (int)(plen < sizeof q->path ? plen : sizeof q->path - 1), h->target);
    q->path_too_long = plen >= sizeof q->path;
    rl_buf_init(&q->client.body, 0);
    rl_buf_init(&q->up.resp, 0);
    rl_buf_init(&q->up.body, 0);
    rl_buf_init(&q->routing.prompt, 0);
    make_id(q);
    q->next = s->live;
    if (s->live)
        s->live->prev = q;
    s->live = q;
    s->n_live++;
    srv_metrics_inflight(s->gen->metrics, 1);
    return q;
}

static void request_free(struct srv_request *q) {
    struct srv_server *s = q->s;
    if (q->prev)
        q->prev->next = q->next;
    else
        s->live = q->next;
    if (q->next)
        q->next->prev = q->prev;
    s->n_live--;
    s->body_bytes -= q->client.reserved;
    srv_metrics_inflight(s->gen->metrics, -1);
    json_decref(q->routing.json);
    rl_buf_free(&q->client.body);
    rl_buf_free(&q->up.resp);
    rl_buf_free(&q->up.body);
    rl_buf_free(&q->routing.prompt);
    srv__embeddings_free(q);
    srv_relay_free(&q->relay);
    srv__gen_unref(q->gen);
    free(q);
    // Idle again after a burst: hand the heap's free pages back (glibc keeps pages freed below a
    // live allocation otherwise; a burst of large parsed bodies left ~70 MB of them).
    uint64_t now = srv_now_ns();
    if (s->n_live == 0 && now - s->trimmed_ns > (uint64_t)1e9) {
        s->trimmed_ns = now;
        malloc_trim(0);
    }
}

// ----------------------------------------------------------------------------
// The connection's calls (srv_conn_ops)

static void *on_begin(void *owner, struct srv_conn *conn, const struct srv_http_head *h) {
    struct srv_request *q = request_new(owner, conn, h);
    if (q)
        begin(q, q->method);
    return q;
}

// Keep a piece of the body; past the limit the rest is dropped and the request refused with 413
// once it is in.
static bool on_body(void *req, const char *data, size_t n) {
    struct srv_request *q = req;
    struct srv_client *cl = &q->client;
    if (!q->head->has_length && !reserve_body(q, n)) { // a chunked body, reserved as it comes
        cl->too_busy = true;
        rl_buf_free(&cl->body);
        return false;
    }
    if (rl_buf_append(&cl->body, data, n) != RL_OK) {
        cl->too_big = true;
        rl_buf_free(&cl->body);
        return false;
    }
    return true;
}

static void on_body_end(void *req) {
    struct srv_request *q = req;
    if (q->client.too_busy)
        refuse_busy(q);
    else if (q->client.too_big)
        refuse_too_large(q);
    else
        q->ep->handler(q); // only an endpoint that takes a body is still unanswered here
}

static ssize_t on_stream(void *req, char *buf, size_t max) {
    struct srv_request *q = req;
    return srv_relay_read(&q->relay, buf, max);
}

// What became of a streamed request, for its log line.
static const char *stream_outcome(const struct srv_request *q, enum srv_conn_end how) {
    if (q->drain_cut)
        return "drain_timeout";
    if (!q->up.committed)
        return how == SRV_CONN_CLIENT_CLOSED ? "client_closed_before_first_byte" : "not_started";
    if (how == SRV_CONN_CLIENT_CLOSED || how == SRV_CONN_TIMEOUT)
        return "client_closed";
    return q->relay.error_sent || how != SRV_CONN_OK ? "error" : "ok";
}

static void log_request(const struct srv_request *q, int status, enum srv_conn_end how) {
    const struct srv_reply *a = &q->reply;
    struct srv_log l;
    srv_log_begin(&l, status >= 500 ? SRV_LOG_WARN : SRV_LOG_INFO, "request");
    srv_log_str(&l, "id", q->id);
    srv_log_str(&l, "method", q->method);
    srv_log_str(&l, "path", q->path);
    srv_log_int(&l, "status", status);
    if (q->routing.route >= 0) {
        srv_log_str(&l, "route", q->gen->routes[q->routing.route].cfg->name);
        srv_log_str(&l, "router", q->gen->routers[q->routing.router].name);
        srv_log_str(&l, "policy", rl_policy_kind_name(q->routing.policy.kind));
        srv_log_num(&l, "param", q->routing.policy.param);
        srv_log_num(&l, "quality", q->routing.quality);
    } else if (q->routing.router >= 0) {
        srv_log_str(&l, "router", q->gen->routers[q->routing.router].name);
        srv_log_num(&l, "threshold", q->routing.threshold);
        srv_log_num(&l, "p_strong", q->routing.p_strong);
    }
    if (q->model >= 0)
        srv_log_str(&l, "model", q->gen->c->models[q->model].name);
    if (q->up.target >= 0 && q->up.target != q->model)
        srv_log_str(&l, "deployment", q->gen->c->models[q->up.target].name);
    if (q->emb.n) { // an embeddings request that was accepted
        srv_log_str(&l, "model", rl_encoder_name(q->s->encoders[0].enc));
        srv_log_int(&l, "inputs", (long long)q->emb.n);
    }
    if (q->up.n)
        srv_log_int(&l, "attempts", q->up.n);
    if (q->up.fell_back)
        srv_log_str(&l, "fallback_from", q->gen->c->models[q->up.first_model].name);
    if (q->routing.stream)
        srv_log_str(&l, "stream", stream_outcome(q, how));
    if (a->have_usage) {
        srv_log_int(&l, "prompt_tokens", a->prompt_tokens);
        srv_log_int(&l, "completion_tokens", a->completion_tokens);
    }
    srv_log_num(&l, "ms", (double)(srv_now_ns() - q->t0) * 1e-6);
    srv_log_end(&l);
}

// The request is over: count it, log it, free it.
static void on_end(void *req, enum srv_conn_end how) {
    struct srv_request *q = req;
    if (how != SRV_CONN_OK)
        srv__attempts_abandon(q);
    cancel_work(q);
    struct srv_reply *a = &q->reply;
    if (q->up.committed && q->relay.events.have_usage) {
        a->have_usage = true;
        a->prompt_tokens = q->relay.events.prompt_tokens;
        a->completion_tokens = q->relay.events.completion_tokens;
    }
    // 499 is nginx's "the client closed the request before it was answered".
    bool ok = how == SRV_CONN_OK;
    int status = how == SRV_CONN_BAD_REQUEST            ? 400
                 : how == SRV_CONN_TIMEOUT && !a->ready ? 408
                 : a->ready                             ? a->status
                 : ok                                   ? 500
                                                        : 499;
    bool stream_cut = q->up.committed && !ok;
    if (q->kind != SRV_KIND_OTHER)
        srv_metrics_request(q->gen->metrics, q->ep->path, q->routing.router, q->model,
                            stream_cut ? 499 : status);
    if (a->have_usage && status < 400)
        srv_metrics_usage(q->gen->metrics, q->model, q->gen->strong, a->prompt_tokens,
                          a->completion_tokens);
    srv__capture_request(q, stream_cut ? 499 : status);
    if (q->gen->c->log_requests || status >= 500)
        log_request(q, status, how);
    request_free(q);
}

const struct srv_conn_ops srv__http_ops = {on_begin, on_body, on_body_end, on_stream, on_end};
