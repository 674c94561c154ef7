// Shared pieces of the command-line tool: the subcommand table, error reporting, option values,
// default paths, a progress bar, and the loading and scoring helpers of the subcommands that
// score prompts. The CLI is a client of libroutellm; only it prints and exits.
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

// ----------------------------------------------------------------------------
// Options (cli.c)

bool cli_is_help(const char *arg); // "--help" or "-h"
// The whole of v read as a number by strtod (no trailing characters, no range error).
bool cli_to_double(const char *v, double *out);
// The value v of option opt as a number in [lo, hi] (strtod), or as a base-10 integer in
// [lo, hi] (strtol). On failure prints "<opt>: '<v>' is not a number in [lo, hi]" (or "an
// integer") and returns 1, leaving *out alone; else 0.
int cli_parse_double(const char *opt, const char *v, double lo, double hi, double *out);
int cli_parse_long(const char *opt, const char *v, long lo, long hi, long *out);

// ----------------------------------------------------------------------------
// Paths (cli.c)

// The project's home: $ROUTELLM_HOME, else the source tree the binary was built from. Shipped
// data (data/, routers/) and fetched weights (models/) are found under it.
const char *cli_home(void);

// Default encoder folder, <home>/models/all-MiniLM-L6-v2, written into out.
int cli_default_model_dir(char *out, size_t out_size) RL_NODISCARD;

int cli_mkdirs(const char *path); // mkdir -p; RL_OK, RL_EINVAL (empty or too long) or RL_EIO

// Copy `in` to out (at most out_size - 1 bytes) with every byte other than [A-Za-z0-9._-]
// replaced by '_', so that it can be part of a file name.
void cli_slug(const char *in, char *out, size_t out_size);

// ----------------------------------------------------------------------------
// Progress bar on stderr (cli.c), drawn only when stderr is a terminal and total is large enough
// to matter. Calls are cheap; redraws are rate-limited.

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

// ----------------------------------------------------------------------------
// Loading and scoring (scorer.c), for `eval`, `calibrate`, `route` and `train`. Each function
// prints its own error and returns the exit status (0 or 1), or NULL for the constructors.

struct rl_encoder;
struct rl_embcache;
struct rl_router;
struct rl_router_pair;

// The encoder in model_dir (NULL: cli_default_model_dir); NULL after printing why it failed.
struct rl_encoder *cli_encoder_load(const char *model_dir);

// Load router spec (a kind name or a file, as rl_router_load) and resolve the pair strong /
// weak (NULL names: the router's default pair). On failure *r is NULL.
int cli_router_open(const char *spec, const char *strong, const char *weak, struct rl_router **r,
                    struct rl_router_pair *pair);

// Where a cached evaluation result named `file` lives: <home>/.cache/eval, and that folder
// joined with file, each written into a buffer of `size` bytes. False when a path does not fit.
bool cli_eval_cache_path(const char *file, char *dir, char *path, size_t size);

// The encoder is loaded on first need; embeddings go through the embedding cache in
// <home>/.cache/embeddings and scores through the score cache in <home>/.cache/eval (unless
// no_cache), with progress bars on stderr.
struct cli_scorer {
    const char *model_dir; // encoder folder, NULL for the default
    bool no_cache;         // recompute embeddings and scores
    struct rl_encoder *enc;
    struct rl_embcache *cache;
};
void cli_scorer_init(struct cli_scorer *s, const char *model_dir, bool no_cache);
void cli_scorer_free(struct cli_scorer *s);
// Embeddings of n prompts (n × dim, caller frees *emb); `what` names them in the progress bar.
int cli_scorer_embed(struct cli_scorer *s, const char *const *prompts, size_t n, const char *what,
                     float **emb);
// Scores of n prompts with router r loaded from spec (a kind name or a file), cached by the
// router file's digest, the pair, the encoder and the prompts.
int cli_scorer_score(struct cli_scorer *s, const struct rl_router *r, const char *spec,
                     const char *label, const struct rl_router_pair *pair,
                     const char *const *prompts, size_t n, const char *what, double *scores);

#endif
