// `routellm embed` run as a process: JSON lines from arguments and stdin, --out .npy, the default
// model folder, and one clear stderr line with a non-zero status for each error.
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "core/core.h"
#include "core/npy.h"
#include "support/routellm_run.h"
#include "test.h"

#define TINY RL_TEST_DATA "/encoder/tiny-bert"
#define OUT  "build/test_cli_embed.out"
#define ERR  "build/test_cli_embed.err"
#define NPY  "build/test_cli_embed.npy"

// `routellm <args>` into OUT and ERR; its exit status.
static int run(const char *args) {
    return routellm_run(args, OUT, ERR);
}

static char *slurp(const char *path) {
    char *data = NULL;
    size_t len;
    if (rl_file_read(path, 64u << 20, &data, &len, NULL) != RL_OK)
        return NULL;
    return data;
}

// Parse the JSON lines of OUT into texts and embeddings (up to max lines of dim floats).
static int read_lines(char **texts, float *emb, int dim, int max) {
    char *data = slurp(OUT);
    if (!data)
        return -1;
    int n = 0;
    for (char *line = data, *next; *line && n < max; line = next) {
        next = strchr(line, '\n');
        if (!next)
            break;
        *next++ = '\0';
        json_t *j = json_loads(line, 0, NULL);
        json_t *e = json_object_get(j, "embedding");
        if (!j || !json_is_string(json_object_get(j, "text")) || json_array_size(e) != (size_t)dim)
            break;
        texts[n] = strdup(json_string_value(json_object_get(j, "text")));
        for (int k = 0; k < dim; k++)
            emb[n * dim + k] = (float)json_real_value(json_array_get(e, (size_t)k));
        json_decref(j);
        n++;
    }
    free(data);
    return n;
}

TEST(encoder_cli_embed_json_and_npy) {
    char *texts[8] = {0};
    float emb[8 * 32], again[8 * 32];
    ASSERT_EQ(run("embed --model " TINY " 'hello world' 'bad \xff byte'"), 0);
    ASSERT_EQ(read_lines(texts, emb, 32, 8), 2);
    ASSERT_STR_EQ(texts[0], "hello world");
    ASSERT_STR_EQ(texts[1], "bad \xef\xbf\xbd byte"); // shown as U+FFFD, as the tokenizer reads it
    // The golden embedding of "hello world" (tools/make_tiny_bert.py).
    char *lines = slurp(TINY "/golden.jsonl");
    ASSERT_NOT_NULL(lines);
    // Line 2 of the golden file (line 1 is the empty text).
    json_t *hello = json_loads(strchr(lines, '\n') + 1, JSON_DISABLE_EOF_CHECK, NULL);
    free(lines);
    ASSERT_STR_EQ(json_string_value(json_object_get(hello, "text")), "hello world");
    for (int k = 0; k < 32; k++)
        ASSERT_NEAR(emb[k], json_real_value(json_array_get(json_object_get(hello, "embedding"), k)),
                    1e-6);
    json_decref(hello);
    double norm = 0;
    for (int k = 0; k < 32; k++)
        norm += (double)emb[32 + k] * emb[32 + k];
    ASSERT_NEAR(norm, 1.0, 1e-6);

    // stdin: one text per line, "\r\n" endings, an empty line, no final newline.
    ASSERT_EQ(
        run("embed --batch 2 --threads 1 --model=" TINY " < tests/data/encoder/cli_input.txt"), 0);
    for (int i = 0; i < 8; i++)
        free(texts[i]), texts[i] = NULL;
    ASSERT_EQ(read_lines(texts, emb, 32, 8), 4);
    ASSERT_STR_EQ(texts[0], "hello world");
    ASSERT_STR_EQ(texts[1], "the cat");
    ASSERT_STR_EQ(texts[2], "");
    ASSERT_STR_EQ(texts[3], "last line");

    // --out: the same rows, bit for bit (nine digits in JSON round-trip a float32).
    ASSERT_EQ(run("embed --model " TINY " --out " NPY " < tests/data/encoder/cli_input.txt"), 0);
    char *out = slurp(OUT);
    ASSERT_STR_EQ(out, "");
    free(out);
    float *m;
    size_t rows, cols;
    char err[RL_ERRBUF_SIZE];
    ASSERT_OK(rl_npy_read_f32(NPY, &m, &rows, &cols, err));
    ASSERT_EQ(rows, 4);
    ASSERT_EQ(cols, 32);
    memcpy(again, m, sizeof(float) * 4 * 32);
    free(m);
    ASSERT(memcmp(again, emb, sizeof(float) * 4 * 32) == 0);
    for (int i = 0; i < 8; i++)
        free(texts[i]);

    ASSERT_EQ(run("embed --help"), 0);
    out = slurp(OUT);
    ASSERT_STR_CONTAINS(out, "usage: routellm embed");
    free(out);
    return 0;
}

// The default model folder is <home>/models/all-MiniLM-L6-v2 (the real weights).
TEST(encoder_cli_embed_default_model) {
    char *texts[1] = {0};
    float emb[384];
    ASSERT_EQ(run("embed 'How do I sort a list in Python?'"), 0);
    ASSERT_EQ(read_lines(texts, emb, 384, 1), 1);
    double norm = 0;
    for (int k = 0; k < 384; k++)
        norm += (double)emb[k] * emb[k];
    ASSERT_NEAR(norm, 1.0, 1e-6);
    free(texts[0]);
    return 0;
}

TEST(encoder_cli_embed_errors) {
    static const struct {
        /* input */
        const char *args;
        /* output */
        int status;
        const char *want1, *want2;
    } cases[] = {
        {"embed --model build/no/such/model x", 1, "build/no/such/model: model folder not found",
         "make models"},
        {"embed --model " RL_TEST_DATA "/encoder x", 1, RL_TEST_DATA "/encoder/config.json",
         "make models"},
        {"embed --frobnicate x", 2, "unknown option '--frobnicate'", NULL},
        {"embed --batch abc x", 2, "--batch: 'abc' is not an integer", NULL},
        {"embed --model", 2, "--model needs a value", NULL},
        {"embed --model " TINY " --out build/no/such/dir/x.npy x", 1, "build/no/such/dir/x.npy",
         NULL},
    };
    for (size_t i = 0; i < RL_COUNTOF(cases); i++) {
        int st = run(cases[i].args);
        char *err = slurp(ERR);
        ASSERT_NOT_NULL(err);
        if (st != cases[i].status || !strstr(err, cases[i].want1) ||
            (cases[i].want2 && !strstr(err, cases[i].want2)))
            TEST_FAIL_("'%s': status %d, stderr \"%s\"", cases[i].args, st, err);
        // One line for a runtime error; usage errors may add the usage text.
        if (cases[i].status == 1 && strchr(err, '\n') != err + strlen(err) - 1)
            TEST_FAIL_("'%s': stderr is not one line: \"%s\"", cases[i].args, err);
        free(err);
    }
    int st = system("ROUTELLM_HOME=build/no/home " RL_TEST_BIN " embed x >" OUT " 2>" ERR);
    ASSERT_EQ(WEXITSTATUS(st), 1);
    char *err = slurp(ERR);
    ASSERT_STR_CONTAINS(err, "build/no/home/models/all-MiniLM-L6-v2");
    ASSERT_STR_CONTAINS(err, "make models");
    free(err);
    return 0;
}
