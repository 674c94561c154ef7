// Writing GGUF files byte by byte into a buffer, for the tests that build the files they read
// (little-endian fields as the format lays them out; the caller writes the header, the counts
// and the values in order, so it can also write what a valid file never holds).
#ifndef RL_TEST_GGUF_WRITER_H
#define RL_TEST_GGUF_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

// Each appends to b and aborts when b cannot grow.
void gguf_put(struct rl_buf *b, const void *p, size_t n);
void gguf_put_u32(struct rl_buf *b, uint32_t v);
void gguf_put_u64(struct rl_buf *b, uint64_t v);
void gguf_put_str(struct rl_buf *b, const char *s); // u64 length, then the bytes
// A metadata key and its value type (enum rl_gguf_vtype); the value comes next.
void gguf_put_key(struct rl_buf *b, const char *key, uint32_t type);
// A whole metadata entry: key, an array of n strings.
void gguf_put_strings(struct rl_buf *b, const char *key, const char *const *s, size_t n);
// Zero bytes up to the next multiple of align.
void gguf_put_pad(struct rl_buf *b, size_t align);

#endif
