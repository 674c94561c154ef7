// UTF-8 decoding (invalid input included) and the invariants wordpiece.c relies on, checked over
// every code point.
#include <utf8proc.h>

#include "test.h"
#include "tokenizer/unicode.h"

struct decode_case {
    const char *bytes; // input
    size_t len;
    int32_t cps[8]; // output: code points decoded one call at a time
    size_t n_cps;
};

#define R RL_UNI_REPLACEMENT

// Invalid sequences give one U+FFFD per maximal subpart, as Python's errors="replace".
static const struct decode_case decode_cases[] = {
    {"a", 1, {'a'}, 1},
    {"\xc3\xa9", 2, {0xE9}, 1},
    {"\xe4\xb8\xad", 3, {0x4E2D}, 1},
    {"\xf0\x9f\x98\x80", 4, {0x1F600}, 1},
    {"\xf4\x8f\xbf\xbf", 4, {0x10FFFF}, 1},
    {"\x80", 1, {R}, 1},                      // lone continuation
    {"\xff\xfe", 2, {R, R}, 2},               // never valid
    {"\xc0\xaf", 2, {R, R}, 2},               // overlong '/'
    {"\xe0\x80\xaf", 3, {R, R, R}, 3},        // overlong
    {"\xf0\x8f\xbf\xbf", 4, {R, R, R, R}, 4}, // overlong
    {"\xed\xa0\x80", 3, {R, R, R}, 3},        // surrogate U+D800
    {"\xf4\x90\x80\x80", 4, {R, R, R, R}, 4}, // above U+10FFFF
    {"\xe4\xb8", 2, {R}, 1},                  // truncated: one replacement
    {"\xe4\xb8"
     "a",
     3,
     {R, 'a'},
     2}, // the next character survives
    {"\xf0\x9f\x98"
     "\xc3\xa9",
     5,
     {R, 0xE9},
     2},
    {"\xc3\xa9\x80", 3, {0xE9, R}, 2},
    {"\xf8\x88\x80\x80\x80", 5, {R, R, R, R, R}, 5}, // 5-byte form
};

TEST(tokenizer_utf8_decode) {
    for (size_t i = 0; i < RL_COUNTOF(decode_cases); i++) {
        const struct decode_case *c = &decode_cases[i];
        const unsigned char *s = (const unsigned char *)c->bytes;
        size_t at = 0, n = 0;
        while (at < c->len) {
            int32_t cp;
            size_t k = rl__utf8_decode(s + at, c->len - at, &cp);
            ASSERT(k >= 1 && k <= c->len - at);
            if (n >= c->n_cps || cp != c->cps[n])
                TEST_FAIL_("case %zu: code point %zu is U+%04X", i, n, (unsigned)cp);
            n++;
            at += k;
        }
        ASSERT_EQ(n, c->n_cps);
    }
    return 0;
}

TEST(tokenizer_utf8_roundtrip_every_code_point) {
    for (int32_t cp = 0; cp < 0x110000; cp++) {
        if (cp >= 0xD800 && cp <= 0xDFFF)
            continue;
        char buf[4];
        size_t n = rl__utf8_encode(cp, buf);
        int32_t back;
        ASSERT_EQ(rl__utf8_decode((const unsigned char *)buf, n, &back), n);
        ASSERT_EQ(back, cp);
    }
    return 0;
}

// unicode_tables.h lists where tokenizers and this utf8proc disagree; with another Unicode
// version of utf8proc the lists are wrong and must be regenerated.
TEST(tokenizer_unicode_tables_match_utf8proc) {
    if (strcmp(rl__uni_tables_version(), utf8proc_unicode_version()) != 0)
        TEST_FAIL_("unicode_tables.h was made for Unicode %s, utf8proc has %s: rerun "
                   "tools/make_tokenizer_golden.py",
                   rl__uni_tables_version(), utf8proc_unicode_version());
    return 0;
}

// wordpiece.c keeps surviving non-starters aside for canonical reordering and flushes them early
// only when there are more than a word may hold. That is sound because none of them splits a
// word (whitespace, punctuation), changes under lowercasing, or decomposes further.
TEST(tokenizer_unicode_reorder_invariants) {
    for (int32_t cp = 0; cp < 0x110000; cp++) {
        if (cp >= 0xD800 && cp <= 0xDFFF)
            continue;
        int32_t d[RL_UNI_MAX_DECOMP], low[2];
        size_t n = rl__uni_decompose(cp, d);
        ASSERT(n >= 1 && n <= RL_UNI_MAX_DECOMP);
        if (rl__uni_combining_class(cp) == 0 || rl__uni_is_nonspacing_mark(cp))
            continue;
        if (rl__uni_is_whitespace(cp) || rl__uni_is_punctuation(cp) || rl__uni_is_control(cp))
            TEST_FAIL_("U+%04X: a non-starter that splits or is dropped", (unsigned)cp);
        if (rl__uni_lower(cp, low) != 1 || low[0] != cp)
            TEST_FAIL_("U+%04X: a non-starter that changes case", (unsigned)cp);
    }
    return 0;
}

TEST(tokenizer_unicode_classes) {
    ASSERT(rl__uni_is_whitespace(0x3000));
    ASSERT(!rl__uni_is_whitespace(0x200B)); // ZERO WIDTH SPACE is Cf, not White_Space
    ASSERT(!rl__uni_is_whitespace(0x180E));
    ASSERT(rl__uni_is_control(0x85) && rl__uni_is_whitespace(0x85)); // cleaning drops it first
    ASSERT(!rl__uni_is_control('\t'));
    ASSERT(rl__uni_is_control(0xE000)); // private use
    ASSERT(!rl__uni_is_control(0x378)); // unassigned is kept
    ASSERT(!rl__uni_is_control(0x890)); // Cf since Unicode 14, unknown to tokenizers
    ASSERT(rl__uni_is_punctuation('$') && rl__uni_is_punctuation('~'));
    ASSERT(!rl__uni_is_punctuation(0x20AC)); // € is Sc
    ASSERT(rl__uni_is_punctuation(0x166D));  // So since Unicode 12, Po for tokenizers
    ASSERT(!rl__uni_is_punctuation(0x2E52)); // Po since Unicode 13, unknown to tokenizers
    ASSERT(rl__uni_is_nonspacing_mark(0x301));
    ASSERT(rl__uni_is_nonspacing_mark(0x1734)); // Mc since Unicode 14, Mn for tokenizers
    ASSERT(!rl__uni_is_nonspacing_mark(0x0ECE));
    ASSERT(rl__uni_is_chinese(0x4E2D) && rl__uni_is_chinese(0x2B920));
    ASSERT(!rl__uni_is_chinese(0x2B820) && !rl__uni_is_chinese(0x3042));
    int32_t d[RL_UNI_MAX_DECOMP], low[2];
    ASSERT_EQ(rl__uni_decompose(0xAC01, d), 3); // 각: Hangul syllables decompose to jamo
    ASSERT_EQ(d[0], 0x1100);
    ASSERT_EQ(rl__uni_decompose(0x11938, d), 1); // left alone by tokenizers' older NFD
    ASSERT_EQ(rl__uni_lower(0x130, low), 2);
    ASSERT_EQ(low[1], 0x307);
    ASSERT_EQ(rl__uni_lower(0x1E9E, low), 1); // ẞ -> ß, no case folding to "ss"
    ASSERT_EQ(low[0], 0xDF);
    return 0;
}
