// The stream relay: a streamed upstream answer passes through a bounded ring on its way to the
// client. The upstream side pushes each piece as libcurl delivers it, the client side reads as
// fast as its socket takes the bytes; when the ring is full the writer is told to pause rather
// than the ring growing, and is told to go on once the reader has drained half of it. An event
// stream is scanned as it passes (srv_sse_scan) so that a stream that breaks after it began
// can still end with an error event instead of looking complete.
//
// The relay knows neither the client's connection nor libcurl: its owner turns its answers into
// their return codes and hears from it through the three calls of srv_relay_ops. It runs on the
// loop thread only.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/server.h"

int srv_relay_init(struct srv_relay *r, size_t cap, bool sse, const char *model,
                   const struct srv_relay_ops *ops, void *data) {
    memset(r, 0, sizeof *r);
    srv_sse_init(&r->events);
    r->ring = malloc(cap);
    if (!r->ring)
        return RL_ENOMEM;
    r->cap = cap;
    r->sse = sse;
    snprintf(r->model, sizeof r->model, "%s", model);
    r->ops = ops;
    r->data = data;
    return RL_OK;
}

void srv_relay_free(struct srv_relay *r) {
    srv_sse_free(&r->events);
    free(r->ring);
    r->ring = NULL;
}

// A reader that was told to wait learns that there is something to read, or that the stream
// ended; it is told once, and asks again by reading.
static void wake_reader(struct srv_relay *r) {
    if (!r->reader_waiting)
        return;
    r->reader_waiting = false;
    r->ops->wake(r);
}

int srv_relay_push(struct srv_relay *r, const char *data, size_t n) {
    if (n > r->cap)
        return RL_ETOOBIG; // it would never fit: stalling forever is worse than failing
    if (n > r->cap - r->len) {
        r->writer_paused = true;
        return SRV_RELAY_FULL;
    }
    size_t tail = (r->head + r->len) % r->cap;
    size_t first = n < r->cap - tail ? n : r->cap - tail;
    memcpy(r->ring + tail, data, first);
    memcpy(r->ring, data + first, n - first);
    r->len += n;
    if (r->sse)
        srv_sse_scan(&r->events, data, n);
    wake_reader(r);
    return RL_OK;
}

void srv_relay_end(struct srv_relay *r, const char *error) {
    r->ended = true;
    if (error)
        snprintf(r->error, sizeof r->error, "%s", error);
    r->failed = error != NULL;
    wake_reader(r);
}

void srv_relay_cut(struct srv_relay *r, const char *why) {
    if (r->ended)
        return;
    r->cut = true;
    srv_relay_end(r, why);
}

// The event that ends a broken event stream in OpenAI's error shape, written into buf when it
// fits in max bytes. Returns its length, or SRV_RELAY_BROKEN when it does not fit.
static ssize_t error_event(struct srv_relay *r, char *buf, size_t max) {
    char msg[256];
    if (r->cut)
        snprintf(msg, sizeof msg, "the stream from '%s' was cut: %s", r->model, r->error);
    else
        snprintf(msg, sizeof msg, "upstream model '%s' ended the stream early: %s", r->model,
                 r->failed ? r->error : "it closed without the final event");
    struct rl_buf b;
    rl_buf_init(&b, max);
    int rc = rl_buf_append(&b, "data: ", 6);
    if (rc == RL_OK)
        rc = srv_error_body(&b, msg, r->cut ? "server_error" : "upstream_error", NULL,
                            r->cut ? "stream_cut" : "stream_interrupted");
    if (rc == RL_OK)
        rc = rl_buf_append(&b, "\n\n", 2);
    if (rc != RL_OK)
        return SRV_RELAY_BROKEN;
    memcpy(buf, b.data, b.len);
    size_t n = b.len;
    rl_buf_free(&b);
    return (ssize_t)n;
}

ssize_t srv_relay_read(struct srv_relay *r, char *buf, size_t max) {
    if (r->len) {
        size_t n = r->len < max ? r->len : max;
        size_t first = n < r->cap - r->head ? n : r->cap - r->head;
        memcpy(buf, r->ring + r->head, first);
        memcpy(buf + first, r->ring, n - first);
        r->head = (r->head + n) % r->cap;
        r->len -= n;
        // Half the ring, not one byte: a writer woken for every read would pause again at once.
        if (r->writer_paused && r->cap - r->len >= r->cap / 2) {
            r->writer_paused = false;
            r->ops->unpause(r);
        }
        return (ssize_t)n;
    }
    if (!r->ended) {
        r->reader_waiting = true;
        return SRV_RELAY_WAIT;
    }
    if (!r->sse)
        return r->failed ? SRV_RELAY_BROKEN : SRV_RELAY_END;
    if (!r->error_sent && (r->failed || !r->events.saw_done)) {
        // The status went out long ago: the only way left to say so is in the stream itself.
        r->error_sent = true;
        r->ops->broken(r);
        return error_event(r, buf, max);
    }
    return SRV_RELAY_END;
}
