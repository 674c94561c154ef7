// Benchmark loaders: the hand-written miniatures in tests/data/eval/mini (RouteLLM's exact file
// formats), user tables, malformed input (each error names the file and line), the score cache
// and decontamination by embedding similarity.
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rl/eval.h"
#include "test.h"

#define MINI RL_TEST_DATA "/eval/mini"

// ----------------------------------------------------------------------------
// Scratch folder for malformed inputs

struct scratch {
    char dir[64];
    char paths[32][256];
    int n;
};

static int scratch_init(struct scratch *s) {
    snprintf(s->dir, sizeof s->dir, "/tmp/rl_eval_test_XXXXXX");
    s->n = 0;
    return mkdtemp(s->dir) ? 0 : 1;
}

// Write content to <dir>/<rel> (one level of subfolder is created) and return its path.
static const char *scratch_file(struct scratch *s, const char *rel, const char *content) {
    char *path = s->paths[s->n++], full[256];
    snprintf(full, sizeof full, "%s/%s", s->dir, rel);
    memcpy(path, full, sizeof full);
    char *slash = strrchr(path, '/');
    *slash = '\0';
    mkdir(path, 0700);
    *slash = '/';
    FILE *f = fopen(path, "w");
    if (!f)
        return path;
    fputs(content, f);
    fclose(f);
    return path;
}

static void scratch_free(struct scratch *s) {
    for (int i = s->n - 1; i >= 0; i--) {
        remove(s->paths[i]);
        char *slash = strrchr(s->paths[i], '/');
        *slash = '\0';
        if (strcmp(s->paths[i], s->dir) != 0)
            rmdir(s->paths[i]);
    }
    rmdir(s->dir);
}

// ----------------------------------------------------------------------------
// The built-in formats

TEST(eval_bench_mt_bench_mini) {
    char err[RL_ERRBUF_SIZE];
    struct rl_bench *b = rl_bench_load("mt-bench", MINI, err);
    ASSERT_NOT_NULL(b);
    // Question 81 goes: its second turn is on the contamination list.
    ASSERT_EQ(b->n, 2);
    ASSERT_EQ(b->n_total, 3);
    ASSERT_EQ(b->n_dropped, 1);
    ASSERT_STR_EQ(b->prompts[0], "What is 17 * 23?");
    ASSERT_NEAR(b->q_strong[0], 10, 0);
    ASSERT_NEAR(b->q_weak[0], 3, 0);
    ASSERT_STR_EQ(b->prompts[1], "Reverse a linked list in C.");
    ASSERT_NEAR(b->q_strong[1], 9, 0);
    ASSERT_NEAR(b->q_weak[1], 8.5, 0);
    ASSERT_NEAR(rl_bench_quality(b, true), 9.5, 1e-12);
    ASSERT_NEAR(rl_bench_quality(b, false), 5.75, 1e-12);
    ASSERT_STR_EQ(b->strong, "gpt-4-1106-preview");
    rl_bench_free(b);
    return 0;
}

TEST(eval_bench_mmlu_gsm8k_mini) {
    char err[RL_ERRBUF_SIZE];
    struct rl_bench *b = rl_bench_load("mmlu", MINI, err);
    ASSERT_NOT_NULL(b);
    ASSERT_EQ(b->n, 3);
    ASSERT_EQ(b->n_total, 4);
    ASSERT_EQ(b->n_dropped, 1);
    // Subjects in name order: a_subject, then b_subject.
    ASSERT_STR_EQ(b->prompts[0], "What is 2+2?\nA. 3\nB. 4\nAnswer:");
    ASSERT_NEAR(b->q_strong[0], 0, 0);
    ASSERT_NEAR(b->q_weak[0], 100, 0);
    ASSERT_STR_CONTAINS(b->prompts[2], "A \"quoted\" word, and a comma\nA. yes");
    ASSERT_NEAR(rl_bench_quality(b, true), 200.0 / 3, 1e-12);
    rl_bench_free(b);

    b = rl_bench_load("gsm8k", MINI, err);
    ASSERT_NOT_NULL(b);
    ASSERT_EQ(b->n, 2);
    ASSERT_EQ(b->n_dropped, 0);
    ASSERT_STR_EQ(b->prompts[1], "A train goes 60 km/h for 2 hours. How far?");
    ASSERT_NEAR(b->q_weak[1], 0, 0);
    ASSERT_NEAR(b->q_strong[1], 100, 0);
    rl_bench_free(b);
    return 0;
}

// The shipped data: the counts of ROUTELLM.md §1.6.
TEST(eval_bench_shipped_counts) {
    static const struct {
        const char *name;
        size_t n, total;
        double strong, weak;
    } want[] = {{"mt-bench", 72, 80, 9.2118, 8.2812},
                {"mmlu", 14037, 14042, 80.587, 68.091},
                {"gsm8k", 1307, 1319, 85.769, 63.734}};
    for (size_t i = 0; i < RL_COUNTOF(want); i++) {
        char err[RL_ERRBUF_SIZE];
        struct rl_bench *b = rl_bench_load(want[i].name, RL_DATA_DIR "/data/evals", err);
        if (!b)
            TEST_FAIL_("%s", err);
        ASSERT_EQ(b->n, want[i].n);
        ASSERT_EQ(b->n_total, want[i].total);
        ASSERT_EQ(b->n_dropped, want[i].total - want[i].n);
        ASSERT_NEAR(rl_bench_quality(b, true), want[i].strong, 1e-3);
        ASSERT_NEAR(rl_bench_quality(b, false), want[i].weak, 1e-3);
        rl_bench_free(b);
    }
    return 0;
}

TEST(eval_bench_tables) {
    char err[RL_ERRBUF_SIZE];
    struct rl_bench_table_params p = {"question", "big", "small", "big_cost", "small_cost"};
    struct rl_bench *b = rl_bench_load_table(RL_TEST_DATA "/eval/table.csv", &p, err);
    ASSERT_NOT_NULL(b);
    ASSERT_EQ(b->n, 4);
    ASSERT_STR_EQ(b->prompts[2], "third, with a comma");
    ASSERT_NEAR(b->q_strong[1], 0.7, 0);
    ASSERT_NEAR(b->q_weak[1], 0.8, 0);
    ASSERT_NOT_NULL(b->c_strong);
    ASSERT_NEAR(b->c_weak[3], 0.001, 0);
    struct rl_eval_prices prices = {99, 99};
    ASSERT_NEAR(rl_bench_cost(b, &prices, true), 0.02, 1e-12);
    // Costs come from the columns: always-weak at the last edge, always-strong at the first.
    double scores[4] = {0.1, 0.2, 0.3, 0.4};
    struct rl_eval_point pts[3];
    ASSERT_OK(rl_eval_curve(b, scores, 2, &prices, pts));
    ASSERT_NEAR(pts[0].cost, 0.00125, 1e-12);
    ASSERT_NEAR(pts[2].cost, 0.02, 1e-12);
    bool keep[4] = {true, false, true, false};
    struct rl_bench *sub = rl_bench_new_subset(b, keep);
    ASSERT_NOT_NULL(sub);
    ASSERT_EQ(sub->n, 2);
    ASSERT_STR_EQ(sub->prompts[1], "third, with a comma");
    ASSERT_NEAR(sub->c_strong[1], 0.01, 0);
    rl_bench_free(sub);
    rl_bench_free(b);

    struct rl_bench_table_params q = {NULL, "big", "small", NULL, NULL};
    b = rl_bench_load_table(RL_TEST_DATA "/eval/table.jsonl", &q, err);
    ASSERT_NOT_NULL(b);
    ASSERT_EQ(b->n, 3);
    ASSERT_NULL(b->c_strong);
    ASSERT_NEAR(b->q_strong[0], 100, 0);
    ASSERT_NEAR(b->q_weak[0], 0, 0);
    ASSERT_STR_EQ(b->prompts[2], "third prompt");
    rl_bench_free(b);
    return 0;
}

// A table's own "<model>|cost" columns (RouterBench's "|total_cost" too) are its costs when no
// cost column is named and both models have one; named columns win; with one model's alone, the
// prices are used.
TEST(eval_bench_table_cost_columns) {
    struct scratch s;
    ASSERT_OK(scratch_init(&s));
    const char *csv = scratch_file(&s, "costs.csv",
                                   "prompt,big,small,big|cost,small|cost,big_alt,small_alt,x|cost\n"
                                   "first,1,0,0.02,0.001,2,1,5\n"
                                   "second,0.5,0.5,0.03,0.002,3,1,5\n");
    const char *jsonl = scratch_file(
        &s, "costs.jsonl",
        "{\"prompt\": \"first\", \"big\": true, \"small\": false, \"big|total_cost\": 0.02, "
        "\"small|total_cost\": 0.001}\n"
        "{\"prompt\": \"second\", \"big\": 1, \"small\": 1, \"big|total_cost\": 0.03, "
        "\"small|total_cost\": 0.002}\n");
    static const struct {
        int file;                            // input: 0 CSV, 1 JSONL
        const char *strong, *weak;           // input
        const char *cost_strong, *cost_weak; // input
        const char *col;                     // output: the strong model's cost column, or NULL
        double cost;                         // output: its cost on the second prompt
        const char *err;                     // output: part of the error, or NULL
    } cases[] = {
        {0, "big", "small", NULL, NULL, "big|cost", 0.03, NULL},
        {0, "big", "small", "big_alt", "small_alt", "big_alt", 3, NULL},
        {0, "big", "big_alt", NULL, NULL, NULL, 0, NULL},
        {0, "x", "small", NULL, NULL, NULL, 0, "no column \"x\""}, // a cost is no quality
        {1, "big", "small", NULL, NULL, "big|total_cost", 0.03, NULL},
    };
    for (size_t i = 0; i < RL_COUNTOF(cases); i++) {
        char err[RL_ERRBUF_SIZE] = "";
        struct rl_bench_table_params p = {NULL, cases[i].strong, cases[i].weak,
                                          cases[i].cost_strong, cases[i].cost_weak};
        struct rl_bench *b = rl_bench_load_table(cases[i].file ? jsonl : csv, &p, err);
        if (cases[i].err) {
            ASSERT_NULL(b);
            ASSERT_STR_CONTAINS(err, cases[i].err);
            continue;
        }
        ASSERT_NOT_NULL(b);
        ASSERT_EQ(b->n, 2);
        if (cases[i].col) {
            ASSERT_STR_EQ(b->c_strong_col, cases[i].col);
            ASSERT_NEAR(b->c_strong[1], cases[i].cost, 0);
            bool keep[2] = {false, true};
            struct rl_bench *sub = rl_bench_new_subset(b, keep);
            ASSERT_NOT_NULL(sub);
            ASSERT_STR_EQ(sub->c_weak_col, b->c_weak_col);
            rl_bench_free(sub);
        } else {
            ASSERT_NULL(b->c_strong);
            ASSERT_NULL(b->c_strong_col);
        }
        rl_bench_free(b);
    }
    scratch_free(&s);
    return 0;
}

// Score files (`eval --scores`): each benchmark prompt is looked up by its text; blank lines are
// skipped; a malformed line names the file and line; a prompt without a score is named.
TEST(eval_bench_scores_file) {
    struct scratch s;
    ASSERT_EQ(scratch_init(&s), 0);
    char err[RL_ERRBUF_SIZE];
    struct rl_bench_table_params p = {NULL, "big", "small", NULL, NULL};
    struct rl_bench *b = rl_bench_load_table(RL_TEST_DATA "/eval/table.jsonl", &p, err);
    ASSERT_NOT_NULL(b);
    const char *good = scratch_file(&s, "good.jsonl",
                                    "{\"prompt\": \"third prompt\", \"score\": 0.25}\n\n"
                                    "{\"prompt\": \"first prompt\", \"score\": 1}\n"
                                    "{\"prompt\": \"second prompt\", \"score\": 0}\n"
                                    "{\"prompt\": \"not asked\", \"score\": 0.5}");
    double scores[3];
    ASSERT_OK(rl_eval_scores_read(good, b, scores, err));
    ASSERT_NEAR(scores[0], 1, 0);
    ASSERT_NEAR(scores[1], 0, 0);
    ASSERT_NEAR(scores[2], 0.25, 0);
    const char *bad = scratch_file(&s, "bad.jsonl",
                                   "{\"prompt\": \"first prompt\", \"score\": 1}\n"
                                   "{\"prompt\": \"second prompt\", \"score\": \"high\"}\n");
    ASSERT_EQ(rl_eval_scores_read(bad, b, scores, err), RL_EFORMAT);
    ASSERT_STR_CONTAINS(err, "bad.jsonl:2: expected");
    const char *few =
        scratch_file(&s, "few.jsonl", "{\"prompt\": \"first prompt\", \"score\": 1}\n");
    ASSERT_EQ(rl_eval_scores_read(few, b, scores, err), RL_EINVAL);
    ASSERT_STR_CONTAINS(err, "no score for prompt 2");
    rl_bench_free(b);
    scratch_free(&s);
    return 0;
}

// Each malformed input gives NULL and a message naming the file, the line and the problem.
TEST(eval_bench_malformed) {
    struct scratch s;
    ASSERT_OK(scratch_init(&s));
    static const struct {
        const char *name, *content, *want;
    } tables[] = {
        {"open_quote.csv", "prompt,s,w\n\"never closed,1,0\n", "open_quote.csv:2: malformed"},
        {"bad_value.csv", "prompt,s,w\np1,1,0\np2,maybe,0\n", "bad_value.csv:3: s value \"maybe\""},
        {"short_row.csv", "prompt,s,w\np1,1\n", "short_row.csv:2: 2 fields"},
        {"no_column.csv", "prompt,s,x\np1,1,0\n", "no_column.csv:1: no column \"w\""},
        {"empty.csv", "", "empty.csv: empty file"},
        {"header_only.csv", "prompt,s,w\n", "header_only.csv: no rows"},
        {"inf.csv", "prompt,s,w\np1,inf,0\n", "inf.csv:2: s value \"inf\""},
        {"bad.jsonl", "{\"prompt\": \"a\", \"s\": 1, \"w\": 0}\n{\"prompt\": \n", "bad.jsonl:2:"},
        {"list.jsonl", "[1, 2]\n", "list.jsonl:1: expected a JSON object"},
        {"nokey.jsonl", "{\"prompt\": \"a\", \"s\": 1}\n", "nokey.jsonl:1: no key \"w\""},
        {"str.jsonl", "{\"prompt\": \"a\", \"s\": \"1\", \"w\": 0}\n",
         "str.jsonl:1: \"s\" is neither"},
        {"cost_bad.csv", "prompt,s,w,s|cost,w|cost\np1,1,0,x,0\n",
         "cost_bad.csv:2: s|cost value \"x\""},
        {"cost_neg.csv", "prompt,s,w,s|cost,w|cost\np1,1,0,-1,0\n", "cost_neg.csv:2: negative"},
        {"cost_gone.jsonl",
         "{\"prompt\": \"a\", \"s\": 1, \"w\": 0, \"s|cost\": 2, \"w|cost\": 1}\n"
         "{\"prompt\": \"b\", \"s\": 1, \"w\": 0, \"w|cost\": 1}\n",
         "cost_gone.jsonl:2: no key \"s|cost\""},
    };
    struct rl_bench_table_params p = {NULL, "s", "w", NULL, NULL};
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < RL_COUNTOF(tables); i++) {
        char err[RL_ERRBUF_SIZE] = "";
        const char *path = scratch_file(&s, tables[i].name, tables[i].content);
        struct rl_bench *b = rl_bench_load_table(path, &p, err);
        if (b || !strstr(err, tables[i].want)) {
            fprintf(stderr, "  %s: got \"%s\", want \"%s\"\n", tables[i].name, err, tables[i].want);
            rl_bench_free(b);
            rc = 1;
        }
    }
    char err[RL_ERRBUF_SIZE];
    struct rl_bench_table_params half = {NULL, "s", "w", "cs", NULL};
    ASSERT_NULL(rl_bench_load_table(s.paths[0], &half, err));
    ASSERT_STR_CONTAINS(err, "both cost columns");
    ASSERT_NULL(rl_bench_load("nope", MINI, err));
    ASSERT_STR_CONTAINS(err, "unknown benchmark 'nope'");
    ASSERT_NULL(rl_bench_load("mt-bench", s.dir, err));
    ASSERT_STR_CONTAINS(err, "question.jsonl");
    ASSERT_STR_CONTAINS(err, "missing");

    // MT-Bench: a missing and a repeated judgment.
    scratch_file(&s, "mt_bench/question.jsonl",
                 "{\"question_id\": 1, \"turns\": [\"a prompt\", \"a follow-up\"]}\n");
    scratch_file(&s, "mt_bench/contaminated_prompts.jsonl", "");
    scratch_file(&s, "mt_bench/judgements.jsonl",
                 "{\"question_id\": 1, \"model\": \"gpt-4-1106-preview\", \"score\": 9, "
                 "\"turn\": 1}\n");
    ASSERT_NULL(rl_bench_load("mt-bench", s.dir, err));
    ASSERT_STR_CONTAINS(err, "no score for question 1 turn 2 of gpt-4-1106-preview");
    scratch_file(&s, "mt_bench/judgements.jsonl",
                 "{\"question_id\": 1, \"model\": \"gpt-4-1106-preview\", \"score\": 9, "
                 "\"turn\": 1}\n{\"question_id\": 1, \"model\": \"gpt-4-1106-preview\", "
                 "\"score\": 8, \"turn\": 1}\n");
    ASSERT_NULL(rl_bench_load("mt-bench", s.dir, err));
    ASSERT_STR_CONTAINS(err, "judgements.jsonl:2: second judgment of question 1 turn 1");
    scratch_file(&s, "mt_bench/judgements.jsonl",
                 "{\"question_id\": 1, \"model\": \"gpt-4-1106-preview\", \"score\": 11, "
                 "\"turn\": 1}\n");
    ASSERT_NULL(rl_bench_load("mt-bench", s.dir, err));
    ASSERT_STR_CONTAINS(err, "judgements.jsonl:1: score 11 outside [0, 10]");
    scratch_file(&s, "mt_bench/question.jsonl", "{\"question_id\": 1, \"turns\": [\"only\"]}\n");
    ASSERT_NULL(rl_bench_load("mt-bench", s.dir, err));
    ASSERT_STR_CONTAINS(err, "question.jsonl:1: \"turns\" must hold two strings");
    scratch_free(&s);
    return rc;
}

// ----------------------------------------------------------------------------
// Score cache

TEST(eval_bench_score_cache) {
    char path[] = "/tmp/rl_eval_cache_XXXXXX";
    int fd = mkstemp(path);
    ASSERT(fd >= 0);
    close(fd);
    double s[3] = {0.25, 0.5, 1}, got[3] = {0};
    char err[RL_ERRBUF_SIZE];
    ASSERT_OK(rl_eval_cache_write(path, 42, s, 3, err));
    ASSERT_OK(rl_eval_cache_read(path, 42, got, 3));
    ASSERT_NEAR(got[2], 1, 0);
    ASSERT_EQ(rl_eval_cache_read(path, 43, got, 3), RL_EIO); // another router or prompt set
    ASSERT_EQ(rl_eval_cache_read(path, 42, got, 2), RL_EIO); // another size
    double bad[3] = {0.25, 1.5, 0};
    ASSERT_OK(rl_eval_cache_write(path, 42, bad, 3, err));
    ASSERT_EQ(rl_eval_cache_read(path, 42, got, 3), RL_EIO); // not a probability
    FILE *f = fopen(path, "w");
    fputs("RLSCORE1 but truncated", f);
    fclose(f);
    ASSERT_EQ(rl_eval_cache_read(path, 42, got, 3), RL_EIO);
    remove(path);
    ASSERT_EQ(rl_eval_cache_read(path, 42, got, 3), RL_EIO);
    return 0;
}

// ----------------------------------------------------------------------------
// Decontamination

TEST(eval_bench_contaminated) {
    // Unit vectors in 3-d: eval 0 is train 1 exactly, eval 1 is at cosine 0.96 from train 0,
    // eval 2 at 0.94, eval 3 far from both.
    double c96 = 0.96, s96 = sqrt(1 - c96 * c96), c94 = 0.94, s94 = sqrt(1 - c94 * c94);
    float eval[4 * 3] = {0, 1, 0, (float)c96, (float)s96, 0, (float)c94, 0, (float)s94, 0, 0, 1};
    float train[2 * 3] = {1, 0, 0, 0, 1, 0};
    bool flag[4] = {false, false, false, false};
    ASSERT_EQ(rl_eval_contaminated(eval, 4, train, 2, 3, 0.95, flag), 2);
    ASSERT(flag[0] && flag[1] && !flag[2] && !flag[3]);
    ASSERT_EQ(rl_eval_contaminated(eval, 4, train, 2, 3, 0.95, flag), 0); // already marked
    bool none[4] = {false, false, false, false};
    ASSERT_EQ(rl_eval_contaminated(eval, 4, train, 0, 3, 0.95, none), 0);
    ASSERT_EQ(rl_eval_contaminated(eval, 4, train, 2, 3, 0.9, none), 3);
    return 0;
}
