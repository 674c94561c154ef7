// The random router under the full protocol on the shipped benchmarks: APGR 0.50 ± 0.03 and
// CPT(50%) 50% ± 5 points (the paper's Tables 1-3 report 0.500 / 49-50%), averaged over the
// default ten seeds as `routellm eval` does.
#include <stdlib.h>

#include "rl/eval.h"
#include "rl/router.h"
#include "test.h"

TEST(eval_random_router_baseline) {
    static const char *const names[] = {"mt-bench", "mmlu", "gsm8k"};
    struct rl_eval_prices prices = {RL_EVAL_PRICE_STRONG, RL_EVAL_PRICE_WEAK};
    enum { ITERS = 10, K = 10 };
    for (size_t bi = 0; bi < RL_COUNTOF(names); bi++) {
        char err[RL_ERRBUF_SIZE];
        struct rl_bench *b = rl_bench_load(names[bi], RL_DATA_DIR "/data/evals", err);
        if (!b)
            TEST_FAIL_("%s", err);
        double *scores = malloc(b->n * sizeof *scores);
        ASSERT_NOT_NULL(scores);
        struct rl_eval_point runs[ITERS * (K + 1)], mean[K + 1];
        for (int it = 0; it < ITERS; it++) {
            struct rl_router *r = rl_router_random_new((uint64_t)it);
            ASSERT_NOT_NULL(r);
            ASSERT_OK(rl_eval_score(r, NULL, NULL, NULL, (const char *const *)b->prompts, b->n,
                                    scores, NULL, NULL, err));
            rl_router_free(r);
            ASSERT_OK(rl_eval_curve(b, scores, K, &prices, runs + it * (K + 1)));
        }
        rl_eval_curve_mean(runs, ITERS, K, mean);
        struct rl_eval_metrics m;
        ASSERT_OK(rl_eval_metrics(mean, K + 1, rl_bench_quality(b, false),
                                  rl_bench_quality(b, true), RL_EVAL_PRICE_STRONG, &m));
        printf("    %-9s random: APGR %.3f, CPT(50%%) %.2f%%, CPT(80%%) %.2f%%\n", names[bi],
               m.apgr, m.cpt50, m.cpt80);
        ASSERT_NEAR(m.apgr, 0.50, 0.03);
        ASSERT_NEAR(m.cpt50, 50, 5);
        // The share of strong calls at the deciles does not depend on the draws.
        ASSERT_NEAR(mean[0].strong_pct, 0, 0);
        ASSERT_NEAR(mean[K].strong_pct, 100, 0);
        ASSERT_NEAR(mean[5].strong_pct, 50, 100.0 / (double)b->n);
        free(scores);
        rl_bench_free(b);
    }
    return 0;
}
