// `routellm eval`: the RouteLLM evaluation protocol (ROUTELLM.md §1.6, §4) on MT-Bench, MMLU,
// GSM8K or a user table, for any set of routers plus the oracle; prints a metrics table (or JSON
// or CSV) and, with --output, writes the curve data as CSV and plots it with gnuplot (PNG and
// SVG). This file reads the options and runs the parts: the evaluation of each router
// (eval_run.c) and the reports (eval_report.c).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cmd_eval.h"
#include "rl.h"

// ----------------------------------------------------------------------------
// Options

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
            rc = cli_eval_precomputed(b, sp, &o, &res[i]);
        } else if (strcmp(sp->spec, "random") == 0) {
            if (sp->n_train)
                rc = cli_fail("--train-prompts: the random router has no training prompts");
            else
                rc = cli_eval_random(b, &o, &res[i]);
        } else {
            rc = cli_eval_router(b, sp, &o, &s, &res[i]);
        }
    }
    if (rc == 0) {
        struct result *orc = &res[n_res - 1];
        orc->label = "oracle";
        orc->iters = 1;
        orc->n_removed = -1;
        rc = cli_eval_oracle(b, &o, orc);
    }
    if (rc == 0) {
        if (strcmp(o.format, "json") == 0)
            rc = cli_eval_print_json(b, &o, res, n_res);
        else if (strcmp(o.format, "csv") == 0)
            cli_eval_print_csv(res, n_res);
        else
            cli_eval_print_table(b, &o, res, n_res);
        fflush(stdout);
    }
    if (rc == 0 && o.output)
        rc = cli_eval_write_output(b, &o, res, n_res);
    for (int i = 0; res && i < n_res; i++)
        free(res[i].pts);
    free(res);
    cli_scorer_free(&s);
    rl_bench_free(b);
    return rc;
}
