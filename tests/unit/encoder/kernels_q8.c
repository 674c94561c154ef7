// The int8 GEMM of every kernel set this CPU runs (kernels.h), against a scalar reference that
// quantises the same way (blocks of QB k with a scale each, per output for W and per row for x,
// symmetric, round to nearest even) and sums each block in exact integers: every epilogue, odd
// shapes (k not a multiple of 4, partial panels, row counts that leave a remainder tile), split
// panel ranges. Then the quantisation error against the fp32 product stays within its bound, and
// all sets give the same numbers.
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encoder/kernels.h"
#include "test.h"

static float frand(uint64_t *s) {
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((*s >> 40) & 0xffffff) / (float)0x800000 - 1.0f; // [-1, 1)
}

#define QB 32 // k per quantisation block (kernels.c)

// Symmetric quantisation of v (n floats) to [-127, 127] with scale max|v|/127 per block of QB;
// the blocks' scales go to s. Returns the largest scale.
static float quantise(const float *v, int n, int32_t *q, float *s) {
    float top = 0;
    for (int b = 0; b * QB < n; b++) {
        int k1 = (b + 1) * QB < n ? (b + 1) * QB : n;
        float amax = 0;
        for (int i = b * QB; i < k1; i++)
            amax = fabsf(v[i]) > amax ? fabsf(v[i]) : amax;
        float inv = amax > 0 ? 127.0f / amax : 0.0f;
        for (int i = b * QB; i < k1; i++)
            q[i] = (int32_t)lrintf(v[i] * inv);
        s[b] = amax / 127.0f;
        top = s[b] > top ? s[b] : top;
    }
    return top;
}

struct q8_case {
    /* input */
    int m, n, k;
};

static const struct q8_case q8_cases[] = {
    {1, 32, 32}, {3, 40, 17},    {8, 1152, 384}, {13, 96, 64},  {7, 5, 3},    {40, 70, 33},
    {6, 16, 1},  {9, 384, 1536}, {33, 48, 20},   {17, 64, 384}, {5, 48, 200}, {12, 33, 130},
};

static const enum rl__epilogue q8_epis[] = {RL__EPI_BIAS, RL__EPI_BIAS_RESIDUAL, RL__EPI_BIAS_GELU};

// Results of the first set that ran, per case and epilogue, to compare the others with.
static float *first_results[RL_COUNTOF(q8_cases)][RL_COUNTOF(q8_epis)];

static int q8_gemm_matches_reference(const struct rl__kernels *K) {
    uint64_t seed = 7;
    for (size_t c = 0; c < RL_COUNTOF(q8_cases); c++) {
        int m = q8_cases[c].m, n = q8_cases[c].n, k = q8_cases[c].k, np = K->n_panels(n);
        int ldy = n + 3; // padding columns must stay untouched
        size_t my = (size_t)m * ldy;
        float *x = malloc((size_t)m * k * sizeof *x), *w = malloc((size_t)n * k * sizeof *w);
        float *bias = calloc((size_t)np * K->nr, sizeof *bias);
        void *wq = aligned_alloc(64, K->q8_packed_size(n, k));
        void *xq = aligned_alloc(64, (size_t)m * K->q8_row_size(k));
        float *resid = malloc(my * sizeof *resid), *ref = malloc(my * sizeof *ref);
        float *exact = malloc(my * sizeof *exact), *y = malloc(my * sizeof *y);
        int32_t *qx = malloc((size_t)m * k * sizeof *qx), *qw = malloc((size_t)n * k * sizeof *qw);
        int kb = (k + QB - 1) / QB;
        float *sx = malloc((size_t)m * kb * sizeof *sx), *sw = malloc((size_t)n * kb * sizeof *sw);
        float *sx_top = malloc((size_t)m * sizeof *sx_top);
        ASSERT(x && w && bias && wq && xq && resid && ref && exact && y && qx && qw && sx && sw &&
               sx_top);
        // Rows of different magnitudes, and one row of zeros, as activations have.
        for (int i = 0; i < m; i++)
            for (int j = 0; j < k; j++)
                x[(size_t)i * k + j] = i == 2 ? 0.0f : frand(&seed) * (float)(1 + i % 5);
        for (size_t i = 0; i < (size_t)n * k; i++)
            w[i] = frand(&seed) * 0.1f;
        for (int j = 0; j < n; j++)
            bias[j] = frand(&seed);
        for (size_t i = 0; i < my; i++)
            resid[i] = frand(&seed);
        for (int i = 0; i < m; i++)
            sx_top[i] = quantise(x + (size_t)i * k, k, qx + (size_t)i * k, sx + (size_t)i * kb);
        for (int j = 0; j < n; j++)
            quantise(w + (size_t)j * k, k, qw + (size_t)j * k, sw + (size_t)j * kb);
        K->q8_pack(w, n, k, wq);
        // Two calls over split row ranges and two over split panel ranges, as threads make them.
        K->q8_quantize(x, k, k, xq, 0, m / 2);
        K->q8_quantize(x, k, k, xq, m / 2, m);
        for (size_t e = 0; e < RL_COUNTOF(q8_epis); e++) {
            enum rl__epilogue epi = q8_epis[e];
            double worst = 0, worst_fp32 = 0;
            for (int i = 0; i < m; i++) {
                for (int j = 0; j < n; j++) {
                    double r = bias[j], fp = 0;
                    for (int b = 0; b < kb; b++) {
                        int64_t dot = 0;
                        for (int t = b * QB; t < k && t < (b + 1) * QB; t++)
                            dot += (int64_t)qx[(size_t)i * k + t] * qw[(size_t)j * k + t];
                        r += (double)dot * sx[(size_t)i * kb + b] * sw[(size_t)j * kb + b];
                    }
                    for (int t = 0; t < k; t++)
                        fp += (double)x[(size_t)i * k + t] * w[(size_t)j * k + t];
                    fp += bias[j];
                    if (epi == RL__EPI_BIAS_RESIDUAL) {
                        r += resid[(size_t)i * ldy + j];
                        fp += resid[(size_t)i * ldy + j];
                    } else if (epi == RL__EPI_BIAS_GELU) {
                        r = rl__gelu_ref((float)r);
                        fp = rl__gelu_ref((float)fp);
                    }
                    ref[(size_t)i * ldy + j] = (float)r;
                    exact[(size_t)i * ldy + j] = (float)fp;
                }
            }
            memcpy(y, resid, my * sizeof *y);
            K->q8_gemm(m, n, k, xq, wq, bias, y, ldy, epi, 0, np / 2);
            K->q8_gemm(m, n, k, xq, wq, bias, y, ldy, epi, np / 2, np);
            for (int i = 0; i < m; i++) {
                // One product's quantisation error is at most |x|·sw/2 + |w|·sx/2 + sx·sw/4
                // <= 0.1·sx (|x| <= 127·sx, |w| < 0.1, sw < 0.1/127); k of them, with room
                // for GELU's slope.
                double bound = 0.2 * k * sx_top[i] + 1e-5;
                for (int j = 0; j < ldy; j++) {
                    size_t at = (size_t)i * ldy + j;
                    if (j >= n) {
                        if (y[at] != resid[at])
                            TEST_FAIL_("m=%d n=%d k=%d: padding column %d written", m, n, k, j);
                        continue;
                    }
                    double d = fabs((double)y[at] - ref[at]) / (1 + fabs(ref[at]));
                    worst = d > worst ? d : worst;
                    double dq = fabs((double)y[at] - exact[at]);
                    if (dq > bound)
                        TEST_FAIL_("m=%d n=%d k=%d epilogue %zu: row %d col %d is %.6g, fp32 "
                                   "%.6g: off by more than the quantisation bound %.3g",
                                   m, n, k, e, i, j, y[at], exact[at], bound);
                    worst_fp32 = dq > worst_fp32 ? dq : worst_fp32;
                }
            }
            if (worst > 2e-6)
                TEST_FAIL_("m=%d n=%d k=%d epilogue %zu: relative diff %.3g from the integer "
                           "reference",
                           m, n, k, e, worst);
            if (!first_results[c][e]) {
                first_results[c][e] = malloc(my * sizeof *y);
                ASSERT_NOT_NULL(first_results[c][e]);
                memcpy(first_results[c][e], y, my * sizeof *y);
            } else {
                for (size_t i = 0; i < my; i++)
                    if (fabsf(y[i] - first_results[c][e][i]) > 1e-6f * (1 + fabsf(y[i])))
                        TEST_FAIL_("m=%d n=%d k=%d epilogue %zu: element %zu is %.9g, another "
                                   "set gave %.9g",
                                   m, n, k, e, i, y[i], first_results[c][e][i]);
            }
        }
        free(x);
        free(w);
        free(bias);
        free(wq);
        free(xq);
        free(resid);
        free(ref);
        free(exact);
        free(y);
        free(qx);
        free(qw);
        free(sx);
        free(sw);
        free(sx_top);
    }
    return 0;
}

TEST(encoder_kernels_q8_gemm_matches_integer_reference) {
    int ran = 0, rc = 0;
    for (size_t i = 0; rl__kernels_name(i) && rc == 0; i++) {
        const struct rl__kernels *K = rl__kernels_named(rl__kernels_name(i));
        if (!K)
            continue;
        printf("  %s\n", K->name);
        rc = q8_gemm_matches_reference(K);
        if (rc)
            fprintf(stderr, "  (with the %s kernels)\n", K->name);
        ran++;
    }
    for (size_t c = 0; c < RL_COUNTOF(q8_cases); c++)
        for (size_t e = 0; e < RL_COUNTOF(q8_epis); e++) {
            free(first_results[c][e]);
            first_results[c][e] = NULL;
        }
    ASSERT(ran > 0);
    return rc;
}
