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

static void usage(FILE *f) {
    fprintf(
        f, "usage: routellm route --router NAME|FILE --threshold A [--strong M --weak M]\n"
           "                      [--json] [--model-dir DIR] PROMPT\n"
           "\n"
           "Print the router's estimate that the strong model wins on PROMPT and the model the\n"
           "prompt goes to: the strong one when p_strong >= A. PROMPT '-' reads stdin.\n"
           "\n"
           "options:\n"
           "  --router R           random, mf, sw_ranking, bert (the shipped routers) or a router\n"
           "                       file\n"
           "  --threshold A        cost threshold in [0, 1]\n"
           "  --strong M --weak M  the pair to compare, among the models the router knows\n"
           "                       (names are case-insensitive; default: the router's pair)\n"
           "  --json               print {\"router\", \"p_strong\", \"threshold\", \"model\"}\n"
           "  --model-dir DIR      encoder folder (default <home>/models/all-MiniLM-L6-v2)\n");
}

struct route_opts {
    const char *router, *strong, *weak, *model_dir, *prompt;
    double threshold;
    bool have_threshold, json;
};

static int parse_args(int argc, char **argv, struct route_opts *o) {
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
        if (strcmp(a, "--") == 0 && i + 1 < argc) {
            o->prompt = argv[++i];
            continue;
        }
        if (strncmp(a, "--", 2) != 0) {
            if (o->prompt)
                return cli_fail("route: give one PROMPT (quote it); '%s' is extra", a);
            o->prompt = a;
            continue;
        }
        if (i + 1 >= argc) {
            usage(stderr);
            return cli_fail("route: %s needs a value", a);
        }
        const char *v = argv[++i];
        if (strcmp(a, "--router") == 0) {
            o->router = v;
        } else if (strcmp(a, "--threshold") == 0) {
            if (cli_parse_double(a, v, 0, 1, &o->threshold))
                return 1;
            o->have_threshold = true;
        } else if (strcmp(a, "--strong") == 0) {
            o->strong = v;
        } else if (strcmp(a, "--weak") == 0) {
            o->weak = v;
        } else if (strcmp(a, "--model-dir") == 0) {
            o->model_dir = v;
        } else {
            usage(stderr);
            return cli_fail("route: unknown option '%s'", a);
        }
    }
    if (!o->router)
        return cli_fail("route: give --router NAME|FILE");
    if (!o->have_threshold)
        return cli_fail("route: give --threshold A (e.g. from 'routellm calibrate')");
    if (!o->prompt)
        return cli_fail("route: give the PROMPT to route ('-' reads stdin)");
    return 0;
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
        return rc < 0 ? 0 : rc;
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
    if (cli_router_open(o.router, o.strong, o.weak, &r, &pair)) {
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
    if (rl_router_decide(r, &pair, emb, o.threshold, &d) != RL_OK) {
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
