// `routellm serve`: read the YAML config and/or the flags of the original RouteLLM server
// (--routers, --strong-model, --weak-model, --base-url, --api-key, --port), then run the
// OpenAI-compatible routing proxy in src/server until SIGTERM. See docs/SERVER.md.
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "server/server.h"

static void serve_usage(FILE *f) {
    fprintf(
        f, "usage: routellm serve [--config FILE] [options]\n\n"
           "Run the OpenAI-compatible routing proxy. Send requests with\n"
           "model=\"router-<router>-<threshold>\" (e.g. router-mf-0.116) to route them, or with\n"
           "an upstream model's name to call it directly. docs/SERVER.md has the details.\n\n"
           "  --config FILE        YAML configuration (server, models, routing, routers, encoder)\n"
           "  --host HOST          address to listen on (default 127.0.0.1)\n"
           "  --port N             port to listen on (default 6060; 0 picks a free one)\n"
           "  --routers A,B        routers to offer (default: every shipped router)\n"
           "without --config, one upstream per model, sharing a base URL and key:\n"
           "  --strong-model ID    strong model id (default gpt-4-1106-preview)\n"
           "  --weak-model ID      weak model id (default mixtral-8x7b-instruct-v0.1)\n"
           "  --base-url URL       OpenAI-compatible base URL (default https://api.openai.com/v1)\n"
           "  --api-key-env NAME   variable holding the upstream key (default OPENAI_API_KEY, "
           "if set)\n"
           "  --api-key KEY        the key itself (prefer --api-key-env: flags show in ps)\n"
           "  --encoder DIR        encoder folder (default <home>/models/all-MiniLM-L6-v2)\n"
           "  --log-level LEVEL    debug, info, warn or error (default info)\n");
}

int cli_cmd_serve(int argc, char **argv) {
    enum {
        O_CONFIG = 256,
        O_HOST,
        O_PORT,
        O_ROUTERS,
        O_STRONG,
        O_WEAK,
        O_BASE,
        O_KEY,
        O_KEYENV,
        O_ENCODER,
        O_LOG
    };
    static const struct option opts[] = {
        {"config", required_argument, NULL, O_CONFIG},
        {"host", required_argument, NULL, O_HOST},
        {"port", required_argument, NULL, O_PORT},
        {"routers", required_argument, NULL, O_ROUTERS},
        {"strong-model", required_argument, NULL, O_STRONG},
        {"weak-model", required_argument, NULL, O_WEAK},
        {"base-url", required_argument, NULL, O_BASE},
        {"api-key", required_argument, NULL, O_KEY},
        {"api-key-env", required_argument, NULL, O_KEYENV},
        {"encoder", required_argument, NULL, O_ENCODER},
        {"log-level", required_argument, NULL, O_LOG},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config = NULL, *host = NULL, *routers = NULL, *strong = NULL, *weak = NULL;
    const char *base = NULL, *key = NULL, *key_env = NULL, *encoder = NULL;
    long port = -1;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (opt) {
        case O_CONFIG: config = optarg; break;
        case O_HOST: host = optarg; break;
        case O_PORT: {
            char *end;
            port = strtol(optarg, &end, 10);
            if (*end || port < 0 || port > 65535)
                return cli_fail("--port: expected 0..65535, got '%s'", optarg);
            break;
        }
        case O_ROUTERS: routers = optarg; break;
        case O_STRONG: strong = optarg; break;
        case O_WEAK: weak = optarg; break;
        case O_BASE: base = optarg; break;
        case O_KEY: key = optarg; break;
        case O_KEYENV: key_env = optarg; break;
        case O_ENCODER: encoder = optarg; break;
        case O_LOG: {
            static const char *const levels[] = {"debug", "info", "warn", "error"};
            int found = -1;
            for (int i = 0; i < 4; i++)
                if (strcmp(optarg, levels[i]) == 0)
                    found = i;
            if (found < 0)
                return cli_fail("--log-level: expected debug, info, warn or error, got '%s'",
                                optarg);
            srv_log_set_level((enum srv_log_level)found);
            break;
        }
        case 'h': serve_usage(stdout); return 0;
        default: serve_usage(stderr); return 2;
        }
    }
    if (optind < argc)
        return cli_fail("serve: unexpected argument '%s'", argv[optind]);

    char errbuf[RL_ERRBUF_SIZE] = "";
    struct srv_config c;
    srv_config_init(&c);
    int rc = RL_OK;
    if (config) {
        if (strong || weak || base || key || key_env) {
            srv_config_free(&c);
            return cli_fail("serve: --strong-model, --weak-model, --base-url and --api-key* "
                            "apply without --config; put upstreams in the file's models:");
        }
        rc = srv_config_load(&c, config, errbuf);
        if (rc != RL_OK) {
            srv_config_free(&c);
            return cli_fail("%s", errbuf);
        }
    } else {
        // The original's defaults: one base URL and key shared by both models.
        strong = strong ? strong : "gpt-4-1106-preview";
        weak = weak ? weak : "mixtral-8x7b-instruct-v0.1";
        base = base ? base : "https://api.openai.com/v1";
        if (!key && !key_env && getenv("OPENAI_API_KEY"))
            key_env = "OPENAI_API_KEY";
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
