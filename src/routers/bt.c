// Bradley-Terry by Newton's method and the variance-minimising tier partition (RouteLLM §2.2).
// The log-likelihood of the tie-duplicated logistic regression is concave with a flat direction
// along the all-ones vector; adding a multiple of 11ᵀ to the negated Hessian removes it while
// leaving the Newton step orthogonal to 1, so iterates keep sum zero as lbfgs from zero does.
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "rl/battle.h"
#include "routers/bt.h"

#define LN10     2.302585092994046
#define MAX_ITER 100

static double log_sigmoid(double x) {
    return x >= 0 ? -log1p(exp(-x)) : x - log1p(exp(x));
}

static double sigmoid(double x) {
    return x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x));
}

static double loglik(int n, const double *win, const double *loss, const double *beta) {
    double ll = 0;
    for (int a = 0; a < n; a++) {
        for (int b = 0; b < n; b++) {
            double w1 = win[a * n + b], w0 = loss[a * n + b];
            if (a == b || (w1 == 0 && w0 == 0))
                continue;
            double z = LN10 * (beta[a] - beta[b]);
            ll += w1 * log_sigmoid(z) + w0 * log_sigmoid(-z);
        }
    }
    return ll;
}

// Cholesky solve of the n×n SPD system A x = g (A overwritten). False when A is not PD.
static bool chol_solve(int n, double *A, const double *g, double *x) {
    for (int j = 0; j < n; j++) {
        double d = A[j * n + j];
        for (int k = 0; k < j; k++)
            d -= A[j * n + k] * A[j * n + k];
        if (!(d > 0))
            return false;
        d = sqrt(d);
        A[j * n + j] = d;
        for (int i = j + 1; i < n; i++) {
            double s = A[i * n + j];
            for (int k = 0; k < j; k++)
                s -= A[i * n + k] * A[j * n + k];
            A[i * n + j] = s / d;
        }
    }
    for (int i = 0; i < n; i++) {
        double s = g[i];
        for (int k = 0; k < i; k++)
            s -= A[i * n + k] * x[k];
        x[i] = s / A[i * n + i];
    }
    for (int i = n - 1; i >= 0; i--) {
        double s = x[i];
        for (int k = i + 1; k < n; k++)
            s -= A[k * n + i] * x[k];
        x[i] = s / A[i * n + i];
    }
    return true;
}

int rl__bt_fit(int n, const double *win, const double *loss, double *beta, double *scratch) {
    for (int i = 0; i < n * n; i++)
        if (!(win[i] >= 0 && isfinite(win[i]) && loss[i] >= 0 && isfinite(loss[i])))
            return RL_EINVAL;
    double *H = scratch, *A = H + n * n, *g = A + n * n, *step = g + n, *trial = step + n;
    memset(beta, 0, (size_t)n * sizeof *beta);
    if (n < 2)
        return 0;
    double ll = loglik(n, win, loss, beta);
    int it;
    for (it = 1; it <= MAX_ITER; it++) {
        memset(H, 0, (size_t)n * n * sizeof *H);
        memset(g, 0, (size_t)n * sizeof *g);
        double scale = 0;
        for (int a = 0; a < n; a++) {
            for (int b = 0; b < n; b++) {
                double w1 = win[a * n + b], w0 = loss[a * n + b];
                if (a == b || (w1 == 0 && w0 == 0))
                    continue;
                double p = sigmoid(LN10 * (beta[a] - beta[b]));
                double r = LN10 * (w1 - (w1 + w0) * p);
                g[a] += r;
                g[b] -= r;
                double h = LN10 * LN10 * (w1 + w0) * p * (1 - p);
                H[a * n + a] += h;
                H[b * n + b] += h;
                H[a * n + b] -= h;
                H[b * n + a] -= h;
                scale += h;
            }
        }
        // A = H + c·11ᵀ, plus a ridge that grows until A factorises (a model with no battles,
        // or a group disconnected from the rest, leaves H singular beyond the ones direction).
        // The ridge starts at DBL_MIN or more, since 1e-10·c is 0 once the Hessian sinks to
        // subnormals (tiny weights, a one-sided fit driven outwards), and a ridge that overflows
        // means A holds no number (weights near the top of the range): no ridge would do.
        double c = scale > 0 ? scale / n : 1;
        double ridge = 0;
        for (;;) {
            for (int i = 0; i < n * n; i++)
                A[i] = H[i] + c / n;
            for (int i = 0; i < n; i++)
                A[i * n + i] += ridge;
            if (chol_solve(n, A, g, step))
                break;
            ridge = ridge > 0 ? ridge * 10 : fmax(1e-10 * c, DBL_MIN);
            if (!isfinite(ridge))
                return RL_EINVAL;
        }
        // Step halving keeps the likelihood rising when the quadratic model overshoots.
        double t = 1, new_ll = ll;
        for (int k = 0; k < 40; k++, t *= 0.5) {
            for (int i = 0; i < n; i++)
                trial[i] = beta[i] + t * step[i];
            new_ll = loglik(n, win, loss, trial);
            if (new_ll >= ll)
                break;
        }
        if (!(new_ll >= ll))
            break;
        double max_step = 0;
        for (int i = 0; i < n; i++) {
            max_step = fmax(max_step, fabs(trial[i] - beta[i]));
            beta[i] = trial[i];
        }
        ll = new_ll;
        if (max_step < 1e-12)
            break;
    }
    // Remove the rounding drift along 1.
    double mean = 0;
    for (int i = 0; i < n; i++)
        mean += beta[i];
    mean /= n;
    for (int i = 0; i < n; i++)
        beta[i] -= mean;
    return it;
}

void rl__bt_add_rows(double *win, double *loss, int n, int a, int b, int outcome, double w) {
    if (outcome == RL_OUTCOME_A_WINS) {
        win[a * n + b] += 2 * w;
    } else if (outcome == RL_OUTCOME_B_WINS) {
        loss[a * n + b] += 2 * w;
    } else {
        win[a * n + b] += w;
        loss[a * n + b] += w;
    }
}

// ----------------------------------------------------------------------------
// Tiers

int rl__bt_tiers(const double *r, int n, int n_tiers, int *tier) {
    if (n <= 0)
        return 0;
    if (n_tiers > n)
        n_tiers = n;
    if (n_tiers < 1)
        n_tiers = 1;
    const int K = n_tiers + 1;
    double *dp = malloc((size_t)(n + 1) * K * sizeof *dp);
    int *cut = malloc((size_t)(n + 1) * K * sizeof *cut);
    if (!dp || !cut) {
        free(dp);
        free(cut);
        return RL_ENOMEM;
    }
    for (int i = 0; i <= n; i++)
        for (int j = 0; j < K; j++)
            dp[i * K + j] = INFINITY;
    dp[0] = 0;
    // dp[i][j]: best cost of the first i ratings in j groups, the last group being [k, i). The
    // group's variance is grown one element at a time (Welford, stable for ratings near 1000)
    // while k walks down; "<=" keeps the smallest k among equal costs, as the original's
    // ascending scan with "<" does.
    for (int i = 1; i <= n; i++) {
        double mean = 0, m2 = 0;
        for (int k = i - 1; k >= 0; k--) {
            double cnt = (double)(i - k), d = r[k] - mean;
            mean += d / cnt;
            m2 += d * (r[k] - mean);
            double var = m2 / cnt;
            for (int j = 1; j <= n_tiers && j <= i; j++) {
                if (k < j - 1)
                    continue;
                double v = dp[k * K + j - 1] + var;
                if (v <= dp[i * K + j]) {
                    dp[i * K + j] = v;
                    cut[i * K + j] = k;
                }
            }
        }
    }
    for (int i = n, j = n_tiers; j > 0; j--) {
        int k = cut[i * K + j];
        for (int x = k; x < i; x++)
            tier[x] = j - 1;
        i = k;
    }
    free(dp);
    free(cut);
    return n_tiers;
}
