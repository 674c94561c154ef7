// Internal interface of the encoder: the model description read from a sentence-transformers
// folder, the weights laid out for the kernels, and the thread team that runs a forward pass.
#ifndef RL_SRC_ENCODER_BERT_H
#define RL_SRC_ENCODER_BERT_H

#include <stdbool.h>
#include <stdint.h>

#include "core/safetensors.h"
#include "encoder/kernels.h"

enum rl__pooling {
    RL__POOLING_MEAN, // masked mean over tokens (also mean_sqrt_len: equal after L2 normalisation)
    RL__POOLING_CLS,  // the first token
    RL__POOLING_MAX,  // elementwise max over tokens
};

// Dimensions: V vocab, C hidden, L layers, NH heads, F intermediate (FFN), P positions.
struct rl__bert_config {
    int n_vocab;     // V
    int n_hidden;    // C
    int n_layers;    // L
    int n_heads;     // NH; C % NH == 0
    int n_ffn;       // F
    int n_positions; // P, max_position_embeddings
    int n_types;     // token type vocabulary
    float ln_eps;    // layer_norm_eps
    int max_seq;     // tokens per text after truncation, including [CLS] and [SEP]; <= P
    enum rl__pooling pooling;
    bool has_normalize; // modules.json lists a Normalize module (embeddings are normalised anyway)
    bool lower_case;    // sentence_bert_config do_lower_case (implied by an uncased tokenizer)
};

// Read config.json, modules.json, the pooling config and sentence_bert_config.json from dir.
int rl__bert_config_load(const char *dir, struct rl__bert_config *cfg, char *errbuf) RL_NODISCARD;

// The four linear layers of a BERT layer, for the int8 plan.
enum rl__bert_linear {
    RL__LINEAR_QKV,  // the fused query, key and value projection (3C, C)
    RL__LINEAR_OUT,  // the attention output projection (C, C)
    RL__LINEAR_FFN1, // the FFN's up projection (F, C), before GELU
    RL__LINEAR_FFN2, // the FFN's down projection (C, F)
    RL__N_LINEAR,
};

// Each linear weight is either packed fp32 (qkv_w, o_w, ffn1_w, ffn2_w) or packed int8 (q8[],
// kernels.h), the other pointer NULL; biases and LayerNorms are fp32 either way.
struct rl__bert_layer {
    const float *qkv_w;           // packed (3C, C): query, key and value fused into one GEMM
    const float *qkv_b;           // (3C), padded to whole panels
    const float *o_w;             // packed (C, C)
    const float *o_b;             // (C) padded
    const float *ln1_w;           // (C)
    const float *ln1_b;           // (C)
    const float *ffn1_w;          // packed (F, C)
    const float *ffn1_b;          // (F) padded
    const float *ffn2_w;          // packed (C, F)
    const float *ffn2_b;          // (C) padded
    const float *ln2_w;           // (C)
    const float *ln2_b;           // (C)
    const void *q8[RL__N_LINEAR]; // packed int8 weights, NULL where the layer stays fp32
};

struct rl__bert_weights {
    const struct rl__kernels *k;   // the kernel set the weights are packed for
    bool any_q8;                   // some linear layer is int8
    const float *word;             // (V, C), in the mapped file when it is F32
    const float *pos;              // (P, C), likewise
    const float *type0;            // (C), the token type 0 row
    const float *ln_w;             // (C)
    const float *ln_b;             // (C)
    struct rl__bert_layer *layers; // (L)
    float *block;                  // owns everything above that is not in the mapped file
    struct rl_safetensors *st;     // kept open while word/pos point into it
};

// A set of linear layers: bit 1 << which for each enum rl__bert_linear in it.
#define RL__LINEAR_ALL ((1u << RL__N_LINEAR) - 1)
// The linear layers that run in int8 when int8 is asked for, in every layer: the mixed precision
// plan, chosen by measurement (model.c).
unsigned rl__bert_q8_plan(const struct rl__bert_config *cfg);

// Map path and lay out its weights for cfg and for the kernel set this CPU runs
// (rl__kernels_for_cpu; RL_EUNSUPPORTED when none) (the F32 embedding tables are read from the
// map, which stays open until rl__bert_weights_free); every tensor's dtype and shape is checked.
// The linear layers in the set q8 (RL__LINEAR_ALL for all, 0 for none) are quantised to int8,
// in every layer.
int rl__bert_weights_open(const char *path, const struct rl__bert_config *cfg, unsigned q8,
                          struct rl__bert_weights *w, char *errbuf) RL_NODISCARD;

// rl_encoder_open_precision with the int8 set given: q8 as rl__bert_weights_open, the plan
// (rl__bert_q8_plan) for RL_PRECISION_INT8; for the tests of other plans.
struct rl_encoder;
struct rl_encoder *rl__encoder_open_q8(const char *model_dir, unsigned q8, char *errbuf);
void rl__bert_weights_free(struct rl__bert_weights *w); // safe on a zeroed struct

// ----------------------------------------------------------------------------
// Thread team: the caller plus helper threads that run one function together (the shape of an
// OpenMP parallel region); the function divides the work itself.

struct rl__team;

struct rl__team *rl__team_new(int n_threads); // n_threads - 1 helpers; NULL on failure
void rl__team_free(struct rl__team *t);       // NULL is a no-op
int rl__team_size(const struct rl__team *t);  // 1 for NULL

// Run fn(arg, tid, n) on threads 0..n-1 (the caller is 0; n <= size) and return when all are
// done. A NULL team or n == 1 runs fn on the caller alone.
void rl__team_run(struct rl__team *t, int n, void (*fn)(void *arg, int tid, int n), void *arg);
// A spin-wait hint to the CPU (x86 `pause`).
void rl__cpu_relax(void);

#endif
