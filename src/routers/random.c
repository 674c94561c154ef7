// The random router: p_strong uniform in [0, 1), a baseline that sends a fraction 1 - α of
// requests to the strong model (RouteLLM §2.1). Draw k of a router seeded with s is
// output k of the splitmix64 stream seeded with s (rl__splitmix64_at), k taken from an atomic
// counter, so threads may share the router and a given seed gives a reproducible sequence (in
// call order). It needs no embedding and accepts
// any model names, since the pair does not affect the draw.
#include <stdatomic.h>
#include <stdlib.h>

#include "core/core.h"
#include "rl/battle.h"
#include "routers/router_impl.h"

struct random_state {
    uint64_t seed;
    _Atomic uint64_t counter; // draws so far (shared by all threads)
};

static int random_score(const struct rl_router *r, const struct rl_router_pair *pair,
                        const struct rl_prompt *prompt, const float *x, double *p_strong) {
    (void)pair;
    (void)prompt;
    (void)x;
    struct random_state *st = r->impl;
    // The counter is the router's only mutable state; relaxed order is enough for a ticket.
    uint64_t k = atomic_fetch_add_explicit(&st->counter, 1, memory_order_relaxed);
    *p_strong = rl__unit_double(rl__splitmix64_at(st->seed, k));
    return RL_OK;
}

static const char *const default_models[] = {RL_MODEL_DEFAULT_STRONG, RL_MODEL_DEFAULT_WEAK};

struct rl_router *rl_router_random_new(uint64_t seed) {
    struct rl_router *r = rl__router_new(&rl__router_kind_random, default_models, 2);
    struct random_state *st = r ? malloc(sizeof *st) : NULL;
    if (!st) {
        rl_router_free(r);
        return NULL;
    }
    st->seed = seed;
    atomic_init(&st->counter, 0);
    r->impl = st;
    return r;
}

// rl_router_load("random"): the seed 0.
static struct rl_router *random_build(void) {
    return rl_router_random_new(0);
}

const struct rl_router_kind rl__router_kind_random = {
    .name = "random",
    .any_pair = true,
    .shipped = true,
    .build = random_build,
    .score = random_score,
    .free = free,
};
