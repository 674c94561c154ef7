// Internal interface of the trainers: the context every kind's trainer gets, what it hands back
// to train.c (tensors and metadata for the router file), and shared helpers (a seeded RNG, the
// hold-out split, a two-way parallel runner, the minibatch loop).
#ifndef RL_SRC_TRAIN_IMPL_H
#define RL_SRC_TRAIN_IMPL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/safetensors.h"
#include "rl/train.h"

// ----------------------------------------------------------------------------
// Random numbers: xoshiro256** seeded through splitmix64 (Blackman and Vigna).

struct rl_rng {
    uint64_t s[4];
};

void rl__rng_seed(struct rl_rng *r, uint64_t seed);
uint64_t rl__rng_next(struct rl_rng *r);
double rl__rng_uniform(struct rl_rng *r);             // [0, 1)
double rl__rng_normal(struct rl_rng *r);              // N(0, 1), Box-Muller
uint64_t rl__rng_below(struct rl_rng *r, uint64_t n); // uniform in [0, n), n > 0
void rl__rng_shuffle(struct rl_rng *r, uint32_t *a, size_t n);

// ----------------------------------------------------------------------------
// Two-way parallel runner: fn(arg0) on the calling thread and fn(arg1) on a worker (or both on
// the caller when the runner was made for one thread). Not thread-safe itself.

struct rl_par2 {
    bool threaded;
    pthread_t worker;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    void (*fn)(void *);
    void *arg;
    int state; // 0 idle, 1 work posted, 2 work done, 3 quit
};

int rl__par2_init(struct rl_par2 *p, int n_threads) RL_NODISCARD;
void rl__par2_run(struct rl_par2 *p, void (*fn)(void *), void *arg0, void *arg1);
void rl__par2_free(struct rl_par2 *p);

// ----------------------------------------------------------------------------
// Trainer plumbing

#define RL_TRAIN_MAX_TENSORS 8
// The paper's validation split: battles shuffled with this seed, the last fraction held out.
#define RL_TRAIN_SPLIT_SEED 42

struct rl_train_ctx {
    const struct rl_battles *b;
    const float *emb; // (b->n_prompts, dim)
    int dim;
    const struct rl_train_params *p;
    int strong, weak;     // default pair, model ids in b
    const bool *held_out; // (b->n) battle i is in the validation split
    char *errbuf;
};

struct rl_train_out {
    struct rl_tensor t[RL_TRAIN_MAX_TENSORS];
    size_t n;
    void *owned[RL_TRAIN_MAX_TENSORS]; // freed by train.c
    char hyper[1024];                  // JSON object
    char metrics[1024];                // JSON object
};

// Add a tensor of dtype F32/F16/I32/U8... whose buffer out now owns (freed when out cannot hold
// it: RL_ETOOBIG).
int rl__train_out_add(struct rl_train_out *o, const char *name, enum rl_dtype dtype, int n_dims,
                      const int64_t *shape, void *data) RL_NODISCARD;

// A tensor for rl__train_out_take (data NULL: none) or a slice for rl__train_out_slices.
struct rl_train_tensor {
    const char *name;
    enum rl_dtype dtype;
    int n_dims;
    int64_t shape[2];
    void *data;
};

// Add the tensors t[0..n) with a buffer, in order. out takes every buffer whatever happens: after
// a failure (RL_ETOOBIG) the ones it could not hold are freed.
int rl__train_out_take(struct rl_train_out *o, const struct rl_train_tensor *t,
                       size_t n) RL_NODISCARD;

// Add consecutive slices of the F32 parameters theta as tensors t[0..n) (data unused), each a
// copy. RL_OK, or < 0 with errbuf saying "<kind>: out of memory" or "cannot collect the tensors".
int rl__train_out_slices(struct rl_train_out *o, const float *theta,
                         const struct rl_train_tensor *t, size_t n, const char *kind,
                         char *errbuf) RL_NODISCARD;

// The Arena convention (RouteLLM's compute_elo_mle_with_tie): this model is anchored at 1082.
#define RL_TRAIN_ANCHOR_MODEL  "llama-2-70b-chat"
#define RL_TRAIN_ANCHOR_RATING 1082.0
// The global fit is a dense Newton solve over the models (O(M³) per iteration).
#define RL_TRAIN_MAX_RATED 1024

// Global Bradley-Terry ratings of the models over the training split (ties as in RouteLLM's
// compute_elo_mle_with_tie, anchored at llama-2-70b-chat = 1082 when present) and their tiers
// (0 = best). rating and tier have b->n_models entries. Returns the number of tiers or < 0.
int rl__train_tiers(const struct rl_train_ctx *c, int n_tiers, float *rating, int32_t *tier,
                    int *elo_iterations);

// ----------------------------------------------------------------------------
// The minibatch loop of the gradient-trained kinds (minibatch.c)

// The trainer's side: its samples, parameters and model. Each sample names its prompt and
// weight through the accessors; the model's loss_grad returns the weighted loss sum of n samples
// on inputs x (n, dim) and adds its gradient to grad.
struct rl_minibatch {
    const struct rl_train_ctx *c;
    const char *kind; // "mf", "bert": starts error messages
    float *theta;     // (n_params) initialised by the trainer, trained in place
    size_t n_params;
    const void *train; // (n_train) training samples of sample_size bytes
    size_t n_train;
    size_t sample_size;
    bool mean_by_weight; // gradient / batch weight, else / batch size
    uint32_t (*prompt)(const void *sample);
    float (*weight)(const void *sample);
    const void *model; // passed to loss_grad and validate
    double (*loss_grad)(const void *model, const float *theta, const void *samples, size_t n,
                        const float *x, float *grad);
    void (*validate)(const void *model, const float *theta, double *loss, double *acc);
};

// RL_OK, or RL_EINVAL ("<kind>: bad hyper-parameters") when the batch, epochs, learning rate,
// weight decay or noise of p cannot train.
int rl__minibatch_check(const struct rl_train_params *p, const char *kind,
                        char *errbuf) RL_NODISCARD;

// c->p->epochs epochs of Adam on shuffled batches of c->p->batch samples with Gaussian input
// noise c->p->noise, reporting progress through c->p->progress and validating after each epoch
// (*val_loss, *val_acc: the last epoch's figures). RL_OK, or < 0 with c->errbuf saying why
// (RL_EINVAL when the parameters stop being finite).
int rl__minibatch_train(const struct rl_minibatch *mb, double *val_loss,
                        double *val_acc) RL_NODISCARD;

// ----------------------------------------------------------------------------
// The kinds' trainers: the train and train_defaults entries of their kinds (router_impl.h)

int rl__train_mf(const struct rl_train_ctx *c, struct rl_train_out *out) RL_NODISCARD;
int rl__train_swr(const struct rl_train_ctx *c, struct rl_train_out *out) RL_NODISCARD;
int rl__train_bert(const struct rl_train_ctx *c, struct rl_train_out *out) RL_NODISCARD;
int rl__train_irt(const struct rl_train_ctx *c, struct rl_train_out *out) RL_NODISCARD;
// bert's head on the inputs standardised per dimension, with tensors input.mean and input.std.
int rl__train_causal_llm(const struct rl_train_ctx *c, struct rl_train_out *out) RL_NODISCARD;
void rl__train_irt_defaults(struct rl_train_params *p);
void rl__train_bert_defaults(struct rl_train_params *p);

// ----------------------------------------------------------------------------
// MF internals, exposed for the gradient check

struct rl_mf_sample {
    uint32_t win, lose, prompt;
    float weight;
};

// Parameters in one block: P (M, H), then W₁ (H, D), then w₂ (H).
static inline size_t rl__mf_n_params(int M, int H, int D) {
    return (size_t)M * H + (size_t)H * D + (size_t)H;
}

// Sum over samples of weight · BCE(σ(δ(win) − δ(lose)), 1) with inputs x (n, D) (the noisy
// embeddings); when grad is not NULL, adds the gradient of that sum to it.
double rl__mf_loss_grad(const float *theta, int M, int H, int D, const struct rl_mf_sample *s,
                        size_t n, const float *x, float *grad);

// ----------------------------------------------------------------------------
// BERT-head internals, exposed for the gradient check

struct rl_bert_sample {
    uint32_t prompt;
    uint8_t label; // 0 strong wins, 1 tie, 2 weak wins
    float weight;
};

// Sum over samples of weight · cross-entropy of the head θ = [W₁ (H,D) | b₁ | W₂ (3,H) | b₂] on
// inputs x (n, D); when grad is not NULL, adds the gradient of that sum.
double rl__bert_loss_grad(const float *theta, int D, int H, const struct rl_bert_sample *s,
                          size_t n, const float *x, float *grad);

#endif
