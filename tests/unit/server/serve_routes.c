// Integration tests of the proxy's routes among many models, fallback chains, cooldown and
// context-window fallback: the real binary in front of the C stub upstream, whose first path
// segment picks how each upstream behaves (tests/support/stub_upstream.h).
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "support/serve_harness.h"
#include "support/stub_upstream.h"
#include "test.h"

static struct stub_upstream *stub;

static int stub_port_or_start(void) {
    if (!stub)
        stub = stub_start(0, true);
    return stub ? stub_port(stub) : -1;
}

#define PROMPT "Prove that there are infinitely many primes."
#define ROUTE_BODY(model, extra)                                                                   \
    "{\"model\":\"" model "\",\"messages\":[{\"role\":\"user\",\"content\":\"" PROMPT "\"}]" extra \
    "}"

// Four upstreams at four prices, all answering through the stub's `mode` for big and mid; a
// route `smart` over three of them, known to mf by their arena names; extra text is spliced
// into the route's map.
static int start_routes(struct proxy *p, const char *route_extra) {
    int port = stub_port_or_start();
    if (port < 0)
        return RL_EIO;
    stub_reset(stub);
    return proxy_start(p, NULL,
                       "server: {host: 127.0.0.1, port: 0}\n"
                       "models:\n"
                       "  - {name: big, base_url: \"http://127.0.0.1:%d/ok/v1\", model: big-id,\n"
                       "     price_in: 10, price_out: 30}\n"
                       "  - {name: mid, base_url: \"http://127.0.0.1:%d/ok/v1\", model: mid-id,\n"
                       "     price_in: 0.6, price_out: 0.6}\n"
                       "  - {name: small, base_url: \"http://127.0.0.1:%d/ok/v1\",\n"
                       "     price_in: 0.1, price_out: 0.1}\n"
                       "  - {name: spare, base_url: \"http://127.0.0.1:%d/ok/v1\"}\n"
                       "routing: {strong: big, weak: small, backoff_s: 0.01}\n"
                       "routers: {mf: , random: }\n"
                       "routes:\n"
                       "  smart:\n"
                       "    router: mf\n"
                       "    models:\n"
                       "      - big: gpt-4-1106-preview\n"
                       "      - mid: mixtral-8x7b-instruct-v0.1\n"
                       "      - small: mistral-7b-v0.1\n"
                       "%s",
                       port, port, port, port, route_extra ? route_extra : "");
}

// POST /v1/route with body: the answer's JSON, or NULL (after printing the answer) when its
// status is not want_status.
static json_t *route_call(int port, const char *body, long want_status) {
    struct http_resp r;
    if (http_call(port, "/v1/route", body, NULL, 0, 0, &r) != RL_OK)
        return NULL;
    json_t *j = r.status == want_status ? json_loadb(r.body.data, r.body.len, 0, NULL) : NULL;
    if (r.status != want_status)
        fprintf(stderr, "  /v1/route: HTTP %ld: %.*s\n", r.status, (int)r.body.len, r.body.data);
    http_resp_free(&r);
    return j;
}

// The CLI's answer for the same prompt, candidates and prices: the reference the server must
// agree with.
static json_t *cli_route(const char *policy, const char *param) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "%s route --router mf --json --models "
             "gpt-4-1106-preview,mixtral-8x7b-instruct-v0.1,mistral-7b-v0.1 --price "
             "gpt-4-1106-preview=10,30 --price mixtral-8x7b-instruct-v0.1=0.6,0.6 --price "
             "mistral-7b-v0.1=0.1,0.1 --policy %s --%s %s '" PROMPT "'",
             RL_TEST_BIN, policy, strcmp(policy, "cheapest") == 0 ? "tolerance" : "lambda", param);
    FILE *f = popen(cmd, "r");
    if (!f)
        return NULL;
    char line[2048] = "";
    char *got = fgets(line, sizeof line, f);
    int rc = pclose(f);
    return got && rc == 0 ? json_loads(line, 0, NULL) : NULL;
}

// The candidate of the largest and of the smallest score in a scores object.
static void extremes(const json_t *scores, const char **best, const char **worst) {
    const char *key;
    json_t *v;
    double hi = -1, lo = 2;
    json_object_foreach((json_t *)scores, key, v) {
        double x = json_number_value(v);
        if (x > hi)
            hi = x, *best = key;
        if (x < lo)
            lo = x, *worst = key;
    }
}

// Each policy picks what the CLI picks for the same prompt, with the same qualities and costs
// (keyed by upstream name here, by the router's name there); the model string and the body's
// "routellm" member override the route's policy.
TEST(serve_route_policies_match_cli) {
    struct proxy p;
    ASSERT_OK(start_routes(&p, "    policy: cheapest\n    tolerance: 0.05\n"));
    static const char *const upstream[] = {"big", "mid", "small"};
    static const char *const arena[] = {"gpt-4-1106-preview", "mixtral-8x7b-instruct-v0.1",
                                        "mistral-7b-v0.1"};
    struct {
        const char *body, *policy, *param;
    } cases[] = {
        {ROUTE_BODY("smart", ""), "cheapest", "0.05"},
        {ROUTE_BODY("smart:cheapest-0", ""), "cheapest", "0"},
        {ROUTE_BODY("smart:cheapest-1", ""), "cheapest", "1"},
        {ROUTE_BODY("smart:utility-0", ""), "utility", "0"},
        {ROUTE_BODY("smart", ",\"routellm\":{\"policy\":\"utility\",\"lambda\":100}"), "utility",
         "100"},
        {ROUTE_BODY("smart", ",\"routellm\":{\"tolerance\":0.2}"), "cheapest", "0.2"},
    };
    for (size_t k = 0; k < RL_COUNTOF(cases); k++) {
        json_t *s = route_call(p.port, cases[k].body, 200);
        json_t *c = cli_route(cases[k].policy, cases[k].param);
        ASSERT_NOT_NULL(s);
        ASSERT_NOT_NULL(c);
        ASSERT_STR_EQ(json_string_value(json_object_get(s, "route")), "smart");
        ASSERT_STR_EQ(json_string_value(json_object_get(s, "policy")), cases[k].policy);
        ASSERT_NEAR(json_number_value(json_object_get(s, "param")), atof(cases[k].param), 1e-12);
        ASSERT_STR_EQ(json_string_value(json_object_get(s, "reference")),
                      json_string_value(json_object_get(c, "reference")));
        const char *chosen = json_string_value(json_object_get(s, "model"));
        const char *cli_chosen = json_string_value(json_object_get(c, "model"));
        ASSERT_NOT_NULL(chosen);
        ASSERT_NOT_NULL(cli_chosen);
        for (size_t i = 0; i < RL_COUNTOF(upstream); i++) {
            json_t *ss = json_object_get(s, "scores"), *cs = json_object_get(c, "scores");
            ASSERT_NEAR(json_number_value(json_object_get(ss, upstream[i])),
                        json_number_value(json_object_get(cs, arena[i])), 1e-6);
            ASSERT_NEAR(
                json_number_value(json_object_get(json_object_get(s, "costs"), upstream[i])),
                json_number_value(json_object_get(json_object_get(c, "costs"), arena[i])), 1e-12);
            if (strcmp(chosen, upstream[i]) == 0)
                ASSERT_STR_EQ(cli_chosen, arena[i]);
        }
        // The extremes of the parameter pick the extremes of the qualities and prices.
        const char *best = NULL, *worst = NULL;
        extremes(json_object_get(s, "scores"), &best, &worst);
        if (k == 1 || k == 3) // tolerance 0, λ 0: the best quality
            ASSERT_STR_EQ(chosen, best);
        if (k == 2) // tolerance 1: the cheapest
            ASSERT_STR_EQ(chosen, "small");
        json_decref(s);
        json_decref(c);
    }
    double decisions = 0;
    for (size_t i = 0; i < RL_COUNTOF(upstream); i++) {
        char sample[160];
        snprintf(sample, sizeof sample,
                 "routellm_route_requests_total{route=\"smart\",model=\"%s\"}", upstream[i]);
        decisions += metric_value(p.port, sample);
    }
    ASSERT_EQ(decisions, RL_COUNTOF(cases));
    ASSERT_EQ(proxy_stop(&p), 0);
    return 0;
}

// A chat request to a route: answered by the chosen model with the route's headers, the body
// upstream without the "routellm" member and with the model's id; counted per route and model.
TEST(serve_route_chat_and_metrics) {
    struct proxy p;
    ASSERT_OK(start_routes(&p, "    policy: utility\n    lambda: 0\n"));
    struct http_resp r;
    ASSERT_OK(http_call(p.port, "/v1/chat/completions",
                        ROUTE_BODY("smart", ",\"routellm\":{\"lambda\":0},\"temperature\":0"), NULL,
                        0, 0, &r));
    ASSERT_EQ(r.status, 200);
    char model[64], route[64], quality[64];
    ASSERT(http_header(&r, "x-routellm-model", model, sizeof model));
    ASSERT(http_header(&r, "x-routellm-route", route, sizeof route));
    ASSERT(http_header(&r, "x-routellm-quality", quality, sizeof quality));
    ASSERT(!http_header(&r, "x-routellm-p-strong", quality, sizeof quality));
    ASSERT_STR_EQ(route, "smart");
    http_resp_free(&r);
    char *sent = stub_last_body(stub);
    ASSERT_NOT_NULL(sent);
    ASSERT(strstr(sent, "routellm") == NULL);
    ASSERT_STR_CONTAINS(sent, "\"temperature\":0");
    const char *id = strcmp(model, "big") == 0   ? "big-id"
                     : strcmp(model, "mid") == 0 ? "mid-id"
                                                 : "small";
    char want[96];
    snprintf(want, sizeof want, "\"model\":\"%s\"", id);
    ASSERT_STR_CONTAINS(sent, want);
    free(sent);
    char sample[160];
    snprintf(sample, sizeof sample, "routellm_route_requests_total{route=\"smart\",model=\"%s\"}",
             model);
    ASSERT_EQ(metric_value(p.port, sample), 1);
    // GET /v1/models lists the route.
    ASSERT_OK(http_call(p.port, "/v1/models", NULL, NULL, 0, 0, &r));
    ASSERT_STR_CONTAINS(r.body.data, "\"id\":\"smart\"");
    http_resp_free(&r);
    // Bad policies are the client's 400; a "routellm" member on a request with no route too.
    static const char *const bad[] = {
        ROUTE_BODY("smart:cheapest-2", ""),
        ROUTE_BODY("smart:greedy-0.1", ""),
        ROUTE_BODY("smart:utility-nan", ""),
        ROUTE_BODY("smart", ",\"routellm\":{\"policy\":\"greedy\"}"),
        ROUTE_BODY("smart", ",\"routellm\":{\"tolerance\":\"high\"}"),
        ROUTE_BODY("smart", ",\"routellm\":{\"policy\":\"cheapest\",\"lambda\":3}"),
        ROUTE_BODY("smart", ",\"routellm\":{\"policy\":\"cheapest\"}"),
        ROUTE_BODY("smart", ",\"routellm\":{\"colour\":1}"),
        ROUTE_BODY("smart", ",\"routellm\":[]"),
        ROUTE_BODY("big", ",\"routellm\":{}"),
        ROUTE_BODY("router-random-0.5", ",\"routellm\":{}"),
    };
    for (size_t i = 0; i < RL_COUNTOF(bad); i++) {
        ASSERT_OK(http_call(p.port, "/v1/chat/completions", bad[i], NULL, 0, 0, &r));
        if (r.status != 400)
            TEST_FAIL_("%s: HTTP %ld", bad[i], r.status);
        http_resp_free(&r);
    }
    ASSERT_EQ(proxy_stop(&p), 0);
    return 0;
}

// Fallback chains are followed depth first, each model with its own retries; a model whose
// calls fail cooldown_errors times in a row is skipped while another is left; a prompt too long
// for a model moves along its context fallbacks.
TEST(serve_fallback_chains_cooldown_context) {
    struct proxy p;
    int port = stub_port_or_start();
    ASSERT(port > 0);
    stub_reset(stub);
    ASSERT_OK(proxy_start(&p, NULL,
                          "server: {host: 127.0.0.1, port: 0}\n"
                          "models:\n"
                          "  - {name: a, base_url: \"http://127.0.0.1:%d/e500/v1\",\n"
                          "     fallbacks: [b], cooldown_errors: 2, cooldown_s: 60}\n"
                          "  - {name: b, base_url: \"http://127.0.0.1:%d/e429/v1\",\n"
                          "     fallbacks: [c]}\n"
                          "  - {name: c, base_url: \"http://127.0.0.1:%d/ok/v1\"}\n"
                          "  - {name: d, base_url: \"http://127.0.0.1:%d/e400/v1\",\n"
                          "     context_fallbacks: [c]}\n"
                          "  - {name: e, base_url: \"http://127.0.0.1:%d/e400/v1\"}\n"
                          "routing: {strong: a, weak: c, retries: 1, backoff_s: 0.01}\n"
                          "routers: {random: }\n",
                          port, port, port, port, port));
    struct http_resp r;
    char v[64];
    // a (2 tries) -> b (2 tries) -> c.
    ASSERT_OK(http_call(p.port, "/v1/chat/completions", ROUTE_BODY("a", ""), NULL, 0, 0, &r));
    ASSERT_EQ(r.status, 200);
    ASSERT(http_header(&r, "x-routellm-model", v, sizeof v));
    ASSERT_STR_EQ(v, "c");
    http_resp_free(&r);
    ASSERT_EQ(stub_count(stub, "e500"), 2);
    ASSERT_EQ(stub_count(stub, "e429"), 2);
    ASSERT_EQ(stub_count(stub, "ok"), 1);
    ASSERT_EQ(metric_value(p.port, "routellm_fallbacks_total{from=\"a\",to=\"b\"}"), 1);
    ASSERT_EQ(metric_value(p.port, "routellm_fallbacks_total{from=\"b\",to=\"c\"}"), 1);
    ASSERT_EQ(metric_value(p.port, "routellm_fallbacks_total{from=\"d\",to=\"c\"}"), 0);
    ASSERT_EQ(metric_value(p.port, "routellm_fallbacks_total{from=\"c\",to=\"b\"}"), -1);
    // Its two failed calls put a in cooldown: the next request skips it.
    ASSERT_EQ(metric_value(p.port, "routellm_upstream_cooldowns_total{model=\"a\"}"), 1);
    ASSERT_OK(http_call(p.port, "/v1/chat/completions", ROUTE_BODY("a", ""), NULL, 0, 0, &r));
    ASSERT_EQ(r.status, 200);
    http_resp_free(&r);
    ASSERT_EQ(stub_count(stub, "e500"), 2);
    ASSERT_EQ(stub_count(stub, "e429"), 4);
    ASSERT_EQ(stub_count(stub, "ok"), 2);
    ASSERT_EQ(metric_value(p.port, "routellm_fallbacks_total{from=\"a\",to=\"b\"}"), 2);
    // The context-length 400 of d goes on to c; e has no context fallbacks: its 400 comes back.
    ASSERT_OK(http_call(p.port, "/v1/chat/completions", ROUTE_BODY("d", ""), NULL, 0, 0, &r));
    ASSERT_EQ(r.status, 200);
    ASSERT(http_header(&r, "x-routellm-model", v, sizeof v));
    ASSERT_STR_EQ(v, "c");
    http_resp_free(&r);
    ASSERT_EQ(metric_value(p.port, "routellm_fallbacks_total{from=\"d\",to=\"c\"}"), 1);
    ASSERT_OK(http_call(p.port, "/v1/chat/completions", ROUTE_BODY("e", ""), NULL, 0, 0, &r));
    ASSERT_EQ(r.status, 400);
    ASSERT_STR_CONTAINS(r.body.data, "context_length_exceeded");
    http_resp_free(&r);
    char *log = proxy_log(&p);
    ASSERT_NOT_NULL(log);
    ASSERT_STR_CONTAINS(log, "\"msg\":\"cooldown\"");
    ASSERT_STR_CONTAINS(log, "the prompt exceeds the model's context");
    free(log);
    ASSERT_EQ(proxy_stop(&p), 0);
    return 0;
}

// Bad routes and chains are refused at start-up with the file, the line and what is wrong.
TEST(serve_route_config_errors) {
    int port = stub_port_or_start();
    ASSERT(port > 0);
    struct {
        const char *text, *want;
    } cases[] = {
        {"models:\n  - {name: a, base_url: \"http://h\", fallbacks: [b]}\n"
         "  - {name: b, base_url: \"http://h\", fallbacks: [a]}\n",
         "serve.yaml:3: model b: fallbacks: 'a' leads back to a, a cycle"},
        {"models:\n  - {name: a, base_url: \"http://h\", fallbacks: [a]}\n",
         "serve.yaml:2: model a: fallbacks: 'a' leads back to a, a cycle"},
        {"models:\n  - {name: a, base_url: \"http://h\", context_fallbacks: [zz]}\n",
         "model a: context_fallbacks: no model is named 'zz'"},
        {"models:\n  - {name: a, base_url: \"http://h\", price_in: -1}\n",
         "serve.yaml:2: models[0].price_in"},
        {"models:\n  - {name: a, base_url: \"http://h\"}\nrouters: {random: }\n"
         "routes:\n  r:\n    router: random\n    models: [a]\n",
         "routes.r: router random is of kind random, which scores one pair"},
        {"models:\n  - {name: a, base_url: \"http://h\"}\nrouters: {mf: }\n"
         "routes:\n  r:\n    router: mf\n    models: [a]\n",
         "serve.yaml:7: routes.r: models:"},
        {"models:\n  - {name: a, base_url: \"http://h\"}\nrouters: {mf: }\n"
         "routes:\n  r:\n    router: mf\n    models: [a, zz]\n",
         "serve.yaml:7: route r: models: no model is named 'zz'"},
        {"models:\n  - {name: a, base_url: \"http://h\"}\nrouters: {mf: }\n"
         "routes:\n  r:\n    router: bert\n    models: [a]\n",
         "routes.r: the router 'bert' is not loaded"},
        {"models:\n  - {name: a, base_url: \"http://h\"}\n"
         "routes:\n  a:\n    router: mf\n    models: [a]\n",
         "serve.yaml:4: route a: a model has the same name"},
        {"models:\n  - {name: a, base_url: \"http://h\"}\n"
         "routes:\n  r:\n    router: mf\n    models: [a]\n    policy: utility\n",
         "serve.yaml:4: routes.r: policy: utility needs lambda"},
        {"models:\n  - {name: a, base_url: \"http://h\"}\n"
         "routes:\n  r:\n    router: mf\n    models: [a]\n    policy: greedy\n",
         "serve.yaml:7: routes.r.policy: expected one of cheapest, utility"},
        {"models:\n  - {name: a, base_url: \"http://h\"}\n"
         "routes:\n  r:\n    router: mf\n    models: [{a: x, b: y}]\n",
         "routes.r.models: an item is a model name"},
        {"models:\n  - {name: a, base_url: \"http://h\"}\n"
         "routes:\n  r:\n    models: [a]\n",
         "serve.yaml:4: routes.r: missing 'router'"},
        {"models:\n  - {name: g, deployments: [a], base_url: \"http://h\"}\n"
         "  - {name: a, base_url: \"http://h\"}\n",
         "serve.yaml:2: models[0]: a model with deployments calls them"},
        {"models:\n  - {name: g, deployments: [a, zz]}\n  - {name: a, base_url: \"http://h\"}\n",
         "serve.yaml:2: model g: deployments: no model is named 'zz'"},
        {"models:\n  - {name: g, deployments: [h]}\n  - {name: h, deployments: [a]}\n"
         "  - {name: a, base_url: \"http://h\"}\n",
         "model g: deployments: 'h' is a group itself"},
        {"models:\n  - {name: a, base_url: \"http://h\", balance: least_busy}\n",
         "serve.yaml:2: models[0]: balance goes with deployments"},
        {"models:\n  - {name: g, deployments: [a], balance: fastest}\n"
         "  - {name: a, base_url: \"http://h\"}\n",
         "models[0].balance: expected one of round_robin, least_busy"},
    };
    for (size_t i = 0; i < RL_COUNTOF(cases); i++) {
        struct proxy p;
        int status = proxy_run_to_exit(&p, cases[i].text, NULL);
        char *log = proxy_log(&p);
        ASSERT_NOT_NULL(log);
        if (status == 0 || !strstr(log, cases[i].want))
            TEST_FAIL_("case %zu: exit %d, log: %s (wanted '%s')", i, status, log, cases[i].want);
        free(log);
    }
    return 0;
}

struct async_call {
    int port;
    const char *body;
    struct http_resp r;
    int rc;
};

static void *call_in_thread(void *arg) {
    struct async_call *a = arg;
    a->rc = http_call(a->port, "/v1/chat/completions", a->body, NULL, 0, 0, &a->r);
    return NULL;
}

// The id the stub echoed: the "model" of its answer.
static void answered_id(const struct http_resp *r, char *out, size_t size) {
    json_t *j = json_loadb(r->body.data, r->body.len, 0, NULL);
    snprintf(out, size, "%s", j ? json_string_value(json_object_get(j, "model")) : "");
    json_decref(j);
}

// A group spreads its calls over its deployments: round robin in turn, skipping one in cooldown
// (and a retry goes to the next deployment); least busy to the one with the fewest calls in
// flight. The answer names the group; the metrics name the deployments.
TEST(serve_deployments_balance) {
    struct proxy p;
    int port = stub_port_or_start();
    ASSERT(port > 0);
    stub_reset(stub);
    ASSERT_OK(
        proxy_start(&p, NULL,
                    "server: {host: 127.0.0.1, port: 0}\n"
                    "models:\n"
                    "  - {name: rr, deployments: [d1, d2]}\n"
                    "  - {name: d1, base_url: \"http://127.0.0.1:%d/ok/v1\", model: id-1}\n"
                    "  - {name: d2, base_url: \"http://127.0.0.1:%d/ok/v1\", model: id-2}\n"
                    "  - {name: hurt, deployments: [bad, d1]}\n"
                    "  - {name: bad, base_url: \"http://127.0.0.1:%d/e500/v1\",\n"
                    "     cooldown_errors: 1, cooldown_s: 60}\n"
                    "  - {name: lb, deployments: [s1, s2], balance: least_busy}\n"
                    "  - {name: s1, base_url: \"http://127.0.0.1:%d/slow/v1\", model: id-s1}\n"
                    "  - {name: s2, base_url: \"http://127.0.0.1:%d/slow/v1\", model: id-s2}\n"
                    "routing: {strong: d1, weak: d2, retries: 1, backoff_s: 0.01}\n"
                    "routers: {random: }\n",
                    port, port, port, port, port));
    struct http_resp r;
    char id[64], v[64];
    static const char *const want[] = {"id-1", "id-2", "id-1", "id-2"};
    for (size_t i = 0; i < RL_COUNTOF(want); i++) {
        ASSERT_OK(http_call(p.port, "/v1/chat/completions", ROUTE_BODY("rr", ""), NULL, 0, 0, &r));
        ASSERT_EQ(r.status, 200);
        answered_id(&r, id, sizeof id);
        ASSERT_STR_EQ(id, want[i]);
        ASSERT(http_header(&r, "x-routellm-model", v, sizeof v));
        ASSERT_STR_EQ(v, "rr");
        http_resp_free(&r);
    }
    ASSERT_EQ(metric_value(p.port, "routellm_upstream_attempts_total{model=\"d1\",outcome=\"ok\"}"),
              2);
    // bad fails once: the retry goes to d1, and bad, now cooling down, gets no more calls.
    for (int i = 0; i < 3; i++) {
        ASSERT_OK(
            http_call(p.port, "/v1/chat/completions", ROUTE_BODY("hurt", ""), NULL, 0, 0, &r));
        ASSERT_EQ(r.status, 200);
        answered_id(&r, id, sizeof id);
        ASSERT_STR_EQ(id, "id-1");
        http_resp_free(&r);
    }
    ASSERT_EQ(stub_count(stub, "e500"), 1);
    ASSERT_EQ(metric_value(p.port, "routellm_upstream_cooldowns_total{model=\"bad\"}"), 1);
    // least_busy: idle, the first deployment; with a call in flight there, the other one.
    stub_set_delay(stub, 300);
    ASSERT_OK(http_call(p.port, "/v1/chat/completions", ROUTE_BODY("lb", ""), NULL, 0, 0, &r));
    answered_id(&r, id, sizeof id);
    ASSERT_STR_EQ(id, "id-s1");
    http_resp_free(&r);
    struct async_call first = {p.port, ROUTE_BODY("lb", ""), {0}, 0};
    pthread_t t;
    ASSERT_EQ(pthread_create(&t, NULL, call_in_thread, &first), 0);
    usleep(100 * 1000); // the first call is in flight at the stub
    ASSERT_OK(http_call(p.port, "/v1/chat/completions", ROUTE_BODY("lb", ""), NULL, 0, 0, &r));
    ASSERT_EQ(pthread_join(t, NULL), 0);
    ASSERT_OK(first.rc);
    char id_first[64];
    answered_id(&first.r, id_first, sizeof id_first);
    answered_id(&r, id, sizeof id);
    ASSERT_STR_EQ(id_first, "id-s1");
    ASSERT_STR_EQ(id, "id-s2");
    http_resp_free(&first.r);
    http_resp_free(&r);
    stub_set_delay(stub, 0);
    ASSERT_EQ(proxy_stop(&p), 0);
    return 0;
}
