// The decoder's forward pass (lm/decoder.h), as llama.cpp defines the two architectures for GGUF
// files. llama, per layer:
//   h = RMSNorm(x)·attn_norm;  q, k, v = h·Wqᵀ, h·Wkᵀ, h·Wvᵀ;  RoPE(q), RoPE(k) on adjacent pairs
//   x += softmax_causal(q·kᵀ/√d)·v·Woᵀ   (each query head reads key/value head h / (H / H_kv))
//   h = RMSNorm(x)·ffn_norm;  x += (silu(h·Wgateᵀ) ⊙ h·Wupᵀ)·Wdownᵀ
// gemma3 starts from the embedding × √width and, per layer:
//   h = RMSNorm(x)·attn_norm;  q, k = RMSNorm per head (·q_norm, ·k_norm);  RoPE on half-pairs
//   x += RMSNorm(softmax_causal,window(q·kᵀ/√d)·v·Woᵀ)·post_attention_norm
//   h = RMSNorm(x)·ffn_norm;  x += RMSNorm((gelu(h·Wgateᵀ) ⊙ h·Wupᵀ)·Wdownᵀ)·post_ffw_norm
// Both end with hidden = RMSNorm(x_last)·output_norm and logits = hidden·Woutᵀ (the token
// embedding when the file has no output matrix).
#include <immintrin.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encoder/kernels.h"
#include "lm/decoder.h"
#include "lm/quant.h"

#define TILE_ROWS 64 // weight rows dequantised at once before a matrix product

// ----------------------------------------------------------------------------
// Opening

static int want_uint(struct rl__lm *m, const char *key, uint64_t max, int *out, char *errbuf) {
    char full[96];
    snprintf(full, sizeof full, "%s.%s", m->arch, key);
    uint64_t v = 0;
    int rc = rl__gguf_uint(&m->file, full, max, &v);
    if (rc != RL_OK || v == 0)
        return rl__errf(errbuf, RL_EFORMAT, "%s: %s", full,
                        rc == RL_EINVAL ? "missing" : "not a count in range");
    *out = (int)v;
    return RL_OK;
}

static int want_float(struct rl__lm *m, const char *key, float *out, char *errbuf) {
    char full[96];
    snprintf(full, sizeof full, "%s.%s", m->arch, key);
    double v = 0;
    if (rl__gguf_float(&m->file, full, &v) != RL_OK || !(v > 0) || !isfinite(v))
        return rl__errf(errbuf, RL_EFORMAT, "%s: missing or not a positive number", full);
    *out = (float)v;
    return RL_OK;
}

// The tensor called name with extents (ne0, ne1) (ne1 0: a vector), in a type the decoder reads,
// whose rows are whole blocks.
static int want_tensor(const struct rl__lm *m, const char *name, int64_t ne0, int64_t ne1,
                       const struct rl_gguf_tensor **out, char *errbuf) {
    const struct rl_gguf_tensor *t = rl__gguf_tensor(&m->file, name);
    if (!t)
        return rl__errf(errbuf, RL_EFORMAT, "tensor %s is missing", name);
    int dims = ne1 ? 2 : 1, elems = 0, bytes = 0;
    if (t->n_dims != dims || t->ne[0] != ne0 || (ne1 && t->ne[1] != ne1))
        return rl__errf(
            errbuf, RL_EFORMAT, "tensor %s has extents [%lld, %lld], expected [%lld, %lld]", name,
            (long long)t->ne[0], (long long)t->ne[1], (long long)ne0, (long long)(ne1 ? ne1 : 1));
    if (!rl__ggml_dequantizable(t->type) || !rl__ggml_block(t->type, &elems, &bytes) ||
        ne0 % elems != 0)
        return rl__errf(errbuf, RL_EUNSUPPORTED, "tensor %s: type %s is not read here", name,
                        rl__ggml_type_name(t->type));
    *out = t;
    return RL_OK;
}

// The tensors of a layer, blk.<i>.<name>.weight, with their extents in the model's widths.
// W_Q: all query heads; W_HEAD: one head.
enum width { W_NONE, W_EMBD, W_Q, W_KV, W_HEAD, W_FF };
static const struct {
    const char *name;
    enum width ne0, ne1; // W_NONE for ne1: a vector
    bool gemma_only;
    size_t field; // offset of its pointer in struct rl__lm_layer
} layer_tensors[] = {
    {"attn_norm", W_EMBD, W_NONE, false, offsetof(struct rl__lm_layer, attn_norm)},
    {"attn_q", W_EMBD, W_Q, false, offsetof(struct rl__lm_layer, wq.t)},
    {"attn_k", W_EMBD, W_KV, false, offsetof(struct rl__lm_layer, wk.t)},
    {"attn_v", W_EMBD, W_KV, false, offsetof(struct rl__lm_layer, wv.t)},
    {"attn_output", W_Q, W_EMBD, false, offsetof(struct rl__lm_layer, wo.t)},
    {"ffn_norm", W_EMBD, W_NONE, false, offsetof(struct rl__lm_layer, ffn_norm)},
    {"ffn_gate", W_EMBD, W_FF, false, offsetof(struct rl__lm_layer, w_gate.t)},
    {"ffn_up", W_EMBD, W_FF, false, offsetof(struct rl__lm_layer, w_up.t)},
    {"ffn_down", W_FF, W_EMBD, false, offsetof(struct rl__lm_layer, w_down.t)},
    {"attn_q_norm", W_HEAD, W_NONE, true, offsetof(struct rl__lm_layer, q_norm)},
    {"attn_k_norm", W_HEAD, W_NONE, true, offsetof(struct rl__lm_layer, k_norm)},
    {"post_attention_norm", W_EMBD, W_NONE, true, offsetof(struct rl__lm_layer, post_attn_norm)},
    {"post_ffw_norm", W_EMBD, W_NONE, true, offsetof(struct rl__lm_layer, post_ffw_norm)},
};

static int64_t width(const struct rl__lm *m, enum width w) {
    switch (w) {
    case W_EMBD: return m->n_embd;
    case W_Q: return (int64_t)m->head_dim * m->n_head;
    case W_KV: return (int64_t)m->head_dim * m->n_head_kv;
    case W_HEAD: return m->head_dim;
    case W_FF: return m->n_ff;
    default: return 0;
    }
}

static int read_layer(struct rl__lm *m, int i, char *errbuf) {
    int rc = RL_OK;
    for (size_t k = 0; rc == RL_OK && k < RL_COUNTOF(layer_tensors); k++) {
        if (layer_tensors[k].gemma_only && !m->gemma)
            continue;
        char name[64];
        snprintf(name, sizeof name, "blk.%d.%s.weight", i, layer_tensors[k].name);
        rc = want_tensor(
            m, name, width(m, layer_tensors[k].ne0), width(m, layer_tensors[k].ne1),
            (const struct rl_gguf_tensor **)((char *)&m->layers[i] + layer_tensors[k].field),
            errbuf);
    }
    return rc;
}

static int read_model(struct rl__lm *m, char *errbuf) {
    int rc = want_uint(m, "block_count", RL_LM_MAX_LAYERS, &m->n_layer, errbuf);
    if (rc == RL_OK)
        rc = want_uint(m, "embedding_length", RL_LM_MAX_EMBD, &m->n_embd, errbuf);
    if (rc == RL_OK)
        rc = want_uint(m, "feed_forward_length", 8 * RL_LM_MAX_EMBD, &m->n_ff, errbuf);
    if (rc == RL_OK)
        rc = want_uint(m, "attention.head_count", RL_LM_MAX_EMBD, &m->n_head, errbuf);
    if (rc == RL_OK)
        rc = want_uint(m, "attention.head_count_kv", RL_LM_MAX_EMBD, &m->n_head_kv, errbuf);
    if (rc == RL_OK)
        rc = want_uint(m, "context_length", 1u << 20, &m->n_ctx, errbuf);
    if (rc == RL_OK)
        rc = want_float(m, "rope.freq_base", &m->rope_base, errbuf);
    if (rc == RL_OK)
        rc = want_float(m, "attention.layer_norm_rms_epsilon", &m->eps, errbuf);
    if (rc == RL_OK && m->gemma)
        rc = want_uint(m, "attention.sliding_window", 1u << 20, &m->n_swa, errbuf);
    if (rc != RL_OK)
        return rc;
    if (m->n_head % m->n_head_kv || (!m->gemma && m->n_embd % m->n_head))
        return rl__errf(errbuf, RL_EFORMAT, "%d heads (%d key/value heads) do not fit width %d",
                        m->n_head, m->n_head_kv, m->n_embd);
    // A head's width: attention.key_length (= value_length) where given, else width / heads.
    m->head_dim = m->n_embd / m->n_head;
    int key = 0, value = 0, dim = 0;
    if (want_uint(m, "attention.key_length", RL_LM_MAX_EMBD, &key, errbuf) == RL_OK) {
        if (want_uint(m, "attention.value_length", RL_LM_MAX_EMBD, &value, errbuf) != RL_OK ||
            value != key)
            return rl__errf(errbuf, RL_EUNSUPPORTED, "key and value heads of other widths");
        m->head_dim = key;
    }
    if (m->head_dim % 2 || (size_t)m->head_dim * (size_t)m->n_head > 4 * RL_LM_MAX_EMBD)
        return rl__errf(errbuf, RL_EFORMAT, "heads of width %d", m->head_dim);
    if (want_uint(m, "rope.dimension_count", RL_LM_MAX_EMBD, &dim, errbuf) == RL_OK &&
        dim != m->head_dim)
        return rl__errf(errbuf, RL_EUNSUPPORTED, "rope over %d of %d dimensions is not supported",
                        dim, m->head_dim);
    const struct rl_gguf_tensor *e = rl__gguf_tensor(&m->file, "token_embd.weight");
    if (!e || e->n_dims != 2 || e->ne[0] != m->n_embd || e->ne[1] < 1 || e->ne[1] > (1 << 24))
        return rl__errf(errbuf, RL_EFORMAT, "tensor token_embd.weight is missing or misshapen");
    m->n_vocab = (int)e->ne[1];
    int64_t E = m->n_embd, V = m->n_vocab;
    rc = want_tensor(m, "token_embd.weight", E, V, &m->tok_embd, errbuf);
    if (rc == RL_OK)
        rc = want_tensor(m, "output_norm.weight", E, 0, &m->out_norm, errbuf);
    if (rc == RL_OK)
        rc = rl__gguf_tensor(&m->file, "output.weight")
                 ? want_tensor(m, "output.weight", E, V, &m->output, errbuf)
                 : (m->output = m->tok_embd, RL_OK);
    if (rc == RL_OK && !(m->layers = calloc((size_t)m->n_layer, sizeof *m->layers)))
        rc = rl__errf(errbuf, RL_ENOMEM, "out of memory");
    for (int i = 0; rc == RL_OK && i < m->n_layer; i++)
        rc = read_layer(m, i, errbuf);
    return rc;
}

// The layers' matrices, in the order of struct rl__lm_layer.
static struct rl__lm_matrix *layer_matrix(struct rl__lm_layer *l, int i) {
    struct rl__lm_matrix *all[] = {&l->wq,     &l->wk,   &l->wv,    &l->wo,
                                   &l->w_gate, &l->w_up, &l->w_down};
    return i < (int)RL_COUNTOF(all) ? all[i] : NULL;
}

static void dequant_row(const struct rl_gguf_tensor *t, int64_t row, float *out);

static size_t round_up(size_t n, size_t to) {
    return (n + to - 1) / to * to;
}

// Requantise w's rows for the int8 kernels, RL_LM_Q8_CHUNK rows at a time through rows (that many
// rows of floats).
static int pack_q8(const struct rl__kernels *k, struct rl__lm_matrix *w, float *rows) {
    int N = (int)w->t->ne[1], K = (int)w->t->ne[0];
    size_t chunks = (size_t)(N + RL_LM_Q8_CHUNK - 1) / RL_LM_Q8_CHUNK;
    w->chunk_bytes = round_up(k->q8_packed_size(RL_LM_Q8_CHUNK, K), 64);
    if (!(w->q8 = aligned_alloc(64, chunks * w->chunk_bytes)))
        return RL_ENOMEM;
    for (size_t c = 0; c < chunks; c++) {
        int j0 = (int)c * RL_LM_Q8_CHUNK, n = N - j0 < RL_LM_Q8_CHUNK ? N - j0 : RL_LM_Q8_CHUNK;
        for (int r = 0; r < n; r++)
            dequant_row(w->t, j0 + r, rows + (size_t)r * (size_t)K);
        k->q8_pack(rows, n, K, (char *)w->q8 + c * w->chunk_bytes);
    }
    return RL_OK;
}

static int pack_layers_q8(struct rl__lm *m, char *errbuf) {
    size_t widest = (size_t)(m->n_ff > m->n_embd ? m->n_ff : m->n_embd);
    widest =
        widest > (size_t)m->head_dim * (size_t)m->n_head ? widest : (size_t)m->head_dim * m->n_head;
    float *rows = malloc(RL_LM_Q8_CHUNK * widest * sizeof *rows);
    int rc = rows ? RL_OK : RL_ENOMEM;
    for (int il = 0; rc == RL_OK && il < m->n_layer; il++)
        for (int i = 0; rc == RL_OK && layer_matrix(&m->layers[il], i); i++)
            rc = pack_q8(m->kernels, layer_matrix(&m->layers[il], i), rows);
    free(rows);
    return rc == RL_OK ? RL_OK : rl__errf(errbuf, rc, "out of memory for the int8 matrices");
}

int rl__lm_open(const char *path, enum rl_precision precision, struct rl__lm *m, char *errbuf) {
    memset(m, 0, sizeof *m);
    m->precision = precision;
    int rc = rl__gguf_open(path, &m->file, errbuf);
    if (rc != RL_OK)
        return rc;
    struct rl_gguf_str arch;
    if (rl__gguf_string(&m->file, "general.architecture", &arch) != RL_OK) {
        rc = rl__errf(errbuf, RL_EFORMAT, "general.architecture is missing");
    } else if (!rl__gguf_str_eq(arch, "llama") && !rl__gguf_str_eq(arch, "gemma3")) {
        rc = rl__errf(errbuf, RL_EUNSUPPORTED,
                      "architecture '%.*s' is not supported (llama and gemma3 are)",
                      (int)(arch.len < 40 ? arch.len : 40), arch.p);
    } else {
        snprintf(m->arch, sizeof m->arch, "%.*s", (int)arch.len, arch.p);
        m->gemma = rl__gguf_str_eq(arch, "gemma3");
        rc = read_model(m, errbuf);
        if (rc == RL_OK && !(m->kernels = rl__kernels_for_cpu(errbuf)))
            rc = RL_EUNSUPPORTED;
        if (rc == RL_OK && precision == RL_PRECISION_INT8)
            rc = pack_layers_q8(m, errbuf);
    }
    if (rc != RL_OK) {
        char inner[RL_ERRBUF_SIZE];
        snprintf(inner, sizeof inner, "%s", errbuf ? errbuf : "");
        rl__lm_free(m);
        return rl__errf(errbuf, rc, "%s: %s", path, inner);
    }
    return RL_OK;
}

void rl__lm_free(struct rl__lm *m) {
    if (!m)
        return;
    for (int il = 0; m->layers && il < m->n_layer; il++)
        for (int i = 0; layer_matrix(&m->layers[il], i); i++)
            free(layer_matrix(&m->layers[il], i)->q8);
    free(m->layers);
    rl__gguf_free(&m->file);
    memset(m, 0, sizeof *m);
}

// ----------------------------------------------------------------------------
// The pieces of a layer

// Bytes of one row of t (ne[0] elements, whole blocks).
static size_t row_bytes(const struct rl_gguf_tensor *t) {
    int elems = 0, bytes = 0;
    rl__ggml_block(t->type, &elems, &bytes);
    return (size_t)(t->ne[0] / elems) * (size_t)bytes;
}

static void dequant_row(const struct rl_gguf_tensor *t, int64_t row, float *out) {
    int rc = rl__ggml_dequantize(t->type, t->data + (size_t)row * row_bytes(t), out, t->ne[0]);
    (void)rc; // the type was checked at open
}

int rl__lm_output_rows(const struct rl__lm *m, const int32_t *ids, int n, float *out) {
    for (int i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= m->n_vocab)
            return RL_EINVAL;
    for (int i = 0; i < n; i++)
        dequant_row(m->output, ids[i], out + (size_t)i * (size_t)m->n_embd);
    return RL_OK;
}

// The buffers of matrix products: TILE_ROWS rows dequantised, the same packed for the encoder's
// GEMM kernels, a zero bias wide enough for a tile or an int8 chunk, and the int8 rows of the
// input of an int8 product.
struct tile {
    const struct rl__kernels *k;
    float *rows, *packed, *zero;
    void *xq;
};

// Below this many rows of x, packing a tile for the GEMM kernels costs more than it saves: the
// rows are multiplied by dot products straight from the dequantised tile.
#define PACK_MIN_ROWS 16

// Σ a[i]·b[i] over n floats, eight lanes at a time.
static float dot(const float *a, const float *b, int n) {
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), a1);
    }
    for (; i + 8 <= n; i += 8)
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), a0);
    __m256 v = _mm256_add_ps(a0, a1);
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_movehdup_ps(h));
    float sum = _mm_cvtss_f32(h);
    for (; i < n; i++) // a width that is not a multiple of 8 (float32 matrices)
        sum += a[i] * b[i];
    return sum;
}

// y[t][j] = x_t · w_j for the n rows of x (K floats each) and the rows w_j of the tile, written
// at y + j with row stride ldy.
static void dot_rows(const float *x, int n, int K, const float *tile, int rows, float *y, int ldy) {
    for (int t = 0; t < n; t++)
        for (int j = 0; j < rows; j++)
            y[(size_t)t * (size_t)ldy + (size_t)j] =
                dot(x + (size_t)t * (size_t)K, tile + (size_t)j * (size_t)K, K);
}

// y (n, rows) = x (n, K) · W[j0 .. j0 + rows)ᵀ for W (N, K) stored in t, y with row stride ldy:
// the rows dequantised, then packed and multiplied by the encoder's single-threaded GEMM kernels,
// or for a few rows of x by dot products (OpenBLAS's threads cost more than they give on
// products this small).
static void tile_product(const struct rl_gguf_tensor *t, int j0, int rows, const float *x, int n,
                         float *y, int ldy, const struct tile *w) {
    int K = (int)t->ne[0];
    for (int r = 0; r < rows; r++)
        dequant_row(t, j0 + r, w->rows + (size_t)r * (size_t)K);
    if (n < PACK_MIN_ROWS) {
        dot_rows(x, n, K, w->rows, rows, y, ldy);
        return;
    }
    w->k->pack(w->rows, rows, K, w->packed);
    w->k->gemm(n, rows, K, x, K, w->packed, w->zero, y, ldy, RL__EPI_BIAS, 0, w->k->n_panels(rows));
}

// y (n, N) = x (n, K) · Wᵀ for W (N, K): with the int8 kernels when W is packed for them (x's rows
// quantised once), else from the file's rows a tile of TILE_ROWS at a time.
static void matmul(const struct rl__lm_matrix *W, const float *x, int n, float *y,
                   const struct tile *w) {
    int N = (int)W->t->ne[1], K = (int)W->t->ne[0];
    if (!W->q8) {
        for (int j0 = 0; j0 < N; j0 += TILE_ROWS)
            tile_product(W->t, j0, N - j0 < TILE_ROWS ? N - j0 : TILE_ROWS, x, n, y + j0, N, w);
        return;
    }
    w->k->q8_quantize(x, K, K, w->xq, 0, n);
    for (int j0 = 0, c = 0; j0 < N; j0 += RL_LM_Q8_CHUNK, c++) {
        int rows = N - j0 < RL_LM_Q8_CHUNK ? N - j0 : RL_LM_Q8_CHUNK;
        w->k->q8_gemm(n, rows, K, w->xq, (const char *)W->q8 + (size_t)c * W->chunk_bytes, w->zero,
                      y + j0, N, RL__EPI_BIAS, 0, w->k->n_panels(rows));
    }
}

// out = RMSNorm(x)·w over each of n rows of width d.
static void rms_norm(const float *x, int n, int d, const float *w, float eps, float *out) {
    for (int t = 0; t < n; t++) {
        const float *xr = x + (size_t)t * (size_t)d;
        double ss = 0;
        for (int i = 0; i < d; i++)
            ss += (double)xr[i] * xr[i];
        float scale = (float)(1.0 / sqrt(ss / d + eps));
        for (int i = 0; i < d; i++)
            out[(size_t)t * (size_t)d + i] = xr[i] * scale * w[i];
    }
}

// The rotations of rotary embeddings for n positions from p0 on: cs[2·(t·d/2 + i)] and the next
// float are cos and sin of (p0 + t) · base^(-2i/d).
static void rope_table(int p0, int n, int d, float base, float *cs) {
    for (int i = 0; i < d / 2; i++) {
        double freq = pow(base, -2.0 * i / d);
        for (int t = 0; t < n; t++) {
            double theta = (p0 + t) * freq;
            cs[2 * ((size_t)t * (size_t)(d / 2) + (size_t)i)] = (float)cos(theta);
            cs[2 * ((size_t)t * (size_t)(d / 2) + (size_t)i) + 1] = (float)sin(theta);
        }
    }
}

// Rotate each head (n rows of n_heads × d) by the table cs (rope_table): the pairs (2i, 2i + 1)
// (llama), or (i, i + d/2) when halves is set (gemma3, llama.cpp's "neox" order).
static void rope(float *x, int n, int n_heads, int d, const float *cs, bool halves) {
    for (int t = 0; t < n; t++)
        for (int h = 0; h < n_heads; h++) {
            float *v = x + ((size_t)t * (size_t)n_heads + (size_t)h) * (size_t)d;
            const float *r = cs + (size_t)t * (size_t)d;
            for (int i = 0; i < d / 2; i++) {
                float c = r[2 * i], s = r[2 * i + 1];
                int i0 = halves ? i : 2 * i, i1 = halves ? i + d / 2 : 2 * i + 1;
                float a = v[i0], b = v[i1];
                v[i0] = a * c - b * s;
                v[i1] = a * s + b * c;
            }
        }
}

// Causal grouped-query attention of the n queries q (n, H·d), at positions p0 .. p0 + n - 1,
// over the keys and values k, v (p0 + n, Hkv·d) of every position: out (n, H·d), the scores
// scaled by scale; with window > 0 position p sees only positions p - window + 1 .. p. scores
// holds p0 + n floats.
static void attention(const struct rl__lm *m, int p0, int n, const float *q, const float *k,
                      const float *v, float scale, int window, float *out, float *scores) {
    int H = m->n_head, Hkv = m->n_head_kv, d = m->head_dim, group = H / Hkv;
    for (int h = 0; h < H; h++) {
        int g = h / group;
        for (int t = 0; t < n; t++) {
            const float *qt = q + ((size_t)t * (size_t)H + (size_t)h) * (size_t)d;
            int p = p0 + t, j0 = window > 0 && p >= window ? p - window + 1 : 0;
            float top = -INFINITY;
            for (int j = j0; j <= p; j++) {
                scores[j] =
                    dot(qt, k + ((size_t)j * (size_t)Hkv + (size_t)g) * (size_t)d, d) * scale;
                top = scores[j] > top ? scores[j] : top;
            }
            double sum = 0;
            for (int j = j0; j <= p; j++)
                sum += scores[j] = expf(scores[j] - top);
            float *o = out + ((size_t)t * (size_t)H + (size_t)h) * (size_t)d;
            memset(o, 0, (size_t)d * sizeof *o);
            for (int j = j0; j <= p; j++) {
                const float *vj = v + ((size_t)j * (size_t)Hkv + (size_t)g) * (size_t)d;
                float pj = (float)(scores[j] / sum);
                for (int i = 0; i < d; i++)
                    o[i] += pj * vj[i];
            }
        }
    }
}

// GELU in the tanh form (ggml_gelu, which gemma3's feed-forward block uses).
static float gelu_tanh(float x) {
    return 0.5f * x * (1.0f + tanhf(0.7978845608f * (x + 0.044715f * x * x * x)));
}

// ----------------------------------------------------------------------------
// The pass

// gemma3's local layers: all but every sixth (llama.cpp's pattern for the architecture), whose
// rotary base is 10,000 rather than the file's.
#define GEMMA3_GLOBAL_EVERY    6
#define GEMMA3_LOCAL_ROPE_BASE 10000.0f

// A pass over n new positions after p0 known ones (a prefix's): k and v hold all p0 + n rows of
// the current layer; rope[0] is the rotation table of the file's base, rope[1] gemma3's local one.
// keep, when set, receives each layer's keys and values of the n positions (rl__lm_prefix_new).
struct scratch {
    int p0;
    const struct rl__lm_prefix *prefix;
    struct rl__lm_prefix *keep;
    float *x, *h, *q, *k, *v, *att, *gate, *up, *scores, *norm, *rope[2];
    struct tile w;
};

static void scratch_free(struct scratch *s) {
    float **all[] = {&s->x,       &s->h,       &s->q,      &s->k,        &s->v,
                     &s->att,     &s->gate,    &s->up,     &s->scores,   &s->norm,
                     &s->rope[0], &s->rope[1], &s->w.rows, &s->w.packed, &s->w.zero};
    for (size_t i = 0; i < RL_COUNTOF(all); i++) {
        free(*all[i]);
        *all[i] = NULL;
    }
    free(s->w.xq);
    s->w.xq = NULL;
}

static int scratch_new(const struct rl__lm *m, int p0, int n, struct scratch *s) {
    size_t N = (size_t)n, P = (size_t)p0 + N, E = (size_t)m->n_embd, F = (size_t)m->n_ff,
           Q = (size_t)m->head_dim * (size_t)m->n_head,
           KV = (size_t)m->head_dim * (size_t)m->n_head_kv, R = N * (size_t)m->head_dim;
    size_t wide = E > Q ? E : Q, widest = F > wide ? F : wide;
    int zero_rows = RL_LM_Q8_CHUNK > TILE_ROWS ? RL_LM_Q8_CHUNK : TILE_ROWS;
    const struct rl__kernels *k = m->kernels;
    *s = (struct scratch){
        .p0 = p0,
        .x = malloc(N * E * sizeof(float)),
        .h = malloc(N * E * sizeof(float)),
        .q = malloc(N * Q * sizeof(float)),
        .k = malloc(P * KV * sizeof(float)),
        .v = malloc(P * KV * sizeof(float)),
        .att = malloc(N * Q * sizeof(float)),
        .gate = malloc(N * F * sizeof(float)),
        .up = malloc(N * F * sizeof(float)),
        .scores = malloc(P * sizeof(float)),
        .norm = malloc(widest * sizeof(float)),
        .rope = {malloc(R * sizeof(float)), malloc(R * sizeof(float))},
        .w = {.k = k,
              .rows = malloc(TILE_ROWS * widest * sizeof(float)),
              .packed = aligned_alloc(
                  64, round_up(k->packed_size(TILE_ROWS, (int)widest) * sizeof(float), 64)),
              .zero = calloc((size_t)k->n_panels(zero_rows) * (size_t)k->nr, sizeof(float)),
              .xq = m->precision == RL_PRECISION_INT8
                        ? aligned_alloc(64, N * k->q8_row_size((int)widest))
                        : NULL},
    };
    if (s->x && s->h && s->q && s->k && s->v && s->att && s->gate && s->up && s->scores &&
        s->norm && s->rope[0] && s->rope[1] && s->w.rows && s->w.packed && s->w.zero &&
        (s->w.xq || m->precision != RL_PRECISION_INT8)) {
        rope_table(p0, n, m->head_dim, m->rope_base, s->rope[0]);
        if (m->gemma)
            rope_table(p0, n, m->head_dim, GEMMA3_LOCAL_ROPE_BASE, s->rope[1]);
        return RL_OK;
    }
    scratch_free(s);
    return RL_ENOMEM;
}
static void add(float *y, const float *x, size_t n) {
    for (size_t i = 0; i < n; i++)
        y[i] += x[i];
}

// out (rows of width d) = RMSNorm(x)·w, w a vector tensor; out may be x; buf holds d floats.
static void apply_norm(const struct rl__lm *m, const float *x, int rows, int d,
                       const struct rl_gguf_tensor *w, float *buf, float *out) {
    dequant_row(w, 0, buf);
    rms_norm(x, rows, d, buf, m->eps, out);
}

// The keys and values of layer il: the prefix's rows copied in front of the n new ones (rotated),
// and the new ones kept when a prefix is being made.
static void keys_values(const struct rl__lm *m, int il, int n, struct scratch *s, const float *cs) {
    size_t KV = (size_t)m->head_dim * (size_t)m->n_head_kv, P = (size_t)s->p0;
    float *k = s->k + P * KV, *v = s->v + P * KV;
    if (m->gemma) // each head normalised on its own
        apply_norm(m, k, n * m->n_head_kv, m->head_dim, m->layers[il].k_norm, s->norm, k);
    rope(k, n, m->n_head_kv, m->head_dim, cs, m->gemma);
    if (s->prefix) {
        memcpy(s->k, s->prefix->k + (size_t)il * P * KV, P * KV * sizeof(float));
        memcpy(s->v, s->prefix->v + (size_t)il * P * KV, P * KV * sizeof(float));
    }
    if (s->keep) {
        memcpy(s->keep->k + (size_t)il * (size_t)n * KV, k, (size_t)n * KV * sizeof(float));
        memcpy(s->keep->v + (size_t)il * (size_t)n * KV, v, (size_t)n * KV * sizeof(float));
    }
}

static void layer(const struct rl__lm *m, int il, int n, struct scratch *s) {
    const struct rl__lm_layer *l = &m->layers[il];
    size_t NE = (size_t)n * (size_t)m->n_embd, NF = (size_t)n * (size_t)m->n_ff,
           KV = (size_t)m->head_dim * (size_t)m->n_head_kv * (size_t)s->p0;
    bool local = m->gemma && (il + 1) % GEMMA3_GLOBAL_EVERY != 0;
    const float *cs = s->rope[local];
    apply_norm(m, s->x, n, m->n_embd, l->attn_norm, s->norm, s->h);
    matmul(&l->wq, s->h, n, s->q, &s->w);
    matmul(&l->wk, s->h, n, s->k + KV, &s->w);
    matmul(&l->wv, s->h, n, s->v + KV, &s->w);
    if (m->gemma)
        apply_norm(m, s->q, n * m->n_head, m->head_dim, l->q_norm, s->norm, s->q);
    rope(s->q, n, m->n_head, m->head_dim, cs, m->gemma);
    keys_values(m, il, n, s, cs);
    attention(m, s->p0, n, s->q, s->k, s->v, 1.0f / sqrtf((float)m->head_dim), local ? m->n_swa : 0,
              s->att, s->scores);
    matmul(&l->wo, s->att, n, s->h, &s->w);
    if (m->gemma)
        apply_norm(m, s->h, n, m->n_embd, l->post_attn_norm, s->norm, s->h);
    add(s->x, s->h, NE);

    apply_norm(m, s->x, n, m->n_embd, l->ffn_norm, s->norm, s->h);
    matmul(&l->w_gate, s->h, n, s->gate, &s->w);
    matmul(&l->w_up, s->h, n, s->up, &s->w);
    for (size_t i = 0; i < NF; i++) {
        float g = s->gate[i];
        s->gate[i] = (m->gemma ? gelu_tanh(g) : g / (1.0f + expf(-g))) * s->up[i];
    }
    matmul(&l->w_down, s->gate, n, s->h, &s->w);
    if (m->gemma)
        apply_norm(m, s->h, n, m->n_embd, l->post_ffw_norm, s->norm, s->h);
    add(s->x, s->h, NE);
}

// The layers over ids after the prefix's positions (prefix may be NULL): s->x holds each new
// position's final residual; keep, when set, receives the keys and values. RL_OK or an error in
// errbuf.
static int run(const struct rl__lm *m, const struct rl__lm_prefix *prefix, const int32_t *ids,
               int n, struct scratch *s, struct rl__lm_prefix *keep, char *errbuf) {
    int p0 = prefix ? prefix->n : 0;
    if (n < 1 || n > m->n_ctx - p0)
        return rl__errf(errbuf, RL_EINVAL, "%d tokens: the model reads 1 to %d", n, m->n_ctx - p0);
    for (int t = 0; t < n; t++)
        if (ids[t] < 0 || ids[t] >= m->n_vocab)
            return rl__errf(errbuf, RL_EINVAL,
                            "token %d at position %d is outside the vocabulary of %d", ids[t], t,
                            m->n_vocab);
    if (scratch_new(m, p0, n, s) != RL_OK)
        return rl__errf(errbuf, RL_ENOMEM, "out of memory for %d tokens", n);
    s->prefix = prefix;
    s->keep = keep;
    size_t E = (size_t)m->n_embd;
    float scale = m->gemma ? sqrtf((float)m->n_embd) : 1.0f;
    for (int t = 0; t < n; t++) {
        float *row = s->x + (size_t)t * E;
        dequant_row(m->tok_embd, ids[t], row);
        for (size_t i = 0; i < E; i++)
            row[i] *= scale;
    }
    for (int i = 0; i < m->n_layer; i++)
        layer(m, i, n, s);
    return RL_OK;
}

int rl__lm_forward(const struct rl__lm *m, const struct rl__lm_prefix *prefix, const int32_t *ids,
                   int n, float *logits, float *hidden, char *errbuf) {
    struct scratch s;
    int rc = run(m, prefix, ids, n, &s, NULL, errbuf);
    if (rc != RL_OK)
        return rc;
    size_t E = (size_t)m->n_embd;
    apply_norm(m, s.x + (size_t)(n - 1) * E, 1, m->n_embd, m->out_norm, s.norm, s.h);
    if (hidden)
        memcpy(hidden, s.h, E * sizeof *hidden);
    if (logits) {
        struct rl__lm_matrix out = {.t = m->output};
        matmul(&out, s.h, 1, logits, &s.w);
    }
    scratch_free(&s);
    return RL_OK;
}

int rl__lm_prefix_new(const struct rl__lm *m, const int32_t *ids, int n, struct rl__lm_prefix *p,
                      char *errbuf) {
    size_t each =
        (size_t)m->n_layer * (size_t)(n > 0 ? n : 1) * (size_t)m->head_dim * (size_t)m->n_head_kv;
    *p = (struct rl__lm_prefix){n, malloc(each * sizeof(float)), malloc(each * sizeof(float))};
    int rc = p->k && p->v ? RL_OK : rl__errf(errbuf, RL_ENOMEM, "out of memory for a prefix");
    struct scratch s;
    // One position is left for the text after it.
    if (rc == RL_OK && n >= m->n_ctx)
        rc = rl__errf(errbuf, RL_EINVAL, "a prefix of %d tokens leaves no room in %d", n, m->n_ctx);
    if (rc == RL_OK && (rc = run(m, NULL, ids, n, &s, p, errbuf)) == RL_OK)
        scratch_free(&s);
    if (rc != RL_OK)
        rl__lm_prefix_free(p);
    return rc;
}

void rl__lm_prefix_free(struct rl__lm_prefix *p) {
    free(p->k);
    free(p->v);
    *p = (struct rl__lm_prefix){0};
}

// Per position, the running log-sum-exp of its logits (online: the largest so far and the sum of
// exp(z - max)), the logit of the next token, and for the last position the sum of
// exp(z - max)·z that gives the entropy.
struct stream {
    double *max, *sum, *target;
    double zsum; // the last position's Σ exp(z - max)·z, rescaled with its max
};

static void stream_add(struct stream *st, int t, double z, bool last) {
    if (z > st->max[t]) {
        double r = exp(st->max[t] - z);
        st->sum[t] = st->sum[t] * r + 1;
        if (last)
            st->zsum = st->zsum * r + z;
        st->max[t] = z;
    } else {
        double e = exp(z - st->max[t]);
        st->sum[t] += e;
        if (last)
            st->zsum += e * z;
    }
}

int rl__lm_signals(const struct rl__lm *m, const int32_t *ids, int n, struct rl__lm_signals *out,
                   float *logits, char *errbuf) {
    struct scratch s;
    int rc = run(m, NULL, ids, n, &s, NULL, errbuf);
    if (rc != RL_OK)
        return rc;
    apply_norm(m, s.x, n, m->n_embd, m->out_norm, s.norm, s.x);
    size_t N = (size_t)n;
    struct stream st = {malloc(N * sizeof(double)), calloc(N, sizeof(double)),
                        malloc(N * sizeof(double)), 0};
    float *y = malloc(N * TILE_ROWS * sizeof *y);
    if (!st.max || !st.sum || !st.target || !y) {
        rc = rl__errf(errbuf, RL_ENOMEM, "out of memory for %d tokens", n);
    } else {
        // The output matrix a tile of rows at a time: n × TILE_ROWS logits, never n × vocab.
        const struct rl_gguf_tensor *w = m->output;
        int V = (int)w->ne[1];
        for (int t = 0; t < n; t++)
            st.max[t] = -INFINITY;
        for (int j0 = 0; j0 < V; j0 += TILE_ROWS) {
            int rows = V - j0 < TILE_ROWS ? V - j0 : TILE_ROWS;
            tile_product(w, j0, rows, s.x, n, y, rows, &s.w);
            for (int t = 0; t < n; t++)
                for (int r = 0; r < rows; r++) {
                    double z = y[(size_t)t * (size_t)rows + (size_t)r];
                    stream_add(&st, t, z, t == n - 1);
                    if (t + 1 < n && ids[t + 1] == j0 + r)
                        st.target[t] = z;
                    if (logits && t == n - 1)
                        logits[j0 + r] = (float)z;
                }
        }
        double nll = 0;
        for (int t = 0; t + 1 < n; t++)
            nll += st.max[t] + log(st.sum[t]) - st.target[t];
        double lse = st.max[n - 1] + log(st.sum[n - 1]);
        out->mean_nll = n > 1 ? nll / (n - 1) : 0;
        out->next_entropy = lse - st.zsum / st.sum[n - 1];
    }
    free(st.max);
    free(st.sum);
    free(st.target);
    free(y);
    scratch_free(&s);
    return rc;
}
