// The proxy's capture folders (`serve`'s capture: section, docs/SERVER.md) read back: the
// prompts of its request lines (`label --prompts capture:DIR`, any text list), and battles from
// its feedback (`train --data capture:DIR`):
//   - {"preferred_model": P} on a request answered by M != P: P beats M;
//   - a rating of a request a pair router sent to its weak model: the weak model wins when the
//     rating is at least min_rating (0.5), else the strong one does; the paper's reading of a
//     graded weak answer (ROUTELLM.md §1.3, the judge labels). A rating of a strong answer says
//     nothing of the weak model and gives no battle;
//   - ratings of one prompt's answers by two models: the higher rating wins, equal ones tie.
// Files are read in name order (the rotated ones, capture-<time>-<n>.jsonl, then capture.jsonl),
// which is time order. Every line must be a JSON object; a request whose prompt was redacted
// has no text and gives nothing.
#include <dirent.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "core/json.h"
#include "data/reader.h"
#include "rl/texts.h"

#define CAPTURE_MAX_BYTES (4ull << 30) // all the files of a folder together, decompressed
#define MAX_FILES         100000

struct creq {
    const char *id, *prompt, *model, *weak, *strong; // borrowed from the parsed line
    json_t *line;
    double rating; // the latest rating of it, NAN without one
    bool rated;
};

struct capture {
    struct creq *reqs;
    size_t n_reqs, cap_reqs;
    json_t **fbs;
    size_t n_fbs, cap_fbs;
    size_t bytes;
};

static void capture_free(struct capture *c) {
    for (size_t i = 0; i < c->n_reqs; i++)
        json_decref(c->reqs[i].line);
    for (size_t i = 0; i < c->n_fbs; i++)
        json_decref(c->fbs[i]);
    free(c->reqs);
    free(c->fbs);
}

static int grow(void **p, size_t *cap, size_t n, size_t size) {
    if (n < *cap)
        return RL_OK;
    size_t grown = *cap ? 2 * *cap : 256;
    void *q = realloc(*p, grown * size);
    if (!q)
        return RL_ENOMEM;
    *p = q;
    *cap = grown;
    return RL_OK;
}

static const char *jstr(json_t *o, const char *key) {
    return json_string_value(json_object_get(o, key));
}

static int on_line(void *ctx, json_t *obj, const char *path, size_t line, char *errbuf) {
    struct capture *c = ctx;
    const char *type = jstr(obj, "type");
    if (!type || (strcmp(type, "request") != 0 && strcmp(type, "feedback") != 0))
        return rl__errf(errbuf, RL_EFORMAT,
                        "%s:%zu: not a capture line (no type request or "
                        "feedback)",
                        path, line);
    if (!jstr(obj, "id"))
        return rl__errf(errbuf, RL_EFORMAT, "%s:%zu: no string id", path, line);
    if (strcmp(type, "feedback") == 0) {
        if (grow((void **)&c->fbs, &c->cap_fbs, c->n_fbs, sizeof *c->fbs) != RL_OK)
            return rl__errf(errbuf, RL_ENOMEM, "out of memory");
        c->fbs[c->n_fbs++] = json_incref(obj);
        return RL_OK;
    }
    if (grow((void **)&c->reqs, &c->cap_reqs, c->n_reqs, sizeof *c->reqs) != RL_OK)
        return rl__errf(errbuf, RL_ENOMEM, "out of memory");
    c->reqs[c->n_reqs++] = (struct creq){jstr(obj, "id"),
                                         jstr(obj, "prompt"),
                                         jstr(obj, "model"),
                                         jstr(obj, "weak"),
                                         jstr(obj, "strong"),
                                         json_incref(obj),
                                         0,
                                         false};
    return RL_OK;
}

static int by_name(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

// Whether name is a capture file: capture.jsonl or capture-*.jsonl.
static bool capture_file(const char *name) {
    size_t n = strlen(name);
    return strcmp(name, "capture.jsonl") == 0 ||
           (strncmp(name, "capture-", 8) == 0 && n > 14 && strcmp(name + n - 6, ".jsonl") == 0);
}

// The rotated files sort before capture.jsonl ('-' < '.'), oldest first.
static int capture_load(const char *dir, struct capture *c, char *errbuf) {
    memset(c, 0, sizeof *c);
    DIR *d = opendir(dir);
    if (!d)
        return rl__errf(errbuf, RL_EIO, "capture:%s: cannot open the folder", dir);
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = RL_OK;
    struct dirent *e;
    while (rc == RL_OK && (e = readdir(d)) != NULL) {
        if (!capture_file(e->d_name))
            continue;
        if (n == MAX_FILES)
            rc = rl__errf(errbuf, RL_ETOOBIG, "capture:%s: more than %d files", dir, MAX_FILES);
        else if (grow((void **)&names, &cap, n, sizeof *names) != RL_OK ||
                 !(names[n] = strdup(e->d_name)))
            rc = rl__errf(errbuf, RL_ENOMEM, "out of memory");
        else
            n++;
    }
    closedir(d);
    if (rc == RL_OK && n == 0)
        rc = rl__errf(errbuf, RL_EFORMAT, "capture:%s: no capture files (capture*.jsonl)", dir);
    if (names)
        qsort(names, n, sizeof *names, by_name);
    for (size_t i = 0; rc == RL_OK && i < n; i++) {
        char path[4096];
        if (rl_path_join(path, sizeof path, dir, names[i]) != RL_OK)
            rc = rl__errf(errbuf, RL_ETOOBIG, "capture:%s: path too long", dir);
        else
            rc = rl__jsonl_read(path, CAPTURE_MAX_BYTES, on_line, c, errbuf);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    if (rc != RL_OK)
        capture_free(c);
    return rc;
}

// ----------------------------------------------------------------------------
// Prompts

int rl__capture_texts(const char *dir, struct rl_texts *out, char *errbuf) {
    struct capture c;
    int rc = capture_load(dir, &c, errbuf);
    if (rc != RL_OK)
        return rc;
    out->items = calloc(c.n_reqs + 1, sizeof *out->items);
    if (!out->items)
        rc = rl__errf(errbuf, RL_ENOMEM, "out of memory");
    // Each text once, in the order first seen: a hash set of the texts kept.
    size_t slots = 16;
    while (slots < 2 * c.n_reqs + 2)
        slots *= 2;
    const char **seen = rc == RL_OK ? calloc(slots, sizeof *seen) : NULL;
    if (rc == RL_OK && !seen)
        rc = rl__errf(errbuf, RL_ENOMEM, "out of memory");
    for (size_t i = 0; rc == RL_OK && i < c.n_reqs; i++) {
        const char *p = c.reqs[i].prompt;
        if (!p || !*p)
            continue;
        size_t h = (size_t)rl__hash64(p, strlen(p)) & (slots - 1);
        while (seen[h] && strcmp(seen[h], p) != 0)
            h = (h + 1) & (slots - 1);
        if (seen[h])
            continue;
        seen[h] = p;
        if (!(out->items[out->n] = strdup(p)))
            rc = rl__errf(errbuf, RL_ENOMEM, "out of memory");
        else
            out->n++;
    }
    free(seen);
    capture_free(&c);
    if (rc != RL_OK)
        rl_texts_free(out);
    return rc;
}

// ----------------------------------------------------------------------------
// Battles

static int by_id(const void *a, const void *b) {
    return strcmp(((const struct creq *)a)->id, ((const struct creq *)b)->id);
}

static struct creq *find_req(struct capture *c, const char *id) {
    struct creq key = {.id = id};
    return c->n_reqs ? bsearch(&key, c->reqs, c->n_reqs, sizeof *c->reqs, by_id) : NULL;
}

static int battle(struct rl__reader *r, const char *prompt, const char *a, const char *b,
                  enum rl_outcome o) {
    int rc = rl_battles_add(r->b, prompt, strlen(prompt), a, b, o, r->weight, r->source);
    if (rc < 0 && rc != RL_EINVAL && rc != RL_ETOOBIG)
        return rl__errf(r->errbuf, rc, "capture:%s: %s", r->path, rl_strerror(rc));
    r->added += rc > 0 ? rc : 0;
    return RL_OK;
}

static int by_prompt(const void *a, const void *b) {
    const struct creq *x = *(const struct creq *const *)a, *y = *(const struct creq *const *)b;
    return strcmp(x->prompt, y->prompt);
}

// Rated answers of one prompt by different models: every pair, by rating.
static int rating_pairs(struct rl__reader *r, struct capture *c) {
    struct creq **rated = malloc((c->n_reqs + 1) * sizeof *rated);
    if (!rated)
        return rl__errf(r->errbuf, RL_ENOMEM, "out of memory");
    size_t n = 0;
    for (size_t i = 0; i < c->n_reqs; i++)
        if (c->reqs[i].rated && c->reqs[i].prompt && c->reqs[i].model)
            rated[n++] = &c->reqs[i];
    qsort(rated, n, sizeof *rated, by_prompt);
    int rc = RL_OK;
    for (size_t i = 0; rc == RL_OK && i < n;) {
        size_t j = i;
        while (j < n && strcmp(rated[j]->prompt, rated[i]->prompt) == 0)
            j++;
        for (size_t a = i; rc == RL_OK && a < j; a++)
            for (size_t b = a + 1; rc == RL_OK && b < j; b++) {
                const struct creq *x = rated[a], *y = rated[b];
                if (strcmp(x->model, y->model) == 0)
                    continue;
                enum rl_outcome o = x->rating > y->rating   ? RL_OUTCOME_A_WINS
                                    : x->rating < y->rating ? RL_OUTCOME_B_WINS
                                                            : RL_OUTCOME_TIE;
                rc = battle(r, x->prompt, x->model, y->model, o);
            }
        i = j;
    }
    free(rated);
    return rc;
}

int rl__capture_battles(struct rl__reader *r, double min_rating) {
    struct capture c;
    int rc = capture_load(r->path, &c, r->errbuf);
    if (rc != RL_OK)
        return rc;
    if (c.n_reqs) // an empty folder's array is NULL, which qsort may not be given
        qsort(c.reqs, c.n_reqs, sizeof *c.reqs, by_id);
    for (size_t i = 0; rc == RL_OK && i < c.n_fbs; i++) {
        json_t *fb = c.fbs[i];
        r->rows++;
        struct creq *q = find_req(&c, jstr(fb, "id"));
        const char *preferred = jstr(fb, "preferred_model");
        json_t *rating = json_object_get(fb, "rating");
        if (!q || !q->prompt || !q->model) {
            continue; // its request is not in the folder, was redacted or never answered
        }
        if (preferred) {
            if (strcmp(preferred, q->model) != 0)
                rc = battle(r, q->prompt, preferred, q->model, RL_OUTCOME_A_WINS);
            continue;
        }
        if (!json_is_number(rating))
            continue;
        q->rating = json_number_value(rating);
        q->rated = true;
        if (q->weak && q->strong && strcmp(q->model, q->weak) == 0 &&
            strcmp(q->weak, q->strong) != 0)
            rc = battle(r, q->prompt, q->weak, q->strong,
                        q->rating >= min_rating ? RL_OUTCOME_A_WINS : RL_OUTCOME_B_WINS);
    }
    if (rc == RL_OK)
        rc = rating_pairs(r, &c);
    capture_free(&c);
    return rc;
}
