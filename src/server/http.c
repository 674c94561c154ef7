// The HTTP glue: libmicrohttpd's callbacks, the request object, client keys and answers. A
// request's path is looked up once in the endpoint table below, which says the method it takes,
// whether it needs a client key, and who handles it: endpoints without a body are answered from
// the headers, the two that take a body hand it to routing (route.c) once it is in.
//
// A request waiting on an embedding, an upstream or a slow stream is a suspended connection;
// while it is suspended its socket is watched for a hang-up, so a client that leaves cancels its
// upstream call at once rather than at the next write.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>

#include "server/server_impl.h"

#define STREAM_BLOCK 32768

// ----------------------------------------------------------------------------
// Suspending, resuming and answering

static void on_hangup(struct srv_watch *w, uint32_t events);

static void suspend(struct srv_request *q) {
    struct srv_client *cl = &q->client;
    if (cl->suspended)
        return;
    MHD_suspend_connection(cl->conn);
    cl->suspended = true;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(cl->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!ci)
        return;
    cl->hup.fd = ci->connect_fd;
    cl->hup.cb = on_hangup;
    cl->hup.data = q;
    cl->hup_watched = srv_loop_add(q->s->loop, &cl->hup, EPOLLRDHUP) == RL_OK;
}

void srv__resume(struct srv_request *q) {
    struct srv_client *cl = &q->client;
    if (!cl->suspended)
        return;
    if (cl->hup_watched) {
        srv_loop_del(q->s->loop, &cl->hup);
        cl->hup_watched = false;
    }
    cl->suspended = false;
    q->s->mhd_kick = true;
    MHD_resume_connection(cl->conn);
}

// Stop every piece of work the request has outstanding (no callbacks follow).
static void cancel_work(struct srv_request *q) {
    srv_embedder_cancel(q->s->emb, &q->routing.waiter);
    srv__attempts_stop(q);
}

void srv__request_cut(struct srv_request *q) {
    cancel_work(q);
    q->client.cancelled = true;
    srv__resume(q);
}

static void on_hangup(struct srv_watch *w, uint32_t events) {
    (void)events;
    struct srv_request *q = w->data;
    srv__attempts_abandon(q);
    srv__request_cut(q);
}

void srv__answer(struct srv_request *q, int status, struct rl_buf *body, const char *ctype) {
    struct srv_reply *a = &q->reply;
    a->status = status;
    rl_buf_free(&a->body);
    a->body = *body;
    rl_buf_init(body, 0);
    snprintf(a->ctype, sizeof a->ctype, "%s", ctype);
    a->ready = true;
    q->state = SRV_ANSWERED;
    srv__resume(q);
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

void srv__answer_stream(struct srv_request *q, int status, const char *ctype) {
    struct srv_reply *a = &q->reply;
    a->status = status;
    snprintf(a->ctype, sizeof a->ctype, "%s", ctype);
    a->stream = true;
    a->ready = true;
    q->state = SRV_ANSWERED;
    srv__resume(q);
}

static void refuse_too_large(struct srv_request *q) {
    char msg[128];
    snprintf(msg, sizeof msg, "the body exceeds the limit of %zu bytes", q->s->c->max_body);
    srv__answer_error(q, 413, msg, "invalid_request_error", NULL, "body_too_large");
}

static void add_route_headers(struct srv_request *q, struct MHD_Response *r) {
    struct srv_server *s = q->s;
    bool answered = q->state == SRV_ANSWERED && q->reply.status < 400;
    MHD_add_response_header(r, "x-request-id", q->id);
    if (q->model >= 0 && q->kind != SRV_KIND_OTHER && answered)
        MHD_add_response_header(r, "x-routellm-model", s->c->models[q->model].name);
    if (q->routing.route >= 0 && answered) {
        char p[32];
        snprintf(p, sizeof p, "%.6f", q->routing.p_strong);
        MHD_add_response_header(r, "x-routellm-p-strong", p);
    }
    if (s->draining)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
}

static ssize_t stream_reader(void *cls, uint64_t pos, char *buf, size_t max) {
    (void)pos;
    struct srv_request *q = cls;
    if (q->client.cancelled)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    ssize_t n = srv_relay_read(&q->relay, buf, max);
    if (n == SRV_RELAY_WAIT)
        suspend(q); // the relay resumes it when there is more
    if (n == SRV_RELAY_END)
        return MHD_CONTENT_READER_END_OF_STREAM;
    if (n == SRV_RELAY_BROKEN)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    return n;
}

static enum MHD_Result send_answer(struct srv_request *q) {
    struct srv_reply *a = &q->reply;
    struct MHD_Response *r;
    if (a->stream) {
        r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, STREAM_BLOCK, stream_reader, q,
                                              NULL);
        if (r) {
            MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
            MHD_add_response_header(r, "X-Accel-Buffering", "no");
        }
    } else {
        size_t len;
        char *data = rl_buf_take(&a->body, &len);
        r = data ? MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE) : NULL;
        if (!r)
            free(data);
    }
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, a->ctype);
    add_route_headers(q, r);
    enum MHD_Result ok = MHD_queue_response(q->client.conn, (unsigned)a->status, r);
    MHD_destroy_response(r);
    return ok;
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
    struct srv_embed_stats st = s->emb ? srv_embedder_stats(s->emb) : (struct srv_embed_stats){0};
    if (srv_metrics_render(s->metrics, s->emb ? &st : NULL, &b) != RL_OK) {
        srv__answer_error(q, 500, "could not render the metrics", "server_error", NULL, NULL);
        return;
    }
    srv__answer(q, 200, &b, "text/plain; version=0.0.4; charset=utf-8");
}

static void get_models(struct srv_request *q) {
    srv__answer_json(q, 200, q->s->models_json);
}

// One entry of the list, found by its exact id.
static void get_model(struct srv_request *q) {
    const struct srv_server *s = q->s;
    const char *id = q->path + strlen("/v1/models/");
    for (size_t i = 0; i < s->n_model_entries; i++) {
        if (strcmp(s->model_entries[i].id, id) == 0) {
            srv__answer_json(q, 200, s->model_entries[i].json);
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
    const char *path; // a path ending in '/' matches every path below it
    enum srv_kind kind;
    bool public; // answered without a client key
    bool takes_body;
    void (*handler)(struct srv_request *q); // answers, or passes the request on to route.c
};

static const struct srv_endpoint endpoints[] = {
    {"GET", "/health", SRV_KIND_OTHER, true, false, get_health},
    {"GET", "/metrics", SRV_KIND_OTHER, true, false, get_metrics},
    {"GET", "/v1/models", SRV_KIND_OTHER, false, false, get_models},
    {"GET", "/v1/models/", SRV_KIND_OTHER, false, false, get_model},
    {"POST", "/v1/chat/completions", SRV_KIND_CHAT, false, true, srv__route},
    {"POST", "/v1/route", SRV_KIND_ROUTE, false, true, srv__route},
};

static const struct srv_endpoint *find_endpoint(const char *path) {
    for (size_t i = 0; i < RL_COUNTOF(endpoints); i++) {
        const char *p = endpoints[i].path;
        size_t n = strlen(p);
        if (p[n - 1] == '/' ? strncmp(path, p, n) == 0 : strcmp(path, p) == 0)
            return &endpoints[i];
    }
    return NULL;
}

static bool authorized(struct srv_request *q) {
    const struct srv_config *c = q->s->c;
    if (c->n_keys == 0)
        return true;
    const char *h = MHD_lookup_connection_value(q->client.conn, MHD_HEADER_KIND, "Authorization");
    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return false;
    return srv_key_allowed(c, h + 7);
}

// The headers are in: answer what can be answered now, or get ready for the body.
static void begin(struct srv_request *q, const char *method) {
    const struct srv_endpoint *ep = find_endpoint(q->path);
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
    const char *cl = MHD_lookup_connection_value(q->client.conn, MHD_HEADER_KIND, "Content-Length");
    if (cl && strtoull(cl, NULL, 10) > q->s->c->max_body) {
        refuse_too_large(q);
        return;
    }
    rl_buf_init(&q->client.body, q->s->c->max_body);
}

// ----------------------------------------------------------------------------
// Requests: creation, the access handler, completion

static void make_id(struct srv_request *q, const char *given) {
    bool ok = given && *given && strlen(given) < sizeof q->id;
    for (const char *p = given; ok && *p; p++)
        ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
             *p == '-' || *p == '_' || *p == '.';
    if (ok) {
        snprintf(q->id, sizeof q->id, "%s", given);
        return;
    }
    uint64_t x = rl__splitmix64_at(q->s->id_seed, q->s->id_next++);
    snprintf(q->id, sizeof q->id, "req_%016llx", (unsigned long long)x);
}

static struct srv_request *request_new(struct srv_server *s, struct MHD_Connection *conn,
                                       const char *url, const char *method) {
    struct srv_request *q = calloc(1, sizeof *q);
    if (!q)
        return NULL;
    q->s = s;
    q->client.conn = conn;
    q->t0 = srv_now_ns();
    q->routing.route = -1;
    q->model = -1;
    q->up.first_model = -1;
    q->up.body_model = -1;
    q->up.retries_left = s->c->retries;
    q->kind = SRV_KIND_OTHER;
    snprintf(q->method, sizeof q->method, "%s", method);
    snprintf(q->path, sizeof q->path, "%s", url);
    rl_buf_init(&q->client.body, 0);
    rl_buf_init(&q->reply.body, 0);
    rl_buf_init(&q->up.resp, 0);
    rl_buf_init(&q->up.body, 0);
    rl_buf_init(&q->routing.prompt, 0);
    make_id(q, MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "x-request-id"));
    q->next = s->live;
    if (s->live)
        s->live->prev = q;
    s->live = q;
    s->n_live++;
    srv_metrics_inflight(s->metrics, 1);
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
    srv_metrics_inflight(s->metrics, -1);
    json_decref(q->routing.json);
    rl_buf_free(&q->client.body);
    rl_buf_free(&q->reply.body);
    rl_buf_free(&q->up.resp);
    rl_buf_free(&q->up.body);
    rl_buf_free(&q->routing.prompt);
    srv_relay_free(&q->relay);
    free(q);
}

// Keep a piece of the body. A chunked body announces no length, so one over the limit is read to
// its end and dropped, and then refused with 413; a client still sending after SRV_DRAIN_FACTOR
// times the limit is disconnected instead.
static enum MHD_Result receive(struct srv_request *q, const char *data, size_t n) {
    struct srv_client *cl = &q->client;
    cl->body_seen += n;
    if (!cl->too_big && rl_buf_append(&cl->body, data, n) != RL_OK) {
        cl->too_big = true;
        rl_buf_free(&cl->body);
    }
    return cl->too_big && cl->body_seen / SRV_DRAIN_FACTOR > q->s->c->max_body ? MHD_NO : MHD_YES;
}

enum MHD_Result srv__http_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls) {
    (void)version;
    struct srv_server *s = cls;
    struct srv_request *q = *con_cls;
    if (!q) {
        q = request_new(s, conn, url, method);
        if (!q)
            return MHD_NO;
        *con_cls = q;
        begin(q, method);
        // A GET is answered on the next call, once MHD knows there is no body, so that the
        // connection stays open; a refused POST is answered now, before its body is read.
        bool has_body = strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0;
        return q->reply.ready && has_body ? send_answer(q) : MHD_YES;
    }
    if (q->client.cancelled)
        return MHD_NO;
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        return receive(q, upload_data, n);
    }
    if (q->client.too_big && !q->reply.ready)
        refuse_too_large(q);
    // Only an endpoint that takes a body is still unanswered here.
    if (q->state == SRV_RECEIVING && !q->reply.ready)
        q->ep->handler(q);
    if (q->reply.ready)
        return send_answer(q);
    suspend(q);
    return MHD_YES;
}

static void log_request(const struct srv_request *q, int status, bool stream_cut) {
    const struct srv_server *s = q->s;
    const struct srv_reply *a = &q->reply;
    struct srv_log l;
    srv_log_begin(&l, status >= 500 ? SRV_LOG_WARN : SRV_LOG_INFO, "request");
    srv_log_str(&l, "id", q->id);
    srv_log_str(&l, "method", q->method);
    srv_log_str(&l, "path", q->path);
    srv_log_int(&l, "status", status);
    if (q->routing.route >= 0) {
        srv_log_str(&l, "router", s->routes[q->routing.route].name);
        srv_log_num(&l, "threshold", q->routing.threshold);
        srv_log_num(&l, "p_strong", q->routing.p_strong);
    }
    if (q->model >= 0)
        srv_log_str(&l, "model", s->c->models[q->model].name);
    if (q->up.n)
        srv_log_int(&l, "attempts", q->up.n);
    if (q->up.fell_back)
        srv_log_str(&l, "fallback_from", s->c->models[q->up.first_model].name);
    if (q->routing.stream)
        srv_log_str(&l, "stream",
                    stream_cut            ? "client_closed"
                    : q->relay.error_sent ? "error"
                                          : "ok");
    if (a->have_usage) {
        srv_log_int(&l, "prompt_tokens", a->prompt_tokens);
        srv_log_int(&l, "completion_tokens", a->completion_tokens);
    }
    srv_log_num(&l, "ms", (double)(srv_now_ns() - q->t0) * 1e-6);
    srv_log_end(&l);
}

void srv__http_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
    (void)conn;
    struct srv_server *s = cls;
    struct srv_request *q = *con_cls;
    if (!q)
        return;
    *con_cls = NULL;
    cancel_work(q);
    if (q->client.hup_watched)
        srv_loop_del(s->loop, &q->client.hup);
    struct srv_reply *a = &q->reply;
    if (q->up.committed && q->relay.events.have_usage) {
        a->have_usage = true;
        a->prompt_tokens = q->relay.events.prompt_tokens;
        a->completion_tokens = q->relay.events.completion_tokens;
    }
    // 499 is nginx's "the client closed the request before it was answered".
    bool ok = toe == MHD_REQUEST_TERMINATED_COMPLETED_OK;
    int status = a->ready ? a->status : ok ? 500 : 499;
    bool stream_cut = q->up.committed && !ok;
    if (q->kind != SRV_KIND_OTHER)
        srv_metrics_request(s->metrics, q->routing.route, q->model, stream_cut ? 499 : status);
    if (a->have_usage && status < 400)
        srv_metrics_usage(s->metrics, q->model, s->strong, a->prompt_tokens, a->completion_tokens);
    if (s->c->log_requests || status >= 500)
        log_request(q, status, stream_cut);
    request_free(q);
}
