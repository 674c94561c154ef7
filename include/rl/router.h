// Routers: estimate p_strong = P(strong model beats weak model | prompt) from the prompt's
// embedding, its text or both. A request goes to the strong model when p_strong >= the threshold
// α.
// Routers are immutable after load and thread-safe (the random router draws from an atomic
// counter, so concurrent calls are safe and a given seed gives a reproducible sequence).
#ifndef RL_ROUTER_H
#define RL_ROUTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rl/core.h"
#include "rl/encoder.h"
#include "rl/texts.h"

RL_API_BEGIN

struct rl_router;

// The two models a decision compares, as indices into the router's model list.
struct rl_router_pair {
    int strong;
    int weak;
};

// ----------------------------------------------------------------------------
// Router kinds: one registry lists them all ("random", "mf", "sw_ranking", "bert"). An entry is
// static: valid for the life of the program, the same pointer for the same kind.

struct rl_router_kind;

size_t rl_router_kind_count(void);
const struct rl_router_kind *rl_router_kind_at(size_t i); // NULL when i >= the count
// The kind called `name` (exact spelling), or NULL with errbuf listing the kinds (errbuf may be
// NULL).
const struct rl_router_kind *rl_router_kind_find(const char *name, char *errbuf);
const struct rl_router_kind *rl_router_kind(const struct rl_router *r); // the kind of r

// What a kind is: its name ("unknown" for NULL); whether it scores the prompt's embedding;
// whether it scores any two model names rather than only those of its file; whether rl_train
// trains it; whether its routers are built without a file (random).
const char *rl_router_kind_name(const struct rl_router_kind *k);
bool rl_router_kind_needs_encoder(const struct rl_router_kind *k);
bool rl_router_kind_any_pair(const struct rl_router_kind *k);
bool rl_router_kind_trainable(const struct rl_router_kind *k);
bool rl_router_kind_builtin(const struct rl_router_kind *k);
// Whether the kind learns from per-model scores (cells, rl/battle.h) rather than from battles: its
// training data is read in cells mode (irt).
bool rl_router_kind_learns_cells(const struct rl_router_kind *k);
// rl_router_load(name) gives a default router of the kind: built in, or the file
// <home>/routers/<name>.safetensors shipped with the library.
bool rl_router_kind_shipped(const struct rl_router_kind *k);
// The path of the kind's shipped router file under home (NULL: as rl_router_load). RL_OK;
// RL_EINVAL when the kind ships no file (built in, or no default); RL_ETOOBIG when path is short.
int rl_router_kind_file(const struct rl_router_kind *k, const char *home, char *path,
                        size_t size) RL_NODISCARD;

// ----------------------------------------------------------------------------
// Routers

// Load a router file (safetensors with __metadata__), or, when name_or_path names a shipped kind
// (rl_router_kind_shipped), its default router: built in, or read from <home>/routers/ (home
// NULL: rl_home()).
// NULL on failure, errbuf says why.
struct rl_router *rl_router_load(const char *name_or_path, const char *home, char *errbuf);
// A random router: no embedding, any model names accepted by rl_router_pair. NULL on ENOMEM.
struct rl_router *rl_router_random_new(uint64_t seed);
void rl_router_free(struct rl_router *r); // NULL is a no-op

const char *rl_router_name(const struct rl_router *r); // the kind name of r

// Name of the encoder whose embeddings the router consumes, or NULL when it needs none.
const char *rl_router_encoder_name(const struct rl_router *r);
size_t rl_router_encoder_dim(const struct rl_router *r); // 0 when it needs none

// RL_OK when enc produces the embeddings r was trained on; else RL_EINVAL and errbuf says why.
int rl_router_check_encoder(const struct rl_router *r, const struct rl_encoder *enc, char *errbuf);

// Training provenance stored in a router file: "hyper", "metrics" and "aliases" (JSON objects),
// "data_digest", "n_battles", "source", "train_prompts", "train_prompts_sha256",
// "n_train_prompts". NULL when absent; valid until rl_router_free.
const char *rl_router_meta(const struct rl_router *r, const char *key);

// Read the prompts r was trained on, when its file records them: "train_prompts" names a gzipped
// JSONL file (relative to the router file's folder) whose bytes must match
// "train_prompts_sha256". RL_OK with the texts in *out (free with rl_texts_free; none when the
// file records none), or < 0 with errbuf naming the file (missing, changed, malformed, empty).
int rl_router_train_prompts_load(const struct rl_router *r, struct rl_texts *out,
                                 char *errbuf) RL_NODISCARD;

size_t rl_router_n_models(const struct rl_router *r);
const char *rl_router_model(const struct rl_router *r, size_t i); // NULL when out of range

// Resolve model names to a pair; NULL names take the router's default pair. An unknown name
// gives RL_EINVAL with errbuf listing the models the router knows.
int rl_router_pair(const struct rl_router *r, const char *strong, const char *weak,
                   struct rl_router_pair *pair, char *errbuf) RL_NODISCARD;
int rl_router_default_pair(const struct rl_router *r, struct rl_router_pair *pair); // RL_OK
// The index of the model called name (case-insensitive, through the alias table) in r's list, or
// RL_EINVAL with errbuf listing the models the router knows.
int rl_router_model_index(const struct rl_router *r, const char *name, char *errbuf) RL_NODISCARD;

// What a router reads of one prompt: its text, and its embedding from the router's encoder
// (rl_router_encoder_dim(r) floats; NULL when the router needs none).
struct rl_prompt {
    const char *text; // UTF-8, not necessarily NUL-terminated; may be NULL when len is 0
    size_t len;
    const float *embedding;
};

// Whether r reads the prompt's text (the length router, routers trained with prompt features).
bool rl_router_needs_text(const struct rl_router *r);

// Score one prompt. pair NULL means the default pair. Writes p_strong in [0, 1]; RL_EINVAL when
// the pair is out of range or a needed embedding is missing; RL_EFORMAT when the router's
// parameters overflow on this prompt (no probability comes out). Only sw_ranking allocates (4
// bytes per stored prompt, freed before it returns; RL_ENOMEM).
int rl_router_score_prompt(const struct rl_router *r, const struct rl_router_pair *pair,
                           const struct rl_prompt *prompt, double *p_strong) RL_NODISCARD;
// The same for a router that reads no text: `embedding` alone (NULL when it needs none).
// RL_EINVAL when r needs the text.
int rl_router_score(const struct rl_router *r, const struct rl_router_pair *pair,
                    const float *embedding, double *p_strong) RL_NODISCARD;

// ----------------------------------------------------------------------------
// Decisions (RouteLLM §1.1): the strong model when p_strong >= the threshold α.

// The routing rule itself: true when p_strong goes to the strong model at threshold.
bool rl_router_goes_strong(double p_strong, double threshold);

struct rl_router_decision {
    double p_strong;  // the router's score for the pair
    bool strong;      // rl_router_goes_strong(p_strong, threshold)
    int model;        // the chosen model: pair.strong when strong, else pair.weak
    const char *name; // its name in r's list (rl_router_model; NULL when model is outside it, as
                      // any-pair kinds allow): valid until rl_router_free
};

// Score one prompt for pair (NULL: the default pair) as rl_router_score_prompt does and decide at
// threshold. RL_OK with *d filled, or the scoring error with *d untouched.
int rl_router_decide(const struct rl_router *r, const struct rl_router_pair *pair,
                     const struct rl_prompt *prompt, double threshold,
                     struct rl_router_decision *d) RL_NODISCARD;

RL_API_END

#endif
