// `routellm serve`: read the YAML config and/or the flags of the original RouteLLM server
// (--routers, --strong-model, --weak-model, --base-url, --api-key, --port), then run the
// OpenAI-compatible routing proxy in src/server until SIGTERM. See docs/SERVER.md.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "server/server.h"

// The original server's upstream: OpenAI's API, with the key in the usual variable.
#define DEFAULT_BASE_URL "https://api.openai.com/v1"
#define DEFAULT_KEY_ENV  "OPENAI_API_KEY"

int cli_cmd_serve(int argc, char **argv) {
    static const char *const levels[] = {"debug", "info", "warn", "error", NULL};
    const char *config = NULL, *host = NULL, *routers = NULL, *strong = NULL, *weak = NULL;
    const char *base = NULL, *key = NULL, *key_env = NULL, *encoder = NULL;
    int port = -1, level = -1;
    const struct cli_opt opts[] = {
        CLI_STR("--config", &config, "FILE", 0,
                "YAML configuration (server, models, routing, routers, encoder)"),
        CLI_STR("--host", &host, "HOST", 0, "address to listen on (default " SRV_DEFAULT_HOST ")"),
        CLI_INT(
            "--port", &port, 0, 65535, "N",
            "port to listen on (default " RL_STRINGIFY(SRV_DEFAULT_PORT) "; 0 picks a free one)"),
        CLI_STR("--routers", &routers, "A,B", 0,
                "routers to offer (default: every shipped router)"),
        CLI_STR("--encoder", &encoder, "DIR", 0,
                "encoder folder (default <home>/" CLI_DEFAULT_MODEL_DIR ")"),
        CLI_CHOICE("--log-level", &level, levels, "LEVEL",
                   "debug, info, warn or error (default info)"),
        CLI_SECTION("without --config, one upstream per model, sharing a base URL and key:"),
        CLI_STR("--strong-model", &strong, "ID", 0,
                "strong model id (default " RL_MODEL_DEFAULT_STRONG ")"),
        CLI_STR("--weak-model", &weak, "ID", 0,
                "weak model id (default " RL_MODEL_DEFAULT_WEAK ")"),
        CLI_STR("--base-url", &base, "URL", 0,
                "OpenAI-compatible base URL (default " DEFAULT_BASE_URL ")"),
        CLI_STR("--api-key-env", &key_env, "NAME", 0,
                "variable holding the upstream key (default " DEFAULT_KEY_ENV ", if set)"),
        CLI_STR("--api-key", &key, "KEY", 0,
                "the key itself (prefer --api-key-env: flags show in ps)"),
    };
    const struct cli_spec spec = {
        .name = "serve",
        .about = "Run the OpenAI-compatible routing proxy. Send requests with "
                 "model=\"router-<router>-<threshold>\" (e.g. router-mf-0.116) to route them, or "
                 "with an upstream model's name to call it directly. docs/SERVER.md has the "
                 "details.",
        CLI_OPTS(opts),
    };
    int parsed = cli_parse(&spec, argc, argv, NULL);
    if (parsed)
        return parsed == CLI_HELP ? 0 : parsed;
    if (level >= 0)
        srv_log_set_level((enum srv_log_level)level);

    char errbuf[RL_ERRBUF_SIZE] = "";
    struct srv_config c;
    srv_config_init(&c);
    int rc = RL_OK;
    if (config) {
        if (strong || weak || base || key || key_env) {
            srv_config_free(&c);
            return cli_usage(&spec, "--strong-model, --weak-model, --base-url and --api-key* "
                                    "apply without --config; put upstreams in the file's models:");
        }
        rc = srv_config_load(&c, config, errbuf);
        if (rc != RL_OK) {
            srv_config_free(&c);
            return cli_fail("%s", errbuf);
        }
    } else {
        // The original's defaults: one base URL and key shared by both models.
        strong = strong ? strong : RL_MODEL_DEFAULT_STRONG;
        weak = weak ? weak : RL_MODEL_DEFAULT_WEAK;
        base = base ? base : DEFAULT_BASE_URL;
        if (!key && !key_env && getenv(DEFAULT_KEY_ENV))
            key_env = DEFAULT_KEY_ENV;
        rc = srv_config_add_model(&c, strong, base, strong, key_env);
        if (rc == RL_OK && strcmp(strong, weak) != 0)
            rc = srv_config_add_model(&c, weak, base, weak, key_env);
    }
    if (rc == RL_OK && routers)
        rc = srv_config_set(&c, "routers", routers, errbuf);
    if (rc == RL_OK && host)
        rc = srv_config_set(&c, "server.host", host, errbuf);
    if (rc == RL_OK && port >= 0)
        rc = srv_config_set_num(&c, "server.port", (double)port, errbuf);
    char model_dir[4096];
    if (rc == RL_OK && !c.encoder_dir) {
        rc = encoder ? RL_OK : cli_default_model_dir(model_dir, sizeof model_dir);
        if (rc == RL_OK)
            rc = srv_config_set(&c, "encoder.model_dir", encoder ? encoder : model_dir, errbuf);
    }
    if (rc != RL_OK) {
        srv_config_free(&c);
        return cli_fail("serve: %s", errbuf[0] ? errbuf : rl_strerror(rc));
    }
    rc = srv_config_finish(&c, errbuf);
    if (rc == RL_OK && key)
        rc = srv_config_set_api_key(&c, key, errbuf);
    if (rc != RL_OK) {
        srv_config_free(&c);
        return cli_fail("%s", errbuf);
    }
    struct srv_server *s = srv_server_new(&c, cli_home(), errbuf);
    if (!s) {
        srv_config_free(&c);
        return cli_fail("serve: %s", errbuf);
    }
    int status = srv_server_run(s);
    srv_server_free(s);
    srv_config_free(&c);
    return status;
}
