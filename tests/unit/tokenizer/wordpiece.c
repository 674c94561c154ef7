// Hand-written tokenizer cases on the real all-MiniLM-L6-v2 vocabulary, one rule per row, plus
// truncation and the argument contract of rl_tokenizer_encode.
#include <stdlib.h>

#include "core/core.h"
#include "rl/tokenizer.h"
#include "test.h"

#define CLS 101
#define SEP 102
#define UNK 100

// Join the tokens of ids[1..n-1) (without [CLS] and [SEP]) with spaces into out.
static void join_tokens(const struct rl_tokenizer *t, const int32_t *ids, int n, char *out,
                        size_t size) {
    size_t len = 0;
    out[0] = '\0';
    for (int i = 1; i < n - 1; i++) {
        const char *tok = rl_tokenizer_token(t, ids[i]);
        int k = snprintf(out + len, size - len, "%s%s", i > 1 ? " " : "", tok ? tok : "?");
        if (k < 0 || (size_t)k >= size - len)
            return;
        len += (size_t)k;
    }
}

struct token_case {
    const char *text; // input
    size_t len;       // input bytes; 0: strlen(text)
    const char *want; // output: tokens between [CLS] and [SEP], space-separated
};

static const struct token_case cases[] = {
    // Basic splitting: lowercase, whitespace, punctuation.
    {"Hello, World!", 0, "hello , world !"},
    {"", 0, ""},
    {" \t\n\r ", 0, ""},
    {"e-mail", 0, "e - mail"},
    {"$5", 0, "$ 5"}, // '$' is ASCII punctuation for BERT though Unicode calls it Sc
    {"a\xe2\x80\xa6"
     "b",
     0, "a … b"},
    {"a\xc2\xab"
     "b\xc2\xbb",
     0, "a « b »"},
    // WordPiece: greedy longest match with ## continuations; over 100 characters is [UNK].
    {"unaffable", 0, "una ##ffa ##ble"},
    {"\xf0\x9f\x98\x80", 0, "[UNK]"},
    {"\xef\xbd\x88\xef\xbd\x85\xef\xbd\x8c\xef\xbd\x8c\xef\xbd\x8f", 0,
     "[UNK]"}, // fullwidth: no NFKC
    // Accents are stripped after NFD; lowercase comes after.
    {"na\xc3\xafve CAF\xc3\x89", 0, "naive cafe"},
    {"\xc4\xb0stanbul", 0, "istanbul"}, // U+0130 decomposes to I + U+0307
    {"Stra\xc3\x9f"
     "e",
     0, "st ##raße"}, // no case folding: ß stays
    {"a\xcc\x81", 0, "a"},
    {"\xef\xac\x81", 0, "ﬁ"}, // a compatibility ligature is not decomposed by NFD
    {"\xc2\xbd", 0, "½"},
    // CJK ideographs become words; kana and Hangul do not, but NFD splits Hangul into jamo.
    {"\xe4\xb8\xad\xe6\x96\x87"
     "English",
     0, "中 文 english"},
    {"\xe3\x81\x8c\xe3\x81\x8e", 0, "か ##き"}, // the voiced mark U+3099 is Mn: stripped
    {"\xed\x95\x9c", 0, "ᄒ ##ᅡ ##ᆫ"},
    // Cleaning: NUL, U+FFFD and Cc/Cf vanish (without splitting); whitespace splits.
    {"a\0b\x01"
     "c\x7f"
     "d",
     7, "abc ##d"},
    {"a\xe2\x80\x8b"
     "b",
     0, "ab"}, // U+200B ZERO WIDTH SPACE is Cf
    {"a\xc2\xad"
     "b",
     0, "ab"}, // soft hyphen
    {"a\xc2\x85"
     "b",
     0, "ab"}, // NEL is Cc before it is whitespace
    {"a\x0b"
     "b",
     0, "ab"}, // so is VT
    {"a\xef\xbf\xbd"
     "b",
     0, "ab"}, // U+FFFD
    {"a\xc2\xa0"
     "b",
     0, "a b"}, // NBSP
    {"a\xe3\x80\x80"
     "b",
     0, "a b"}, // ideographic space
    {"a\xe2\x80\xa8"
     "b",
     0, "a b"}, // line separator
    // Invalid UTF-8 decodes to U+FFFD, which cleaning drops.
    {"a\xff"
     "b",
     0, "ab"},
    {"a\xe4\xb8"
     "b",
     0, "ab"}, // truncated sequence: 'b' is not swallowed
    {"\xc0\xaf"
     "x",
     0, "x"}, // overlong '/'
    {"\xed\xa0\x80"
     "x",
     0, "x"}, // a surrogate
    // Added tokens match in the raw text, anywhere; other spellings are ordinary text.
    {"[CLS]", 0, "[CLS]"},
    {"x[SEP]y", 0, "x [SEP] y"},
    {"[cls]", 0, "[ cl ##s ]"},
    {"[CL\xff"
     "S]",
     0, "[ cl ##s ]"},
    // A character the old Unicode tables of tokenizers call punctuation (So since Unicode 12).
    {"a\xe1\x99\xad"
     "b",
     0, "a [UNK] b"},
};

TEST(tokenizer_cases) {
    char err[RL_ERRBUF_SIZE];
    struct rl_tokenizer *t = rl_tokenizer_load(RL_TEST_MODEL, err);
    if (!t)
        TEST_FAIL_("%s (run `make models`)", err);
    int failed = 0;
    for (size_t i = 0; i < RL_COUNTOF(cases); i++) {
        const struct token_case *c = &cases[i];
        int32_t ids[64];
        size_t len = c->len ? c->len : strlen(c->text);
        int n = rl_tokenizer_encode(t, c->text, len, ids, RL_COUNTOF(ids));
        char got[1024];
        if (n >= 2)
            join_tokens(t, ids, n, got, sizeof got);
        if (n < 2 || ids[0] != CLS || ids[n - 1] != SEP || strcmp(got, c->want) != 0) {
            fprintf(stderr, "  case %zu \"%s\": want \"%s\", got \"%s\" (%d ids)\n", i, c->text,
                    c->want, n >= 2 ? got : "", n);
            failed++;
        }
    }
    rl_tokenizer_free(t);
    ASSERT_EQ(failed, 0);
    return 0;
}

TEST(tokenizer_word_length_limit) {
    char err[RL_ERRBUF_SIZE];
    struct rl_tokenizer *t = rl_tokenizer_load(RL_TEST_MODEL, err);
    if (!t)
        TEST_FAIL_("%s", err);
    char text[512];
    int32_t ids[128];
    // 100 characters are split; 101 are one [UNK]. Characters, not bytes: é is 2 bytes.
    memset(text, 'x', 101);
    ASSERT_EQ(rl_tokenizer_encode(t, text, 100, ids, RL_COUNTOF(ids)), 52);
    ASSERT_EQ(rl_tokenizer_encode(t, text, 101, ids, RL_COUNTOF(ids)), 3);
    ASSERT_EQ(ids[1], UNK);
    for (int i = 0; i < 101; i++)
        memcpy(text + 2 * i, "\xc3\xa9", 2);
    ASSERT_EQ(rl_tokenizer_encode(t, text, 200, ids, RL_COUNTOF(ids)), 52);
    ASSERT_EQ(rl_tokenizer_encode(t, text, 202, ids, RL_COUNTOF(ids)), 3);
    ASSERT_EQ(ids[1], UNK);
    rl_tokenizer_free(t);
    return 0;
}

TEST(tokenizer_truncation_keeps_sep) {
    char err[RL_ERRBUF_SIZE];
    struct rl_tokenizer *t = rl_tokenizer_load(RL_TEST_MODEL, err);
    if (!t)
        TEST_FAIL_("%s", err);
    const char *text = "unaffable unaffable"; // una ##ffa ##ble una ##ffa ##ble
    int32_t full[16], ids[16];
    ASSERT_EQ(rl_tokenizer_encode(t, text, strlen(text), full, RL_COUNTOF(full)), 8);
    for (size_t max = 2; max <= 8; max++) {
        int n = rl_tokenizer_encode(t, text, strlen(text), ids, max);
        ASSERT_EQ(n, (int)max);
        ASSERT_EQ(ids[0], CLS);
        ASSERT_EQ(ids[n - 1], SEP);
        ASSERT(memcmp(ids + 1, full + 1, (size_t)(n - 2) * sizeof *ids) == 0);
    }
    ASSERT_EQ(rl_tokenizer_encode(t, text, strlen(text), ids, 100), 8);
    rl_tokenizer_free(t);
    return 0;
}

TEST(tokenizer_encode_arguments) {
    char err[RL_ERRBUF_SIZE];
    struct rl_tokenizer *t = rl_tokenizer_load(RL_TEST_MODEL, err);
    if (!t)
        TEST_FAIL_("%s", err);
    int32_t ids[4];
    ASSERT_EQ(rl_tokenizer_encode(t, "a", 1, ids, 1), RL_EINVAL);
    ASSERT_EQ(rl_tokenizer_encode(t, "a", 1, NULL, 4), RL_EINVAL);
    ASSERT_EQ(rl_tokenizer_encode(NULL, "a", 1, ids, 4), RL_EINVAL);
    ASSERT_EQ(rl_tokenizer_encode(t, NULL, 1, ids, 4), RL_EINVAL);
    ASSERT_EQ(rl_tokenizer_encode(t, NULL, 0, ids, 4), 2);
    ASSERT_EQ(ids[0], CLS);
    ASSERT_EQ(ids[1], SEP);
    // Text is bytes[0..len): the NUL-terminated tail is not read.
    ASSERT_EQ(rl_tokenizer_encode(t, "hello world", 5, ids, 4), 3);
    ASSERT_EQ(ids[1], rl_tokenizer_token_id(t, "hello"));

    ASSERT_EQ(rl_tokenizer_n_vocab(t), 30522);
    ASSERT_EQ(rl_tokenizer_token_id(t, "[UNK]"), UNK);
    ASSERT_EQ(rl_tokenizer_token_id(t, "##ffa"), 20961);
    ASSERT_EQ(rl_tokenizer_token_id(t, "no-such-token"), -1);
    ASSERT_STR_EQ(rl_tokenizer_token(t, 0), "[PAD]");
    ASSERT_STR_EQ(rl_tokenizer_token(t, 30521), "##～");
    ASSERT_NULL(rl_tokenizer_token(t, 30522));
    ASSERT_NULL(rl_tokenizer_token(t, -1));
    rl_tokenizer_free(t);
    rl_tokenizer_free(NULL);
    return 0;
}
