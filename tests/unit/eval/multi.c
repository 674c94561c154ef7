// Evaluation among many models: the table loader (CSV and JSONL, costs, missing cells, errors),
// policy curves against hand-worked choices, the oracle, the hull and AIQ on points whose
// answers are worked out by hand.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rl/eval.h"
#include "rl/policy.h"
#include "test.h"

// Write text to a temporary file whose name ends in suffix; path holds its name.
static int temp_file(char *path, size_t size, const char *suffix, const char *text) {
    snprintf(path, size, "/tmp/rl_multi_XXXXXX%s", suffix);
    int fd = mkstemps(path, (int)strlen(suffix));
    if (fd < 0)
        return RL_EIO;
    size_t n = strlen(text);
    bool ok = write(fd, text, n) == (ssize_t)n;
    close(fd);
    return ok ? RL_OK : RL_EIO;
}

TEST(multi_hull_and_aiq_by_hand) {
    struct rl_multi_point pts[] = {
        {0, 5, 0.9}, {0, 2, 0.4}, {0, 4, 0.85}, {0, 1, 0.5}, {0, 3, 0.8},
    };
    size_t n = rl_multi_hull(pts, RL_COUNTOF(pts));
    // (2, 0.4) is dearer and worse than (1, 0.5); (4, 0.85) lies on the segment (3,.8)-(5,.9).
    ASSERT_EQ(n, 3);
    ASSERT_NEAR(pts[0].cost, 1, 0);
    ASSERT_NEAR(pts[1].cost, 3, 0);
    ASSERT_NEAR(pts[2].cost, 5, 0);
    // [1, 3]: (0.5 + 0.8) / 2 × 2 = 1.3; [3, 5]: (0.8 + 0.9) / 2 × 2 = 1.7.
    ASSERT_NEAR(rl_multi_aiq(pts, n, 1, 5), 3.0 / 4, 1e-12);
    // Below the cheapest point the hull gives 0, after the dearest it stays at 0.9.
    ASSERT_NEAR(rl_multi_aiq(pts, n, 0, 6), 3.9 / 6, 1e-12);
    ASSERT_NEAR(rl_multi_aiq(pts, n, 2, 4), (0.65 + 0.8) / 2 * 1 / 2 + (0.8 + 0.85) / 2 / 2, 1e-12);
    ASSERT_NEAR(rl_multi_aiq(pts, n, 3, 3), 0.8, 1e-12);
    ASSERT_NEAR(rl_multi_cost_for(pts, n, 0.8), 3, 1e-12);
    ASSERT_NEAR(rl_multi_cost_for(pts, n, 0.65), 2, 1e-12);
    ASSERT_NEAR(rl_multi_cost_for(pts, n, 0.4), 1, 1e-12);
    ASSERT(isnan(rl_multi_cost_for(pts, n, 0.95)));
    ASSERT(isnan(rl_multi_aiq(pts, 0, 0, 1)));
    return 0;
}

// Three models, four prompts: quality and cost columns; a row with an empty cell is left out.
static const char table_csv[] = "prompt,big,mid,small,big|cost,mid|cost,small|cost\n"
                                "p1,1,1,0,10,2,1\n"
                                "p2,1,0,0,10,2,1\n"
                                "p3,1,1,1,10,2,1\n"
                                "p4,0,1,0,10,2,1\n"
                                "p5,1,,1,10,2,1\n";

TEST(multi_table_curve_and_oracle) {
    char path[64];
    ASSERT_OK(temp_file(path, sizeof path, ".csv", table_csv));
    static const char *const models[] = {"big", "mid", "small"};
    char err[RL_ERRBUF_SIZE] = "";
    struct rl_multi_bench *b = rl_multi_bench_load_table(path, NULL, models, 3, err);
    if (!b)
        TEST_FAIL_("%s", err);
    ASSERT_EQ(b->n, 4);
    ASSERT_EQ(b->n_total, 5);
    ASSERT_EQ(b->n_missing, 1);
    ASSERT_NOT_NULL(b->cost);
    ASSERT_NEAR(b->quality[1 * 3 + 0], 1, 0); // p2, big
    ASSERT_NEAR(b->cost[3 * 3 + 1], 2, 0);    // p4, mid
    // A router that knows the answers: tolerance 0 picks the best, cheapest on a tie, which is
    // the oracle: p1 mid, p2 big, p3 small, p4 mid: quality 1, cost (2 + 10 + 1 + 2) / 4.
    double params[] = {0, 1};
    struct rl_multi_point pts[2], oracle;
    ASSERT_OK(rl_multi_curve(b, b->quality, b->cost, b->cost, RL_POLICY_CHEAPEST, params, 2, pts));
    rl_multi_oracle(b, b->cost, &oracle);
    ASSERT_NEAR(pts[0].quality, 1, 1e-12);
    ASSERT_NEAR(pts[0].cost, 15.0 / 4, 1e-12);
    ASSERT_NEAR(oracle.quality, 1, 1e-12);
    ASSERT_NEAR(oracle.cost, 15.0 / 4, 1e-12);
    // Tolerance 1: always the cheapest, small: quality 1/4, cost 1.
    ASSERT_NEAR(pts[1].quality, 0.25, 1e-12);
    ASSERT_NEAR(pts[1].cost, 1, 1e-12);
    // Utility with a large λ is the cheapest too; λ 0 the best quality.
    double lambdas[] = {0, 1e6};
    ASSERT_OK(rl_multi_curve(b, b->quality, b->cost, b->cost, RL_POLICY_UTILITY, lambdas, 2, pts));
    ASSERT_NEAR(pts[0].quality, 1, 1e-12);
    ASSERT_NEAR(pts[1].cost, 1, 1e-12);
    double bad = 2;
    ASSERT_EQ(rl_multi_curve(b, b->quality, b->cost, b->cost, RL_POLICY_CHEAPEST, &bad, 1, pts),
              RL_EINVAL);
    rl_multi_bench_free(b);
    unlink(path);
    return 0;
}

TEST(multi_table_jsonl_and_errors) {
    char path[64];
    ASSERT_OK(temp_file(path, sizeof path, ".jsonl",
                        "{\"prompt\":\"a\",\"x\":true,\"y\":0.5,\"z\":null}\n"
                        "{\"prompt\":\"b\",\"x\":false,\"y\":0.25,\"z\":3}\n"));
    static const char *const xy[] = {"x", "y"}, *const xyz[] = {"x", "y", "z"};
    char err[RL_ERRBUF_SIZE] = "";
    struct rl_multi_bench *b = rl_multi_bench_load_table(path, NULL, xy, 2, err);
    ASSERT_NOT_NULL(b);
    ASSERT_EQ(b->n, 2);
    ASSERT_NULL(b->cost);
    ASSERT_NEAR(b->quality[0], 100, 0); // true counts as 100, like the pair tables
    rl_multi_bench_free(b);
    b = rl_multi_bench_load_table(path, NULL, xyz, 3, err);
    ASSERT_NOT_NULL(b);
    ASSERT_EQ(b->n, 1);
    ASSERT_EQ(b->n_missing, 1);
    rl_multi_bench_free(b);
    unlink(path);
    struct {
        const char *suffix, *text, *want;
        size_t m;
    } cases[] = {
        {".csv", "prompt,x\np,1\n", "no column \"y\"", 2},
        {".csv", "prompt,x,y\np,1,high\n", ":2: y value \"high\" is not a number", 2},
        {".csv", "prompt,x,y,x|cost,y|cost\np,1,0,-1,2\n", ":2: the cost of x", 2},
        {".csv", "prompt,x,y\np,1\n", ":2: 2 fields", 2},
        {".csv", "prompt,x,y\np,,1\n", "no rows with every model's quality", 2},
        {".jsonl", "{\"prompt\":\"p\",\"x\":1}\n", ":1: \"y\" is missing", 2},
        {".jsonl", "{\"prompt\":\"p\",\"x\":1,\"y\":\"1\"}\n", "neither a number", 2},
        {".csv", "prompt,x,y\n", "no rows", 1},
    };
    for (size_t i = 0; i < RL_COUNTOF(cases); i++) {
        ASSERT_OK(temp_file(path, sizeof path, cases[i].suffix, cases[i].text));
        err[0] = '\0';
        b = rl_multi_bench_load_table(path, NULL, xy, cases[i].m, err);
        if (b || !strstr(err, cases[i].m == 1 ? "between 2 and" : cases[i].want))
            TEST_FAIL_("case %zu: %s", i, err);
        unlink(path);
    }
    static const char *const twice[] = {"x", "x"};
    ASSERT_NULL(rl_multi_bench_load_table(path, NULL, twice, 2, err));
    ASSERT_STR_CONTAINS(err, "given twice");
    return 0;
}
