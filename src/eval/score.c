// Scoring benchmark prompts with a router, the score cache that makes every prompt scored once
// per router and benchmark (embeddings are cached by rl/embcache.h), and decontamination by
// embedding similarity through core's kernel (ROUTELLM.md §1.6: an evaluation prompt is dropped
// when its cosine similarity to a training prompt is >= 0.95). The cache files are plain binary
// (header + array) and are validated in full before use; anything unexpected means "recompute",
// never "trust".
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "rl/eval.h"

#define EMBED_BATCH 32

// ----------------------------------------------------------------------------
// Score cache files: 8-byte magic, key, count, element width, then the array.

struct cache_header {
    char magic[8];
    uint64_t key;
    uint64_t n;
    uint64_t width; // floats per row (embeddings) or 1 (scores)
};

static int cache_read(const char *path, const char *magic, uint64_t key, uint64_t n, uint64_t width,
                      size_t elem, void *out) {
    size_t want = sizeof(struct cache_header) + n * width * elem;
    char *data;
    size_t len;
    if (rl_file_read(path, want + 1, &data, &len, NULL) != RL_OK)
        return RL_EIO;
    struct cache_header h;
    int rc = RL_EIO;
    if (len == want) {
        memcpy(&h, data, sizeof h);
        if (memcmp(h.magic, magic, 8) == 0 && h.key == key && h.n == n && h.width == width) {
            memcpy(out, data + sizeof h, n * width * elem);
            rc = RL_OK;
        }
    }
    free(data);
    return rc;
}

static int cache_write(const char *path, const char *magic, uint64_t key, uint64_t n,
                       uint64_t width, size_t elem, const void *array, char *errbuf) {
    struct cache_header h = {{0}, key, n, width};
    memcpy(h.magic, magic, 8);
    size_t body = n * width * elem;
    char *data = malloc(sizeof h + body);
    if (!data)
        return rl__errf(errbuf, RL_ENOMEM, "%s: out of memory", path);
    memcpy(data, &h, sizeof h);
    memcpy(data + sizeof h, array, body);
    int rc = rl_file_write(path, data, sizeof h + body, errbuf);
    free(data);
    return rc;
}

int rl_eval_cache_read(const char *path, uint64_t key, double *scores, size_t n) {
    int rc = cache_read(path, "RLSCORE1", key, n, 1, sizeof *scores, scores);
    if (rc != RL_OK)
        return rc;
    for (size_t i = 0; i < n; i++)
        if (!(scores[i] >= 0 && scores[i] <= 1))
            return RL_EIO;
    return RL_OK;
}

int rl_eval_cache_write(const char *path, uint64_t key, const double *scores, size_t n,
                        char *errbuf) {
    return cache_write(path, "RLSCORE1", key, n, 1, sizeof *scores, scores, errbuf);
}

// ----------------------------------------------------------------------------
// Embedding and scoring

static int embed_range(const struct rl_encoder *enc, const char *const *prompts, size_t n,
                       float *out, rl_eval_progress_fn progress, void *ctx, char *errbuf) {
    size_t dim = rl_encoder_dim(enc);
    for (size_t i = 0; i < n; i += EMBED_BATCH) {
        size_t k = n - i < EMBED_BATCH ? n - i : EMBED_BATCH;
        int rc = rl_encoder_embed(enc, prompts + i, k, out + i * dim, errbuf);
        if (rc != RL_OK)
            return rc;
        if (progress)
            progress(ctx, i + k, n);
    }
    return RL_OK;
}

int rl_eval_score(const struct rl_router *r, const struct rl_router_pair *pair,
                  const struct rl_encoder *enc, const float *emb, const char *const *prompts,
                  size_t n, double *scores, rl_eval_progress_fn progress, void *ctx, char *errbuf) {
    size_t dim = rl_router_encoder_dim(r);
    float *own = NULL;
    int rc;
    if (dim > 0 && !emb) {
        if ((rc = rl_router_check_encoder(r, enc, errbuf)) != RL_OK)
            return rc;
        own = malloc((n ? n : 1) * dim * sizeof *own);
        if (!own)
            return rl__errf(errbuf, RL_ENOMEM, "out of memory for %zu embeddings", n);
        if ((rc = embed_range(enc, prompts, n, own, progress, ctx, errbuf)) != RL_OK) {
            free(own);
            return rc;
        }
        emb = own;
    }
    rc = RL_OK;
    for (size_t i = 0; i < n; i++) {
        struct rl_prompt prompt = {prompts[i], strlen(prompts[i]), dim ? emb + i * dim : NULL};
        rc = rl_router_score_prompt(r, pair, &prompt, &scores[i]);
        if (rc != RL_OK) {
            rl__errf(errbuf, rc, "router %s failed on prompt %zu: %s", rl_router_name(r), i + 1,
                     rl_strerror(rc));
            break;
        }
        if (!(scores[i] >= 0 && scores[i] <= 1)) {
            rc = rl__errf(errbuf, RL_EFORMAT, "router %s gave p = %g for prompt %zu",
                          rl_router_name(r), scores[i], i + 1);
            break;
        }
        if (progress && !own && ((i + 1) % 1024 == 0 || i + 1 == n))
            progress(ctx, i + 1, n);
    }
    free(own);
    return rc;
}

// ----------------------------------------------------------------------------
// Decontamination

long rl_eval_contaminated(const float *eval_emb, size_t n, const float *train_emb, size_t m,
                          size_t dim, double threshold, bool *flag) {
    if (n == 0 || m == 0 || dim == 0)
        return 0;
    float *max = malloc(n * sizeof *max);
    if (!max || rl__max_cosine(eval_emb, n, train_emb, m, dim, max, NULL) != RL_OK) {
        free(max);
        return RL_ENOMEM;
    }
    long marked = 0;
    for (size_t i = 0; i < n; i++) {
        if (!flag[i] && max[i] >= threshold) {
            flag[i] = true;
            marked++;
        }
    }
    free(max);
    return marked;
}
