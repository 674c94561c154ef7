// Internal interface of the routers: the table of kinds (registry.c), the common router object
// and the helpers the kinds share. Each kind lives in its own file (random.c, mf.c, swr.c, bert.c)
// and defines its entry, rl__router_kind_<name>, which RL_ROUTER_KINDS lists (bert.c defines
// causal_llm's too: the same head).
#ifndef RL_SRC_ROUTER_IMPL_H
#define RL_SRC_ROUTER_IMPL_H

#include <stdbool.h>

#include "rl/features.h"
#include "rl/router.h"

struct rl_tensor;
struct rl_safetensors;
struct rl_train_ctx;
struct rl_train_out;
struct rl_train_params;

// ----------------------------------------------------------------------------
// The registry (registry.c). Adding a kind: one file that defines its entry
//     const struct rl_router_kind rl__router_kind_<name> = {.name = "<name>", ...};
// and one line X(<name>) here; the order is the listing order (rl_router_kind_at).

#define RL_ROUTER_KINDS(X)                                                                         \
    X(random)                                                                                      \
    X(length)                                                                                      \
    X(mf)                                                                                          \
    X(sw_ranking)                                                                                  \
    X(bert)                                                                                        \
    X(irt)                                                                                         \
    X(causal_llm)

// One kind of router: what it is called, what it needs and the operations on its routers.
struct rl_router_kind {
    const char *name;   // the "kind" of router files and the name on the command line
    bool needs_encoder; // scores the prompt's embedding (its files name the encoder)
    bool any_pair;      // the score ignores the pair: any model name is accepted
    bool shipped;       // rl_router_load(name) gives a default router (build, or a shipped file)
    bool needs_text;    // scores the prompt's text itself (the length router)
    bool features;      // its trainer may append the prompt features to the embedding
    bool cells;         // its trainer learns from per-model scores (cells), not from battles
    bool ranks_models;  // its pair scores rank any number of its models (rl/policy.h)

    // Read the kind's tensors from st into r, whose models, encoder and default pair are set,
    // and set r->impl. RL_OK or < 0 with errbuf naming the file and tensor. NULL: the kind has
    // no files.
    int (*load)(struct rl_router *r, const struct rl_safetensors *st, char *errbuf);
    // The kind's default router, built without a file; NULL on ENOMEM. NULL for file kinds.
    struct rl_router *(*build)(void);
    // Score with a pair rl_router_score_prompt has checked (any pair for any_pair kinds). x is the
    // router's input (rl__router_input_dim floats: the embedding, then the standardised prompt
    // features when the file has them), NULL when that is empty; the prompt is there for kinds
    // that read its text.
    int (*score)(const struct rl_router *r, const struct rl_router_pair *pair,
                 const struct rl_prompt *prompt, const float *x, double *p_strong);
    void (*free)(void *impl); // releases r->impl; NULL is a no-op

    // Fit a router of the kind (train.c has checked the data and set the context) and hand its
    // tensors and metadata to out. NULL: the kind is not trained.
    int (*train)(const struct rl_train_ctx *c, struct rl_train_out *out);
    // Change the common defaults of rl_train_params_default where the kind's differ; may be NULL.
    void (*train_defaults)(struct rl_train_params *p);
    // The tensors of the kind's files with one row per model, NULL-terminated: rl_train appends
    // a copy of a row for each alias. NULL: none.
    const char *const *per_model;
};

#define RL_ROUTER_KIND_DECLARE_(name) extern const struct rl_router_kind rl__router_kind_##name;
RL_ROUTER_KINDS(RL_ROUTER_KIND_DECLARE_)
#undef RL_ROUTER_KIND_DECLARE_

// ----------------------------------------------------------------------------
// The router object

struct rl_router {
    const struct rl_router_kind *kind;
    void *impl; // kind-specific state, owned (released by kind->free)

    char *encoder_name; // NULL when the router needs no embedding
    int encoder_dim;    // 0 when the router needs no embedding

    // Prompt features (rl/features.h) after the embedding in the router's input, standardised
    // with the training data's mean and standard deviation.
    bool features;
    float feat_mean[RL_FEATURES_N], feat_std[RL_FEATURES_N];

    int n_models;
    char **model_names;             // (n_models) canonical names, owned
    struct rl_router_pair def_pair; // default strong/weak pair

    char *path;     // the file the router was loaded from, NULL for a built-in kind
    char *meta[10]; // copies of the file's provenance keys (file.c: kept_keys)
};

// Allocate a router of `kind` owning copies of the model names; NULL on ENOMEM. The caller
// sets impl, the encoder fields and the default pair.
struct rl_router *rl__router_new(const struct rl_router_kind *kind, const char *const *models,
                                 int n_models);

// A kind's state in one allocation: an impl struct of impl_size bytes (zeroed) followed by copies
// of the tensors parts[0..n), each 8-byte aligned; dst[i] receives where parts[i] went (NULL for
// a NULL part). Release it with free(); NULL on ENOMEM.
void *rl__router_impl_new(size_t impl_size, const struct rl_tensor *const *parts, size_t n,
                          void **dst);

// Set the encoder the router was trained on (copied). RL_OK or RL_ENOMEM.
int rl__router_set_encoder(struct rl_router *r, const char *name, int dim) RL_NODISCARD;

// Index of `name` among r's models (case-insensitive, after alias resolution), or -1.
int rl__router_find_model(const struct rl_router *r, const char *name);

// Width of the router's input: the encoder's dimension plus RL_FEATURES_N with features.
int rl__router_input_dim(const struct rl_router *r);
// The widest input a router may have (its file is refused otherwise), so that scoring builds the
// input on the stack.
#define RL_ROUTER_MAX_INPUT (4096 + RL_FEATURES_N)

// ----------------------------------------------------------------------------
// Router files (docs/ROUTERS.md): safetensors whose __metadata__ holds
//   format = "routellm-router", format_version = "1", kind, encoder, encoder_dim,
//   features (the version of rl/features.h, when the input has them), models (JSON list),
//   default_strong, default_weak, hyper (JSON object), metrics (JSON object), data_digest (SHA-256
//   of the training battles), n_battles, source (free text), aliases (JSON object: names listed in
//   models that copy another model's parameters), train_prompts (the training-prompt list, relative
//   to the router file's folder), train_prompts_sha256 (SHA-256 of that file's bytes) and
//   n_train_prompts.

#define RL_ROUTER_FORMAT         "routellm-router"
#define RL_ROUTER_FORMAT_VERSION "1"

struct rl_router_meta {
    const struct rl_router_kind *kind;
    const char *encoder; // NULL for kinds without an embedding
    int encoder_dim;
    bool features; // the input has the prompt features (tensors features.mean, features.std)
    const char *const *models;
    int n_models;
    int strong, weak;    // default pair, indices into models
    const char *hyper;   // JSON object text
    const char *metrics; // JSON object text, or NULL
    const char *digest;  // 64 hex characters
    size_t n_battles;
    const char *source;               // free text (data specs), or NULL
    const char *encoder_precision;    // "fp32" or "int8" when recorded, or NULL
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
