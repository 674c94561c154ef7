// Evaluation among many models (rl/eval.h): tables with one quality column per model, policy
// curves over a parameter sweep, the oracle, and RouterBench's AIQ over the non-decreasing
// upper convex hull of a curve.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/data.h"
#include "eval/eval_impl.h"
#include "rl/policy.h"

// ----------------------------------------------------------------------------
// Tables

// A table under construction: the columns of each model, and the rows read so far.
struct multi_load {
    struct rl_multi_bench *b;
    size_t cap;
    const char *prompt_key;
    bool cost_known; // the first row (JSONL) or the header (CSV) decided whether costs are read
    const char *cost_keys[RL_MULTI_MAX_MODELS]; // JSONL: the cost key of each model
};

static int grow_rows(struct multi_load *L) {
    struct rl_multi_bench *b = L->b;
    if (b->n < L->cap)
        return RL_OK;
    if (b->n >= RL_EVAL_MAX_ROWS)
        return RL_ETOOBIG;
    size_t cap = L->cap ? 2 * L->cap : 256;
    char **p = realloc(b->prompts, cap * sizeof *p);
    if (p)
        b->prompts = p;
    double *q = realloc(b->quality, cap * b->m * sizeof *q);
    if (q)
        b->quality = q;
    double *c = b->cost ? realloc(b->cost, cap * b->m * sizeof *c) : NULL;
    if (c)
        b->cost = c;
    if (!p || !q || (b->cost && !c))
        return RL_ENOMEM;
    L->cap = cap;
    return RL_OK;
}

// Append a row: its prompt (copied) and m qualities and costs (costs NULL when the table has
// none).
static int add_row(struct multi_load *L, const char *prompt, const double *q, const double *c) {
    int rc = grow_rows(L);
    if (rc != RL_OK)
        return rc;
    struct rl_multi_bench *b = L->b;
    if (!(b->prompts[b->n] = strdup(prompt)))
        return RL_ENOMEM;
    memcpy(&b->quality[b->n * b->m], q, b->m * sizeof *q);
    if (b->cost)
        memcpy(&b->cost[b->n * b->m], c, b->m * sizeof *c);
    b->n++;
    return RL_OK;
}

// Costs are read when every model has a cost column among the n names: their indices into idx.
static bool find_costs(const struct rl_multi_bench *b, const char *const *names, int n, int *idx) {
    for (size_t k = 0; k < b->m; k++)
        if ((idx[k] = rl__model_cost_col(names, n, b->models[k])) < 0)
            return false;
    return true;
}

static int want_costs(struct rl_multi_bench *b) {
    b->cost = malloc(b->m * sizeof *b->cost); // grown with the rows from here on
    return b->cost ? RL_OK : RL_ENOMEM;
}

static int read_csv(struct multi_load *L, const char *path, char *errbuf) {
    struct rl_multi_bench *b = L->b;
    char *data;
    struct rl__dcsv c;
    struct rl__dcsv_row *row;
    int col[RL_MULTI_MAX_MODELS], ccol[RL_MULTI_MAX_MODELS], pcol;
    double q[RL_MULTI_MAX_MODELS], cost[RL_MULTI_MAX_MODELS];
    int rc = rl__table_csv_open(path, &data, &c, &row, errbuf);
    if (rc != RL_OK)
        return rc;
    rc = rl__table_column(path, row, L->prompt_key, &pcol, errbuf);
    for (size_t k = 0; rc == RL_OK && k < b->m; k++)
        rc = rl__table_column(path, row, b->models[k], &col[k], errbuf);
    if (rc == RL_OK && find_costs(b, (const char *const *)row->field, row->n, ccol))
        rc = want_costs(b);
    while (rc == RL_OK) {
        int more = rl__dcsv_read(&c, row, path, errbuf);
        if (more <= 0) {
            rc = more;
            break;
        }
        b->n_total++;
        bool missing = false;
        for (size_t k = 0; k < b->m && rc == RL_OK && !missing; k++) {
            bool is_bool;
            if (col[k] >= row->n || pcol >= row->n)
                rc = rl__errf(errbuf, RL_EFORMAT, "%s:%ld: %d fields, fewer than the header's",
                              path, row->line, row->n);
            else if (row->len[col[k]] == 0)
                missing = true;
            else if (rl__parse_quality(row->field[col[k]], &q[k], &is_bool) != RL_OK)
                rc = rl__errf(errbuf, RL_EFORMAT, "%s:%ld: %s value \"%.40s\" is not a number",
                              path, row->line, b->models[k], row->field[col[k]]);
            else if (b->cost &&
                     (ccol[k] >= row->n ||
                      rl__parse_quality(row->field[ccol[k]], &cost[k], &is_bool) != RL_OK ||
                      is_bool || cost[k] < 0))
                rc = rl__errf(errbuf, RL_EFORMAT, "%s:%ld: the cost of %s is not a number >= 0",
                              path, row->line, b->models[k]);
        }
        if (rc != RL_OK)
            break;
        if (missing) {
            b->n_missing++;
            continue;
        }
        if (strlen(row->field[pcol]) != row->len[pcol])
            rc = rl__errf(errbuf, RL_EFORMAT, "%s:%ld: NUL byte in the prompt", path, row->line);
        else if ((rc = add_row(L, row->field[pcol], q, cost)) != RL_OK)
            rl__errf(errbuf, rc, "%s:%ld: too many rows or out of memory", path, row->line);
    }
    free(row);
    free(data);
    return rc;
}

static int json_number(json_t *obj, const char *key, double *v, bool *missing, const char *path,
                       size_t line, char *errbuf) {
    json_t *x = json_object_get(obj, key);
    if (json_is_null(x)) {
        *missing = true;
        return RL_OK;
    }
    if (json_is_boolean(x))
        *v = json_is_true(x) ? 100 : 0;
    else if (json_is_number(x) && isfinite(json_number_value(x)))
        *v = json_number_value(x);
    else
        return rl__errf(errbuf, RL_EFORMAT, "%s:%zu: \"%s\" is %s", path, line, key,
                        x ? "neither a number nor a boolean" : "missing");
    return RL_OK;
}

static int jsonl_row(void *ctx, json_t *obj, const char *path, size_t line, char *errbuf) {
    struct multi_load *L = ctx;
    struct rl_multi_bench *b = L->b;
    if (!L->cost_known) {
        const char *keys[RL_DCSV_MAX_FIELDS], *key;
        json_t *v;
        int n = 0, idx[RL_MULTI_MAX_MODELS];
        json_object_foreach(obj, key, v) {
            if (n < RL_DCSV_MAX_FIELDS)
                keys[n++] = key;
        }
        L->cost_known = true;
        if (find_costs(b, keys, n, idx)) {
            for (size_t k = 0; k < b->m; k++)
                if (!(L->cost_keys[k] = strdup(keys[idx[k]])))
                    return rl__errf(errbuf, RL_ENOMEM, "%s: out of memory", path);
            if (want_costs(b) != RL_OK)
                return rl__errf(errbuf, RL_ENOMEM, "%s: out of memory", path);
        }
    }
    const char *prompt = json_string_value(json_object_get(obj, L->prompt_key));
    if (!prompt)
        return rl__errf(errbuf, RL_EFORMAT, "%s:%zu: no string \"%s\"", path, line, L->prompt_key);
    double q[RL_MULTI_MAX_MODELS], cost[RL_MULTI_MAX_MODELS];
    bool missing = false, no_cost = false;
    b->n_total++;
    for (size_t k = 0; k < b->m; k++) {
        int rc = json_number(obj, b->models[k], &q[k], &missing, path, line, errbuf);
        if (rc == RL_OK && b->cost)
            rc = json_number(obj, L->cost_keys[k], &cost[k], &no_cost, path, line, errbuf);
        if (rc != RL_OK)
            return rc;
        if (b->cost && (no_cost || cost[k] < 0))
            return rl__errf(errbuf, RL_EFORMAT, "%s:%zu: the cost of %s is not a number >= 0", path,
                            line, b->models[k]);
    }
    if (missing) {
        b->n_missing++;
        return RL_OK;
    }
    int rc = add_row(L, prompt, q, cost);
    return rc == RL_OK ? RL_OK
                       : rl__errf(errbuf, rc, "%s:%zu: too many rows or out of memory", path, line);
}

void rl_multi_bench_free(struct rl_multi_bench *b) {
    if (!b)
        return;
    for (size_t i = 0; i < b->n; i++)
        free(b->prompts[i]);
    for (size_t k = 0; b->models && k < b->m; k++)
        free(b->models[k]);
    free(b->models);
    free(b->prompts);
    free(b->quality);
    free(b->cost);
    free(b->name);
    free(b);
}

struct rl_multi_bench *rl_multi_bench_load_table(const char *path, const char *prompt,
                                                 const char *const *models, size_t m,
                                                 char *errbuf) {
    if (m < 2 || m > RL_MULTI_MAX_MODELS) {
        rl__errf(errbuf, RL_EINVAL, "%s: between 2 and %d models, not %zu", path,
                 RL_MULTI_MAX_MODELS, m);
        return NULL;
    }
    for (size_t k = 0; k < m; k++)
        for (size_t j = 0; j < k; j++)
            if (strcmp(models[j], models[k]) == 0) {
                rl__errf(errbuf, RL_EINVAL, "%s: the model %s is given twice", path, models[k]);
                return NULL;
            }
    struct rl_multi_bench *b = calloc(1, sizeof *b);
    struct multi_load L = {b, 0, prompt ? prompt : "prompt", false, {0}};
    int rc = b && (b->name = strdup(path)) && (b->models = calloc(m, sizeof *b->models))
                 ? RL_OK
                 : RL_ENOMEM;
    for (size_t k = 0; rc == RL_OK && k < m; k++, b->m++)
        if (!(b->models[k] = strdup(models[k])))
            rc = RL_ENOMEM;
    if (rc != RL_OK)
        rl__errf(errbuf, rc, "%s: out of memory", path);
    else if (rl_has_suffix(path, ".jsonl") || rl_has_suffix(path, ".jsonl.gz"))
        rc = rl__jsonl_read(path, RL_EVAL_MAX_FILE, jsonl_row, &L, errbuf);
    else
        rc = read_csv(&L, path, errbuf);
    for (size_t k = 0; k < m; k++)
        free((char *)L.cost_keys[k]);
    if (rc == RL_OK && b->n == 0)
        rc = rl__errf(errbuf, RL_EFORMAT, "%s: no rows with every model's quality", path);
    if (rc != RL_OK) {
        rl_multi_bench_free(b);
        return NULL;
    }
    return b;
}

// ----------------------------------------------------------------------------
// Curves

int rl_multi_curve(const struct rl_multi_bench *b, const double *pred, const double *expect,
                   const double *cost, int kind, const double *params, size_t n_params,
                   struct rl_multi_point *pts) {
    size_t m = b->m;
    for (size_t k = 0; k < n_params; k++) {
        struct rl_policy p = {(enum rl_policy_kind)kind, params[k]};
        double sum_q = 0, sum_c = 0;
        for (size_t i = 0; i < b->n; i++) {
            int pick = rl_policy_choose(&p, &pred[i * m], &expect[i * m], m);
            if (pick < 0)
                return pick;
            sum_q += b->quality[i * m + (size_t)pick];
            sum_c += cost[i * m + (size_t)pick];
        }
        pts[k] = (struct rl_multi_point){params[k], sum_c / (double)b->n, sum_q / (double)b->n};
    }
    return RL_OK;
}

void rl_multi_oracle(const struct rl_multi_bench *b, const double *cost,
                     struct rl_multi_point *pt) {
    size_t m = b->m;
    double sum_q = 0, sum_c = 0;
    for (size_t i = 0; i < b->n; i++) {
        const double *q = &b->quality[i * m], *c = &cost[i * m];
        size_t best = 0;
        for (size_t k = 1; k < m; k++)
            if (q[k] > q[best] || (q[k] == q[best] && c[k] < c[best]))
                best = k;
        sum_q += q[best];
        sum_c += c[best];
    }
    *pt = (struct rl_multi_point){0, sum_c / (double)b->n, sum_q / (double)b->n};
}

// ----------------------------------------------------------------------------
// Hull and AIQ

static int by_cost(const void *a, const void *b) {
    const struct rl_multi_point *x = a, *y = b;
    if (x->cost != y->cost)
        return x->cost < y->cost ? -1 : 1;
    return x->quality > y->quality ? -1 : x->quality < y->quality;
}

// Whether b lies on or under the segment from a to c (a.cost < b.cost < c.cost).
static bool under(const struct rl_multi_point *a, const struct rl_multi_point *b,
                  const struct rl_multi_point *c) {
    return (b->quality - a->quality) * (c->cost - a->cost) <=
           (c->quality - a->quality) * (b->cost - a->cost);
}

size_t rl_multi_hull(struct rl_multi_point *pts, size_t n) {
    qsort(pts, n, sizeof *pts, by_cost);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        // Only points better than every cheaper one stay (non-decreasing), and each new point
        // drops those it makes lie under the hull (upper, so concave).
        if (k > 0 && pts[i].quality <= pts[k - 1].quality)
            continue;
        while (k >= 2 && under(&pts[k - 2], &pts[k - 1], &pts[i]))
            k--;
        pts[k++] = pts[i];
    }
    return k;
}

// The hull's quality at cost c: 0 below its cheapest point, flat after its dearest.
static double hull_at(const struct rl_multi_point *h, size_t n, double c) {
    if (c < h[0].cost)
        return 0;
    for (size_t i = 1; i < n; i++)
        if (c <= h[i].cost)
            return rl__lerp(h[i - 1].quality, h[i].quality,
                            (c - h[i - 1].cost) / (h[i].cost - h[i - 1].cost));
    return h[n - 1].quality;
}

double rl_multi_aiq(const struct rl_multi_point *hull, size_t n, double c_lo, double c_hi) {
    if (n == 0)
        return NAN;
    if (c_hi <= c_lo)
        return hull_at(hull, n, c_lo);
    // Exact: the hull is piecewise linear, so integrate piece by piece between its breakpoints
    // and the range's ends.
    double area = 0, prev = c_lo;
    for (size_t i = 0; i <= n; i++) {
        double next = i < n && hull[i].cost < c_hi ? hull[i].cost : c_hi;
        if (next > prev) {
            // Below the hull's first point the quality is 0; the piece [prev, next] lies within
            // one segment, so the trapezoid of its ends is exact.
            double a = prev < hull[0].cost ? 0 : hull_at(hull, n, prev);
            double b = next <= hull[0].cost && prev < hull[0].cost ? 0 : hull_at(hull, n, next);
            area += (a + b) / 2 * (next - prev);
            prev = next;
        }
        if (next >= c_hi)
            break;
    }
    return area / (c_hi - c_lo);
}

double rl_multi_cost_for(const struct rl_multi_point *hull, size_t n, double q) {
    for (size_t i = 0; i < n; i++) {
        if (hull[i].quality < q)
            continue;
        if (i == 0)
            return hull[0].cost;
        double t = (q - hull[i - 1].quality) / (hull[i].quality - hull[i - 1].quality);
        return rl__lerp(hull[i - 1].cost, hull[i].cost, t);
    }
    return NAN;
}
