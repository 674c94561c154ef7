// Internal interface: UTF-8 decoding with defined behaviour for invalid bytes, and the character
// classes that BERT normalization and pre-tokenization use. Pure functions; thread-safe.
#ifndef RL_SRC_TOKENIZER_UNICODE_H
#define RL_SRC_TOKENIZER_UNICODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RL_UNI_REPLACEMENT 0xFFFD

// Decode the code point at s[0..n) (n >= 1) into *cp and return the bytes consumed (1..4).
// Invalid input decodes to U+FFFD and consumes the maximal subpart of an ill-formed sequence
// (Unicode §3.9, as Python's errors="replace"): never a byte that could start a new character.
size_t rl__utf8_decode(const unsigned char *s, size_t n, int32_t *cp);

// Encode cp (a scalar value) into out[0..4); returns the bytes written.
size_t rl__utf8_encode(int32_t cp, char *out);

bool rl__uni_is_whitespace(int32_t cp);      // White_Space, as Rust's char::is_whitespace
bool rl__uni_is_control(int32_t cp);         // dropped by BERT cleaning: Cc, Cf, Co (not \t\n\r)
bool rl__uni_is_chinese(int32_t cp);         // the CJK ideograph blocks BERT puts spaces around
bool rl__uni_is_punctuation(int32_t cp);     // ASCII punctuation or general category P*
bool rl__uni_is_nonspacing_mark(int32_t cp); // general category Mn
int rl__uni_combining_class(int32_t cp);     // canonical combining class (0 for starters)

// Canonical decomposition (NFD of a single code point, unordered) into out[0..cap); returns the
// number of code points (at most RL_UNI_MAX_DECOMP).
#define RL_UNI_MAX_DECOMP 8
size_t rl__uni_decompose(int32_t cp, int32_t out[RL_UNI_MAX_DECOMP]);

// Full lowercase mapping into out[0..2); returns the number of code points (1 or 2).
size_t rl__uni_lower(int32_t cp, int32_t out[2]);

// The Unicode version of libutf8proc that unicode_tables.h was generated against.
const char *rl__uni_tables_version(void);

#endif
