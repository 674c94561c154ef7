// all-MiniLM-L6-v2 against sentence-transformers on a subset of the tokenizer's golden corpus
// (tools/make_encoder_golden.py): every embedding must have cosine >= 0.99999 and max absolute
// difference <= 1e-4, with each kernel set this CPU runs (forced with ROUTELLM_KERNELS). Prints
// the worst case of each.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "encoder/kernels.h"
#include "rl/encoder.h"
#include "support/encoder_golden.h"
#include "test.h"

TEST(encoder_golden_minilm_matches_sentence_transformers) {
    char err[RL_ERRBUF_SIZE];
    struct rl_encoder *e = rl_encoder_open(RL_TEST_MODEL, err);
    if (!e)
        TEST_FAIL_("%s", err);
    ASSERT_EQ(rl_encoder_dim(e), 384);
    struct encoder_golden g;
    if (encoder_golden_load(512, &g, err) != RL_OK)
        TEST_FAIL_("%s", err);
    size_t n = g.n;
    char **texts = g.texts;
    ASSERT(n >= 250);

    // Truncation agrees with sentence-transformers (256 tokens) on every text.
    const struct rl_tokenizer *tok = rl_encoder_tokenizer(e);
    ASSERT_EQ(rl_encoder_max_tokens(e), 256);
    int32_t ids[256];
    for (size_t i = 0; i < n; i++) {
        int got = rl_tokenizer_encode(tok, texts[i], strlen(texts[i]), ids, 256);
        if (got != g.n_tokens[i])
            TEST_FAIL_("text %zu: %d tokens, sentence-transformers has %d", i, got, g.n_tokens[i]);
    }

    float *got = malloc(n * 384 * sizeof *got);
    ASSERT_NOT_NULL(got);
    int sets_run = 0;
    for (size_t set = 0; rl__kernels_name(set); set++) {
        const char *name = rl__kernels_name(set);
        if (!rl__kernels_named(name))
            continue; // this CPU cannot run it
        if (encoder_golden_embed(name, RL_PRECISION_FP32, (const char *const *)texts, n, got,
                                 err) != RL_OK)
            TEST_FAIL_("%s", err);
        sets_run++;
        double worst_cos = 1, worst_abs = 0;
        size_t at_cos = 0, at_abs = 0;
        int bad = 0;
        for (size_t i = 0; i < n; i++) {
            const float *a = got + i * 384, *b = g.embedding + i * 384;
            double cos = encoder_golden_cosine(a, b, 384), mx = 0;
            for (size_t k = 0; k < 384; k++)
                mx = fabs((double)a[k] - b[k]) > mx ? fabs((double)a[k] - b[k]) : mx;
            if (cos < worst_cos)
                worst_cos = cos, at_cos = i;
            if (mx > worst_abs)
                worst_abs = mx, at_abs = i;
            bad += cos < 0.99999 || mx > 1e-4;
        }
        printf("  %s kernels, %zu texts: worst cosine %.9f (text %zu), worst max abs diff %.3g "
               "(text %zu)\n",
               name, n, worst_cos, at_cos, worst_abs, at_abs);
        if (bad)
            TEST_FAIL_("%s kernels: %d of %zu embeddings outside cosine >= 0.99999, max abs "
                       "diff <= 1e-4",
                       name, bad, n);
    }
    ASSERT(sets_run > 0);
    encoder_golden_free(&g);
    free(got);
    rl_encoder_free(e);
    return 0;
}
