// Whole-file reads (optionally gzip), atomic writes and read-only memory maps. Every failure
// names the path and the system's reason in errbuf.
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "core/core.h"

static int read_gz(const char *path, size_t max_len, struct rl_buf *b, char *errbuf) {
    gzFile gz = gzopen(path, "rb");
    if (!gz)
        return rl__errf(errbuf, RL_EIO, "%s: cannot open: %s", path, strerror(errno));
    char chunk[65536];
    int rc = RL_OK;
    for (;;) {
        int n = gzread(gz, chunk, sizeof chunk);
        if (n < 0) {
            int zerr;
            const char *msg = gzerror(gz, &zerr);
            rc = rl__errf(errbuf, RL_EFORMAT, "%s: gzip error: %s", path, msg);
            rl_buf_free(b);
            break;
        }
        if (n == 0)
            break;
        rc = rl_buf_append(b, chunk, (size_t)n);
        if (rc < 0) {
            rl__errf(errbuf, rc, "%s: larger than %zu bytes once decompressed", path, max_len);
            break;
        }
    }
    gzclose(gz);
    return rc;
}

static int read_plain(const char *path, size_t max_len, struct rl_buf *b, char *errbuf) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return rl__errf(errbuf, RL_EIO, "%s: cannot open: %s", path, strerror(errno));
    char chunk[65536];
    int rc = RL_OK;
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        rc = rl_buf_append(b, chunk, n);
        if (rc < 0) {
            rl__errf(errbuf, rc, "%s: larger than %zu bytes", path, max_len);
            break;
        }
    }
    if (rc == RL_OK && ferror(f)) {
        rc = rl__errf(errbuf, RL_EIO, "%s: read error: %s", path, strerror(errno));
        rl_buf_free(b);
    }
    fclose(f);
    return rc;
}

int rl_file_read(const char *path, size_t max_len, char **data, size_t *len, char *errbuf) {
    struct rl_buf b;
    rl_buf_init(&b, max_len);
    int rc = rl_has_suffix(path, ".gz") ? read_gz(path, max_len, &b, errbuf)
                                        : read_plain(path, max_len, &b, errbuf);
    if (rc < 0)
        return rc;
    *data = rl_buf_take(&b, len);
    return *data ? RL_OK : RL_ENOMEM;
}

int rl_file_write(const char *path, const void *data, size_t len, char *errbuf) {
    char tmp[4096];
    int n = snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    if (n < 0 || (size_t)n >= sizeof tmp)
        return rl__errf(errbuf, RL_ETOOBIG, "%s: path too long", path);
    FILE *f = fopen(tmp, "wb");
    if (!f)
        return rl__errf(errbuf, RL_EIO, "%s: cannot create: %s", tmp, strerror(errno));
    bool ok = fwrite(data, 1, len, f) == len;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return rl__errf(errbuf, RL_EIO, "%s: cannot write: %s", path, strerror(e));
    }
    return RL_OK;
}

int rl_mmap_open(struct rl_mmap *m, const char *path, char *errbuf) {
    m->data = NULL;
    m->len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return rl__errf(errbuf, RL_EIO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return rl__errf(errbuf, RL_EIO, "%s: not a regular file", path);
    }
    if (st.st_size > 0) {
        void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            int e = errno;
            close(fd);
            return rl__errf(errbuf, RL_EIO, "%s: cannot map: %s", path, strerror(e));
        }
        m->data = p;
        m->len = (size_t)st.st_size;
    }
    close(fd);
    return RL_OK;
}

void rl_mmap_free(struct rl_mmap *m) {
    if (m->data)
        munmap((void *)m->data, m->len);
    m->data = NULL;
    m->len = 0;
}

bool rl_file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

bool rl_has_suffix(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

int rl_path_join(char *out, size_t out_size, const char *dir, const char *name) {
    size_t n = strlen(dir);
    const char *sep = (n > 0 && dir[n - 1] != '/') ? "/" : "";
    int w = snprintf(out, out_size, "%s%s%s", dir, sep, name);
    if (w < 0 || (size_t)w >= out_size)
        return RL_ETOOBIG;
    return RL_OK;
}

int rl__mkdirs(const char *path) {
    char buf[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf)
        return RL_EINVAL;
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        char c = buf[i];
        buf[i] = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            return RL_EIO;
        buf[i] = c;
    }
    return RL_OK;
}
