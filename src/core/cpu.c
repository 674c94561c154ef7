// CPU levels from CPUID and XGETBV (core/cpu.h). CPUID rather than __builtin_cpu_supports, which
// clang 14 lacks for F16C and MOVBE and GCC 12 lacks for the level names.
#include <cpuid.h>
#include <stdint.h>

#include "core/cpu.h"

struct levels {
    bool v3, v4, v4_vnni;
};

static uint64_t xgetbv0(void) {
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (uint64_t)hi << 32 | lo;
}

static struct levels read_levels(void) {
    struct levels l = {false, false, false};
    unsigned a, b, c1, d, b7, c7, d7, cx;
    if (!__get_cpuid(1, &a, &b, &c1, &d) || !__get_cpuid_count(7, 0, &a, &b7, &c7, &d7) ||
        !__get_cpuid(0x80000001, &a, &b, &cx, &d))
        return l;
    if (!(c1 & bit_OSXSAVE))
        return l;
    uint64_t xcr0 = xgetbv0();
    bool ymm = (xcr0 & 0x6) == 0x6, zmm = (xcr0 & 0xe6) == 0xe6;
    unsigned need1 = bit_AVX | bit_FMA | bit_F16C | bit_MOVBE;
    unsigned need7 = bit_AVX2 | bit_BMI | bit_BMI2;
    l.v3 = ymm && (c1 & need1) == need1 && (b7 & need7) == need7 && (cx & bit_LZCNT);
    unsigned need512 = bit_AVX512F | bit_AVX512BW | bit_AVX512CD | bit_AVX512DQ | bit_AVX512VL;
    l.v4 = l.v3 && zmm && (b7 & need512) == need512;
    l.v4_vnni = l.v4 && (c7 & bit_AVX512VNNI);
    return l;
}

bool rl__cpu_x86_64_v3(void) {
    return read_levels().v3;
}

bool rl__cpu_x86_64_v4(void) {
    return read_levels().v4;
}

bool rl__cpu_x86_64_v4_vnni(void) {
    return read_levels().v4_vnni;
}

bool rl__cpu_runs_build(void) {
#ifdef RL_NATIVE_BUILD
    return true;
#else
    return rl__cpu_x86_64_v3();
#endif
}
