// The data of `routellm validate` (validate.h): the held-out sources' tables and their model
// pairs, the training-side prompts that must never be trained on (near-duplicates or quotes of a
// benchmark text), and each fold's training set with the held-out source's look-alikes removed.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/validate.h"
#include "core/core.h"

uint64_t validate_hash(const char *text) {
    return rl__fnv1a(text, strlen(text), RL_FNV1A_INIT);
}

static void quiet(void *ctx, const char *msg) {
    (void)msg;
    (*(size_t *)ctx)++;
}

// Read specs[0..n) into b (cells mode or battles), leniently; malformed rows are counted. The
// options `extra` ("key=value,...", or NULL) are added to every table: spec.
static int read_specs(struct rl_battles *b, char *const *specs, size_t n, bool cells,
                      const char *extra) {
    size_t skipped = 0;
    struct rl_battles_read_opts ro = {.warn = quiet, .warn_ctx = &skipped, .cells = cells};
    char err[RL_ERRBUF_SIZE], spec[8192];
    for (size_t i = 0; i < n; i++) {
        bool add = extra && strncmp(specs[i], "table:", 6) == 0;
        snprintf(spec, sizeof spec, "%s%s%s", specs[i], add ? "," : "", add ? extra : "");
        if (rl_battles_read(b, spec, &ro, err) < 0)
            return cli_fail("%s", err);
    }
    if (skipped)
        fprintf(stderr, "routellm: validate: %zu malformed rows skipped\n", skipped);
    return 0;
}

// ----------------------------------------------------------------------------
// Tables and pairs

static int load_table(struct vtable *t) {
    t->b = rl_battles_new();
    if (!t->b || read_specs(t->b, (char *const *)&t->spec, 1, true, NULL))
        return t->b ? 1 : cli_fail("out of memory");
    size_t P = t->b->n_prompts, M = t->b->n_models;
    t->q = malloc((P ? P : 1) * (M ? M : 1) * sizeof *t->q);
    if (!t->q)
        return cli_fail("out of memory");
    for (size_t i = 0; i < P * M; i++)
        t->q[i] = NAN;
    for (size_t i = 0; i < t->b->n_cells; i++) {
        const struct rl_cell *c = &t->b->cells[i];
        t->q[c->prompt * M + c->model] = c->score;
    }
    return 0;
}

struct cand {
    int s, w;
    double gap;
};

static const struct vtable *sort_table;

static int by_gap(const void *a, const void *b) {
    const struct cand *x = a, *y = b;
    if (x->gap != y->gap)
        return x->gap < y->gap ? -1 : 1;
    char *const *m = sort_table->b->models;
    int c = strcmp(m[x->s], m[y->s]);
    return c ? c : strcmp(m[x->w], m[y->w]);
}

// The pairs of table t: models with scores on min_coverage of its prompts, a mean quality gap of
// at least min_gap on the prompts both have, sorted by gap (then names), and at most max_pairs
// of them taken at evenly spaced ranks.
static int choose_pairs(struct validate *v, size_t ti) {
    const struct vtable *t = &v->tables[ti];
    const size_t P = t->b->n_prompts, M = t->b->n_models;
    bool *covered = calloc(M ? M : 1, sizeof *covered);
    struct cand *c = malloc((M > 0 ? M * M : 1) * sizeof *c);
    if (!covered || !c) {
        free(covered);
        free(c);
        return cli_fail("out of memory");
    }
    for (size_t m = 0; m < M; m++) {
        size_t have = 0;
        for (size_t p = 0; p < P; p++)
            have += !isnan(t->q[p * M + m]);
        covered[m] = P > 0 && (double)have >= v->s->min_coverage * (double)P;
    }
    size_t n = 0;
    for (size_t s = 0; s < M; s++)
        for (size_t w = 0; w < M; w++) {
            if (s == w || !covered[s] || !covered[w])
                continue;
            double sum = 0;
            size_t k = 0;
            for (size_t p = 0; p < P; p++) {
                double qs = t->q[p * M + s], qw = t->q[p * M + w];
                if (!isnan(qs) && !isnan(qw)) {
                    sum += qs - qw;
                    k++;
                }
            }
            if (k > 0 && sum / (double)k >= v->s->min_gap)
                c[n++] = (struct cand){(int)s, (int)w, sum / (double)k};
        }
    sort_table = t;
    qsort(c, n, sizeof *c, by_gap);
    size_t keep = n < v->s->max_pairs ? n : v->s->max_pairs;
    struct veval *grown = realloc(v->evals, (v->n_evals + keep + 1) * sizeof *grown);
    int rc = grown ? 0 : cli_fail("out of memory");
    v->evals = grown ? grown : v->evals;
    for (size_t i = 0; rc == 0 && i < keep; i++) {
        size_t at =
            keep == 1 ? 0 : (size_t)llround((double)i * (double)(n - 1) / (double)(keep - 1));
        struct veval *e = &v->evals[v->n_evals];
        *e = (struct veval){.table = ti, .strong = c[at].s, .weak = c[at].w, .gap = c[at].gap};
        e->idx = malloc((P ? P : 1) * sizeof *e->idx);
        if (!e->idx) {
            rc = cli_fail("out of memory");
            break;
        }
        for (size_t p = 0; p < P; p++)
            if (!isnan(t->q[p * M + (size_t)e->strong]) && !isnan(t->q[p * M + (size_t)e->weak]))
                e->idx[e->n++] = p;
        v->n_evals++;
    }
    if (rc == 0 && keep == 0)
        fprintf(stderr, "routellm: validate: %s: no pair of models %g apart\n", t->spec,
                v->s->min_gap);
    free(covered);
    free(c);
    return rc;
}

int validate_tables(struct validate *v) {
    const struct suite *s = v->s;
    size_t n = 0;
    for (size_t i = 0; i < s->n_sources; i++)
        n += v->run_source[i] ? s->sources[i].n_tables : 0;
    v->tables = calloc(n ? n : 1, sizeof *v->tables);
    if (!v->tables)
        return cli_fail("out of memory");
    for (size_t i = 0; i < s->n_sources; i++) {
        for (size_t k = 0; v->run_source[i] && k < s->sources[i].n_tables; k++) {
            struct vtable *t = &v->tables[v->n_tables++];
            t->spec = s->sources[i].tables[k];
            t->source = i;
            if (load_table(t) || choose_pairs(v, v->n_tables - 1))
                return 1;
        }
    }
    return 0;
}

// ----------------------------------------------------------------------------
// Contamination

// flag[i] for each text a[i] within cosine `threshold` of a text of b, or quoted at the start of
// one (the two rules of `routellm train --exclude`). ea and eb are the texts' embeddings.
static int flag_matches(const char *const *a, const float *ea, size_t n_a, const char *const *b,
                        const float *eb, size_t n_b, size_t dim, double threshold, bool *flag) {
    float *max = malloc((n_a ? n_a : 1) * sizeof *max);
    size_t *arg = malloc((n_a ? n_a : 1) * sizeof *arg);
    int rc = max && arg ? rl__max_cosine(ea, n_a, eb, n_b, dim, max, arg) : RL_ENOMEM;
    if (rc == RL_OK && rl_texts_prefix_match(a, n_a, b, n_b, RL_TEXTS_MIN_QUOTED, flag) < 0)
        rc = RL_ENOMEM;
    for (size_t i = 0; rc == RL_OK && n_b > 0 && i < n_a; i++)
        flag[i] = flag[i] || max[i] >= (float)threshold;
    free(max);
    free(arg);
    return rc == RL_OK ? 0 : cli_fail("out of memory");
}

static int by_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int validate_banned(struct validate *v) {
    const struct suite *s = v->s;
    struct rl_battles *u = rl_battles_new();
    struct rl_texts ex = {0};
    float *eu = NULL, *ee = NULL;
    bool *flag = NULL;
    char err[RL_ERRBUF_SIZE];
    int rc = u ? 0 : cli_fail("out of memory");
    for (size_t i = 0; rc == 0 && i < s->n_sources; i++) {
        const struct suite_source *src = &s->sources[i];
        rc = read_specs(u, src->tables, src->n_tables, true, NULL);
        if (rc == 0)
            rc = read_specs(u, src->battles, src->n_battles, false, NULL);
    }
    if (rc == 0 && v->extra_data)
        rc = read_specs(u, v->extra_data->value, (size_t)v->extra_data->n, true, NULL);
    size_t n_extra = v->extra_exclude ? (size_t)v->extra_exclude->n : 0;
    for (size_t i = v->own_exclude_only ? s->n_exclude : 0; rc == 0 && i < s->n_exclude + n_extra;
         i++) {
        struct rl_texts t;
        const char *spec =
            i < s->n_exclude ? s->exclude[i] : v->extra_exclude->value[i - s->n_exclude];
        if (rl_texts_load_spec(spec, NULL, &t, err) != RL_OK)
            rc = cli_fail("%s", err);
        else if (rl_texts_append(&ex, &t) != RL_OK)
            rc = cli_fail("out of memory");
        rl_texts_free(&t);
    }
    if (rc == 0)
        rc = cli_scorer_embed(&v->sc, (const char *const *)u->prompts, u->n_prompts,
                              "training-side prompts", &eu);
    if (rc == 0)
        rc = cli_scorer_embed(&v->sc, (const char *const *)ex.items, ex.n, "benchmark texts", &ee);
    if (rc == 0 && !(flag = calloc(u->n_prompts ? u->n_prompts : 1, sizeof *flag)))
        rc = cli_fail("out of memory");
    if (rc == 0)
        rc = flag_matches((const char *const *)u->prompts, eu, u->n_prompts,
                          (const char *const *)ex.items, ee, ex.n, rl_encoder_dim(v->sc.enc),
                          s->decontaminate, flag);
    if (rc == 0) {
        v->banned = malloc((u->n_prompts ? u->n_prompts : 1) * sizeof *v->banned);
        if (!v->banned)
            rc = cli_fail("out of memory");
        for (size_t i = 0; rc == 0 && i < u->n_prompts; i++)
            if (flag[i])
                v->banned[v->n_banned++] = validate_hash(u->prompts[i]);
        if (rc == 0)
            qsort(v->banned, v->n_banned, sizeof *v->banned, by_u64);
        fprintf(stderr,
                "validate: %zu of %zu training-side prompts match a benchmark text (cosine >= "
                "%.2f or quoted) and are never trained on\n",
                v->n_banned, u->n_prompts, s->decontaminate);
    }
    free(flag);
    free(eu);
    free(ee);
    rl_texts_free(&ex);
    rl_battles_free(u);
    return rc;
}

static bool is_banned(const struct validate *v, const char *text) {
    uint64_t h = validate_hash(text);
    return bsearch(&h, v->banned, v->n_banned, sizeof h, by_u64) != NULL;
}

// The prompts of every table of source `held`, borrowed from its tables (NULL on ENOMEM).
static const char **held_prompts(const struct validate *v, size_t held, size_t *n) {
    size_t total = 0;
    for (size_t t = 0; t < v->n_tables; t++)
        total += v->tables[t].source == held ? v->tables[t].b->n_prompts : 0;
    const char **p = malloc((total ? total : 1) * sizeof *p);
    *n = 0;
    for (size_t t = 0; p && t < v->n_tables; t++)
        for (size_t i = 0; v->tables[t].source == held && i < v->tables[t].b->n_prompts; i++)
            p[(*n)++] = v->tables[t].b->prompts[i];
    return p;
}

int validate_training_set(struct validate *v, const struct suite_router *r, size_t held,
                          struct rl_battles **out, float **emb) {
    const struct suite *s = v->s;
    const struct rl_router_kind *k = rl_router_kind_find(r->kind, NULL);
    bool cells = k && rl_router_kind_learns_cells(k);
    struct rl_battles *b = rl_battles_new();
    float *eh = NULL;
    bool *drop = NULL;
    size_t n_held = 0;
    const char **hp = NULL;
    *out = NULL;
    *emb = NULL;
    int rc = b ? 0 : cli_fail("out of memory");
    for (size_t i = 0; rc == 0 && i < s->n_sources; i++) {
        const struct suite_source *src = &s->sources[i];
        if (i == held || !suite_router_uses(r, src))
            continue;
        rc = cells ? read_specs(b, src->tables, src->n_tables, true, NULL)
                   : read_specs(b, src->battles, src->n_battles, false, r->table_options);
    }
    if (rc == 0 && v->extra_data)
        rc = read_specs(b, v->extra_data->value, (size_t)v->extra_data->n, cells, NULL);
    if (rc == 0)
        rc = cli_scorer_embed(&v->sc, (const char *const *)b->prompts, b->n_prompts,
                              "training prompts", emb);
    if (rc == 0 && !(hp = held_prompts(v, held, &n_held)))
        rc = cli_fail("out of memory");
    if (rc == 0)
        rc = cli_scorer_embed(&v->sc, hp, n_held, "held-out prompts", &eh);
    if (rc == 0 && !(drop = calloc(b->n_prompts ? b->n_prompts : 1, sizeof *drop)))
        rc = cli_fail("out of memory");
    if (rc == 0)
        rc = flag_matches((const char *const *)b->prompts, *emb, b->n_prompts, hp, eh, n_held,
                          rl_encoder_dim(v->sc.enc), s->decontaminate, drop);
    size_t n_drop = 0;
    for (size_t i = 0; rc == 0 && i < b->n_prompts; i++) {
        drop[i] = drop[i] || is_banned(v, b->prompts[i]);
        n_drop += drop[i];
    }
    if (rc == 0) {
        rl_battles_drop_prompts(b, drop);
        if (v->verbose)
            fprintf(stderr, "validate: %s without %s: %zu %s, %zu prompts dropped\n", r->name,
                    held == VALIDATE_NONE ? "no source" : s->sources[held].name,
                    cells ? b->n_cells : b->n, cells ? "scores" : "battles", n_drop);
        *out = b;
    } else {
        rl_battles_free(b);
        free(*emb);
        *emb = NULL;
    }
    free(hp);
    free(eh);
    free(drop);
    return rc;
}
