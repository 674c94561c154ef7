// Compute kernels of the BERT forward pass: a GEMM over pre-packed weights with fused epilogues
// (bias, residual, GELU) in fp32 and in int8, LayerNorm, single-head self-attention and L2
// normalisation. The vectorised kernels come in sets, one per instruction set, built from one
// source (kernels.c): `avx2` (x86-64-v3: AVX2 and FMA, 8 floats per vector) and `avx512`
// (x86-64-v4, 16) in the default build, with `avx512_vnni` (the avx512 set with an AVX-512 VNNI
// int8 GEMM) from the same object; one `native` set for the build host with `make NATIVE=1`. A
// set is chosen when a model loads (the packed weight layout depends on it) and used for that
// model.
// Kernels work on caller-owned buffers, never allocate, and are safe to run concurrently on
// disjoint outputs.
#ifndef RL_SRC_ENCODER_KERNELS_H
#define RL_SRC_ENCODER_KERNELS_H

#include <stddef.h>

enum rl__epilogue {
    RL__EPI_BIAS,          // y = x·Wᵀ + b
    RL__EPI_BIAS_RESIDUAL, // y = y + x·Wᵀ + b (y holds the residual on entry)
    RL__EPI_BIAS_GELU,     // y = gelu(x·Wᵀ + b), exact erf form
};

struct rl__kernels {
    const char *name; // "avx2", "avx512", "avx512_vnni", "native"

    // GEMM: y (M, N) = x (M, K) · Wᵀ + b [+ y] [then GELU], for a weight W (N, K) stored
    // [out, in] as in PyTorch's nn.Linear. W is packed once at load into column panels of nr
    // outputs, k-major within a panel, and zero-padded to a whole number of panels.
    int nr;                              // outputs per panel
    int (*n_panels)(int n);              // panels of a packed weight with n outputs
    size_t (*packed_size)(int n, int k); // floats needed by a packed (n, k) weight
    // Pack w (n, k) row-major into wp (packed_size floats, 64-byte aligned).
    void (*pack)(const float *w, int n, int k, float *wp);
    // Compute panels [p0, p1) of y for all m rows. x has row stride ldx, y row stride ldy; bias
    // holds n_panels(n) · nr floats (zero past n).
    void (*gemm)(int m, int n, int k, const float *x, int ldx, const float *wp, const float *bias,
                 float *y, int ldy, enum rl__epilogue epi, int p0, int p1);

    // int8 GEMM: the same product and epilogues as gemm, with W quantised once at load and each
    // row of x when it is ready, both symmetric in blocks of 32 consecutive k with one scale
    // each (max|v|/127, round to nearest); per block the products are summed exactly in int32
    // and scaled by the two blocks' scales into a float accumulator, before the bias. W is
    // packed into panels of nr outputs like gemm's, each panel k-major in groups of four k (one
    // 32-bit lane per output and group), followed by each output's block scales (float) and
    // block column sums (int32, for the offset form) padded to whole panels. A quantised row of
    // x is q8_row_size(k) bytes in the set's own form (int16 values, or bytes offset by 128 for
    // vpdpbusd), its block scales at the end.
    size_t (*q8_packed_size)(int n, int k); // bytes of a packed (n, k) weight, a multiple of 64
    // Quantise and pack w (n, k) row-major into wq (q8_packed_size bytes, 64-byte aligned).
    void (*q8_pack)(const float *w, int n, int k, void *wq);
    size_t (*q8_row_size)(int k); // bytes of one quantised row of k values, a multiple of 64
    // Quantise rows [r0, r1) of x (row stride ldx, k values each) into xq (q8_row_size(k) bytes
    // per row, 64-byte aligned).
    void (*q8_quantize)(const float *x, int ldx, int k, void *xq, int r0, int r1);
    // Panels [p0, p1) of y (M, N) = dequantised(xq · wqᵀ) + b [+ y] [then GELU], as gemm.
    void (*q8_gemm)(int m, int n, int k, const void *xq, const void *wq, const float *bias,
                    float *y, int ldy, enum rl__epilogue epi, int p0, int p1);

    // In place over rows [r0, r1) of x (rows of width c, stride ldx): LayerNorm with weight w,
    // bias b and epsilon eps, statistics over each row as in torch.nn.LayerNorm.
    void (*layernorm)(float *x, int ldx, int c, const float *w, const float *b, float eps, int r0,
                      int r1);

    // Scratch floats one attention_head call needs for a sequence of t tokens and head size d.
    size_t (*attention_scratch)(int t, int d);
    // One head of unmasked self-attention over one sequence of t tokens:
    //   out[i] = Σ_j softmax_j(q_i · k_j · scale) v_j
    // q, k, v: (t, d) with row stride ld; out: (t, d) with row stride ldo; scratch as sized above.
    void (*attention_head)(int t, int d, const float *q, const float *k, const float *v, int ld,
                           float scale, float *out, int ldo, float *scratch);

    // The vectorised gelu and exp applied to n floats, in place (the forms the kernels use),
    // exposed for the unit tests.
    void (*gelu_inplace)(float *x, int n);
    void (*exp_inplace)(float *x, int n);
};

// The set to use on this CPU: the one the environment variable ROUTELLM_KERNELS names (an error
// when that set is not built in or this CPU cannot run it), else the widest set it runs. NULL,
// with errbuf saying why, on a CPU without AVX2 and FMA.
const struct rl__kernels *rl__kernels_for_cpu(char *errbuf);
// The built-in set called name when this CPU runs it; NULL otherwise.
const struct rl__kernels *rl__kernels_named(const char *name);
// The name of the i-th built-in set (whether or not this CPU runs it); NULL past the last.
const char *rl__kernels_name(size_t i);

// ----------------------------------------------------------------------------
// Scalar kernels, the same for every set

// Scale v (n floats) to unit L2 norm (the sum of squares in double); a zero vector stays zero.
void rl__l2_normalize(float *v, int n);
float rl__gelu_ref(float x); // 0.5·x·(1 + erf(x/√2)) with libm's erff, the reference of gelu

#endif
