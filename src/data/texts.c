// Text lists (rl/texts.h): the one reader of prompt lists, for calibration samples, the texts
// `train --exclude` keeps out, the evaluation's --train-prompts and the training-prompt lists
// that routers name. CSV and JSON rows come from the dataset readers' loops (reader.c), lines
// from core/json.h; the list's texts are trimmed as battle prompts are unless the caller asks for
// them exact.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "core/json.h"
#include "data/data.h"
#include "data/reader.h"
#include "rl/texts.h"

struct texts {
    struct rl_texts *out;
    size_t cap;
    const char *column; // CSV column or JSON member, NULL for the defaults
    bool exact;
    const char *second;          // rl_texts_load_pairs: the column read beside each text
    struct rl_texts *second_out; // its values, one per text kept; NULL for a plain list
    size_t second_cap;
    const char *second_val; // the current row's value (set before texts_push)
    size_t second_len;
};

// Append n bytes of s to list o (capacity *cap). RL_OK, RL_ETOOBIG or RL_ENOMEM.
static int list_push(struct rl_texts *o, size_t *cap, const char *s, size_t n) {
    if (o->n == RL_TEXTS_MAX)
        return RL_ETOOBIG;
    if (o->n == *cap) {
        size_t grown = *cap ? 2 * *cap : 256;
        char **v = realloc(o->items, grown * sizeof *v);
        if (!v)
            return RL_ENOMEM;
        o->items = v;
        *cap = grown;
    }
    o->items[o->n] = strndup(s, n);
    if (!o->items[o->n])
        return RL_ENOMEM;
    o->n++;
    return RL_OK;
}

// Keep one text (and, for a pair list, the row's second value beside it).
static int texts_push(struct texts *t, const char *s, size_t len) {
    const char *start = s;
    if (!t->exact)
        len = rl__prompt_clean(s, len, &start);
    if (len == 0)
        return RL_OK;
    if (t->second_out) {
        int rc = list_push(t->second_out, &t->second_cap, t->second_val, t->second_len);
        if (rc != RL_OK)
            return rc;
    }
    int rc = list_push(t->out, &t->cap, start, len);
    if (rc != RL_OK && t->second_out)
        free(t->second_out->items[--t->second_out->n]);
    return rc;
}

// A record's text: its member (the first of the defaults present), a string or the first turn of
// a list of turns; or the element itself when it is a string.
static int texts_json_row(struct rl__reader *r, json_t *o, long line) {
    struct texts *t = r->texts;
    static const char *const defaults[] = {"prompt", "question", "turns"};
    json_t *v = NULL;
    if (json_is_string(o))
        v = o;
    else if (t->column)
        v = json_object_get(o, t->column);
    for (size_t i = 0; !v && !t->column && i < RL_COUNTOF(defaults); i++)
        v = json_object_get(o, defaults[i]);
    size_t len = 0;
    const char *s = json_is_string(v) ? json_string_value(v) : rl__json_first_turn(v, &len);
    if (json_is_string(v))
        len = json_string_length(v);
    if (!s)
        return rl__row_fail(r, line, "no text in member '%s'", t->column ? t->column : "prompt");
    if (!t->second_out)
        return texts_push(t, s, len);
    // A pair list's second member: a string, or a number written as JSON writes it (a
    // reference answer such as 72).
    json_t *w = json_is_object(o) ? json_object_get(o, t->second) : NULL;
    char *num = json_is_number(w) ? json_dumps(w, JSON_ENCODE_ANY) : NULL;
    t->second_val = num ? num : json_string_value(w);
    t->second_len = num ? strlen(num) : json_string_length(w);
    int rc = t->second_val && t->second_len && !memchr(t->second_val, '\0', t->second_len)
                 ? texts_push(t, s, len)
                 : rl__row_fail(r, line, "no string or number in member '%s'", t->second);
    free(num);
    return rc;
}

// The column's cells; a cell holding a JSON list of turns gives its first turn.
static int texts_csv(struct rl__reader *r, struct texts *t, char *data, size_t len) {
    struct rl__dcsv c;
    struct rl__dcsv_row h, row;
    rl__dcsv_init(&c, data, len);
    int rc = rl__csv_header(r, &c, &h);
    const char *name = t->column ? t->column : "prompt";
    int col = rc == RL_OK ? rl__dcsv_column(&h, name) : -1;
    if (rc == RL_OK && col < 0)
        rc = rl__errf(r->errbuf, RL_EFORMAT, "%s:1: no column '%s'", r->path, name);
    int col2 = rc == RL_OK && t->second_out ? rl__dcsv_column(&h, t->second) : 0;
    if (rc == RL_OK && col2 < 0)
        rc = rl__errf(r->errbuf, RL_EFORMAT, "%s:1: no column '%s'", r->path, t->second);
    while (rc == RL_OK) {
        long line = c.line;
        int k = rl__dcsv_next(&c, &row);
        if (k == 0)
            break;
        if (k < 0 || row.n <= col || row.n <= col2) {
            rc = rl__errf(r->errbuf, RL_EFORMAT, "%s:%ld: malformed CSV row", r->path, line);
            break;
        }
        t->second_val = row.field[col2];
        t->second_len = row.len[col2];
        if (t->second_out && (!t->second_len || memchr(t->second_val, '\0', t->second_len))) {
            rc = rl__errf(r->errbuf, RL_EFORMAT, "%s:%ld: empty or binary '%s'", r->path, line,
                          t->second);
            break;
        }
        const char *cell = row.field[col];
        size_t n = row.len[col];
        json_t *list = cell[0] == '[' ? json_loadb(cell, n, 0, NULL) : NULL;
        size_t turn_len = 0;
        const char *turn = rl__json_first_turn(list, &turn_len);
        rc = turn ? texts_push(t, turn, turn_len) : texts_push(t, cell, n);
        json_decref(list);
    }
    return rc;
}

// One text per line; a line of spaces and tabs (before an optional '\r') is blank.
static int texts_lines(struct texts *t, const char *data, size_t len) {
    struct rl__lines it;
    rl__lines_init(&it, data, len);
    const char *s;
    size_t n;
    int rc = RL_OK;
    while (rc == RL_OK && rl__lines_next(&it, &s, &n)) {
        if (n && s[n - 1] == '\r')
            n--;
        size_t k = 0;
        while (k < n && (s[k] == ' ' || s[k] == '\t'))
            k++;
        if (k < n)
            rc = texts_push(t, s, n);
    }
    return rc;
}

static bool has_ext(const char *path, const char *ext) {
    char gz[16];
    snprintf(gz, sizeof gz, "%s.gz", ext);
    return rl_has_suffix(path, ext) || rl_has_suffix(path, gz);
}

void rl_texts_free(struct rl_texts *t) {
    for (size_t i = 0; t->items && i < t->n; i++)
        free(t->items[i]);
    free(t->items);
    t->items = NULL;
    t->n = 0;
}

// Read the file into t's lists (a plain list, or a pair list when t->second_out is set).
static int texts_load(const char *path, struct texts *t, char *errbuf) {
    struct rl_texts *out = t->out;
    char *data = NULL;
    size_t len = 0;
    int rc = rl__data_read(path, &data, &len, errbuf);
    if (rc != RL_OK)
        return rc;
    struct rl_battles_read_opts strict = {.strict = true};
    struct rl__reader r = {
        .texts = t, .opts = &strict, .path = path, .errbuf = errbuf, .limit = -1};
    if (memchr(data, '\0', len))
        rc = rl__errf(errbuf, RL_EFORMAT, "%s: binary data (a NUL byte) in a prompt file", path);
    else if (has_ext(path, ".csv"))
        rc = texts_csv(&r, t, data, len);
    else if (has_ext(path, ".json") || has_ext(path, ".jsonl"))
        rc = rl__json_rows(&r, data, len, texts_json_row);
    else if (t->second_out)
        rc = rl__errf(errbuf, RL_EFORMAT,
                      "%s: a text file has one text per line and no column '%s' (give a .csv, "
                      ".json or .jsonl file)",
                      path, t->second);
    else
        rc = texts_lines(t, data, len);
    free(data);
    if (rc == RL_ENOMEM)
        rl__errf(errbuf, rc, "%s: out of memory", path);
    else if (rc == RL_ETOOBIG)
        rl__errf(errbuf, rc, "%s: more than %u texts", path, RL_TEXTS_MAX);
    if (rc != RL_OK) {
        rl_texts_free(out);
        if (t->second_out)
            rl_texts_free(t->second_out);
    }
    return rc;
}

int rl_texts_load(const char *path, const struct rl_texts_params *p, struct rl_texts *out,
                  char *errbuf) {
    memset(out, 0, sizeof *out);
    if (strncmp(path, "capture:", 8) == 0)
        return rl__capture_texts(path + 8, out, errbuf);
    struct texts t = {.out = out, .column = p ? p->column : NULL, .exact = p && p->exact};
    return texts_load(path, &t, errbuf);
}

int rl_texts_load_pairs(const char *path, const struct rl_texts_params *p, const char *second,
                        struct rl_texts *out, struct rl_texts *seconds, char *errbuf) {
    memset(out, 0, sizeof *out);
    memset(seconds, 0, sizeof *seconds);
    if (!second || !*second)
        return rl__errf(errbuf, RL_EINVAL, "%s: no second column named", path);
    struct texts t = {.out = out,
                      .column = p ? p->column : NULL,
                      .exact = p && p->exact,
                      .second = second,
                      .second_out = seconds};
    return texts_load(path, &t, errbuf);
}

int rl_texts_load_spec(const char *spec_text, const struct rl_texts_params *p, struct rl_texts *out,
                       char *errbuf) {
    memset(out, 0, sizeof *out);
    struct rl__spec spec;
    int rc = rl__spec_parse(spec_text, &spec, errbuf);
    if (rc != RL_OK)
        return rc;
    struct rl_texts_params q = p ? *p : (struct rl_texts_params){0};
    const char *column = rl__spec_get(&spec, "column");
    if (!column)
        column = rl__spec_get(&spec, "field");
    if (column)
        q.column = column;
    for (int i = 0; i < spec.n_opts; i++)
        if (!(spec.used & (1u << i)))
            return rl__errf(errbuf, RL_EINVAL, "%s: unknown option '%s' for a text list", spec.path,
                            spec.key[i]);
    return rl_texts_load(spec.path, &q, out, errbuf);
}

int rl_texts_append(struct rl_texts *to, struct rl_texts *from) {
    if (from->n == 0)
        return RL_OK;
    char **v = realloc(to->items, (to->n + from->n) * sizeof *v);
    if (!v)
        return RL_ENOMEM;
    memcpy(v + to->n, from->items, from->n * sizeof *v);
    to->items = v;
    to->n += from->n;
    free(from->items);
    from->items = NULL;
    from->n = 0;
    return RL_OK;
}
