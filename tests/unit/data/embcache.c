// The embedding cache: stored rows come back bit-exact after reopening, each distinct text is
// embedded once, shards written by another process are picked up, and bad shards are named.
#include <stdlib.h>
#include <unistd.h>

#include "core/core.h"
#include "rl/embcache.h"
#include "rl/encoder.h"
#include "test.h"

static void tmp_dir(char *out, size_t n, const char *name) {
    snprintf(out, n, "/tmp/rl_test_%ld_%s", (long)getpid(), name);
}

static void rm_rf(const char *dir) {
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "  could not remove %s\n", dir);
}

TEST(embcache_put_lookup_reopen) {
    char root[256], err[RL_ERRBUF_SIZE] = "";
    tmp_dir(root, sizeof root, "embcache1");
    struct rl_embcache *c = rl_embcache_open(root, "enc-a", 4, err);
    ASSERT_NOT_NULL(c);
    ASSERT_EQ(rl_embcache_size(c), 0);
    const char *texts[3] = {"alpha", "beta", "gamma"};
    float emb[12];
    for (int i = 0; i < 12; i++)
        emb[i] = (float)i / 7;
    ASSERT_OK(rl_embcache_put(c, texts, 2, emb, err));
    float out[12] = {0};
    bool found[3];
    ASSERT_EQ(rl_embcache_lookup(c, texts, 3, out, found), 2);
    ASSERT(found[0] && found[1] && !found[2]);
    ASSERT(memcmp(out, emb, 8 * sizeof(float)) == 0);
    // Without an encoder a missing text is an error that says so.
    ASSERT_EQ(rl_embcache_get(c, NULL, texts, 3, out, NULL, NULL, err), RL_EINVAL);
    ASSERT_STR_CONTAINS(err, "1 texts are not cached");
    ASSERT_EQ(rl_embcache_get(c, NULL, texts, 2, out, NULL, NULL, err), 0);
    rl_embcache_free(c);

    // Another cache object (another process) adds a shard; a reopen sees both.
    struct rl_embcache *c2 = rl_embcache_open(root, "enc-a", 4, err);
    ASSERT_NOT_NULL(c2);
    ASSERT_EQ(rl_embcache_size(c2), 2);
    ASSERT_OK(rl_embcache_put(c2, texts + 2, 1, emb + 8, err));
    rl_embcache_free(c2);
    c = rl_embcache_open(root, "enc-a", 4, err);
    ASSERT_NOT_NULL(c);
    ASSERT_EQ(rl_embcache_lookup(c, texts, 3, out, found), 3);
    ASSERT(memcmp(out, emb, sizeof emb) == 0);
    rl_embcache_free(c);

    // Another encoder has its own folder; a width mismatch with existing shards is refused.
    c = rl_embcache_open(root, "enc-b", 4, err);
    ASSERT_NOT_NULL(c);
    ASSERT_EQ(rl_embcache_size(c), 0);
    rl_embcache_free(c);
    ASSERT_NULL(rl_embcache_open(root, "enc-a", 8, err));
    ASSERT_STR_CONTAINS(err, "expected 2 × 8");
    ASSERT_NULL(rl_embcache_open(root, "../escape", 4, err));
    rm_rf(root);
    return 0;
}

TEST(embcache_bad_key_file) {
    char root[256], path[512], err[RL_ERRBUF_SIZE] = "";
    tmp_dir(root, sizeof root, "embcache2");
    struct rl_embcache *c = rl_embcache_open(root, "enc", 4, err);
    ASSERT_NOT_NULL(c);
    rl_embcache_free(c);
    snprintf(path, sizeof path, "%s/enc/broken.keys", root);
    ASSERT_OK(rl_file_write(path, "not a key file", 14, err));
    ASSERT_NULL(rl_embcache_open(root, "enc", 4, err));
    ASSERT_STR_CONTAINS(err, "broken.keys: not an embedding-cache key file");
    rm_rf(root);
    return 0;
}

struct counter {
    size_t calls, last;
};

static void count(void *ctx, size_t done, size_t total) {
    struct counter *k = ctx;
    k->calls++;
    k->last = done;
    (void)total;
}

TEST(embcache_embeds_each_text_once) {
    char root[256], err[RL_ERRBUF_SIZE] = "";
    tmp_dir(root, sizeof root, "embcache3");
    struct rl_encoder *enc = rl_encoder_open(RL_TEST_MODEL, err);
    ASSERT_NOT_NULL(enc);
    const size_t D = rl_encoder_dim(enc);
    struct rl_embcache *c = rl_embcache_open(root, rl_encoder_name(enc), D, err);
    ASSERT_NOT_NULL(c);
    const char *texts[4] = {"How do I bake bread?", "What is 2 + 2?", "How do I bake bread?",
                            "Name three primes."};
    float *out = malloc(4 * (size_t)D * sizeof *out), *direct = malloc((size_t)D * sizeof *direct);
    struct counter k = {0};
    ASSERT_EQ(rl_embcache_get(c, enc, texts, 4, out, count, &k, err), 3);
    ASSERT_EQ(k.last, 3);
    ASSERT(memcmp(out, out + 2 * D, (size_t)D * sizeof *out) == 0);
    ASSERT_OK(rl_encoder_embed(enc, texts + 3, 1, direct, err));
    ASSERT(memcmp(out + 3 * D, direct, (size_t)D * sizeof *out) == 0);
    ASSERT_EQ(rl_embcache_get(c, enc, texts, 4, out, NULL, NULL, err), 0);
    rl_embcache_free(c);
    rl_encoder_free(enc);
    free(out);
    free(direct);
    rm_rf(root);
    return 0;
}
