// GGUF reader (lm/gguf.h): a cursor that checks every read against the end of the buffer, then
// the tensor layout checked against the data section. Nothing is trusted before it is checked;
// allocations are bounded by what the remaining bytes could hold.
#include <stdlib.h>
#include <string.h>

#include "lm/gguf.h"

// ----------------------------------------------------------------------------
// Tensor types

static const struct {
    uint32_t type;
    const char *name;
    int elems, bytes;
} types[] = {
    {RL_GGML_F32, "F32", 1, 4},       {RL_GGML_F16, "F16", 1, 2},
    {RL_GGML_BF16, "BF16", 1, 2},     {RL_GGML_Q4_0, "Q4_0", 32, 18},
    {RL_GGML_Q4_1, "Q4_1", 32, 20},   {RL_GGML_Q5_0, "Q5_0", 32, 22},
    {RL_GGML_Q5_1, "Q5_1", 32, 24},   {RL_GGML_Q8_0, "Q8_0", 32, 34},
    {RL_GGML_Q8_1, "Q8_1", 32, 36},   {RL_GGML_Q2_K, "Q2_K", 256, 84},
    {RL_GGML_Q3_K, "Q3_K", 256, 110}, {RL_GGML_Q4_K, "Q4_K", 256, 144},
    {RL_GGML_Q5_K, "Q5_K", 256, 176}, {RL_GGML_Q6_K, "Q6_K", 256, 210},
    {RL_GGML_Q8_K, "Q8_K", 256, 292},
};

bool rl__ggml_block(uint32_t type, int *elems, int *bytes) {
    for (size_t i = 0; i < RL_COUNTOF(types); i++)
        if (types[i].type == type) {
            *elems = types[i].elems;
            *bytes = types[i].bytes;
            return true;
        }
    return false;
}

const char *rl__ggml_type_name(uint32_t type) {
    for (size_t i = 0; i < RL_COUNTOF(types); i++)
        if (types[i].type == type)
            return types[i].name;
    return "?";
}

// ----------------------------------------------------------------------------
// The cursor

struct cursor {
    const uint8_t *buf;
    size_t len, at;
    const char *name; // the file, for messages
    char *errbuf;
};

static int bad(struct cursor *c, const char *what) {
    return rl__errf(c->errbuf, RL_EFORMAT, "%s: %s (at byte %zu)", c->name, what, c->at);
}

static int take(struct cursor *c, size_t n, const uint8_t **out, const char *what) {
    if (n > c->len - c->at)
        return bad(c, what);
    *out = c->buf + c->at;
    c->at += n;
    return RL_OK;
}

static int u32(struct cursor *c, uint32_t *v, const char *what) {
    const uint8_t *p = NULL;
    int rc = take(c, 4, &p, what);
    if (rc == RL_OK)
        memcpy(v, p, 4);
    return rc;
}

static int u64(struct cursor *c, uint64_t *v, const char *what) {
    const uint8_t *p = NULL;
    int rc = take(c, 8, &p, what);
    if (rc == RL_OK)
        memcpy(v, p, 8);
    return rc;
}

static int str(struct cursor *c, struct rl_gguf_str *s, uint64_t max, const char *what) {
    uint64_t n;
    const uint8_t *p = NULL;
    int rc = u64(c, &n, what);
    if (rc == RL_OK && n > max)
        return bad(c, what);
    if (rc == RL_OK)
        rc = take(c, (size_t)n, &p, what);
    if (rc == RL_OK)
        *s = (struct rl_gguf_str){(const char *)p, n};
    return rc;
}

// Bytes of one value of a fixed-size type; 0 for strings, arrays and unknown types.
static size_t value_size(uint32_t t) {
    switch (t) {
    case RL_GGUF_U8:
    case RL_GGUF_I8:
    case RL_GGUF_BOOL: return 1;
    case RL_GGUF_U16:
    case RL_GGUF_I16: return 2;
    case RL_GGUF_U32:
    case RL_GGUF_I32:
    case RL_GGUF_F32: return 4;
    case RL_GGUF_U64:
    case RL_GGUF_I64:
    case RL_GGUF_F64: return 8;
    default: return 0;
    }
}

// ----------------------------------------------------------------------------
// Metadata

static int read_value(struct cursor *c, struct rl_gguf_kv *kv) {
    uint32_t t;
    int rc = u32(c, &t, "a metadata value type is cut off");
    if (rc != RL_OK)
        return rc;
    kv->type = kv->elem = (enum rl_gguf_vtype)t;
    kv->n = 1;
    if (t == RL_GGUF_ARRAY) {
        uint32_t e;
        rc = u32(c, &e, "an array's element type is cut off");
        if (rc == RL_OK)
            rc = u64(c, &kv->n, "an array's length is cut off");
        if (rc != RL_OK)
            return rc;
        if (e == RL_GGUF_ARRAY)
            return rl__errf(c->errbuf, RL_EUNSUPPORTED, "%s: %.*s: arrays of arrays are not read",
                            c->name, (int)(kv->key.len > 200 ? 200 : kv->key.len), kv->key.p);
        kv->elem = (enum rl_gguf_vtype)e;
    }
    if (kv->elem == RL_GGUF_STRING) {
        // Each string takes at least its 8-byte length: a count the rest of the file cannot hold
        // is refused before anything is allocated for it.
        if (kv->n > (c->len - c->at) / 8)
            return bad(c, "a string array is longer than the file");
        kv->strings = malloc((size_t)(kv->n ? kv->n : 1) * sizeof *kv->strings);
        if (!kv->strings)
            return rl__errf(c->errbuf, RL_ENOMEM, "%s: out of memory", c->name);
        for (uint64_t i = 0; i < kv->n && rc == RL_OK; i++)
            rc = str(c, &kv->strings[i], UINT64_MAX, "a string value is cut off");
        return rc;
    }
    size_t size = value_size(kv->elem);
    if (size == 0)
        return rl__errf(c->errbuf, RL_EFORMAT, "%s: unknown metadata value type %u (at byte %zu)",
                        c->name, (unsigned)kv->elem, c->at);
    if (kv->n > (c->len - c->at) / size)
        return bad(c, "a metadata value is longer than the file");
    return take(c, (size_t)kv->n * size, &kv->data, "a metadata value is cut off");
}

// ----------------------------------------------------------------------------
// Names: unique keys and tensor names, found by binary search

static int cmp_str(struct rl_gguf_str a, struct rl_gguf_str b) {
    size_t n = a.len < b.len ? (size_t)a.len : (size_t)b.len;
    int d = memcmp(a.p, b.p, n);
    return d ? d : (a.len > b.len) - (a.len < b.len);
}

// Tensor indices by the names of the tensors in ctx (qsort_r).
static int cmp_tensor_index(const void *a, const void *b, void *ctx) {
    const struct rl_gguf_tensor *t = ctx;
    return cmp_str(t[*(const size_t *)a].name, t[*(const size_t *)b].name);
}

static int cmp_kv(const void *a, const void *b) {
    return cmp_str(((const struct rl_gguf_kv *)a)->key, ((const struct rl_gguf_kv *)b)->key);
}

bool rl__gguf_str_eq(struct rl_gguf_str s, const char *text) {
    size_t n = strlen(text);
    return s.len == n && memcmp(s.p, text, n) == 0;
}

// ----------------------------------------------------------------------------
// Tensors

static int read_tensor(struct cursor *c, struct rl_gguf_tensor *t, uint64_t *offset) {
    uint32_t n_dims, type;
    int rc = str(c, &t->name, RL_GGUF_MAX_KEY, "a tensor name is cut off or too long");
    if (rc == RL_OK)
        rc = u32(c, &n_dims, "a tensor's dimension count is cut off");
    if (rc != RL_OK)
        return rc;
    if (n_dims < 1 || n_dims > RL_GGUF_MAX_DIMS)
        return bad(c, "a tensor has no dimensions or more than 4");
    t->n_dims = (int)n_dims;
    uint64_t count = 1;
    for (int d = 0; d < RL_GGUF_MAX_DIMS; d++) {
        uint64_t ne = 1;
        if (d < t->n_dims && (rc = u64(c, &ne, "a tensor's extents are cut off")) != RL_OK)
            return rc;
        // Each extent and the element count stay below 2^62, so that byte sizes cannot wrap.
        if (ne == 0 || ne > (UINT64_C(1) << 62) / count)
            return bad(c, "a tensor extent is 0 or the tensor is too large");
        count *= ne;
        t->ne[d] = (int64_t)ne;
    }
    if ((rc = u32(c, &type, "a tensor's type is cut off")) != RL_OK ||
        (rc = u64(c, offset, "a tensor's offset is cut off")) != RL_OK)
        return rc;
    int elems, bytes;
    if (!rl__ggml_block(type, &elems, &bytes))
        return rl__errf(c->errbuf, RL_EUNSUPPORTED, "%s: tensor %.*s: unknown ggml type %u",
                        c->name, (int)(t->name.len > 200 ? 200 : t->name.len), t->name.p, type);
    if (t->ne[0] % elems != 0)
        return rl__errf(c->errbuf, RL_EFORMAT,
                        "%s: tensor %.*s: a row of %lld is not whole %s blocks of %d", c->name,
                        (int)(t->name.len > 200 ? 200 : t->name.len), t->name.p,
                        (long long)t->ne[0], rl__ggml_type_name(type), elems);
    t->type = type;
    uint64_t nbytes = count / (uint64_t)elems * (uint64_t)bytes;
    if (nbytes > SIZE_MAX)
        return bad(c, "a tensor is too large");
    t->nbytes = (size_t)nbytes;
    return RL_OK;
}

struct span {
    uint64_t start, end;
};

static int cmp_span(const void *a, const void *b) {
    const struct span *x = a, *y = b;
    return (x->start > y->start) - (x->start < y->start);
}

// Place every tensor in the data section [data, len): aligned, inside, no two overlapping.
static int place_tensors(struct cursor *c, struct rl_gguf *g, const uint64_t *offsets,
                         size_t data) {
    struct span *spans = malloc((g->n_tensors ? g->n_tensors : 1) * sizeof *spans);
    if (!spans)
        return rl__errf(c->errbuf, RL_ENOMEM, "%s: out of memory", c->name);
    size_t room = c->len - data;
    int rc = RL_OK;
    for (size_t i = 0; i < g->n_tensors && rc == RL_OK; i++) {
        struct rl_gguf_tensor *t = &g->tensors[i];
        if (offsets[i] % g->alignment != 0 || offsets[i] > room || t->nbytes > room - offsets[i])
            rc = rl__errf(c->errbuf, RL_EFORMAT,
                          "%s: tensor %.*s: offset %llu and %zu bytes do not fit the %zu-byte "
                          "data section aligned to %u",
                          c->name, (int)(t->name.len > 200 ? 200 : t->name.len), t->name.p,
                          (unsigned long long)offsets[i], t->nbytes, room, g->alignment);
        else
            t->data = c->buf + data + offsets[i];
        spans[i] = (struct span){offsets[i], offsets[i] + t->nbytes};
    }
    if (rc == RL_OK && g->n_tensors > 1) {
        qsort(spans, g->n_tensors, sizeof *spans, cmp_span);
        for (size_t i = 1; i < g->n_tensors && rc == RL_OK; i++)
            if (spans[i].start < spans[i - 1].end)
                rc = rl__errf(c->errbuf, RL_EFORMAT, "%s: two tensors overlap at offset %llu",
                              c->name, (unsigned long long)spans[i].start);
    }
    free(spans);
    return rc;
}

// ----------------------------------------------------------------------------
// The file

void rl__gguf_free(struct rl_gguf *g) {
    for (size_t i = 0; g->kv && i < g->n_kv; i++)
        free(g->kv[i].strings);
    free(g->kv);
    free(g->tensors);
    free(g->by_name);
    rl_mmap_free(&g->map);
    memset(g, 0, sizeof *g);
}

static int read_alignment(struct cursor *c, struct rl_gguf *g) {
    g->alignment = RL_GGUF_DEFAULT_ALIGN;
    const struct rl_gguf_kv *kv = rl__gguf_find(g, "general.alignment");
    if (!kv)
        return RL_OK;
    uint64_t a;
    if (rl__gguf_uint(g, "general.alignment", 1u << 20, &a) != RL_OK || a == 0 || (a & (a - 1)))
        return rl__errf(c->errbuf, RL_EFORMAT,
                        "%s: general.alignment must be a power of two up to 2^20", c->name);
    g->alignment = (uint32_t)a;
    return RL_OK;
}

static int parse(struct cursor *c, struct rl_gguf *g) {
    const uint8_t *magic = NULL;
    uint64_t n_tensors, n_kv;
    int rc = take(c, 4, &magic, "not a GGUF file: shorter than its magic");
    if (rc == RL_OK && memcmp(magic, "GGUF", 4) != 0)
        return rl__errf(c->errbuf, RL_EFORMAT, "%s: not a GGUF file (no GGUF magic)", c->name);
    if (rc == RL_OK)
        rc = u32(c, &g->version, "the version is cut off");
    if (rc == RL_OK && g->version != 2 && g->version != 3)
        return rl__errf(c->errbuf, RL_EUNSUPPORTED,
                        "%s: GGUF version %u (versions 2 and 3 are read)", c->name, g->version);
    if (rc == RL_OK)
        rc = u64(c, &n_tensors, "the tensor count is cut off");
    if (rc == RL_OK)
        rc = u64(c, &n_kv, "the metadata count is cut off");
    if (rc != RL_OK)
        return rc;
    if (n_tensors > RL_GGUF_MAX_TENSORS || n_kv > RL_GGUF_MAX_KV)
        return rl__errf(c->errbuf, RL_ETOOBIG,
                        "%s: %llu tensors and %llu metadata entries (at most %d and %d)", c->name,
                        (unsigned long long)n_tensors, (unsigned long long)n_kv,
                        RL_GGUF_MAX_TENSORS, RL_GGUF_MAX_KV);
    g->kv = calloc(n_kv ? (size_t)n_kv : 1, sizeof *g->kv);
    g->tensors = calloc(n_tensors ? (size_t)n_tensors : 1, sizeof *g->tensors);
    g->by_name = malloc((n_tensors ? (size_t)n_tensors : 1) * sizeof *g->by_name);
    uint64_t *offsets = malloc((n_tensors ? (size_t)n_tensors : 1) * sizeof *offsets);
    if (!g->kv || !g->tensors || !g->by_name || !offsets) {
        free(offsets);
        return rl__errf(c->errbuf, RL_ENOMEM, "%s: out of memory", c->name);
    }
    for (; g->n_kv < n_kv && rc == RL_OK; g->n_kv++) {
        rc = str(c, &g->kv[g->n_kv].key, RL_GGUF_MAX_KEY, "a metadata key is cut off or too long");
        if (rc == RL_OK)
            rc = read_value(c, &g->kv[g->n_kv]);
    }
    // Keys sorted for lookups; a repeated key would make a lookup's answer depend on the order.
    if (rc == RL_OK && g->n_kv > 1) {
        qsort(g->kv, g->n_kv, sizeof *g->kv, cmp_kv);
        for (size_t i = 1; i < g->n_kv && rc == RL_OK; i++)
            if (cmp_str(g->kv[i - 1].key, g->kv[i].key) == 0)
                rc = rl__errf(c->errbuf, RL_EFORMAT, "%s: metadata key %.*s appears twice", c->name,
                              (int)(g->kv[i].key.len > 200 ? 200 : g->kv[i].key.len),
                              g->kv[i].key.p);
    }
    if (rc == RL_OK)
        rc = read_alignment(c, g);
    for (; g->n_tensors < n_tensors && rc == RL_OK; g->n_tensors++) {
        rc = read_tensor(c, &g->tensors[g->n_tensors], &offsets[g->n_tensors]);
        g->by_name[g->n_tensors] = g->n_tensors;
    }
    if (rc == RL_OK && g->n_tensors > 1) {
        qsort_r(g->by_name, g->n_tensors, sizeof *g->by_name, cmp_tensor_index, g->tensors);
        for (size_t i = 1; i < g->n_tensors && rc == RL_OK; i++) {
            struct rl_gguf_str a = g->tensors[g->by_name[i - 1]].name,
                               b = g->tensors[g->by_name[i]].name;
            if (cmp_str(a, b) == 0)
                rc = rl__errf(c->errbuf, RL_EFORMAT, "%s: tensor %.*s appears twice", c->name,
                              (int)(b.len > 200 ? 200 : b.len), b.p);
        }
    }
    if (rc == RL_OK) {
        size_t data = (c->at + g->alignment - 1) / g->alignment * g->alignment;
        if (g->n_tensors > 0 && data > c->len)
            rc = bad(c, "the data section starts past the end of the file");
        else
            rc = place_tensors(c, g, offsets, data < c->len ? data : c->len);
    }
    free(offsets);
    return rc;
}

int rl__gguf_parse(const uint8_t *buf, size_t len, const char *name, struct rl_gguf *g,
                   char *errbuf) {
    memset(g, 0, sizeof *g);
    struct cursor c = {buf, len, 0, name, errbuf};
    int rc = parse(&c, g);
    if (rc != RL_OK)
        rl__gguf_free(g);
    return rc;
}

int rl__gguf_open(const char *path, struct rl_gguf *g, char *errbuf) {
    memset(g, 0, sizeof *g);
    struct rl_mmap map;
    int rc = rl_mmap_open(&map, path, errbuf);
    if (rc != RL_OK)
        return rc;
    rc = rl__gguf_parse(map.data, map.len, path, g, errbuf);
    if (rc != RL_OK)
        rl_mmap_free(&map);
    else
        g->map = map;
    return rc;
}

// ----------------------------------------------------------------------------
// Lookups

const struct rl_gguf_kv *rl__gguf_find(const struct rl_gguf *g, const char *key) {
    struct rl_gguf_kv probe = {.key = {key, strlen(key)}};
    return g->n_kv ? bsearch(&probe, g->kv, g->n_kv, sizeof *g->kv, cmp_kv) : NULL;
}

int rl__gguf_uint(const struct rl_gguf *g, const char *key, uint64_t max, uint64_t *out) {
    const struct rl_gguf_kv *kv = rl__gguf_find(g, key);
    if (!kv)
        return RL_EINVAL;
    if (kv->type == RL_GGUF_ARRAY)
        return RL_EFORMAT;
    uint64_t u = 0;
    int64_t s = 0;
    bool is_signed = false;
    switch (kv->type) {
    case RL_GGUF_U8: u = kv->data[0]; break;
    case RL_GGUF_U16: {
        uint16_t v;
        memcpy(&v, kv->data, 2);
        u = v;
        break;
    }
    case RL_GGUF_U32: {
        uint32_t v;
        memcpy(&v, kv->data, 4);
        u = v;
        break;
    }
    case RL_GGUF_U64: memcpy(&u, kv->data, 8); break;
    case RL_GGUF_I8: s = (int8_t)kv->data[0], is_signed = true; break;
    case RL_GGUF_I16: {
        int16_t v;
        memcpy(&v, kv->data, 2);
        s = v, is_signed = true;
        break;
    }
    case RL_GGUF_I32: {
        int32_t v;
        memcpy(&v, kv->data, 4);
        s = v, is_signed = true;
        break;
    }
    case RL_GGUF_I64: memcpy(&s, kv->data, 8), is_signed = true; break;
    default: return RL_EFORMAT;
    }
    if (is_signed) {
        if (s < 0)
            return RL_EFORMAT;
        u = (uint64_t)s;
    }
    if (u > max)
        return RL_EFORMAT;
    *out = u;
    return RL_OK;
}

int rl__gguf_float(const struct rl_gguf *g, const char *key, double *out) {
    const struct rl_gguf_kv *kv = rl__gguf_find(g, key);
    if (!kv)
        return RL_EINVAL;
    if (kv->type == RL_GGUF_F32) {
        float f;
        memcpy(&f, kv->data, 4);
        *out = f;
    } else if (kv->type == RL_GGUF_F64) {
        memcpy(out, kv->data, 8);
    } else {
        return RL_EFORMAT;
    }
    return RL_OK;
}

int rl__gguf_bool(const struct rl_gguf *g, const char *key, bool *out) {
    const struct rl_gguf_kv *kv = rl__gguf_find(g, key);
    if (!kv)
        return RL_EINVAL;
    if (kv->type != RL_GGUF_BOOL || kv->data[0] > 1)
        return RL_EFORMAT;
    *out = kv->data[0] == 1;
    return RL_OK;
}

int rl__gguf_string(const struct rl_gguf *g, const char *key, struct rl_gguf_str *out) {
    const struct rl_gguf_kv *kv = rl__gguf_find(g, key);
    if (!kv)
        return RL_EINVAL;
    if (kv->type != RL_GGUF_STRING)
        return RL_EFORMAT;
    *out = kv->strings[0];
    return RL_OK;
}

const struct rl_gguf_tensor *rl__gguf_tensor(const struct rl_gguf *g, const char *name) {
    struct rl_gguf_str want = {name, strlen(name)};
    size_t lo = 0, hi = g->n_tensors;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int d = cmp_str(g->tensors[g->by_name[mid]].name, want);
        if (d == 0)
            return &g->tensors[g->by_name[mid]];
        if (d < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}
