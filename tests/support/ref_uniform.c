// The uniform draws of tools/ref_eval.py, for tests that rebuild its reference cases.
#include "support/ref_uniform.h"

void ref_uniform(uint64_t seed, size_t n, double *out) {
    for (size_t i = 0; i < n; i++) {
        uint64_t z = seed + (i + 1) * 0x9e3779b97f4a7c15ull;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        z ^= z >> 31;
        out[i] = (double)(z >> 11) * 0x1.0p-53;
    }
}
