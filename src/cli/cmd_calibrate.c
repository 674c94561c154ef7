// `routellm calibrate`: the threshold α that sends a chosen share of prompts to the strong model,
// computed as RouteLLM's calibrate_threshold does (ROUTELLM.md §1.5) but over a prompt sample
// scored locally: the shipped Arena prompts by default, or the user's own. Prints α to five
// decimals and the model string router-<name>-<α> to put in requests. With --models, the
// tolerance or λ of a many-model policy (rl/policy.h) for a target average cost per request.
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "rl.h"
#include "rl/calibrate.h"
#include "rl/eval.h"

struct calib_opts {
    const char *router, *prompts, *strong, *weak, *model_dir;
    int precision; // an enum rl_precision
    double pct;    // NAN when not given
    bool json, no_cache;
    // Many models: the candidates, their prices, the policy, the target and the output length.
    const char *models;
    struct cli_list prices;
    int policy; // index into cli_policy_names: an enum rl_policy_kind
    double target_cost, output_tokens;
    const char *target_share; // MODEL=P: at most P of the prompts to MODEL or a dearer model
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
        CLI_NUM("--strong-model-pct", &o->pct, 0, 1, "P", 0,
                "fraction of strong calls wanted, e.g. 0.3 for 30% (required without --models)"),
        CLI_STR("--prompts", &o->prompts, "FILE", 0,
                "prompt sample: .json/.jsonl (\"prompt\"), .csv (prompt column) or text, one "
                "prompt per line (default: the shipped Arena prompts, "
                "<home>/data/prompts/arena_hard.jsonl.gz)"),
        CLI_STR("--strong", &o->strong, "M", 0,
                "the strong model of the pair to score (default: the router's default pair)"),
        CLI_STR("--weak", &o->weak, "M", 0, "the weak model of the pair"),
        CLI_FLAG("--json", &o->json, "one JSON object on stdout"),
        CLI_MODEL_DIR(&o->model_dir),
        CLI_PRECISION(&o->precision),
        CLI_NO_CACHE(&o->no_cache),
        CLI_SECTION("among many models (mf, sw_ranking and irt routers; docs/ROUTERS.md):"),
        CLI_STR("--models", &o->models, "A,B,...", 0,
                "the candidate models: print the policy's parameter for --target-cost"),
        CLI_LIST("--price", &o->prices, "M=IN,OUT", 0,
                 "a candidate's price in USD per million prompt and completion tokens "
                 "(repeatable; every candidate needs one)"),
        CLI_CHOICE("--policy", &o->policy, cli_policy_names, "P",
                   "cheapest (calibrates its tolerance; default) or utility (its lambda)"),
        CLI_NUM("--target-cost", &o->target_cost, 0, 1e6, "USD", 0,
                "average expected cost per request wanted (this or --target-share with --models)"),
        CLI_STR("--target-share", &o->target_share, "M=P", 0,
                "at most a fraction P of the prompts to model M or a dearer one, e.g. "
                "gpt-4o=0.2"),
        CLI_NUM("--output-tokens", &o->output_tokens, 0, 1e7, "N", 0,
                "expected completion tokens per request (default 256)"),
    };
    const struct cli_spec spec = {
        .name = "calibrate",
        .about = "Print the threshold that routes a fraction P (0 to 1) of the prompt sample to "
                 "the strong model, and the model string router-NAME-<threshold> to use in "
                 "requests. With --models, print the smallest tolerance (cheapest policy) or "
                 "lambda (utility) whose average expected cost over the sample is within "
                 "--target-cost, and each model's share.",
        CLI_OPTS(opts),
    };
    o->pct = NAN;
    o->policy = -1;
    o->target_cost = NAN;
    o->output_tokens = 256;
    int rc = cli_parse(&spec, argc, argv, NULL);
    if (rc)
        return rc;
    if (!o->models && isnan(o->pct))
        return cli_usage(&spec, "--strong-model-pct P is required");
    if (!o->models &&
        (o->prices.n > 0 || o->policy >= 0 || !isnan(o->target_cost) || o->target_share))
        return cli_usage(&spec,
                         "--price, --policy, --target-cost and --target-share go with --models");
    if (o->models && (!isnan(o->pct) || o->strong))
        return cli_usage(&spec, "--strong-model-pct and --strong are for a pair; with --models "
                                "give --target-cost or --target-share");
    if (o->models && isnan(o->target_cost) == !o->target_share)
        return cli_usage(&spec, "with --models give one of --target-cost USD and --target-share "
                                "M=P");
    if (o->policy < 0)
        o->policy = RL_POLICY_CHEAPEST;
    return 0;
}

// What --models calibrates to: the mean cost (model < 0), or the share of prompts that go to
// candidate `model` or a dearer one.
struct target {
    long model;
    double limit;
};

// The target's measure of the policy p on the sample, or NAN when it cannot be applied.
static double measure(const struct rl_policy *p, const double *q, const double *c, size_t n,
                      size_t m, const struct target *t) {
    double v;
    int rc = t->model < 0 ? rl_policy_sample_cost(p, q, c, n, m, &v, NULL)
                          : rl_policy_sample_share(p, q, c, n, m, (size_t)t->model, &v);
    return rc == RL_OK ? v : NAN;
}

// The shortest decimal form of param (6 to 17 significant digits) at which the policy still
// meets the target on the sample, so that the printed value does what was asked.
static double printable(enum rl_policy_kind kind, double param, const double *q, const double *c,
                        size_t n, size_t m, const struct target *t, char *text, size_t size) {
    for (int digits = 6; digits <= 17; digits++) {
        snprintf(text, size, "%.*g", digits, param);
        struct rl_policy p = {kind, strtod(text, NULL)};
        if (measure(&p, q, c, n, m, t) <= t->limit)
            break;
    }
    return strtod(text, NULL);
}

// --target-share M=P: the candidate index of M and the share. 0, or 1 after printing why not.
static int read_share(const char *spec, const struct rl_router *r, const struct cli_candidates *c,
                      struct target *t) {
    const char *eq = strrchr(spec, '=');
    char name[256], *end, err[RL_ERRBUF_SIZE];
    if (!eq || eq == spec || (size_t)(eq - spec) >= sizeof name)
        return cli_fail("calibrate: --target-share %s: expected MODEL=P", spec);
    snprintf(name, sizeof name, "%.*s", (int)(eq - spec), spec);
    t->limit = strtod(eq + 1, &end);
    if (end == eq + 1 || *end || !(t->limit >= 0 && t->limit <= 1))
        return cli_fail("calibrate: --target-share %s: P must be a fraction in [0, 1]", spec);
    int at = rl_router_model_index(r, name, err);
    if (at < 0)
        return cli_fail("calibrate: --target-share: %s", err);
    for (t->model = 0; t->model < c->n && c->idx[t->model] != at; t->model++)
        ;
    if (t->model == c->n)
        return cli_fail("calibrate: --target-share names %s, which is not among --models", name);
    return 0;
}

// Qualities and costs of every candidate on every sample prompt, the calibrated parameter, and
// the report. 0, or 1 after printing why not.
static int calibrate_models(const struct calib_opts *o, struct cli_scorer *s,
                            const struct rl_router *r, const struct rl_texts *sample,
                            const char *file) {
    struct cli_candidates c;
    if (cli_candidates_read(r, "calibrate", o->models, &o->prices, o->weak, &c))
        return 1;
    const size_t n = sample->n, m = (size_t)c.n, dim = rl_router_encoder_dim(r);
    const char *base = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
    float *emb = NULL;
    double *q = malloc(n * m * sizeof *q), *cost = malloc(n * m * sizeof *cost);
    int rc = q && cost ? 0 : cli_fail("out of memory");
    if (rc == 0 && dim > 0)
        rc = cli_scorer_embed_for(s, r, (const char *const *)sample->items, n, base, &emb);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        struct rl_prompt p = {sample->items[i], strlen(sample->items[i]),
                              emb ? emb + i * dim : NULL};
        if (rl_router_qualities(r, c.idx, m, c.ref, &p, q + i * m) != RL_OK)
            rc = cli_fail("calibrate: scoring prompt %zu of %s failed", i + 1, file);
        double tokens = ceil((double)p.len / RL_POLICY_BYTES_PER_TOKEN);
        for (size_t k = 0; k < m; k++)
            cost[i * m + k] =
                rl_policy_request_cost(c.price[k][0], c.price[k][1], tokens, o->output_tokens);
    }
    enum rl_policy_kind kind = (enum rl_policy_kind)o->policy;
    double param = 0, avg = 0;
    size_t counts[CLI_MAX_CANDIDATES];
    char text[32];
    struct target t = {-1, o->target_cost};
    if (rc == 0 && o->target_share)
        rc = read_share(o->target_share, r, &c, &t);
    if (rc == 0) {
        int st = t.model < 0 ? rl_policy_calibrate(kind, q, cost, n, m, o->target_cost, &param)
                             : rl_policy_calibrate_share(kind, q, cost, n, m, (size_t)t.model,
                                                         t.limit, &param);
        if (st == RL_ETOOBIG && t.model < 0)
            fprintf(stderr,
                    "routellm: calibrate: even the largest %s (%g) costs more than %g USD per "
                    "request on average: the cheapest candidates are too expensive\n",
                    kind == RL_POLICY_CHEAPEST ? "tolerance" : "lambda", param, o->target_cost);
        else if (st == RL_ETOOBIG)
            fprintf(stderr,
                    "routellm: calibrate: even the largest %s (%g) sends more than %g of the "
                    "prompts to %s or a dearer model\n",
                    kind == RL_POLICY_CHEAPEST ? "tolerance" : "lambda", param, t.limit,
                    rl_router_model(r, c.idx[t.model]));
        else if (st != RL_OK)
            rc = cli_fail("calibrate: the policy cannot be calibrated on these scores");
    }
    double dear = NAN;
    if (rc == 0) {
        param = printable(kind, param, q, cost, n, m, &t, text, sizeof text);
        struct rl_policy pol = {kind, param};
        if (t.model >= 0)
            dear = measure(&pol, q, cost, n, m, &t);
        struct rl_policy p = {kind, param};
        if (rl_policy_sample_cost(&p, q, cost, n, m, &avg, counts) != RL_OK)
            rc = cli_fail("calibrate: the policy cannot be applied to these scores");
    }
    if (rc == 0 && o->json) {
        json_t *share = json_object();
        for (size_t k = 0; k < m; k++)
            json_object_set_new(share, rl_router_model(r, c.idx[k]),
                                json_real((double)counts[k] / (double)n));
        json_t *doc =
            json_pack("{s:s,s:s,s:s,s:f,s:o,s:f,s:I,s:o}", "router", o->router, "prompts", file,
                      "policy", rl_policy_kind_name(kind), "param", param, "target_cost",
                      t.model < 0 ? json_real(o->target_cost) : json_null(), "avg_cost", avg,
                      "n_prompts", (json_int_t)n, "share", share);
        if (doc && t.model >= 0)
            json_object_set_new(doc, "target_share",
                                json_pack("{s:s,s:f,s:f}", "model",
                                          rl_router_model(r, c.idx[t.model]), "limit", t.limit,
                                          "share_dearer", dear));
        rc = cli_print_json(doc, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
    } else if (rc == 0) {
        printf("router %s, %zu prompts from %s, %zu candidates\n", o->router, n, file, m);
        if (t.model < 0)
            printf("%s %s for at most %g USD per request: average %.6g USD\n",
                   rl_policy_kind_name(kind), kind == RL_POLICY_CHEAPEST ? "tolerance" : "lambda",
                   o->target_cost, avg);
        else
            printf("%s %s for at most %g of the prompts to %s or a dearer model: %.4g, average "
                   "%.6g USD\n",
                   rl_policy_kind_name(kind), kind == RL_POLICY_CHEAPEST ? "tolerance" : "lambda",
                   t.limit, rl_router_model(r, c.idx[t.model]), dear, avg);
        printf("  --policy %s --%s %s\n", rl_policy_kind_name(kind),
               kind == RL_POLICY_CHEAPEST ? "tolerance" : "lambda", text);
        for (size_t k = 0; k < m; k++)
            printf("  %-32s %6.2f%% of prompts\n", rl_router_model(r, c.idx[k]),
                   100.0 * (double)counts[k] / (double)n);
    }
    free(emb);
    free(q);
    free(cost);
    return rc;
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
    // With --models, --weak is the reference of the qualities rather than half of a pair.
    if (cli_router_load(o.router, o.strong, o.models ? NULL : o.weak, &r, &pair)) {
        rl_texts_free(&sample);
        return 1;
    }
    struct cli_scorer s;
    cli_scorer_init(&s, o.model_dir, o.no_cache);
    s.precision = o.precision;
    if (o.models) {
        rc = calibrate_models(&o, &s, r, &sample, file);
        cli_scorer_free(&s);
        rl_router_free(r);
        rl_texts_free(&sample);
        return rc;
    }
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
            rc = cli_print_json(doc, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
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
