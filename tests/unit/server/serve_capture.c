// Integration tests of the capture: section and POST /v1/feedback: the real binary in front of
// the C stub upstream, its capture files read back line by line.
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "core/core.h"
#include "support/serve_harness.h"
#include "support/stub_upstream.h"
#include "test.h"

static struct stub_upstream *stub;

// A proxy with a strong and a weak stub upstream, the random router, client key "ck" and
// capture into dir with the extra capture keys.
static int start_capture(struct proxy *p, const char *dir, const char *capture_extra) {
    if (!stub)
        stub = stub_start(0, true);
    if (!stub)
        return RL_EIO;
    stub_reset(stub);
    int port = stub_port(stub);
    return proxy_start(p, "RL_TEST_CLIENT_KEYS=ck",
                       "server: {host: 127.0.0.1, port: 0, api_keys_env: RL_TEST_CLIENT_KEYS}\n"
                       "models:\n"
                       "  - {name: strong, base_url: \"http://127.0.0.1:%d/ok/v1\"}\n"
                       "  - {name: weak, base_url: \"http://127.0.0.1:%d/ok/v1\"}\n"
                       "routers: {random: }\n"
                       "capture: {dir: \"%s\"%s}\n",
                       port, port, dir, capture_extra ? capture_extra : "");
}

#define AUTH "Authorization: Bearer ck"

static int post(int port, const char *path, const char *body, const char *id, long *status) {
    char header[160];
    snprintf(header, sizeof header, AUTH "\r\nx-request-id: %s", id ? id : "");
    struct http_resp r;
    int rc = http_call(port, path, body, id ? header : AUTH, 0, 0, &r);
    *status = r.status;
    http_resp_free(&r);
    return rc;
}

// Every line of dir/capture.jsonl, parsed; *n says how many.
static json_t **read_lines(const char *dir, size_t *n) {
    char path[256], *text = NULL, err[RL_ERRBUF_SIZE];
    size_t len = 0;
    snprintf(path, sizeof path, "%s/capture.jsonl", dir);
    *n = 0;
    if (rl_file_read(path, 1 << 24, &text, &len, err) != RL_OK)
        return NULL;
    json_t **lines = calloc(len / 2 + 1, sizeof *lines);
    for (char *p = text, *nl; lines && p < text + len; p = nl + 1) {
        nl = strchr(p, '\n');
        if (!nl)
            break;
        lines[(*n)++] = json_loadb(p, (size_t)(nl - p), 0, NULL);
    }
    free(text);
    return lines;
}

static void free_lines(json_t **lines, size_t n) {
    for (size_t i = 0; i < n; i++)
        json_decref(lines[i]);
    free(lines);
}

static const char *str(json_t *o, const char *key) {
    return json_string_value(json_object_get(o, key));
}

// A routed and a direct request each leave a line with their prompt, route and model; feedback
// is checked and appended; no key is ever written.
TEST(serve_capture_requests_and_feedback) {
    char dir[] = "/tmp/rl_capture_XXXXXX";
    ASSERT_NOT_NULL(mkdtemp(dir));
    char sub[64];
    snprintf(sub, sizeof sub, "%s/a/b", dir); // created by the server
    struct proxy p;
    ASSERT_OK(start_capture(&p, sub, NULL));
    long st;
    ASSERT_OK(post(p.port, "/v1/chat/completions",
                   "{\"model\":\"router-random-0\",\"messages\":[{\"role\":\"user\","
                   "\"content\":\"routed prompt\"}]}",
                   "req-1", &st));
    ASSERT_EQ(st, 200);
    ASSERT_OK(post(p.port, "/v1/completions", "{\"model\":\"weak\",\"prompt\":\"direct prompt\"}",
                   "req-2", &st));
    ASSERT_EQ(st, 200);
    ASSERT_OK(
        post(p.port, "/v1/embeddings", "{\"model\":\"x\",\"input\":\"not captured\"}", NULL, &st));
    static const char *const good[] = {
        "{\"request_id\":\"req-1\",\"rating\":0.25,\"comment\":\"too long\"}",
        "{\"request_id\":\"req-2\",\"preferred_model\":\"strong\"}",
    };
    for (size_t i = 0; i < RL_COUNTOF(good); i++) {
        ASSERT_OK(post(p.port, "/v1/feedback", good[i], NULL, &st));
        ASSERT_EQ(st, 200);
    }
    static const char *const bad[] = {
        "{\"request_id\":\"req-1\"}",
        "{\"request_id\":\"req-1\",\"rating\":1,\"preferred_model\":\"weak\"}",
        "{\"request_id\":\"req-1\",\"rating\":1.5}",
        "{\"request_id\":\"req-1\",\"rating\":\"good\"}",
        "{\"request_id\":\"req-1\",\"preferred_model\":\"nosuch\"}",
        "{\"request_id\":\"a b\",\"rating\":1}",
        "{\"request_id\":\"req-1\",\"rating\":1,\"score\":3}",
        "{\"rating\":1}",
        "[1]",
    };
    for (size_t i = 0; i < RL_COUNTOF(bad); i++) {
        ASSERT_OK(post(p.port, "/v1/feedback", bad[i], NULL, &st));
        if (st != 400)
            TEST_FAIL_("%s: HTTP %ld", bad[i], st);
    }
    ASSERT_EQ(proxy_stop(&p), 0);
    size_t n;
    json_t **lines = read_lines(sub, &n);
    ASSERT_NOT_NULL(lines);
    ASSERT_EQ(n, 4); // two requests, two feedbacks
    ASSERT_STR_EQ(str(lines[0], "type"), "request");
    ASSERT_STR_EQ(str(lines[0], "id"), "req-1");
    ASSERT_STR_EQ(str(lines[0], "prompt"), "routed prompt");
    ASSERT_STR_EQ(str(lines[0], "router"), "random");
    ASSERT_STR_EQ(str(lines[0], "model"), "strong");
    ASSERT_STR_EQ(str(lines[0], "weak"), "weak");
    ASSERT_EQ(json_integer_value(json_object_get(lines[0], "status")), 200);
    ASSERT_STR_EQ(str(lines[1], "id"), "req-2");
    ASSERT_STR_EQ(str(lines[1], "prompt"), "direct prompt");
    ASSERT_STR_EQ(str(lines[1], "model"), "weak");
    ASSERT_NULL(json_object_get(lines[1], "router"));
    ASSERT_STR_EQ(str(lines[2], "type"), "feedback");
    ASSERT_NEAR(json_number_value(json_object_get(lines[2], "rating")), 0.25, 0);
    ASSERT_STR_EQ(str(lines[2], "comment"), "too long");
    ASSERT_STR_EQ(str(lines[3], "preferred_model"), "strong");
    free_lines(lines, n);
    char *raw = NULL, path[128], err[RL_ERRBUF_SIZE];
    size_t len;
    snprintf(path, sizeof path, "%s/capture.jsonl", sub);
    ASSERT_OK(rl_file_read(path, 1 << 20, &raw, &len, err));
    ASSERT(strstr(raw, "Bearer") == NULL && strstr(raw, "Authorization") == NULL);
    ASSERT(strstr(raw, "not captured") == NULL);
    free(raw);
    return 0;
}

// redact: the prompt's SHA-256 instead of its text; a small max_file_bytes rotates, and only
// max_files rotated files stay.
TEST(serve_capture_redacts_and_rotates) {
    char dir[] = "/tmp/rl_capture_XXXXXX";
    ASSERT_NOT_NULL(mkdtemp(dir));
    struct proxy p;
    ASSERT_OK(start_capture(&p, dir, ", redact: true, max_file_bytes: 4096, max_files: 2"));
    char body[1600], prompt[1001];
    memset(prompt, 'x', 1000);
    prompt[1000] = '\0';
    long st;
    for (int i = 0; i < 60; i++) { // about 380 bytes a line: five or six rotations
        snprintf(body, sizeof body,
                 "{\"model\":\"router-random-1\",\"messages\":[{\"role\":\"user\",\"content\":"
                 "\"%d %s\"}]}",
                 i, prompt);
        ASSERT_OK(post(p.port, "/v1/chat/completions", body, NULL, &st));
        ASSERT_EQ(st, 200);
    }
    ASSERT_EQ(proxy_stop(&p), 0);
    size_t n;
    json_t **lines = read_lines(dir, &n);
    ASSERT_NOT_NULL(lines);
    ASSERT(n >= 1);
    const char *last = str(lines[n - 1], "prompt_sha256");
    ASSERT_NOT_NULL(last);
    ASSERT_NULL(json_object_get(lines[n - 1], "prompt"));
    char text[1100], hex[65];
    snprintf(text, sizeof text, "59 %s", prompt);
    rl__sha256_hex(text, strlen(text), hex);
    ASSERT_STR_EQ(last, hex);
    free_lines(lines, n);
    // Rotated files: exactly max_files left, each under the size limit.
    DIR *d = opendir(dir);
    ASSERT_NOT_NULL(d);
    struct dirent *e;
    int rotated = 0;
    while ((e = readdir(d)) != NULL) {
        char path[512];
        struct stat sb;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (strncmp(e->d_name, "capture", 7) != 0 || stat(path, &sb) != 0)
            continue;
        ASSERT(sb.st_size <= 4096);
        rotated += strncmp(e->d_name, "capture-", 8) == 0;
    }
    closedir(d);
    ASSERT_EQ(rotated, 2);
    return 0;
}

// Without a capture: section, POST /v1/feedback is a 404 that says why.
TEST(serve_feedback_needs_capture) {
    if (!stub)
        stub = stub_start(0, true);
    ASSERT_NOT_NULL(stub);
    struct proxy p;
    ASSERT_OK(proxy_start(&p, NULL,
                          "server: {host: 127.0.0.1, port: 0}\n"
                          "models:\n  - {name: m, base_url: \"http://127.0.0.1:%d/ok/v1\"}\n"
                          "routers: {random: }\n",
                          stub_port(stub)));
    struct http_resp r;
    ASSERT_OK(
        http_call(p.port, "/v1/feedback", "{\"request_id\":\"x\",\"rating\":1}", NULL, 0, 0, &r));
    ASSERT_EQ(r.status, 404);
    ASSERT_STR_CONTAINS(r.body.data, "feedback_unavailable");
    http_resp_free(&r);
    ASSERT_EQ(proxy_stop(&p), 0);
    return 0;
}
