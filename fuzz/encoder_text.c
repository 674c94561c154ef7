// Fuzz target: prompt text, as the routers and the proxy hand it to the encoder. The tiny test
// model (tests/data/encoder/tiny-bert: its WordPiece tokenizer and 2 layers) is opened once; the
// input, split at its first NUL into up to two texts, is embedded as one batch and each text
// alone. Checked: any bytes embed (invalid UTF-8 and control characters are cleaned, not
// refused), every embedding is finite with unit norm, and a text gives the same vector alone or
// batched.
#include <math.h>
#include <stdbool.h>

#include "fuzz.h"
#include "rl/encoder.h"

#define TINY "tests/data/encoder/tiny-bert"

static struct rl_encoder *enc;

static void check_unit(const float *v, size_t dim) {
    double n2 = 0;
    for (size_t k = 0; k < dim; k++) {
        if (!isfinite(v[k]))
            abort();
        n2 += (double)v[k] * v[k];
    }
    if (fabs(n2 - 1.0) > 1e-3)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!enc) {
        char err[256];
        enc = rl_encoder_open(TINY, err);
        if (!enc)
            abort(); // run from the repository root
    }
    if (size > 1 << 16)
        return 0;
    char *copy = malloc(size + 2);
    if (!copy)
        abort();
    memcpy(copy, data, size);
    copy[size] = copy[size + 1] = '\0';
    const char *texts[2] = {copy, copy + strlen(copy) + 1}; // the second is empty without a NUL
    size_t dim = rl_encoder_dim(enc);
    float *batch = malloc(2 * dim * sizeof *batch), *alone = malloc(dim * sizeof *alone);
    if (!batch || !alone)
        abort();
    char err[256];
    if (rl_encoder_embed(enc, texts, 2, batch, err) != RL_OK)
        abort(); // any text is embeddable: invalid UTF-8 and controls are cleaned, not refused
    for (int t = 0; t < 2; t++) {
        check_unit(batch + (size_t)t * dim, dim);
        if (rl_encoder_embed(enc, &texts[t], 1, alone, err) != RL_OK)
            abort();
        for (size_t k = 0; k < dim; k++)
            if (fabsf(alone[k] - batch[(size_t)t * dim + k]) > 1e-4f)
                abort(); // batching changed a vector
    }
    free(batch);
    free(alone);
    free(copy);
    return 0;
}
