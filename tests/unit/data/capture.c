// The proxy's capture folders read back: battles from feedback (`train --data capture:DIR`) and
// the captured prompts as a text list (`label --prompts capture:DIR`), on a folder written by
// hand in the proxy's line format, rotated file first.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rl/battle.h"
#include "rl/texts.h"
#include "test.h"

static int write_text(const char *dir, const char *name, const char *text) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f)
        return RL_EIO;
    fputs(text, f);
    return fclose(f) == 0 ? RL_OK : RL_EIO;
}

#define REQ(id, prompt, model, extra)                                                              \
    "{\"type\":\"request\",\"id\":\"" id "\",\"time\":1,\"prompt\":\"" prompt                      \
    "\",\"model\":\"" model "\"" extra "}\n"
#define PAIR         ",\"router\":\"mf\",\"strong\":\"gpt-4-1106-preview\",\"weak\":\"mixtral-8x7b\""
#define FB(id, what) "{\"type\":\"feedback\",\"id\":\"" id "\",\"time\":2," what "}\n"

// The outcome of the battle between a and b (canonical names) on prompt p, or -1.
static int outcome_of(const struct rl_battles *b, const char *p, const char *a, const char *m) {
    int ia = rl_battles_find_model(b, a), ib = rl_battles_find_model(b, m);
    for (size_t i = 0; i < b->n; i++) {
        const struct rl_battle *x = &b->items[i];
        if (strcmp(b->prompts[x->prompt], p) != 0)
            continue;
        if ((int)x->model_a == ia && (int)x->model_b == ib)
            return x->outcome;
        if ((int)x->model_a == ib && (int)x->model_b == ia)
            return x->outcome == RL_OUTCOME_A_WINS   ? RL_OUTCOME_B_WINS
                   : x->outcome == RL_OUTCOME_B_WINS ? RL_OUTCOME_A_WINS
                                                     : (int)x->outcome;
    }
    return -1;
}

TEST(capture_feedback_to_battles_and_prompts) {
    char dir[] = "/tmp/rl_capture_data_XXXXXX";
    ASSERT_NOT_NULL(mkdtemp(dir));
    // The rotated file holds the older lines; feedback may come in a later file.
    ASSERT_OK(write_text(
        dir, "capture-20261203T100000Z-000000.jsonl",
        REQ("r1", "Explain how a transistor amplifies a signal.", "mixtral-8x7b", PAIR)
            REQ("r2", "Write a sonnet about the sea and the moon.", "mixtral-8x7b", PAIR)
                REQ("r3", "Summarise the plot of Hamlet in three lines.", "llama-3-8b", "")
                    REQ("r4", "Summarise the plot of Hamlet in three lines.", "claude-2.1", "")));
    ASSERT_OK(write_text(
        dir, "capture.jsonl",
        REQ("r5", "What is the derivative of x squared?", "gpt-4-1106-preview",
            PAIR) "{\"type\":\"request\",\"id\":\"r6\",\"time\":1,\"prompt_sha256\":\"ab\","
                  "\"model\":\"llama-3-8b\"}\n" FB("r1", "\"rating\":0.9")
                      FB("r2", "\"rating\":0.1") FB("r3", "\"rating\":0.2")
                          FB("r4", "\"rating\":0.8") FB("r5", "\"rating\":1")
                              FB("r3", "\"preferred_model\":\"gpt-4-1106-preview\"")
                                  FB("r6", "\"preferred_model\":\"gpt-4-1106-preview\"")
                                      FB("nosuch", "\"rating\":1")));
    ASSERT_OK(write_text(dir, "notes.txt", "not a capture file\n"));
    struct rl_battles *b = rl_battles_new();
    ASSERT_NOT_NULL(b);
    char spec[128], err[RL_ERRBUF_SIZE] = "";
    snprintf(spec, sizeof spec, "capture:%s", dir);
    long n = rl_battles_read(b, spec, NULL, err);
    if (n < 0)
        TEST_FAIL_("%s", err);
    // r1: a good weak answer, weak wins; r2: a bad one, strong wins; r3 vs r4: rated answers of
    // one prompt, the higher wins; r3's preference for gpt-4; r5 rated a strong answer (nothing);
    // r6 redacted (nothing); an unknown id (nothing).
    ASSERT_EQ(n, 4);
    ASSERT_EQ(outcome_of(b, "Explain how a transistor amplifies a signal.",
                         "mixtral-8x7b-instruct-v0.1", "gpt-4-1106-preview"),
              RL_OUTCOME_A_WINS);
    ASSERT_EQ(outcome_of(b, "Write a sonnet about the sea and the moon.",
                         "mixtral-8x7b-instruct-v0.1", "gpt-4-1106-preview"),
              RL_OUTCOME_B_WINS);
    ASSERT_EQ(
        outcome_of(b, "Summarise the plot of Hamlet in three lines.", "claude-2.1", "llama-3-8b"),
        RL_OUTCOME_A_WINS);
    ASSERT_EQ(outcome_of(b, "Summarise the plot of Hamlet in three lines.", "gpt-4-1106-preview",
                         "llama-3-8b"),
              RL_OUTCOME_A_WINS);
    rl_battles_free(b);
    // min_rating moves the line a weak answer must reach.
    b = rl_battles_new();
    snprintf(spec, sizeof spec, "capture:%s,min_rating=0.95", dir);
    ASSERT_EQ(rl_battles_read(b, spec, NULL, err), 4);
    ASSERT_EQ(outcome_of(b, "Explain how a transistor amplifies a signal.",
                         "mixtral-8x7b-instruct-v0.1", "gpt-4-1106-preview"),
              RL_OUTCOME_B_WINS);
    rl_battles_free(b);
    // The prompts, each once, in the order first seen; redacted ones have none.
    struct rl_texts t;
    snprintf(spec, sizeof spec, "capture:%s", dir);
    ASSERT_OK(rl_texts_load(spec, NULL, &t, err));
    ASSERT_EQ(t.n, 4);
    ASSERT_STR_EQ(t.items[0], "Explain how a transistor amplifies a signal.");
    ASSERT_STR_EQ(t.items[2], "Summarise the plot of Hamlet in three lines.");
    ASSERT_STR_EQ(t.items[3], "What is the derivative of x squared?");
    rl_texts_free(&t);
    // A line that is not a capture line is an error naming the file and the line.
    ASSERT_OK(write_text(dir, "capture.jsonl",
                         REQ("r1", "a prompt long enough here", "m", "") "{\"id\":\"x\"}\n"));
    b = rl_battles_new();
    ASSERT(rl_battles_read(b, spec, NULL, err) < 0);
    ASSERT_STR_CONTAINS(err, "capture.jsonl:2: not a capture line");
    rl_battles_free(b);
    // An empty capture file (a proxy that served nothing yet) has no battle and no prompt.
    char rotated[256];
    snprintf(rotated, sizeof rotated, "%s/capture-20261203T100000Z-000000.jsonl", dir);
    ASSERT_EQ(unlink(rotated), 0);
    ASSERT_OK(write_text(dir, "capture.jsonl", ""));
    b = rl_battles_new();
    ASSERT_EQ(rl_battles_read(b, spec, NULL, err), 0);
    rl_battles_free(b);
    ASSERT_OK(rl_texts_load(spec, NULL, &t, err));
    ASSERT_EQ(t.n, 0);
    rl_texts_free(&t);
    char empty[] = "/tmp/rl_capture_empty_XXXXXX";
    ASSERT_NOT_NULL(mkdtemp(empty));
    snprintf(spec, sizeof spec, "capture:%s", empty);
    ASSERT(rl_texts_load(spec, NULL, &t, err) != RL_OK);
    ASSERT_STR_CONTAINS(err, "no capture files");
    rmdir(empty);
    return 0;
}
