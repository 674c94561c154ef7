// all-MiniLM-L6-v2 against sentence-transformers on a subset of the tokenizer's golden corpus
// (tools/make_encoder_golden.py): every embedding must have cosine >= 0.99999 and max absolute
// difference <= 1e-4, with each kernel set this CPU runs (forced with ROUTELLM_KERNELS). Prints
// the worst case of each.
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "encoder/kernels.h"
#include "rl/encoder.h"
#include "test.h"

#define GOLDEN RL_TEST_DATA "/encoder/minilm_golden.jsonl.gz"

static char *hex_decode(const char *hex) {
    size_t n = strlen(hex) / 2;
    char *out = malloc(n + 1);
    for (size_t i = 0; out && i < n; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1)
            v = '?';
        out[i] = (char)v;
    }
    if (out)
        out[n] = '\0';
    return out;
}

TEST(encoder_golden_minilm_matches_sentence_transformers) {
    char err[RL_ERRBUF_SIZE];
    struct rl_encoder *e = rl_encoder_open(RL_TEST_MODEL, err);
    if (!e)
        TEST_FAIL_("%s", err);
    char *data;
    size_t len;
    ASSERT_OK(rl_file_read(GOLDEN, 64u << 20, &data, &len, err));
    size_t cap = 512, n = 0;
    char **texts = calloc(cap, sizeof *texts);
    float *want = calloc(cap * 384, sizeof *want);
    int *n_tokens = calloc(cap, sizeof *n_tokens);
    ASSERT(texts && want && n_tokens);
    ASSERT_EQ(rl_encoder_dim(e), 384);
    for (char *line = data, *next; line && *line && n < cap; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        json_error_t jerr;
        json_t *j = json_loads(line, 0, &jerr);
        if (!j)
            TEST_FAIL_("%s line %zu: %s", GOLDEN, n + 1, jerr.text);
        const char *text = json_string_value(json_object_get(j, "text"));
        const char *hex = json_string_value(json_object_get(j, "hex"));
        json_t *emb = json_object_get(j, "embedding");
        ASSERT(text || hex);
        ASSERT_EQ(json_array_size(emb), 384);
        texts[n] = text ? strdup(text) : hex_decode(hex);
        n_tokens[n] = (int)json_integer_value(json_object_get(j, "n_tokens"));
        for (size_t k = 0; k < 384; k++)
            want[n * 384 + k] = (float)json_number_value(json_array_get(emb, k));
        n++;
        json_decref(j);
    }
    free(data);
    ASSERT(n >= 250);

    // Truncation agrees with sentence-transformers (256 tokens) on every text.
    const struct rl_tokenizer *tok = rl_encoder_tokenizer(e);
    ASSERT_EQ(rl_encoder_max_tokens(e), 256);
    int32_t ids[256];
    for (size_t i = 0; i < n; i++) {
        int got = rl_tokenizer_encode(tok, texts[i], strlen(texts[i]), ids, 256);
        if (got != n_tokens[i])
            TEST_FAIL_("text %zu: %d tokens, sentence-transformers has %d", i, got, n_tokens[i]);
    }

    float *got = malloc(n * 384 * sizeof *got);
    ASSERT_NOT_NULL(got);
    int sets_run = 0;
    for (size_t set = 0; rl__kernels_name(set); set++) {
        const char *name = rl__kernels_name(set);
        if (!rl__kernels_named(name))
            continue; // this CPU cannot run it
        setenv("ROUTELLM_KERNELS", name, 1);
        struct rl_encoder *es = rl_encoder_open(RL_TEST_MODEL, err);
        unsetenv("ROUTELLM_KERNELS");
        if (!es)
            TEST_FAIL_("%s", err);
        int rc = rl_encoder_embed(es, (const char *const *)texts, n, got, err);
        rl_encoder_free(es);
        ASSERT_OK(rc);
        sets_run++;
        double worst_cos = 1, worst_abs = 0;
        size_t at_cos = 0, at_abs = 0;
        int bad = 0;
        for (size_t i = 0; i < n; i++) {
            double dot = 0, na = 0, nb = 0, mx = 0;
            for (size_t k = 0; k < 384; k++) {
                double a = got[i * 384 + k], b = want[i * 384 + k];
                dot += a * b;
                na += a * a;
                nb += b * b;
                mx = fabs(a - b) > mx ? fabs(a - b) : mx;
            }
            double cos = dot / sqrt(na * nb);
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
    for (size_t i = 0; i < n; i++)
        free(texts[i]);
    free(texts);
    free(want);
    free(n_tokens);
    free(got);
    rl_encoder_free(e);
    return 0;
}
