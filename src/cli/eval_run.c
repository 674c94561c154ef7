// `routellm eval`, the evaluation: each router's scores over the benchmark prompts (computed
// through the shared scorer, read from a score file, or drawn by the random router), the
// prompts dropped as contaminated by the router's training prompts, and the curve, metrics and
// bootstrap interval of the scores. The arithmetic lives in the library (rl/eval.h).
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cmd_eval.h"
#include "rl.h"
#include "rl/battle.h"

// The bootstrap interval of APGR for one router's scores (n_runs arrays), when asked for.
static int interval(const struct rl_bench *b, const double *scores, size_t n_runs,
                    const struct eval_opts *o, struct result *res) {
    if (o->bootstrap == 0)
        return 0;
    int rc = rl_eval_bootstrap_apgr(b, scores, n_runs, o->num_results, o->bootstrap, 0,
                                    &res->apgr_lo, &res->apgr_hi);
    if (rc == RL_ENOMEM)
        return cli_fail("out of memory");
    res->has_ci = rc == RL_OK; // RL_EINVAL: every resample tied, no interval
    return 0;
}

static int finish(const struct rl_bench *b, const double *scores, const struct eval_opts *o,
                  struct result *res) {
    res->n_pts = o->num_results + 1;
    res->n_prompts = b->n;
    res->pts = calloc((size_t)res->n_pts, sizeof *res->pts);
    if (!res->pts)
        return cli_fail("out of memory");
    if (rl_eval_curve(b, scores, o->num_results, &o->prices, res->pts) != RL_OK)
        return cli_fail("%s: cannot compute the curve (no prompts, or a score is not finite)",
                        res->label);
    return 0;
}

// PGR-based metrics come out NaN when the pair is not ordered; the reports show them as not
// defined, and cli_eval_warn_pair has said why.
static int metrics(const struct rl_bench *b, const struct eval_opts *o, struct result *res) {
    if (rl_eval_bench_metrics(b, res->pts, (size_t)res->n_pts, &o->prices, &res->m) != RL_OK)
        return cli_fail("%s: cannot compute the metrics of the curve", res->label);
    return 0;
}

void cli_eval_warn_pair(const struct rl_bench *b, const char *who) {
    char where[160] = "";
    if (who)
        snprintf(where, sizeof where, " (%s: the %zu prompts left after decontamination)", who,
                 b->n);
    fprintf(stderr,
            "routellm: warning: %s%s: the strong model %s (mean quality %.6g) is not better than "
            "the weak model %s (mean %.6g) by at least %.6g, %g%% of the range of its quality "
            "values; PGR, APGR, CPT and the savings are not defined (shown as -, null in JSON, "
            "empty in CSV)\n",
            b->name, where, b->strong, rl_bench_quality(b, true), b->weak,
            rl_bench_quality(b, false), rl_bench_min_gap(b), RL_EVAL_MIN_GAP * 100);
}

// The curve, the metrics and the bootstrap interval of one router's scores.
static int evaluate(const struct rl_bench *b, const double *scores, const struct eval_opts *o,
                    struct result *res) {
    int rc = finish(b, scores, o, res);
    if (rc == 0)
        rc = metrics(b, o, res);
    if (rc == 0)
        rc = interval(b, scores, 1, o, res);
    return rc;
}

int cli_eval_random(const struct rl_bench *b, const struct eval_opts *o, struct result *res) {
    size_t n_pts = (size_t)o->num_results + 1, n = b->n;
    struct rl_eval_point *runs = malloc((size_t)o->random_iters * n_pts * sizeof *runs);
    double *scores = malloc((size_t)o->random_iters * n * sizeof *scores);
    res->pts = calloc(n_pts, sizeof *res->pts);
    int rc = 0;
    if (!runs || !scores || !res->pts)
        rc = cli_fail("out of memory");
    char err[RL_ERRBUF_SIZE];
    // One seed per iteration, as the original re-seeds and re-scores per run (ROUTELLM.md §1.6).
    for (int it = 0; rc == 0 && it < o->random_iters; it++) {
        struct rl_router *r = rl_router_random_new((uint64_t)it);
        double *s = scores + (size_t)it * n;
        if (!r) {
            rc = cli_fail("out of memory");
            break;
        }
        if (rl_eval_score(r, NULL, NULL, NULL, (const char *const *)b->prompts, n, s, NULL, NULL,
                          err) != RL_OK)
            rc = cli_fail("%s", err);
        else if (rl_eval_curve(b, s, o->num_results, &o->prices, runs + (size_t)it * n_pts))
            rc = cli_fail("random: cannot compute the curve");
        rl_router_free(r);
    }
    if (rc == 0) {
        rl_eval_curve_mean(runs, (size_t)o->random_iters, o->num_results, res->pts);
        res->n_pts = (int)n_pts;
        res->n_prompts = n;
        res->iters = o->random_iters;
        rc = metrics(b, o, res);
    }
    if (rc == 0)
        rc = interval(b, scores, (size_t)o->random_iters, o, res);
    free(runs);
    free(scores);
    return rc;
}

// ----------------------------------------------------------------------------
// Score files: per-prompt scores written by --scores-out and read by --scores, so that routers
// trained elsewhere (or on folds of the benchmark itself, tools/kfold_eval.py) go through the
// same protocol.

// The benchmark's name as a file-name stem: no folders, no extension, other bytes as '_'.
void cli_eval_bench_base(const char *path, char *base, size_t size) {
    const char *name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    cli_slug(name, base, size);
    char *dot = strchr(base, '.');
    if (dot && dot != base)
        *dot = '\0';
}

static int write_scores(const struct eval_opts *o, const struct rl_bench *b, const char *label,
                        const double *scores) {
    if (!o->scores_out)
        return 0;
    char base[128], name[300], path[4096];
    cli_eval_bench_base(b->name, base, sizeof base);
    char sl[128];
    cli_slug(label, sl, sizeof sl);
    snprintf(name, sizeof name, "%s-%s.jsonl", base, sl);
    if (rl__mkdirs(o->scores_out) != RL_OK || rl_path_join(path, sizeof path, o->scores_out, name))
        return cli_fail("%s: cannot create the folder", o->scores_out);
    FILE *f = fopen(path, "w");
    if (!f)
        return cli_fail("%s: %s", path, strerror(errno));
    for (size_t i = 0; i < b->n; i++) {
        json_t *j = json_pack("{s:s,s:f}", "prompt", b->prompts[i], "score", scores[i]);
        char *line = j ? json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(17)) : NULL;
        if (line)
            fprintf(f, "%s\n", line);
        free(line);
        json_decref(j);
    }
    if (fclose(f) != 0)
        return cli_fail("%s: write failed", path);
    return 0;
}

int cli_eval_precomputed(const struct rl_bench *b, const struct router_spec *spec,
                         const struct eval_opts *o, struct result *res) {
    double *scores = malloc((b->n ? b->n : 1) * sizeof *scores);
    char err[RL_ERRBUF_SIZE];
    int rc = !scores                                               ? cli_fail("out of memory")
             : rl_eval_scores_read(spec->spec, b, scores, err) < 0 ? cli_fail("%s", err)
                                                                   : 0;
    res->n_removed = -1;
    if (rc == 0)
        rc = write_scores(o, b, spec->label, scores);
    if (rc == 0)
        rc = evaluate(b, scores, o, res);
    free(scores);
    return rc;
}

// The training prompts to check a router against: its own list (unless --no-decontaminate) and
// the --train-prompts files; none when there are none. The caller frees *train.
static int gather_train(const struct rl_router *r, const struct router_spec *spec,
                        const struct eval_opts *o, struct rl_texts *train) {
    char err[RL_ERRBUF_SIZE];
    memset(train, 0, sizeof *train);
    if (!o->no_decontam && rl_router_train_prompts_load(r, train, err) != RL_OK)
        return cli_fail("%s (--no-decontaminate skips this check)", err);
    for (int f = 0; f < spec->n_train; f++) {
        struct rl_texts part;
        struct rl_texts_params exact = {.exact = true};
        if (rl_texts_load(spec->train[f], &exact, &part, err) != RL_OK)
            return cli_fail("%s", err);
        int rc = part.n == 0 ? cli_fail("%s: no prompts in the sample", spec->train[f])
                 : rl_texts_append(train, &part) != RL_OK ? cli_fail("out of memory")
                                                          : 0;
        rl_texts_free(&part);
        if (rc)
            return rc;
    }
    return 0;
}

// Flag the evaluation prompts that are near-duplicates of a training prompt (cosine >= the
// threshold) or that quote one at their start, the two rules `routellm train --exclude` applies
// the other way round. The flags are cached like scores, keyed by both prompt lists, the
// threshold and the encoder, so a warm run neither embeds nor compares anything.
static int contaminated(struct cli_scorer *s, const struct rl_bench *b, const struct rl_texts *tr,
                        double threshold, bool *flag, long *removed) {
    const char *const *train = (const char *const *)tr->items;
    size_t n_train = tr->n;
    uint64_t key = rl__fnv1a("decontaminate", 13, RL_FNV1A_INIT);
    key = rl__fnv1a_strings(train, n_train, key);
    key = rl__fnv1a_strings((const char *const *)b->prompts, b->n, key);
    key = rl__fnv1a(&threshold, sizeof threshold, key);
    char dir[4096], file[256], path[4096], sl[64];
    cli_slug(b->name, sl, sizeof sl);
    snprintf(file, sizeof file, "%s-decontaminate-%016llx.scores", sl, (unsigned long long)key);
    bool cache = !s->no_cache && cli_eval_cache_path(file, dir, path, sizeof path);
    double *cached = malloc((b->n ? b->n : 1) * sizeof *cached);
    if (!cached)
        return cli_fail("out of memory");
    if (cache && rl_eval_cache_read(path, key, cached, b->n) == RL_OK) {
        *removed = 0;
        for (size_t i = 0; i < b->n; i++) {
            flag[i] = cached[i] > 0.5;
            *removed += flag[i];
        }
        free(cached);
        return 0;
    }
    float *t_emb = NULL, *e_emb = NULL;
    int rc = cli_scorer_embed(s, train, n_train, "training prompts", &t_emb);
    if (rc == 0)
        rc = cli_scorer_embed(s, (const char *const *)b->prompts, b->n, b->name, &e_emb);
    long k = 0, q = 0;
    if (rc == 0) {
        memset(flag, 0, b->n * sizeof *flag);
        k = rl_eval_contaminated(e_emb, b->n, t_emb, n_train, rl_encoder_dim(s->enc), threshold,
                                 flag);
        bool *quoted = malloc((b->n ? b->n : 1) * sizeof *quoted);
        q = quoted ? rl_texts_quote_match((const char *const *)b->prompts, b->n, train, n_train,
                                          RL_TEXTS_MIN_QUOTED, quoted)
                   : RL_ENOMEM;
        for (size_t i = 0; q >= 0 && i < b->n; i++) {
            k += quoted[i] && !flag[i];
            flag[i] = flag[i] || quoted[i];
        }
        free(quoted);
        if (k < 0 || q < 0)
            rc = cli_fail("out of memory");
    }
    if (rc == 0) {
        *removed = k;
        for (size_t i = 0; i < b->n; i++)
            cached[i] = flag[i];
        if (cache && rl__mkdirs(dir) == RL_OK && rl_eval_cache_write(path, key, cached, b->n, NULL))
            fprintf(stderr, "routellm: note: could not write the cache %s\n", path);
    }
    free(cached);
    free(t_emb);
    free(e_emb);
    return rc;
}

// A pair the router does not know is an error with the message of route and calibrate; the way
// out, --as, is named after it, with the router's whole list when the message had to cut it.
static int pair_error(const struct rl_router *r, const struct router_spec *spec, const char *err) {
    cli_fail("%s", err);
    size_t n = strlen(err);
    if (n >= 3 && strcmp(err + n - 3, "...") == 0) {
        fprintf(stderr, "routellm: %s knows:", spec->label);
        for (size_t i = 0; i < rl_router_n_models(r); i++)
            fprintf(stderr, "%s %s", i ? "," : "", rl_router_model(r, i));
        fputc('\n', stderr);
    }
    if (!spec->as_strong && !spec->as_weak)
        fprintf(stderr,
                "routellm: to score %s here, name models it knows to stand in for the pair: "
                "--as strong=NAME,weak=NAME, or --as %s:strong=NAME,weak=NAME for it alone\n",
                spec->label, spec->label);
    return 1;
}

int cli_eval_router(const struct rl_bench *b, const struct router_spec *spec,
                    const struct eval_opts *o, struct cli_scorer *s, struct result *res) {
    char err[RL_ERRBUF_SIZE];
    struct rl_router *r = rl_router_load(spec->spec, cli_home(), err);
    if (!r)
        return cli_fail("%s", err);
    const char *strong = spec->as_strong ? spec->as_strong : b->strong;
    const char *weak = spec->as_weak ? spec->as_weak : b->weak;
    struct rl_router_pair pair;
    if (rl_router_pair(r, strong, weak, &pair, err) != RL_OK) {
        pair_error(r, spec, err);
        rl_router_free(r);
        return 1;
    }
    if (spec->as_strong || spec->as_weak)
        fprintf(stderr, "routellm: note: %s scores %s vs %s as %s vs %s (--as)\n", spec->label,
                b->strong, b->weak, rl_router_model(r, (size_t)pair.strong),
                rl_router_model(r, (size_t)pair.weak));
    double *scores = malloc((b->n ? b->n : 1) * sizeof *scores);
    bool *flag = malloc((b->n ? b->n : 1) * sizeof *flag);
    struct rl_texts train = {0};
    int rc = scores && flag ? 0 : cli_fail("out of memory");
    if (rc == 0)
        rc = cli_scorer_score(s, r, spec->spec, spec->label, &pair, (const char *const *)b->prompts,
                              b->n, b->name, scores);
    if (rc == 0)
        rc = gather_train(r, spec, o, &train);
    rl_router_free(r);
    res->n_removed = -1;
    struct rl_bench *sub = NULL;
    if (rc == 0 && train.n > 0) {
        rc = contaminated(s, b, &train, o->decontam, flag, &res->n_removed);
        if (rc == 0 && res->n_removed > 0) {
            bool *keep = flag; // reused: keep = !flag
            size_t j = 0;
            for (size_t i = 0; i < b->n; i++) {
                keep[i] = !flag[i];
                if (keep[i])
                    scores[j++] = scores[i];
            }
            sub = rl_bench_new_subset(b, keep);
            if (!sub)
                rc = cli_fail("out of memory");
            else if (sub->n == 0)
                rc = cli_fail("%s: every evaluation prompt is in its training data", spec->label);
        }
    }
    const struct rl_bench *eb = sub ? sub : b;
    if (rc == 0)
        rc = write_scores(o, eb, spec->label, scores);
    if (rc == 0 && sub && !rl_bench_pair_ordered(sub) && rl_bench_pair_ordered(b))
        cli_eval_warn_pair(sub, spec->label);
    if (rc == 0)
        rc = evaluate(eb, scores, o, res);
    rl_bench_free(sub);
    rl_texts_free(&train);
    free(scores);
    free(flag);
    return rc;
}

int cli_eval_oracle(const struct rl_bench *b, const struct eval_opts *o, struct result *res) {
    double *scores = malloc(b->n * sizeof *scores);
    int rc = scores ? 0 : cli_fail("out of memory");
    if (rc == 0 && rl_eval_oracle_scores(b, scores) != RL_OK)
        rc = cli_fail("out of memory");
    if (rc == 0)
        rc = evaluate(b, scores, o, res);
    free(scores);
    return rc;
}
