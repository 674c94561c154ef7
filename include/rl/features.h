// Prompt features: cheap signals read off a prompt's text (its length, digits and mathematical
// symbols, code, questions, a multiple-choice layout, its script), which routers may use beside
// the sentence embedding. Pure functions of the bytes; thread-safe, no allocation.
#ifndef RL_FEATURES_H
#define RL_FEATURES_H

#include <stddef.h>

#include "rl/core.h"

RL_API_BEGIN

// The feature set's version, recorded in the files of routers trained with it.
#define RL_FEATURES_VERSION "pf1"
#define RL_FEATURES_N       11

// The name of feature i ("log_tokens", ...), or NULL when i is out of range.
const char *rl_features_name(int i);

// The RL_FEATURES_N features of text[0..len) into out (docs/ROUTERS.md lists their
// definitions). Invalid UTF-8 counts as U+FFFD; any byte string has features.
void rl_features(const char *text, size_t len, float out[RL_FEATURES_N]);

// The prompt's length in tokens as BERT's basic tokenizer splits it before WordPiece: runs of
// characters between white space, with each punctuation character and each CJK ideograph a token
// of its own. The `length` router ranks prompts by it.
size_t rl_features_n_tokens(const char *text, size_t len);

RL_API_END

#endif
