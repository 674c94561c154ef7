// BERT uncased WordPiece tokenizer with the semantics of Hugging Face's BertTokenizer
// (BertNormalizer + BertPreTokenizer + WordPiece). Immutable after load; thread-safe.
#ifndef RL_TOKENIZER_H
#define RL_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "rl/core.h"

RL_API_BEGIN

struct rl_tokenizer;

// Load vocab.txt (and tokenizer settings when present) from a model folder.
// NULL on failure, errbuf says why.
struct rl_tokenizer *rl_tokenizer_load(const char *model_dir, char *errbuf);
void rl_tokenizer_free(struct rl_tokenizer *t); // NULL is a no-op

// Tokenize text[0..len) (any bytes; invalid UTF-8 has defined behaviour) into ids, wrapped in
// [CLS] ... [SEP] and truncated to max_ids (>= 2). Returns the number of ids written, or < 0.
// Invalid UTF-8 reads as U+FFFD, which cleaning drops; added tokens such as "[SEP]" written in
// the text become their ids, as in tokenizers. Never allocates; RL_EINVAL for bad arguments.
long rl_tokenizer_encode(const struct rl_tokenizer *t, const char *text, size_t len, int32_t *ids,
                         size_t max_ids) RL_NODISCARD;

size_t rl_tokenizer_n_vocab(const struct rl_tokenizer *t);

// Id of a vocabulary entry (exact bytes of a NUL-terminated string), or -1.
int32_t rl_tokenizer_token_id(const struct rl_tokenizer *t, const char *token);

// The vocabulary entry of id, or NULL when out of range; valid until rl_tokenizer_free.
const char *rl_tokenizer_token(const struct rl_tokenizer *t, int32_t id);

RL_API_END

#endif
