// Fuzz target: rl_texts_load_spec, the prompt-list reader of `calibrate --prompts`, `eval
// --train-prompts`, `train --exclude` and the training-prompt lists. The first input byte picks
// the file's kind by its name (low two bits: .csv, .jsonl, .json, .txt), a column option (bit 2)
// and exact texts (bit 3); the rest is the file. Every text returned is read in full.
#include "fuzz.h"
#include "rl/texts.h"

static const char *const suffixes[4] = {".csv", ".jsonl", ".json", ".txt"};
static const char *const options[4] = {",column=text", ",field=question", ",field=turns", ""};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    int k = data[0] & 3;
    const char *option = data[0] & 4 ? options[k] : "";
    const char *path = fuzz_file(data + 1, size - 1, suffixes[k]);
    char spec[256], err[RL_ERRBUF_SIZE];
    snprintf(spec, sizeof spec, "%s%s", path, option);
    struct rl_texts texts;
    struct rl_texts_params p = {.exact = (data[0] & 8) != 0};
    if (rl_texts_load_spec(spec, &p, &texts, err) != RL_OK)
        return 0;
    uint8_t sum = 0;
    for (size_t i = 0; i < texts.n; i++)
        sum ^= (uint8_t)strlen(texts.items[i]);
    fuzz_sink = sum;
    rl_texts_free(&texts);
    return 0;
}
