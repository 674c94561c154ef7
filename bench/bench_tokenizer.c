// Tokenizer throughput: load time, then the real prompts of the golden corpus (MT-Bench,
// Arena-Hard, AlpacaEval) tokenized repeatedly for a second each: the short ones, all of them
// truncated at 256 ids as the encoder does, and all of them in full. One thread.
//
//   build/bench/bench_tokenizer [MODEL_DIR] [GOLDEN]
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "rl/tokenizer.h"

#define MAX_PROMPTS 4096
#define FULL_IDS    65536

static bool is_prompt_kind(const char *kind) {
    return kind && (strcmp(kind, "mt_bench") == 0 || strncmp(kind, "arena_hard", 10) == 0 ||
                    strcmp(kind, "alpaca_eval") == 0);
}

// The texts of the real-prompt records; returns how many.
static size_t read_prompts(const char *path, char **texts, size_t *lens) {
    char err[RL_ERRBUF_SIZE], *data;
    size_t len, n = 0;
    if (rl_file_read(path, 64u << 20, &data, &len, err) < 0) {
        fprintf(stderr, "bench_tokenizer: %s\n", err);
        exit(1);
    }
    for (char *p = data; p < data + len && n < MAX_PROMPTS;) {
        char *nl = memchr(p, '\n', (size_t)(data + len - p));
        size_t k = nl ? (size_t)(nl - p) : (size_t)(data + len - p);
        json_t *rec = json_loadb(p, k, JSON_ALLOW_NUL, NULL);
        p += k + 1;
        json_t *text = json_object_get(rec, "text");
        if (json_is_string(text) &&
            is_prompt_kind(json_string_value(json_object_get(rec, "kind")))) {
            lens[n] = json_string_length(text);
            texts[n] = malloc(lens[n] + 1);
            memcpy(texts[n], json_string_value(text), lens[n] + 1);
            n++;
        }
        json_decref(rec);
    }
    free(data);
    return n;
}

// Tokenize the prompts of at most max_bytes for a second; print the mean time per prompt.
static void run(const struct rl_tokenizer *t, char **texts, size_t *lens, size_t n_all,
                const char *label, size_t max_bytes, size_t max_ids, int32_t *ids) {
    size_t bytes = 0, tokens = 0, n = 0;
    int reps = 0;
    double t0 = rl_now_s(), t1;
    do {
        n = 0;
        for (size_t i = 0; i < n_all; i++) {
            if (lens[i] > max_bytes)
                continue;
            n++;
            int k = rl_tokenizer_encode(t, texts[i], lens[i], ids, max_ids);
            if (k < 0) {
                fprintf(stderr, "bench_tokenizer: encode failed\n");
                exit(1);
            }
            tokens += (size_t)k;
            bytes += lens[i];
        }
        reps++;
        t1 = rl_now_s();
    } while (t1 - t0 < 1.0);
    double per = (t1 - t0) / ((double)n * reps);
    printf("tokenize %-26s %4zu prompts, max_ids %5zu: %6.2f us/prompt, %.1f M ids/s, "
           "%.0f MB/s of input\n",
           label, n, max_ids, per * 1e6, (double)tokens / (t1 - t0) / 1e6,
           (double)bytes / (t1 - t0) / 1e6);
}

int main(int argc, char **argv) {
    const char *model = argc > 1 ? argv[1] : "models/all-MiniLM-L6-v2";
    const char *golden = argc > 2 ? argv[2] : "tests/data/tokenizer/golden.jsonl.gz";
    char err[RL_ERRBUF_SIZE];
    double t0 = rl_now_s();
    struct rl_tokenizer *t = rl_tokenizer_load(model, err);
    if (!t) {
        fprintf(stderr, "bench_tokenizer: %s\n", err);
        return 1;
    }
    printf("load %s: %.1f ms\n", model, (rl_now_s() - t0) * 1e3);
    static char *texts[MAX_PROMPTS];
    static size_t lens[MAX_PROMPTS];
    size_t n = read_prompts(golden, texts, lens);
    int32_t *ids = malloc(FULL_IDS * sizeof *ids);
    run(t, texts, lens, n, "short (<= 200 bytes)", 200, 256, ids);
    run(t, texts, lens, n, "all, truncated as encoded", SIZE_MAX, 256, ids);
    run(t, texts, lens, n, "all, in full", SIZE_MAX, FULL_IDS, ids);
    for (size_t i = 0; i < n; i++)
        free(texts[i]);
    free(ids);
    rl_tokenizer_free(t);
    return 0;
}
