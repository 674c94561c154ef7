// Routing among many models (rl/policy.h): the qualities of the shipped mf, sw_ranking and irt
// routers order the models as their pair scores do (a beats b by the pair score exactly when a's
// quality is higher), kinds that cannot rank models say so, and the policies pick the model the
// definitions give, ties and bad values included.
#include <math.h>
#include <stdlib.h>

#include "rl/policy.h"
#include "test.h"

// A unit vector of dim floats from a fixed generator: any embedding is a valid input.
static void unit_vector(float *v, int dim, unsigned seed) {
    double ss = 0;
    for (int i = 0; i < dim; i++) {
        seed = seed * 1103515245u + 12345u;
        v[i] = (float)((seed >> 8) & 0xffff) / 65536.0f - 0.5f;
        ss += (double)v[i] * v[i];
    }
    for (int i = 0; i < dim; i++)
        v[i] = (float)(v[i] / sqrt(ss));
}

TEST(policy_qualities_order_models_as_pairs_do) {
    static const char *const kinds[] = {"mf", "sw_ranking", "irt"};
    for (size_t k = 0; k < RL_COUNTOF(kinds); k++) {
        char err[RL_ERRBUF_SIZE];
        struct rl_router *r = rl_router_load(kinds[k], NULL, err);
        if (!r)
            TEST_FAIL_("%s: %s", kinds[k], err);
        ASSERT(rl_router_kind_ranks_models(rl_router_kind(r)));
        int n = (int)rl_router_n_models(r) < 12 ? (int)rl_router_n_models(r) : 12;
        ASSERT(n >= 3);
        int models[12];
        for (int i = 0; i < n; i++)
            models[i] = i;
        float *emb = malloc(rl_router_encoder_dim(r) * sizeof *emb);
        ASSERT_NOT_NULL(emb);
        const char *text = "Prove that there are infinitely many primes.";
        for (unsigned trial = 0; trial < 3; trial++) {
            unit_vector(emb, (int)rl_router_encoder_dim(r), 17 + trial);
            struct rl_prompt p = {text, strlen(text), emb};
            double q[12];
            int ref = (int)trial % n;
            ASSERT_OK(rl_router_qualities(r, models, (size_t)n, ref, &p, q));
            ASSERT_NEAR(q[ref], 0.5, 0);
            for (int a = 0; a < n; a++) {
                ASSERT(q[a] >= 0 && q[a] <= 1);
                for (int b = 0; b < n; b++) {
                    if (a == b || fabs(q[a] - q[b]) < 1e-9)
                        continue;
                    struct rl_router_pair pair = {a, b};
                    double p_ab;
                    ASSERT_OK(rl_router_score_prompt(r, &pair, &p, &p_ab));
                    if ((p_ab > 0.5) != (q[a] > q[b]))
                        TEST_FAIL_("%s: P(%d beats %d) = %.6f but qualities %.6f, %.6f", kinds[k],
                                   a, b, p_ab, q[a], q[b]);
                }
            }
            // An index out of range or a missing embedding is an error that leaves q alone.
            int bad[2] = {0, (int)rl_router_n_models(r)};
            q[0] = -1;
            ASSERT_EQ(rl_router_qualities(r, bad, 2, ref, &p, q), RL_EINVAL);
            struct rl_prompt no_emb = {text, strlen(text), NULL};
            ASSERT_EQ(rl_router_qualities(r, models, (size_t)n, ref, &no_emb, q), RL_EINVAL);
            ASSERT_EQ(q[0], -1);
        }
        free(emb);
        rl_router_free(r);
    }
    // A kind whose score ignores the pair cannot rank models.
    static const char *const pair_only[] = {"random", "length", "bert"};
    for (size_t k = 0; k < RL_COUNTOF(pair_only); k++) {
        char err[RL_ERRBUF_SIZE];
        struct rl_router *r = rl_router_load(pair_only[k], NULL, err);
        if (!r)
            TEST_FAIL_("%s: %s", pair_only[k], err);
        ASSERT(!rl_router_kind_ranks_models(rl_router_kind(r)));
        int models[2] = {0, 0};
        double q[2];
        struct rl_prompt p = {"x", 1, NULL};
        ASSERT_EQ(rl_router_qualities(r, models, 2, 0, &p, q), RL_EUNSUPPORTED);
        rl_router_free(r);
    }
    return 0;
}

TEST(policy_choose_follows_the_definitions) {
    // Three models: expensive and best, mid, cheap and worst.
    const double q[3] = {0.80, 0.76, 0.55}, cost[3] = {0.030, 0.004, 0.001};
    struct rl_policy cheapest = {RL_POLICY_CHEAPEST, 0.05};
    ASSERT_EQ(rl_policy_choose(&cheapest, q, cost, 3), 1); // 0.76 is within 0.05 of 0.80
    cheapest.param = 0.03;
    ASSERT_EQ(rl_policy_choose(&cheapest, q, cost, 3), 0);
    cheapest.param = 1;
    ASSERT_EQ(rl_policy_choose(&cheapest, q, cost, 3), 2);
    cheapest.param = 0;
    ASSERT_EQ(rl_policy_choose(&cheapest, q, cost, 3), 0);
    // Utility: q - λ·cost. λ = 0 takes the best; λ = 10 trades 0.04 of quality for 0.026 USD.
    struct rl_policy utility = {RL_POLICY_UTILITY, 0};
    ASSERT_EQ(rl_policy_choose(&utility, q, cost, 3), 0);
    utility.param = 10;
    ASSERT_EQ(rl_policy_choose(&utility, q, cost, 3), 1);
    utility.param = 1e4;
    ASSERT_EQ(rl_policy_choose(&utility, q, cost, 3), 2);
    // Ties: equal quality goes to the cheaper, equal everything to the lower index.
    const double tq[3] = {0.7, 0.7, 0.7}, tc[3] = {0.02, 0.01, 0.01};
    utility.param = 0;
    ASSERT_EQ(rl_policy_choose(&utility, tq, tc, 3), 1);
    cheapest.param = 0;
    ASSERT_EQ(rl_policy_choose(&cheapest, tq, tc, 3), 1);
    // Bad values.
    const double nan_q[2] = {0.5, NAN};
    ASSERT_EQ(rl_policy_choose(&utility, nan_q, cost, 2), RL_EINVAL);
    ASSERT_EQ(rl_policy_choose(&utility, q, cost, 0), RL_EINVAL);
    cheapest.param = 1.5;
    ASSERT_EQ(rl_policy_choose(&cheapest, q, cost, 3), RL_EINVAL);
    utility.param = -1;
    ASSERT_EQ(rl_policy_choose(&utility, q, cost, 3), RL_EINVAL);
    // Names and cost.
    enum rl_policy_kind kind;
    ASSERT_OK(rl_policy_kind_parse("utility", &kind));
    ASSERT_EQ(kind, RL_POLICY_UTILITY);
    ASSERT_STR_EQ(rl_policy_kind_name(RL_POLICY_CHEAPEST), "cheapest");
    ASSERT_EQ(rl_policy_kind_parse("pair", &kind), RL_EINVAL);
    ASSERT_NEAR(rl_policy_request_cost(10, 30, 1000, 200), 0.016, 1e-15);
    return 0;
}

// Calibration: the parameter found is the smallest whose average cost over the sample is within
// the target (just below it the average is over), for both policies; a target below the cheapest
// model's cost is out of reach.
TEST(policy_calibrate_meets_the_target_cost) {
    enum { N = 400, M = 3 };
    static double q[N * M], c[N * M];
    unsigned seed = 5;
    for (int i = 0; i < N; i++) {
        for (int k = 0; k < M; k++) {
            seed = seed * 1103515245u + 12345u;
            q[i * M + k] = 0.3 + 0.5 * (double)((seed >> 8) & 0xffff) / 65536.0 + 0.05 * k;
            c[i * M + k] = (k == 0 ? 0.0001 : k == 1 ? 0.001 : 0.01) * (1 + (i % 7));
        }
    }
    static const enum rl_policy_kind kinds[] = {RL_POLICY_CHEAPEST, RL_POLICY_UTILITY};
    for (size_t k = 0; k < RL_COUNTOF(kinds); k++) {
        struct rl_policy best = {kinds[k], 0};
        double top, bottom;
        ASSERT_OK(rl_policy_sample_cost(&best, q, c, N, M, &top, NULL));
        for (double frac = 0.2; frac < 0.95; frac += 0.25) {
            double target = frac * top, param;
            ASSERT_OK(rl_policy_calibrate(kinds[k], q, c, N, M, target, &param));
            struct rl_policy at = {kinds[k], param}, below = {kinds[k], param * (1 - 1e-6)};
            double avg;
            size_t counts[M];
            ASSERT_OK(rl_policy_sample_cost(&at, q, c, N, M, &avg, counts));
            ASSERT(avg <= target);
            ASSERT_EQ(counts[0] + counts[1] + counts[2], N);
            ASSERT_OK(rl_policy_sample_cost(&below, q, c, N, M, &bottom, NULL));
            if (!(bottom > target))
                TEST_FAIL_("%s at %.3g of the cost: %g is not the smallest parameter",
                           rl_policy_kind_name(kinds[k]), frac, param);
        }
        double param;
        ASSERT_EQ(rl_policy_calibrate(kinds[k], q, c, N, M, 0.00005, &param), RL_ETOOBIG);
        ASSERT_OK(rl_policy_calibrate(kinds[k], q, c, N, M, 1.0, &param));
        ASSERT_NEAR(param, 0, 0); // the best model for every prompt costs less than 1 USD
        ASSERT_EQ(rl_policy_calibrate(kinds[k], q, c, N, M, NAN, &param), RL_EINVAL);
    }
    return 0;
}

// The share of prompts that go to a model or a dearer one never rises with the parameter, and
// calibrating it gives the smallest parameter that keeps it within the cap: checked by counting
// the picks directly, for the dearest and for the middle model.
TEST(policy_calibrate_caps_a_model_share) {
    enum { N = 400, M = 3 };
    static double q[N * M], c[N * M];
    unsigned seed = 9;
    for (int i = 0; i < N; i++)
        for (int k = 0; k < M; k++) {
            seed = seed * 1103515245u + 12345u;
            q[i * M + k] = 0.3 + 0.5 * (double)((seed >> 8) & 0xffff) / 65536.0 + 0.05 * k;
            c[i * M + k] = (k == 0 ? 0.0001 : k == 1 ? 0.001 : 0.01) * (1 + (i % 7));
        }
    static const enum rl_policy_kind kinds[] = {RL_POLICY_CHEAPEST, RL_POLICY_UTILITY};
    for (size_t k = 0; k < RL_COUNTOF(kinds); k++)
        for (size_t model = 1; model < M; model++) {
            double cap = 0.25, param, share;
            ASSERT_OK(rl_policy_calibrate_share(kinds[k], q, c, N, M, model, cap, &param));
            struct rl_policy at = {kinds[k], param}, below = {kinds[k], param * (1 - 1e-6)};
            // Count the prompts sent to `model` or a dearer candidate by hand.
            size_t dear = 0;
            for (int i = 0; i < N; i++) {
                int pick = rl_policy_choose(&at, &q[i * M], &c[i * M], M);
                ASSERT(pick >= 0);
                dear += c[i * M + pick] >= c[i * M + model];
            }
            ASSERT_OK(rl_policy_sample_share(&at, q, c, N, M, model, &share));
            ASSERT_NEAR(share, (double)dear / N, 0);
            ASSERT(share <= cap);
            ASSERT_OK(rl_policy_sample_share(&below, q, c, N, M, model, &share));
            if (param > 0 && !(share > cap))
                TEST_FAIL_("%s, model %zu: %g is not the smallest parameter",
                           rl_policy_kind_name(kinds[k]), model, param);
        }
    double param;
    ASSERT_EQ(rl_policy_calibrate_share(RL_POLICY_CHEAPEST, q, c, N, M, 3, 0.5, &param), RL_EINVAL);
    ASSERT_EQ(rl_policy_calibrate_share(RL_POLICY_CHEAPEST, q, c, N, M, 2, 1.5, &param), RL_EINVAL);
    // The cheapest model or dearer: every prompt, whatever the parameter.
    ASSERT_EQ(rl_policy_calibrate_share(RL_POLICY_UTILITY, q, c, N, M, 0, 0.5, &param), RL_ETOOBIG);
    return 0;
}
