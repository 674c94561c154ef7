// Fuzz target: the .npy reader (rl_npy_read_f32) and the embedding cache's shard loader
// (rl_embcache_open), which reads each shard's .keys file and its .npy. The first input byte
// picks the reader (bit 0) and, for the cache, its width (bits 1-2: 1, 2, 4 or 8); for the cache
// the second byte k splits the rest: its first 11 + 16·k bytes are the .keys file, the remainder
// the .npy. What is read is touched in full and looked up.
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <sys/stat.h>

#include "core/npy.h"
#include "fuzz.h"
#include "rl/embcache.h"

static void write_file(const char *path, const uint8_t *data, size_t size) {
    FILE *f = fopen(path, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0)
        abort();
}

static void fuzz_npy(const uint8_t *data, size_t size) {
    char err[RL_ERRBUF_SIZE];
    float *v;
    size_t rows, cols;
    if (rl_npy_read_f32(fuzz_file(data, size, ".npy"), &v, &rows, &cols, err) != RL_OK)
        return;
    float sum = 0;
    for (size_t i = 0; i < rows * cols; i++)
        sum += v[i];
    fuzz_sink ^= (uint8_t)(sum > 0);
    free(v);
}

static void fuzz_cache(size_t dim, const uint8_t *data, size_t size) {
    if (size < 1)
        return;
    size_t n_keys = 11 + 16 * (size_t)data[0];
    data++, size--;
    if (n_keys > size)
        n_keys = size;
    char root[128], enc[160], keys[200], npy[200];
    snprintf(root, sizeof root, "%s", fuzz_dir("cache"));
    snprintf(enc, sizeof enc, "%s/enc", root);
    snprintf(keys, sizeof keys, "%s/0001.keys", enc);
    snprintf(npy, sizeof npy, "%s/0001.npy", enc);
    if (mkdir(enc, 0700) != 0 && errno != EEXIST)
        abort();
    write_file(keys, data, n_keys);
    write_file(npy, data + n_keys, size - n_keys);
    char err[RL_ERRBUF_SIZE];
    struct rl_embcache *c = rl_embcache_open(root, "enc", dim, err);
    if (!c)
        return;
    // The texts of the seeds: "a", "b" and "hello".
    static const char *const texts[] = {"a", "b", "hello", "missing"};
    float out[4 * 8];
    bool found[4];
    size_t hits = rl_embcache_lookup(c, texts, 4, out, found);
    if (hits > rl_embcache_size(c) || rl_embcache_dim(c) != dim)
        abort();
    float sum = 0;
    for (size_t i = 0; i < 4; i++)
        for (size_t k = 0; found[i] && k < dim; k++)
            sum += out[i * dim + k];
    fuzz_sink ^= (uint8_t)(sum > 0);
    rl_embcache_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    if (data[0] & 1)
        fuzz_cache(1 << ((data[0] >> 1) & 3), data + 1, size - 1);
    else
        fuzz_npy(data + 1, size - 1);
    return 0;
}
