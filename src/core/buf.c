// Capped growable buffers. Growth doubles the allocation; a failed append releases the buffer so
// that error paths have nothing left to clean up.
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

void rl_buf_init(struct rl_buf *b, size_t max_len) {
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max_len = max_len;
}

void rl_buf_free(struct rl_buf *b) {
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void rl_buf_reset(struct rl_buf *b) {
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

// Make room for n more bytes plus the terminating NUL.
static int buf_reserve(struct rl_buf *b, size_t n) {
    if (n > b->max_len - b->len) {
        rl_buf_free(b);
        return RL_ETOOBIG;
    }
    size_t need = b->len + n + 1;
    if (need <= b->cap)
        return RL_OK;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p) {
        rl_buf_free(b);
        return RL_ENOMEM;
    }
    b->data = p;
    b->cap = cap;
    return RL_OK;
}

int rl_buf_append(struct rl_buf *b, const void *data, size_t n) {
    int rc = buf_reserve(b, n);
    if (rc < 0)
        return rc;
    if (n)
        memcpy(b->data + b->len, data, n);
    b->len += n;
    b->data[b->len] = '\0';
    return RL_OK;
}

int rl_buf_appendf(struct rl_buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        rl_buf_free(b);
        return RL_EINVAL;
    }
    int rc = buf_reserve(b, (size_t)n);
    if (rc < 0)
        return rc;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return RL_OK;
}

char *rl_buf_take(struct rl_buf *b, size_t *len) {
    char *p = b->data;
    if (len)
        *len = b->len;
    if (!p)
        p = calloc(1, 1);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    return p;
}
