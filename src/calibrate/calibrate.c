// Threshold calibration (ROUTELLM.md §1.5): quantiles of router scores over a prompt sample, and
// the readers of prompt samples (JSONL, CSV, plain text). Scoring the sample is the caller's
// job (rl_eval_score); nothing here loads a router or an encoder.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/data.h"
#include "eval/eval_impl.h"
#include "rl/calibrate.h"
#include "rl/router.h"

#define MAX_PROMPTS (16u << 20)

// ----------------------------------------------------------------------------
// Quantiles

// np.quantile(x, q) with method "linear": virtual index (n - 1)·q, floor and fraction, and
// numpy's _lerp (from the nearer end), so results match pandas' Series.quantile.
int rl_calibrate_quantile(const double *scores, size_t n, double q, double *out) {
    if (!(q >= 0 && q <= 1))
        return RL_EINVAL;
    double *s;
    int rc = rl__sorted_scores(scores, n, &s);
    if (rc != RL_OK)
        return rc;
    double v = (double)(n - 1) * q;
    double lo = floor(v);
    size_t i = (size_t)lo, j = i + 1 < n ? i + 1 : n - 1;
    *out = rl__lerp(s[i], s[j], v - lo);
    free(s);
    return RL_OK;
}

int rl_calibrate_threshold(const double *scores, size_t n, double strong_frac, double *alpha) {
    if (!(strong_frac >= 0 && strong_frac <= 1))
        return RL_EINVAL;
    return rl_calibrate_quantile(scores, n, 1 - strong_frac, alpha);
}

size_t rl_calibrate_count_strong(const double *scores, size_t n, double alpha) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += rl_router_goes_strong(scores[i], alpha);
    return k;
}

// ----------------------------------------------------------------------------
// Prompt samples

static int add_prompt(struct rl_prompts *p, const char *text, size_t len) {
    if (p->n == MAX_PROMPTS)
        return RL_ETOOBIG;
    if (p->n % 256 == 0) {
        char **items = realloc(p->items, (p->n + 256) * sizeof *items);
        if (!items)
            return RL_ENOMEM;
        p->items = items;
    }
    char *copy = malloc(len + 1);
    if (!copy)
        return RL_ENOMEM;
    memcpy(copy, text, len);
    copy[len] = '\0';
    p->items[p->n++] = copy;
    return RL_OK;
}

void rl_prompts_free(struct rl_prompts *p) {
    for (size_t i = 0; i < p->n; i++)
        free(p->items[i]);
    free(p->items);
    p->items = NULL;
    p->n = 0;
}

// The first string of a JSON array, or NULL.
static const char *first_turn(json_t *v) {
    return json_is_array(v) ? json_string_value(json_array_get(v, 0)) : NULL;
}

// The prompt of a JSON record: the string "prompt" or the first entry of a "prompt" list, else
// the string "question" (RouterDC, GSM8K) or the first of "turns" (MT-Bench); NULL if none.
static const char *record_prompt(json_t *obj) {
    if (json_is_string(obj))
        return json_string_value(obj);
    json_t *v = json_object_get(obj, "prompt");
    if (v)
        return json_is_string(v) ? json_string_value(v) : first_turn(v);
    v = json_object_get(obj, "question");
    if (v)
        return json_string_value(v);
    return first_turn(json_object_get(obj, "turns"));
}

static int jsonl_prompt(void *ctx, json_t *obj, const char *path, size_t line, char *errbuf) {
    const char *text = record_prompt(obj);
    if (!text)
        return rl__errf(errbuf, RL_EFORMAT,
                        "%s:%zu: no \"prompt\" string (nor a list of turns in \"prompt\" or "
                        "\"turns\", nor a \"question\")",
                        path, line);
    int rc = add_prompt(ctx, text, strlen(text));
    if (rc != RL_OK)
        return rl__errf(errbuf, rc, "%s:%zu: too many prompts or out of memory", path, line);
    return RL_OK;
}

static int jsonl_prompts(struct rl_prompts *p, const char *path, const char *data, size_t len,
                         char *errbuf) {
    struct rl__lines it;
    rl__lines_init(&it, data, len);
    json_t *obj;
    json_error_t jerr;
    int rc = RL_OK;
    while (rc == RL_OK && rl__jsonl_next(&it, &obj, &jerr)) {
        if (!obj)
            rc = rl__errf(errbuf, RL_EFORMAT, "%s:%zu: invalid JSON: %s", path, it.line, jerr.text);
        else if (!json_is_object(obj))
            rc = rl__errf(errbuf, RL_EFORMAT, "%s:%zu: expected a JSON object", path, it.line);
        else
            rc = jsonl_prompt(p, obj, path, it.line, errbuf);
        json_decref(obj);
    }
    return rc;
}

// A JSON document holding one array of prompts (strings) or of records as in JSONL.
static int json_prompts(struct rl_prompts *p, const char *path, const char *data, size_t len,
                        char *errbuf) {
    json_error_t jerr;
    json_t *doc = json_loadb(data, len, 0, &jerr);
    if (!doc)
        return rl__errf(errbuf, RL_EFORMAT, "%s:%d: invalid JSON: %s", path, jerr.line, jerr.text);
    int rc = RL_OK;
    if (!json_is_array(doc))
        rc = rl__errf(errbuf, RL_EFORMAT, "%s: expected a JSON array of prompts", path);
    for (size_t i = 0; rc == RL_OK && i < json_array_size(doc); i++) {
        const char *text = record_prompt(json_array_get(doc, i));
        if (!text)
            rc =
                rl__errf(errbuf, RL_EFORMAT,
                         "%s: element %zu is neither a string nor a record with a prompt", path, i);
        else if ((rc = add_prompt(p, text, strlen(text))) != RL_OK)
            rl__errf(errbuf, rc, "%s: too many prompts or out of memory", path);
    }
    json_decref(doc);
    return rc;
}

// A CSV cell holding a JSON list of turns (the Arena 55k "prompt" column) gives its first turn;
// anything else is the prompt itself.
static int csv_prompts(struct rl_prompts *p, const char *path, char *data, size_t len,
                       char *errbuf) {
    struct rl__dcsv c;
    struct rl__dcsv_row *row = malloc(sizeof *row);
    if (!row)
        return rl__errf(errbuf, RL_ENOMEM, "%s: out of memory", path);
    rl__dcsv_init(&c, data, len);
    int col = -1, rc;
    for (;;) {
        long line = c.line;
        rc = rl__dcsv_read(&c, row, path, errbuf);
        if (rc < 0)
            break;
        if (rc == 0) {
            if (col < 0)
                rc = rl__errf(errbuf, RL_EFORMAT, "%s: empty file (expected a header line)", path);
            break;
        }
        if (col < 0) {
            col = rl__dcsv_column(row, "prompt");
            if (col < 0) {
                rc = rl__errf(errbuf, RL_EFORMAT, "%s:%ld: no \"prompt\" column in the header",
                              path, line);
                break;
            }
            continue;
        }
        if (col >= row->n) {
            rc = rl__errf(errbuf, RL_EFORMAT, "%s:%ld: %d fields, the prompt column is number %d",
                          path, line, row->n, col + 1);
            break;
        }
        const char *cell = row->field[col], *text = cell;
        json_t *list = NULL;
        if (cell[0] == '[') {
            list = json_loads(cell, 0, NULL);
            if (first_turn(list))
                text = first_turn(list);
        }
        rc = add_prompt(p, text, strlen(text));
        json_decref(list);
        if (rc != RL_OK) {
            rc = rl__errf(errbuf, rc, "%s:%ld: too many prompts or out of memory", path, line);
            break;
        }
    }
    free(row);
    return rc;
}

static int text_prompts(struct rl_prompts *p, const char *path, const char *data, size_t len,
                        char *errbuf) {
    const char *s = data, *end = data + len;
    size_t line = 0;
    while (s < end) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        const char *stop = nl ? nl : end;
        line++;
        size_t n = (size_t)(stop - s);
        if (n && s[n - 1] == '\r')
            n--;
        bool blank = true;
        for (size_t i = 0; i < n && blank; i++)
            blank = s[i] == ' ' || s[i] == '\t';
        if (!blank) {
            int rc = add_prompt(p, s, n);
            if (rc != RL_OK)
                return rl__errf(errbuf, rc, "%s:%zu: too many prompts or out of memory", path,
                                line);
        }
        s = nl ? nl + 1 : end;
    }
    return RL_OK;
}

int rl_prompts_load(const char *path, struct rl_prompts *out, char *errbuf) {
    memset(out, 0, sizeof *out);
    char *data;
    size_t len;
    int rc = rl_file_read(path, RL_EVAL_MAX_FILE, &data, &len, errbuf);
    if (rc != RL_OK)
        return rc;
    if (memchr(data, '\0', len))
        rc = rl__errf(errbuf, RL_EFORMAT, "%s: binary data (a NUL byte) in a prompt file", path);
    else if (rl_has_suffix(path, ".jsonl") || rl_has_suffix(path, ".jsonl.gz"))
        rc = jsonl_prompts(out, path, data, len, errbuf);
    else if (rl_has_suffix(path, ".json") || rl_has_suffix(path, ".json.gz"))
        rc = json_prompts(out, path, data, len, errbuf);
    else if (rl_has_suffix(path, ".csv") || rl_has_suffix(path, ".csv.gz"))
        rc = csv_prompts(out, path, data, len, errbuf);
    else
        rc = text_prompts(out, path, data, len, errbuf);
    free(data);
    if (rc == RL_OK && out->n == 0)
        rc = rl__errf(errbuf, RL_EINVAL, "%s: no prompts in the sample", path);
    if (rc != RL_OK)
        rl_prompts_free(out);
    return rc;
}
