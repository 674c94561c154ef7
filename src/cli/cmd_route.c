// `routellm route`: score one prompt with a router and print p_strong and the decision (strong
// when p_strong >= the threshold, RouteLLM §1.1). Loads the encoder only when the router needs
// embeddings; calls no LLM.
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "rl.h"

#define MAX_STDIN_PROMPT (1u << 20)

struct route_opts {
    const char *router, *strong, *weak, *model_dir, *prompt;
    double threshold;
    bool json;
};

// Returns 0, CLI_HELP or CLI_EXIT_USAGE.
static int parse_args(int argc, char **argv, struct route_opts *o) {
    char router_help[600];
    snprintf(router_help, sizeof router_help, "%s (the shipped routers) or a router file",
             cli_kind_names(CLI_KINDS_SHIPPED, ", "));
    const struct cli_opt opts[] = {
        CLI_STR("--router", &o->router, "R", CLI_REQUIRED, router_help),
        CLI_NUM("--threshold", &o->threshold, 0, 1, "A", CLI_REQUIRED,
                "cost threshold in [0, 1] (e.g. from 'routellm calibrate')"),
        CLI_STR("--strong", &o->strong, "M", 0,
                "the strong model of the pair to compare, among the models the router knows "
                "(names are case-insensitive; default: the router's pair)"),
        CLI_STR("--weak", &o->weak, "M", 0, "the weak model of the pair"),
        CLI_FLAG("--json", &o->json, "print {\"router\", \"p_strong\", \"threshold\", \"model\"}"),
        CLI_MODEL_DIR(&o->model_dir),
    };
    const struct cli_spec spec = {
        .name = "route",
        .args = "PROMPT",
        .min_args = 1,
        .max_args = 1,
        .about = "Print the router's estimate that the strong model wins on PROMPT and the model "
                 "the prompt goes to: the strong one when p_strong >= A. PROMPT '-' reads stdin.",
        CLI_OPTS(opts),
    };
    int rc = cli_parse(&spec, argc, argv, NULL);
    if (rc == 0)
        o->prompt = argv[1]; // the one PROMPT
    return rc;
}

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

int cli_cmd_route(int argc, char **argv) {
    struct route_opts o;
    memset(&o, 0, sizeof o);
    int rc = parse_args(argc, argv, &o);
    if (rc)
        return rc == CLI_HELP ? 0 : rc;
    char err[RL_ERRBUF_SIZE];
    char *owned = NULL;
    const char *prompt = o.prompt;
    if (strcmp(prompt, "-") == 0) {
        owned = read_stdin();
        if (!owned)
            return cli_fail("route: stdin holds more than %u bytes", MAX_STDIN_PROMPT);
        prompt = owned;
    }
    struct rl_router *r;
    struct rl_router_pair pair;
    if (cli_router_load(o.router, o.strong, o.weak, &r, &pair)) {
        free(owned);
        return 1;
    }
    struct cli_scorer sc;
    // One prompt: the cache would cost more than it saves.
    cli_scorer_init(&sc, o.model_dir, true);
    float *emb = NULL;
    struct rl_router_decision d;
    rc = 1;
    if (rl_router_encoder_dim(r) > 0) {
        if (cli_scorer_embed(&sc, &prompt, 1, "prompt", &emb))
            goto done;
        if (rl_router_check_encoder(r, sc.enc, err) != RL_OK) {
            cli_fail("%s", err);
            goto done;
        }
    }
    struct rl_prompt p = {prompt, strlen(prompt), emb};
    if (rl_router_decide(r, &pair, &p, o.threshold, &d) != RL_OK) {
        cli_fail("route: scoring failed");
        goto done;
    }
    // The names the user gave win (the random router accepts any); else the router's own.
    const char *given = d.strong ? o.strong : o.weak;
    const char *model = given ? given : d.name;
    if (o.json) {
        json_t *j = json_pack("{s:s, s:f, s:f, s:s}", "router", rl_router_name(r), "p_strong",
                              d.p_strong, "threshold", o.threshold, "model", model);
        char *text = j ? json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(10)) : NULL;
        json_decref(j);
        if (!text) {
            cli_fail("out of memory");
            goto done;
        }
        printf("%s\n", text);
        free(text);
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
