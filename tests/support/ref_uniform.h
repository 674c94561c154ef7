// Draws shared by the tests that compare against tools/ref_eval.py: the same sequence as its
// uniform(), so that a reference case is rebuilt from its seed alone.
#ifndef RL_TEST_REF_UNIFORM_H
#define RL_TEST_REF_UNIFORM_H

#include <stddef.h>
#include <stdint.h>

// n draws in [0, 1): outputs 0 .. n - 1 of the splitmix64 stream seeded with seed
// (rl__splitmix64_at), top 53 bits each.
void ref_uniform(uint64_t seed, size_t n, double *out);

#endif
