// Unit tests of the proxy's HTTP/1.1 framing (src/server/http1.c, compiled in here): which heads
// are accepted and what they say, which are refused with which status (each ambiguity a
// request-smuggling attack relies on), and the chunked decoder fed whole and split anywhere.
#include <stdlib.h>
#include <string.h>

#include "../../../src/server/http1.c"
#include "test.h"

static int parse(const char *text, struct srv_http_head *h, const char **why) {
    return srv_http_parse_head(text, strlen(text), 65536, h, why);
}

TEST(server_http_head_accepts_and_reads_fields) {
    struct srv_http_head h;
    const char *why;
    const char *req = "\r\nPOST /v1/chat/completions?x=1 HTTP/1.1\r\nHost: a\r\n"
                      "Content-Length: 12\r\nAuthorization:   Bearer k1 \t\r\n"
                      "Connection: Keep-Alive, Upgrade\r\nExpect: 100-Continue\r\n\r\nbody";
    ASSERT_EQ(parse(req, &h, &why), 1);
    ASSERT_EQ(h.len, strlen(req) - 4);
    ASSERT_STR_EQ(h.method, "POST");
    ASSERT_EQ(h.target_len, strlen("/v1/chat/completions?x=1"));
    ASSERT(memcmp(h.target, "/v1/chat/completions?x=1", h.target_len) == 0);
    ASSERT_EQ(h.minor, 1);
    ASSERT(h.has_length && h.length == 12 && !h.chunked);
    ASSERT(h.keep_alive && h.expect_continue);
    size_t n;
    const char *auth = srv_http_field(&h, "authorization", &n);
    ASSERT(auth && n == 9 && memcmp(auth, "Bearer k1", 9) == 0);
    ASSERT_NULL(srv_http_field(&h, "x-request-id", NULL));

    ASSERT_EQ(parse("GET /health HTTP/1.0\r\n\r\n", &h, &why), 1);
    ASSERT(!h.keep_alive && h.minor == 0 && !h.has_length);
    ASSERT_EQ(parse("GET /health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", &h, &why), 1);
    ASSERT(h.keep_alive);
    ASSERT_EQ(parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", &h, &why), 1);
    ASSERT(!h.keep_alive);
    ASSERT_EQ(parse("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n", &h, &why),
              1);
    ASSERT(h.chunked && !h.has_length);
    return 0;
}

TEST(server_http_head_waits_for_the_rest) {
    struct srv_http_head h;
    const char *why;
    static const char *const partial[] = {
        "",
        "\r\n",
        "PO",
        "POST / HTTP/1.1",
        "POST / HTTP/1.1\r\n",
        "POST / HTTP/1.1\r\nHost: a\r\n",
    };
    for (size_t i = 0; i < RL_COUNTOF(partial); i++)
        if (parse(partial[i], &h, &why) != 0)
            TEST_FAIL_("case %zu: not 0 (%s)", i, why ? why : "");
    // Full at max bytes without the end of the head: 431.
    ASSERT_EQ(srv_http_parse_head("GET / HTTP/1.1\r\nHost: aaaa", 26, 26, &h, &why), 431);
    return 0;
}

TEST(server_http_head_refuses_every_ambiguity) {
#define C(lit, st)                                                                                 \
    { lit, sizeof lit - 1, st } // sizeof: a NUL inside counts
    static const struct {
        const char *head;
        size_t len;
        int status;
    } cases[] = {
        C("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: abc\r\n\r\n", 400),
        C("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -5\r\n\r\n", 400),
        C("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n", 400),
        C("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5 5\r\n\r\n", 400),
        C("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x10\r\n\r\n", 400),
        C("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n", 400),
        C("POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n", 400),
        C("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 400),
        C("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n", 400),
        C("POST / HTTP/1.1\r\nHost: a\r\nContent-Length : 5\r\n\r\n", 400),
        C("POST / HTTP/1.1\r\nHost: a\r\nX-A: a\0b\r\n\r\n", 400),
        C("POST / HTTP/1.1\r\nHost: a\r\nX-A: a\x01b\r\n\r\n", 400),
        C("POST / HTTP/1.1\r\nHost: a\r\nX-A: a\rb\r\n\r\n", 400),
        C("POST / HTTP/1.1\r\nHost: a\nX-A: b\r\n\r\n", 400),
        C("POST / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n", 400),
        C("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
        C("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
        C("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: "
          "chunked\r\n\r\n",
          400),
        C("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
          400),
        C("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        C("GET / HTTP/1.1\r\n\r\n", 400),
        C("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
        C("GET / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\n\r\n", 417),
        C("GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505),
        C("GET / HTTP/1.2\r\nHost: a\r\n\r\n", 505),
        C("GET / HTTX/1.1\r\nHost: a\r\n\r\n", 400),
        C("GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        C("GET http://x/ HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        C("G(T / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        C("GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        C("GET / HTTP/1.1\r\n: a\r\nHost: a\r\n\r\n", 400),
    };
    for (size_t i = 0; i < RL_COUNTOF(cases); i++) {
        struct srv_http_head h;
        const char *why = NULL;
        int rc = srv_http_parse_head(cases[i].head, cases[i].len, 65536, &h, &why);
        if (rc != cases[i].status)
            TEST_FAIL_("case %zu: %d, want %d (%s)", i, rc, cases[i].status, why ? why : "");
        ASSERT_NOT_NULL(why);
    }
#undef C
    // A broken request line is refused before the rest of the head arrives.
    struct srv_http_head h;
    const char *why;
    ASSERT_EQ(parse("GET / HTTP/9.9\r\nHost", &h, &why), 505);
    ASSERT_EQ(parse("GET / HTTP/1.1\nHost", &h, &why), 400);
    return 0;
}

// Decode `in` fed in pieces of `step` bytes; returns the decoder's last status and the data.
static int decode_in_steps(const char *in, size_t n, size_t step, struct rl_buf *data,
                           size_t *rest) {
    struct srv_chunked c;
    srv_chunked_init(&c);
    char *copy = malloc(n + 1);
    memcpy(copy, in, n);
    int rc = 0;
    size_t off = 0;
    while (off < n && rc == 0) {
        size_t k = n - off < step ? n - off : step, len, used;
        const char *why;
        rc = srv_chunked_decode(&c, copy + off, k, &len, &used, &why);
        if (rl_buf_append(data, copy + off, len) != RL_OK)
            rc = -1;
        off += used;
    }
    *rest = n - off;
    free(copy);
    return rc;
}

TEST(server_http_chunked_decodes_split_anywhere) {
    const char body[] = "5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nTrailer: x\r\n\r\nNEXT";
    size_t n = sizeof body - 1;
    for (size_t step = 1; step <= n; step++) {
        struct rl_buf data;
        rl_buf_init(&data, 1024);
        size_t rest;
        int rc = decode_in_steps(body, n, step, &data, &rest);
        if (rc != 1 || rest != 4 || data.len != 12 || memcmp(data.data, "hello, world", 12) != 0)
            TEST_FAIL_("step %zu: rc %d rest %zu data '%s'", step, rc, rest,
                       data.data ? data.data : "");
        rl_buf_free(&data);
    }
    static const char *const bad[] = {
        "x\r\n",                 // not hex
        "5\r\nhelloX\r\n",       // no CRLF after the data
        "5\nhello\r\n",          // bare LF after the size
        "10000000000000000\r\n", // 17 hex digits
        "-1\r\n",                // sign
        " 5\r\n",                // space before the size
        "5 \r\nhello\r\n",       // space after the size
        "5;a\x01\r\nhello\r\n",  // control byte in an extension
        "0\r\nX: \x01\r\n\r\n",  // control byte in a trailer
        "0\r\n\rx",              // CR not followed by LF at the end
    };
    for (size_t i = 0; i < RL_COUNTOF(bad); i++) {
        struct rl_buf data;
        rl_buf_init(&data, 1024);
        size_t rest;
        int rc = decode_in_steps(bad[i], strlen(bad[i]), 3, &data, &rest);
        rl_buf_free(&data);
        if (rc != 400)
            TEST_FAIL_("bad case %zu: %d, want 400", i, rc);
    }
    return 0;
}
