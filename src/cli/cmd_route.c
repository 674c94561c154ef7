// `routellm route`: score one prompt with a router and print p_strong and the decision (strong
// when p_strong >= the threshold, RouteLLM §1.1), or, with --models, each candidate's quality and
// the model a policy picks from them and the models' prices (rl/policy.h). Loads the encoder only
// when the router needs embeddings; calls no LLM.
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "rl.h"

#define MAX_STDIN_PROMPT (1u << 20)

struct route_opts {
    const char *router, *strong, *weak, *model_dir;
    int precision;      // an enum rl_precision
    const char *prompt; // the argument, or owned
    char *owned;        // the prompt read from stdin
    double threshold;   // NAN when not given
    bool json;
    // Many models (--models): the candidates, the policy and its parameter, the prices.
    const char *models; // the comma-separated list
    int policy;         // index into cli_policy_names: an enum rl_policy_kind
    double tolerance, lambda, output_tokens;
    struct cli_list prices; // MODEL=IN,OUT
};

static char *read_stdin(void) {
    struct rl_buf b;
    rl_buf_init(&b, MAX_STDIN_PROMPT);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, stdin)) > 0)
        if (rl_buf_append(&b, chunk, n) != RL_OK)
            return NULL;
    if (!b.data && rl_buf_append(&b, "", 0) != RL_OK)
        return NULL;
    return rl_buf_take(&b, &n);
}

static bool blank(const char *s) {
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' || *s == '\f' || *s == '\v')
        s++;
    return *s == '\0';
}

// Returns 0, CLI_HELP, CLI_EXIT_USAGE (an empty prompt is one) or 1 (stdin too large).
static int parse_args(int argc, char **argv, struct route_opts *o) {
    char router_help[600];
    snprintf(router_help, sizeof router_help, "%s (the shipped routers) or a router file",
             cli_kind_names(CLI_KINDS_SHIPPED, ", "));
    const struct cli_opt opts[] = {
        CLI_STR("--router", &o->router, "R", CLI_REQUIRED, router_help),
        CLI_NUM("--threshold", &o->threshold, 0, 1, "A", 0,
                "cost threshold in [0, 1] (e.g. from 'routellm calibrate'); required without "
                "--models"),
        CLI_STR("--strong", &o->strong, "M", 0,
                "the strong model of the pair to compare, among the models the router knows "
                "(names are case-insensitive; default: the router's pair)"),
        CLI_STR("--weak", &o->weak, "M", 0,
                "the weak model of the pair; with --models, the reference model of the "
                "qualities"),
        CLI_FLAG("--json", &o->json, "print {\"router\", \"p_strong\", \"threshold\", \"model\"}"),
        CLI_MODEL_DIR(&o->model_dir),
        CLI_PRECISION(&o->precision),
        CLI_SECTION("among many models (mf, sw_ranking and irt routers; docs/ROUTERS.md):"),
        CLI_STR("--models", &o->models, "A,B,...", 0,
                "the candidate models; prints each one's quality (the probability that it beats "
                "the router's default weak model) and the model the policy picks"),
        CLI_CHOICE("--policy", &o->policy, cli_policy_names, "P",
                   "cheapest: the cheapest model within --tolerance of the best quality "
                   "(default); utility: the largest quality - lambda x expected cost"),
        CLI_NUM("--tolerance", &o->tolerance, 0, 1, "T", 0,
                "quality the cheapest policy gives up at most (default 0.05)"),
        CLI_NUM("--lambda", &o->lambda, 0, 1e9, "L", 0,
                "quality per USD of expected cost for the utility policy (required with it)"),
        CLI_LIST("--price", &o->prices, "M=IN,OUT", 0,
                 "a candidate's price in USD per million prompt and completion tokens "
                 "(repeatable; every candidate needs one)"),
        CLI_NUM("--output-tokens", &o->output_tokens, 0, 1e7, "N", 0,
                "expected completion tokens per request, for the expected cost (default 256)"),
    };
    const struct cli_spec spec = {
        .name = "route",
        .args = "PROMPT",
        .min_args = 1,
        .max_args = 1,
        .about = "Print the router's estimate that the strong model wins on PROMPT and the model "
                 "the prompt goes to: the strong one when p_strong >= A. With --models, print "
                 "each candidate's quality and the model the policy picks. PROMPT '-' reads "
                 "stdin.",
        CLI_OPTS(opts),
    };
    o->threshold = NAN;
    o->policy = -1;
    o->tolerance = 0.05;
    o->lambda = NAN;
    o->output_tokens = 256;
    int rc = cli_parse(&spec, argc, argv, NULL);
    if (rc)
        return rc;
    if (!o->models && isnan(o->threshold))
        return cli_usage(&spec, "--threshold A is required");
    if (o->models && !isnan(o->threshold))
        return cli_usage(&spec, "--threshold is for a pair; with --models give --policy");
    if (!o->models && (o->policy >= 0 || o->prices.n > 0 || !isnan(o->lambda)))
        return cli_usage(&spec, "--policy, --price and --lambda go with --models");
    if (o->models && o->strong)
        return cli_usage(&spec, "--strong is for a pair; with --models, --weak names the "
                                "reference model of the qualities");
    if (o->models && o->policy < 0)
        o->policy = RL_POLICY_CHEAPEST;
    if (o->models && o->policy == RL_POLICY_UTILITY && isnan(o->lambda))
        return cli_usage(&spec, "the utility policy needs --lambda");
    o->prompt = argv[1]; // the one PROMPT
    bool from_stdin = strcmp(o->prompt, "-") == 0;
    if (from_stdin) {
        o->prompt = o->owned = read_stdin();
        if (!o->owned)
            return cli_fail("route: stdin holds more than %u bytes", MAX_STDIN_PROMPT);
    }
    // Routing nothing would print a decision about no question at all.
    if (blank(o->prompt))
        return cli_usage(&spec, "%s: there is nothing to route",
                         from_stdin ? "stdin holds no prompt" : "PROMPT is empty");
    return 0;
}

// The shipped routers learned the default pair's names from other models of their training data
// (stand-in aliases, docs/TRAINING.md): say which, on stderr, when the pair routed is such names.
static void note_stand_ins(const struct rl_router *r, const struct rl_router_pair *pair) {
    const char *text = rl_router_meta(r, "aliases");
    json_t *aliases = text ? json_loads(text, 0, NULL) : NULL;
    const char *names[2] = {rl_router_model(r, pair->strong), rl_router_model(r, pair->weak)};
    char said[512] = "";
    size_t len = 0;
    for (int i = 0; i < 2; i++) {
        json_t *v = names[i] ? json_object_get(aliases, names[i]) : NULL;
        if (!json_is_string(v))
            continue;
        int n = snprintf(said + len, sizeof said - len, len ? " and %s for %s" : "%s stands for %s",
                         names[i], json_string_value(v));
        len = n > 0 && len + (size_t)n < sizeof said ? len + (size_t)n : len;
    }
    const char *source = rl_router_meta(r, "source"), *n_battles = rl_router_meta(r, "n_battles");
    if (len)
        fprintf(stderr,
                "routellm: note: %s learned this pair from stand-ins: %s in its training data "
                "(%s battles; %s; docs/TRAINING.md)\n",
                rl_router_name(r), said, n_battles ? n_battles : "?", source ? source : "");
    json_decref(aliases);
}

// Print j (taken) on one line of stdout. 0, or 1 after printing why not.
static int print_json(json_t *j) {
    return cli_print_json(j, JSON_COMPACT | JSON_REAL_PRECISION(10));
}

// ----------------------------------------------------------------------------
// Many models

// Score the candidates of --models, apply the policy and print. 0, or 1 after printing why not.
static int route_models(const struct route_opts *o, const struct rl_router *r,
                        const struct rl_prompt *p) {
    struct cli_candidates c;
    if (cli_candidates_read(r, "route", o->models, &o->prices, o->weak, &c))
        return 1;
    const int n = c.n, *idx = c.idx;
    double quality[CLI_MAX_CANDIDATES], cost[CLI_MAX_CANDIDATES];
    if (rl_router_qualities(r, idx, (size_t)n, c.ref, p, quality) != RL_OK)
        return cli_fail("route: scoring failed");
    double prompt_tokens = ceil((double)p->len / RL_POLICY_BYTES_PER_TOKEN);
    for (int i = 0; i < n; i++)
        cost[i] =
            rl_policy_request_cost(c.price[i][0], c.price[i][1], prompt_tokens, o->output_tokens);
    struct rl_policy policy = {(enum rl_policy_kind)o->policy,
                               o->policy == RL_POLICY_CHEAPEST ? o->tolerance : o->lambda};
    int pick = rl_policy_choose(&policy, quality, cost, (size_t)n);
    if (pick < 0)
        return cli_fail("route: the policy found no model");
    const char *reference = rl_router_model(r, c.ref);
    if (o->json) {
        json_t *scores = json_object(), *costs = json_object();
        for (int i = 0; i < n; i++) {
            json_object_set_new(scores, rl_router_model(r, idx[i]), json_real(quality[i]));
            json_object_set_new(costs, rl_router_model(r, idx[i]), json_real(cost[i]));
        }
        json_t *j = json_pack("{s:s, s:s, s:f, s:s, s:s, s:o, s:o}", "router", rl_router_name(r),
                              "policy", rl_policy_kind_name(policy.kind), "param", policy.param,
                              "reference", reference, "model", rl_router_model(r, idx[pick]),
                              "scores", scores, "costs", costs);
        return print_json(j);
    }
    printf("%-32s %9s %12s\n", "model", "quality", "cost USD");
    for (int i = 0; i < n; i++)
        printf("%-32s %9.6f %12.6f%s\n", rl_router_model(r, idx[i]), quality[i], cost[i],
               i == pick ? "  <- chosen" : "");
    printf("%s (%s %g; quality = P(beats %s); %.0f prompt tokens estimated, %.0f out): %s\n",
           rl_policy_kind_name(policy.kind),
           policy.kind == RL_POLICY_CHEAPEST ? "tolerance" : "lambda", policy.param, reference,
           prompt_tokens, o->output_tokens, rl_router_model(r, idx[pick]));
    return 0;
}

int cli_cmd_route(int argc, char **argv) {
    struct route_opts o;
    memset(&o, 0, sizeof o);
    int rc = parse_args(argc, argv, &o);
    if (rc) {
        free(o.owned);
        return rc == CLI_HELP ? 0 : rc;
    }
    char *owned = o.owned;
    const char *prompt = o.prompt;
    struct rl_router *r;
    struct rl_router_pair pair;
    if (cli_router_load(o.router, o.strong, o.weak, &r, &pair)) {
        free(owned);
        return 1;
    }
    struct cli_scorer sc;
    // One prompt: the cache would cost more than it saves.
    cli_scorer_init(&sc, o.model_dir, true);
    sc.precision = o.precision;
    float *emb = NULL;
    struct rl_router_decision d;
    rc = 1;
    if (cli_scorer_embed_for(&sc, r, &prompt, 1, "prompt", &emb))
        goto done;
    struct rl_prompt p = {prompt, strlen(prompt), emb};
    if (o.models) {
        rc = route_models(&o, r, &p);
        goto done;
    }
    if (rl_router_decide(r, &pair, &p, o.threshold, &d) != RL_OK) {
        cli_fail("route: scoring failed");
        goto done;
    }
    note_stand_ins(r, &pair);
    // The names the user gave win (the random router accepts any); else the router's own.
    const char *given = d.strong ? o.strong : o.weak;
    const char *model = given ? given : d.name;
    if (o.json) {
        json_t *j = json_pack("{s:s, s:f, s:f, s:s}", "router", rl_router_name(r), "p_strong",
                              d.p_strong, "threshold", o.threshold, "model", model);
        if (print_json(j))
            goto done;
    } else {
        printf("p_strong %.6f (threshold %.6f): %s model %s\n", d.p_strong, o.threshold,
               d.strong ? "strong" : "weak", model);
    }
    rc = 0;
done:
    free(emb);
    cli_scorer_free(&sc);
    rl_router_free(r);
    free(owned);
    return rc;
}
