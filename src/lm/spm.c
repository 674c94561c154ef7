// SentencePiece-style tokenization as llama.cpp runs it for a "llama" vocabulary (Gemma's):
//
//   1. prefix a space when the vocabulary says so (tokenizer.ggml.add_space_prefix) and write
//      every space as U+2581 ("▁"); nothing else is normalized;
//   2. cut the bytes into symbols of one character each, the length read from the lead byte
//      alone (a stray continuation byte is a symbol of its own, a truncated sequence is cut short);
//   3. repeatedly join the adjacent pair whose concatenation is the token with the highest score
//      (leftmost on ties), any token of the vocabulary counting, until no pair is a token;
//   4. emit each symbol's token, or for a symbol that is no token the <0xNN> token of each byte.
// Steps 3 and 4 are rl__lm_merge (merge.c).
#include <stdlib.h>
#include <string.h>

#include "lm/vocab.h"

static size_t utf8_len(unsigned char lead) {
    static const uint8_t len[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return len[lead >> 4];
}

void rl__lm_spm_encode(const struct rl__lm_vocab *v, const char *s, size_t n,
                       struct rl__lm_ids *out) {
    // Each space grows from 1 to 3 bytes and the prefix adds 3.
    size_t len = 0;
    char *text = malloc(3 * n + 3);
    uint32_t *off = NULL;
    struct rl__lm_merge scratch = {0};
    if (!text) {
        out->failed = true;
        goto done;
    }
    static const char space[3] = {'\xE2', '\x96', '\x81'};
    if (v->add_space_prefix) {
        memcpy(text, space, 3);
        len = 3;
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] == ' ') {
            memcpy(text + len, space, 3);
            len += 3;
        } else {
            text[len++] = s[i];
        }
    }
    off = malloc((len + 1) * sizeof *off); // at most one symbol a byte
    if (!off) {
        out->failed = true;
        goto done;
    }
    size_t n_sym = 0;
    for (size_t at = 0; at < len; n_sym++) {
        off[n_sym] = (uint32_t)at;
        at += utf8_len((unsigned char)text[at]);
    }
    off[n_sym] = (uint32_t)len; // a truncated last sequence is cut short
    rl__lm_merge(v, text, off, n_sym, &scratch, out);
done:
    free(text);
    free(off);
    rl__lm_merge_free(&scratch);
}
