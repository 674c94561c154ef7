// The length router: p_strong grows with the prompt's length in tokens (rl_features_n_tokens),
// p = t / (t + 64), so that longer prompts go to the strong model first. It is the baseline
// every quality report shows beside the learned routers: ranking prompts by length alone is
// what a learned router has to beat. It needs no embedding and no file, and accepts any pair.
#include <stdlib.h>

#include "routers/router_impl.h"

// The length at which p_strong is one half: a typical chat prompt's, in tokens.
#define HALF_TOKENS 64.0

static int length_score(const struct rl_router *r, const struct rl_router_pair *pair,
                        const struct rl_prompt *prompt, const float *x, double *p_strong) {
    (void)r;
    (void)pair;
    (void)x;
    double t = (double)rl_features_n_tokens(prompt->len ? prompt->text : "", prompt->len);
    *p_strong = t / (t + HALF_TOKENS);
    return RL_OK;
}

static void length_free(void *impl) {
    (void)impl;
}

static const char *const default_models[] = {RL_MODEL_DEFAULT_STRONG, RL_MODEL_DEFAULT_WEAK};

static struct rl_router *length_build(void) {
    return rl__router_new(&rl__router_kind_length, default_models, 2);
}

const struct rl_router_kind rl__router_kind_length = {
    .name = "length",
    .any_pair = true,
    .shipped = true,
    .needs_text = true,
    .build = length_build,
    .score = length_score,
    .free = length_free,
};
