// Open-loop load at a constant rate, for the gateway-overhead benchmark (bench/serve_proxy.sh).
// wrk keeps a fixed number of requests in flight, so it cannot hold a rate such as 5,000
// requests/s; this sends request k at start + k/rate over keep-alive connections and measures
// each latency from its scheduled time (so a stall is not hidden by the requests it delays).
//
//   proxy_loadgen PORT PATH MODEL RATE SECONDS [CONNECTIONS]
//
// Prints one line: "rate=<achieved/s> p50_us= p90_us= p99_us= max_us= errors= late=". A target
// that cannot keep up stops the run 2 s after its end; requests still unanswered then (or never
// sent) are counted as late, and latencies are over the answered ones. Only answers with a
// Content-Length are understood, which is what non-streaming chat completions get.
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/core.h"

#define MAX_CONNS 256
#define BUF_SIZE  65536

struct conn {
    int fd;
    bool busy;
    double sent_for; // scheduled time of the request in flight
    char buf[BUF_SIZE];
    size_t len;
};

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int connect_to(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(0x7f000001);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    fcntl(fd, F_SETFL, O_NONBLOCK);
    return fd;
}

// Length of a complete response at the start of buf, or 0 when more bytes are needed.
static size_t complete_response(const char *buf, size_t len, int *status) {
    const char *end = memmem(buf, len, "\r\n\r\n", 4);
    if (!end)
        return 0;
    size_t head = (size_t)(end - buf) + 4;
    *status = len > 12 ? (int)strtol(buf + 9, NULL, 10) : 0;
    size_t body = 0;
    for (const char *p = buf; p < end; p++) {
        if ((p == buf || p[-1] == '\n') && strncasecmp(p, "content-length:", 15) == 0) {
            body = (size_t)strtoull(p + 15, NULL, 10);
            break;
        }
    }
    return len >= head + body ? head + body : 0;
}

int main(int argc, char **argv) {
    if (argc < 6) {
        fprintf(stderr, "usage: proxy_loadgen PORT PATH MODEL RATE SECONDS [CONNECTIONS]\n");
        return 2;
    }
    int port = (int)strtol(argv[1], NULL, 10);
    const char *path = argv[2], *model = argv[3];
    double rate = strtod(argv[4], NULL), seconds = strtod(argv[5], NULL);
    int n_conns = argc > 6 ? (int)strtol(argv[6], NULL, 10) : 64;
    if (n_conns < 1 || n_conns > MAX_CONNS || rate <= 0 || seconds <= 0)
        return 2;
    char body[512], req[1024];
    int blen = snprintf(body, sizeof body,
                        "{\"model\":\"%s\",\"messages\":[{\"role\":\"system\",\"content\":\"Be "
                        "brief.\"},{\"role\":\"user\",\"content\":\"Explain in one sentence why "
                        "the sky is blue.\"}],\"max_tokens\":16,\"temperature\":0.7}",
                        model);
    int rlen = snprintf(req, sizeof req,
                        "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                        "Authorization: Bearer %s\r\nContent-Length: %d\r\n\r\n%s",
                        path, getenv("RL_BENCH_KEY") ? getenv("RL_BENCH_KEY") : "none", blen, body);
    static struct conn conns[MAX_CONNS];
    int ep = epoll_create1(0);
    for (int i = 0; i < n_conns; i++) {
        conns[i].fd = connect_to(port);
        if (conns[i].fd < 0) {
            fprintf(stderr, "proxy_loadgen: cannot connect to port %d\n", port);
            return 1;
        }
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &conns[i]};
        epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &ev);
    }
    size_t total = (size_t)(rate * seconds);
    double *lat = malloc(total * sizeof *lat);
    size_t sent = 0, done = 0, errors = 0;
    double start = rl_now_s() + 0.01;
    while (done + errors < total) {
        double now = rl_now_s();
        if (now > start + seconds + 2)
            break;
        // Send every request whose time has come, on any idle connection.
        while (sent < total && start + (double)sent / rate <= now) {
            struct conn *c = NULL;
            for (int i = 0; i < n_conns && !c; i++)
                if (!conns[i].busy)
                    c = &conns[i];
            if (!c)
                break; // all busy: the request waits, and its latency keeps counting
            c->busy = true;
            c->sent_for = start + (double)sent / rate;
            c->len = 0;
            if (write(c->fd, req, (size_t)rlen) != rlen) {
                errors++;
                c->busy = false;
            }
            sent++;
        }
        double next = sent < total ? start + (double)sent / rate : now + 0.01;
        int wait_ms = next > now ? (int)((next - now) * 1000) : 0;
        struct epoll_event evs[64];
        int n = epoll_wait(ep, evs, 64, wait_ms);
        double t = rl_now_s();
        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;
            ssize_t r = read(c->fd, c->buf + c->len, BUF_SIZE - c->len);
            if (r < 0 && errno == EAGAIN)
                continue;
            if (r <= 0) {
                // A server may close a kept-alive connection that sat idle (its idle timeout):
                // connect again. One closed under a request in flight is that request's error.
                errors += c->busy;
                c->busy = false;
                epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                close(c->fd);
                c->fd = connect_to(port);
                struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
                if (c->fd < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
                    fprintf(stderr, "proxy_loadgen: cannot connect again to port %d\n", port);
                    return 1;
                }
                continue;
            }
            c->len += (size_t)r;
            int status = 0;
            if (c->busy && complete_response(c->buf, c->len, &status)) {
                if (status == 200)
                    lat[done++] = t - c->sent_for;
                else
                    errors++;
                c->busy = false;
            }
        }
    }
    double elapsed = rl_now_s() - start;
    qsort(lat, done, sizeof *lat, cmp_double);
    if (!done) {
        printf("rate=0 p50_us=0 p90_us=0 p99_us=0 max_us=0 errors=%zu late=%zu\n", errors,
               total - errors);
        return 1;
    }
    printf("rate=%.0f p50_us=%.0f p90_us=%.0f p99_us=%.0f max_us=%.0f errors=%zu late=%zu\n",
           (double)done / elapsed, lat[done / 2] * 1e6, lat[done * 9 / 10] * 1e6,
           lat[done * 99 / 100] * 1e6, lat[done - 1] * 1e6, errors, total - done - errors);
    free(lat);
    return 0;
}
