// Threshold calibration (ROUTELLM.md §1.5): the threshold α that sends a chosen fraction of a
// prompt sample to the strong model is the (1 - fraction) quantile of the router's scores over
// the sample, since a prompt goes to the strong model when p >= α. Also the reader of prompt
// samples. Every function is reentrant; nothing here keeps state.
#ifndef RL_CALIBRATE_H
#define RL_CALIBRATE_H

#include <stddef.h>

#include "rl/core.h"

// The q-quantile of n scores with linear interpolation between order statistics (numpy's and
// pandas' default). RL_EINVAL when n is 0, q is outside [0, 1] or a score is not finite.
int rl_calibrate_quantile(const double *scores, size_t n, double q, double *out) RL_NODISCARD;

// The threshold that routes a fraction strong_frac ∈ [0, 1] of the scores to the strong model:
// the (1 - strong_frac) quantile. Then count(p >= α) is n·strong_frac within one prompt when
// the scores are distinct. RL_EINVAL as rl_calibrate_quantile.
int rl_calibrate_threshold(const double *scores, size_t n, double strong_frac,
                           double *alpha) RL_NODISCARD;

// How many of the n scores route to the strong model at α (p >= α).
size_t rl_calibrate_count_strong(const double *scores, size_t n, double alpha);

// A prompt sample.
struct rl_prompts {
    char **items; // (n) NUL-terminated prompts, owned
    size_t n;
};

// Read a prompt sample: JSONL (".jsonl", ".jsonl.gz": per line the string "prompt", or the
// first entry of a "prompt" or "turns" list, or the string "question"), JSON (".json",
// ".json.gz": an array of such records or of strings), CSV (".csv", ".csv.gz": the "prompt"
// column, whose JSON-list cells such as the Arena 55k's give their first turn), or else plain
// text, one prompt per non-blank line. RL_EFORMAT with file:line in errbuf on a malformed line;
// an empty sample is RL_EINVAL.
int rl_prompts_load(const char *path, struct rl_prompts *out, char *errbuf) RL_NODISCARD;
void rl_prompts_free(struct rl_prompts *p); // safe on a zeroed struct

#endif
