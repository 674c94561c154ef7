// Internal interface of the routers: the common router object and the per-kind operations that
// router.c dispatches to. Each kind lives in its own file (random.c, mf.c, swr.c, bert.c) and
// fills in a struct rl_router through rl__router_new.
#ifndef RL_SRC_ROUTER_IMPL_H
#define RL_SRC_ROUTER_IMPL_H

#include <stdatomic.h>
#include <stdbool.h>

#include "rl/router.h"

struct rl_tensor;

struct rl_router_ops {
    // Score with validated pair indices (or any pair for kinds that ignore it).
    int (*score)(const struct rl_router *r, const struct rl_router_pair *pair,
                 const float *embedding, double *p_strong);
    void (*free)(void *impl); // releases impl; NULL impl is allowed
};

struct rl_router {
    enum rl_router_kind kind;
    const struct rl_router_ops *ops;
    void *impl; // kind-specific state, owned

    char *encoder_name; // NULL when the router needs no embedding
    int encoder_dim;    // 0 when the router needs no embedding

    int n_models;
    char **model_names;             // (n_models) canonical names, owned
    struct rl_router_pair def_pair; // default strong/weak pair
    bool any_pair;                  // the score ignores the pair: any model name is accepted

    char *path;    // the file the router was loaded from, NULL for the random router
    char *meta[9]; // copies of the file's provenance keys (file.c: kept_keys)

    uint64_t seed;            // random router: the seed
    _Atomic uint64_t counter; // random router: draws so far (shared by all threads)
};

// Allocate a router of `kind` owning copies of the model names; NULL on ENOMEM. The caller
// sets ops, impl, encoder fields and the default pair.
struct rl_router *rl__router_new(enum rl_router_kind kind, const char *const *models, int n_models);

// A kind's state in one allocation: an impl struct of impl_size bytes (zeroed) followed by copies
// of the tensors parts[0..n), each 8-byte aligned; dst[i] receives where parts[i] went (NULL for
// a NULL part). Release it with free(); NULL on ENOMEM.
void *rl__router_impl_new(size_t impl_size, const struct rl_tensor *const *parts, size_t n,
                          void **dst);

// Set the encoder the router was trained on (copied). RL_OK or RL_ENOMEM.
int rl__router_set_encoder(struct rl_router *r, const char *name, int dim) RL_NODISCARD;

// Index of `name` among r's models (case-insensitive, after alias resolution), or -1.
int rl__router_find_model(const struct rl_router *r, const char *name);

// ----------------------------------------------------------------------------
// Router files (docs/ROUTERS.md): safetensors whose __metadata__ holds
//   format = "routellm-router", format_version = "1", kind, encoder, encoder_dim,
//   models (JSON list), default_strong, default_weak, hyper (JSON object), metrics (JSON
//   object), data_digest (SHA-256 of the training battles), n_battles, source (free text),
//   aliases (JSON object: names listed in models that copy another model's parameters),
//   train_prompts (the training-prompt list, relative to the router file's folder),
//   train_prompts_sha256 (SHA-256 of that file's bytes) and n_train_prompts.

#define RL_ROUTER_FORMAT         "routellm-router"
#define RL_ROUTER_FORMAT_VERSION "1"

struct rl_safetensors;

struct rl_router_meta {
    enum rl_router_kind kind;
    const char *encoder; // NULL for kinds without an embedding
    int encoder_dim;
    const char *const *models;
    int n_models;
    int strong, weak;    // default pair, indices into models
    const char *hyper;   // JSON object text
    const char *metrics; // JSON object text, or NULL
    const char *digest;  // 64 hex characters
    size_t n_battles;
    const char *source;               // free text (data specs), or NULL
    const char *aliases;              // JSON object alias -> model, or NULL
    const char *train_prompts;        // reference to the training-prompt list, or NULL
    const char *train_prompts_sha256; // its SHA-256 (64 hex digits) when train_prompts is set
    size_t n_train_prompts;
};

// Write a router file atomically. RL_OK or < 0 with errbuf naming the path.
int rl__router_write(const char *path, const struct rl_router_meta *m, const struct rl_tensor *t,
                     size_t n, char *errbuf) RL_NODISCARD;

// Load a router file written by the trainers; NULL on failure with errbuf naming the file.
struct rl_router *rl__router_load_file(const char *path, char *errbuf);

// Per-kind loaders: read the kind's tensors from st into r (r's models, encoder and default pair
// are set). RL_OK or < 0 with errbuf naming the file and tensor.
int rl__mf_load(struct rl_router *r, const struct rl_safetensors *st, char *errbuf);
int rl__swr_load(struct rl_router *r, const struct rl_safetensors *st, char *errbuf);
int rl__bert_load(struct rl_router *r, const struct rl_safetensors *st, char *errbuf);

// ----------------------------------------------------------------------------
// Training-prompt lists (train_prompts.c): gzipped JSONL, one {"prompt": "..."} per line.

// Write texts to path atomically with fixed gzip headers (equal lists give equal bytes); sha256
// receives the hex digest of the bytes written. Invalid UTF-8 bytes are written as U+FFFD.
int rl__train_prompts_write(const char *path, const char *const *texts, size_t n, char sha256[65],
                            char *errbuf) RL_NODISCARD;

// How router_path's metadata names prompts_path (both files must exist or their folders must):
// relative to the router's folder when it lies in or below it, else absolute. RL_OK or < 0.
int rl__train_prompts_ref(const char *router_path, const char *prompts_path, char *out,
                          size_t out_size, char *errbuf) RL_NODISCARD;

#endif
