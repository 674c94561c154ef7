// Threshold calibration (ROUTELLM.md §1.5): the threshold α that sends a chosen fraction of a
// prompt sample to the strong model is the (1 - fraction) quantile of the router's scores over
// the sample, since a prompt goes to the strong model when p >= α. A sample is read with
// rl_texts_load (rl/texts.h, exact). Every function is reentrant; nothing here keeps state.
#ifndef RL_CALIBRATE_H
#define RL_CALIBRATE_H

#include <stddef.h>

#include "rl/core.h"

RL_API_BEGIN

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

RL_API_END

#endif
