// The shared building blocks of core.h: FNV-1a against its published vectors, the splitmix64
// stream against its reference outputs, and the fp16 conversion.
#include <math.h>
#include <string.h>

#include "core/core.h"
#include "test.h"

TEST(core_fnv1a) {
    static const struct {
        const char *in; // input
        uint64_t out;   // output: FNV-1a 64 (Fowler, Noll and Vo's test vectors)
    } cases[] = {
        {"", 0xcbf29ce484222325ull},
        {"a", 0xaf63dc4c8601ec8cull},
        {"foobar", 0x85944171f73967e8ull},
    };
    for (size_t i = 0; i < RL_COUNTOF(cases); i++)
        ASSERT_EQ(rl__fnv1a(cases[i].in, strlen(cases[i].in), RL_FNV1A_INIT), cases[i].out);
    // Fed in pieces, a text hashes as the whole.
    ASSERT_EQ(rl__fnv1a("bar", 3, rl__fnv1a("foo", 3, RL_FNV1A_INIT)), 0x85944171f73967e8ull);
    ASSERT_EQ(rl__hash64("foobar", 6), rl__mix64(0x85944171f73967e8ull));
    // A list's digest separates the strings' boundaries.
    const char *a[2] = {"ab", "c"}, *b[2] = {"a", "bc"};
    ASSERT(rl__fnv1a_strings(a, 2, RL_FNV1A_INIT) != rl__fnv1a_strings(b, 2, RL_FNV1A_INIT));
    return 0;
}

TEST(core_splitmix64) {
    // The reference implementation's first outputs from state 0 (Vigna's splitmix64.c).
    static const uint64_t want[] = {0xe220a8397b1dcdafull, 0x6e789e6aa1b965f4ull,
                                    0x06c45d188009454full};
    uint64_t state = 0;
    for (size_t k = 0; k < RL_COUNTOF(want); k++) {
        ASSERT_EQ(rl__splitmix64(&state), want[k]);
        ASSERT_EQ(rl__splitmix64_at(0, k), want[k]);
    }
    ASSERT_EQ(rl__unit_double(0), 0.0);
    ASSERT_EQ(rl__unit_double(UINT64_MAX), 1.0 - 0x1.0p-53);
    ASSERT_EQ(rl__unit_double(1ull << 63), 0.5);
    return 0;
}

TEST(core_half_precision) {
    static const struct {
        float in;     // input
        uint16_t out; // output
    } cases[] = {
        {0.0f, 0x0000}, {1.0f, 0x3c00},     {-2.0f, 0xc000},     {65504.0f, 0x7bff},
        {1e6f, 0x7c00}, {5.96e-8f, 0x0001}, {0.333333f, 0x3555}, {1.0009765625f, 0x3c01},
    };
    for (size_t i = 0; i < RL_COUNTOF(cases); i++) {
        ASSERT_EQ(rl__f32_to_f16(cases[i].in), cases[i].out);
        if (cases[i].out != 0x7c00)
            ASSERT_NEAR(rl__f16_to_f32(cases[i].out), cases[i].in, fabs(cases[i].in) * 1e-3);
    }
    // Every finite half survives a round trip; infinities and NaN keep their kind.
    for (uint32_t h = 0; h < 0x10000; h++) {
        if ((h & 0x7c00) == 0x7c00) {
            float f = rl__f16_to_f32((uint16_t)h);
            ASSERT((h & 0x3ff) ? isnan(f) : isinf(f));
            continue;
        }
        ASSERT_EQ(rl__f32_to_f16(rl__f16_to_f32((uint16_t)h)), h);
    }
    ASSERT_EQ(rl__f16_to_f32(0x0001), 0x1.0p-24f);
    return 0;
}
