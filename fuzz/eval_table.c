// Fuzz target: the evaluation harness's readers of user files: rl_bench_load_table (`eval
// --benchmark table:FILE`, CSV or JSONL) and rl_eval_scores_read (`eval --scores N=FILE`). The
// first input byte picks the reader and its options: bit 0 the table's kind (.csv or .jsonl),
// bit 1 cost columns, bit 2 a named prompt column, bit 3 the score-file reader instead (looked up
// against a fixed three-prompt benchmark); without bit 1 the table's own "<model>|cost" columns
// are found. A benchmark it loads is walked in full, and a fixed router's curve and metrics are
// computed on it: defined exactly when the pair is ordered, and never a crash.
#include <math.h>

#include "fuzz.h"
#include "rl/eval.h"

static void metrics(const struct rl_bench *b) {
    double *scores = malloc(b->n * sizeof *scores);
    struct rl_eval_point pts[4];
    struct rl_eval_prices prices = {1, 0.1};
    struct rl_eval_metrics m;
    for (size_t i = 0; scores && i < b->n; i++)
        scores[i] = (double)(i % 7) / 7;
    if (scores && rl_eval_curve(b, scores, 3, &prices, pts) == RL_OK) {
        if (rl_eval_bench_metrics(b, pts, 4, &prices, &m) != RL_OK ||
            m.pgr_defined != rl_bench_pair_ordered(b) || (!m.pgr_defined && !isnan(m.apgr)))
            abort();
        fuzz_sink ^= (uint8_t)m.pgr_defined;
    }
    free(scores);
}

static void walk(const struct rl_bench *b) {
    uint8_t sum = (uint8_t)strlen(b->name) ^ (uint8_t)strlen(b->strong) ^ (uint8_t)strlen(b->weak);
    for (size_t i = 0; i < b->n; i++) {
        sum ^= (uint8_t)strlen(b->prompts[i]);
        sum ^= (uint8_t)(b->q_strong[i] > b->q_weak[i]);
        if (b->c_strong)
            sum ^= (uint8_t)(b->c_strong[i] > b->c_weak[i]);
    }
    if (b->c_strong_col)
        sum ^= (uint8_t)strlen(b->c_strong_col) ^ (uint8_t)strlen(b->c_weak_col);
    fuzz_sink = sum;
    metrics(b);
}

// The benchmark a score file is matched against: a table of the three prompts the seeds score.
static struct rl_bench *scored_bench(void) {
    static const char table[] = "prompt,s,w\n"
                                "What is 2 + 2?,1,0\n"
                                "Name a prime number.,1,1\n"
                                "\"Say \"\"hi\"\".\",0,1\n";
    char path[160], err[RL_ERRBUF_SIZE];
    snprintf(path, sizeof path, "%s", fuzz_file((const uint8_t *)table, sizeof table - 1, ".csv"));
    struct rl_bench_table_params p = {.strong = "s", .weak = "w"};
    struct rl_bench *b = rl_bench_load_table(path, &p, err);
    if (!b)
        abort();
    return b;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    uint8_t mode = data[0];
    data++, size--;
    char err[RL_ERRBUF_SIZE];
    if (mode & 8) {
        struct rl_bench *b = scored_bench();
        double scores[3];
        if (rl_eval_scores_read(fuzz_file(data, size, ".scores.jsonl"), b, scores, err) == RL_OK)
            fuzz_sink ^= (uint8_t)(scores[0] + scores[1] + scores[2] > 0);
        rl_bench_free(b);
        return 0;
    }
    struct rl_bench_table_params p = {
        .prompt = mode & 4 ? "question" : NULL,
        .strong = "gpt-4",
        .weak = "mixtral",
        .cost_strong = mode & 2 ? "cost_gpt-4" : NULL,
        .cost_weak = mode & 2 ? "cost_mixtral" : NULL,
    };
    struct rl_bench *b =
        rl_bench_load_table(fuzz_file(data, size, mode & 1 ? ".jsonl" : ".csv"), &p, err);
    if (b)
        walk(b);
    rl_bench_free(b);
    return 0;
}
