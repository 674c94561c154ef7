// Fuzz target: the model folder's small JSON and text files, as rl_tokenizer_load and
// rl_encoder_open read them. A scratch copy of tests/data/encoder/tiny-bert (a 2-layer model of
// 149 tokens) is made once; the first input byte picks which of its files the rest of the input
// replaces. Files 0-2 go through rl_tokenizer_load and a few encodes; files 3-6 through
// rl_encoder_open (the weights are the real tiny ones) and one embedding.
//   0 tokenizer.json   1 vocab.txt   2 tokenizer_config.json (no tokenizer.json)
//   3 config.json      4 1_Pooling/config.json   5 modules.json   6 sentence_bert_config.json
#include <errno.h>
#include <limits.h>
#include <sys/stat.h>

#include "fuzz.h"
#include "rl/encoder.h"
#include "rl/tokenizer.h"

#define TINY  "tests/data/encoder/tiny-bert"
#define N_IDS 64

static const char *const files[] = {
    "tokenizer.json",        "vocab.txt",    "tokenizer_config.json",    "config.json",
    "1_Pooling/config.json", "modules.json", "sentence_bert_config.json"};
static const char *const originals[] = {"config.json",           "1_Pooling/config.json",
                                        "modules.json",          "sentence_bert_config.json",
                                        "tokenizer_config.json", "vocab.txt"};
static const char *const texts[] = {"Hello, world! [SEP] café", "", "the quick brown fox\t\x80ok"};

static char dir[128];
static struct rl_encoder_ws *ws;

static void write_file(const char *name, const void *data, size_t size) {
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0)
        abort();
}

static void copy_original(const char *name) {
    char path[PATH_MAX];
    snprintf(path, sizeof path, TINY "/%s", name);
    FILE *f = fopen(path, "rb");
    static char buf[1 << 16];
    size_t n = f ? fread(buf, 1, sizeof buf, f) : 0;
    if (!f || fclose(f) != 0)
        abort();
    write_file(name, buf, n);
}

// The scratch model: the tiny model's files, its weights linked, no tokenizer.json.
static void setup(void) {
    char sub[160], weights[PATH_MAX], link[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", fuzz_dir("model"));
    snprintf(sub, sizeof sub, "%s/1_Pooling", dir);
    if (mkdir(sub, 0700) != 0)
        abort();
    if (!realpath(TINY "/model.safetensors", weights))
        abort();
    snprintf(link, sizeof link, "%s/model.safetensors", dir);
    unlink(link);
    if (symlink(weights, link) != 0)
        abort();
    ws = rl_encoder_ws_new(1);
    if (!ws)
        abort();
}

static void reset(void) {
    for (size_t i = 0; i < sizeof originals / sizeof *originals; i++)
        copy_original(originals[i]);
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    unlink(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || data[0] >= sizeof files / sizeof *files)
        return 0;
    if (!dir[0])
        setup();
    reset();
    int which = data[0];
    write_file(files[which], data + 1, size - 1);
    char err[RL_ERRBUF_SIZE];
    if (which < 3) {
        struct rl_tokenizer *t = rl_tokenizer_load(dir, err);
        if (!t)
            return 0;
        int32_t ids[N_IDS];
        size_t n_vocab = rl_tokenizer_n_vocab(t);
        for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
            int n = rl_tokenizer_encode(t, texts[i], strlen(texts[i]), ids, N_IDS);
            for (int k = 0; k < n; k++)
                if (ids[k] < 0 || (size_t)ids[k] >= n_vocab || !rl_tokenizer_token(t, ids[k]))
                    abort(); // every id must name a vocabulary entry
        }
        rl_tokenizer_free(t);
        return 0;
    }
    struct rl_encoder *e = rl_encoder_open(dir, err);
    if (!e)
        return 0;
    float *out = malloc((size_t)rl_encoder_dim(e) * sizeof *out);
    if (!out)
        abort();
    if (rl_encoder_embed_ws(e, ws, texts, 1, out, err) == RL_OK)
        fuzz_sink ^= (uint8_t)(out[0] > 0);
    free(out);
    rl_encoder_free(e);
    return 0;
}
