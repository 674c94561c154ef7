// Fuzz target: rl_router_train_prompts_load, the reader of the training-prompt list a router file
// names (gzipped JSONL, or plain JSONL under another name). The input is the list file; the
// router is built in memory with the list's name and the SHA-256 of the input in its metadata,
// so the fuzzer reaches the parser behind the digest check. The first input byte picks the
// list's name (".jsonl.gz", decompressed, or ".jsonl"); the rest is the file.
#include <openssl/sha.h>

#include "fuzz.h"
#include "rl/texts.h"
#include "routers/router_impl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    const char *suffix = data[0] & 1 ? ".prompts.jsonl" : ".prompts.jsonl.gz";
    const char *list = fuzz_file(data + 1, size - 1, suffix);
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256(data + 1, size - 1, md);
    char hex[65];
    for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);

    static const char *const models[] = {"strong-model", "weak-model"};
    struct rl_router *r = rl__router_new(&rl__router_kind_mf, models, 2);
    char router_path[160];
    snprintf(router_path, sizeof router_path, "/dev/shm/rl-fuzz-%ld.safetensors", (long)getpid());
    // meta[] follows file.c's kept_keys: 6 is "train_prompts", 7 its SHA-256.
    const char *base = strrchr(list, '/') + 1;
    if (!r || !(r->path = strdup(router_path)) || !(r->meta[6] = strdup(base)) ||
        !(r->meta[7] = strdup(hex)))
        abort();
    char err[RL_ERRBUF_SIZE];
    struct rl_texts texts;
    if (rl_router_train_prompts_load(r, &texts, err) == RL_OK) {
        uint8_t sum = 0;
        for (size_t i = 0; i < texts.n; i++)
            sum ^= (uint8_t)strlen(texts.items[i]);
        fuzz_sink = sum;
        rl_texts_free(&texts);
    }
    rl_router_free(r);
    return 0;
}
