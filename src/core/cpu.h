// Internal interface: what the CPU (and the operating system, which must save the wider vector
// registers) can run, by x86-64 microarchitecture level, read with CPUID at each call.
#ifndef RL_SRC_CORE_CPU_H
#define RL_SRC_CORE_CPU_H

#include <stdbool.h>

// x86-64-v3: AVX, AVX2, BMI1, BMI2, F16C, FMA, LZCNT and MOVBE, with YMM state enabled.
bool rl__cpu_x86_64_v3(void);
// x86-64-v4: v3 and AVX-512 F, BW, CD, DQ and VL, with ZMM state enabled.
bool rl__cpu_x86_64_v4(void);
// x86-64-v4 and AVX-512 VNNI (vpdpbusd, int8 dot products into int32).
bool rl__cpu_x86_64_v4_vnni(void);
// Whether this CPU runs the code of this build: the default build's numeric code needs v3; a
// NATIVE=1 build is assumed to run where it was built.
bool rl__cpu_runs_build(void);

#endif
