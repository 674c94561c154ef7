// The runs of `routellm validate` (validate.h): each candidate trained per fold (a router file
// kept in cli_cache_dir("validate") under a key of its configuration and its training data, so a
// rerun only trains what changed), the held-out tables scored, and the RouteLLM metrics of every
// evaluation with their bootstrap over prompts.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/validate.h"
#include "core/core.h"

// Bump when a change of the code changes what a router file of the same key would hold.
#define VALIDATE_CACHE_VERSION "validate-1"
#define RANDOM_RUNS            10

// ----------------------------------------------------------------------------
// Training

// The cache key of candidate r trained for the fold of source `held` on data of digest `data`.
static uint64_t router_key(const struct validate *v, const struct suite_router *r, size_t held,
                           const char *data) {
    const char *fields[] = {VALIDATE_CACHE_VERSION,
                            r->kind,
                            v->s->sources[held].name,
                            data,
                            r->encoder ? r->encoder : rl_encoder_name(v->sc.enc),
                            r->features ? "features" : "-",
                            r->no_embedding ? "no-embedding" : "-",
                            r->strong ? r->strong : "-",
                            r->weak ? r->weak : "-",
                            r->table_options ? r->table_options : "-"};
    uint64_t h = rl__fnv1a_strings(fields, RL_COUNTOF(fields), RL_FNV1A_INIT);
    // Only a candidate that sets its precision or score_tokens hashes it, so that the keys of the
    // others stay.
    if (r->precision >= 0) {
        const char *prec = rl_precision_name((enum rl_precision)r->precision);
        h = rl__fnv1a(prec, strlen(prec), h);
    }
    if (r->score_tokens)
        h = rl__fnv1a("score_tokens", strlen("score_tokens"), h);
    return rl__fnv1a_strings((const char *const *)r->aliases, r->n_aliases, h);
}

static const struct rl_router_kind *trained_kind(const struct validate *v,
                                                 const struct suite_router *r) {
    const struct rl_router_kind *k = rl_router_kind_find(r->kind, NULL);
    if (k && rl_router_kind_trainable(k))
        return k;
    cli_fail("%s: router '%s': '%s' is not a kind that is trained", v->s->path, r->name, r->kind);
    return NULL;
}

// The kind's defaults with candidate r's settings.
static struct rl_train_params train_params(const struct validate *v, const struct suite_router *r,
                                           const struct rl_router_kind *k) {
    struct rl_train_params p = rl_train_params_default(k);
    p.n_threads = v->threads;
    p.features = r->features;
    p.strong = r->strong;
    p.weak = r->weak;
    p.aliases = (const char *const *)r->aliases;
    p.n_aliases = v->no_aliases ? 0 : r->n_aliases;
    p.encoder_precision =
        rl_precision_name((enum rl_precision)(r->precision >= 0 ? r->precision : v->sc.precision));
    return p;
}

// rl_train on b with candidate r's input: the embeddings by enc, unless it reads the features
// alone.
static int train_on(const struct suite_router *r, const struct rl_router_kind *k,
                    const struct rl_battles *b, const float *emb, const struct rl_encoder *enc,
                    const struct rl_train_params *p, const char *path, char *err) {
    bool on = !r->no_embedding;
    fprintf(stderr, "validate: training %s (%zu %s)\n", path,
            rl_router_kind_learns_cells(k) ? b->n_cells : b->n,
            rl_router_kind_learns_cells(k) ? "scores" : "battles");
    struct rl_train_params with_rows = *p;
    float *rows = NULL;
    if (r->score_tokens) {
        rows = malloc(RL_ENCODER_SCORE_TOKENS * rl_encoder_dim(enc) * sizeof *rows);
        if (!rows)
            return rl__errf(err, RL_ENOMEM, "out of memory");
        int rc = rl_encoder_score_rows(enc, rows, err);
        if (rc != RL_OK) {
            free(rows);
            return rc;
        }
        with_rows.score_rows = rows;
    }
    int rc = rl_train(k, b, on ? emb : NULL, on ? rl_encoder_name(enc) : NULL,
                      on ? rl_encoder_dim(enc) : 0, &with_rows, path, err);
    free(rows);
    return rc;
}

// The input of candidate r on b's prompts: *emb (the suite encoder's) kept, or replaced by its
// own encoder's (a causal LM), which *enc receives. 0, or 1 after printing why.
static int candidate_input(struct validate *v, const struct suite_router *r,
                           const struct rl_battles *b, float **emb, struct rl_encoder **enc) {
    *enc = v->sc.enc;
    if (!r->encoder)
        return 0;
    free(*emb);
    return cli_scorer_embed_with(&v->sc, r->encoder, r->precision, (const char *const *)b->prompts,
                                 b->n_prompts, "training prompts", emb, enc);
}

// Train candidate r for the fold of source `held` unless its file is in the cache; the file's
// path goes to path.
static int train(struct validate *v, const struct suite_router *r, size_t held, char *path,
                 size_t size) {
    const struct rl_router_kind *k = trained_kind(v, r);
    struct rl_battles *b;
    float *emb;
    if (!k || validate_training_set(v, r, held, &b, &emb))
        return 1;
    char digest[65], dir[4096], name[512], slug_r[128], slug_s[128];
    int rc = (rl_router_kind_learns_cells(k) ? rl_battles_digest_cells(b, digest)
                                             : rl_battles_digest(b, digest)) == RL_OK
                 ? 0
                 : cli_fail("out of memory");
    cli_slug(r->name, slug_r, sizeof slug_r);
    cli_slug(v->s->sources[held].name, slug_s, sizeof slug_s);
    snprintf(name, sizeof name, "%s--%s-%016llx.safetensors", slug_r, slug_s,
             (unsigned long long)router_key(v, r, held, digest));
    if (rc == 0 && (cli_cache_dir("validate", dir, sizeof dir) != RL_OK ||
                    rl__mkdirs(dir) != RL_OK || rl_path_join(path, size, dir, name) != RL_OK))
        rc = cli_fail("%s: cannot create the router cache", dir);
    struct stat st;
    if (rc == 0 && stat(path, &st) != 0) {
        struct rl_train_params p = train_params(v, r, k);
        char err[RL_ERRBUF_SIZE];
        struct rl_encoder *enc;
        rc = candidate_input(v, r, b, &emb, &enc);
        if (rc == 0 && train_on(r, k, b, emb, enc, &p, path, err) != RL_OK)
            rc = cli_fail("%s without %s: %s", r->name, v->s->sources[held].name, err);
    }
    free(emb);
    rl_battles_free(b);
    return rc;
}

// ----------------------------------------------------------------------------
// Scoring

// Score every evaluation of the fold's tables with router r loaded from spec (a file, or a
// built-in kind's name). Evaluations whose pair r does not know are scored with its default pair
// and counted; any-pair routers score each table once.
static int score_fold(struct validate *v, struct vrouter *vr, struct rl_router *r, const char *spec,
                      size_t held) {
    for (size_t e = 0; e < v->n_evals; e++) {
        const struct veval *ev = &v->evals[e];
        const struct vtable *t = &v->tables[ev->table];
        if (t->source != held)
            continue;
        const size_t n = t->b->n_prompts;
        struct rl_router_pair pair;
        if (rl_router_pair(r, t->b->models[ev->strong], t->b->models[ev->weak], &pair, NULL) !=
            RL_OK) {
            rl_router_default_pair(r, &pair);
            vr->n_unknown_pair++;
        }
        // An earlier evaluation of the same table and the same resolved pair has the scores.
        double *same = NULL;
        for (size_t f = 0; f < e && !same; f++) {
            const struct veval *o = &v->evals[f];
            struct rl_router_pair op;
            if (o->table != ev->table || !vr->scores[f])
                continue;
            if (rl_router_pair(r, t->b->models[o->strong], t->b->models[o->weak], &op, NULL) !=
                RL_OK)
                rl_router_default_pair(r, &op);
            if (rl_router_kind_any_pair(rl_router_kind(r)) ||
                (op.strong == pair.strong && op.weak == pair.weak))
                same = vr->scores[f];
        }
        vr->scores[e] = malloc((n ? n : 1) * (size_t)vr->runs * sizeof *vr->scores[e]);
        if (!vr->scores[e])
            return cli_fail("out of memory");
        if (same) {
            memcpy(vr->scores[e], same, n * (size_t)vr->runs * sizeof *same);
            continue;
        }
        if (cli_scorer_score(&v->sc, r, spec, vr->name, &pair, (const char *const *)t->b->prompts,
                             n, "held-out prompts", vr->scores[e]))
            return 1;
    }
    return 0;
}

// The random baseline: RANDOM_RUNS seeds per evaluation, their curves averaged (as `eval` does).
static int score_random(struct validate *v, struct vrouter *vr, size_t held) {
    char err[RL_ERRBUF_SIZE];
    for (size_t e = 0; e < v->n_evals; e++) {
        const struct vtable *t = &v->tables[v->evals[e].table];
        if (t->source != held)
            continue;
        const size_t n = t->b->n_prompts;
        vr->scores[e] = malloc((n ? n : 1) * RANDOM_RUNS * sizeof *vr->scores[e]);
        if (!vr->scores[e])
            return cli_fail("out of memory");
        for (int it = 0; it < RANDOM_RUNS; it++) {
            struct rl_router *r = rl_router_random_new((uint64_t)it);
            if (!r)
                return cli_fail("out of memory");
            int rc = rl_eval_score(r, NULL, NULL, NULL, (const char *const *)t->b->prompts, n,
                                   vr->scores[e] + (size_t)it * n, NULL, NULL, err);
            rl_router_free(r);
            if (rc != RL_OK)
                return cli_fail("%s", err);
        }
    }
    return 0;
}

int validate_fold(struct validate *v, size_t held) {
    for (size_t i = 0; i < v->n_routers; i++) {
        struct vrouter *vr = &v->routers[i];
        char path[4096], err[RL_ERRBUF_SIZE];
        if (!vr->cfg && strcmp(vr->name, "random") == 0) {
            if (score_random(v, vr, held))
                return 1;
            continue;
        }
        if (vr->cfg && train(v, vr->cfg, held, path, sizeof path))
            return 1;
        const char *spec = vr->cfg ? path : vr->name;
        struct rl_router *r = rl_router_load(spec, v->home, err);
        if (!r)
            return cli_fail("%s", err);
        int rc = score_fold(v, vr, r, spec, held);
        rl_router_free(r);
        if (rc)
            return rc;
    }
    return 0;
}

// ----------------------------------------------------------------------------
// Metrics

// APGR and CPT(50%) of one router on the prompts idx[0..n) of a table (repeats allowed, as a
// bootstrap resample has them): the curve of each run, averaged point by point. NaN when the
// strong model's mean quality on those prompts is not above the weak one's by min_gap: PGR
// divides by that gap, and a resample in which it nearly vanishes gives figures without meaning.
static void measure(const struct vtable *t, const struct veval *ev, const struct vrouter *vr,
                    size_t e, const size_t *idx, size_t n, double min_gap, double *work,
                    double *apgr, double *cpt50) {
    const size_t M = t->b->n_models, P = t->b->n_prompts;
    double *qs = work, *qw = work + n, *sc = work + 2 * n;
    for (size_t i = 0; i < n; i++) {
        qs[i] = t->q[idx[i] * M + (size_t)ev->strong];
        qw[i] = t->q[idx[i] * M + (size_t)ev->weak];
    }
    struct rl_bench b = {.n = n, .q_strong = qs, .q_weak = qw};
    const struct rl_eval_prices unit = {1, 1};
    enum { K = 10 };
    struct rl_eval_point runs[RANDOM_RUNS * (K + 1)], mean[K + 1];
    *apgr = *cpt50 = NAN;
    for (int r = 0; r < vr->runs; r++) {
        for (size_t i = 0; i < n; i++)
            sc[i] = vr->scores[e][(size_t)r * P + idx[i]];
        if (rl_eval_curve(&b, sc, K, &unit, runs + (size_t)r * (K + 1)) != RL_OK)
            return;
    }
    rl_eval_curve_mean(runs, (size_t)vr->runs, K, mean);
    struct rl_eval_metrics m;
    double r_w = rl_bench_quality(&b, false), r_s = rl_bench_quality(&b, true);
    if (!(r_s - r_w >= min_gap && r_s - r_w > 1e-12) ||
        rl_eval_metrics(mean, K + 1, r_w, r_s, 1, &m) != RL_OK)
        return;
    *apgr = m.apgr;
    *cpt50 = m.cpt50;
}

// One resample of a table's prompts: n draws with replacement, from a stream of its own.
static void resample(size_t table, int k, size_t n, size_t *draw) {
    uint64_t state = rl__splitmix64_at((uint64_t)table * 1000003u + 17, (uint64_t)k);
    for (size_t i = 0; i < n; i++)
        draw[i] = (size_t)(rl__splitmix64(&state) % (n ? n : 1));
}

// The bootstrap: each resample draws every table's prompts again (the same draws for every pair
// and router), each evaluation is measured on the drawn prompts it has, and a router's figure of
// the resample is its mean APGR over the evaluations whose pair is still at least half of
// min_gap apart on the drawn prompts.
static int bootstrap(struct validate *v, double *work, size_t *draw, size_t *sub, bool *in) {
    const int B = v->s->bootstrap;
    double *sum = calloc(v->n_routers * (size_t)(B ? B : 1), sizeof *sum);
    size_t *cnt = calloc(v->n_routers * (size_t)(B ? B : 1), sizeof *cnt);
    if (!sum || !cnt) {
        free(sum);
        free(cnt);
        return cli_fail("out of memory");
    }
    for (size_t ti = 0; ti < v->n_tables; ti++) {
        const struct vtable *t = &v->tables[ti];
        const size_t P = t->b->n_prompts;
        for (int k = 0; k < B; k++) {
            resample(ti, k, P, draw);
            for (size_t e = 0; e < v->n_evals; e++) {
                const struct veval *ev = &v->evals[e];
                if (ev->table != ti)
                    continue;
                memset(in, 0, P * sizeof *in);
                for (size_t i = 0; i < ev->n; i++)
                    in[ev->idx[i]] = true;
                size_t n = 0;
                for (size_t i = 0; i < P; i++)
                    if (in[draw[i]])
                        sub[n++] = draw[i];
                for (size_t r = 0; r < v->n_routers; r++) {
                    double a, c;
                    measure(t, ev, &v->routers[r], e, sub, n, v->s->min_gap / 2, work, &a, &c);
                    if (!isnan(a)) {
                        sum[r * (size_t)B + (size_t)k] += a;
                        cnt[r * (size_t)B + (size_t)k]++;
                    }
                }
            }
        }
    }
    for (size_t r = 0; r < v->n_routers; r++)
        for (int k = 0; k < B; k++) {
            size_t at = r * (size_t)B + (size_t)k;
            v->routers[r].boot[k] = cnt[at] ? sum[at] / (double)cnt[at] : NAN;
        }
    free(sum);
    free(cnt);
    return 0;
}

int validate_metrics(struct validate *v) {
    size_t max_p = 1;
    for (size_t t = 0; t < v->n_tables; t++)
        if (v->tables[t].b->n_prompts > max_p)
            max_p = v->tables[t].b->n_prompts;
    double *work = malloc(3 * max_p * sizeof *work);
    size_t *draw = malloc(max_p * sizeof *draw), *sub = malloc(max_p * sizeof *sub);
    bool *in = malloc(max_p * sizeof *in);
    int rc = work && draw && sub && in ? 0 : cli_fail("out of memory");
    for (size_t e = 0; rc == 0 && e < v->n_evals; e++) {
        const struct veval *ev = &v->evals[e];
        for (size_t r = 0; r < v->n_routers; r++)
            measure(&v->tables[ev->table], ev, &v->routers[r], e, ev->idx, ev->n, 0, work,
                    &v->routers[r].apgr[e], &v->routers[r].cpt50[e]);
    }
    if (rc == 0 && v->s->bootstrap > 0)
        rc = bootstrap(v, work, draw, sub, in);
    free(work);
    free(draw);
    free(sub);
    free(in);
    return rc;
}

// ----------------------------------------------------------------------------
// Shipping

int validate_ship(struct validate *v, const struct suite_router *r, const char *out,
                  const char *strong, const char *weak) {
    const struct rl_router_kind *k = trained_kind(v, r);
    struct rl_battles *b;
    float *emb;
    if (!k || validate_training_set(v, r, VALIDATE_NONE, &b, &emb))
        return 1;
    char list[4096], source[512], err[RL_ERRBUF_SIZE];
    size_t n = strlen(out), ext = strlen(".safetensors");
    if (n > ext && strcmp(out + n - ext, ".safetensors") == 0)
        n -= ext;
    snprintf(list, sizeof list, "%.*s.prompts.jsonl.gz", (int)n, out);
    snprintf(source, sizeof source, "validation suite %s, candidate %s",
             v->s->name ? v->s->name : v->s->path, r->name);
    struct rl_train_params p = train_params(v, r, k);
    p.strong = strong ? strong : p.strong;
    p.weak = weak ? weak : p.weak;
    p.prompts_out = list;
    p.source = source;
    struct rl_encoder *enc;
    int rc = candidate_input(v, r, b, &emb, &enc);
    if (rc == 0 && train_on(r, k, b, emb, enc, &p, out, err) != RL_OK)
        rc = cli_fail("%s: %s", r->name, err);
    if (rc == 0)
        printf("wrote %s (%s router, candidate %s) and %s\n", out, r->kind, r->name, list);
    free(emb);
    rl_battles_free(b);
    return rc;
}
