// The encoder's golden texts and the embedding of them under a chosen kernel set and precision.
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "support/encoder_golden.h"
#include "test.h"

#define GOLDEN RL_TEST_DATA "/encoder/minilm_golden.jsonl.gz"

// The bytes of a hex string (a pair that is not hex reads as '?'), NUL-terminated; NULL when
// out of memory.
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

// Line n (from 0) of the file into g's row n.
static int read_line(char *line, size_t n, struct encoder_golden *g, char *err) {
    json_error_t jerr;
    json_t *j = json_loads(line, 0, &jerr);
    if (!j)
        return rl__errf(err, RL_EFORMAT, "%s line %zu: %s", GOLDEN, n + 1, jerr.text);
    const char *text = json_string_value(json_object_get(j, "text"));
    const char *hex = json_string_value(json_object_get(j, "hex"));
    json_t *emb = json_object_get(j, "embedding");
    int rc = RL_OK;
    if (!text && !hex)
        rc = rl__errf(err, RL_EFORMAT, "%s line %zu: neither \"text\" nor \"hex\"", GOLDEN, n + 1);
    else if (json_array_size(emb) != ENCODER_GOLDEN_DIM)
        rc = rl__errf(err, RL_EFORMAT, "%s line %zu: an embedding of %zu numbers, expected %d",
                      GOLDEN, n + 1, json_array_size(emb), ENCODER_GOLDEN_DIM);
    else if (!(g->texts[n] = text ? strdup(text) : hex_decode(hex)))
        rc = rl__errf(err, RL_ENOMEM, "%s line %zu: out of memory", GOLDEN, n + 1);
    if (rc == RL_OK) {
        g->n_tokens[n] = (int)json_integer_value(json_object_get(j, "n_tokens"));
        for (size_t k = 0; k < ENCODER_GOLDEN_DIM; k++)
            g->embedding[n * ENCODER_GOLDEN_DIM + k] =
                (float)json_number_value(json_array_get(emb, k));
    }
    json_decref(j);
    return rc;
}

int encoder_golden_load(size_t cap, struct encoder_golden *g, char *err) {
    *g = (struct encoder_golden){
        .texts = calloc(cap, sizeof *g->texts),
        .n_tokens = calloc(cap, sizeof *g->n_tokens),
        .embedding = calloc(cap * ENCODER_GOLDEN_DIM, sizeof *g->embedding),
    };
    char *data = NULL;
    size_t len;
    int rc = g->texts && g->n_tokens && g->embedding
                 ? rl_file_read(GOLDEN, 64u << 20, &data, &len, err)
                 : rl__errf(err, RL_ENOMEM, "%s: out of memory", GOLDEN);
    for (char *line = data, *next; rc == RL_OK && line && *line && g->n < cap; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        rc = read_line(line, g->n, g, err);
        g->n += rc == RL_OK;
    }
    free(data);
    if (rc != RL_OK)
        encoder_golden_free(g);
    return rc;
}

void encoder_golden_free(struct encoder_golden *g) {
    for (size_t i = 0; g->texts && i < g->n; i++)
        free(g->texts[i]);
    free(g->texts);
    free(g->n_tokens);
    free(g->embedding);
    *g = (struct encoder_golden){0};
}

int encoder_golden_embed(const char *kernels, enum rl_precision p, const char *const *texts,
                         size_t n, float *out, char *err) {
    if (kernels)
        setenv("ROUTELLM_KERNELS", kernels, 1);
    struct rl_encoder *e = rl_encoder_open_precision(RL_TEST_MODEL, p, err);
    if (kernels)
        unsetenv("ROUTELLM_KERNELS");
    if (!e)
        return RL_EIO;
    int rc = rl_encoder_precision(e) != p
                 ? rl__errf(err, RL_EINVAL, "%s kernels: asked for %s, the encoder is %s",
                            kernels ? kernels : "default", rl_precision_name(p),
                            rl_precision_name(rl_encoder_precision(e)))
                 : rl_encoder_embed(e, texts, n, out, err);
    rl_encoder_free(e);
    return rc;
}

double encoder_golden_cosine(const float *a, const float *b, size_t n) {
    double dot = 0, na = 0, nb = 0;
    for (size_t k = 0; k < n; k++) {
        dot += (double)a[k] * b[k];
        na += (double)a[k] * a[k];
        nb += (double)b[k] * b[k];
    }
    return dot / sqrt(na * nb);
}
