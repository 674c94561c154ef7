// Score files: per-prompt router scores as JSONL lines {"prompt": "...", "score": number}, written
// by `eval --scores-out` and read by `eval --scores`, so that routers trained elsewhere (or on
// folds of the benchmark itself) go through the same protocol. Only the reader lives here; the
// writer is a few lines of the command. A score file is outside input: every line is validated.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "rl/eval.h"

struct score_entry {
    uint64_t hash;
    const char *prompt; // points into the parsed JSON, kept alive by the array
    double score;
};

static int entry_cmp(const void *x, const void *y) {
    const struct score_entry *a = x, *b = y;
    if (a->hash != b->hash)
        return a->hash < b->hash ? -1 : 1;
    return strcmp(a->prompt, b->prompt);
}

static uint64_t prompt_hash(const char *p) {
    return rl__fnv1a(p, strlen(p), RL_FNV1A_INIT);
}

// Every line is parsed and kept, then the entries are sorted by hash and text so that each
// benchmark prompt is found by binary search.
int rl_eval_scores_read(const char *path, const struct rl_bench *b, double *scores, char *errbuf) {
    char *data;
    size_t len;
    int rc = rl_file_read(path, RL_EVAL_MAX_SCORE_FILE, &data, &len, errbuf);
    if (rc != RL_OK)
        return rc;
    json_t *keep = json_array();
    struct score_entry *e = NULL;
    size_t n = 0, cap = 0;
    rc = keep ? RL_OK : RL_ENOMEM;
    struct rl__lines it;
    rl__lines_init(&it, data, len);
    json_t *o;
    json_error_t jerr;
    while (rc == RL_OK && rl__jsonl_next(&it, &o, &jerr)) {
        json_t *jp = json_object_get(o, "prompt"), *js = json_object_get(o, "score");
        if (!json_is_string(jp) || !json_is_number(js) || !isfinite(json_number_value(js))) {
            json_decref(o);
            rc = rl__errf(errbuf, RL_EFORMAT,
                          "%s:%zu: expected {\"prompt\": \"...\", \"score\": number}", path,
                          it.line);
            break;
        }
        if (n == cap) {
            cap = cap ? 2 * cap : 4096;
            struct score_entry *g = realloc(e, cap * sizeof *g);
            if (!g) {
                json_decref(o);
                rc = RL_ENOMEM;
                break;
            }
            e = g;
        }
        e[n++] = (struct score_entry){prompt_hash(json_string_value(jp)), json_string_value(jp),
                                      json_number_value(js)};
        if (json_array_append_new(keep, o) != 0)
            rc = RL_ENOMEM;
    }
    free(data);
    if (rc == RL_ENOMEM)
        rl__errf(errbuf, rc, "%s: out of memory", path);
    if (rc == RL_OK && n > 1)
        qsort(e, n, sizeof *e, entry_cmp);
    for (size_t i = 0; rc == RL_OK && i < b->n; i++) {
        struct score_entry key = {prompt_hash(b->prompts[i]), b->prompts[i], 0};
        struct score_entry *hit = n ? bsearch(&key, e, n, sizeof *e, entry_cmp) : NULL;
        if (!hit)
            rc = rl__errf(errbuf, RL_EINVAL, "%s: no score for prompt %zu of %s (\"%.60s...\")",
                          path, i + 1, b->name, b->prompts[i]);
        else
            scores[i] = hit->score;
    }
    free(e);
    json_decref(keep);
    return rc;
}
