// Shared pieces of the command-line tool: the subcommand table, error reporting, default paths
// and a progress bar. The CLI is a client of libroutellm; only it prints and exits.
#ifndef RL_CLI_H
#define RL_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include "core/core.h"

// Each subcommand gets argv starting at its own name and returns the process exit status.
int cli_cmd_embed(int argc, char **argv);

// Print "routellm: <message>" on stderr and return 1 (the exit status of a failed command).
int cli_fail(const char *fmt, ...) RL_PRINTF(1, 2);

// The project's home: $ROUTELLM_HOME, else the source tree the binary was built from. Shipped
// data (data/, routers/) and fetched weights (models/) are found under it.
const char *cli_home(void);

// Default encoder folder, <home>/models/all-MiniLM-L6-v2, written into out.
int cli_default_model_dir(char *out, size_t out_size) RL_NODISCARD;

// Progress bar on stderr, drawn only when stderr is a terminal and total is large enough to
// matter. Calls are cheap; redraws are rate-limited.
struct cli_progress {
    const char *label;
    size_t total;
    size_t done;
    bool enabled;
    double last_draw;
    double start;
};
void cli_progress_start(struct cli_progress *p, const char *label, size_t total);
void cli_progress_add(struct cli_progress *p, size_t n);
void cli_progress_finish(struct cli_progress *p);

#endif
