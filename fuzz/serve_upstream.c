// Fuzz target: what the proxy reads from an upstream's answer. The bytes are taken both as a
// buffered (non-streaming) response, parsed as answered() in src/server/attempt.c parses it and
// read by srv_usage, and as a text/event-stream relayed through srv_sse_scan. The stream is
// scanned whole, in uneven pieces (as curl hands them over), and after an over-long line: the
// three scans must agree, and reported token counts are never negative.
#include <stdbool.h>

#include "fuzz.h"
#include "server/server.h"

struct verdict {
    bool saw_done, have_usage;
    long prompt_tokens, completion_tokens;
};

static struct verdict finish(struct srv_sse *s) {
    struct verdict v = {s->saw_done, s->have_usage, 0, 0};
    if (v.have_usage) {
        if (s->prompt_tokens < 0 || s->completion_tokens < 0)
            abort(); // would be added to the unsigned token counters
        v.prompt_tokens = s->prompt_tokens;
        v.completion_tokens = s->completion_tokens;
    }
    srv_sse_free(s);
    return v;
}

static bool same(const struct verdict *x, const struct verdict *y) {
    return x->saw_done == y->saw_done && x->have_usage == y->have_usage &&
           x->prompt_tokens == y->prompt_tokens && x->completion_tokens == y->completion_tokens;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *text = (const char *)data;

    json_t *j = json_loadb(text, size, 0, NULL);
    long p = -1, c = -1;
    if (j && srv_usage(j, &p, &c) && (p < 0 || c < 0))
        abort();
    json_decref(j);

    struct srv_sse whole;
    srv_sse_init(&whole);
    srv_sse_scan(&whole, text, size);
    struct verdict a = finish(&whole);

    static const size_t pieces[] = {1, 5, 64, 3, 4096, 2, 16384, 17};
    struct srv_sse split;
    srv_sse_init(&split);
    for (size_t at = 0, k = 0; at < size; k++) {
        size_t n = pieces[k % RL_COUNTOF(pieces)];
        n = n < size - at ? n : size - at;
        srv_sse_scan(&split, text + at, n);
        at += n;
    }
    struct verdict b = finish(&split);

    // A line longer than SRV_SSE_LINE_MAX is skipped whole and changes nothing after it.
    static char long_line[SRV_SSE_LINE_MAX + 2];
    if (!long_line[0]) {
        memcpy(long_line, "data: ", 6);
        memset(long_line + 6, 'x', sizeof long_line - 7);
        long_line[sizeof long_line - 1] = '\n';
    }
    struct srv_sse after;
    srv_sse_init(&after);
    for (size_t at = 0; at < sizeof long_line; at += 16384)
        srv_sse_scan(&after, long_line + at,
                     sizeof long_line - at < 16384 ? sizeof long_line - at : 16384);
    srv_sse_scan(&after, text, size);
    struct verdict d = finish(&after);

    if (!same(&a, &b) || !same(&a, &d))
        abort();
    fuzz_sink ^= (uint8_t)(a.saw_done + a.have_usage);
    return 0;
}
