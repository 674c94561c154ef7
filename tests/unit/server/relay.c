// Unit tests of the stream relay (src/server/relay.c, compiled into modules.c) through its
// interface alone: bytes come out in order across the ring's wrap-around whatever the sizes of
// the pieces and of the reads, a full ring pauses the writer until half of it is free, a waiting
// reader is woken once, and an event stream ends with [DONE], or with one error event when it
// broke or closed without it.
#include <stdlib.h>
#include <string.h>

#include "server/server.h"
#include "test.h"

// What the relay told its owner.
struct owner {
    int wakes, unpauses, breaks;
};

static void on_wake(struct srv_relay *r) {
    ((struct owner *)r->data)->wakes++;
}

static void on_unpause(struct srv_relay *r) {
    ((struct owner *)r->data)->unpauses++;
}

static void on_broken(struct srv_relay *r) {
    ((struct owner *)r->data)->breaks++;
}

static const struct srv_relay_ops ops = {on_wake, on_unpause, on_broken};

// Read exactly n bytes into out, at most max per read, as a slow client would.
static int read_exactly(struct srv_relay *r, char *out, size_t n, size_t max) {
    for (size_t got = 0; got < n;) {
        ssize_t m = srv_relay_read(r, out + got, n - got < max ? n - got : max);
        if (m <= 0)
            return RL_EIO;
        got += (size_t)m;
    }
    return RL_OK;
}

TEST(server_relay_wraps_around_in_order) {
    static const struct {
        size_t cap, piece, read_max; // input
    } cases[] = {
        {16, 10, 6}, {16, 3, 5}, {16, 16, 1}, {17, 7, 16}, {64, 1, 64}, {64, 63, 2},
    };
    for (size_t i = 0; i < RL_COUNTOF(cases); i++) {
        struct owner o = {0};
        struct srv_relay r;
        ASSERT_OK(srv_relay_init(&r, cases[i].cap, false, "m", &ops, &o));
        char in[1000], out[1000];
        for (size_t k = 0; k < sizeof in; k++)
            in[k] = (char)('a' + k * 7 % 26);
        size_t sent = 0, got = 0;
        // Push whole pieces while they fit, then read one bounded read, until all is through:
        // head and tail go round the ring many times, at every offset.
        while (got < sizeof in) {
            size_t n = sizeof in - sent < cases[i].piece ? sizeof in - sent : cases[i].piece;
            if (n && srv_relay_push(&r, in + sent, n) == RL_OK) {
                sent += n;
                continue;
            }
            char buf[64];
            ssize_t m = srv_relay_read(&r, buf, cases[i].read_max);
            if (m <= 0)
                TEST_FAIL_("case %zu: read %zd with %zu bytes unread", i, m, sent - got);
            ASSERT(m <= (ssize_t)cases[i].read_max);
            memcpy(out + got, buf, (size_t)m);
            got += (size_t)m;
            ASSERT(r.len <= cases[i].cap);
        }
        if (memcmp(in, out, sizeof in) != 0)
            TEST_FAIL_("case %zu: the bytes came out changed", i);
        srv_relay_end(&r, NULL);
        char buf[8];
        ASSERT_EQ(srv_relay_read(&r, buf, sizeof buf), SRV_RELAY_END);
        ASSERT_EQ(o.wakes, 0); // nobody waited
        srv_relay_free(&r);
    }
    return 0;
}

TEST(server_relay_full_ring_pauses_the_writer) {
    struct owner o = {0};
    struct srv_relay r;
    ASSERT_OK(srv_relay_init(&r, 16, false, "m", &ops, &o));
    ASSERT_OK(srv_relay_push(&r, "0123456789ab", 12));
    // 8 bytes do not fit in the 4 left: none is taken, and the writer must wait.
    ASSERT_EQ(srv_relay_push(&r, "cdefghij", 8), SRV_RELAY_FULL);
    ASSERT_EQ(r.len, 12);
    ASSERT(r.writer_paused);
    char buf[16];
    ASSERT_EQ(srv_relay_read(&r, buf, 3), 3);
    ASSERT_EQ(o.unpauses, 0); // 7 free: not yet half the ring
    ASSERT_EQ(srv_relay_read(&r, buf, 1), 1);
    ASSERT_EQ(o.unpauses, 1); // 8 free
    ASSERT(!r.writer_paused);
    ASSERT_EQ(srv_relay_read(&r, buf, 16), 8);
    ASSERT_EQ(o.unpauses, 1); // told once
    ASSERT(memcmp(buf, "456789ab", 8) == 0);
    ASSERT_OK(srv_relay_push(&r, "cdefghij", 8));
    // A piece larger than the whole ring could never be taken.
    char big[17] = {0};
    ASSERT_EQ(srv_relay_push(&r, big, sizeof big), RL_ETOOBIG);
    ASSERT_EQ(srv_relay_read(&r, buf, 16), 8);
    ASSERT(memcmp(buf, "cdefghij", 8) == 0);
    srv_relay_free(&r);
    return 0;
}

TEST(server_relay_reader_waits_and_is_woken_once) {
    struct owner o = {0};
    struct srv_relay r;
    ASSERT_OK(srv_relay_init(&r, 64, false, "m", &ops, &o));
    char buf[64];
    ASSERT_EQ(srv_relay_read(&r, buf, sizeof buf), SRV_RELAY_WAIT);
    ASSERT(r.reader_waiting);
    ASSERT_OK(srv_relay_push(&r, "hello ", 6));
    ASSERT_OK(srv_relay_push(&r, "world", 5));
    ASSERT_EQ(o.wakes, 1);
    // Partial reads take what fits and leave the rest.
    ASSERT_EQ(srv_relay_read(&r, buf, 4), 4);
    ASSERT(memcmp(buf, "hell", 4) == 0);
    ASSERT_EQ(srv_relay_read(&r, buf, sizeof buf), 7);
    ASSERT(memcmp(buf, "o world", 7) == 0);
    ASSERT_EQ(srv_relay_read(&r, buf, sizeof buf), SRV_RELAY_WAIT);
    srv_relay_end(&r, NULL);
    ASSERT_EQ(o.wakes, 2); // the end wakes the reader too
    ASSERT_EQ(srv_relay_read(&r, buf, sizeof buf), SRV_RELAY_END);
    ASSERT_EQ(srv_relay_read(&r, buf, sizeof buf), SRV_RELAY_END);
    srv_relay_free(&r);
    // An opaque stream that failed ends broken, after what it held.
    o = (struct owner){0};
    ASSERT_OK(srv_relay_init(&r, 64, false, "m", &ops, &o));
    ASSERT_OK(srv_relay_push(&r, "abc", 3));
    srv_relay_end(&r, "Connection reset");
    ASSERT_EQ(srv_relay_read(&r, buf, sizeof buf), 3);
    ASSERT_EQ(srv_relay_read(&r, buf, sizeof buf), SRV_RELAY_BROKEN);
    ASSERT_EQ(o.breaks, 0); // only an event stream has an error event
    ASSERT_EQ(o.wakes, 0);
    srv_relay_free(&r);
    // A zeroed relay that was never started frees cleanly.
    struct srv_relay unused;
    memset(&unused, 0, sizeof unused);
    srv_relay_free(&unused);
    return 0;
}

TEST(server_relay_event_stream_ends_with_done_or_an_error_event) {
    static const char usage[] =
        "data: {\"usage\":{\"prompt_tokens\":31,\"completion_tokens\":7}}\n\n";
    static const struct {
        const char *pieces[4]; // input
        const char *error;
        const char *want_event; // output: NULL for a clean end, else a piece of the error event
    } cases[] = {
        {{"data: {\"x\":1}\n\n", usage, "data: [DO", "NE]\n\n"}, NULL, NULL},
        {{"data: {\"x\":1}\r\n\r\n", "data:[DONE]\r\n\r\n"}, NULL, NULL},
        {{"data: {\"x\":1}\n\n", usage}, NULL, "it closed without the final event"},
        {{"data: {\"x\":1}\n\ndata: [DO"}, NULL, "it closed without the final event"},
        {{"data: {\"x\":1}\n\n"}, "Connection reset by peer", "Connection reset by peer"},
        {{"data: [DONE]\n\n"}, "Timeout was reached", "Timeout was reached"},
    };
    for (size_t i = 0; i < RL_COUNTOF(cases); i++) {
        struct owner o = {0};
        struct srv_relay r;
        ASSERT_OK(srv_relay_init(&r, 32, true, "strong", &ops, &o));
        struct rl_buf in;
        rl_buf_init(&in, 1024);
        char out[1024];
        size_t got = 0;
        // Through a 32-byte ring, in 20-byte pieces read 7 bytes at a time: lines, and the
        // [DONE] event, are split at every place.
        for (size_t k = 0; k < RL_COUNTOF(cases[i].pieces) && cases[i].pieces[k]; k++) {
            const char *p = cases[i].pieces[k];
            ASSERT_OK(rl_buf_append(&in, p, strlen(p)));
            for (size_t n = strlen(p), sent = 0; sent < n;) {
                size_t take = n - sent < 20 ? n - sent : 20;
                if (srv_relay_push(&r, p + sent, take) == RL_OK) {
                    sent += take;
                    continue;
                }
                size_t m = r.len < 7 ? r.len : 7;
                ASSERT_OK(read_exactly(&r, out + got, m, 7));
                got += m;
            }
        }
        srv_relay_end(&r, cases[i].error);
        ASSERT_OK(read_exactly(&r, out + got, in.len - got, 7));
        if (memcmp(in.data, out, in.len) != 0)
            TEST_FAIL_("case %zu: the stream came out changed", i);
        char ev[1024];
        ssize_t m = srv_relay_read(&r, ev, sizeof ev - 1);
        if (!cases[i].want_event) {
            ASSERT_EQ(m, SRV_RELAY_END);
            ASSERT(r.events.saw_done);
        } else {
            ASSERT(m > 0);
            ev[m] = '\0';
            ASSERT_STR_CONTAINS(ev, "data: {\"error\":");
            ASSERT_STR_CONTAINS(ev, "upstream model 'strong' ended the stream early");
            ASSERT_STR_CONTAINS(ev, cases[i].want_event);
            ASSERT_STR_CONTAINS(ev, "\"code\":\"stream_interrupted\"");
            ASSERT(ev[m - 2] == '\n' && ev[m - 1] == '\n');
            ASSERT_EQ(srv_relay_read(&r, ev, sizeof ev), SRV_RELAY_END);
        }
        ASSERT_EQ(o.breaks, cases[i].want_event ? 1 : 0);
        bool has_usage = strstr(in.data, "usage") != NULL;
        ASSERT_EQ(r.events.have_usage, has_usage);
        if (has_usage) {
            ASSERT_EQ(r.events.prompt_tokens, 31);
            ASSERT_EQ(r.events.completion_tokens, 7);
        }
        rl_buf_free(&in);
        srv_relay_free(&r);
    }
    // An error event that does not fit in the client's buffer ends the response with an error.
    struct owner o = {0};
    struct srv_relay r;
    ASSERT_OK(srv_relay_init(&r, 32, true, "strong", &ops, &o));
    srv_relay_end(&r, NULL);
    char small[16];
    ASSERT_EQ(srv_relay_read(&r, small, sizeof small), SRV_RELAY_BROKEN);
    ASSERT_EQ(o.breaks, 1);
    ASSERT_EQ(srv_relay_read(&r, small, sizeof small), SRV_RELAY_END);
    srv_relay_free(&r);
    return 0;
}
