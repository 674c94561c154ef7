// Text lists (rl_texts_read): prompts, one per line or from a CSV column or a JSON member, for
// calibration samples and training-prompt lists.
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "data/data.h"
#include "data/reader.h"
#include "rl/battle.h"

struct texts {
    char **v;
    size_t n, cap;
    const char *column; // CSV column or JSON member, NULL for the defaults
};

static int texts_push(struct texts *t, const char *s, size_t len) {
    const char *start;
    len = rl__prompt_clean(s, len, &start);
    if (len == 0)
        return RL_OK;
    if (t->n == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 256;
        char **v = realloc(t->v, cap * sizeof *v);
        if (!v)
            return RL_ENOMEM;
        t->v = v;
        t->cap = cap;
    }
    t->v[t->n] = strndup(start, len);
    if (!t->v[t->n])
        return RL_ENOMEM;
    t->n++;
    return RL_OK;
}

static int texts_json_row(struct rl__reader *r, json_t *o, long line) {
    struct texts *t = r->texts;
    static const char *const defaults[] = {"prompt", "question", "turns"};
    json_t *v = NULL;
    if (t->column) {
        v = json_object_get(o, t->column);
    } else {
        for (size_t i = 0; i < RL_COUNTOF(defaults) && !v; i++)
            v = json_object_get(o, defaults[i]);
    }
    size_t len = 0;
    const char *s = json_is_string(v) ? json_string_value(v) : rl__json_first_turn(v, &len);
    if (json_is_string(v))
        len = json_string_length(v);
    if (!s)
        return rl__row_fail(r, line, "no text in member '%s'", t->column ? t->column : "prompt");
    return texts_push(t, s, len);
}

void rl_texts_free(char **texts, size_t n) {
    if (!texts)
        return;
    for (size_t i = 0; i < n; i++)
        free(texts[i]);
    free(texts);
}

long rl_texts_read(const char *spec_text, char ***out, char *errbuf) {
    *out = NULL;
    struct rl__spec spec;
    int rc = rl__spec_parse(spec_text, &spec, errbuf);
    if (rc != RL_OK)
        return rc;
    struct texts t = {0};
    t.column = rl__spec_get(&spec, "column");
    if (!t.column)
        t.column = rl__spec_get(&spec, "field");
    for (int i = 0; i < spec.n_opts; i++)
        if (!(spec.used & (1u << i)))
            return rl__errf(errbuf, RL_EINVAL, "%s: unknown option '%s' for a text list", spec.path,
                            spec.key[i]);
    char *data = NULL;
    size_t len = 0;
    rc = rl__data_load(spec.path, &data, &len, errbuf);
    if (rc != RL_OK)
        return rc;
    struct rl_battles_read_opts strict = {.strict = true};
    struct rl__reader r = {.texts = &t,
                           .opts = &strict,
                           .spec = &spec,
                           .path = spec.path,
                           .errbuf = errbuf,
                           .limit = -1};
    if (strstr(spec.path, ".csv")) {
        struct rl__dcsv c;
        struct rl__dcsv_row h, row;
        rl__dcsv_init(&c, data, len);
        rc = rl__csv_header(&r, &c, &h);
        int col = rc == RL_OK ? rl__dcsv_column(&h, t.column ? t.column : "prompt") : -1;
        if (rc == RL_OK && col < 0)
            rc = rl__errf(errbuf, RL_EFORMAT, "%s:1: no column '%s'", spec.path,
                          t.column ? t.column : "prompt");
        while (rc == RL_OK) {
            long line = c.line;
            int k = rl__dcsv_next(&c, &row);
            if (k == 0)
                break;
            if (k < 0 || row.n <= col)
                rc = rl__errf(errbuf, RL_EFORMAT, "%s:%ld: malformed CSV row", spec.path, line);
            else
                rc = texts_push(&t, row.field[col], row.len[col]);
        }
    } else if (strstr(spec.path, ".json")) {
        rc = rl__json_rows(&r, data, len, texts_json_row);
    } else {
        for (char *p = data, *end = data + len; p < end && rc == RL_OK;) {
            char *nl = memchr(p, '\n', (size_t)(end - p));
            char *stop = nl ? nl : end;
            rc = texts_push(&t, p, (size_t)(stop - p));
            p = nl ? nl + 1 : end;
        }
    }
    free(data);
    if (rc == RL_ENOMEM)
        rl__errf(errbuf, rc, "%s: out of memory", spec.path);
    if (rc != RL_OK) {
        rl_texts_free(t.v, t.n);
        return rc;
    }
    *out = t.v;
    return (long)t.n;
}
