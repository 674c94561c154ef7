// Encoder kernels against references, for every kernel set this CPU runs (kernels.h): the packed
// GEMM (every epilogue, odd shapes, split panel ranges) against OpenBLAS cblas_sgemm, GELU and
// exp against libm, attention and LayerNorm against straightforward double-precision loops. The
// choice of a set: the widest by default, ROUTELLM_KERNELS to force one, clear errors.
#include <cblas.h>
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

static float *rand_vec(size_t n, uint64_t *seed) {
    float *v = malloc((n ? n : 1) * sizeof *v);
    for (size_t i = 0; v && i < n; i++)
        v[i] = frand(seed);
    return v;
}

// Run check with every kernel set this CPU runs (the build holds sets it may not run); at least
// one must run. A failure names the set.
static int each_set(int (*check)(const struct rl__kernels *K)) {
    int ran = 0;
    for (size_t i = 0; rl__kernels_name(i); i++) {
        const struct rl__kernels *K = rl__kernels_named(rl__kernels_name(i));
        if (!K)
            continue;
        if (check(K) != 0) {
            fprintf(stderr, "  (with the %s kernels)\n", K->name);
            return 1;
        }
        ran++;
    }
    ASSERT(ran > 0);
    return 0;
}

static int gemm_matches_cblas(const struct rl__kernels *K) {
    static const struct {
        /* input */
        int m, n, k;
    } cases[] = {
        {1, 32, 32},  {3, 40, 17}, {8, 1152, 384}, {13, 96, 64}, {7, 5, 3},
        {40, 70, 33}, {6, 16, 1},  {9, 384, 1536}, {33, 48, 20},
    };
    static const enum rl__epilogue epis[] = {RL__EPI_BIAS, RL__EPI_BIAS_RESIDUAL,
                                             RL__EPI_BIAS_GELU};
    uint64_t seed = 42;
    int nr = K->nr;
    for (size_t c = 0; c < RL_COUNTOF(cases); c++) {
        int m = cases[c].m, n = cases[c].n, k = cases[c].k, np = K->n_panels(n);
        int ldy = n + 3; // a row stride wider than n checks that padding columns are not written
        float *x = rand_vec((size_t)m * k, &seed), *w = rand_vec((size_t)n * k, &seed);
        float *bias = calloc((size_t)np * nr, sizeof *bias);
        float *wp = aligned_alloc(64, K->packed_size(n, k) * sizeof *wp);
        float *resid = rand_vec((size_t)m * ldy, &seed);
        float *ref = malloc((size_t)m * ldy * sizeof *ref), *y = malloc((size_t)m * ldy * 4);
        ASSERT(x && w && bias && wp && resid && ref && y);
        for (int j = 0; j < n; j++)
            bias[j] = frand(&seed);
        K->pack(w, n, k, wp);
        for (size_t e = 0; e < RL_COUNTOF(epis); e++) {
            memcpy(ref, resid, (size_t)m * ldy * sizeof *ref);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1.0f, x, k, w, k,
                        epis[e] == RL__EPI_BIAS_RESIDUAL ? 1.0f : 0.0f, ref, ldy);
            for (int i = 0; i < m; i++) {
                for (int j = 0; j < n; j++) {
                    float *r = &ref[(size_t)i * ldy + j];
                    *r += bias[j];
                    if (epis[e] == RL__EPI_BIAS_GELU)
                        *r = rl__gelu_ref(*r);
                }
            }
            memcpy(y, resid, (size_t)m * ldy * sizeof *y);
            // Two calls over split panel ranges, as two threads would make them.
            K->gemm(m, n, k, x, k, wp, bias, y, ldy, epis[e], 0, np / 2);
            K->gemm(m, n, k, x, k, wp, bias, y, ldy, epis[e], np / 2, np);
            double maxdiff = 0;
            for (int i = 0; i < m; i++) {
                for (int j = 0; j < ldy; j++) {
                    size_t at = (size_t)i * ldy + j;
                    double d = j < n ? fabs((double)y[at] - ref[at]) : fabs(y[at] - resid[at]);
                    maxdiff = d > maxdiff ? d : maxdiff;
                }
            }
            if (maxdiff > 2e-5 * sqrt((double)k))
                TEST_FAIL_("m=%d n=%d k=%d epilogue %zu: maxdiff %.3g", m, n, k, e, maxdiff);
        }
        free(x);
        free(w);
        free(bias);
        free(wp);
        free(resid);
        free(ref);
        free(y);
    }
    return 0;
}

static int gelu_and_exp_accuracy(const struct rl__kernels *K) {
    enum { N = 40001 };
    static float x[N], y[N];
    double worst_gelu = 0, worst_exp = 0;
    for (int i = 0; i < N; i++)
        x[i] = -10.0f + 20.0f * (float)i / (N - 1);
    memcpy(y, x, sizeof x);
    K->gelu_inplace(y, N);
    for (int i = 0; i < N; i++) {
        double ref = 0.5 * x[i] * erfc(-x[i] / sqrt(2.0));
        double d = fabs(y[i] - ref) / (fabs(x[i]) > 1 ? fabs(x[i]) : 1);
        worst_gelu = d > worst_gelu ? d : worst_gelu;
    }
    for (int i = 0; i < N; i++)
        x[i] = -87.0f + 175.0f * (float)i / (N - 1);
    memcpy(y, x, sizeof x);
    K->exp_inplace(y, N - 7); // a length that is not a whole number of vectors
    for (int i = 0; i < N - 7; i++) {
        double ref = exp((double)x[i]);
        double d = fabs(y[i] - ref) / ref;
        worst_exp = d > worst_exp ? d : worst_exp;
    }
    ASSERT(y[N - 1] == x[N - 1]); // past n: untouched
    if (worst_gelu > 3e-7 || worst_exp > 3e-7)
        TEST_FAIL_("gelu error %.3g, exp relative error %.3g", worst_gelu, worst_exp);
    ASSERT_NEAR(rl__gelu_ref(1.0f), 0.8413447460685429, 1e-7);
    return 0;
}

// Softmax attention in double precision, the definition.
static void attention_ref(int t, int d, const float *q, const float *k, const float *v, int ld,
                          double scale, double *out) {
    double *p = malloc((size_t)t * sizeof *p);
    for (int i = 0; i < t; i++) {
        double mx = -INFINITY, sum = 0;
        for (int j = 0; j < t; j++) {
            double s = 0;
            for (int c = 0; c < d; c++)
                s += (double)q[(size_t)i * ld + c] * k[(size_t)j * ld + c];
            p[j] = s * scale;
            mx = p[j] > mx ? p[j] : mx;
        }
        for (int j = 0; j < t; j++)
            sum += p[j] = exp(p[j] - mx);
        for (int c = 0; c < d; c++) {
            double acc = 0;
            for (int j = 0; j < t; j++)
                acc += p[j] / sum * v[(size_t)j * ld + c];
            out[(size_t)i * d + c] = acc;
        }
    }
    free(p);
}

static int attention_matches_reference(const struct rl__kernels *K) {
    static const struct {
        /* input */
        int t, d;
    } cases[] = {{1, 8}, {2, 32}, {5, 12}, {17, 32}, {33, 8}, {64, 64}, {7, 40}};
    uint64_t seed = 7;
    for (size_t c = 0; c < RL_COUNTOF(cases); c++) {
        int t = cases[c].t, d = cases[c].d, ld = 3 * d + 5, ldo = d + 2;
        float *qkv = rand_vec((size_t)t * ld, &seed);
        float *out = calloc((size_t)t * ldo, sizeof *out);
        float *scratch = malloc(K->attention_scratch(t, d) * sizeof *scratch);
        double *ref = malloc((size_t)t * d * sizeof *ref);
        ASSERT(qkv && out && scratch && ref);
        for (size_t i = 0; i < (size_t)t * ld; i++)
            qkv[i] *= 3.0f; // sharper softmax
        float scale = 1.0f / sqrtf((float)d);
        K->attention_head(t, d, qkv, qkv + d, qkv + 2 * d, ld, scale, out, ldo, scratch);
        attention_ref(t, d, qkv, qkv + d, qkv + 2 * d, ld, scale, ref);
        double maxdiff = 0;
        for (int i = 0; i < t; i++) {
            for (int j = 0; j < d; j++) {
                double diff = fabs(out[(size_t)i * ldo + j] - ref[(size_t)i * d + j]);
                maxdiff = diff > maxdiff ? diff : maxdiff;
            }
            ASSERT(out[(size_t)i * ldo + d] == 0.0f); // the gap between rows is not written
        }
        if (maxdiff > 1e-5)
            TEST_FAIL_("t=%d d=%d: maxdiff %.3g", t, d, maxdiff);
        free(qkv);
        free(out);
        free(scratch);
        free(ref);
    }
    return 0;
}

static int layernorm_and_l2(const struct rl__kernels *K) {
    static const int widths[] = {32, 384, 37, 5};
    uint64_t seed = 3;
    for (size_t c = 0; c < RL_COUNTOF(widths); c++) {
        int n = widths[c], rows = 3, ld = n + 1;
        float *x = rand_vec((size_t)rows * ld, &seed), *w = rand_vec((size_t)n, &seed);
        float *b = rand_vec((size_t)n, &seed), *orig = malloc((size_t)rows * ld * sizeof *orig);
        ASSERT(x && w && b && orig);
        for (int i = 0; i < rows * ld; i++)
            x[i] = x[i] * 4.0f + 1.0f;
        memcpy(orig, x, (size_t)rows * ld * sizeof *x);
        K->layernorm(x, ld, n, w, b, 1e-12f, 1, rows); // row 0 is left alone
        for (int j = 0; j < ld; j++)
            ASSERT(x[j] == orig[j]);
        for (int r = 1; r < rows; r++) {
            const float *o = orig + (size_t)r * ld;
            double mean = 0, var = 0;
            for (int j = 0; j < n; j++)
                mean += o[j];
            mean /= n;
            for (int j = 0; j < n; j++)
                var += (o[j] - mean) * (o[j] - mean);
            var /= n;
            for (int j = 0; j < n; j++)
                ASSERT_NEAR(x[(size_t)r * ld + j], (o[j] - mean) / sqrt(var + 1e-12) * w[j] + b[j],
                            2e-6);
        }
        free(x);
        free(w);
        free(b);
        free(orig);
    }
    float v[5] = {3, 0, 4, 0, 0}, z[3] = {0, 0, 0};
    rl__l2_normalize(v, 5);
    ASSERT_NEAR(v[0], 0.6, 1e-7);
    ASSERT_NEAR(v[2], 0.8, 1e-7);
    rl__l2_normalize(z, 3);
    ASSERT(z[0] == 0.0f);
    return 0;
}

TEST(encoder_kernels_gemm_matches_cblas) {
    return each_set(gemm_matches_cblas);
}

TEST(encoder_kernels_gelu_and_exp_accuracy) {
    return each_set(gelu_and_exp_accuracy);
}

TEST(encoder_kernels_attention_matches_reference) {
    return each_set(attention_matches_reference);
}

TEST(encoder_kernels_layernorm_and_l2) {
    return each_set(layernorm_and_l2);
}

// The default is the widest set the CPU runs; ROUTELLM_KERNELS forces one it runs, and names
// the sets of the build when it asks for one that does not exist or that the CPU cannot run.
TEST(encoder_kernels_choice) {
    char err[RL_ERRBUF_SIZE] = "";
    unsetenv("ROUTELLM_KERNELS");
    const struct rl__kernels *best = rl__kernels_for_cpu(err), *widest = NULL;
    for (size_t i = 0; rl__kernels_name(i); i++)
        if (rl__kernels_named(rl__kernels_name(i)))
            widest = rl__kernels_named(rl__kernels_name(i));
    ASSERT(best != NULL && best == widest);
    ASSERT(rl__kernels_named("sse9") == NULL);
    setenv("ROUTELLM_KERNELS", "sse9", 1);
    ASSERT_NULL(rl__kernels_for_cpu(err));
    ASSERT_STR_CONTAINS(err, "ROUTELLM_KERNELS=sse9: no such kernel set (this build has: ");
    ASSERT_STR_CONTAINS(err, rl__kernels_name(0));
    for (size_t i = 0; rl__kernels_name(i); i++) {
        setenv("ROUTELLM_KERNELS", rl__kernels_name(i), 1);
        const struct rl__kernels *k = rl__kernels_for_cpu(err);
        if (k)
            ASSERT_STR_EQ(k->name, rl__kernels_name(i));
        else
            ASSERT_STR_CONTAINS(err, "this CPU cannot run that kernel set");
    }
    unsetenv("ROUTELLM_KERNELS");
    return 0;
}
