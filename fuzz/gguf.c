// Fuzz target: the GGUF reader (lm/gguf.h) on arbitrary bytes, parsed from memory. A file it
// accepts is walked in full: every key, string and numeric value, and every tensor's bytes, so
// ASan sees any read outside the buffer; lookups by name must find each tensor and key.
#include "fuzz.h"
#include "lm/gguf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    struct rl_gguf g;
    char err[RL_ERRBUF_SIZE];
    // A copy of exactly size bytes, so that a read one past the end is caught.
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    if (rl__gguf_parse(buf, size, "fuzz.gguf", &g, err) == RL_OK) {
        uint8_t sum = 0;
        for (size_t i = 0; i < g.n_kv; i++) {
            const struct rl_gguf_kv *kv = &g.kv[i];
            for (uint64_t k = 0; k < kv->key.len; k++)
                sum ^= (uint8_t)kv->key.p[k];
            for (uint64_t j = 0; kv->strings && j < kv->n; j++)
                for (uint64_t k = 0; k < kv->strings[j].len; k++)
                    sum ^= (uint8_t)kv->strings[j].p[k];
            if (kv->data && kv->n > 0)
                sum ^= kv->data[0];
            char key[256];
            if (kv->key.len < sizeof key && !memchr(kv->key.p, 0, kv->key.len)) {
                memcpy(key, kv->key.p, kv->key.len);
                key[kv->key.len] = '\0';
                if (rl__gguf_find(&g, key) != kv)
                    abort();
            }
        }
        for (size_t i = 0; i < g.n_tensors; i++) {
            const struct rl_gguf_tensor *t = &g.tensors[i];
            for (size_t k = 0; k < t->nbytes; k++)
                sum ^= t->data[k];
            char name[256];
            if (t->name.len < sizeof name && !memchr(t->name.p, 0, t->name.len)) {
                memcpy(name, t->name.p, t->name.len);
                name[t->name.len] = '\0';
                if (rl__gguf_tensor(&g, name) != t)
                    abort();
            }
        }
        uint64_t u;
        (void)rl__gguf_uint(&g, "general.alignment", UINT32_MAX, &u);
        fuzz_sink = sum;
    }
    rl__gguf_free(&g);
    free(buf);
    return 0;
}
