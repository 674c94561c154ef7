// Evaluation of routers on benchmarks that hold, per prompt, the quality of a strong and a weak
// model's answer: the protocol of RouteLLM (arXiv 2406.18665 §5; ROUTELLM.md §1.6 and §4).
// Thresholds at the deciles of a router's scores, one call–performance point per threshold,
// and the metrics PGR, APGR, CPT(x%), AUC and the cost saving against always-strong.
// Responses are never generated: the benchmarks carry precomputed per-prompt results.
// A loaded benchmark is immutable and may be shared by threads; every function is reentrant.
#ifndef RL_EVAL_H
#define RL_EVAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rl/core.h"
#include "rl/encoder.h"
#include "rl/router.h"

RL_API_BEGIN

// ----------------------------------------------------------------------------
// Benchmarks

// One benchmark after the shipped contamination list has been applied.
struct rl_bench {
    char *name;          // "mt-bench", "mmlu", "gsm8k", or the table's path
    char *strong, *weak; // the two models' names (column keys)
    size_t n;            // prompts kept
    size_t n_total;      // prompts in the source
    size_t n_dropped;    // removed by the benchmark's contamination list
    char **prompts;      // (n) routing prompts; MT-Bench routes on turn 1
    double *q_strong;    // (n) quality per prompt: correctness × 100, or the judge score
    double *q_weak;      // (n) averaged over the turns for MT-Bench
    double *c_strong;    // (n) cost per prompt from the table's cost columns, or NULL
    double *c_weak;      // (n) likewise
    char *c_strong_col;  // the cost columns read, or NULL (tables only)
    char *c_weak_col;
    size_t n_missing; // table rows left out: the strong or weak quality cell empty (JSON null)
};

// Names of the built-in benchmarks, NULL-terminated.
extern const char *const rl_bench_names[];

// Load a built-in benchmark ("mt-bench", "mmlu", "gsm8k") from data_dir, the folder holding
// mt_bench/, mmlu/ and gsm8k/ (the project's data/evals). NULL on failure, errbuf says why.
struct rl_bench *rl_bench_load(const char *name, const char *data_dir, char *errbuf);

// Columns of a user table (CSV with a header line, or JSONL objects when the name ends in
// .jsonl or .jsonl.gz). Quality cells are numbers or booleans; booleans count as 100 / 0.
// A column "MODEL|cost" (or RouterBench's "MODEL|total_cost") is MODEL's per-prompt cost: when
// no cost column is named and both models have one (in a JSONL file: in its first line), they
// are read as if named.
struct rl_bench_table_params {
    const char *prompt;      // prompt column; NULL means "prompt"
    const char *strong;      // quality column of the strong model (required)
    const char *weak;        // quality column of the weak model (required)
    const char *cost_strong; // optional cost column of the strong model, or NULL
    const char *cost_weak;   // optional cost column of the weak model, or NULL
};

// Load a table benchmark. Every malformed row is an error naming the file and line.
struct rl_bench *rl_bench_load_table(const char *path, const struct rl_bench_table_params *p,
                                     char *errbuf);

// A new benchmark with the prompts whose keep[i] is true (the per-router decontamination).
// NULL on ENOMEM.
struct rl_bench *rl_bench_new_subset(const struct rl_bench *b, const bool *keep);

void rl_bench_free(struct rl_bench *b); // NULL is a no-op

double rl_bench_quality(const struct rl_bench *b, bool strong); // mean quality of one model alone

// PGR needs a strong model that is better: r_s - r_w at least RL_EVAL_MIN_GAP of the benchmark's
// quality range (the highest quality value of either model on its prompts less the lowest), so
// 0.01 on 0/1 correctness, 1 point on 0-100 and 0.09 on 1-10 judge scores. Below it, PGR, APGR,
// APGR10, CPT and the savings are not defined: a tiny or negative gap would divide by noise.
#define RL_EVAL_MIN_GAP 0.01
double rl_bench_min_gap(const struct rl_bench *b);    // RL_EVAL_MIN_GAP × the quality range
bool rl_bench_pair_ordered(const struct rl_bench *b); // r_s - r_w > 0 and >= rl_bench_min_gap

struct rl_eval_prices;
// Mean cost per prompt of one model alone: its cost column, else its price.
double rl_bench_cost(const struct rl_bench *b, const struct rl_eval_prices *prices, bool strong);

// ----------------------------------------------------------------------------
// Curves and metrics

// Per-million-token prices used when a benchmark has no cost columns (ROUTELLM.md §3: the
// paper's $24.7 for gpt-4-1106-preview and $0.24 for Mixtral-8x7B).
struct rl_eval_prices {
    double strong;
    double weak;
};
#define RL_EVAL_PRICE_STRONG 24.7
#define RL_EVAL_PRICE_WEAK   0.24

#define RL_EVAL_MAX_RESULTS 1000 // largest --num-results

// One point of a call–performance curve.
struct rl_eval_point {
    double threshold;  // α: strong when p >= α (p > α at the last edge, which gives 0% strong)
    double strong_pct; // share of strong calls, in percent
    double quality;    // mean quality of the routed answers
    double pgr;        // performance gap recovered: (quality - r_weak) / (r_strong - r_weak),
                       // NaN when the pair is not ordered (rl_bench_pair_ordered)
    double cost;       // mean cost per prompt
    int edge;          // index of the threshold among the edges (0 = lowest = 100% strong)
};

// The num_results + 1 bin edges of pandas.qcut(scores, num_results): the quantiles at
// i / num_results, linear interpolation, with duplicates kept (see docs/EVAL.md). The
// quantile positions are exact. edges has num_results + 1 slots. RL_EINVAL when n is 0 or
// num_results is outside [1, RL_EVAL_MAX_RESULTS], or a score is not finite.
int rl_eval_edges(const double *scores, size_t n, int num_results, double *edges) RL_NODISCARD;

// The curve of one router: one point per edge, sorted by strong_pct ascending (stable).
// scores has b->n entries; pts has num_results + 1 slots. Costs come from the benchmark's cost
// columns, else from prices (a request to a model costs its price). PGR is NaN at every point
// when the pair of b is not ordered.
int rl_eval_curve(const struct rl_bench *b, const double *scores, int num_results,
                  const struct rl_eval_prices *prices, struct rl_eval_point *pts) RL_NODISCARD;

// Average n_runs curves of num_results + 1 points each (runs[r * (num_results + 1) + i]) point
// by point into out, as the original averages the random router's runs.
void rl_eval_curve_mean(const struct rl_eval_point *runs, size_t n_runs, int num_results,
                        struct rl_eval_point *out);

// The oracle's scores: prompts ranked by the quality gain q_strong - q_weak (largest first,
// ties by index), mapped to distinct scores in (0, 1]. Evaluated like any router it sends the
// strong model exactly the prompts where it does better first, which bounds every router at
// every share of strong calls.
int rl_eval_oracle_scores(const struct rl_bench *b, double *scores) RL_NODISCARD;

// The PGR-based metrics (apgr, apgr_avg, cpt*, saving*) are NaN when pgr_defined is false.
struct rl_eval_metrics {
    bool pgr_defined;           // the strong model is better by the minimum gap
    double r_weak, r_strong;    // quality of each model alone on the evaluated prompts
    double apgr;                // trapezoid area under PGR over strong share in [0, 1]
    double apgr_avg;            // plain mean of PGR at the points of the first num_results edges
    double auc;                 // trapezoid area under quality over strong share in [0, 1]
    double cpt20, cpt50, cpt80; // % strong calls for 20/50/80% PGR, as np.interp
    double cpt20_min, cpt50_min, cpt80_min; // the first crossing of the curve, in percent
    double cost_strong;                     // mean cost per prompt of always-strong
    double saving50, saving80;              // cost of always-strong / cost at CPT(50%) and CPT(80%)
};

// Metrics of a curve sorted by strong_pct (as rl_eval_curve returns it). PGR is defined when
// r_strong > r_weak. RL_EINVAL when fewer than two points are given.
int rl_eval_metrics(const struct rl_eval_point *pts, size_t n_pts, double r_weak, double r_strong,
                    double cost_strong, struct rl_eval_metrics *m) RL_NODISCARD;
// The same for a curve of benchmark b: r_w, r_s and the cost of always-strong are b's (costs from
// its cost columns, else from prices), and PGR is defined when its pair is ordered
// (rl_bench_pair_ordered).
int rl_eval_bench_metrics(const struct rl_bench *b, const struct rl_eval_point *pts, size_t n_pts,
                          const struct rl_eval_prices *prices,
                          struct rl_eval_metrics *m) RL_NODISCARD;

// Percentile bootstrap of APGR over prompts: n_boot resamples of the prompts (with replacement,
// drawn with splitmix64 from seed), each evaluated like the original on the n_runs score arrays
// in scores (n_runs × b->n, averaged point by point as rl_eval_curve_mean does); writes the
// 2.5th and 97.5th percentiles. Resamples in which the pair is not ordered by b's minimum gap
// (rl_bench_min_gap) are skipped. RL_EINVAL when n_boot < 2, when the pair of b is not ordered,
// or when fewer than two resamples are left.
int rl_eval_bootstrap_apgr(const struct rl_bench *b, const double *scores, size_t n_runs,
                           int num_results, int n_boot, uint64_t seed, double *lo,
                           double *hi) RL_NODISCARD;

// numpy.interp(x, xp, fp) exactly, including its answer when xp is not increasing (the original
// harness passes a possibly non-monotone quality curve as xp; see docs/EVAL.md).
double rl_eval_interp(double x, const double *xp, const double *fp, size_t n);

// numpy.trapezoid(y, x).
double rl_eval_trapz(const double *y, const double *x, size_t n);

// ----------------------------------------------------------------------------
// Scoring and caches

// Progress of a long computation: done out of total items so far. Called from the calling
// thread, at most once per batch.
typedef void (*rl_eval_progress_fn)(void *ctx, size_t done, size_t total);

// Score n prompts with r (pair NULL = the router's default pair). When the router needs
// embeddings, they are taken from emb (n × dim floats) when given, else computed with enc.
int rl_eval_score(const struct rl_router *r, const struct rl_router_pair *pair,
                  const struct rl_encoder *enc, const float *emb, const char *const *prompts,
                  size_t n, double *scores, rl_eval_progress_fn progress, void *ctx,
                  char *errbuf) RL_NODISCARD;

// Largest score file rl_eval_scores_read accepts, once decompressed.
#define RL_EVAL_MAX_SCORE_FILE (1u << 30)

// Read the score of every prompt of b from a score file (JSONL lines {"prompt": "...", "score":
// number}, as `eval --scores-out` writes) into scores (b->n entries). RL_OK; RL_EFORMAT naming
// the file and line of a malformed line; RL_EINVAL naming a prompt of b that has no score.
int rl_eval_scores_read(const char *path, const struct rl_bench *b, double *scores,
                        char *errbuf) RL_NODISCARD;

// A score cache file holds n doubles under a 64-bit key. read returns RL_OK on a hit, RL_EIO
// when the file is missing, stale or damaged (never trusted then). write writes atomically.
int rl_eval_cache_read(const char *path, uint64_t key, double *scores, size_t n) RL_NODISCARD;
int rl_eval_cache_write(const char *path, uint64_t key, const double *scores, size_t n,
                        char *errbuf) RL_NODISCARD;

// Mark in flag (n entries, set to true or left) every evaluation prompt whose embedding has a
// cosine similarity >= threshold with one of the m training embeddings; both sets are unit
// norm, dim wide. Returns how many prompts were newly marked, or < 0 on ENOMEM.
long rl_eval_contaminated(const float *eval_emb, size_t n, const float *train_emb, size_t m,
                          size_t dim, double threshold, bool *flag);

// ----------------------------------------------------------------------------
// Many models: tables with a quality column per model, routed by a policy (rl/policy.h) among
// all of them. A curve is the policy's (cost, quality) over a sweep of its parameter; AIQ is
// RouterBench's (arXiv 2403.12031) area under the curve's non-decreasing upper convex hull,
// normalised to a cost range.

#define RL_MULTI_MAX_MODELS 64

struct rl_multi_bench {
    char *name;       // the table's path
    size_t n, m;      // prompts kept, models
    char **models;    // (m) the quality columns
    char **prompts;   // (n)
    double *quality;  // (n × m), prompt i's row at [i·m, i·m + m)
    double *cost;     // (n × m) from the table's "<model>|cost" columns, or NULL when it has none
    size_t n_total;   // rows read
    size_t n_missing; // rows left out: a quality cell empty (JSON null) for one of the models
};

// Load the quality columns of `models` (m of them, 2 to RL_MULTI_MAX_MODELS, distinct) and the
// prompt column (NULL: "prompt") of a CSV or JSONL table (as rl_bench_load_table reads them).
// Costs are read when every model has a "<model>|cost" (or "|total_cost") column. A malformed
// row is an error naming the file and line; NULL with errbuf.
struct rl_multi_bench *rl_multi_bench_load_table(const char *path, const char *prompt,
                                                 const char *const *models, size_t m, char *errbuf);
void rl_multi_bench_free(struct rl_multi_bench *b); // NULL is a no-op

// One point of a many-model curve: a parameter and the mean cost and quality it gives.
struct rl_multi_point {
    double param;
    double cost, quality;
};

// The curve of a policy of `kind` over params[0..n_params): for each parameter, every prompt's
// model is chosen from pred (n × m predicted qualities) and expect (n × m expected costs) by
// rl_policy_choose, and the point has the mean of the table's quality and of cost (n × m, the
// costs the choices are charged) over the prompts. RL_EINVAL as rl_policy_choose.
int rl_multi_curve(const struct rl_multi_bench *b, const double *pred, const double *expect,
                   const double *cost, int kind, const double *params, size_t n_params,
                   struct rl_multi_point *pts) RL_NODISCARD;

// The oracle: for every prompt the cheapest model (by cost, n × m) of the highest quality; its
// mean cost and quality into *pt (param 0).
void rl_multi_oracle(const struct rl_multi_bench *b, const double *cost, struct rl_multi_point *pt);

// The non-decreasing upper convex hull of n points, in place: the points left are sorted by
// cost, each cheaper one of lower quality, with no point below the segment of its neighbours.
// Returns how many are left.
size_t rl_multi_hull(struct rl_multi_point *pts, size_t n);

// AIQ of a hull (rl_multi_hull's output): the mean over costs in [c_lo, c_hi] of the hull's
// quality, which is 0 below its cheapest point, linear between points and flat after its
// dearest. The hull's quality at c_lo when c_hi <= c_lo; NaN for an empty hull.
double rl_multi_aiq(const struct rl_multi_point *hull, size_t n, double c_lo, double c_hi);

// The least mean cost at which the hull reaches quality q, interpolated; NaN when it never does.
double rl_multi_cost_for(const struct rl_multi_point *hull, size_t n, double q);

RL_API_END

#endif
