// Entry point of the routellm tool: global flags and dispatch to the subcommands. Each
// subcommand reads its own options (options.c) and returns the exit status: 0 on success, 1 for
// a failure while running, 2 for a usage error.
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/cpu.h"

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
    {"label", cli_cmd_label, "label prompts with your models' answers, judged or graded"},
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

// ----------------------------------------------------------------------------
// Manual pages, written by the build from the tables (`routellm --man [COMMAND]`): routellm(1)
// from the command table, routellm-COMMAND(1) from the command's option table (options.c).

// The page's title line and NAME section; the title is the name in capitals.
static void man_title(const char *name, const char *summary) {
    char title[64];
    size_t i = 0;
    for (; name[i] && i + 1 < sizeof title; i++)
        title[i] = (char)(name[i] >= 'a' && name[i] <= 'z' ? name[i] - 'a' + 'A' : name[i]);
    title[i] = '\0';
    printf(".TH %s 1 \"\" \"routellm %s\" \"routellm manual\"\n.SH NAME\n", title, rl_version());
    cli_man_text(stdout, name);
    printf("\\- %s\n", summary);
}

static int man_main(void) {
    man_title("routellm", "route LLM requests between a strong and a weak model");
    printf(".SH SYNOPSIS\n\\fBroutellm\\fR [\\-\\-help] [\\-\\-version] \\fIcommand\\fR "
           "[\\fIargs\\fR]\n.SH DESCRIPTION\n");
    cli_man_text(stdout,
                 "For each prompt a router estimates p_strong, the probability that the strong "
                 "model answers better than the weak one, and the prompt goes to the strong model "
                 "when p_strong reaches a threshold. Everything runs locally: the sentence "
                 "encoder, the routers, training, calibration, evaluation and an "
                 "OpenAI-compatible proxy.");
    printf(".SH COMMANDS\n");
    for (size_t i = 0; i < RL_COUNTOF(commands); i++)
        printf(".TP\n.BR routellm\\-%s (1)\n%s\n", commands[i].name, commands[i].summary);
    printf(".SH EXIT STATUS\n0 on success, 1 when a command fails while running, 2 for a usage "
           "error.\n.SH ENVIRONMENT\n.TP\n.B ROUTELLM_HOME\n");
    cli_man_text(stdout, "the folder holding routers/, data/ and models/ (default: the install's "
                         "<prefix>/share/routellm, else the source tree of the build)");
    printf(".TP\n.B XDG_CACHE_HOME\n");
    cli_man_text(stdout, "an installed home's caches go to $XDG_CACHE_HOME/routellm "
                         "(~/.cache/routellm); any other home keeps them in <home>/.cache");
    printf(".TP\n.B ROUTELLM_PROGRESS_S\n");
    cli_man_text(stdout, "seconds between progress lines on stderr when it is not a terminal "
                         "(default 10; 0 prints none); on a terminal a bar is drawn instead");
    printf(".TP\n.B ROUTELLM_KERNELS\n");
    cli_man_text(stdout, "the encoder's kernel set, avx2 or avx512 (default: the faster one this "
                         "CPU runs)");
    printf(".SH FILES\n.TP\n.I <prefix>/share/routellm\n");
    cli_man_text(stdout, "the shipped routers (routers/), evaluation and training data (data/) "
                         "and the encoder weights (models/)");
    return 0;
}

static int man_command(const struct cli_command *c) {
    char page[64], opt[] = "--man";
    snprintf(page, sizeof page, "routellm-%s", c->name);
    man_title(page, c->summary);
    char *argv[] = {(char *)c->name, opt, NULL};
    int rc = c->run(2, argv);
    printf(".SH SEE ALSO\n.BR routellm (1)\n");
    return rc;
}

// ----------------------------------------------------------------------------
// Dispatch

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
    // The numeric code of the default build uses AVX2 and FMA outside the kernels that are
    // chosen at run time: say so rather than die of SIGILL.
    if (!rl__cpu_runs_build()) {
        return cli_fail("this build needs an x86-64 CPU with AVX2 and FMA (x86-64-v3); build it "
                        "with `make NATIVE=1` on this machine");
    }
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
    if (strcmp(cmd, "--man") == 0 && argc == 2)
        return man_main();
    if (strcmp(cmd, "--man") == 0) {
        for (size_t i = 0; i < RL_COUNTOF(commands); i++)
            if (strcmp(argv[2], commands[i].name) == 0)
                return man_command(&commands[i]);
        return unknown_command(argv[2]);
    }
    for (size_t i = 0; i < RL_COUNTOF(commands); i++)
        if (strcmp(cmd, commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    return unknown_command(cmd);
}
