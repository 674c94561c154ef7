// Unit tests of the server's self-contained modules, compiled in here (h2o style) because the
// server is part of the binary rather than the library: router model names, the routing prompt,
// the body parse and one-field rewrite, error bodies and JSON quoting, client keys, upstream
// usage and the SSE scan, the YAML config reader and its limits, and the embedding cache with
// its batching encoder workers (on the real MiniLM weights). The stream relay is compiled in here
// too, and tested through its interface in relay.c.
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../../src/server/config.c"
#include "../../../src/server/embed.c"
#include "../../../src/server/log.c"
#include "../../../src/server/loop.c"
#include "../../../src/server/openai.c"
#include "../../../src/server/relay.c"
#include "test.h"

TEST(server_parse_router_model) {
    static const struct {
        const char *name; // input
        int rc;           // output
        const char *router;
        double threshold;
    } cases[] = {
        {"router-mf-0.11593", 1, "mf", 0.11593}, {"router-sw_ranking-1", 1, "sw_ranking", 1},
        {"router-random-0", 1, "random", 0},     {"router-random-.5", 1, "random", 0.5},
        {"router-bert-1e-1", 1, "bert", 0.1},    {"gpt-4o", 0, NULL, 0},
        {"Router-mf-0.1", 0, NULL, 0},           {"router-mf", RL_EINVAL, NULL, 0},
        {"router-", RL_EINVAL, NULL, 0},         {"router--0.5", RL_EINVAL, NULL, 0},
        {"router-mf-", RL_EINVAL, NULL, 0},      {"router-mf-1.0001", RL_EINVAL, NULL, 0},
        {"router-mf--0.1", RL_EINVAL, NULL, 0},  {"router-mf-0.1-0.2", RL_EINVAL, NULL, 0},
        {"router-mf-nan", RL_EINVAL, NULL, 0},   {"router-mf-inf", RL_EINVAL, NULL, 0},
        {"router-mf-0x0.8", RL_EINVAL, NULL, 0}, {"router-mf- 0.5", RL_EINVAL, NULL, 0},
        {"router-mf-1e999", RL_EINVAL, NULL, 0}, {"router-mf-.", RL_EINVAL, NULL, 0},
    };
    for (size_t i = 0; i < RL_COUNTOF(cases); i++) {
        char router[SRV_NAME_MAX] = "";
        double t = -1;
        const char *why = NULL;
        int rc = srv_parse_router_model(cases[i].name, router, sizeof router, &t, &why);
        if (rc != cases[i].rc)
            TEST_FAIL_("%s: rc %d, want %d", cases[i].name, rc, cases[i].rc);
        if (rc == 1) {
            ASSERT_STR_EQ(router, cases[i].router);
            ASSERT_NEAR(t, cases[i].threshold, 1e-15);
        }
        if (rc < 0)
            ASSERT_NOT_NULL(why);
    }
    return 0;
}

// A body and the routing prompt taken from it.
struct prompt_case {
    const char *body; // input
    const char *want; // output (NULL: an error)
};

// Take the prompt of each case with `take` (srv_routing_prompt or srv_completion_prompt).
static int check_prompts(int (*take)(const json_t *, struct rl_buf *, const char **),
                         const struct prompt_case *cases, size_t n) {
    for (size_t i = 0; i < n; i++) {
        json_t *j = json_loads(cases[i].body, 0, NULL);
        ASSERT_NOT_NULL(j);
        struct rl_buf out;
        rl_buf_init(&out, SRV_MAX_PROMPT + 1);
        const char *why = NULL;
        int rc = take(j, &out, &why);
        if (cases[i].want) {
            ASSERT_OK(rc);
            ASSERT_STR_EQ(out.data, cases[i].want);
        } else {
            ASSERT_EQ(rc, RL_EINVAL);
            ASSERT_NOT_NULL(why);
        }
        rl_buf_free(&out);
        json_decref(j);
    }
    return 0;
}

TEST(server_routing_prompt_is_last_user_text) {
    static const struct prompt_case cases[] = {
        {"{\"messages\":[{\"role\":\"user\",\"content\":\"first\"},{\"role\":\"assistant\","
         "\"content\":\"a\"},{\"role\":\"user\",\"content\":\"second\"},{\"role\":\"assistant\","
         "\"content\":\"last, but not the user's\"}]}",
         "second"},
        {"{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"look\"},"
         "{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:...\"}},{\"type\":\"text\","
         "\"text\":\"here\"}]}]}",
         "look\nhere"},
        {"{\"messages\":[{\"role\":\"system\",\"content\":\"s\"}]}", NULL},
        {"{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\"}]}]}", NULL},
        {"{\"messages\":[{\"role\":\"user\",\"content\":\"\"}]}", NULL},
        {"{\"messages\":\"hello\"}", NULL},
        {"{}", NULL},
    };
    ASSERT_OK(check_prompts(srv_routing_prompt, cases, RL_COUNTOF(cases)));
    // A long prompt is cut at SRV_MAX_PROMPT bytes, on a UTF-8 boundary ("é" is 2 bytes).
    size_t n = SRV_MAX_PROMPT + 101;
    char *text = malloc(n + 1);
    text[0] = 'a';
    for (size_t i = 1; i + 1 < n; i += 2)
        memcpy(text + i, "\xc3\xa9", 2);
    text[n] = '\0';
    json_t *j = json_pack("{s:[{s:s,s:s}]}", "messages", "role", "user", "content", text);
    struct rl_buf out;
    rl_buf_init(&out, SRV_MAX_PROMPT + 1);
    const char *why;
    ASSERT_OK(srv_routing_prompt(j, &out, &why));
    ASSERT_EQ(out.len, SRV_MAX_PROMPT - 1);
    ASSERT(((unsigned char)out.data[out.len - 1] & 0xC0) == 0x80);
    rl_buf_free(&out);
    json_decref(j);
    free(text);
    return 0;
}

TEST(server_completion_prompt) {
    static const struct prompt_case cases[] = {
        {"{\"prompt\":\"Say this is a test\"}", "Say this is a test"},
        {"{\"prompt\":[\"one prompt\"]}", "one prompt"},
        {"{\"prompt\":[\"two\",\"prompts\"]}", NULL},
        {"{\"prompt\":[]}", NULL},
        {"{\"prompt\":[1,2,3]}", NULL},
        {"{\"prompt\":[[1,2]]}", NULL},
        {"{\"prompt\":[\"\"]}", NULL},
        {"{\"prompt\":\"\"}", NULL},
        {"{\"prompt\":null}", NULL},
        {"{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", NULL},
    };
    ASSERT_OK(check_prompts(srv_completion_prompt, cases, RL_COUNTOF(cases)));
    // A long prompt is cut like a chat one.
    size_t n = SRV_MAX_PROMPT + 10;
    char *text = malloc(n + 1);
    memset(text, 'p', n);
    text[n] = '\0';
    json_t *j = json_pack("{s:[s]}", "prompt", text);
    struct rl_buf out;
    rl_buf_init(&out, SRV_MAX_PROMPT + 1);
    const char *why;
    ASSERT_OK(srv_completion_prompt(j, &out, &why));
    ASSERT_EQ(out.len, SRV_MAX_PROMPT);
    rl_buf_free(&out);
    json_decref(j);
    free(text);
    return 0;
}

// The fast formatter against printf's "%.9g" (the reference) on floats of every magnitude, exact
// ties included: the same text (but "0" for -0), which reads back as the same float and is a
// JSON number.
TEST(server_format_f32_reads_back) {
    static const float fixed[] = {0.0f,
                                  -0.0f,
                                  1.0f,
                                  -1.0f,
                                  0.1f,
                                  1e-4f,
                                  9.99999975e-5f,
                                  1e-5f,
                                  123456789.0f,
                                  1e9f,
                                  3.40282347e38f,
                                  1.17549435e-38f,
                                  1.40129846e-45f,
                                  -0.0344772898f,
                                  0.5f,
                                  999999999.0f,
                                  9.9999999e-5f,
                                  99999.9999f};
    uint64_t state = 42;
    for (int i = 0; i < 200000 + (int)RL_COUNTOF(fixed); i++) {
        float x;
        if (i < (int)RL_COUNTOF(fixed)) {
            x = fixed[i];
        } else {
            state = state * 6364136223846793005ull + 1442695040888963407ull;
            uint32_t bits = (uint32_t)(state >> 32);
            memcpy(&x, &bits, 4);
            if (!isfinite(x))
                continue;
            if (i % 2) // half of them the values of unit vectors
                x = (float)ldexp((double)(bits & 0xffffff) / (1 << 24), -(int)(bits >> 28)) *
                    ((bits >> 27) & 1 ? -1.0f : 1.0f);
        }
        char got[32], want[32];
        size_t n = srv_format_f32(x, got);
        ASSERT(n <= 16);
        got[n] = '\0';
        snprintf(want, sizeof want, "%.9g", x);
        float back = strtof(got, NULL);
        if (back != x)
            TEST_FAIL_("%s (printf %s) reads back as %.9g", got, want, back);
        json_t *j = json_loads(got, JSON_DECODE_ANY, NULL);
        ASSERT(json_is_number(j));
        json_decref(j);
        if (strcmp(got, x == 0 ? "0" : want) != 0)
            TEST_FAIL_("%s, printf %s", got, want);
    }
    return 0;
}

TEST(server_embeddings_parse) {
    static const struct {
        const char *body; // input
        int status;       // output: 0 for accepted
        const char *code; // the refusal's code
        size_t n;         // texts when accepted
        bool base64;
    } cases[] = {
        {"{\"model\":\"enc\",\"input\":\"hello\"}", 0, NULL, 1, false},
        {"{\"model\":\"enc\",\"input\":[\"a\",\"b\"],\"encoding_format\":\"base64\","
         "\"dimensions\":8,\"user\":\"u\",\"extra\":1}",
         0, NULL, 2, true},
        {"{\"model\":\"enc\",\"input\":\"a\",\"encoding_format\":\"float\",\"user\":null}", 0, NULL,
         1, false},
        {"{\"input\":\"a\"}", 400, "invalid_model", 0, false},
        {"{\"model\":7,\"input\":\"a\"}", 400, "invalid_model", 0, false},
        {"{\"model\":\"other\",\"input\":\"a\"}", 404, "model_not_found", 0, false},
        {"{\"model\":\"enc\"}", 400, "invalid_input", 0, false},
        {"{\"model\":\"enc\",\"input\":\"\"}", 400, "invalid_input", 0, false},
        {"{\"model\":\"enc\",\"input\":[]}", 400, "invalid_input", 0, false},
        {"{\"model\":\"enc\",\"input\":[\"a\",null]}", 400, "invalid_input", 0, false},
        {"{\"model\":\"enc\",\"input\":[5,6]}", 400, "invalid_input", 0, false},
        {"{\"model\":\"enc\",\"input\":[[5],[6]]}", 400, "invalid_input", 0, false},
        {"{\"model\":\"enc\",\"input\":{\"text\":\"a\"}}", 400, "invalid_input", 0, false},
        {"{\"model\":\"enc\",\"input\":\"a\",\"encoding_format\":\"FLOAT\"}", 400,
         "invalid_encoding_format", 0, false},
        {"{\"model\":\"enc\",\"input\":\"a\",\"dimensions\":7}", 400, "invalid_dimensions", 0,
         false},
        {"{\"model\":\"enc\",\"input\":\"a\",\"dimensions\":8.0}", 400, "invalid_dimensions", 0,
         false},
        {"{\"model\":\"enc\",\"input\":\"a\",\"user\":[]}", 400, "invalid_user", 0, false},
    };
    for (size_t i = 0; i < RL_COUNTOF(cases); i++) {
        json_t *j = json_loads(cases[i].body, 0, NULL);
        ASSERT_NOT_NULL(j);
        struct srv_embeddings_req r;
        struct srv_refusal why = {0};
        int rc = srv_embeddings_parse(j, "enc", 8, &r, &why);
        if (cases[i].status == 0) {
            if (rc != RL_OK)
                TEST_FAIL_("case %zu refused: %s", i, why.message);
            ASSERT_EQ(r.n, cases[i].n);
            ASSERT_EQ(r.base64, cases[i].base64);
            size_t len;
            const char *text = srv_embeddings_input(&r, r.n - 1, &len);
            ASSERT_EQ(len, strlen(text));
        } else {
            ASSERT_EQ(rc, RL_EINVAL);
            ASSERT_EQ(why.status, cases[i].status);
            ASSERT_STR_EQ(why.code, cases[i].code);
            ASSERT(why.message[0]);
        }
        json_decref(j);
    }
    // Count and size limits.
    json_t *many = json_array();
    for (int i = 0; i <= SRV_MAX_EMBED_INPUTS; i++)
        json_array_append_new(many, json_string("x"));
    char *long_text = malloc(SRV_MAX_EMBED_INPUT + 2);
    memset(long_text, 'y', SRV_MAX_EMBED_INPUT + 1);
    long_text[SRV_MAX_EMBED_INPUT + 1] = '\0';
    json_t *body = json_pack("{s:s,s:O}", "model", "enc", "input", many);
    struct srv_embeddings_req r;
    struct srv_refusal why;
    ASSERT_EQ(srv_embeddings_parse(body, "enc", 8, &r, &why), RL_EINVAL);
    ASSERT_STR_CONTAINS(why.message, "1 to 2048");
    json_array_remove(many, 0);
    ASSERT_OK(srv_embeddings_parse(body, "enc", 8, &r, &why));
    ASSERT_EQ(r.n, SRV_MAX_EMBED_INPUTS);
    json_object_set_new(body, "input", json_string(long_text));
    ASSERT_EQ(srv_embeddings_parse(body, "enc", 8, &r, &why), RL_EINVAL);
    long_text[SRV_MAX_EMBED_INPUT] = '\0';
    json_object_set_new(body, "input", json_string(long_text));
    ASSERT_OK(srv_embeddings_parse(body, "enc", 8, &r, &why));
    json_decref(body);
    json_decref(many);
    free(long_text);
    return 0;
}

TEST(server_embeddings_answer) {
    const float emb[2 * 3] = {0.25f, -1.0f, 1e-7f, 0.0f, 0.333333343f, -2.5e-5f};
    for (int base64 = 0; base64 < 2; base64++) {
        struct rl_buf b;
        rl_buf_init(&b, srv_embeddings_answer_max(2, 3, "m\"x"));
        ASSERT_OK(srv_embeddings_answer(&b, emb, 2, 3, base64, "m\"x", 17));
        json_t *j = json_loadb(b.data, b.len, JSON_REJECT_DUPLICATES, NULL);
        ASSERT_NOT_NULL(j);
        ASSERT_STR_EQ(json_string_value(json_object_get(j, "object")), "list");
        ASSERT_STR_EQ(json_string_value(json_object_get(j, "model")), "m\"x");
        json_t *u = json_object_get(j, "usage");
        ASSERT_EQ(json_integer_value(json_object_get(u, "prompt_tokens")), 17);
        ASSERT_EQ(json_integer_value(json_object_get(u, "total_tokens")), 17);
        json_t *data = json_object_get(j, "data");
        ASSERT_EQ(json_array_size(data), 2);
        for (size_t i = 0; i < 2; i++) {
            json_t *d = json_array_get(data, i);
            ASSERT_STR_EQ(json_string_value(json_object_get(d, "object")), "embedding");
            ASSERT_EQ(json_integer_value(json_object_get(d, "index")), (json_int_t)i);
            json_t *e = json_object_get(d, "embedding");
            float got[3];
            if (base64) {
                // 12 bytes are 16 base64 characters, little-endian float32 each.
                const char *s = json_string_value(e);
                ASSERT_EQ(strlen(s), 16);
                unsigned char raw[13];
                ASSERT_EQ(EVP_DecodeBlock(raw, (const unsigned char *)s, 16), 12);
                for (int k = 0; k < 3; k++) {
                    uint32_t w = (uint32_t)raw[4 * k] | (uint32_t)raw[4 * k + 1] << 8 |
                                 (uint32_t)raw[4 * k + 2] << 16 | (uint32_t)raw[4 * k + 3] << 24;
                    memcpy(&got[k], &w, 4);
                }
            } else {
                ASSERT_EQ(json_array_size(e), 3);
                for (size_t k = 0; k < 3; k++)
                    got[k] = (float)json_number_value(json_array_get(e, k));
            }
            ASSERT(memcmp(got, emb + 3 * i, sizeof got) == 0);
        }
        json_decref(j);
        rl_buf_free(&b);
    }
    // A buffer too small for the answer is an error, not a cut answer.
    struct rl_buf small;
    rl_buf_init(&small, 40);
    ASSERT(srv_embeddings_answer(&small, emb, 2, 3, false, "m", 1) != RL_OK);
    rl_buf_free(&small);
    return 0;
}

// The body parse of the proxy: an object, no duplicate keys, and no raw NUL byte, which jansson
// skips after a number but the body rewrite cannot (found by fuzz/serve_request).
TEST(server_body_parse) {
    static const struct {
        const char *body; // input
        size_t len;
        const char *why; // output: part of the message (NULL: accepted)
    } cases[] = {
        {"{\"model\":\"m\",\"n\":1}", 19, NULL},
        {"{\"model\":\"m\",\"n\":1\0}", 20, "NUL byte"},
        {"{\"n\":256\0,\t\"model\":\"m\"}", 23, "NUL byte"},
        {"{\"model\":\"a\",\"model\":\"b\"}", 25, "duplicate"},
        {"{\"model\":", 9, "line 1"},
        {"[1]", 3, "must be a JSON object"},
        {"", 0, "not valid JSON"},
    };
    for (size_t i = 0; i < RL_COUNTOF(cases); i++) {
        char msg[400] = "";
        json_t *j = srv_body_parse(cases[i].body, cases[i].len, msg, sizeof msg);
        if (!cases[i].why) {
            ASSERT_NOT_NULL(j);
            struct rl_buf out;
            rl_buf_init(&out, 1 << 10);
            ASSERT_OK(srv_body_set_model(cases[i].body, cases[i].len, "x", &out));
            rl_buf_free(&out);
        } else {
            ASSERT_NULL(j);
            ASSERT_STR_CONTAINS(msg, cases[i].why);
        }
        json_decref(j);
    }
    return 0;
}

TEST(server_body_set_model_changes_one_value) {
    static const struct {
        const char *body; // input
        const char *want; // output (NULL: RL_EFORMAT)
    } cases[] = {
        {"{\"model\":\"router-mf-0.1\",\"temperature\":0.1000000000000000055511151231257827}",
         "{\"model\":\"gpt-4o\",\"temperature\":0.1000000000000000055511151231257827}"},
        {" {\n \"n\" : 1 ,\n \"model\"\t:\n\"x\" }\n",
         " {\n \"n\" : 1 ,\n \"model\"\t:\n\"gpt-4o\" }\n"},
        {"{\"a\":{\"model\":\"inner\"},\"b\":[\"model\",{\"}\":\"]\"}],\"model\":\"x\"}",
         "{\"a\":{\"model\":\"inner\"},\"b\":[\"model\",{\"}\":\"]\"}],\"model\":\"gpt-4o\"}"},
        {"{\"s\":\"a \\\" \\\\\",\"model\":\"x\",\"z\":1}",
         "{\"s\":\"a \\\" \\\\\",\"model\":\"gpt-4o\",\"z\":1}"},
        {"{\"mod\\u0065l\":\"x\"}", "{\"mod\\u0065l\":\"gpt-4o\"}"},
        {"{\"big\":123456789012345678901234567890,\"model\":\"x\"}",
         "{\"big\":123456789012345678901234567890,\"model\":\"gpt-4o\"}"},
        {"{\"models\":\"x\"}", NULL},
        {"[]", NULL},
    };
    for (size_t i = 0; i < RL_COUNTOF(cases); i++) {
        struct rl_buf out;
        rl_buf_init(&out, 1 << 16);
        int rc = srv_body_set_model(cases[i].body, strlen(cases[i].body), "gpt-4o", &out);
        if (cases[i].want) {
            ASSERT_OK(rc);
            ASSERT_STR_EQ(out.data, cases[i].want);
        } else {
            ASSERT_EQ(rc, RL_EFORMAT);
        }
        rl_buf_free(&out);
    }
    // The new id is JSON-escaped.
    struct rl_buf out;
    rl_buf_init(&out, 1 << 16);
    ASSERT_OK(srv_body_set_model("{\"model\":\"x\"}", 13, "a\"b\\c\n", &out));
    ASSERT_STR_EQ(out.data, "{\"model\":\"a\\\"b\\\\c\\n\"}");
    rl_buf_free(&out);
    return 0;
}

// The "routellm" member goes with one comma, whatever its place; every other byte stays, and
// the result is the same object less that member.
TEST(server_body_drop_member_keeps_the_rest) {
    static const struct {
        const char *body, *want;
    } cases[] = {
        {"{\"routellm\":{\"a\":1}}", "{}"},
        {"{\"model\":\"x\", \"routellm\":{\"a\":[1,{\"}\":2}]}}", "{\"model\":\"x\"}"},
        {"{ \"routellm\" : {} , \"model\":\"x\" }", "{ \"model\":\"x\" }"},
        {"{\"a\":1,\"routellm\":null,\"b\":\"routellm\"}", "{\"a\":1,\"b\":\"routellm\"}"},
        {"{\"x\":{\"routellm\":1},\"rout\\u0065llm\":2}", "{\"x\":{\"routellm\":1}}"},
        {"{\"a\":1}", NULL},
    };
    for (size_t i = 0; i < RL_COUNTOF(cases); i++) {
        struct rl_buf out;
        rl_buf_init(&out, 1 << 16);
        int rc = srv_body_drop_member(cases[i].body, strlen(cases[i].body), "routellm", &out);
        if (cases[i].want) {
            ASSERT_OK(rc);
            ASSERT_STR_EQ(out.data, cases[i].want);
            json_t *j = json_loads(out.data, JSON_REJECT_DUPLICATES, NULL);
            ASSERT_NOT_NULL(j);
            ASSERT(json_object_get(j, "routellm") == NULL);
            json_decref(j);
        } else {
            ASSERT_EQ(rc, RL_EINVAL);
        }
        rl_buf_free(&out);
    }
    return 0;
}

// The context-length answers of OpenAI, vLLM, llama.cpp and Anthropic's OpenAI layer are
// recognised; other refusals, statuses and 5xx are not.
TEST(server_upstream_context_exceeded) {
    static const char openai[] =
        "{\"error\":{\"message\":\"This model's maximum context length is 8192 tokens.\","
        "\"code\":\"context_length_exceeded\"}}";
    ASSERT(srv_upstream_context_exceeded(400, openai, strlen(openai)));
    ASSERT(
        srv_upstream_context_exceeded(400, "the request exceeds the available CONTEXT SIZE", 46));
    ASSERT(srv_upstream_context_exceeded(413, "prompt is too long: 210000 tokens", 33));
    ASSERT(!srv_upstream_context_exceeded(500, openai, strlen(openai)));
    ASSERT(
        !srv_upstream_context_exceeded(400, "{\"error\":{\"message\":\"bad temperature\"}}", 39));
    ASSERT(!srv_upstream_context_exceeded(400, NULL, 0));
    ASSERT(!srv_upstream_context_exceeded(400, "context_length_exceeded", 10)); // cut short
    return 0;
}

TEST(server_parse_number_is_plain_decimal) {
    double v;
    ASSERT(srv_parse_number("0.05", &v) && v == 0.05);
    ASSERT(srv_parse_number("1e-3", &v) && v == 1e-3);
    ASSERT(srv_parse_number("500", &v) && v == 500);
    static const char *const bad[] = {"", "nan", "inf", "0x10", " 1", "1 ", "1e999", "-", "."};
    for (size_t i = 0; i < RL_COUNTOF(bad); i++)
        if (srv_parse_number(bad[i], &v))
            TEST_FAIL_("'%s' was taken as %g", bad[i], v);
    return 0;
}

TEST(server_error_body_and_keys) {
    struct rl_buf b;
    rl_buf_init(&b, 1 << 12);
    ASSERT_OK(srv_error_body(&b, "bad \"x\"", "invalid_request_error", "model", NULL));
    ASSERT_STR_EQ(b.data, "{\"error\":{\"message\":\"bad \\\"x\\\"\",\"type\":"
                          "\"invalid_request_error\",\"param\":\"model\",\"code\":null}}");
    rl_buf_free(&b);

    struct srv_config c;
    srv_config_init(&c);
    c.keys[0] = strdup("sk-alpha");
    c.keys[1] = strdup("sk-beta-longer");
    c.n_keys = 2;
    static const struct {
        const char *key; // input
        bool ok;         // output
    } cases[] = {{"sk-alpha", true}, {"sk-beta-longer", true},
                 {"sk-alph", false}, {"sk-alphaa", false},
                 {"", false},        {"sk-beta-longer ", false}};
    for (size_t i = 0; i < RL_COUNTOF(cases); i++)
        ASSERT_EQ(srv_key_allowed(&c, cases[i].key), cases[i].ok);
    srv_config_free(&c);
    return 0;
}

// Error bodies and log lines quote client-supplied text, and messages cut it to a byte count:
// whatever the bytes, the result must be valid JSON (UTF-8), so bytes that are not UTF-8 become
// U+FFFD and whole characters are kept.
TEST(server_json_quote_is_valid_json) {
    static const struct {
        const char *in;   // input
        const char *want; // output
    } cases[] = {
        {"caf\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x9a\x80",
         "\"caf\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x9a\x80\""},
        {"a\"b\\c\nd\x01\x7f", "\"a\\\"b\\\\c\\nd\\u0001\\u007f\""},
        {"caf\xe9", "\"caf\\ufffd\""},                            // Latin-1
        {"x\xc3", "\"x\\ufffd\""},                                // a character cut by "%.100s"
        {"\xe2\x82", "\"\\ufffd\\ufffd\""},                       // likewise, three bytes long
        {"\xc0\x80", "\"\\ufffd\\ufffd\""},                       // overlong NUL
        {"\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\""},            // UTF-16 surrogate
        {"\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\""}, // above U+10FFFF
    };
    for (size_t i = 0; i < RL_COUNTOF(cases); i++) {
        struct rl_buf b;
        rl_buf_init(&b, 1 << 10);
        ASSERT_OK(srv_json_quote(&b, cases[i].in, strlen(cases[i].in)));
        ASSERT_STR_EQ(b.data, cases[i].want);
        json_t *j = json_loadb(b.data, b.len, JSON_DECODE_ANY, NULL);
        ASSERT_NOT_NULL(j);
        json_decref(j);
        rl_buf_free(&b);
    }
    // The server's "invalid model '%.100s'" cut inside an "é" (the fuzz input that found this).
    char name[128], msg[160];
    memset(name, 'x', 99);
    memcpy(name + 99, "\xc3\xa9\xc3\xa9", 5);
    snprintf(msg, sizeof msg, "invalid model '%.100s': why", name);
    struct rl_buf b;
    rl_buf_init(&b, 1 << 12);
    ASSERT_OK(srv_error_body(&b, msg, "invalid_request_error", "model", "invalid_model"));
    json_t *j = json_loadb(b.data, b.len, 0, NULL);
    ASSERT_NOT_NULL(j);
    ASSERT_STR_CONTAINS(json_string_value(json_object_get(json_object_get(j, "error"), "message")),
                        "x\xef\xbf\xbd'"); // U+FFFD
    json_decref(j);
    rl_buf_free(&b);
    // A log line with a request path of raw bytes, and one cut at SRV_LOG_LINE_MAX between "é"s.
    char *long_value = malloc(2 * SRV_LOG_LINE_MAX + 2);
    ASSERT_NOT_NULL(long_value);
    for (size_t k = 0; k < SRV_LOG_LINE_MAX; k++)
        memcpy(long_value + 2 * k + 1, "\xc3\xa9", 2);
    long_value[0] = 'a';
    long_value[2 * SRV_LOG_LINE_MAX + 1] = '\0';
    const char *values[] = {"/v1/\xff\xc3", long_value};
    for (size_t k = 0; k < 2; k++) {
        struct srv_log l;
        srv_log_begin(&l, SRV_LOG_ERROR, "request");
        srv_log_str(&l, "path", values[k]);
        ASSERT(l.on && l.len + 1 < sizeof l.buf);
        l.buf[l.len] = '}'; // what srv_log_end closes the line with
        json_t *line = json_loadb(l.buf, l.len + 1, 0, NULL);
        ASSERT_NOT_NULL(line);
        const char *path = json_string_value(json_object_get(line, "path"));
        ASSERT_NOT_NULL(path);
        if (k == 0)
            ASSERT_STR_EQ(path, "/v1/\xef\xbf\xbd\xef\xbf\xbd");
        else
            ASSERT(strlen(path) > SRV_LOG_LINE_MAX / 2 && strlen(path) < SRV_LOG_LINE_MAX);
        json_decref(line);
    }
    free(long_value);
    // JSON has no NaN or infinity: such numbers are logged as null.
    struct srv_log l;
    srv_log_begin(&l, SRV_LOG_ERROR, "request");
    srv_log_num(&l, "ok", 0.25);
    srv_log_num(&l, "nan", NAN);
    srv_log_num(&l, "inf", -INFINITY);
    ASSERT(l.on && l.len + 1 < sizeof l.buf);
    l.buf[l.len] = '}';
    json_t *line = json_loadb(l.buf, l.len + 1, 0, NULL);
    ASSERT_NOT_NULL(line);
    ASSERT_NEAR(json_real_value(json_object_get(line, "ok")), 0.25, 1e-12);
    ASSERT(json_is_null(json_object_get(line, "nan")));
    ASSERT(json_is_null(json_object_get(line, "inf")));
    json_decref(line);
    return 0;
}

// Upstream token counts, buffered and streamed. A stream is scanned in pieces that split lines
// anywhere; a usage chunk with negative counts must not overwrite an earlier good one (found by
// fuzz/serve_upstream), and a line over SRV_SSE_LINE_MAX is skipped, not cut.
TEST(server_usage_and_sse_scan) {
    long p = 7, c = 8;
    json_t *j = json_loads("{\"usage\":{\"prompt_tokens\":-3,\"completion_tokens\":2}}", 0, NULL);
    ASSERT_EQ(srv_usage(j, &p, &c), false);
    ASSERT_EQ(p, 7); // untouched
    ASSERT_EQ(c, 8);
    json_decref(j);
    j = json_loads("{\"usage\":{\"prompt_tokens\":14,\"completion_tokens\":2}}", 0, NULL);
    ASSERT_EQ(srv_usage(j, &p, &c), true);
    ASSERT_EQ(p, 14);
    ASSERT_EQ(c, 2);
    json_decref(j);

    static const char chunk[] = "data: {\"choices\":[{\"delta\":{\"content\":\"Paris\"}}]}\n\n";
    static const char usage[] =
        "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":14,\"completion_tokens\":3}}\n\n";
    static const char bad_usage[] =
        "data: {\"usage\":{\"prompt_tokens\":-5,\"completion_tokens\":1}}\n\n";
    static const struct {
        const char *a, *b, *c; // input: the stream, in three parts
        bool done, have;       // output
        long prompt, completion;
    } cases[] = {
        {chunk, usage, "data: [DONE]\n\n", true, true, 14, 3},
        {chunk, usage, bad_usage, false, true, 14, 3},
        {"data:[DONE]\r\n", "", "", true, false, 0, 0},
        {"data: [DONE]x\n", ": comment\n", "event: done\n", false, false, 0, 0},
        {chunk, "data: {\"usage\":{\"prompt_tokens\":1.5,\"completion_tokens\":1}}\n", "", false,
         false, 0, 0},
        {chunk, usage, "data: [DONE]", false, true, 14, 3}, // no newline: the line never ends
    };
    for (size_t i = 0; i < RL_COUNTOF(cases); i++) {
        struct rl_buf text;
        rl_buf_init(&text, 1 << 12);
        ASSERT_OK(rl_buf_appendf(&text, "%s%s%s", cases[i].a, cases[i].b, cases[i].c));
        for (size_t piece = 1; piece <= text.len; piece = piece * 3 + 1) {
            struct srv_sse s;
            srv_sse_init(&s);
            for (size_t at = 0; at < text.len; at += piece)
                srv_sse_scan(&s, text.data + at, piece < text.len - at ? piece : text.len - at);
            if (s.saw_done != cases[i].done || s.have_usage != cases[i].have)
                TEST_FAIL_("case %zu, pieces of %zu: done %d usage %d", i, piece, s.saw_done,
                           s.have_usage);
            if (cases[i].have) {
                ASSERT_EQ(s.prompt_tokens, cases[i].prompt);
                ASSERT_EQ(s.completion_tokens, cases[i].completion);
            }
            srv_sse_free(&s);
        }
        rl_buf_free(&text);
    }
    // An over-long usage line is not read; the next line is.
    size_t n = SRV_SSE_LINE_MAX + 64;
    char *line = malloc(n);
    ASSERT_NOT_NULL(line);
    memset(line, ' ', n);
    memcpy(line, usage, sizeof usage - 3); // without its newlines
    line[n - 1] = '\n';
    struct srv_sse s;
    srv_sse_init(&s);
    srv_sse_scan(&s, line, n);
    ASSERT_EQ(s.have_usage, false);
    srv_sse_scan(&s, usage, sizeof usage - 1);
    ASSERT_EQ(s.have_usage, true);
    ASSERT_EQ(s.prompt_tokens, 14);
    srv_sse_free(&s);
    free(line);
    return 0;
}

TEST(server_config_reads_every_section) {
    char dir[] = "/tmp/rl_cfg_XXXXXX";
    ASSERT_NOT_NULL(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof path, "%s/c.yaml", dir);
    static const char text[] =
        "# comment\n"
        "server:\n"
        "  host: 0.0.0.0\n"
        "  port: 7070\n"
        "  max_body_bytes: 1000\n"
        "  idle_timeout_s: 9\n"
        "  api_keys_env: RL_TEST_CFG_KEYS\n"
        "  log_requests: no\n"
        "models:\n"
        "  - name: big\n"
        "    base_url: https://api.example.com/v1\n"
        "    model: gpt-4o\n"
        "    api_key_env: RL_TEST_CFG_UP\n"
        "    price_in: 2.5\n"
        "    price_out: 10\n"
        "    fallbacks: [small, tiny]\n"
        "    cooldown_errors: 3\n"
        "  - {name: small, base_url: 'http://127.0.0.1:8000/v1', fallbacks: [tiny, big2]}\n"
        "  - {name: tiny, base_url: 'http://127.0.0.1:8001/v1', context_fallbacks: [small]}\n"
        "  - {name: big2, base_url: 'http://127.0.0.1:8002/v1'}\n"
        "routing: {strong: big, weak: small, fallback: false, retries: 0, backoff_s: 0.5}\n"
        "routers:\n"
        "  mf: {checkpoint_path: routers/mf.safetensors, threshold: 0.116}\n"
        "  random:\n"
        "routes:\n"
        "  smart:\n"
        "    router: mf\n"
        "    models: [{big: gpt-4-1106-preview}, small]\n"
        "    policy: utility\n"
        "    lambda: 250\n"
        "    fallbacks: [tiny]\n"
        "encoder: {model_dir: /m, workers: 2, batch_max: 8, cache_entries: 0}\n";
    ASSERT_OK(rl_file_write(path, text, strlen(text), NULL));
    setenv("RL_TEST_CFG_KEYS", "k1,,k2", 1);
    setenv("RL_TEST_CFG_UP", "sk-up", 1);
    struct srv_config c;
    srv_config_init(&c);
    char err[RL_ERRBUF_SIZE] = "";
    int rc = srv_config_load(&c, path, err);
    if (rc != RL_OK)
        TEST_FAIL_("%s", err);
    ASSERT_OK(srv_config_finish(&c, err));
    ASSERT_STR_EQ(c.host, "0.0.0.0");
    ASSERT_EQ(c.port, 7070);
    ASSERT_EQ(c.max_body, 1000);
    ASSERT_EQ(c.idle_timeout_s, 9);
    ASSERT_EQ(c.log_requests, false);
    ASSERT_EQ(c.n_keys, 2);
    ASSERT_STR_EQ(c.keys[1], "k2");
    ASSERT_EQ(c.n_models, 4);
    // big's chain: small, then small's own (tiny, big2), then tiny (already there).
    ASSERT_EQ(c.models[0].chain.n, 3);
    ASSERT_EQ(c.models[0].chain.items[0], 1);
    ASSERT_EQ(c.models[0].chain.items[1], 2);
    ASSERT_EQ(c.models[0].chain.items[2], 3);
    ASSERT_EQ(c.models[0].cooldown_errors, 3);
    ASSERT_NEAR(c.models[0].cooldown_s, 30, 0);
    ASSERT_EQ(c.models[2].context_chain.n, 1);
    ASSERT_EQ(c.models[2].context_chain.items[0], 1);
    ASSERT_EQ(c.n_routes, 1);
    const struct srv_route_cfg *rt = &c.routes[0];
    ASSERT_STR_EQ(rt->name, "smart");
    ASSERT_STR_EQ(rt->router, "mf");
    ASSERT_EQ(rt->n_candidates, 2);
    ASSERT_STR_EQ(rt->candidates[0].as, "gpt-4-1106-preview");
    ASSERT_NULL(rt->candidates[1].as);
    ASSERT_EQ(rt->models[1], 1);
    ASSERT_EQ(rt->policy, RL_POLICY_UTILITY);
    ASSERT_NEAR(rt->lambda, 250, 0);
    ASSERT_NEAR(rt->output_tokens, 256, 0);
    ASSERT_EQ(rt->chain.n, 1); // tiny, whose fallbacks are none (its context chain is apart)
    ASSERT_EQ(rt->chain.items[0], 2);
    ASSERT_STR_EQ(c.models[0].model, "gpt-4o");
    ASSERT_STR_EQ(c.models[0].api_key, "sk-up");
    ASSERT_NEAR(c.models[0].price_out, 10, 0);
    ASSERT_STR_EQ(c.models[1].model, "small"); // the id defaults to the name
    ASSERT_NULL(c.models[1].api_key);
    ASSERT_STR_EQ(c.strong, "big");
    ASSERT_EQ(c.fallback, false);
    ASSERT_EQ(c.retries, 0);
    ASSERT_EQ(c.routers_given, true);
    ASSERT_EQ(c.n_routers, 2);
    ASSERT_STR_EQ(c.routers[0].path, "routers/mf.safetensors");
    ASSERT_NEAR(c.routers[0].threshold, 0.116, 0);
    ASSERT_STR_EQ(c.routers[1].name, "random");
    ASSERT_NEAR(c.routers[1].threshold, 0.5, 0);
    ASSERT_EQ(c.encoder_workers, 2);
    ASSERT_EQ(c.cache_entries, 0);
    srv_config_free(&c);
    unsetenv("RL_TEST_CFG_KEYS");
    // The client keys' variable must be set when named.
    srv_config_init(&c);
    ASSERT_OK(srv_config_load(&c, path, err));
    ASSERT_EQ(srv_config_finish(&c, err), RL_EINVAL);
    ASSERT_STR_CONTAINS(err, "RL_TEST_CFG_KEYS");
    srv_config_free(&c);
    unsetenv("RL_TEST_CFG_UP");
    unlink(path);
    rmdir(dir);
    return 0;
}

// The flags of `routellm serve` set values through the same key tables as the file, so a value
// the file refuses is refused with the same words, without the file and line.
TEST(server_config_set_checks_like_the_file) {
    static const struct {
        const char *key, *value; // input
        int rc;                  // output
        const char *msg;         // a piece of the message (rc != RL_OK)
    } cases[] = {
        {"server.port", "8080", RL_OK, NULL},
        {"server.port", "70000", RL_EINVAL, "server.port: expected a number in [0, 65535], got"},
        {"server.port", "1.5", RL_EINVAL, "expected a whole number in [0, 65535], got '1.5'"},
        {"server.port", "", RL_EINVAL, "server.port: expected a number in [0, 65535], got ''"},
        {"server.host", "0.0.0.0", RL_OK, NULL},
        {"server.host", "", RL_EINVAL, "server.host: expected a non-empty string, got ''"},
        {"server.log_requests", "maybe", RL_EINVAL, "expected true or false, got 'maybe'"},
        {"routing.retries", "3", RL_OK, NULL},
        {"encoder.model_dir", "/m", RL_OK, NULL},
        {"encoder.workers", "0", RL_EINVAL, "encoder.workers: expected a number in [1, 64]"},
        {"server.prot", "1", RL_EINVAL, "server: unknown key 'prot' (known: host, port,"},
        {"models.name", "a", RL_EINVAL,
         "unknown key 'models.name' (known: server, routing, encoder, capture, dashboard, "
         "routers)"},
        {"port", "1", RL_EINVAL,
         "unknown key 'port' (known: server, routing, encoder, capture, dashboard, routers)"},
    };
    char dir[] = "/tmp/rl_cfg_XXXXXX";
    ASSERT_NOT_NULL(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof path, "%s/c.yaml", dir);
    for (size_t i = 0; i < RL_COUNTOF(cases); i++) {
        struct srv_config c;
        srv_config_init(&c);
        char err[RL_ERRBUF_SIZE] = "";
        int rc = srv_config_set(&c, cases[i].key, cases[i].value, err);
        if (rc != cases[i].rc || (cases[i].msg && !strstr(err, cases[i].msg)))
            TEST_FAIL_("case %zu: rc %d, message '%s'", i, rc, err);
        srv_config_free(&c);
        const char *dot = strchr(cases[i].key, '.');
        if (rc != RL_EINVAL || !dot || strstr(err, "unknown key"))
            continue;
        // The file says the same after "c.yaml:2: ".
        char yaml[256], file_err[RL_ERRBUF_SIZE] = "";
        snprintf(yaml, sizeof yaml, "%.*s:\n  %s: '%s'\n", (int)(dot - cases[i].key), cases[i].key,
                 dot + 1, cases[i].value);
        ASSERT_OK(rl_file_write(path, yaml, strlen(yaml), NULL));
        srv_config_init(&c);
        ASSERT_EQ(srv_config_load(&c, path, file_err), RL_EINVAL);
        srv_config_free(&c);
        char *tail = strstr(file_err, ".yaml:2: ");
        ASSERT_NOT_NULL(tail);
        ASSERT_STR_EQ(tail + strlen(".yaml:2: "), err);
    }
    unlink(path);
    rmdir(dir);
    // Numbers the caller has parsed meet the same ranges.
    struct srv_config c;
    srv_config_init(&c);
    char err[RL_ERRBUF_SIZE] = "";
    ASSERT_OK(srv_config_set_num(&c, "server.port", 0, err));
    ASSERT_EQ(c.port, 0);
    ASSERT_EQ(srv_config_set_num(&c, "server.port", 65536, err), RL_EINVAL);
    ASSERT_STR_CONTAINS(err, "server.port: expected a number in [0, 65535], got 65536");
    ASSERT_EQ(srv_config_set_num(&c, "routing.retries", 2.5, err), RL_EINVAL);
    ASSERT_STR_CONTAINS(err, "a whole number");
    ASSERT_EQ(srv_config_set_num(&c, "server.host", 1, err), RL_EINVAL);
    ASSERT_EQ(c.port, 0);
    ASSERT_OK(srv_config_set_num(&c, "server.drain_timeout_s", 2.5, err));
    ASSERT_NEAR(c.drain_timeout_s, 2.5, 0);
    ASSERT_OK(srv_config_set(&c, "routing.fallback", "off", err));
    ASSERT_EQ(c.fallback, false);
    srv_config_free(&c);
    return 0;
}

TEST(server_config_set_routers_and_key) {
    struct srv_config c;
    srv_config_init(&c);
    char err[RL_ERRBUF_SIZE] = "";
    ASSERT_EQ(c.routers_given, false);
    ASSERT_OK(srv_config_set(&c, "routers", "mf,,random", err));
    ASSERT_EQ(c.routers_given, true);
    ASSERT_EQ(c.n_routers, 2);
    ASSERT_STR_EQ(c.routers[1].name, "random");
    ASSERT_NEAR(c.routers[1].threshold, 0.5, 0);
    c.routers[0].threshold = 0.2;
    // A new list replaces the old one, entries and their settings.
    ASSERT_OK(srv_config_set(&c, "routers", " bert,\tmf ", err)); // spaces around names dropped
    ASSERT_EQ(c.n_routers, 2);
    ASSERT_STR_EQ(c.routers[0].name, "bert");
    ASSERT_STR_EQ(c.routers[1].name, "mf");
    ASSERT_NEAR(c.routers[1].threshold, 0.5, 0);
    char long_list[200];
    memset(long_list, 'r', sizeof long_list - 1);
    long_list[sizeof long_list - 1] = '\0';
    ASSERT_EQ(srv_config_set(&c, "routers", long_list, err), RL_EINVAL);
    ASSERT_STR_CONTAINS(err, "routers: the name 'rrrr");
    // The one upstream key reaches every model, over the key from api_key_env.
    ASSERT_OK(srv_config_add_model(&c, "a", "http://x", "a", NULL));
    ASSERT_OK(srv_config_add_model(&c, "b", "http://y", "b", NULL));
    ASSERT_OK(srv_config_finish(&c, err));
    ASSERT_OK(srv_config_set_api_key(&c, "sk-flag", err));
    ASSERT_STR_EQ(c.models[0].api_key, "sk-flag");
    ASSERT_STR_EQ(c.models[1].api_key, "sk-flag");
    srv_config_free(&c);
    return 0;
}

// Each section's keys are written once, in its table; docs/SERVER.md documents each of them.
TEST(server_config_keys_are_documented) {
    char *doc = NULL;
    size_t len = 0;
    char err[RL_ERRBUF_SIZE] = "";
    ASSERT_OK(rl_file_read(RL_DATA_DIR "/docs/SERVER.md", 1 << 20, &doc, &len, err));
    for (size_t i = 0; i < RL_COUNTOF(sections); i++) {
        const struct section *sec = &sections[i];
        char want[96];
        snprintf(want, sizeof want, "`%s", sec->name);
        ASSERT_STR_CONTAINS(doc, want);
        for (size_t j = 0; j < sec->n_keys; j++) {
            const struct key *k = &sec->keys[j];
            ASSERT(k->help && *k->help);
            ASSERT(k->type == KEY_STR || k->type == KEY_BOOL || k->lo <= k->hi);
            snprintf(want, sizeof want, "%s`", k->name);
            if (!strstr(doc, want))
                TEST_FAIL_("docs/SERVER.md does not document %s.%s", sec->name, k->name);
        }
    }
    free(doc);
    return 0;
}

// The config reader is bounded: at most SRV_MAX_MODELS models and SRV_MAX_ROUTERS routers (the
// metrics hold models^2 cells), RL_YAML_MAX_NODES nodes read in linear time (each collection grew
// one element per realloc before, minutes under ASan for a 20000-node list), RL_YAML_MAX_DEPTH
// levels, no aliases, so "billion laughs" cannot expand, no key twice in one mapping, and one
// document (a second one was ignored without a word).
TEST(server_config_limits) {
    char dir[] = "/tmp/rl_cfg_XXXXXX";
    ASSERT_NOT_NULL(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof path, "%s/c.yaml", dir);
    struct rl_buf models, routers, nodes, deep;
    rl_buf_init(&models, 1 << 20);
    rl_buf_init(&routers, 1 << 20);
    rl_buf_init(&nodes, 1 << 20);
    rl_buf_init(&deep, 1 << 20);
    ASSERT_OK(rl_buf_appendf(&models, "models:\n"));
    for (int i = 0; i <= SRV_MAX_MODELS; i++)
        ASSERT_OK(rl_buf_appendf(&models, "  - {name: m%d, base_url: http://x}\n", i));
    ASSERT_OK(rl_buf_appendf(&routers, "routers:\n"));
    for (int i = 0; i <= SRV_MAX_ROUTERS; i++)
        ASSERT_OK(rl_buf_appendf(&routers, "  r%d:\n", i));
    ASSERT_OK(rl_buf_appendf(&nodes, "models: [1"));
    for (int i = 0; i < 19990; i++)
        ASSERT_OK(rl_buf_appendf(&nodes, ",1"));
    ASSERT_OK(rl_buf_appendf(&nodes, "]\n"));
    ASSERT_OK(rl_buf_appendf(&deep, "server: %s%s\n", "[[[[[[[[[[[[[[[[[", "]]]]]]]]]]]]]]]]]"));
    const struct {
        const char *yaml;          // input
        const char *want1, *want2; // output: pieces of the message
    } cases[] = {
        {models.data, "c.yaml:66:", "more than 64 models"},
        {routers.data, "c.yaml:66:", "more than 64 routers"},
        {nodes.data, "c.yaml:1:", "models[0]: expected a mapping"},
        {deep.data, "c.yaml:1:", "nested too deeply or is too large"},
        {"a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n",
         "c.yaml:2:", "aliases are not supported"},
        {"server: {host: \"a\\0b\"}\n", "c.yaml:1:", "NUL byte"},
        {"server: {port: 1}\n---\nserver: {port: 2}\n", "c.yaml:2:", "more than one YAML document"},
        {"server: {port: 1}\n...\n--- {}\n", "c.yaml:3:", "more than one YAML document"},
        {"server: {port: 1}\nserver: {port: 2}\n",
         "c.yaml:2:", "duplicate key 'server' (first on line 1)"},
        {"server:\n  port: 1\n  host: a\n  port: 2\n", "c.yaml:4:", "duplicate key 'port'"},
    };
    for (size_t i = 0; i < RL_COUNTOF(cases); i++) {
        ASSERT_OK(rl_file_write(path, cases[i].yaml, strlen(cases[i].yaml), NULL));
        struct srv_config c;
        srv_config_init(&c);
        char err[RL_ERRBUF_SIZE] = "";
        int rc = srv_config_load(&c, path, err);
        if (rc == RL_OK || !strstr(err, cases[i].want1) || !strstr(err, cases[i].want2))
            TEST_FAIL_("case %zu: rc %d, message '%s'", i, rc, err);
        srv_config_free(&c);
    }
    // Past RL_YAML_MAX_NODES (end events count too), the file is refused.
    ASSERT_OK(rl_buf_appendf(&nodes, "x: [1,1,1,1,1,1,1,1,1,1,1,1]\n"));
    ASSERT_OK(rl_file_write(path, nodes.data, nodes.len, NULL));
    struct srv_config c;
    srv_config_init(&c);
    char err[RL_ERRBUF_SIZE] = "";
    ASSERT_EQ(srv_config_load(&c, path, err), RL_EFORMAT);
    ASSERT_STR_CONTAINS(err, "too large");
    srv_config_free(&c);
    rl_buf_free(&models);
    rl_buf_free(&routers);
    rl_buf_free(&nodes);
    rl_buf_free(&deep);
    unlink(path);
    rmdir(dir);
    return 0;
}

// ----------------------------------------------------------------------------
// Embeddings

struct waiter_box {
    struct srv_embed_waiter w;
    float emb[384];
    int status, calls;
};

static void on_embedded(struct srv_embed_waiter *w, const float *embedding, int status) {
    struct waiter_box *b = (struct waiter_box *)w;
    b->calls++;
    b->status = status;
    if (embedding)
        memcpy(b->emb, embedding, sizeof b->emb);
}

TEST(server_embedder_batches_caches_and_evicts) {
    char err[RL_ERRBUF_SIZE] = "";
    struct rl_encoder *enc = rl_encoder_open(RL_TEST_MODEL, err);
    if (!enc)
        TEST_FAIL_("%s", err);
    ASSERT_EQ(rl_encoder_dim(enc), 384);
    struct srv_loop *loop = srv_loop_new();
    struct srv_embedder *e = srv_embedder_new(enc, loop, 1, 32, 2, err);
    ASSERT_NOT_NULL(e);
    static const char *const texts[] = {
        "What is the capital of France?", "Prove that there are infinitely many primes.",
        "Write a haiku about routers.", "What is the capital of France?"};
    struct waiter_box box[4];
    memset(box, 0, sizeof box);
    for (int i = 0; i < 4; i++) {
        box[i].w.cb = on_embedded;
        const float *emb = NULL;
        ASSERT_EQ(srv_embedder_get(e, texts[i], strlen(texts[i]), &box[i].w, &emb), 0);
    }
    // A cancelled waiter is never called.
    srv_embedder_cancel(e, &box[2].w);
    for (int spins = 0; spins < 2000 && !(box[0].calls && box[1].calls && box[3].calls); spins++)
        ASSERT_OK(srv_loop_run_once(loop, 10));
    ASSERT_EQ(box[0].calls, 1);
    ASSERT_EQ(box[1].calls, 1);
    ASSERT_EQ(box[2].calls, 0);
    ASSERT_EQ(box[3].calls, 1);
    // Each waiter learns how many tokens the encoder read: [CLS], the words, "?", [SEP].
    ASSERT_EQ(box[0].w.n_tokens, 9);
    ASSERT_EQ(box[3].w.n_tokens, 9);
    int32_t ids[256];
    ASSERT_EQ(box[1].w.n_tokens,
              rl_tokenizer_encode(rl_encoder_tokenizer(enc), texts[1], strlen(texts[1]), ids, 256));
    struct srv_embed_stats st = srv_embedder_stats(e);
    ASSERT_EQ(st.misses, 3);
    ASSERT_EQ(st.hits, 1); // the repeated prompt joined the first one's pass
    ASSERT_EQ(st.prompts, 3);
    ASSERT(st.batches <= 3);
    // The same vectors as one direct encoder call.
    float want[3 * 384];
    const char *direct[3] = {texts[0], texts[1], texts[2]};
    ASSERT_OK(rl_encoder_embed(enc, direct, 3, want, err));
    double maxdiff = 0;
    for (int k = 0; k < 384; k++) {
        maxdiff = fmax(maxdiff, fabs(box[0].emb[k] - want[k]));
        maxdiff = fmax(maxdiff, fabs(box[1].emb[k] - want[384 + k]));
        maxdiff = fmax(maxdiff, fabs(box[3].emb[k] - want[k]));
    }
    ASSERT_NEAR(maxdiff, 0, 1e-5);
    // The cancelled prompt is still embedded and cached; the cache keeps its capacity.
    for (int spins = 0; spins < 2000 && (srv_embedder_stats(e).prompts < 3 || e->todo_head);
         spins++)
        ASSERT_OK(srv_loop_run_once(loop, 10));
    ASSERT_OK(srv_loop_run_once(loop, 10));
    ASSERT_EQ(e->n_ready, 2);
    // A prompt fetched twice is a hit the second time; two newer prompts evict it (LRU).
    struct waiter_box again = {.w.cb = on_embedded};
    const float *emb = NULL;
    const char *fresh[3] = {"alpha beta", "gamma delta", "epsilon zeta"};
    for (int i = 0; i < 3; i++) {
        if (srv_embedder_get(e, fresh[i], strlen(fresh[i]), &again.w, &emb) == 0)
            for (int calls = again.calls, spins = 0; spins < 2000 && again.calls == calls; spins++)
                ASSERT_OK(srv_loop_run_once(loop, 10));
        if (i == 0) {
            ASSERT_EQ(srv_embedder_get(e, fresh[0], strlen(fresh[0]), &again.w, &emb), 1);
            ASSERT_NOT_NULL(emb);
        }
    }
    ASSERT_EQ(e->n_ready, 2);
    ASSERT_EQ(srv_embedder_get(e, fresh[0], strlen(fresh[0]), &again.w, &emb), 0);
    srv_embedder_cancel(e, &again.w);
    srv_embedder_free(e);
    srv_loop_free(loop);
    rl_encoder_free(enc);
    return 0;
}

TEST(server_mask_secrets_in_upstream_errors) {
    struct rl_buf b;
    rl_buf_init(&b, 4096);
    ASSERT_OK(srv_mask_secrets("Incorrect API key provided: sk-proj-abc123XYZ. Try hunter2pass; "
                               "model gpt-4o-mini-2024-07-18, context_length_exceeded, "
                               "token 0123456789abcdef0123456789abcdef.",
                               (const char *[]){"hunter2pass"}, 1, &b));
    ASSERT_STR_EQ(b.data, "Incorrect API key provided: [redacted]. Try [redacted]; model "
                          "gpt-4o-mini-2024-07-18, context_length_exceeded, token [redacted].");
    rl_buf_free(&b);
    rl_buf_init(&b, 4096);
    const char *up = "{\"error\":{\"message\":\"bad key hf_abcdefghijklmnop\",\"code\":\"sk-"
                     "leak-in-code-1234\"}}";
    ASSERT_OK(srv_upstream_error_body(up, strlen(up), "m", 404, NULL, 0, &b));
    ASSERT_STR_EQ(b.data, "{\"error\":{\"message\":\"upstream model 'm' refused the request "
                          "(HTTP 404): bad key [redacted]\",\"type\":\"upstream_error\","
                          "\"param\":null,\"code\":\"upstream_refused\"}}");
    rl_buf_free(&b);
    rl_buf_init(&b, 4096);
    ASSERT_OK(srv_upstream_error_body("<html>oops</html>", 17, "m", 422, NULL, 0, &b));
    ASSERT_STR_CONTAINS(b.data, "refused the request (HTTP 422)\"");
    rl_buf_free(&b);
    return 0;
}
