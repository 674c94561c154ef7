// Fuzz target: rl_router_load on arbitrary bytes as a router .safetensors file, as `route`,
// `eval` and `serve` load one: the common metadata checks, then the kind's tensor validation (mf,
// sw_ranking, bert). A router it accepts is walked in full: its models, metadata and every pair
// scored with a fixed pseudo-random embedding of the router's width, so the scoring paths read
// every tensor they keep. The training-prompt list a router names is fuzzed by train_prompts.c.
#include <math.h>

#include "fuzz.h"
#include "rl/router.h"

#define MAX_PAIRS_MODELS 4

static const char *const meta_keys[] = {
    "hyper",          "metrics", "aliases",       "data_digest",
    "n_battles",      "source",  "train_prompts", "train_prompts_sha256",
    "n_train_prompts"};

static void touch(const char *s) {
    if (s)
        fuzz_sink ^= (uint8_t)strlen(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[RL_ERRBUF_SIZE];
    struct rl_router *r = rl_router_load(fuzz_file(data, size, ".safetensors"), NULL, err);
    if (!r)
        return 0;
    touch(rl_router_name(r));
    touch(rl_router_encoder_name(r));
    for (size_t i = 0; i < sizeof meta_keys / sizeof *meta_keys; i++)
        touch(rl_router_meta(r, meta_keys[i]));
    size_t n = rl_router_n_models(r);
    for (size_t i = 0; i < n; i++)
        touch(rl_router_model(r, i));
    size_t dim = rl_router_encoder_dim(r);
    float *emb = NULL;
    if (dim > 0) {
        emb = malloc(dim * sizeof *emb);
        if (!emb)
            abort();
        // A unit vector, as the encoder gives: the routers assume nothing more of it.
        uint32_t x = 2463534242u;
        double norm = 0;
        for (size_t k = 0; k < dim; k++) {
            x ^= x << 13, x ^= x >> 17, x ^= x << 5;
            emb[k] = (float)((double)x / 4294967296.0 - 0.5);
            norm += (double)emb[k] * emb[k];
        }
        for (size_t k = 0; k < dim; k++)
            emb[k] = (float)(emb[k] / sqrt(norm > 0 ? norm : 1));
    }
    double p;
    if (rl_router_score(r, NULL, emb, &p) == RL_OK && !(p >= 0 && p <= 1))
        abort(); // the contract: p_strong in [0, 1]
    int m = n < MAX_PAIRS_MODELS ? n : MAX_PAIRS_MODELS;
    for (int s = 0; s < m; s++)
        for (int w = 0; w < m; w++) {
            struct rl_router_pair pair;
            if (s == w || rl_router_pair(r, rl_router_model(r, s), rl_router_model(r, w), &pair,
                                         err) != RL_OK)
                continue;
            if (rl_router_score(r, &pair, emb, &p) == RL_OK && !(p >= 0 && p <= 1))
                abort();
        }
    free(emb);
    rl_router_free(r);
    return 0;
}
