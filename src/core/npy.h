// NumPy .npy files holding a 2-D float32 array (rows × cols, C order): the format of
// `routellm embed --out` and of embedding caches. Reads format versions 1.0, 2.0 and 3.0; writes
// 1.0 with the header padded to 64 bytes, as numpy does. Other dtypes, ranks and Fortran order
// are rejected, not converted.
#ifndef RL_SRC_CORE_NPY_H
#define RL_SRC_CORE_NPY_H

#include <stddef.h>

#include "rl/core.h"

// Largest header the reader accepts; numpy's own limit for untrusted files is 10000 bytes.
#define RL_NPY_MAX_HEADER 10000

// Write rows × cols floats to path atomically. RL_OK or < 0 with errbuf naming the path.
int rl_npy_write_f32(const char *path, const float *data, size_t rows, size_t cols,
                     char *errbuf) RL_NODISCARD;

// Read a whole file. On success *data (caller frees) holds *rows × *cols floats; otherwise
// RL_EIO / RL_EFORMAT / RL_ENOMEM and errbuf names the file and what is wrong.
int rl_npy_read_f32(const char *path, float **data, size_t *rows, size_t *cols,
                    char *errbuf) RL_NODISCARD;

// A writer for arrays whose row count is known only at the end: rows are streamed to a temporary
// file and the header is fixed up when it is committed. Not thread-safe.
struct rl_npy_writer;

// Start writing path with cols columns. NULL on failure, errbuf says why.
struct rl_npy_writer *rl_npy_writer_open(const char *path, size_t cols, char *errbuf);
// Append n rows (n × cols floats).
int rl_npy_writer_append(struct rl_npy_writer *w, const float *rows, size_t n,
                         char *errbuf) RL_NODISCARD;
// Write the final header and move the file into place; frees w whatever the result.
int rl_npy_writer_commit(struct rl_npy_writer *w, char *errbuf) RL_NODISCARD;
// Abandon the file (the temporary is removed); NULL is a no-op.
void rl_npy_writer_abort(struct rl_npy_writer *w);

#endif
