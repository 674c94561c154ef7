// safetensors reader and writer. The reader maps the file and checks everything it will later
// hand out: header length against the file size and a cap, the JSON (jansson, with the position
// of a syntax error), known dtypes, non-negative shapes whose byte size matches the offsets
// without overflow, and offsets that tile the data area exactly (sorted, no gap, no overlap), as
// the reference implementation requires. It does not convert dtypes; callers do.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <jansson.h>

#include "core/core.h"
#include "core/safetensors.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors data is little-endian; this reader hands it out without swapping"
#endif

// Tensor names in messages are cut to this many bytes so that the file name still fits.
#define NAME_FMT "%.80s"

struct meta_entry {
    char *key;
    char *value;
};

struct rl_safetensors {
    char *path;
    struct rl_mmap map;
    struct rl_tensor *tensors; // (n_tensors), sorted by data offset
    size_t n_tensors;
    struct meta_entry *meta; // (n_meta)
    size_t n_meta;
    void **copies; // heap copies of tensors whose mapped bytes were misaligned (n_copies)
    size_t n_copies;
};

// ----------------------------------------------------------------------------
// dtypes

static const struct {
    const char *name;
    size_t size;
} dtype_info[] = {
    [RL_DTYPE_F32] = {"F32", 4},   [RL_DTYPE_F16] = {"F16", 2}, [RL_DTYPE_BF16] = {"BF16", 2},
    [RL_DTYPE_F64] = {"F64", 8},   [RL_DTYPE_I64] = {"I64", 8}, [RL_DTYPE_I32] = {"I32", 4},
    [RL_DTYPE_I16] = {"I16", 2},   [RL_DTYPE_I8] = {"I8", 1},   [RL_DTYPE_U64] = {"U64", 8},
    [RL_DTYPE_U32] = {"U32", 4},   [RL_DTYPE_U16] = {"U16", 2}, [RL_DTYPE_U8] = {"U8", 1},
    [RL_DTYPE_BOOL] = {"BOOL", 1},
};

size_t rl_dtype_size(enum rl_dtype dtype) {
    if ((unsigned)dtype >= RL_COUNTOF(dtype_info))
        return 0;
    return dtype_info[dtype].size;
}

const char *rl_dtype_name(enum rl_dtype dtype) {
    if ((unsigned)dtype >= RL_COUNTOF(dtype_info))
        return "?";
    return dtype_info[dtype].name;
}

static int dtype_parse(const char *s, enum rl_dtype *out) {
    for (size_t i = 0; i < RL_COUNTOF(dtype_info); i++) {
        if (strcmp(s, dtype_info[i].name) == 0) {
            *out = (enum rl_dtype)i;
            return RL_OK;
        }
    }
    return RL_EFORMAT;
}

// Byte size of a tensor into *out; RL_ETOOBIG when a dimension is negative or it overflows.
static int shape_nbytes(const int64_t *shape, int n_dims, size_t elem, uint64_t *out) {
    uint64_t total = elem;
    for (int i = 0; i < n_dims; i++) {
        if (shape[i] < 0 || __builtin_mul_overflow(total, (uint64_t)shape[i], &total))
            return RL_ETOOBIG;
    }
    *out = total;
    return RL_OK;
}

// ----------------------------------------------------------------------------
// Reader

static int parse_meta(const char *path, json_t *obj, struct rl_safetensors *st, char *errbuf) {
    if (!json_is_object(obj))
        return rl__errf(errbuf, RL_EFORMAT, "%s: \"__metadata__\" is not an object", path);
    st->meta = calloc(json_object_size(obj) + 1, sizeof *st->meta);
    if (!st->meta)
        return RL_ENOMEM;
    const char *key;
    json_t *val;
    json_object_foreach(obj, key, val) {
        if (!json_is_string(val))
            return rl__errf(errbuf, RL_EFORMAT, "%s: metadata \"" NAME_FMT "\" is not a string",
                            path, key);
        struct meta_entry *m = &st->meta[st->n_meta];
        m->key = strdup(key);
        m->value = strdup(json_string_value(val));
        st->n_meta++;
        if (!m->key || !m->value)
            return RL_ENOMEM;
    }
    return RL_OK;
}

static int json_get_u64(json_t *v, uint64_t *out) {
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return RL_EFORMAT;
    *out = (uint64_t)json_integer_value(v);
    return RL_OK;
}

// Parse one tensor entry into t (name already set) and its offsets.
static int parse_tensor(const char *path, const char *name, json_t *obj, struct rl_tensor *t,
                        uint64_t off[2], char *errbuf) {
    if (!json_is_object(obj))
        return rl__errf(errbuf, RL_EFORMAT, "%s: tensor \"" NAME_FMT "\": entry is not an object",
                        path, name);
    json_t *dtype = json_object_get(obj, "dtype");
    json_t *shape = json_object_get(obj, "shape");
    json_t *offsets = json_object_get(obj, "data_offsets");
    if (!json_is_string(dtype))
        return rl__errf(errbuf, RL_EFORMAT,
                        "%s: tensor \"" NAME_FMT "\": \"dtype\" is missing or not a string", path,
                        name);
    if (dtype_parse(json_string_value(dtype), &t->dtype) != RL_OK)
        return rl__errf(errbuf, RL_EFORMAT, "%s: tensor \"" NAME_FMT "\": unknown dtype \"%.16s\"",
                        path, name, json_string_value(dtype));
    if (!json_is_array(shape))
        return rl__errf(errbuf, RL_EFORMAT,
                        "%s: tensor \"" NAME_FMT "\": \"shape\" is missing or not an array", path,
                        name);
    if (json_array_size(shape) > RL_TENSOR_MAX_DIMS)
        return rl__errf(errbuf, RL_EFORMAT, "%s: tensor \"" NAME_FMT "\": %zu dimensions (max %d)",
                        path, name, json_array_size(shape), RL_TENSOR_MAX_DIMS);
    t->n_dims = (int)json_array_size(shape);
    for (int i = 0; i < t->n_dims; i++) {
        json_t *d = json_array_get(shape, (size_t)i);
        if (!json_is_integer(d) || json_integer_value(d) < 0)
            return rl__errf(errbuf, RL_EFORMAT,
                            "%s: tensor \"" NAME_FMT "\": shape[%d] is not a non-negative integer",
                            path, name, i);
        t->shape[i] = json_integer_value(d);
    }
    if (!json_is_array(offsets) || json_array_size(offsets) != 2 ||
        json_get_u64(json_array_get(offsets, 0), &off[0]) != RL_OK ||
        json_get_u64(json_array_get(offsets, 1), &off[1]) != RL_OK)
        return rl__errf(errbuf, RL_EFORMAT,
                        "%s: tensor \"" NAME_FMT
                        "\": \"data_offsets\" is not two non-negative integers",
                        path, name);
    if (off[1] < off[0])
        return rl__errf(errbuf, RL_EFORMAT,
                        "%s: tensor \"" NAME_FMT "\": data_offsets [%llu, %llu] end before begin",
                        path, name, (unsigned long long)off[0], (unsigned long long)off[1]);
    uint64_t nbytes;
    if (shape_nbytes(t->shape, t->n_dims, rl_dtype_size(t->dtype), &nbytes) != RL_OK)
        return rl__errf(errbuf, RL_EFORMAT, "%s: tensor \"" NAME_FMT "\": shape size overflows",
                        path, name);
    if (nbytes != off[1] - off[0])
        return rl__errf(errbuf, RL_EFORMAT,
                        "%s: tensor \"" NAME_FMT "\": shape needs %llu bytes but data_offsets "
                        "span %llu",
                        path, name, (unsigned long long)nbytes,
                        (unsigned long long)(off[1] - off[0]));
    t->nbytes = (size_t)nbytes;
    return RL_OK;
}

struct tensor_slot {
    struct rl_tensor t;
    uint64_t off[2];
};

static int slot_cmp(const void *a, const void *b) {
    const struct tensor_slot *x = a, *y = b;
    if (x->off[0] != y->off[0])
        return x->off[0] < y->off[0] ? -1 : 1;
    if (x->off[1] != y->off[1])
        return x->off[1] < y->off[1] ? -1 : 1;
    return 0;
}

// Check that the sorted slots tile [0, data_len) and point each tensor at its bytes.
static int place_tensors(const char *path, struct tensor_slot *slots, size_t n,
                         const unsigned char *data, uint64_t data_len, char *errbuf) {
    qsort(slots, n, sizeof *slots, slot_cmp);
    uint64_t pos = 0;
    const char *prev = NULL;
    for (size_t i = 0; i < n; i++) {
        struct tensor_slot *s = &slots[i];
        if (s->off[0] < pos)
            return rl__errf(errbuf, RL_EFORMAT,
                            "%s: tensor \"" NAME_FMT "\" overlaps tensor \"" NAME_FMT "\"", path,
                            s->t.name, prev);
        if (s->off[0] > pos)
            return rl__errf(errbuf, RL_EFORMAT,
                            "%s: tensor \"" NAME_FMT "\" starts at %llu, leaving a gap after %llu",
                            path, s->t.name, (unsigned long long)s->off[0],
                            (unsigned long long)pos);
        if (s->off[1] > data_len)
            return rl__errf(errbuf, RL_EFORMAT,
                            "%s: tensor \"" NAME_FMT "\" ends at %llu, past the data area (%llu "
                            "bytes)",
                            path, s->t.name, (unsigned long long)s->off[1],
                            (unsigned long long)data_len);
        s->t.data = data + s->off[0];
        pos = s->off[1];
        prev = s->t.name;
    }
    if (pos != data_len)
        return rl__errf(errbuf, RL_EFORMAT, "%s: tensors cover %llu bytes of a %llu-byte data area",
                        path, (unsigned long long)pos, (unsigned long long)data_len);
    return RL_OK;
}

// Mapped tensors are aligned when the writer padded the header (all known writers do); copy the
// rest so that callers can always read elements through a typed pointer.
static int align_tensors(struct rl_safetensors *st) {
    for (size_t i = 0; i < st->n_tensors; i++) {
        struct rl_tensor *t = &st->tensors[i];
        size_t elem = rl_dtype_size(t->dtype);
        if (t->nbytes == 0 || (uintptr_t)t->data % elem == 0)
            continue;
        if (!st->copies) {
            st->copies = calloc(st->n_tensors, sizeof *st->copies);
            if (!st->copies)
                return RL_ENOMEM;
        }
        void *copy = malloc(t->nbytes);
        if (!copy)
            return RL_ENOMEM;
        memcpy(copy, t->data, t->nbytes);
        st->copies[st->n_copies++] = copy;
        t->data = copy;
    }
    return RL_OK;
}

static int parse_header(struct rl_safetensors *st, const char *header, size_t header_len,
                        const unsigned char *data, uint64_t data_len, char *errbuf) {
    const char *path = st->path;
    json_error_t jerr;
    json_t *root = json_loadb(header, header_len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return rl__errf(errbuf, RL_EFORMAT, "%s: header JSON: %s (line %d, column %d)", path,
                        jerr.text, jerr.line, jerr.column);
    int rc = RL_OK;
    struct tensor_slot *slots = NULL;
    if (!json_is_object(root)) {
        rc = rl__errf(errbuf, RL_EFORMAT, "%s: header JSON is not an object", path);
        goto done;
    }
    slots = calloc(json_object_size(root) + 1, sizeof *slots);
    if (!slots) {
        rc = RL_ENOMEM;
        goto done;
    }
    size_t n = 0;
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val) {
        if (strcmp(key, "__metadata__") == 0) {
            rc = parse_meta(path, val, st, errbuf);
        } else {
            slots[n].t.name = key;
            rc = parse_tensor(path, key, val, &slots[n].t, slots[n].off, errbuf);
            n++;
        }
        if (rc < 0)
            goto done;
    }
    rc = place_tensors(path, slots, n, data, data_len, errbuf);
    if (rc < 0)
        goto done;
    st->tensors = calloc(n + 1, sizeof *st->tensors);
    if (!st->tensors) {
        rc = RL_ENOMEM;
        goto done;
    }
    // Names are copied out of the JSON document, which is freed below.
    for (size_t i = 0; i < n; i++) {
        st->tensors[i] = slots[i].t;
        st->tensors[i].name = strdup(slots[i].t.name);
        st->n_tensors++;
        if (!st->tensors[i].name) {
            rc = RL_ENOMEM;
            goto done;
        }
    }
    rc = align_tensors(st);
done:
    free(slots);
    json_decref(root);
    if (rc == RL_ENOMEM)
        rl__errf(errbuf, rc, "%s: out of memory reading the header", path);
    return rc;
}

static uint64_t read_le64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

struct rl_safetensors *rl_safetensors_open(const char *path, char *errbuf) {
    struct rl_safetensors *st = calloc(1, sizeof *st);
    char *copy = strdup(path);
    if (!st || !copy) {
        free(st);
        free(copy);
        rl__errf(errbuf, RL_ENOMEM, "%s: out of memory", path);
        return NULL;
    }
    st->path = copy;
    if (rl_mmap_open(&st->map, path, errbuf) != RL_OK)
        goto fail;
    const unsigned char *p = st->map.data;
    size_t len = st->map.len;
    if (len < 8) {
        rl__errf(errbuf, RL_EFORMAT, "%s: " RL_SAFETENSORS_NOT "%zu bytes are too short", path,
                 len);
        goto fail;
    }
    uint64_t header_len = read_le64(p);
    if (header_len > RL_SAFETENSORS_MAX_HEADER) {
        rl__errf(errbuf, RL_EFORMAT,
                 "%s: " RL_SAFETENSORS_NOT "header length %llu exceeds the limit of %u bytes", path,
                 (unsigned long long)header_len, RL_SAFETENSORS_MAX_HEADER);
        goto fail;
    }
    if (header_len > len - 8) {
        rl__errf(errbuf, RL_EFORMAT,
                 "%s: " RL_SAFETENSORS_NOT
                 "header length %llu runs past the end of the file (%zu bytes)",
                 path, (unsigned long long)header_len, len);
        goto fail;
    }
    if (header_len == 0 || p[8] != '{') {
        rl__errf(errbuf, RL_EFORMAT, "%s: " RL_SAFETENSORS_NOT "header does not start with '{'",
                 path);
        goto fail;
    }
    if (parse_header(st, (const char *)p + 8, (size_t)header_len, p + 8 + header_len,
                     len - 8 - header_len, errbuf) != RL_OK)
        goto fail;
    return st;
fail:
    rl_safetensors_free(st);
    return NULL;
}

void rl_safetensors_free(struct rl_safetensors *st) {
    if (!st)
        return;
    for (size_t i = 0; i < st->n_tensors; i++)
        free((char *)st->tensors[i].name);
    free(st->tensors);
    for (size_t i = 0; i < st->n_meta; i++) {
        free(st->meta[i].key);
        free(st->meta[i].value);
    }
    free(st->meta);
    for (size_t i = 0; i < st->n_copies; i++)
        free(st->copies[i]);
    free(st->copies);
    rl_mmap_free(&st->map);
    free(st->path);
    free(st);
}

const char *rl_safetensors_path(const struct rl_safetensors *st) {
    return st->path;
}

size_t rl_safetensors_n_tensors(const struct rl_safetensors *st) {
    return st->n_tensors;
}

const struct rl_tensor *rl_safetensors_tensor(const struct rl_safetensors *st, size_t i) {
    return i < st->n_tensors ? &st->tensors[i] : NULL;
}

const struct rl_tensor *rl_safetensors_find(const struct rl_safetensors *st, const char *name) {
    for (size_t i = 0; i < st->n_tensors; i++)
        if (strcmp(st->tensors[i].name, name) == 0)
            return &st->tensors[i];
    return NULL;
}

const char *rl_safetensors_meta(const struct rl_safetensors *st, const char *key) {
    for (size_t i = 0; i < st->n_meta; i++)
        if (strcmp(st->meta[i].key, key) == 0)
            return st->meta[i].value;
    return NULL;
}

void rl_safetensors_release(const struct rl_safetensors *st, const struct rl_tensor *t) {
    uintptr_t p = (uintptr_t)t->data, base = (uintptr_t)st->map.data;
    if (!base || p < base || p + t->nbytes > base + st->map.len)
        return; // a heap copy, or not from this file
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t lo = (p + page - 1) / page * page;
    uintptr_t hi = (p + t->nbytes) / page * page;
    if (hi > lo)
        madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

// Format a shape as "[a, b]" (negative entries, meaning any size, as "*") into buf.
static const char *shape_str(char *buf, size_t size, const int64_t *shape, int n_dims) {
    size_t pos = 0;
    int w = snprintf(buf, size, "[");
    pos += w > 0 ? (size_t)w : 0;
    for (int i = 0; i < n_dims && pos < size; i++) {
        const char *sep = i ? ", " : "";
        if (shape[i] < 0)
            w = snprintf(buf + pos, size - pos, "%s*", sep);
        else
            w = snprintf(buf + pos, size - pos, "%s%lld", sep, (long long)shape[i]);
        pos += w > 0 ? (size_t)w : 0;
    }
    if (pos < size)
        snprintf(buf + pos, size - pos, "]");
    return buf;
}

int rl_safetensors_expect(const struct rl_safetensors *st, const char *name, enum rl_dtype dtype,
                          int n_dims, const int64_t *shape, const struct rl_tensor **out,
                          char *errbuf) {
    const struct rl_tensor *t = rl_safetensors_find(st, name);
    if (!t)
        return rl__errf(errbuf, RL_EFORMAT, "%s: tensor \"" NAME_FMT "\" is missing", st->path,
                        name);
    if (t->dtype != dtype)
        return rl__errf(errbuf, RL_EFORMAT, "%s: tensor \"" NAME_FMT "\" is %s, expected %s",
                        st->path, name, rl_dtype_name(t->dtype), rl_dtype_name(dtype));
    bool same = t->n_dims == n_dims;
    for (int i = 0; same && i < n_dims; i++)
        same = shape[i] < 0 || shape[i] == t->shape[i];
    if (!same) {
        char got[64], want[64];
        return rl__errf(errbuf, RL_EFORMAT, "%s: tensor \"" NAME_FMT "\" has shape %s, expected %s",
                        st->path, name, shape_str(got, sizeof got, t->shape, t->n_dims),
                        shape_str(want, sizeof want, shape, n_dims));
    }
    *out = t;
    return RL_OK;
}

// ----------------------------------------------------------------------------
// Writer

static int check_tensor(const char *path, const struct rl_tensor *t, char *errbuf) {
    if (!t->name || strcmp(t->name, "__metadata__") == 0)
        return rl__errf(errbuf, RL_EINVAL, "%s: invalid tensor name", path);
    if (rl_dtype_size(t->dtype) == 0 || t->n_dims < 0 || t->n_dims > RL_TENSOR_MAX_DIMS)
        return rl__errf(errbuf, RL_EINVAL, "%s: tensor \"" NAME_FMT "\": bad dtype or rank", path,
                        t->name);
    uint64_t nbytes;
    if (shape_nbytes(t->shape, t->n_dims, rl_dtype_size(t->dtype), &nbytes) != RL_OK ||
        nbytes != t->nbytes || (t->nbytes && !t->data))
        return rl__errf(errbuf, RL_EINVAL,
                        "%s: tensor \"" NAME_FMT "\": nbytes %zu does not match its shape", path,
                        t->name, t->nbytes);
    return RL_OK;
}

// Tensors are laid out by decreasing element size, so that every tensor's offset is a multiple
// of its element size and the reader can hand out typed pointers into the map.
static int order_cmp(const void *a, const void *b) {
    const struct rl_tensor *const *x = a, *const *y = b;
    size_t sx = rl_dtype_size((*x)->dtype), sy = rl_dtype_size((*y)->dtype);
    if (sx != sy)
        return sx > sy ? -1 : 1;
    return *x < *y ? -1 : (*x > *y);
}

// Build the padded header: JSON, then spaces up to a multiple of 8 bytes (counting the length).
static int build_header(const char *path, const struct rl_tensor **order, size_t n,
                        const char *const *meta, char **out, size_t *out_len, char *errbuf) {
    json_t *root = json_object();
    int rc = root ? RL_OK : RL_ENOMEM;
    if (rc == RL_OK && meta && meta[0]) {
        json_t *m = json_object();
        rc = json_object_set_new(root, "__metadata__", m) == 0 ? RL_OK : RL_ENOMEM;
        for (size_t i = 0; rc == RL_OK && meta[i]; i += 2) {
            if (!meta[i + 1])
                rc = rl__errf(errbuf, RL_EINVAL, "%s: metadata key \"%.64s\" has no value", path,
                              meta[i]);
            else if (json_object_set_new(m, meta[i], json_string(meta[i + 1])) != 0)
                rc = rl__errf(errbuf, RL_EINVAL, "%s: metadata \"%.64s\" is not valid UTF-8", path,
                              meta[i]);
        }
    }
    uint64_t off = 0;
    for (size_t i = 0; rc == RL_OK && i < n; i++) {
        const struct rl_tensor *t = order[i];
        if (json_object_get(root, t->name)) {
            rc =
                rl__errf(errbuf, RL_EINVAL, "%s: duplicate tensor \"" NAME_FMT "\"", path, t->name);
            break;
        }
        json_t *shape = json_array();
        for (int d = 0; shape && d < t->n_dims; d++)
            json_array_append_new(shape, json_integer(t->shape[d]));
        json_t *entry =
            json_pack("{s:s, s:o, s:[I, I]}", "dtype", rl_dtype_name(t->dtype), "shape", shape,
                      "data_offsets", (json_int_t)off, (json_int_t)(off + t->nbytes));
        off += t->nbytes;
        if (!entry || json_object_set_new(root, t->name, entry) != 0)
            rc = rl__errf(errbuf, RL_EINVAL, "%s: tensor \"" NAME_FMT "\": invalid name", path,
                          t->name);
    }
    char *json = rc == RL_OK ? json_dumps(root, JSON_COMPACT) : NULL;
    json_decref(root);
    if (rc != RL_OK)
        return rc;
    if (!json)
        return rl__errf(errbuf, RL_ENOMEM, "%s: out of memory", path);
    size_t len = strlen(json);
    size_t padded = (len + 8 + 7) / 8 * 8 - 8;
    char *header = realloc(json, padded + 1);
    if (!header) {
        free(json);
        return rl__errf(errbuf, RL_ENOMEM, "%s: out of memory", path);
    }
    memset(header + len, ' ', padded - len);
    header[padded] = '\0';
    *out = header;
    *out_len = padded;
    return RL_OK;
}

int rl_safetensors_write(const char *path, const struct rl_tensor *tensors, size_t n,
                         const char *const *meta, char *errbuf) {
    for (size_t i = 0; i < n; i++) {
        int rc = check_tensor(path, &tensors[i], errbuf);
        if (rc < 0)
            return rc;
    }
    const struct rl_tensor **order = calloc(n + 1, sizeof *order);
    if (!order)
        return rl__errf(errbuf, RL_ENOMEM, "%s: out of memory", path);
    for (size_t i = 0; i < n; i++)
        order[i] = &tensors[i];
    qsort(order, n, sizeof *order, order_cmp);
    char *header = NULL;
    size_t header_len = 0;
    int rc = build_header(path, order, n, meta, &header, &header_len, errbuf);
    if (rc < 0) {
        free(order);
        return rc;
    }

    char tmp[4096];
    int w = snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = NULL;
    if (w < 0 || (size_t)w >= sizeof tmp) {
        rc = rl__errf(errbuf, RL_ETOOBIG, "%s: path too long", path);
        goto done;
    }
    f = fopen(tmp, "wb");
    if (!f) {
        rc = rl__errf(errbuf, RL_EIO, "%s: cannot create: %s", tmp, strerror(errno));
        goto done;
    }
    unsigned char len8[8];
    for (int i = 0; i < 8; i++)
        len8[i] = (unsigned char)((uint64_t)header_len >> (8 * i));
    bool ok = fwrite(len8, 1, 8, f) == 8 && fwrite(header, 1, header_len, f) == header_len;
    for (size_t i = 0; ok && i < n; i++)
        ok = order[i]->nbytes == 0 ||
             fwrite(order[i]->data, 1, order[i]->nbytes, f) == order[i]->nbytes;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        rc = rl__errf(errbuf, RL_EIO, "%s: cannot write: %s", path, strerror(e));
    }
done:
    free(header);
    free(order);
    return rc;
}
