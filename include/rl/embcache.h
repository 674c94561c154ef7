// Embedding cache: every text is embedded once per encoder and kept on disk, so training and
// evaluation never recompute an embedding. A cache is a folder per encoder holding shards, each a
// .npy of embeddings (rows × dim, float32) and a .keys file of the rows' text digests (the first
// 16 bytes of SHA-256 of the exact text bytes). New embeddings go to a new shard, so several
// processes may fill the same cache. A cache object is not thread-safe.
#ifndef RL_EMBCACHE_H
#define RL_EMBCACHE_H

#include <stdbool.h>
#include <stddef.h>

#include "rl/core.h"
#include "rl/encoder.h"

RL_API_BEGIN

struct rl_embcache;

// Open (creating folders as needed) the cache for encoder `encoder_name` of width dim under
// root, i.e. <root>/<encoder_name>/. NULL on failure, errbuf names the file and the problem.
struct rl_embcache *rl_embcache_open(const char *root, const char *encoder_name, size_t dim,
                                     char *errbuf);
void rl_embcache_free(struct rl_embcache *c); // NULL is a no-op

size_t rl_embcache_size(const struct rl_embcache *c); // number of cached texts
size_t rl_embcache_dim(const struct rl_embcache *c);

// Copy the embeddings of the n texts found in the cache into out (n × dim); found[i] says which.
// Returns the number found.
size_t rl_embcache_lookup(const struct rl_embcache *c, const char *const *texts, size_t n,
                          float *out, bool *found);

// Called after each embedded batch with the number of missing texts embedded so far.
typedef void (*rl_embcache_progress_fn)(void *ctx, size_t done, size_t total);

// Embeddings of n texts into out (n × dim): cached ones are copied, missing ones are embedded
// with enc in batches (each distinct text once) and stored in a new shard. enc may be NULL when
// every text is cached. Returns the number of texts that had to be embedded, or < 0.
long rl_embcache_get(struct rl_embcache *c, const struct rl_encoder *enc, const char *const *texts,
                     size_t n, float *out, rl_embcache_progress_fn progress, void *ctx,
                     char *errbuf);

// Store n ready-made embeddings (n × dim, unit norm) for texts, e.g. from another program.
int rl_embcache_put(struct rl_embcache *c, const char *const *texts, size_t n, const float *emb,
                    char *errbuf) RL_NODISCARD;

RL_API_END

#endif
