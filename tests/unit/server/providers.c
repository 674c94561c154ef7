// Upstream provider options of `routellm serve` (models[].auth, auth_header, headers, query and
// probe): read and refused by the config reader, then sent by the real binary to the stub
// upstream (tests/support/stub_upstream.c), which records the request line and the headers it
// received. The provider configurations of docs/PROVIDERS.md are read from the page itself and
// checked the same way, so the page cannot say what the proxy does not do.
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "server/server.h"
#include "support/serve_harness.h"
#include "support/stub_upstream.h"
#include "test.h"

static struct stub_upstream *stub;

static int stub_port_started(void) {
    if (!stub)
        stub = stub_start(0, true);
    if (stub)
        stub_reset(stub);
    return stub ? stub_port(stub) : -1;
}

// Write text as a config file, load it and finish it: RL_OK, or the status with err set.
static int load_text(const char *text, struct srv_config *c, char *err) {
    char dir[] = "/tmp/rl_prov_XXXXXX";
    if (!mkdtemp(dir))
        return RL_EIO;
    char path[64];
    snprintf(path, sizeof path, "%s/c.yaml", dir);
    srv_config_init(c);
    int rc = rl_file_write(path, text, strlen(text), err);
    if (rc == RL_OK)
        rc = srv_config_load(c, path, err);
    if (rc == RL_OK)
        rc = srv_config_finish(c, err);
    unlink(path);
    rmdir(dir);
    return rc;
}

// ----------------------------------------------------------------------------
// The config reader

TEST(server_config_reads_upstream_options) {
    setenv("RL_TEST_PROV_KEY", "az-key-1", 1);
    setenv("RL_TEST_PROV_TOKEN", "tok-2", 1);
    static const char text[] =
        "models:\n"
        "  - name: azure\n"
        "    base_url: https://r.openai.azure.com/openai/deployments/d1/\n"
        "    auth: header\n"
        "    auth_header: api-key\n"
        "    api_key_env: RL_TEST_PROV_KEY\n"
        "    query: {api-version: '2024-10-21', 'a b': 'x&y=z/\xc3\xa9~'}\n"
        "    headers:\n"
        "      X-Title: My App\n"
        "      X-Token: 'Bearer ${RL_TEST_PROV_TOKEN}, $5 and ${RL_TEST_PROV_TOKEN}'\n"
        "    probe: false\n"
        "  - {name: plain, base_url: 'http://127.0.0.1:8000/v1'}\n";
    struct srv_config c;
    char err[RL_ERRBUF_SIZE] = "";
    int rc = load_text(text, &c, err);
    if (rc != RL_OK)
        TEST_FAIL_("%s", err);
    const struct srv_model *m = &c.models[0];
    ASSERT_EQ(m->auth, SRV_AUTH_HEADER);
    ASSERT_STR_EQ(m->auth_header, "api-key");
    ASSERT_EQ(m->probe, false);
    ASSERT_EQ(m->headers.n, 2);
    ASSERT_STR_EQ(m->headers.items[0].sent, "My App");
    ASSERT_STR_EQ(m->headers.items[1].value,
                  "Bearer ${RL_TEST_PROV_TOKEN}, $5 and ${RL_TEST_PROV_TOKEN}");
    ASSERT_STR_EQ(m->headers.items[1].sent, "Bearer tok-2, $5 and tok-2");
    ASSERT_EQ(m->headers.items[1].line, 10);
    // Everything read from the environment is masked in upstream errors: the key, then each
    // value a header read.
    const char *secrets[SRV_MAX_SECRETS];
    ASSERT_EQ(srv_model_secrets(m, secrets, RL_COUNTOF(secrets)), 3);
    ASSERT_STR_EQ(secrets[0], "az-key-1");
    ASSERT_STR_EQ(secrets[2], "tok-2");
    // The path goes after the base URL's own, then the query, every byte but RFC 3986's
    // unreserved ones percent-encoded.
    char *url = srv_model_url(m, "chat/completions");
    ASSERT_STR_EQ(url, "https://r.openai.azure.com/openai/deployments/d1/chat/completions"
                       "?api-version=2024-10-21&a%20b=x%26y%3Dz%2F%C3%A9~");
    free(url);
    m = &c.models[1];
    ASSERT_EQ(m->auth, SRV_AUTH_BEARER);
    ASSERT_EQ(m->probe, true);
    ASSERT_EQ(srv_model_secrets(m, secrets, RL_COUNTOF(secrets)), 0);
    url = srv_model_url(m, "models");
    ASSERT_STR_EQ(url, "http://127.0.0.1:8000/v1/models");
    free(url);
    srv_config_free(&c);
    unsetenv("RL_TEST_PROV_KEY");
    unsetenv("RL_TEST_PROV_TOKEN");
    return 0;
}

#define ONE_MODEL(extra) "models:\n  - name: m\n    base_url: http://x/v1\n" extra

// Every refusal names the file, the line and the key, and never quotes a value read from the
// environment.
TEST(server_config_refuses_bad_upstream_options) {
    struct rl_buf many, long_value, many_refs;
    rl_buf_init(&many, 1 << 16);
    rl_buf_init(&long_value, 1 << 16);
    rl_buf_init(&many_refs, 1 << 16);
    ASSERT_OK(rl_buf_appendf(&many, ONE_MODEL("    headers:\n")));
    for (int i = 0; i <= SRV_MAX_HEADERS; i++)
        ASSERT_OK(rl_buf_appendf(&many, "      X-H%d: v\n", i));
    ASSERT_OK(rl_buf_appendf(&long_value, ONE_MODEL("    headers: {X-A: '%0*d'}\n"),
                             SRV_HEADER_VALUE_MAX + 1, 0));
    ASSERT_OK(rl_buf_appendf(&many_refs, ONE_MODEL("    headers: {X-A: '")));
    for (int i = 0; i <= SRV_MAX_HEADERS; i++)
        ASSERT_OK(rl_buf_appendf(&many_refs, "${RL_TEST_PROV_SHORT}"));
    ASSERT_OK(rl_buf_appendf(&many_refs, "'}\n"));
    char long_env[4001];
    memset(long_env, 'k', sizeof long_env - 1);
    long_env[sizeof long_env - 1] = '\0';
    setenv("RL_TEST_PROV_LONG", long_env, 1);
    setenv("RL_TEST_PROV_NL", "line\nbreak", 1);
    setenv("RL_TEST_PROV_SHORT", "s", 1);
    unsetenv("RL_TEST_PROV_UNSET");
    const struct {
        const char *yaml;        // input
        const char *where, *why; // output: pieces of the message
    } cases[] = {
        {ONE_MODEL("    headers: {X Title: a}\n"),
         "c.yaml:4:", "models[0].headers.X Title: not a header name"},
        {ONE_MODEL("    headers: {"
                   "\xc3\xa9"
                   ": a}\n"),
         "c.yaml:4:", "not a header name"},
        {ONE_MODEL("    headers: {Host: a}\n"),
         "c.yaml:4:", "models[0].headers.Host: the proxy sets this header itself"},
        {ONE_MODEL("    headers: {transfer-encoding: chunked}\n"),
         "c.yaml:4:", "the proxy sets this header itself"},
        {ONE_MODEL("    headers: {X-A: \"a\\rb\"}\n"),
         "c.yaml:4:", "models[0].headers.X-A: holds a control character"},
        {ONE_MODEL("    headers:\n      X-A: \"a\\nb\"\n"), "c.yaml:5:", "control character"},
        {ONE_MODEL("    headers: {X-A: \"${1A}\"}\n"),
         "c.yaml:4:", "'${' must open a reference ${NAME}"},
        {ONE_MODEL("    headers: {X-A: \"x ${A\"}\n"), "c.yaml:4:", "'${' must open a reference"},
        {ONE_MODEL("    headers: {X-A: \" a\"}\n"), "c.yaml:4:", "starts or ends with a space"},
        {ONE_MODEL("    headers: {X-A: a, x-a: b}\n"),
         "c.yaml:4:", "models[0].headers.x-a: given twice"},
        {ONE_MODEL("    headers: [a]\n"),
         "c.yaml:4:", "models[0].headers: expected a mapping of names to values, got 'a list'"},
        {ONE_MODEL("    headers: {X-A: [1]}\n"),
         "c.yaml:4:", "models[0].headers.X-A: expected a non-empty string"},
        {ONE_MODEL("    headers: {X-A: ''}\n"), "c.yaml:4:", "expected a non-empty string"},
        {ONE_MODEL("    headers: "
                   "{X-Aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa: a}\n"),
         "c.yaml:4:", "a header name has 1 to 64 characters"},
        {many.data, "c.yaml:37:", "models[0].headers: more than 32 headers"},
        {long_value.data, "c.yaml:4:", "longer than 4096 bytes"},
        {many_refs.data, "c.yaml:4:", "more than 32 ${NAME} references"},
        {ONE_MODEL("    query: {key: '${RL_TEST_PROV_SHORT}'}\n"),
         "c.yaml:4:", "models[0].query.key: query values cannot read environment variables"},
        {ONE_MODEL("    query: api-version=1\n"),
         "c.yaml:4:", "models[0].query: expected a mapping of names to values"},
        {ONE_MODEL("    query: {v: \"a\\nb\"}\n"), "c.yaml:4:", "control character"},
        {ONE_MODEL("    auth: basic\n"),
         "c.yaml:4:", "models[0].auth: expected one of bearer, header, none, got 'basic'"},
        {ONE_MODEL("    auth: header\n"),
         "c.yaml:4:", "models[0].auth_header: auth: header needs auth_header"},
        {ONE_MODEL("    auth_header: api-key\n"),
         "c.yaml:4:", "models[0].auth_header: only used with auth: header"},
        {ONE_MODEL("    auth: header\n    auth_header: Content-Length\n"),
         "c.yaml:5:", "models[0].auth_header: the proxy sets this header itself"},
        {ONE_MODEL("    headers: {authorization: x}\n"), "c.yaml:4:",
         "models[0].headers.authorization: auth: bearer sends this header with the key; write "
         "auth: none"},
        {ONE_MODEL("    auth: header\n    auth_header: api-key\n    headers: {API-KEY: x}\n"),
         "c.yaml:6:", "auth: header sends this header with the key"},
        {ONE_MODEL("    probe: sometimes\n"),
         "c.yaml:4:", "models[0].probe: expected true or false"},
        {"models:\n  - name: m\n    base_url: 'http://x/v1?api-version=1'\n", "c.yaml:2:",
         "model m: base_url must not hold '?', '#', blanks or control characters (give query "
         "parameters in query:)"},
        {"models:\n  - name: m\n    base_url: \"http://x/\\x01v1\"\n",
         "c.yaml:2:", "base_url must not hold"},
        {ONE_MODEL("    api_key_env: RL_TEST_PROV_NL\n"), "c.yaml:2:",
         "model m: the environment variable RL_TEST_PROV_NL (api_key_env) holds a control "
         "character"},
        {ONE_MODEL("    headers: {X-Key: '${RL_TEST_PROV_UNSET}'}\n"), "c.yaml:4:",
         "model m: headers.X-Key: the environment variable RL_TEST_PROV_UNSET is not set"},
        {ONE_MODEL("    headers: {X-Key: 'k ${RL_TEST_PROV_NL}'}\n"), "c.yaml:4:",
         "headers.X-Key: the environment variable RL_TEST_PROV_NL holds a control character"},
        {ONE_MODEL("    headers: {X-Key: '${RL_TEST_PROV_LONG}${RL_TEST_PROV_LONG}'}\n"),
         "c.yaml:4:", "headers.X-Key: longer than 4096 bytes once its variables are read"},
    };
    for (size_t i = 0; i < RL_COUNTOF(cases); i++) {
        struct srv_config c;
        char err[RL_ERRBUF_SIZE] = "";
        int rc = load_text(cases[i].yaml, &c, err);
        if (rc != RL_EINVAL || !strstr(err, cases[i].where) || !strstr(err, cases[i].why))
            TEST_FAIL_("case %zu: rc %d, message '%s'", i, rc, err);
        if (strstr(err, "kkkkkkkk") || strstr(err, "break"))
            TEST_FAIL_("case %zu: the message quotes a variable's value: '%s'", i, err);
        srv_config_free(&c);
    }
    // The --api-key flag's key goes into a header line as well.
    struct srv_config c;
    char err[RL_ERRBUF_SIZE] = "";
    ASSERT_OK(load_text(ONE_MODEL(""), &c, err));
    ASSERT_EQ(srv_config_set_api_key(&c, "sk-a\r\nX-Injected: 1", err), RL_EINVAL);
    ASSERT_STR_CONTAINS(err, "--api-key: the key holds a control character");
    ASSERT_NULL(c.models[0].api_key);
    srv_config_free(&c);
    rl_buf_free(&many);
    rl_buf_free(&long_value);
    rl_buf_free(&many_refs);
    unsetenv("RL_TEST_PROV_LONG");
    unsetenv("RL_TEST_PROV_NL");
    unsetenv("RL_TEST_PROV_SHORT");
    return 0;
}

// ----------------------------------------------------------------------------
// What the stub receives

// Headers every request carries whatever the model's options: they are not compared.
static bool is_common_header(const char *name, size_t n) {
    static const char *const common[] = {"Host", "Accept", "Content-Type", "Content-Length"};
    for (size_t i = 0; i < RL_COUNTOF(common); i++)
        if (strlen(common[i]) == n && strncasecmp(name, common[i], n) == 0)
            return true;
    return false;
}

// The line after the one p is on ("" at the end).
static const char *next_line(const char *p) {
    p += strcspn(p, "\n");
    return *p ? p + 1 : p;
}

// Does `want` hold the header line g[0..len), whose name is g[0..name), names compared in any
// case?
static bool has_line(const char *want, const char *g, size_t len, size_t name) {
    for (const char *w = want; *w; w = next_line(w))
        if (strcspn(w, "\n") == len && strncasecmp(w, g, name) == 0 &&
            strncmp(w + name, g + name, len - name) == 0)
            return true;
    return false;
}

// Does the recorded request `got` (stub_last_request) have the request line `want`'s first line,
// and exactly the header lines that follow it in `want` ("Name: value", names in any case)
// besides the common ones? On a mismatch, msg says what differs.
static bool same_request(const char *got, const char *want, char *msg, size_t size) {
    size_t line = strcspn(want, "\n");
    if (!got || strncmp(got, want, line) != 0 || got[line] != '\n') {
        snprintf(msg, size, "request line '%.*s', want '%.*s'", got ? (int)strcspn(got, "\n") : 4,
                 got ? got : "none", (int)line, want);
        return false;
    }
    size_t n_want = 0, n_seen = 0;
    for (const char *w = next_line(want); *w; w = next_line(w))
        n_want++;
    for (const char *g = next_line(got); *g; g = next_line(g)) {
        size_t len = strcspn(g, "\n"), name = strcspn(g, ":");
        if (is_common_header(g, name))
            continue;
        if (!has_line(next_line(want), g, len, name)) {
            snprintf(msg, size, "unexpected header '%.*s'", (int)len, g);
            return false;
        }
        n_seen++;
    }
    if (n_seen != n_want) {
        snprintf(msg, size, "%zu of the %zu headers wanted were received:\n%s", n_seen, n_want,
                 got);
        return false;
    }
    return true;
}

// The last request with this method, which may still be on its way (the start-up check runs
// in the background): waits up to 5 s. malloc'd, or NULL.
static char *wait_request(const char *method) {
    for (int waited = 0; waited < 5000; waited += 10) {
        char *got = stub_last_request(stub, method);
        if (got)
            return got;
        usleep(10000);
    }
    return NULL;
}

#define CHAT(model)                                                                                \
    "{\"model\":\"" model "\",\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}]}"

static const char *const secrets[] = {"azpw-42x", "hdrpw-77y"};

// The configuration of serve_sends_upstream_options: title and b are what reload changes.
static int write_options_config(struct proxy *p, int port, const char *title, const char *b,
                                bool start) {
    static const char fmt[] =
        "server: {host: 127.0.0.1, port: 0}\n"
        "models:\n"
        "  - name: azure\n"
        "    base_url: http://127.0.0.1:%d/openai/deployments/dep-1/\n"
        "    auth: header\n"
        "    auth_header: api-key\n"
        "    api_key_env: RL_TEST_PROV_AZ\n"
        "    query: {api-version: '2024-10-21'}\n"
        "    probe: false\n"
        "  - name: custom\n"
        "    base_url: http://127.0.0.1:%d/ok/v1\n"
        "    auth: none\n"
        "    api_key_env: RL_TEST_PROV_AZ\n"
        "    headers: {X-Api-Key: '${RL_TEST_PROV_HDR}', X-Title: '%s'}\n"
        "    query: {'a b': '%s', c: 'x&y'}\n"
        "  - {name: refused, base_url: 'http://127.0.0.1:%d/e400/v1', auth: header,\n"
        "     auth_header: api-key, api_key_env: RL_TEST_PROV_AZ, probe: false}\n"
        "  - {name: echoed, base_url: 'http://127.0.0.1:%d/e400/v1', auth: none, probe: false,\n"
        "     headers: {x-api-key: 'k=${RL_TEST_PROV_HDR}'}}\n"
        "routing: {strong: azure, weak: custom}\n"
        "routers:\n"
        "  random: {threshold: 0.5}\n";
    if (start)
        return proxy_start(p, NULL, fmt, port, port, title, b, port, port);
    char text[4096];
    snprintf(text, sizeof text, fmt, port, port, title, b, port, port);
    return rl_file_write(p->config, text, strlen(text), NULL);
}

// Each model gets its own key placement, headers and query, on the chat call and on the
// start-up check; keys carried in headers are masked in what an upstream's error says and
// never reach the log or /metrics; SIGHUP picks up changed headers and query.
TEST(serve_sends_upstream_options) {
    int port = stub_port_started();
    ASSERT(port > 0);
    setenv("RL_TEST_PROV_AZ", secrets[0], 1);
    setenv("RL_TEST_PROV_HDR", secrets[1], 1);
    struct proxy p;
    ASSERT_OK(write_options_config(&p, port, "My App", "1", true));
    char msg[600];
    struct http_resp r;
    ASSERT_OK(http_call(p.port, "/v1/chat/completions", CHAT("azure"), NULL, 0, 0, &r));
    ASSERT_EQ(r.status, 200);
    http_resp_free(&r);
    char *got = stub_last_request(stub, "POST");
    if (!same_request(got,
                      "POST /openai/deployments/dep-1/chat/completions?api-version=2024-10-21\n"
                      "api-key: azpw-42x\n",
                      msg, sizeof msg))
        TEST_FAIL_("azure: %s", msg);
    free(got);
    ASSERT_OK(http_call(p.port, "/v1/chat/completions", CHAT("custom"), NULL, 0, 0, &r));
    ASSERT_EQ(r.status, 200);
    http_resp_free(&r);
    // auth: none sends no key although api_key_env is set.
    static const char custom_headers[] = "X-Api-Key: hdrpw-77y\nX-Title: My App\n";
    char want[512];
    snprintf(want, sizeof want, "POST /ok/v1/chat/completions?a%%20b=1&c=x%%26y\n%s",
             custom_headers);
    got = stub_last_request(stub, "POST");
    if (!same_request(got, want, msg, sizeof msg))
        TEST_FAIL_("custom: %s", msg);
    free(got);
    // Only custom is checked at start, with its headers and query.
    snprintf(want, sizeof want, "GET /ok/v1/models?a%%20b=1&c=x%%26y\n%s", custom_headers);
    got = wait_request("GET");
    if (!same_request(got, want, msg, sizeof msg))
        TEST_FAIL_("start-up check: %s", msg);
    free(got);

    // The stub's 400 quotes the key it was sent, in api-key or x-api-key: the client sees it
    // masked. Neither key is shaped like one, so only the configured secrets can mask them.
    static const char *const refusing[] = {CHAT("refused"), CHAT("echoed")};
    for (size_t i = 0; i < RL_COUNTOF(refusing); i++) {
        ASSERT_OK(http_call(p.port, "/v1/chat/completions", refusing[i], NULL, 0, 0, &r));
        ASSERT_EQ(r.status, 400);
        ASSERT_STR_CONTAINS(r.body.data, i == 0 ? "your key: [redacted]\"" : "key: k=[redacted]\"");
        ASSERT(!strstr(r.body.data, secrets[0]) && !strstr(r.body.data, secrets[1]));
        http_resp_free(&r);
    }
    ASSERT_OK(http_call(p.port, "/metrics", NULL, NULL, 0, 0, &r));
    ASSERT(!strstr(r.body.data, secrets[0]) && !strstr(r.body.data, secrets[1]));
    http_resp_free(&r);

    // A reload sends the new values from the next request on.
    ASSERT_OK(write_options_config(&p, port, "Other App", "2", false));
    kill(p.pid, SIGHUP);
    ASSERT(proxy_wait_log(&p, "\"msg\":\"reloaded\"", 1));
    ASSERT_OK(http_call(p.port, "/v1/chat/completions", CHAT("custom"), NULL, 0, 0, &r));
    ASSERT_EQ(r.status, 200);
    http_resp_free(&r);
    got = stub_last_request(stub, "POST");
    if (!same_request(got,
                      "POST /ok/v1/chat/completions?a%20b=2&c=x%26y\n"
                      "X-Api-Key: hdrpw-77y\nX-Title: Other App\n",
                      msg, sizeof msg))
        TEST_FAIL_("after reload: %s", msg);
    free(got);
    ASSERT_EQ(proxy_stop(&p), 0);
    char *log = proxy_log(&p);
    ASSERT_NOT_NULL(log);
    for (size_t i = 0; i < RL_COUNTOF(secrets); i++)
        ASSERT(!strstr(log, secrets[i]));
    free(log);
    unsetenv("RL_TEST_PROV_AZ");
    unsetenv("RL_TEST_PROV_HDR");
    return 0;
}

// ----------------------------------------------------------------------------
// docs/PROVIDERS.md

// The text of the next fenced block of this language at or after *at, up to its closing fence
// (malloc'd; NULL when there is none); *at moves past it.
static char *next_block(const char **at, const char *lang) {
    char fence[32];
    snprintf(fence, sizeof fence, "\n```%s\n", lang);
    const char *start = strstr(*at, fence);
    const char *end = start ? strstr(start + strlen(fence), "\n```\n") : NULL;
    if (!end)
        return NULL;
    start += strlen(fence);
    *at = end + 5;
    return strndup(start, (size_t)(end - start) + 1);
}

// text with every ${NAME} replaced by the variable's value (malloc'd).
static char *read_vars(const char *text) {
    struct rl_buf b;
    rl_buf_init(&b, 1 << 16);
    for (const char *p = text; *p;) {
        const char *close = strncmp(p, "${", 2) == 0 ? strchr(p, '}') : NULL;
        if (!close) {
            if (rl_buf_append(&b, p++, 1) != RL_OK)
                return NULL;
            continue;
        }
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)(close - p - 2), p + 2);
        const char *v = getenv(name);
        if (rl_buf_appendf(&b, "%s", v ? v : "(unset)") != RL_OK)
            return NULL;
        p = close + 1;
    }
    return rl_buf_take(&b, NULL);
}

// Set every variable the block names (api_key_env: NAME, ${NAME}) to a value of its own.
static void set_vars(const char *yaml) {
    static const struct {
        const char *before, *after;
    } refs[] = {{"api_key_env: ", " \n"}, {"${", "}"}};
    for (size_t k = 0; k < RL_COUNTOF(refs); k++) {
        for (const char *p = yaml; (p = strstr(p, refs[k].before)); p++) {
            const char *at = p + strlen(refs[k].before);
            char name[128], value[160];
            snprintf(name, sizeof name, "%.*s", (int)strcspn(at, refs[k].after), at);
            snprintf(value, sizeof value, "value-of-%s", name);
            setenv(name, value, 1);
        }
    }
}

// The proxy's configuration for one block: its base_url's scheme and host replaced by the
// stub's (the path is kept), with a server and a router.
static char *stub_config(const char *yaml, int port) {
    const char *url = strstr(yaml, "base_url: ");
    const char *host = url ? strstr(url, "://") : NULL;
    if (!host)
        return NULL;
    url += 10;
    size_t path = (size_t)(host + 3 - yaml) + strcspn(host + 3, "/\n");
    struct rl_buf b;
    rl_buf_init(&b, 1 << 16);
    if (rl_buf_appendf(&b, "server: {host: 127.0.0.1, port: 0}\n%.*shttp://127.0.0.1:%d%s",
                       (int)(url - yaml), yaml, port, yaml + path) != RL_OK ||
        rl_buf_appendf(&b, "routers:\n  random: {threshold: 0.5}\n") != RL_OK)
        return NULL;
    return rl_buf_take(&b, NULL);
}

// One provider: the proxy runs its block, answers a chat request to its model through the stub,
// and the stub received what the http block says.
static int check_provider(const char *yaml, const char *http, int port) {
    set_vars(yaml);
    char *config = stub_config(yaml, port);
    char *want = read_vars(http);
    const char *name = strstr(yaml, "name: ");
    ASSERT(config && want && name);
    char body[256];
    snprintf(body, sizeof body,
             "{\"model\":\"%.*s\",\"messages\":[{\"role\":\"user\","
             "\"content\":\"hello\"}]}",
             (int)strcspn(name + 6, "\n"), name + 6);
    stub_reset(stub);
    struct proxy p;
    int rc = proxy_start(&p, NULL, "%s", config);
    if (rc != RL_OK) {
        char *log = proxy_log(&p);
        TEST_FAIL_("the proxy did not start on\n%s\nits log:\n%s", config, log ? log : "");
    }
    struct http_resp r;
    ASSERT_OK(http_call(p.port, "/v1/chat/completions", body, NULL, 0, 0, &r));
    if (r.status != 200)
        TEST_FAIL_("HTTP %ld: %s", r.status, r.body.data);
    http_resp_free(&r);
    // The http block: the chat request, then the start-up check when there is one.
    char *get = strstr(want, "\n\nGET ");
    if (get)
        get[1] = '\0';
    char msg[600];
    char *got = stub_last_request(stub, "POST");
    if (!same_request(got, want, msg, sizeof msg))
        TEST_FAIL_("%s%s", want, msg);
    free(got);
    got = get ? wait_request("GET") : NULL;
    if (get && !same_request(got, get + 2, msg, sizeof msg))
        TEST_FAIL_("%s%s", get + 2, msg);
    free(got);
    ASSERT_EQ(proxy_stop(&p), 0);
    if (!get) {
        got = stub_last_request(stub, "GET");
        if (got)
            TEST_FAIL_("probe: false, but the upstream was asked:\n%s", got);
    }
    free(config);
    free(want);
    return 0;
}

TEST(serve_providers_doc_configs_send_what_they_say) {
    char *doc = NULL;
    size_t len = 0;
    char err[RL_ERRBUF_SIZE] = "";
    ASSERT_OK(rl_file_read(RL_DATA_DIR "/docs/PROVIDERS.md", 1 << 20, &doc, &len, err));
    static const char *const providers[] = {"vLLM",         "Ollama",     "llama.cpp", "OpenAI",
                                            "Azure OpenAI", "OpenRouter", "Together"};
    for (size_t i = 0; i < RL_COUNTOF(providers); i++) {
        char heading[64];
        snprintf(heading, sizeof heading, "\n## %s", providers[i]);
        ASSERT_STR_CONTAINS(doc, heading);
    }
    int port = stub_port_started();
    ASSERT(port > 0);
    size_t n = 0;
    const char *at = doc;
    for (char *yaml; (yaml = next_block(&at, "yaml")); n++) {
        const char *after = at;
        char *http = next_block(&at, "http");
        const char *next_yaml = strstr(after, "\n```yaml\n");
        if (!http || (next_yaml && next_yaml < at))
            TEST_FAIL_("block %zu of docs/PROVIDERS.md has no http block after it", n + 1);
        if (check_provider(yaml, http, port) != 0)
            TEST_FAIL_("docs/PROVIDERS.md, block %zu:\n%s", n + 1, yaml);
        free(yaml);
        free(http);
    }
    ASSERT_EQ(n, RL_COUNTOF(providers));
    free(doc);
    return 0;
}
