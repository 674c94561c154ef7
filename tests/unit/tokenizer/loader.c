// Tokenizer loading from small model folders written by the test: the settings files change
// behaviour as tokenizers would, and every broken folder is refused with a message that names
// the file and the problem.
#include <stdlib.h>
#include <unistd.h>

#include "core/core.h"
#include "rl/tokenizer.h"
#include "test.h"

// A small cased vocabulary: ids are line numbers.
static const char *const small_vocab = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n"
                                       "Hello\nhello\n##s\ncafé\ncafe\n##ll\n##o\nhe\n!\n";

struct folder {
    char dir[64];
};

static int folder_make(struct folder *f) {
    snprintf(f->dir, sizeof f->dir, "/tmp/rl_tok_XXXXXX");
    return mkdtemp(f->dir) ? 0 : -1;
}

static void folder_put(struct folder *f, const char *name, const char *text, size_t len) {
    char path[128];
    snprintf(path, sizeof path, "%s/%s", f->dir, name);
    if (!text) {
        unlink(path);
        return;
    }
    FILE *fp = fopen(path, "wb");
    if (fp) {
        fwrite(text, 1, len ? len : strlen(text), fp);
        fclose(fp);
    }
}

static void folder_remove(struct folder *f) {
    static const char *const names[] = {"vocab.txt", "tokenizer.json", "tokenizer_config.json"};
    for (size_t i = 0; i < RL_COUNTOF(names); i++)
        folder_put(f, names[i], NULL, 0);
    rmdir(f->dir);
}

// Tokenize text with the folder's tokenizer and write the tokens, space-separated, into out.
static int tokens_of(const char *dir, const char *text, char *out, size_t size) {
    char err[RL_ERRBUF_SIZE];
    struct rl_tokenizer *t = rl_tokenizer_load(dir, err);
    if (!t) {
        snprintf(out, size, "load failed: %s", err);
        return -1;
    }
    int32_t ids[64];
    int n = rl_tokenizer_encode(t, text, strlen(text), ids, RL_COUNTOF(ids));
    size_t len = 0;
    out[0] = '\0';
    for (int i = 0; i < n && len < size; i++)
        len += (size_t)snprintf(out + len, size - len, "%s%s", i ? " " : "",
                                rl_tokenizer_token(t, ids[i]));
    rl_tokenizer_free(t);
    return n;
}

// tokenizer.json for the small vocabulary with the given normalizer and model members.
static void put_tokenizer_json(struct folder *f, const char *normalizer, const char *model_extra) {
    char json[2048];
    snprintf(json, sizeof json,
             "{\"added_tokens\": [{\"id\": 4, \"content\": \"[MASK]\", \"single_word\": false,"
             " \"lstrip\": false, \"rstrip\": false, \"normalized\": false, \"special\": true}],"
             " \"normalizer\": %s, \"pre_tokenizer\": {\"type\": \"BertPreTokenizer\"},"
             " \"post_processor\": {\"type\": \"BertProcessing\", \"sep\": [\"[SEP]\", 3],"
             " \"cls\": [\"[CLS]\", 2]},"
             " \"model\": {\"type\": \"WordPiece\", \"unk_token\": \"[UNK]\"%s}}",
             normalizer, model_extra);
    folder_put(f, "tokenizer.json", json, 0);
}

TEST(tokenizer_load_settings) {
    struct folder f;
    ASSERT_EQ(folder_make(&f), 0);
    folder_put(&f, "vocab.txt", small_vocab, 0);
    char got[512];

    // vocab.txt alone: uncased BERT defaults, and the special tokens match in the text.
    tokens_of(f.dir, "Hello hellos [MASK]", got, sizeof got);
    ASSERT_STR_EQ(got, "[CLS] hello hello ##s [MASK] [SEP]");

    // tokenizer_config.json: cased, and strip_accents (null) follows do_lower_case.
    folder_put(&f, "tokenizer_config.json",
               "{\"do_lower_case\": false, \"strip_accents\": null, \"unk_token\": "
               "{\"content\": \"[UNK]\"}}",
               0);
    tokens_of(f.dir, "Hello café hello!", got, sizeof got);
    ASSERT_STR_EQ(got, "[CLS] Hello café hello ! [SEP]");

    // tokenizer.json wins over tokenizer_config.json; an explicit strip_accents applies even
    // without lowercasing.
    put_tokenizer_json(&f,
                       "{\"type\": \"BertNormalizer\", \"clean_text\": true, \"lowercase\": false, "
                       "\"handle_chinese_chars\": true, \"strip_accents\": true}",
                       "");
    tokens_of(f.dir, "Hello café", got, sizeof got);
    ASSERT_STR_EQ(got, "[CLS] Hello cafe [SEP]");

    // max_input_chars_per_word and continuing_subword_prefix come from the model.
    put_tokenizer_json(&f, "{\"type\": \"BertNormalizer\", \"lowercase\": true}",
                       ", \"max_input_chars_per_word\": 5, \"continuing_subword_prefix\": \"##\"");
    tokens_of(f.dir, "hello hellos", got, sizeof got);
    ASSERT_STR_EQ(got, "[CLS] hello [UNK] [SEP]");

    // No normalizer at all: nothing is lowercased or cleaned.
    put_tokenizer_json(&f, "null", "");
    tokens_of(f.dir, "Hello\x01", got, sizeof got);
    ASSERT_STR_EQ(got, "[CLS] [UNK] [SEP]");
    folder_remove(&f);
    return 0;
}

struct bad_case {
    const char *vocab;        // vocab.txt contents (NULL: no file)
    size_t vocab_len;         // 0: strlen
    const char *json;         // tokenizer.json contents (NULL: no file)
    const char *want_file;    // in errbuf: the file
    const char *want_problem; // in errbuf: the problem
};

static const struct bad_case bad_cases[] = {
    {NULL, 0, NULL, "vocab.txt", "missing"},
    {"", 0, NULL, "vocab.txt", "empty vocabulary"},
    {"[UNK]\n\n[CLS]\n[SEP]\n", 0, NULL, "vocab.txt", "line 2: empty token"},
    {"[UNK]\n[CLS]\n[SEP]\n[UNK]\n", 0, NULL, "vocab.txt", "line 4: duplicate token \"[UNK]\""},
    {"[UNK]\n[CLS]\n[SEP]\nbad\xff\n", 0, NULL, "vocab.txt", "line 4: token is not valid UTF-8"},
    {"[UNK]\n[CLS]\n[SEP]\na\0b\n", 22, NULL, "vocab.txt", "line 4: token contains NUL"},
    {"[CLS]\n[SEP]\nhello\n", 0, NULL, "vocab.txt", "no unknown token \"[UNK]\""},
    {"[UNK]\n[SEP]\nhello\n", 0, NULL, "vocab.txt", "no classifier token \"[CLS]\""},
    {"[UNK]\n[CLS]\nhello\n", 0, NULL, "vocab.txt", "no separator token \"[SEP]\""},
    {"[UNK]\n[CLS]\n[SEP]\n", 0, "{\"model\": ", "tokenizer.json:1:", "invalid JSON"},
    {"[UNK]\n[CLS]\n[SEP]\n", 0, "[1, 2]", "tokenizer.json", "expected a JSON object"},
    {"[UNK]\n[CLS]\n[SEP]\n", 0,
     "{\"normalizer\": {\"type\": \"NFKC\"}, \"pre_tokenizer\": {\"type\": \"BertPreTokenizer\"}}",
     "tokenizer.json", "normalizer: type NFKC, expected BertNormalizer"},
    {"[UNK]\n[CLS]\n[SEP]\n", 0,
     "{\"normalizer\": {\"type\": \"BertNormalizer\", \"lowercase\": 1}}", "tokenizer.json",
     "normalizer.lowercase: expected true or false"},
    {"[UNK]\n[CLS]\n[SEP]\n", 0,
     "{\"normalizer\": null, \"pre_tokenizer\": {\"type\": \"Whitespace\"}}", "tokenizer.json",
     "pre_tokenizer: type Whitespace, expected BertPreTokenizer"},
    {"[UNK]\n[CLS]\n[SEP]\n", 0,
     "{\"normalizer\": null, \"pre_tokenizer\": {\"type\": \"BertPreTokenizer\"}, \"model\": "
     "{\"type\": \"BPE\"}}",
     "tokenizer.json", "model: type BPE, expected WordPiece"},
    {"[UNK]\n[CLS]\n[SEP]\n", 0,
     "{\"normalizer\": null, \"pre_tokenizer\": {\"type\": \"BertPreTokenizer\"}, \"model\": "
     "{\"type\": \"WordPiece\", \"max_input_chars_per_word\": 100000}}",
     "tokenizer.json", "max_input_chars_per_word"},
    {"[UNK]\n[CLS]\n[SEP]\n", 0,
     "{\"normalizer\": null, \"pre_tokenizer\": {\"type\": \"BertPreTokenizer\"}, \"model\": "
     "{\"type\": \"WordPiece\", \"vocab\": {\"[UNK]\": 0, \"[CLS]\": 2, \"[SEP]\": 1}}}",
     "tokenizer.json", "model.vocab[\"[CLS]\"] disagrees with vocab.txt"},
    {"[UNK]\n[CLS]\n[SEP]\n", 0,
     "{\"normalizer\": null, \"pre_tokenizer\": {\"type\": \"BertPreTokenizer\"}, \"model\": "
     "{\"type\": \"WordPiece\", \"vocab\": {\"[UNK]\": 0}}}",
     "tokenizer.json", "model.vocab has 1 tokens, vocab.txt has 3"},
    {"[UNK]\n[CLS]\n[SEP]\n", 0,
     "{\"normalizer\": null, \"pre_tokenizer\": {\"type\": \"BertPreTokenizer\"}, \"model\": "
     "{\"type\": \"WordPiece\"}, \"post_processor\": null}",
     "tokenizer.json", "post_processor: type (none)"},
    {"[UNK]\n[CLS]\n[SEP]\n", 0,
     "{\"normalizer\": null, \"pre_tokenizer\": {\"type\": \"BertPreTokenizer\"}, \"model\": "
     "{\"type\": \"WordPiece\"}, \"post_processor\": {\"type\": \"BertProcessing\", \"sep\": "
     "[\"[SEP]\", 2], \"cls\": [\"[CLS]\", 7]}}",
     "tokenizer.json", "classifier token \"[CLS]\" has an id outside the vocabulary of 3"},
    {"[UNK]\n[CLS]\n[SEP]\n", 0,
     "{\"normalizer\": null, \"pre_tokenizer\": {\"type\": \"BertPreTokenizer\"}, \"model\": "
     "{\"type\": \"WordPiece\"}, \"post_processor\": {\"type\": \"BertProcessing\", \"sep\": "
     "[\"[SEP]\", 2], \"cls\": [\"[CLS]\", 1]}, \"added_tokens\": [{\"id\": 9, \"content\": "
     "\"x\"}]}",
     "tokenizer.json", "added_tokens[0]: id 9 outside the vocabulary of 3"},
    {"[UNK]\n[CLS]\n[SEP]\n", 0,
     "{\"normalizer\": null, \"pre_tokenizer\": {\"type\": \"BertPreTokenizer\"}, \"model\": "
     "{\"type\": \"WordPiece\"}, \"post_processor\": {\"type\": \"BertProcessing\", \"sep\": "
     "[\"[SEP]\", 2], \"cls\": [\"[CLS]\", 1]}, \"added_tokens\": [{\"id\": 1, \"content\": "
     "\"[CLS]\", \"lstrip\": true}]}",
     "tokenizer.json", "added_tokens[0].lstrip: only false is supported"},
};

TEST(tokenizer_load_errors) {
    struct folder f;
    ASSERT_EQ(folder_make(&f), 0);
    int failed = 0;
    for (size_t i = 0; i < RL_COUNTOF(bad_cases); i++) {
        const struct bad_case *c = &bad_cases[i];
        folder_put(&f, "vocab.txt", c->vocab, c->vocab_len);
        folder_put(&f, "tokenizer.json", c->json, 0);
        char err[RL_ERRBUF_SIZE] = "";
        struct rl_tokenizer *t = rl_tokenizer_load(f.dir, err);
        if (t || !strstr(err, c->want_file) || !strstr(err, c->want_problem) ||
            !strstr(err, f.dir)) {
            fprintf(stderr, "  case %zu: want \"%s\" and \"%s\" in \"%s\"%s\n", i, c->want_file,
                    c->want_problem, err, t ? " (loaded)" : "");
            failed++;
        }
        rl_tokenizer_free(t);
    }
    folder_remove(&f);
    ASSERT_EQ(failed, 0);
    return 0;
}

TEST(tokenizer_load_long_line) {
    struct folder f;
    ASSERT_EQ(folder_make(&f), 0);
    char vocab[600] = "[UNK]\n[CLS]\n[SEP]\n";
    size_t n = strlen(vocab);
    memset(vocab + n, 'x', 300);
    vocab[n + 300] = '\n';
    folder_put(&f, "vocab.txt", vocab, n + 301);
    char err[RL_ERRBUF_SIZE];
    struct rl_tokenizer *t = rl_tokenizer_load(f.dir, err);
    folder_remove(&f);
    ASSERT_NULL(t);
    ASSERT_STR_CONTAINS(err, "vocab.txt: line 4: token of 300 bytes, at most 256");
    return 0;
}

// The real model's files: a CRLF copy of vocab.txt loads to the same tokenizer.
TEST(tokenizer_load_crlf_vocab) {
    char err[RL_ERRBUF_SIZE];
    char *data;
    size_t len;
    ASSERT_OK(rl_file_read(RL_TEST_MODEL "/vocab.txt", 1u << 24, &data, &len, err));
    struct rl_buf b;
    rl_buf_init(&b, 1u << 24);
    int rc = RL_OK;
    for (size_t i = 0; i < len && rc == RL_OK; i++)
        rc = data[i] == '\n' ? rl_buf_append(&b, "\r\n", 2) : rl_buf_append(&b, data + i, 1);
    free(data);
    ASSERT_OK(rc);
    struct folder f;
    ASSERT_EQ(folder_make(&f), 0);
    folder_put(&f, "vocab.txt", b.data, b.len);
    rl_buf_free(&b);
    char got[256];
    tokens_of(f.dir, "Unaffable, naïve!", got, sizeof got);
    folder_remove(&f);
    ASSERT_STR_EQ(got, "[CLS] una ##ffa ##ble , naive ! [SEP]");
    return 0;
}
