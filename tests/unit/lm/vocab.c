// The causal-LM tokenizers (src/lm/vocab.c, bpe.c, spm.c).
//
// Golden: on the committed corpora made by tools/make_lm_tokenizer_golden.py from llama-cpp-python
// (tests/data/lm/tokenizer_<model>.jsonl.gz), every record must give exactly llama.cpp's ids, for
// SmolLM2-135M-Instruct (byte-level BPE) and Gemma 3 270M (SentencePiece-style), both read from
// the GGUF files `make models` fetches.
//
// Small vocabularies written here as GGUF files pin down the rules one at a time: GPT-2's word
// split (digits alone, contractions, "\s+(?!\S)"), merge ranks, llama.cpp's reading of invalid
// UTF-8, SentencePiece scores, byte fallback and the space prefix, user-defined tokens cut out
// first, control tokens left as text, and each malformed or unsupported vocabulary refused.
#include <stdlib.h>

#include "core/core.h"
#include "lm/gguf.h"
#include "lm/vocab.h"
#include "support/gguf_writer.h"
#include "support/tokenizer_golden.h"
#include "test.h"

#ifndef RL_TEST_SMOLLM2
#define RL_TEST_SMOLLM2 "models/SmolLM2-135M-Instruct/SmolLM2-135M-Instruct.Q4_1.gguf"
#endif
#ifndef RL_TEST_GEMMA3
#define RL_TEST_GEMMA3 "models/gemma-3-270m/gemma-3-270m-q4_k_m.gguf"
#endif

#define MAX_IDS 65536

// ----------------------------------------------------------------------------
// Vocabularies written as GGUF files

struct spec {
    const char *model, *pre;   // NULL: key absent
    const char *const *tokens; // (n_tokens)
    size_t n_tokens;
    const int32_t *types;      // (n_tokens) NULL: key absent
    const float *scores;       // (n_tokens) NULL: key absent
    const char *const *merges; // (n_merges) NULL: key absent
    size_t n_merges;
    int add_space_prefix; // 0: absent, 1: false, 2: true
};

static void build(struct rl_buf *b, const struct spec *s) {
    uint64_t n_kv =
        1 + !!s->model + !!s->pre + !!s->types + !!s->scores + !!s->merges + !!s->add_space_prefix;
    rl_buf_init(b, 1 << 24);
    gguf_put(b, "GGUF", 4);
    gguf_put_u32(b, 3);
    gguf_put_u64(b, 0);
    gguf_put_u64(b, n_kv);
    if (s->model) {
        gguf_put_key(b, "tokenizer.ggml.model", RL_GGUF_STRING);
        gguf_put_str(b, s->model);
    }
    if (s->pre) {
        gguf_put_key(b, "tokenizer.ggml.pre", RL_GGUF_STRING);
        gguf_put_str(b, s->pre);
    }
    gguf_put_strings(b, "tokenizer.ggml.tokens", s->tokens, s->n_tokens);
    if (s->types) {
        gguf_put_key(b, "tokenizer.ggml.token_type", RL_GGUF_ARRAY);
        gguf_put_u32(b, RL_GGUF_I32);
        gguf_put_u64(b, s->n_tokens);
        gguf_put(b, s->types, 4 * s->n_tokens);
    }
    if (s->scores) {
        gguf_put_key(b, "tokenizer.ggml.scores", RL_GGUF_ARRAY);
        gguf_put_u32(b, RL_GGUF_F32);
        gguf_put_u64(b, s->n_tokens);
        gguf_put(b, s->scores, 4 * s->n_tokens);
    }
    if (s->merges)
        gguf_put_strings(b, "tokenizer.ggml.merges", s->merges, s->n_merges);
    if (s->add_space_prefix) {
        gguf_put_key(b, "tokenizer.ggml.add_space_prefix", RL_GGUF_BOOL);
        gguf_put(b, s->add_space_prefix == 2 ? "\1" : "\0", 1);
    }
    gguf_put_pad(b, 32);
}

// Load the vocabulary of spec; RL_OK or the loader's status, with its message in err.
static int load(const struct spec *s, struct rl__lm_vocab *v, char *err) {
    struct rl_buf b;
    build(&b, s);
    struct rl_gguf g;
    int rc = rl__gguf_parse((const uint8_t *)b.data, b.len, "t.gguf", &g, err);
    if (rc == RL_OK)
        rc = rl__lm_vocab_load(&g, "t.gguf", v, err);
    rl__gguf_free(&g);
    rl_buf_free(&b);
    return rc;
}

// Tokenize s and compare with want[0..n_want); prints both on a difference.
static bool same_ids(const struct rl__lm_vocab *v, const char *s, size_t len, const int32_t *want,
                     size_t n_want) {
    int32_t got[256];
    int n = rl__lm_tokenize(v, s, len, got, 256);
    if (n == (int)n_want && memcmp(got, want, n_want * sizeof *want) == 0)
        return true;
    fprintf(stderr, "  \"%.*s\": want", (int)len, s);
    for (size_t i = 0; i < n_want; i++)
        fprintf(stderr, " %d", want[i]);
    fprintf(stderr, ", got");
    for (int i = 0; i < n && i < 256; i++)
        fprintf(stderr, " %d", got[i]);
    fprintf(stderr, " (%d)\n", n);
    return false;
}

#define IDS(...) ((const int32_t[]){__VA_ARGS__}), sizeof((const int32_t[]){__VA_ARGS__}) / 4
#define CHECK_IDS(v, s, ...)                                                                       \
    do {                                                                                           \
        if (!same_ids(v, s, strlen(s), IDS(__VA_ARGS__)))                                          \
            TEST_FAIL_("ids of \"%s\" differ", s);                                                 \
    } while (0)

// ----------------------------------------------------------------------------
// Byte-level BPE

// GPT-2's symbol for byte b, as UTF-8 into out (NUL-terminated).
static void gpt2_symbol(int b, char out[3]) {
    int cp = b;
    if (!((b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE)) {
        int k = 0;
        for (int x = 0; x < b; x++)
            k += !((x >= 0x21 && x <= 0x7E) || (x >= 0xA1 && x <= 0xAC) || x >= 0xAE);
        cp = 0x100 + k;
    }
    if (cp < 0x80) {
        out[0] = (char)cp, out[1] = 0;
    } else {
        out[0] = (char)(0xC0 | cp >> 6), out[1] = (char)(0x80 | (cp & 0x3F)), out[2] = 0;
    }
}

// Tokens 0..255 are the byte symbols (so an unmerged byte b is id b), then merged tokens.
enum { T_BC = 256, T_AB, T_ABC, T_SPSP, T_SPA, T_12, T_QS, N_BPE };

static int load_bpe(struct rl__lm_vocab *v, const char *pre, char *err) {
    static char sym[256][3];
    static const char *tokens[N_BPE];
    for (int b = 0; b < 256; b++) {
        gpt2_symbol(b, sym[b]);
        tokens[b] = sym[b];
    }
    tokens[T_BC] = "bc", tokens[T_AB] = "ab", tokens[T_ABC] = "abc";
    tokens[T_SPSP] = "\xc4\xa0\xc4\xa0",
    tokens[T_SPA] = "\xc4\xa0"
                    "a",
    tokens[T_12] = "12";
    tokens[T_QS] = "'s";
    // Ranks: "b c" before "a b", so "abc" is a + bc, then abc.
    static const char *const merges[] = {"b c",        "a b", "a bc", "\xc4\xa0 \xc4\xa0",
                                         "\xc4\xa0 a", "1 2", "' s"};
    struct spec s = {.model = "gpt2",
                     .pre = pre,
                     .tokens = tokens,
                     .n_tokens = N_BPE,
                     .merges = merges,
                     .n_merges = 7};
    return load(&s, v, err);
}

TEST(lm_vocab_bpe_rules) {
    struct rl__lm_vocab v;
    char err[RL_ERRBUF_SIZE] = "";
    if (load_bpe(&v, "smollm", err) != RL_OK)
        TEST_FAIL_("%s", err);
    ASSERT_EQ(v.kind, RL_LM_VOCAB_BPE);
    // Merge ranks: the lowest rank first.
    CHECK_IDS(&v, "abc", T_ABC);
    CHECK_IDS(&v, "ab", T_AB);
    CHECK_IDS(&v, "abd", T_AB, 'd');
    // A run of spaces before a word leaves its last space to the word; at the end it stays whole.
    CHECK_IDS(&v, "  a", ' ', T_SPA);
    CHECK_IDS(&v, "a  ", 'a', T_SPSP);
    CHECK_IDS(&v, "   a", T_SPSP, T_SPA);
    CHECK_IDS(&v, " a", T_SPA);
    // Each digit is a word of its own, and so the space before a number too.
    CHECK_IDS(&v, "12", '1', '2');
    CHECK_IDS(&v, "a 12", 'a', ' ', '1', '2');
    // Contractions are lowercase only; other punctuation runs separately from letters.
    CHECK_IDS(&v, "x's", 'x', T_QS);
    CHECK_IDS(&v, "x'S", 'x', '\'', 'S');
    CHECK_IDS(&v, "ab!ab", T_AB, '!', T_AB);
    // Bytes: UTF-8 as it is; a bad byte is U+FFFD; overlong forms decode to their value, and a
    // value above U+10FFFF is U+FFFD too.
    CHECK_IDS(&v, "\xc3\xa9", 0xC3, 0xA9);
    CHECK_IDS(&v, "\xff", 0xEF, 0xBF, 0xBD);
    CHECK_IDS(&v, "\xe4\xb8", 0xEF, 0xBF, 0xBD, 0xEF, 0xBF, 0xBD);
    if (!same_ids(&v, "\xc0\x80", 2, IDS(0)))
        TEST_FAIL_("an overlong NUL is not the byte 0");
    CHECK_IDS(&v, "\xf4\x90\x80\x80", 0xEF, 0xBF, 0xBD);
    CHECK_IDS(&v, "\xed\xa0\x80", 0xED, 0xA0, 0x80);
    ASSERT_EQ(rl__lm_tokenize(&v, "", 0, NULL, 0), 0);
    rl__lm_vocab_free(&v);

    ASSERT_EQ(load_bpe(&v, "gpt-2", err), RL_EUNSUPPORTED);
    ASSERT_STR_CONTAINS(err, "gpt-2");
    ASSERT_EQ(load_bpe(&v, NULL, err), RL_EUNSUPPORTED);
    return 0;
}

// ----------------------------------------------------------------------------
// SentencePiece-style

enum {
    S_UNK,
    S_BOS,
    S_EOS,
    S_BYTES,
    S_SP = S_BYTES + 256,
    S_A,
    S_B,
    S_C,
    S_AB,
    S_BC,
    S_ABC,
    S_SPA,
    S_UD,
    S_CTL,
    S_SLASH_S,
    N_SPM
};

static int load_spm(struct rl__lm_vocab *v, int add_space_prefix, bool with_bytes, char *err) {
    static char bytes[256][7];
    static const char *tokens[N_SPM];
    static int32_t types[N_SPM];
    static float scores[N_SPM];
    for (int i = 0; i < N_SPM; i++)
        types[i] = RL_LM_TOKEN_NORMAL, scores[i] = -10.0f;
    tokens[S_UNK] = "<unk>", tokens[S_BOS] = "<s>", tokens[S_EOS] = "</s>";
    types[S_UNK] = RL_LM_TOKEN_UNKNOWN, types[S_BOS] = types[S_EOS] = RL_LM_TOKEN_CONTROL;
    for (int b = 0; b < 256; b++) {
        snprintf(bytes[b], sizeof bytes[b], with_bytes ? "<0x%02X>" : "<0y%02X>", b);
        tokens[S_BYTES + b] = bytes[b];
        types[S_BYTES + b] = RL_LM_TOKEN_BYTE;
    }
    tokens[S_SP] = "\xe2\x96\x81", tokens[S_A] = "a", tokens[S_B] = "b", tokens[S_C] = "c";
    tokens[S_AB] = "ab", tokens[S_BC] = "bc", tokens[S_ABC] = "abc";
    tokens[S_SPA] = "\xe2\x96\x81"
                    "a";
    scores[S_AB] = -1.0f, scores[S_BC] = -2.0f, scores[S_ABC] = -3.0f, scores[S_SPA] = -1.0f;
    // A user-defined token, a control token typed user-defined by name (<end_of_turn> is one of
    // llama.cpp's end-of-generation names) and one that is plain control.
    tokens[S_UD] = "<b>", types[S_UD] = RL_LM_TOKEN_USER_DEFINED;
    tokens[S_SLASH_S] = "<end_of_turn>", types[S_SLASH_S] = RL_LM_TOKEN_USER_DEFINED;
    tokens[S_CTL] = "<ctl>", types[S_CTL] = RL_LM_TOKEN_CONTROL;
    struct spec s = {.model = "llama",
                     .tokens = tokens,
                     .n_tokens = N_SPM,
                     .types = types,
                     .scores = scores,
                     .add_space_prefix = add_space_prefix};
    return load(&s, v, err);
}

TEST(lm_vocab_spm_rules) {
    struct rl__lm_vocab v;
    char err[RL_ERRBUF_SIZE] = "";
    if (load_spm(&v, 1, true, err) != RL_OK)
        TEST_FAIL_("%s", err);
    ASSERT_EQ(v.kind, RL_LM_VOCAB_SPM);
    ASSERT(!v.add_space_prefix);
    ASSERT_EQ(v.n_special, 1);
    // The best-scoring pair first: ab (-1) before bc (-2), then ab + c = abc.
    CHECK_IDS(&v, "abc", S_ABC);
    CHECK_IDS(&v, "bca", S_BC, S_A);
    // Spaces are U+2581; what no token covers falls back to bytes.
    CHECK_IDS(&v, " a", S_SPA);
    CHECK_IDS(&v, "a b", S_A, S_SP, S_B);
    CHECK_IDS(&v, "\xc3\xa9", S_BYTES + 0xC3, S_BYTES + 0xA9);
    // A symbol's length is read from its lead byte alone: 0xFF takes the "a" after it.
    CHECK_IDS(&v,
              "\xff"
              "a",
              S_BYTES + 0xFF, S_BYTES + 'a');
    CHECK_IDS(&v,
              "\x80"
              "a",
              S_BYTES + 0x80, S_A);
    // The user-defined token is cut out first; control tokens, and user-defined ones that
    // llama.cpp treats as control by name, are text.
    CHECK_IDS(&v, "a<b>b", S_A, S_UD, S_B);
    CHECK_IDS(&v, "<b><b>", S_UD, S_UD);
    CHECK_IDS(&v, "<s>", S_BYTES + '<', S_BYTES + 's', S_BYTES + '>');
    ASSERT(rl__lm_tokenize(&v, "<ctl>", 5, NULL, 0) == 5);
    ASSERT(rl__lm_tokenize(&v, "<end_of_turn>", 13, NULL, 0) == 13);
    rl__lm_vocab_free(&v);

    // With the space prefix (the default when the key is absent): before the text and again
    // after each user-defined token.
    if (load_spm(&v, 0, true, err) != RL_OK)
        TEST_FAIL_("%s", err);
    ASSERT(v.add_space_prefix);
    CHECK_IDS(&v, "a", S_SPA);
    CHECK_IDS(&v, "a<b>a", S_SPA, S_UD, S_SPA);
    CHECK_IDS(&v, "<b>", S_UD);
    rl__lm_vocab_free(&v);

    ASSERT_EQ(load_spm(&v, 1, false, err), RL_EUNSUPPORTED);
    ASSERT_STR_CONTAINS(err, "byte 0x00");
    return 0;
}

TEST(lm_vocab_refuses_bad_vocabularies) {
    static const char *const two[] = {"a", "b"}, *const dup[] = {"a", "b", "a"};
    static const int32_t types[] = {1, 1};
    static const struct {
        /* input */
        struct spec s;
        /* output */
        int rc;
        const char *msg;
    } cases[] = {
        {{.tokens = two, .n_tokens = 2}, RL_EFORMAT, "tokenizer.ggml.model is missing"},
        {{.model = "bert", .tokens = two, .n_tokens = 2}, RL_EUNSUPPORTED, "\"bert\""},
        {{.model = "gpt2", .pre = "smollm", .tokens = two, .n_tokens = 2},
         RL_EFORMAT,
         "no tokenizer.ggml.merges"},
        {{.model = "gpt2",
          .pre = "smollm",
          .tokens = dup,
          .n_tokens = 3,
          .merges = two,
          .n_merges = 2},
         RL_EFORMAT,
         "tokens 0 and 2 are both \"a\""},
        {{.model = "llama", .tokens = two, .n_tokens = 2, .types = types},
         RL_EUNSUPPORTED,
         "no token for byte"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct rl__lm_vocab v;
        char err[RL_ERRBUF_SIZE] = "";
        ASSERT_EQ(load(&cases[i].s, &v, err), cases[i].rc);
        ASSERT_STR_CONTAINS(err, cases[i].msg);
        ASSERT_STR_CONTAINS(err, "t.gguf");
        ASSERT_EQ(v.n_tokens, 0); // zeroed
    }
    return 0;
}

// ----------------------------------------------------------------------------
// The real models

static int open_vocab(const char *path, struct rl__lm_vocab *v, char *err) {
    struct rl_gguf g;
    int rc = rl__gguf_open(path, &g, err);
    if (rc == RL_OK)
        rc = rl__lm_vocab_load(&g, path, v, err);
    rl__gguf_free(&g); // the vocabulary keeps its own copies
    return rc;
}

static long encode(void *ctx, const json_t *rec, const char *text, size_t len, int32_t *got) {
    (void)rec;
    return rl__lm_tokenize(ctx, text, len, got, MAX_IDS);
}

static const char *token(void *ctx, int32_t id, size_t *len) {
    return rl__lm_vocab_token(ctx, id, len);
}

// Every record of the golden file must give its ids; fails naming the first few that differ.
static int check_golden(const char *model, const char *golden) {
    char err[RL_ERRBUF_SIZE];
    struct rl__lm_vocab v;
    if (open_vocab(model, &v, err) != RL_OK)
        TEST_FAIL_("%s (run `make models`)", err);
    int rc = tokenizer_golden_check(&(struct tokenizer_golden){
        .path = golden,
        .reference = "llama.cpp",
        .max_ids = MAX_IDS,
        .min_records = 2000,
        .encode = encode,
        .token = token,
        .ctx = &v,
    });
    rl__lm_vocab_free(&v);
    return rc;
}

TEST(lm_vocab_golden_smollm2) {
    return check_golden(RL_TEST_SMOLLM2, RL_TEST_DATA "/lm/tokenizer_smollm2.jsonl.gz");
}

TEST(lm_vocab_golden_gemma3) {
    return check_golden(RL_TEST_GEMMA3, RL_TEST_DATA "/lm/tokenizer_gemma3.jsonl.gz");
}

TEST(lm_vocab_smollm2_metadata_and_buffers) {
    char err[RL_ERRBUF_SIZE];
    struct rl__lm_vocab v;
    if (open_vocab(RL_TEST_SMOLLM2, &v, err) != RL_OK)
        TEST_FAIL_("%s (run `make models`)", err);
    ASSERT_EQ(v.kind, RL_LM_VOCAB_BPE);
    ASSERT_EQ(v.n_tokens, 49152);
    ASSERT_EQ(v.n_merges, 48900);
    ASSERT_EQ(v.n_special, 0); // all 17 special tokens are control tokens
    ASSERT_EQ(v.bos_id, 1);
    ASSERT_EQ(v.eos_id, 2);
    ASSERT(!v.add_bos);
    size_t len;
    const char *t = rl__lm_vocab_token(&v, 2, &len);
    ASSERT(t && len == 10 && memcmp(t, "<|im_end|>", 10) == 0);
    ASSERT_EQ(rl__lm_vocab_find(&v, "<|im_end|>", 10), 2);
    ASSERT_NULL(rl__lm_vocab_token(&v, 49152, &len));

    // The count is the whole count whatever the buffer; only cap ids are written.
    const char *text = "Hello, world! How are you?";
    int32_t all[64], some[3] = {-1, -1, -1};
    int n = rl__lm_tokenize(&v, text, strlen(text), all, 64);
    ASSERT(n > 3 && n < 64);
    ASSERT_EQ(rl__lm_tokenize(&v, text, strlen(text), NULL, 0), n);
    ASSERT_EQ(rl__lm_tokenize(&v, text, strlen(text), some, 2), n);
    ASSERT_EQ(some[0], all[0]);
    ASSERT_EQ(some[1], all[1]);
    ASSERT_EQ(some[2], -1);
    ASSERT_EQ(rl__lm_tokenize(&v, text, (size_t)RL_LM_VOCAB_MAX_TEXT + 1, NULL, 0), RL_ETOOBIG);

    // A value above U+10FFFF, where llama.cpp throws, reads as U+FFFD.
    int32_t a[8], b[8];
    int na = rl__lm_tokenize(&v, "x\xf4\x90\x80\x80y", 6, a, 8);
    int nb = rl__lm_tokenize(&v, "x\xef\xbf\xbdy", 5, b, 8);
    ASSERT(na > 0 && na == nb && memcmp(a, b, (size_t)na * sizeof *a) == 0);
    rl__lm_vocab_free(&v);
    return 0;
}

TEST(lm_vocab_gemma3_metadata) {
    char err[RL_ERRBUF_SIZE];
    struct rl__lm_vocab v;
    if (open_vocab(RL_TEST_GEMMA3, &v, err) != RL_OK)
        TEST_FAIL_("%s (run `make models`)", err);
    ASSERT_EQ(v.kind, RL_LM_VOCAB_SPM);
    ASSERT_EQ(v.n_tokens, 262144);
    ASSERT(!v.add_space_prefix);
    ASSERT(v.add_bos);
    ASSERT_EQ(v.bos_id, 2);
    ASSERT_EQ(v.eos_id, 1);
    // 165 user-defined tokens (runs of newlines, spaces and tabs, HTML tags, image markers), less
    // "</s>", which llama.cpp treats as a control token by name.
    ASSERT_EQ(v.n_special, 164);
    size_t len;
    const char *longest = rl__lm_vocab_token(&v, v.special[0], &len);
    ASSERT(longest && len == 31);
    rl__lm_vocab_free(&v);
    return 0;
}
