// JSON-line logging for the server: each event is one object on one line of stderr, written with
// a single write(2) so that lines from different threads never interleave. Values are escaped
// here; callers never pass secrets (upstream keys stay in struct srv_model and curl's headers).
// It does not rotate files or buffer: a supervisor (systemd, docker) collects stderr.
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <utf8proc.h>

#include "server/server.h"

static enum srv_log_level min_level = SRV_LOG_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void srv_log_set_level(enum srv_log_level min) {
    min_level = min;
}

// Room kept at the end of every line for the closing "}\n" (and a cut value's closing quote).
#define LOG_RESERVE 4

static const char hex[] = "0123456789abcdef";

// How many bytes at s[0..len) go into a JSON string as they are: a whole UTF-8 character other
// than a control character, '"' or '\\'; 0 when s[0] must be escaped. Bytes that are not UTF-8
// are escaped as U+FFFD, because JSON text must be UTF-8 (RFC 8259 §8.1) and the strings quoted
// here come from clients and get cut to a byte count (error messages, request paths).
static size_t verbatim(const char *s, size_t len) {
    unsigned char c = (unsigned char)s[0];
    if (c < 0x80)
        return c >= 0x20 && c != '"' && c != '\\' && c != 0x7f;
    utf8proc_int32_t cp;
    utf8proc_ssize_t n = utf8proc_iterate((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)len, &cp);
    return n > 0 ? (size_t)n : 0;
}

// The escape of the byte c (which verbatim() refused) into esc; returns its length.
static size_t escape(unsigned char c, char esc[6]) {
    if (c >= 0x80) {
        memcpy(esc, "\\ufffd", 6);
        return 6;
    }
    esc[0] = '\\';
    if (c == '"' || c == '\\' || c == '\n') {
        esc[1] = c == '\n' ? 'n' : (char)c;
        return 2;
    }
    memcpy(esc + 1, "u00", 3);
    esc[4] = hex[c >> 4];
    esc[5] = hex[c & 15];
    return 6;
}

int srv_json_quote(struct rl_buf *b, const char *s, size_t len) {
    int rc = rl_buf_append(b, "\"", 1);
    size_t run = 0; // start of the bytes copied verbatim in one append
    for (size_t i = 0; rc == RL_OK && i < len;) {
        size_t n = verbatim(s + i, len - i);
        if (n) {
            i += n;
            continue;
        }
        rc = rl_buf_append(b, s + run, i - run);
        char esc[6];
        size_t k = escape((unsigned char)s[i], esc);
        if (rc == RL_OK)
            rc = rl_buf_append(b, esc, k);
        run = ++i;
    }
    if (rc == RL_OK)
        rc = rl_buf_append(b, s + run, len - run);
    if (rc == RL_OK)
        rc = rl_buf_append(b, "\"", 1);
    return rc;
}

// Append raw bytes; a line that would overflow is switched off rather than cut mid-token.
static void put(struct srv_log *l, const char *s, size_t n) {
    if (!l->on || n > SRV_LOG_LINE_MAX - LOG_RESERVE - l->len) {
        l->on = false;
        return;
    }
    memcpy(l->buf + l->len, s, n);
    l->len += n;
}

// Append s as a JSON string, cut (between characters) when it does not fit.
static void put_quoted(struct srv_log *l, const char *s) {
    if (!l->on)
        return;
    size_t room = SRV_LOG_LINE_MAX - LOG_RESERVE - l->len;
    char *out = l->buf + l->len;
    size_t k = 0;
    if (room < 2) {
        l->on = false;
        return;
    }
    out[k++] = '"';
    size_t len = strlen(s);
    for (size_t i = 0; i < len && k + 7 < room;) {
        size_t n = verbatim(s + i, len - i);
        if (n) {
            memcpy(out + k, s + i, n);
            k += n;
            i += n;
        } else {
            k += escape((unsigned char)s[i++], out + k);
        }
    }
    out[k++] = '"';
    l->len += k;
}

// "YYYY-MM-DDTHH:MM:SS" of the current second, formatted once per second and thread.
static const char *timestamp(const struct timespec *ts) {
    static _Thread_local time_t last = -1;
    static _Thread_local char text[32];
    if (ts->tv_sec != last) {
        struct tm tm;
        gmtime_r(&ts->tv_sec, &tm);
        strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &tm);
        last = ts->tv_sec;
    }
    return text;
}

void srv_log_begin(struct srv_log *l, enum srv_log_level level, const char *msg) {
    l->len = 0;
    l->on = level >= min_level;
    if (!l->on)
        return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int n = snprintf(l->buf, SRV_LOG_LINE_MAX,
                     "{\"ts\":\"%s.%03ldZ\",\"level\":\"%s\",\"msg\":", timestamp(&ts),
                     ts.tv_nsec / 1000000, level_names[level]);
    l->len = n > 0 ? (size_t)n : 0;
    put_quoted(l, msg);
}

static void put_key(struct srv_log *l, const char *key) {
    put(l, ",\"", 2);
    put(l, key, strlen(key));
    put(l, "\":", 2);
}

void srv_log_str(struct srv_log *l, const char *key, const char *value) {
    if (!value)
        return;
    put_key(l, key);
    put_quoted(l, value);
}

void srv_log_int(struct srv_log *l, const char *key, long long value) {
    char num[32];
    int n = snprintf(num, sizeof num, "%lld", value);
    put_key(l, key);
    put(l, num, (size_t)n);
}

void srv_log_num(struct srv_log *l, const char *key, double value) {
    char num[40];
    // JSON has no NaN or infinity; such a value is logged as null.
    int n = isfinite(value) ? snprintf(num, sizeof num, "%.6g", value)
                            : snprintf(num, sizeof num, "null");
    put_key(l, key);
    put(l, num, (size_t)n);
}

void srv_log_end(struct srv_log *l) {
    if (!l->on)
        return;
    memcpy(l->buf + l->len, "}\n", 2);
    // A failed or short write of a log line cannot be reported anywhere better.
    ssize_t n = write(STDERR_FILENO, l->buf, l->len + 2);
    (void)n;
    l->on = false;
}

void srv_logf(enum srv_log_level level, const char *msg, const char *fmt, ...) {
    struct srv_log l;
    srv_log_begin(&l, level, msg);
    if (!l.on)
        return;
    char detail[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    srv_log_str(&l, "detail", detail);
    srv_log_end(&l);
}
