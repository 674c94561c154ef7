// Training-prompt lists: the exact prompts a router was trained on, written by the trainer beside
// the router file as gzipped JSONL (one {"prompt": "..."} per line) and named in the router's
// metadata by a path relative to the router file plus the SHA-256 of the file's bytes. The
// evaluation harness reads them to drop benchmark prompts that the router has seen (docs/EVAL.md).
// Nothing here embeds or compares texts; that is the harness's job.
#include <errno.h>
#include <jansson.h>
#include <libgen.h>
#include <limits.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/core.h"
#include "rl/texts.h"
#include "routers/router_impl.h"

// A list is written whole; this bounds it (about 60k prompts of the longest length a battle
// keeps).
#define MAX_LIST_BYTES (1u << 30)

// ----------------------------------------------------------------------------
// Writing

// JSON strings must be UTF-8; a prompt read from a CSV need not be. Invalid bytes become U+FFFD,
// which changes the prompt's embedding far less than the 0.95 cosine that decontamination uses.
static char *valid_utf8(const char *s, size_t len) {
    char *out = malloc(3 * len + 1), *o = out;
    if (!out)
        return NULL;
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    while (p < end) {
        size_t n = *p < 0x80         ? 1
                   : (*p >> 5) == 6  ? 2
                   : (*p >> 4) == 14 ? 3
                   : (*p >> 3) == 30 ? 4
                                     : 0;
        bool ok = n > 0 && (size_t)(end - p) >= n;
        for (size_t k = 1; ok && k < n; k++)
            ok = (p[k] & 0xc0) == 0x80;
        if (ok && n > 1) {
            // Overlong forms, surrogates and code points past U+10FFFF are not UTF-8 either.
            unsigned cp = n == 2   ? (p[0] & 0x1fu) << 6 | (p[1] & 0x3fu)
                          : n == 3 ? (p[0] & 0x0fu) << 12 | (p[1] & 0x3fu) << 6 | (p[2] & 0x3fu)
                                   : (p[0] & 0x07u) << 18 | (p[1] & 0x3fu) << 12 |
                                         (p[2] & 0x3fu) << 6 | (p[3] & 0x3fu);
            static const unsigned min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
            ok = cp >= min_cp[n] && cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff);
        }
        if (ok) {
            memcpy(o, p, n);
            o += n;
            p += n;
        } else {
            memcpy(o, "\xef\xbf\xbd", 3);
            o += 3;
            p++;
        }
    }
    *o = '\0';
    return out;
}

// gzip (RFC 1952) of data with a fixed header (no name, time 0), so equal lists give equal bytes.
static int gzip_bytes(const char *data, size_t len, unsigned char **out, size_t *out_len) {
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) != Z_OK)
        return RL_ENOMEM;
    size_t cap = deflateBound(&z, (uLong)len) + 64;
    unsigned char *buf = malloc(cap);
    if (!buf || len > UINT_MAX) {
        deflateEnd(&z);
        free(buf);
        return buf ? RL_ETOOBIG : RL_ENOMEM;
    }
    z.next_in = (Bytef *)data;
    z.avail_in = (uInt)len;
    z.next_out = buf;
    z.avail_out = (uInt)cap;
    int zr = deflate(&z, Z_FINISH);
    *out_len = z.total_out;
    deflateEnd(&z);
    if (zr != Z_STREAM_END) {
        free(buf);
        return RL_ENOMEM;
    }
    *out = buf;
    return RL_OK;
}

int rl__train_prompts_write(const char *path, const char *const *texts, size_t n, char sha256[65],
                            char *errbuf) {
    struct rl_buf b;
    rl_buf_init(&b, MAX_LIST_BYTES);
    int rc = RL_OK;
    for (size_t i = 0; i < n && rc == RL_OK; i++) {
        char *clean = valid_utf8(texts[i], strlen(texts[i]));
        json_t *o = clean ? json_pack("{s:s}", "prompt", clean) : NULL;
        char *line = o ? json_dumps(o, JSON_COMPACT) : NULL;
        rc = line ? rl_buf_append(&b, line, strlen(line)) : RL_ENOMEM;
        if (rc == RL_OK)
            rc = rl_buf_append(&b, "\n", 1);
        free(line);
        json_decref(o);
        free(clean);
    }
    if (rc != RL_OK)
        return rl__errf(errbuf, rc, "%s: %s", path,
                        rc == RL_ETOOBIG ? "the prompt list is too large" : "out of memory");
    unsigned char *gz = NULL;
    size_t gz_len = 0;
    rc = gzip_bytes(b.data ? b.data : "", b.len, &gz, &gz_len);
    rl_buf_free(&b);
    if (rc != RL_OK)
        return rl__errf(errbuf, rc, "%s: cannot compress the prompt list", path);
    rl__sha256_hex(gz, gz_len, sha256);
    rc = rl_file_write(path, gz, gz_len, errbuf);
    free(gz);
    return rc;
}

// The folder of path, resolved (symbolic links, "..") into out (PATH_MAX bytes).
static int real_dir(const char *path, char *out, char *errbuf) {
    char copy[PATH_MAX];
    if (strlen(path) >= sizeof copy)
        return rl__errf(errbuf, RL_ETOOBIG, "%s: path too long", path);
    memcpy(copy, path, strlen(path) + 1);
    if (!realpath(dirname(copy), out))
        return rl__errf(errbuf, RL_EIO, "%s: %s", path, strerror(errno));
    return RL_OK;
}

int rl__train_prompts_ref(const char *router_path, const char *prompts_path, char *out,
                          size_t out_size, char *errbuf) {
    char rdir[PATH_MAX], pdir[PATH_MAX], copy[PATH_MAX];
    int rc = real_dir(router_path, rdir, errbuf);
    if (rc == RL_OK)
        rc = real_dir(prompts_path, pdir, errbuf);
    if (rc != RL_OK)
        return rc;
    memcpy(copy, prompts_path, strlen(prompts_path) + 1);
    const char *base = basename(copy);
    size_t nr = strlen(rdir);
    int n;
    if (strcmp(pdir, rdir) == 0)
        n = snprintf(out, out_size, "%s", base);
    else if (strncmp(pdir, rdir, nr) == 0 && pdir[nr] == '/')
        n = snprintf(out, out_size, "%s/%s", pdir + nr + 1, base);
    else
        n = snprintf(out, out_size, "%s/%s", pdir, base);
    if (n < 0 || (size_t)n >= out_size)
        return rl__errf(errbuf, RL_ETOOBIG, "%s: path too long", prompts_path);
    return RL_OK;
}

// ----------------------------------------------------------------------------
// Reading

// The list's path: its reference taken relative to the router file's folder unless absolute.
static int list_path(const struct rl_router *r, const char *ref, char *out, size_t out_size,
                     char *errbuf) {
    if (ref[0] == '/' || !r->path) {
        if (strlen(ref) >= out_size)
            return rl__errf(errbuf, RL_ETOOBIG, "train_prompts '%.60s': path too long", ref);
        memcpy(out, ref, strlen(ref) + 1);
        return RL_OK;
    }
    char copy[PATH_MAX];
    if (strlen(r->path) >= sizeof copy)
        return rl__errf(errbuf, RL_ETOOBIG, "%s: path too long", r->path);
    memcpy(copy, r->path, strlen(r->path) + 1);
    if (rl_path_join(out, out_size, dirname(copy), ref) != RL_OK)
        return rl__errf(errbuf, RL_ETOOBIG, "%s: train_prompts path too long", r->path);
    return RL_OK;
}

int rl_router_train_prompts_load(const struct rl_router *r, struct rl_texts *out, char *errbuf) {
    memset(out, 0, sizeof *out);
    const char *ref = rl_router_meta(r, "train_prompts");
    const char *want = rl_router_meta(r, "train_prompts_sha256");
    if (!ref)
        return RL_OK;
    const char *rpath = r->path ? r->path : "router";
    if (!*ref || !want || strlen(want) != 64)
        return rl__errf(errbuf, RL_EFORMAT,
                        "%s: metadata 'train_prompts' needs a path and a 64-digit "
                        "'train_prompts_sha256'",
                        rpath);
    char path[PATH_MAX];
    int rc = list_path(r, ref, path, sizeof path, errbuf);
    if (rc != RL_OK)
        return rc;
    // The digest covers the stored (compressed) bytes, so it is checked before decompressing.
    struct rl_mmap m = {0};
    char hex[65], why[RL_ERRBUF_SIZE];
    if (rl_mmap_open(&m, path, why) != RL_OK)
        return rl__errf(errbuf, RL_EIO, "%s: cannot read the router's training prompts: %s", rpath,
                        why);
    rl__sha256_hex(m.data ? (const void *)m.data : "", m.len, hex);
    rl_mmap_free(&m);
    if (strcmp(hex, want) != 0)
        return rl__errf(errbuf, RL_EFORMAT,
                        "%s: the training prompts %s changed since the router was trained "
                        "(SHA-256 %.12s..., the router expects %.12s...)",
                        rpath, path, hex, want);
    // The list holds the prompts exactly as the router saw them.
    struct rl_texts_params exact = {.exact = true};
    rc = rl_texts_load(path, &exact, out, errbuf);
    if (rc == RL_OK && out->n == 0)
        rc = rl__errf(errbuf, RL_EFORMAT, "%s: no prompts", path);
    if (rc != RL_OK)
        rl_texts_free(out);
    return rc;
}
