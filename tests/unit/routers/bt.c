// Bradley-Terry fits against scikit-learn (fixture from tools/ref_bt.py), the tier programme
// against brute force, and the SW-ranking per-query fit against the same reference.
#include <jansson.h>
#include <math.h>
#include <stdlib.h>

#include "core/core.h"
#include "routers/bt.h"
#include "routers/swr.h"
#include "test.h"

static json_t *fixture(void) {
    json_error_t err;
    return json_load_file(RL_TEST_DATA "/routers/bt_fixture.json", 0, &err);
}

// Found by fuzz/router_file.c (a sw_ranking file whose similarity weights came out near 1e-292):
// as Newton drives the one-sided fit outwards the Hessian sinks to subnormals, c = scale / n
// rounds to 0, the ridge 1e-10·c stays 0 and the fit looped forever. Weights near the top of the
// range overflow the Hessian, which no ridge repairs. Both now end: a fit, and RL_EINVAL.
TEST(bt_fit_extreme_weights_end) {
    double beta[2], scratch[3 * 2 * 2 + 4 * 2];
    double win[4] = {0}, loss[4] = {0, 0, 1.5e-292, 0};
    ASSERT(rl__bt_fit(2, win, loss, beta, scratch) > 0);
    ASSERT(isfinite(beta[0]) && isfinite(beta[1]));
    double big_win[4] = {0, 1e308, 0, 0}, big_loss[4] = {0, 1e308, 0, 0};
    ASSERT_EQ(rl__bt_fit(2, big_win, big_loss, beta, scratch), RL_EINVAL);
    return 0;
}

TEST(bt_fit_matches_sklearn) {
    json_t *fx = fixture();
    ASSERT_NOT_NULL(fx);
    json_t *elo = json_object_get(fx, "elo");
    int n = (int)json_integer_value(json_object_get(elo, "n"));
    double *win = calloc((size_t)n * n, sizeof *win), *loss = calloc((size_t)n * n, sizeof *loss);
    double beta[16], scratch[3 * 16 * 16 + 4 * 16];
    size_t i;
    json_t *row;
    json_array_foreach(json_object_get(elo, "battles"), i, row) {
        rl__bt_add_rows(win, loss, n, (int)json_integer_value(json_array_get(row, 0)),
                        (int)json_integer_value(json_array_get(row, 1)),
                        (int)json_integer_value(json_array_get(row, 2)),
                        json_number_value(json_array_get(row, 3)));
    }
    ASSERT(rl__bt_fit(n, win, loss, beta, scratch) > 0);
    double maxdiff = 0;
    for (int k = 0; k < n; k++) {
        double want = json_number_value(json_array_get(json_object_get(elo, "beta"), (size_t)k));
        maxdiff = fmax(maxdiff, fabs(beta[k] - want));
    }
    printf("  maxdiff %.3g\n", maxdiff);
    ASSERT(maxdiff < 1e-4);
    win[0] = -1;
    ASSERT_EQ(rl__bt_fit(n, win, loss, beta, scratch), RL_EINVAL);
    free(win);
    free(loss);
    json_decref(fx);
    return 0;
}

// A model nobody played and a model that only ever won: the fit stays finite and ordered.
TEST(bt_fit_degenerate) {
    enum { N = 4 };
    double win[N * N] = {0}, loss[N * N] = {0}, beta[N], scratch[3 * N * N + 4 * N];
    rl__bt_add_rows(win, loss, N, 0, 1, 0, 5); // model 0 beats 1, always
    rl__bt_add_rows(win, loss, N, 1, 2, 0, 3);
    rl__bt_add_rows(win, loss, N, 2, 1, 0, 1);
    ASSERT(rl__bt_fit(N, win, loss, beta, scratch) > 0);
    for (int i = 0; i < N; i++)
        ASSERT(isfinite(beta[i]));
    ASSERT(beta[0] > beta[1] && beta[1] > beta[2]);
    return 0;
}

// Sum of population variances of the groups of a partition given by its group sizes.
static double partition_cost(const double *r, const int *sizes, int k) {
    double cost = 0;
    int at = 0;
    for (int g = 0; g < k; g++) {
        double mean = 0, var = 0;
        for (int i = 0; i < sizes[g]; i++)
            mean += r[at + i];
        mean /= sizes[g];
        for (int i = 0; i < sizes[g]; i++)
            var += (r[at + i] - mean) * (r[at + i] - mean);
        cost += var / sizes[g];
        at += sizes[g];
    }
    return cost;
}

// Best cost over every composition of n into k positive parts.
static double brute(const double *r, int n, int k, int *sizes, int g, int left) {
    if (g == k - 1) {
        sizes[g] = left;
        return partition_cost(r, sizes, k);
    }
    double best = INFINITY;
    for (int s = 1; s <= left - (k - 1 - g); s++) {
        sizes[g] = s;
        best = fmin(best, brute(r, n, k, sizes, g + 1, left - s));
    }
    return best;
}

TEST(bt_tiers_brute_force) {
    srand(7);
    for (int trial = 0; trial < 200; trial++) {
        int n = 1 + rand() % 9, k = 1 + rand() % n;
        double r[16];
        for (int i = 0; i < n; i++)
            r[i] = 900 + rand() % 400 + (rand() % 1000) / 1000.0;
        // Descending, as the router sorts them.
        for (int i = 0; i < n; i++)
            for (int j = i + 1; j < n; j++)
                if (r[j] > r[i]) {
                    double t = r[i];
                    r[i] = r[j];
                    r[j] = t;
                }
        int tier[16], sizes[16] = {0};
        ASSERT_EQ(rl__bt_tiers(r, n, k, tier), k);
        ASSERT_EQ(tier[0], 0);
        ASSERT_EQ(tier[n - 1], k - 1);
        for (int i = 1; i < n; i++)
            ASSERT(tier[i] == tier[i - 1] || tier[i] == tier[i - 1] + 1);
        for (int i = 0; i < n; i++)
            sizes[tier[i]]++;
        int tmp[16];
        double want = brute(r, n, k, tmp, 0, n);
        ASSERT_NEAR(partition_cost(r, sizes, k), want, 1e-9 * (1 + want));
    }
    int tier[3];
    double r[3] = {3, 2, 1};
    ASSERT_EQ(rl__bt_tiers(r, 3, 10, tier), 3); // clamped to n
    return 0;
}

TEST(swr_query_fit_matches_sklearn) {
    json_t *fx = fixture();
    ASSERT_NOT_NULL(fx);
    json_t *sw = json_object_get(fx, "swr");
    const int T = (int)json_integer_value(json_object_get(sw, "n_tiers"));
    const int D = (int)json_integer_value(json_object_get(sw, "dim"));
    json_t *emb = json_object_get(sw, "emb"), *battles = json_object_get(sw, "battles");
    const int N = (int)json_array_size(emb);
    uint16_t *e16 = malloc((size_t)N * D * sizeof *e16);
    for (int i = 0; i < N; i++)
        for (int d = 0; d < D; d++)
            e16[i * D + d] = rl__f32_to_f16((float)json_number_value(
                json_array_get(json_array_get(emb, (size_t)i), (size_t)d)));
    // Dense (N, T²) cell sums, then CSR, as the trainer builds them.
    double *cw = calloc((size_t)N * T * T * 2, sizeof *cw);
    size_t i;
    json_t *b;
    json_array_foreach(battles, i, b) {
        int p = (int)json_integer_value(json_array_get(b, 0));
        double *row = cw + (size_t)p * T * T * 2;
        rl__bt_add_rows(row, row + T * T, T, (int)json_integer_value(json_array_get(b, 1)),
                        (int)json_integer_value(json_array_get(b, 2)),
                        (int)json_integer_value(json_array_get(b, 3)),
                        json_number_value(json_array_get(b, 4)));
    }
    int32_t *off = malloc(((size_t)N + 1) * sizeof *off);
    uint8_t *cell = malloc((size_t)N * T * T);
    float *cwt = malloc((size_t)N * T * T * 2 * sizeof *cwt);
    int nnz = 0;
    for (int p = 0; p < N; p++) {
        off[p] = nnz;
        for (int k = 0; k < T * T; k++) {
            double w1 = cw[(size_t)p * T * T * 2 + k], w0 = cw[(size_t)p * T * T * 2 + T * T + k];
            if (w1 == 0 && w0 == 0)
                continue;
            cell[nnz] = (uint8_t)k;
            cwt[2 * nnz] = (float)w1;
            cwt[2 * nnz + 1] = (float)w0;
            nnz++;
        }
    }
    off[N] = nnz;
    int32_t tiers[4] = {0, 1, 2, 3};
    struct rl_swr s = {.n_prompts = N,
                       .dim = D,
                       .n_tiers = T,
                       .n_models = T,
                       .gamma = 10,
                       .emb16 = e16,
                       .model_tier = tiers,
                       .offsets = off,
                       .cell = cell,
                       .cell_weight = cwt};
    float sims[64];
    double maxdiff = 0;
    json_t *q;
    json_array_foreach(json_object_get(sw, "queries"), i, q) {
        float e[64];
        for (int d = 0; d < D; d++)
            e[d] = (float)json_number_value(json_array_get(q, (size_t)d));
        for (int simd = 0; simd <= (rl__swr_simd_supported() ? 1 : 0); simd++) {
            double beta[4];
            s.simd = simd;
            ASSERT_OK(rl__swr_tier_beta(&s, e, sims, beta));
            for (int t = 0; t < T; t++) {
                double want = json_number_value(
                    json_array_get(json_array_get(json_object_get(sw, "beta"), i), (size_t)t));
                maxdiff = fmax(maxdiff, fabs(beta[t] - want));
            }
            double p = rl__swr_p(&s, beta, 0, 2);
            ASSERT_NEAR(p, 1 / (1 + pow(10, -(beta[0] - beta[2]))), 1e-12);
            ASSERT_NEAR(rl__swr_p(&s, beta, 1, 1), 0.5, 0);
        }
    }
    printf("  maxdiff %.3g\n", maxdiff);
    // The embeddings are fp16 on both sides and the cell weights fp32 here.
    ASSERT(maxdiff < 1e-4);
    free(e16);
    free(cw);
    free(off);
    free(cell);
    free(cwt);
    json_decref(fx);
    return 0;
}
