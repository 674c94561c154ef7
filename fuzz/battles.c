// Fuzz target: rl_battles_read, every data format, in both modes. The first input byte picks
// the format (low three bits), strict or lenient mode (bit 3) and a few spec options (bit 4);
// the rest is the file. For alpaca_eval the rest is the battles CSV, a NUL byte, then the
// prompts JSONL. With bit 6 the rest is the capture.jsonl of a proxy's capture folder instead
// (format capture:, whose prompts are read as a text list too). A set that is read is walked in
// full: every battle's indices must be in range and every prompt and model name is read, so ASan
// sees any overrun.
#include "fuzz.h"
#include "rl/battle.h"
#include "rl/texts.h"

static const struct {
    const char *format, *suffix, *options[2];
} formats[8] = {
    {"arena55k", ".csv", {"", ",limit=3"}},
    {"arena", ".jsonl", {"", ",weight=0.5"}},
    {"arena", ".json", {"", ",source=arena"}},
    {"judge", ".jsonl", {"", ",min_weak_win=3,strong=gpt-4,weak=mixtral"}},
    {"judge", ".csv", {"", ",min_weak_win=5"}},
    {"alpaca_eval", ".csv", {"", ",annotators=a|b,models=gpt4|llama"}},
    {"table", ".csv", {"", ",ties=1,margin=0.25,models=gpt-4|cost|mixtral|llama"}},
    {"table", ".jsonl", {"", ",prompt=question,ties=1"}},
};

static void warn(void *ctx, const char *message) {
    (void)ctx;
    fuzz_sink ^= (uint8_t)strlen(message);
}

static void walk(const struct rl_battles *b) {
    uint8_t sum = 0;
    for (size_t i = 0; i < b->n; i++) {
        const struct rl_battle *t = &b->items[i];
        if (t->prompt >= b->n_prompts || t->model_a >= b->n_models || t->model_b >= b->n_models ||
            t->model_a == t->model_b || t->outcome > 3 || (size_t)t->source >= b->n_sources ||
            !(t->weight >= 0))
            abort();
        sum ^= (uint8_t)strlen(b->prompts[t->prompt]) ^ (uint8_t)b->models[t->model_a][0];
    }
    for (size_t i = 0; i < b->n_prompts; i++)
        sum ^= (uint8_t)strlen(b->prompts[i]);
    for (size_t i = 0; i < b->n_models; i++)
        sum ^= (uint8_t)strlen(b->models[i]);
    fuzz_sink = sum;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    int f = data[0] & 7;
    bool strict = data[0] & 8, capture = data[0] & 0x40;
    const char *options = formats[f].options[(data[0] >> 4) & 1];
    data++, size--;
    if (capture) {
        char file[256], spec[256], err[RL_ERRBUF_SIZE];
        const char *dir = fuzz_dir("battles");
        snprintf(file, sizeof file, "%s/capture.jsonl", dir);
        FILE *out = fopen(file, "wb");
        if (!out || (size && fwrite(data, 1, size, out) != size) || fclose(out) != 0)
            abort();
        snprintf(spec, sizeof spec, "capture:%s%s", dir, strict ? ",min_rating=0.8" : "");
        struct rl_battles *b = rl_battles_new();
        if (!b)
            abort();
        if (rl_battles_read(b, spec, NULL, err) >= 0)
            walk(b);
        rl_battles_free(b);
        struct rl_texts t;
        snprintf(spec, sizeof spec, "capture:%s", dir);
        if (rl_texts_load(spec, NULL, &t, err) == RL_OK)
            for (size_t i = 0; i < t.n; i++)
                fuzz_sink ^= (uint8_t)strlen(t.items[i]);
        rl_texts_free(&t);
        return 0;
    }
    char spec[512], prompts[160] = "";
    if (strcmp(formats[f].format, "alpaca_eval") == 0) {
        const uint8_t *nul = memchr(data, 0, size);
        size_t n = nul ? (size_t)(nul - data) : size;
        const uint8_t *rest = nul ? nul + 1 : data + size;
        snprintf(prompts, sizeof prompts, "%s",
                 fuzz_file(rest, (size_t)(data + size - rest), ".prompts.jsonl"));
        size = n;
    }
    const char *path = fuzz_file(data, size, formats[f].suffix);
    snprintf(spec, sizeof spec, "%s:%s%s%s%s", formats[f].format, path, options,
             prompts[0] ? ",prompts=" : "", prompts);
    struct rl_battles *b = rl_battles_new();
    if (!b)
        abort();
    struct rl_battles_read_opts opts = {.strict = strict, .warn = warn};
    char err[RL_ERRBUF_SIZE];
    if (rl_battles_read(b, spec, &opts, err) >= 0)
        walk(b);
    rl_battles_free(b);
    return 0;
}
