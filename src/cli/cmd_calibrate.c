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

static void usage(FILE *f) {
    fprintf(f,
            "usage: routellm calibrate --router NAME|FILE --strong-model-pct P [--prompts FILE]\n"
            "                          [--strong M --weak M] [--json]\n"
            "\n"
            "Print the threshold that routes a fraction P (0 to 1) of the prompt sample to the\n"
            "strong model, and the model string router-NAME-<threshold> to use in requests.\n"
            "\n"
            "options:\n"
            "  --router R            router name (random, mf, sw_ranking, bert) or router file\n"
            "  --strong-model-pct P  fraction of strong calls wanted, e.g. 0.3 for 30%%\n"
            "  --prompts FILE        prompt sample: .jsonl (\"prompt\"), .csv (prompt column) or\n"
            "                        text, one prompt per line (default: the shipped Arena\n"
            "                        prompts, <home>/data/prompts/arena_hard.jsonl.gz)\n"
            "  --strong M --weak M   the pair to score (default: the router's default pair)\n"
            "  --json                one JSON object on stdout\n"
            "  --model-dir DIR       encoder folder (default <home>/models/all-MiniLM-L6-v2)\n"
            "  --no-cache            recompute embeddings and scores\n");
}

struct calib_opts {
    const char *router, *prompts, *strong, *weak, *model_dir;
    double pct;
    bool have_pct, json, no_cache;
};

static int parse_args(int argc, char **argv, struct calib_opts *o) {
    memset(o, 0, sizeof *o);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (cli_is_help(a)) {
            usage(stdout);
            return -1;
        }
        if (strcmp(a, "--json") == 0) {
            o->json = true;
            continue;
        }
        if (strcmp(a, "--no-cache") == 0) {
            o->no_cache = true;
            continue;
        }
        if (strncmp(a, "--", 2) != 0 || i + 1 >= argc) {
            usage(stderr);
            return cli_fail("calibrate: unexpected argument '%s'", a);
        }
        const char *v = argv[++i];
        if (strcmp(a, "--router") == 0 || strcmp(a, "--routers") == 0) {
            o->router = v;
        } else if (strcmp(a, "--strong-model-pct") == 0) {
            if (!cli_to_double(v, &o->pct))
                return cli_fail("--strong-model-pct: '%s' is not a number", v);
            if (!(o->pct >= 0 && o->pct <= 1))
                return cli_fail("--strong-model-pct: %s is outside [0, 1]; give the share of "
                                "strong calls as a fraction (0.3 for 30%%)",
                                v);
            o->have_pct = true;
        } else if (strcmp(a, "--prompts") == 0) {
            o->prompts = v;
        } else if (strcmp(a, "--strong") == 0) {
            o->strong = v;
        } else if (strcmp(a, "--weak") == 0) {
            o->weak = v;
        } else if (strcmp(a, "--model-dir") == 0) {
            o->model_dir = v;
        } else {
            usage(stderr);
            return cli_fail("calibrate: unknown option '%s'", a);
        }
    }
    if (!o->router || !o->have_pct) {
        usage(stderr);
        return cli_fail("calibrate: --router and --strong-model-pct are required");
    }
    return 0;
}

int cli_cmd_calibrate(int argc, char **argv) {
    struct calib_opts o;
    int rc = parse_args(argc, argv, &o);
    if (rc)
        return rc < 0 ? 0 : rc;
    char err[RL_ERRBUF_SIZE], def[4096];
    const char *file = o.prompts;
    if (!file) {
        if (rl_path_join(def, sizeof def, cli_home(), "data/prompts/arena_hard.jsonl.gz"))
            return cli_fail("prompt sample path too long");
        file = def;
    }
    struct rl_prompts sample;
    if (rl_prompts_load(file, &sample, err) != RL_OK)
        return cli_fail("%s", err);
    struct rl_router *r;
    struct rl_router_pair pair;
    if (cli_router_open(o.router, o.strong, o.weak, &r, &pair)) {
        rl_prompts_free(&sample);
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
        char model[160];
        snprintf(model, sizeof model, "router-%s-%s", rl_router_name(r), text);
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
        }
    }
    free(scores);
    cli_scorer_free(&s);
    rl_router_free(r);
    rl_prompts_free(&sample);
    return rc;
}
