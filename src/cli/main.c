// Entry point of the routellm tool: global flags and dispatch to the subcommands. Each
// subcommand reads its own options (options.c) and returns the exit status: 0 on success, 1 for
// a failure while running, 2 for a usage error.
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

struct cli_command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
};

static const struct cli_command commands[] = {
    {"embed", cli_cmd_embed, "embed texts with the local sentence encoder"},
    {"eval", cli_cmd_eval, "measure routers on MT-Bench, MMLU, GSM8K or your own table"},
    {"calibrate", cli_cmd_calibrate, "find the threshold that gives a share of strong calls"},
    {"serve", cli_cmd_serve, "run the OpenAI-compatible routing proxy"},
    {"train", cli_cmd_train, "train a router from battle data"},
    {"route", cli_cmd_route, "score one prompt and print the routing decision"},
    {"validate", cli_cmd_validate, "measure how routers generalise to held-out data"},
};

static void usage(FILE *f) {
    fprintf(f, "usage: routellm [--help] [--version] <command> [<args>]\n\n"
               "Route LLM requests between a strong and a weak model.\n\ncommands:\n");
    for (size_t i = 0; i < RL_COUNTOF(commands); i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\nRun 'routellm <command> --help' for the options of a command.\n");
}

// An unknown command is a usage error, with the closest command when it looks like a typo.
static int unknown_command(const char *cmd) {
    struct cli_suggest s;
    cli_suggest_init(&s, cmd);
    for (size_t i = 0; i < RL_COUNTOF(commands); i++)
        cli_suggest_add(&s, commands[i].name);
    bool option = cmd[0] == '-';
    if (s.best && !option)
        cli_fail("unknown command '%s' (did you mean '%s'?)", cmd, s.best);
    else
        cli_fail("unknown %s '%s' (see 'routellm --help')", option ? "option" : "command", cmd);
    return CLI_EXIT_USAGE;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
        printf("routellm %s\n", rl_version());
        return 0;
    }
    for (size_t i = 0; i < RL_COUNTOF(commands); i++)
        if (strcmp(cmd, commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    return unknown_command(cmd);
}
