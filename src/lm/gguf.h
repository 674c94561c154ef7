// Internal interface: GGUF files (versions 2 and 3), the format of llama.cpp's models, read from a
// memory map and treated as hostile. The layout (all little-endian):
//
//   1. "GGUF", u32 version, u64 tensor count, u64 metadata count;
//   2. the metadata: key (string), u32 value type, value; a string is a u64 length and its bytes,
//      an array a u32 element type, a u64 count and the elements;
//   3. the tensor infos: name (string), u32 dimension count (<= 4), u64 extents (innermost first),
//      u32 ggml type, u64 offset into the data section;
//   4. padding to `general.alignment` (32 by default), then the data section.
//
// Every count, length, extent and offset is checked against the file before it is used: a tensor's
// bytes lie inside the data section, aligned, and do not overlap another's; keys and tensor names
// are unique; nested arrays and unknown value or tensor types are refused. Strings are not
// NUL-terminated and point into the file. An opened file is immutable and may be shared by threads.
#ifndef RL_SRC_LM_GGUF_H
#define RL_SRC_LM_GGUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

#define RL_GGUF_MAX_KV        65536 // metadata entries
#define RL_GGUF_MAX_TENSORS   65536
#define RL_GGUF_MAX_DIMS      4
#define RL_GGUF_MAX_KEY       65535 // bytes of a key or a tensor name
#define RL_GGUF_DEFAULT_ALIGN 32

enum rl_gguf_vtype {
    RL_GGUF_U8 = 0,
    RL_GGUF_I8 = 1,
    RL_GGUF_U16 = 2,
    RL_GGUF_I16 = 3,
    RL_GGUF_U32 = 4,
    RL_GGUF_I32 = 5,
    RL_GGUF_F32 = 6,
    RL_GGUF_BOOL = 7,
    RL_GGUF_STRING = 8,
    RL_GGUF_ARRAY = 9,
    RL_GGUF_U64 = 10,
    RL_GGUF_I64 = 11,
    RL_GGUF_F64 = 12,
};

// The tensor types of ggml this reader knows the block layout of.
enum rl_ggml_type {
    RL_GGML_F32 = 0,
    RL_GGML_F16 = 1,
    RL_GGML_Q4_0 = 2,
    RL_GGML_Q4_1 = 3,
    RL_GGML_Q5_0 = 6,
    RL_GGML_Q5_1 = 7,
    RL_GGML_Q8_0 = 8,
    RL_GGML_Q8_1 = 9,
    RL_GGML_Q2_K = 10,
    RL_GGML_Q3_K = 11,
    RL_GGML_Q4_K = 12,
    RL_GGML_Q5_K = 13,
    RL_GGML_Q6_K = 14,
    RL_GGML_Q8_K = 15,
    RL_GGML_BF16 = 30,
};

// Elements per block and bytes per block of a tensor type; false for a type it does not know.
bool rl__ggml_block(uint32_t type, int *elems, int *bytes);
const char *rl__ggml_type_name(uint32_t type); // "Q4_K", ...; "?" when unknown

struct rl_gguf_str {
    const char *p; // into the file; not NUL-terminated
    uint64_t len;
};

struct rl_gguf_kv {
    struct rl_gguf_str key;
    enum rl_gguf_vtype type;     // RL_GGUF_ARRAY for arrays
    enum rl_gguf_vtype elem;     // the element type of an array; type itself otherwise
    uint64_t n;                  // elements of an array; 1 otherwise
    const uint8_t *data;         // numbers and booleans: the n values as stored
    struct rl_gguf_str *strings; // strings: the n strings (owned by the file object)
};

struct rl_gguf_tensor {
    struct rl_gguf_str name;
    int n_dims;
    int64_t ne[RL_GGUF_MAX_DIMS]; // extents, innermost first; 1 past n_dims
    uint32_t type;                // enum rl_ggml_type
    const uint8_t *data;          // in the file, aligned to the file's alignment
    size_t nbytes;
};

struct rl_gguf {
    uint32_t version;
    uint32_t alignment;
    size_t n_kv, n_tensors;
    struct rl_gguf_kv *kv;
    struct rl_gguf_tensor *tensors; // in the file's order
    size_t *by_name;                // tensor indices sorted by name
    struct rl_mmap map;             // when opened from a file
};

// Parse buf (len bytes, borrowed: it must outlive g) as a GGUF file called name in messages. RL_OK,
// or RL_EFORMAT / RL_EUNSUPPORTED / RL_ENOMEM with errbuf naming the file, the item and the
// problem; g is then empty (safe to free).
int rl__gguf_parse(const uint8_t *buf, size_t len, const char *name, struct rl_gguf *g,
                   char *errbuf) RL_NODISCARD;
// Map path and parse it.
int rl__gguf_open(const char *path, struct rl_gguf *g, char *errbuf) RL_NODISCARD;
void rl__gguf_free(struct rl_gguf *g); // safe on a zeroed or failed struct

// The metadata entry called key; NULL when absent.
const struct rl_gguf_kv *rl__gguf_find(const struct rl_gguf *g, const char *key);
// Scalar values by key. RL_OK; RL_EINVAL when the key is absent; RL_EFORMAT when it has another
// type, or an integer outside the requested range (any integer type is read as an integer).
int rl__gguf_uint(const struct rl_gguf *g, const char *key, uint64_t max,
                  uint64_t *out) RL_NODISCARD;
int rl__gguf_float(const struct rl_gguf *g, const char *key, double *out) RL_NODISCARD;
int rl__gguf_bool(const struct rl_gguf *g, const char *key, bool *out) RL_NODISCARD;
int rl__gguf_string(const struct rl_gguf *g, const char *key, struct rl_gguf_str *out) RL_NODISCARD;
// Whether s equals the NUL-terminated text.
bool rl__gguf_str_eq(struct rl_gguf_str s, const char *text);

// The tensor called name; NULL when absent.
const struct rl_gguf_tensor *rl__gguf_tensor(const struct rl_gguf *g, const char *name);

#endif
