// The encoder's golden texts (tests/data/encoder/minilm_golden.jsonl.gz, written by
// tools/make_encoder_golden.py), and embedding them with a chosen kernel set and precision, for
// the tests that compare the encoder against sentence-transformers or against itself.
#ifndef RL_TEST_ENCODER_GOLDEN_H
#define RL_TEST_ENCODER_GOLDEN_H

#include <stddef.h>

#include "rl/encoder.h"

#define ENCODER_GOLDEN_DIM 384 // floats in each golden embedding (all-MiniLM-L6-v2)

struct encoder_golden {
    size_t n;         // texts read
    char **texts;     // n strings, each the text of one line ("text", or "hex" decoded)
    int *n_tokens;    // n token counts, sentence-transformers' (truncated at 256)
    float *embedding; // n × ENCODER_GOLDEN_DIM, row i sentence-transformers' vector of texts[i]
};

// Reads the first cap lines (all when fewer) into *g. Returns RL_OK, or an error with err
// naming the file and line: RL_EIO (the file), RL_EFORMAT (a line that is not JSON, has neither
// "text" nor "hex", or whose "embedding" is not ENCODER_GOLDEN_DIM numbers), RL_ENOMEM. On error
// *g holds nothing to free.
int encoder_golden_load(size_t cap, struct encoder_golden *g, char *err);
void encoder_golden_free(struct encoder_golden *g); // frees what g holds; g itself is the caller's

// Embeds the n texts with the encoder at RL_TEST_MODEL opened at precision p, its kernels the set
// named (forced with ROUTELLM_KERNELS, unset again once it is open) or, when kernels is NULL,
// the ones it picks itself, into out (n × the encoder's dim). Returns RL_OK, or an error with err:
// RL_EIO when the encoder does not open, RL_EINVAL when it reports another precision than p, else
// the error of embedding.
int encoder_golden_embed(const char *kernels, enum rl_precision p, const char *const *texts,
                         size_t n, float *out, char *err);

// The cosine of a and b (n floats each), summed in double.
double encoder_golden_cosine(const float *a, const float *b, size_t n);

#endif
