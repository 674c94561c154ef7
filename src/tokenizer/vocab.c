// vocab.txt reader and token -> id hash table. The table stores each token's hash next to its id
// so that a probe compares bytes only on a full hash match; keys are hashed in two parts so that
// WordPiece can look up "##" + piece without building the string.
// It does not interpret tokens (special tokens are resolved by wordpiece.c).
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "tokenizer/unicode.h"
#include "tokenizer/vocab.h"

// ----------------------------------------------------------------------------
// Hashing: 32-bit FNV-1a, fed in pieces. Tokens are short, so a byte-at-a-time hash costs less
// than setting up a block hash. This is the one place that does not use core's 64-bit
// rl__fnv1a: a slot keeps a 32-bit hash (8 bytes a slot), and the lookup, the tokenizer's
// innermost loop, keeps its hash inline.

#define FNV_OFFSET 2166136261u
#define FNV_PRIME  16777619u

static uint32_t hash_feed(uint32_t h, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= FNV_PRIME;
    }
    return h;
}

// ----------------------------------------------------------------------------
// Lookup

static bool slot_matches(const struct rl__vocab *v, int32_t id, const char *prefix, size_t np,
                         const char *s, size_t ns) {
    const char *tok = v->text + v->offset[id];
    return v->len[id] == np + ns && memcmp(tok, prefix, np) == 0 && memcmp(tok + np, s, ns) == 0;
}

int32_t rl__vocab_find(const struct rl__vocab *v, const char *prefix, size_t np, const char *s,
                       size_t ns) {
    if (np + ns > v->max_len)
        return -1;
    uint32_t h = hash_feed(hash_feed(FNV_OFFSET, prefix, np), s, ns);
    for (uint32_t i = h & v->mask;; i = (i + 1) & v->mask) {
        const struct rl__vocab_slot *slot = &v->slots[i];
        if (slot->id < 0)
            return -1;
        if (slot->hash == h && slot_matches(v, slot->id, prefix, np, s, ns))
            return slot->id;
    }
}

// ----------------------------------------------------------------------------
// Loading

static bool utf8_valid(const char *s, size_t n) {
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        int32_t cp;
        size_t k = rl__utf8_decode(p + i, n - i, &cp);
        // U+FFFD is what invalid bytes decode to, unless it is spelled out.
        if (cp == RL_UNI_REPLACEMENT && !(k == 3 && memcmp(p + i, "\xef\xbf\xbd", 3) == 0))
            return false;
        i += k;
    }
    return true;
}

// Split text into lines in place, recording each token's offset and length.
static int split_lines(struct rl__vocab *v, size_t len, const char *path, char *errbuf) {
    size_t n_lines = 0;
    for (size_t i = 0; i < len; i++)
        n_lines += v->text[i] == '\n';
    if (len > 0 && v->text[len - 1] != '\n')
        n_lines++;
    if (n_lines == 0)
        return rl__errf(errbuf, RL_EFORMAT, "%s: empty vocabulary", path);
    if (n_lines > RL_VOCAB_MAX_TOKENS)
        return rl__errf(errbuf, RL_ETOOBIG, "%s: %zu tokens, at most %u supported", path, n_lines,
                        RL_VOCAB_MAX_TOKENS);
    v->offset = malloc(n_lines * sizeof *v->offset);
    v->len = malloc(n_lines * sizeof *v->len);
    if (!v->offset || !v->len)
        return rl__errf(errbuf, RL_ENOMEM, "%s: out of memory", path);
    size_t start = 0;
    for (size_t id = 0; id < n_lines; id++) {
        char *nl = memchr(v->text + start, '\n', len - start);
        size_t end = nl ? (size_t)(nl - v->text) : len;
        size_t n = end - start;
        // Files written on Windows end lines with CRLF; the CR is not part of the token.
        if (n > 0 && v->text[start + n - 1] == '\r')
            n--;
        v->text[start + n] = '\0';
        if (n == 0)
            return rl__errf(errbuf, RL_EFORMAT, "%s: line %zu: empty token", path, id + 1);
        if (n > RL_VOCAB_MAX_TOKEN)
            return rl__errf(errbuf, RL_ETOOBIG, "%s: line %zu: token of %zu bytes, at most %d",
                            path, id + 1, n, RL_VOCAB_MAX_TOKEN);
        if (memchr(v->text + start, '\0', n))
            return rl__errf(errbuf, RL_EFORMAT, "%s: line %zu: token contains NUL", path, id + 1);
        if (!utf8_valid(v->text + start, n))
            return rl__errf(errbuf, RL_EFORMAT, "%s: line %zu: token is not valid UTF-8", path,
                            id + 1);
        v->offset[id] = (uint32_t)start;
        v->len[id] = (uint16_t)n;
        if (n > v->max_len)
            v->max_len = n;
        start = end + 1;
    }
    v->n = n_lines;
    return RL_OK;
}

static int build_table(struct rl__vocab *v, const char *path, char *errbuf) {
    size_t cap = 16;
    while (cap < 2 * v->n)
        cap *= 2;
    v->slots = malloc(cap * sizeof *v->slots);
    if (!v->slots)
        return rl__errf(errbuf, RL_ENOMEM, "%s: out of memory", path);
    for (size_t i = 0; i < cap; i++)
        v->slots[i].id = -1;
    v->mask = (uint32_t)(cap - 1);
    for (size_t id = 0; id < v->n; id++) {
        const char *tok = v->text + v->offset[id];
        int32_t dup = rl__vocab_find(v, "", 0, tok, v->len[id]);
        if (dup >= 0)
            return rl__errf(errbuf, RL_EFORMAT,
                            "%s: line %zu: duplicate token \"%s\" (first on line %d)", path, id + 1,
                            tok, dup + 1);
        uint32_t h = hash_feed(FNV_OFFSET, tok, v->len[id]);
        uint32_t i = h & v->mask;
        while (v->slots[i].id >= 0)
            i = (i + 1) & v->mask;
        v->slots[i].hash = h;
        v->slots[i].id = (int32_t)id;
    }
    return RL_OK;
}

int rl__vocab_load(struct rl__vocab *v, const char *path, char *errbuf) {
    memset(v, 0, sizeof *v);
    size_t len;
    int rc = rl_file_read(path, RL_VOCAB_MAX_FILE, &v->text, &len, errbuf);
    if (rc < 0)
        return rc;
    rc = split_lines(v, len, path, errbuf);
    if (rc < 0)
        goto fail;
    rc = build_table(v, path, errbuf);
    if (rc < 0)
        goto fail;
    return RL_OK;
fail:
    rl__vocab_free(v);
    return rc;
}

void rl__vocab_free(struct rl__vocab *v) {
    free(v->text);
    free(v->offset);
    free(v->len);
    free(v->slots);
    memset(v, 0, sizeof *v);
}
