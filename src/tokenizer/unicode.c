// UTF-8 decoding and the Unicode character classes of BERT tokenization, on top of libutf8proc
// (categories, canonical decomposition, case mapping). Hugging Face tokenizers answers from older
// Unicode tables, so each answer is corrected by the generated lists of code points where the two
// disagree (unicode_tables.h). ASCII is answered without table lookups.
// It does not normalize strings: the order of the steps lives in wordpiece.c.
#include <utf8proc.h>

#include "tokenizer/unicode.h"

struct uni_range {
    int32_t lo, hi;
};

struct uni_map {
    int32_t cp, to;
};

#include "tokenizer/unicode_tables.h"

static bool in_ranges(const struct uni_range *r, size_t n, int32_t cp) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cp < r[mid].lo)
            hi = mid;
        else if (cp > r[mid].hi)
            lo = mid + 1;
        else
            return true;
    }
    return false;
}

#define IN_TABLE(table, cp) in_ranges(table, sizeof table / sizeof table[0], cp)

const char *rl__uni_tables_version(void) {
    return RL_UNI_TABLES_UNICODE_VERSION;
}

// ----------------------------------------------------------------------------
// UTF-8

size_t rl__utf8_decode(const unsigned char *s, size_t n, int32_t *cp) {
    unsigned char c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    // Well-formed byte sequences (Unicode Table 3-7): the lead byte fixes the length and the
    // range of the second byte, which excludes overlong forms, surrogates and > U+10FFFF.
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF;
    int32_t v;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        v = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        v = c & 0x0F;
        lo = c == 0xE0 ? 0xA0 : 0x80;
        hi = c == 0xED ? 0x9F : 0xBF;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        v = c & 0x07;
        lo = c == 0xF0 ? 0x90 : 0x80;
        hi = c == 0xF4 ? 0x8F : 0xBF;
    } else {
        *cp = RL_UNI_REPLACEMENT; // a continuation byte or a lead byte that is never valid
        return 1;
    }
    for (size_t i = 1; i < len; i++) {
        unsigned char lo_i = i == 1 ? lo : 0x80, hi_i = i == 1 ? hi : 0xBF;
        if (i >= n || s[i] < lo_i || s[i] > hi_i) {
            *cp = RL_UNI_REPLACEMENT; // the maximal subpart s[0..i) becomes one U+FFFD
            return i;
        }
        v = (v << 6) | (s[i] & 0x3F);
    }
    *cp = v;
    return len;
}

size_t rl__utf8_encode(int32_t cp, char *out) {
    unsigned char *o = (unsigned char *)out;
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xC0 | (cp >> 6));
        o[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xE0 | (cp >> 12));
        o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (unsigned char)(0xF0 | (cp >> 18));
    o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

// ----------------------------------------------------------------------------
// Character classes

bool rl__uni_is_whitespace(int32_t cp) {
    // The White_Space property; a fixed list since Unicode 6.3.
    if (cp <= 0x20)
        return cp == 0x20 || (cp >= 0x09 && cp <= 0x0D);
    return cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) ||
           cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

bool rl__uni_is_control(int32_t cp) {
    if (cp == '\t' || cp == '\n' || cp == '\r')
        return false;
    if (cp < 0x80)
        return cp < 0x20 || cp == 0x7F;
    utf8proc_category_t c = utf8proc_category(cp);
    bool other = c == UTF8PROC_CATEGORY_CC || c == UTF8PROC_CATEGORY_CF ||
                 c == UTF8PROC_CATEGORY_CO || c == UTF8PROC_CATEGORY_CS;
    return other != IN_TABLE(control_flip, cp);
}

bool rl__uni_is_chinese(int32_t cp) {
    return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
           (cp >= 0x20000 && cp <= 0x2A6DF) || (cp >= 0x2A700 && cp <= 0x2B73F) ||
           (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B920 && cp <= 0x2CEAF) ||
           (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

bool rl__uni_is_punctuation(int32_t cp) {
    if (cp < 0x80)
        return (cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) ||
               (cp >= 123 && cp <= 126);
    utf8proc_category_t c = utf8proc_category(cp);
    return (c >= UTF8PROC_CATEGORY_PC && c <= UTF8PROC_CATEGORY_PO) != IN_TABLE(punct_flip, cp);
}

bool rl__uni_is_nonspacing_mark(int32_t cp) {
    if (cp < 0x300)
        return false;
    return (utf8proc_category(cp) == UTF8PROC_CATEGORY_MN) != IN_TABLE(mn_flip, cp);
}

int rl__uni_combining_class(int32_t cp) {
    if (cp < 0x300)
        return 0;
    int ccc = utf8proc_get_property(cp)->combining_class;
    return ccc > 0 && IN_TABLE(ccc_zero, cp) ? 0 : ccc;
}

// ----------------------------------------------------------------------------
// Mappings

size_t rl__uni_decompose(int32_t cp, int32_t out[RL_UNI_MAX_DECOMP]) {
    if (cp < 0xC0 || IN_TABLE(nfd_keep, cp)) {
        out[0] = cp;
        return 1;
    }
    utf8proc_ssize_t n =
        utf8proc_decompose_char(cp, out, RL_UNI_MAX_DECOMP, UTF8PROC_DECOMPOSE, NULL);
    if (n < 1 || n > RL_UNI_MAX_DECOMP) {
        out[0] = cp;
        return 1;
    }
    return (size_t)n;
}

size_t rl__uni_lower(int32_t cp, int32_t out[2]) {
    if (cp < 0x80) {
        out[0] = cp >= 'A' && cp <= 'Z' ? cp + 32 : cp;
        return 1;
    }
    // The only unconditional multi-character lowercase mapping (SpecialCasing.txt).
    if (cp == 0x130) {
        out[0] = 'i';
        out[1] = 0x307;
        return 2;
    }
    size_t lo = 0, hi = sizeof lower_map / sizeof lower_map[0];
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (lower_map[mid].cp == cp) {
            out[0] = lower_map[mid].to;
            return 1;
        }
        if (lower_map[mid].cp < cp)
            lo = mid + 1;
        else
            hi = mid;
    }
    out[0] = utf8proc_tolower(cp);
    return 1;
}
