// The uniform draws of tools/ref_eval.py, for tests that rebuild its reference cases.
#include "core/core.h"
#include "support/ref_uniform.h"

void ref_uniform(uint64_t seed, size_t n, double *out) {
    for (size_t i = 0; i < n; i++)
        out[i] = rl__unit_double(rl__splitmix64_at(seed, i));
}
