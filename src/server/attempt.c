// Upstream attempts: the request body, with its `model` rewritten for the chosen upstream, is
// POSTed there (upstream.c). Until the first byte of an answer reaches the client, a failure can
// still be hidden: connection errors, timeouts, 429 and 5xx are retried with exponential
// back-off (a Retry-After of up to 10 s is honoured), then the request falls back along its
// plan: the model's fallbacks: chain, then for a route its fallbacks: chain, for a pair router
// the other model of the pair (routing.fallback) and its chain. A model that failed
// cooldown_errors requests in a row is skipped for cooldown_s while a model that is not cooling
// down is left on the plan. An answer saying that the prompt is too long for the model (a 400
// of context_length_exceeded and its kin) switches the plan to the model's context_fallbacks
// chain. A redirect or an upstream refusing the proxy's own credentials (401,
// 403) is the configuration's fault, not the client's: it is not retried on the same model, may
// fall back, and ends as 502 with its own type, never as the upstream's answer (a 401 passed on
// would read as the client's key failing). Any other 4xx goes back with its status, since neither
// a retry nor another model would help, but never with the upstream's body, which can quote
// what it was sent: the client gets a summary with key-shaped words masked. A non-streaming
// answer is held, bounded, until it is complete and known to be JSON; a streamed one is
// committed at its first byte and handed to the relay. A chat request goes to the model's
// chat/completions URL, a completions request to its completions URL.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server/server_impl.h"

static void start_attempt(struct srv_request *q);

// ----------------------------------------------------------------------------
// The plan: the models a request may try, in order

static void plan_add(struct srv_attempts *up, int model) {
    for (size_t i = 0; i < up->n_plan; i++)
        if (up->plan[i] == model)
            return;
    if (up->n_plan < RL_COUNTOF(up->plan))
        up->plan[up->n_plan++] = model;
}

static void plan_add_chain(struct srv_attempts *up, const struct srv_chain *ch) {
    for (size_t i = 0; i < ch->n; i++)
        plan_add(up, ch->items[i]);
}

static void plan_build(struct srv_request *q) {
    struct srv_attempts *up = &q->up;
    const struct srv_config *c = q->gen->c;
    up->n_plan = up->at = 0;
    plan_add(up, q->model);
    plan_add_chain(up, &c->models[q->model].chain);
    if (q->routing.route >= 0) {
        plan_add_chain(up, &q->gen->routes[q->routing.route].cfg->chain);
    } else if (q->routing.router >= 0 && c->fallback) {
        int other = q->model == q->gen->strong ? q->gen->weak : q->gen->strong;
        plan_add(up, other);
        plan_add_chain(up, &c->models[other].chain);
    }
}

// A model is cooling down, or, for a group, every one of its deployments is.
static bool cooling(const struct srv_request *q, int model) {
    const struct srv_chain *members = &q->gen->c->models[model].members;
    uint64_t now = srv_now_ns();
    for (size_t i = 0; i < members->n; i++)
        if (q->gen->health[members->items[i]].until_ns <= now)
            return false;
    return members->n > 0 || q->gen->health[model].until_ns > now;
}

// The upstream a call to q->model goes to: the model itself, or for a group the deployment
// whose turn it is (round_robin) or that has the fewest calls in flight (least_busy), among
// those not cooling down (among all when every one is).
static int pick_target(struct srv_request *q) {
    const struct srv_model *m = &q->gen->c->models[q->model];
    const struct srv_chain *members = &m->members;
    if (members->n == 0)
        return q->model;
    struct srv_health *h = q->gen->health;
    bool all_cooling = cooling(q, q->model);
    int best = -1;
    for (size_t k = 0; k < members->n; k++) {
        size_t i = m->balance == SRV_BALANCE_ROUND_ROBIN ? (h[q->model].turn + k) % members->n : k;
        int d = members->items[i];
        if (!all_cooling && cooling(q, d))
            continue;
        if (m->balance == SRV_BALANCE_ROUND_ROBIN) {
            h[q->model].turn = (unsigned)((i + 1) % members->n);
            return d;
        }
        if (best < 0 || h[d].busy < h[best].busy)
            best = d;
    }
    return best;
}

// The plan's next model from index `from` on: the first that is not cooling down, or, when all
// are, the first. -1 when the plan is over.
static int plan_next(const struct srv_request *q, size_t from) {
    for (size_t i = from; i < q->up.n_plan; i++)
        if (!cooling(q, q->up.plan[i]))
            return (int)i;
    return from < q->up.n_plan ? (int)from : -1;
}

// A call to an upstream failed: count it towards the upstream's cooldown.
static void health_failed(struct srv_request *q, int model) {
    struct srv_health *h = &q->gen->health[model];
    const struct srv_model *m = &q->gen->c->models[model];
    if (!m->cooldown_errors || ++h->fails < m->cooldown_errors)
        return;
    h->fails = 0;
    h->until_ns = srv_now_ns() + (uint64_t)(m->cooldown_s * 1e9);
    srv_metrics_cooldown(q->gen->metrics, model);
    srv_logf(SRV_LOG_WARN, "cooldown", "model %s failed %u calls in a row: skipped for %g s",
             m->name, m->cooldown_errors, m->cooldown_s);
}

static void health_ok(struct srv_request *q, int model) {
    q->gen->health[model].fails = 0;
}

// The call to up->target is over (done or cancelled): it is no longer in flight.
static void call_ended(struct srv_request *q) {
    if (q->up.busy) {
        q->gen->health[q->up.target].busy--;
        q->up.busy = false;
    }
}

// Move the request to plan[i], a model other than the current one, and start there.
static void switch_model(struct srv_request *q, size_t i, const char *reason) {
    struct srv_attempts *up = &q->up;
    int to = up->plan[i];
    srv_metrics_fallback(q->gen->metrics, q->model, to);
    struct srv_log l;
    srv_log_begin(&l, SRV_LOG_WARN, "fallback");
    srv_log_str(&l, "id", q->id);
    srv_log_str(&l, "from", q->gen->c->models[q->model].name);
    srv_log_str(&l, "to", q->gen->c->models[to].name);
    srv_log_str(&l, "reason", reason);
    srv_log_end(&l);
    up->fell_back = true;
    up->at = i;
    q->model = to;
    up->n_model = 0;
    up->retries_left = q->gen->c->retries;
    start_attempt(q);
}

// ----------------------------------------------------------------------------
// Streamed answers: the relay between libcurl and the client

static void relay_wake(struct srv_relay *r) {
    srv__stream_wake(r->data);
}

static void relay_unpause(struct srv_relay *r) {
    struct srv_request *q = r->data;
    srv_upstream_unpause(q->s->up, &q->up.call);
}

static void relay_broken(struct srv_relay *r) {
    struct srv_request *q = r->data;
    srv_metrics_stream_error(q->gen->metrics, q->up.target);
}

static const struct srv_relay_ops relay_ops = {relay_wake, relay_unpause, relay_broken};

// Hand a piece of a streamed answer to the relay, in libcurl's terms.
static size_t relay_push(struct srv_request *q, const char *data, size_t n) {
    int rc = srv_relay_push(&q->relay, data, n);
    return rc == RL_OK ? n : rc == SRV_RELAY_FULL ? CURL_WRITEFUNC_PAUSE : 0;
}

// The first byte of a successful streamed answer: from here on the client has the status, so
// nothing can be retried any more. Returns false when the relay cannot be started.
static bool commit(struct srv_request *q, const struct srv_call *call) {
    const char *ctype = call->content_type[0] ? call->content_type : "text/event-stream";
    bool sse = strncasecmp(ctype, "text/event-stream", 17) == 0;
    if (srv_relay_init(&q->relay, SRV_STREAM_RING, sse, q->gen->c->models[q->up.target].name,
                       &relay_ops, q) != RL_OK)
        return false;
    q->up.committed = true;
    health_ok(q, q->up.target);
    srv__answer_stream(q, (int)call->status, ctype);
    return true;
}

// ----------------------------------------------------------------------------
// Retries and fallback

// What a failed transfer was, as the outcome label of routellm_upstream_attempts_total.
static const char *classify(CURLcode rc) {
    switch (rc) {
    case CURLE_OPERATION_TIMEDOUT: return "timeout";
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

// The client's error after the last attempt failed: 504 after a timeout, else 502.
static void give_up(struct srv_request *q, const char *detail) {
    struct srv_attempts *up = &q->up;
    char msg[400];
    snprintf(msg, sizeof msg, "upstream model '%s' failed after %d attempt%s: %s",
             q->gen->c->models[q->model].name, up->n, up->n == 1 ? "" : "s", detail);
    switch (up->last_failure) {
    case SRV_FAIL_TIMEOUT:
        srv__answer_error(q, 504, msg, "upstream_error", NULL, "upstream_timeout");
        break;
    case SRV_FAIL_AUTH:
        srv__answer_error(q, 502, msg, "upstream_auth_error", NULL, "upstream_unauthorized");
        break;
    case SRV_FAIL_REDIRECT:
        srv__answer_error(q, 502, msg, "upstream_error", NULL, "upstream_redirect");
        break;
    default: srv__answer_error(q, 502, msg, "upstream_error", NULL, "upstream_failed");
    }
}

// A failure worth another try: wait and try the same model again while retries are left (unless
// retry_same is false), then the plan's next model, then give up.
static void retry_or_fall_back(struct srv_request *q, const char *detail, bool retry_same) {
    struct srv_server *s = q->s;
    struct srv_attempts *up = &q->up;
    if (retry_same && up->retries_left > 0) {
        up->retries_left--;
        int doublings = up->n_model - 1 < 6 ? up->n_model - 1 : 6;
        double delay = q->gen->c->backoff_s * (double)(1u << doublings);
        if (up->call.retry_after_s > delay && up->call.retry_after_s <= 10)
            delay = up->call.retry_after_s;
        q->state = SRV_BACKOFF;
        up->backoff.cb = on_backoff;
        up->backoff.data = q;
        srv_timer_start(s->loop, &up->backoff, delay);
        return;
    }
    int next = plan_next(q, up->at + 1);
    if (next >= 0) {
        switch_model(q, (size_t)next, detail);
        return;
    }
    give_up(q, detail);
}

// The upstream answered that the prompt exceeds its context: go on along the model's context
// fallbacks (or, already on them, to the next one). False when there is none left.
static bool context_fall_back(struct srv_request *q, long status) {
    struct srv_attempts *up = &q->up;
    if (!srv_upstream_context_exceeded(status, up->resp.data, up->resp.len))
        return false;
    if (!up->context) {
        const struct srv_chain *ch = &q->gen->c->models[q->model].context_chain;
        if (ch->n == 0)
            return false;
        // The plan becomes the current model, then its context chain.
        up->n_plan = 0;
        plan_add(up, q->model);
        plan_add_chain(up, ch);
        up->at = 0;
        up->context = true;
    }
    int next = plan_next(q, up->at + 1);
    if (next < 0)
        return false;
    switch_model(q, (size_t)next, "the prompt exceeds the model's context");
    return true;
}

// ----------------------------------------------------------------------------
// One attempt

static void on_stall_check(struct srv_timer *t);

static size_t on_body(struct srv_call *call, const char *data, size_t n) {
    struct srv_request *q = call->data;
    q->up.last_byte_ns = srv_now_ns();
    if (!q->up.stall.armed) {
        q->up.stall.cb = on_stall_check;
        q->up.stall.data = q;
        srv_timer_start(q->s->loop, &q->up.stall, q->gen->c->models[q->up.target].stall_timeout_s);
    }
    if (q->up.committed)
        return relay_push(q, data, n);
    if (q->routing.stream && call->status >= 200 && call->status < 300)
        return commit(q, call) ? relay_push(q, data, n) : 0;
    if (rl_buf_append(&q->up.resp, data, n) != RL_OK) {
        q->up.too_big = true;
        return 0;
    }
    return n;
}

// A complete 2xx answer is passed on when it is JSON, else it is a 502.
static void answered(struct srv_request *q, const struct srv_call *call, const char *ctype,
                     double secs) {
    struct rl_buf *resp = &q->up.resp;
    json_error_t jerr;
    json_t *j = resp->len ? json_loadb(resp->data, resp->len, 0, &jerr) : NULL;
    if (!j) {
        srv_metrics_attempt(q->gen->metrics, q->up.target, "malformed", secs);
        char detail[300];
        snprintf(detail, sizeof detail, "upstream model '%s' returned %s",
                 q->gen->c->models[q->up.target].name,
                 resp->len ? "a body that is not valid JSON" : "an empty body");
        srv__answer_error(q, 502, detail, "upstream_error", NULL, "upstream_malformed");
        return;
    }
    struct srv_reply *a = &q->reply;
    a->have_usage = srv_usage(j, &a->prompt_tokens, &a->completion_tokens);
    json_decref(j);
    srv_metrics_attempt(q->gen->metrics, q->up.target, "ok", secs);
    health_ok(q, q->up.target);
    srv__answer(q, (int)call->status, resp, ctype);
}

static void on_done(struct srv_call *call, CURLcode rc) {
    struct srv_request *q = call->data;
    struct srv_attempts *up = &q->up;
    double secs = (double)(srv_now_ns() - up->t0) * 1e-9;
    const char *ctype = call->content_type[0] ? call->content_type : "application/json";
    long status = call->status;
    call_ended(q);
    if (up->committed) {
        srv_metrics_attempt(q->gen->metrics, up->target, rc == CURLE_OK ? "ok" : classify(rc),
                            secs);
        srv_relay_end(&q->relay, rc == CURLE_OK    ? NULL
                                 : call->errbuf[0] ? call->errbuf
                                                   : curl_easy_strerror(rc));
        return;
    }
    if (rc == CURLE_OK && status >= 200 && status < 300) {
        answered(q, call, ctype, secs);
        return;
    }
    bool redirect = rc == CURLE_OK && status >= 300 && status < 400;
    bool auth = rc == CURLE_OK && (status == 401 || status == 403);
    if (rc == CURLE_OK && status >= 400 && status < 500 && status != 429 && !auth) {
        // The upstream refused the request itself (400, 404, 422, ...): retrying would not help,
        // nor would another model, unless the prompt is too long for this one and a model with a
        // larger context is configured. Otherwise its status goes back, with a safe summary of
        // its error.
        srv_metrics_attempt(q->gen->metrics, up->target, "http_4xx", secs);
        if (context_fall_back(q, status))
            return;
        const struct srv_model *m = &q->gen->c->models[up->target];
        struct rl_buf b;
        rl_buf_init(&b, 1 << 16);
        const char *secrets[SRV_MAX_SECRETS];
        size_t n_secrets = srv_model_secrets(m, secrets, RL_COUNTOF(secrets));
        if (srv_upstream_error_body(up->resp.data, up->resp.len, m->name, status, secrets,
                                    n_secrets, &b) != RL_OK)
            rl_buf_init(&b, 0);
        srv__answer(q, (int)status, &b, "application/json");
        return;
    }
    char detail[300];
    const char *outcome;
    bool retry = true, retry_same = !redirect && !auth;
    up->last_failure = rc == CURLE_OPERATION_TIMEDOUT ? SRV_FAIL_TIMEOUT
                       : auth                         ? SRV_FAIL_AUTH
                       : redirect                     ? SRV_FAIL_REDIRECT
                                                      : SRV_FAIL_OTHER;
    if (auth || redirect) {
        outcome = auth ? "http_auth" : "http_redirect";
        snprintf(detail, sizeof detail, "HTTP %ld: %s", status,
                 auth ? "the upstream refused the proxy's credentials (check its api_key_env, "
                        "auth and headers)"
                      : "the upstream redirects (check its base_url)");
    } else if (rc == CURLE_OK) {
        outcome = status == 429 ? "http_429" : "http_5xx";
        snprintf(detail, sizeof detail, "HTTP %ld", status);
    } else if (up->too_big) {
        // An answer too large to hold would be as large again.
        outcome = "too_large";
        retry = false;
        snprintf(detail, sizeof detail, "the response exceeds server.max_response_bytes (%zu)",
                 q->gen->c->max_response);
    } else {
        outcome = classify(rc);
        snprintf(detail, sizeof detail, "%s",
                 call->errbuf[0] ? call->errbuf : curl_easy_strerror(rc));
    }
    srv_metrics_attempt(q->gen->metrics, up->target, outcome, secs);
    health_failed(q, up->target);
    struct srv_log l;
    srv_log_begin(&l, SRV_LOG_WARN, "upstream attempt failed");
    srv_log_str(&l, "id", q->id);
    srv_log_str(&l, "model", q->gen->c->models[up->target].name);
    srv_log_str(&l, "outcome", outcome);
    srv_log_str(&l, "detail", detail);
    srv_log_int(&l, "attempt", up->n);
    srv_log_end(&l);
    if (!retry)
        srv__answer_error(q, 502, detail, "upstream_error", NULL, "upstream_failed");
    else
        retry_or_fall_back(q, detail, retry_same);
}

// An answer that began and then went silent for stall_timeout_s is cut like a timeout: before
// the client has anything it is retried, after that the stream ends with an error event. The
// check is lazy: one timer per attempt, moved on when bytes came since it was set.
static void on_stall_check(struct srv_timer *t) {
    struct srv_request *q = t->data;
    struct srv_attempts *up = &q->up;
    double stall = q->gen->c->models[up->target].stall_timeout_s;
    double quiet = (double)(srv_now_ns() - up->last_byte_ns) * 1e-9;
    if (!up->call.easy)
        return;
    if (quiet < stall) {
        srv_timer_start(q->s->loop, t, stall - quiet);
        return;
    }
    srv_upstream_cancel(q->s->up, &up->call);
    snprintf(up->call.errbuf, sizeof up->call.errbuf,
             "the upstream sent nothing for %g s (stall_timeout_s)", stall);
    on_done(&up->call, CURLE_OPERATION_TIMEDOUT);
}

// routing.request_timeout_s passed before the answer began: whatever is under way stops.
static void on_deadline(struct srv_timer *t) {
    struct srv_request *q = t->data;
    if (q->up.committed || q->state == SRV_ANSWERED)
        return;
    srv_upstream_cancel(q->s->up, &q->up.call);
    call_ended(q);
    srv_timer_stop(q->s->loop, &q->up.backoff);
    srv_timer_stop(q->s->loop, &q->up.stall);
    q->up.last_failure = SRV_FAIL_TIMEOUT;
    char detail[160];
    snprintf(detail, sizeof detail, "no answer within routing.request_timeout_s (%g s)",
             q->gen->c->request_timeout_s);
    give_up(q, detail);
}

static void start_attempt(struct srv_request *q) {
    struct srv_server *s = q->s;
    struct srv_attempts *up = &q->up;
    up->target = pick_target(q);
    const struct srv_model *m = &q->gen->c->models[up->target];
    if (up->body_model != up->target) {
        // The body is kept once: the client's bytes until the first rewrite, then the latest
        // rewrite, which a fallback rewrites again.
        const struct rl_buf *in = up->body.data ? &up->body : &q->client.body;
        struct rl_buf out;
        rl_buf_init(&out, q->gen->c->max_body + 256);
        if (srv_body_set_model(in->data, in->len, m->model, &out) != RL_OK) {
            srv__answer_error(q, 500, "could not rewrite the request body", "server_error", NULL,
                              NULL);
            return;
        }
        rl_buf_free(&up->body);
        rl_buf_free(&q->client.body);
        up->body = out;
        up->body_model = up->target;
    }
    rl_buf_free(&up->resp);
    rl_buf_init(&up->resp, q->gen->c->max_response);
    up->too_big = false;
    up->n++;
    up->n_model++;
    up->t0 = srv_now_ns();
    srv_timer_stop(s->loop, &up->stall);
    q->state = SRV_UPSTREAM;
    up->call.on_body = on_body;
    up->call.on_done = on_done;
    up->call.data = q;
    int api = q->kind == SRV_KIND_COMPLETIONS ? SRV_API_COMPLETIONS : SRV_API_CHAT;
    if (srv_upstream_start(s->up, &up->call, q->gen->urls[api][up->target],
                           q->gen->headers[up->target], up->body.data, up->body.len, m->timeout_s,
                           m->connect_timeout_s) != RL_OK) {
        srv__answer_error(q, 500, "could not start the upstream request", "server_error", NULL,
                          NULL);
        return;
    }
    q->gen->health[up->target].busy++;
    up->busy = true;
}

// ----------------------------------------------------------------------------
// Interface to the other stages

void srv__attempts_begin(struct srv_request *q) {
    plan_build(q);
    int first = plan_next(q, 0);
    if (first > 0) { // the chosen model is cooling down: the plan's next one goes first
        q->up.at = (size_t)first;
        q->model = q->up.plan[first];
        q->up.fell_back = true;
        srv_metrics_fallback(q->gen->metrics, q->up.plan[0], q->model);
    }
    q->up.first_model = q->up.plan[0];
    q->up.deadline.cb = on_deadline;
    q->up.deadline.data = q;
    srv_timer_start(q->s->loop, &q->up.deadline, q->gen->c->request_timeout_s);
    start_attempt(q);
}

void srv__attempts_stop(struct srv_request *q) {
    srv_upstream_cancel(q->s->up, &q->up.call);
    call_ended(q);
    srv_timer_stop(q->s->loop, &q->up.backoff);
    srv_timer_stop(q->s->loop, &q->up.stall);
    srv_timer_stop(q->s->loop, &q->up.deadline);
}

void srv__attempts_abandon(struct srv_request *q) {
    if (q->up.call.easy)
        srv_metrics_attempt(q->gen->metrics, q->up.target, "cancelled",
                            (double)(srv_now_ns() - q->up.t0) * 1e-9);
    srv__attempts_stop(q);
}
