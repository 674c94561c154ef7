// Training routers from battles. Each trainer takes a battle set and the embeddings of its
// prompts (from one encoder), fits the router and writes a router file (docs/ROUTERS.md) that
// rl_router_load reads. Training is deterministic for a given seed, whatever n_threads is.
// Functions are reentrant; the battle set and embeddings are only read.
#ifndef RL_TRAIN_H
#define RL_TRAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rl/battle.h"
#include "rl/core.h"
#include "rl/router.h"

RL_API_BEGIN

struct rl_train_progress {
    int epoch; // 1-based
    int n_epochs;
    size_t step;       // steps done in this epoch
    size_t n_steps;    // steps per epoch
    bool epoch_done;   // the epoch finished and the validation figures are set
    double train_loss; // mean training loss of the epoch so far
    double val_loss;   // on the held-out battles (NaN when there are none)
    double val_acc;    // accuracy of the held-out decisive battles (NaN when none)
};

typedef void (*rl_train_progress_fn)(void *ctx, const struct rl_train_progress *p);

// Most tiers a sw_ranking router has (its scan keeps T² cells on the stack).
#define RL_TRAIN_MAX_TIERS 16

struct rl_train_params {
    uint64_t seed;      // initialisation, noise and batch order
    int n_threads;      // 1 or 2 worker threads (results do not depend on it)
    double holdout;     // fraction of battles held out for validation (shuffled with seed 42)
    const char *strong; // default strong model (NULL: RL_MODEL_DEFAULT_STRONG)
    const char *weak;   // default weak model (NULL: RL_MODEL_DEFAULT_WEAK)
    const char *source; // free text recorded in the file (e.g. the data specs), may be NULL
    // The precision of the encoder that made the embeddings ("fp32", "int8"), recorded in the file
    // as encoder_precision so that scoring embeds the same way; NULL records none.
    const char *encoder_precision;
    // Where to write the training-prompt list: every prompt of b with a battle, as gzipped JSONL.
    // The router file names it (relative path and SHA-256) so that an evaluation can drop the
    // benchmark prompts the router has seen. NULL writes none.
    const char *prompts_out;
    // "NAME=MODEL" entries: the router also answers to NAME with MODEL's parameters (a proxy for
    // a model the data does not cover, or a deployment's own name for a model). strong and weak
    // may name an alias.
    const char *const *aliases;
    size_t n_aliases;

    // Gradient-trained kinds (mf, bert): RouteLLM §2.3 defaults for mf.
    int epochs;
    int batch;
    double lr;
    double weight_decay;
    double noise; // std of the Gaussian noise added to the embeddings (mf)
    int hidden;   // mf: model-embedding width; bert: hidden units of the head (0: linear)

    // causal_llm: the paper's variant, which reads the LM's next-token distribution over the
    // score tokens "1" … "5" instead of its whole hidden state. The tokens' output-matrix rows
    // (rl_encoder_score_rows: RL_ENCODER_SCORE_TOKENS × the embedding width), recorded in the file
    // as score.rows; NULL trains on the hidden state.
    const float *score_rows;

    // Append the prompt features (rl/features.h), standardised over the training prompts, to each
    // prompt's embedding (mf, bert, irt); the file records the version and the standardisation.
    // A kind that may go without the encoder (irt) trains on the features alone when given no
    // embeddings.
    bool features;

    // sw_ranking (RouteLLM §2.2)
    int n_tiers; // 2 .. RL_TRAIN_MAX_TIERS
    int sw_int8; // store battle-prompt embeddings as int8 (1) or fp16 (0)

    rl_train_progress_fn progress; // may be NULL
    void *progress_ctx;
};

// Defaults for a kind (the paper's hyper-parameters where it gives them); kind NULL gives the
// common ones.
struct rl_train_params rl_train_params_default(const struct rl_router_kind *kind);

// Train a router of `kind` (rl_router_kind_find; rl_router_kind_trainable) on battles b whose
// prompts have embeddings prompt_emb (b->n_prompts × dim, from the encoder named `encoder`) and
// write it to out_path. Returns RL_OK or < 0 with errbuf saying why (RL_EINVAL for a kind that is
// not trained). Metrics of the run are written to the file's "metrics" metadata.
int rl_train(const struct rl_router_kind *kind, const struct rl_battles *b, const float *prompt_emb,
             const char *encoder, size_t dim, const struct rl_train_params *p, const char *out_path,
             char *errbuf) RL_NODISCARD;

RL_API_END

#endif
