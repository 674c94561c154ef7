// `routellm serve`: read the YAML config and/or the flags of the original RouteLLM server
// (--routers, --strong-model, --weak-model, --base-url, --api-key, --port) and the models'
// prices, then run the OpenAI-compatible routing proxy in src/server until SIGTERM. See
// docs/SERVER.md.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "server/server.h"

// The original server's upstream: OpenAI's API, with the key in the usual variable.
#define DEFAULT_BASE_URL "https://api.openai.com/v1"
#define DEFAULT_KEY_ENV  "OPENAI_API_KEY"

// The flags that make the configuration, kept for the reloads (SIGHUP) as well as the start.
struct serve_args {
    const char *config, *host, *routers, *strong, *weak, *base, *key, *key_env, *encoder;
    int port;
    double price[2][2]; // [strong, weak][in, out], USD per million tokens; < 0: not given
};

// srv_config_builder: the file (or the original's flags), then the flags that override it.
static int build_config(void *data, struct srv_config *c, char *errbuf) {
    const struct serve_args *a = data;
    int rc = RL_OK;
    if (a->config) {
        rc = srv_config_load(c, a->config, errbuf);
    } else {
        // The original's defaults: one base URL and key shared by both models.
        const char *strong = a->strong ? a->strong : RL_MODEL_DEFAULT_STRONG;
        const char *weak = a->weak ? a->weak : RL_MODEL_DEFAULT_WEAK;
        const char *base = a->base ? a->base : DEFAULT_BASE_URL;
        const char *key_env = a->key_env;
        if (!a->key && !key_env && getenv(DEFAULT_KEY_ENV))
            key_env = DEFAULT_KEY_ENV;
        rc = srv_config_add_model(c, strong, base, strong, key_env);
        if (rc == RL_OK && strcmp(strong, weak) != 0)
            rc = srv_config_add_model(c, weak, base, weak, key_env);
        // The metrics' cost and saving need both prices; a model left out costs 0.
        for (size_t i = 0; rc == RL_OK && i < c->n_models; i++) {
            const double *price = a->price[strcmp(c->models[i].name, strong) == 0 ? 0 : 1];
            c->models[i].price_in = price[0] > 0 ? price[0] : 0;
            c->models[i].price_out = price[1] > 0 ? price[1] : 0;
        }
    }
    if (rc == RL_OK && a->routers)
        rc = srv_config_set(c, "routers", a->routers, errbuf);
    if (rc == RL_OK && a->host)
        rc = srv_config_set(c, "server.host", a->host, errbuf);
    if (rc == RL_OK && a->port >= 0)
        rc = srv_config_set_num(c, "server.port", (double)a->port, errbuf);
    char model_dir[4096];
    if (rc == RL_OK && !c->encoder_dir) {
        rc = a->encoder ? RL_OK : cli_default_model_dir(model_dir, sizeof model_dir);
        if (rc == RL_OK)
            rc =
                srv_config_set(c, "encoder.model_dir", a->encoder ? a->encoder : model_dir, errbuf);
    }
    if (rc == RL_OK)
        rc = srv_config_finish(c, errbuf);
    if (rc == RL_OK && a->key)
        rc = srv_config_set_api_key(c, a->key, errbuf);
    if (rc != RL_OK && !errbuf[0])
        rl__errf(errbuf, rc, "%s", rl_strerror(rc));
    return rc;
}

int cli_cmd_serve(int argc, char **argv) {
    static const char *const levels[] = {"debug", "info", "warn", "error", NULL};
    struct serve_args a = {.port = -1, .price = {{-1, -1}, {-1, -1}}};
    int level = -1;
    const struct cli_opt opts[] = {
        CLI_STR("--config", &a.config, "FILE", 0,
                "YAML configuration (server, models, routing, routers, encoder); SIGHUP "
                "reloads it"),
        CLI_STR("--host", &a.host, "HOST", 0,
                "address to listen on (default " SRV_DEFAULT_HOST ")"),
        CLI_INT(
            "--port", &a.port, 0, 65535, "N",
            "port to listen on (default " RL_STRINGIFY(SRV_DEFAULT_PORT) "; 0 picks a free one)"),
        CLI_STR("--routers", &a.routers, "A,B", 0,
                "routers to offer (default: every shipped router)"),
        CLI_STR("--encoder", &a.encoder, "DIR", 0,
                "encoder folder (default <home>/" CLI_DEFAULT_MODEL_DIR ")"),
        CLI_CHOICE("--log-level", &level, levels, "LEVEL",
                   "debug, info, warn or error (default info)"),
        CLI_SECTION("without --config, one upstream per model, sharing a base URL and key:"),
        CLI_STR("--strong-model", &a.strong, "ID", 0,
                "strong model id (default " RL_MODEL_DEFAULT_STRONG ")"),
        CLI_STR("--weak-model", &a.weak, "ID", 0,
                "weak model id (default " RL_MODEL_DEFAULT_WEAK ")"),
        CLI_STR("--base-url", &a.base, "URL", 0,
                "OpenAI-compatible base URL (default " DEFAULT_BASE_URL ")"),
        CLI_STR("--api-key-env", &a.key_env, "NAME", 0,
                "variable holding the upstream key (default " DEFAULT_KEY_ENV ", if set)"),
        CLI_STR("--api-key", &a.key, "KEY", 0,
                "the key itself (prefer --api-key-env: flags show in ps)"),
        CLI_NUM("--strong-price-in", &a.price[0][0], 0, 1e6, "USD", 0,
                "strong model's price per million prompt tokens, for the cost and saving "
                "metrics (default 0)"),
        CLI_NUM("--strong-price-out", &a.price[0][1], 0, 1e6, "USD", 0,
                "strong model's price per million completion tokens"),
        CLI_NUM("--weak-price-in", &a.price[1][0], 0, 1e6, "USD", 0,
                "weak model's price per million prompt tokens"),
        CLI_NUM("--weak-price-out", &a.price[1][1], 0, 1e6, "USD", 0,
                "weak model's price per million completion tokens"),
    };
    const struct cli_spec spec = {
        .name = "serve",
        .about = "Run the OpenAI-compatible routing proxy. Send requests with "
                 "model=\"router-<router>-<threshold>\" (e.g. router-mf-0.60091) to route them, or "
                 "with an upstream model's name to call it directly. docs/SERVER.md has the "
                 "details.",
        CLI_OPTS(opts),
    };
    int parsed = cli_parse(&spec, argc, argv, NULL);
    if (parsed)
        return parsed == CLI_HELP ? 0 : parsed;
    if (level >= 0)
        srv_log_set_level((enum srv_log_level)level);
    bool priced =
        a.price[0][0] >= 0 || a.price[0][1] >= 0 || a.price[1][0] >= 0 || a.price[1][1] >= 0;
    if (a.config && (a.strong || a.weak || a.base || a.key || a.key_env || priced))
        return cli_usage(&spec, "--strong-model, --weak-model, --base-url, --api-key* and "
                                "--*-price-* apply without --config; put upstreams and their "
                                "prices in the file's models:");
    char errbuf[RL_ERRBUF_SIZE] = "";
    struct srv_server *s = srv_server_new(build_config, &a, cli_home(), errbuf);
    if (!s)
        return cli_fail("serve: %s", errbuf);
    int status = srv_server_run(s);
    srv_server_free(s);
    return status;
}
