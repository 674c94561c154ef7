// The plumbing every dataset reader shares (reader.h): data specs, row reporting, loading a file,
// and the CSV and JSON row loops. Every reader bounds its input and reports a bad row as
// "file:line: reason"; in lenient mode it skips the row and goes on, in strict mode it stops.
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/core.h"
#include "core/json.h"
#include "data/reader.h"

// Largest dataset file read, once decompressed (the Arena 55k CSV is about 180 MB).
#define MAX_FILE_BYTES (2ull << 30)

// ----------------------------------------------------------------------------
// Specs: "FORMAT:PATH[,key=value...]"

static const char *const formats[] = {"arena55k",    "arena", "judge",
                                      "alpaca_eval", "table", "capture"};

// Without a format prefix, guess from the file name.
static const char *guess_format(const char *path) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    if (strstr(base, "alpaca") || strncmp(base, "battles.csv", 11) == 0)
        return "alpaca_eval";
    if (strstr(base, "arena-human-preference") || strstr(base, "55k"))
        return "arena55k";
    if (strstr(base, "conversations"))
        return "arena";
    if (strstr(base, "gpt4_dataset") || strstr(base, "judge"))
        return "judge";
    return "table";
}

int rl__spec_parse(const char *text, struct rl__spec *s, char *errbuf) {
    memset(s, 0, sizeof *s);
    const char *colon = strchr(text, ':');
    const char *rest = text;
    if (colon && (size_t)(colon - text) < sizeof s->format) {
        for (size_t i = 0; i < RL_COUNTOF(formats); i++) {
            if (strlen(formats[i]) == (size_t)(colon - text) &&
                strncmp(text, formats[i], (size_t)(colon - text)) == 0) {
                snprintf(s->format, sizeof s->format, "%s", formats[i]);
                rest = colon + 1;
            }
        }
    }
    const char *comma = strchr(rest, ',');
    size_t path_len = comma ? (size_t)(comma - rest) : strlen(rest);
    if (path_len == 0)
        return rl__errf(errbuf, RL_EINVAL, "data spec '%s': no path", text);
    if (path_len >= sizeof s->path)
        return rl__errf(errbuf, RL_ETOOBIG, "data spec '%s': path too long", text);
    memcpy(s->path, rest, path_len);
    if (!s->format[0])
        snprintf(s->format, sizeof s->format, "%s", guess_format(s->path));
    while (comma) {
        const char *item = comma + 1;
        comma = strchr(item, ',');
        size_t n = comma ? (size_t)(comma - item) : strlen(item);
        const char *eq = memchr(item, '=', n);
        if (!eq || eq == item)
            return rl__errf(errbuf, RL_EINVAL, "data spec '%s': '%.*s' is not key=value", text,
                            (int)n, item);
        size_t kn = (size_t)(eq - item), vn = n - kn - 1;
        if (s->n_opts >= RL_SPEC_MAX_OPTS || kn >= sizeof s->key[0] || vn >= sizeof s->value[0])
            return rl__errf(errbuf, RL_ETOOBIG, "data spec '%s': too many or too long options",
                            text);
        memcpy(s->key[s->n_opts], item, kn);
        memcpy(s->value[s->n_opts], eq + 1, vn);
        s->n_opts++;
    }
    return RL_OK;
}

const char *rl__spec_get(struct rl__spec *s, const char *key) {
    for (int i = 0; i < s->n_opts; i++) {
        if (strcmp(s->key[i], key) == 0) {
            s->used |= 1u << i;
            return s->value[i];
        }
    }
    return NULL;
}

int rl__parse_double(const char *s, size_t len, double *out) {
    char tmp[64];
    while (len > 0 && isspace((unsigned char)*s)) {
        s++;
        len--;
    }
    while (len > 0 && isspace((unsigned char)s[len - 1]))
        len--;
    if (len == 0 || len >= sizeof tmp)
        return RL_EFORMAT;
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    if (strcasecmp(tmp, "true") == 0) {
        *out = 1;
        return RL_OK;
    }
    if (strcasecmp(tmp, "false") == 0) {
        *out = 0;
        return RL_OK;
    }
    char *end;
    errno = 0;
    double v = strtod(tmp, &end);
    if (end == tmp || *end != '\0' || errno == ERANGE || !isfinite(v))
        return RL_EFORMAT;
    *out = v;
    return RL_OK;
}

int rl__spec_double(struct rl__spec *s, const char *key, double def, double lo, double hi,
                    double *out, char *errbuf) {
    const char *v = rl__spec_get(s, key);
    *out = def;
    if (!v)
        return RL_OK;
    if (rl__parse_double(v, strlen(v), out) != RL_OK || *out < lo || *out > hi)
        return rl__errf(errbuf, RL_EINVAL, "%s: option %s=%s: expected a number in [%g, %g]",
                        s->path, key, v, lo, hi);
    return RL_OK;
}

// ----------------------------------------------------------------------------
// Reader context and row reporting

// A malformed row: in strict mode fail with the message, else report it and go on (returns 0).
int rl__row_fail(struct rl__reader *r, long line, const char *fmt, ...) {
    char msg[RL_ERRBUF_SIZE];
    int n = snprintf(msg, sizeof msg, "%s:%ld: ", r->path, line);
    va_list ap;
    va_start(ap, fmt);
    if (n >= 0 && (size_t)n < sizeof msg)
        vsnprintf(msg + n, sizeof msg - (size_t)n, fmt, ap);
    va_end(ap);
    r->bad++;
    if (r->opts && r->opts->strict)
        return rl__errf(r->errbuf, RL_EFORMAT, "%s", msg);
    if (r->opts && r->opts->warn)
        r->opts->warn(r->opts->warn_ctx, msg);
    return 0;
}

// The whole file (decompressed when it ends in .gz), NUL-terminated.
int rl__data_read(const char *path, char **data, size_t *len, char *errbuf) {
    return rl_file_read(path, MAX_FILE_BYTES, data, len, errbuf);
}

// ----------------------------------------------------------------------------
// CSV helpers

int rl__csv_header(struct rl__reader *r, struct rl__dcsv *c, struct rl__dcsv_row *h) {
    int rc = rl__dcsv_next(c, h);
    if (rc == 0)
        return rl__errf(r->errbuf, RL_EFORMAT, "%s: empty file", r->path);
    if (rc < 0)
        return rl__errf(r->errbuf, RL_EFORMAT, "%s:1: malformed CSV header", r->path);
    return RL_OK;
}

int rl__csv_need_cols(struct rl__reader *r, const struct rl__dcsv_row *h, const char *const *names,
                      int n, int *cols) {
    for (int i = 0; i < n; i++) {
        cols[i] = rl__dcsv_column(h, names[i]);
        if (cols[i] < 0)
            return rl__errf(r->errbuf, RL_EFORMAT, "%s:1: no column '%s' in the header", r->path,
                            names[i]);
    }
    return RL_OK;
}

// Iterate the data rows of a CSV file, calling fn on each well-formed one.
int rl__csv_rows(struct rl__reader *r, struct rl__dcsv *c, int n_cols, const int *cols,
                 rl__csv_row_fn fn) {
    struct rl__dcsv_row row;
    for (;;) {
        if (r->limit >= 0 && r->rows >= r->limit)
            return RL_OK;
        long line = c->line;
        int rc = rl__dcsv_next(c, &row);
        if (rc == 0)
            return RL_OK;
        r->rows++;
        if (rc < 0) {
            rc = rl__row_fail(r, line, "malformed CSV (unterminated quote or too many fields)");
            if (rc < 0)
                return rc;
            continue;
        }
        int max_col = 0;
        for (int i = 0; i < n_cols; i++)
            max_col = cols[i] > max_col ? cols[i] : max_col;
        if (row.n <= max_col) {
            rc = rl__row_fail(r, row.line, "%d fields, expected at least %d", row.n, max_col + 1);
        } else {
            rc = fn(r, &row, cols);
        }
        if (rc < 0)
            return rc;
    }
}

// ----------------------------------------------------------------------------
// JSON helpers

// A prompt given as a JSON list of turns: the first turn. NULL when it is not such a list.
const char *rl__json_first_turn(json_t *turns, size_t *len) {
    if (!json_is_array(turns) || json_array_size(turns) == 0)
        return NULL;
    json_t *t = json_array_get(turns, 0);
    if (json_is_object(t))
        t = json_object_get(t, "content");
    if (!json_is_string(t))
        return NULL;
    *len = json_string_length(t);
    return json_string_value(t);
}

// Iterate a JSON array of objects or a JSONL file, calling fn(r, object, line).
int rl__json_rows(struct rl__reader *r, char *data, size_t len, rl__json_row_fn fn) {
    json_error_t err;
    const char *p = data;
    while (p < data + len && isspace((unsigned char)*p))
        p++;
    if (p < data + len && *p == '[') {
        json_t *arr;
        int rc = rl__json_parse(r->path, data, len, 0, &arr, r->errbuf);
        if (rc != RL_OK)
            return rc;
        for (size_t i = 0; i < json_array_size(arr) && rc >= 0; i++) {
            if (r->limit >= 0 && r->rows >= r->limit)
                break;
            r->rows++;
            json_t *o = json_array_get(arr, i);
            // For an array the "line" reported is the element number, counted from 1.
            rc = json_is_object(o) || (r->texts && json_is_string(o))
                     ? fn(r, o, (long)i + 1)
                     : rl__row_fail(r, (long)i + 1, "element is not an object");
        }
        json_decref(arr);
        return rc < 0 ? rc : RL_OK;
    }
    struct rl__lines it;
    rl__lines_init(&it, data, len);
    json_t *o;
    while (rl__jsonl_next(&it, &o, &err)) {
        long line = (long)it.line;
        if (r->limit >= 0 && r->rows >= r->limit) {
            json_decref(o);
            break;
        }
        r->rows++;
        int rc;
        if (!o)
            rc = rl__row_fail(r, line, "invalid JSON: %s", err.text);
        else if (!json_is_object(o) && !(r->texts && json_is_string(o)))
            rc = rl__row_fail(r, line, "not a JSON object");
        else
            rc = fn(r, o, line);
        json_decref(o);
        if (rc < 0)
            return rc;
    }
    return RL_OK;
}

const char *rl__json_str(json_t *o, const char *key, size_t *len) {
    json_t *v = json_object_get(o, key);
    if (!json_is_string(v))
        return NULL;
    if (len)
        *len = json_string_length(v);
    return json_string_value(v);
}

int rl__json_num(json_t *v, double *out) {
    if (json_is_number(v)) {
        *out = json_number_value(v);
        return isfinite(*out) ? RL_OK : RL_EFORMAT;
    }
    if (json_is_boolean(v)) {
        *out = json_is_true(v) ? 1 : 0;
        return RL_OK;
    }
    if (json_is_string(v))
        return rl__parse_double(json_string_value(v), json_string_length(v), out);
    return RL_EFORMAT;
}
