// Dequantisation of ggml's block types (lm/quant.h). Each block holds its scales as float16 and
// its values as small integers: 32 values a block for the _0/_1 types, 256 in super-blocks of
// eight or sixteen sub-blocks for the K types. Layouts and formulas as llama.cpp defines them.
#include <string.h>

#include "core/core.h"
#include "lm/gguf.h"
#include "lm/quant.h"

static float half(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return rl__f16_to_f32(h);
}

// Q4_0: d, then 16 bytes of two 4-bit values each (low nibbles first), centred on 8.
static void q4_0(const uint8_t *b, float *y) {
    float d = half(b);
    for (int j = 0; j < 16; j++) {
        y[j] = (float)((b[2 + j] & 0x0F) - 8) * d;
        y[j + 16] = (float)((b[2 + j] >> 4) - 8) * d;
    }
}

// Q4_1: d and the minimum m, then the nibbles: x = q·d + m.
static void q4_1(const uint8_t *b, float *y) {
    float d = half(b), m = half(b + 2);
    for (int j = 0; j < 16; j++) {
        y[j] = (float)(b[4 + j] & 0x0F) * d + m;
        y[j + 16] = (float)(b[4 + j] >> 4) * d + m;
    }
}

// Q5_0 and Q5_1: as Q4 with a fifth bit per value in a 32-bit word (bit j for value j); Q5_0 is
// centred on 16, Q5_1 adds its minimum.
static void q5(const uint8_t *b, float *y, bool with_min) {
    float d = half(b), m = with_min ? half(b + 2) : 0;
    const uint8_t *qh_at = b + (with_min ? 4 : 2), *qs = qh_at + 4;
    uint32_t qh;
    memcpy(&qh, qh_at, 4);
    int centre = with_min ? 0 : 16;
    for (int j = 0; j < 16; j++) {
        int lo = (qs[j] & 0x0F) | (int)(((qh >> j) & 1) << 4);
        int hi = (qs[j] >> 4) | (int)(((qh >> (j + 16)) & 1) << 4);
        y[j] = (float)(lo - centre) * d + m;
        y[j + 16] = (float)(hi - centre) * d + m;
    }
}

// Q8_0: d, then 32 signed bytes.
static void q8_0(const uint8_t *b, float *y) {
    float d = half(b);
    for (int j = 0; j < 32; j++)
        y[j] = (float)(int8_t)b[2 + j] * d;
}

// The 6-bit scale and minimum of sub-block j of a Q4_K block, packed in 12 bytes.
static void k4_scale_min(int j, const uint8_t *q, int *sc, int *m) {
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (q[j + 4] & 0x0F) | ((q[j - 4] >> 6) << 4);
        *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
    }
}

// Q4_K: d and dmin, 12 bytes of sub-block scales and minimums, 128 bytes of nibbles; each 64
// values are two sub-blocks of 32 sharing 32 bytes (low nibbles, then high).
static void q4_k(const uint8_t *b, float *y) {
    float d = half(b), dmin = half(b + 2);
    const uint8_t *scales = b + 4, *q = b + 16;
    for (int j = 0, is = 0; j < 256; j += 64, is += 2, q += 32) {
        int sc, m;
        k4_scale_min(is, scales, &sc, &m);
        float d1 = d * (float)sc, m1 = dmin * (float)m;
        k4_scale_min(is + 1, scales, &sc, &m);
        float d2 = d * (float)sc, m2 = dmin * (float)m;
        for (int l = 0; l < 32; l++)
            y[j + l] = d1 * (float)(q[l] & 0x0F) - m1;
        for (int l = 0; l < 32; l++)
            y[j + 32 + l] = d2 * (float)(q[l] >> 4) - m2;
    }
}

// Q6_K: 128 bytes of low nibbles, 64 of high 2-bit pairs, 16 signed sub-block scales, then d;
// values are centred on 32, in two halves of 128.
static void q6_k(const uint8_t *b, float *y) {
    const uint8_t *ql = b, *qh = b + 128;
    const int8_t *sc = (const int8_t *)(b + 192);
    float d = half(b + 208);
    for (int n = 0; n < 256; n += 128, ql += 64, qh += 32, sc += 8) {
        for (int l = 0; l < 32; l++) {
            int is = l / 16;
            int q1 = ((ql[l] & 0x0F) | ((qh[l] & 3) << 4)) - 32;
            int q2 = ((ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4)) - 32;
            int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
            int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
            y[n + l] = d * (float)sc[is] * (float)q1;
            y[n + l + 32] = d * (float)sc[is + 2] * (float)q2;
            y[n + l + 64] = d * (float)sc[is + 4] * (float)q3;
            y[n + l + 96] = d * (float)sc[is + 6] * (float)q4;
        }
    }
}

bool rl__ggml_dequantizable(uint32_t type) {
    switch (type) {
    case RL_GGML_F32:
    case RL_GGML_F16:
    case RL_GGML_BF16:
    case RL_GGML_Q4_0:
    case RL_GGML_Q4_1:
    case RL_GGML_Q5_0:
    case RL_GGML_Q5_1:
    case RL_GGML_Q8_0:
    case RL_GGML_Q4_K:
    case RL_GGML_Q6_K: return true;
    default: return false;
    }
}

int rl__ggml_dequantize(uint32_t type, const void *src, float *dst, int64_t n) {
    const uint8_t *s = src;
    int elems, bytes;
    if (!rl__ggml_dequantizable(type) || !rl__ggml_block(type, &elems, &bytes))
        return RL_EUNSUPPORTED;
    for (int64_t i = 0; i < n; i += elems, s += bytes, dst += elems) {
        switch (type) {
        case RL_GGML_F32: memcpy(dst, s, 4); break;
        case RL_GGML_F16: *dst = half(s); break;
        case RL_GGML_BF16: {
            uint32_t u = (uint32_t)(s[0] | s[1] << 8) << 16;
            memcpy(dst, &u, 4);
            break;
        }
        case RL_GGML_Q4_0: q4_0(s, dst); break;
        case RL_GGML_Q4_1: q4_1(s, dst); break;
        case RL_GGML_Q5_0: q5(s, dst, false); break;
        case RL_GGML_Q5_1: q5(s, dst, true); break;
        case RL_GGML_Q8_0: q8_0(s, dst); break;
        case RL_GGML_Q4_K: q4_k(s, dst); break;
        case RL_GGML_Q6_K: q6_k(s, dst); break;
        }
    }
    return RL_OK;
}
