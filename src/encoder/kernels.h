// Compute kernels of the BERT forward pass, fp32: a GEMM over pre-packed weights with fused
// epilogues (bias, residual, GELU), LayerNorm, single-head self-attention and L2 normalisation.
// Built with -O3 -march=native; the vector width is the host's (16 floats with AVX-512, else 8).
// Kernels work on caller-owned buffers, never allocate, and are safe to run concurrently on
// disjoint outputs.
#ifndef RL_SRC_ENCODER_KERNELS_H
#define RL_SRC_ENCODER_KERNELS_H

#include <stddef.h>

// ----------------------------------------------------------------------------
// GEMM: y (M, N) = x (M, K) · Wᵀ + b [+ y] [then GELU], for a weight W (N, K) stored [out, in]
// as in PyTorch's nn.Linear. W is packed once at load into column panels of rl__gemm_nr()
// outputs, k-major within a panel, and zero-padded to a whole number of panels.

int rl__gemm_nr(void);                     // outputs per panel
size_t rl__gemm_packed_size(int n, int k); // floats needed by a packed (n, k) weight
int rl__gemm_n_panels(int n);              // panels of a packed weight with n outputs
// Pack w (n, k) row-major into wp (rl__gemm_packed_size floats, 64-byte aligned).
void rl__gemm_pack(const float *w, int n, int k, float *wp);

enum rl__epilogue {
    RL__EPI_BIAS,          // y = x·Wᵀ + b
    RL__EPI_BIAS_RESIDUAL, // y = y + x·Wᵀ + b (y holds the residual on entry)
    RL__EPI_BIAS_GELU,     // y = gelu(x·Wᵀ + b), exact erf form
};

// Compute panels [p0, p1) of y for all m rows. x has row stride ldx, y row stride ldy; bias holds
// rl__gemm_n_panels(n) · rl__gemm_nr() floats (zero past n).
void rl__gemm(int m, int n, int k, const float *x, int ldx, const float *wp, const float *bias,
              float *y, int ldy, enum rl__epilogue epi, int p0, int p1);

// ----------------------------------------------------------------------------
// Row kernels

// In place over rows [r0, r1) of x (rows of width c, stride ldx): LayerNorm with weight w, bias
// b and epsilon eps, statistics over each row as in torch.nn.LayerNorm.
void rl__layernorm(float *x, int ldx, int c, const float *w, const float *b, float eps, int r0,
                   int r1);

// Scale v (n floats) to unit L2 norm; a zero vector stays zero.
void rl__l2_normalize(float *v, int n);

// ----------------------------------------------------------------------------
// Attention

// Scratch floats one rl__attention_head call needs for a sequence of t tokens and head size d.
size_t rl__attention_scratch(int t, int d);

// One head of unmasked self-attention over one sequence of t tokens:
//   out[i] = Σ_j softmax_j(q_i · k_j · scale) v_j
// q, k, v: (t, d) with row stride ld; out: (t, d) with row stride ldo; scratch as sized above.
void rl__attention_head(int t, int d, const float *q, const float *k, const float *v, int ld,
                        float scale, float *out, int ldo, float *scratch);

// ----------------------------------------------------------------------------
// Elementwise references, exposed for the unit tests of the vectorised forms.

float rl__gelu_ref(float x); // 0.5·x·(1 + erf(x/√2)) with libm's erff
// The vectorised gelu and exp applied to n floats, in place (the forms the kernels use).
void rl__gelu_inplace(float *x, int n);
void rl__exp_inplace(float *x, int n);

#endif
