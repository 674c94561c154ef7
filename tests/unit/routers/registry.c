// The registry of router kinds (every entry complete, names unique, lookup by name) and the
// routing decision (strong when p_strong >= the threshold; the chosen model named).
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"
#include "core/safetensors.h"
#include "rl/battle.h"
#include "rl/router.h"
#include "rl/train.h"
#include "routers/router_impl.h"
#include "test.h"

TEST(router_registry_entries_complete) {
    size_t n = rl_router_kind_count();
    ASSERT(n >= 4);
    ASSERT_NULL(rl_router_kind_at(n));
    for (size_t i = 0; i < n; i++) {
        const struct rl_router_kind *k = rl_router_kind_at(i);
        ASSERT_NOT_NULL(k);
        ASSERT(k->name && *k->name);
        ASSERT_NOT_NULL(k->score);
        ASSERT_NOT_NULL(k->free);
        // A router comes from a file or is built, never both.
        ASSERT_EQ(!k->load + !k->build, 1);
        ASSERT_EQ(rl_router_kind_builtin(k), k->build != NULL);
        ASSERT_EQ(rl_router_kind_trainable(k), k->train != NULL);
        // A trained kind writes files; those of a kind that needs the encoder name it.
        if (k->train)
            ASSERT_NOT_NULL(k->load);
        ASSERT(!k->train_defaults || k->train);
        for (size_t j = 0; j < i; j++)
            ASSERT(strcmp(k->name, rl_router_kind_at(j)->name) != 0);
        ASSERT(rl_router_kind_find(k->name, NULL) == k);
        ASSERT_STR_EQ(rl_router_kind_name(k), k->name);
    }
    return 0;
}

TEST(router_registry_lookup) {
    static const struct {
        const char *name; // input
        bool encoder;     // output: needs the encoder
        bool any_pair;    // output: accepts any model names
        bool trainable;   // output
        bool builtin;     // output
    } cases[] = {
        {"random", false, true, false, true}, {"length", false, true, false, true},
        {"mf", true, false, true, false},     {"sw_ranking", true, false, true, false},
        {"bert", true, false, true, false},   {"irt", false, false, true, false},
    };
    for (size_t i = 0; i < RL_COUNTOF(cases); i++) {
        const struct rl_router_kind *k = rl_router_kind_find(cases[i].name, NULL);
        ASSERT_NOT_NULL(k);
        ASSERT_EQ(rl_router_kind_needs_encoder(k), cases[i].encoder);
        ASSERT_EQ(rl_router_kind_any_pair(k), cases[i].any_pair);
        ASSERT_EQ(rl_router_kind_trainable(k), cases[i].trainable);
        ASSERT_EQ(rl_router_kind_builtin(k), cases[i].builtin);
        ASSERT(rl_router_kind_shipped(k));
    }
    // causal_llm reads an LM's hidden states and ships no default router.
    const struct rl_router_kind *lm = rl_router_kind_find("causal_llm", NULL);
    ASSERT_NOT_NULL(lm);
    ASSERT(rl_router_kind_needs_encoder(lm) && rl_router_kind_trainable(lm));
    ASSERT(!rl_router_kind_shipped(lm) && !rl_router_kind_builtin(lm) &&
           !rl_router_kind_any_pair(lm));
    char err[RL_ERRBUF_SIZE] = "";
    ASSERT_NULL(rl_router_kind_find("knn", err));
    ASSERT_STR_CONTAINS(err, "unknown router kind 'knn'; the kinds are random, length, mf");
    ASSERT_NULL(rl_router_kind_find("MF", NULL)); // names are exact
    ASSERT_NULL(rl_router_kind_find(NULL, err));
    ASSERT_STR_EQ(rl_router_kind_name(NULL), "unknown");
    return 0;
}

TEST(router_registry_default_files) {
    char path[64];
    const struct rl_router_kind *mf = rl_router_kind_find("mf", NULL);
    ASSERT_OK(rl_router_kind_file(mf, "/home/x", path, sizeof path));
    ASSERT_STR_EQ(path, "/home/x/routers/mf.safetensors");
    ASSERT_EQ(rl_router_kind_file(mf, "/home/x", path, 10), RL_ETOOBIG);
    ASSERT_EQ(rl_router_kind_file(rl_router_kind_find("random", NULL), "/h", path, sizeof path),
              RL_EINVAL);
    char err[RL_ERRBUF_SIZE];
    struct rl_router *r = rl_router_load("random", NULL, err);
    ASSERT_NOT_NULL(r);
    ASSERT(rl_router_kind(r) == rl_router_kind_find("random", NULL));
    rl_router_free(r);
    return 0;
}

TEST(router_registry_train_defaults) {
    struct rl_train_params common = rl_train_params_default(NULL);
    struct rl_train_params mf = rl_train_params_default(rl_router_kind_find("mf", NULL));
    struct rl_train_params bert = rl_train_params_default(rl_router_kind_find("bert", NULL));
    ASSERT_EQ(memcmp(&common, &mf, sizeof mf), 0);
    ASSERT_EQ(common.epochs, 10);
    ASSERT_EQ(bert.epochs, 20);
    ASSERT_EQ(bert.hidden, 256);
    ASSERT_NEAR(bert.lr, 1e-3, 0);
    return 0;
}

// ----------------------------------------------------------------------------
// Decisions

TEST(router_decide_boundary_goes_strong) {
    ASSERT(rl_router_goes_strong(0.25, 0.25));
    ASSERT(rl_router_goes_strong(0.3, 0.25));
    ASSERT(!rl_router_goes_strong(nextafter(0.25, 0), 0.25));
    ASSERT(rl_router_goes_strong(0, 0));
    ASSERT(!rl_router_goes_strong(0.999, 1));
    // Two random routers with one seed draw the same sequence: the second decides on the very
    // score the first one gave, at a threshold equal to it and just above it.
    struct rl_router *a = rl_router_random_new(11), *b = rl_router_random_new(11);
    ASSERT_NOT_NULL(a);
    ASSERT_NOT_NULL(b);
    for (int i = 0; i < 100; i++) {
        double p;
        ASSERT_OK(rl_router_score(a, NULL, NULL, &p));
        double threshold = i % 2 ? p : nextafter(p, 2);
        struct rl_router_decision d;
        const struct rl_prompt none = {0};
        ASSERT_OK(rl_router_decide(b, NULL, &none, threshold, &d));
        ASSERT(d.p_strong == p);
        ASSERT_EQ(d.strong, i % 2);
        ASSERT_EQ(d.model, i % 2 ? 0 : 1);
        ASSERT_STR_EQ(d.name, i % 2 ? RL_MODEL_DEFAULT_STRONG : RL_MODEL_DEFAULT_WEAK);
    }
    rl_router_free(a);
    rl_router_free(b);
    return 0;
}

static struct rl_tensor f32_matrix(const char *name, int64_t rows, int64_t cols,
                                   const float *data) {
    return (struct rl_tensor){.name = name,
                              .dtype = RL_DTYPE_F32,
                              .n_dims = 2,
                              .shape = {rows, cols},
                              .data = data,
                              .nbytes = (size_t)(rows * cols) * sizeof *data};
}

// An mf router over three models whose scores follow the pair asked for.
static struct rl_router *three_model_mf(const char *path) {
    enum { H = 2, D = 4 };
    static const char *const models[] = {"alpha", "beta", "gamma"};
    static const float p[3 * H] = {1, 0, 0, 1, 1, 1}, w1[H * D] = {1, 0, 0, 0, 0, 1, 0, 0};
    static const float w2[H] = {1, -1};
    const struct rl_tensor t[] = {
        f32_matrix("P.weight", 3, H, p),
        f32_matrix("text_proj.0.weight", H, D, w1),
        f32_matrix("classifier.0.weight", 1, H, w2),
    };
    struct rl_router_meta m = {.kind = rl_router_kind_find("mf", NULL),
                               .encoder = "enc",
                               .encoder_dim = D,
                               .models = models,
                               .n_models = 3,
                               .strong = 0,
                               .weak = 1};
    char err[RL_ERRBUF_SIZE];
    if (rl__router_write(path, &m, t, RL_COUNTOF(t), err) != RL_OK)
        return NULL;
    return rl_router_load(path, NULL, err);
}

TEST(router_decide_names_the_pair) {
    char path[128];
    snprintf(path, sizeof path, "/tmp/rl_test_%ld_decide.safetensors", (long)getpid());
    struct rl_router *r = three_model_mf(path);
    ASSERT_NOT_NULL(r);
    char err[RL_ERRBUF_SIZE];
    struct rl_router_pair pair;
    ASSERT_OK(rl_router_pair(r, "gamma", "alpha", &pair, err));
    const float e[4] = {0.5f, -0.25f, 0, 0};
    const struct rl_prompt pe = {"a prompt", 8, e}, no_emb = {"a prompt", 8, NULL};
    double p;
    ASSERT_OK(rl_router_score(r, &pair, e, &p));
    ASSERT(p > 0 && p < 1);
    struct rl_router_decision d;
    ASSERT_OK(rl_router_decide(r, &pair, &pe, p, &d));
    ASSERT(d.strong && d.p_strong == p);
    ASSERT_EQ(d.model, 2);
    ASSERT_STR_EQ(d.name, "gamma");
    ASSERT_OK(rl_router_decide(r, &pair, &pe, nextafter(p, 2), &d));
    ASSERT(!d.strong);
    ASSERT_EQ(d.model, 0);
    ASSERT_STR_EQ(d.name, "alpha");
    // No pair: the file's default pair, alpha over beta.
    ASSERT_OK(rl_router_decide(r, NULL, &pe, 0, &d));
    ASSERT_STR_EQ(d.name, "alpha");
    ASSERT_OK(rl_router_decide(r, NULL, &pe, 1.5, &d));
    ASSERT_STR_EQ(d.name, "beta");
    // A scoring error leaves the decision untouched.
    d.model = -7;
    ASSERT_EQ(rl_router_decide(r, &pair, &no_emb, 0.5, &d), RL_EINVAL);
    ASSERT_EQ(d.model, -7);
    rl_router_free(r);
    unlink(path);
    return 0;
}
