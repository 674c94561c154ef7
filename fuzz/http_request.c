// Fuzz target: the proxy's HTTP/1.1 request framing (src/server/http1.c), which reads every byte
// a client sends before anything else does. The first byte picks how the bytes after the head are
// split when fed to the chunked decoder. Checked: a parsed head lies inside the input and within
// the limit, its fields carry no CR, LF or NUL, it never has both framings; a refusal is a 4xx or
// 5xx with a reason; the chunked decoder gives the same body and the same end however its input
// is split, never reads past it, and never produces more bytes than it was given.
#include <stdbool.h>

#include "fuzz.h"
#include "server/server.h"

#define HEAD_MAX 4096

// Decode buf[0..n) in pieces of `step` bytes into out; returns the status and *end (bytes used).
static int decode(const uint8_t *in, size_t n, size_t step, char *out, size_t *out_len,
                  size_t *end) {
    char *copy = malloc(n ? n : 1);
    if (!copy)
        abort();
    memcpy(copy, in, n);
    struct srv_chunked c;
    srv_chunked_init(&c);
    size_t off = 0;
    int rc = 0;
    *out_len = 0;
    while (off < n && rc == 0) {
        size_t k = n - off < step ? n - off : step, len, used;
        const char *why;
        rc = srv_chunked_decode(&c, copy + off, k, &len, &used, &why);
        if (used > k || len > used || (rc == 0 && used != k) || (rc > 1 && !why))
            abort();
        memcpy(out + *out_len, copy + off, len);
        *out_len += len;
        off += used;
    }
    *end = off;
    free(copy);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    size_t step = 1 + data[0] % 17;
    data++, size--;
    struct srv_http_head h;
    const char *why;
    int rc = srv_http_parse_head((const char *)data, size, HEAD_MAX, &h, &why);
    if (rc == 0 || (rc >= 400 && rc < 600 && why))
        ; // more needed, or refused with a reason
    else if (rc != 1)
        abort();
    if (rc == 1) {
        if (h.len > size || h.len > HEAD_MAX || (h.chunked && h.has_length))
            abort();
        for (size_t i = 0; i < h.n_fields; i++) {
            const struct srv_http_field *f = &h.fields[i];
            if (f->value < (const char *)data ||
                f->value + f->value_len > (const char *)data + h.len)
                abort();
            if (memchr(f->value, '\r', f->value_len) || memchr(f->value, '\n', f->value_len) ||
                memchr(f->value, '\0', f->value_len))
                abort();
        }
    }
    // The chunked decoder on what follows the head (or on everything, when there is none).
    const uint8_t *body = rc == 1 ? data + h.len : data;
    size_t n = rc == 1 ? size - h.len : size;
    char *a = malloc(n + 1), *b = malloc(n + 1);
    if (!a || !b)
        abort();
    size_t a_len, b_len, a_end, b_end;
    int ra = decode(body, n, n ? n : 1, a, &a_len, &a_end);
    int rb = decode(body, n, step, b, &b_len, &b_end);
    if (ra != rb || (ra != 400 && (a_len != b_len || a_end != b_end || memcmp(a, b, a_len) != 0)))
        abort(); // the split changed the meaning
    free(a);
    free(b);
    return 0;
}
