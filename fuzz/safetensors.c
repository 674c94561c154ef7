// Fuzz target: the safetensors loader on arbitrary bytes. A file it accepts must give tensors
// whose data lie inside the mapping; every tensor is read in full so ASan sees any overrun.
#include "core/safetensors.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[RL_ERRBUF_SIZE];
    struct rl_safetensors *st = rl_safetensors_open(fuzz_file(data, size, ".safetensors"), err);
    if (!st)
        return 0;
    uint8_t sum = 0;
    for (size_t i = 0; i < rl_safetensors_n_tensors(st); i++) {
        const struct rl_tensor *t = rl_safetensors_tensor(st, i);
        const uint8_t *p = t->data;
        for (size_t k = 0; k < t->nbytes; k++)
            sum ^= p[k];
    }
    fuzz_sink = sum; // keeps the reads; the sanitizers do the checking
    (void)rl_safetensors_meta(st, "format");
    rl_safetensors_free(st);
    return 0;
}
