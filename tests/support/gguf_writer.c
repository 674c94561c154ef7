// The GGUF writer of the tests.
#include <stdlib.h>
#include <string.h>

#include "lm/gguf.h"
#include "support/gguf_writer.h"

void gguf_put(struct rl_buf *b, const void *p, size_t n) {
    if (rl_buf_append(b, p, n) != RL_OK)
        abort();
}

void gguf_put_u32(struct rl_buf *b, uint32_t v) {
    gguf_put(b, &v, 4);
}

void gguf_put_u64(struct rl_buf *b, uint64_t v) {
    gguf_put(b, &v, 8);
}

void gguf_put_str(struct rl_buf *b, const char *s) {
    gguf_put_u64(b, strlen(s));
    gguf_put(b, s, strlen(s));
}

void gguf_put_key(struct rl_buf *b, const char *key, uint32_t type) {
    gguf_put_str(b, key);
    gguf_put_u32(b, type);
}

void gguf_put_strings(struct rl_buf *b, const char *key, const char *const *s, size_t n) {
    gguf_put_key(b, key, RL_GGUF_ARRAY);
    gguf_put_u32(b, RL_GGUF_STRING);
    gguf_put_u64(b, n);
    for (size_t i = 0; i < n; i++)
        gguf_put_str(b, s[i]);
}

void gguf_put_pad(struct rl_buf *b, size_t align) {
    while (b->len % align)
        gguf_put(b, "", 1);
}
