// Battle sets: growth, interning of prompts, model names and source labels, preprocessing of
// prompts (trim, drop short, cut long) and the training-data digest. Reading datasets lives in
// readers.c; embedding prompts lives in embcache.c.
#include <ctype.h>
#include <math.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "data/data.h"
#include "rl/battle.h"

// ----------------------------------------------------------------------------
// String interning: open addressing on a 64-bit hash, indices into the owner's string array.

struct intern {
    uint32_t *slots;  // (cap) index + 1, 0 = empty
    uint64_t *hashes; // (cap)
    size_t cap;
    size_t n;
};

struct rl_battles_index {
    struct intern prompts;
    struct intern models;
    size_t cap_items, cap_prompts, cap_models, cap_cells;
};

static int intern_grow(struct intern *t) {
    size_t cap = t->cap ? t->cap * 2 : 1024;
    uint32_t *slots = calloc(cap, sizeof *slots);
    uint64_t *hashes = calloc(cap, sizeof *hashes);
    if (!slots || !hashes) {
        free(slots);
        free(hashes);
        return RL_ENOMEM;
    }
    for (size_t i = 0; i < t->cap; i++) {
        if (!t->slots[i])
            continue;
        size_t j = t->hashes[i] & (cap - 1);
        while (slots[j])
            j = (j + 1) & (cap - 1);
        slots[j] = t->slots[i];
        hashes[j] = t->hashes[i];
    }
    free(t->slots);
    free(t->hashes);
    t->slots = slots;
    t->hashes = hashes;
    t->cap = cap;
    return RL_OK;
}

static void intern_free(struct intern *t) {
    free(t->slots);
    free(t->hashes);
}

// Find s (of length len) among strs; returns its index, or -1 with *slot set to the free slot.
static long intern_find(const struct intern *t, char *const *strs, const char *s, size_t len,
                        uint64_t h, size_t *slot) {
    if (!t->cap)
        return -1;
    size_t j = h & (t->cap - 1);
    while (t->slots[j]) {
        uint32_t k = t->slots[j] - 1;
        if (t->hashes[j] == h && strncmp(strs[k], s, len) == 0 && strs[k][len] == '\0')
            return (long)k;
        j = (j + 1) & (t->cap - 1);
    }
    *slot = j;
    return -1;
}

static int grow_array(void **arr, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap)
        return RL_OK;
    size_t c = *cap ? *cap : 256;
    while (c < need)
        c *= 2;
    void *p = realloc(*arr, c * elem);
    if (!p)
        return RL_ENOMEM;
    *arr = p;
    *cap = c;
    return RL_OK;
}

// Intern s into (*strs, *n) through table t; returns the index or < 0.
static long intern_add(struct intern *t, char ***strs, size_t *n, size_t *cap, const char *s,
                       size_t len) {
    uint64_t h = rl__hash64(s, len);
    size_t slot = 0;
    long k = intern_find(t, *strs, s, len, h, &slot);
    if (k >= 0)
        return k;
    if (*n >= UINT32_MAX - 1)
        return RL_ETOOBIG;
    if ((t->n + 1) * 2 > t->cap) {
        if (intern_grow(t) != RL_OK)
            return RL_ENOMEM;
        intern_find(t, *strs, s, len, h, &slot);
    }
    if (grow_array((void **)strs, cap, *n + 1, sizeof **strs) != RL_OK)
        return RL_ENOMEM;
    char *copy = strndup(s, len);
    if (!copy)
        return RL_ENOMEM;
    (*strs)[*n] = copy;
    t->slots[slot] = (uint32_t)(*n + 1);
    t->hashes[slot] = h;
    t->n++;
    return (long)(*n)++;
}

// ----------------------------------------------------------------------------
// Sets

struct rl_battles *rl_battles_new(void) {
    struct rl_battles *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->index = calloc(1, sizeof *b->index);
    if (!b->index) {
        free(b);
        return NULL;
    }
    return b;
}

void rl_battles_free(struct rl_battles *b) {
    if (!b)
        return;
    for (size_t i = 0; i < b->n_prompts; i++)
        free(b->prompts[i]);
    for (size_t i = 0; i < b->n_models; i++)
        free(b->models[i]);
    for (size_t i = 0; i < b->n_sources; i++)
        free(b->sources[i]);
    free(b->prompts);
    free(b->models);
    free(b->sources);
    free(b->items);
    free(b->cells);
    if (b->index) {
        intern_free(&b->index->prompts);
        intern_free(&b->index->models);
        free(b->index);
    }
    free(b);
}

int rl_battles_model(struct rl_battles *b, const char *name) {
    char canon[RL_MODEL_NAME_MAX];
    int rc = rl_model_canon(name, canon, sizeof canon);
    if (rc != RL_OK)
        return rc;
    size_t n = b->n_models;
    long k =
        intern_add(&b->index->models, &b->models, &n, &b->index->cap_models, canon, strlen(canon));
    if (k < 0)
        return (int)k;
    if (n > INT32_MAX)
        return RL_ETOOBIG;
    b->n_models = n;
    return (int)k;
}

int rl_battles_find_model(const struct rl_battles *b, const char *name) {
    char canon[RL_MODEL_NAME_MAX];
    if (rl_model_canon(name, canon, sizeof canon) != RL_OK)
        return -1;
    size_t slot;
    return (int)intern_find(&b->index->models, b->models, canon, strlen(canon),
                            rl__hash64(canon, strlen(canon)), &slot);
}

int rl_battles_source(struct rl_battles *b, const char *name) {
    for (size_t i = 0; i < b->n_sources; i++)
        if (strcmp(b->sources[i], name) == 0)
            return (int)i;
    if (b->n_sources >= RL_BATTLE_MAX_SOURCES)
        return RL_ETOOBIG;
    char **s = realloc(b->sources, (b->n_sources + 1) * sizeof *s);
    if (!s)
        return RL_ENOMEM;
    b->sources = s;
    s[b->n_sources] = strdup(name);
    if (!s[b->n_sources])
        return RL_ENOMEM;
    return (int)b->n_sources++;
}

size_t rl__prompt_clean(const char *s, size_t len, const char **start) {
    while (len > 0 && isspace((unsigned char)*s)) {
        s++;
        len--;
    }
    while (len > 0 && isspace((unsigned char)s[len - 1]))
        len--;
    if (len > RL_BATTLE_MAX_PROMPT) {
        len = RL_BATTLE_MAX_PROMPT;
        // Back up over UTF-8 continuation bytes so the cut leaves whole characters.
        while (len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80)
            len--;
    }
    *start = s;
    return len;
}

long rl__battles_prompt(struct rl_battles *b, const char *prompt, size_t len) {
    const char *s;
    len = rl__prompt_clean(prompt, len, &s);
    if (len < RL_BATTLE_MIN_PROMPT)
        return RL_EINVAL;
    if (memchr(s, '\0', len))
        return RL_EFORMAT;
    return intern_add(&b->index->prompts, &b->prompts, &b->n_prompts, &b->index->cap_prompts, s,
                      len);
}

int rl__battles_push(struct rl_battles *b, uint32_t prompt, int model_a, int model_b,
                     enum rl_outcome outcome, float weight, int source) {
    if (model_a < 0 || model_b < 0 || model_a == model_b || (unsigned)outcome > 3 ||
        !(weight >= 0) || source < 0 || source > 255)
        return RL_EINVAL;
    if (grow_array((void **)&b->items, &b->index->cap_items, b->n + 1, sizeof *b->items) != RL_OK)
        return RL_ENOMEM;
    b->items[b->n++] = (struct rl_battle){
        .prompt = prompt,
        .model_a = (uint32_t)model_a,
        .model_b = (uint32_t)model_b,
        .outcome = (uint8_t)outcome,
        .source = (uint8_t)source,
        .weight = weight,
    };
    return 1;
}

int rl_battles_add(struct rl_battles *b, const char *prompt, size_t prompt_len, const char *model_a,
                   const char *model_b, enum rl_outcome outcome, float weight, int source) {
    int a = rl_battles_model(b, model_a);
    if (a < 0)
        return a;
    int m = rl_battles_model(b, model_b);
    if (m < 0)
        return m;
    if (a == m) {
        b->n_dropped_self++;
        return 0;
    }
    const char *s;
    if (rl__prompt_clean(prompt, prompt_len, &s) < RL_BATTLE_MIN_PROMPT) {
        b->n_dropped_short++;
        return 0;
    }
    long p = rl__battles_prompt(b, prompt, prompt_len);
    if (p < 0)
        return (int)p;
    return rl__battles_push(b, (uint32_t)p, a, m, outcome, weight, source);
}

int rl__battles_push_cell(struct rl_battles *b, uint32_t prompt, int model, double score,
                          int source) {
    if (model < 0 || !isfinite(score) || source < 0 || source > 255)
        return RL_EINVAL;
    if (grow_array((void **)&b->cells, &b->index->cap_cells, b->n_cells + 1, sizeof *b->cells) !=
        RL_OK)
        return RL_ENOMEM;
    b->cells[b->n_cells++] = (struct rl_cell){.prompt = prompt,
                                              .model = (uint32_t)model,
                                              .score = (float)score,
                                              .source = (uint8_t)source};
    return 1;
}

int rl_battles_add_cell(struct rl_battles *b, const char *prompt, size_t prompt_len,
                        const char *model, double score, int source) {
    if (!(score >= 0 && score <= 1))
        return RL_EINVAL;
    int m = rl_battles_model(b, model);
    if (m < 0)
        return m;
    const char *s;
    if (rl__prompt_clean(prompt, prompt_len, &s) < RL_BATTLE_MIN_PROMPT) {
        b->n_dropped_short++;
        return 0;
    }
    long p = rl__battles_prompt(b, prompt, prompt_len);
    if (p < 0)
        return (int)p;
    return rl__battles_push_cell(b, (uint32_t)p, m, score, source);
}

size_t rl_battles_drop_prompts(struct rl_battles *b, const bool *drop) {
    size_t kept = 0;
    for (size_t i = 0; i < b->n; i++)
        if (!drop[b->items[i].prompt])
            b->items[kept++] = b->items[i];
    size_t removed = b->n - kept;
    b->n = kept;
    kept = 0;
    for (size_t i = 0; i < b->n_cells; i++)
        if (!drop[b->cells[i].prompt])
            b->cells[kept++] = b->cells[i];
    b->n_cells = kept;
    return removed;
}

// ----------------------------------------------------------------------------
// Digest

// Each field ends with its NUL so that field boundaries are part of the digest.
static int digest_str(EVP_MD_CTX *ctx, const char *s) {
    return EVP_DigestUpdate(ctx, s, strlen(s) + 1);
}

static int digest_end(EVP_MD_CTX *ctx, int ok, char hex[65]) {
    unsigned char md[32];
    unsigned int md_len = 0;
    ok = ok && EVP_DigestFinal_ex(ctx, md, &md_len) && md_len == 32;
    EVP_MD_CTX_free(ctx);
    if (!ok)
        return RL_ENOMEM;
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    return RL_OK;
}

int rl_battles_digest(const struct rl_battles *b, char hex[65]) {
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx)
        return RL_ENOMEM;
    int ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    for (size_t i = 0; ok && i < b->n; i++) {
        const struct rl_battle *x = &b->items[i];
        unsigned char tail[5] = {x->outcome};
        memcpy(tail + 1, &x->weight, 4);
        ok = digest_str(ctx, b->prompts[x->prompt]) && digest_str(ctx, b->models[x->model_a]) &&
             digest_str(ctx, b->models[x->model_b]) && EVP_DigestUpdate(ctx, tail, sizeof tail);
    }
    return digest_end(ctx, ok, hex);
}

int rl_battles_digest_cells(const struct rl_battles *b, char hex[65]) {
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx)
        return RL_ENOMEM;
    int ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    for (size_t i = 0; ok && i < b->n_cells; i++) {
        const struct rl_cell *x = &b->cells[i];
        ok = digest_str(ctx, b->prompts[x->prompt]) && digest_str(ctx, b->models[x->model]) &&
             EVP_DigestUpdate(ctx, &x->score, sizeof x->score);
    }
    return digest_end(ctx, ok, hex);
}
