// Internal interface of the WordPiece vocabulary: vocab.txt (one token per line, id = line
// number from 0) held in one buffer and indexed by an open-addressing hash table.
// Immutable after rl__vocab_load; lookups are thread-safe and never allocate.
#ifndef RL_SRC_TOKENIZER_VOCAB_H
#define RL_SRC_TOKENIZER_VOCAB_H

#include <stddef.h>
#include <stdint.h>

#include "rl/core.h"

// Limits on vocab.txt, chosen far above real BERT vocabularies (30k-250k tokens of < 30 bytes).
#define RL_VOCAB_MAX_FILE   (64u << 20) // bytes
#define RL_VOCAB_MAX_TOKENS (1u << 22)
#define RL_VOCAB_MAX_TOKEN  256 // bytes in one token

struct rl__vocab_slot {
    uint32_t hash;
    int32_t id; // -1: empty
};

struct rl__vocab {
    char *text;                   // the file, each '\n' replaced by NUL: tokens are C strings
    uint32_t *offset;             // (n) start of token id in text
    uint16_t *len;                // (n) bytes in token id
    size_t n;                     // tokens
    size_t max_len;               // longest token, in bytes
    struct rl__vocab_slot *slots; // (mask + 1) hash table
    uint32_t mask;
};

// Read and index path. Rejects a missing or oversized file, an empty or over-long line, invalid
// UTF-8 and duplicate tokens, naming the file and line in errbuf. *v is zeroed on failure.
int rl__vocab_load(struct rl__vocab *v, const char *path, char *errbuf) RL_NODISCARD;
void rl__vocab_free(struct rl__vocab *v); // safe on a zeroed struct

// Id of the token prefix[0..np) followed by s[0..ns) (prefix may be empty), or -1.
int32_t rl__vocab_find(const struct rl__vocab *v, const char *prefix, size_t np, const char *s,
                       size_t ns);

#endif
