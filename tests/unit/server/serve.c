// Integration tests of `routellm serve`: the real binary in front of the C stub upstream
// (tests/support/stub_upstream.c), checked through HTTP the way a client sees it: routing and
// pass-through, streaming, errors, keys, retries and fallback, upstream failures before and
// after the first byte, client hang-ups, the connection limit, metrics, SIGTERM draining and
// config errors.
#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "rl/battle.h"
#include "rl/router.h"
#include "rl/train.h"
#include "support/serve_harness.h"
#include "support/stub_upstream.h"
#include "test.h"

static struct stub_upstream *stub;

static int stub_port_or_start(void) {
    if (!stub)
        stub = stub_start(0, true);
    return stub ? stub_port(stub) : -1;
}

// A proxy whose "strong" and "weak" upstreams are stub modes; the *_extra strings are spliced
// into the server map, the strong model's map and the routing map.
static int start(struct proxy *p, const char *strong_mode, const char *weak_mode,
                 const char *server_extra, const char *strong_extra, const char *routing_extra,
                 const char *env) {
    int port = stub_port_or_start();
    if (port < 0)
        return RL_EIO;
    stub_reset(stub);
    return proxy_start(
        p, env,
        "server: {host: 127.0.0.1, port: 0%s}\n"
        "models:\n"
        "  - {name: strong, base_url: \"http://127.0.0.1:%d/%s/v1\", model: big-model,\n"
        "     price_in: 10, price_out: 30%s}\n"
        "  - {name: weak, base_url: \"http://127.0.0.1:%d/%s/v1/\", model: small-model,\n"
        "     price_in: 0.5, price_out: 1.5, timeout_s: 5}\n"
        "routing: {strong: strong, weak: weak, backoff_s: 0.01%s}\n"
        "routers:\n"
        "  random: {threshold: 0.5}\n",
        server_extra ? server_extra : "", port, strong_mode, strong_extra ? strong_extra : "", port,
        weak_mode, routing_extra ? routing_extra : "");
}

#define CHAT(model, extra)                                                                         \
    "{\"model\":\"" model "\",\"messages\":[{\"role\":\"system\",\"content\":\"be brief\"},"       \
    "{\"role\":\"user\",\"content\":\"hello there\"}]" extra "}"

// The stream's events as a string, for assertions on their order.
static bool ends_with(const struct rl_buf *b, const char *tail) {
    size_t n = strlen(tail);
    return b->len >= n && memcmp(b->data + b->len - n, tail, n) == 0;
}

// ----------------------------------------------------------------------------
// Routing and pass-through

TEST(serve_routes_and_passes_body_through) {
    struct proxy p;
    ASSERT_OK(start(&p, "ok", "ok", NULL, NULL, NULL, NULL));
    // Everything but "model" must reach the upstream byte for byte: odd spacing, key order,
    // floats that would change if re-printed, nested "model" keys and unknown fields.
    static const char body[] =
        "{ \"messages\" : [{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"hi\"}],"
        "\"model\":\"inner\"}],\"temperature\":0.70000000000000000001,\"top_p\":1e-1,"
        "\"model\" :  \"router-random-0.0\" ,\"tools\":[{\"type\":\"function\",\"function\":"
        "{\"name\":\"f\",\"parameters\":{}}}],\"x_custom\":{\"a\":[1,2,{\"b\":null}]}}";
    static const char want[] =
        "{ \"messages\" : [{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"hi\"}],"
        "\"model\":\"inner\"}],\"temperature\":0.70000000000000000001,\"top_p\":1e-1,"
        "\"model\" :  \"big-model\" ,\"tools\":[{\"type\":\"function\",\"function\":"
        "{\"name\":\"f\",\"parameters\":{}}}],\"x_custom\":{\"a\":[1,2,{\"b\":null}]}}";
    struct http_resp r;
    ASSERT_OK(http_call(p.port, "/v1/chat/completions", body, NULL, 0, 0, &r));
    ASSERT_EQ(r.status, 200);
    char *sent = stub_last_body(stub);
    ASSERT_STR_EQ(sent, want);
    free(sent);
    char v[64];
    ASSERT(http_header(&r, "x-routellm-model", v, sizeof v));
    ASSERT_STR_EQ(v, "strong"); // threshold 0: every p_strong >= 0
    ASSERT(http_header(&r, "x-routellm-p-strong", v, sizeof v));
    ASSERT(http_header(&r, "x-request-id", v, sizeof v));
    // The response is the upstream's, unchanged.
    ASSERT_STR_CONTAINS(r.body.data, "\"model\":\"big-model\"");
    ASSERT_STR_CONTAINS(r.body.data, "\"content\":\"echo: hi\"");
    http_resp_free(&r);

    // Threshold 1: p_strong < 1 always, so the weak model; a direct name skips routing.
    ASSERT_OK(http_call(p.port, "/v1/chat/completions", CHAT("router-random-1", ""),
                        "x-request-id: my-id-1", 0, 0, &r));
    ASSERT_EQ(r.status, 200);
    ASSERT(http_header(&r, "x-routellm-model", v, sizeof v));
    ASSERT_STR_EQ(v, "weak");
    ASSERT(http_header(&r, "x-request-id", v, sizeof v));
    ASSERT_STR_EQ(v, "my-id-1");
    ASSERT_STR_CONTAINS(r.body.data, "\"model\":\"small-model\"");
    http_resp_free(&r);
    ASSERT_OK(http_call(p.port, "/v1/chat/completions", CHAT("strong", ""), NULL, 0, 0, &r));
    ASSERT_EQ(r.status, 200);
    ASSERT(!http_header(&r, "x-routellm-p-strong", v, sizeof v));
    ASSERT_STR_CONTAINS(r.body.data, "\"model\":\"big-model\"");
    http_resp_free(&r);
    ASSERT_EQ(proxy_stop(&p), 0);
    return 0;
}

TEST(serve_route_models_health) {
    struct proxy p;
    ASSERT_OK(start(&p, "ok", "ok", NULL, NULL, NULL, NULL));
    struct http_resp r;
    ASSERT_OK(http_call(p.port, "/v1/route", CHAT("router-random-0.25", ""), NULL, 0, 0, &r));
    ASSERT_EQ(r.status, 200);
    json_t *j = json_loadb(r.body.data, r.body.len, 0, NULL);
    ASSERT_NOT_NULL(j);
    double ps = json_real_value(json_object_get(j, "p_strong"));
    ASSERT(ps >= 0 && ps <= 1);
    ASSERT_NEAR(json_number_value(json_object_get(j, "threshold")), 0.25, 1e-12);
    ASSERT_STR_EQ(json_string_value(json_object_get(j, "router")), "random");
    ASSERT_STR_EQ(json_string_value(json_object_get(j, "model")), ps >= 0.25 ? "strong" : "weak");
    json_decref(j);
    http_resp_free(&r);
    ASSERT_EQ(stub_count(stub, "ok"), 0); // route-only: no upstream call

    ASSERT_OK(http_call(p.port, "/v1/models", NULL, NULL, 0, 0, &r));
    ASSERT_EQ(r.status, 200);
    ASSERT_STR_CONTAINS(r.body.data, "\"id\":\"router-random-0.5\"");
    ASSERT_STR_CONTAINS(r.body.data, "\"id\":\"strong\"");
    ASSERT_STR_CONTAINS(r.body.data, "\"id\":\"weak\"");
    http_resp_free(&r);
    ASSERT_OK(http_call(p.port, "/v1/models/weak", NULL, NULL, 0, 0, &r));
    ASSERT_EQ(r.status, 200);
    ASSERT_STR_CONTAINS(r.body.data, "\"id\":\"weak\"");
    http_resp_free(&r);
    ASSERT_OK(http_call(p.port, "/health", NULL, NULL, 0, 0, &r));
    ASSERT_EQ(r.status, 200);
    ASSERT_STR_EQ(r.body.data, "{\"status\":\"online\"}");
    http_resp_free(&r);
    ASSERT_EQ(proxy_stop(&p), 0);
    return 0;
}

// At max_connections the listening socket is not watched; it must be watched again once
// connections close, or the server never accepts again (found by a storm of idle connections
// against the real server, with the HTTP library the proxy used before its own).
TEST(serve_accepts_again_after_connection_limit) {
    struct proxy p;
    ASSERT_OK(start(&p, "ok", "ok", ", max_connections: 4", NULL, NULL, NULL));
    int fds[12];
    for (int i = 0; i < 12; i++) {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)p.port)};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        fds[i] = socket(AF_INET, SOCK_STREAM, 0);
        ASSERT(fds[i] >= 0);
        ASSERT_EQ(connect(fds[i], (struct sockaddr *)&a, sizeof a), 0);
    }
    usleep(200 * 1000);
    for (int i = 0; i < 12; i++)
        close(fds[i]);
    struct http_resp r;
    ASSERT_OK(http_call(p.port, "/health", NULL, NULL, 0, 3000, &r));
    ASSERT_EQ(r.status, 200);
    http_resp_free(&r);
    ASSERT_EQ(proxy_stop(&p), 0);
    return 0;
}

// ----------------------------------------------------------------------------
// Client errors

TEST(serve_client_errors) {
    static const struct {
        const char *path, *body; // input (body NULL: GET)
        long status;             // output
        const char *code;
    } cases[] = {
        {"/v1/chat/completions", "{\"model\": \"router-random-0.5\", ", 400, "invalid_json"},
        {"/v1/chat/completions", "[1, 2]", 400, "invalid_json"},
        {"/v1/chat/completions", "{\"model\":\"a\",\"model\":\"b\"}", 400, "invalid_json"},
        {"/v1/chat/completions", "{\"messages\":[]}", 400, "invalid_model"},
        {"/v1/chat/completions", CHAT("router-random", ""), 400, "invalid_model"},
        {"/v1/chat/completions", CHAT("router--0.5", ""), 400, "invalid_model"},
        {"/v1/chat/completions", CHAT("router-random-1.5", ""), 400, "invalid_model"},
        {"/v1/chat/completions", CHAT("router-random--0.1", ""), 400, "invalid_model"},
        {"/v1/chat/completions", CHAT("router-random-0.5-x", ""), 400, "invalid_model"},
        {"/v1/chat/completions", CHAT("router-random-nan", ""), 400, "invalid_model"},
        {"/v1/chat/completions", CHAT("router-random-inf", ""), 400, "invalid_model"},
        {"/v1/chat/completions", CHAT("router-random-", ""), 400, "invalid_model"},
        {"/v1/chat/completions", CHAT("router-mf_x-0.5", ""), 400, "model_not_found"},
        {"/v1/chat/completions", CHAT("gpt-nope", ""), 400, "model_not_found"},
        {"/v1/chat/completions",
         "{\"model\":\"router-random-0.5\",\"messages\":[{\"role\":\"system\",\"content\":\"x\"}]}",
         400, "invalid_messages"},
        {"/v1/chat/completions", "{\"model\":\"router-random-0.5\",\"messages\":\"hi\"}", 400,
         "invalid_messages"},
        {"/v1/route", CHAT("weak", ""), 400, "model_not_found"},
        {"/v1/nothing", NULL, 404, "not_found"},
        {"/v1/chat/completions", NULL, 405, "method_not_allowed"},
        {"/v1/models/nope", NULL, 404, "model_not_found"},
    };
    struct proxy p;
    ASSERT_OK(start(&p, "ok", "ok", ", max_body_bytes: 2048", NULL, NULL, NULL));
    for (size_t i = 0; i < RL_COUNTOF(cases); i++) {
        struct http_resp r;
        ASSERT_OK(http_call(p.port, cases[i].path, cases[i].body, NULL, 0, 0, &r));
        if (r.status != cases[i].status)
            TEST_FAIL_("case %zu (%s): status %ld, want %ld: %s", i, cases[i].body, r.status,
                       cases[i].status, r.body.data);
        json_t *j = json_loadb(r.body.data, r.body.len, 0, NULL);
        json_t *e = json_object_get(j, "error");
        ASSERT(json_is_string(json_object_get(e, "message")));
        ASSERT(json_is_string(json_object_get(e, "type")));
        ASSERT(json_object_get(e, "param") != NULL);
        ASSERT_STR_EQ(json_string_value(json_object_get(e, "code")), cases[i].code);
        json_decref(j);
        http_resp_free(&r);
    }
    // A body over max_body_bytes is refused before it is read.
    char big[4096];
    memset(big, ' ', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    memcpy(big, "{\"model\":\"weak\"}", 16);
    struct http_resp r;
    ASSERT_OK(http_call(p.port, "/v1/chat/completions", big, NULL, 0, 0, &r));
    ASSERT_EQ(r.status, 413);
    ASSERT_STR_CONTAINS(r.body.data, "body_too_large");
    http_resp_free(&r);
    // A chunked body announces no length: it is read, dropped and refused the same way.
    ASSERT_OK(
        http_call(p.port, "/v1/chat/completions", big, "Transfer-Encoding: chunked", 0, 0, &r));
    ASSERT_EQ(r.status, 413);
    ASSERT_STR_CONTAINS(r.body.data, "body_too_large");
    http_resp_free(&r);
    // One that goes on past SRV_DRAIN_FACTOR times the limit is cut off.
    char huge[20000];
    memset(huge, ' ', sizeof huge - 1);
    huge[sizeof huge - 1] = '\0';
    ASSERT(http_call(p.port, "/v1/chat/completions", huge, "Transfer-Encoding: chunked", 0, 0,
                     &r) != RL_OK);
    http_resp_free(&r);
    ASSERT_EQ(stub_count(stub, "ok"), 0);
    // A chunked body within the limit is served.
    ASSERT_OK(http_call(p.port, "/v1/chat/completions", CHAT("weak", ""),
                        "Transfer-Encoding: chunked", 0, 0, &r));
    ASSERT_EQ(r.status, 200);
    http_resp_free(&r);
    ASSERT_EQ(stub_count(stub, "ok"), 1);
    // The two requests without a user message had a router but no model; each endpoint counts
    // its own.
    ASSERT_EQ(metric_value(p.port, "routellm_requests_total{endpoint=\"/v1/chat/completions\","
                                   "router=\"none\",model=\"none\",status=\"400\"}"),
              14);
    ASSERT_EQ(metric_value(p.port, "routellm_requests_total{endpoint=\"/v1/route\","
                                   "router=\"none\",model=\"none\",status=\"400\"}"),
              1);
    ASSERT_EQ(metric_value(p.port, "routellm_requests_total{endpoint=\"/v1/chat/completions\","
                                   "router=\"random\",model=\"none\",status=\"400\"}"),
              2);
    ASSERT_EQ(proxy_stop(&p), 0);
    return 0;
}

TEST(serve_client_keys) {
    struct proxy p;
    ASSERT_OK(start(&p, "ok", "ok", ", api_keys_env: RL_TEST_CLIENT_KEYS", NULL, NULL,
                    "RL_TEST_CLIENT_KEYS=key-one,key-two"));
    static const struct {
        const char *header; // input
        long status;        // output
    } cases[] = {
        {NULL, 401},
        {"Authorization: Bearer key-on", 401},
        {"Authorization: Bearer key-one2", 401},
        {"Authorization: Basic key-one", 401},
        {"Authorization: Bearer key-one", 200},
        {"Authorization: Bearer key-two", 200},
    };
    for (size_t i = 0; i < RL_COUNTOF(cases); i++) {
        struct http_resp r;
        ASSERT_OK(
            http_call(p.port, "/v1/chat/completions", CHAT("weak", ""), cases[i].header, 0, 0, &r));
        if (r.status != cases[i].status)
            TEST_FAIL_("case %zu: status %ld, want %ld", i, r.status, cases[i].status);
        if (r.status == 401)
            ASSERT_STR_CONTAINS(r.body.data, "invalid_api_key");
        http_resp_free(&r);
    }
    struct http_resp r;
    ASSERT_OK(http_call(p.port, "/health", NULL, NULL, 0, 0, &r));
    ASSERT_EQ(r.status, 200);
    http_resp_free(&r);
    ASSERT_EQ(stub_count(stub, "ok"), 2);
    ASSERT_EQ(proxy_stop(&p), 0);
    return 0;
}

TEST(serve_upstream_key_sent_never_logged) {
    struct proxy p;
    ASSERT_OK(start(&p, "ok", "ok", NULL, ", api_key_env: RL_TEST_UPSTREAM_KEY", NULL,
                    "RL_TEST_UPSTREAM_KEY=sk-secret-123"));
    struct http_resp r;
    ASSERT_OK(http_call(p.port, "/v1/chat/completions", CHAT("strong", ""), NULL, 0, 0, &r));
    ASSERT_EQ(r.status, 200);
    char *auth = stub_last_auth(stub);
    ASSERT_STR_EQ(auth, "Bearer sk-secret-123");
    free(auth);
    ASSERT(strstr(r.headers.data, "sk-secret") == NULL);
    ASSERT(strstr(r.body.data, "sk-secret") == NULL);
    http_resp_free(&r);
    ASSERT_OK(http_call(p.port, "/v1/chat/completions", CHAT("weak", ""), NULL, 0, 0, &r));
    auth = stub_last_auth(stub);
    ASSERT_NULL(auth); // the weak model has no key
    http_resp_free(&r);
    ASSERT_EQ(proxy_stop(&p), 0);
    char *log = proxy_log(&p);
    ASSERT_NOT_NULL(log);
    ASSERT(strstr(log, "sk-secret") == NULL);
    ASSERT_STR_CONTAINS(log, "\"msg\":\"request\"");
    free(log);
    return 0;
}

// ----------------------------------------------------------------------------
// Streaming

// An upstream's error body can quote the key it was sent: the client never sees that body. An
// upstream refusing the proxy's key is 502 with its own type (a 401 passed on would read as the
// client's key failing), a redirect is an upstream error, and a routed request falls back from
// either; any other 4xx keeps its status and code with the message masked. At start the proxy
// asks each upstream for its model list and warns about a refused key or an unreachable one.
TEST(serve_upstream_errors_never_echo_secrets) {
    int sp = stub_port_or_start();
    ASSERT(sp > 0);
    stub_reset(stub);
    struct proxy p;
    ASSERT_OK(proxy_start(
        &p, "RL_TEST_UPSTREAM_KEY=sk-proj-Zq8Secret0123456789abcdef",
        "server: {host: 127.0.0.1, port: 0}\n"
        "models:\n"
        "  - {name: strong, base_url: \"http://127.0.0.1:%d/e401/v1\", "
        "api_key_env: RL_TEST_UPSTREAM_KEY}\n"
        "  - {name: weak, base_url: \"http://127.0.0.1:%d/ok/v1\"}\n"
        "  - {name: short, base_url: \"http://127.0.0.1:%d/e400/v1\", "
        "api_key_env: RL_TEST_UPSTREAM_KEY}\n"
        "  - {name: moved, base_url: \"http://127.0.0.1:%d/e302/v1\"}\n"
        "  - {name: gone, base_url: \"http://127.0.0.1:1/v1\", connect_timeout_s: 0.5}\n"
        "routing: {strong: strong, weak: weak, backoff_s: 0.01}\n"
        "routers:\n"
        "  random: {threshold: 0.5}\n",
        sp, sp, sp, sp));
    static const struct {
        const char *body;
        long status;
        const char *type, *code;
    } cases[] = {
        {CHAT("strong", ""), 502, "upstream_auth_error", "upstream_unauthorized"},
        {CHAT("short", ""), 400, "upstream_error", "context_length_exceeded"},
        {CHAT("moved", ""), 502, "upstream_error", "upstream_redirect"},
    };
    for (size_t i = 0; i < RL_COUNTOF(cases); i++) {
        struct http_resp r;
        ASSERT_OK(http_call(p.port, "/v1/chat/completions", cases[i].body, NULL, 0, 0, &r));
        if (r.status != cases[i].status)
            TEST_FAIL_("case %zu: status %ld: %s", i, r.status, r.body.data);
        json_t *j = json_loads(r.body.data, 0, NULL);
        ASSERT_NOT_NULL(j);
        json_t *e = json_object_get(j, "error");
        ASSERT_STR_EQ(json_string_value(json_object_get(e, "type")), cases[i].type);
        ASSERT_STR_EQ(json_string_value(json_object_get(e, "code")), cases[i].code);
        json_decref(j);
        ASSERT(strstr(r.body.data, "Secret0123") == NULL);
        ASSERT(strstr(r.body.data, "moved") == NULL || i == 2);
        http_resp_free(&r);
    }
    ASSERT_EQ(stub_count(stub, "e401"), 1); // not retried: the same key would fail again
    ASSERT_EQ(stub_count(stub, "e302"), 1);
    // Routed to strong (threshold 0), which refuses the key: weak answers instead.
    struct http_resp r;
    ASSERT_OK(
        http_call(p.port, "/v1/chat/completions", CHAT("router-random-0", ""), NULL, 0, 0, &r));
    ASSERT_EQ(r.status, 200);
    char model[64];
    ASSERT(http_header(&r, "x-routellm-model", model, sizeof model));
    ASSERT_STR_EQ(model, "weak");
    http_resp_free(&r);
    // Fallback series exist for the routed pair only (4 models would give 12 lines of zeros).
    ASSERT_EQ(metric_value(p.port, "routellm_fallbacks_total{from=\"strong\",to=\"weak\"}"), 1);
    ASSERT_EQ(metric_value(p.port, "routellm_fallbacks_total{from=\"weak\",to=\"strong\"}"), 0);
    ASSERT_EQ(metric_value(p.port, "routellm_fallbacks_total{from=\"short\",to=\"moved\"}"), -1);
    ASSERT_EQ(proxy_stop(&p), 0);
    char *log = proxy_log(&p);
    ASSERT(strstr(log, "Secret0123") == NULL);
    ASSERT_STR_CONTAINS(log, "\"outcome\":\"http_auth\"");
    // The start-up check named the refused key and the upstream nobody listens for.
    ASSERT_STR_CONTAINS(log, "\"msg\":\"upstream refused the key\",\"detail\":\"model strong");
    ASSERT_STR_CONTAINS(log, "\"msg\":\"upstream unreachable\",\"detail\":\"model gone");
    ASSERT(strstr(log, "upstream unreachable\",\"detail\":\"model weak") == NULL);
    free(log);
    return 0;
}

TEST(serve_stream_relays_as_it_arrives) {
    struct proxy p;
    ASSERT_OK(start(&p, "slow", "ok", NULL, NULL, NULL, NULL));
    stub_set_delay(stub, 100);
    struct http_resp r;
    ASSERT_OK(http_call(p.port, "/v1/chat/completions",
                        CHAT("router-random-0", ",\"stream\":true,\"stream_options\":"
                                                "{\"include_usage\":true}"),
                        NULL, 0, 0, &r));
    stub_set_delay(stub, 0);
    ASSERT_EQ(r.status, 200);
    char v[64];
    ASSERT(http_header(&r, "content-type", v, sizeof v));
    ASSERT_STR_EQ(v, "text/event-stream");
    ASSERT(http_header(&r, "x-routellm-model", v, sizeof v));
    ASSERT_STR_EQ(v, "strong");
    // Six events 100 ms apart: the first must arrive long before the last.
    ASSERT(r.t_first < 0.35);
    ASSERT(r.t_total > 0.5);
    ASSERT_STR_CONTAINS(r.body.data, "\"content\":\"one \"");
    ASSERT(strstr(r.body.data, "one ") < strstr(r.body.data, "three "));
    ASSERT(ends_with(&r.body, "data: [DONE]\n\n"));
    ASSERT(strstr(r.body.data, "\"error\"") == NULL);
    http_resp_free(&r);
    ASSERT_EQ(metric_value(p.port, "routellm_tokens_total{model=\"strong\",type=\"completion\"}"),
              7);
    ASSERT_EQ(proxy_stop(&p), 0);
    return 0;
}

TEST(serve_stream_cut_ends_with_error_event) {
    static const struct {
        const char *mode;    // input
        const char *relayed; // output: a piece of what the upstream sent
    } cases[] = {{"cut", "\"content\":\"two \""}, {"badsse", "this is not an event\n"}};
    for (size_t i = 0; i < RL_COUNTOF(cases); i++) {
        struct proxy p;
        ASSERT_OK(start(&p, cases[i].mode, "ok", NULL, NULL, NULL, NULL));
        struct http_resp r;
        http_call(p.port, "/v1/chat/completions", CHAT("strong", ",\"stream\":true"), NULL, 0, 0,
                  &r);
        ASSERT_EQ(r.status, 200);
        ASSERT_STR_CONTAINS(r.body.data, cases[i].relayed);
        ASSERT(strstr(r.body.data, "[DONE]") == NULL);
        ASSERT_STR_CONTAINS(r.body.data, "data: {\"error\":{\"message\":");
        ASSERT_STR_CONTAINS(r.body.data, "\"code\":\"stream_interrupted\"");
        ASSERT(ends_with(&r.body, "}}\n\n"));
        http_resp_free(&r);
        ASSERT_EQ(metric_value(p.port, "routellm_stream_errors_total{model=\"strong\"}"), 1);
        ASSERT_EQ(stub_count(stub, cases[i].mode), 1); // no retry once streaming began
        ASSERT_EQ(proxy_stop(&p), 0);
    }
    return 0;
}

TEST(serve_client_hangup_cancels_upstream) {
    struct proxy p;
    ASSERT_OK(start(&p, "slow", "hang", NULL, NULL, NULL, NULL));
    stub_set_delay(stub, 150);
    // Mid-stream: the client leaves after the first event; the proxy drops the upstream.
    struct http_resp r;
    http_call(p.port, "/v1/chat/completions", CHAT("strong", ",\"stream\":true"), NULL, 10, 0, &r);
    http_resp_free(&r);
    bool dropped = false;
    for (int i = 0; i < 200 && !dropped; i++, usleep(10000))
        dropped = stub_aborted(stub) == 1;
    stub_set_delay(stub, 0);
    ASSERT(dropped);
    // Before the first byte: the client gives up while the upstream hangs.
    ASSERT_EQ(http_call(p.port, "/v1/chat/completions", CHAT("weak", ""), NULL, 0, 300, &r),
              HARNESS_TIMEOUT);
    http_resp_free(&r);
    double cancelled = 0;
    for (int i = 0; i < 200 && cancelled != 1; i++, usleep(10000))
        cancelled = metric_value(
            p.port, "routellm_upstream_attempts_total{model=\"weak\",outcome=\"cancelled\"}");
    ASSERT_EQ(cancelled, 1);
    ASSERT_EQ(metric_value(p.port, "routellm_in_flight_requests"), 1); // the /metrics call
    ASSERT_EQ(proxy_stop(&p), 0);
    return 0;
}

// ----------------------------------------------------------------------------
// Upstream failures before the first byte

TEST(serve_retries_then_falls_back) {
    struct proxy p;
    ASSERT_OK(start(&p, "e500", "ok", NULL, NULL, NULL, NULL));
    struct http_resp r;
    ASSERT_OK(
        http_call(p.port, "/v1/chat/completions", CHAT("router-random-0", ""), NULL, 0, 0, &r));
    ASSERT_EQ(r.status, 200);
    char v[64];
    ASSERT(http_header(&r, "x-routellm-model", v, sizeof v));
    ASSERT_STR_EQ(v, "weak");
    ASSERT_STR_CONTAINS(r.body.data, "\"model\":\"small-model\"");
    http_resp_free(&r);
    ASSERT_EQ(stub_count(stub, "e500"), 3); // the first try and two retries
    ASSERT_EQ(stub_count(stub, "ok"), 1);
    ASSERT_EQ(metric_value(p.port, "routellm_fallbacks_total{from=\"strong\",to=\"weak\"}"), 1);
    ASSERT_EQ(
        metric_value(p.port,
                     "routellm_upstream_attempts_total{model=\"strong\",outcome=\"http_5xx\"}"),
        3);
    // A model named directly does not fall back: 502 after its retries.
    ASSERT_OK(http_call(p.port, "/v1/chat/completions", CHAT("strong", ""), NULL, 0, 0, &r));
    ASSERT_EQ(r.status, 502);
    ASSERT_STR_CONTAINS(r.body.data, "\"code\":\"upstream_failed\"");
    ASSERT_STR_CONTAINS(r.body.data, "HTTP 500");
    http_resp_free(&r);
    ASSERT_EQ(proxy_stop(&p), 0);

    // 429 is retried too; with fallback off the answer is 502.
    ASSERT_OK(start(&p, "e429", "ok", NULL, NULL, ", fallback: false", NULL));
    ASSERT_OK(
        http_call(p.port, "/v1/chat/completions", CHAT("router-random-0", ""), NULL, 0, 0, &r));
    ASSERT_EQ(r.status, 502);
    ASSERT_STR_CONTAINS(r.body.data, "HTTP 429");
    http_resp_free(&r);
    ASSERT_EQ(stub_count(stub, "e429"), 3);
    ASSERT_EQ(stub_count(stub, "ok"), 0);
    ASSERT_EQ(proxy_stop(&p), 0);

    // A transient failure is absorbed by one retry.
    ASSERT_OK(start(&p, "flaky", "ok", NULL, NULL, NULL, NULL));
    stub_set_flaky(stub, 1);
    ASSERT_OK(
        http_call(p.port, "/v1/chat/completions", CHAT("router-random-0", ""), NULL, 0, 0, &r));
    ASSERT_EQ(r.status, 200);
    ASSERT(http_header(&r, "x-routellm-model", v, sizeof v));
    ASSERT_STR_EQ(v, "strong");
    http_resp_free(&r);
    ASSERT_EQ(stub_count(stub, "flaky"), 2);
    ASSERT_EQ(proxy_stop(&p), 0);
    return 0;
}

TEST(serve_upstream_timeout_refused_malformed) {
    struct proxy p;
    ASSERT_OK(start(&p, "hang", "badjson", ", max_response_bytes: 1048576", ", timeout_s: 0.2",
                    ", retries: 0, fallback: false", NULL));
    struct http_resp r;
    ASSERT_OK(http_call(p.port, "/v1/chat/completions", CHAT("strong", ""), NULL, 0, 0, &r));
    ASSERT_EQ(r.status, 504);
    ASSERT_STR_CONTAINS(r.body.data, "\"code\":\"upstream_timeout\"");
    http_resp_free(&r);
    ASSERT_OK(http_call(p.port, "/v1/chat/completions", CHAT("weak", ""), NULL, 0, 0, &r));
    ASSERT_EQ(r.status, 502);
    ASSERT_STR_CONTAINS(r.body.data, "\"code\":\"upstream_malformed\"");
    http_resp_free(&r);
    ASSERT_EQ(proxy_stop(&p), 0);

    // Nothing listens on the strong model's port: connection refused, then the weak one.
    int port = stub_port_or_start();
    ASSERT_OK(proxy_start(&p, NULL,
                          "models:\n"
                          "  - {name: strong, base_url: \"http://127.0.0.1:1/v1\"}\n"
                          "  - {name: weak, base_url: \"http://127.0.0.1:%d/big/v1\"}\n"
                          "  - {name: cut, base_url: \"http://127.0.0.1:%d/cut/v1\"}\n"
                          "server: {max_response_bytes: 1048576}\n"
                          "routing: {retries: 1, backoff_s: 0}\n"
                          "routers: {random: }\n",
                          port, port));
    ASSERT_OK(
        http_call(p.port, "/v1/chat/completions", CHAT("router-random-0", ""), NULL, 0, 0, &r));
    ASSERT_EQ(r.status, 502); // ... whose answer is over max_response_bytes
    ASSERT_STR_CONTAINS(r.body.data, "max_response_bytes");
    http_resp_free(&r);
    ASSERT_EQ(metric_value(p.port, "routellm_upstream_attempts_total{model=\"strong\","
                                   "outcome=\"connect_error\"}"),
              2);
    ASSERT_OK(http_call(p.port, "/v1/chat/completions", CHAT("cut", ""), NULL, 0, 0, &r));
    ASSERT_EQ(r.status, 502); // a short body before any byte was relayed
    http_resp_free(&r);
    ASSERT_EQ(proxy_stop(&p), 0);
    return 0;
}

// ----------------------------------------------------------------------------
// Metrics, draining, configuration

// One chat request that the random router sends to the weak model (threshold 1), then the cost
// metrics at the prices the tests use (weak: 0.5 $/M in, 1.5 $/M out; strong: 10 and 30; the
// stub answers with 7 completion tokens). *pt: the prompt tokens the answer reports.
static int check_weak_call_costs(int port, const char *weak, long *pt) {
    struct http_resp r;
    ASSERT_OK(http_call(port, "/v1/chat/completions", CHAT("router-random-1", ""), NULL, 0, 0, &r));
    ASSERT_EQ(r.status, 200);
    json_t *j = json_loadb(r.body.data, r.body.len, 0, NULL);
    *pt = (long)json_integer_value(json_object_get(json_object_get(j, "usage"), "prompt_tokens"));
    json_decref(j);
    http_resp_free(&r);
    ASSERT(*pt > 0);
    double cost = (*pt * 0.5 + 7 * 1.5) / 1e6, strong = (*pt * 10.0 + 7 * 30.0) / 1e6;
    char sample[96];
    snprintf(sample, sizeof sample, "routellm_cost_usd_total{model=\"%s\"}", weak);
    ASSERT_NEAR(metric_value(port, sample), cost, 1e-12);
    ASSERT_NEAR(metric_value(port, "routellm_cost_always_strong_usd_total"), strong, 1e-12);
    ASSERT_NEAR(metric_value(port, "routellm_saving_usd_total"), strong - cost, 1e-12);
    return 0;
}

// Without a config file, the price flags give the two models their prices (the cost and saving
// metrics); with a config file they are a usage error, as the other upstream flags are.
TEST(serve_flags_only_prices) {
    int port = stub_port_or_start();
    ASSERT(port > 0);
    stub_reset(stub);
    char base[64];
    snprintf(base, sizeof base, "http://127.0.0.1:%d/ok/v1", port);
    const char *args[] = {"--base-url",
                          base,
                          "--strong-model",
                          "big",
                          "--weak-model",
                          "small",
                          "--routers",
                          "random",
                          "--strong-price-in",
                          "10",
                          "--strong-price-out",
                          "30",
                          "--weak-price-in",
                          "0.5",
                          "--weak-price-out",
                          "1.5",
                          NULL};
    struct proxy p;
    ASSERT_OK(proxy_start_flags(&p, NULL, args));
    long pt;
    ASSERT_OK(check_weak_call_costs(p.port, "small", &pt));
    ASSERT_EQ(proxy_stop(&p), 0);

    const char *with_config[] = {"--weak-price-in", "1", NULL};
    ASSERT_EQ(proxy_run_to_exit(&p, "routers: {random: }\n", with_config), 2);
    char *log = proxy_log(&p);
    ASSERT_NOT_NULL(log);
    ASSERT_STR_CONTAINS(log, "--*-price-* apply without --config");
    free(log);
    return 0;
}

TEST(serve_metrics_tokens_and_cost) {
    struct proxy p;
    ASSERT_OK(start(&p, "ok", "ok", NULL, NULL, NULL, NULL));
    long pt;
    ASSERT_OK(check_weak_call_costs(p.port, "weak", &pt));
    ASSERT_EQ(metric_value(p.port, "routellm_tokens_total{model=\"weak\",type=\"prompt\"}"), pt);
    ASSERT_EQ(metric_value(p.port, "routellm_requests_total{endpoint=\"/v1/chat/completions\","
                                   "router=\"random\",model=\"weak\",status=\"200\"}"),
              1);
    ASSERT_EQ(metric_value(p.port, "routellm_routed_total{router=\"random\",model=\"weak\"}"), 1);
    ASSERT_EQ(metric_value(p.port, "routellm_routing_seconds_count{router=\"random\"}"), 1);
    ASSERT_EQ(metric_value(p.port, "routellm_upstream_seconds_count{model=\"weak\"}"), 1);
    struct http_resp r;
    ASSERT_OK(http_call(p.port, "/metrics", NULL, NULL, 0, 0, &r));
    char v[96];
    ASSERT(http_header(&r, "content-type", v, sizeof v));
    ASSERT_STR_CONTAINS(v, "text/plain; version=0.0.4");
    ASSERT_STR_CONTAINS(r.body.data, "# TYPE routellm_routing_seconds histogram\n");
    ASSERT_STR_CONTAINS(r.body.data, "routellm_routing_seconds_bucket{router=\"random\","
                                     "le=\"+Inf\"} 1\n");
    http_resp_free(&r);
    ASSERT_EQ(proxy_stop(&p), 0);
    char *log = proxy_log(&p);
    ASSERT_STR_CONTAINS(log, "\"router\":\"random\",\"threshold\":1,\"p_strong\":");
    ASSERT_STR_CONTAINS(log, "\"prompt_tokens\":");
    free(log);
    return 0;
}

TEST(serve_sigterm_drains_in_flight) {
    struct proxy p;
    ASSERT_OK(start(&p, "slow", "ok", NULL, NULL, NULL, NULL));
    stub_set_delay(stub, 100);
    pid_t child = fork();
    if (child == 0) {
        // Signal the server once the stream below is under way.
        usleep(250000);
        kill(p.pid, SIGTERM);
        _exit(0);
    }
    struct http_resp r;
    ASSERT_OK(http_call(p.port, "/v1/chat/completions", CHAT("strong", ",\"stream\":true"), NULL, 0,
                        0, &r));
    stub_set_delay(stub, 0);
    waitpid(child, NULL, 0);
    ASSERT_EQ(r.status, 200);
    ASSERT(ends_with(&r.body, "data: [DONE]\n\n")); // finished despite SIGTERM mid-stream
    http_resp_free(&r);
    ASSERT_EQ(proxy_stop(&p), 0); // already exiting: this only collects the exit status
    char *log = proxy_log(&p);
    ASSERT_STR_CONTAINS(log, "\"msg\":\"draining\"");
    ASSERT_STR_CONTAINS(log, "\"msg\":\"stopped\"");
    free(log);
    return 0;
}

TEST(serve_config_errors_name_line_and_key) {
    static const struct {
        const char *yaml;          // input
        const char *want1, *want2; // output: pieces of the message
    } cases[] = {
        {"server:\n  host: 127.0.0.1\n  prot: 1\n", "serve.yaml:3:", "unknown key 'prot'"},
        {"server: {port: abc}\n", "serve.yaml:1:", "server.port"},
        {"server:\n  port: 70000\n", "serve.yaml:2:", "server.port"},
        {"models:\n  - name: a\n    base_url: http://x/v1\n    colour: red\n",
         "serve.yaml:4:", "models[0]"},
        {"models:\n  - {name: a}\n", "serve.yaml:2:", "missing 'base_url'"},
        {"models: {a: 1}\n", "serve.yaml:1:", "a list of upstream models"},
        {"routing: {retries: many}\n", "serve.yaml:1:", "routing.retries"},
        {"routers:\n  mf: {threshold: 2}\n", "serve.yaml:2:", "routers.mf.threshold"},
        {"server: [\n", "serve.yaml:", "YAML syntax error"},
        {"models:\n  - {name: a, base_url: ftp://x}\n", "serve.yaml:2:", "http://"},
        {"models:\n  - {name: a, base_url: http://x, api_key_env: RL_TEST_UNSET_VAR}\n",
         "serve.yaml:2:", "RL_TEST_UNSET_VAR"},
        {"models:\n  - {name: a, base_url: http://x}\n  - {name: a, base_url: http://y}\n",
         "serve.yaml:3:", "used twice"},
        {"models:\n  - {name: a, base_url: http://x}\nrouting: {strong: b}\n", "routing.strong",
         "'b'"},
        {"models:\n  - {name: a, base_url: http://x}\nrouters:\n  nosuch: {}\n",
         "serve.yaml:4:", "routers.nosuch"},
        {"", "no upstream models", ""},
    };
    for (size_t i = 0; i < RL_COUNTOF(cases); i++) {
        struct proxy p;
        int status = proxy_run_to_exit(&p, cases[i].yaml, NULL);
        char *log = proxy_log(&p);
        if (status != 1 || !log || !strstr(log, cases[i].want1) || !strstr(log, cases[i].want2))
            TEST_FAIL_("case %zu: status %d, message '%s'", i, status, log ? log : "");
        free(log);
    }
    struct proxy p;
    const char *missing[] = {"--config", "/nonexistent/serve.yaml", NULL};
    ASSERT_EQ(proxy_run_to_exit(&p, "", missing), 1);
    char *log = proxy_log(&p);
    ASSERT_STR_CONTAINS(log, "/nonexistent/serve.yaml");
    free(log);
    return 0;
}

// The learned routers embed the prompt on the encoder workers; their decisions must match
// `routellm route`, which embeds and scores in-line, and a prompt is embedded once for all.
// p_strong of router-<router>-0.5 for prompt from the proxy's POST /v1/route; NAN on failure.
static double served_p_strong(int port, const char *router, const char *prompt) {
    char body[512];
    snprintf(body, sizeof body,
             "{\"model\":\"router-%s-0.5\",\"messages\":[{\"role\":\"user\","
             "\"content\":\"%s\"}]}",
             router, prompt);
    struct http_resp r;
    if (http_call(port, "/v1/route", body, NULL, 0, 0, &r) != RL_OK)
        return NAN;
    json_t *j = r.status == 200 ? json_loadb(r.body.data, r.body.len, 0, NULL) : NULL;
    double p = j ? json_number_value(json_object_get(j, "p_strong")) : NAN;
    json_decref(j);
    http_resp_free(&r);
    return p;
}

// p_strong of `routellm route --router spec` for prompt; NAN on failure.
static double cli_p_strong(const char *spec, const char *prompt) {
    char cmd[512], line[512] = "";
    snprintf(cmd, sizeof cmd, "%s route --router %s --threshold 0.5 --json '%s'", RL_TEST_BIN, spec,
             prompt);
    FILE *f = popen(cmd, "r");
    if (!f)
        return NAN;
    bool got = fgets(line, sizeof line, f) != NULL;
    if (pclose(f) != 0 || !got)
        return NAN;
    json_t *j = json_loads(line, 0, NULL);
    double p = j ? json_number_value(json_object_get(j, "p_strong")) : NAN;
    json_decref(j);
    return p;
}

TEST(serve_learned_routers_match_cli) {
    struct proxy p;
    int port = stub_port_or_start();
    ASSERT_OK(proxy_start(&p, NULL,
                          "models:\n"
                          "  - {name: strong, base_url: \"http://127.0.0.1:%d/ok/v1\"}\n"
                          "  - {name: weak, base_url: \"http://127.0.0.1:%d/ok/v1\"}\n"
                          "routers: {mf: , sw_ranking: , bert: }\n",
                          port, port));
    static const char *const routers[] = {"mf", "sw_ranking", "bert"};
    static const char *const prompts[] = {"What is the capital of France?",
                                          "Prove that there are infinitely many primes."};
    for (size_t k = 0; k < RL_COUNTOF(prompts); k++) {
        for (size_t i = 0; i < RL_COUNTOF(routers); i++) {
            double served = served_p_strong(p.port, routers[i], prompts[k]);
            ASSERT(served >= 0 && served <= 1);
            ASSERT_NEAR(served, cli_p_strong(routers[i], prompts[k]), 1e-6);
        }
    }
    ASSERT_EQ(metric_value(p.port, "routellm_embedding_cache_total{result=\"miss\"}"), 2);
    ASSERT_EQ(metric_value(p.port, "routellm_embedding_cache_total{result=\"hit\"}"), 4);
    ASSERT_EQ(metric_value(p.port, "routellm_encoder_prompts_total"), 2);
    ASSERT_EQ(proxy_stop(&p), 0);
    return 0;
}

// A causal_llm router file (its head trained on made-up battles and vectors) that reads
// SmolLM2-135M-Instruct in int8, as `routellm train causal_llm --precision int8` writes one.
static int write_causal_llm_router(const char *path) {
    enum { N = 60, D = 576 };
    struct rl_battles *b = rl_battles_new();
    float *emb = malloc((size_t)N * D * sizeof *emb);
    if (!b || !emb) {
        rl_battles_free(b);
        free(emb);
        return RL_ENOMEM;
    }
    uint64_t x = 7;
    for (int i = 0; i < N; i++) {
        for (int d = 0; d < D; d++) {
            x = x * 6364136223846793005u + 1442695040888963407u;
            emb[i * D + d] = (float)(x >> 40) / (float)(1u << 24) - 0.5f;
        }
        char prompt[64];
        int n = snprintf(prompt, sizeof prompt, "made-up prompt %d", i);
        if (rl_battles_add(b, prompt, (size_t)n, "gpt-4-1106-preview", "mixtral-8x7b-instruct-v0.1",
                           emb[i * D] > 0 ? RL_OUTCOME_A_WINS : RL_OUTCOME_B_WINS, 1, 0) != 1) {
            rl_battles_free(b);
            free(emb);
            return RL_ENOMEM;
        }
    }
    const struct rl_router_kind *k = rl_router_kind_find("causal_llm", NULL);
    struct rl_train_params p = rl_train_params_default(k);
    p.epochs = 2;
    p.encoder_precision = "int8";
    char err[RL_ERRBUF_SIZE];
    int rc = rl_train(k, b, emb, "SmolLM2-135M-Instruct", D, &p, path, err);
    rl_battles_free(b);
    free(emb);
    return rc;
}

// A causal_llm router and the MiniLM routers in one configuration: the proxy loads the LM the
// router file names beside encoder.model_dir's encoder, each router's p_strong is the CLI's,
// and the dashboard's calibration scores each router with its own encoder.
TEST(serve_causal_llm_beside_minilm_routers) {
    char dir[] = "/tmp/rl_serve_lm_XXXXXX", file[64], sample[64], list[64];
    ASSERT_NOT_NULL(mkdtemp(dir));
    snprintf(file, sizeof file, "%s/llm.safetensors", dir);
    snprintf(list, sizeof list, "%s/llm.prompts.jsonl.gz", dir);
    snprintf(sample, sizeof sample, "%s/sample.txt", dir);
    ASSERT_OK(write_causal_llm_router(file));
    static const char *const prompts[] = {"What is the capital of France?",
                                          "Prove that there are infinitely many primes."};
    FILE *f = fopen(sample, "w");
    ASSERT_NOT_NULL(f);
    fprintf(f, "%s\n%s\n", prompts[0], prompts[1]);
    ASSERT_EQ(fclose(f), 0);
    struct proxy p;
    int port = stub_port_or_start();
    ASSERT_OK(proxy_start(&p, NULL,
                          "models:\n"
                          "  - {name: strong, base_url: \"http://127.0.0.1:%d/ok/v1\"}\n"
                          "  - {name: weak, base_url: \"http://127.0.0.1:%d/ok/v1\"}\n"
                          "routers: {mf: , llm: {checkpoint_path: \"%s\"}}\n"
                          "dashboard: {calibration_prompts: \"%s\"}\n",
                          port, port, file, sample));
    const char *const routers[][2] = {{"mf", "mf"}, {"llm", file}};
    double served[2][2]; // [router][prompt]
    for (size_t k = 0; k < RL_COUNTOF(prompts); k++) {
        for (size_t i = 0; i < RL_COUNTOF(routers); i++) {
            served[i][k] = served_p_strong(p.port, routers[i][0], prompts[k]);
            ASSERT(served[i][k] >= 0 && served[i][k] <= 1);
            ASSERT_NEAR(served[i][k], cli_p_strong(routers[i][1], prompts[k]), 1e-6);
        }
    }
    // The calibration sample holds the same two prompts: each router's sorted scores.
    json_t *calib = NULL;
    for (int tries = 0; tries < 300; tries++) {
        struct http_resp r;
        ASSERT_OK(http_call(p.port, "/v1/dashboard/calibration", NULL, NULL, 0, 0, &r));
        calib = json_loadb(r.body.data, r.body.len, 0, NULL);
        http_resp_free(&r);
        const char *status = json_string_value(json_object_get(calib, "status"));
        if (status && strcmp(status, "running") != 0)
            break;
        json_decref(calib);
        calib = NULL;
        usleep(100000);
    }
    ASSERT_NOT_NULL(calib);
    ASSERT_STR_EQ(json_string_value(json_object_get(calib, "status")), "ready");
    for (size_t i = 0; i < RL_COUNTOF(routers); i++) {
        json_t *scores = json_object_get(
            json_object_get(json_object_get(calib, "routers"), routers[i][0]), "scores");
        ASSERT_EQ(json_array_size(scores), 2);
        double lo = fmin(served[i][0], served[i][1]), hi = fmax(served[i][0], served[i][1]);
        ASSERT_NEAR(json_number_value(json_array_get(scores, 0)), lo, 1e-6);
        ASSERT_NEAR(json_number_value(json_array_get(scores, 1)), hi, 1e-6);
    }
    json_decref(calib);
    // Each prompt was embedded once by each encoder: the calibration's passes are its own.
    ASSERT_EQ(metric_value(p.port, "routellm_encoder_prompts_total"), 4);
    // POST /v1/embeddings stays the configuration's encoder.
    struct http_resp r;
    ASSERT_OK(http_call(p.port, "/v1/embeddings",
                        "{\"model\":\"all-MiniLM-L6-v2\",\"input\":\"hello\"}", NULL, 0, 0, &r));
    ASSERT_EQ(r.status, 200);
    http_resp_free(&r);
    ASSERT_EQ(proxy_stop(&p), 0);
    unlink(file);
    unlink(list);
    unlink(sample);
    ASSERT_EQ(rmdir(dir), 0);
    return 0;
}

// A stream that began and then goes quiet past stall_timeout_s ends with an error event; a
// request whose attempts outlast routing.request_timeout_s gets 504 however many are left.
TEST(serve_stall_and_request_deadline) {
    struct proxy p;
    ASSERT_OK(start(&p, "slow", "hang", NULL, ", stall_timeout_s: 0.2",
                    ", request_timeout_s: 0.7, retries: 5", NULL));
    stub_set_delay(stub, 400);
    struct http_resp r;
    ASSERT_OK(http_call(p.port, "/v1/chat/completions", CHAT("strong", ",\"stream\":true"), NULL, 0,
                        0, &r));
    ASSERT_EQ(r.status, 200);
    ASSERT_STR_CONTAINS(r.body.data, "\"content\":\"one \"");
    ASSERT_STR_CONTAINS(r.body.data, "sent nothing for 0.2 s");
    ASSERT(strstr(r.body.data, "[DONE]") == NULL);
    ASSERT(r.t_total < 1.2);
    http_resp_free(&r);
    stub_set_delay(stub, 0);
    ASSERT_OK(http_call(p.port, "/v1/chat/completions", CHAT("weak", ""), NULL, 0, 0, &r));
    ASSERT_EQ(r.status, 504);
    ASSERT_STR_CONTAINS(r.body.data, "routing.request_timeout_s");
    ASSERT(r.t_total > 0.65 && r.t_total < 1.3);
    http_resp_free(&r);
    ASSERT_EQ(proxy_stop(&p), 0);
    return 0;
}

// Write text to path (the config a SIGHUP rereads).
static int rewrite(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (!f)
        return RL_EIO;
    fputs(text, f);
    return fclose(f) == 0 ? RL_OK : RL_EIO;
}

// SIGHUP reloads the file: new requests see the new models and routers, a stream in flight
// finishes on the old set, counters carry over, and a broken file is refused with the old set
// kept. (SIGHUP used to kill the server, exit 129, cutting streams.)
TEST(serve_sighup_reloads_atomically) {
    struct proxy p;
    ASSERT_OK(start(&p, "slow", "ok", NULL, NULL, NULL, NULL));
    struct http_resp r;
    ASSERT_OK(http_call(p.port, "/v1/chat/completions", CHAT("weak", ""), NULL, 0, 0, &r));
    ASSERT_EQ(r.status, 200);
    http_resp_free(&r);
    stub_set_delay(stub, 150);
    pid_t child = fork();
    if (child == 0) {
        usleep(200000);
        char text[1024];
        snprintf(text, sizeof text,
                 "server: {host: 127.0.0.1, port: 0}\n"
                 "models:\n"
                 "  - {name: strong, base_url: \"http://127.0.0.1:%d/ok/v1\"}\n"
                 "  - {name: weak, base_url: \"http://127.0.0.1:%d/ok/v1\"}\n"
                 "  - {name: extra, base_url: \"http://127.0.0.1:%d/ok/v1\"}\n"
                 "routing: {strong: strong, weak: weak}\n"
                 "routers:\n"
                 "  random: {threshold: 0.7}\n",
                 stub_port(stub), stub_port(stub), stub_port(stub));
        if (rewrite(p.config, text) != RL_OK)
            _exit(1);
        kill(p.pid, SIGHUP);
        _exit(0);
    }
    ASSERT_OK(http_call(p.port, "/v1/chat/completions", CHAT("strong", ",\"stream\":true"), NULL, 0,
                        0, &r));
    int st;
    waitpid(child, &st, 0);
    stub_set_delay(stub, 0);
    ASSERT_EQ(r.status, 200);
    ASSERT(ends_with(&r.body, "data: [DONE]\n\n")); // the old set saw it through
    http_resp_free(&r);
    ASSERT(proxy_wait_log(&p, "\"msg\":\"reloaded\"", 1));
    ASSERT_OK(http_call(p.port, "/v1/models", NULL, NULL, 0, 0, &r));
    ASSERT_STR_CONTAINS(r.body.data, "\"router-random-0.7\"");
    ASSERT_STR_CONTAINS(r.body.data, "\"extra\"");
    http_resp_free(&r);
    ASSERT_OK(http_call(p.port, "/v1/chat/completions", CHAT("extra", ""), NULL, 0, 0, &r));
    ASSERT_EQ(r.status, 200);
    http_resp_free(&r);
    ASSERT_EQ(metric_value(p.port, "routellm_requests_total{endpoint=\"/v1/chat/completions\","
                                   "router=\"none\",model=\"weak\",status=\"200\"}"),
              1);
    // A broken file: refused, logged, the running set stays.
    ASSERT_OK(rewrite(p.config, "server: {port: [\n"));
    kill(p.pid, SIGHUP);
    ASSERT(proxy_wait_log(&p, "\"msg\":\"reload refused\"", 1));
    ASSERT_OK(http_call(p.port, "/v1/chat/completions", CHAT("extra", ""), NULL, 0, 0, &r));
    ASSERT_EQ(r.status, 200);
    http_resp_free(&r);
    ASSERT_EQ(proxy_stop(&p), 0);
    return 0;
}

// Past drain_timeout_s, requests still running are cut and the server still exits cleanly: a
// stream ends with an error event saying so (and its chunked body ends properly), a request not
// yet answered gets 503, and the log says drain timeout rather than client close.
TEST(serve_sigterm_deadline_cuts_the_rest) {
    struct proxy p;
    ASSERT_OK(start(&p, "slow", "hang", ", drain_timeout_s: 0.3", NULL, NULL, NULL));
    stub_set_delay(stub, 150);
    // A non-streaming request to the hanging upstream, sent over a raw socket and read at the end.
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)p.port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ASSERT(fd >= 0);
    ASSERT_EQ(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    const char *body = CHAT("weak", "");
    char req[512];
    int n =
        snprintf(req, sizeof req,
                 "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n\r\n%s",
                 strlen(body), body);
    ASSERT_EQ(write(fd, req, (size_t)n), n);
    pid_t child = fork();
    if (child == 0) {
        usleep(200000);
        kill(p.pid, SIGTERM);
        _exit(0);
    }
    struct http_resp r;
    ASSERT_OK(http_call(p.port, "/v1/chat/completions", CHAT("strong", ",\"stream\":true"), NULL, 0,
                        0, &r));
    stub_set_delay(stub, 0);
    waitpid(child, NULL, 0);
    ASSERT_EQ(r.status, 200);
    ASSERT_STR_CONTAINS(r.body.data, "\"content\":\"one \"");
    ASSERT(strstr(r.body.data, "[DONE]") == NULL); // cut at the deadline, 0.5 s into 0.9 s
    ASSERT_STR_CONTAINS(r.body.data, "\"code\":\"stream_cut\"");
    ASSERT(r.t_total < 1.5);
    http_resp_free(&r);
    char out[2048];
    ssize_t k = read(fd, out, sizeof out - 1);
    close(fd);
    ASSERT(k > 0);
    out[k] = '\0';
    ASSERT(strncmp(out, "HTTP/1.1 503 ", 13) == 0);
    ASSERT_STR_CONTAINS(out, "server_shutting_down");
    ASSERT_EQ(proxy_stop(&p), 0);
    char *log = proxy_log(&p);
    ASSERT_STR_CONTAINS(log, "\"msg\":\"drain deadline passed\"");
    ASSERT_STR_CONTAINS(log, "\"stream\":\"drain_timeout\"");
    ASSERT_STR_CONTAINS(log, "\"status\":503");
    ASSERT_STR_CONTAINS(log, "\"msg\":\"stopped\"");
    free(log);
    return 0;
}
