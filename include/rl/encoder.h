// Local sentence encoder: a BERT-family model (config.json + model.safetensors + the
// sentence-transformers pooling config) run on the CPU in fp32 (the reference) or with int8
// linear layers; or a causal LM in a GGUF file (SmolLM2, Gemma 3), which reads each text in the
// causal_llm router's template and gives the final hidden state where it would write its score
// (docs/LM.md). Produces unit-norm embeddings that match sentence-transformers (fp32), or come
// within cosine 0.995 of the fp32 ones (int8: 0.998 at worst on the golden texts). A loaded encoder
// is immutable (but for a locked pool of workspaces) and shared freely: every function that takes
// only an encoder is thread-safe.
#ifndef RL_ENCODER_H
#define RL_ENCODER_H

#include <stddef.h>
#include <stdint.h>

#include "rl/core.h"
#include "rl/tokenizer.h"

RL_API_BEGIN

struct rl_encoder;

// The arithmetic of the encoder's linear layers. int8: weights quantised once at load (per
// output channel) and activations per row as they are made, products summed in int32 (on
// AVX-512 VNNI where the CPU has it); the layers that lose too much stay fp32 (docs/ENCODER.md).
enum rl_precision {
    RL_PRECISION_FP32,
    RL_PRECISION_INT8,
};

const char *rl_precision_name(enum rl_precision p); // "fp32", "int8"
// Parse "fp32" or "int8" into *p; RL_EINVAL (and *p untouched) for anything else.
int rl_precision_parse(const char *s, enum rl_precision *p) RL_NODISCARD;

// Open the encoder in model_dir: its weights stay mapped from model.safetensors until
// rl_encoder_free. A path ending in .gguf, or a folder without config.json holding one .gguf
// file, opens a causal LM (named after the folder, or the file without .gguf). NULL on failure,
// errbuf names the file and the problem.
struct rl_encoder *rl_encoder_open(const char *model_dir, char *errbuf);
// rl_encoder_open with the given precision (rl_encoder_open is RL_PRECISION_FP32).
struct rl_encoder *rl_encoder_open_precision(const char *model_dir, enum rl_precision precision,
                                             char *errbuf);
void rl_encoder_free(struct rl_encoder *e); // NULL is a no-op
enum rl_precision rl_encoder_precision(const struct rl_encoder *e);

size_t rl_encoder_dim(const struct rl_encoder *e); // embedding width, e.g. 384
const char *
rl_encoder_name(const struct rl_encoder *e); // e.g. "all-MiniLM-L6-v2"; valid until free

// Embed n NUL-terminated texts into out (n × dim floats, row-major, each row unit L2 norm).
// Texts are batched internally without padding waste. Returns RL_OK or < 0.
int rl_encoder_embed(const struct rl_encoder *e, const char *const *texts, size_t n, float *out,
                     char *errbuf) RL_NODISCARD;

// Tokens a text keeps after truncation, [CLS] and [SEP] included (max_seq_length, e.g. 256); a
// causal LM's context.
size_t rl_encoder_max_tokens(const struct rl_encoder *e);
// The tokens the encoder reads for text[0..len): after truncation, with [CLS] and [SEP], or with
// the causal LM's template. < 0 on failure.
long rl_encoder_count_tokens(const struct rl_encoder *e, const char *text, size_t len);
// Largest position the model has (max_position_embeddings): the limit of rl_encoder_embed_ids.
size_t rl_encoder_max_positions(const struct rl_encoder *e);
// The encoder's tokenizer (NULL for a causal LM); valid until rl_encoder_free.
const struct rl_tokenizer *rl_encoder_tokenizer(const struct rl_encoder *e);

// The score tokens "1" … "5" a causal LM would write after the routing template's "[[".
#define RL_ENCODER_SCORE_TOKENS 5
// A causal LM's output-matrix rows of the score tokens (RL_ENCODER_SCORE_TOKENS × dim floats into
// rows): the LM's logit of score k for a text is its final hidden state · row k, so the unit-length
// embedding · row k is that logit divided by the hidden state's norm. RL_OK; RL_EINVAL for an
// encoder that is not a causal LM; RL_EFORMAT when the vocabulary lacks a digit; errbuf says which.
int rl_encoder_score_rows(const struct rl_encoder *e, float *rows, char *errbuf) RL_NODISCARD;

// ----------------------------------------------------------------------------
// Workspaces: the scratch memory and threads of forward passes. rl_encoder_embed takes one from
// a small pool kept by the encoder (one thread per CPU each); callers that want another thread
// count keep their own. A workspace serves any encoder, but one call at a time (not
// thread-safe); its memory grows to the largest batch seen.

struct rl_encoder_ws;

// A workspace running each forward pass on n_threads threads (the caller and n_threads - 1
// helpers); n_threads <= 0 means one per online CPU. NULL when out of memory or threads.
struct rl_encoder_ws *rl_encoder_ws_new(int n_threads);
void rl_encoder_ws_free(struct rl_encoder_ws *ws); // NULL is a no-op
int rl_encoder_ws_threads(const struct rl_encoder_ws *ws);

// rl_encoder_embed with the caller's workspace (NULL: a pooled one, as rl_encoder_embed).
int rl_encoder_embed_ws(const struct rl_encoder *e, struct rl_encoder_ws *ws,
                        const char *const *texts, size_t n, float *out, char *errbuf) RL_NODISCARD;

// Embed n token sequences (BERT encoders only: RL_EINVAL for a causal LM), bypassing the tokenizer:
// ids[i] holds n_ids[i] ids, [CLS] and [SEP] included, 1 <= n_ids[i] <=
// rl_encoder_max_positions(e), each id < the vocabulary size. ws may be NULL (a pooled one is
// used). Output as rl_encoder_embed.
int rl_encoder_embed_ids(const struct rl_encoder *e, struct rl_encoder_ws *ws,
                         const int32_t *const *ids, const size_t *n_ids, size_t n, float *out,
                         char *errbuf) RL_NODISCARD;

RL_API_END

#endif
