// Text lists (the evaluation prompts kept out of training) and the nearest-neighbour similarity
// used to decontaminate training prompts.
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/core.h"
#include "rl/battle.h"
#include "rl/texts.h"
#include "test.h"

#define BATTLES RL_TEST_DATA "/battles/"

// Reads a spec into t (freed first) and returns the count, or the error.
static long load(const char *spec, struct rl_texts *t, char *err) {
    rl_texts_free(t);
    int rc = rl_texts_load_spec(spec, NULL, t, err);
    return rc != RL_OK ? rc : (long)t->n;
}

TEST(texts_read_formats) {
    char err[RL_ERRBUF_SIZE] = "";
    struct rl_texts t = {0};
    ASSERT_EQ(load(BATTLES "texts.csv", &t, err), 2);
    ASSERT_STR_EQ(t.items[1], "Explain \"quantum\" tunnelling.");
    ASSERT_EQ(load(BATTLES "texts.csv,column=other", &t, err), 2);
    ASSERT_STR_EQ(t.items[0], "x");
    ASSERT_EQ(load(BATTLES "texts.jsonl", &t, err), 2);
    ASSERT_STR_EQ(t.items[1], "Draft a professional email.");
    ASSERT_STR_CONTAINS(t.items[0], "travel blog post about a recent trip to Hawaii.");
    ASSERT_EQ(load(BATTLES "texts.txt", &t, err), 2);
    ASSERT_STR_EQ(t.items[1], "second line"); // trimmed, as a battle prompt
    struct rl_texts_params exact = {.exact = true};
    rl_texts_free(&t);
    ASSERT_OK(rl_texts_load_spec(BATTLES "texts.txt", &exact, &t, err));
    ASSERT_STR_EQ(t.items[1], "  second line  ");
    ASSERT_EQ(load(BATTLES "texts.csv,column=nope", &t, err), RL_EFORMAT);
    ASSERT_STR_CONTAINS(err, "texts.csv:1: no column 'nope'");
    ASSERT_EQ(load(BATTLES "texts.jsonl,field=category", &t, err), RL_EFORMAT);
    ASSERT_STR_CONTAINS(err, "texts.jsonl:2: no text in member 'category'");
    ASSERT_EQ(load(BATTLES "texts.jsonl,field=question_id", &t, err), RL_EFORMAT);
    ASSERT_STR_CONTAINS(err, "texts.jsonl:1:");
    ASSERT_EQ(load(BATTLES "texts.txt,colour=red", &t, err), RL_EINVAL);
    ASSERT_EQ(load("/nonexistent.txt", &t, err), RL_EIO);

    // Appending moves the texts.
    struct rl_texts a = {0}, b = {0};
    ASSERT_OK(rl_texts_load_spec(BATTLES "texts.csv", NULL, &a, err));
    ASSERT_OK(rl_texts_load_spec(BATTLES "texts.jsonl", NULL, &b, err));
    ASSERT_OK(rl_texts_append(&a, &b));
    ASSERT_EQ(a.n, 4);
    ASSERT_EQ(b.n, 0);
    ASSERT_NULL(b.items);
    ASSERT_STR_EQ(a.items[3], "Draft a professional email.");
    rl_texts_free(&a);
    rl_texts_free(&b);
    return 0;
}

// A prompt list with a second column (a reference answer): rows pair up, an empty text drops its
// row, a missing or empty value is an error with its line, and a text file has no columns.
TEST(texts_read_pairs) {
    static const struct {
        const char *suffix, *text; // input
        long n;                    // output: texts read, or the error
        const char *second, *err;  // the last second value, or the error's text
    } cases[] = {
        {".csv", "prompt,answer\nWhat is 6 x 7?,42\n\"  \",1\n\"Say \"\"hi\"\"\",hi\n", 2, "hi",
         NULL},
        {".jsonl", "{\"prompt\":\"a\",\"answer\":42}\n{\"prompt\":\"b\",\"answer\":\"x y\"}\n", 2,
         "x y", NULL},
        {".jsonl", "{\"prompt\":\"a\",\"answer\":4.5}\n", 1, "4.5", NULL},
        {".csv", "prompt,answer\nWhat?,\n", RL_EFORMAT, NULL, ":2: empty or binary 'answer'"},
        {".csv", "prompt,other\nWhat?,1\n", RL_EFORMAT, NULL, ":1: no column 'answer'"},
        {".jsonl", "{\"prompt\":\"a\"}\n", RL_EFORMAT, NULL, ":1: no string or number in member"},
        {".jsonl", "{\"prompt\":\"a\",\"answer\":[1]}\n", RL_EFORMAT, NULL, "member 'answer'"},
        {".txt", "one prompt\n", RL_EFORMAT, NULL, "a text file has one text per line"},
    };
    for (size_t i = 0; i < RL_COUNTOF(cases); i++) {
        char path[128], err[RL_ERRBUF_SIZE] = "";
        snprintf(path, sizeof path, "/tmp/rl_test_%ld_pairs%s", (long)getpid(), cases[i].suffix);
        FILE *f = fopen(path, "w");
        ASSERT_NOT_NULL(f);
        fputs(cases[i].text, f);
        fclose(f);
        struct rl_texts t, s;
        int rc = rl_texts_load_pairs(path, NULL, "answer", &t, &s, err);
        remove(path);
        if (cases[i].n < 0) {
            ASSERT_EQ(rc, cases[i].n);
            ASSERT_STR_CONTAINS(err, cases[i].err);
            ASSERT_EQ(t.n + s.n, 0);
            continue;
        }
        ASSERT_OK(rc);
        ASSERT_EQ(t.n, cases[i].n);
        ASSERT_EQ(s.n, t.n);
        ASSERT_STR_EQ(s.items[s.n - 1], cases[i].second);
        rl_texts_free(&t);
        rl_texts_free(&s);
    }
    return 0;
}

TEST(texts_max_similarity_and_drop) {
    enum { NA = 1500, NB = 1100, D = 8 };
    float *a = malloc((size_t)NA * D * sizeof *a), *b = malloc((size_t)NB * D * sizeof *b);
    srand(3);
    for (int i = 0; i < NA * D; i++)
        a[i] = (float)rand() / RAND_MAX - 0.5f;
    for (int i = 0; i < NB * D; i++)
        b[i] = (float)rand() / RAND_MAX - 0.5f;
    float *mx = malloc(NA * sizeof *mx);
    size_t *arg = malloc(NA * sizeof *arg);
    ASSERT_OK(rl__max_cosine(a, NA, b, NB, D, mx, arg));
    for (int i = 0; i < NA; i += 37) {
        float best = -1e30f;
        size_t at = 0;
        for (int j = 0; j < NB; j++) {
            float s = 0;
            for (int d = 0; d < D; d++)
                s += a[i * D + d] * b[j * D + d];
            if (s > best) {
                best = s;
                at = (size_t)j;
            }
        }
        ASSERT_NEAR(mx[i], best, 1e-5);
        ASSERT_EQ(arg[i], at);
    }
    free(a);
    free(b);
    free(mx);
    free(arg);

    struct rl_battles *bs = rl_battles_new();
    const char *p1 = "the first prompt, long enough", *p2 = "the second prompt, long enough";
    ASSERT_EQ(rl_battles_add(bs, p1, strlen(p1), "m1", "m2", RL_OUTCOME_A_WINS, 1, 0), 1);
    ASSERT_EQ(rl_battles_add(bs, p2, strlen(p2), "m1", "m2", RL_OUTCOME_A_WINS, 1, 0), 1);
    ASSERT_EQ(rl_battles_add(bs, p1, strlen(p1), "m2", "m1", RL_OUTCOME_TIE, 1, 0), 1);
    bool drop[2] = {true, false};
    ASSERT_EQ(rl_battles_drop_prompts(bs, drop), 2);
    ASSERT_EQ(bs->n, 1);
    ASSERT_EQ(bs->items[0].prompt, 1);
    rl_battles_free(bs);
    return 0;
}

TEST(texts_prefix_match) {
    static const char *const train[] = {
        "Simplify $(5x+3) - 2(2x-4)$.",                                            // short: ignored
        "How many positive integers are factors of 120 and also factors of 40?",   // quoted
        "How  many positive integers are FACTORS of 120\nand also factors of 40?", // same, spaced
        "How many positive integers are factors of 120 and also of 41?",           // different
        "Zebras are striped animals that live in Africa and eat grass a lot.",     // after the last
    };
    static const char *const eval[] = {
        "Simplify $(5x+3) - 2(2x-4)$.\nA. 10+x\nB. x+11\nAnswer:",
        "How many positive integers are factors of 120 and also factors of 40?\nA. 1\nB. "
        "3\nAnswer:",
        "Another question entirely, long enough to matter here.",
    };
    bool hit[5];
    ASSERT_EQ(rl_texts_prefix_match(train, 5, eval, 3, 32, hit), 2);
    ASSERT(!hit[0] && hit[1] && hit[2] && !hit[3] && !hit[4]);
    ASSERT_EQ(rl_texts_prefix_match(train, 5, eval, 3, 16, hit), 3);
    ASSERT(hit[0]);
    ASSERT_EQ(rl_texts_prefix_match(train, 5, eval, 0, 16, hit), 0);
    return 0;
}

// The reverse direction, as `routellm eval` checks its prompts against a router's training list.
TEST(texts_quote_match) {
    // Evaluation prompts; each comment says whether it quotes a training prompt below.
    static const char *const eval[] = {
        "How many positive integers are factors of 120 and also factors of 40?\nA. 1\nB. "
        "3\nAnswer:",                                                              // yes
        "HOW many positive integers are factors of 120 and   also factors of 40?", // yes, equal
        "How many positive integers are factors of 120 and also of 41?\nA. 2",     // no
        "Simplify $(5x+3) - 2(2x-4)$.\nA. 10+x\nB. x+11\nAnswer:",                 // short quote
        "A question no training prompt starts, long enough to count.",             // no
    };
    static const char *const train[] = {
        "Simplify $(5x+3) - 2(2x-4)$.",
        "How many positive integers are factors of 120 and also factors of 40?",
        "A question no training prompt starts, long enough to count, and then some more.",
    };
    bool hit[5];
    ASSERT_EQ(rl_texts_quote_match(eval, 5, train, 3, 32, hit), 2);
    ASSERT(hit[0] && hit[1] && !hit[2] && !hit[3] && !hit[4]);
    ASSERT_EQ(rl_texts_quote_match(eval, 5, train, 3, 16, hit), 3);
    ASSERT(hit[3]);
    ASSERT_EQ(rl_texts_quote_match(eval, 5, train, 0, 16, hit), 0);
    ASSERT(!hit[0] && !hit[3]);
    ASSERT_EQ(rl_texts_quote_match(eval, 0, train, 3, 16, hit), 0);
    return 0;
}
