// Internal interface: ggml's quantised tensor types turned back into float32, one row at a time,
// in plain C: the reference that the vectorised dot kernels of the decoder are tested against.
// The block layouts (lm/gguf.h: rl__ggml_block) are llama.cpp's; the golden test compares with
// the `gguf` package's numpy dequantisers (tools/make_dequant_golden.py).
#ifndef RL_SRC_LM_QUANT_H
#define RL_SRC_LM_QUANT_H

#include <stdbool.h>
#include <stdint.h>

// Whether rl__ggml_dequantize reads this type: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0,
// Q4_K, Q6_K.
bool rl__ggml_dequantizable(uint32_t type);

// Write the n values stored at src in `type` to dst. n must be a whole number of the type's
// blocks (the caller has checked it, as the GGUF reader does for each row); src holds
// n / block elements × block bytes. RL_OK, or RL_EUNSUPPORTED for a type it does not read.
int rl__ggml_dequantize(uint32_t type, const void *src, float *dst, int64_t n);

#endif
