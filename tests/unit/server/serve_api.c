// Integration tests of the proxy's other OpenAI endpoints, the real binary in front of the C stub
// upstream: POST /v1/completions routed like chat (prompt, upstream path, streaming, retries
// and fallback, direct models, errors) and POST /v1/embeddings answered from the local encoder
// (vectors equal to the encoder's own, float and base64, token usage, truncation, limits, keys,
// metrics, errors, a client that leaves mid-batch, a server with no encoder).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "rl.h"
#include "support/serve_harness.h"
#include "support/stub_upstream.h"
#include "test.h"

static struct stub_upstream *stub;

// A proxy whose strong and weak upstreams are stub modes, with the random router and, when
// `routers` is given, those routers instead; server_extra is spliced into the server map.
static int start(struct proxy *p, const char *strong_mode, const char *weak_mode,
                 const char *server_extra, const char *routers, const char *env) {
    if (!stub)
        stub = stub_start(0, true);
    if (!stub)
        return RL_EIO;
    stub_reset(stub);
    int port = stub_port(stub);
    return proxy_start(
        p, env,
        "server: {host: 127.0.0.1, port: 0%s}\n"
        "models:\n"
        "  - {name: strong, base_url: \"http://127.0.0.1:%d/%s/v1\", model: big-model,"
        " price_in: 10, price_out: 30}\n"
        "  - {name: weak, base_url: \"http://127.0.0.1:%d/%s/v1/\", model: small-model,"
        " price_in: 1, price_out: 2}\n"
        "routing: {strong: strong, weak: weak, backoff_s: 0.01}\n"
        "routers: {%s}\n",
        server_extra ? server_extra : "", port, strong_mode, port, weak_mode,
        routers ? routers : "random: {threshold: 0.5}");
}

// The request line of the stub's last POST ("POST /ok/v1/completions").
static bool last_post_is(const char *line) {
    char *req = stub_last_request(stub, "POST");
    bool yes = req && strncmp(req, line, strlen(line)) == 0 && req[strlen(line)] == '\n';
    free(req);
    return yes;
}

static const char *error_code(const struct http_resp *r, char *out, size_t size) {
    json_t *j = json_loadb(r->body.data ? r->body.data : "", r->body.len, 0, NULL);
    const char *code = json_string_value(json_object_get(json_object_get(j, "error"), "code"));
    snprintf(out, size, "%s", code ? code : "(none)");
    json_decref(j);
    return out;
}

// ----------------------------------------------------------------------------
// POST /v1/completions

TEST(serve_completions_routed_like_chat) {
    struct proxy p;
    ASSERT_OK(start(&p, "ok", "ok", NULL, NULL, NULL));
    struct http_resp r;
    char v[64];
    // Threshold 0 routes to the strong model: its /completions, with only "model" changed.
    ASSERT_OK(http_call(p.port, "/v1/completions",
                        "{\"model\":\"router-random-0.0\", \"prompt\":\"hello there\","
                        "\"max_tokens\":5,\"echo\":false}",
                        NULL, 0, 0, &r));
    ASSERT_EQ(r.status, 200);
    ASSERT(http_header(&r, "x-routellm-model", v, sizeof v));
    ASSERT_STR_EQ(v, "strong");
    ASSERT(http_header(&r, "x-routellm-p-strong", v, sizeof v));
    ASSERT_STR_CONTAINS(r.body.data, "\"object\":\"text_completion\"");
    ASSERT_STR_CONTAINS(r.body.data, "\"text\":\"echo: hello there\"");
    ASSERT(last_post_is("POST /ok/v1/completions"));
    char *sent = stub_last_body(stub);
    ASSERT_STR_EQ(sent, "{\"model\":\"big-model\", \"prompt\":\"hello there\","
                        "\"max_tokens\":5,\"echo\":false}");
    free(sent);
    http_resp_free(&r);

    // An array of one prompt routes the same; threshold 1 picks the weak model.
    ASSERT_OK(http_call(p.port, "/v1/completions",
                        "{\"model\":\"router-random-1\",\"prompt\":[\"hi there\"]}", NULL, 0, 0,
                        &r));
    ASSERT_EQ(r.status, 200);
    ASSERT(http_header(&r, "x-routellm-model", v, sizeof v));
    ASSERT_STR_EQ(v, "weak");
    ASSERT_STR_CONTAINS(r.body.data, "\"model\":\"small-model\"");
    ASSERT_STR_CONTAINS(r.body.data, "\"text\":\"echo: hi there\"");
    ASSERT(last_post_is("POST /ok/v1/completions"));
    http_resp_free(&r);

    // A direct model passes through whatever its prompt is (token ids here): no routing.
    ASSERT_OK(http_call(p.port, "/v1/completions", "{\"model\":\"weak\",\"prompt\":[1,2,3]}", NULL,
                        0, 0, &r));
    ASSERT_EQ(r.status, 200);
    ASSERT(!http_header(&r, "x-routellm-p-strong", v, sizeof v));
    ASSERT_STR_CONTAINS(r.body.data, "\"object\":\"text_completion\"");
    sent = stub_last_body(stub);
    ASSERT_STR_EQ(sent, "{\"model\":\"small-model\",\"prompt\":[1,2,3]}");
    free(sent);
    http_resp_free(&r);

    // Streaming is relayed event by event, [DONE] included, and its usage is counted.
    ASSERT_OK(http_call(p.port, "/v1/completions",
                        "{\"model\":\"router-random-0\",\"prompt\":\"count\",\"stream\":true,"
                        "\"stream_options\":{\"include_usage\":true}}",
                        NULL, 0, 0, &r));
    ASSERT_EQ(r.status, 200);
    ASSERT(http_header(&r, "Content-Type", v, sizeof v));
    ASSERT_STR_EQ(v, "text/event-stream");
    ASSERT_STR_CONTAINS(r.body.data, "\"text\":\"one \"");
    ASSERT_STR_CONTAINS(r.body.data, "\"text\":\"three \"");
    ASSERT_STR_CONTAINS(r.body.data, "\"completion_tokens\":7");
    ASSERT(r.body.len > 14 && strcmp(r.body.data + r.body.len - 14, "data: [DONE]\n\n") == 0);
    ASSERT(last_post_is("POST /ok/v1/completions"));
    http_resp_free(&r);

    // POST /v1/route takes a completions body too.
    ASSERT_OK(http_call(p.port, "/v1/route", "{\"model\":\"router-random-0\",\"prompt\":\"x\"}",
                        NULL, 0, 0, &r));
    ASSERT_EQ(r.status, 200);
    ASSERT_STR_CONTAINS(r.body.data, "\"model\":\"strong\"");
    ASSERT_STR_CONTAINS(r.body.data, "\"router\":\"random\"");
    http_resp_free(&r);
    ASSERT_EQ(stub_count(stub, "ok"), 4); // the route-only request called no model

    ASSERT_EQ(metric_value(p.port, "routellm_requests_total{endpoint=\"/v1/completions\","
                                   "router=\"random\",model=\"strong\",status=\"200\"}"),
              2);
    ASSERT_EQ(metric_value(p.port, "routellm_requests_total{endpoint=\"/v1/completions\","
                                   "router=\"none\",model=\"weak\",status=\"200\"}"),
              1);
    ASSERT_EQ(metric_value(p.port, "routellm_requests_total{endpoint=\"/v1/route\","
                                   "router=\"random\",model=\"strong\",status=\"200\"}"),
              1);
    // The non-streaming answers carry usage too: (body bytes / 4, 7) from the stub.
    ASSERT_EQ(metric_value(p.port, "routellm_tokens_total{model=\"strong\",type=\"completion\"}"),
              14);
    ASSERT(metric_value(p.port, "routellm_cost_usd_total{model=\"strong\"}") > 0);
    ASSERT_EQ(proxy_stop(&p), 0);
    char *log = proxy_log(&p);
    ASSERT_STR_CONTAINS(log, "\"path\":\"/v1/completions\"");
    free(log);
    return 0;
}

TEST(serve_completions_retry_fallback_and_errors) {
    struct proxy p;
    ASSERT_OK(start(&p, "e500", "ok", NULL, NULL, NULL));
    struct http_resp r;
    char v[64];
    // The strong model fails three times (two retries), then the weak one answers.
    ASSERT_OK(http_call(p.port, "/v1/completions",
                        "{\"model\":\"router-random-0\",\"prompt\":\"hello\"}", NULL, 0, 0, &r));
    ASSERT_EQ(r.status, 200);
    ASSERT(http_header(&r, "x-routellm-model", v, sizeof v));
    ASSERT_STR_EQ(v, "weak");
    ASSERT_STR_CONTAINS(r.body.data, "\"object\":\"text_completion\"");
    ASSERT_EQ(stub_count(stub, "e500"), 3);
    ASSERT(last_post_is("POST /ok/v1/completions"));
    http_resp_free(&r);
    ASSERT_EQ(metric_value(p.port, "routellm_fallbacks_total{from=\"strong\",to=\"weak\"}"), 1);
    ASSERT_EQ(proxy_stop(&p), 0);

    static const struct {
        const char *body; // input
        long status;      // output
        const char *code;
    } cases[] = {
        {"{\"model\":\"router-random-0.5\"}", 400, "invalid_prompt"},
        {"{\"model\":\"router-random-0.5\",\"prompt\":\"\"}", 400, "invalid_prompt"},
        {"{\"model\":\"router-random-0.5\",\"prompt\":[]}", 400, "invalid_prompt"},
        {"{\"model\":\"router-random-0.5\",\"prompt\":[\"a\",\"b\"]}", 400, "invalid_prompt"},
        {"{\"model\":\"router-random-0.5\",\"prompt\":[1,2,3]}", 400, "invalid_prompt"},
        {"{\"model\":\"router-random-0.5\",\"prompt\":[[1,2]]}", 400, "invalid_prompt"},
        {"{\"model\":\"router-random-0.5\",\"prompt\":null}", 400, "invalid_prompt"},
        {"{\"model\":\"router-random-0.5\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
         400, "invalid_prompt"},
        {"{\"prompt\":\"x\"}", 400, "invalid_model"},
        {"{\"model\":\"router-random-7\",\"prompt\":\"x\"}", 400, "invalid_model"},
        {"{\"model\":\"nope\",\"prompt\":\"x\"}", 400, "model_not_found"},
        {"{\"model\":\"router-nope-0.5\",\"prompt\":\"x\"}", 400, "model_not_found"},
        {"{\"model\":\"weak\",\"prompt\":\"x\",\"stream\":1}", 400, "invalid_stream"},
        {"{\"model\":\"weak\",\"prompt\":\"x\"", 400, "invalid_json"},
        // The upstream's own 4xx keeps its status, never its body.
        {"{\"model\":\"strong\",\"prompt\":\"x\"}", 400, "context_length_exceeded"},
    };
    ASSERT_OK(start(&p, "e400", "ok", NULL, NULL, NULL));
    for (size_t i = 0; i < RL_COUNTOF(cases); i++) {
        char code[64];
        ASSERT_OK(http_call(p.port, "/v1/completions", cases[i].body, NULL, 0, 0, &r));
        if (r.status != cases[i].status ||
            strcmp(error_code(&r, code, sizeof code), cases[i].code) != 0)
            TEST_FAIL_("case %zu (%s): %ld %s, want %ld %s", i, cases[i].body, r.status,
                       r.body.data, cases[i].status, cases[i].code);
        http_resp_free(&r);
    }
    ASSERT_OK(http_call(p.port, "/v1/route", "{\"model\":\"router-random-0.5\"}", NULL, 0, 0, &r));
    ASSERT_EQ(r.status, 400);
    ASSERT_STR_CONTAINS(r.body.data, "'messages' (a chat request) or 'prompt'");
    http_resp_free(&r);
    ASSERT_OK(http_call(p.port, "/v1/completions", NULL, NULL, 0, 0, &r));
    ASSERT_EQ(r.status, 405);
    http_resp_free(&r);
    // Only the direct request to the e400 upstream reached a model.
    ASSERT_EQ(stub_count(stub, "e400"), 1);
    ASSERT_EQ(stub_count(stub, "ok"), 0);
    // A server without an encoder has no embedding model: it says so, and lists none.
    ASSERT_OK(http_call(p.port, "/v1/embeddings",
                        "{\"model\":\"all-MiniLM-L6-v2\",\"input\":\"hello\"}", NULL, 0, 0, &r));
    ASSERT_EQ(r.status, 404);
    char code[64];
    ASSERT_STR_EQ(error_code(&r, code, sizeof code), "embeddings_unavailable");
    http_resp_free(&r);
    ASSERT_OK(http_call(p.port, "/v1/models", NULL, NULL, 0, 0, &r));
    ASSERT(strstr(r.body.data, "MiniLM") == NULL);
    http_resp_free(&r);
    ASSERT_EQ(proxy_stop(&p), 0);
    return 0;
}

// ----------------------------------------------------------------------------
// POST /v1/embeddings

#define KEY_HEADER "Authorization: Bearer emb-key"

// The embedding model named in requests: the encoder folder's name.
#define EMB_MODEL "all-MiniLM-L6-v2"

// Decode a base64 string of little-endian float32 values into out (dim of them).
static bool decode_b64(const char *text, float *out, size_t dim) {
    size_t n = strlen(text);
    unsigned char *raw = malloc(n);
    int got = raw ? EVP_DecodeBlock(raw, (const unsigned char *)text, (int)n) : -1;
    // EVP_DecodeBlock counts the padding's zero bytes: 4 * dim rounded up to a multiple of 3.
    bool ok = got >= 0 && (size_t)got >= 4 * dim && (size_t)got < 4 * dim + 3;
    for (size_t k = 0; ok && k < dim; k++) {
        uint32_t u = 0;
        for (int b = 0; b < 4; b++)
            u |= (uint32_t)raw[4 * k + (size_t)b] << (8 * b);
        memcpy(&out[k], &u, 4);
    }
    free(raw);
    return ok;
}

// The vectors of an answer: data[i].embedding for each i, checked to be in order.
static int answer_vectors(const struct http_resp *r, bool base64, float *out, size_t n,
                          size_t dim) {
    json_t *j = json_loadb(r->body.data, r->body.len, 0, NULL);
    ASSERT_NOT_NULL(j);
    ASSERT_STR_EQ(json_string_value(json_object_get(j, "object")), "list");
    ASSERT_STR_EQ(json_string_value(json_object_get(j, "model")), EMB_MODEL);
    json_t *data = json_object_get(j, "data");
    ASSERT_EQ(json_array_size(data), n);
    for (size_t i = 0; i < n; i++) {
        json_t *d = json_array_get(data, i);
        ASSERT_STR_EQ(json_string_value(json_object_get(d, "object")), "embedding");
        ASSERT_EQ(json_integer_value(json_object_get(d, "index")), (json_int_t)i);
        json_t *e = json_object_get(d, "embedding");
        if (base64) {
            ASSERT(json_is_string(e));
            ASSERT(decode_b64(json_string_value(e), out + i * dim, dim));
        } else {
            ASSERT_EQ(json_array_size(e), dim);
            for (size_t k = 0; k < dim; k++)
                out[i * dim + k] = (float)json_number_value(json_array_get(e, k));
        }
    }
    json_decref(j);
    return 0;
}

static json_int_t usage_tokens(const struct http_resp *r) {
    json_t *j = json_loadb(r->body.data, r->body.len, 0, NULL);
    json_t *u = json_object_get(j, "usage");
    json_int_t pt = json_integer_value(json_object_get(u, "prompt_tokens"));
    json_int_t tt = json_integer_value(json_object_get(u, "total_tokens"));
    json_decref(j);
    return pt == tt ? pt : -1;
}

TEST(serve_embeddings_match_the_encoder) {
    char err[RL_ERRBUF_SIZE] = "";
    struct rl_encoder *enc = rl_encoder_open(RL_TEST_MODEL, err);
    if (!enc)
        TEST_FAIL_("%s", err);
    size_t dim = rl_encoder_dim(enc);
    struct proxy p;
    ASSERT_OK(start(&p, "ok", "ok", ", api_keys_env: RL_TEST_EMB_KEYS",
                    "mf: ", "RL_TEST_EMB_KEYS=emb-key"));
    // A long text is cut at the encoder's 256 tokens, as sentence-transformers cuts it.
    struct rl_buf long_text;
    rl_buf_init(&long_text, 1 << 16);
    for (int i = 0; i < 400; i++)
        ASSERT_OK(rl_buf_appendf(&long_text, "word%d ", i));
    const char *texts[] = {"What is the capital of France?", "hello", long_text.data,
                           "What is the capital of France?"};
    size_t n = RL_COUNTOF(texts);
    float *want = malloc(n * dim * sizeof *want), *got = malloc(n * dim * sizeof *got);
    float *got64 = malloc(n * dim * sizeof *got64);
    ASSERT(want && got && got64);
    ASSERT_OK(rl_encoder_embed(enc, texts, n, want, err));
    long tokens = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t ids[512];
        long k = rl_tokenizer_encode(rl_encoder_tokenizer(enc), texts[i], strlen(texts[i]), ids,
                                     rl_encoder_max_tokens(enc));
        ASSERT(k > 0);
        tokens += k;
    }
    ASSERT(tokens > 256); // the long text counts its 256 tokens, no more

    json_t *input = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(input, json_string(texts[i]));
    for (int base64 = 0; base64 < 2; base64++) {
        json_t *req = json_pack("{s:s,s:O,s:s,s:i,s:s}", "model", EMB_MODEL, "input", input,
                                "encoding_format", base64 ? "base64" : "float", "dimensions",
                                (int)dim, "user", "u-1");
        char *body = json_dumps(req, JSON_COMPACT);
        json_decref(req);
        struct http_resp r;
        ASSERT_OK(http_call(p.port, "/v1/embeddings", body, KEY_HEADER, 0, 0, &r));
        free(body);
        if (r.status != 200)
            TEST_FAIL_("status %ld: %s", r.status, r.body.data);
        ASSERT_OK(answer_vectors(&r, base64, base64 ? got64 : got, n, dim));
        ASSERT_EQ(usage_tokens(&r), tokens);
        http_resp_free(&r);
    }
    json_decref(input);
    double maxdiff = 0;
    for (size_t k = 0; k < n * dim; k++) {
        maxdiff = fmax(maxdiff, fabs((double)got[k] - want[k]));
        ASSERT(got[k] == got64[k]); // the decimal form reads back as the very same float
    }
    ASSERT_NEAR(maxdiff, 0, 1e-6);

    // One string; the same text again is a cache hit, and the same vector.
    struct http_resp r;
    ASSERT_OK(http_call(p.port, "/v1/embeddings",
                        "{\"model\":\"" EMB_MODEL "\",\"input\":\"hello\",\"encoding_format\":null,"
                        "\"dimensions\":null}",
                        KEY_HEADER, 0, 0, &r));
    ASSERT_EQ(r.status, 200);
    ASSERT_OK(answer_vectors(&r, false, got, 1, dim));
    ASSERT(memcmp(got, got64 + dim, dim * sizeof *got) == 0);
    http_resp_free(&r);
    // The texts missed once each (the repeated one joined the first), then hit.
    ASSERT_EQ(metric_value(p.port, "routellm_embedding_cache_total{result=\"miss\"}"), 3);
    ASSERT_EQ(metric_value(p.port, "routellm_requests_total{endpoint=\"/v1/embeddings\","
                                   "router=\"none\",model=\"none\",status=\"200\"}"),
              3);

    // The model list offers the encoder, owned by the proxy.
    ASSERT_OK(http_call(p.port, "/v1/models/" EMB_MODEL, NULL, KEY_HEADER, 0, 0, &r));
    ASSERT_EQ(r.status, 200);
    ASSERT_STR_CONTAINS(r.body.data, "\"owned_by\":\"routellm\"");
    http_resp_free(&r);
    // Client keys apply.
    ASSERT_OK(http_call(p.port, "/v1/embeddings", "{\"model\":\"" EMB_MODEL "\",\"input\":\"a\"}",
                        NULL, 0, 0, &r));
    ASSERT_EQ(r.status, 401);
    http_resp_free(&r);
    ASSERT_EQ(proxy_stop(&p), 0);
    char *log = proxy_log(&p);
    ASSERT_STR_CONTAINS(log, "\"path\":\"/v1/embeddings\",\"status\":200,\"model\":\"" EMB_MODEL
                             "\",\"inputs\":4");
    free(log);
    ASSERT_EQ(stub_count(stub, "ok"), 0); // no upstream was called
    free(want);
    free(got);
    free(got64);
    rl_buf_free(&long_text);
    rl_encoder_free(enc);
    return 0;
}

TEST(serve_embeddings_refusals_and_limits) {
    struct proxy p;
    ASSERT_OK(start(&p, "ok", "ok", ", max_body_bytes: 65536", "mf: ", NULL));
    // 2049 inputs, one input over SRV_MAX_EMBED_INPUT, and a body over max_body_bytes.
    struct rl_buf many, big, huge;
    rl_buf_init(&many, 1 << 20);
    rl_buf_init(&big, 1 << 20);
    rl_buf_init(&huge, 1 << 20);
    ASSERT_OK(rl_buf_appendf(&many, "{\"model\":\"" EMB_MODEL "\",\"input\":[\"a\""));
    for (int i = 1; i < 2049; i++)
        ASSERT_OK(rl_buf_appendf(&many, ",\"a\""));
    ASSERT_OK(rl_buf_appendf(&many, "]}"));
    ASSERT_OK(rl_buf_appendf(&big, "{\"model\":\"" EMB_MODEL "\",\"input\":[\"a\",\""));
    for (int i = 0; i < 32 * 1024 + 1; i++)
        ASSERT_OK(rl_buf_append(&big, "x", 1));
    ASSERT_OK(rl_buf_appendf(&big, "\"]}"));
    ASSERT_OK(rl_buf_appendf(&huge, "{\"model\":\"" EMB_MODEL "\",\"input\":\""));
    for (int i = 0; i < 70000; i++)
        ASSERT_OK(rl_buf_append(&huge, "x", 1));
    ASSERT_OK(rl_buf_appendf(&huge, "\"}"));
    static const char *const prefix = "{\"model\":\"" EMB_MODEL "\",";
    const struct {
        const char *body; // input: after prefix unless it starts with '{'
        long status;      // output
        const char *code, *param;
    } cases[] = {
        {"\"input\":\"\"}", 400, "invalid_input", "input"},
        {"\"input\":[\"ok\",\"\"]}", 400, "invalid_input", "input"},
        {"\"input\":[]}", 400, "invalid_input", "input"},
        {"\"input\":[1,2,3]}", 400, "invalid_input", "input"},
        {"\"input\":[[1,2],[3]]}", 400, "invalid_input", "input"},
        {"\"input\":[\"a\",7]}", 400, "invalid_input", "input"},
        {"\"input\":5}", 400, "invalid_input", "input"},
        {"\"input\":null}", 400, "invalid_input", "input"},
        {"\"inputs\":\"a\"}", 400, "invalid_input", "input"},
        {"\"input\":\"a\",\"encoding_format\":\"hex\"}", 400, "invalid_encoding_format",
         "encoding_format"},
        {"\"input\":\"a\",\"encoding_format\":1}", 400, "invalid_encoding_format",
         "encoding_format"},
        {"\"input\":\"a\",\"dimensions\":128}", 400, "invalid_dimensions", "dimensions"},
        {"\"input\":\"a\",\"dimensions\":\"384\"}", 400, "invalid_dimensions", "dimensions"},
        {"\"input\":\"a\",\"user\":5}", 400, "invalid_user", "user"},
        {"{\"input\":\"a\"}", 400, "invalid_model", "model"},
        {"{\"model\":\"text-embedding-3-small\",\"input\":\"a\"}", 404, "model_not_found", "model"},
        {"{\"model\":\"" EMB_MODEL "\",\"input\":\"a\"", 400, "invalid_json", NULL},
        {"{\"model\":\"" EMB_MODEL "\",\"input\":\"a\",\"input\":\"b\"}", 400, "invalid_json",
         NULL},
        {many.data, 400, "invalid_input", "input"},
        {big.data, 400, "invalid_input", "input"},
        {huge.data, 413, "body_too_large", NULL},
    };
    for (size_t i = 0; i < RL_COUNTOF(cases); i++) {
        struct rl_buf body;
        rl_buf_init(&body, 1 << 20);
        ASSERT_OK(
            rl_buf_appendf(&body, "%s%s", cases[i].body[0] == '{' ? "" : prefix, cases[i].body));
        struct http_resp r;
        char code[64];
        ASSERT_OK(http_call(p.port, "/v1/embeddings", body.data, NULL, 0, 0, &r));
        if (r.status != cases[i].status ||
            strcmp(error_code(&r, code, sizeof code), cases[i].code) != 0)
            TEST_FAIL_("case %zu (%.80s): %ld %s, want %ld %s", i, body.data, r.status, r.body.data,
                       cases[i].status, cases[i].code);
        json_t *j = json_loadb(r.body.data, r.body.len, 0, NULL);
        const char *param =
            json_string_value(json_object_get(json_object_get(j, "error"), "param"));
        ASSERT(cases[i].param ? param && strcmp(param, cases[i].param) == 0 : !param);
        json_decref(j);
        http_resp_free(&r);
        rl_buf_free(&body);
    }
    struct http_resp r;
    // The refusal of another model names the one that is served.
    ASSERT_OK(
        http_call(p.port, "/v1/embeddings", "{\"model\":\"ada\",\"input\":\"a\"}", NULL, 0, 0, &r));
    ASSERT_STR_CONTAINS(r.body.data, "'" EMB_MODEL "'");
    http_resp_free(&r);
    // 2048 inputs are accepted.
    many.len -= 6; // drop the last ,"a"]} and close after 2048
    ASSERT_OK(rl_buf_appendf(&many, "]}"));
    ASSERT_OK(http_call(p.port, "/v1/embeddings", many.data, NULL, 0, 60000, &r));
    ASSERT_EQ(r.status, 200);
    ASSERT_STR_CONTAINS(r.body.data, "\"index\":2047,");
    ASSERT(strstr(r.body.data, "\"index\":2048") == NULL);
    http_resp_free(&r);
    ASSERT_OK(http_call(p.port, "/v1/embeddings", NULL, NULL, 0, 0, &r));
    ASSERT_EQ(r.status, 405);
    http_resp_free(&r);

    // A client that leaves while its texts are being embedded: the rest of the server goes on.
    struct rl_buf distinct;
    rl_buf_init(&distinct, 1 << 20);
    ASSERT_OK(rl_buf_appendf(&distinct, "{\"model\":\"" EMB_MODEL "\",\"input\":[\"t0\""));
    for (int i = 1; i < 200; i++)
        ASSERT_OK(rl_buf_appendf(&distinct, ",\"text number %d\"", i));
    ASSERT_OK(rl_buf_appendf(&distinct, "]}"));
    ASSERT(http_call(p.port, "/v1/embeddings", distinct.data, NULL, 0, 30, &r) != RL_OK);
    http_resp_free(&r);
    ASSERT_OK(http_call(p.port, "/v1/embeddings", "{\"model\":\"" EMB_MODEL "\",\"input\":\"b\"}",
                        NULL, 0, 60000, &r));
    ASSERT_EQ(r.status, 200);
    http_resp_free(&r);
    ASSERT(proxy_wait_log(&p, "\"status\":499", 1));
    ASSERT_EQ(proxy_stop(&p), 0);
    rl_buf_free(&distinct);
    rl_buf_free(&many);
    rl_buf_free(&big);
    rl_buf_free(&huge);
    return 0;
}
