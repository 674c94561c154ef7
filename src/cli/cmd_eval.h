// The parts of `routellm eval` (ROUTELLM.md §1.6, §4): the options and the command
// (cmd_eval.c), the evaluation of each router and of the oracle (eval_run.c), and the reports on
// stdout and in files (eval_report.c). Each function prints its own error and returns the exit
// status (0 or 1).
#ifndef RL_CLI_CMD_EVAL_H
#define RL_CLI_CMD_EVAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "cli/cli.h"
#include "rl/eval.h"

#define MAX_ROUTERS     32
#define MAX_TRAIN_FILES 64

struct router_spec {
    const char *label;                  // name shown in the results
    const char *spec;                   // kind name or router file
    bool precomputed;                   // spec is a JSONL file of per-prompt scores (--scores)
    const char *train[MAX_TRAIN_FILES]; // prompt files of its training prompts
    int n_train;
    // --as: models the router knows, scored in place of the benchmark's strong and weak models
    // (NULL: the benchmark's own); the benchmark's columns still give the quality.
    const char *as_strong, *as_weak;
    bool as_own; // set by --as ROUTER:..., which the --as for every router leaves alone
};

enum eval_format { EVAL_FORMAT_TABLE, EVAL_FORMAT_JSON, EVAL_FORMAT_CSV };

struct eval_opts {
    const char *benchmark;
    const char *output;
    int format; // enum eval_format
    const char *data_dir;
    const char *model_dir;
    int precision;          // an enum rl_precision
    const char *scores_out; // --scores-out DIR
    bool no_cache;
    bool no_decontam; // skip the routers' own training-prompt lists
    struct rl_bench_table_params table;
    struct rl_eval_prices prices;
    int num_results;
    int random_iters;
    int bootstrap; // resamples for the APGR interval, 0 for none
    double decontam;
    struct router_spec routers[MAX_ROUTERS];
    int n_routers;
    // --models: routing among these models (eval_models.c)
    char *models[RL_MULTI_MAX_MODELS];
    int n_models;
    struct cli_list prices_of; // --price MODEL=IN,OUT
    double output_tokens;
};

// What one router (or the oracle) scored.
struct result {
    const char *label;
    const char *spec; // NULL for the oracle
    int iters;        // seeds averaged (random router), else 1
    size_t n_prompts; // prompts evaluated
    long n_removed;   // dropped by --train-prompts decontamination, or -1 when not checked
    int n_pts;
    struct rl_eval_point *pts; // (n_pts)
    struct rl_eval_metrics m;
    bool has_ci;
    double apgr_lo, apgr_hi; // percentile bootstrap interval of APGR (--bootstrap)
};

// ----------------------------------------------------------------------------
// Evaluation (eval_run.c): each fills res (its pts are the caller's to free).

int cli_eval_random(const struct rl_bench *b, const struct eval_opts *o, struct result *res);
int cli_eval_precomputed(const struct rl_bench *b, const struct router_spec *spec,
                         const struct eval_opts *o, struct result *res);
int cli_eval_router(const struct rl_bench *b, const struct router_spec *spec,
                    const struct eval_opts *o, struct cli_scorer *s, struct result *res);
int cli_eval_oracle(const struct rl_bench *b, const struct eval_opts *o, struct result *res);

// --models: the evaluation among many models of a table (eval_models.c); prints its report and
// writes --output. Returns the exit status.
int cli_eval_models(const struct eval_opts *o);

// A benchmark's name (or a table's path) as a file-name stem: no folders, no extension, other
// bytes as '_'.
void cli_eval_bench_base(const char *path, char *base, size_t size);

// Warn on stderr that PGR is not defined on b (rl_bench_pair_ordered): the strong model is not
// better by the minimum gap. who names the router whose prompts b holds, or is NULL for the
// whole benchmark.
void cli_eval_warn_pair(const struct rl_bench *b, const char *who);

// ----------------------------------------------------------------------------
// Reports (eval_report.c) of n_res results, the oracle last.

void cli_eval_print_table(const struct rl_bench *b, const struct eval_opts *o,
                          const struct result *res, int n_res);
int cli_eval_print_json(const struct rl_bench *b, const struct eval_opts *o,
                        const struct result *res, int n_res);
void cli_eval_print_csv(const struct result *res, int n_res);
// Quote a CSV field when it needs it.
void cli_eval_csv_field(FILE *f, const char *s);

// A plot rendered by gnuplot to <stem>.png and <stem>.svg from the script <stem>.gp: series of
// (x, y) points, each with a title and a gnuplot style ("with points pt 5").
#define CLI_PLOT_MAX_SERIES 128
struct cli_plot {
    FILE *f;
    char gp[4096], png[4096], svg[4096];
    char title[CLI_PLOT_MAX_SERIES][160];
    const char *style[CLI_PLOT_MAX_SERIES]; // static strings
    int n_series;
};
int cli_eval_plot_begin(struct cli_plot *p, const char *stem, const char *title, const char *xlabel,
                        const char *ylabel);
void cli_eval_plot_series(struct cli_plot *p, const char *title, const char *style);
void cli_eval_plot_xy(struct cli_plot *p, double x, double y);
// Finish the script and render it; data names the data file in the message.
int cli_eval_plot_end(struct cli_plot *p, const char *data);

// --output: DIR/<benchmark>.csv with the curves, and their plots (.gp, .png, .svg) by gnuplot.
int cli_eval_write_output(const struct rl_bench *b, const struct eval_opts *o,
                          const struct result *res, int n_res);

#endif
