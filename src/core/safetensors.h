// safetensors files (https://github.com/huggingface/safetensors): a memory-mapped reader that
// treats the file as hostile, and a writer. The layout is documented in docs/FORMAT.md:
//
//   1. u64 little-endian N, the header length;
//   2. N bytes of UTF-8 JSON: {"name": {"dtype": "F32", "shape": [..], "data_offsets": [b, e]},
//      ..., "__metadata__": {"key": "value", ...}}, padded with spaces;
//   3. the data area: each tensor's bytes, little-endian, row-major, at [8 + N + b, 8 + N + e).
//
// An opened file is immutable and may be shared by threads. Host byte order must be little-endian.
#ifndef RL_SRC_CORE_SAFETENSORS_H
#define RL_SRC_CORE_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "rl/core.h"

enum rl_dtype {
    RL_DTYPE_F32,
    RL_DTYPE_F16,
    RL_DTYPE_BF16,
    RL_DTYPE_F64,
    RL_DTYPE_I64,
    RL_DTYPE_I32,
    RL_DTYPE_I16,
    RL_DTYPE_I8,
    RL_DTYPE_U64,
    RL_DTYPE_U32,
    RL_DTYPE_U16,
    RL_DTYPE_U8,
    RL_DTYPE_BOOL,
};

#define RL_TENSOR_MAX_DIMS 8

// Largest header the reader accepts (the JSON part), as a defence against hostile files.
#define RL_SAFETENSORS_MAX_HEADER (100u << 20)

struct rl_tensor {
    const char *name;
    enum rl_dtype dtype;
    int n_dims; // 0 for a scalar
    int64_t shape[RL_TENSOR_MAX_DIMS];
    const void *data; // aligned to the element size; valid until rl_safetensors_free
    size_t nbytes;    // product(shape) × rl_dtype_size(dtype)
};

struct rl_safetensors;

size_t rl_dtype_size(enum rl_dtype dtype);      // bytes per element; 0 if invalid
const char *rl_dtype_name(enum rl_dtype dtype); // "F32", ...; "?" if invalid

// Map and validate path. NULL on failure; errbuf names the file and the problem. When the file's
// framing (its 8-byte header length and the '{' that starts the header) shows that it is not a
// safetensors file at all, the message reads "PATH: " RL_SAFETENSORS_NOT "<which check>", so that
// a reader of one kind of file can say what the file is not.
struct rl_safetensors *rl_safetensors_open(const char *path, char *errbuf);
#define RL_SAFETENSORS_NOT "not a safetensors file: "
void rl_safetensors_free(struct rl_safetensors *st); // NULL is a no-op

const char *rl_safetensors_path(const struct rl_safetensors *st); // as given to open
size_t rl_safetensors_n_tensors(const struct rl_safetensors *st);
// The i-th tensor in data order (ascending offsets); NULL when i is out of range.
const struct rl_tensor *rl_safetensors_tensor(const struct rl_safetensors *st, size_t i);
// The tensor called name, or NULL.
const struct rl_tensor *rl_safetensors_find(const struct rl_safetensors *st, const char *name);
// A "__metadata__" string, or NULL when absent. Valid until rl_safetensors_free.
const char *rl_safetensors_meta(const struct rl_safetensors *st, const char *key);

// Tell the kernel that t's mapped bytes will not be read again, for readers that copy tensors out
// (the pages are re-read from the file if they are). Only whole pages inside t are released.
void rl_safetensors_release(const struct rl_safetensors *st, const struct rl_tensor *t);

// Find name and check its dtype and shape (a negative entry in shape matches any size). On
// success *out is the tensor; otherwise RL_EFORMAT and errbuf names the file, the tensor and what
// was found against what was expected.
int rl_safetensors_expect(const struct rl_safetensors *st, const char *name, enum rl_dtype dtype,
                          int n_dims, const int64_t *shape, const struct rl_tensor **out,
                          char *errbuf) RL_NODISCARD;

// Write n tensors (data row-major) and optional metadata (key, value, ..., NULL; meta itself may
// be NULL) to path, atomically. Each nbytes must equal the shape's product times the dtype size.
// Tensors are stored by decreasing element size, then in the given order; the data area starts
// 8-byte aligned (the header is padded with spaces), so every tensor is aligned in the file.
int rl_safetensors_write(const char *path, const struct rl_tensor *tensors, size_t n,
                         const char *const *meta, char *errbuf) RL_NODISCARD;

#endif
