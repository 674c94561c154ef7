// Dataset readers on small hand-written samples in the exact public schemas, in lenient mode
// (malformed rows skipped and reported with file and line) and strict mode (the first one stops
// the read with a message naming it).
#include <stdlib.h>
#include <string.h>

#include "rl/battle.h"
#include "test.h"

#define BATTLES RL_TEST_DATA "/battles/"

struct warnings {
    int n;
    char last[RL_ERRBUF_SIZE];
    char first[RL_ERRBUF_SIZE];
};

static void collect(void *ctx, const char *msg) {
    struct warnings *w = ctx;
    if (w->n == 0)
        snprintf(w->first, sizeof w->first, "%s", msg);
    snprintf(w->last, sizeof w->last, "%s", msg);
    w->n++;
}

static long read_lenient(struct rl_battles *b, const char *spec, struct warnings *w, char *err) {
    struct rl_battles_read_opts o = {.strict = false, .warn = collect, .warn_ctx = w};
    return rl_battles_read(b, spec, &o, err);
}

static long read_strict(struct rl_battles *b, const char *spec, char *err) {
    struct rl_battles_read_opts o = {.strict = true};
    return rl_battles_read(b, spec, &o, err);
}

static const char *model(const struct rl_battles *b, size_t i, int side) {
    return b->models[side ? b->items[i].model_b : b->items[i].model_a];
}

TEST(readers_arena55k) {
    char err[RL_ERRBUF_SIZE] = "";
    struct warnings w = {0};
    struct rl_battles *b = rl_battles_new();
    ASSERT_EQ(read_lenient(b, "arena55k:" BATTLES "arena55k.csv", &w, err), 4);
    ASSERT_EQ(w.n, 0);
    ASSERT_EQ(b->n_dropped_short, 1); // "hi there"
    ASSERT_STR_EQ(model(b, 0, 0), "gpt-4-1106-preview");
    ASSERT_STR_EQ(model(b, 0, 1), "gpt-4-0613");
    ASSERT_EQ(b->items[0].outcome, RL_OUTCOME_A_WINS);
    ASSERT_EQ(b->items[1].outcome, RL_OUTCOME_B_WINS);
    ASSERT_EQ(b->items[2].outcome, RL_OUTCOME_TIE);
    // The first turn only, JSON-unescaped.
    ASSERT_STR_EQ(b->prompts[b->items[0].prompt],
                  "Is it morally right to try to have a certain percentage of females on "
                  "managerial positions?");
    ASSERT_STR_CONTAINS(b->prompts[b->items[3].prompt], "classifier.\nIt has two lines.");
    ASSERT_EQ(b->items[3].weight == 1.0f, 1);
    rl_battles_free(b);
    return 0;
}

TEST(readers_arena55k_malformed) {
    char err[RL_ERRBUF_SIZE] = "";
    struct warnings w = {0};
    struct rl_battles *b = rl_battles_new();
    ASSERT_EQ(read_lenient(b, "arena55k:" BATTLES "arena55k_bad.csv", &w, err), 2);
    ASSERT_EQ(w.n, 5);
    ASSERT_STR_CONTAINS(w.first, "arena55k_bad.csv:3: prompt is not a JSON list");
    ASSERT_STR_CONTAINS(w.last, "arena55k_bad.csv:7: 3 fields");
    ASSERT_EQ(b->items[1].outcome, RL_OUTCOME_TIE);
    rl_battles_free(b);

    b = rl_battles_new();
    ASSERT_EQ(read_strict(b, "arena55k:" BATTLES "arena55k_bad.csv", err), RL_EFORMAT);
    ASSERT_STR_CONTAINS(err, "arena55k_bad.csv:3:");
    rl_battles_free(b);
    return 0;
}

TEST(readers_arena_conversations) {
    char err[RL_ERRBUF_SIZE] = "";
    struct warnings w = {0};
    struct rl_battles *b = rl_battles_new();
    ASSERT_EQ(read_lenient(b, "arena:" BATTLES "arena_conversations.jsonl", &w, err), 4);
    ASSERT_EQ(b->items[0].outcome, RL_OUTCOME_B_WINS);
    ASSERT_EQ(b->items[1].outcome, RL_OUTCOME_TIE);
    ASSERT_EQ(b->items[2].outcome, RL_OUTCOME_BOTH_BAD);
    ASSERT_EQ(b->items[3].outcome, RL_OUTCOME_A_WINS);
    ASSERT_STR_EQ(b->prompts[b->items[3].prompt], "Build a react app that displays a counter.");
    rl_battles_free(b);

    b = rl_battles_new();
    w = (struct warnings){0};
    ASSERT_EQ(read_lenient(b, "arena:" BATTLES "arena_bad.jsonl", &w, err), 1);
    ASSERT_EQ(w.n, 5);
    ASSERT_STR_CONTAINS(w.first, "arena_bad.jsonl:2: winner 'model_c'");
    ASSERT_STR_CONTAINS(w.last, "arena_bad.jsonl:6:");
    rl_battles_free(b);

    b = rl_battles_new();
    ASSERT_EQ(read_strict(b, "arena:" BATTLES "arena_bad.jsonl", err), RL_EFORMAT);
    ASSERT_STR_CONTAINS(err, "arena_bad.jsonl:2:");
    rl_battles_free(b);
    return 0;
}

TEST(readers_judge) {
    char err[RL_ERRBUF_SIZE] = "";
    struct warnings w = {0};
    struct rl_battles *b = rl_battles_new();
    ASSERT_EQ(read_lenient(b, "judge:" BATTLES "gpt4_dataset.jsonl", &w, err), 4);
    static const int want[] = {RL_OUTCOME_B_WINS, RL_OUTCOME_A_WINS, RL_OUTCOME_B_WINS,
                               RL_OUTCOME_A_WINS};
    for (size_t i = 0; i < 4; i++) {
        ASSERT_STR_EQ(model(b, i, 0), RL_MODEL_DEFAULT_STRONG);
        ASSERT_STR_EQ(model(b, i, 1), RL_MODEL_DEFAULT_WEAK);
        ASSERT_EQ(b->items[i].outcome, want[i]);
    }
    ASSERT_EQ(read_lenient(b, "judge:" BATTLES "gpt4_dataset.jsonl,min_weak_win=5,strong=a,weak=b",
                           &w, err),
              4);
    ASSERT_EQ(b->items[6].outcome, RL_OUTCOME_A_WINS); // score 4 < 5
    ASSERT_STR_EQ(model(b, 6, 0), "a");
    ASSERT_EQ(b->n_sources, 1); // same file, same source label
    ASSERT_EQ(read_lenient(b, "judge:" BATTLES "gpt4_dataset.jsonl,source=mine", &w, err), 4);
    ASSERT_EQ(b->n_sources, 2);
    ASSERT_STR_EQ(b->sources[1], "mine");
    ASSERT_EQ(b->items[8].source, 1);
    ASSERT_EQ(read_lenient(b, "judge:" BATTLES "gpt4_dataset.jsonl,colour=red", &w, err),
              RL_EINVAL);
    ASSERT_STR_CONTAINS(err, "unknown option 'colour'");
    rl_battles_free(b);

    b = rl_battles_new();
    w = (struct warnings){0};
    ASSERT_EQ(read_lenient(b, "judge:" BATTLES "gpt4_dataset_bad.jsonl", &w, err), 1);
    ASSERT_EQ(w.n, 3);
    ASSERT_STR_CONTAINS(w.first, "gpt4_dataset_bad.jsonl:2: mixtral_score 9 is not in 1..5");
    ASSERT_EQ(read_strict(b, "judge:" BATTLES "gpt4_dataset_bad.jsonl", err), RL_EFORMAT);
    ASSERT_STR_CONTAINS(err, "gpt4_dataset_bad.jsonl:2:");
    rl_battles_free(b);
    return 0;
}

TEST(readers_alpaca_eval) {
    char err[RL_ERRBUF_SIZE] = "";
    struct warnings w = {0};
    struct rl_battles *b = rl_battles_new();
    ASSERT_EQ(read_lenient(b, BATTLES "alpaca/battles.csv", &w, err), 6);
    ASSERT_EQ(w.n, 0);
    ASSERT_EQ(b->n_dropped_short, 1); // "Hi"
    ASSERT_STR_EQ(model(b, 0, 0), "gpt-4-1106-preview");
    ASSERT_STR_EQ(model(b, 0, 1), "mixtral-8x7b-instruct-v0.1");
    ASSERT_EQ(b->items[0].outcome, RL_OUTCOME_A_WINS);
    ASSERT_EQ(b->items[1].outcome, RL_OUTCOME_B_WINS);
    // 1.25 = P(model_2 better) 0.25: two battles with soft weights.
    ASSERT_EQ(b->items[2].outcome, RL_OUTCOME_A_WINS);
    ASSERT_NEAR(b->items[2].weight, 0.75, 1e-7);
    ASSERT_EQ(b->items[3].outcome, RL_OUTCOME_B_WINS);
    ASSERT_NEAR(b->items[3].weight, 0.25, 1e-7);
    ASSERT_EQ(b->items[4].outcome, RL_OUTCOME_TIE);
    ASSERT_EQ(b->items[5].outcome, RL_OUTCOME_TIE);
    ASSERT_STR_EQ(model(b, 5, 0), "text-davinci-003");
    ASSERT_EQ(b->n_prompts, 3);
    rl_battles_free(b);

    b = rl_battles_new();
    ASSERT_EQ(read_lenient(b,
                           "alpaca_eval:" BATTLES "alpaca/battles.csv,annotators=alpaca_eval_gpt4,"
                           "weight=2",
                           &w, err),
              2);
    ASSERT_NEAR(b->items[0].weight, 2, 0);
    rl_battles_free(b);

    // models= keeps the battles of the listed models only (names as the file spells them).
    b = rl_battles_new();
    ASSERT_EQ(read_lenient(b,
                           "alpaca_eval:" BATTLES "alpaca/battles.csv,models=gpt4_1106_preview|"
                           "Mixtral-8x7B-Instruct-v0.1",
                           &w, err),
              2);
    ASSERT_STR_EQ(model(b, 1, 1), "mixtral-8x7b-instruct-v0.1");
    rl_battles_free(b);

    b = rl_battles_new();
    w = (struct warnings){0};
    ASSERT_EQ(read_lenient(b, "alpaca_eval:" BATTLES "alpaca/battles_bad.csv", &w, err), 1);
    ASSERT_EQ(w.n, 3);
    ASSERT_STR_CONTAINS(w.first, "battles_bad.csv:3: prompt_id '17' is not a known prompt");
    ASSERT_EQ(read_strict(b, "alpaca_eval:" BATTLES "alpaca/battles_bad.csv", err), RL_EFORMAT);
    ASSERT_STR_CONTAINS(err, "battles_bad.csv:3:");
    ASSERT_EQ(read_strict(b, "alpaca_eval:" BATTLES "alpaca/battles.csv,prompts=/nonexistent", err),
              RL_EIO);
    ASSERT_STR_CONTAINS(err, "/nonexistent");
    rl_battles_free(b);
    return 0;
}

TEST(readers_table_gold) {
    char err[RL_ERRBUF_SIZE] = "";
    struct warnings w = {0};
    struct rl_battles *b = rl_battles_new();
    ASSERT_EQ(read_lenient(b, "table:" BATTLES "table.csv", &w, err), 5);
    // Row 1: GPT-4 right, Mixtral and Llama wrong.
    ASSERT_STR_EQ(model(b, 0, 0), "mixtral-8x7b-instruct-v0.1");
    ASSERT_STR_EQ(model(b, 0, 1), "gpt-4-1106-preview");
    ASSERT_EQ(b->items[0].outcome, RL_OUTCOME_B_WINS);
    ASSERT_EQ(b->items[1].outcome, RL_OUTCOME_A_WINS);
    rl_battles_free(b);

    b = rl_battles_new();
    ASSERT_EQ(read_lenient(b, "table:" BATTLES "table.csv,ties=1", &w, err), 10);
    ASSERT_EQ(b->items[1].outcome, RL_OUTCOME_BOTH_BAD); // both wrong on row 1
    rl_battles_free(b);

    b = rl_battles_new();
    ASSERT_EQ(read_lenient(b,
                           "table:" BATTLES
                           "table.csv,models=gpt-4-1106-preview|mixtral-8x7b-instruct-v0.1",
                           &w, err),
              2);
    rl_battles_free(b);

    b = rl_battles_new();
    ASSERT_EQ(read_lenient(b, "table:" BATTLES "routerdc.json", &w, err), 4);
    ASSERT_STR_EQ(model(b, 0, 0), "mistral-7b-v0.1");
    ASSERT_STR_EQ(model(b, 0, 1), "zephyr-7b-beta");
    ASSERT_EQ(b->items[0].outcome, RL_OUTCOME_A_WINS);
    ASSERT_EQ(b->items[2].outcome, RL_OUTCOME_B_WINS);
    rl_battles_free(b);

    b = rl_battles_new();
    w = (struct warnings){0};
    ASSERT_EQ(read_lenient(b, "table:" BATTLES "table_bad.csv", &w, err), 1);
    ASSERT_EQ(w.n, 2);
    ASSERT_STR_CONTAINS(w.first, "table_bad.csv:3: column 'mixtral-8x7b-instruct-v0.1'");
    ASSERT_STR_CONTAINS(w.last, "table_bad.csv:4: malformed CSV");
    ASSERT_EQ(read_strict(b, "table:" BATTLES "table_bad.csv", err), RL_EFORMAT);
    ASSERT_STR_CONTAINS(err, "table_bad.csv:3:");
    rl_battles_free(b);
    return 0;
}

// A column "MODEL|cost" (or "|total_cost") is MODEL's price, not a model: it never battles its
// own model. In a models= list "gpt-4|cost" is read as gpt-4 and its cost column, which is not
// a model either. RouterDC-style score objects may hold such keys too.
TEST(readers_table_cost_columns) {
    char err[RL_ERRBUF_SIZE] = "";
    struct warnings w = {0};
    static const struct {
        const char *spec; // input
        long battles;     // output
        size_t models;    // output
    } cases[] = {
        {"table:" BATTLES "costs.csv", 4, 3},
        {"table:" BATTLES "costs.csv,models=gpt-4-1106-preview|cost|mixtral-8x7b-chat|cost", 1, 2},
        {"table:" BATTLES "costs.csv,models=gpt-4-1106-preview|cost|claude-v2|total_cost", 1, 2},
        {"table:" BATTLES "routerdc_costs.json,models=a|cost|b|cost", 1, 2},
        {"table:" BATTLES "routerdc_costs.json", 1, 2},
    };
    for (size_t i = 0; i < RL_COUNTOF(cases); i++) {
        struct rl_battles *b = rl_battles_new();
        ASSERT_EQ(read_lenient(b, cases[i].spec, &w, err), cases[i].battles);
        ASSERT_EQ(b->n_models, cases[i].models);
        for (size_t m = 0; m < b->n_models; m++)
            ASSERT(strchr(b->models[m], '|') == NULL);
        rl_battles_free(b);
    }
    struct rl_battles *b = rl_battles_new();
    ASSERT_EQ(read_strict(b, "table:" BATTLES "costs.csv", err), 4);
    ASSERT_STR_EQ(model(b, 0, 0), "gpt-4-1106-preview");
    ASSERT_STR_EQ(model(b, 0, 1), "mixtral-8x7b-instruct-v0.1");
    ASSERT_STR_EQ(model(b, 1, 1), "claude-2.0");
    rl_battles_free(b);
    return 0;
}

TEST(readers_errors) {
    char err[RL_ERRBUF_SIZE] = "";
    struct rl_battles *b = rl_battles_new();
    ASSERT_EQ(read_strict(b, "arena55k:/nonexistent/file.csv", err), RL_EIO);
    ASSERT_STR_CONTAINS(err, "/nonexistent/file.csv");
    ASSERT_EQ(read_strict(b, "arena55k:" BATTLES "table.csv", err), RL_EFORMAT);
    ASSERT_STR_CONTAINS(err, "table.csv:1: no column 'model_a'");
    ASSERT_EQ(read_strict(b, "judge:", err), RL_EINVAL);
    ASSERT_EQ(read_strict(b, "table:" BATTLES "table.csv,margin", err), RL_EINVAL);
    ASSERT_EQ(read_strict(b, "table:" BATTLES "table.csv,margin=-1", err), RL_EINVAL);
    ASSERT_EQ(b->n, 0);
    rl_battles_free(b);
    return 0;
}

TEST(battles_interning_digest) {
    struct rl_battles *a = rl_battles_new(), *b = rl_battles_new();
    const char *p = "  How do I sort a list in Python?  ";
    ASSERT_EQ(rl_battles_add(a, p, strlen(p), "GPT4_1106_preview", "Mixtral-8x7B",
                             RL_OUTCOME_A_WINS, 1, 0),
              1);
    ASSERT_EQ(rl_battles_add(a, p + 2, strlen(p) - 4, "gpt-4-1106-preview", "llama-2-70b-chat-hf",
                             RL_OUTCOME_TIE, 1, 0),
              1);
    ASSERT_EQ(rl_battles_add(a, "too short", 9, "x", "y", RL_OUTCOME_TIE, 1, 0), 0);
    ASSERT_EQ(rl_battles_add(a, p, strlen(p), "x", "X", RL_OUTCOME_TIE, 1, 0), 0);
    ASSERT_EQ(a->n, 2);
    ASSERT_EQ(a->n_prompts, 1);
    ASSERT_STR_EQ(a->prompts[0], "How do I sort a list in Python?");
    ASSERT_EQ(a->n_models, 5);
    ASSERT_EQ(a->n_dropped_short, 1);
    ASSERT_EQ(a->n_dropped_self, 1);
    ASSERT_EQ(rl_battles_find_model(a, "Llama-2-70B-chat"), 2);
    ASSERT_EQ(rl_battles_find_model(a, "gpt-4o"), -1);
    // Many distinct prompts force the tables to grow.
    for (int i = 0; i < 5000; i++) {
        char q[64];
        int n = snprintf(q, sizeof q, "prompt number %d, padded out", i);
        ASSERT_EQ(rl_battles_add(b, q, (size_t)n, "m1", "m2", RL_OUTCOME_A_WINS, 1, 0), 1);
        ASSERT_EQ(rl_battles_add(b, q, (size_t)n, "m2", "m3", RL_OUTCOME_B_WINS, 1, 0), 1);
    }
    ASSERT_EQ(b->n_prompts, 5000);
    ASSERT_STR_EQ(b->prompts[4321], "prompt number 4321, padded out");
    char h1[65], h2[65];
    ASSERT_OK(rl_battles_digest(a, h1));
    ASSERT_OK(rl_battles_digest(b, h2));
    ASSERT_EQ(strlen(h1), 64);
    ASSERT(strcmp(h1, h2) != 0);
    ASSERT_OK(rl_battles_digest(a, h2));
    ASSERT_STR_EQ(h1, h2);
    rl_battles_free(a);
    rl_battles_free(b);
    return 0;
}
