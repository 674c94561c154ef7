// Set-up and lifetime of the routing proxy: build the configuration, load its routers and the
// encoder they need, build each upstream's URL and headers and the GET /v1/models answer once
// per configuration, bind the socket, then run the loop until SIGTERM or SIGINT and drain; SIGHUP
// loads a new configuration beside the running one (reload). The client connections (conn.c),
// libcurl's multi interface and the encoder workers' eventfd share one epoll loop, so a single
// thread accepts requests, routes them, calls upstreams and relays answers, and never waits on
// anything. What happens to a request is in the stages listed in server_impl.h.
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

static int add_router(struct srv_gen *g, const char *name, struct rl_router *r,
                      const struct srv_router_cfg *rc, char *errbuf) {
    struct srv_router *rt = &g->routers[g->n_routers];
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
    g->n_routers++;
    return RL_OK;
}

// The routers of the config's routers: section, or, without one, every kind the registry ships a
// default router for (rl/router.h), under its kind name.
static int load_routers(struct srv_gen *g, const char *home, char *errbuf) {
    const struct srv_config *c = g->c;
    size_t n = c->routers_given ? c->n_routers : rl_router_kind_count();
    g->routers = calloc(n ? n : 1, sizeof *g->routers);
    if (!g->routers)
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
        int st = add_router(g, name, r, rc, errbuf);
        if (st != RL_OK)
            return st;
    }
    if (g->n_routers == 0)
        return rl__errf(errbuf, RL_EINVAL, "no router could be loaded");
    return RL_OK;
}

// Resolve the routes: section against the loaded routers: each route's router must be loaded
// and able to rank models, and must know every candidate (under its `as` name) and the
// reference.
static int load_routes(struct srv_gen *g, char *errbuf) {
    const struct srv_config *c = g->c;
    g->routes = calloc(c->n_routes ? c->n_routes : 1, sizeof *g->routes);
    g->health = calloc(c->n_models, sizeof *g->health);
    if (!g->routes || !g->health)
        return rl__errf(errbuf, RL_ENOMEM, "out of memory");
    const char *path = c->path ? c->path : "--config";
    char err[RL_ERRBUF_SIZE];
    for (size_t i = 0; i < c->n_routes; i++) {
        const struct srv_route_cfg *rc = &c->routes[i];
        struct srv_route *rt = &g->routes[g->n_routes++];
        rt->cfg = rc;
        rt->router = -1;
        for (size_t j = 0; j < g->n_routers && rt->router < 0; j++)
            if (strcmp(g->routers[j].name, rc->router) == 0)
                rt->router = (int)j;
        if (rt->router < 0)
            return rl__errf(errbuf, RL_EINVAL,
                            "%s:%d: routes.%s: the router '%s' is not loaded (see routers:)", path,
                            rc->line, rc->name, rc->router);
        const struct srv_router *ro = &g->routers[rt->router];
        const struct rl_router_kind *kind = rl_router_kind(ro->r);
        if (!rl_router_kind_ranks_models(kind))
            return rl__errf(errbuf, RL_EINVAL,
                            "%s:%d: routes.%s: router %s is of kind %s, which scores one pair; a "
                            "route needs a kind that ranks models (mf, sw_ranking, irt)",
                            path, rc->line, rc->name, rc->router, rl_router_kind_name(kind));
        rt->router_models = calloc(rc->n_candidates, sizeof *rt->router_models);
        if (!rt->router_models)
            return rl__errf(errbuf, RL_ENOMEM, "out of memory");
        for (size_t k = 0; k < rc->n_candidates; k++) {
            const struct srv_candidate *cand = &rc->candidates[k];
            rt->router_models[k] =
                rl_router_model_index(ro->r, cand->as ? cand->as : cand->model, err);
            if (rt->router_models[k] < 0)
                return rl__errf(errbuf, RL_EINVAL, "%s:%d: routes.%s: models: %s", path, cand->line,
                                rc->name, err);
        }
        rt->ref = rc->reference ? rl_router_model_index(ro->r, rc->reference, err) : ro->pair.weak;
        if (rt->ref < 0)
            return rl__errf(errbuf, RL_EINVAL, "%s:%d: routes.%s: reference: %s", path, rc->line,
                            rc->name, err);
    }
    return RL_OK;
}

// ----------------------------------------------------------------------------
// Upstreams and the model list

// Append the header line "<name>: <prefix><value>" to *list; false when out of memory (then
// *list is freed and NULL). The config checked that name is a token and the value one line.
static bool add_header(struct curl_slist **list, const char *name, const char *prefix,
                       const char *value) {
    struct rl_buf b;
    rl_buf_init(&b, 3 * SRV_HEADER_VALUE_MAX);
    struct curl_slist *grown = NULL;
    if (rl_buf_appendf(&b, "%s: %s%s", name, prefix, value) == RL_OK)
        grown = curl_slist_append(*list, b.data);
    rl_buf_free(&b);
    if (!grown)
        curl_slist_free_all(*list);
    *list = grown;
    return grown != NULL;
}

// A model's request headers: the JSON body's type, no Expect, the key as its auth says, then
// its own headers: in the file's order.
struct curl_slist *srv_model_headers(const struct srv_model *m) {
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    // No "Expect: 100-continue" round trip before larger bodies.
    struct curl_slist *grown = h ? curl_slist_append(h, "Expect:") : NULL;
    if (!grown) {
        curl_slist_free_all(h);
        return NULL;
    }
    h = grown;
    bool ok = true;
    if (m->api_key && m->auth == SRV_AUTH_BEARER)
        ok = add_header(&h, "Authorization", "Bearer ", m->api_key);
    else if (m->api_key && m->auth == SRV_AUTH_HEADER)
        ok = add_header(&h, m->auth_header, "", m->api_key);
    for (size_t i = 0; ok && i < m->headers.n; i++)
        ok = add_header(&h, m->headers.items[i].name, "", m->headers.items[i].sent);
    return ok ? h : NULL;
}

// Each model's URL for each API, and its headers.
static int build_upstreams(struct srv_gen *g, char *errbuf) {
    static const char *const paths[SRV_N_APIS] = {"chat/completions", "completions"};
    const struct srv_config *c = g->c;
    g->headers = calloc(c->n_models, sizeof *g->headers);
    bool ok = g->headers != NULL;
    for (size_t a = 0; a < SRV_N_APIS; a++)
        ok &= (g->urls[a] = calloc(c->n_models, sizeof *g->urls[a])) != NULL;
    for (size_t i = 0; ok && i < c->n_models; i++) {
        const struct srv_model *m = &c->models[i];
        if (m->deployments.n) // a group calls its deployments' URLs
            continue;
        for (size_t a = 0; a < SRV_N_APIS; a++)
            ok &= (g->urls[a][i] = srv_model_url(m, paths[a])) != NULL;
        ok &= (g->headers[i] = srv_model_headers(m)) != NULL;
    }
    return ok ? RL_OK : rl__errf(errbuf, RL_ENOMEM, "out of memory");
}

// Add one entry to the list, and keep its id and text for GET /v1/models/<id>.
static int add_model_entry(struct srv_gen *g, json_t *data, const char *id, json_int_t created,
                           const char *owner) {
    json_t *m = json_pack("{s:s,s:s,s:I,s:s}", "id", id, "object", "model", "created", created,
                          "owned_by", owner);
    if (!m)
        return RL_ENOMEM;
    struct srv_model_entry *e = &g->model_entries[g->n_model_entries];
    e->id = strdup(id);
    e->json = json_dumps(m, JSON_COMPACT);
    int rc = e->id && e->json && json_array_append(data, m) == 0 ? RL_OK : RL_ENOMEM;
    json_decref(m);
    if (rc != RL_OK) {
        free(e->id);
        free(e->json);
        return rc;
    }
    g->n_model_entries++;
    return RL_OK;
}

// The GET /v1/models answer: each router once, under its configured threshold, then the routes,
// then the upstream models, then the encoder when the server runs one (the model of POST
// /v1/embeddings). It changes only with the configuration, so it is written once, here.
static int build_model_list(struct srv_gen *g, const struct rl_encoder *enc) {
    size_t n = g->n_routers + g->n_routes + g->c->n_models + 1;
    g->model_entries = calloc(n, sizeof *g->model_entries);
    json_t *data = json_array();
    json_int_t created = (json_int_t)time(NULL);
    int rc = g->model_entries && data ? RL_OK : RL_ENOMEM;
    for (size_t i = 0; rc == RL_OK && i < g->n_routers; i++) {
        char id[SRV_NAME_MAX + 64];
        snprintf(id, sizeof id, "router-%s-%g", g->routers[i].name, g->routers[i].threshold);
        rc = add_model_entry(g, data, id, created, "routellm");
    }
    for (size_t i = 0; rc == RL_OK && i < g->n_routes; i++)
        rc = add_model_entry(g, data, g->routes[i].cfg->name, created, "routellm");
    for (size_t i = 0; rc == RL_OK && i < g->c->n_models; i++)
        rc = add_model_entry(g, data, g->c->models[i].name, created, "upstream");
    if (rc == RL_OK && enc)
        rc = add_model_entry(g, data, rl_encoder_name(enc), created, "routellm");
    json_t *list = rc == RL_OK ? json_pack("{s:s,s:O}", "object", "list", "data", data) : NULL;
    g->models_json = list ? json_dumps(list, JSON_COMPACT) : NULL;
    json_decref(list);
    json_decref(data);
    return g->models_json ? RL_OK : RL_ENOMEM;
}

// The server's encoder whose name router rt's file records (the configuration's for a file that
// records none), or NULL.
static const struct srv_encoder *encoder_of(const struct srv_server *s,
                                            const struct srv_router *rt) {
    const char *name = rl_router_encoder_name(rt->r);
    if (!name)
        return s->encoders[0].enc ? &s->encoders[0] : NULL;
    for (size_t i = 0; i < s->n_encoders; i++)
        if (s->encoders[i].enc && strcmp(rl_encoder_name(s->encoders[i].enc), name) == 0)
            return &s->encoders[i];
    return NULL;
}

static int open_encoder(struct srv_server *s, const char *dir, enum rl_precision precision,
                        char *errbuf) {
    const struct srv_config *c = s->gen->c;
    struct srv_encoder *e = &s->encoders[s->n_encoders++];
    char err[RL_ERRBUF_SIZE];
    e->enc = rl_encoder_open_precision(dir, precision, err);
    if (!e->enc)
        return rl__errf(errbuf, RL_EINVAL, "encoder %s: %s", dir, err);
    e->emb = srv_embedder_new(e->enc, s->loop, c->encoder_workers, c->batch_max, c->cache_entries,
                              errbuf);
    return e->emb ? RL_OK : RL_ENOMEM;
}

// The encoders the first configuration's routers read, with their workers: the configuration's
// (encoder.model_dir) when any router embeds prompts, then, for a router whose file names
// another encoder, <home>/models/<name> at the precision the file records. A reload cannot load
// one later (server.c's reload says so).
static int load_encoders(struct srv_server *s, char *errbuf) {
    const struct srv_gen *g = s->gen;
    bool needed = false;
    for (size_t i = 0; i < g->n_routers; i++)
        needed |= g->routers[i].needs_embedding;
    if (!needed)
        return RL_OK;
    int rc = open_encoder(s, g->c->encoder_dir, (enum rl_precision)g->c->encoder_precision, errbuf);
    for (size_t i = 0; rc == RL_OK && i < g->n_routers; i++) {
        const struct srv_router *rt = &g->routers[i];
        if (!rt->needs_embedding || encoder_of(s, rt))
            continue;
        const char *name = rl_router_encoder_name(rt->r);
        if (s->n_encoders == SRV_MAX_ENCODERS)
            return rl__errf(errbuf, RL_EINVAL, "router %s: the routers read more than %d encoders",
                            rt->name, SRV_MAX_ENCODERS);
        char dir[4096], rel[600];
        snprintf(rel, sizeof rel, "models/%s", name);
        if (rl_path_join(dir, sizeof dir, s->home, rel) != RL_OK)
            return rl__errf(errbuf, RL_ETOOBIG, "router %s: the encoder's path is too long",
                            rt->name);
        enum rl_precision precision = (enum rl_precision)g->c->encoder_precision;
        const char *recorded = rl_router_meta(rt->r, "encoder_precision");
        if (recorded && rl_precision_parse(recorded, &precision) != RL_OK)
            precision = (enum rl_precision)g->c->encoder_precision;
        char err[RL_ERRBUF_SIZE];
        rc = open_encoder(s, dir, precision, err);
        if (rc != RL_OK)
            rc = rl__errf(errbuf, rc, "router %s reads the encoder %s: %s", rt->name, name, err);
    }
    return rc;
}

// Every router that embeds reads one of the server's encoders: the one its file names.
static int assign_encoders(const struct srv_server *s, struct srv_gen *g, char *errbuf) {
    char err[RL_ERRBUF_SIZE];
    for (size_t i = 0; i < g->n_routers; i++) {
        struct srv_router *rt = &g->routers[i];
        if (!rt->needs_embedding)
            continue;
        rt->encoder = encoder_of(s, rt);
        if (!rt->encoder)
            return rl__errf(errbuf, RL_EINVAL,
                            "router %s needs the encoder %s, which this server did not load at "
                            "start: restart it",
                            rt->name, rl_router_encoder_name(rt->r));
        if (rl_router_check_encoder(rt->r, rt->encoder->enc, err) != RL_OK)
            return rl__errf(errbuf, RL_EINVAL, "router %s: %s", rt->name, err);
    }
    return RL_OK;
}

// ----------------------------------------------------------------------------
// Configurations

void srv__gen_unref(struct srv_gen *g) {
    if (!g || --g->refs > 0)
        return;
    srv__calibration_free(g->calibration); // it reads the routers
    for (size_t i = 0; i < g->n_routers; i++)
        rl_router_free(g->routers[i].r);
    free(g->routers);
    for (size_t i = 0; i < g->n_routes; i++)
        free(g->routes[i].router_models);
    free(g->routes);
    free(g->health);
    for (size_t a = 0; a < SRV_N_APIS; a++) {
        for (size_t i = 0; g->urls[a] && i < g->c->n_models; i++)
            free(g->urls[a][i]);
        free(g->urls[a]);
    }
    for (size_t i = 0; g->headers && i < g->c->n_models; i++)
        curl_slist_free_all(g->headers[i]);
    free(g->headers);
    srv_metrics_free(g->metrics);
    free(g->models_json);
    for (size_t i = 0; i < g->n_model_entries; i++) {
        free(g->model_entries[i].id);
        free(g->model_entries[i].json);
    }
    free(g->model_entries);
    srv_config_free(g->c);
    free(g->c);
    free(g);
}

// Build a configuration and load everything it names. NULL with errbuf on failure.
static struct srv_gen *gen_new(struct srv_server *s, char *errbuf) {
    struct srv_gen *g = calloc(1, sizeof *g);
    if (!g || !(g->c = malloc(sizeof *g->c))) {
        free(g);
        rl__errf(errbuf, RL_ENOMEM, "out of memory");
        return NULL;
    }
    g->refs = 1;
    srv_config_init(g->c);
    if (s->build(s->build_data, g->c, errbuf) != RL_OK ||
        load_routers(g, s->home, errbuf) != RL_OK || load_routes(g, errbuf) != RL_OK)
        goto fail;
    g->strong = srv_config_model_index(g->c, g->c->strong);
    g->weak = srv_config_model_index(g->c, g->c->weak);
    const char *names[SRV_MAX_ROUTERS + 16];
    for (size_t i = 0; i < g->n_routers && i < RL_COUNTOF(names); i++)
        names[i] = g->routers[i].name;
    g->metrics = srv_metrics_new(g->c, names, g->n_routers);
    if (!g->metrics) {
        rl__errf(errbuf, RL_ENOMEM, "out of memory");
        goto fail;
    }
    if (build_upstreams(g, errbuf) != RL_OK)
        goto fail;
    return g;
fail:
    srv__gen_unref(g);
    return NULL;
}

// What a configuration needs of the server's encoders, which are loaded once, after the first
// configuration: its routers must read one of them, and the model list offers the first.
static int gen_ready(const struct srv_server *s, struct srv_gen *g, char *errbuf) {
    int rc = assign_encoders(s, g, errbuf);
    if (rc == RL_OK && build_model_list(g, s->encoders[0].enc) != RL_OK)
        rc = rl__errf(errbuf, RL_ENOMEM, "out of memory");
    return rc;
}

// SIGHUP: build the new set beside the old one and switch only when all of it loaded; the
// requests in flight keep the old set until they end.
static void reload(struct srv_server *s) {
    char errbuf[RL_ERRBUF_SIZE] = "";
    struct srv_gen *g = gen_new(s, errbuf);
    if (g && gen_ready(s, g, errbuf) != RL_OK) {
        srv__gen_unref(g);
        g = NULL;
    }
    // A changed capture: section opens its new file before the switch, so that a folder that
    // cannot be written refuses the reload rather than losing lines.
    struct srv_capture *capture = s->capture;
    if (g && !srv_capture_same(s->capture, g->c) && g->c->capture_dir &&
        !(capture = srv_capture_open(g->c, errbuf))) {
        srv__gen_unref(g);
        g = NULL;
    }
    if (!g) {
        srv_logf(SRV_LOG_ERROR, "reload refused", "%s; the running configuration stays", errbuf);
        return;
    }
    if (!g->c->capture_dir)
        capture = NULL;
    if (capture != s->capture) {
        srv_capture_free(s->capture);
        s->capture = capture;
    }
    const struct srv_config *old = s->gen->c, *c = g->c;
    if (strcmp(old->host, c->host) != 0 || (c->port && old->port != c->port) ||
        strcmp(old->encoder_dir, c->encoder_dir) != 0 ||
        old->encoder_precision != c->encoder_precision ||
        old->encoder_workers != c->encoder_workers || old->batch_max != c->batch_max ||
        old->cache_entries != c->cache_entries)
        srv_logf(SRV_LOG_WARN, "reload",
                 "server.host, server.port and the encoder section take effect at the next "
                 "start; the running values stay");
    srv_metrics_carry(g->metrics, s->gen->metrics);
    // A model's cooldown outlives the reload; its calls in flight stay counted in the old set,
    // which they end in.
    for (size_t i = 0; i < c->n_models; i++) {
        int was = srv_config_model_index(old, c->models[i].name);
        if (was >= 0) {
            g->health[i].fails = s->gen->health[was].fails;
            g->health[i].until_ns = s->gen->health[was].until_ns;
        }
    }
    srv_listener_set_config(s->listener, c);
    srv__gen_unref(s->gen);
    s->gen = g;
    struct srv_log l;
    srv_log_begin(&l, SRV_LOG_INFO, "reloaded");
    srv_log_int(&l, "routers", (long long)g->n_routers);
    srv_log_int(&l, "models", (long long)c->n_models);
    srv_log_str(&l, "strong", c->strong);
    srv_log_str(&l, "weak", c->weak);
    srv_log_int(&l, "requests_on_the_old_set", s->n_live);
    srv_log_end(&l);
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
    if (sig == SIGHUP) {
        reload(s);
        return;
    }
    s->draining = true;
    s->drain_deadline_ns = srv_now_ns() + (uint64_t)(s->gen->c->drain_timeout_s * 1e9);
    srv_listener_stop_accepting(s->listener);
    srv_logf(SRV_LOG_INFO, "draining", "signal %u: no new connections; %ld request(s) in flight",
             (unsigned)sig, s->n_live);
}

// SIGTERM and SIGINT start the drain, SIGHUP reloads (on_signal).
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
    sigaction(SIGHUP, &sa, NULL);
    return RL_OK;
}

// ----------------------------------------------------------------------------
// Probes: at start each upstream is asked for its model list (GET <base_url>/models, with its
// key, headers and query), so that a wrong base_url or key shows in the log at once, not at the
// first request. A model with probe: false is not asked (Azure OpenAI's deployment URLs, for
// one, have no model list under them).

struct srv_probe {
    struct srv_call call; // first: on_done gets it back as the probe
    struct srv_gen *gen;  // a reference: the headers and names it uses
    int model;
    char *url;
};

static size_t probe_body(struct srv_call *call, const char *data, size_t n) {
    (void)call, (void)data;
    return n;
}

static void probe_done(struct srv_call *call, CURLcode rc) {
    struct srv_probe *p = (struct srv_probe *)call;
    const char *name = p->gen->c->models[p->model].name;
    if (rc != CURLE_OK)
        srv_logf(SRV_LOG_WARN, "upstream unreachable", "model %s at %s: %s", name, p->url,
                 call->errbuf[0] ? call->errbuf : curl_easy_strerror(rc));
    else if (call->status == 401 || call->status == 403)
        srv_logf(SRV_LOG_WARN, "upstream refused the key",
                 "model %s at %s: HTTP %ld (check its api_key_env, auth and headers)", name, p->url,
                 call->status);
    srv__gen_unref(p->gen);
    p->gen = NULL;
}

static void probe_upstreams(struct srv_server *s) {
    const struct srv_config *c = s->gen->c;
    s->probes = calloc(c->n_models, sizeof *s->probes);
    for (size_t i = 0; s->probes && i < c->n_models; i++) {
        struct srv_probe *p = &s->probes[s->n_probes];
        const struct srv_model *m = &c->models[i];
        if (!m->probe)
            continue;
        p->url = srv_model_url(m, "models");
        if (!p->url)
            break;
        p->call.on_body = probe_body;
        p->call.on_done = probe_done;
        p->gen = s->gen;
        p->model = (int)i;
        if (srv_upstream_start(s->up, &p->call, p->url, s->gen->headers[i], NULL, 0,
                               m->connect_timeout_s + SRV_PROBE_EXTRA_S,
                               m->connect_timeout_s) != RL_OK) {
            free(p->url);
            break;
        }
        s->gen->refs++;
        s->n_probes++;
    }
}

static void probes_free(struct srv_server *s) {
    for (size_t i = 0; i < s->n_probes; i++) {
        srv_upstream_cancel(s->up, &s->probes[i].call);
        srv__gen_unref(s->probes[i].gen);
        free(s->probes[i].url);
    }
    free(s->probes);
}

// ----------------------------------------------------------------------------
// Start-up

struct srv_server *srv_server_new(srv_config_builder build, void *build_data, const char *home,
                                  char *errbuf) {
    signal(SIGPIPE, SIG_IGN);
    // Request bodies and held answers are allocated in pieces of up to max_body_bytes. glibc
    // raises its mmap threshold to the largest block freed, after which such blocks come from the
    // heap and stay in the process when freed; a fixed threshold keeps each in its own mapping,
    // returned to the system on free, so memory falls back after a burst of large requests.
    mallopt(M_MMAP_THRESHOLD, SRV_MMAP_THRESHOLD);

    struct srv_server *s = calloc(1, sizeof *s);
    if (!s || !(s->home = strdup(home))) {
        free(s);
        rl__errf(errbuf, RL_ENOMEM, "out of memory");
        return NULL;
    }
    s->build = build;
    s->build_data = build_data;
    s->started_ns = srv_now_ns();
    s->sig.fd = -1;
    if (getrandom(&s->id_seed, sizeof s->id_seed, 0) != (ssize_t)sizeof s->id_seed)
        s->id_seed = (uint64_t)time(NULL) ^ (uint64_t)getpid() << 32;
    s->loop = srv_loop_new();
    s->up = s->loop ? srv_upstream_new(s->loop) : NULL;
    if (!s->loop || !s->up) {
        rl__errf(errbuf, RL_ENOMEM, "cannot create the event loop");
        goto fail;
    }
    s->gen = gen_new(s, errbuf);
    if (!s->gen || load_encoders(s, errbuf) != RL_OK || gen_ready(s, s->gen, errbuf) != RL_OK)
        goto fail;
    if (s->gen->c->capture_dir && !(s->capture = srv_capture_open(s->gen->c, errbuf)))
        goto fail;
    s->listener = srv_listener_new(s->loop, s->gen->c, &srv__http_ops, s, errbuf);
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
    const struct srv_gen *g = s->gen;
    struct srv_log l;
    srv_log_begin(&l, SRV_LOG_INFO, "listening");
    srv_log_str(&l, "host", g->c->host);
    srv_log_int(&l, "port", s->port);
    char names[512] = "";
    for (size_t i = 0, used = 0; i < g->n_routers && used < sizeof names; i++)
        used += (size_t)snprintf(names + used, sizeof names - used, "%s%s", i ? "," : "",
                                 g->routers[i].name);
    srv_log_str(&l, "routers", names);
    srv_log_str(&l, "strong", g->c->strong);
    srv_log_str(&l, "weak", g->c->weak);
    srv_log_end(&l);
    if (g->c->n_keys == 0)
        srv_logf(SRV_LOG_WARN, "no client keys",
                 "anyone who reaches %s:%d can spend the upstream keys; set server.api_keys_env",
                 g->c->host, s->port);
    probe_upstreams(s);
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
    srv_listener_free(s->listener); // ends every request, which lets go of old configurations
    srv_capture_free(s->capture);   // after the requests, whose ends it records
    probes_free(s);
    for (size_t i = 0; i < s->n_encoders; i++)
        srv_embedder_free(s->encoders[i].emb);
    if (s->gen) { // the calibration's thread reads the encoders
        srv__calibration_free(s->gen->calibration);
        s->gen->calibration = NULL;
    }
    for (size_t i = 0; i < s->n_encoders; i++)
        rl_encoder_free(s->encoders[i].enc);
    srv__gen_unref(s->gen);
    for (size_t i = 0; i < SRV_RECENT_MAX; i++)
        json_decref(s->recent[i]);
    srv_upstream_free(s->up);
    if (s->sig.fd >= 0)
        srv_loop_del(s->loop, &s->sig);
    srv_loop_free(s->loop);
    free(s->home);
    free(s);
}
