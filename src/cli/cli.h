// Shared pieces of the command-line tool: the subcommand table, error reporting, default paths
// and a progress bar. The CLI is a client of libroutellm; only it prints and exits.
#ifndef RL_CLI_H
#define RL_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include "core/core.h"

// Each subcommand gets argv starting at its own name and returns the process exit status.
int cli_cmd_embed(int argc, char **argv);
int cli_cmd_eval(int argc, char **argv);
int cli_cmd_calibrate(int argc, char **argv);
int cli_cmd_serve(int argc, char **argv);
int cli_cmd_train(int argc, char **argv);
int cli_cmd_route(int argc, char **argv);

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

// Scoring prompts with a router for `eval` and `calibrate` (cmd_eval.c): the encoder is loaded
// on first need, embeddings go through the embedding cache in <home>/.cache/embeddings and
// scores through the score cache in <home>/.cache/eval, with progress bars on stderr. Each
// function prints its own error and returns the exit status (0 or 1).
struct rl_encoder;
struct rl_embcache;
struct rl_router;
struct rl_router_pair;
struct cli_scorer {
    const char *model_dir; // encoder folder, NULL for the default
    bool no_cache;         // recompute embeddings and scores
    struct rl_encoder *enc;
    struct rl_embcache *cache;
};
void cli_scorer_init(struct cli_scorer *s);
void cli_scorer_free(struct cli_scorer *s);
// Embeddings of n prompts (n × dim, caller frees *emb); `what` names them in the progress bar.
int cli_scorer_embed(struct cli_scorer *s, const char *const *prompts, size_t n, const char *what,
                     float **emb);
// Scores of n prompts with router r loaded from spec (a kind name or a file), cached by the
// router file's digest, the pair, the encoder and the prompts.
int cli_scorer_score(struct cli_scorer *s, const struct rl_router *r, const char *spec,
                     const char *label, const struct rl_router_pair *pair,
                     const char *const *prompts, size_t n, const char *what, double *scores);
int cli_mkdirs(const char *path); // mkdir -p; RL_OK or RL_EIO

#endif
