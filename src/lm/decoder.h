// Internal interface: a decoder-only language model read from a GGUF file, run over a prompt in
// one pass (no sampling loop): the logits of the last position and the final hidden state (after
// the output norm), as llama.cpp computes them for the same file.
//
// Architectures: `llama` (SmolLM2: RMSNorm, rotary embeddings on adjacent pairs, grouped-query
// attention, SwiGLU, tied or separate output matrix) and `gemma3` (Gemma 3: the embedding scaled
// by √width, RMSNorm of each query and key head, rotary embeddings on the two halves of a head with
// base 10,000 in the sliding-window layers and the file's base in every sixth, global, layer,
// attention within a window of the last `sliding_window` positions in the others, norms after
// attention and after the feed-forward block too, GeGLU with tanh GELU). Weights stay in the file's
// quantised types (lm/quant.h reads them); each matrix product dequantises a tile of rows to
// float32 and multiplies it with the encoder's GEMM kernels (src/encoder/kernels.h), so the
// arithmetic is float32 throughout (llama.cpp quantises the activations too: the two agree to about
// three decimal places, not bit for bit).
//
// A model is immutable once opened and may be shared by threads; each forward call allocates its
// own scratch memory.
#ifndef RL_SRC_LM_DECODER_H
#define RL_SRC_LM_DECODER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lm/gguf.h"

struct rl__kernels;

#define RL_LM_MAX_LAYERS 256
#define RL_LM_MAX_EMBD   16384

struct rl__lm_layer {
    const struct rl_gguf_tensor *attn_norm, *wq, *wk, *wv, *wo;
    const struct rl_gguf_tensor *ffn_norm, *w_gate, *w_up, *w_down;
    // gemma3 only (NULL for llama)
    const struct rl_gguf_tensor *q_norm, *k_norm, *post_attn_norm, *post_ffw_norm;
};

struct rl__lm {
    struct rl_gguf file;
    char arch[32];
    bool gemma; // the gemma3 architecture
    int n_layer, n_embd, n_ff, n_head, n_head_kv, head_dim, n_vocab, n_ctx;
    int n_swa; // gemma3: the sliding window of the local layers
    float rope_base, eps;
    const struct rl_gguf_tensor *tok_embd, *out_norm, *output; // output: tok_embd when tied
    const struct rl__kernels *kernels; // the encoder's GEMM kernels for this CPU
    struct rl__lm_layer *layers;       // (n_layer)
};

// Open the GGUF file at path and check that it holds a model of a supported architecture: every
// tensor present, with the shape its hyper-parameters give and a type lm/quant.h reads. RL_OK, or
// RL_EIO / RL_EFORMAT / RL_EUNSUPPORTED / RL_ENOMEM with errbuf naming the file and what is wrong;
// *m is then empty (safe to free).
int rl__lm_open(const char *path, struct rl__lm *m, char *errbuf) RL_NODISCARD;
void rl__lm_free(struct rl__lm *m); // safe on a zeroed or failed struct

// Run the n token ids (1 <= n <= n_ctx, each < n_vocab) through the model. logits (n_vocab
// floats) receives the last position's logits, hidden (n_embd floats) its final hidden state;
// either may be NULL. RL_OK, RL_EINVAL (bad ids or length) or RL_ENOMEM, with errbuf.
int rl__lm_forward(const struct rl__lm *m, const int32_t *ids, int n, float *logits, float *hidden,
                   char *errbuf) RL_NODISCARD;

// Prompt-level signals of a text, in nats: the mean negative log-likelihood of ids[1..n) given
// the ids before each, and the entropy of the model's distribution of the next token after all n.
struct rl__lm_signals {
    double mean_nll; // 0 when n == 1
    double next_entropy;
};

// Run the n ids through the model (as rl__lm_forward) and compute its signals from every
// position's logits, a tile of the output matrix at a time (memory n × 64 floats, not n × the
// vocabulary); logits (n_vocab floats, or NULL) receives the last position's. RL_OK, RL_EINVAL
// or RL_ENOMEM, with errbuf.
int rl__lm_signals(const struct rl__lm *m, const int32_t *ids, int n, struct rl__lm_signals *out,
                   float *logits, char *errbuf) RL_NODISCARD;

#endif
