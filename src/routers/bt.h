// Bradley-Terry fits with ties and the tier partition of RouteLLM §2.2, shared by the SW-ranking
// router (per-query fit over tiers) and its trainer (global Elo over models).
#ifndef RL_SRC_ROUTERS_BT_H
#define RL_SRC_ROUTERS_BT_H

#include "rl/core.h"

#define RL_BT_SCALE 400.0
#define RL_BT_INIT  1000.0

// Maximum-likelihood Bradley-Terry over n players from cell sums: for the ordered pair (a, b),
// a != b, win[a*n + b] is the weight of rows "a beat b" and loss[a*n + b] of rows "a lost to b"
// in RouteLLM's logistic regression (X[a] = +ln 10, X[b] = -ln 10, no intercept, no penalty;
// a tie is one row of each). Writes beta (n) with sum zero, the solution that lbfgs started from
// zero converges to. Ratings are RL_BT_SCALE·beta + RL_BT_INIT. scratch holds
// rl__bt_scratch_size(n) doubles. Returns the Newton iterations used, or RL_EINVAL when a weight is
// negative or not finite, or so large that the Hessian overflows.
int rl__bt_fit(int n, const double *win, const double *loss, double *beta, double *scratch);
static inline int rl__bt_scratch_size(int n) {
    return 3 * n * n + 4 * n;
}

// Add one battle's rows to cell sums of n players: a decisive battle is two identical rows
// (RouteLLM duplicates every battle), a tie (or both-bad tie) one row of each label.
void rl__bt_add_rows(double *win, double *loss, int n, int a, int b, int outcome, double w);

// Partition ratings sorted in descending order into n_tiers contiguous groups minimising the
// sum of the groups' population variances (RouteLLM's compute_tiers dynamic programme, O(n²k)).
// tier[i] is the group of sorted position i, 0 for the best. n_tiers is clamped to n. Returns
// the number of tiers, or RL_ENOMEM.
int rl__bt_tiers(const double *sorted_desc, int n, int n_tiers, int *tier);

#endif
