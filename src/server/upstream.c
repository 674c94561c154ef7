// Upstream calls: libcurl's multi interface driven by the server's epoll loop (the socket and
// timer callbacks of curl_multi_socket_action), so one thread runs the HTTP server and every
// upstream transfer without blocking. Responses reach the caller through two callbacks: on_body
// for each piece as it arrives (it may pause the transfer when its relay buffer is full) and
// on_done once. Easy handles are pooled; connections are pooled by the multi handle, so calls to
// the same upstream reuse a warm keep-alive connection. Nothing here interprets the bodies.
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>

#include "server/server.h"

#define POOL_MAX 256

struct srv_upstream {
    struct srv_loop *loop;
    CURLM *multi;
    struct srv_timer timer;
    CURL *pool[POOL_MAX];
    int n_pool;
};

// One watched upstream socket, owned by curl's socket callback.
struct sock {
    struct srv_watch w;
    struct srv_upstream *u;
};

static void check_done(struct srv_upstream *u) {
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(u->multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        CURL *easy = msg->easy_handle;
        CURLcode rc = msg->data.result;
        struct srv_call *call = NULL;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&call);
        curl_multi_remove_handle(u->multi, easy);
        if (u->n_pool < POOL_MAX)
            u->pool[u->n_pool++] = easy;
        else
            curl_easy_cleanup(easy);
        if (call) {
            call->easy = NULL;
            call->on_done(call, rc);
        }
    }
}

static void on_socket_event(struct srv_watch *w, uint32_t events) {
    struct sock *sk = (struct sock *)w;
    struct srv_upstream *u = sk->u;
    int flags = 0, running;
    if (events & (EPOLLIN | EPOLLHUP))
        flags |= CURL_CSELECT_IN;
    if (events & EPOLLOUT)
        flags |= CURL_CSELECT_OUT;
    if (events & EPOLLERR)
        flags |= CURL_CSELECT_ERR;
    curl_multi_socket_action(u->multi, w->fd, flags, &running);
    check_done(u);
}

static int socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp) {
    (void)easy;
    struct srv_upstream *u = userp;
    struct sock *sk = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (sk) {
            srv_loop_del(u->loop, &sk->w);
            free(sk);
            curl_multi_assign(u->multi, fd, NULL);
        }
        return 0;
    }
    uint32_t events = 0;
    if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
        events |= EPOLLIN;
    if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
        events |= EPOLLOUT;
    if (!sk) {
        sk = calloc(1, sizeof *sk);
        if (!sk)
            return -1;
        sk->w.fd = fd;
        sk->w.cb = on_socket_event;
        sk->w.data = sk;
        sk->u = u;
        if (srv_loop_add(u->loop, &sk->w, events) != RL_OK) {
            free(sk);
            return -1;
        }
        curl_multi_assign(u->multi, fd, sk);
        return 0;
    }
    return srv_loop_mod(u->loop, &sk->w, events) == RL_OK ? 0 : -1;
}

static void on_timer(struct srv_timer *t) {
    struct srv_upstream *u = t->data;
    int running;
    curl_multi_socket_action(u->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(u);
}

static int timer_cb(CURLM *multi, long timeout_ms, void *userp) {
    (void)multi;
    struct srv_upstream *u = userp;
    if (timeout_ms < 0)
        srv_timer_stop(u->loop, &u->timer);
    else
        srv_timer_start(u->loop, &u->timer, (double)timeout_ms / 1000.0);
    return 0;
}

struct srv_upstream *srv_upstream_new(struct srv_loop *loop) {
    struct srv_upstream *u = calloc(1, sizeof *u);
    if (!u)
        return NULL;
    u->loop = loop;
    u->timer.cb = on_timer;
    u->timer.data = u;
    u->multi = curl_multi_init();
    if (!u->multi) {
        free(u);
        return NULL;
    }
    curl_multi_setopt(u->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
    curl_multi_setopt(u->multi, CURLMOPT_SOCKETDATA, u);
    curl_multi_setopt(u->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
    curl_multi_setopt(u->multi, CURLMOPT_TIMERDATA, u);
    // Keep enough idle connections for a busy upstream; the default (4 × handles) is fine for
    // bursts but would close warm connections after a quiet period of many small requests.
    curl_multi_setopt(u->multi, CURLMOPT_MAXCONNECTS, 256L);
    return u;
}

void srv_upstream_free(struct srv_upstream *u) {
    if (!u)
        return;
    srv_timer_stop(u->loop, &u->timer);
    for (int i = 0; i < u->n_pool; i++)
        curl_easy_cleanup(u->pool[i]);
    curl_multi_cleanup(u->multi);
    free(u);
}

// ----------------------------------------------------------------------------
// Calls

void srv_upstream_header(struct srv_call *call, const char *data, size_t len) {
    if (len > 5 && strncmp(data, "HTTP/", 5) == 0) {
        // A new status line (after an interim 1xx) starts a new header set.
        call->content_type[0] = '\0';
        call->retry_after_s = 0;
        call->status = 0;
        const char *sp = memchr(data, ' ', len);
        size_t at = sp ? (size_t)(sp - data) + 1 : len;
        if (at + 3 <= len && data[at] >= '1' && data[at] <= '9' && data[at + 1] >= '0' &&
            data[at + 1] <= '9' && data[at + 2] >= '0' && data[at + 2] <= '9')
            call->status =
                (data[at] - '0') * 100 + (data[at + 1] - '0') * 10 + (data[at + 2] - '0');
        return;
    }
    static const char ct[] = "content-type:", ra[] = "retry-after:";
    if (len > sizeof ct - 1 && strncasecmp(data, ct, sizeof ct - 1) == 0) {
        const char *v = data + sizeof ct - 1;
        size_t vn = len - (sizeof ct - 1);
        while (vn && (*v == ' ' || *v == '\t'))
            v++, vn--;
        while (vn && (v[vn - 1] == '\r' || v[vn - 1] == '\n' || v[vn - 1] == ' '))
            vn--;
        if (vn >= sizeof call->content_type)
            vn = sizeof call->content_type - 1;
        // Only visible characters and spaces: the value is sent on as the client's Content-Type.
        size_t k = 0;
        while (k < vn && ((unsigned char)v[k] >= 0x20 && (unsigned char)v[k] < 0x7f))
            k++;
        memcpy(call->content_type, v, k);
        call->content_type[k] = '\0';
    } else if (len > sizeof ra - 1 && strncasecmp(data, ra, sizeof ra - 1) == 0) {
        char tmp[32];
        size_t vn = len - (sizeof ra - 1) < sizeof tmp - 1 ? len - (sizeof ra - 1) : sizeof tmp - 1;
        memcpy(tmp, data + sizeof ra - 1, vn);
        tmp[vn] = '\0';
        char *end;
        double v = strtod(tmp, &end); // HTTP-dates are ignored: only delay-seconds are used
        if (end != tmp && v > 0 && v < 3600)
            call->retry_after_s = v;
    }
}

static size_t header_cb(char *data, size_t size, size_t n, void *userp) {
    srv_upstream_header(userp, data, size * n);
    return size * n;
}

static size_t write_cb(char *data, size_t size, size_t n, void *userp) {
    struct srv_call *call = userp;
    return call->on_body(call, data, size * n);
}

// A new handle gets the options that never change; the per-call ones below override whatever
// the handle's previous call set, so pooled handles need no curl_easy_reset.
static CURL *handle_new(void) {
    CURL *e = curl_easy_init();
    if (!e)
        return NULL;
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    // Only plain HTTP(S) upstreams, and never a redirect that could carry the key elsewhere.
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    return e;
}

int srv_upstream_start(struct srv_upstream *u, struct srv_call *call, const char *url,
                       struct curl_slist *headers, const char *body, size_t len, double timeout_s,
                       double connect_timeout_s) {
    CURL *e = u->n_pool ? u->pool[--u->n_pool] : handle_new();
    if (!e)
        return RL_ENOMEM;
    call->status = 0;
    call->content_type[0] = '\0';
    call->retry_after_s = 0;
    call->errbuf[0] = '\0';
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
    if (body) {
        curl_easy_setopt(e, CURLOPT_POST, 1L); // a pooled handle may have made a GET
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    } else {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    }
    curl_easy_setopt(e, CURLOPT_WRITEDATA, call);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, call);
    curl_easy_setopt(e, CURLOPT_PRIVATE, call);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, call->errbuf);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(timeout_s * 1000));
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)(connect_timeout_s * 1000));
    call->easy = e;
    if (curl_multi_add_handle(u->multi, e) != CURLM_OK) {
        call->easy = NULL;
        curl_easy_cleanup(e);
        return RL_ENOMEM;
    }
    return RL_OK;
}

void srv_upstream_cancel(struct srv_upstream *u, struct srv_call *call) {
    if (!call->easy)
        return;
    CURL *e = call->easy;
    call->easy = NULL;
    curl_multi_remove_handle(u->multi, e);
    // A cancelled transfer's connection is closed by curl; the handle itself can be reused.
    if (u->n_pool < POOL_MAX)
        u->pool[u->n_pool++] = e;
    else
        curl_easy_cleanup(e);
}

void srv_upstream_unpause(struct srv_upstream *u, struct srv_call *call) {
    if (!call->easy)
        return;
    (void)u;
    // Unpausing may deliver buffered data to on_body at once; curl also arms a zero timeout,
    // so a transfer that completes here is reported on the next loop turn, never re-entrantly.
    curl_easy_pause(call->easy, CURLPAUSE_CONT);
}
