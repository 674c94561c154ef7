// The similarity-weighted (SW) ranking router (RouteLLM §2.2). Per query: cosine similarity to
// every stored training prompt (fp16 or int8 rows, scanned with AVX2/F16C when the CPU has it),
// weights γ^(1 + s/max s) summed into at most T² tier cells through each prompt's precomputed
// cell counts, a Newton Bradley-Terry fit over the T tiers, and P from the tiers of the strong
// and weak models. Two choices differ from the original on purpose (docs/ROUTERS.md): battles
// within one tier are left out of the tier fit (the original's feature row degenerates to a
// single -ln 10 there, which rewards whichever side was listed first), and two models in the same
// tier get p = 0.5. Scoring allocates one buffer of N floats per call for the similarities.
#include <immintrin.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "core/cpu.h"
#include "core/safetensors.h"
#include "routers/bt.h"
#include "routers/router_impl.h"
#include "routers/swr.h"
#include "train/train_impl.h"

// ----------------------------------------------------------------------------
// Similarity scan: sims[i] = <row i, e>

static void scan_scalar(const struct rl_swr *s, const float *e, float *sims) {
    const int D = s->dim;
    for (int i = 0; i < s->n_prompts; i++) {
        float acc = 0;
        if (s->emb16) {
            const uint16_t *row = s->emb16 + (size_t)i * D;
            for (int d = 0; d < D; d++)
                acc += rl__f16_to_f32(row[d]) * e[d];
        } else {
            const int8_t *row = s->emb8 + (size_t)i * D;
            for (int d = 0; d < D; d++)
                acc += (float)row[d] * e[d];
            acc *= s->scale8[i];
        }
        sims[i] = acc;
    }
}

__attribute__((target("avx2,fma,f16c"))) static float hsum256(__m256 v) {
    __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
    lo = _mm_add_ps(lo, hi);
    lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
    lo = _mm_add_ss(lo, _mm_shuffle_ps(lo, lo, 1));
    return _mm_cvtss_f32(lo);
}

// D must be a multiple of RL_SWR_DIM_STEP, 16 (checked at load).
__attribute__((target("avx2,fma,f16c"))) static void scan_avx2(const struct rl_swr *s,
                                                               const float *e, float *sims) {
    const int D = s->dim;
    for (int i = 0; i < s->n_prompts; i++) {
        __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
        if (s->emb16) {
            const uint16_t *row = s->emb16 + (size_t)i * D;
            for (int d = 0; d < D; d += 16) {
                __m256 r0 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(row + d)));
                __m256 r1 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(row + d + 8)));
                a0 = _mm256_fmadd_ps(r0, _mm256_loadu_ps(e + d), a0);
                a1 = _mm256_fmadd_ps(r1, _mm256_loadu_ps(e + d + 8), a1);
            }
            sims[i] = hsum256(_mm256_add_ps(a0, a1));
        } else {
            const int8_t *row = s->emb8 + (size_t)i * D;
            for (int d = 0; d < D; d += 16) {
                __m128i q = _mm_loadu_si128((const __m128i *)(row + d));
                __m256 r0 = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q));
                __m256 r1 = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(q, 8)));
                a0 = _mm256_fmadd_ps(r0, _mm256_loadu_ps(e + d), a0);
                a1 = _mm256_fmadd_ps(r1, _mm256_loadu_ps(e + d + 8), a1);
            }
            sims[i] = hsum256(_mm256_add_ps(a0, a1)) * s->scale8[i];
        }
    }
}

bool rl__swr_simd_supported(void) {
    return rl__cpu_x86_64_v3(); // a superset of the AVX2, FMA and F16C the scan needs
}

// ----------------------------------------------------------------------------
// Per-query fit

int rl__swr_tier_beta(const struct rl_swr *s, const float *e, float *sims, double *beta) {
    const int T = s->n_tiers, N = s->n_prompts;
    if (s->simd)
        scan_avx2(s, e, sims);
    else
        scan_scalar(s, e, sims);
    float max_s = -INFINITY;
    for (int i = 0; i < N; i++)
        max_s = sims[i] > max_s ? sims[i] : max_s;
    // Weights γ^(1 + s/max s); when every similarity is <= 0 the ratio is taken against |max|.
    double denom = fabs((double)max_s) > 1e-6 ? fabs((double)max_s) : 1e-6;
    double lg = log((double)s->gamma);
    double win[RL_SWR_MAX_TIERS * RL_SWR_MAX_TIERS] = {0};
    double loss[RL_SWR_MAX_TIERS * RL_SWR_MAX_TIERS] = {0};
    for (int i = 0; i < N; i++) {
        int32_t lo = s->offsets[i], hi = s->offsets[i + 1];
        if (lo == hi)
            continue;
        double w = exp(lg * (1.0 + sims[i] / denom));
        for (int32_t k = lo; k < hi; k++) {
            win[s->cell[k]] += w * s->cell_weight[2 * k];
            loss[s->cell[k]] += w * s->cell_weight[2 * k + 1];
        }
    }
    // The cell index is ta·T + tb, which is also the row-major (T, T) layout rl__bt_fit reads.
    double scratch[3 * RL_SWR_MAX_TIERS * RL_SWR_MAX_TIERS + 4 * RL_SWR_MAX_TIERS];
    return rl__bt_fit(T, win, loss, beta, scratch) < 0 ? RL_EINVAL : RL_OK;
}

double rl__swr_p(const struct rl_swr *s, const double *beta, int strong, int weak) {
    int ts = s->model_tier[strong], tw = s->model_tier[weak];
    if (ts == tw)
        return 0.5;
    // 1 − 1/(1 + 10^((R_s − R_w)/400)) with R = 400β + 1000, i.e. σ(ln 10 · (β_s − β_w)).
    double z = log(10.0) * (beta[ts] - beta[tw]);
    return z >= 0 ? 1 / (1 + exp(-z)) : exp(z) / (1 + exp(z));
}

// ----------------------------------------------------------------------------
// Router

static int swr_score(const struct rl_router *r, const struct rl_router_pair *pair,
                     const struct rl_prompt *prompt, const float *e, double *p_strong) {
    (void)prompt;
    const struct rl_swr *s = r->impl;
    float *sims = malloc((size_t)(s->n_prompts ? s->n_prompts : 1) * sizeof *sims);
    if (!sims)
        return RL_ENOMEM;
    double beta[RL_SWR_MAX_TIERS];
    int rc = rl__swr_tier_beta(s, e, sims, beta);
    free(sims);
    if (rc != RL_OK)
        return rc;
    *p_strong = rl__swr_p(s, beta, pair->strong, pair->weak);
    return RL_OK;
}

// The tensors of a sw_ranking file.
struct swr_tensors {
    const struct rl_tensor *tier, *rating, *gamma; // (M), (M), (1)
    const struct rl_tensor *e16, *e8, *scale;      // (N, D) F16, or (N, D) I8 and (N)
    const struct rl_tensor *off, *cell, *cw;       // (N + 1), (nnz), (nnz, 2)
};

// Find every tensor with its dtype and shape.
static int swr_expect(const struct rl_safetensors *st, int M, int D, struct swr_tensors *t,
                      char *errbuf) {
    int64_t sm[1] = {M}, s1[1] = {1};
    int rc = rl_safetensors_expect(st, "model_tier", RL_DTYPE_I32, 1, sm, &t->tier, errbuf);
    if (rc == RL_OK)
        rc = rl_safetensors_expect(st, "model_rating", RL_DTYPE_F32, 1, sm, &t->rating, errbuf);
    if (rc == RL_OK)
        rc = rl_safetensors_expect(st, "gamma", RL_DTYPE_F32, 1, s1, &t->gamma, errbuf);
    if (rc != RL_OK)
        return rc;
    int64_t se[2] = {-1, D};
    if (rl_safetensors_find(st, "prompt_emb_i8")) {
        rc = rl_safetensors_expect(st, "prompt_emb_i8", RL_DTYPE_I8, 2, se, &t->e8, errbuf);
        int64_t ss[1] = {t->e8 ? t->e8->shape[0] : 0};
        if (rc == RL_OK)
            rc = rl_safetensors_expect(st, "prompt_scale", RL_DTYPE_F32, 1, ss, &t->scale, errbuf);
    } else {
        rc = rl_safetensors_expect(st, "prompt_emb", RL_DTYPE_F16, 2, se, &t->e16, errbuf);
    }
    if (rc != RL_OK)
        return rc;
    int64_t N = t->e16 ? t->e16->shape[0] : t->e8->shape[0];
    if (N < 1 || N > INT32_MAX - 1)
        return rl__errf(errbuf, RL_EFORMAT, "%s: %lld stored prompts", rl_safetensors_path(st),
                        (long long)N);
    int64_t so[1] = {N + 1}, sx[1] = {-1};
    rc = rl_safetensors_expect(st, "cell_offsets", RL_DTYPE_I32, 1, so, &t->off, errbuf);
    if (rc == RL_OK)
        rc = rl_safetensors_expect(st, "cell_index", RL_DTYPE_U8, 1, sx, &t->cell, errbuf);
    int64_t sw[2] = {t->cell ? t->cell->shape[0] : 0, 2};
    if (rc == RL_OK)
        rc = rl_safetensors_expect(st, "cell_weight", RL_DTYPE_F32, 2, sw, &t->cw, errbuf);
    return rc;
}

// Validate everything the scan will index; *n_tiers receives T.
static int swr_check(const char *path, int M, const struct swr_tensors *t, int *n_tiers,
                     char *errbuf) {
    const int32_t *tiers = t->tier->data, *offs = t->off->data;
    const uint8_t *cells = t->cell->data;
    const float *cws = t->cw->data;
    const int64_t N = t->off->shape[0] - 1, nnz = t->cell->shape[0];
    int T = 0;
    for (int m = 0; m < M; m++) {
        if (tiers[m] < 0 || tiers[m] >= RL_SWR_MAX_TIERS)
            return rl__errf(errbuf, RL_EFORMAT, "%s: model_tier[%d] = %d is out of range", path, m,
                            tiers[m]);
        T = tiers[m] + 1 > T ? tiers[m] + 1 : T;
    }
    if (offs[0] != 0 || offs[N] != nnz)
        return rl__errf(errbuf, RL_EFORMAT, "%s: cell_offsets do not span cell_index", path);
    for (int64_t i = 0; i < N; i++)
        if (offs[i + 1] < offs[i])
            return rl__errf(errbuf, RL_EFORMAT, "%s: cell_offsets decrease at %lld", path,
                            (long long)i);
    for (int64_t k = 0; k < nnz; k++) {
        int ta = cells[k] / T, tb = cells[k] % T;
        if (cells[k] >= T * T || ta == tb || !(cws[2 * k] >= 0) || !(cws[2 * k + 1] >= 0) ||
            !isfinite(cws[2 * k]) || !isfinite(cws[2 * k + 1]))
            return rl__errf(errbuf, RL_EFORMAT, "%s: cell %lld is invalid", path, (long long)k);
    }
    // Stored prompts and their scales must be finite, or every similarity scan yields NaN.
    if (t->e16) {
        const uint16_t *h = t->e16->data;
        for (size_t i = 0; i < t->e16->nbytes / sizeof *h; i++)
            if ((h[i] & 0x7c00) == 0x7c00)
                return rl__errf(errbuf, RL_EFORMAT, "%s: prompt_emb is not finite", path);
    } else {
        const float *x = t->scale->data;
        for (int64_t i = 0; i < N; i++)
            if (!isfinite(x[i]))
                return rl__errf(errbuf, RL_EFORMAT, "%s: prompt_scale is not finite", path);
    }
    float g = *(const float *)t->gamma->data;
    if (!(g > 1 && g < 1e6))
        return rl__errf(errbuf, RL_EFORMAT, "%s: gamma %g is not in (1, 1e6)", path, g);
    *n_tiers = T;
    return RL_OK;
}

// The state and every array it points to are one allocation (rl__router_impl_new).
static int swr_load(struct rl_router *r, const struct rl_safetensors *st, char *errbuf) {
    const char *path = rl_safetensors_path(st);
    const int M = r->n_models, D = r->encoder_dim;
    if (D % RL_SWR_DIM_STEP != 0)
        return rl__errf(errbuf, RL_EUNSUPPORTED,
                        "%s: sw_ranking needs a width that is a multiple of %d, not %d", path,
                        RL_SWR_DIM_STEP, D);
    struct swr_tensors t = {0};
    int T = 0;
    int rc = swr_expect(st, M, D, &t, errbuf);
    if (rc == RL_OK)
        rc = swr_check(path, M, &t, &T, errbuf);
    if (rc != RL_OK)
        return rc;
    const struct rl_tensor *parts[] = {t.e16, t.e8, t.scale, t.tier, t.off, t.cell, t.cw};
    void *at[RL_COUNTOF(parts)];
    struct rl_swr *s = rl__router_impl_new(sizeof *s, parts, RL_COUNTOF(parts), at);
    if (!s)
        return rl__errf(errbuf, RL_ENOMEM, "out of memory");
    r->impl = s;
    s->n_prompts = (int)(t.off->shape[0] - 1);
    s->dim = D;
    s->n_tiers = T;
    s->n_models = M;
    s->gamma = *(const float *)t.gamma->data;
    s->emb16 = at[0];
    s->emb8 = at[1];
    s->scale8 = at[2];
    s->model_tier = at[3];
    s->offsets = at[4];
    s->cell = at[5];
    s->cell_weight = at[6];
    s->simd = rl__swr_simd_supported();
    return RL_OK;
}

static const char *const per_model[] = {"model_tier", "model_rating", NULL};

const struct rl_router_kind rl__router_kind_sw_ranking = {
    .name = "sw_ranking",
    .ranks_models = true,
    .needs_encoder = true,
    .shipped = true,
    .load = swr_load,
    .score = swr_score,
    .free = free,
    .train = rl__train_swr,
    .per_model = per_model,
};
