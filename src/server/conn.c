// Client connections: the listening socket and each HTTP/1.1 connection, on the server's loop.
// A connection reads one request at a time: the head (bounded by server.max_header_bytes, due
// within server.header_timeout_s of its first byte, parsed strictly by http1.c), then the body
// (Content-Length or chunked, due within server.body_timeout_s), hands them to its owner through
// srv_conn_ops, waits for the answer while watching only for a hang-up, and writes the answer: a
// fixed body, or a stream pulled from the owner and sent chunked. Keep-alive and pipelining work
// (bytes after a request wait for the next one); 100-continue is answered when the request is
// accepted at its head.
//
// Slow clients: every deadline counts from the start of its phase, not from the last byte, so a
// client trickling a byte a second is closed when the phase's time is up; a client address may
// hold at most server.max_connections_per_client connections; at server.max_connections the
// listening socket is not watched until one closes. One sweep timer checks the deadlines.
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "server/server.h"

#define CONN_SWEEP_S      0.25
#define CONN_LINGER_S     2.0    // after a closing answer, how long the client's rest is read
#define CONN_STREAM_BLOCK 32768u // bytes per streamed chunk
#define CONN_READ_BLOCK   65536u
#define CONN_LOG_EVERY_S  10.0 // refused connections are logged at most once per this

enum conn_phase {
    PHASE_HEAD,   // reading a request head (or idle between requests)
    PHASE_BODY,   // reading its body
    PHASE_WAIT,   // the owner is working on the answer
    PHASE_WRITE,  // writing a fixed answer, or the streamed answer's pending bytes
    PHASE_STREAM, // waiting for the owner's next streamed bytes
    PHASE_LINGER, // answered and closing: the client's remaining bytes are read and dropped
};

struct srv_conn {
    struct srv_listener *l;
    struct srv_conn *prev, *next;
    struct srv_watch w;
    uint32_t events; // what w is registered for
    struct sockaddr_storage addr;
    enum conn_phase phase;
    uint64_t deadline_ns;  // of the current phase, 0 for none
    bool deadline_is_idle; // the deadline is the keep-alive wait, not a request's

    struct rl_buf in;      // the current request's head (and bytes read after it)
    struct rl_buf pending; // bytes of the next request that came with this one
    struct srv_http_head head;

    void *req;          // the owner's request, NULL between requests
    uint64_t body_left; // Content-Length bytes still to come
    struct srv_chunked chunked;
    bool body_done, discarding;
    uint64_t body_seen;

    bool answered, streaming, stream_ended, close_after, chunked_out, broken;
    bool want_write;   // an answer or more of a stream is ready: written at the next kick
    struct rl_buf out; // the answer's head
    size_t out_off;
    char *body; // a fixed answer's body, or a streamed answer's chunk buffer (owned)
    size_t body_len, body_off;
    struct srv_conn *kick_next; // in the listener's kick list
    bool kicked;
};

struct srv_listener {
    struct srv_loop *loop;
    const struct srv_config *c;
    const struct srv_conn_ops *ops;
    void *owner;
    struct srv_watch w;
    bool watching, stopped;
    struct srv_conn *conns;
    size_t n_conns;
    struct srv_conn *kick; // connections with an answer to write or a pipelined request to parse
    struct srv_conn *dead; // closed, freed at the next kick (a caller up the stack may look)
    struct srv_timer sweep, kick_timer;
    uint64_t refused, malformed, logged_at_ns;
    int port;
    char scratch[CONN_READ_BLOCK];
};

static void conn_close(struct srv_conn *c, enum srv_conn_end how);
static void kick(struct srv_conn *c);

// ----------------------------------------------------------------------------
// Small helpers

static void set_events(struct srv_conn *c, uint32_t events) {
    if (events == c->events)
        return;
    if (srv_loop_mod(c->l->loop, &c->w, events) == RL_OK)
        c->events = events;
}

static void set_deadline(struct srv_conn *c, double seconds, bool idle) {
    c->deadline_ns = seconds > 0 ? srv_now_ns() + (uint64_t)(seconds * 1e9) : 0;
    c->deadline_is_idle = idle;
}

static bool same_client(const struct srv_conn *a, const struct sockaddr_storage *addr) {
    if (a->addr.ss_family != addr->ss_family)
        return false;
    if (addr->ss_family == AF_INET)
        return ((const struct sockaddr_in *)&a->addr)->sin_addr.s_addr ==
               ((const struct sockaddr_in *)addr)->sin_addr.s_addr;
    if (addr->ss_family == AF_INET6)
        return memcmp(&((const struct sockaddr_in6 *)&a->addr)->sin6_addr,
                      &((const struct sockaddr_in6 *)addr)->sin6_addr, 16) == 0;
    return true;
}

// Refused and malformed connections are counted, and logged at most every CONN_LOG_EVERY_S.
static void note_bad(struct srv_listener *l, bool refused, const char *why) {
    if (refused)
        l->refused++;
    else
        l->malformed++;
    uint64_t now = srv_now_ns();
    if (l->logged_at_ns && now - l->logged_at_ns < (uint64_t)(CONN_LOG_EVERY_S * 1e9))
        return;
    l->logged_at_ns = now;
    struct srv_log g;
    srv_log_begin(&g, SRV_LOG_WARN, refused ? "connection refused" : "bad request");
    srv_log_str(&g, "reason", why);
    srv_log_int(&g, "refused_total", (long long)l->refused);
    srv_log_int(&g, "malformed_total", (long long)l->malformed);
    srv_log_end(&g);
}

static const char *reason_phrase(int status) {
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 413: return "Content Too Large";
    case 417: return "Expectation Failed";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 499: return "Client Closed Request";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return status < 300 ? "OK" : status < 500 ? "Client Error" : "Server Error";
    }
}

// ----------------------------------------------------------------------------
// Writing

// The status line, the owner's header lines, the framing and the connection header.
static int write_head(struct srv_conn *c, int status, const char *headers, bool stream,
                      size_t len) {
    c->close_after |= !c->head.keep_alive || c->l->stopped || !c->body_done;
    c->chunked_out = stream && c->head.minor == 1;
    if (stream && !c->chunked_out)
        c->close_after = true; // an HTTP/1.0 stream ends with the connection
    struct rl_buf *b = &c->out;
    rl_buf_reset(b);
    int rc = rl_buf_appendf(b, "HTTP/1.1 %d %s\r\n%s", status, reason_phrase(status),
                            headers ? headers : "");
    if (rc == RL_OK && !stream)
        rc = rl_buf_appendf(b, "Content-Length: %zu\r\n", len);
    if (rc == RL_OK && c->chunked_out)
        rc = rl_buf_appendf(b, "Transfer-Encoding: chunked\r\n");
    if (rc == RL_OK && c->close_after)
        rc = rl_buf_appendf(b, "Connection: close\r\n");
    else if (rc == RL_OK && c->head.minor == 0)
        rc = rl_buf_appendf(b, "Connection: keep-alive\r\n");
    if (rc == RL_OK)
        rc = rl_buf_append(b, "\r\n", 2);
    c->out_off = 0;
    return rc;
}

// Write what is pending; true when all of it is out.
static bool flush(struct srv_conn *c) {
    while (c->out_off < c->out.len || c->body_off < c->body_len) {
        struct iovec iov[2];
        int n = 0;
        if (c->out_off < c->out.len)
            iov[n++] = (struct iovec){c->out.data + c->out_off, c->out.len - c->out_off};
        if (c->body_off < c->body_len)
            iov[n++] = (struct iovec){c->body + c->body_off, c->body_len - c->body_off};
        ssize_t w = writev(c->w.fd, iov, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return false;
        if (w <= 0) {
            conn_close(c, SRV_CONN_CLIENT_CLOSED);
            return false;
        }
        size_t k = (size_t)w, head_left = c->out.len - c->out_off;
        size_t from_head = k < head_left ? k : head_left;
        c->out_off += from_head;
        c->body_off += k - from_head;
        set_deadline(c, c->l->c->idle_timeout_s, false); // progress: the client is reading
    }
    return true;
}

// Pull the next piece of a streamed answer into the chunk buffer, framed as a chunk when
// chunked. Returns false when the stream waits for srv_conn_wake, or the connection is gone.
static bool pull_stream(struct srv_conn *c) {
    if (!c->body && !(c->body = malloc(CONN_STREAM_BLOCK + 32))) {
        conn_close(c, SRV_CONN_ERROR);
        return false;
    }
    char *data = c->body + 16; // room for the chunk size line
    ssize_t n = c->l->ops->stream(c->req, data, CONN_STREAM_BLOCK);
    if (n == SRV_RELAY_WAIT) {
        c->phase = PHASE_STREAM;
        c->deadline_ns = 0;
        set_events(c, EPOLLRDHUP);
        return false;
    }
    if (n < 0 && n != SRV_RELAY_END) {
        conn_close(c, SRV_CONN_ERROR); // no final chunk: the client sees the answer is cut
        return false;
    }
    c->body_off = 16;
    c->body_len = 16 + (n > 0 ? (size_t)n : 0);
    if (n == SRV_RELAY_END) {
        c->stream_ended = true;
        if (c->chunked_out)
            memcpy(c->body, "0\r\n\r\n", 5), c->body_off = 0, c->body_len = 5;
        return true;
    }
    if (c->chunked_out) {
        char size[16];
        int k = snprintf(size, sizeof size, "%zx\r\n", (size_t)n);
        memcpy(data - k, size, (size_t)k);
        memcpy(data + n, "\r\n", 2);
        c->body_off = 16 - (size_t)k;
        c->body_len += 2;
    }
    return true;
}

static void request_over(struct srv_conn *c, enum srv_conn_end how) {
    void *req = c->req;
    c->req = NULL;
    if (req)
        c->l->ops->end(req, how);
}

// The answer is out: end the request, then close, or wait for the next request.
static void answer_sent(struct srv_conn *c) {
    request_over(c, SRV_CONN_OK);
    if (c->w.fd < 0)
        return;
    if (c->close_after) {
        shutdown(c->w.fd, SHUT_WR);
        c->phase = PHASE_LINGER;
        set_deadline(c, CONN_LINGER_S, false);
        set_events(c, EPOLLIN | EPOLLRDHUP);
        return;
    }
    free(c->body);
    c->body = NULL;
    c->body_len = c->body_off = 0;
    rl_buf_reset(&c->in);
    if (c->pending.len && rl_buf_append(&c->in, c->pending.data, c->pending.len) != RL_OK)
        return conn_close(c, SRV_CONN_ERROR);
    rl_buf_reset(&c->pending);
    c->phase = PHASE_HEAD;
    c->answered = c->streaming = c->stream_ended = c->want_write = false;
    c->body_done = c->discarding = false;
    c->body_seen = 0;
    set_deadline(c, c->in.len ? c->l->c->header_timeout_s : c->l->c->idle_timeout_s,
                 c->in.len == 0);
    set_events(c, EPOLLIN | EPOLLRDHUP);
    if (c->in.len)
        kick(c); // a pipelined request: parsed from the loop, not from up this stack
}

static void write_some(struct srv_conn *c) {
    if (c->broken) { // the answer could not be put together (out of memory)
        conn_close(c, SRV_CONN_ERROR);
        return;
    }
    for (;;) {
        if (!flush(c)) {
            if (c->w.fd >= 0) {
                c->phase = PHASE_WRITE;
                set_events(c, EPOLLOUT); // not RDHUP: a half-closed client may still read
            }
            return;
        }
        if (!c->streaming || c->stream_ended) {
            answer_sent(c);
            return;
        }
        if (!pull_stream(c))
            return;
    }
}

// ----------------------------------------------------------------------------
// Answers from the owner

// Answers are written from the loop (on_kick), never from inside the owner's call: a write that
// finds the client gone closes the connection and ends the request, which the owner must not
// see happen under its feet.
void srv_conn_respond(struct srv_conn *c, int status, const char *headers, char *body, size_t len) {
    if (c->answered || c->w.fd < 0) {
        free(body);
        return;
    }
    c->answered = true;
    free(c->body);
    c->body = body;
    c->body_len = len;
    c->body_off = 0;
    if (write_head(c, status, headers, false, len) != RL_OK)
        c->close_after = c->broken = true;
    c->want_write = true;
    kick(c);
}

void srv_conn_respond_stream(struct srv_conn *c, int status, const char *headers) {
    if (c->answered || c->w.fd < 0)
        return;
    c->answered = c->streaming = true;
    if (write_head(c, status, headers, true, 0) != RL_OK)
        c->close_after = c->broken = true;
    c->want_write = true;
    kick(c);
}

void srv_conn_wake(struct srv_conn *c) {
    if (c->phase == PHASE_STREAM && c->w.fd >= 0) {
        c->phase = PHASE_WRITE;
        set_deadline(c, c->l->c->idle_timeout_s, false);
        c->want_write = true;
        kick(c);
    }
}

// ----------------------------------------------------------------------------
// Reading

// A request refused by the framing (malformed, too slow): its owner's request ends, and the
// client gets the status in OpenAI's error shape and the connection closes.
static void refuse(struct srv_conn *c, int status, const char *why) {
    note_bad(c->l, false, why);
    request_over(c, status == 408 ? SRV_CONN_TIMEOUT : SRV_CONN_BAD_REQUEST);
    if (c->answered) { // the owner answered first; the connection cannot go on
        conn_close(c, SRV_CONN_ERROR);
        return;
    }
    char body[256];
    int n = snprintf(body, sizeof body,
                     "{\"error\":{\"message\":\"%s\",\"type\":\"invalid_request_error\","
                     "\"param\":null,\"code\":\"%s\"}}",
                     why, status == 408 ? "request_timeout" : "bad_http_request");
    c->answered = true;
    c->close_after = true;
    free(c->body);
    c->body = malloc((size_t)n);
    if (!c->body ||
        write_head(c, status, "Content-Type: application/json\r\n", false, (size_t)n) != RL_OK) {
        conn_close(c, SRV_CONN_ERROR);
        return;
    }
    memcpy(c->body, body, (size_t)n);
    c->body_len = (size_t)n;
    c->body_off = 0;
    write_some(c);
}

// Body bytes: to the owner until it says stop, dropped after that.
static void take_body(struct srv_conn *c, const char *data, size_t n) {
    c->body_seen += n;
    if (!c->discarding && n && !c->l->ops->body(c->req, data, n))
        c->discarding = true;
    if (c->discarding && c->body_seen / SRV_DRAIN_FACTOR > c->l->c->max_body)
        conn_close(c, SRV_CONN_ERROR); // still sending long after the limit
}

// The whole request is in: the owner answers now or later; the socket is watched for a hang-up.
static void request_in(struct srv_conn *c) {
    c->body_done = true;
    c->phase = PHASE_WAIT;
    c->deadline_ns = 0;
    set_events(c, EPOLLRDHUP);
    if (!c->answered) // else answered at its head (a GET, a refusal)
        c->l->ops->body_end(c->req);
}

// Feed body bytes data[0..n) (decoded in place when chunked); keep what follows the body for
// the next request.
static void feed_body(struct srv_conn *c, char *data, size_t n) {
    size_t used = n;
    bool done;
    if (c->head.chunked) {
        size_t data_len;
        const char *why;
        int rc = srv_chunked_decode(&c->chunked, data, n, &data_len, &used, &why);
        if (rc > 1) {
            refuse(c, rc, why);
            return;
        }
        take_body(c, data, data_len);
        done = rc == 1;
    } else {
        used = n < c->body_left ? n : (size_t)c->body_left;
        take_body(c, data, used);
        c->body_left -= used;
        done = c->body_left == 0;
    }
    if (c->w.fd < 0)
        return;
    if (used < n && rl_buf_append(&c->pending, data + used, n - used) != RL_OK) {
        refuse(c, 431, "too many pipelined bytes");
        return;
    }
    if (done)
        request_in(c);
}

// The head is complete: hand it to the owner, then read the body (100-continue first).
static void head_ready(struct srv_conn *c) {
    c->body_left = c->head.has_length ? c->head.length : 0;
    bool no_body = !c->head.chunked && c->body_left == 0;
    c->body_done = no_body; // an answer given at the head keeps the connection only then
    srv_chunked_init(&c->chunked);
    c->req = c->l->ops->begin(c->l->owner, c, &c->head);
    if (!c->req) {
        conn_close(c, SRV_CONN_ERROR);
        return;
    }
    size_t extra = c->in.len - c->head.len;
    if (no_body) {
        if (extra && rl_buf_append(&c->pending, c->in.data + c->head.len, extra) != RL_OK) {
            refuse(c, 431, "too many pipelined bytes");
            return;
        }
        request_in(c);
        return;
    }
    if (c->answered) { // refused at its head: the body is not read, the connection closes
        c->phase = PHASE_WAIT;
        set_events(c, EPOLLRDHUP);
        return;
    }
    c->phase = PHASE_BODY;
    set_deadline(c, c->l->c->body_timeout_s, false);
    if (c->head.expect_continue && extra == 0) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        (void)!write(c->w.fd, cont, sizeof cont - 1); // if it does not fit, the client goes on
    }
    if (extra)
        feed_body(c, c->in.data + c->head.len, extra);
}

static void parse_head(struct srv_conn *c) {
    const char *why;
    int rc = srv_http_parse_head(c->in.data, c->in.len, c->l->c->max_header, &c->head, &why);
    if (rc == 1)
        head_ready(c);
    else if (rc)
        refuse(c, rc, why);
}

static void on_readable(struct srv_conn *c) {
    struct srv_listener *l = c->l;
    size_t room = sizeof l->scratch;
    if (c->phase == PHASE_HEAD) {
        if (c->in.len > l->c->max_header) {
            parse_head(c); // pipelined bytes already hold more than a head may
            return;
        }
        size_t want = l->c->max_header + 1 - c->in.len; // one byte over: the head is too large
        room = want < room ? want : room;
    }
    ssize_t n = read(c->w.fd, l->scratch, room);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n <= 0) {
        bool idle = c->phase == PHASE_HEAD && c->in.len == 0;
        conn_close(c, idle || c->phase == PHASE_LINGER ? SRV_CONN_OK : SRV_CONN_CLIENT_CLOSED);
        return;
    }
    if (c->phase == PHASE_HEAD) {
        if (c->in.len == 0)
            set_deadline(c, l->c->header_timeout_s, false); // the head's time starts now
        if (rl_buf_append(&c->in, l->scratch, (size_t)n) != RL_OK)
            return conn_close(c, SRV_CONN_ERROR);
        parse_head(c);
    } else if (c->phase == PHASE_BODY) {
        feed_body(c, l->scratch, (size_t)n);
    } // PHASE_LINGER: dropped
}

// Parse the pipelined requests of the kicked connections.
static void on_kick(struct srv_timer *t) {
    struct srv_listener *l = t->data;
    while (l->kick) {
        struct srv_conn *c = l->kick;
        l->kick = c->kick_next;
        c->kicked = false;
        if (c->w.fd < 0)
            continue;
        if (c->want_write) { // in PHASE_BODY too (a drain cut): the rest of the body is dropped
            c->want_write = false;
            write_some(c);
        } else if (c->phase == PHASE_HEAD && !c->req && c->in.len) {
            parse_head(c);
        }
    }
    while (l->dead) {
        struct srv_conn *c = l->dead;
        l->dead = c->kick_next;
        free(c);
    }
}

static void kick(struct srv_conn *c) {
    if (!c->kicked) {
        c->kicked = true;
        c->kick_next = c->l->kick;
        c->l->kick = c;
    }
    srv_timer_start(c->l->loop, &c->l->kick_timer, 0);
}

static void on_event(struct srv_watch *w, uint32_t events) {
    struct srv_conn *c = w->data;
    if (c->phase == PHASE_WAIT || c->phase == PHASE_STREAM) {
        if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
            conn_close(c, SRV_CONN_CLIENT_CLOSED);
        return;
    }
    if (c->phase == PHASE_WRITE) {
        if (events & (EPOLLHUP | EPOLLERR))
            conn_close(c, SRV_CONN_CLIENT_CLOSED);
        else if (events & EPOLLOUT)
            write_some(c);
        return;
    }
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        on_readable(c);
}

// ----------------------------------------------------------------------------
// Accepting and closing

static void watch_listener(struct srv_listener *l, bool on) {
    if (on == l->watching || l->stopped)
        return;
    if (on ? srv_loop_add(l->loop, &l->w, EPOLLIN) == RL_OK : (srv_loop_del(l->loop, &l->w), 1))
        l->watching = on;
}

static void conn_close(struct srv_conn *c, enum srv_conn_end how) {
    struct srv_listener *l = c->l;
    if (c->w.fd < 0)
        return;
    srv_loop_del(l->loop, &c->w);
    close(c->w.fd);
    c->w.fd = -1;
    request_over(c, how);
    if (c->prev)
        c->prev->next = c->next;
    else
        l->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    l->n_conns--;
    rl_buf_free(&c->in);
    rl_buf_free(&c->pending);
    rl_buf_free(&c->out);
    free(c->body);
    c->body = NULL;
    if (c->kicked) { // leave the kick list for the dead one
        struct srv_conn **p = &l->kick;
        while (*p != c)
            p = &(*p)->kick_next;
        *p = c->kick_next;
    }
    c->kick_next = l->dead;
    l->dead = c;
    srv_timer_start(l->loop, &l->kick_timer, 0);
    if (l->n_conns < l->c->max_connections)
        watch_listener(l, true);
}

// Answer a connection over its address's cap with 429 and close it (best effort: one write).
static void refuse_connection(struct srv_listener *l, int fd) {
    static const char msg[] =
        "HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\nConnection: "
        "close\r\nContent-Length: 115\r\n\r\n{\"error\":{\"message\":\"too many connections from "
        "this address\",\"type\":\"rate_limit_error\",\"param\":null,\"code\":null}}";
    (void)!write(fd, msg, sizeof msg - 1);
    close(fd);
    note_bad(l, true, "server.max_connections_per_client reached");
}

static void on_accept(struct srv_watch *w, uint32_t events) {
    (void)events;
    struct srv_listener *l = w->data;
    for (int k = 0; k < 64 && l->n_conns < l->c->max_connections; k++) {
        struct sockaddr_storage addr;
        socklen_t alen = sizeof addr;
        int fd = accept4(w->fd, (struct sockaddr *)&addr, &alen, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return; // EAGAIN, or a connection that went away; EMFILE waits for a close
        unsigned same = 0;
        for (const struct srv_conn *c = l->conns; c && l->c->max_per_client; c = c->next)
            same += same_client(c, &addr);
        if (l->c->max_per_client && same >= l->c->max_per_client) {
            refuse_connection(l, fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct srv_conn *c = calloc(1, sizeof *c);
        if (!c) {
            close(fd);
            continue;
        }
        c->l = l;
        c->addr = addr;
        c->w = (struct srv_watch){fd, on_event, c};
        rl_buf_init(&c->in, l->c->max_header + 1);
        rl_buf_init(&c->pending, l->c->max_header);
        rl_buf_init(&c->out, CONN_STREAM_BLOCK + 64 + l->c->max_header);
        c->phase = PHASE_HEAD;
        // Silent until its first byte, like a kept-alive one: clients open pools ahead of use.
        set_deadline(c, l->c->idle_timeout_s, true);
        if (srv_loop_add(l->loop, &c->w, EPOLLIN | EPOLLRDHUP) != RL_OK) {
            close(fd);
            free(c);
            continue;
        }
        c->events = EPOLLIN | EPOLLRDHUP;
        c->next = l->conns;
        if (l->conns)
            l->conns->prev = c;
        l->conns = c;
        l->n_conns++;
    }
    if (l->n_conns >= l->c->max_connections)
        watch_listener(l, false);
}

// Close what is past its deadline: a head or body too slow gets 408, a stalled write or an idle
// keep-alive connection is closed.
static void on_sweep(struct srv_timer *t) {
    struct srv_listener *l = t->data;
    uint64_t now = srv_now_ns();
    for (struct srv_conn *c = l->conns, *next; c; c = next) {
        next = c->next;
        if (!c->deadline_ns || now < c->deadline_ns)
            continue;
        c->deadline_ns = 0;
        bool reading = (c->phase == PHASE_HEAD && !c->deadline_is_idle) || c->phase == PHASE_BODY;
        if (reading && !c->answered)
            refuse(c, 408,
                   c->phase == PHASE_HEAD ? "the request head took too long"
                                          : "the request body took too long");
        else
            conn_close(c, SRV_CONN_TIMEOUT);
    }
    srv_timer_start(l->loop, &l->sweep, CONN_SWEEP_S);
}

struct srv_listener *srv_listener_new(struct srv_loop *loop, const struct srv_config *c,
                                      const struct srv_conn_ops *ops, void *owner, char *errbuf) {
    struct addrinfo hints = {.ai_flags = AI_PASSIVE | AI_NUMERICSERV, .ai_socktype = SOCK_STREAM};
    struct addrinfo *ai = NULL;
    char port[16];
    snprintf(port, sizeof port, "%d", c->port);
    int gai = getaddrinfo(c->host, port, &hints, &ai);
    if (gai != 0) {
        rl__errf(errbuf, RL_EINVAL, "server.host '%s': %s", c->host, gai_strerror(gai));
        return NULL;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd >= 0)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    bool ok = fd >= 0 && bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 1024) == 0;
    freeaddrinfo(ai);
    struct sockaddr_storage sa;
    socklen_t slen = sizeof sa;
    if (!ok || getsockname(fd, (struct sockaddr *)&sa, &slen) != 0) {
        rl__errf(errbuf, RL_EIO, "cannot listen on %s:%d: %s", c->host, c->port, strerror(errno));
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    struct srv_listener *l = calloc(1, sizeof *l);
    if (!l) {
        close(fd);
        rl__errf(errbuf, RL_ENOMEM, "out of memory");
        return NULL;
    }
    l->loop = loop;
    l->c = c;
    l->ops = ops;
    l->owner = owner;
    l->port = ntohs(sa.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&sa)->sin6_port
                                             : ((struct sockaddr_in *)&sa)->sin_port);
    l->w = (struct srv_watch){fd, on_accept, l};
    watch_listener(l, true);
    if (!l->watching) {
        rl__errf(errbuf, RL_EIO, "epoll: %s", strerror(errno));
        srv_listener_free(l);
        return NULL;
    }
    l->sweep = (struct srv_timer){.cb = on_sweep, .data = l};
    l->kick_timer = (struct srv_timer){.cb = on_kick, .data = l};
    srv_timer_start(loop, &l->sweep, CONN_SWEEP_S);
    return l;
}

void srv_listener_set_config(struct srv_listener *l, const struct srv_config *c) {
    l->c = c;
    if (l->n_conns < c->max_connections)
        watch_listener(l, true);
}

int srv_listener_port(const struct srv_listener *l) {
    return l->port;
}

void srv_listener_stop_accepting(struct srv_listener *l) {
    watch_listener(l, false);
    l->stopped = true;
    if (l->w.fd >= 0)
        close(l->w.fd);
    l->w.fd = -1;
    for (struct srv_conn *c = l->conns, *next; c; c = next) {
        next = c->next;
        if (!c->req && c->phase == PHASE_HEAD && c->in.len == 0)
            conn_close(c, SRV_CONN_OK); // idle keep-alive connections go at once
    }
}

void srv_listener_free(struct srv_listener *l) {
    if (!l)
        return;
    while (l->conns)
        conn_close(l->conns, SRV_CONN_SHUTDOWN);
    on_kick(&l->kick_timer);
    srv_timer_stop(l->loop, &l->kick_timer);
    srv_timer_stop(l->loop, &l->sweep);
    watch_listener(l, false);
    if (l->w.fd >= 0)
        close(l->w.fd);
    free(l);
}
