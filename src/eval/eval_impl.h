// Internal interface of the evaluation harness: the numpy primitives behind quantiles, a
// growable benchmark under construction and contamination lists (CSV rows come from
// data/data.h, JSONL lines from core/json.h). Shared by the benchmark loaders, the curves and
// the calibration; not part of the public API.
#ifndef RL_SRC_EVAL_IMPL_H
#define RL_SRC_EVAL_IMPL_H

#include <stdbool.h>
#include <stddef.h>

#include "core/core.h"
#include "core/json.h"
#include "data/data.h"
#include "rl/eval.h"

// Limits on outside input: a whole data file once decompressed, and rows per benchmark.
#define RL_EVAL_MAX_FILE (512u << 20)
#define RL_EVAL_MAX_ROWS (16u << 20)

// ----------------------------------------------------------------------------
// numpy primitives (curve.c), shared with the calibration's quantiles

// numpy's _lerp: a + (b - a)·t, computed from the nearer end so that t = 1 gives b exactly.
double rl__lerp(double a, double b, double t);

// A sorted copy of n scores in *sorted (the caller frees it). RL_OK, RL_EINVAL when n is 0 or a
// score is not finite, or RL_ENOMEM.
int rl__sorted_scores(const double *scores, size_t n, double **sorted) RL_NODISCARD;

// Whether PGR is defined for these qualities of the two models alone: r_strong - r_weak > 0
// and >= min_gap (rl_bench_min_gap).
bool rl__pgr_defined(double r_weak, double r_strong, double min_gap);

// ----------------------------------------------------------------------------
// Cell values

// Open a user table's CSV file: its bytes in *data (NUL-terminated, bounded by
// RL_EVAL_MAX_FILE), the parser c past its header and the header in *header (the caller frees
// both). RL_OK, or an error naming path (an empty file has no header), with nothing to free.
int rl__table_csv_open(const char *path, char **data, struct rl__dcsv *c,
                       struct rl__dcsv_row **header, char *errbuf) RL_NODISCARD;
// The column of `name` in a table's header into *col (-1 for a NULL name); RL_EFORMAT naming
// the file, the line and the column when the header has none.
int rl__table_column(const char *path, const struct rl__dcsv_row *header, const char *name,
                     int *col, char *errbuf) RL_NODISCARD;
// A user table's own cost column of model among n column names: "<model>|cost" or
// "<model>|total_cost" (rl__model_field), the first; -1 when it has none.
int rl__model_cost_col(const char *const *names, int n, const char *model);

// Parse a quality cell: True/False/true/false (as 100 / 0 when *is_bool) or a finite number.
// Returns RL_OK or RL_EFORMAT.
int rl__parse_quality(const char *s, double *v, bool *is_bool) RL_NODISCARD;

// ----------------------------------------------------------------------------
// A benchmark under construction

struct rl__bench_builder {
    struct rl_bench *b;
    size_t cap;
    bool has_cost;
};

int rl__bench_builder_init(struct rl__bench_builder *bb, const char *name, const char *strong,
                           const char *weak, bool has_cost) RL_NODISCARD;
// Append one prompt (copied); costs are ignored when the builder has none.
int rl__bench_builder_add(struct rl__bench_builder *bb, const char *prompt, double q_strong,
                          double q_weak, double c_strong, double c_weak) RL_NODISCARD;
// The finished benchmark (owned by the caller) or NULL; the builder is empty afterwards.
struct rl_bench *rl__bench_builder_take(struct rl__bench_builder *bb);
void rl__bench_builder_free(struct rl__bench_builder *bb);

// ----------------------------------------------------------------------------
// Contamination lists: the eval_prompt of every line of a RouteLLM contaminated_prompts.jsonl.

struct rl__strset {
    char **items; // sorted
    size_t n;
};
int rl__strset_load_contaminated(struct rl__strset *s, const char *path, char *errbuf) RL_NODISCARD;
bool rl__strset_has(const struct rl__strset *s, const char *item);
void rl__strset_free(struct rl__strset *s);

#endif
