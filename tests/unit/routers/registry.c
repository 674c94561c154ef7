// The registry of router kinds: every entry complete, names unique, lookup by name.
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
        // A trained kind writes files that name their encoder.
        if (k->train)
            ASSERT(k->load && k->needs_encoder);
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
        {"random", false, true, false, true},
        {"mf", true, false, true, false},
        {"sw_ranking", true, false, true, false},
        {"bert", true, false, true, false},
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
    char err[RL_ERRBUF_SIZE] = "";
    ASSERT_NULL(rl_router_kind_find("causal_llm", err));
    ASSERT_STR_CONTAINS(err, "unknown router kind 'causal_llm'; the kinds are random, mf");
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
