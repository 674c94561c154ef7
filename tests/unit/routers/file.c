// Router files as untrusted input: each malformed piece of metadata or tensor is refused with a
// message naming the file and the problem.
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/core.h"
#include "core/safetensors.h"
#include "rl/battle.h"
#include "rl/router.h"
#include "routers/router_impl.h"
#include "test.h"

struct meta_case {
    const char *key[12]; // input: metadata keys (NULL ends)
    const char *value[12];
    const char *want; // output: part of the error
};

// One tensor of a test file: n_dims 1 (shape {d0}) or 2 (shape {d0, d1}).
static struct rl_tensor tensor(const char *name, enum rl_dtype dtype, int n_dims, int64_t d0,
                               int64_t d1, const void *data, size_t nbytes) {
    return (struct rl_tensor){.name = name,
                              .dtype = dtype,
                              .n_dims = n_dims,
                              .shape = {d0, d1},
                              .data = data,
                              .nbytes = nbytes};
}

static int write_router(const char *path, const char *const *keys, const char *const *values,
                        int d) {
    // A minimal valid MF router for 2 models, hidden 2, width d (tensor values are irrelevant).
    static float p[4] = {1, 0, 0, 1}, w1[2 * 8] = {0}, w2[2] = {1, 1};
    struct rl_tensor t[3] = {
        tensor("P.weight", RL_DTYPE_F32, 2, 2, 2, p, sizeof p),
        tensor("text_proj.0.weight", RL_DTYPE_F32, 2, 2, d, w1, 2 * (size_t)d * sizeof(float)),
        tensor("classifier.0.weight", RL_DTYPE_F32, 2, 1, 2, w2, sizeof w2),
    };
    const char *meta[32];
    int k = 0;
    for (int i = 0; keys[i]; i++) {
        meta[k++] = keys[i];
        meta[k++] = values[i];
    }
    meta[k] = NULL;
    return rl_safetensors_write(path, t, 3, meta, NULL);
}

#define GOOD_KEYS                                                                                  \
    "format", "format_version", "kind", "encoder", "encoder_dim", "models", "default_strong",      \
        "default_weak"

TEST(router_file_good_and_bad_metadata) {
    char path[256], err[RL_ERRBUF_SIZE];
    snprintf(path, sizeof path, "/tmp/rl_test_%ld_router.safetensors", (long)getpid());
    const char *keys[] = {GOOD_KEYS, NULL};
    const char *good[] = {"routellm-router", "1", "mf", "enc", "8", "[\"a\",\"b\"]", "a", "b"};
    ASSERT_OK(write_router(path, keys, good, 8));
    struct rl_router *r = rl_router_load(path, NULL, err);
    ASSERT_NOT_NULL(r);
    float e[8] = {1, 0, 0, 0, 0, 0, 0, 0};
    double p;
    ASSERT_OK(rl_router_score(r, NULL, e, &p));
    ASSERT_NEAR(p, 0.5, 1e-12); // W₁ is zero
    ASSERT_NULL(rl_router_meta(r, "hyper"));
    rl_router_free(r);

    static const struct {
        int key;           // input: which metadata value to replace
        const char *value; // input: the replacement
        const char *want;  // output: part of the error
    } cases[] = {
        {0, "something-else", "format 'something-else', expected 'routellm-router'"},
        {1, "2", "router format version 2, this build reads 1"},
        {2, "knn", "router kind 'knn' is not one this build reads"},
        {2, "random", "router kind 'random'"},
        {4, "-3", "encoder_dim '-3' is not a width"},
        {5, "[\"a\"]", "'models' must be a JSON list of 2"},
        {5, "not json", "'models' must be a JSON list"},
        {5, "[\"a\",\"a\"]", "model 'a' listed twice"},
        {5, "[\"a\",7]", "'models'[1] is not a model name"},
        {6, "zzz", "default pair 'zzz' / 'b' is not two listed models"},
        {7, "a", "default pair 'a' / 'a'"},
        {4, "16", "text_proj.0.weight"},
    };
    for (size_t i = 0; i < RL_COUNTOF(cases); i++) {
        const char *v[8];
        memcpy(v, good, sizeof v);
        v[cases[i].key] = cases[i].value;
        ASSERT_OK(write_router(path, keys, v, 8));
        err[0] = '\0';
        ASSERT_NULL(rl_router_load(path, NULL, err));
        ASSERT_STR_CONTAINS(err, cases[i].want);
        ASSERT_STR_CONTAINS(err, path);
    }
    // A missing key is named.
    for (int drop = 0; drop < 8; drop++) {
        const char *k2[9], *v2[9];
        int n = 0;
        for (int i = 0; i < 8; i++)
            if (i != drop) {
                k2[n] = keys[i];
                v2[n++] = good[i];
            }
        k2[n] = NULL;
        ASSERT_OK(write_router(path, k2, v2, 8));
        ASSERT_NULL(rl_router_load(path, NULL, err));
        ASSERT_STR_CONTAINS(err, keys[drop]);
    }
    unlink(path);
    ASSERT_NULL(rl_router_load("/nonexistent.safetensors", NULL, err));
    ASSERT_STR_CONTAINS(err, "/nonexistent.safetensors");
    return 0;
}

// Write a router file of the given kind, encoder "enc" of width dim, over models (a JSON list)
// whose first two are the default pair.
static int write_with_meta(const char *path, const struct rl_tensor *t, size_t n, const char *kind,
                           const char *dim, const char *models) {
    const char *meta[] = {"format",
                          "routellm-router",
                          "format_version",
                          "1",
                          "kind",
                          kind,
                          "encoder",
                          "enc",
                          "encoder_dim",
                          dim,
                          "models",
                          models,
                          "default_strong",
                          "a",
                          "default_weak",
                          "b",
                          NULL};
    return rl_safetensors_write(path, t, n, meta, NULL);
}

// An MF router over models a, b, c (default pair a / b), hidden 2, width 2, with the given P and
// W₁ (w₂ is ones).
static int write_mf3(const char *path, const float *p, const float *w1) {
    static const float w2[2] = {1, 1};
    struct rl_tensor t[3] = {
        tensor("P.weight", RL_DTYPE_F32, 2, 3, 2, p, 6 * sizeof(float)),
        tensor("text_proj.0.weight", RL_DTYPE_F32, 2, 2, 2, w1, 4 * sizeof(float)),
        tensor("classifier.0.weight", RL_DTYPE_F32, 2, 1, 2, w2, sizeof w2),
    };
    return write_with_meta(path, t, RL_COUNTOF(t), "mf", "2", "[\"a\",\"b\",\"c\"]");
}

// Found by fuzz/router_file.c: a NaN in the row of a model outside the default pair passed the
// load (only the default pair was checked) and gave p_strong = NaN for pairs with that model;
// finite but huge parameters can overflow a score the same way.

// A file stores the model names that were canonical when it was trained. A spelling the alias
// table has learnt since finds them: an older file's "claude-2" is today's "claude-2.0".
TEST(router_file_older_model_spellings) {
    char path[256], err[RL_ERRBUF_SIZE];
    snprintf(path, sizeof path, "/tmp/rl_test_%ld_spellings.safetensors", (long)getpid());
    const char *keys[] = {GOOD_KEYS, NULL};
    const char *v[] = {"routellm-router", "1",      "mf", "enc", "8", "[\"claude-2\",\"mixtral\"]",
                       "claude-2",        "mixtral"};
    ASSERT_OK(write_router(path, keys, v, 8));
    struct rl_router *r = rl_router_load(path, NULL, err);
    ASSERT_NOT_NULL(r);
    static const struct {
        const char *strong, *weak; // input
        int rc, s, w;              // output
    } cases[] = {
        {"claude-2", "mixtral", RL_OK, 0, 1},
        {"anthropic/claude-2.0", "mistralai/mixtral-8x7b-chat", RL_OK, 0, 1},
        {"bedrock/anthropic.claude-v2", "Mixtral-8x7B-Instruct-v0.1", RL_OK, 0, 1},
        {"mixtral-8x7b-instruct-v0.1", "claude-v2", RL_OK, 1, 0},
        {"claude-2.1", "mixtral", RL_EINVAL, 0, 0},
    };
    for (size_t i = 0; i < RL_COUNTOF(cases); i++) {
        struct rl_router_pair p = {-1, -1};
        ASSERT_EQ(rl_router_pair(r, cases[i].strong, cases[i].weak, &p, err), cases[i].rc);
        if (cases[i].rc == RL_OK) {
            ASSERT_EQ(p.strong, cases[i].s);
            ASSERT_EQ(p.weak, cases[i].w);
        }
    }
    ASSERT_STR_CONTAINS(err, "does not know the model 'claude-2.1'; it knows: claude-2, mixtral");
    rl_router_free(r);
    unlink(path);
    return 0;
}
TEST(router_file_mf_parameters_finite) {
    char path[256], err[RL_ERRBUF_SIZE];
    snprintf(path, sizeof path, "/tmp/rl_test_%ld_mf3.safetensors", (long)getpid());
    const float w1[4] = {1, 0, 0, 1};
    const float nan_row[6] = {1, 0, 0, 1, NAN, 0};
    ASSERT_OK(write_mf3(path, nan_row, w1));
    ASSERT_NULL(rl_router_load(path, NULL, err));
    ASSERT_STR_CONTAINS(err, "parameters are not finite");
    ASSERT_STR_CONTAINS(err, path);

    // a and b share a row (the default pair scores 0.5); c is a's opposite, so a / c overflows
    // to +inf in one dimension and -inf in the other.
    const float rows[6] = {1, 0, 1, 0, -1, 0}, big[4] = {3e38f, -3e38f, 0, 0};
    ASSERT_OK(write_mf3(path, rows, big));
    struct rl_router *r = rl_router_load(path, NULL, err);
    ASSERT_NOT_NULL(r);
    const float e[2] = {0.6f, 0.8f};
    double p = -1;
    ASSERT_OK(rl_router_score(r, NULL, e, &p));
    ASSERT_NEAR(p, 0.5, 1e-12);
    struct rl_router_pair pair;
    ASSERT_OK(rl_router_pair(r, "a", "c", &pair, err));
    ASSERT_EQ(rl_router_score(r, &pair, e, &p), RL_EFORMAT);
    rl_router_free(r);
    unlink(path);
    return 0;
}

// A sw_ranking router over a (tier 1) and b (tier 0), width 16, one stored prompt whose first
// fp16 component is half0 and whose battle has a win for a's tier.
static int write_swr1(const char *path, uint16_t half0) {
    static const int32_t tier[2] = {1, 0}, offsets[2] = {0, 1};
    static const float rating[2] = {1, 0}, gamma[1] = {10}, weight[2] = {0, 1};
    static const uint8_t cell[1] = {1};
    uint16_t emb[16] = {half0, 0x3c00};
    struct rl_tensor t[] = {
        tensor("model_tier", RL_DTYPE_I32, 1, 2, 0, tier, sizeof tier),
        tensor("model_rating", RL_DTYPE_F32, 1, 2, 0, rating, sizeof rating),
        tensor("gamma", RL_DTYPE_F32, 1, 1, 0, gamma, sizeof gamma),
        tensor("prompt_emb", RL_DTYPE_F16, 2, 1, 16, emb, sizeof emb),
        tensor("cell_offsets", RL_DTYPE_I32, 1, 2, 0, offsets, sizeof offsets),
        tensor("cell_index", RL_DTYPE_U8, 1, 1, 0, cell, sizeof cell),
        tensor("cell_weight", RL_DTYPE_F32, 2, 1, 2, weight, sizeof weight),
    };
    return write_with_meta(path, t, RL_COUNTOF(t), "sw_ranking", "16", "[\"a\",\"b\"]");
}

// A stored prompt embedding that is inf or NaN would make every similarity scan NaN; the load
// refuses it.
TEST(router_file_swr_embeddings_finite) {
    char path[256], err[RL_ERRBUF_SIZE];
    snprintf(path, sizeof path, "/tmp/rl_test_%ld_swr1.safetensors", (long)getpid());
    ASSERT_OK(write_swr1(path, 0x3c00)); // 1.0
    struct rl_router *r = rl_router_load(path, NULL, err);
    ASSERT_NOT_NULL(r);
    float e[16] = {1};
    double p = -1;
    ASSERT_OK(rl_router_score(r, NULL, e, &p));
    ASSERT(p >= 0 && p <= 1);
    rl_router_free(r);
    static const uint16_t bad[] = {0x7c00, 0xfc00, 0x7e00}; // +inf, -inf, NaN
    for (size_t i = 0; i < RL_COUNTOF(bad); i++) {
        ASSERT_OK(write_swr1(path, bad[i]));
        ASSERT_NULL(rl_router_load(path, NULL, err));
        ASSERT_STR_CONTAINS(err, "prompt_emb is not finite");
    }
    unlink(path);
    return 0;
}

// Training-prompt lists: equal lists give equal bytes (the digest in the router file must not
// depend on the time of writing), bytes that are not UTF-8 survive as U+FFFD, the reference is
// relative to the router's folder when it can be, and the reader checks the digest.
TEST(router_train_prompts_list) {
    char dir[] = "/tmp/rl_train_prompts_XXXXXX", sub[128], a[160], b[160], router[160];
    ASSERT_NOT_NULL(mkdtemp(dir));
    snprintf(sub, sizeof sub, "%s/lists", dir);
    ASSERT_EQ(mkdir(sub, 0700), 0);
    snprintf(a, sizeof a, "%s/a.jsonl.gz", dir);
    snprintf(b, sizeof b, "%s/b.jsonl.gz", sub);
    snprintf(router, sizeof router, "%s/r.safetensors", dir);
    const char *texts[] = {"first prompt, \"quoted\"\nwith a new line", "bad byte \xff here"};
    char sha_a[65], sha_b[65], ref[256];
    ASSERT_OK(rl__train_prompts_write(a, texts, 2, sha_a, NULL));
    ASSERT_OK(rl__train_prompts_write(b, texts, 2, sha_b, NULL));
    ASSERT_STR_EQ(sha_a, sha_b);
    ASSERT_OK(rl__train_prompts_ref(router, a, ref, sizeof ref, NULL));
    ASSERT_STR_EQ(ref, "a.jsonl.gz");
    ASSERT_OK(rl__train_prompts_ref(router, b, ref, sizeof ref, NULL));
    ASSERT_STR_EQ(ref, "lists/b.jsonl.gz");
    ASSERT_OK(rl__train_prompts_ref(b, a, ref, sizeof ref, NULL));
    ASSERT(ref[0] == '/' && strstr(ref, "/a.jsonl.gz"));

    // A router file naming the list: read back through the library, then with a wrong digest.
    const char *keys[] = {
        "format", "format_version", "kind",         "encoder",       "encoder_dim",
        "models", "default_strong", "default_weak", "train_prompts", "train_prompts_sha256",
        NULL};
    const char *values[] = {"routellm-router",  "1",  "mf", "enc", "8", "[\"a\",\"b\"]", "a", "b",
                            "lists/b.jsonl.gz", sha_b};
    ASSERT_OK(write_router(router, keys, values, 8));
    char err[RL_ERRBUF_SIZE] = "";
    struct rl_texts got;
    struct rl_router *r = rl_router_load(router, NULL, err);
    ASSERT_NOT_NULL(r);
    ASSERT_OK(rl_router_train_prompts_load(r, &got, err));
    ASSERT_EQ(got.n, 2);
    ASSERT_STR_EQ(got.items[0], texts[0]);
    ASSERT_STR_EQ(got.items[1], "bad byte \xef\xbf\xbd here");
    rl_texts_free(&got);
    rl_router_free(r);
    values[9] = "0000000000000000000000000000000000000000000000000000000000000000";
    ASSERT_OK(write_router(router, keys, values, 8));
    r = rl_router_load(router, NULL, err);
    ASSERT_NOT_NULL(r);
    ASSERT(rl_router_train_prompts_load(r, &got, err) < 0);
    ASSERT_NULL(got.items);
    ASSERT_STR_CONTAINS(err, "lists/b.jsonl.gz changed since the router was trained");
    rl_router_free(r);
    keys[8] = NULL; // a file that lists none
    ASSERT_OK(write_router(router, keys, values, 8));
    r = rl_router_load(router, NULL, err);
    ASSERT_NOT_NULL(r);
    ASSERT_OK(rl_router_train_prompts_load(r, &got, err));
    ASSERT_EQ(got.n, 0);
    rl_router_free(r);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ASSERT_EQ(system(cmd), 0);
    return 0;
}
