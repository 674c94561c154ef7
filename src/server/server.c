// The routing proxy itself. libmicrohttpd runs in "external" epoll mode inside our loop, next to
// libcurl's multi interface and the encoder workers' eventfd, so a single thread accepts
// requests, routes them, calls upstreams and relays answers, and never waits on anything.
//
// A request's life: headers (auth, size checks) -> body -> parse and pick a route (random
// routers score inline; others wait, suspended, for an embedding from embed.c) -> upstream
// attempt(s) with retries, back-off and fallback to the other model, all before the first byte
// of the answer -> the answer, buffered (bounded) when not streaming, or relayed chunk by chunk
// through a bounded ring when streaming. While a request is suspended its socket is watched for
// a hang-up, so a client that leaves cancels its upstream call.
//
// It does not speak HTTP/2 to clients, does not terminate TLS (put it behind a TLS proxy for
// that) and does not rewrite anything in a response.
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "server/server.h"

#define STREAM_BLOCK 32768

struct route {
    char name[SRV_NAME_MAX];
    struct rl_router *r;
    struct rl_router_pair pair;
    double threshold; // advertised in /v1/models
    bool needs_embedding;
};

struct srv_server {
    struct srv_config *c;
    struct srv_loop *loop;
    struct MHD_Daemon *mhd;
    struct srv_watch mhd_watch;
    bool mhd_kick; // a connection was resumed or closed: run MHD before sleeping again
    struct srv_upstream *up;
    struct rl_encoder *enc;
    struct srv_embedder *emb;
    struct route *routes;
    size_t n_routes;
    struct srv_metrics *metrics;
    char **urls;                 // per model: <base_url>/chat/completions
    struct curl_slist **headers; // per model: content type, key, no Expect
    int strong, weak;            // model indices
    char *models_json;           // the /v1/models answer, built once
    size_t models_json_len;
    struct srv_watch sig;
    bool draining;
    uint64_t drain_deadline_ns;
    struct request *live; // every request not yet completed
    long n_live;
    uint64_t id_seed, id_next;
    int port;
};

enum kind { K_CHAT, K_ROUTE, K_OTHER };
enum state { S_RECEIVING, S_EMBEDDING, S_UPSTREAM, S_BACKOFF, S_ANSWERED };

struct request {
    struct srv_server *s;
    struct MHD_Connection *conn;
    struct request *prev, *next;
    char id[40];
    char method[8];
    char path[64];
    enum kind kind;
    enum state state;
    uint64_t t0;
    struct rl_buf body;
    size_t body_seen; // bytes of body received, kept or not
    bool too_big;
    bool suspended, cancelled;
    struct srv_watch hup;
    bool hup_watched;

    // Routing.
    json_t *json;
    bool stream;
    int route; // index into s->routes, -1 for a direct model request
    double threshold, p_strong;
    int model; // chosen upstream
    int first_model;
    uint64_t t_route;
    struct rl_buf prompt;
    struct srv_embed_waiter waiter;

    // Upstream.
    struct srv_call call;
    struct rl_buf up_body;
    int up_body_model; // the model up_body was rewritten for, -1 for none yet
    int retries_left, attempts, model_attempts;
    bool fell_back, resp_too_big;
    uint64_t t_attempt;
    struct rl_buf resp;
    struct srv_timer backoff;
    const char *outcome; // of the last attempt
    bool last_timeout;

    // Streaming relay.
    bool committed;
    struct srv_relay relay;

    // Answer.
    int status;
    struct rl_buf reply;
    char ctype[128];
    bool reply_ready, reply_stream;
    long prompt_tokens, completion_tokens;
    bool have_usage;
};

static void start_attempt(struct request *q);

// ----------------------------------------------------------------------------
// Suspending, resuming and answering

static void on_hangup(struct srv_watch *w, uint32_t events);

static void suspend(struct request *q) {
    if (q->suspended)
        return;
    MHD_suspend_connection(q->conn);
    q->suspended = true;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(q->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!ci)
        return;
    q->hup.fd = ci->connect_fd;
    q->hup.cb = on_hangup;
    q->hup.data = q;
    q->hup_watched = srv_loop_add(q->s->loop, &q->hup, EPOLLRDHUP) == RL_OK;
}

static void resume(struct request *q) {
    if (!q->suspended)
        return;
    if (q->hup_watched) {
        srv_loop_del(q->s->loop, &q->hup);
        q->hup_watched = false;
    }
    q->suspended = false;
    q->s->mhd_kick = true;
    MHD_resume_connection(q->conn);
}

// Stop every piece of work the request has outstanding (no callbacks follow).
static void cancel_work(struct request *q) {
    srv_embedder_cancel(q->s->emb, &q->waiter);
    srv_upstream_cancel(q->s->up, &q->call);
    srv_timer_stop(q->s->loop, &q->backoff);
}

static void on_hangup(struct srv_watch *w, uint32_t events) {
    (void)events;
    struct request *q = w->data;
    if (q->call.easy)
        srv_metrics_attempt(q->s->metrics, q->model, "cancelled",
                            (double)(srv_now_ns() - q->t_attempt) * 1e-9);
    cancel_work(q);
    q->cancelled = true;
    resume(q);
}

// Set a complete (non-streaming) answer; body is taken from *body.
static void answer(struct request *q, int status, struct rl_buf *body, const char *ctype) {
    q->status = status;
    rl_buf_free(&q->reply);
    q->reply = *body;
    rl_buf_init(body, 0);
    snprintf(q->ctype, sizeof q->ctype, "%s", ctype);
    q->reply_ready = true;
    q->state = S_ANSWERED;
    resume(q);
}

static void answer_error(struct request *q, int status, const char *message, const char *type,
                         const char *param, const char *code) {
    struct rl_buf b;
    rl_buf_init(&b, 1 << 16);
    if (srv_error_body(&b, message, type, param, code) != RL_OK)
        rl_buf_init(&b, 0); // out of memory: an empty body still carries the status
    answer(q, status, &b, "application/json");
}

static void refuse_too_large(struct request *q) {
    char msg[128];
    snprintf(msg, sizeof msg, "the body exceeds the limit of %zu bytes", q->s->c->max_body);
    answer_error(q, 413, msg, "invalid_request_error", NULL, "body_too_large");
}

static void answer_json(struct request *q, int status, const char *text) {
    struct rl_buf b;
    rl_buf_init(&b, strlen(text) + 1);
    if (rl_buf_append(&b, text, strlen(text)) != RL_OK)
        rl_buf_init(&b, 0);
    answer(q, status, &b, "application/json");
}

static void add_route_headers(struct request *q, struct MHD_Response *r) {
    struct srv_server *s = q->s;
    MHD_add_response_header(r, "x-request-id", q->id);
    if (q->model >= 0 && (q->kind == K_CHAT || q->kind == K_ROUTE) && q->state == S_ANSWERED &&
        q->status < 400)
        MHD_add_response_header(r, "x-routellm-model", s->c->models[q->model].name);
    if (q->route >= 0 && q->state == S_ANSWERED && q->status < 400) {
        char p[32];
        snprintf(p, sizeof p, "%.6f", q->p_strong);
        MHD_add_response_header(r, "x-routellm-p-strong", p);
    }
    if (s->draining)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
}

static ssize_t stream_reader(void *cls, uint64_t pos, char *buf, size_t max);
static enum MHD_Result send_answer(struct request *q) {
    struct MHD_Response *r;
    if (q->reply_stream) {
        r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, STREAM_BLOCK, stream_reader, q,
                                              NULL);
        if (r) {
            MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
            MHD_add_response_header(r, "X-Accel-Buffering", "no");
        }
    } else {
        size_t len;
        char *data = rl_buf_take(&q->reply, &len);
        r = data ? MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE) : NULL;
        if (!r)
            free(data);
    }
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, q->ctype);
    add_route_headers(q, r);
    enum MHD_Result ok = MHD_queue_response(q->conn, (unsigned)q->status, r);
    MHD_destroy_response(r);
    return ok;
}

// ----------------------------------------------------------------------------
// Streaming relay

static ssize_t stream_reader(void *cls, uint64_t pos, char *buf, size_t max) {
    (void)pos;
    struct request *q = cls;
    if (q->cancelled)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    ssize_t n = srv_relay_read(&q->relay, buf, max);
    if (n == SRV_RELAY_WAIT)
        suspend(q);
    if (n == SRV_RELAY_END)
        return MHD_CONTENT_READER_END_OF_STREAM;
    if (n == SRV_RELAY_BROKEN)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    return n;
}

static void relay_wake(struct srv_relay *r) {
    resume(r->data);
}

static void relay_unpause(struct srv_relay *r) {
    struct request *q = r->data;
    srv_upstream_unpause(q->s->up, &q->call);
}

static void relay_broken(struct srv_relay *r) {
    struct request *q = r->data;
    srv_metrics_stream_error(q->s->metrics, q->model);
}

static const struct srv_relay_ops relay_ops = {relay_wake, relay_unpause, relay_broken};

// Hand each piece of a streamed answer to the relay, in libcurl's terms.
static size_t relay_push(struct request *q, const char *data, size_t n) {
    int rc = srv_relay_push(&q->relay, data, n);
    return rc == RL_OK ? n : rc == SRV_RELAY_FULL ? CURL_WRITEFUNC_PAUSE : 0;
}

// ----------------------------------------------------------------------------
// Upstream attempts, retries and fallback

static const char *classify(CURLcode rc, bool *retry, bool *timeout) {
    *timeout = false;
    *retry = true;
    switch (rc) {
    case CURLE_OPERATION_TIMEDOUT: *timeout = true; return "timeout";
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_SSL_CONNECT_ERROR: return "connect_error";
    default: return "error";
    }
}

static void on_backoff(struct srv_timer *t) {
    start_attempt(t->data);
}

static void upstream_failed(struct request *q, const char *detail) {
    struct srv_server *s = q->s;
    bool direct = q->route < 0;
    if (q->retries_left > 0) {
        q->retries_left--;
        double delay = s->c->backoff_s *
                       (double)(1u << (q->model_attempts - 1 < 6 ? q->model_attempts - 1 : 6));
        if (q->call.retry_after_s > delay && q->call.retry_after_s <= 10)
            delay = q->call.retry_after_s;
        q->state = S_BACKOFF;
        q->backoff.cb = on_backoff;
        q->backoff.data = q;
        srv_timer_start(s->loop, &q->backoff, delay);
        return;
    }
    int other = q->model == s->strong ? s->weak : s->strong;
    if (s->c->fallback && !direct && !q->fell_back && other != q->model) {
        srv_metrics_fallback(s->metrics, q->model, other);
        struct srv_log l;
        srv_log_begin(&l, SRV_LOG_WARN, "fallback");
        srv_log_str(&l, "id", q->id);
        srv_log_str(&l, "from", s->c->models[q->model].name);
        srv_log_str(&l, "to", s->c->models[other].name);
        srv_log_str(&l, "reason", detail);
        srv_log_end(&l);
        q->fell_back = true;
        q->model = other;
        q->model_attempts = 0;
        q->retries_left = s->c->retries;
        start_attempt(q);
        return;
    }
    char msg[400];
    snprintf(msg, sizeof msg, "upstream model '%s' failed after %d attempt%s: %s",
             s->c->models[q->model].name, q->attempts, q->attempts == 1 ? "" : "s", detail);
    answer_error(q, q->last_timeout ? 504 : 502, msg, "upstream_error", NULL,
                 q->last_timeout ? "upstream_timeout" : "upstream_failed");
}

static size_t on_body(struct srv_call *call, const char *data, size_t n) {
    struct request *q = call->data;
    if (q->committed)
        return relay_push(q, data, n);
    if (q->stream && call->status >= 200 && call->status < 300) {
        snprintf(q->ctype, sizeof q->ctype, "%s",
                 call->content_type[0] ? call->content_type : "text/event-stream");
        bool sse = strncasecmp(q->ctype, "text/event-stream", 17) == 0;
        if (srv_relay_init(&q->relay, SRV_STREAM_RING, sse, q->s->c->models[q->model].name,
                           &relay_ops, q) != RL_OK)
            return 0;
        q->committed = true;
        q->status = (int)call->status;
        q->reply_stream = true;
        q->reply_ready = true;
        q->state = S_ANSWERED;
        resume(q);
        return relay_push(q, data, n);
    }
    if (rl_buf_append(&q->resp, data, n) != RL_OK) {
        q->resp_too_big = true;
        return 0;
    }
    return n;
}

static void on_done(struct srv_call *call, CURLcode rc) {
    struct request *q = call->data;
    struct srv_server *s = q->s;
    double secs = (double)(srv_now_ns() - q->t_attempt) * 1e-9;
    if (q->committed) {
        bool retry, timeout;
        q->outcome = rc == CURLE_OK ? "ok" : classify(rc, &retry, &timeout);
        srv_metrics_attempt(s->metrics, q->model, q->outcome, secs);
        srv_relay_end(&q->relay, rc == CURLE_OK ? NULL : curl_easy_strerror(rc));
        return;
    }
    char detail[300];
    bool retry = false;
    q->last_timeout = false;
    long status = call->status;
    if (rc == CURLE_OK && status >= 200 && status < 300) {
        json_error_t jerr;
        json_t *j = q->resp.len ? json_loadb(q->resp.data, q->resp.len, 0, &jerr) : NULL;
        if (!j) {
            q->outcome = "malformed";
            srv_metrics_attempt(s->metrics, q->model, q->outcome, secs);
            snprintf(detail, sizeof detail, "upstream model '%s' returned %s",
                     s->c->models[q->model].name,
                     q->resp.len ? "a body that is not valid JSON" : "an empty body");
            answer_error(q, 502, detail, "upstream_error", NULL, "upstream_malformed");
            return;
        }
        q->have_usage = srv_usage(j, &q->prompt_tokens, &q->completion_tokens);
        json_decref(j);
        q->outcome = "ok";
        srv_metrics_attempt(s->metrics, q->model, q->outcome, secs);
        answer(q, (int)status, &q->resp,
               call->content_type[0] ? call->content_type : "application/json");
        return;
    }
    if (rc == CURLE_OK && status != 429 && status < 500) {
        // The upstream refused the request itself (400, 401, 404, ...): retrying or another
        // model would not help, so its answer goes back as it is.
        q->outcome = "http_4xx";
        srv_metrics_attempt(s->metrics, q->model, q->outcome, secs);
        answer(q, status >= 100 ? (int)status : 502, &q->resp,
               call->content_type[0] ? call->content_type : "application/json");
        return;
    }
    if (rc == CURLE_OK) {
        q->outcome = status == 429 ? "http_429" : "http_5xx";
        retry = true;
        snprintf(detail, sizeof detail, "HTTP %ld", status);
    } else if (q->resp_too_big) {
        q->outcome = "too_large";
        snprintf(detail, sizeof detail, "the response exceeds server.max_response_bytes (%zu)",
                 s->c->max_response);
    } else {
        q->outcome = classify(rc, &retry, &q->last_timeout);
        snprintf(detail, sizeof detail, "%s",
                 call->errbuf[0] ? call->errbuf : curl_easy_strerror(rc));
    }
    srv_metrics_attempt(s->metrics, q->model, q->outcome, secs);
    struct srv_log l;
    srv_log_begin(&l, SRV_LOG_WARN, "upstream attempt failed");
    srv_log_str(&l, "id", q->id);
    srv_log_str(&l, "model", s->c->models[q->model].name);
    srv_log_str(&l, "outcome", q->outcome);
    srv_log_str(&l, "detail", detail);
    srv_log_int(&l, "attempt", q->attempts);
    srv_log_end(&l);
    if (!retry) {
        answer_error(q, 502, detail, "upstream_error", NULL, "upstream_failed");
        return;
    }
    upstream_failed(q, detail);
}

static void start_attempt(struct request *q) {
    struct srv_server *s = q->s;
    const struct srv_model *m = &s->c->models[q->model];
    if (q->up_body_model != q->model) {
        rl_buf_free(&q->up_body);
        rl_buf_init(&q->up_body, s->c->max_body + 256);
        if (srv_body_set_model(q->body.data, q->body.len, m->model, &q->up_body) != RL_OK) {
            answer_error(q, 500, "could not rewrite the request body", "server_error", NULL, NULL);
            return;
        }
        q->up_body_model = q->model;
    }
    rl_buf_free(&q->resp);
    rl_buf_init(&q->resp, s->c->max_response);
    q->resp_too_big = false;
    q->attempts++;
    q->model_attempts++;
    q->t_attempt = srv_now_ns();
    q->state = S_UPSTREAM;
    q->call.on_body = on_body;
    q->call.on_done = on_done;
    q->call.data = q;
    if (srv_upstream_start(s->up, &q->call, s->urls[q->model], s->headers[q->model],
                           q->up_body.data, q->up_body.len, m->timeout_s,
                           m->connect_timeout_s) != RL_OK)
        answer_error(q, 500, "could not start the upstream request", "server_error", NULL, NULL);
}

// ----------------------------------------------------------------------------
// Routing

static void routed(struct request *q, const float *embedding) {
    struct srv_server *s = q->s;
    const struct route *rt = &s->routes[q->route];
    double p;
    if (rl_router_score(rt->r, &rt->pair, embedding, &p) != RL_OK) {
        answer_error(q, 500, "the router failed to score the prompt", "server_error", NULL, NULL);
        return;
    }
    q->p_strong = p;
    // RouteLLM §1.1: strong when p_strong >= α.
    q->model = p >= q->threshold ? s->strong : s->weak;
    q->first_model = q->model;
    srv_metrics_routing(s->metrics, q->route, q->model, (double)(srv_now_ns() - q->t_route) * 1e-9);
    if (q->kind == K_ROUTE) {
        char text[512];
        snprintf(text, sizeof text,
                 "{\"model\":\"%s\",\"p_strong\":%.15g,\"threshold\":%.15g,\"router\":\"%s\"}",
                 s->c->models[q->model].name, p, q->threshold, rt->name);
        answer_json(q, 200, text);
        return;
    }
    start_attempt(q);
}

static void on_embedding(struct srv_embed_waiter *w, const float *embedding, int status) {
    struct request *q = (struct request *)((char *)w - offsetof(struct request, waiter));
    if (status != RL_OK) {
        answer_error(q, 500, "the encoder failed to embed the prompt", "server_error", NULL, NULL);
        return;
    }
    routed(q, embedding);
}

// Parse the body and decide where the request goes.
static void dispatch(struct request *q) {
    struct srv_server *s = q->s;
    char msg[400];
    q->json = srv_body_parse(q->body.data ? q->body.data : "", q->body.len, msg, sizeof msg);
    if (!q->json) {
        answer_error(q, 400, msg, "invalid_request_error", NULL, "invalid_json");
        return;
    }
    const char *name = json_string_value(json_object_get(q->json, "model"));
    if (!name) {
        answer_error(q, 400, "'model' is required and must be a string", "invalid_request_error",
                     "model", "invalid_model");
        return;
    }
    q->stream = json_is_true(json_object_get(q->json, "stream"));
    char router[SRV_NAME_MAX];
    const char *why = NULL;
    int rc = srv_parse_router_model(name, router, sizeof router, &q->threshold, &why);
    if (rc < 0) {
        snprintf(msg, sizeof msg, "invalid model '%.100s': %s", name, why);
        answer_error(q, 400, msg, "invalid_request_error", "model", "invalid_model");
        return;
    }
    if (rc == 0) {
        q->model = srv_config_model_index(s->c, name);
        if (q->model < 0 || q->kind == K_ROUTE) {
            snprintf(msg, sizeof msg,
                     q->kind == K_ROUTE
                         ? "'%.100s' is not a router model; use router-<router>-<threshold>"
                         : "the model '%.100s' does not exist; GET /v1/models lists the router "
                           "aliases and upstream models",
                     name);
            q->model = -1;
            answer_error(q, 400, msg, "invalid_request_error", "model", "model_not_found");
            return;
        }
        q->first_model = q->model;
        start_attempt(q);
        return;
    }
    for (size_t i = 0; i < s->n_routes && q->route < 0; i++)
        if (strcmp(s->routes[i].name, router) == 0)
            q->route = (int)i;
    if (q->route < 0) {
        int n = snprintf(msg, sizeof msg, "the router '%s' is not loaded; loaded:", router);
        for (size_t i = 0; i < s->n_routes && n > 0 && (size_t)n < sizeof msg; i++)
            n += snprintf(msg + n, sizeof msg - (size_t)n, " %s", s->routes[i].name);
        answer_error(q, 400, msg, "invalid_request_error", "model", "model_not_found");
        return;
    }
    rl_buf_init(&q->prompt, SRV_MAX_PROMPT + 1);
    if (srv_routing_prompt(q->json, &q->prompt, &why) != RL_OK) {
        answer_error(q, 400, why ? why : "out of memory", "invalid_request_error", "messages",
                     "invalid_messages");
        return;
    }
    q->t_route = srv_now_ns();
    if (!s->routes[q->route].needs_embedding) {
        routed(q, NULL);
        return;
    }
    const float *embedding = NULL;
    q->waiter.cb = on_embedding;
    rc = srv_embedder_get(s->emb, q->prompt.data, q->prompt.len, &q->waiter, &embedding);
    if (rc < 0) {
        answer_error(q, 500, "out of memory while routing", "server_error", NULL, NULL);
        return;
    }
    if (rc == 1) {
        routed(q, embedding);
        return;
    }
    q->state = S_EMBEDDING;
}

// ----------------------------------------------------------------------------
// Requests: creation, the access handler, completion

static void make_id(struct request *q, const char *given) {
    bool ok = given && *given && strlen(given) < sizeof q->id;
    for (const char *p = given; ok && *p; p++)
        ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
             *p == '-' || *p == '_' || *p == '.';
    if (ok) {
        snprintf(q->id, sizeof q->id, "%s", given);
        return;
    }
    uint64_t x = q->s->id_seed + ++q->s->id_next * 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 31)) * 0xbf58476d1ce4e5b9ull;
    snprintf(q->id, sizeof q->id, "req_%016llx", (unsigned long long)(x ^ (x >> 29)));
}

static bool authorized(struct request *q) {
    const struct srv_config *c = q->s->c;
    if (c->n_keys == 0)
        return true;
    const char *h = MHD_lookup_connection_value(q->conn, MHD_HEADER_KIND, "Authorization");
    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return false;
    return srv_key_allowed(c, h + 7);
}

// Requests that need no body are answered from their headers alone.
static void begin(struct request *q, const char *method) {
    struct srv_server *s = q->s;
    const char *p = q->path;
    bool get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0;
    if (strcmp(p, "/v1/chat/completions") == 0)
        q->kind = K_CHAT;
    else if (strcmp(p, "/v1/route") == 0)
        q->kind = K_ROUTE;
    if (strcmp(p, "/health") == 0 && get) {
        answer_json(q, s->draining ? 503 : 200,
                    s->draining ? "{\"status\":\"draining\"}" : "{\"status\":\"online\"}");
        return;
    }
    if (strcmp(p, "/metrics") == 0 && get) {
        struct rl_buf b;
        rl_buf_init(&b, 16u << 20);
        struct srv_embed_stats st =
            s->emb ? srv_embedder_stats(s->emb) : (struct srv_embed_stats){0};
        if (srv_metrics_render(s->metrics, s->emb ? &st : NULL, &b) != RL_OK) {
            answer_error(q, 500, "could not render the metrics", "server_error", NULL, NULL);
            return;
        }
        answer(q, 200, &b, "text/plain; version=0.0.4; charset=utf-8");
        return;
    }
    bool known = strcmp(p, "/v1/chat/completions") == 0 || strcmp(p, "/v1/route") == 0 ||
                 strcmp(p, "/v1/models") == 0 || strncmp(p, "/v1/models/", 11) == 0 ||
                 strcmp(p, "/health") == 0 || strcmp(p, "/metrics") == 0;
    if (!known) {
        answer_error(q, 404, "no such endpoint", "invalid_request_error", NULL, "not_found");
        return;
    }
    bool wants_post = strcmp(p, "/v1/chat/completions") == 0 || strcmp(p, "/v1/route") == 0;
    if ((wants_post && !post) || (!wants_post && !get)) {
        answer_error(q, 405, wants_post ? "use POST" : "use GET", "invalid_request_error", NULL,
                     "method_not_allowed");
        return;
    }
    if (!authorized(q)) {
        answer_error(q, 401, "missing or wrong API key (send 'Authorization: Bearer <key>')",
                     "invalid_request_error", NULL, "invalid_api_key");
        return;
    }
    if (strcmp(p, "/v1/models") == 0) {
        answer_json(q, 200, s->models_json);
        return;
    }
    if (strncmp(p, "/v1/models/", 11) == 0) {
        // One entry of the list, found by its exact id.
        json_t *list = json_loads(s->models_json, 0, NULL);
        json_t *data = json_object_get(list, "data"), *hit = NULL;
        for (size_t i = 0; i < json_array_size(data) && !hit; i++) {
            json_t *m = json_array_get(data, i);
            if (strcmp(json_string_value(json_object_get(m, "id")), p + 11) == 0)
                hit = m;
        }
        char *text = hit ? json_dumps(hit, JSON_COMPACT) : NULL;
        if (text)
            answer_json(q, 200, text);
        else
            answer_error(q, 404, "no such model", "invalid_request_error", "model",
                         "model_not_found");
        free(text);
        json_decref(list);
        return;
    }
    const char *cl = MHD_lookup_connection_value(q->conn, MHD_HEADER_KIND, "Content-Length");
    if (cl && strtoull(cl, NULL, 10) > s->c->max_body) {
        refuse_too_large(q);
        return;
    }
    rl_buf_init(&q->body, s->c->max_body);
}

static struct request *request_new(struct srv_server *s, struct MHD_Connection *conn,
                                   const char *url, const char *method) {
    struct request *q = calloc(1, sizeof *q);
    if (!q)
        return NULL;
    q->s = s;
    q->conn = conn;
    q->t0 = srv_now_ns();
    q->route = -1;
    q->model = -1;
    q->first_model = -1;
    q->up_body_model = -1;
    q->retries_left = s->c->retries;
    q->kind = K_OTHER;
    snprintf(q->method, sizeof q->method, "%s", method);
    snprintf(q->path, sizeof q->path, "%s", url);
    rl_buf_init(&q->body, 0);
    rl_buf_init(&q->reply, 0);
    rl_buf_init(&q->resp, 0);
    rl_buf_init(&q->up_body, 0);
    rl_buf_init(&q->prompt, 0);
    make_id(q, MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "x-request-id"));
    q->next = s->live;
    if (s->live)
        s->live->prev = q;
    s->live = q;
    s->n_live++;
    srv_metrics_inflight(s->metrics, 1);
    return q;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls) {
    (void)version;
    struct srv_server *s = cls;
    struct request *q = *con_cls;
    if (!q) {
        q = request_new(s, conn, url, method);
        if (!q)
            return MHD_NO;
        *con_cls = q;
        begin(q, method);
        // A GET is answered on the next call, once MHD knows there is no body, so that the
        // connection stays open; a refused POST is answered now, before its body is read.
        bool has_body = strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0;
        return q->reply_ready && has_body ? send_answer(q) : MHD_YES;
    }
    if (q->cancelled)
        return MHD_NO;
    if (*upload_data_size) {
        q->body_seen += *upload_data_size;
        if (!q->too_big && rl_buf_append(&q->body, upload_data, *upload_data_size) != RL_OK) {
            q->too_big = true;
            rl_buf_free(&q->body);
        }
        *upload_data_size = 0;
        // A chunked body announces no length, so one over the limit is read to its end and
        // dropped, and then refused with 413; a client still sending after SRV_DRAIN_FACTOR times
        // the limit is disconnected instead.
        return q->too_big && q->body_seen / SRV_DRAIN_FACTOR > s->c->max_body ? MHD_NO : MHD_YES;
    }
    if (q->too_big && !q->reply_ready)
        refuse_too_large(q);
    if (q->state == S_RECEIVING && !q->reply_ready)
        dispatch(q);
    if (q->reply_ready)
        return send_answer(q);
    suspend(q);
    return MHD_YES;
}

static int status_of(const struct request *q, enum MHD_RequestTerminationCode toe) {
    if (q->reply_ready)
        return q->status;
    // nginx's convention for "the client closed the request before it was answered".
    return toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? 500 : 499;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
    (void)conn;
    struct srv_server *s = cls;
    struct request *q = *con_cls;
    if (!q)
        return;
    *con_cls = NULL;
    cancel_work(q);
    if (q->hup_watched)
        srv_loop_del(s->loop, &q->hup);
    if (q->committed && q->relay.events.have_usage) {
        q->have_usage = true;
        q->prompt_tokens = q->relay.events.prompt_tokens;
        q->completion_tokens = q->relay.events.completion_tokens;
    }
    int status = status_of(q, toe);
    bool stream_cut = q->committed && toe != MHD_REQUEST_TERMINATED_COMPLETED_OK;
    if (q->kind != K_OTHER)
        srv_metrics_request(s->metrics, q->route, q->model, stream_cut ? 499 : status);
    if (q->have_usage && status < 400)
        srv_metrics_usage(s->metrics, q->model, s->strong, q->prompt_tokens, q->completion_tokens);
    if (s->c->log_requests || status >= 500) {
        struct srv_log l;
        srv_log_begin(&l, status >= 500 ? SRV_LOG_WARN : SRV_LOG_INFO, "request");
        srv_log_str(&l, "id", q->id);
        srv_log_str(&l, "method", q->method);
        srv_log_str(&l, "path", q->path);
        srv_log_int(&l, "status", status);
        if (q->route >= 0) {
            srv_log_str(&l, "router", s->routes[q->route].name);
            srv_log_num(&l, "threshold", q->threshold);
            srv_log_num(&l, "p_strong", q->p_strong);
        }
        if (q->model >= 0)
            srv_log_str(&l, "model", s->c->models[q->model].name);
        if (q->attempts)
            srv_log_int(&l, "attempts", q->attempts);
        if (q->fell_back)
            srv_log_str(&l, "fallback_from", s->c->models[q->first_model].name);
        if (q->stream)
            srv_log_str(&l, "stream",
                        stream_cut            ? "client_closed"
                        : q->relay.error_sent ? "error"
                                              : "ok");
        if (q->have_usage) {
            srv_log_int(&l, "prompt_tokens", q->prompt_tokens);
            srv_log_int(&l, "completion_tokens", q->completion_tokens);
        }
        srv_log_num(&l, "ms", (double)(srv_now_ns() - q->t0) * 1e-6);
        srv_log_end(&l);
    }
    if (q->prev)
        q->prev->next = q->next;
    else
        s->live = q->next;
    if (q->next)
        q->next->prev = q->prev;
    s->n_live--;
    srv_metrics_inflight(s->metrics, -1);
    json_decref(q->json);
    rl_buf_free(&q->body);
    rl_buf_free(&q->reply);
    rl_buf_free(&q->resp);
    rl_buf_free(&q->up_body);
    rl_buf_free(&q->prompt);
    srv_relay_free(&q->relay);
    free(q);
}

static void mhd_logger(void *cls, const char *fmt, va_list ap) {
    (void)cls;
    char text[512];
    vsnprintf(text, sizeof text, fmt, ap);
    size_t n = strlen(text);
    while (n && (text[n - 1] == '\n' || text[n - 1] == '\r'))
        text[--n] = '\0';
    srv_logf(SRV_LOG_WARN, "http", "%s", text);
}

// ----------------------------------------------------------------------------
// Start-up

// At max_connections libmicrohttpd takes its listening socket out of its epoll set, and puts it
// back only at the start of its next run. When the last connections close, nothing else would
// wake the loop for that run and the server would never accept again: so every close asks for
// one more run.
static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe) {
    (void)conn;
    (void)socket_context;
    if (toe == MHD_CONNECTION_NOTIFY_CLOSED)
        ((struct srv_server *)cls)->mhd_kick = true;
}

static void on_mhd(struct srv_watch *w, uint32_t events) {
    (void)events;
    struct srv_server *s = w->data;
    s->mhd_kick = false;
    MHD_run(s->mhd);
}

// Signals arrive through a pipe: libraries such as OpenBLAS start threads before main, so the
// signal cannot be blocked everywhere as signalfd would need, and a handler may do nothing but
// write(2).
static int signal_pipe[2] = {-1, -1};

static void on_signal_handler(int sig) {
    unsigned char b = (unsigned char)sig;
    int saved = errno;
    ssize_t n = write(signal_pipe[1], &b, 1);
    (void)n; // a full pipe already holds a pending signal
    errno = saved;
}

static void on_signal(struct srv_watch *w, uint32_t events) {
    (void)events;
    struct srv_server *s = w->data;
    unsigned char sig = 0;
    if (read(w->fd, &sig, 1) != 1 || s->draining)
        return;
    s->draining = true;
    s->drain_deadline_ns = srv_now_ns() + (uint64_t)(s->c->drain_timeout_s * 1e9);
    MHD_socket lfd = MHD_quiesce_daemon(s->mhd);
    if (lfd != MHD_INVALID_SOCKET)
        close(lfd);
    srv_logf(SRV_LOG_INFO, "draining", "signal %u: no new connections; %ld request(s) in flight",
             (unsigned)sig, s->n_live);
}

// A relative checkpoint path is tried from the working directory, then from the home.
static struct rl_router *load_router(const struct srv_router_cfg *rc, const char *home,
                                     char *errbuf) {
    const char *what = rc->path ? rc->path : rc->name;
    if (rc->path && rc->path[0] != '/' && !rl_file_exists(rc->path)) {
        char path[4096];
        if (rl_path_join(path, sizeof path, home, rc->path) == RL_OK && rl_file_exists(path))
            return rl_router_load(path, home, errbuf);
    }
    return rl_router_load(what, home, errbuf);
}

static int add_route(struct srv_server *s, const char *name, struct rl_router *r,
                     const struct srv_router_cfg *rc, char *errbuf) {
    struct route *rt = &s->routes[s->n_routes];
    memset(rt, 0, sizeof *rt);
    snprintf(rt->name, sizeof rt->name, "%s", name);
    rt->r = r;
    rt->threshold = rc ? rc->threshold : 0.5;
    rt->needs_embedding = rl_router_encoder_dim(r) > 0;
    char err[RL_ERRBUF_SIZE];
    if (rl_router_pair(r, rc ? rc->strong : NULL, rc ? rc->weak : NULL, &rt->pair, err) != RL_OK) {
        rl_router_free(r);
        return rl__errf(errbuf, RL_EINVAL, "routers.%s: %s", name, err);
    }
    s->n_routes++;
    return RL_OK;
}

static int load_routes(struct srv_server *s, const char *home, char *errbuf) {
    static const char *const shipped[] = {"random", "mf", "sw_ranking", "bert"};
    const struct srv_config *c = s->c;
    size_t n = c->routers_given ? c->n_routers : RL_COUNTOF(shipped);
    s->routes = calloc(n ? n : 1, sizeof *s->routes);
    if (!s->routes)
        return rl__errf(errbuf, RL_ENOMEM, "out of memory");
    char err[RL_ERRBUF_SIZE];
    for (size_t i = 0; i < n; i++) {
        const struct srv_router_cfg *rc = c->routers_given ? &c->routers[i] : NULL;
        const char *name = rc ? rc->name : shipped[i];
        struct rl_router *r = rc ? load_router(rc, home, err) : rl_router_load(name, home, err);
        if (!r && rc) {
            return rl__errf(errbuf, RL_EINVAL, "%s:%d: routers.%s: %s",
                            c->path ? c->path : "--routers", rc->line, name, err);
        }
        if (!r) {
            srv_logf(SRV_LOG_WARN, "router not available", "%s: %s", name, err);
            continue;
        }
        int st = add_route(s, name, r, rc, errbuf);
        if (st != RL_OK)
            return st;
    }
    if (s->n_routes == 0)
        return rl__errf(errbuf, RL_EINVAL, "no router could be loaded");
    return RL_OK;
}

static int load_encoder(struct srv_server *s, char *errbuf) {
    bool needed = false;
    for (size_t i = 0; i < s->n_routes; i++)
        needed |= s->routes[i].needs_embedding;
    if (!needed)
        return RL_OK;
    char err[RL_ERRBUF_SIZE];
    s->enc = rl_encoder_load(s->c->encoder_dir, err);
    if (!s->enc)
        return rl__errf(errbuf, RL_EINVAL, "encoder %s: %s", s->c->encoder_dir, err);
    for (size_t i = 0; i < s->n_routes; i++)
        if (rl_router_check_encoder(s->routes[i].r, s->enc, err) != RL_OK)
            return rl__errf(errbuf, RL_EINVAL, "router %s: %s", s->routes[i].name, err);
    s->emb = srv_embedder_new(s->enc, s->loop, s->c->encoder_workers, s->c->batch_max,
                              s->c->cache_entries, errbuf);
    return s->emb ? RL_OK : RL_ENOMEM;
}

static int build_upstreams(struct srv_server *s, char *errbuf) {
    const struct srv_config *c = s->c;
    s->urls = calloc(c->n_models, sizeof *s->urls);
    s->headers = calloc(c->n_models, sizeof *s->headers);
    if (!s->urls || !s->headers)
        return rl__errf(errbuf, RL_ENOMEM, "out of memory");
    for (size_t i = 0; i < c->n_models; i++) {
        const struct srv_model *m = &c->models[i];
        size_t n = strlen(m->base_url);
        while (n && m->base_url[n - 1] == '/')
            n--;
        struct rl_buf b;
        rl_buf_init(&b, 8192);
        if (rl_buf_appendf(&b, "%.*s/chat/completions", (int)n, m->base_url) != RL_OK)
            return rl__errf(errbuf, RL_ENOMEM, "out of memory");
        s->urls[i] = rl_buf_take(&b, NULL);
        struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
        // No "Expect: 100-continue" round trip before larger bodies.
        h = h ? curl_slist_append(h, "Expect:") : NULL;
        if (h && m->api_key) {
            rl_buf_init(&b, 8192);
            if (rl_buf_appendf(&b, "Authorization: Bearer %s", m->api_key) != RL_OK)
                return rl__errf(errbuf, RL_ENOMEM, "out of memory");
            struct curl_slist *h2 = curl_slist_append(h, b.data);
            rl_buf_free(&b);
            h = h2;
        }
        if (!h)
            return rl__errf(errbuf, RL_ENOMEM, "out of memory");
        s->headers[i] = h;
    }
    return RL_OK;
}

static int build_model_list(struct srv_server *s) {
    json_t *data = json_array();
    long long created = (long long)time(NULL);
    for (size_t i = 0; data && i < s->n_routes; i++) {
        char id[SRV_NAME_MAX + 64];
        snprintf(id, sizeof id, "router-%s-%g", s->routes[i].name, s->routes[i].threshold);
        json_array_append_new(data,
                              json_pack("{s:s,s:s,s:I,s:s}", "id", id, "object", "model", "created",
                                        (json_int_t)created, "owned_by", "routellm"));
    }
    for (size_t i = 0; data && i < s->c->n_models; i++)
        json_array_append_new(data, json_pack("{s:s,s:s,s:I,s:s}", "id", s->c->models[i].name,
                                              "object", "model", "created", (json_int_t)created,
                                              "owned_by", "upstream"));
    json_t *list = data ? json_pack("{s:s,s:o}", "object", "list", "data", data) : NULL;
    s->models_json = list ? json_dumps(list, JSON_COMPACT) : NULL;
    json_decref(list);
    return s->models_json ? RL_OK : RL_ENOMEM;
}

static int start_http(struct srv_server *s, char *errbuf) {
    const struct srv_config *c = s->c;
    struct addrinfo hints = {.ai_flags = AI_PASSIVE | AI_NUMERICSERV, .ai_socktype = SOCK_STREAM};
    struct addrinfo *ai = NULL;
    char port[16];
    snprintf(port, sizeof port, "%d", c->port);
    int gai = getaddrinfo(c->host, port, &hints, &ai);
    if (gai != 0)
        return rl__errf(errbuf, RL_EINVAL, "server.host '%s': %s", c->host, gai_strerror(gai));
    unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_TURBO | MHD_USE_ERROR_LOG |
                     (ai->ai_family == AF_INET6 ? MHD_USE_IPv6 : 0);
    s->mhd = MHD_start_daemon(
        flags, (uint16_t)c->port, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_logger,
        NULL, MHD_OPTION_SOCK_ADDR, ai->ai_addr, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)c->max_connections, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)c->idle_timeout_s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, c->max_header, MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, s, MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u, MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!s->mhd)
        return rl__errf(errbuf, RL_EIO, "cannot listen on %s:%d: %s", c->host, c->port,
                        strerror(errno));
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_EPOLL_FD);
    const union MHD_DaemonInfo *pi = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
    if (!di || !pi)
        return rl__errf(errbuf, RL_EIO, "libmicrohttpd: no epoll descriptor");
    s->port = pi->port;
    s->mhd_watch.fd = di->epoll_fd;
    s->mhd_watch.cb = on_mhd;
    s->mhd_watch.data = s;
    if (srv_loop_add(s->loop, &s->mhd_watch, EPOLLIN) != RL_OK)
        return rl__errf(errbuf, RL_EIO, "epoll: %s", strerror(errno));
    return RL_OK;
}

struct srv_server *srv_server_new(struct srv_config *c, const char *home, char *errbuf) {
    signal(SIGPIPE, SIG_IGN);

    struct srv_server *s = calloc(1, sizeof *s);
    if (!s) {
        rl__errf(errbuf, RL_ENOMEM, "out of memory");
        return NULL;
    }
    s->c = c;
    s->strong = srv_config_model_index(c, c->strong);
    s->weak = srv_config_model_index(c, c->weak);
    s->sig.fd = -1;
    if (getrandom(&s->id_seed, sizeof s->id_seed, 0) != (ssize_t)sizeof s->id_seed)
        s->id_seed = (uint64_t)time(NULL) ^ (uint64_t)getpid() << 32;
    s->loop = srv_loop_new();
    s->up = s->loop ? srv_upstream_new(s->loop) : NULL;
    if (!s->loop || !s->up) {
        rl__errf(errbuf, RL_ENOMEM, "cannot create the event loop");
        goto fail;
    }
    if (load_routes(s, home, errbuf) != RL_OK || load_encoder(s, errbuf) != RL_OK)
        goto fail;
    const char *names[256];
    for (size_t i = 0; i < s->n_routes && i < RL_COUNTOF(names); i++)
        names[i] = s->routes[i].name;
    s->metrics = srv_metrics_new(c, names, s->n_routes);
    if (!s->metrics || build_model_list(s) != RL_OK) {
        rl__errf(errbuf, RL_ENOMEM, "out of memory");
        goto fail;
    }
    if (build_upstreams(s, errbuf) != RL_OK || start_http(s, errbuf) != RL_OK)
        goto fail;
    if (signal_pipe[0] < 0 && pipe2(signal_pipe, O_NONBLOCK | O_CLOEXEC) != 0) {
        rl__errf(errbuf, RL_EIO, "pipe: %s", strerror(errno));
        goto fail;
    }
    s->sig.fd = signal_pipe[0];
    s->sig.cb = on_signal;
    s->sig.data = s;
    if (srv_loop_add(s->loop, &s->sig, EPOLLIN) != RL_OK) {
        rl__errf(errbuf, RL_EIO, "epoll: %s", strerror(errno));
        goto fail;
    }
    struct sigaction sa = {.sa_handler = on_signal_handler};
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    return s;
fail:
    srv_server_free(s);
    return NULL;
}

int srv_server_port(const struct srv_server *s) {
    return s->port;
}

// ----------------------------------------------------------------------------
// Running and stopping

int srv_server_run(struct srv_server *s) {
    struct srv_log l;
    srv_log_begin(&l, SRV_LOG_INFO, "listening");
    srv_log_str(&l, "host", s->c->host);
    srv_log_int(&l, "port", s->port);
    char names[512] = "";
    for (size_t i = 0, used = 0; i < s->n_routes && used < sizeof names; i++)
        used += (size_t)snprintf(names + used, sizeof names - used, "%s%s", i ? "," : "",
                                 s->routes[i].name);
    srv_log_str(&l, "routers", names);
    srv_log_str(&l, "strong", s->c->strong);
    srv_log_str(&l, "weak", s->c->weak);
    srv_log_end(&l);
    for (;;) {
        if (s->draining && (s->n_live == 0 || srv_now_ns() >= s->drain_deadline_ns))
            break;
        MHD_UNSIGNED_LONG_LONG to = 0;
        int wait = -1;
        if (MHD_get_timeout(s->mhd, &to) == MHD_YES)
            wait = to > 60000 ? 60000 : (int)to;
        if (s->draining && (wait < 0 || wait > 50))
            wait = 50;
        if (s->mhd_kick)
            wait = 0;
        if (srv_loop_run_once(s->loop, wait) != RL_OK) {
            srv_logf(SRV_LOG_ERROR, "event loop failed", "%s", strerror(errno));
            return 1;
        }
        // Run MHD after a resume (its own wake-up would cost another loop turn) and for its
        // connection timeouts, which nothing else signals.
        if (s->mhd_kick || (MHD_get_timeout(s->mhd, &to) == MHD_YES && to == 0)) {
            s->mhd_kick = false;
            MHD_run(s->mhd);
        }
    }
    if (s->n_live) {
        srv_logf(SRV_LOG_WARN, "drain deadline passed", "%ld request(s) cut off", s->n_live);
        for (struct request *q = s->live; q; q = q->next) {
            cancel_work(q);
            q->cancelled = true;
            resume(q);
        }
        MHD_run(s->mhd);
    }
    srv_logf(SRV_LOG_INFO, "stopped", "all requests finished or cut off");
    return 0;
}

void srv_server_free(struct srv_server *s) {
    if (!s)
        return;
    if (s->mhd)
        MHD_stop_daemon(s->mhd);
    srv_embedder_free(s->emb);
    rl_encoder_free(s->enc);
    for (size_t i = 0; i < s->n_routes; i++)
        rl_router_free(s->routes[i].r);
    free(s->routes);
    for (size_t i = 0; s->urls && i < s->c->n_models; i++)
        free(s->urls[i]);
    free(s->urls);
    for (size_t i = 0; s->headers && i < s->c->n_models; i++)
        curl_slist_free_all(s->headers[i]);
    free(s->headers);
    srv_upstream_free(s->up);
    srv_metrics_free(s->metrics);
    free(s->models_json);
    if (s->sig.fd >= 0)
        srv_loop_del(s->loop, &s->sig);
    srv_loop_free(s->loop);
    free(s);
}
