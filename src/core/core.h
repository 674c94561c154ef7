// Internal helpers shared across the library (and by src/cli and src/server): error-buffer
// formatting, invariant checks, capped growable buffers, whole-file and mapped-file access, a
// monotonic clock, and the building blocks every part uses the same way: one hash (FNV-1a), one
// seeded generator (splitmix64), one fp16 conversion and one similarity kernel (blocked SGEMM).
// JSON files and JSONL lines are read through core/json.h. Nothing here prints or exits except
// rl__abort, which is reserved for broken invariants.
#ifndef RL_SRC_CORE_H
#define RL_SRC_CORE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "rl/core.h"

// ----------------------------------------------------------------------------
// Errors and invariants

// Format a message into errbuf (RL_ERRBUF_SIZE bytes) when errbuf is not NULL; returns `status`
// so that callers can write `return rl__errf(errbuf, RL_EFORMAT, "...")`.
int rl__errf(char *errbuf, int status, const char *fmt, ...) RL_PRINTF(3, 4);

_Noreturn void rl__abort(const char *file, int line, const char *expr);

// For invariants only; outside input is never asserted.
#define RL_ASSERT(x)                                                                               \
    do {                                                                                           \
        if (!(x))                                                                                  \
            rl__abort(__FILE__, __LINE__, #x);                                                     \
    } while (0)

// ----------------------------------------------------------------------------
// Capped growable buffer (the idea of curl's dynbuf). A failed append frees the buffer, so the
// caller only has to propagate the status. The contents are always NUL-terminated.

struct rl_buf {
    char *data;
    size_t len;
    size_t cap;     // bytes allocated
    size_t max_len; // hard cap on len
};

void rl_buf_init(struct rl_buf *b, size_t max_len);
int rl_buf_append(struct rl_buf *b, const void *data, size_t n) RL_NODISCARD; // RL_ETOOBIG/ENOMEM
int rl_buf_appendf(struct rl_buf *b, const char *fmt, ...) RL_PRINTF(2, 3) RL_NODISCARD;
void rl_buf_reset(struct rl_buf *b);              // len = 0, keeps the allocation
char *rl_buf_take(struct rl_buf *b, size_t *len); // caller owns the result; b is empty afterwards
void rl_buf_free(struct rl_buf *b);

// ----------------------------------------------------------------------------
// Files

// Read a whole file into a NUL-terminated heap buffer of at most max_len bytes. A name ending in
// ".gz" is decompressed. Returns RL_OK, RL_EIO (with errbuf naming the path and errno) or
// RL_ETOOBIG. On success the caller frees *data.
int rl_file_read(const char *path, size_t max_len, char **data, size_t *len,
                 char *errbuf) RL_NODISCARD;

// Write data to path atomically (temporary file + rename).
int rl_file_write(const char *path, const void *data, size_t len, char *errbuf) RL_NODISCARD;

// A read-only memory map of a whole file; an empty file maps to data == NULL, len == 0.
struct rl_mmap {
    const unsigned char *data;
    size_t len;
};
int rl_mmap_open(struct rl_mmap *m, const char *path, char *errbuf) RL_NODISCARD;
void rl_mmap_free(struct rl_mmap *m); // safe on a zeroed struct

bool rl_file_exists(const char *path);
// mkdir -p: create path and each missing folder above it (mode 0777 less the umask). RL_OK,
// RL_EINVAL for an empty or over-long path, or RL_EIO with errno set.
int rl__mkdirs(const char *path) RL_NODISCARD;

// Join dir and name into out (size out_size); RL_ETOOBIG when it does not fit.
int rl_path_join(char *out, size_t out_size, const char *dir, const char *name) RL_NODISCARD;

bool rl_has_suffix(const char *s, const char *suffix); // s ends with suffix (".jsonl.gz", say)

// The <prefix>/share/routellm of an installed copy that rl_home() falls back on, or NULL when the
// program and the library do not run from an install (home.c).
const char *rl__home_installed(void);

// ----------------------------------------------------------------------------
// Time

double rl_now_s(void); // seconds on CLOCK_MONOTONIC, for measuring durations

// ----------------------------------------------------------------------------
// Hashing (hash.c): for tables and cache keys, never for security

#define RL_FNV1A_INIT 0xcbf29ce484222325ull // 64-bit FNV-1a offset basis

// 64-bit FNV-1a of len bytes, continued from h (RL_FNV1A_INIT to start), so that a text fed in
// pieces hashes as the whole text.
uint64_t rl__fnv1a(const void *data, size_t len, uint64_t h);
// rl__fnv1a over the count n (a size_t) and then each string preceded by its length (a
// uint64_t), so that ("ab", "c") and ("a", "bc") differ. For cache keys over prompt lists.
uint64_t rl__fnv1a_strings(const char *const *s, size_t n, uint64_t h);
// splitmix64's finaliser (Steele, Lea and Flood 2014): a bijection that spreads every input bit
// over the whole output.
uint64_t rl__mix64(uint64_t z);
// A hash-table key: rl__mix64 of the FNV-1a of the bytes, so the low bits used as a slot depend
// on every byte.
uint64_t rl__hash64(const void *data, size_t len);
// The SHA-256 of len bytes (OpenSSL's) as 64 lowercase hex digits and a NUL: for file digests
// and redacted texts, where a collision must not be found.
void rl__sha256_hex(const void *data, size_t len, char hex[65]);

// ----------------------------------------------------------------------------
// Seeded random numbers (hash.c): splitmix64, reproducible from the seed alone

#define RL_GOLDEN64 0x9e3779b97f4a7c15ull // 2^64 / φ, splitmix64's increment

// The next output of the splitmix64 stream whose state is *state: state += RL_GOLDEN64, then
// rl__mix64 of it.
uint64_t rl__splitmix64(uint64_t *state);
// Output k (from 0) of the stream started from state seed, without running it:
// rl__mix64(seed + (k + 1)·RL_GOLDEN64). Threads sharing a counter k draw one sequence.
uint64_t rl__splitmix64_at(uint64_t seed, uint64_t k);
// A double uniform in [0, 1): the top 53 bits of x times 2^-53.
double rl__unit_double(uint64_t x);

// ----------------------------------------------------------------------------
// Nearest neighbours by cosine (similarity.c)

// For each of the n_a rows of a (unit vectors, n_a × dim), the largest dot product with a row of
// b (n_b × dim) into max[i] and that row's index into arg[i] (arg may be NULL); -FLT_MAX and 0
// when b is empty. Blocked SGEMM: memory stays bounded whatever the sizes. RL_OK or RL_ENOMEM.
int rl__max_cosine(const float *a, size_t n_a, const float *b, size_t n_b, size_t dim, float *max,
                   size_t *arg) RL_NODISCARD;

// ----------------------------------------------------------------------------
// Half precision (half.c): IEEE 754 binary16

uint16_t rl__f32_to_f16(float f); // round to nearest even; overflow gives ±inf, NaN stays NaN
float rl__f16_to_f32(uint16_t h); // exact, subnormals, infinities and NaN included

#endif
