// HTTP/1.1 request framing, strictly (RFC 9112): the request head and the chunked body decoder.
// Both are pure functions over bytes, so the request path can be fuzzed without sockets
// (fuzz/http_request.c). Strictness is the point: every ambiguity a front proxy and this server
// could read differently (two Content-Lengths, a length that is not a plain decimal, whitespace
// before a colon, a folded line, a bare CR or LF, a control byte, a transfer coding other than
// chunked, both framings at once) is refused with one status before any body byte is read, so a
// request cannot be smuggled past a proxy in front of this one.
#include <string.h>
#include <strings.h>

#include "server/server.h"

#define HTTP_MAX_METHOD   15
#define HTTP_MAX_LEN_DIGS 18   // a Content-Length of 19 digits could overflow uint64
#define HTTP_MAX_HEXDIGS  15   // chunk sizes below 2^60
#define HTTP_MAX_CHUNKEXT 4096 // bytes of chunk extensions per chunk
#define HTTP_MAX_TRAILERS 8192 // bytes of trailer fields after the last chunk

// tchar of RFC 9110: the characters of a token (methods, field names).
static bool is_tchar(unsigned char ch) {
    if ((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z'))
        return true;
    return ch && strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

// A field value's characters: visible ASCII, space, tab and obs-text; no control byte.
static bool is_value_char(unsigned char ch) {
    return ch == '\t' || ch >= 0x20 ? ch != 0x7f : false;
}

static bool token_eq(const char *p, size_t n, const char *lit) {
    return strlen(lit) == n && strncasecmp(p, lit, n) == 0;
}

const char *srv_http_field(const struct srv_http_head *h, const char *name, size_t *len) {
    for (size_t i = 0; i < h->n_fields; i++) {
        const struct srv_http_field *f = &h->fields[i];
        if (token_eq(f->name, f->name_len, name)) {
            if (len)
                *len = f->value_len;
            return f->value;
        }
    }
    return NULL;
}

static int refuse(const char **why, const char *what, int status) {
    *why = what;
    return status;
}

// "METHOD SP target SP HTTP/1.x" of line[0..n).
static int parse_request_line(const char *line, size_t n, struct srv_http_head *h,
                              const char **why) {
    size_t i = 0;
    while (i < n && is_tchar((unsigned char)line[i]))
        i++;
    if (i == 0 || i > HTTP_MAX_METHOD || i >= n || line[i] != ' ')
        return refuse(why, "malformed request line", 400);
    memcpy(h->method, line, i);
    h->method[i] = '\0';
    size_t t0 = ++i;
    while (i < n && (unsigned char)line[i] > 0x20 && (unsigned char)line[i] < 0x7f)
        i++;
    if (i == t0 || i >= n || line[i] != ' ' || line[t0] != '/')
        return refuse(why, "malformed request target", 400);
    h->target = line + t0;
    h->target_len = i - t0;
    const char *v = line + i + 1;
    size_t vn = n - i - 1;
    if (vn != 8 || memcmp(v, "HTTP/", 5) != 0 || v[6] != '.' || v[5] < '0' || v[5] > '9' ||
        v[7] < '0' || v[7] > '9')
        return refuse(why, "malformed HTTP version", 400);
    if (v[5] != '1' || (v[7] != '0' && v[7] != '1'))
        return refuse(why, "only HTTP/1.0 and HTTP/1.1 are supported", 505);
    h->minor = v[7] - '0';
    return 0;
}

// "name: value" of line[0..n), with the value's surrounding whitespace dropped.
static int parse_field(const char *line, size_t n, struct srv_http_head *h, const char **why) {
    if (line[0] == ' ' || line[0] == '\t')
        return refuse(why, "folded header lines are not accepted", 400);
    size_t i = 0;
    while (i < n && is_tchar((unsigned char)line[i]))
        i++;
    if (i < n && (line[i] == ' ' || line[i] == '\t'))
        return refuse(why, "whitespace before a header's colon", 400);
    if (i == 0 || i >= n || line[i] != ':')
        return refuse(why, "malformed header line", 400);
    size_t v0 = i + 1, v1 = n;
    for (size_t k = v0; k < v1; k++)
        if (!is_value_char((unsigned char)line[k]))
            return refuse(why, "a control character in a header value", 400);
    while (v0 < v1 && (line[v0] == ' ' || line[v0] == '\t'))
        v0++;
    while (v1 > v0 && (line[v1 - 1] == ' ' || line[v1 - 1] == '\t'))
        v1--;
    if (h->n_fields == SRV_HTTP_MAX_FIELDS)
        return refuse(why, "too many header fields", 431);
    h->fields[h->n_fields++] = (struct srv_http_field){line, i, line + v0, v1 - v0};
    return 0;
}

// Does the comma-separated list value[0..n) hold `token` (case-insensitive)?
static bool list_has(const char *value, size_t n, const char *token) {
    size_t i = 0;
    while (i < n) {
        while (i < n && (value[i] == ' ' || value[i] == '\t' || value[i] == ','))
            i++;
        size_t s = i;
        while (i < n && value[i] != ',')
            i++;
        size_t e = i;
        while (e > s && (value[e - 1] == ' ' || value[e - 1] == '\t'))
            e--;
        if (e > s && token_eq(value + s, e - s, token))
            return true;
    }
    return false;
}

// What the fields say about framing and the connection, checked for every ambiguity.
static int read_semantics(struct srv_http_head *h, const char **why) {
    int n_length = 0, n_te = 0, n_host = 0;
    bool close = false, keep = false;
    for (size_t i = 0; i < h->n_fields; i++) {
        const struct srv_http_field *f = &h->fields[i];
        if (token_eq(f->name, f->name_len, "Content-Length")) {
            if (++n_length > 1)
                return refuse(why, "more than one Content-Length", 400);
            if (f->value_len == 0 || f->value_len > HTTP_MAX_LEN_DIGS)
                return refuse(why, "invalid Content-Length", 400);
            uint64_t v = 0;
            for (size_t k = 0; k < f->value_len; k++) {
                if (f->value[k] < '0' || f->value[k] > '9')
                    return refuse(why, "invalid Content-Length", 400);
                v = v * 10 + (uint64_t)(f->value[k] - '0');
            }
            h->has_length = true;
            h->length = v;
        } else if (token_eq(f->name, f->name_len, "Transfer-Encoding")) {
            if (++n_te > 1)
                return refuse(why, "more than one Transfer-Encoding", 400);
            if (!token_eq(f->value, f->value_len, "chunked"))
                return refuse(why, "the only transfer coding accepted is chunked", 501);
            h->chunked = true;
        } else if (token_eq(f->name, f->name_len, "Host")) {
            n_host++;
        } else if (token_eq(f->name, f->name_len, "Connection")) {
            close |= list_has(f->value, f->value_len, "close");
            keep |= list_has(f->value, f->value_len, "keep-alive");
        } else if (token_eq(f->name, f->name_len, "Expect")) {
            if (!token_eq(f->value, f->value_len, "100-continue"))
                return refuse(why, "the only expectation accepted is 100-continue", 417);
            h->expect_continue = h->minor == 1;
        }
    }
    if (h->chunked && h->has_length)
        return refuse(why, "both Transfer-Encoding and Content-Length", 400);
    if (h->chunked && h->minor == 0)
        return refuse(why, "Transfer-Encoding in an HTTP/1.0 request", 400);
    if (h->minor == 1 && n_host != 1)
        return refuse(why, n_host ? "more than one Host" : "no Host header", 400);
    h->keep_alive = h->minor == 1 ? !close : keep && !close;
    return 0;
}

int srv_http_parse_head(const char *buf, size_t len, size_t max, struct srv_http_head *h,
                        const char **why) {
    memset(h, 0, sizeof *h);
    *why = NULL;
    size_t start = 0; // empty lines before a request are ignored (RFC 9112, 2.2)
    while (start + 1 < len && buf[start] == '\r' && buf[start + 1] == '\n' && start < max)
        start += 2;
    const char *end = NULL;
    size_t scan = len < max ? len : max;
    if (scan > start)
        end = memmem(buf + start, scan - start, "\r\n\r\n", 4);
    if (!end) {
        if (len >= max)
            return refuse(why, "the request head is too large", 431);
        // Refuse a broken request line early, without waiting for the rest of the head.
        const char *eol = len > start ? memchr(buf + start, '\n', len - start) : NULL;
        if (eol && (eol == buf + start || eol[-1] != '\r'))
            return refuse(why, "a bare LF in the request head", 400);
        if (eol) {
            int st = parse_request_line(buf + start, (size_t)(eol - 1 - (buf + start)), h, why);
            memset(h, 0, sizeof *h);
            if (st)
                return st;
        }
        return 0;
    }
    h->len = (size_t)(end - buf) + 4;
    const char *p = buf + start, *stop = end + 2; // the last line's CRLF included
    bool first = true;
    while (p < stop) {
        const char *cr = memchr(p, '\r', (size_t)(stop - p));
        if (!cr || cr[1] != '\n')
            return refuse(why, "a bare CR in the request head", 400);
        size_t n = (size_t)(cr - p);
        if (memchr(p, '\n', n))
            return refuse(why, "a bare LF in the request head", 400);
        int st = first ? parse_request_line(p, n, h, why) : parse_field(p, n, h, why);
        if (st)
            return st;
        first = false;
        p = cr + 2;
    }
    int st = read_semantics(h, why);
    return st ? st : 1;
}

// ----------------------------------------------------------------------------
// Chunked bodies

enum {
    CH_SIZE,       // hex digits of a chunk size
    CH_EXT,        // a chunk extension, up to CR
    CH_SIZE_LF,    // LF after the size line
    CH_DATA,       // `left` bytes of data
    CH_DATA_CR,    // CR after the data
    CH_DATA_LF,    // LF after the data
    CH_TRAILER,    // start of a trailer line (CR here ends the body)
    CH_TRAILER_IN, // inside a trailer line
    CH_TRAILER_LF, // LF after a trailer line
    CH_END_LF,     // the LF that ends the body
    CH_DONE
};

void srv_chunked_init(struct srv_chunked *c) {
    memset(c, 0, sizeof *c);
}

int srv_chunked_decode(struct srv_chunked *c, char *buf, size_t n, size_t *data_len, size_t *used,
                       const char **why) {
    size_t out = 0, i = 0;
    *why = NULL;
    *data_len = 0;
    *used = 0;
    while (i < n && c->state != CH_DONE) {
        unsigned char ch = (unsigned char)buf[i];
        switch (c->state) {
        case CH_SIZE: {
            int d = ch >= '0' && ch <= '9'   ? ch - '0'
                    : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
                    : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                             : -1;
            if (d >= 0) {
                if (++c->digits > HTTP_MAX_HEXDIGS)
                    return refuse(why, "chunk size too large", 400);
                c->left = c->left * 16 + (uint64_t)d;
            } else if (c->digits && (ch == ';' || ch == '\r')) {
                c->state = ch == ';' ? CH_EXT : CH_SIZE_LF;
                c->extra = 0;
            } else {
                return refuse(why, "malformed chunk size", 400);
            }
            i++;
            break;
        }
        case CH_EXT:
            if (ch == '\r')
                c->state = CH_SIZE_LF;
            else if (!is_value_char(ch) || ++c->extra > HTTP_MAX_CHUNKEXT)
                return refuse(why, "malformed chunk extension", 400);
            i++;
            break;
        case CH_SIZE_LF:
            if (ch != '\n')
                return refuse(why, "malformed chunk size line", 400);
            c->state = c->left ? CH_DATA : CH_TRAILER;
            c->digits = 0;
            c->extra = 0;
            i++;
            break;
        case CH_DATA: {
            size_t take = n - i < c->left ? n - i : (size_t)c->left;
            memmove(buf + out, buf + i, take);
            out += take;
            i += take;
            c->left -= take;
            if (!c->left)
                c->state = CH_DATA_CR;
            break;
        }
        case CH_DATA_CR:
        case CH_DATA_LF:
            if (ch != (c->state == CH_DATA_CR ? '\r' : '\n'))
                return refuse(why, "chunk data not followed by CRLF", 400);
            c->state = c->state == CH_DATA_CR ? CH_DATA_LF : CH_SIZE;
            i++;
            break;
        case CH_TRAILER:
        case CH_TRAILER_IN:
            if (ch == '\r') {
                c->state = c->state == CH_TRAILER ? CH_END_LF : CH_TRAILER_LF;
            } else if (!is_value_char(ch) || ++c->extra > HTTP_MAX_TRAILERS) {
                return refuse(why, "malformed trailer", 400);
            } else {
                c->state = CH_TRAILER_IN;
            }
            i++;
            break;
        case CH_TRAILER_LF:
        case CH_END_LF:
            if (ch != '\n')
                return refuse(why, "malformed trailer line", 400);
            c->state = c->state == CH_END_LF ? CH_DONE : CH_TRAILER;
            i++;
            break;
        }
    }
    *data_len = out;
    *used = i;
    return c->state == CH_DONE ? 1 : 0;
}
