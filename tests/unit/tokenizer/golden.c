// The tokenizer against Hugging Face `tokenizers` on the committed golden corpus
// (tests/data/tokenizer/golden.jsonl.gz, made by tools/make_tokenizer_golden.py): every record
// must give exactly the reference ids, each encoded with the id limit of its "max" field.
// Mismatches are reported with the record's kind, line, text and the first differing token.
#include <string.h>

#include "rl/tokenizer.h"
#include "support/tokenizer_golden.h"
#include "test.h"

#define MAX_IDS 16384

static long encode(void *ctx, const json_t *rec, const char *text, size_t len, int32_t *got) {
    json_t *max = json_object_get(rec, "max");
    if (!json_is_integer(max) || json_integer_value(max) < 2 || json_integer_value(max) > MAX_IDS)
        return TOKENIZER_GOLDEN_MALFORMED;
    return rl_tokenizer_encode(ctx, text, len, got, (size_t)json_integer_value(max));
}

static const char *token(void *ctx, int32_t id, size_t *len) {
    const char *tok = rl_tokenizer_token(ctx, id);
    *len = tok ? strlen(tok) : 0;
    return tok;
}

TEST(tokenizer_golden_corpus) {
    char err[RL_ERRBUF_SIZE];
    struct rl_tokenizer *t = rl_tokenizer_load(RL_TEST_MODEL, err);
    if (!t)
        TEST_FAIL_("%s (run `make models`)", err);
    int rc = tokenizer_golden_check(&(struct tokenizer_golden){
        .path = RL_TEST_DATA "/tokenizer/golden.jsonl.gz",
        .reference = "tokenizers",
        .max_ids = MAX_IDS,
        .min_records = 2000,
        .encode = encode,
        .token = token,
        .ctx = t,
    });
    rl_tokenizer_free(t);
    return rc;
}
