// The on-disk embedding cache (include/rl/embcache.h). Shards are loaded whole at open into one
// table; lookups hash the text with SHA-256 and probe an open-addressing index. The cache never
// deletes or rewrites a shard; it does not evict.
#include <dirent.h>
#include <errno.h>
#include <openssl/sha.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/core.h"
#include "core/npy.h"
#include "rl/embcache.h"

#define KEY_BYTES      16
#define KEYS_MAGIC     "RLEMBKEYS1\n"
#define KEYS_MAGIC_N   11
#define EMBED_BATCH    64
#define SHARD_ROWS     2048
#define MAX_SHARD_ROWS (1u << 26)

struct rl_embcache {
    char dir[4096];
    size_t dim;
    size_t n, cap;
    unsigned char *keys; // (cap, KEY_BYTES)
    float *emb;          // (cap, dim)
    uint32_t *slots;     // (n_slots) row + 1, 0 = empty
    size_t n_slots;
};

static void text_key(const char *text, unsigned char key[KEY_BYTES]) {
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)text, strlen(text), md);
    memcpy(key, md, KEY_BYTES);
}

static size_t key_slot(const unsigned char *key, size_t n_slots) {
    uint64_t h;
    memcpy(&h, key, sizeof h);
    return (size_t)(h & (n_slots - 1));
}

static long find_row(const struct rl_embcache *c, const unsigned char *key) {
    if (!c->n_slots)
        return -1;
    size_t j = key_slot(key, c->n_slots);
    while (c->slots[j]) {
        uint32_t row = c->slots[j] - 1;
        if (memcmp(c->keys + (size_t)row * KEY_BYTES, key, KEY_BYTES) == 0)
            return row;
        j = (j + 1) & (c->n_slots - 1);
    }
    return -1;
}

static int rehash(struct rl_embcache *c, size_t want) {
    size_t n_slots = 1024;
    while (n_slots < 2 * want)
        n_slots *= 2;
    if (n_slots <= c->n_slots)
        return RL_OK;
    uint32_t *slots = calloc(n_slots, sizeof *slots);
    if (!slots)
        return RL_ENOMEM;
    for (size_t r = 0; r < c->n; r++) {
        size_t j = key_slot(c->keys + r * KEY_BYTES, n_slots);
        while (slots[j])
            j = (j + 1) & (n_slots - 1);
        slots[j] = (uint32_t)(r + 1);
    }
    free(c->slots);
    c->slots = slots;
    c->n_slots = n_slots;
    return RL_OK;
}

// Append rows (skipping keys already present); the caller has checked the sizes.
static int add_rows(struct rl_embcache *c, const unsigned char *keys, const float *emb, size_t n) {
    if (c->n + n > UINT32_MAX - 1)
        return RL_ETOOBIG;
    if (c->n + n > c->cap) {
        size_t cap = c->cap ? c->cap : 1024;
        while (cap < c->n + n)
            cap *= 2;
        unsigned char *k = realloc(c->keys, cap * KEY_BYTES);
        if (!k)
            return RL_ENOMEM;
        c->keys = k;
        float *e = realloc(c->emb, cap * c->dim * sizeof *e);
        if (!e)
            return RL_ENOMEM;
        c->emb = e;
        c->cap = cap;
    }
    if (rehash(c, c->n + n) != RL_OK)
        return RL_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const unsigned char *key = keys + i * KEY_BYTES;
        if (find_row(c, key) >= 0)
            continue;
        memcpy(c->keys + c->n * KEY_BYTES, key, KEY_BYTES);
        memcpy(c->emb + c->n * c->dim, emb + i * c->dim, c->dim * sizeof *emb);
        size_t j = key_slot(key, c->n_slots);
        while (c->slots[j])
            j = (j + 1) & (c->n_slots - 1);
        c->slots[j] = (uint32_t)(c->n + 1);
        c->n++;
    }
    return RL_OK;
}

// ----------------------------------------------------------------------------
// Shards

static int load_shard(struct rl_embcache *c, const char *keys_path, char *errbuf) {
    char npy_path[4200];
    size_t n = strlen(keys_path);
    snprintf(npy_path, sizeof npy_path, "%.*s.npy", (int)(n - 5), keys_path);
    char *kdata = NULL;
    size_t klen = 0;
    float *emb = NULL;
    size_t rows = 0, cols = 0;
    int rc = rl_file_read(keys_path, KEYS_MAGIC_N + (size_t)MAX_SHARD_ROWS * KEY_BYTES, &kdata,
                          &klen, errbuf);
    if (rc != RL_OK)
        return rc;
    if (klen < KEYS_MAGIC_N || memcmp(kdata, KEYS_MAGIC, KEYS_MAGIC_N) != 0 ||
        (klen - KEYS_MAGIC_N) % KEY_BYTES != 0) {
        rc = rl__errf(errbuf, RL_EFORMAT, "%s: not an embedding-cache key file", keys_path);
        goto done;
    }
    rc = rl_npy_read_f32(npy_path, &emb, &rows, &cols, errbuf);
    if (rc != RL_OK)
        goto done;
    if (cols != c->dim || rows != (klen - KEYS_MAGIC_N) / KEY_BYTES) {
        rc = rl__errf(errbuf, RL_EFORMAT, "%s: %zu × %zu embeddings, expected %zu × %zu", npy_path,
                      rows, cols, (klen - KEYS_MAGIC_N) / KEY_BYTES, c->dim);
        goto done;
    }
    rc = add_rows(c, (const unsigned char *)kdata + KEYS_MAGIC_N, emb, rows);
    if (rc != RL_OK)
        rl__errf(errbuf, rc, "%s: %s", npy_path, rl_strerror(rc));
done:
    free(kdata);
    free(emb);
    return rc;
}

static int mkdir_p(const char *path, char *errbuf) {
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0777) != 0 && errno != EEXIST)
            return rl__errf(errbuf, RL_EIO, "%s: cannot create: %s", tmp, strerror(errno));
        *p = '/';
    }
    if (mkdir(tmp, 0777) != 0 && errno != EEXIST)
        return rl__errf(errbuf, RL_EIO, "%s: cannot create: %s", tmp, strerror(errno));
    return RL_OK;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

struct rl_embcache *rl_embcache_open(const char *root, const char *encoder_name, size_t dim,
                                     char *errbuf) {
    if (dim == 0 || dim > 65536 || !encoder_name || !*encoder_name || strchr(encoder_name, '/')) {
        rl__errf(errbuf, RL_EINVAL, "embedding cache: bad encoder name or width");
        return NULL;
    }
    struct rl_embcache *c = calloc(1, sizeof *c);
    if (!c) {
        rl__errf(errbuf, RL_ENOMEM, "embedding cache: out of memory");
        return NULL;
    }
    c->dim = dim;
    char **names = NULL;
    size_t n_names = 0;
    DIR *d = NULL;
    if (rl_path_join(c->dir, sizeof c->dir, root, encoder_name) != RL_OK) {
        rl__errf(errbuf, RL_ETOOBIG, "%s: path too long", root);
        goto fail;
    }
    if (mkdir_p(c->dir, errbuf) != RL_OK)
        goto fail;
    d = opendir(c->dir);
    if (!d) {
        rl__errf(errbuf, RL_EIO, "%s: cannot list: %s", c->dir, strerror(errno));
        goto fail;
    }
    // Shards are loaded in name order (their names start with a timestamp), so a text stored
    // twice by racing writers resolves to the same row on every open.
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 6 || strcmp(e->d_name + len - 5, ".keys") != 0)
            continue;
        char **nn = realloc(names, (n_names + 1) * sizeof *nn);
        if (!nn)
            goto oom;
        names = nn;
        names[n_names] = strdup(e->d_name);
        if (!names[n_names])
            goto oom;
        n_names++;
    }
    closedir(d);
    d = NULL;
    if (n_names > 1)
        qsort(names, n_names, sizeof *names, cmp_str);
    for (size_t i = 0; i < n_names; i++) {
        char path[4400];
        snprintf(path, sizeof path, "%s/%s", c->dir, names[i]);
        if (load_shard(c, path, errbuf) != RL_OK)
            goto fail;
    }
    for (size_t i = 0; i < n_names; i++)
        free(names[i]);
    free(names);
    return c;
oom:
    rl__errf(errbuf, RL_ENOMEM, "embedding cache: out of memory");
fail:
    if (d)
        closedir(d);
    for (size_t i = 0; i < n_names; i++)
        free(names[i]);
    free(names);
    rl_embcache_free(c);
    return NULL;
}

void rl_embcache_free(struct rl_embcache *c) {
    if (!c)
        return;
    free(c->keys);
    free(c->emb);
    free(c->slots);
    free(c);
}

size_t rl_embcache_size(const struct rl_embcache *c) {
    return c->n;
}

size_t rl_embcache_dim(const struct rl_embcache *c) {
    return c->dim;
}

size_t rl_embcache_lookup(const struct rl_embcache *c, const char *const *texts, size_t n,
                          float *out, bool *found) {
    size_t hits = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char key[KEY_BYTES];
        text_key(texts[i], key);
        long row = find_row(c, key);
        found[i] = row >= 0;
        if (row >= 0) {
            memcpy(out + i * c->dim, c->emb + (size_t)row * c->dim, c->dim * sizeof *out);
            hits++;
        }
    }
    return hits;
}

// Write keys + embeddings as a new shard; the .keys file goes last, so a shard whose .keys
// exists is complete.
static int write_shard(struct rl_embcache *c, const unsigned char *keys, const float *emb, size_t n,
                       char *errbuf) {
    char base[4400], path[4500];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(base, sizeof base, "%s/%010lld-%09ld-%ld", c->dir, (long long)ts.tv_sec, ts.tv_nsec,
             (long)getpid());
    snprintf(path, sizeof path, "%s.npy", base);
    int rc = rl_npy_write_f32(path, emb, n, c->dim, errbuf);
    if (rc != RL_OK)
        return rc;
    size_t klen = KEYS_MAGIC_N + n * KEY_BYTES;
    unsigned char *kbuf = malloc(klen);
    if (!kbuf)
        return rl__errf(errbuf, RL_ENOMEM, "embedding cache: out of memory");
    memcpy(kbuf, KEYS_MAGIC, KEYS_MAGIC_N);
    memcpy(kbuf + KEYS_MAGIC_N, keys, n * KEY_BYTES);
    snprintf(path, sizeof path, "%s.keys", base);
    rc = rl_file_write(path, kbuf, klen, errbuf);
    free(kbuf);
    return rc;
}

int rl_embcache_put(struct rl_embcache *c, const char *const *texts, size_t n, const float *emb,
                    char *errbuf) {
    if (n == 0)
        return RL_OK;
    if (n > MAX_SHARD_ROWS)
        return rl__errf(errbuf, RL_ETOOBIG, "embedding cache: more than %u rows at once",
                        MAX_SHARD_ROWS);
    unsigned char *keys = malloc(n * KEY_BYTES);
    if (!keys)
        return rl__errf(errbuf, RL_ENOMEM, "embedding cache: out of memory");
    for (size_t i = 0; i < n; i++)
        text_key(texts[i], keys + i * KEY_BYTES);
    int rc = write_shard(c, keys, emb, n, errbuf);
    if (rc == RL_OK) {
        rc = add_rows(c, keys, emb, n);
        if (rc != RL_OK)
            rl__errf(errbuf, rc, "embedding cache: %s", rl_strerror(rc));
    }
    free(keys);
    return rc;
}

long rl_embcache_get(struct rl_embcache *c, const struct rl_encoder *enc, const char *const *texts,
                     size_t n, float *out, rl_embcache_progress_fn progress, void *ctx,
                     char *errbuf) {
    bool *found = malloc((n ? n : 1) * sizeof *found);
    const char **missing = malloc((n ? n : 1) * sizeof *missing);
    float *emb = NULL;
    long rc = RL_OK;
    if (!found || !missing) {
        rc = rl__errf(errbuf, RL_ENOMEM, "embedding cache: out of memory");
        goto done;
    }
    rl_embcache_lookup(c, texts, n, out, found);
    // Distinct missing texts, in first-seen order: a small table of keys of texts queued so far.
    size_t n_missing = 0;
    {
        struct rl_embcache seen = {.dim = 1};
        for (size_t i = 0; i < n && rc == RL_OK; i++) {
            if (found[i])
                continue;
            unsigned char key[KEY_BYTES];
            text_key(texts[i], key);
            if (find_row(&seen, key) >= 0)
                continue;
            float zero = 0;
            rc = add_rows(&seen, key, &zero, 1);
            missing[n_missing++] = texts[i];
        }
        free(seen.keys);
        free(seen.emb);
        free(seen.slots);
        if (rc != RL_OK) {
            rc = rl__errf(errbuf, RL_ENOMEM, "embedding cache: out of memory");
            goto done;
        }
    }
    if (n_missing == 0)
        goto done;
    if (!enc) {
        rc = rl__errf(errbuf, RL_EINVAL,
                      "embedding cache: %zu texts are not cached and no "
                      "encoder is loaded",
                      n_missing);
        goto done;
    }
    if (rl_encoder_dim(enc) != c->dim) {
        rc = rl__errf(errbuf, RL_EINVAL, "embedding cache: encoder width %zu, cache width %zu",
                      rl_encoder_dim(enc), c->dim);
        goto done;
    }
    emb = malloc((size_t)SHARD_ROWS * c->dim * sizeof *emb);
    if (!emb) {
        rc = rl__errf(errbuf, RL_ENOMEM, "embedding cache: out of memory");
        goto done;
    }
    // A shard per SHARD_ROWS texts, so that an interrupted run keeps what it embedded.
    for (size_t s0 = 0; s0 < n_missing; s0 += SHARD_ROWS) {
        size_t ns = n_missing - s0 < SHARD_ROWS ? n_missing - s0 : SHARD_ROWS;
        for (size_t i = 0; i < ns; i += EMBED_BATCH) {
            size_t m = ns - i < EMBED_BATCH ? ns - i : EMBED_BATCH;
            rc = rl_encoder_embed(enc, missing + s0 + i, m, emb + i * c->dim, errbuf);
            if (rc != RL_OK)
                goto done;
            if (progress)
                progress(ctx, s0 + i + m, n_missing);
        }
        rc = rl_embcache_put(c, missing + s0, ns, emb, errbuf);
        if (rc != RL_OK)
            goto done;
    }
    rl_embcache_lookup(c, texts, n, out, found);
    rc = (long)n_missing;
done:
    free(found);
    free(missing);
    free(emb);
    return rc;
}
