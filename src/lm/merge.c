// The merge step both vocabularies share, as llama.cpp's BPE and SPM sessions run it: the symbols
// of a text in a linked list, every adjacent pair that may merge in a heap ordered by priority
// (BPE: the lowest merge rank; SPM: the highest score of the joined token) and then by position,
// the best pair joined and its new neighbours pushed, until the heap is empty. A popped pair whose
// symbols changed since it was pushed is stale and skipped: symbols only grow, so unchanged
// lengths mean the pair is still adjacent and current.
#include <stdlib.h>

#include "lm/vocab.h"

struct rl__lm_symbol {
    uint32_t off, len;  // text[off .. off + len); len 0: merged into its left neighbour
    int32_t prev, next; // -1: none
};

struct rl__lm_bigram {
    double priority; // higher first: -rank (BPE) or the joined token's score (SPM), both exact
    int32_t left, right;
    uint32_t size; // the pair's length when pushed
};

// Higher priority first, then leftmost. Two entries can tie on both only when one is stale (the
// same left symbol at another length), and stale entries are skipped, so the order is llama.cpp's.
static bool before(const struct rl__lm_bigram *a, const struct rl__lm_bigram *b) {
    return a->priority > b->priority || (a->priority == b->priority && a->left < b->left);
}

static void heap_push(struct rl__lm_merge *m, struct rl__lm_bigram b, struct rl__lm_ids *out) {
    if (m->heap_n == m->heap_cap) {
        size_t cap = m->heap_cap ? 2 * m->heap_cap : 64;
        struct rl__lm_bigram *p = realloc(m->heap, cap * sizeof *p);
        if (!p) {
            out->failed = true;
            return;
        }
        m->heap = p;
        m->heap_cap = cap;
    }
    struct rl__lm_bigram *h = m->heap;
    size_t i = m->heap_n++;
    while (i > 0 && before(&b, &h[(i - 1) / 2])) {
        h[i] = h[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h[i] = b;
}

static struct rl__lm_bigram heap_pop(struct rl__lm_merge *m) {
    struct rl__lm_bigram *h = m->heap;
    struct rl__lm_bigram top = h[0], last = h[--m->heap_n];
    size_t n = m->heap_n, i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && before(&h[c + 1], &h[c]))
            c++;
        if (!before(&h[c], &last))
            break;
        h[i] = h[c];
        i = c;
    }
    if (n)
        h[i] = last;
    return top;
}

// Push the pair (left, right) when the vocabulary merges it. Symbols are contiguous in the text,
// so a pair's concatenation is one slice of it.
static void add_bigram(const struct rl__lm_vocab *v, const char *text, struct rl__lm_merge *m,
                       int32_t left, int32_t right, struct rl__lm_ids *out) {
    if (left < 0 || right < 0)
        return;
    const struct rl__lm_symbol *a = &m->sym[left], *b = &m->sym[right];
    double priority;
    if (v->kind == RL_LM_VOCAB_BPE) {
        int32_t rank = rl__lm_merge_rank(v, text + a->off, a->len, text + b->off, b->len);
        if (rank < 0)
            return;
        priority = -(double)rank;
    } else {
        int32_t id = rl__lm_vocab_find(v, text + a->off, a->len + b->len);
        if (id < 0)
            return;
        priority = v->score[id];
    }
    heap_push(m, (struct rl__lm_bigram){priority, left, right, a->len + b->len}, out);
}

void rl__lm_merge(const struct rl__lm_vocab *v, const char *text, const uint32_t *off, size_t n_sym,
                  struct rl__lm_merge *m, struct rl__lm_ids *out) {
    if (m->sym_cap < n_sym) {
        struct rl__lm_symbol *p = realloc(m->sym, n_sym * sizeof *p);
        if (!p) {
            out->failed = true;
            return;
        }
        m->sym = p;
        m->sym_cap = n_sym;
    }
    struct rl__lm_symbol *sym = m->sym;
    for (size_t i = 0; i < n_sym; i++)
        sym[i] = (struct rl__lm_symbol){off[i], off[i + 1] - off[i], (int32_t)i - 1,
                                        i + 1 < n_sym ? (int32_t)i + 1 : -1};
    m->heap_n = 0;
    for (size_t i = 1; i < n_sym; i++)
        add_bigram(v, text, m, (int32_t)i - 1, (int32_t)i, out);
    while (m->heap_n && !out->failed) {
        struct rl__lm_bigram b = heap_pop(m);
        struct rl__lm_symbol *l = &sym[b.left], *r = &sym[b.right];
        if (l->len == 0 || r->len == 0 || l->len + r->len != b.size)
            continue;
        l->len += r->len;
        r->len = 0;
        l->next = r->next;
        if (r->next >= 0)
            sym[r->next].prev = b.left;
        add_bigram(v, text, m, l->prev, b.left, out);
        add_bigram(v, text, m, b.left, l->next, out);
    }
    if (out->failed)
        return;
    const int32_t *fallback = v->kind == RL_LM_VOCAB_BPE ? v->raw_id : v->byte_id;
    for (int32_t i = n_sym ? 0 : -1; i >= 0; i = sym[i].next) {
        int32_t id = rl__lm_vocab_find(v, text + sym[i].off, sym[i].len);
        if (id >= 0) {
            rl__lm_ids_push(out, id);
            continue;
        }
        for (uint32_t j = 0; j < sym[i].len; j++) {
            int32_t bid = fallback[(unsigned char)text[sym[i].off + j]];
            if (bid >= 0)
                rl__lm_ids_push(out, bid);
        }
    }
}

void rl__lm_merge_free(struct rl__lm_merge *m) {
    free(m->sym);
    free(m->heap);
    *m = (struct rl__lm_merge){0};
}
