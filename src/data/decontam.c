// Textual decontamination (rl/texts.h): the check the embeddings miss, a training question that
// an evaluation prompt quotes verbatim before adding its answer choices. The embedding check,
// cosine >= RL_DECONTAM_COSINE, is core's similarity kernel (rl__max_cosine).
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "rl/battle.h"
#include "rl/texts.h"

// ----------------------------------------------------------------------------
// Prefix matches

static char *normalise(const char *s) {
    size_t n = strlen(s);
    char *out = malloc(n + 1), *o = out;
    if (!out)
        return NULL;
    bool space = false;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (isspace(c)) {
            space = o != out;
            continue;
        }
        if (space)
            *o++ = ' ';
        space = false;
        *o++ = (char)tolower(c);
    }
    *o = '\0';
    return out;
}

static void free_all(char **s, size_t n) {
    for (size_t j = 0; s && j < n; j++)
        free(s[j]);
    free(s);
}

// The normalised copies of n strings (calloc'd array; free with free_all), or NULL when out of
// memory.
static char **normalise_all(const char *const *s, size_t n) {
    char **out = calloc(n ? n : 1, sizeof *out);
    for (size_t j = 0; out && j < n; j++) {
        out[j] = normalise(s[j]);
        if (!out[j]) {
            free_all(out, j);
            return NULL;
        }
    }
    return out;
}

static int cmp_str(const void *x, const void *y) {
    return strcmp(*(char *const *)x, *(char *const *)y);
}

// Sorted, the strings that start with a given text follow the first one not smaller than it,
// so one binary search per training text finds a match if there is one.
long rl_texts_prefix_match(const char *const *a, size_t n_a, const char *const *b, size_t n_b,
                           size_t min_len, bool *hit) {
    char **sb = normalise_all(b, n_b);
    long rc = 0;
    if (!sb)
        return RL_ENOMEM;
    if (n_b > 1)
        qsort(sb, n_b, sizeof *sb, cmp_str);
    for (size_t i = 0; i < n_a; i++) {
        hit[i] = false;
        char *t = normalise(a[i]);
        if (!t) {
            rc = RL_ENOMEM;
            goto done;
        }
        size_t len = strlen(t), lo = 0, hi = n_b;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (strcmp(sb[mid], t) < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        hit[i] = len >= min_len && lo < n_b && strncmp(sb[lo], t, len) == 0;
        rc += hit[i];
        free(t);
    }
done:
    free_all(sb, n_b);
    return rc;
}

// One pass per text probes a table of the normalised b strings at each prefix length >= min_len:
// FNV-1a fed one byte at a time yields the hash of every prefix, and rl__mix64 spreads the bits
// used as the slot (the table key of a whole string is rl__hash64).
long rl_texts_quote_match(const char *const *a, size_t n_a, const char *const *b, size_t n_b,
                          size_t min_len, bool *hit) {
    size_t cap = 16;
    while (cap < 2 * n_b)
        cap *= 2;
    char **sb = normalise_all(b, n_b);
    uint32_t *slot = calloc(cap, sizeof *slot); // index + 1, 0 = empty
    uint64_t *hash = calloc(cap, sizeof *hash);
    long rc = 0;
    if (!sb || !slot || !hash) {
        rc = RL_ENOMEM;
        goto done;
    }
    for (size_t j = 0; j < n_b; j++) {
        size_t len = strlen(sb[j]);
        if (len < min_len)
            continue;
        uint64_t h = rl__hash64(sb[j], len);
        size_t k = h & (cap - 1);
        while (slot[k])
            k = (k + 1) & (cap - 1);
        slot[k] = (uint32_t)j + 1;
        hash[k] = h;
    }
    for (size_t i = 0; i < n_a; i++) {
        hit[i] = false;
        char *t = normalise(a[i]);
        if (!t) {
            rc = RL_ENOMEM;
            goto done;
        }
        size_t len = strlen(t);
        uint64_t f = RL_FNV1A_INIT;
        for (size_t k = 1; k <= len && !hit[i]; k++) {
            f = rl__fnv1a(t + k - 1, 1, f);
            if (k < min_len || n_b == 0)
                continue;
            uint64_t h = rl__mix64(f);
            for (size_t q = h & (cap - 1); slot[q] && !hit[i]; q = (q + 1) & (cap - 1)) {
                const char *c = sb[slot[q] - 1];
                hit[i] = hash[q] == h && strlen(c) == k && memcmp(c, t, k) == 0;
            }
        }
        rc += hit[i];
        free(t);
    }
done:
    free_all(sb, n_b);
    free(slot);
    free(hash);
    return rc;
}
