// The dashboard: one page, dashboard.html, compiled into the program and served at / and /ui,
// and the two answers it reads beside the public /metrics:
//   GET /v1/dashboard              what the running configuration offers (routers with their
//                                  thresholds and pairs, routes, models with prices), whether
//                                  the capture is on, and the latest requests as the capture
//                                  records them (their prompts only when the capture keeps them);
//   GET /v1/dashboard/calibration  each router's p_strong on the calibration sample, sorted, and
//                                  the threshold for every whole percentage of strong calls
//                                  (rl_calibrate_threshold, as `routellm calibrate` computes it).
// Both need a client key when keys are configured; the page itself holds no data and is public.
// With dashboard.enabled: false all four answer 404.
//
// The sample is scored once per configuration, on the first request for it, by a thread of its
// own at a lower priority (one forward-pass thread, CALIBRATION_BATCH prompts a pass), so
// live traffic keeps the encoder workers; until it is done the answer says how far it has got.
// The thread reads only what does not change while the configuration lives (its routers, the
// server's encoder); the configuration stops and joins it before it is freed.
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "rl/calibrate.h"
#include "rl/version.h"
#include "server/server_impl.h"

// The page, dashboard.html, assembled into the program's read-only data.
__asm__(".pushsection .rodata\n"
        ".balign 16\n"
        ".hidden srv_dashboard_page\n"
        ".globl srv_dashboard_page\n"
        "srv_dashboard_page:\n"
        ".incbin \"src/server/dashboard.html\"\n"
        ".hidden srv_dashboard_page_end\n"
        ".globl srv_dashboard_page_end\n"
        "srv_dashboard_page_end:\n"
        ".popsection\n");
extern const char srv_dashboard_page[], srv_dashboard_page_end[];

#define CALIBRATION_MAX   5000 // prompts of the sample scored (the first ones)
#define CALIBRATION_BATCH 4    // prompts per encoder pass: a stop waits for one
#define CALIBRATION_NICE  10   // the scoring thread's niceness above the server's

// Security headers of the page: everything it needs is inline or on this server.
#define PAGE_HEADERS                                                                               \
    "Content-Security-Policy: default-src 'none'; script-src 'unsafe-inline'; "                    \
    "style-src 'unsafe-inline'; img-src data:; connect-src 'self'; base-uri 'none'; "              \
    "frame-ancestors 'none'\r\n"                                                                   \
    "X-Content-Type-Options: nosniff\r\nCache-Control: no-cache\r\n"

enum calibration_state { CALIB_RUNNING, CALIB_READY, CALIB_FAILED };

struct srv_calibration {
    pthread_t thread;
    const struct rl_encoder *enc[SRV_MAX_ENCODERS]; // those the routers read
    size_t n_enc;
    const struct srv_router *rts; // the configuration's routers
    size_t n_routers;
    char path[4096];
    atomic_int state;   // enum calibration_state; READY and FAILED publish what follows
    atomic_size_t done; // prompts scored so far
    atomic_bool stop;
    atomic_size_t total; // prompts to score, once the sample is read (0 before)
    size_t n;            // prompts scored, when READY
    double *scores;      // (n_routers, n), each row sorted ascending
    char error[RL_ERRBUF_SIZE];
};

// ----------------------------------------------------------------------------
// The scoring thread

// The index in c->enc of the encoder router rt reads.
static size_t encoder_index(const struct srv_calibration *c, const struct srv_router *rt) {
    size_t e = 0;
    while (e < c->n_enc && c->enc[e] != rt->encoder->enc)
        e++;
    return e;
}

// Embed prompts [i0, i1) of t with each encoder (into emb[e]) and score them into row r of
// c->scores (column i).
static int score_batch(struct srv_calibration *c, struct rl_encoder_ws *ws,
                       const struct rl_texts *t, size_t i0, size_t i1, float *const *emb) {
    for (size_t e = 0; e < c->n_enc; e++)
        if (rl_encoder_embed_ws(c->enc[e], ws, (const char *const *)t->items + i0, i1 - i0, emb[e],
                                c->error) != RL_OK)
            return RL_EIO;
    for (size_t r = 0; r < c->n_routers; r++) {
        const struct srv_router *rt = &c->rts[r];
        size_t e = rt->needs_embedding ? encoder_index(c, rt) : 0;
        size_t dim = rt->needs_embedding ? rl_encoder_dim(c->enc[e]) : 0;
        for (size_t i = i0; i < i1; i++) {
            struct rl_prompt p = {t->items[i], strlen(t->items[i]),
                                  rt->needs_embedding ? emb[e] + (i - i0) * dim : NULL};
            if (rl_router_score_prompt(rt->r, &rt->pair, &p, &c->scores[r * c->total + i]) != RL_OK)
                return rl__errf(c->error, RL_EFORMAT, "router %s failed on prompt %zu of %s",
                                rt->name, i + 1, c->path);
        }
    }
    return RL_OK;
}

static int compare_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void *calibration_main(void *arg) {
    struct srv_calibration *c = arg;
    setpriority(PRIO_PROCESS, (id_t)gettid(), CALIBRATION_NICE); // best effort
    struct rl_texts t = {0};
    struct rl_texts_params exact = {.exact = true}; // routed as clients send them
    struct rl_encoder_ws *ws = c->n_enc ? rl_encoder_ws_new(1) : NULL;
    float *emb[SRV_MAX_ENCODERS] = {0};
    int rc = rl_texts_load(c->path, &exact, &t, c->error);
    if (rc == RL_OK && t.n == 0)
        rc = rl__errf(c->error, RL_EFORMAT, "%s: no prompts in the sample", c->path);
    size_t n = t.n < CALIBRATION_MAX ? t.n : CALIBRATION_MAX;
    if (rc == RL_OK) {
        atomic_store(&c->total, n);
        c->scores = malloc(c->n_routers * n * sizeof *c->scores);
        bool got = c->scores && (ws || !c->n_enc);
        for (size_t e = 0; e < c->n_enc; e++) {
            emb[e] = malloc(CALIBRATION_BATCH * rl_encoder_dim(c->enc[e]) * sizeof *emb[e]);
            got = got && emb[e];
        }
        if (!got)
            rc = rl__errf(c->error, RL_ENOMEM, "out of memory");
    }
    for (size_t i = 0; rc == RL_OK && i < n; i += CALIBRATION_BATCH) {
        if (atomic_load(&c->stop))
            rc = rl__errf(c->error, RL_EIO, "stopped");
        size_t end = i + CALIBRATION_BATCH < n ? i + CALIBRATION_BATCH : n;
        if (rc == RL_OK)
            rc = score_batch(c, ws, &t, i, end, emb);
        atomic_store(&c->done, end);
    }
    for (size_t r = 0; rc == RL_OK && r < c->n_routers; r++)
        qsort(c->scores + r * n, n, sizeof *c->scores, compare_double);
    c->n = n;
    for (size_t e = 0; e < c->n_enc; e++)
        free(emb[e]);
    rl_encoder_ws_free(ws);
    rl_texts_free(&t);
    atomic_store(&c->state, rc == RL_OK ? CALIB_READY : CALIB_FAILED);
    return NULL;
}

// The sample of the configuration: its own, else the shipped Arena prompts under home.
static struct srv_calibration *calibration_start(struct srv_request *q) {
    struct srv_gen *g = q->gen;
    struct srv_calibration *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->rts = g->routers;
    c->n_routers = g->n_routers;
    for (size_t r = 0; r < g->n_routers; r++) // each encoder a router reads, once
        if (g->routers[r].needs_embedding && encoder_index(c, &g->routers[r]) == c->n_enc)
            c->enc[c->n_enc++] = g->routers[r].encoder->enc;
    const char *given = g->c->calibration_prompts;
    int rc =
        given
            ? (snprintf(c->path, sizeof c->path, "%s", given) < (int)sizeof c->path ? RL_OK
                                                                                    : RL_ETOOBIG)
            : rl_path_join(c->path, sizeof c->path, q->s->home, "data/prompts/arena_hard.jsonl.gz");
    if (rc != RL_OK || pthread_create(&c->thread, NULL, calibration_main, c) != 0) {
        free(c);
        return NULL;
    }
    return c;
}

void srv__calibration_free(struct srv_calibration *c) {
    if (!c)
        return;
    atomic_store(&c->stop, true);
    pthread_join(c->thread, NULL);
    free(c->scores);
    free(c);
}

// ----------------------------------------------------------------------------
// Answers

static bool enabled(struct srv_request *q) {
    if (q->gen->c->dashboard)
        return true;
    srv__answer_error(q, 404, "the dashboard is turned off (dashboard.enabled)",
                      "invalid_request_error", NULL, "not_found");
    return false;
}

void srv__dashboard_page(struct srv_request *q) {
    if (!enabled(q))
        return;
    size_t len = (size_t)(srv_dashboard_page_end - srv_dashboard_page);
    struct rl_buf b;
    rl_buf_init(&b, len);
    if (rl_buf_append(&b, srv_dashboard_page, len) != RL_OK) {
        srv__answer_error(q, 500, "out of memory", "server_error", NULL, NULL);
        return;
    }
    srv__answer_with(q, 200, &b, "text/html; charset=utf-8", PAGE_HEADERS);
}

static json_t *routers_json(const struct srv_gen *g) {
    json_t *a = json_array();
    for (size_t i = 0; a && i < g->n_routers; i++) {
        const struct srv_router *rt = &g->routers[i];
        json_array_append_new(a,
                              json_pack("{s:s,s:s,s:f,s:s,s:s,s:b}", "name", rt->name, "kind",
                                        rl_router_name(rt->r), "threshold", rt->threshold, "strong",
                                        rl_router_model(rt->r, (size_t)rt->pair.strong), "weak",
                                        rl_router_model(rt->r, (size_t)rt->pair.weak),
                                        "needs_embedding", rt->needs_embedding));
    }
    return a;
}

static json_t *routes_json(const struct srv_gen *g) {
    json_t *a = json_array();
    for (size_t i = 0; a && i < g->n_routes; i++) {
        const struct srv_route_cfg *rc = g->routes[i].cfg;
        json_t *models = json_array();
        for (size_t k = 0; models && k < rc->n_candidates; k++)
            json_array_append_new(models, json_string(g->c->models[rc->models[k]].name));
        json_array_append_new(
            a, json_pack("{s:s,s:s,s:s,s:f,s:o*}", "name", rc->name, "router",
                         g->routers[g->routes[i].router].name, "policy",
                         rl_policy_kind_name(rc->policy), "param",
                         rc->policy == RL_POLICY_UTILITY ? rc->lambda : rc->tolerance, "models",
                         models));
    }
    return a;
}

static json_t *models_json(const struct srv_config *c) {
    json_t *a = json_array();
    for (size_t i = 0; a && i < c->n_models; i++)
        json_array_append_new(a, json_pack("{s:s,s:f,s:f}", "name", c->models[i].name, "price_in",
                                           c->models[i].price_in, "price_out",
                                           c->models[i].price_out));
    return a;
}

void srv__dashboard_data(struct srv_request *q) {
    if (!enabled(q))
        return;
    const struct srv_server *s = q->s;
    const struct srv_gen *g = q->gen;
    json_t *recent = json_array();
    for (size_t i = 0; recent && i < s->n_recent; i++) // the latest first
        json_array_append(recent,
                          s->recent[(s->recent_at + SRV_RECENT_MAX - 1 - i) % SRV_RECENT_MAX]);
    json_t *j =
        json_pack("{s:s,s:f,s:s,s:s,s:o*,s:o*,s:o*,s:{s:b,s:b},s:o*}", "version", RL_VERSION,
                  "uptime_s", (double)(srv_now_ns() - s->started_ns) * 1e-9, "strong", g->c->strong,
                  "weak", g->c->weak, "routers", routers_json(g), "routes", routes_json(g),
                  "models", models_json(g->c), "capture", "enabled", s->capture != NULL, "redact",
                  s->capture && g->c->capture_redact, "recent", recent);
    srv__answer_value(q, j);
}

// A ready sample: per router its sorted scores and the threshold of each whole percentage.
static json_t *calibration_json(const struct srv_calibration *c) {
    json_t *routers = json_object();
    for (size_t r = 0; routers && r < c->n_routers; r++) {
        const double *row = c->scores + r * c->total;
        json_t *scores = json_array(), *thresholds = json_array();
        for (size_t i = 0; scores && i < c->n; i++)
            json_array_append_new(scores, json_real(row[i]));
        for (int pct = 0; thresholds && pct <= 100; pct++) {
            double alpha = 0;
            if (rl_calibrate_threshold(row, c->n, pct / 100.0, &alpha) != RL_OK)
                alpha = 1;
            json_array_append_new(thresholds, json_real(alpha));
        }
        json_object_set_new(routers, c->rts[r].name,
                            json_pack("{s:o*,s:o*}", "scores", scores, "thresholds", thresholds));
    }
    return json_pack("{s:s,s:s,s:I,s:o*}", "status", "ready", "sample", c->path, "n",
                     (json_int_t)c->n, "routers", routers);
}

void srv__dashboard_calibration(struct srv_request *q) {
    if (!enabled(q))
        return;
    struct srv_gen *g = q->gen;
    if (!g->calibration && !(g->calibration = calibration_start(q))) {
        srv__answer_error(q, 500, "cannot start scoring the calibration sample", "server_error",
                          NULL, NULL);
        return;
    }
    const struct srv_calibration *c = g->calibration;
    switch (atomic_load(&c->state)) {
    case CALIB_READY: srv__answer_value(q, calibration_json(c)); return;
    case CALIB_FAILED:
        srv__answer_value(q, json_pack("{s:s,s:s}", "status", "failed", "error", c->error));
        return;
    default:
        srv__answer_value(q, json_pack("{s:s,s:I,s:I}", "status", "running", "done",
                                       (json_int_t)atomic_load(&c->done), "total",
                                       (json_int_t)atomic_load(&c->total)));
    }
}

void srv__dashboard_recent(struct srv_server *s, json_t *line) {
    json_t **slot = &s->recent[s->recent_at];
    json_decref(*slot);
    *slot = json_incref(line);
    s->recent_at = (s->recent_at + 1) % SRV_RECENT_MAX;
    if (s->n_recent < SRV_RECENT_MAX)
        s->n_recent++;
}
