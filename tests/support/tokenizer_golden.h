// The golden corpora of the tokenizer tests (tools/make_tokenizer_golden.py for the encoder's
// WordPiece against Hugging Face tokenizers, tools/make_lm_tokenizer_golden.py for the LM
// vocabularies against llama-cpp-python): JSON lines, gzip-compressed, one record a line with
// "kind" (the part of the corpus it comes from), the input as "text" (a string) or "hex" (its
// bytes in lowercase hex, for input that is not UTF-8) and the reference "ids". Other fields
// belong to the test that reads them.
#ifndef RL_TEST_TOKENIZER_GOLDEN_H
#define RL_TEST_TOKENIZER_GOLDEN_H

#include <jansson.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>

// What encode returns for a record that lacks a field the test needs.
#define TOKENIZER_GOLDEN_MALFORMED LONG_MIN

struct tokenizer_golden {
    const char *path;      // the corpus
    const char *reference; // what made the ids, for the failure message
    size_t max_ids;        // the most ids a record may hold, and the room encode has in got
    size_t min_records;    // a corpus with fewer records fails
    // Tokenize text[0..len) of record rec into got: how many ids there are in all (only max_ids
    // are compared), a negative status (the record then differs), or TOKENIZER_GOLDEN_MALFORMED.
    long (*encode)(void *ctx, const json_t *rec, const char *text, size_t len, int32_t *got);
    // The text of token id (*len bytes), or NULL; for showing a mismatch.
    const char *(*token)(void *ctx, int32_t id, size_t *len);
    void *ctx;
};

// Check every record of g->path with g->encode. Returns 0, or prints why and returns 1 as a failed
// TEST does: the file unreadable, a record malformed (naming its line), records whose ids differ
// from the reference (the first five shown with their text and the ids around the first
// difference), fewer than g->min_records records, or no more than 100,000 ids in all.
int tokenizer_golden_check(const struct tokenizer_golden *g);

#endif
