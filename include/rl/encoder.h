// Local sentence encoder: a BERT-family model (config.json + model.safetensors + the
// sentence-transformers pooling config) run in fp32 on the CPU. Produces unit-norm embeddings
// that match sentence-transformers. Immutable after load; every function is thread-safe.
#ifndef RL_ENCODER_H
#define RL_ENCODER_H

#include <stddef.h>

#include "rl/core.h"

struct rl_encoder;

// Load the encoder in model_dir. NULL on failure, errbuf names the file and the problem.
struct rl_encoder *rl_encoder_load(const char *model_dir, char *errbuf);
void rl_encoder_free(struct rl_encoder *e); // NULL is a no-op

int rl_encoder_dim(const struct rl_encoder *e);          // embedding width, e.g. 384
const char *rl_encoder_name(const struct rl_encoder *e); // e.g. "all-MiniLM-L6-v2"; valid until free

// Embed n NUL-terminated texts into out (n × dim floats, row-major, each row unit L2 norm).
// Texts are batched internally without padding waste. Returns RL_OK or < 0.
int rl_encoder_embed(const struct rl_encoder *e, const char *const *texts, size_t n, float *out,
                     char *errbuf) RL_NODISCARD;

#endif
