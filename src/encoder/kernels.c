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
// int8 GEMM (kernels.h). Both operands are quantised in blocks of QB consecutive k, each with
// its own scale: (output, block) for W, (row, block) for x. One scale per whole row (per
// channel for W) was measured to lose too much on MiniLM (mean cosine 0.994 to fp32 on the
// golden texts): a few hidden channels carry most rows' largest values, and a row scale sized
// for them leaves the other channels few levels. Within a block, products are summed exactly
// in int32; each block's sum is scaled into a float accumulator.
//
// Weights are packed in groups of four k per output, the form of vpdpbusd, which multiplies
// four unsigned bytes of x with four signed bytes of w and adds them to an int32 lane. Rows of
// x are stored as q + 128 for it, and each block's sum starts from -128 · Σ w of the block (the
// packed column sums) to take the offset back out. Without VNNI the same packed weights are
// widened to int16 and multiplied with int16 rows by vpmaddwd, whose pairs of products are
// exact (vpmaddubsw would saturate at 255 · 127 · 2). Both forms give the same integers.

#define QB 32 // k per quantisation block: 8 groups of four

#define Q8_VNNI_ROW 1 // rows of bytes, q + 128
#define Q8_WIDE_ROW 2 // rows of int16

// Rows per tile: each row holds int32 block sums and float totals in registers.
#define MRW (VW == 16 ? 8 : 4) // int16 form: 3 vectors per row and half panel
#define MRV 6                  // VNNI form: 4 vectors per row

// On the forms a set does not use (AVX2 has no VNNI form; a native VNNI set no int16 form).
#define MAYBE_UNUSED __attribute__((unused))

static size_t round64(size_t n) {
    return (n + 63) / 64 * 64;
}

static int q8_blocks(int k) {
    return (k + QB - 1) / QB;
}

static size_t q8_panel_bytes(int k) {
    return (size_t)q8_blocks(k) * QB * NR;
}

// Floats (or int32) of the per-block scales (or column sums) of all panels.
static size_t q8_panel_meta(int n, int k) {
    return (size_t)gemm_n_panels(n) * q8_blocks(k) * NR;
}

static size_t q8_packed_size(int n, int k) {
    return round64((size_t)gemm_n_panels(n) * q8_panel_bytes(k)) +
           2 * round64(q8_panel_meta(n, k) * sizeof(float));
}

// Scales of the packed weight, [panel][block][NR], then column sums in the same order.
static const float *q8_scales(const void *wq, int n, int k) {
    return (const float *)((const char *)wq +
                           round64((size_t)gemm_n_panels(n) * q8_panel_bytes(k)));
}

static const int32_t *q8_colsums(const void *wq, int n, int k) {
    return (const int32_t *)((const char *)q8_scales(wq, n, k) +
                             round64(q8_panel_meta(n, k) * sizeof(float)));
}

static float absmax(const float *v, int n) {
    float m = 0;
    for (int i = 0; i < n; i++)
        m = fabsf(v[i]) > m ? fabsf(v[i]) : m;
    return m;
}

static void q8_pack(const float *w, int n, int k, void *wq) {
    memset(wq, 0, q8_packed_size(n, k));
    int kb = q8_blocks(k);
    float *scale = (float *)q8_scales(wq, n, k);
    int32_t *colsum = (int32_t *)q8_colsums(wq, n, k);
    for (int row = 0; row < n; row++) {
        int p = row / NR, j = row % NR;
        int8_t *panel = (int8_t *)wq + (size_t)p * q8_panel_bytes(k);
        for (int b = 0; b < kb; b++) {
            int k0 = b * QB, k1 = k0 + QB < k ? k0 + QB : k;
            const float *src = w + (size_t)row * k;
            float amax = absmax(src + k0, k1 - k0), inv = amax > 0 ? 127.0f / amax : 0.0f;
            int sum = 0;
            for (int kk = k0; kk < k1; kk++) {
                long q = lrintf(src[kk] * inv);
                q = q > 127 ? 127 : q < -127 ? -127 : q;
                panel[((size_t)(kk / 4) * NR + j) * 4 + kk % 4] = (int8_t)q;
                sum += (int)q;
            }
            size_t at = ((size_t)p * kb + b) * NR + j;
            scale[at] = amax / 127.0f;
            colsum[at] = -128 * sum;
        }
    }
}

// Bytes of one quantised row: the values of whole blocks (elem bytes each), then the blocks'
// scales.
static size_t q8_row_bytes(int k, size_t elem) {
    return round64((size_t)q8_blocks(k) * (QB * elem + sizeof(float)));
}

MAYBE_UNUSED static size_t q8_row_size_vnni(int k) {
    return q8_row_bytes(k, 1);
}

MAYBE_UNUSED static size_t q8_row_size_wide(int k) {
    return q8_row_bytes(k, 2);
}

static inline float q8_row_scale(const char *row, int kb, size_t elem, int b) {
    float s;
    memcpy(&s, row + (size_t)kb * QB * elem + (size_t)b * sizeof s, sizeof s);
    return s;
}

// The largest lane of v, by halving (a quantised row needs one per block of 32 values).
static inline float hmax_fast(vf v) {
#if defined(__AVX512F__)
    return _mm512_reduce_max_ps((__m512)v);
#else
    __m128 h = _mm_max_ps(_mm256_castps256_ps128((__m256)v), _mm256_extractf128_ps((__m256)v, 1));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    h = _mm_max_ss(h, _mm_movehdup_ps(h));
    return _mm_cvtss_f32(h);
#endif
}

typedef uint8_t vu8 __attribute__((vector_size(VW)));
typedef int16_t vi16 __attribute__((vector_size(VW * sizeof(int16_t))));

// Round to the nearest integer, ties to even (the rounding of lrintf in the default mode).
static inline vi vround(vf x) {
#if defined(__AVX512F__)
    return (vi)_mm512_cvtps_epi32((__m512)x);
#else
    return (vi)_mm256_cvtps_epi32((__m256)x);
#endif
}

static void q8_quantize_form(const float *x, int ldx, int k, void *xq, int r0, int r1, int form) {
    size_t elem = form == Q8_VNNI_ROW ? 1 : 2, ldq = q8_row_bytes(k, elem);
    int kb = q8_blocks(k);
    for (int r = r0; r < r1; r++) {
        const float *row = x + (size_t)r * ldx;
        char *dst = (char *)xq + (size_t)r * ldq;
        for (int b = 0; b < kb; b++) {
            int k0 = b * QB, k1 = k0 + QB < k ? k0 + QB : k, kv = k0 + (k1 - k0) / VW * VW;
            vf m = {0};
            for (int j = k0; j < kv; j += VW) {
                vf v = vload(row + j);
                m = vmax(m, vmax(v, -v));
            }
            float amax = absmax(row + kv, k1 - kv);
            float vmax_m = hmax_fast(m);
            amax = vmax_m > amax ? vmax_m : amax;
            float inv = amax > 0 ? 127.0f / amax : 0.0f, scale = amax / 127.0f;
            vf vinv = vset(inv);
            if (form == Q8_VNNI_ROW) {
                uint8_t *q = (uint8_t *)dst;
                for (int j = k0; j < kv; j += VW) {
                    vu8 v = __builtin_convertvector(vround(vload(row + j) * vinv) + 128, vu8);
                    memcpy(q + j, &v, sizeof v);
                }
                for (int j = kv; j < k1; j++)
                    q[j] = (uint8_t)(lrintf(row[j] * inv) + 128);
                for (int j = k1; j < k0 + QB; j++)
                    q[j] = 128;
            } else {
                int16_t *q = (int16_t *)(void *)dst;
                for (int j = k0; j < kv; j += VW) {
                    vi16 v = __builtin_convertvector(vround(vload(row + j) * vinv), vi16);
                    memcpy(q + j, &v, sizeof v);
                }
                for (int j = kv; j < k1; j++)
                    q[j] = (int16_t)lrintf(row[j] * inv);
                for (int j = k1; j < k0 + QB; j++)
                    q[j] = 0;
            }
            memcpy(dst + (size_t)kb * QB * elem + (size_t)b * sizeof scale, &scale, sizeof scale);
        }
    }
}

MAYBE_UNUSED static void q8_quantize_vnni(const float *x, int ldx, int k, void *xq, int r0,
                                          int r1) {
    q8_quantize_form(x, ldx, k, xq, r0, r1, Q8_VNNI_ROW);
}

MAYBE_UNUSED static void q8_quantize_wide(const float *x, int ldx, int k, void *xq, int r0,
                                          int r1) {
    q8_quantize_form(x, ldx, k, xq, r0, r1, Q8_WIDE_ROW);
}

static inline vf vcvt(vi v) {
    return __builtin_convertvector(v, vf);
}

// Sign-extend 2·VW bytes to int16.
static inline vi widen(const int8_t *p) {
#if defined(__AVX512F__)
    return (vi)_mm512_cvtepi8_epi16(_mm256_loadu_si256((const void *)p));
#else
    return (vi)_mm256_cvtepi8_epi16(_mm_loadu_si128((const void *)p));
#endif
}

// Four int16 (one group of a row) in every 64-bit lane.
static inline vi bcast4(const char *p) {
    int64_t v;
    memcpy(&v, p, sizeof v);
#if defined(__AVX512F__)
    return (vi)_mm512_set1_epi64(v);
#else
    return (vi)_mm256_set1_epi64x(v);
#endif
}

static inline vi madd16(vi a, vi b) {
#if defined(__AVX512F__)
    return (vi)_mm512_madd_epi16((__m512i)a, (__m512i)b);
#else
    return (vi)_mm256_madd_epi16((__m256i)a, (__m256i)b);
#endif
}

// One tile of the int16 form, each half of the panel (VW outputs) in turn: per block, two
// vectors of VW/2 outputs × 4 k, whose lanes 2j and 2j + 1 hold the two halves of output j's
// sum; they are added, scaled and summed into one float vector per row.
static inline __attribute__((always_inline)) void
q8_tile_wide(int mr, int kb, const char *xq, size_t ldq, const int8_t *panel, const float *ws,
             const float *bias, float *y, int ldy, int nv, enum rl__epilogue epi) {
    vf tot[2][MRW];
    for (int h = 0; h < 2; h++) {
        for (int i = 0; i < mr; i++)
            tot[h][i] = vload(bias + h * VW);
        for (int b = 0; b < kb; b++) {
            vi acc[MRW][2];
            for (int i = 0; i < mr; i++)
                acc[i][0] = acc[i][1] = (vi){0};
            for (int g = b * (QB / 4); g < (b + 1) * (QB / 4); g++) {
                const int8_t *wg = panel + ((size_t)g * NR + (size_t)h * VW) * 4;
                vi w0 = widen(wg), w1 = widen(wg + 2 * VW);
#pragma GCC unroll 8
                for (int i = 0; i < mr; i++) {
                    vi a = bcast4(xq + (size_t)i * ldq + (size_t)g * 8);
                    acc[i][0] += madd16(w0, a);
                    acc[i][1] += madd16(w1, a);
                }
            }
            vf sw = vload(ws + (size_t)b * NR + h * VW);
            for (int i = 0; i < mr; i++) {
#if VW == 16
                vi even = __builtin_shufflevector(acc[i][0], acc[i][1], 0, 2, 4, 6, 8, 10, 12, 14,
                                                  16, 18, 20, 22, 24, 26, 28, 30);
                vi odd = __builtin_shufflevector(acc[i][0], acc[i][1], 1, 3, 5, 7, 9, 11, 13, 15,
                                                 17, 19, 21, 23, 25, 27, 29, 31);
#else
                vi even = __builtin_shufflevector(acc[i][0], acc[i][1], 0, 2, 4, 6, 8, 10, 12, 14);
                vi odd = __builtin_shufflevector(acc[i][0], acc[i][1], 1, 3, 5, 7, 9, 11, 13, 15);
#endif
                float sx = q8_row_scale(xq + (size_t)i * ldq, kb, 2, b);
                tot[h][i] = vfma(vcvt(even + odd), sw * sx, tot[h][i]);
            }
        }
    }
    for (int i = 0; i < mr; i++)
        tile_store(tot[0][i], tot[1][i], y + (size_t)i * ldy, nv, epi);
}

static void q8_rest_wide(int mr, int kb, const char *xq, size_t ldq, const int8_t *panel,
                         const float *ws, const float *bias, float *y, int ldy, int nv,
                         enum rl__epilogue epi) {
    switch (mr) {
#define REST(r)                                                                                    \
    case r: q8_tile_wide(r, kb, xq, ldq, panel, ws, bias, y, ldy, nv, epi); break;
        REST(1)
        REST(2)
        REST(3)
#if MRW > 4
        REST(4)
        REST(5)
        REST(6)
        REST(7)
#endif
#undef REST
    default: break;
    }
}

MAYBE_UNUSED static void q8_gemm_wide(int m, int n, int k, const void *xq, const void *wq,
                                      const float *bias, float *y, int ldy, enum rl__epilogue epi,
                                      int p0, int p1) {
    int kb = q8_blocks(k);
    size_t ldq = q8_row_size_wide(k);
    const float *ws = q8_scales(wq, n, k);
    for (int p = p0; p < p1; p++) {
        const int8_t *panel = (const int8_t *)wq + (size_t)p * q8_panel_bytes(k);
        const float *wsp = ws + (size_t)p * kb * NR;
        int nv = n - p * NR < NR ? n - p * NR : NR, i = 0;
        for (; i + MRW <= m; i += MRW)
            q8_tile_wide(MRW, kb, (const char *)xq + (size_t)i * ldq, ldq, panel, wsp,
                         bias + p * NR, y + (size_t)i * ldy + p * NR, ldy, nv, epi);
        if (i < m)
            q8_rest_wide(m - i, kb, (const char *)xq + (size_t)i * ldq, ldq, panel, wsp,
                         bias + p * NR, y + (size_t)i * ldy + p * NR, ldy, nv, epi);
    }
}

#if defined(__AVX512F__)
// The VNNI form: 16 outputs of one group per vector, one vpdpbusd per row and vector. Built for
// AVX-512 VNNI by a target attribute unless the whole file is (a native build on such a CPU).
#if defined(__AVX512VNNI__)
#define VNNI_TARGET
#else
#define VNNI_TARGET __attribute__((target("avx512vnni")))
#endif

static inline __attribute__((always_inline)) VNNI_TARGET void
q8_tile_vnni(int mr, int kb, const char *xq, size_t ldq, const int8_t *panel, const float *ws,
             const int32_t *colsum, const float *bias, float *y, int ldy, int nv,
             enum rl__epilogue epi) {
    vf tot[MRV][2];
    for (int i = 0; i < mr; i++) {
        tot[i][0] = vload(bias);
        tot[i][1] = vload(bias + VW);
    }
    for (int b = 0; b < kb; b++) {
        vi acc[MRV][2], c0, c1;
        memcpy(&c0, colsum + (size_t)b * NR, sizeof c0);
        memcpy(&c1, colsum + (size_t)b * NR + VW, sizeof c1);
        for (int i = 0; i < mr; i++) {
            acc[i][0] = c0;
            acc[i][1] = c1;
        }
        for (int g = b * (QB / 4); g < (b + 1) * (QB / 4); g++) {
            __m512i w0 = _mm512_loadu_si512((const void *)(panel + (size_t)g * NR * 4));
            __m512i w1 = _mm512_loadu_si512((const void *)(panel + (size_t)g * NR * 4 + 64));
#pragma GCC unroll 8
            for (int i = 0; i < mr; i++) {
                int32_t a4;
                memcpy(&a4, xq + (size_t)i * ldq + (size_t)g * 4, sizeof a4);
                __m512i a = _mm512_set1_epi32(a4);
                acc[i][0] = (vi)_mm512_dpbusd_epi32((__m512i)acc[i][0], a, w0);
                acc[i][1] = (vi)_mm512_dpbusd_epi32((__m512i)acc[i][1], a, w1);
            }
        }
        vf sw0 = vload(ws + (size_t)b * NR), sw1 = vload(ws + (size_t)b * NR + VW);
        for (int i = 0; i < mr; i++) {
            float sx = q8_row_scale(xq + (size_t)i * ldq, kb, 1, b);
            tot[i][0] = vfma(vcvt(acc[i][0]), sw0 * sx, tot[i][0]);
            tot[i][1] = vfma(vcvt(acc[i][1]), sw1 * sx, tot[i][1]);
        }
    }
    for (int i = 0; i < mr; i++)
        tile_store(tot[i][0], tot[i][1], y + (size_t)i * ldy, nv, epi);
}

static VNNI_TARGET void q8_rest_vnni(int mr, int kb, const char *xq, size_t ldq,
                                     const int8_t *panel, const float *ws, const int32_t *colsum,
                                     const float *bias, float *y, int ldy, int nv,
                                     enum rl__epilogue epi) {
    switch (mr) {
#define REST(r)                                                                                    \
    case r: q8_tile_vnni(r, kb, xq, ldq, panel, ws, colsum, bias, y, ldy, nv, epi); break;
        REST(1)
        REST(2)
        REST(3)
        REST(4)
        REST(5)
#undef REST
    default: break;
    }
}

static VNNI_TARGET void q8_gemm_vnni(int m, int n, int k, const void *xq, const void *wq,
                                     const float *bias, float *y, int ldy, enum rl__epilogue epi,
                                     int p0, int p1) {
    int kb = q8_blocks(k);
    size_t ldq = q8_row_size_vnni(k);
    const float *ws = q8_scales(wq, n, k);
    const int32_t *colsum = q8_colsums(wq, n, k);
    for (int p = p0; p < p1; p++) {
        const int8_t *panel = (const int8_t *)wq + (size_t)p * q8_panel_bytes(k);
        size_t meta = (size_t)p * kb * NR;
        int nv = n - p * NR < NR ? n - p * NR : NR, i = 0;
        for (; i + MRV <= m; i += MRV)
            q8_tile_vnni(MRV, kb, (const char *)xq + (size_t)i * ldq, ldq, panel, ws + meta,
                         colsum + meta, bias + p * NR, y + (size_t)i * ldy + p * NR, ldy, nv, epi);
        if (i < m)
            q8_rest_vnni(m - i, kb, (const char *)xq + (size_t)i * ldq, ldq, panel, ws + meta,
                         colsum + meta, bias + p * NR, y + (size_t)i * ldy + p * NR, ldy, nv, epi);
    }
}
#endif

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

#define SET_COMMON                                                                                 \
    .nr = NR, .n_panels = gemm_n_panels, .packed_size = gemm_packed_size, .pack = gemm_pack,       \
    .gemm = gemm, .q8_packed_size = q8_packed_size, .q8_pack = q8_pack, .layernorm = layernorm,    \
    .attention_scratch = attention_scratch, .attention_head = attention_head,                      \
    .gelu_inplace = gelu_inplace, .exp_inplace = exp_inplace

#if defined(__AVX512VNNI__)
const struct rl__kernels RL_KERNELS = {
    .name = RL_KERNELS_NAME,
    SET_COMMON,
    .q8_row_size = q8_row_size_vnni,
    .q8_quantize = q8_quantize_vnni,
    .q8_gemm = q8_gemm_vnni,
};
#else
const struct rl__kernels RL_KERNELS = {
    .name = RL_KERNELS_NAME,
    SET_COMMON,
    .q8_row_size = q8_row_size_wide,
    .q8_quantize = q8_quantize_wide,
    .q8_gemm = q8_gemm_wide,
};
#endif

#if defined(__AVX512F__) && !defined(__AVX512VNNI__)
// The same set with the VNNI int8 GEMM, for the CPUs that have it (kernel_sets.c checks).
#define VNNI_SET_(set) set##_vnni
#define VNNI_SET(set)  VNNI_SET_(set)
const struct rl__kernels VNNI_SET(RL_KERNELS) = {
    .name = RL_KERNELS_NAME "_vnni",
    SET_COMMON,
    .q8_row_size = q8_row_size_vnni,
    .q8_quantize = q8_quantize_vnni,
    .q8_gemm = q8_gemm_vnni,
};
#endif
