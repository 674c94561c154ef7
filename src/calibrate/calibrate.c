// Threshold calibration (ROUTELLM.md §1.5): quantiles of router scores over a prompt sample.
// Reading the sample (rl_texts_load, rl/texts.h) and scoring it (rl_eval_score) are the
// caller's job; nothing here loads a router or an encoder.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval_impl.h"
#include "rl/calibrate.h"
#include "rl/router.h"

// ----------------------------------------------------------------------------
// Quantiles

// np.quantile(x, q) with method "linear": virtual index (n - 1)·q, floor and fraction, and
// numpy's _lerp (from the nearer end), so results match pandas' Series.quantile.
int rl_calibrate_quantile(const double *scores, size_t n, double q, double *out) {
    if (!(q >= 0 && q <= 1))
        return RL_EINVAL;
    double *s;
    int rc = rl__sorted_scores(scores, n, &s);
    if (rc != RL_OK)
        return rc;
    double v = (double)(n - 1) * q;
    double lo = floor(v);
    size_t i = (size_t)lo, j = i + 1 < n ? i + 1 : n - 1;
    *out = rl__lerp(s[i], s[j], v - lo);
    free(s);
    return RL_OK;
}

int rl_calibrate_threshold(const double *scores, size_t n, double strong_frac, double *alpha) {
    if (!(strong_frac >= 0 && strong_frac <= 1))
        return RL_EINVAL;
    return rl_calibrate_quantile(scores, n, 1 - strong_frac, alpha);
}

size_t rl_calibrate_count_strong(const double *scores, size_t n, double alpha) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += rl_router_goes_strong(scores[i], alpha);
    return k;
}
