// The calls of `routellm label`: each open cell's answer, then its judgement (a judge's reply,
// or a reference grade computed here), through libcurl's multi interface driven by the proxy's
// event loop. At most `concurrency` calls run at once and at most `rps` start per second; a call
// is retried on connection errors, timeouts, 429 and 5xx as `serve` retries (routing.retries,
// routing.backoff_s doubled each time, a Retry-After of up to 10 s wins), and given up after
// that: the cell stays open for the next run. Every finished cell goes to the journal at once.
//
// Stopping: when the budget (--max-cost) is reached or on SIGINT/SIGTERM no call starts any
// more, and the calls in flight are finished and recorded, since they are paid for either way;
// the spend can thus pass the budget by the calls in flight. A second signal abandons them.
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/label.h"
#include "server/server.h"

enum task_kind { TASK_ANSWER, TASK_JUDGE, TASK_PAIR_FIRST, TASK_PAIR_SECOND };

struct task {
    size_t prompt;
    int model; // the candidate answered or judged (pairs: unused)
    enum task_kind kind;
};

// One call in flight, from its first attempt to its last (backoff waits included).
struct slot {
    struct srv_call call;
    struct runner *r;
    struct task t;
    int cfg;    // the model called, an index among config->models
    char *body; // the request, kept for the retries
    struct rl_buf resp;
    bool too_big;          // the reply passed config->max_response
    int attempt;           // retries made
    struct srv_timer wait; // backoff and rate waits
    bool busy;
};

struct runner {
    struct label_job *j;
    const struct label_run_params *p;
    const struct srv_config *c;
    struct label_totals *t;
    struct srv_loop *loop;
    struct srv_upstream *up;
    char **urls;                 // (config->n_models) chat/completions URL of each model used
    struct curl_slist **headers; // (config->n_models)
    struct slot *slots;          // (p->concurrency)
    int active;
    struct task *queue; // judge tasks, served before new answers (a ring)
    size_t q_head, q_len, q_cap;
    size_t cursor;     // the next cell (prompt * n_models + model) to answer
    double next_start; // the rate cap: no call starts before this (rl_now_s)
    struct srv_timer rate;
    bool stopping;
    enum label_stop why;
    struct cli_progress progress;
    char *errbuf;
};

static volatile sig_atomic_t signals_seen;

static void on_signal(int sig) {
    (void)sig;
    signals_seen++;
}

static void pump(struct runner *r);
static void attempt(struct slot *s);

static void stop(struct runner *r, enum label_stop why) {
    if (!r->stopping || why > r->why)
        r->why = why;
    r->stopping = true;
}

static struct label_cell *cell_of(const struct runner *r, size_t prompt, int model) {
    return &r->j->cells[prompt * (size_t)r->j->n_models + (size_t)model];
}

// ----------------------------------------------------------------------------
// Tasks

static bool queue_push(struct runner *r, struct task t) {
    if (r->q_len == r->q_cap) {
        size_t cap = r->q_cap ? 2 * r->q_cap : 64;
        struct task *q = malloc(cap * sizeof *q);
        if (!q)
            return false;
        for (size_t k = 0; k < r->q_len; k++)
            q[k] = r->queue[(r->q_head + k) % r->q_cap];
        free(r->queue);
        r->queue = q;
        r->q_cap = cap;
        r->q_head = 0;
    }
    r->queue[(r->q_head + r->q_len) % r->q_cap] = t;
    r->q_len++;
    return true;
}

// Queue what the answers of prompt i allow: its judgement, or both orders of its pair.
static void queue_judging(struct runner *r, size_t i, int model) {
    bool ok = true;
    if (r->j->mode == LABEL_MODE_JUDGE) {
        ok = queue_push(r, (struct task){i, model, TASK_JUDGE});
    } else if (r->j->mode == LABEL_MODE_PAIRWISE) {
        if (cell_of(r, i, 0)->state == LABEL_CELL_ANSWERED &&
            cell_of(r, i, 1)->state == LABEL_CELL_ANSWERED)
            ok = queue_push(r, (struct task){i, 0, TASK_PAIR_FIRST}) &&
                 queue_push(r, (struct task){i, 0, TASK_PAIR_SECOND});
    }
    if (!ok) {
        rl__errf(r->errbuf, RL_ENOMEM, "out of memory");
        stop(r, LABEL_STOP_ERROR);
    }
}

// The next task: a judgement waiting, else the next open cell's answer. False when none is left.
static bool next_task(struct runner *r, struct task *t) {
    if (r->q_len) {
        *t = r->queue[r->q_head];
        r->q_head = (r->q_head + 1) % r->q_cap;
        r->q_len--;
        return true;
    }
    size_t nm = (size_t)r->j->n_models, end = r->j->n * nm;
    while (r->cursor < end) {
        size_t k = r->cursor++;
        if (r->j->cells[k].state == LABEL_CELL_TODO) {
            *t = (struct task){k / nm, (int)(k % nm), TASK_ANSWER};
            return true;
        }
    }
    return false;
}

// The request body of a task (malloc'd JSON), or NULL when out of memory.
static char *task_body(struct runner *r, const struct task *t, int *cfg) {
    const struct label_job *j = r->j;
    const char *q = j->prompts[t->prompt];
    json_t *msgs;
    bool judge = t->kind != TASK_ANSWER;
    if (t->kind == TASK_ANSWER) {
        msgs = json_pack("[{s:s,s:s}]", "role", "user", "content", q);
    } else if (t->kind == TASK_JUDGE) {
        msgs = label_judge_messages(q, cell_of(r, t->prompt, t->model)->answer, NULL);
    } else {
        int a = t->kind == TASK_PAIR_FIRST ? 0 : 1;
        msgs = label_judge_messages(q, cell_of(r, t->prompt, a)->answer,
                                    cell_of(r, t->prompt, 1 - a)->answer);
    }
    *cfg = judge ? r->p->judge_cfg : r->p->model_cfg[t->model];
    long max_tokens = judge ? r->p->judge_max_tokens : r->p->max_tokens;
    json_t *req = json_pack("{s:s,s:o,s:f,s:b}", "model", r->c->models[*cfg].model, "messages",
                            msgs, "temperature", judge ? 0.0 : r->p->temperature, "stream", 0);
    if (req && max_tokens > 0)
        json_object_set_new(req, "max_tokens", json_integer(max_tokens));
    char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    return body;
}

// ----------------------------------------------------------------------------
// Results

// Cut s to at most max bytes on a UTF-8 boundary, in place.
static void utf8_cut(char *s, size_t max) {
    size_t n = strlen(s);
    if (n <= max)
        return;
    n = max;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    s[n] = '\0';
}

// What a judge said, for the journal: the verdict as parsed, else the start of the reply.
static void verdict_text(char *out, size_t size, const char *reply, bool parsed, double score) {
    if (parsed) {
        snprintf(out, size, "[[%g]]", score);
        return;
    }
    snprintf(out, size, "%s", reply);
    utf8_cut(out, LABEL_VERDICT_KEPT);
}

static void cell_done(struct runner *r, size_t i, int m, double quality, double spent,
                      const char *verdict) {
    struct label_cell *c = cell_of(r, i, m);
    c->state = LABEL_CELL_DONE;
    c->quality = quality;
    free(c->answer);
    c->answer = NULL;
    r->t->cells++;
    r->t->missing += isnan(quality);
    if (label_journal_cell(r->j, i, m, quality, spent, verdict) != RL_OK) {
        rl__errf(r->errbuf, RL_EIO, "%s: cannot write the journal", r->j->journal_path);
        stop(r, LABEL_STOP_ERROR);
    }
    cli_progress_add(&r->progress, 1);
}

static void answered(struct runner *r, const struct task *t, char *text, double cost, long pt,
                     long ct) {
    struct label_job *j = r->j;
    struct label_cell *c = cell_of(r, t->prompt, t->model);
    r->t->answers++;
    c->cost = cost;
    utf8_cut(text, LABEL_MAX_ANSWER);
    if (j->mode == LABEL_MODE_REFERENCE) {
        double q;
        bool graded = label_grade(r->p->grader, text, j->refs[t->prompt], &q) == RL_OK;
        char verdict[LABEL_VERDICT_KEPT + 16];
        if (graded)
            snprintf(verdict, sizeof verdict, "%s", q > 0 ? "right" : "wrong");
        else
            verdict_text(verdict, sizeof verdict, text, false, 0);
        cell_done(r, t->prompt, t->model, graded ? q : NAN, cost, verdict);
        free(text);
        return;
    }
    c->answer = text;
    c->state = LABEL_CELL_ANSWERED;
    if (label_journal_answer(j, t->prompt, t->model, text, cost, pt, ct) != RL_OK) {
        rl__errf(r->errbuf, RL_EIO, "%s: cannot write the journal", j->journal_path);
        stop(r, LABEL_STOP_ERROR);
        return;
    }
    queue_judging(r, t->prompt, t->model);
}

static void judged(struct runner *r, const struct task *t, const char *reply, double cost) {
    struct label_job *j = r->j;
    r->t->judgements++;
    r->t->judge_spent += cost;
    if (t->kind == TASK_JUDGE) {
        double score = NAN;
        bool ok = label_parse_score(reply, &score) == RL_OK;
        char verdict[LABEL_VERDICT_KEPT + 16];
        verdict_text(verdict, sizeof verdict, reply, ok, score);
        cell_done(r, t->prompt, t->model, ok ? score : NAN, cost, verdict);
        return;
    }
    size_t i = t->prompt;
    char v = label_parse_pair(reply);
    j->verdicts[i][t->kind == TASK_PAIR_FIRST ? 0 : 1] = v ? v : '?';
    j->pair_spent[i] += cost;
    char v0 = j->verdicts[i][0], v1 = j->verdicts[i][1];
    if (!v0 || !v1)
        return;
    double q = label_pair_quality(v0 == '?' ? 0 : v0, v1 == '?' ? 0 : v1);
    char verdict[64];
    snprintf(verdict, sizeof verdict, "%s first: %c, %s first: %c", j->models[0], v0, j->models[1],
             v1);
    double half = j->pair_spent[i] / 2;
    cell_done(r, i, 0, q, half, verdict);
    cell_done(r, i, 1, 1 - q, half, verdict);
}

// A finished call's reply: its text and usage, then the task's next step.
static void reply_in(struct slot *s) {
    struct runner *r = s->r;
    const struct srv_model *m = &r->c->models[s->cfg];
    json_error_t jerr;
    json_t *doc = json_loadb(s->resp.data ? s->resp.data : "", s->resp.len, 0, &jerr);
    json_t *msg = json_object_get(json_array_get(json_object_get(doc, "choices"), 0), "message");
    const char *text = json_string_value(json_object_get(msg, "content"));
    long pt = 0, ct = 0;
    bool usage = doc && srv_usage(doc, &pt, &ct);
    char *copy = text ? strdup(text) : NULL;
    json_decref(doc);
    if (!copy) {
        r->t->failures++;
        if (r->t->failures <= r->p->max_errors_shown)
            fprintf(stderr, "routellm: label: %s, prompt %zu: a reply without text content\n",
                    m->name, s->t.prompt + 1);
        return;
    }
    r->t->no_usage += !usage;
    r->t->prompt_tokens += pt;
    r->t->completion_tokens += ct;
    double cost = ((double)pt * m->price_in + (double)ct * m->price_out) / 1e6;
    r->t->spent += cost;
    if (s->t.kind == TASK_ANSWER) {
        answered(r, &s->t, copy, cost, pt, ct);
        return;
    }
    judged(r, &s->t, copy, cost);
    free(copy);
}

// ----------------------------------------------------------------------------
// Calls

static void slot_release(struct slot *s) {
    free(s->body);
    s->body = NULL;
    rl_buf_free(&s->resp);
    s->busy = false;
    s->r->active--;
}

static void give_up(struct slot *s, const char *detail) {
    struct runner *r = s->r;
    r->t->failures++;
    if (r->t->failures <= r->p->max_errors_shown)
        fprintf(stderr, "routellm: label: %s, prompt %zu: failed after %d attempt%s: %s\n",
                r->c->models[s->cfg].name, s->t.prompt + 1, s->attempt + 1, s->attempt ? "s" : "",
                detail);
    else if (r->t->failures == r->p->max_errors_shown + 1)
        fprintf(stderr, "routellm: label: more failures; the totals count them\n");
}

static size_t on_body(struct srv_call *call, const char *data, size_t n) {
    struct slot *s = call->data;
    if (rl_buf_append(&s->resp, data, n) != RL_OK) {
        s->too_big = true;
        return 0;
    }
    return n;
}

// Seconds until the rate cap lets a call start (0: now, and the start is counted).
static double rate_wait(struct runner *r) {
    if (r->p->rps <= 0)
        return 0;
    double now = rl_now_s();
    if (now < r->next_start)
        return r->next_start - now;
    r->next_start = now + 1 / r->p->rps;
    return 0;
}

static void on_wait(struct srv_timer *t) {
    attempt(t->data);
}

static void on_done(struct srv_call *call, CURLcode rc) {
    struct slot *s = call->data;
    struct runner *r = s->r;
    long st = call->status;
    char detail[CURL_ERROR_SIZE + 64];
    if (rc == CURLE_OK && st >= 200 && st < 300) {
        reply_in(s);
        slot_release(s);
        pump(r);
        return;
    }
    bool retry = false;
    if (rc == CURLE_OK && (st == 401 || st == 403)) {
        rl__errf(r->errbuf, RL_EIO,
                 "%s: HTTP %ld: the upstream refused the credentials (check its api_key_env, auth "
                 "and headers)",
                 r->c->models[s->cfg].name, st);
        stop(r, LABEL_STOP_AUTH);
        snprintf(detail, sizeof detail, "HTTP %ld", st);
    } else if (rc == CURLE_OK) {
        retry = st == 429 || st >= 500;
        snprintf(detail, sizeof detail, "HTTP %ld%s", st,
                 st >= 300 && st < 400 ? " (a redirect: check its base_url)" : "");
    } else if (s->too_big) {
        snprintf(detail, sizeof detail, "the reply exceeds server.max_response_bytes (%zu)",
                 r->c->max_response);
    } else {
        retry = true;
        snprintf(detail, sizeof detail, "%s",
                 call->errbuf[0] ? call->errbuf : curl_easy_strerror(rc));
    }
    if (retry && s->attempt < r->c->retries && signals_seen < 2) {
        int doublings = s->attempt < 6 ? s->attempt : 6;
        double delay = r->c->backoff_s * (double)(1u << doublings);
        if (call->retry_after_s > delay && call->retry_after_s <= 10)
            delay = call->retry_after_s;
        s->attempt++;
        srv_timer_start(r->loop, &s->wait, delay);
        return;
    }
    give_up(s, detail);
    slot_release(s);
    pump(r);
}

// Start (or retry) the slot's call, once the rate cap allows.
static void attempt(struct slot *s) {
    struct runner *r = s->r;
    double wait = rate_wait(r);
    if (wait > 0) {
        srv_timer_start(r->loop, &s->wait, wait);
        return;
    }
    const struct srv_model *m = &r->c->models[s->cfg];
    rl_buf_free(&s->resp);
    rl_buf_init(&s->resp, r->c->max_response);
    s->too_big = false;
    s->call.on_body = on_body;
    s->call.on_done = on_done;
    s->call.data = s;
    r->t->calls++;
    if (srv_upstream_start(r->up, &s->call, r->urls[s->cfg], r->headers[s->cfg], s->body,
                           strlen(s->body), m->timeout_s, m->connect_timeout_s) != RL_OK) {
        rl__errf(r->errbuf, RL_ENOMEM, "could not start a call to %s", m->name);
        stop(r, LABEL_STOP_ERROR);
        slot_release(s);
    }
}

static bool budget_reached(const struct runner *r) {
    return r->p->max_cost >= 0 && r->j->before.spent + r->t->spent >= r->p->max_cost;
}

// Start tasks while slots are free and nothing says stop.
static void pump(struct runner *r) {
    for (int k = 0; k < r->p->concurrency && !r->stopping; k++) {
        struct slot *s = &r->slots[k];
        if (s->busy)
            continue;
        if (budget_reached(r)) {
            stop(r, LABEL_STOP_BUDGET);
            break;
        }
        struct task t;
        if (!next_task(r, &t))
            break;
        s->t = t;
        s->body = task_body(r, &t, &s->cfg);
        if (!s->body) {
            rl__errf(r->errbuf, RL_ENOMEM, "out of memory");
            stop(r, LABEL_STOP_ERROR);
            break;
        }
        s->busy = true;
        s->attempt = 0;
        r->active++;
        attempt(s);
    }
}

// ----------------------------------------------------------------------------
// Set-up

// URLs and headers of the models the job calls.
static int build_upstreams(struct runner *r) {
    size_t n = r->c->n_models;
    r->urls = calloc(n, sizeof *r->urls);
    r->headers = calloc(n, sizeof *r->headers);
    if (!r->urls || !r->headers)
        return RL_ENOMEM;
    for (int k = -1; k < r->j->n_models; k++) {
        int i = k < 0 ? r->p->judge_cfg : r->p->model_cfg[k];
        if (i < 0 || r->urls[i])
            continue;
        r->urls[i] = srv_model_url(&r->c->models[i], "chat/completions");
        r->headers[i] = srv_model_headers(&r->c->models[i]);
        if (!r->urls[i] || !r->headers[i])
            return RL_ENOMEM;
    }
    return RL_OK;
}

static void runner_free(struct runner *r) {
    for (int k = 0; r->slots && k < r->p->concurrency; k++) {
        struct slot *s = &r->slots[k];
        if (s->busy) {
            srv_upstream_cancel(r->up, &s->call);
            srv_timer_stop(r->loop, &s->wait);
            slot_release(s);
        }
    }
    free(r->slots);
    for (size_t i = 0; r->urls && i < r->c->n_models; i++) {
        free(r->urls[i]);
        curl_slist_free_all(r->headers[i]);
    }
    free(r->urls);
    free(r->headers);
    free(r->queue);
    srv_upstream_free(r->up);
    srv_loop_free(r->loop);
}

// Cells a journal left half-way: judgements whose answers are in, and a pair whose first cell
// was recorded when the process died (its second is the complement).
static void resume_open_cells(struct runner *r) {
    struct label_job *j = r->j;
    for (size_t i = 0; i < j->n && !r->stopping; i++) {
        if (j->mode == LABEL_MODE_PAIRWISE) {
            struct label_cell *a = cell_of(r, i, 0), *b = cell_of(r, i, 1);
            if ((a->state == LABEL_CELL_DONE) != (b->state == LABEL_CELL_DONE)) {
                bool first = a->state == LABEL_CELL_DONE;
                cell_done(r, i, first ? 1 : 0, 1 - (first ? a : b)->quality, 0,
                          "the complement of its pair");
            } else {
                queue_judging(r, i, 0);
            }
            continue;
        }
        for (int m = 0; m < j->n_models; m++)
            if (cell_of(r, i, m)->state == LABEL_CELL_ANSWERED)
                queue_judging(r, i, m);
    }
}

enum label_stop label_run(struct label_job *j, const struct label_run_params *p,
                          struct label_totals *t, char *errbuf) {
    memset(t, 0, sizeof *t);
    struct runner r = {.j = j, .p = p, .c = p->config, .t = t, .errbuf = errbuf};
    r.loop = srv_loop_new();
    r.up = r.loop ? srv_upstream_new(r.loop) : NULL;
    r.slots = calloc((size_t)p->concurrency, sizeof *r.slots);
    if (!r.up || !r.slots || build_upstreams(&r) != RL_OK) {
        rl__errf(errbuf, RL_ENOMEM, "out of memory");
        runner_free(&r);
        return LABEL_STOP_ERROR;
    }
    for (int k = 0; k < p->concurrency; k++) {
        r.slots[k].r = &r;
        r.slots[k].wait.cb = on_wait;
        r.slots[k].wait.data = &r.slots[k];
    }
    size_t open = 0;
    for (size_t k = 0; k < j->n * (size_t)j->n_models; k++)
        open += j->cells[k].state != LABEL_CELL_DONE;
    cli_progress_start(&r.progress, "label", open);
    resume_open_cells(&r);

    struct sigaction sa = {.sa_handler = on_signal}, old_int, old_term;
    sigemptyset(&sa.sa_mask);
    signals_seen = 0;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    pump(&r);
    while (r.active > 0) {
        if (srv_loop_run_once(r.loop, 200) != RL_OK) {
            rl__errf(errbuf, RL_EIO, "the event loop failed");
            stop(&r, LABEL_STOP_ERROR);
            break;
        }
        if (signals_seen == 1 && !r.stopping) {
            fprintf(stderr,
                    "routellm: label: stopping: finishing the %d call%s in flight (a "
                    "second signal abandons them)\n",
                    r.active, r.active == 1 ? "" : "s");
            stop(&r, LABEL_STOP_SIGNAL);
        }
        if (signals_seen >= 2) {
            stop(&r, LABEL_STOP_SIGNAL);
            break;
        }
        label_journal_sync(j, false);
    }
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    cli_progress_finish(&r.progress);
    runner_free(&r);
    label_journal_sync(j, true);
    // A budget reached with the last call is no stop: nothing was left to start.
    open = 0;
    for (size_t k = 0; k < j->n * (size_t)j->n_models; k++)
        open += j->cells[k].state != LABEL_CELL_DONE;
    if (r.stopping && !(r.why == LABEL_STOP_BUDGET && open == 0))
        return r.why;
    return LABEL_STOP_DONE;
}
