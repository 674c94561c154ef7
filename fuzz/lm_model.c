// Fuzz target: a causal LM's GGUF file as the decoder and its tokenizer read it (lm/decoder.h,
// lm/vocab.h). The bytes are opened as a model file; one that opens must run a forward pass of up
// to four tokens and the signals' pass over every position (ASan and UBSan watch every read of
// its tensors); its vocabulary, when it loads, must
// tokenize a few texts (the bytes' own tail among them) into ids inside the vocabulary, and give
// the same count to a call without a buffer, and lay out a routing prompt as the file's chat
// template says. Every refusal must say why.
#include <math.h>

#include "fuzz.h"
#include "lm/decoder.h"
#include "lm/vocab.h"

static void tokenize(const struct rl__lm_vocab *v, const char *text, size_t len) {
    int32_t ids[256];
    int n = rl__lm_tokenize(v, text, len, ids, 256);
    if (n < 0)
        return;
    if (rl__lm_tokenize(v, text, len, NULL, 0) != n)
        abort(); // the count does not depend on the buffer
    for (int i = 0; i < n && i < 256; i++)
        if (!rl__lm_vocab_token(v, ids[i], &(size_t){0}))
            abort(); // an id outside the vocabulary
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[RL_ERRBUF_SIZE] = "";
    struct rl__lm m;
    if (rl__lm_open(fuzz_file(data, size, ".gguf"), RL_PRECISION_FP32, &m, err) != RL_OK) {
        if (!err[0])
            abort();
        rl__lm_free(&m);
        return 0;
    }
    int32_t ids[4];
    for (int i = 0; i < 4; i++)
        ids[i] = (int32_t)((size > (size_t)i ? data[size - 1 - (size_t)i] : 0) % m.n_vocab);
    int n = m.n_ctx < 4 ? m.n_ctx : 4;
    float *logits = malloc((size_t)m.n_vocab * sizeof *logits);
    float *hidden = malloc((size_t)m.n_embd * sizeof *hidden);
    struct rl__lm_signals sig;
    if (logits && hidden && rl__lm_forward(&m, NULL, ids, n, logits, hidden, err) == RL_OK &&
        rl__lm_signals(&m, ids, n, &sig, logits, err) == RL_OK) {
        // The fuzzer may write NaN or Inf weights: the outputs are touched, not judged.
        fuzz_sink ^= (uint8_t)isfinite(logits[0]) ^ (uint8_t)isfinite(hidden[m.n_embd - 1]) ^
                     (uint8_t)isfinite(sig.mean_nll);
    }
    free(logits);
    free(hidden);
    struct rl__lm_vocab v;
    err[0] = '\0';
    if (rl__lm_vocab_load(&m.file, "fuzz.gguf", &v, err) == RL_OK) {
        static const char *const texts[] = {"Hello, world! 123", "  two  spaces\n\ttab", "é€😀"};
        for (size_t i = 0; i < sizeof texts / sizeof *texts; i++)
            tokenize(&v, texts[i], strlen(texts[i]));
        size_t tail = size < 64 ? size : 64;
        tokenize(&v, (const char *)data + size - tail, tail);
        struct rl__lm_ids ids_of_prompt = {0};
        err[0] = '\0';
        if (rl__lm_prompt_ids(&m.file, &v, texts[0], strlen(texts[0]), &ids_of_prompt, err) !=
                RL_OK &&
            !err[0])
            abort();
        free(ids_of_prompt.p);
        rl__lm_vocab_free(&v);
    } else if (!err[0]) {
        abort();
    }
    rl__lm_free(&m);
    return 0;
}
