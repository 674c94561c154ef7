// Fuzz target: rl_texts_read, the prompt-list reader of `calibrate --prompts`, `eval
// --train-prompts` and `train --prompts`. The first input byte picks the file's kind by its name
// (low two bits: .csv, .jsonl, .json, .txt) and a column option (bit 2); the rest is the file.
// Every text returned is read in full.
#include "fuzz.h"
#include "rl/battle.h"

static const char *const suffixes[4] = {".csv", ".jsonl", ".json", ".txt"};
static const char *const options[4] = {",column=text", ",field=question", ",field=turns", ""};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    int k = data[0] & 3;
    const char *option = data[0] & 4 ? options[k] : "";
    const char *path = fuzz_file(data + 1, size - 1, suffixes[k]);
    char spec[256], err[RL_ERRBUF_SIZE], **texts;
    snprintf(spec, sizeof spec, "%s%s", path, option);
    long n = rl_texts_read(spec, &texts, err);
    if (n < 0)
        return 0;
    uint8_t sum = 0;
    for (long i = 0; i < n; i++)
        sum ^= (uint8_t)strlen(texts[i]);
    fuzz_sink = sum;
    rl_texts_free(texts, (size_t)n);
    return 0;
}
