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
// quantised types (lm/quant.h reads them). In float32 precision each matrix product dequantises a
// tile of rows to float32 and multiplies it with the encoder's GEMM kernels
// (src/encoder/kernels.h), so the arithmetic is float32 throughout (llama.cpp quantises the
// activations too: the two agree to about three decimal places, not bit for bit). In int8 precision
// the layers' matrices are requantised once at open into the encoder's int8 form (blocks of 32 with
// one scale each) and each product quantises its input rows the same way, as llama.cpp does with
// its 8-bit activations; the output matrix (logits) stays on the float32 path.
//
// A model is immutable once opened and may be shared by threads; each forward call allocates its
// own scratch memory.
#ifndef RL_SRC_LM_DECODER_H
#define RL_SRC_LM_DECODER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lm/gguf.h"
#include "rl/encoder.h"

struct rl__kernels;

#define RL_LM_MAX_LAYERS 256
#define RL_LM_MAX_EMBD   16384

// Rows of a matrix packed together for the int8 kernels: a product never holds more than this many
// rows of it in float32 while packing.
#define RL_LM_Q8_CHUNK 256

// A layer's matrix: the file's tensor and, in int8 precision, its rows packed for the int8 GEMM in
// chunks of RL_LM_Q8_CHUNK rows, chunk_bytes apart (q8 NULL in float32 precision).
struct rl__lm_matrix {
    const struct rl_gguf_tensor *t;
    void *q8;
    size_t chunk_bytes;
};

struct rl__lm_layer {
    const struct rl_gguf_tensor *attn_norm, *ffn_norm;
    struct rl__lm_matrix wq, wk, wv, wo, w_gate, w_up, w_down;
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
    enum rl_precision precision;
    const struct rl__kernels *kernels; // the encoder's GEMM kernels for this CPU
    struct rl__lm_layer *layers;       // (n_layer)
};

// Open the GGUF file at path and check that it holds a model of a supported architecture: every
// tensor present, with the shape its hyper-parameters give and a type lm/quant.h reads; in
// RL_PRECISION_INT8 pack the layers' matrices for the int8 kernels. RL_OK, or RL_EIO / RL_EFORMAT
// / RL_EUNSUPPORTED / RL_ENOMEM with errbuf naming the file and what is wrong; *m is then empty
// (safe to free).
int rl__lm_open(const char *path, enum rl_precision precision, struct rl__lm *m,
                char *errbuf) RL_NODISCARD;
void rl__lm_free(struct rl__lm *m); // safe on a zeroed or failed struct

// The keys and values every layer computed for a fixed run of tokens, so that passes over texts
// that all start with it (a routing template) compute it once: n positions, k and v each
// (n_layer, n, n_head_kv × head_dim) floats.
struct rl__lm_prefix {
    int n;
    float *k, *v;
};

// Run the n ids (1 <= n < n_ctx) and keep their keys and values in *p. RL_OK, RL_EINVAL or
// RL_ENOMEM with errbuf; *p is then empty.
int rl__lm_prefix_new(const struct rl__lm *m, const int32_t *ids, int n, struct rl__lm_prefix *p,
                      char *errbuf) RL_NODISCARD;
void rl__lm_prefix_free(struct rl__lm_prefix *p); // safe on a zeroed struct

// Run the n token ids (1 <= n, prefix length + n <= n_ctx, each < n_vocab) through the model, after
// the prefix's tokens when prefix is not NULL (as if the pass had read them first). logits (n_vocab
// floats) receives the last position's logits, hidden (n_embd floats) its final hidden state;
// either may be NULL. RL_OK, RL_EINVAL (bad ids or length) or RL_ENOMEM, with errbuf.
int rl__lm_forward(const struct rl__lm *m, const struct rl__lm_prefix *prefix, const int32_t *ids,
                   int n, float *logits, float *hidden, char *errbuf) RL_NODISCARD;

// The rows of the output matrix (the logits' weights) of the n token ids (each < n_vocab), n_embd
// floats each, into out: logit(id) = hidden · row(id). RL_OK, or RL_EINVAL for an id out of range.
int rl__lm_output_rows(const struct rl__lm *m, const int32_t *ids, int n, float *out) RL_NODISCARD;

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
