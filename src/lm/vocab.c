// The tokenizer of a causal LM from its GGUF metadata: loading and checking the vocabulary, the
// lookup tables, and the first step every tokenization shares, cutting the user-defined tokens
// out of the raw text. The vocabulary-specific steps are in bpe.c and spm.c, the merging of
// symbols they share in merge.c.
//
// What llama.cpp derives from the metadata is derived the same way here: the defaults for the
// BOS/EOS/UNK ids and for add_space_prefix per vocabulary kind, "[EMPTY_<id>]" for an empty token
// text, the first rank for a merge pair listed twice, and the end-of-generation token names that
// llama.cpp treats as control tokens whatever their type in the file. It does not apply the
// fixes llama.cpp keys on model or token names for other families (lstrip/rstrip for Phi-3 and
// some BERTs, the types of a few gpt-oss, Solar Open and Gemma 4 tokens), which concern neither
// SmolLM2 nor Gemma 3.
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "lm/vocab.h"

// Token texts that llama.cpp always treats as control (end-of-generation) tokens, so that with
// special = false they are plain text even when the file types them user-defined.
static const char *const k_eog_names[] = {
    "<|eot_id|>",
    "<|im_end|>",
    "<|end|>",
    "<|return|>",
    "<|call|>",
    "<|flush|>",
    "<|calls|>",
    "<end_of_turn>",
    "<|endoftext|>",
    "</s>",
    "<|eom_id|>",
    "<EOT>",
    "_<EOT>",
    "[EOT]",
    "[EOS]",
    "<|end_of_text|>",
    "<end_of_utterance>",
    "<eos>",
    "<turn|>",
    "<|tool_response>",
    "<\357\275\234end\342\226\201of\342\226\201sentence\357\275\234>", // <｜end▁of▁sentence｜>
    "[e~[",
};

// ----------------------------------------------------------------------------
// Hash tables

static uint32_t hash_text(const char *s, size_t n) {
    return (uint32_t)rl__hash64(s, n);
}

static uint32_t hash_pair(const char *a, size_t na, const char *b, size_t nb) {
    uint64_t len = na;
    uint64_t h = rl__fnv1a(&len, sizeof len, RL_FNV1A_INIT);
    h = rl__fnv1a(a, na, h);
    return (uint32_t)rl__mix64(rl__fnv1a(b, nb, h));
}

static int table_init(struct rl__lm_table *t, size_t n) {
    size_t size = 16;
    while (size < 2 * n)
        size *= 2;
    t->slots = malloc(size * sizeof *t->slots);
    if (!t->slots)
        return RL_ENOMEM;
    for (size_t i = 0; i < size; i++)
        t->slots[i] = (struct rl__lm_slot){0, -1};
    t->mask = (uint32_t)(size - 1);
    return RL_OK;
}

static const char *token_text(const struct rl__lm_vocab *v, int32_t id, size_t *n) {
    *n = v->off[id + 1] - v->off[id];
    return v->text + v->off[id];
}

// The slot holding s[0..n), or the empty slot where it would go.
static struct rl__lm_slot *token_slot(const struct rl__lm_vocab *v, const char *s, size_t n,
                                      uint32_t h) {
    for (uint32_t i = h & v->ids.mask;; i = (i + 1) & v->ids.mask) {
        struct rl__lm_slot *slot = &v->ids.slots[i];
        if (slot->id < 0)
            return slot;
        size_t tn;
        const char *t = token_text(v, slot->id, &tn);
        if (slot->hash == h && tn == n && memcmp(t, s, n) == 0)
            return slot;
    }
}

int32_t rl__lm_vocab_find(const struct rl__lm_vocab *v, const char *s, size_t n) {
    if (!v->ids.slots)
        return -1;
    return token_slot(v, s, n, hash_text(s, n))->id;
}

const char *rl__lm_vocab_token(const struct rl__lm_vocab *v, int32_t id, size_t *len) {
    if (id < 0 || (size_t)id >= v->n_tokens)
        return NULL;
    return token_text(v, id, len);
}

static struct rl__lm_slot *merge_slot(const struct rl__lm_vocab *v, const char *a, size_t na,
                                      const char *b, size_t nb, uint32_t h) {
    for (uint32_t i = h & v->merges.mask;; i = (i + 1) & v->merges.mask) {
        struct rl__lm_slot *slot = &v->merges.slots[i];
        if (slot->id < 0)
            return slot;
        const uint32_t *o = &v->m_off[2 * (size_t)slot->id];
        if (slot->hash == h && o[1] - o[0] == na && o[2] - o[1] == nb &&
            memcmp(v->merge_text + o[0], a, na) == 0 && memcmp(v->merge_text + o[1], b, nb) == 0)
            return slot;
    }
}

int32_t rl__lm_merge_rank(const struct rl__lm_vocab *v, const char *a, size_t na, const char *b,
                          size_t nb) {
    if (!v->merges.slots)
        return -1;
    return merge_slot(v, a, na, b, nb, hash_pair(a, na, b, nb))->id;
}

void rl__lm_ids_push(struct rl__lm_ids *out, int32_t id) {
    if (out->failed)
        return;
    if (out->n == out->cap) {
        size_t cap = out->cap ? 2 * out->cap : 64;
        int32_t *p = realloc(out->p, cap * sizeof *p);
        if (!p) {
            out->failed = true;
            return;
        }
        out->p = p;
        out->cap = cap;
    }
    out->p[out->n++] = id;
}

// ----------------------------------------------------------------------------
// Loading

struct loader {
    const struct rl_gguf *g;
    const char *name;
    char *errbuf;
};

// The array of element type elem called key, with at least min_n elements; NULL with errbuf
// set (*rc) when it is missing or another type, unless optional (then *rc stays RL_OK).
static const struct rl_gguf_kv *get_array(struct loader *l, const char *key,
                                          enum rl_gguf_vtype elem, size_t min_n, bool optional,
                                          int *rc) {
    const struct rl_gguf_kv *kv = rl__gguf_find(l->g, key);
    *rc = RL_OK;
    if (!kv) {
        if (!optional)
            *rc = rl__errf(l->errbuf, RL_EFORMAT, "%s: no %s in the metadata", l->name, key);
        return NULL;
    }
    if (kv->type != RL_GGUF_ARRAY || kv->elem != elem) {
        *rc = rl__errf(l->errbuf, RL_EFORMAT, "%s: %s is not an array of the expected type",
                       l->name, key);
        return NULL;
    }
    if (kv->n < min_n) {
        *rc = rl__errf(l->errbuf, RL_EFORMAT, "%s: %s has %llu entries, expected at least %zu",
                       l->name, key, (unsigned long long)kv->n, min_n);
        return NULL;
    }
    return kv;
}

// The string array called key, of min_n to RL_LM_VOCAB_MAX_TOKENS entries (what they are, for
// the message); NULL with errbuf set (*rc) when it is missing, another type or too long.
static const struct rl_gguf_kv *get_strings(struct loader *l, const char *key, const char *what,
                                            size_t min_n, int *rc) {
    const struct rl_gguf_kv *kv = get_array(l, key, RL_GGUF_STRING, min_n, false, rc);
    if (kv && kv->n > RL_LM_VOCAB_MAX_TOKENS) {
        *rc = rl__errf(l->errbuf, RL_ETOOBIG, "%s: %llu %s, more than the %u read", l->name,
                       (unsigned long long)kv->n, what, RL_LM_VOCAB_MAX_TOKENS);
        return NULL;
    }
    return kv;
}

// An optional boolean; RL_OK leaves *out alone when the key is absent.
static int get_bool(struct loader *l, const char *key, bool *out) {
    int rc = rl__gguf_bool(l->g, key, out);
    if (rc == RL_EINVAL)
        return RL_OK;
    if (rc != RL_OK)
        return rl__errf(l->errbuf, RL_EFORMAT, "%s: %s is not a boolean", l->name, key);
    return RL_OK;
}

// An optional token id: a value outside the vocabulary is ignored, as llama.cpp does.
static int get_id(struct loader *l, const char *key, size_t n_tokens, int32_t *out) {
    uint64_t u;
    int rc = rl__gguf_uint(l->g, key, UINT32_MAX, &u);
    if (rc == RL_EINVAL)
        return RL_OK;
    if (rc != RL_OK)
        return rl__errf(l->errbuf, RL_EFORMAT, "%s: %s is not a token id", l->name, key);
    if (u < n_tokens)
        *out = (int32_t)u;
    return RL_OK;
}

static int load_tokens(struct loader *l, struct rl__lm_vocab *v) {
    int rc;
    const struct rl_gguf_kv *tokens = get_strings(l, "tokenizer.ggml.tokens", "tokens", 1, &rc);
    if (!tokens)
        return rc;
    size_t n = (size_t)tokens->n;
    const struct rl_gguf_kv *types =
        get_array(l, "tokenizer.ggml.token_type", RL_GGUF_I32, n, true, &rc);
    if (rc != RL_OK)
        return rc;
    const struct rl_gguf_kv *scores =
        get_array(l, "tokenizer.ggml.scores", RL_GGUF_F32, n, true, &rc);
    if (rc != RL_OK)
        return rc;

    // An empty token is renamed "[EMPTY_<id>]" (at most 20 bytes), as llama.cpp does.
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len = (size_t)tokens->strings[i].len;
        if (len > RL_LM_VOCAB_MAX_TOKEN)
            return rl__errf(l->errbuf, RL_EFORMAT, "%s: token %zu is %zu bytes long", l->name, i,
                            len);
        total += len ? len : 20;
    }
    if (total > UINT32_MAX)
        return rl__errf(l->errbuf, RL_ETOOBIG, "%s: the token texts exceed 4 GiB", l->name);
    v->n_tokens = n;
    v->text = malloc(total ? total : 1);
    v->off = malloc((n + 1) * sizeof *v->off);
    v->type = malloc(n);
    if (v->kind == RL_LM_VOCAB_SPM)
        v->score = calloc(n, sizeof *v->score);
    if (!v->text || !v->off || !v->type || (v->kind == RL_LM_VOCAB_SPM && !v->score))
        return rl__errf(l->errbuf, RL_ENOMEM, "%s: out of memory", l->name);
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        v->off[i] = (uint32_t)at;
        const struct rl_gguf_str *s = &tokens->strings[i];
        if (s->len) {
            memcpy(v->text + at, s->p, (size_t)s->len);
            at += (size_t)s->len;
        } else {
            at += (size_t)snprintf(v->text + at, 20, "[EMPTY_%zu]", i);
        }
        int32_t t = RL_LM_TOKEN_NORMAL;
        if (types) {
            memcpy(&t, types->data + 4 * i, 4);
            if (t < RL_LM_TOKEN_UNDEFINED || t > RL_LM_TOKEN_BYTE)
                t = RL_LM_TOKEN_UNDEFINED;
        }
        v->type[i] = (uint8_t)t;
        if (v->score && scores)
            memcpy(&v->score[i], scores->data + 4 * i, 4);
    }
    v->off[n] = (uint32_t)at;

    if (table_init(&v->ids, n) != RL_OK)
        return rl__errf(l->errbuf, RL_ENOMEM, "%s: out of memory", l->name);
    for (size_t i = 0; i < n; i++) {
        size_t len;
        const char *s = token_text(v, (int32_t)i, &len);
        uint32_t h = hash_text(s, len);
        struct rl__lm_slot *slot = token_slot(v, s, len, h);
        if (slot->id >= 0)
            return rl__errf(l->errbuf, RL_EFORMAT, "%s: tokens %d and %zu are both \"%.*s\"",
                            l->name, slot->id, i, (int)(len < 40 ? len : 40), s);
        *slot = (struct rl__lm_slot){h, (int32_t)i};
    }
    return RL_OK;
}

static int load_merges(struct loader *l, struct rl__lm_vocab *v) {
    int rc;
    const struct rl_gguf_kv *merges = get_strings(l, "tokenizer.ggml.merges", "merges", 0, &rc);
    if (!merges)
        return rc;
    size_t n = (size_t)merges->n, total = 0;
    for (size_t i = 0; i < n; i++) {
        if (merges->strings[i].len > 2 * RL_LM_VOCAB_MAX_TOKEN)
            return rl__errf(l->errbuf, RL_EFORMAT, "%s: merge %zu is %llu bytes long", l->name, i,
                            (unsigned long long)merges->strings[i].len);
        total += (size_t)merges->strings[i].len;
    }
    if (total > UINT32_MAX)
        return rl__errf(l->errbuf, RL_ETOOBIG, "%s: the merges exceed 4 GiB", l->name);
    v->n_merges = n;
    v->merge_text = malloc(total ? total : 1);
    v->m_off = malloc((2 * n + 1) * sizeof *v->m_off);
    if (!v->merge_text || !v->m_off || table_init(&v->merges, n) != RL_OK)
        return rl__errf(l->errbuf, RL_ENOMEM, "%s: out of memory", l->name);
    // "left right", split at the first space after the first byte (so a left side may be a
    // space). A line without one is the pair of two empty strings, which never matches.
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        const char *s = merges->strings[i].p;
        size_t len = (size_t)merges->strings[i].len;
        const char *sp = len > 1 ? memchr(s + 1, ' ', len - 1) : NULL;
        size_t na = sp ? (size_t)(sp - s) : 0, nb = sp ? len - na - 1 : 0;
        v->m_off[2 * i] = (uint32_t)at;
        memcpy(v->merge_text + at, s, na);
        at += na;
        v->m_off[2 * i + 1] = (uint32_t)at;
        if (nb)
            memcpy(v->merge_text + at, sp + 1, nb);
        at += nb;
        v->m_off[2 * i + 2] = (uint32_t)at;
        const char *a = v->merge_text + v->m_off[2 * i], *b = v->merge_text + v->m_off[2 * i + 1];
        uint32_t h = hash_pair(a, na, b, nb);
        struct rl__lm_slot *slot = merge_slot(v, a, na, b, nb, h);
        if (slot->id < 0)
            *slot = (struct rl__lm_slot){h, (int32_t)i};
    }
    return RL_OK;
}

static bool is_eog_name(const char *s, size_t n) {
    for (size_t i = 0; i < sizeof k_eog_names / sizeof k_eog_names[0]; i++)
        if (strlen(k_eog_names[i]) == n && memcmp(k_eog_names[i], s, n) == 0)
            return true;
    return false;
}

struct len_id {
    uint32_t len;
    int32_t id;
};

static int cmp_len_id(const void *pa, const void *pb) {
    const struct len_id *a = pa, *b = pb;
    if (a->len != b->len)
        return a->len > b->len ? -1 : 1;
    return (a->id > b->id) - (a->id < b->id);
}

// The user-defined tokens, longest first. llama.cpp orders tokens of equal length as its sort
// leaves them; the order only matters for two such tokens overlapping in a text.
static int load_special(struct loader *l, struct rl__lm_vocab *v) {
    size_t n = 0;
    for (size_t i = 0; i < v->n_tokens; i++) {
        size_t len;
        const char *s = token_text(v, (int32_t)i, &len);
        if (v->type[i] == RL_LM_TOKEN_USER_DEFINED && !is_eog_name(s, len))
            n++;
    }
    if (!n)
        return RL_OK;
    struct len_id *order = malloc(n * sizeof *order);
    v->special = malloc(n * sizeof *v->special);
    if (!order || !v->special) {
        free(order);
        return rl__errf(l->errbuf, RL_ENOMEM, "%s: out of memory", l->name);
    }
    size_t k = 0;
    for (size_t i = 0; i < v->n_tokens; i++) {
        size_t len;
        const char *s = token_text(v, (int32_t)i, &len);
        if (v->type[i] == RL_LM_TOKEN_USER_DEFINED && !is_eog_name(s, len))
            order[k++] = (struct len_id){(uint32_t)len, (int32_t)i};
    }
    qsort(order, n, sizeof *order, cmp_len_id);
    for (k = 0; k < n; k++)
        v->special[k] = order[k].id;
    v->n_special = n;
    free(order);
    return RL_OK;
}

static int load_bytes(struct loader *l, struct rl__lm_vocab *v) {
    static const char hex[] = "0123456789ABCDEF";
    for (int b = 0; b < 256; b++) {
        char one = (char)b;
        v->raw_id[b] = rl__lm_vocab_find(v, &one, 1);
        v->byte_id[b] = -1;
        if (v->kind != RL_LM_VOCAB_SPM)
            continue;
        char name[6] = {'<', '0', 'x', hex[b >> 4], hex[b & 15], '>'};
        v->byte_id[b] = rl__lm_vocab_find(v, name, 6);
        if (v->byte_id[b] < 0)
            v->byte_id[b] = v->raw_id[b];
        if (v->byte_id[b] < 0)
            return rl__errf(l->errbuf, RL_EUNSUPPORTED,
                            "%s: the vocabulary has no token for byte 0x%02X (<0x%02X>)", l->name,
                            b, b);
    }
    return RL_OK;
}

int rl__lm_vocab_load(const struct rl_gguf *g, const char *name, struct rl__lm_vocab *v,
                      char *errbuf) {
    memset(v, 0, sizeof *v);
    struct loader l = {g, name, errbuf};
    struct rl_gguf_str model, pre = {"", 0};
    int rc = rl__gguf_string(g, "tokenizer.ggml.model", &model);
    if (rc != RL_OK)
        return rl__errf(errbuf, RL_EFORMAT, "%s: tokenizer.ggml.model is %s", name,
                        rc == RL_EINVAL ? "missing" : "not a string");
    if (rl__gguf_str_eq(model, "gpt2")) {
        v->kind = RL_LM_VOCAB_BPE;
        v->bos_id = v->eos_id = 11;
        v->unk_id = -1;
        rc = rl__gguf_string(g, "tokenizer.ggml.pre", &pre);
        if (rc == RL_EFORMAT)
            return rl__errf(errbuf, RL_EFORMAT, "%s: tokenizer.ggml.pre is not a string", name);
        if (!rl__gguf_str_eq(pre, "smollm"))
            return rl__errf(errbuf, RL_EUNSUPPORTED,
                            "%s: byte-level BPE with the pre-tokenizer \"%.*s\" is not supported "
                            "(only \"smollm\")",
                            name, (int)(pre.len < 40 ? pre.len : 40), pre.p);
    } else if (rl__gguf_str_eq(model, "llama")) {
        v->kind = RL_LM_VOCAB_SPM;
        v->bos_id = 1;
        v->eos_id = 2;
        v->unk_id = 0;
        v->add_space_prefix = true;
        v->add_bos = true;
    } else {
        return rl__errf(errbuf, RL_EUNSUPPORTED,
                        "%s: tokenizer model \"%.*s\" is not supported (only \"gpt2\" and "
                        "\"llama\")",
                        name, (int)(model.len < 40 ? model.len : 40), model.p);
    }
    rc = load_tokens(&l, v);
    if (rc == RL_OK && v->kind == RL_LM_VOCAB_BPE)
        rc = load_merges(&l, v);
    if (rc == RL_OK)
        rc = load_special(&l, v);
    if (rc == RL_OK)
        rc = load_bytes(&l, v);
    if (rc == RL_OK) {
        if ((size_t)v->bos_id >= v->n_tokens)
            v->bos_id = -1;
        if ((size_t)v->eos_id >= v->n_tokens)
            v->eos_id = -1;
        if (v->unk_id >= 0 && (size_t)v->unk_id >= v->n_tokens)
            v->unk_id = -1;
        rc = get_id(&l, "tokenizer.ggml.bos_token_id", v->n_tokens, &v->bos_id);
    }
    if (rc == RL_OK)
        rc = get_id(&l, "tokenizer.ggml.eos_token_id", v->n_tokens, &v->eos_id);
    if (rc == RL_OK)
        rc = get_id(&l, "tokenizer.ggml.unknown_token_id", v->n_tokens, &v->unk_id);
    if (rc == RL_OK)
        rc = get_bool(&l, "tokenizer.ggml.add_bos_token", &v->add_bos);
    if (rc == RL_OK)
        rc = get_bool(&l, "tokenizer.ggml.add_space_prefix", &v->add_space_prefix);
    if (rc != RL_OK)
        rl__lm_vocab_free(v);
    return rc;
}

void rl__lm_vocab_free(struct rl__lm_vocab *v) {
    if (!v)
        return;
    free(v->text);
    free(v->off);
    free(v->type);
    free(v->score);
    free(v->ids.slots);
    free(v->merge_text);
    free(v->m_off);
    free(v->merges.slots);
    free(v->special);
    memset(v, 0, sizeof *v);
}

// ----------------------------------------------------------------------------
// Tokenizing: user-defined tokens first, then the vocabulary's own algorithm on what is left

struct fragment {
    size_t off, len;
    int32_t id; // a user-defined token; -1: raw text
};

struct fragments {
    struct fragment *p;
    size_t n, cap;
};

static bool frag_push(struct fragments *f, struct fragment x) {
    if (f->n == f->cap) {
        size_t cap = f->cap ? 2 * f->cap : 16;
        struct fragment *p = realloc(f->p, cap * sizeof *p);
        if (!p)
            return false;
        f->p = p;
        f->cap = cap;
    }
    f->p[f->n++] = x;
    return true;
}

// Which user-defined tokens occur in the text at all: only those need a pass over the fragments.
static bool *special_present(const struct rl__lm_vocab *v, const char *text, size_t len) {
    bool *present = calloc(v->n_special, 1);
    if (!present)
        return NULL;
    for (size_t k = 0; k < v->n_special; k++) {
        size_t n;
        const char *s = token_text(v, v->special[k], &n);
        present[k] = memmem(text, len, s, n) != NULL;
    }
    return present;
}

int rl__lm_tokenize(const struct rl__lm_vocab *v, const char *text, size_t len, int32_t *ids,
                    size_t cap) {
    if (len > RL_LM_VOCAB_MAX_TEXT)
        return RL_ETOOBIG;
    if (len == 0)
        return 0;
    struct fragments cur = {0}, next = {0};
    struct rl__lm_ids out = {0};
    bool *present = NULL;
    int rc = RL_ENOMEM;
    if (!frag_push(&cur, (struct fragment){0, len, -1}))
        goto fail;
    if (v->n_special) {
        present = special_present(v, text, len);
        if (!present)
            goto fail;
    }
    // Each token in turn splits every raw fragment at its occurrences, left to right.
    for (size_t k = 0; k < v->n_special; k++) {
        if (!present[k])
            continue;
        int32_t id = v->special[k];
        size_t n;
        const char *s = token_text(v, id, &n);
        next.n = 0;
        for (size_t i = 0; i < cur.n; i++) {
            struct fragment f = cur.p[i];
            if (f.id >= 0) {
                if (!frag_push(&next, f))
                    goto fail;
                continue;
            }
            size_t at = f.off, end = f.off + f.len;
            const char *hit;
            while (at < end && (hit = memmem(text + at, end - at, s, n)) != NULL) {
                size_t q = (size_t)(hit - text);
                if (q > at && !frag_push(&next, (struct fragment){at, q - at, -1}))
                    goto fail;
                if (!frag_push(&next, (struct fragment){q, n, id}))
                    goto fail;
                at = q + n;
            }
            if (at < end && !frag_push(&next, (struct fragment){at, end - at, -1}))
                goto fail;
        }
        struct fragments t = cur;
        cur = next;
        next = t;
    }
    for (size_t i = 0; i < cur.n && !out.failed; i++) {
        struct fragment f = cur.p[i];
        if (f.id >= 0)
            rl__lm_ids_push(&out, f.id);
        else if (v->kind == RL_LM_VOCAB_BPE)
            rl__lm_bpe_encode(v, text + f.off, f.len, &out);
        else
            rl__lm_spm_encode(v, text + f.off, f.len, &out);
    }
    if (out.failed)
        goto fail;
    if (out.n > (size_t)INT32_MAX) {
        rc = RL_ETOOBIG;
        goto fail;
    }
    if (ids && cap)
        memcpy(ids, out.p, (out.n < cap ? out.n : cap) * sizeof *ids);
    rc = (int)out.n;
fail:
    free(cur.p);
    free(next.p);
    free(out.p);
    free(present);
    return rc;
}
