// Integration tests of the proxy's client side, over raw sockets as a hostile or old client
// would talk: ambiguous framing refused with one clean answer before the body is read,
// keep-alive with pipelining, chunked bodies and 100-continue, head and body deadlines that a
// trickling client cannot stretch, and the per-address connection cap keeping normal requests
// served while another address holds slow connections.
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "support/serve_harness.h"
#include "support/stub_upstream.h"
#include "test.h"

static int connect_from(int port, const char *source) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    if (source) {
        struct sockaddr_in b = {.sin_family = AF_INET};
        inet_pton(AF_INET, source, &b.sin_addr);
        if (bind(fd, (struct sockaddr *)&b, sizeof b) != 0) {
            close(fd);
            return -1;
        }
    }
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

// Read until the server closes or timeout_ms passes; NUL-terminated into out.
static size_t read_all(int fd, char *out, size_t size, int timeout_ms) {
    size_t n = 0;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        long left =
            timeout_ms - ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000);
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (left <= 0 || poll(&p, 1, (int)left) <= 0 || n + 1 >= size)
            break;
        ssize_t k = read(fd, out + n, size - 1 - n);
        if (k <= 0)
            break;
        n += (size_t)k;
    }
    out[n] = '\0';
    return n;
}

// Send a raw request and read the answer until the server closes (or timeout_ms).
static size_t exchange(int port, const char *req, size_t len, char *out, size_t size,
                       int timeout_ms) {
    int fd = connect_from(port, NULL);
    if (fd < 0)
        return 0;
    if (write(fd, req, len) != (ssize_t)len) {
        close(fd);
        return 0;
    }
    size_t n = read_all(fd, out, size, timeout_ms);
    close(fd);
    return n;
}

static size_t count_of(const char *hay, const char *needle) {
    size_t n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

static struct stub_upstream *stub;

// A proxy whose two upstreams are the stub in `mode`.
static int start_mode(struct proxy *p, const char *server_extra, const char *mode) {
    if (!stub)
        stub = stub_start(0, true);
    if (!stub)
        return RL_EIO;
    int port = stub_port(stub);
    return proxy_start(p, NULL,
                       "server: {host: 127.0.0.1, port: 0, log_requests: false%s}\n"
                       "models:\n"
                       "  - {name: strong, base_url: \"http://127.0.0.1:%d/%s/v1\"}\n"
                       "  - {name: weak, base_url: \"http://127.0.0.1:%d/%s/v1\"}\n"
                       "routers:\n"
                       "  random: {threshold: 0.5}\n",
                       server_extra ? server_extra : "", port, mode, port, mode);
}

static int start(struct proxy *p, const char *server_extra) {
    return start_mode(p, server_extra, "ok");
}

#define BODY     "{\"model\":\"weak\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"
#define BODY_LEN "60"

// Each ambiguity gets one status line and a closed connection at once (libmicrohttpd sent its
// status line twice for a bad Content-Length, and waited 60 s on Transfer-Encoding: gzip).
TEST(serve_http_refuses_ambiguous_framing_at_once) {
    ASSERT_EQ(strlen(BODY), 60u);
#define H "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
#define C(lit, st)                                                                                 \
    { lit, sizeof lit - 1, st }
    static const struct {
        const char *req;
        size_t len;
        int status;
    } cases[] = {
        C(H "Content-Length: abc\r\n\r\n" BODY, 400),
        C(H "Content-Length: -5\r\n\r\n" BODY, 400),
        C(H "Content-Length: 99999999999999999999999\r\n\r\n" BODY, 400),
        C(H "Content-Length: " BODY_LEN "\r\nContent-Length: 5\r\n\r\n" BODY, 400),
        C(H "Content-Length : " BODY_LEN "\r\n\r\n" BODY, 400),
        C(H "X-A: a\0b\r\nContent-Length: " BODY_LEN "\r\n\r\n" BODY, 400),
        C(H "Transfer-Encoding: gzip\r\n\r\n" BODY, 501),
        C(H "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", 400),
        C(H "Transfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
        C("GET /health HTTP/3.0\r\nHost: x\r\n\r\n", 505),
        C("GET /health HTTP/1.1\r\n\r\n", 400),
        C(H
          "Connection: close\r\nContent-Length: 71\r\n\r\n"
          "{\"model\":\"weak\",\"stream\":1,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
          400),
    };
#undef C
    struct proxy p;
    ASSERT_OK(start(&p, NULL));
    for (size_t i = 0; i < RL_COUNTOF(cases); i++) {
        char out[4096];
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        exchange(p.port, cases[i].req, cases[i].len, out, sizeof out, 3000);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
        char status[32];
        snprintf(status, sizeof status, "HTTP/1.1 %d ", cases[i].status);
        if (strncmp(out, status, strlen(status)) != 0 || count_of(out, "Content-Length:") != 1)
            TEST_FAIL_("case %zu: want one '%s', got: %.200s", i, status, out);
        if (secs > 1.5)
            TEST_FAIL_("case %zu: took %.2f s", i, secs);
        ASSERT_STR_CONTAINS(out, "\"error\"");
    }
    ASSERT_EQ(proxy_stop(&p), 0);
    char *log = proxy_log(&p);
    ASSERT_STR_CONTAINS(log, "\"msg\":\"bad request\"");
    free(log);
    return 0;
}

TEST(serve_http_keepalive_pipelining_chunked_and_continue) {
    struct proxy p;
    ASSERT_OK(start(&p, NULL));
    char out[16384];
    // Two requests in one write, answered in order on one connection; the second closes it.
    const char two[] = "GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
                       "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                       "Content-Length: " BODY_LEN "\r\n\r\n" BODY;
    exchange(p.port, two, sizeof two - 1, out, sizeof out, 3000);
    ASSERT_EQ(count_of(out, "HTTP/1.1 200 OK"), 2u);
    ASSERT(strstr(out, "\"status\":\"online\"") < strstr(out, "chat.completion"));
    ASSERT_STR_CONTAINS(out, "Connection: close");
    // A chunked body, split mid-chunk across writes.
    int fd = connect_from(p.port, NULL);
    ASSERT(fd >= 0);
    const char *parts[] = {"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
                           "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n1c\r\n"
                           "{\"model\":\"weak\",\"messages\":[",
                           "\r\n20;x=y\r\n{\"role\":\"user\",\"content\":\"hi\"}]}\r\n0\r\n\r\n"};
    for (size_t i = 0; i < 2; i++) {
        ASSERT_EQ(write(fd, parts[i], strlen(parts[i])), (ssize_t)strlen(parts[i]));
        usleep(50000);
    }
    read_all(fd, out, sizeof out, 3000);
    close(fd);
    ASSERT(strncmp(out, "HTTP/1.1 200 OK", 15) == 0);
    ASSERT_STR_CONTAINS(out, "echo: hi");
    // Expect: 100-continue gets its interim answer before the body is sent.
    fd = connect_from(p.port, NULL);
    ASSERT(fd >= 0);
    const char head[] = "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                        "Connection: close\r\nContent-Length: " BODY_LEN "\r\n\r\n";
    ASSERT_EQ(write(fd, head, sizeof head - 1), (ssize_t)(sizeof head - 1));
    char cont[64];
    struct pollfd pf = {.fd = fd, .events = POLLIN};
    ASSERT_EQ(poll(&pf, 1, 2000), 1);
    ssize_t k = read(fd, cont, sizeof cont - 1);
    ASSERT(k > 0);
    cont[k] = '\0';
    ASSERT_STR_EQ(cont, "HTTP/1.1 100 Continue\r\n\r\n");
    ASSERT_EQ(write(fd, BODY, strlen(BODY)), (ssize_t)strlen(BODY));
    read_all(fd, out, sizeof out, 3000);
    close(fd);
    ASSERT(strncmp(out, "HTTP/1.1 200 OK", 15) == 0);
    ASSERT_EQ(proxy_stop(&p), 0);
    return 0;
}

// A client trickling its head a byte at a time is cut at header_timeout_s all the same, with 408.
TEST(serve_http_trickled_head_and_body_get_408) {
    struct proxy p;
    ASSERT_OK(start(&p, ", header_timeout_s: 0.5, body_timeout_s: 0.5"));
    const char head[] = "GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    int fd = connect_from(p.port, NULL);
    ASSERT(fd >= 0);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    char out[4096] = "";
    for (size_t i = 0; i < sizeof head - 1; i++) {
        if (write(fd, head + i, 1) != 1)
            break; // closed under us: the deadline worked
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        if (poll(&pf, 1, 50) == 1)
            break;
    }
    read_all(fd, out, sizeof out, 2000);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    close(fd);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
    ASSERT(strncmp(out, "HTTP/1.1 408 ", 13) == 0);
    ASSERT(secs > 0.4 && secs < 1.5);
    // The body's deadline likewise.
    const char post[] =
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 60\r\n\r\n{";
    exchange(p.port, post, sizeof post - 1, out, sizeof out, 3000);
    ASSERT(strncmp(out, "HTTP/1.1 408 ", 13) == 0);
    ASSERT_STR_CONTAINS(out, "request_timeout");
    ASSERT_EQ(proxy_stop(&p), 0);
    return 0;
}

// 60 slow connections from 127.0.0.2 against max_connections 40: the per-address cap (10)
// leaves room, so requests from 127.0.0.1 keep being answered at once during the attack.
TEST(serve_http_slow_clients_do_not_starve_others) {
    struct proxy p;
    ASSERT_OK(start(&p, ", max_connections: 40, max_connections_per_client: 10, "
                        "header_timeout_s: 30"));
    int slow[60], n_slow = 0, refused = 0;
    for (int i = 0; i < 60; i++) {
        int fd = connect_from(p.port, "127.0.0.2");
        ASSERT(fd >= 0);
        if (write(fd, "G", 1) != 1) {
            close(fd);
            continue;
        }
        slow[n_slow++] = fd;
    }
    usleep(200000);
    for (int i = 0; i < n_slow; i++) {
        char out[512];
        struct pollfd pf = {.fd = slow[i], .events = POLLIN};
        if (poll(&pf, 1, 0) == 1 && read(slow[i], out, sizeof out) > 0 &&
            strncmp(out, "HTTP/1.1 429 ", 13) == 0)
            refused++;
    }
    ASSERT_EQ(refused, 50);
    for (int k = 0; k < 5; k++) {
        struct http_resp r;
        ASSERT_OK(http_call(p.port, "/health", NULL, NULL, 0, 1000, &r));
        ASSERT_EQ(r.status, 200);
        ASSERT(r.t_total < 0.5);
        http_resp_free(&r);
    }
    for (int i = 0; i < n_slow; i++)
        close(slow[i]);
    ASSERT_EQ(proxy_stop(&p), 0);
    char *log = proxy_log(&p);
    ASSERT_STR_CONTAINS(log, "\"msg\":\"connection refused\"");
    ASSERT(count_of(log, "connection refused") < 5); // rate-limited, not one line per refusal
    free(log);
    return 0;
}

// ----------------------------------------------------------------------------
// Memory

static long rss_kib(pid_t pid) {
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long kib = -1;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            kib = strtol(line + 6, NULL, 10);
    if (f)
        fclose(f);
    return kib;
}

// A request of `len` bytes whose body is a "weak" chat request padded with an array of
// `elem`-byte elements (elem 2: "1,"; elem 17: "1111111111111111,").
static char *padded_request(size_t len, size_t elem, size_t *out_len) {
    static const char head[] = "{\"model\":\"weak\",\"messages\":[{\"role\":\"user\","
                               "\"content\":\"hi\"}],\"x\":[";
    size_t n = (len - sizeof head - 2) / elem;
    size_t body_len = sizeof head - 1 + n * elem + 1; // the last ',' becomes ']', then '}'
    char *r = malloc(body_len + 128);
    int h = snprintf(r, 128,
                     "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n\r\n",
                     body_len);
    char *b = r + h;
    memcpy(b, head, sizeof head - 1);
    for (size_t i = 0; i < n; i++) {
        memset(b + sizeof head - 1 + i * elem, '1', elem - 1);
        b[sizeof head - 1 + i * elem + elem - 1] = ',';
    }
    memcpy(b + sizeof head - 1 + n * elem - 1, "]}", 2);
    *out_len = (size_t)h + body_len;
    return r;
}

// 30 bodies of 4 MiB in flight against a hanging upstream raise RSS by at most 64 MiB + twice
// their bytes whatever their shape, RSS falls back once they are gone, a body of 2 million tiny
// values is refused before jansson sees it, and past max_inflight_body_bytes new bodies get 503.
TEST(serve_http_body_memory_is_bounded) {
    struct proxy p;
    ASSERT_OK(start_mode(&p, NULL, "hang"));
    size_t len;
    char *req = padded_request(4u << 20, 17, &len); // ~250,000 values: the most accepted
    long idle = rss_kib(p.pid);
    int fds[30];
    for (int i = 0; i < 30; i++) {
        fds[i] = connect_from(p.port, NULL);
        ASSERT(fds[i] >= 0);
        ASSERT_EQ(write(fds[i], req, len), (ssize_t)len);
    }
    usleep(300000);
    long busy = rss_kib(p.pid);
    long bytes_kib = (long)(30 * len / 1024);
    for (int i = 0; i < 30; i++)
        close(fds[i]);
    free(req);
    long after = rss_kib(p.pid);
    for (int waited = 0; waited < 10000 && after - idle > 16 * 1024; waited += 100) {
        usleep(100000); // the server sees the hang-ups, ends the requests, trims when idle
        after = rss_kib(p.pid);
    }
    // Under AddressSanitizer (make asan builds the server with it too) freed memory sits in
    // quarantine and shadow memory doubles the rest: the figures mean something only without it.
#ifndef __SANITIZE_ADDRESS__
    if (busy - idle > 64 * 1024 + 2 * bytes_kib)
        TEST_FAIL_("RSS %ld KiB idle, %ld KiB with %ld KiB of bodies in flight", idle, busy,
                   bytes_kib);
    if (after - idle > 16 * 1024)
        TEST_FAIL_("RSS %ld KiB idle, %ld KiB after the bodies left", idle, after);
#else
    (void)busy, (void)after, (void)bytes_kib;
#endif
    char out[4096];
    req = padded_request(4u << 20, 2, &len);
    exchange(p.port, req, len, out, sizeof out, 3000);
    free(req);
    ASSERT(strncmp(out, "HTTP/1.1 400 ", 13) == 0);
    ASSERT_STR_CONTAINS(out, "JSON values");
    ASSERT_EQ(proxy_stop(&p), 0);

    ASSERT_OK(start_mode(&p, ", max_inflight_body_bytes: 10000000", "hang"));
    req = padded_request(4u << 20, 17, &len);
    for (int i = 0; i < 3; i++) {
        fds[i] = connect_from(p.port, NULL);
        ASSERT(fds[i] >= 0);
        ASSERT_EQ(write(fds[i], req, len), (ssize_t)len);
    }
    read_all(fds[2], out, sizeof out, 2000);
    ASSERT(strncmp(out, "HTTP/1.1 503 ", 13) == 0);
    ASSERT_STR_CONTAINS(out, "Retry-After: 1\r\n");
    ASSERT_STR_CONTAINS(out, "server_busy");
    for (int i = 0; i < 3; i++)
        close(fds[i]);
    free(req);
    ASSERT_EQ(proxy_stop(&p), 0);
    return 0;
}
