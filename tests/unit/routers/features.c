// Prompt features (each one on texts whose value is known by hand), the length router, and a
// router trained with features: its file records them, it reads the prompt's text, and it learns
// a signal that only the text carries.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"
#include "rl/battle.h"
#include "rl/features.h"
#include "rl/router.h"
#include "rl/train.h"
#include "test.h"

TEST(features_by_hand) {
    static const struct {
        const char *text; // input
        int feature;      // input: which feature
        double want;      // output
    } cases[] = {
        {"", 0, 0},
        {"abcd", 0, 1.6094379},                           // ln(1 + 4 bytes)
        {"Hello, world!", 1, 1.6094379},                  // Hello , world ! : 4 tokens
        {"你好世界", 1, 1.6094379},                       // one token per ideograph
        {"one\ntwo\nthree", 2, 1.3862944},                // 3 lines
        {"a1b2", 3, 0.5},                                 // 2 digits of 4 characters
        {"3.14 and 2,000 and 7", 4, 1.3862944},           // 3 numbers: separators join digits
        {"x=y+1", 5, 0.4},                                // = and + of 5 characters
        {"\\frac{a}{b}", 6, 1.6094379},                   // {, }, {, }: 4 code markers
        {"def f(x):\n    return x;\n", 6, 1.3862944},     // def, return, a line ending in ';'
        {"Why? How？", 7, 1.0986123},                     // two question marks, one full width
        {"Q\nA. one\nB) two\n(C) three\nD.four", 8, 0.3}, // "D.four" has no blank
        {"aé", 9, 0.5},                                   // one of two characters above U+007F
        {"日本ab", 10, 0.5},                              // two ideographs of four characters
        {"カナ", 10, 1},                                  // kana
    };
    for (size_t i = 0; i < RL_COUNTOF(cases); i++) {
        float f[RL_FEATURES_N];
        rl_features(cases[i].text, strlen(cases[i].text), f);
        ASSERT_NEAR(f[cases[i].feature], cases[i].want, 1e-5);
    }
    ASSERT_STR_EQ(rl_features_name(0), "log_bytes");
    ASSERT_STR_EQ(rl_features_name(RL_FEATURES_N - 1), "cjk");
    ASSERT_NULL(rl_features_name(RL_FEATURES_N));
    // Invalid UTF-8 still has features, every one finite.
    float f[RL_FEATURES_N];
    rl_features("\xff\xfe\xc3", 3, f);
    for (int i = 0; i < RL_FEATURES_N; i++)
        ASSERT(isfinite(f[i]));
    return 0;
}

TEST(router_length_orders_by_tokens) {
    char err[RL_ERRBUF_SIZE];
    struct rl_router *r = rl_router_load("length", NULL, err);
    ASSERT_NOT_NULL(r);
    ASSERT(rl_router_needs_text(r));
    ASSERT_EQ(rl_router_encoder_dim(r), 0);
    const char *texts[] = {"", "hi", "Explain recursion.",
                           "Write a proof, step by step, that "
                           "there are infinitely many primes."};
    double last = -1;
    for (size_t i = 0; i < RL_COUNTOF(texts); i++) {
        struct rl_prompt p = {texts[i], strlen(texts[i]), NULL};
        double s;
        ASSERT_OK(rl_router_score_prompt(r, NULL, &p, &s));
        ASSERT(s > last && s < 1);
        last = s;
    }
    // 64 tokens give one half.
    char text[256];
    for (int i = 0; i < 64; i++)
        memcpy(text + 2 * i, "w ", 2);
    text[128] = '\0';
    struct rl_prompt p = {text, strlen(text), NULL};
    struct rl_router_decision d;
    ASSERT_OK(rl_router_decide(r, NULL, &p, 0.5, &d));
    ASSERT(d.strong && d.p_strong == 0.5);
    // A router that reads the text cannot score an embedding alone.
    double s;
    ASSERT_EQ(rl_router_score(r, NULL, NULL, &s), RL_EINVAL);
    // Any pair of names.
    struct rl_router_pair pair;
    ASSERT_OK(rl_router_pair(r, "some-big-model", "some-small-model", &pair, err));
    rl_router_free(r);
    return 0;
}

// Battles in which the strong model wins exactly on prompts that hold a digit, with embeddings
// that carry nothing: only the features can tell the prompts apart.
TEST(train_mf_with_features) {
    enum { N = 200, D = 8 };
    struct rl_battles *b = rl_battles_new();
    ASSERT_NOT_NULL(b);
    float *emb = malloc((size_t)N * D * sizeof *emb);
    ASSERT_NOT_NULL(emb);
    for (int i = 0; i < N; i++) {
        char p[96];
        bool digit = i % 2 == 0;
        int n = digit ? snprintf(p, sizeof p, "compute 17 * %d + 3 for prompt %c%c", i,
                                 'a' + i % 26, 'a' + i / 26)
                      : snprintf(p, sizeof p, "describe a calm morning, version %c%c", 'a' + i % 26,
                                 'a' + i / 26);
        ASSERT_EQ(rl_battles_add(b, p, (size_t)n, "big", "small",
                                 digit ? RL_OUTCOME_A_WINS : RL_OUTCOME_B_WINS, 1, 0),
                  1);
        for (int d = 0; d < D; d++)
            emb[(size_t)(b->n_prompts - 1) * D + d] = d == 0 ? 1.0f : 0.0f;
    }
    const struct rl_router_kind *mf = rl_router_kind_find("mf", NULL);
    struct rl_train_params p = rl_train_params_default(mf);
    p.strong = "big";
    p.weak = "small";
    p.features = true;
    p.epochs = 40;
    p.noise = 0;
    p.lr = 3e-3;
    char path[256], err[RL_ERRBUF_SIZE];
    snprintf(path, sizeof path, "/tmp/rl_test_%ld_features.safetensors", (long)getpid());
    ASSERT_OK(rl_train(mf, b, emb, "toy-encoder", D, &p, path, err));
    // sw_ranking does not read features.
    ASSERT_EQ(
        rl_train(rl_router_kind_find("sw_ranking", NULL), b, emb, "toy-encoder", D, &p, path, err),
        RL_EINVAL);
    struct rl_router *r = rl_router_load(path, NULL, err);
    ASSERT_NOT_NULL(r);
    ASSERT(rl_router_needs_text(r));
    ASSERT_EQ(rl_router_encoder_dim(r), D);
    const float e[D] = {1};
    const char *m = "compute 17 * 999 + 3 for prompt zz",
               *q = "describe a calm morning, version zz";
    struct rl_prompt math = {m, strlen(m), e}, prose = {q, strlen(q), e};
    double pm, pp;
    ASSERT_OK(rl_router_score_prompt(r, NULL, &math, &pm));
    ASSERT_OK(rl_router_score_prompt(r, NULL, &prose, &pp));
    ASSERT(pm > 0.5 && pp < 0.5);
    ASSERT_EQ(rl_router_score(r, NULL, e, &pm), RL_EINVAL);
    rl_router_free(r);
    unlink(path);
    free(emb);
    rl_battles_free(b);
    return 0;
}

// Per-model scores in which the strong model is always right and the weak one only on prompts
// without a number: an irt router on the prompt features alone (no encoder) learns where the
// weak model fails, and scores those prompts higher.
TEST(train_irt_features_alone) {
    enum { N = 240 };
    struct rl_battles *b = rl_battles_new();
    ASSERT_NOT_NULL(b);
    for (int i = 0; i < N; i++) {
        char p[96];
        bool hard = i % 3 == 0;
        int n = hard ? snprintf(p, sizeof p, "compute 17 * %d + 3 for case %c%c", i, 'a' + i % 26,
                                'a' + i / 26)
                     : snprintf(p, sizeof p, "name a colour you like, case %c%c", 'a' + i % 26,
                                'a' + i / 26);
        ASSERT_EQ(rl_battles_add_cell(b, p, (size_t)n, "big", 1, 0), 1);
        ASSERT_EQ(rl_battles_add_cell(b, p, (size_t)n, "small", hard ? 0 : 1, 0), 1);
        ASSERT_EQ(rl_battles_add_cell(b, p, (size_t)n, "tiny", hard ? 0 : 0.5, 0), 1);
    }
    ASSERT_EQ(b->n, 0);
    ASSERT_EQ(b->n_cells, 3 * N);
    ASSERT_EQ(rl_battles_add_cell(b, "a prompt long enough to count", 29, "big", 1.5, 0),
              RL_EINVAL);
    const struct rl_router_kind *irt = rl_router_kind_find("irt", NULL);
    ASSERT(rl_router_kind_learns_cells(irt));
    struct rl_train_params p = rl_train_params_default(irt);
    p.strong = "big";
    p.weak = "small";
    char path[256], err[RL_ERRBUF_SIZE];
    snprintf(path, sizeof path, "/tmp/rl_test_%ld_irt.safetensors", (long)getpid());
    // Neither embeddings nor features: nothing to read.
    ASSERT_EQ(rl_train(irt, b, NULL, NULL, 0, &p, path, err), RL_EINVAL);
    p.features = true;
    ASSERT_OK(rl_train(irt, b, NULL, NULL, 0, &p, path, err));
    struct rl_router *r = rl_router_load(path, NULL, err);
    ASSERT_NOT_NULL(r);
    ASSERT_EQ(rl_router_encoder_dim(r), 0);
    ASSERT_EQ(rl_router_n_models(r), 3);
    const char *m = "compute 17 * 999 + 3 for case zz", *q = "name a colour you like, case zz";
    struct rl_prompt hard = {m, strlen(m), NULL}, easy = {q, strlen(q), NULL};
    double ph, pe, pt;
    ASSERT_OK(rl_router_score_prompt(r, NULL, &hard, &ph));
    ASSERT_OK(rl_router_score_prompt(r, NULL, &easy, &pe));
    ASSERT(ph > 0.7 && pe < 0.6 && pe >= 0.5);
    // Another pair of the same router: small over tiny on the easy prompt.
    struct rl_router_pair pair;
    ASSERT_OK(rl_router_pair(r, "small", "tiny", &pair, err));
    ASSERT_OK(rl_router_score_prompt(r, &pair, &easy, &pt));
    ASSERT(pt > 0.5);
    rl_router_free(r);
    unlink(path);
    rl_battles_free(b);
    return 0;
}
