// SentencePiece-style tokenization as llama.cpp runs it for a "llama" vocabulary (Gemma's):
//
//   1. prefix a space when the vocabulary says so (tokenizer.ggml.add_space_prefix) and write
//      every space as U+2581 ("▁"); nothing else is normalized;
//   2. cut the bytes into symbols of one character each, the length read from the lead byte
//      alone (a stray continuation byte is a symbol of its own, a truncated sequence is cut short);
//   3. repeatedly join the adjacent pair whose concatenation is the token with the highest score
//      (leftmost on ties), any token of the vocabulary counting, until no pair is a token;
//   4. emit each symbol's token, or for a symbol that is no token the <0xNN> token of each byte.
#include <stdlib.h>
#include <string.h>

#include "lm/vocab.h"

struct symbol {
    uint32_t off, len;
    int32_t prev, next;
};

struct bigram {
    float score;
    int32_t left, right;
    uint32_t size;
};

struct heap {
    struct bigram *p;
    size_t n, cap;
    bool failed;
};

// Highest score first, then leftmost. Two entries can tie on both only when one is stale (the
// same left symbol at another length), and stale entries are skipped, so the order is llama.cpp's.
static bool before(const struct bigram *a, const struct bigram *b) {
    return a->score > b->score || (a->score == b->score && a->left < b->left);
}

static void heap_push(struct heap *h, struct bigram b) {
    if (h->n == h->cap) {
        size_t cap = h->cap ? 2 * h->cap : 64;
        struct bigram *p = realloc(h->p, cap * sizeof *p);
        if (!p) {
            h->failed = true;
            return;
        }
        h->p = p;
        h->cap = cap;
    }
    size_t i = h->n++;
    while (i > 0 && before(&b, &h->p[(i - 1) / 2])) {
        h->p[i] = h->p[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h->p[i] = b;
}

static struct bigram heap_pop(struct heap *h) {
    struct bigram top = h->p[0], last = h->p[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n)
            break;
        if (c + 1 < h->n && before(&h->p[c + 1], &h->p[c]))
            c++;
        if (!before(&h->p[c], &last))
            break;
        h->p[i] = h->p[c];
        i = c;
    }
    if (h->n)
        h->p[i] = last;
    return top;
}

// Symbols are contiguous in the text, so a pair's concatenation is one slice of it.
static void add_bigram(const struct rl__lm_vocab *v, const char *text, const struct symbol *sym,
                       int32_t left, int32_t right, struct heap *h) {
    if (left < 0 || right < 0)
        return;
    uint32_t size = sym[left].len + sym[right].len;
    int32_t id = rl__lm_vocab_find(v, text + sym[left].off, size);
    if (id >= 0)
        heap_push(h, (struct bigram){v->score[id], left, right, size});
}

static size_t utf8_len(unsigned char lead) {
    static const uint8_t len[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return len[lead >> 4];
}

void rl__lm_spm_encode(const struct rl__lm_vocab *v, const char *s, size_t n,
                       struct rl__lm_ids *out) {
    // Each space grows from 1 to 3 bytes and the prefix adds 3.
    size_t len = 0;
    char *text = malloc(3 * n + 3);
    struct symbol *sym = NULL;
    struct heap h = {0};
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
    size_t count = 0;
    for (size_t at = 0; at < len; count++)
        at += utf8_len((unsigned char)text[at]);
    sym = malloc(count * sizeof *sym);
    if (!sym) {
        out->failed = true;
        goto done;
    }
    int32_t n_sym = 0;
    for (size_t at = 0; at < len; n_sym++) {
        size_t m = utf8_len((unsigned char)text[at]);
        if (m > len - at)
            m = len - at;
        sym[n_sym] = (struct symbol){(uint32_t)at, (uint32_t)m, n_sym - 1, -1};
        if (n_sym > 0)
            sym[n_sym - 1].next = n_sym;
        at += m;
    }
    for (int32_t i = 1; i < n_sym; i++)
        add_bigram(v, text, sym, i - 1, i, &h);
    while (h.n && !h.failed) {
        struct bigram b = heap_pop(&h);
        struct symbol *l = &sym[b.left], *r = &sym[b.right];
        if (l->len == 0 || r->len == 0 || l->len + r->len != b.size)
            continue;
        l->len += r->len;
        r->len = 0;
        l->next = r->next;
        if (r->next >= 0)
            sym[r->next].prev = b.left;
        add_bigram(v, text, sym, l->prev, b.left, &h);
        add_bigram(v, text, sym, b.left, l->next, &h);
    }
    if (h.failed) {
        out->failed = true;
        goto done;
    }
    for (int32_t i = n_sym ? 0 : -1; i >= 0; i = sym[i].next) {
        int32_t id = rl__lm_vocab_find(v, text + sym[i].off, sym[i].len);
        if (id >= 0) {
            rl__lm_ids_push(out, id);
            continue;
        }
        for (uint32_t j = 0; j < sym[i].len; j++)
            rl__lm_ids_push(out, v->byte_id[(unsigned char)text[sym[i].off + j]]);
    }
done:
    free(text);
    free(sym);
    free(h.p);
}
