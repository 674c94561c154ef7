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

static const char *const formats[] = {"table", "json", "csv", NULL}; // enum eval_format
static const char *const benchmarks[] = {"mt-bench", "mmlu", "gsm8k", NULL};

static struct router_spec *find_router(struct eval_opts *o, const char *label) {
    for (int i = 0; i < o->n_routers; i++)
        if (strcmp(o->routers[i].label, label) == 0)
            return &o->routers[i];
    return NULL;
}

// Add a router, or give a new spec to the one of that label.
static int add_router(const struct cli_spec *cs, struct eval_opts *o, const char *label,
                      const char *spec, bool precomputed) {
    if (!*label || !*spec)
        return cli_usage(cs, "--routers: empty router name");
    if (strcmp(label, "oracle") == 0)
        return cli_usage(cs, "'oracle' is always reported; it is not a router to evaluate");
    struct router_spec *r = find_router(o, label);
    if (!r && o->n_routers == MAX_ROUTERS)
        return cli_usage(cs, "at most %d routers per run", MAX_ROUTERS);
    if (!r)
        r = &o->routers[o->n_routers++];
    *r = (struct router_spec){.label = label, .spec = spec, .precomputed = precomputed};
    return 0;
}

// Split "NAME=FILE" in place.
static int split_pair(const struct cli_spec *cs, const char *opt, char *arg, char **name,
                      char **file) {
    char *eq = strchr(arg, '=');
    if (!eq || eq == arg || !eq[1])
        return cli_usage(cs, "%s: expected NAME=FILE, got '%s'", opt, arg);
    *eq = '\0';
    *name = arg;
    *file = eq + 1;
    return 0;
}

// The routers in command-line order: --routers (default random when no file is named), then
// the --router-file and --scores entries (a name given twice keeps the last file), then the
// --train-prompts files of each.
static int gather_routers(const struct cli_spec *cs, struct eval_opts *o, char *routers,
                          struct cli_list *files, struct cli_list *train) {
    if (!routers && files->n == 0)
        routers = "random";
    char *rest = routers && *routers ? routers : NULL;
    for (char *tok = cli_list_next(&rest); tok; tok = cli_list_next(&rest))
        if (add_router(cs, o, tok, tok, false))
            return CLI_EXIT_USAGE;
    char *name = NULL, *file = NULL;
    for (int i = 0; i < files->n; i++)
        if (split_pair(cs, files->opt[i], files->value[i], &name, &file) ||
            add_router(cs, o, name, file, strcmp(files->opt[i], "--scores") == 0))
            return CLI_EXIT_USAGE;
    for (int i = 0; i < train->n; i++) {
        if (split_pair(cs, "--train-prompts", train->value[i], &name, &file))
            return CLI_EXIT_USAGE;
        struct router_spec *r = find_router(o, name);
        if (!r)
            return cli_usage(cs, "--train-prompts: no router named '%s' in this run", name);
        if (r->n_train == MAX_TRAIN_FILES)
            return cli_usage(cs, "--train-prompts: at most %d files per router", MAX_TRAIN_FILES);
        if (r->precomputed)
            return cli_usage(cs, "--train-prompts: '%s' is a score file, not a router", name);
        if (strcmp(r->spec, "random") == 0)
            return cli_usage(cs, "--train-prompts: the random router has no training prompts");
        r->train[r->n_train++] = file;
    }
    return 0;
}

// --as [ROUTER:]strong=NAME,weak=NAME, in place: stand-ins for the benchmark's pair, for one
// router or (without ROUTER:) for every router that has none of its own.
static int parse_as(const struct cli_spec *cs, struct eval_opts *o, struct cli_list *as) {
    const char *all_strong = NULL, *all_weak = NULL;
    bool all = false;
    for (int i = 0; i < as->n; i++) {
        char *v = as->value[i], *router = NULL;
        if (strncmp(v, "strong=", 7) != 0 && strncmp(v, "weak=", 5) != 0) {
            char *colon = strchr(v, ':');
            if (!colon || colon == v)
                return cli_usage(cs, "--as: expected [ROUTER:]strong=NAME,weak=NAME, got '%s'", v);
            *colon = '\0';
            router = v;
            v = colon + 1;
        }
        const char *strong = NULL, *weak = NULL;
        char *rest = v;
        for (char *tok = cli_list_next(&rest); tok; tok = cli_list_next(&rest)) {
            if (strncmp(tok, "strong=", 7) == 0 && tok[7] && !strong)
                strong = tok + 7;
            else if (strncmp(tok, "weak=", 5) == 0 && tok[5] && !weak)
                weak = tok + 5;
            else
                return cli_usage(cs, "--as: '%s' is not strong=NAME or weak=NAME (each once)", tok);
        }
        struct router_spec *r = router ? find_router(o, router) : NULL;
        if (router && !r)
            return cli_usage(cs, "--as: no router named '%s' in this run", router);
        if (r && r->precomputed)
            return cli_usage(cs, "--as: '%s' is a score file, which has no model pair", router);
        if ((r && r->as_own) || (!r && all))
            return cli_usage(cs, "--as: given twice for %s", router ? router : "every router");
        if (r) {
            r->as_strong = strong;
            r->as_weak = weak;
            r->as_own = true;
        } else {
            all = true;
            all_strong = strong;
            all_weak = weak;
        }
    }
    for (int i = 0; all && i < o->n_routers; i++) {
        if (o->routers[i].as_own || o->routers[i].precomputed)
            continue;
        o->routers[i].as_strong = all_strong;
        o->routers[i].as_weak = all_weak;
    }
    return 0;
}

// The benchmark and the table options agree.
static int check_benchmark(const struct cli_spec *cs, const struct eval_opts *o, bool many) {
    bool table = strncmp(o->benchmark, "table:", 6) == 0;
    if (table && !many && (!o->table.strong || !o->table.weak))
        return cli_usage(cs, "--benchmark %s needs --strong COL and --weak COL", o->benchmark);
    if (!table && (o->table.strong || o->table.weak || o->table.prompt || o->table.cost_strong ||
                   o->table.cost_weak))
        return cli_usage(cs, "--strong, --weak, --prompt-column and the cost columns apply to "
                             "--benchmark table:FILE only (the built-in benchmarks fix the pair)");
    if (table)
        return 0;
    struct cli_suggest s;
    cli_suggest_init(&s, o->benchmark);
    for (int i = 0; benchmarks[i]; i++) {
        if (strcmp(o->benchmark, benchmarks[i]) == 0)
            return 0;
        cli_suggest_add(&s, benchmarks[i]);
    }
    if (s.best)
        return cli_usage(cs, "unknown benchmark '%s' (did you mean '%s'?)", o->benchmark, s.best);
    return cli_usage(cs, "unknown benchmark '%s' (mt-bench, mmlu, gsm8k or table:FILE)",
                     o->benchmark);
}

// --models: the names (split in place) and what does not go with them.
static int parse_models(const struct cli_spec *cs, struct eval_opts *o, char *models,
                        const struct cli_list *files, const struct cli_list *as) {
    if (strncmp(o->benchmark, "table:", 6) != 0)
        return cli_usage(cs, "--models routes among a table's models: give --benchmark table:FILE");
    if (o->table.strong || o->table.weak || o->table.cost_strong || o->table.cost_weak || as->n)
        return cli_usage(cs, "--models replaces --strong, --weak, their costs and --as");
    for (int i = 0; i < files->n; i++)
        if (strcmp(files->opt[i], "--scores") == 0)
            return cli_usage(cs, "--scores holds one score per prompt: it cannot rank models");
    for (char *tok = cli_list_next(&models); tok; tok = cli_list_next(&models)) {
        if (!*tok || o->n_models == RL_MULTI_MAX_MODELS)
            return cli_usage(cs, "--models: %s", *tok ? "more than 64 models" : "an empty name");
        o->models[o->n_models++] = tok;
    }
    if (o->n_models < 2)
        return cli_usage(cs, "--models: at least two models");
    return 0;
}

// Returns 0, CLI_HELP or CLI_EXIT_USAGE.
static int parse_args(int argc, char **argv, struct eval_opts *o) {
    memset(o, 0, sizeof *o);
    o->num_results = 10;
    o->random_iters = 10;
    o->decontam = RL_DECONTAM_COSINE;
    o->prices = (struct rl_eval_prices){RL_EVAL_PRICE_STRONG, RL_EVAL_PRICE_WEAK};
    o->output_tokens = 256;
    char *routers = NULL, *models = NULL;
    struct cli_list files = {0}, train = {0}, as = {0};
    const struct cli_opt opts[] = {
        CLI_STR("--benchmark", &o->benchmark, "B", CLI_REQUIRED,
                "mt-bench, mmlu, gsm8k, or table:FILE (CSV or JSONL)"),
        CLI_SECTION("routers:"),
        CLI_STR("--routers", (const char **)&routers, "LIST", 0,
                "comma-separated router names or files (default random)"),
        CLI_LIST("--router-file", &files, "N=FILE", 0,
                 "evaluate router file FILE under the name N (repeatable)"),
        CLI_LIST("--scores", &files, "N=FILE", 0,
                 "evaluate precomputed scores under the name N: JSONL lines {\"prompt\": ..., "
                 "\"score\": ...} covering every prompt (repeatable)"),
        CLI_STR("--scores-out", &o->scores_out, "DIR", 0,
                "write each router's scores as DIR/<benchmark>-<name>.jsonl"),
        CLI_LIST("--train-prompts", &train, "N=FILE", 0,
                 "more training prompts of router N (repeat for several files); a router file "
                 "that lists its own is checked against them by default. Evaluation prompts "
                 "within cosine --decontaminate of one, or quoting one, are dropped for N"),
        CLI_NUM("--decontaminate", &o->decontam, 0, 1, "C", 0,
                "cosine threshold of that check (default " RL_STRINGIFY(RL_DECONTAM_COSINE) ")"),
        CLI_FLAG("--no-decontaminate", &o->no_decontam,
                 "do not check against the routers' own training prompts"),
        CLI_LIST("--as", &as, "[R:]strong=M,weak=M", 0,
                 "score models M that the routers know in place of the benchmark's pair, whose "
                 "columns still give the quality (a router that does not know the pair is an "
                 "error otherwise); with R: for router R alone"),
        CLI_SECTION("measurement and output:"),
        CLI_STR("--output", &o->output, "DIR", 0, "write DIR/<benchmark>.{csv,png,svg,gp}"),
        CLI_INT("--num-results", &o->num_results, 1, RL_EVAL_MAX_RESULTS, "K",
                "number of threshold bins (default 10)"),
        CLI_INT("--random-iters", &o->random_iters, 1, 10000, "N",
                "seeds averaged for the random router (default 10)"),
        CLI_INT("--bootstrap", &o->bootstrap, 0, 100000, "N",
                "95% interval of APGR from N resamples of the prompts"),
        CLI_CHOICE("--format", &o->format, formats, "F", "table (default), json or csv on stdout"),
        CLI_NUM("--price-strong", &o->prices.strong, 0, 1e9, "P", 0,
                "$ per million tokens of the strong model (default " RL_STRINGIFY(
                    RL_EVAL_PRICE_STRONG) ")"),
        CLI_NUM("--price-weak", &o->prices.weak, 0, 1e9, "P", 0,
                "$ per million tokens of the weak model (default " RL_STRINGIFY(
                    RL_EVAL_PRICE_WEAK) ")"),
        CLI_SECTION("table benchmarks (--benchmark table:FILE):"),
        CLI_STR("--strong", &o->table.strong, "COL", 0, "quality column of the strong model"),
        CLI_STR("--weak", &o->table.weak, "COL", 0, "quality column of the weak model"),
        CLI_STR("--prompt-column", &o->table.prompt, "COL", 0, "prompt column (default prompt)"),
        CLI_STR("--strong-cost", &o->table.cost_strong, "COL", 0,
                "per-prompt cost column of the strong model (instead of the prices)"),
        CLI_STR("--weak-cost", &o->table.cost_weak, "COL", 0,
                "per-prompt cost column of the weak model"),
        CLI_SECTION("routing among many models (--benchmark table:FILE):"),
        CLI_STR("--models", (const char **)&models, "LIST", 0,
                "the table's quality columns of the models to route among: each router that "
                "ranks models (mf, sw_ranking, irt) is evaluated with the cheapest and utility "
                "policies, beside the random and length baselines, by AIQ and the saving at the "
                "best single model's quality"),
        CLI_LIST("--price", &o->prices_of, "M=IN,OUT", 0,
                 "a model's price, USD per million prompt and completion tokens (one per model; "
                 "without them, the table's <model>|cost columns)"),
        CLI_NUM("--output-tokens", &o->output_tokens, 0, 1e7, "N", 0,
                "expected completion tokens per request, for the costs from --price (default "
                "256)"),
        CLI_SECTION("files:"),
        CLI_STR("--data-dir", &o->data_dir, "DIR", 0,
                "evaluation data (default <home>/data/evals)"),
        CLI_MODEL_DIR(&o->model_dir),
        CLI_PRECISION(&o->precision),
        CLI_NO_CACHE(&o->no_cache),
    };
    const struct cli_spec spec = {
        .name = "eval",
        .about = "Measure routers with RouteLLM's protocol: thresholds at the deciles of each "
                 "router's scores, quality against the share of strong-model calls, and APGR, "
                 "CPT(20/50/80%), AUC and the cost saving against always-strong. The oracle row "
                 "is the ceiling.",
        CLI_OPTS(opts),
    };
    int rc = cli_parse(&spec, argc, argv, NULL);
    if (rc == 0)
        rc = check_benchmark(&spec, o, models != NULL);
    if (rc == 0)
        rc = gather_routers(&spec, o, routers, &files, &train);
    if (rc == 0)
        rc = parse_as(&spec, o, &as);
    if (rc == 0 && models)
        rc = parse_models(&spec, o, models, &files, &as);
    else if (rc == 0 && o->prices_of.n)
        rc = cli_usage(&spec, "--price goes with --models");
    return rc;
}

// ----------------------------------------------------------------------------
// Command

int cli_cmd_eval(int argc, char **argv) {
    struct eval_opts o;
    int rc = parse_args(argc, argv, &o);
    if (rc)
        return rc == CLI_HELP ? 0 : rc;
    char err[RL_ERRBUF_SIZE], data_dir[4096];
    if ((o.output && cli_output_dir("--output", o.output)) ||
        (o.scores_out && cli_output_dir("--scores-out", o.scores_out)))
        return 1;
    if (o.n_models)
        return cli_eval_models(&o);
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
    if (!rl_bench_pair_ordered(b))
        cli_eval_warn_pair(b, NULL);

    struct cli_scorer s;
    cli_scorer_init(&s, o.model_dir, o.no_cache);
    s.precision = o.precision;
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
        if (o.format == EVAL_FORMAT_JSON)
            rc = cli_eval_print_json(b, &o, res, n_res);
        else if (o.format == EVAL_FORMAT_CSV)
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
