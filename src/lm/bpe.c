// Byte-level BPE (GPT-2's scheme) as llama.cpp runs it for the "smollm" pre-tokenizer:
//
//   1. decode the fragment into code points the way llama.cpp does (below);
//   2. cut it into pieces: every number code point (\p{N}) alone, the runs between them whole;
//   3. cut each piece into words with the GPT-2 pattern
//        's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//      where a piece's end counts as the end of the text (so "\s+(?!\S)" keeps the last space of
//      a run only when something follows it in the same piece);
//   4. write each word back as UTF-8, map every byte to GPT-2's printable alphabet (bytes that are
//      printable Latin-1 stand for themselves, the other 68 for U+0100 onwards in byte order) and
//      merge adjacent symbols, lowest merge rank first (leftmost on ties), until no pair has one;
//   5. emit each symbol's token; a symbol that is no token emits the tokens of its single bytes
//      where they exist (llama.cpp's fallback; it never fires on a vocabulary that holds all 256
//      byte symbols).
// Steps 4 (the merging) and 5 are rl__lm_merge (merge.c).
//
// Character classes are Unicode general categories (L*, N*) from libutf8proc and the White_Space
// list; llama.cpp's own tables are one Unicode version newer, which differs only in the letters
// of CJK Extension I (U+2EBF0..U+2EE5D), added below.
//
// Decoding follows llama.cpp, not the Unicode standard: a lead byte fixes the length, continuation
// bytes are only checked for their top bits, so overlong forms and surrogates decode to their
// value; a byte that starts no complete sequence becomes U+FFFD and decoding resumes at the next
// byte. A 4-byte value above U+10FFFF (llama.cpp stops with an exception) becomes U+FFFD.
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "lm/vocab.h"
#include "tokenizer/unicode.h"

enum cls { CLS_END, CLS_LETTER, CLS_NUMBER, CLS_SPACE, CLS_OTHER };

static enum cls classify(int32_t cp) {
    if (cp < 0x80) {
        if ((cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z'))
            return CLS_LETTER;
        if (cp >= '0' && cp <= '9')
            return CLS_NUMBER;
        return cp == ' ' || (cp >= 0x09 && cp <= 0x0D) ? CLS_SPACE : CLS_OTHER;
    }
    if (rl__uni_is_whitespace(cp))
        return CLS_SPACE;
    if (cp >= 0x2EBF0 && cp <= 0x2EE5D) // CJK Extension I (Unicode 15.1)
        return CLS_LETTER;
    switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO: return CLS_LETTER;
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO: return CLS_NUMBER;
    default: return CLS_OTHER;
    }
}

static bool is_cont(unsigned char c) {
    return (c & 0xC0) == 0x80;
}

// One code point from s[0..n) (n >= 1) as llama.cpp decodes it; returns the bytes consumed.
static size_t decode(const unsigned char *s, size_t n, int32_t *cp) {
    unsigned char c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    *cp = RL_UNI_REPLACEMENT;
    if (c < 0xC0 || c >= 0xF8)
        return 1;
    if (c < 0xE0) {
        if (n < 2 || !is_cont(s[1]))
            return 1;
        *cp = (int32_t)((c & 0x1Fu) << 6 | (s[1] & 0x3Fu));
        return 2;
    }
    if (c < 0xF0) {
        if (n < 3 || !is_cont(s[1]) || !is_cont(s[2]))
            return 1;
        *cp = (int32_t)((c & 0x0Fu) << 12 | (s[1] & 0x3Fu) << 6 | (s[2] & 0x3Fu));
        return 3;
    }
    if (n < 4 || !is_cont(s[1]) || !is_cont(s[2]) || !is_cont(s[3]))
        return 1;
    uint32_t v = (c & 0x07u) << 18 | (s[1] & 0x3Fu) << 12 | (s[2] & 0x3Fu) << 6 | (s[3] & 0x3Fu);
    *cp = v > 0x10FFFF ? RL_UNI_REPLACEMENT : (int32_t)v;
    return 4;
}

// UTF-8 of any value up to U+10FFFF, surrogates included (they decode from 3-byte forms).
static size_t encode(int32_t cp, unsigned char *out) {
    if (cp < 0x80) {
        out[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (unsigned char)(0xC0 | cp >> 6);
        out[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (unsigned char)(0xE0 | cp >> 12);
        out[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
        out[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (unsigned char)(0xF0 | cp >> 18);
    out[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3F));
    out[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
    out[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

// GPT-2's byte alphabet: the code point standing for byte b.
static int32_t byte_symbol(unsigned char b) {
    if ((b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE)
        return b;
    // The others, in byte order, take U+0100 onwards: 0x00-0x20 (33), 0x7F-0xA0 (34), 0xAD.
    if (b <= 0x20)
        return 0x100 + b;
    if (b <= 0xA0)
        return 0x100 + 33 + (b - 0x7F);
    return 0x100 + 67;
}

// ----------------------------------------------------------------------------
// Pre-tokenization

struct words {
    uint32_t *end; // word k is code points [end[k-1], end[k]) (end[-1] = 0)
    size_t n;
};

// The GPT-2 pattern over the code points [from, to) of one piece, appending word ends.
static void split_gpt2(const int32_t *cp, const uint8_t *cls, size_t from, size_t to,
                       struct words *w) {
#define CLS_AT(i) ((i) < to ? (enum cls)cls[i] : CLS_END)
    size_t pos = from;
    while (pos < to) {
        int32_t c = cp[pos];
        if (c == '\'' && pos + 1 < to) {
            int32_t c1 = cp[pos + 1], c2 = pos + 2 < to ? cp[pos + 2] : 0;
            if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd') {
                pos += 2;
                w->end[w->n++] = (uint32_t)pos;
                continue;
            }
            if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l')) {
                pos += 3;
                w->end[w->n++] = (uint32_t)pos;
                continue;
            }
        }
        // An optional leading space, then a run of letters, of digits or of other characters.
        size_t start = c == ' ' ? pos + 1 : pos;
        enum cls k = CLS_AT(start);
        if (k == CLS_LETTER || k == CLS_NUMBER || k == CLS_OTHER) {
            pos = start;
            while (CLS_AT(pos) == k)
                pos++;
            w->end[w->n++] = (uint32_t)pos;
            continue;
        }
        // Whitespace: a run followed by more text leaves its last character to the next word.
        size_t n_space = 0;
        while (CLS_AT(pos + n_space) == CLS_SPACE)
            n_space++;
        if (n_space > 1 && pos + n_space < to)
            pos += n_space - 1;
        else if (n_space > 0)
            pos += n_space;
        else
            pos++;
        w->end[w->n++] = (uint32_t)pos;
    }
#undef CLS_AT
}

void rl__lm_bpe_encode(const struct rl__lm_vocab *v, const char *s, size_t n,
                       struct rl__lm_ids *out) {
    // At most n code points and n words (n <= RL_LM_VOCAB_MAX_TEXT fits 32 bits).
    int32_t *cp = malloc(n * sizeof *cp);
    uint8_t *cls = malloc(n);
    struct words w = {malloc(n * sizeof *w.end), 0};
    char *word = NULL;
    uint32_t *sym_off = NULL;
    struct rl__lm_merge scratch = {0};
    if (!cp || !cls || !w.end) {
        out->failed = true;
        goto done;
    }
    const unsigned char *u = (const unsigned char *)s;
    size_t n_cp = 0;
    for (size_t at = 0; at < n; n_cp++) {
        at += decode(u + at, n - at, &cp[n_cp]);
        cls[n_cp] = (uint8_t)classify(cp[n_cp]);
    }
    // Pieces: each number alone, the runs between whole; the GPT-2 pattern within each.
    for (size_t at = 0; at < n_cp;) {
        size_t to = at;
        if (cls[at] == CLS_NUMBER)
            to = at + 1;
        else
            while (to < n_cp && cls[to] != CLS_NUMBER)
                to++;
        split_gpt2(cp, cls, at, to, &w);
        at = to;
    }
    // Scratch for the longest word: a code point is at most 4 UTF-8 bytes, each one symbol of at
    // most 2 bytes.
    size_t longest = 0;
    for (size_t k = 0, from = 0; k < w.n; from = w.end[k++])
        if (w.end[k] - from > longest)
            longest = w.end[k] - from;
    word = malloc(8 * longest);
    sym_off = malloc((4 * longest + 1) * sizeof *sym_off);
    if (!word || !sym_off) {
        out->failed = true;
        goto done;
    }
    size_t from = 0;
    for (size_t k = 0; k < w.n && !out->failed; k++) {
        size_t n_bytes = 0, n_sym = 0;
        for (size_t i = from; i < w.end[k]; i++) {
            unsigned char utf8[4];
            size_t m = encode(cp[i], utf8);
            for (size_t j = 0; j < m; j++) {
                sym_off[n_sym++] = (uint32_t)n_bytes;
                n_bytes += encode(byte_symbol(utf8[j]), (unsigned char *)word + n_bytes);
            }
        }
        sym_off[n_sym] = (uint32_t)n_bytes;
        rl__lm_merge(v, word, sym_off, n_sym, &scratch, out);
        from = w.end[k];
    }
done:
    free(cp);
    free(cls);
    free(w.end);
    free(word);
    free(sym_off);
    rl__lm_merge_free(&scratch);
}
