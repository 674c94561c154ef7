// `routellm eval`: the RouteLLM evaluation protocol (ROUTELLM.md §1.6, §4) on MT-Bench, MMLU,
// GSM8K or a user table, for any set of routers plus the oracle; prints a metrics table (or JSON
// or CSV) and, with --output, writes the curve data as CSV and plots it with gnuplot (PNG and
// SVG). Prompts are scored through the shared scorer (scorer.c); the arithmetic lives in the
// library (rl/eval.h); this file only orchestrates, prints and writes files.
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "cli/cli.h"
#include "rl.h"
#include "rl/battle.h"
#include "rl/calibrate.h"
#include "rl/eval.h"

extern char **environ;

#define MAX_ROUTERS     32
#define MAX_TRAIN_FILES 64

// ----------------------------------------------------------------------------
// Options

struct router_spec {
    const char *label;                  // name shown in the results
    const char *spec;                   // kind name or router file
    bool precomputed;                   // spec is a JSONL file of per-prompt scores (--scores)
    const char *train[MAX_TRAIN_FILES]; // prompt files of its training prompts
    int n_train;
};

struct eval_opts {
    const char *benchmark;
    const char *output;
    const char *format;
    const char *data_dir;
    const char *model_dir;
    const char *scores_out; // --scores-out DIR
    bool no_cache;
    bool no_decontam; // skip the routers' own training-prompt lists
    struct rl_bench_table_params table;
    struct rl_eval_prices prices;
    int num_results;
    int random_iters;
    int bootstrap; // resamples for the APGR interval, 0 for none
    double decontam;
    struct router_spec routers[MAX_ROUTERS];
    int n_routers;
};

static void usage(FILE *f) {
    fprintf(
        f,
        "usage: routellm eval --benchmark {mt-bench,mmlu,gsm8k,table:FILE}\n"
        "                     [--routers random,mf,sw_ranking,bert] [--router-file NAME=FILE]...\n"
        "                     [--output DIR] [--num-results 10] [--random-iters 10]\n"
        "                     [--format table|json|csv]\n"
        "\n"
        "Measure routers with RouteLLM's protocol: thresholds at the deciles of each router's\n"
        "scores, quality against the share of strong-model calls, and APGR, CPT(20/50/80%%),\n"
        "AUC and the cost saving against always-strong. The oracle row is the ceiling.\n"
        "\n"
        "options:\n"
        "  --benchmark B          mt-bench, mmlu, gsm8k, or table:FILE (CSV or JSONL)\n"
        "  --routers LIST         comma-separated router names or files (default random)\n"
        "  --router-file N=FILE   evaluate router file FILE under the name N\n"
        "  --scores N=FILE        evaluate precomputed scores under the name N: JSONL lines\n"
        "                         {\"prompt\": ..., \"score\": ...} covering every prompt\n"
        "  --scores-out DIR       write each router's scores as DIR/<benchmark>-<name>.jsonl\n"
        "  --train-prompts N=FILE more training prompts of router N (repeat for several\n"
        "                         files); a router file that lists its own is checked against\n"
        "                         them by default. Evaluation prompts within cosine\n"
        "                         --decontaminate of one, or quoting one, are dropped for N\n"
        "  --decontaminate C      cosine threshold of that check (default 0.95)\n"
        "  --no-decontaminate     do not check against the routers' own training prompts\n"
        "  --output DIR           write DIR/<benchmark>.{csv,png,svg,gp}\n"
        "  --num-results K        number of threshold bins (default 10)\n"
        "  --random-iters N       seeds averaged for the random router (default 10)\n"
        "  --bootstrap N          95%% interval of APGR from N resamples of the prompts\n"
        "  --format F             table (default), json or csv on stdout\n"
        "  --strong COL --weak COL  quality columns of a table benchmark\n"
        "  --prompt-column COL    prompt column of a table benchmark (default prompt)\n"
        "  --strong-cost COL --weak-cost COL  per-prompt cost columns of a table\n"
        "  --price-strong P --price-weak P  $ per million tokens (default 24.7, 0.24)\n"
        "  --data-dir DIR         evaluation data (default <home>/data/evals)\n"
        "  --model-dir DIR        encoder folder (default <home>/models/all-MiniLM-L6-v2)\n"
        "  --no-cache             recompute embeddings and scores\n");
}

static int parse_int(const char *opt, const char *v, int lo, int hi, int *out) {
    long x;
    if (cli_parse_long(opt, v, lo, hi, &x))
        return 1;
    *out = (int)x;
    return 0;
}

static struct router_spec *find_router(struct eval_opts *o, const char *label) {
    for (int i = 0; i < o->n_routers; i++)
        if (strcmp(o->routers[i].label, label) == 0)
            return &o->routers[i];
    return NULL;
}

static int add_router(struct eval_opts *o, const char *label, const char *spec) {
    if (!*label || !*spec)
        return cli_fail("--routers: empty router name");
    if (strcmp(label, "oracle") == 0)
        return cli_fail("'oracle' is always reported; it is not a router to evaluate");
    struct router_spec *r = find_router(o, label);
    if (r) {
        r->spec = spec;
        return 0;
    }
    if (o->n_routers == MAX_ROUTERS)
        return cli_fail("at most %d routers per run", MAX_ROUTERS);
    o->routers[o->n_routers++] = (struct router_spec){.label = label, .spec = spec};
    return 0;
}

// Split "NAME=FILE" in place.
static int split_pair(const char *opt, char *arg, char **name, char **file) {
    char *eq = strchr(arg, '=');
    if (!eq || eq == arg || !eq[1])
        return cli_fail("%s: expected NAME=FILE, got '%s'", opt, arg);
    *eq = '\0';
    *name = arg;
    *file = eq + 1;
    return 0;
}

static int parse_args(int argc, char **argv, struct eval_opts *o) {
    memset(o, 0, sizeof *o);
    o->format = "table";
    o->num_results = 10;
    o->random_iters = 10;
    o->decontam = 0.95;
    o->prices = (struct rl_eval_prices){RL_EVAL_PRICE_STRONG, RL_EVAL_PRICE_WEAK};
    char *routers = NULL;
    struct {
        char *name, *file;
    } train[MAX_ROUTERS * 4];
    int n_train = 0;
    for (int i = 1; i < argc; i++) {
        char *a = argv[i];
        if (cli_is_help(a)) {
            usage(stdout);
            return -1;
        }
        if (strcmp(a, "--no-cache") == 0) {
            o->no_cache = true;
            continue;
        }
        if (strcmp(a, "--no-decontaminate") == 0) {
            o->no_decontam = true;
            continue;
        }
        if (strncmp(a, "--", 2) != 0 || i + 1 >= argc) {
            usage(stderr);
            return cli_fail("eval: unexpected argument '%s'", a);
        }
        char *v = argv[++i];
        int bad = 0;
        if (strcmp(a, "--benchmark") == 0)
            o->benchmark = v;
        else if (strcmp(a, "--routers") == 0)
            routers = v;
        else if (strcmp(a, "--router-file") == 0) {
            char *name = NULL, *file = NULL;
            bad = split_pair(a, v, &name, &file) || add_router(o, name, file);
        } else if (strcmp(a, "--scores") == 0) {
            char *name = NULL, *file = NULL;
            bad = split_pair(a, v, &name, &file) || add_router(o, name, file);
            struct router_spec *r = bad ? NULL : find_router(o, name);
            if (r)
                r->precomputed = true;
        } else if (strcmp(a, "--scores-out") == 0) {
            o->scores_out = v;
        } else if (strcmp(a, "--train-prompts") == 0) {
            if (n_train == MAX_ROUTERS * 4)
                return cli_fail("--train-prompts: at most %d", MAX_ROUTERS * 4);
            bad = split_pair(a, v, &train[n_train].name, &train[n_train].file);
            n_train++;
        } else if (strcmp(a, "--decontaminate") == 0)
            bad = cli_parse_double(a, v, 0, 1, &o->decontam);
        else if (strcmp(a, "--output") == 0)
            o->output = v;
        else if (strcmp(a, "--format") == 0)
            o->format = v;
        else if (strcmp(a, "--num-results") == 0)
            bad = parse_int(a, v, 1, RL_EVAL_MAX_RESULTS, &o->num_results);
        else if (strcmp(a, "--random-iters") == 0)
            bad = parse_int(a, v, 1, 10000, &o->random_iters);
        else if (strcmp(a, "--bootstrap") == 0)
            bad = parse_int(a, v, 0, 100000, &o->bootstrap);
        else if (strcmp(a, "--strong") == 0)
            o->table.strong = v;
        else if (strcmp(a, "--weak") == 0)
            o->table.weak = v;
        else if (strcmp(a, "--prompt-column") == 0)
            o->table.prompt = v;
        else if (strcmp(a, "--strong-cost") == 0)
            o->table.cost_strong = v;
        else if (strcmp(a, "--weak-cost") == 0)
            o->table.cost_weak = v;
        else if (strcmp(a, "--price-strong") == 0)
            bad = cli_parse_double(a, v, 0, 1e9, &o->prices.strong);
        else if (strcmp(a, "--price-weak") == 0)
            bad = cli_parse_double(a, v, 0, 1e9, &o->prices.weak);
        else if (strcmp(a, "--data-dir") == 0)
            o->data_dir = v;
        else if (strcmp(a, "--model-dir") == 0)
            o->model_dir = v;
        else {
            usage(stderr);
            return cli_fail("eval: unknown option '%s'", a);
        }
        if (bad)
            return 1;
    }
    if (!o->benchmark) {
        usage(stderr);
        return cli_fail("eval: --benchmark is required");
    }
    if (strcmp(o->format, "table") != 0 && strcmp(o->format, "json") != 0 &&
        strcmp(o->format, "csv") != 0)
        return cli_fail("--format: '%s' (expected table, json or csv)", o->format);
    bool table = strncmp(o->benchmark, "table:", 6) == 0;
    if (!table && (o->table.strong || o->table.weak || o->table.prompt || o->table.cost_strong ||
                   o->table.cost_weak))
        return cli_fail("--strong, --weak, --prompt-column and the cost columns apply to "
                        "--benchmark table:FILE only (the built-in benchmarks fix the pair)");
    if (table && (!o->table.strong || !o->table.weak))
        return cli_fail("--benchmark %s needs --strong COL and --weak COL", o->benchmark);
    // --routers first, then --router-file entries not already named, in command-line order.
    struct router_spec files[MAX_ROUTERS];
    int n_files = o->n_routers;
    memcpy(files, o->routers, sizeof files);
    o->n_routers = 0;
    if (!routers && n_files == 0)
        routers = "random";
    for (char *tok = routers; tok && *tok;) {
        char *comma = strchr(tok, ',');
        if (comma)
            *comma = '\0';
        if (add_router(o, tok, tok))
            return 1;
        tok = comma ? comma + 1 : NULL;
    }
    for (int i = 0; i < n_files; i++) {
        if (add_router(o, files[i].label, files[i].spec))
            return 1;
        find_router(o, files[i].label)->precomputed = files[i].precomputed;
    }
    for (int i = 0; i < n_train; i++) {
        struct router_spec *r = find_router(o, train[i].name);
        if (!r)
            return cli_fail("--train-prompts: no router named '%s' in this run", train[i].name);
        if (r->n_train == MAX_TRAIN_FILES)
            return cli_fail("--train-prompts: at most %d files per router", MAX_TRAIN_FILES);
        if (r->precomputed)
            return cli_fail("--train-prompts: '%s' is a score file, not a router", r->label);
        r->train[r->n_train++] = train[i].file;
    }
    return 0;
}

// ----------------------------------------------------------------------------
// Evaluation

struct result {
    const char *label;
    const char *spec; // NULL for the oracle
    int iters;        // seeds averaged (random router), else 1
    size_t n_prompts; // prompts evaluated
    long n_removed;   // dropped by --train-prompts decontamination, or -1 when not checked
    int n_pts;
    struct rl_eval_point *pts; // (n_pts)
    struct rl_eval_metrics m;
    bool has_ci;
    double apgr_lo, apgr_hi; // percentile bootstrap interval of APGR (--bootstrap)
};

// The bootstrap interval of APGR for one router's scores (n_runs arrays), when asked for.
static int interval(const struct rl_bench *b, const double *scores, int n_runs,
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

static int metrics(const struct rl_bench *b, const struct eval_opts *o, struct result *res) {
    double r_w = rl_bench_quality(b, false), r_s = rl_bench_quality(b, true);
    if (rl_eval_metrics(res->pts, (size_t)res->n_pts, r_w, r_s, rl_bench_cost(b, &o->prices, true),
                        &res->m) != RL_OK)
        return cli_fail("%s: the strong and weak models have the same mean quality (%g) on "
                        "these prompts, so PGR is undefined",
                        res->label, r_w);
    return 0;
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

static int eval_random(const struct rl_bench *b, const struct eval_opts *o, struct result *res) {
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
        rl_eval_curve_mean(runs, o->random_iters, o->num_results, res->pts);
        res->n_pts = (int)n_pts;
        res->n_prompts = n;
        res->iters = o->random_iters;
        rc = metrics(b, o, res);
    }
    if (rc == 0)
        rc = interval(b, scores, o->random_iters, o, res);
    free(runs);
    free(scores);
    return rc;
}

// ----------------------------------------------------------------------------
// Score files: per-prompt scores written by --scores-out and read by --scores, so that routers
// trained elsewhere (or on folds of the benchmark itself, tools/kfold_eval.py) go through the
// same protocol.

// The benchmark's name as a file-name stem: no folders, no extension, other bytes as '_'.
static void bench_base(const struct rl_bench *b, char *base, size_t size) {
    const char *name = strrchr(b->name, '/') ? strrchr(b->name, '/') + 1 : b->name;
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
    bench_base(b, base, sizeof base);
    char sl[128];
    cli_slug(label, sl, sizeof sl);
    snprintf(name, sizeof name, "%s-%s.jsonl", base, sl);
    if (cli_mkdirs(o->scores_out) != RL_OK || rl_path_join(path, sizeof path, o->scores_out, name))
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

static int eval_precomputed(const struct rl_bench *b, const struct router_spec *spec,
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
// the --train-prompts files. *n is 0 when there are none.
static int gather_train(const struct rl_router *r, const struct router_spec *spec,
                        const struct eval_opts *o, char ***texts, size_t *n) {
    char err[RL_ERRBUF_SIZE];
    *texts = NULL;
    *n = 0;
    if (!o->no_decontam) {
        long k = rl_router_train_prompts(r, texts, err);
        if (k < 0)
            return cli_fail("%s (--no-decontaminate skips this check)", err);
        *n = (size_t)k;
    }
    for (int f = 0; f < spec->n_train; f++) {
        struct rl_prompts part;
        if (rl_prompts_load(spec->train[f], &part, err) != RL_OK)
            return cli_fail("%s", err);
        char **items = realloc(*texts, (*n + part.n) * sizeof *items);
        if (!items) {
            rl_prompts_free(&part);
            return cli_fail("out of memory");
        }
        memcpy(items + *n, part.items, part.n * sizeof *items);
        *texts = items;
        *n += part.n;
        free(part.items); // the strings now belong to *texts
    }
    return 0;
}

// Flag the evaluation prompts that are near-duplicates of a training prompt (cosine >= the
// threshold) or that quote one at their start, the two rules `routellm train --exclude` applies
// the other way round. The flags are cached like scores, keyed by both prompt lists, the
// threshold and the encoder, so a warm run neither embeds nor compares anything.
static int contaminated(struct cli_scorer *s, const struct rl_bench *b, char **train,
                        size_t n_train, double threshold, bool *flag, long *removed) {
    uint64_t key = rl_eval_digest("decontaminate", 13, RL_EVAL_DIGEST_INIT);
    key = rl_eval_digest_prompts((const char *const *)train, n_train, key);
    key = rl_eval_digest_prompts((const char *const *)b->prompts, b->n, key);
    key = rl_eval_digest(&threshold, sizeof threshold, key);
    char dir[4096], file[256], path[4096], sl[64];
    cli_slug(b->name, sl, sizeof sl);
    snprintf(file, sizeof file, "%s-decontaminate-%016llx.scores", sl, (unsigned long long)key);
    bool cache = !s->no_cache && cli_eval_cache_path(file, dir, path, sizeof path);
    double *cached = malloc((b->n ? b->n : 1) * sizeof *cached);
    if (!cached)
        return cli_fail("out of memory");
    if (cache && rl_eval_cache_load(path, key, cached, b->n) == RL_OK) {
        *removed = 0;
        for (size_t i = 0; i < b->n; i++) {
            flag[i] = cached[i] > 0.5;
            *removed += flag[i];
        }
        free(cached);
        return 0;
    }
    float *t_emb = NULL, *e_emb = NULL;
    int rc = cli_scorer_embed(s, (const char *const *)train, n_train, "training prompts", &t_emb);
    if (rc == 0)
        rc = cli_scorer_embed(s, (const char *const *)b->prompts, b->n, b->name, &e_emb);
    long k = 0, q = 0;
    if (rc == 0) {
        memset(flag, 0, b->n * sizeof *flag);
        k = rl_eval_contaminated(e_emb, b->n, t_emb, n_train, rl_encoder_dim(s->enc), threshold,
                                 flag);
        bool *quoted = malloc((b->n ? b->n : 1) * sizeof *quoted);
        q = quoted ? rl_texts_quote_match((const char *const *)b->prompts, b->n,
                                          (const char *const *)train, n_train, RL_TEXTS_MIN_QUOTED,
                                          quoted)
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
        if (cache && cli_mkdirs(dir) == RL_OK && rl_eval_cache_save(path, key, cached, b->n, NULL))
            fprintf(stderr, "routellm: note: could not write the cache %s\n", path);
    }
    free(cached);
    free(t_emb);
    free(e_emb);
    return rc;
}

static int eval_router(const struct rl_bench *b, const struct router_spec *spec,
                       const struct eval_opts *o, struct cli_scorer *s, struct result *res) {
    char err[RL_ERRBUF_SIZE];
    struct rl_router *r = rl_router_load(spec->spec, cli_home(), err);
    if (!r)
        return cli_fail("%s", err);
    struct rl_router_pair pair;
    if (rl_router_pair(r, b->strong, b->weak, &pair, err) != RL_OK) {
        if (rl_router_default_pair(r, &pair) != RL_OK) {
            rl_router_free(r);
            return cli_fail("%s", err);
        }
        fprintf(stderr, "routellm: note: %s; scoring %s's default pair %s vs %s\n", err,
                spec->label, rl_router_model(r, pair.strong), rl_router_model(r, pair.weak));
    }
    double *scores = malloc((b->n ? b->n : 1) * sizeof *scores);
    bool *flag = malloc((b->n ? b->n : 1) * sizeof *flag);
    char **train = NULL;
    size_t n_train = 0;
    int rc = scores && flag ? 0 : cli_fail("out of memory");
    if (rc == 0)
        rc = cli_scorer_score(s, r, spec->spec, spec->label, &pair, (const char *const *)b->prompts,
                              b->n, b->name, scores);
    if (rc == 0)
        rc = gather_train(r, spec, o, &train, &n_train);
    rl_router_free(r);
    res->n_removed = -1;
    struct rl_bench *sub = NULL;
    if (rc == 0 && n_train > 0) {
        rc = contaminated(s, b, train, n_train, o->decontam, flag, &res->n_removed);
        if (rc == 0 && res->n_removed > 0) {
            bool *keep = flag; // reused: keep = !flag
            size_t j = 0;
            for (size_t i = 0; i < b->n; i++) {
                keep[i] = !flag[i];
                if (keep[i])
                    scores[j++] = scores[i];
            }
            sub = rl_bench_subset(b, keep);
            if (!sub)
                rc = cli_fail("out of memory");
            else if (sub->n == 0)
                rc = cli_fail("%s: every evaluation prompt is in its training data", spec->label);
        }
    }
    const struct rl_bench *eb = sub ? sub : b;
    if (rc == 0)
        rc = write_scores(o, eb, spec->label, scores);
    if (rc == 0)
        rc = evaluate(eb, scores, o, res);
    rl_bench_free(sub);
    rl_texts_free(train, n_train);
    free(scores);
    free(flag);
    return rc;
}

static int eval_oracle(const struct rl_bench *b, const struct eval_opts *o, struct result *res) {
    double *scores = malloc(b->n * sizeof *scores);
    int rc = scores ? 0 : cli_fail("out of memory");
    if (rc == 0 && rl_eval_oracle_scores(b, scores) != RL_OK)
        rc = cli_fail("out of memory");
    if (rc == 0)
        rc = evaluate(b, scores, o, res);
    free(scores);
    return rc;
}

// ----------------------------------------------------------------------------
// Output

static const char *quality_name(const struct rl_bench *b) {
    if (strcmp(b->name, "mt-bench") == 0)
        return "MT-Bench score (GPT-4 judge, 1-10)";
    if (strcmp(b->name, "mmlu") == 0 || strcmp(b->name, "gsm8k") == 0)
        return "accuracy (%)";
    return "quality";
}

static void print_table(const struct rl_bench *b, const struct eval_opts *o,
                        const struct result *res, int n_res) {
    printf("benchmark %s: %zu prompts (%zu in the source, %zu dropped by its contamination "
           "list)\n",
           b->name, b->n, b->n_total, b->n_dropped);
    printf("quality: %s; strong %s %.3f, weak %s %.3f\n", quality_name(b), b->strong,
           rl_bench_quality(b, true), b->weak, rl_bench_quality(b, false));
    if (b->c_strong)
        printf("costs: per-prompt columns, always-strong %.6g per prompt\n",
               rl_bench_cost(b, &o->prices, true));
    else
        printf("prices: strong $%g, weak $%g per million tokens\n", o->prices.strong,
               o->prices.weak);
    printf("\n%-16s %6s %7s %7s %7s %7s %8s %8s %8s %9s%s\n", "router", "APGR", "APGR10", "CPT20",
           "CPT50", "CPT80", "AUC", "save@50", "save@80", "removed",
           o->bootstrap ? "   APGR 95% CI" : "");
    for (int i = 0; i < n_res; i++) {
        const struct result *r = &res[i];
        char removed[32];
        if (r->n_removed < 0)
            snprintf(removed, sizeof removed, "-");
        else
            snprintf(removed, sizeof removed, "%ld", r->n_removed);
        char ci[48] = "";
        if (r->has_ci)
            snprintf(ci, sizeof ci, "   [%.3f, %.3f]", r->apgr_lo, r->apgr_hi);
        else if (o->bootstrap)
            snprintf(ci, sizeof ci, "   -");
        printf("%-16s %6.3f %7.3f %6.2f%% %6.2f%% %6.2f%% %8.3f %7.2fx %7.2fx %9s%s\n", r->label,
               r->m.apgr, r->m.apgr_avg, r->m.cpt20, r->m.cpt50, r->m.cpt80, r->m.auc,
               r->m.saving50, r->m.saving80, removed, ci);
    }
    printf("\nAPGR: area under PGR over the share of strong calls (random = 0.5); APGR10: mean "
           "PGR at the\n%d thresholds with strong calls; CPT(x): %% strong calls to reach x%% "
           "PGR; save@x: cost of\nalways-strong / cost at CPT(x); removed: prompts dropped as "
           "near-duplicates or quotes of\nthe router's training prompts (- when not checked).\n",
           o->num_results);
    if (o->bootstrap)
        printf("APGR 95%% CI: percentile bootstrap over %d resamples of the prompts.\n",
               o->bootstrap);
}

static json_t *json_num(double x) {
    return isfinite(x) ? json_real(x) : json_null();
}

static int print_json(const struct rl_bench *b, const struct eval_opts *o, const struct result *res,
                      int n_res) {
    json_t *doc = json_object(), *routers = json_array();
    json_object_set_new(doc, "benchmark", json_string(b->name));
    json_object_set_new(doc, "strong_model", json_string(b->strong));
    json_object_set_new(doc, "weak_model", json_string(b->weak));
    json_object_set_new(doc, "n_prompts", json_integer((json_int_t)b->n));
    json_object_set_new(doc, "n_source", json_integer((json_int_t)b->n_total));
    json_object_set_new(doc, "n_contaminated", json_integer((json_int_t)b->n_dropped));
    json_object_set_new(doc, "strong_quality", json_num(rl_bench_quality(b, true)));
    json_object_set_new(doc, "weak_quality", json_num(rl_bench_quality(b, false)));
    json_object_set_new(doc, "num_results", json_integer(o->num_results));
    if (b->c_strong)
        json_object_set_new(doc, "prices", json_null());
    else
        json_object_set_new(
            doc, "prices",
            json_pack("{s:f,s:f}", "strong", o->prices.strong, "weak", o->prices.weak));
    for (int i = 0; i < n_res; i++) {
        const struct result *r = &res[i];
        json_t *jr = json_object(), *pts = json_array();
        json_object_set_new(jr, "name", json_string(r->label));
        json_object_set_new(jr, "router", r->spec ? json_string(r->spec) : json_null());
        json_object_set_new(jr, "oracle", json_boolean(r->spec == NULL));
        json_object_set_new(jr, "iters", json_integer(r->iters));
        json_object_set_new(jr, "n_prompts", json_integer((json_int_t)r->n_prompts));
        json_object_set_new(jr, "n_train_contaminated",
                            r->n_removed < 0 ? json_null() : json_integer(r->n_removed));
        for (int k = 0; k < r->n_pts; k++) {
            const struct rl_eval_point *p = &r->pts[k];
            json_array_append_new(pts, json_pack("{s:o,s:o,s:o,s:o,s:o}", "threshold",
                                                 json_num(p->threshold), "strong_pct",
                                                 json_num(p->strong_pct), "quality",
                                                 json_num(p->quality), "pgr", json_num(p->pgr),
                                                 "cost", json_num(p->cost)));
        }
        json_object_set_new(jr, "points", pts);
        const struct rl_eval_metrics *m = &r->m;
        struct {
            const char *k;
            double v;
        } f[] = {{"weak_quality", m->r_weak},
                 {"strong_quality", m->r_strong},
                 {"apgr", m->apgr},
                 {"apgr_avg", m->apgr_avg},
                 {"auc", m->auc},
                 {"cpt20", m->cpt20},
                 {"cpt50", m->cpt50},
                 {"cpt80", m->cpt80},
                 {"cpt20_min", m->cpt20_min},
                 {"cpt50_min", m->cpt50_min},
                 {"cpt80_min", m->cpt80_min},
                 {"cost_strong", m->cost_strong},
                 {"saving50", m->saving50},
                 {"saving80", m->saving80}};
        for (size_t k = 0; k < RL_COUNTOF(f); k++)
            json_object_set_new(jr, f[k].k, json_num(f[k].v));
        json_object_set_new(jr, "apgr_ci",
                            r->has_ci
                                ? json_pack("[o,o]", json_num(r->apgr_lo), json_num(r->apgr_hi))
                                : json_null());
        json_array_append_new(routers, jr);
    }
    json_object_set_new(doc, "routers", routers);
    char *text = json_dumps(doc, JSON_INDENT(2) | JSON_REAL_PRECISION(12));
    json_decref(doc);
    if (!text)
        return cli_fail("out of memory");
    puts(text);
    free(text);
    return 0;
}

// Quote a CSV field when it needs it.
static void csv_field(FILE *f, const char *s) {
    if (!strpbrk(s, ",\"\n\r")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void print_csv(const struct result *res, int n_res) {
    printf("router,n_prompts,n_train_contaminated,weak_quality,strong_quality,apgr,apgr_avg,auc,"
           "cpt20,cpt50,cpt80,cpt20_min,cpt50_min,cpt80_min,saving50,saving80,apgr_lo,apgr_hi\n");
    for (int i = 0; i < n_res; i++) {
        const struct result *r = &res[i];
        const struct rl_eval_metrics *m = &r->m;
        csv_field(stdout, r->label);
        printf(",%zu,", r->n_prompts);
        if (r->n_removed >= 0)
            printf("%ld", r->n_removed);
        printf(",%.10g,%.10g,%.10g,%.10g,%.10g,%.10g,%.10g,%.10g,%.10g,%.10g,%.10g,%.10g,%.10g,",
               m->r_weak, m->r_strong, m->apgr, m->apgr_avg, m->auc, m->cpt20, m->cpt50, m->cpt80,
               m->cpt20_min, m->cpt50_min, m->cpt80_min, m->saving50, m->saving80);
        if (r->has_ci)
            printf("%.10g,%.10g\n", r->apgr_lo, r->apgr_hi);
        else
            printf(",\n");
    }
}

// A gnuplot string literal: single quotes, with '' for a quote inside.
static void gp_string(FILE *f, const char *s) {
    fputc('\'', f);
    for (; *s; s++) {
        if (*s == '\'')
            fputc('\'', f);
        if (*s != '\n' && *s != '\r')
            fputc(*s, f);
    }
    fputc('\'', f);
}

static int run_gnuplot(const char *script) {
    char *argv[] = {"gnuplot", (char *)script, NULL};
    pid_t pid;
    int err = posix_spawnp(&pid, "gnuplot", NULL, NULL, argv, environ);
    if (err != 0)
        return cli_fail("cannot run gnuplot (%s): install gnuplot-nox (tools/install_deps.sh) "
                        "to get the plots; the curve data is in the CSV",
                        strerror(err));
    int status;
    if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return cli_fail("gnuplot failed on %s", script);
    return 0;
}

static int out_path(char *out, size_t size, const char *dir, const char *base, const char *ext) {
    int n = snprintf(out, size, "%s/%s%s", dir, base, ext);
    return n < 0 || (size_t)n >= size;
}

static int write_output(const struct rl_bench *b, const struct eval_opts *o,
                        const struct result *res, int n_res) {
    char base[256], csv[4096], gp[4096], drv[4096], png[4096], svg[4096];
    bench_base(b, base, sizeof base);
    if (cli_mkdirs(o->output) != RL_OK)
        return cli_fail("%s: cannot create the output folder: %s", o->output, strerror(errno));
    if (out_path(csv, sizeof csv, o->output, base, ".csv") ||
        out_path(gp, sizeof gp, o->output, base, ".gp") ||
        out_path(drv, sizeof drv, o->output, base, ".render.gp") ||
        out_path(png, sizeof png, o->output, base, ".png") ||
        out_path(svg, sizeof svg, o->output, base, ".svg"))
        return cli_fail("%s: output path too long", o->output);

    FILE *f = fopen(csv, "w");
    if (!f)
        return cli_fail("%s: %s", csv, strerror(errno));
    fprintf(f, "router,edge,threshold,strong_pct,quality,pgr,cost\n");
    for (int i = 0; i < n_res; i++)
        for (int k = 0; k < res[i].n_pts; k++) {
            const struct rl_eval_point *p = &res[i].pts[k];
            csv_field(f, res[i].label);
            fprintf(f, ",%d,%.10g,%.10g,%.10g,%.10g,%.10g\n", p->edge, p->threshold, p->strong_pct,
                    p->quality, p->pgr, p->cost);
        }
    if (fclose(f) != 0)
        return cli_fail("%s: write failed", csv);

    f = fopen(gp, "w");
    if (!f)
        return cli_fail("%s: %s", gp, strerror(errno));
    fprintf(f, "# Call-performance curves of 'routellm eval --benchmark %s'; data in %s.csv.\n",
            b->name, base);
    for (int i = 0; i < n_res; i++) {
        fprintf(f, "$d%d << EOD\n", i);
        for (int k = 0; k < res[i].n_pts; k++)
            fprintf(f, "%.10g %.10g\n", res[i].pts[k].strong_pct, res[i].pts[k].quality);
        fprintf(f, "EOD\n");
    }
    fprintf(f, "set title ");
    char title[512];
    snprintf(title, sizeof title, "Quality against strong-model calls (%s, %zu prompts)", b->name,
             b->n);
    gp_string(f, title);
    fprintf(f, " noenhanced\nset xlabel 'Strong model calls (%%)'\nset ylabel ");
    gp_string(f, quality_name(b));
    fprintf(f, "\nset xrange [0:100]\nset offsets 0, 0, graph 0.05, graph 0.05\nset grid\nset key "
               "bottom right opaque box noenhanced\n");
    fprintf(f, "plot ");
    for (int i = 0; i < n_res; i++) {
        // The oracle is a bound, not a router: drawn apart, in black dash-dots.
        fprintf(f, "$d%d using 1:2 with linespoints pt 7 ps 0.6%s title ", i,
                res[i].spec ? "" : " dt 4 lc rgb 'black'");
        gp_string(f, res[i].label);
        fprintf(f, ", \\\n     ");
    }
    fprintf(f, "%.10g with lines dt 2 lc rgb 'red' title ", rl_bench_quality(b, true));
    gp_string(f, b->strong);
    fprintf(f, ", \\\n     %.10g with lines dt 2 lc rgb 'grey40' title ",
            rl_bench_quality(b, false));
    gp_string(f, b->weak);
    fprintf(f, "\n");
    fclose(f);

    // The plot script above is terminal-neutral; the driver renders it twice.
    f = fopen(drv, "w");
    if (!f)
        return cli_fail("%s: %s", drv, strerror(errno));
    fprintf(f, "set terminal pngcairo size 1000,620\nset output ");
    gp_string(f, png);
    fprintf(f, "\nload ");
    gp_string(f, gp);
    fprintf(f, "\nset terminal svg size 1000,620 dynamic\nset output ");
    gp_string(f, svg);
    fprintf(f, "\nreplot\nunset output\n");
    fclose(f);
    int rc = run_gnuplot(drv);
    remove(drv);
    if (rc == 0)
        fprintf(stderr, "routellm: wrote %s, %s, %s and %s\n", csv, png, svg, gp);
    return rc;
}

// ----------------------------------------------------------------------------
// Command

int cli_cmd_eval(int argc, char **argv) {
    struct eval_opts o;
    int rc = parse_args(argc, argv, &o);
    if (rc)
        return rc < 0 ? 0 : rc;
    char err[RL_ERRBUF_SIZE], data_dir[4096];
    struct rl_bench *b;
    if (strncmp(o.benchmark, "table:", 6) == 0) {
        b = rl_bench_load_table(o.benchmark + 6, &o.table, err);
    } else {
        if (!o.data_dir && rl_path_join(data_dir, sizeof data_dir, cli_home(), "data/evals"))
            return cli_fail("data path too long");
        b = rl_bench_load(o.benchmark, o.data_dir ? o.data_dir : data_dir, err);
    }
    if (!b)
        return cli_fail("%s", err);

    struct cli_scorer s;
    cli_scorer_init(&s, o.model_dir, o.no_cache);
    int n_res = o.n_routers + 1;
    struct result *res = calloc((size_t)n_res, sizeof *res);
    if (!res)
        rc = cli_fail("out of memory");
    for (int i = 0; rc == 0 && i < o.n_routers; i++) {
        const struct router_spec *sp = &o.routers[i];
        res[i].label = sp->label;
        res[i].spec = sp->spec;
        res[i].iters = 1;
        res[i].n_removed = -1;
        if (sp->precomputed) {
            rc = eval_precomputed(b, sp, &o, &res[i]);
        } else if (strcmp(sp->spec, "random") == 0) {
            if (sp->n_train)
                rc = cli_fail("--train-prompts: the random router has no training prompts");
            else
                rc = eval_random(b, &o, &res[i]);
        } else {
            rc = eval_router(b, sp, &o, &s, &res[i]);
        }
    }
    if (rc == 0) {
        struct result *orc = &res[n_res - 1];
        orc->label = "oracle";
        orc->iters = 1;
        orc->n_removed = -1;
        rc = eval_oracle(b, &o, orc);
    }
    if (rc == 0) {
        if (strcmp(o.format, "json") == 0)
            rc = print_json(b, &o, res, n_res);
        else if (strcmp(o.format, "csv") == 0)
            print_csv(res, n_res);
        else
            print_table(b, &o, res, n_res);
        fflush(stdout);
    }
    if (rc == 0 && o.output)
        rc = write_output(b, &o, res, n_res);
    for (int i = 0; res && i < n_res; i++)
        free(res[i].pts);
    free(res);
    cli_scorer_free(&s);
    rl_bench_free(b);
    return rc;
}
