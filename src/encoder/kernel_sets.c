// The kernel sets this build holds and the choice among them (encoder/kernels.h), and the
// scalar kernels every set shares. The Makefile defines RL_HAVE_KERNELS_<set> for each set it
// builds (kernels.c, once per set).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "core/cpu.h"
#include "encoder/kernels.h"

#ifdef RL_HAVE_KERNELS_avx2
extern const struct rl__kernels rl__kernels_avx2;
#endif
#ifdef RL_HAVE_KERNELS_avx512
extern const struct rl__kernels rl__kernels_avx512;
extern const struct rl__kernels rl__kernels_avx512_vnni; // the avx512 set with VNNI's int8 GEMM
#endif
#ifdef RL_HAVE_KERNELS_native
extern const struct rl__kernels rl__kernels_native;
#endif

// Narrowest first: the widest set the CPU runs is the last one that passes.
static const struct {
    const struct rl__kernels *set;
    bool (*runs)(void);
} sets[] = {
#ifdef RL_HAVE_KERNELS_avx2
    {&rl__kernels_avx2, rl__cpu_x86_64_v3},
#endif
#ifdef RL_HAVE_KERNELS_avx512
    {&rl__kernels_avx512, rl__cpu_x86_64_v4},
    {&rl__kernels_avx512_vnni, rl__cpu_x86_64_v4_vnni},
#endif
#ifdef RL_HAVE_KERNELS_native
    {&rl__kernels_native, rl__cpu_runs_build},
#endif
};

const char *rl__kernels_name(size_t i) {
    return i < RL_COUNTOF(sets) ? sets[i].set->name : NULL;
}

// The index of the set called name; RL_COUNTOF(sets) when none is.
static size_t find(const char *name) {
    size_t i = 0;
    while (i < RL_COUNTOF(sets) && strcmp(sets[i].set->name, name) != 0)
        i++;
    return i;
}

const struct rl__kernels *rl__kernels_named(const char *name) {
    size_t i = find(name);
    return i < RL_COUNTOF(sets) && sets[i].runs() ? sets[i].set : NULL;
}

const struct rl__kernels *rl__kernels_for_cpu(char *errbuf) {
    char names[64] = "";
    for (size_t i = 0; i < RL_COUNTOF(sets); i++)
        snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? ", " : "",
                 sets[i].set->name);
    const char *want = getenv("ROUTELLM_KERNELS");
    if (want && *want) {
        const struct rl__kernels *k = rl__kernels_named(want);
        if (!k)
            rl__errf(errbuf, RL_EINVAL, "ROUTELLM_KERNELS=%.32s: %s (this build has: %s)", want,
                     find(want) < RL_COUNTOF(sets) ? "this CPU cannot run that kernel set"
                                                   : "no such kernel set",
                     names);
        return k;
    }
    const struct rl__kernels *best = NULL;
    for (size_t i = 0; i < RL_COUNTOF(sets); i++)
        if (sets[i].runs())
            best = sets[i].set;
    if (!best)
        rl__errf(errbuf, RL_EINVAL,
                 "this CPU lacks AVX2 and FMA, which this build's kernels (%s) need; build with "
                 "`make NATIVE=1` on this machine",
                 names);
    return best;
}

// ----------------------------------------------------------------------------
// Scalar kernels

void rl__l2_normalize(float *v, int n) {
    double ss = 0;
    for (int i = 0; i < n; i++)
        ss += (double)v[i] * v[i];
    if (ss <= 0)
        return;
    float inv = (float)(1.0 / sqrt(ss));
    for (int i = 0; i < n; i++)
        v[i] *= inv;
}

float rl__gelu_ref(float x) {
    return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
}
