// Set-up and lifetime of the routing proxy: load the routers and the encoder they need, build
// each upstream's URL and headers and the GET /v1/models answer once, bind the socket, then run
// the loop until SIGTERM or SIGINT and drain. The client connections (conn.c), libcurl's multi
// interface and the encoder workers' eventfd share one epoll loop, so a single thread accepts
// requests, routes them, calls upstreams and relays answers, and never waits on anything. What
// happens to a request is in the stages listed in server_impl.h.
//
// It does not speak HTTP/2 to clients, does not terminate TLS (put it behind a TLS proxy for
// that) and does not rewrite anything in a response.
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "server/server_impl.h"

// ----------------------------------------------------------------------------
// Routers and the encoder

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
    struct srv_route *rt = &s->routes[s->n_routes];
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

// The routers of the config's routers: section, or, without one, every kind the registry ships a
// default router for (rl/router.h), under its kind name.
static int load_routes(struct srv_server *s, const char *home, char *errbuf) {
    const struct srv_config *c = s->c;
    size_t n = c->routers_given ? c->n_routers : rl_router_kind_count();
    s->routes = calloc(n ? n : 1, sizeof *s->routes);
    if (!s->routes)
        return rl__errf(errbuf, RL_ENOMEM, "out of memory");
    char err[RL_ERRBUF_SIZE];
    for (size_t i = 0; i < n; i++) {
        const struct srv_router_cfg *rc = c->routers_given ? &c->routers[i] : NULL;
        const struct rl_router_kind *k = rc ? NULL : rl_router_kind_at(i);
        if (k && !rl_router_kind_shipped(k))
            continue;
        const char *name = rc ? rc->name : rl_router_kind_name(k);
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
    s->enc = rl_encoder_open(s->c->encoder_dir, err);
    if (!s->enc)
        return rl__errf(errbuf, RL_EINVAL, "encoder %s: %s", s->c->encoder_dir, err);
    for (size_t i = 0; i < s->n_routes; i++)
        if (rl_router_check_encoder(s->routes[i].r, s->enc, err) != RL_OK)
            return rl__errf(errbuf, RL_EINVAL, "router %s: %s", s->routes[i].name, err);
    s->emb = srv_embedder_new(s->enc, s->loop, s->c->encoder_workers, s->c->batch_max,
                              s->c->cache_entries, errbuf);
    return s->emb ? RL_OK : RL_ENOMEM;
}

// ----------------------------------------------------------------------------
// Upstreams and the model list

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

// Add one entry to the list, and keep its id and text for GET /v1/models/<id>.
static int add_model_entry(struct srv_server *s, json_t *data, const char *id, json_int_t created,
                           const char *owner) {
    json_t *m = json_pack("{s:s,s:s,s:I,s:s}", "id", id, "object", "model", "created", created,
                          "owned_by", owner);
    if (!m)
        return RL_ENOMEM;
    struct srv_model_entry *e = &s->model_entries[s->n_model_entries];
    e->id = strdup(id);
    e->json = json_dumps(m, JSON_COMPACT);
    int rc = e->id && e->json && json_array_append(data, m) == 0 ? RL_OK : RL_ENOMEM;
    json_decref(m);
    if (rc != RL_OK) {
        free(e->id);
        free(e->json);
        return rc;
    }
    s->n_model_entries++;
    return RL_OK;
}

// The GET /v1/models answer: each router once, under its configured threshold, then the
// upstream models. It changes only with the configuration, so it is written once, here.
static int build_model_list(struct srv_server *s) {
    size_t n = s->n_routes + s->c->n_models;
    s->model_entries = calloc(n, sizeof *s->model_entries);
    json_t *data = json_array();
    json_int_t created = (json_int_t)time(NULL);
    int rc = s->model_entries && data ? RL_OK : RL_ENOMEM;
    for (size_t i = 0; rc == RL_OK && i < s->n_routes; i++) {
        char id[SRV_NAME_MAX + 64];
        snprintf(id, sizeof id, "router-%s-%g", s->routes[i].name, s->routes[i].threshold);
        rc = add_model_entry(s, data, id, created, "routellm");
    }
    for (size_t i = 0; rc == RL_OK && i < s->c->n_models; i++)
        rc = add_model_entry(s, data, s->c->models[i].name, created, "upstream");
    json_t *list = rc == RL_OK ? json_pack("{s:s,s:O}", "object", "list", "data", data) : NULL;
    s->models_json = list ? json_dumps(list, JSON_COMPACT) : NULL;
    json_decref(list);
    json_decref(data);
    return s->models_json ? RL_OK : RL_ENOMEM;
}

// ----------------------------------------------------------------------------
// Signals

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
    srv_listener_stop_accepting(s->listener);
    srv_logf(SRV_LOG_INFO, "draining", "signal %u: no new connections; %ld request(s) in flight",
             (unsigned)sig, s->n_live);
}

// SIGTERM and SIGINT start the drain (on_signal).
static int watch_signals(struct srv_server *s, char *errbuf) {
    if (signal_pipe[0] < 0 && pipe2(signal_pipe, O_NONBLOCK | O_CLOEXEC) != 0)
        return rl__errf(errbuf, RL_EIO, "pipe: %s", strerror(errno));
    s->sig.fd = signal_pipe[0];
    s->sig.cb = on_signal;
    s->sig.data = s;
    if (srv_loop_add(s->loop, &s->sig, EPOLLIN) != RL_OK)
        return rl__errf(errbuf, RL_EIO, "epoll: %s", strerror(errno));
    struct sigaction sa = {.sa_handler = on_signal_handler};
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    return RL_OK;
}

// ----------------------------------------------------------------------------
// Start-up

struct srv_server *srv_server_new(struct srv_config *c, const char *home, char *errbuf) {
    signal(SIGPIPE, SIG_IGN);
    // Request bodies and held answers are allocated in pieces of up to max_body_bytes. glibc
    // raises its mmap threshold to the largest block freed, after which such blocks come from the
    // heap and stay in the process when freed; a fixed threshold keeps each in its own mapping,
    // returned to the system on free, so memory falls back after a burst of large requests.
    mallopt(M_MMAP_THRESHOLD, SRV_MMAP_THRESHOLD);

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
    if (build_upstreams(s, errbuf) != RL_OK)
        goto fail;
    s->listener = srv_listener_new(s->loop, c, &srv__http_ops, s, errbuf);
    if (!s->listener)
        goto fail;
    s->port = srv_listener_port(s->listener);
    if (watch_signals(s, errbuf) != RL_OK)
        goto fail;
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
    while (!s->draining || (s->n_live && srv_now_ns() < s->drain_deadline_ns)) {
        if (srv_loop_run_once(s->loop, s->draining ? 50 : -1) != RL_OK) {
            srv_logf(SRV_LOG_ERROR, "event loop failed", "%s", strerror(errno));
            return 1;
        }
    }
    if (s->n_live) {
        srv_logf(SRV_LOG_WARN, "drain deadline passed",
                 "%ld request(s) cut off: streams end with an error event, the rest get 503",
                 s->n_live);
        for (struct srv_request *q = s->live, *next; q; q = next) {
            next = q->next;
            srv__request_cut(q);
        }
        // Let the cut answers reach their clients, briefly.
        uint64_t until = srv_now_ns() + (uint64_t)(SRV_CUT_FLUSH_S * 1e9);
        while (s->n_live && srv_now_ns() < until)
            if (srv_loop_run_once(s->loop, 50) != RL_OK)
                break;
    }
    srv_logf(SRV_LOG_INFO, "stopped", "all requests finished or cut off");
    return 0;
}

void srv_server_free(struct srv_server *s) {
    if (!s)
        return;
    srv_listener_free(s->listener);
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
    for (size_t i = 0; i < s->n_model_entries; i++) {
        free(s->model_entries[i].id);
        free(s->model_entries[i].json);
    }
    free(s->model_entries);
    if (s->sig.fd >= 0)
        srv_loop_del(s->loop, &s->sig);
    srv_loop_free(s->loop);
    free(s);
}
