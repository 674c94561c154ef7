// `routellm calibrate`: the threshold α that sends a chosen share of prompts to the strong model,
// computed as RouteLLM's calibrate_threshold does (ROUTELLM.md §1.5) but over a prompt sample
// scored locally: the shipped Arena prompts by default, or the user's own. Prints α to five
// decimals and the model string router-<name>-<α> to put in requests.
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "rl.h"
#include "rl/calibrate.h"
#include "rl/eval.h"

struct calib_opts {
    const char *router, *prompts, *strong, *weak, *model_dir;
    double pct;
    bool json, no_cache;
};

// Returns 0, CLI_HELP or CLI_EXIT_USAGE.
static int parse_args(int argc, char **argv, struct calib_opts *o) {
    memset(o, 0, sizeof *o);
    char router_help[600];
    snprintf(router_help, sizeof router_help, "router name (%s) or router file",
             cli_kind_names(CLI_KINDS_SHIPPED, ", "));
    const struct cli_opt opts[] = {
        CLI_STR("--router", &o->router, "R", CLI_REQUIRED, router_help),
        CLI_STR("--routers", &o->router, "R", 0, "the same as --router"),
        CLI_NUM("--strong-model-pct", &o->pct, 0, 1, "P", CLI_REQUIRED,
                "fraction of strong calls wanted, e.g. 0.3 for 30%"),
        CLI_STR("--prompts", &o->prompts, "FILE", 0,
                "prompt sample: .json/.jsonl (\"prompt\"), .csv (prompt column) or text, one "
                "prompt per line (default: the shipped Arena prompts, "
                "<home>/data/prompts/arena_hard.jsonl.gz)"),
        CLI_STR("--strong", &o->strong, "M", 0,
                "the strong model of the pair to score (default: the router's default pair)"),
        CLI_STR("--weak", &o->weak, "M", 0, "the weak model of the pair"),
        CLI_FLAG("--json", &o->json, "one JSON object on stdout"),
        CLI_MODEL_DIR(&o->model_dir),
        CLI_NO_CACHE(&o->no_cache),
    };
    const struct cli_spec spec = {
        .name = "calibrate",
        .about = "Print the threshold that routes a fraction P (0 to 1) of the prompt sample to "
                 "the strong model, and the model string router-NAME-<threshold> to use in "
                 "requests.",
        CLI_OPTS(opts),
    };
    return cli_parse(&spec, argc, argv, NULL);
}

// The name the proxy knows the router by: a shipped router's kind name, or, for a router file,
// the file's name without its folder and extension, which the proxy's configuration must map to
// the file (its routers section; `router-mf-…` would mean the shipped mf). Returns whether spec
// is a file.
static bool serve_name(const char *spec, char *out, size_t size) {
    const struct rl_router_kind *k = rl_router_kind_find(spec, NULL);
    if (k && rl_router_kind_shipped(k)) {
        snprintf(out, size, "%s", spec);
        return false;
    }
    const char *base = strrchr(spec, '/') ? strrchr(spec, '/') + 1 : spec;
    char stem[128];
    snprintf(stem, sizeof stem, "%.*s", (int)strcspn(base, "."), base);
    cli_slug(stem, out, size);
    for (char *p = out; *p; p++)
        *p = *p == '-' ? '_' : *p;
    if (!*out)
        snprintf(out, size, "custom");
    return true;
}

int cli_cmd_calibrate(int argc, char **argv) {
    struct calib_opts o;
    int rc = parse_args(argc, argv, &o);
    if (rc)
        return rc == CLI_HELP ? 0 : rc;
    char err[RL_ERRBUF_SIZE], def[4096];
    const char *file = o.prompts;
    if (!file) {
        if (rl_path_join(def, sizeof def, cli_home(), "data/prompts/arena_hard.jsonl.gz"))
            return cli_fail("prompt sample path too long");
        file = def;
    }
    // The sample is routed as the clients would send it: its texts are kept exact.
    struct rl_texts sample;
    struct rl_texts_params exact = {.exact = true};
    if (rl_texts_load(file, &exact, &sample, err) != RL_OK)
        return cli_fail("%s", err);
    if (sample.n == 0)
        return cli_fail("%s: no prompts in the sample", file);
    struct rl_router *r;
    struct rl_router_pair pair;
    if (cli_router_load(o.router, o.strong, o.weak, &r, &pair)) {
        rl_texts_free(&sample);
        return 1;
    }
    struct cli_scorer s;
    cli_scorer_init(&s, o.model_dir, o.no_cache);
    double *scores = malloc(sample.n * sizeof *scores);
    rc = scores ? 0 : cli_fail("out of memory");
    const char *base = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
    if (rc == 0)
        rc = cli_scorer_score(&s, r, o.router, o.router, &pair, (const char *const *)sample.items,
                              sample.n, base, scores);
    double alpha = 0;
    if (rc == 0 && rl_calibrate_threshold(scores, sample.n, o.pct, &alpha) != RL_OK)
        rc = cli_fail("cannot take the quantile of the scores");
    if (rc == 0) {
        // The printed threshold is what clients will use, so the share reported is the share
        // at the rounded value.
        char text[32];
        snprintf(text, sizeof text, "%.5f", alpha);
        double rounded = strtod(text, NULL);
        size_t k = rl_calibrate_count_strong(scores, sample.n, rounded);
        char model[256], name[128], where[4096];
        bool is_file = serve_name(o.router, name, sizeof name);
        snprintf(model, sizeof model, "router-%s-%s", name, text);
        if (is_file && !realpath(o.router, where))
            snprintf(where, sizeof where, "%s", o.router);
        if (o.json) {
            json_t *doc =
                json_pack("{s:s,s:s,s:f,s:f,s:s,s:I,s:I,s:f}", "router", o.router, "prompts", file,
                          "strong_model_pct", o.pct, "threshold", rounded, "model", model,
                          "n_prompts", (json_int_t)sample.n, "n_strong", (json_int_t)k,
                          "strong_share", (double)k / (double)sample.n);
            char *t = doc ? json_dumps(doc, JSON_INDENT(2) | JSON_REAL_PRECISION(10)) : NULL;
            json_decref(doc);
            if (!t)
                rc = cli_fail("out of memory");
            else
                puts(t);
            free(t);
        } else {
            printf("router %s, %zu prompts from %s\n", o.router, sample.n, file);
            printf("threshold for %.1f%% strong calls: %s\n", o.pct * 100, text);
            printf("model: %s\n", model);
            printf("strong calls on the sample at %s: %zu of %zu (%.2f%%)\n", text, k, sample.n,
                   100.0 * (double)k / (double)sample.n);
            if (is_file)
                printf("serve: %s names this file only once the configuration says so:\n"
                       "  routers:\n    %s: {checkpoint_path: %s, threshold: %s}\n",
                       model, name, where, text);
        }
    }
    free(scores);
    cli_scorer_free(&s);
    rl_router_free(r);
    rl_texts_free(&sample);
    return rc;
}
