// Integration tests of the dashboard: the page at / and /ui, GET /v1/dashboard and its latest
// requests, GET /v1/dashboard/calibration against the library's own scores and thresholds, the
// p_strong histogram of /metrics, and dashboard.enabled: false. The real binary runs in front
// of the C stub upstream. (tests/ui/ drives the page itself in Chromium.)
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "rl/calibrate.h"
#include "rl/router.h"
#include "rl/texts.h"
#include "support/serve_harness.h"
#include "support/stub_upstream.h"
#include "test.h"

static struct stub_upstream *stub;

#define AUTH "Authorization: Bearer ck"

// A proxy with client key "ck", a strong and a weak stub upstream, the length and random
// routers, and the extra YAML text (a capture: or dashboard: section).
static int start_dashboard(struct proxy *p, const char *extra) {
    if (!stub)
        stub = stub_start(0, true);
    if (!stub)
        return RL_EIO;
    int port = stub_port(stub);
    return proxy_start(p, "RL_TEST_CLIENT_KEYS=ck",
                       "server: {host: 127.0.0.1, port: 0, api_keys_env: RL_TEST_CLIENT_KEYS}\n"
                       "models:\n"
                       "  - {name: strong, base_url: \"http://127.0.0.1:%d/ok/v1\", price_in: 10,"
                       " price_out: 30, probe: false}\n"
                       "  - {name: weak, base_url: \"http://127.0.0.1:%d/ok/v1\", price_in: 1,"
                       " price_out: 2, probe: false}\n"
                       "routers:\n"
                       "  length: {threshold: 0.5}\n"
                       "  random: {threshold: 0.25}\n"
                       "%s",
                       port, port, extra ? extra : "");
}

// GET path with the client key; the parsed JSON answer, or NULL when it is not 200 and JSON.
static json_t *get_json(int port, const char *path) {
    struct http_resp r;
    if (http_call(port, path, NULL, AUTH, 0, 10000, &r) != RL_OK)
        return NULL;
    json_t *j = r.status == 200 ? json_loadb(r.body.data, r.body.len, 0, NULL) : NULL;
    http_resp_free(&r);
    return j;
}

static long chat(int port, const char *model, const char *prompt) {
    char body[512];
    snprintf(body, sizeof body,
             "{\"model\":\"%s\",\"messages\":[{\"role\":\"user\",\"content\":\"%s\"}]}", model,
             prompt);
    struct http_resp r;
    long status =
        http_call(port, "/v1/chat/completions", body, AUTH, 0, 10000, &r) == RL_OK ? r.status : -1;
    http_resp_free(&r);
    return status;
}

static const char *str(const json_t *o, const char *key) {
    return json_string_value(json_object_get(o, key));
}

// The page is public and self-contained; the data needs the key and describes the configuration.
TEST(serve_dashboard_page_and_data) {
    struct proxy p;
    ASSERT_OK(start_dashboard(&p, NULL));
    static const char *const pages[] = {"/", "/ui"};
    for (size_t i = 0; i < RL_COUNTOF(pages); i++) {
        struct http_resp r;
        ASSERT_OK(http_call(p.port, pages[i], NULL, NULL, 0, 10000, &r));
        ASSERT_EQ(r.status, 200);
        char ctype[64], csp[256];
        ASSERT(http_header(&r, "Content-Type", ctype, sizeof ctype));
        ASSERT_STR_EQ(ctype, "text/html; charset=utf-8");
        ASSERT(http_header(&r, "Content-Security-Policy", csp, sizeof csp));
        ASSERT_STR_CONTAINS(csp, "connect-src 'self'");
        ASSERT_OK(rl_buf_append(&r.body, "", 1));
        ASSERT_STR_CONTAINS(r.body.data, "<title>routellm</title>");
        ASSERT_STR_CONTAINS(r.body.data, "</html>");
        ASSERT(!strstr(r.body.data, "http://") && !strstr(r.body.data, "https://")); // no CDN
        http_resp_free(&r);
    }
    struct http_resp r;
    ASSERT_OK(http_call(p.port, "/v1/dashboard", NULL, NULL, 0, 10000, &r));
    ASSERT_EQ(r.status, 401);
    http_resp_free(&r);
    ASSERT_OK(http_call(p.port, "/nonexistent", NULL, NULL, 0, 10000, &r));
    ASSERT_EQ(r.status, 404); // "/" is the page, not a prefix of every path
    http_resp_free(&r);

    ASSERT_EQ(chat(p.port, "router-length-0.5", "a short prompt"), 200);
    ASSERT_EQ(chat(p.port, "router-random-0.25", "another prompt"), 200);
    ASSERT_EQ(chat(p.port, "weak", "a direct prompt"), 200);
    json_t *j = get_json(p.port, "/v1/dashboard");
    ASSERT_NOT_NULL(j);
    ASSERT_STR_EQ(str(j, "strong"), "strong");
    ASSERT_STR_EQ(str(j, "weak"), "weak");
    json_t *routers = json_object_get(j, "routers");
    ASSERT_EQ(json_array_size(routers), 2);
    ASSERT_STR_EQ(str(json_array_get(routers, 0), "name"), "length");
    ASSERT_NEAR(json_number_value(json_object_get(json_array_get(routers, 1), "threshold")), 0.25,
                0);
    json_t *models = json_object_get(j, "models");
    ASSERT_EQ(json_array_size(models), 2);
    ASSERT_NEAR(json_number_value(json_object_get(json_array_get(models, 0), "price_out")), 30, 0);
    ASSERT(!json_is_true(json_object_get(json_object_get(j, "capture"), "enabled")));
    // The latest first; no prompt is shown without a capture.
    json_t *recent = json_object_get(j, "recent");
    ASSERT_EQ(json_array_size(recent), 3);
    ASSERT_STR_EQ(str(json_array_get(recent, 0), "model"), "weak");
    ASSERT_STR_EQ(str(json_array_get(recent, 2), "router"), "length");
    for (size_t i = 0; i < 3; i++) {
        ASSERT_NULL(json_object_get(json_array_get(recent, i), "prompt"));
        ASSERT_NULL(json_object_get(json_array_get(recent, i), "prompt_sha256"));
    }
    json_decref(j);

    // The p_strong histogram: one observation per pair decision, none for the direct request.
    ASSERT_NEAR(metric_value(p.port, "routellm_p_strong_count{router=\"length\"}"), 1, 0);
    ASSERT_NEAR(metric_value(p.port, "routellm_p_strong_count{router=\"random\"}"), 1, 0);
    ASSERT_NEAR(metric_value(p.port, "routellm_p_strong_bucket{router=\"random\",le=\"+Inf\"}"), 1,
                0);
    ASSERT_EQ(proxy_stop(&p), 0);
    return 0;
}

// The ring keeps the latest SRV_RECENT_MAX (50) requests; with a capture their prompts show as
// the capture writes them: text, or only the SHA-256 under redact.
TEST(serve_dashboard_recent_follows_the_capture) {
    char dir[] = "/tmp/rl_dash_XXXXXX";
    ASSERT_NOT_NULL(mkdtemp(dir));
    for (int redact = 0; redact <= 1; redact++) {
        char extra[160];
        snprintf(extra, sizeof extra, "capture: {dir: \"%s/%d\", redact: %s}\n", dir, redact,
                 redact ? "true" : "false");
        struct proxy p;
        ASSERT_OK(start_dashboard(&p, extra));
        for (int i = 0; i < 55; i++) {
            char prompt[32];
            snprintf(prompt, sizeof prompt, "prompt %d", i);
            ASSERT_EQ(chat(p.port, "router-random-0.25", prompt), 200);
        }
        json_t *j = get_json(p.port, "/v1/dashboard");
        ASSERT_NOT_NULL(j);
        json_t *recent = json_object_get(j, "recent");
        ASSERT_EQ(json_array_size(recent), 50);
        json_t *latest = json_array_get(recent, 0), *oldest = json_array_get(recent, 49);
        if (redact) {
            ASSERT_NULL(json_object_get(latest, "prompt"));
            ASSERT_EQ(strlen(str(latest, "prompt_sha256")), 64);
        } else {
            ASSERT_STR_EQ(str(latest, "prompt"), "prompt 54");
            ASSERT_STR_EQ(str(oldest, "prompt"), "prompt 5");
        }
        ASSERT(json_is_true(json_object_get(json_object_get(j, "capture"), "enabled")));
        ASSERT_EQ(json_is_true(json_object_get(json_object_get(j, "capture"), "redact")), redact);
        json_decref(j);
        ASSERT_EQ(proxy_stop(&p), 0);
    }
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ASSERT_EQ(system(cmd), 0);
    return 0;
}

// Poll the calibration until it is no longer running (20 s at most).
static json_t *calibration(int port) {
    for (int i = 0; i < 200; i++) {
        json_t *j = get_json(port, "/v1/dashboard/calibration");
        if (!j || strcmp(str(j, "status"), "running") != 0)
            return j;
        json_decref(j);
        usleep(100000);
    }
    return NULL;
}

// The sample's scores are the library's scores of the same texts, sorted, and each whole
// percentage's threshold is rl_calibrate_threshold's, as `routellm calibrate` prints it.
TEST(serve_dashboard_calibration_matches_the_library) {
    char path[] = "/tmp/rl_dash_sample_XXXXXX";
    int fd = mkstemp(path);
    ASSERT(fd >= 0);
    FILE *f = fdopen(fd, "w");
    ASSERT_NOT_NULL(f);
    for (int i = 0; i < 40; i++) // lengths from 1 to 40 words
        for (int w = 0; w <= i; w++)
            fprintf(f, "%s%s", w ? " word" : "word", w == i ? "\n" : "");
    ASSERT_EQ(fclose(f), 0);
    char extra[160];
    snprintf(extra, sizeof extra, "dashboard: {calibration_prompts: \"%s\"}\n", path);
    struct proxy p;
    ASSERT_OK(start_dashboard(&p, extra));
    json_t *j = calibration(p.port);
    ASSERT_NOT_NULL(j);
    ASSERT_STR_EQ(str(j, "status"), "ready");
    ASSERT_EQ(json_integer_value(json_object_get(j, "n")), 40);
    ASSERT_STR_EQ(str(j, "sample"), path);

    struct rl_texts t;
    char err[RL_ERRBUF_SIZE];
    struct rl_texts_params exact = {.exact = true};
    ASSERT_OK(rl_texts_load(path, &exact, &t, err));
    struct rl_router *r = rl_router_load("length", NULL, err);
    ASSERT_NOT_NULL(r);
    struct rl_router_pair pair;
    ASSERT_OK(rl_router_default_pair(r, &pair));
    double want[40];
    for (size_t i = 0; i < t.n; i++) {
        struct rl_prompt pr = {t.items[i], strlen(t.items[i]), NULL};
        ASSERT_OK(rl_router_score_prompt(r, &pair, &pr, &want[i]));
    }
    json_t *got = json_object_get(json_object_get(j, "routers"), "length");
    json_t *scores = json_object_get(got, "scores"),
           *thresholds = json_object_get(got, "thresholds");
    ASSERT_EQ(json_array_size(scores), 40);
    ASSERT_EQ(json_array_size(thresholds), 101);
    double sorted[40];
    for (size_t i = 0; i < 40; i++)
        sorted[i] = json_number_value(json_array_get(scores, i));
    for (size_t i = 1; i < 40; i++)
        ASSERT(sorted[i - 1] <= sorted[i]);
    for (size_t i = 0; i < 40; i++) { // the length router grows with the prompt
        ASSERT_NEAR(sorted[i], want[i], 1e-9);
    }
    for (int pct = 0; pct <= 100; pct += 10) {
        double alpha;
        ASSERT_OK(rl_calibrate_threshold(want, 40, pct / 100.0, &alpha));
        ASSERT_NEAR(json_number_value(json_array_get(thresholds, (size_t)pct)), alpha, 1e-9);
    }
    // The random router is scored on the same sample: every score in [0, 1].
    json_t *rnd =
        json_object_get(json_object_get(json_object_get(j, "routers"), "random"), "scores");
    ASSERT_EQ(json_array_size(rnd), 40);
    ASSERT(json_number_value(json_array_get(rnd, 39)) <= 1);
    json_decref(j);
    rl_router_free(r);
    rl_texts_free(&t);
    ASSERT_EQ(proxy_stop(&p), 0);
    unlink(path);
    return 0;
}

// A sample that cannot be read fails with its reason; the dashboard can be turned off; its keys
// are checked like the others.
TEST(serve_dashboard_failures_and_off) {
    struct proxy p;
    ASSERT_OK(start_dashboard(&p, "dashboard: {calibration_prompts: /nonexistent/sample.txt}\n"));
    json_t *j = calibration(p.port);
    ASSERT_NOT_NULL(j);
    ASSERT_STR_EQ(str(j, "status"), "failed");
    ASSERT_STR_CONTAINS(str(j, "error"), "/nonexistent/sample.txt");
    json_decref(j);
    ASSERT_EQ(proxy_stop(&p), 0);

    ASSERT_OK(start_dashboard(&p, "dashboard: {enabled: false}\n"));
    static const char *const paths[] = {"/", "/ui", "/v1/dashboard", "/v1/dashboard/calibration"};
    for (size_t i = 0; i < RL_COUNTOF(paths); i++) {
        struct http_resp r;
        ASSERT_OK(http_call(p.port, paths[i], NULL, AUTH, 0, 10000, &r));
        if (r.status != 404)
            TEST_FAIL_("%s: HTTP %ld", paths[i], r.status);
        http_resp_free(&r);
    }
    ASSERT_EQ(chat(p.port, "router-length-0.5", "still routed"), 200);
    ASSERT_EQ(proxy_stop(&p), 0);

    ASSERT_EQ(proxy_run_to_exit(&p, "routers: {random: }\ndashboard: {enable: true}\n", NULL), 1);
    char *log = proxy_log(&p);
    ASSERT_NOT_NULL(log);
    ASSERT_STR_CONTAINS(log, "dashboard: unknown key 'enable'");
    free(log);
    return 0;
}
