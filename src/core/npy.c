// .npy reader and writers for 2-D float32 arrays. The header is a Python dict literal; the reader
// parses just the subset numpy writes ('descr', 'fortran_order', 'shape' with string, boolean
// and integer-tuple values) and rejects anything else, so a hostile header cannot make it guess.
// Format: https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/core.h"
#include "core/npy.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "npy '<f4' data is little-endian; this code reads and writes it without swapping"
#endif

static const char npy_magic[6] = {'\x93', 'N', 'U', 'M', 'P', 'Y'};

// Every file this module writes has a 128-byte preamble (magic, version, length, dict, padding),
// a multiple of 64 as numpy requires, with room for two 20-digit dimensions. A fixed size lets
// the streaming writer rewrite the header in place once the row count is known.
#define NPY_PREAMBLE 128

// ----------------------------------------------------------------------------
// Header parsing

struct npy_header {
    bool have_descr, have_order, have_shape;
    bool descr_f4, fortran;
    int n_dims;
    unsigned long long shape[2];
};

struct cursor {
    const char *p, *end;
};

static void skip_ws(struct cursor *c) {
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

static bool eat(struct cursor *c, char ch) {
    skip_ws(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return true;
    }
    return false;
}

// A quoted Python string without escapes (numpy never writes any) into out.
static bool parse_str(struct cursor *c, char *out, size_t size) {
    skip_ws(c);
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"'))
        return false;
    char q = *c->p++;
    size_t n = 0;
    while (c->p < c->end && *c->p != q) {
        if (*c->p == '\\' || n + 1 >= size)
            return false;
        out[n++] = *c->p++;
    }
    if (c->p >= c->end)
        return false;
    c->p++;
    out[n] = '\0';
    return true;
}

static bool parse_word(struct cursor *c, const char *word) {
    skip_ws(c);
    size_t n = strlen(word);
    if ((size_t)(c->end - c->p) >= n && memcmp(c->p, word, n) == 0) {
        c->p += n;
        return true;
    }
    return false;
}

// "(a, b)" / "(a,)" / "()" into h->shape; more than two dimensions are counted but not stored.
static bool parse_shape(struct cursor *c, struct npy_header *h) {
    if (!eat(c, '('))
        return false;
    h->n_dims = 0;
    for (;;) {
        skip_ws(c);
        if (eat(c, ')'))
            return true;
        if (c->p >= c->end || !isdigit((unsigned char)*c->p))
            return false;
        unsigned long long v = 0;
        while (c->p < c->end && isdigit((unsigned char)*c->p)) {
            unsigned d = (unsigned)(*c->p++ - '0');
            if (v > (~0ull - d) / 10)
                return false;
            v = v * 10 + d;
        }
        if (h->n_dims < 2)
            h->shape[h->n_dims] = v;
        h->n_dims++;
        if (h->n_dims > 32)
            return false;
        if (!eat(c, ','))
            return eat(c, ')');
    }
}

static bool parse_dict(const char *s, size_t len, struct npy_header *h) {
    struct cursor c = {s, s + len};
    memset(h, 0, sizeof *h);
    if (!eat(&c, '{'))
        return false;
    for (;;) {
        if (eat(&c, '}'))
            break;
        char key[32], val[32];
        if (!parse_str(&c, key, sizeof key) || !eat(&c, ':'))
            return false;
        if (strcmp(key, "descr") == 0 && !h->have_descr) {
            if (!parse_str(&c, val, sizeof val))
                return false;
            h->have_descr = true;
            h->descr_f4 = strcmp(val, "<f4") == 0;
        } else if (strcmp(key, "fortran_order") == 0 && !h->have_order) {
            h->have_order = true;
            if (parse_word(&c, "True"))
                h->fortran = true;
            else if (!parse_word(&c, "False"))
                return false;
        } else if (strcmp(key, "shape") == 0 && !h->have_shape) {
            h->have_shape = true;
            if (!parse_shape(&c, h))
                return false;
        } else {
            return false;
        }
        if (eat(&c, ','))
            continue;
        if (!eat(&c, '}'))
            return false;
        break;
    }
    skip_ws(&c);
    return c.p == c.end && h->have_descr && h->have_order && h->have_shape;
}

// ----------------------------------------------------------------------------
// Reader

int rl_npy_read_f32(const char *path, float **data, size_t *rows, size_t *cols, char *errbuf) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return rl__errf(errbuf, RL_EIO, "%s: cannot open: %s", path, strerror(errno));
    int rc = RL_EFORMAT;
    char *header = NULL;
    float *out = NULL;
    struct stat st;
    unsigned char pre[12];
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = rl__errf(errbuf, RL_EIO, "%s: not a regular file", path);
        goto done;
    }
    if (fread(pre, 1, 10, f) != 10 || memcmp(pre, npy_magic, 6) != 0) {
        rl__errf(errbuf, rc, "%s: not a .npy file (bad magic)", path);
        goto done;
    }
    unsigned major = pre[6];
    size_t header_len, preamble;
    if (major == 1) {
        header_len = (size_t)pre[8] | (size_t)pre[9] << 8;
        preamble = 10;
    } else if (major == 2 || major == 3) {
        if (fread(pre + 10, 1, 2, f) != 2) {
            rl__errf(errbuf, rc, "%s: truncated header", path);
            goto done;
        }
        header_len =
            (size_t)pre[8] | (size_t)pre[9] << 8 | (size_t)pre[10] << 16 | (size_t)pre[11] << 24;
        preamble = 12;
    } else {
        rl__errf(errbuf, rc, "%s: unsupported .npy format version %u.%u", path, major, pre[7]);
        goto done;
    }
    if (header_len > RL_NPY_MAX_HEADER) {
        rl__errf(errbuf, rc, "%s: header of %zu bytes exceeds the limit of %d", path, header_len,
                 RL_NPY_MAX_HEADER);
        goto done;
    }
    header = malloc(header_len + 1);
    if (!header) {
        rc = rl__errf(errbuf, RL_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    if (fread(header, 1, header_len, f) != header_len) {
        rl__errf(errbuf, rc, "%s: truncated header", path);
        goto done;
    }
    header[header_len] = '\0';
    struct npy_header h;
    if (!parse_dict(header, header_len, &h)) {
        rl__errf(errbuf, rc, "%s: malformed header dict", path);
        goto done;
    }
    if (!h.descr_f4 || h.fortran || h.n_dims != 2) {
        rl__errf(errbuf, rc, "%s: expected a 2-D '<f4' array in C order, found %s%d-D%s", path,
                 h.descr_f4 ? "" : "another dtype, ", h.n_dims, h.fortran ? ", Fortran order" : "");
        goto done;
    }
    unsigned long long nbytes;
    if (__builtin_mul_overflow(h.shape[0], h.shape[1], &nbytes) ||
        __builtin_mul_overflow(nbytes, 4ull, &nbytes) ||
        (unsigned long long)st.st_size < preamble + header_len ||
        (unsigned long long)st.st_size - (preamble + header_len) != nbytes) {
        rl__errf(errbuf, rc, "%s: shape (%llu, %llu) does not match the file size (%lld bytes)",
                 path, h.shape[0], h.shape[1], (long long)st.st_size);
        goto done;
    }
    out = malloc(nbytes ? (size_t)nbytes : 1);
    if (!out) {
        rc = rl__errf(errbuf, RL_ENOMEM, "%s: out of memory for %llu bytes", path, nbytes);
        goto done;
    }
    if (fread(out, 1, (size_t)nbytes, f) != nbytes) {
        rc = rl__errf(errbuf, RL_EIO, "%s: read error", path);
        goto done;
    }
    *data = out;
    *rows = (size_t)h.shape[0];
    *cols = (size_t)h.shape[1];
    out = NULL;
    rc = RL_OK;
done:
    free(out);
    free(header);
    fclose(f);
    return rc;
}

// ----------------------------------------------------------------------------
// Writers

struct rl_npy_writer {
    FILE *f;
    char *path;
    char *tmp;
    size_t cols;
    size_t rows;
};

// The fixed-size preamble for a rows × cols array.
static void make_preamble(unsigned char out[NPY_PREAMBLE], size_t rows, size_t cols) {
    char dict[NPY_PREAMBLE];
    int n = snprintf(dict, sizeof dict,
                     "{'descr': '<f4', 'fortran_order': False, 'shape': (%zu, %zu), }", rows, cols);
    RL_ASSERT(n > 0 && n < NPY_PREAMBLE - 10);
    memcpy(out, npy_magic, 6);
    out[6] = 1;
    out[7] = 0;
    out[8] = (unsigned char)((NPY_PREAMBLE - 10) & 0xff);
    out[9] = (unsigned char)((NPY_PREAMBLE - 10) >> 8);
    memset(out + 10, ' ', NPY_PREAMBLE - 10);
    memcpy(out + 10, dict, (size_t)n);
    out[NPY_PREAMBLE - 1] = '\n';
}

struct rl_npy_writer *rl_npy_writer_open(const char *path, size_t cols, char *errbuf) {
    struct rl_npy_writer *w = calloc(1, sizeof *w);
    size_t tmp_size = strlen(path) + 32;
    if (w) {
        w->path = strdup(path);
        w->tmp = malloc(tmp_size);
    }
    if (!w || !w->path || !w->tmp) {
        rl__errf(errbuf, RL_ENOMEM, "%s: out of memory", path);
        goto fail;
    }
    snprintf(w->tmp, tmp_size, "%s.tmp.%ld", path, (long)getpid());
    w->cols = cols;
    w->f = fopen(w->tmp, "wb");
    if (!w->f) {
        rl__errf(errbuf, RL_EIO, "%s: cannot create: %s", w->tmp, strerror(errno));
        goto fail;
    }
    unsigned char pre[NPY_PREAMBLE];
    make_preamble(pre, 0, cols);
    if (fwrite(pre, 1, sizeof pre, w->f) != sizeof pre) {
        rl__errf(errbuf, RL_EIO, "%s: cannot write: %s", w->tmp, strerror(errno));
        goto fail;
    }
    return w;
fail:
    rl_npy_writer_abort(w);
    return NULL;
}

int rl_npy_writer_append(struct rl_npy_writer *w, const float *rows, size_t n, char *errbuf) {
    size_t count;
    if (__builtin_mul_overflow(n, w->cols, &count))
        return rl__errf(errbuf, RL_ETOOBIG, "%s: %zu rows of %zu columns overflow", w->path, n,
                        w->cols);
    if (count && fwrite(rows, sizeof(float), count, w->f) != count)
        return rl__errf(errbuf, RL_EIO, "%s: cannot write: %s", w->tmp, strerror(errno));
    w->rows += n;
    return RL_OK;
}

int rl_npy_writer_commit(struct rl_npy_writer *w, char *errbuf) {
    unsigned char pre[NPY_PREAMBLE];
    make_preamble(pre, w->rows, w->cols);
    bool ok = fseek(w->f, 0, SEEK_SET) == 0 && fwrite(pre, 1, sizeof pre, w->f) == sizeof pre;
    ok = (fclose(w->f) == 0) && ok;
    w->f = NULL;
    int rc = RL_OK;
    if (ok && rename(w->tmp, w->path) == 0) {
        free(w->tmp);
        w->tmp = NULL;
    } else {
        rc = rl__errf(errbuf, RL_EIO, "%s: cannot write: %s", w->path, strerror(errno));
    }
    rl_npy_writer_abort(w);
    return rc;
}

void rl_npy_writer_abort(struct rl_npy_writer *w) {
    if (!w)
        return;
    if (w->f)
        fclose(w->f);
    if (w->tmp)
        unlink(w->tmp);
    free(w->tmp);
    free(w->path);
    free(w);
}

int rl_npy_write_f32(const char *path, const float *data, size_t rows, size_t cols, char *errbuf) {
    struct rl_npy_writer *w = rl_npy_writer_open(path, cols, errbuf);
    if (!w)
        return RL_EIO; // errbuf already says why
    int rc = rl_npy_writer_append(w, data, rows, errbuf);
    if (rc < 0) {
        rl_npy_writer_abort(w);
        return rc;
    }
    return rl_npy_writer_commit(w, errbuf);
}
