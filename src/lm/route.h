// Internal interface: a causal LM read as the sentence encoder of the causal_llm router
// (rl/encoder.h opens one for a GGUF model). Each text is laid out in the routing template
// (lm/vocab.h: rl__lm_route_head, rl__lm_route_body), its first RL_LM_ROUTE_MAX_TEXT tokens kept,
// and run after the template's head, whose keys and values are computed once at open; its
// embedding is the final hidden state at the last position, where the model would write its
// score, scaled to unit length. Immutable once opened; rl__lm_encoder_embed is thread-safe.
#ifndef RL_SRC_LM_ROUTE_H
#define RL_SRC_LM_ROUTE_H

#include "lm/decoder.h"
#include "lm/vocab.h"

// Tokens of a question the template keeps, as many as the default encoder keeps (256 word
// pieces with [CLS] and [SEP]).
#define RL_LM_ROUTE_MAX_TEXT 254

struct rl__lm_encoder {
    struct rl__lm lm;
    struct rl__lm_vocab vocab;
    struct rl__lm_prefix head; // the template's head, run once
};

// Open the model in the GGUF file at path for routing in the given precision. RL_OK, or an error
// with errbuf naming the file and what is wrong (*e then empty, safe to free).
int rl__lm_encoder_open(const char *path, enum rl_precision precision, struct rl__lm_encoder *e,
                        char *errbuf) RL_NODISCARD;
void rl__lm_encoder_free(struct rl__lm_encoder *e); // safe on a zeroed struct

// Embed text[0..len) into out (lm.n_embd floats, unit L2 norm); *n_tokens (may be NULL) receives
// the tokens the pass read, template included. RL_OK, or an error with errbuf.
int rl__lm_encoder_embed(const struct rl__lm_encoder *e, const char *text, size_t len, float *out,
                         size_t *n_tokens, char *errbuf) RL_NODISCARD;

#endif
