// fp32 kernels of the BERT forward pass, written with GCC vector extensions so that one source
// gives AVX-512 code (16 floats per vector) when built for it and AVX2 code (8) otherwise. The
// Makefile builds it once per kernel set (kernels.h), each time under the table name RL_KERNELS,
// and kernel_sets.c picks the set the CPU runs. FMAs are explicit intrinsics: in ISO C mode GCC
// does not contract a*b+c on its own.
//
// The GEMM is a register-tiled micro-kernel over packed weight panels (the layout of BLIS and
// of OpenBLAS's packed B): for a tile of MR rows × NR outputs it broadcasts one x value per row
// and multiplies it with one k-row of the panel, so each weight is loaded once per MR rows. At
// the row counts of a single prompt (8-128 tokens) this is 1.1-2.6× faster than cblas_sgemm on the
// same weights (bench/RESULTS.md), because it needs no per-call packing. exp and erf are
// polynomial forms accurate to about 1e-7 relative, far below the encoder's golden tolerance.
#include <math.h>
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

#include "encoder/kernels.h"

#if !defined(RL_KERNELS) || !defined(RL_KERNELS_NAME)
#error "the Makefile builds this file once per kernel set, naming it with -DRL_KERNELS=..."
#endif

#if defined(__AVX512F__)
#define VW 16 // floats per vector
#define MR 8  // rows per GEMM tile: 16 of the 32 vector registers hold accumulators
#else
#define VW 8
#define MR 6 // 12 of the 16 vector registers hold accumulators
#endif
#define NR (2 * VW) // outputs per panel

typedef float vf __attribute__((vector_size(VW * sizeof(float))));
typedef int32_t vi __attribute__((vector_size(VW * sizeof(int32_t))));

// ----------------------------------------------------------------------------
// Vector helpers

static inline vf vload(const float *p) {
    vf v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline void vstore(float *p, vf v) {
    memcpy(p, &v, sizeof v);
}

// A broadcast; `(vf){0} + x` would cost an add, as x + 0 is not x for x = -0.
static inline vf vset(float x) {
#if defined(__AVX512F__)
    return (vf)_mm512_set1_ps(x);
#elif defined(__AVX__)
    return (vf)_mm256_set1_ps(x);
#else
    vf v;
    for (int i = 0; i < VW; i++)
        v[i] = x;
    return v;
#endif
}

static inline vf vfma(vf a, vf b, vf c) {
#if defined(__AVX512F__)
    return (vf)_mm512_fmadd_ps((__m512)a, (__m512)b, (__m512)c);
#elif defined(__FMA__)
    return (vf)_mm256_fmadd_ps((__m256)a, (__m256)b, (__m256)c);
#else
    return a * b + c;
#endif
}

static inline vf vselect(vi mask, vf a, vf b) {
    return (vf)(((vi)a & mask) | ((vi)b & ~mask));
}

static inline vf vmax(vf a, vf b) {
    return vselect(a > b, a, b);
}

static inline vf vmin(vf a, vf b) {
    return vselect(a < b, a, b);
}

static inline float hsum(vf v) {
    float s = 0;
    for (int i = 0; i < VW; i++)
        s += v[i];
    return s;
}

static inline float hmax(vf v) {
    float m = v[0];
    for (int i = 1; i < VW; i++)
        m = v[i] > m ? v[i] : m;
    return m;
}

// e^x for x <= 88 (Cephes expf): x = n·ln2 + r with |r| <= ln2/2, a degree-6 polynomial for e^r,
// 2^n built in the exponent bits. Inputs below -87.3 give 2^-126 rather than a denormal or 0.
static inline vf vexp(vf x) {
    x = vmax(vmin(x, vset(88.0f)), vset(-87.3365478515625f));
    vf n = x * 1.44269504088896341f;
    n = (n + 12582912.0f) - 12582912.0f; // round to nearest integer: 1.5 · 2^23 trick
    vf r = vfma(n, vset(-0.693359375f), x);
    r = vfma(n, vset(2.12194440e-4f), r);
    vf p = vset(1.9875691500e-4f);
    p = vfma(p, r, vset(1.3981999507e-3f));
    p = vfma(p, r, vset(8.3334519073e-3f));
    p = vfma(p, r, vset(4.1665795894e-2f));
    p = vfma(p, r, vset(1.6666665459e-1f));
    p = vfma(p, r, vset(5.0000001201e-1f));
    p = vfma(p, r * r, r + 1.0f);
    vi bits = (__builtin_convertvector(n, vi) + 127) << 23;
    return p * (vf)bits;
}

// gelu(x) = 0.5·x·(1 + erf(x/√2)) = 0.5·x·erfc(-x/√2). erfc(a), a >= 0, is the Chebyshev fit of
// Numerical Recipes (erfcc, fractional error < 1.2e-7): t·exp(-a² + P(t)), t = 1/(1 + a/2).
// Working with erfc avoids the cancellation of 1 + erf(x/√2) for negative x.
static inline vf vgelu(vf x) {
    vf a = x * 0.70710678118654752f;
    vi neg = a < 0;
    a = vselect(neg, -a, a);
    vf t = 1.0f / (a * 0.5f + 1.0f);
    vf p = vset(0.17087277f);
    p = vfma(p, t, vset(-0.82215223f));
    p = vfma(p, t, vset(1.48851587f));
    p = vfma(p, t, vset(-1.13520398f));
    p = vfma(p, t, vset(0.27886807f));
    p = vfma(p, t, vset(-0.18628806f));
    p = vfma(p, t, vset(0.09678418f));
    p = vfma(p, t, vset(0.37409196f));
    p = vfma(p, t, vset(1.00002368f));
    p = vfma(p, t, vset(-1.26551223f));
    vf erfc_a = t * vexp(p - a * a); // erfc(|x|/√2)
    // x < 0: erfc(-x/√2) = erfc(|x|/√2); x >= 0: erfc(-x/√2) = 2 - erfc(|x|/√2).
    vf c = vselect(neg, erfc_a, 2.0f - erfc_a);
    return x * 0.5f * c;
}

// ----------------------------------------------------------------------------
// GEMM

static int gemm_n_panels(int n) {
    return (n + NR - 1) / NR;
}

static size_t gemm_packed_size(int n, int k) {
    return (size_t)gemm_n_panels(n) * NR * (size_t)k;
}

static void gemm_pack(const float *w, int n, int k, float *wp) {
    int n_panels = gemm_n_panels(n);
    for (int p = 0; p < n_panels; p++) {
        float *dst = wp + (size_t)p * k * NR;
        for (int kk = 0; kk < k; kk++) {
            for (int j = 0; j < NR; j++) {
                int row = p * NR + j;
                dst[(size_t)kk * NR + j] = row < n ? w[(size_t)row * k + kk] : 0.0f;
            }
        }
    }
}

// Apply the epilogue to one finished tile row (acc0, acc1) and store nv <= NR outputs at y.
static inline void tile_store(vf acc0, vf acc1, float *y, int nv, enum rl__epilogue epi) {
    float buf[NR];
    float *dst = nv == NR ? y : buf;
    if (nv < NR) {
        memset(buf, 0, sizeof buf);
        if (epi == RL__EPI_BIAS_RESIDUAL)
            memcpy(buf, y, (size_t)nv * sizeof *y);
    }
    if (epi == RL__EPI_BIAS_RESIDUAL) {
        acc0 += vload(dst);
        acc1 += vload(dst + VW);
    } else if (epi == RL__EPI_BIAS_GELU) {
        acc0 = vgelu(acc0);
        acc1 = vgelu(acc1);
    }
    vstore(dst, acc0);
    vstore(dst + VW, acc1);
    if (nv < NR)
        memcpy(y, buf, (size_t)nv * sizeof *y);
}

// One tile: mr rows (a compile-time constant after inlining) × one panel over all of k. When pf
// is not NULL, the tile also prefetches from pf on, advancing pf_step bytes (16.16 fixed point)
// per k step: DRAM is otherwise idle while a tile computes on a panel that is already cached.
static inline __attribute__((always_inline)) void tile(int mr, int k, const float *x, int ldx,
                                                       const float *wp, const float *bias, float *y,
                                                       int ldy, int nv, enum rl__epilogue epi,
                                                       const char *pf, size_t pf_step) {
    vf acc[MR][2];
    vf b0 = vload(bias), b1 = vload(bias + VW);
    for (int i = 0; i < mr; i++) {
        acc[i][0] = b0;
        acc[i][1] = b1;
    }
    size_t pf_at = 0;
    for (int kk = 0; kk < k; kk++) {
        if (pf) {
            __builtin_prefetch(pf + (pf_at >> 16));
            __builtin_prefetch(pf + (pf_at >> 16) + 64);
            pf_at += pf_step;
        }
        vf w0 = vload(wp + (size_t)kk * NR);
        vf w1 = vload(wp + (size_t)kk * NR + VW);
#pragma GCC unroll 8
        for (int i = 0; i < mr; i++) {
            vf xv = vset(x[(size_t)i * ldx + kk]);
            acc[i][0] = vfma(xv, w0, acc[i][0]);
            acc[i][1] = vfma(xv, w1, acc[i][1]);
        }
    }
    for (int i = 0; i < mr; i++)
        tile_store(acc[i][0], acc[i][1], y + (size_t)i * ldy, nv, epi);
}

// Rows left over after whole MR tiles, each count compiled with its own register allocation.
static void tile_rest(int mr, int k, const float *x, int ldx, const float *wp, const float *bias,
                      float *y, int ldy, int nv, enum rl__epilogue epi) {
    switch (mr) {
#define REST(r)                                                                                    \
    case r: tile(r, k, x, ldx, wp, bias, y, ldy, nv, epi, NULL, 0); break;
        REST(1)
        REST(2)
        REST(3)
        REST(4)
        REST(5)
#if MR > 6
        REST(6)
        REST(7)
#endif
#undef REST
    default: break;
    }
}

static void gemm(int m, int n, int k, const float *x, int ldx, const float *wp, const float *bias,
                 float *y, int ldy, enum rl__epilogue epi, int p0, int p1) {
    int n_panels = gemm_n_panels(n);
    for (int p = p0; p < p1; p++) {
        const float *panel = wp + (size_t)p * k * NR;
        int nv = n - p * NR < NR ? n - p * NR : NR;
        int i = 0, n_tiles = m / MR;
        // Tiles after the first stream the next panel into the cache, a slice each, so that
        // its first tile does not wait for memory.
        size_t slice = n_tiles > 1 ? (size_t)k * NR * sizeof(float) / (size_t)(n_tiles - 1) : 0;
        // The next panel may be another thread's; reading it early still spares that thread a
        // trip to memory, as caches share lines.
        const char *next = p + 1 < n_panels ? (const char *)(panel + (size_t)k * NR) : NULL;
        for (int t = 0; i + MR <= m; i += MR, t++)
            tile(MR, k, x + (size_t)i * ldx, ldx, panel, bias + p * NR,
                 y + (size_t)i * ldy + p * NR, ldy, nv, epi,
                 t > 0 && next ? next + (size_t)(t - 1) * slice : NULL, (slice << 16) / (size_t)k);
        if (i < m)
            tile_rest(m - i, k, x + (size_t)i * ldx, ldx, panel, bias + p * NR,
                      y + (size_t)i * ldy + p * NR, ldy, nv, epi);
    }
}

// ----------------------------------------------------------------------------
// Row kernels

static void layernorm(float *x, int ldx, int c, const float *w, const float *b, float eps, int r0,
                      int r1) {
    int cv = c / VW * VW;
    for (int r = r0; r < r1; r++) {
        float *row = x + (size_t)r * ldx;
        vf acc = {0};
        float sum = 0;
        for (int j = 0; j < cv; j += VW)
            acc += vload(row + j);
        for (int j = cv; j < c; j++)
            sum += row[j];
        float mean = (sum + hsum(acc)) / (float)c;
        vf vmean = vset(mean);
        acc = (vf){0};
        float ss = 0;
        for (int j = 0; j < cv; j += VW) {
            vf d = vload(row + j) - vmean;
            acc = vfma(d, d, acc);
        }
        for (int j = cv; j < c; j++)
            ss += (row[j] - mean) * (row[j] - mean);
        float rstd = 1.0f / sqrtf((ss + hsum(acc)) / (float)c + eps);
        vf vrstd = vset(rstd);
        for (int j = 0; j < cv; j += VW)
            vstore(row + j, vfma((vload(row + j) - vmean) * vrstd, vload(w + j), vload(b + j)));
        for (int j = cv; j < c; j++)
            row[j] = (row[j] - mean) * rstd * w[j] + b[j];
    }
}

// ----------------------------------------------------------------------------
// Attention

#define IB 4 // query rows per block: four independent FMA chains share each K and V load

static int round_up(int x, int m) {
    return (x + m - 1) / m * m;
}

static size_t attention_scratch(int t, int d) {
    int tp = round_up(t, VW);
    return (size_t)d * tp + (size_t)IB * tp;
}

// Softmax over s[0, t) in place, padded to tp with entries beyond t ignored; returns 1/Σ so the
// caller can scale the weighted sum once instead of every probability.
static float softmax_unnormalized(float *s, int t, int tp) {
    for (int j = t; j < tp; j++)
        s[j] = -1e30f; // exp underflows to ~1e-38: nothing next to a sum >= 1
    vf m = vload(s);
    for (int j = VW; j < tp; j += VW)
        m = vmax(m, vload(s + j));
    vf vm = vset(hmax(m)), sum = {0};
    for (int j = 0; j < tp; j += VW) {
        vf e = vexp(vload(s + j) - vm);
        vstore(s + j, e);
        sum += e;
    }
    return 1.0f / hsum(sum);
}

static void attention_head(int t, int d, const float *q, const float *k, const float *v, int ld,
                           float scale, float *out, int ldo, float *scratch) {
    int tp = round_up(t, VW);
    float *kt = scratch;                 // (d, tp): keys transposed so scores vectorise over j
    float *s = scratch + (size_t)d * tp; // (IB, tp)
    for (int c = 0; c < d; c++) {
        for (int j = 0; j < t; j++)
            kt[(size_t)c * tp + j] = k[(size_t)j * ld + c];
        for (int j = t; j < tp; j++)
            kt[(size_t)c * tp + j] = 0.0f;
    }
    int dv = d / VW * VW;
    for (int i0 = 0; i0 < t; i0 += IB) {
        // Rows past the end repeat the last row; their results are not stored.
        const float *qr[IB];
        for (int r = 0; r < IB; r++)
            qr[r] = q + (size_t)(i0 + r < t ? i0 + r : t - 1) * ld;
        int nr = t - i0 < IB ? t - i0 : IB;

        // Scores s[r][j] = scale · q_r · k_j.
        for (int j = 0; j < tp; j += VW) {
            vf acc[IB] = {{0}};
            for (int c = 0; c < d; c++) {
                vf kv = vload(kt + (size_t)c * tp + j);
                for (int r = 0; r < IB; r++)
                    acc[r] = vfma(vset(qr[r][c]), kv, acc[r]);
            }
            for (int r = 0; r < IB; r++)
                vstore(s + (size_t)r * tp + j, acc[r] * scale);
        }
        float inv[IB];
        for (int r = 0; r < IB; r++)
            inv[r] = softmax_unnormalized(s + (size_t)r * tp, t, tp);

        // out_r = Σ_j p[r][j] v_j, a vector of head columns at a time.
        for (int c = 0; c < dv; c += VW) {
            vf acc[IB] = {{0}};
            for (int j = 0; j < t; j++) {
                vf vv = vload(v + (size_t)j * ld + c);
                for (int r = 0; r < IB; r++)
                    acc[r] = vfma(vset(s[(size_t)r * tp + j]), vv, acc[r]);
            }
            for (int r = 0; r < nr; r++)
                vstore(out + (size_t)(i0 + r) * ldo + c, acc[r] * inv[r]);
        }
        for (int c = dv; c < d; c++) {
            for (int r = 0; r < nr; r++) {
                float acc = 0;
                for (int j = 0; j < t; j++)
                    acc += s[(size_t)r * tp + j] * v[(size_t)j * ld + c];
                out[(size_t)(i0 + r) * ldo + c] = acc * inv[r];
            }
        }
    }
}

// ----------------------------------------------------------------------------
// Elementwise forms, exposed through the table for their unit tests

static void gelu_inplace(float *x, int n) {
    int i = 0;
    for (; i + VW <= n; i += VW)
        vstore(x + i, vgelu(vload(x + i)));
    if (i < n) {
        float buf[VW] = {0};
        memcpy(buf, x + i, (size_t)(n - i) * sizeof *x);
        vstore(buf, vgelu(vload(buf)));
        memcpy(x + i, buf, (size_t)(n - i) * sizeof *x);
    }
}

static void exp_inplace(float *x, int n) {
    int i = 0;
    for (; i + VW <= n; i += VW)
        vstore(x + i, vexp(vload(x + i)));
    if (i < n) {
        float buf[VW] = {0};
        memcpy(buf, x + i, (size_t)(n - i) * sizeof *x);
        vstore(buf, vexp(vload(buf)));
        memcpy(x + i, buf, (size_t)(n - i) * sizeof *x);
    }
}

// ----------------------------------------------------------------------------
// The set, under the name the build gives it (kernels.h)

const struct rl__kernels RL_KERNELS = {
    .name = RL_KERNELS_NAME,
    .nr = NR,
    .n_panels = gemm_n_panels,
    .packed_size = gemm_packed_size,
    .pack = gemm_pack,
    .gemm = gemm,
    .layernorm = layernorm,
    .attention_scratch = attention_scratch,
    .attention_head = attention_head,
    .gelu_inplace = gelu_inplace,
    .exp_inplace = exp_inplace,
};
