// The encoder's precision as the program takes it: `--precision fp32|int8` on `embed` (the other
// embedding commands share the option, src/cli/cli.h), and `encoder: precision:` in the serve
// config, an unknown word refused with the file and line like every other key.
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"
#include "core/npy.h"
#include "server/server.h"
#include "support/routellm_run.h"
#include "test.h"

#define OUT "build/test_precision.out"
#define ERR "build/test_precision.err"
#define NPY "build/test_precision.npy"

// `routellm <args>` into OUT and ERR; its exit status.
static int run(const char *args) {
    return routellm_run(args, OUT, ERR);
}

// Embed the three texts below with `embed --precision p` into *m (rows × 384).
static int embed_with(const char *p, float **m) {
    char args[1024];
    snprintf(args, sizeof args,
             "embed --model " RL_TEST_MODEL " --precision %s --out " NPY
             " 'How do I sort a list in Python?' 'Prove that the square root of 2 is "
             "irrational.' 'hola, ¿qué tal?'",
             p);
    if (run(args) != 0)
        return 1;
    size_t rows, cols;
    char err[RL_ERRBUF_SIZE];
    if (rl_npy_read_f32(NPY, m, &rows, &cols, err) != RL_OK || rows != 3 || cols != 384)
        return 1;
    return 0;
}

TEST(encoder_precision_cli_embed) {
    float *fp32 = NULL, *int8 = NULL;
    ASSERT_EQ(embed_with("fp32", &fp32), 0);
    ASSERT_EQ(embed_with("int8", &int8), 0);
    for (int i = 0; i < 3; i++) {
        double dot = 0, diff = 0;
        for (int k = 0; k < 384; k++) {
            dot += (double)fp32[i * 384 + k] * int8[i * 384 + k];
            diff += fabs((double)fp32[i * 384 + k] - int8[i * 384 + k]);
        }
        ASSERT(dot >= 0.995); // both unit length: the cosine
        ASSERT(diff > 0);     // the int8 path ran: its vectors are not fp32's
    }
    free(fp32);
    free(int8);
    ASSERT_EQ(run("embed --model " RL_TEST_MODEL " --precision bf16 x"), 2);
    char *err = NULL;
    size_t len;
    ASSERT_OK(rl_file_read(ERR, 1 << 16, &err, &len, NULL));
    ASSERT_STR_CONTAINS(err, "--precision: 'bf16' is not one of fp32, int8");
    free(err);
    unlink(OUT);
    unlink(ERR);
    unlink(NPY);
    return 0;
}

TEST(encoder_precision_serve_config) {
    struct srv_config c;
    srv_config_init(&c);
    ASSERT_EQ(c.encoder_precision, RL_PRECISION_FP32);
    char err[RL_ERRBUF_SIZE] = "";
    ASSERT_OK(srv_config_set(&c, "encoder.precision", "int8", err));
    ASSERT_EQ(c.encoder_precision, RL_PRECISION_INT8);
    ASSERT_EQ(srv_config_set(&c, "encoder.precision", "int4", err), RL_EINVAL);
    ASSERT_STR_CONTAINS(err, "encoder.precision: expected one of fp32, int8, got 'int4'");
    ASSERT_EQ(c.encoder_precision, RL_PRECISION_INT8);
    srv_config_free(&c);

    char dir[] = "/tmp/rl_prec_XXXXXX";
    ASSERT_NOT_NULL(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof path, "%s/c.yaml", dir);
    static const char good[] = "encoder:\n  model_dir: /m\n  precision: int8\n";
    ASSERT_OK(rl_file_write(path, good, strlen(good), NULL));
    srv_config_init(&c);
    ASSERT_OK(srv_config_load(&c, path, err));
    ASSERT_EQ(c.encoder_precision, RL_PRECISION_INT8);
    srv_config_free(&c);
    static const char bad[] = "encoder:\n  model_dir: /m\n  precision: fp16\n";
    ASSERT_OK(rl_file_write(path, bad, strlen(bad), NULL));
    srv_config_init(&c);
    ASSERT_EQ(srv_config_load(&c, path, err), RL_EINVAL);
    ASSERT_STR_CONTAINS(err, "c.yaml:3:");
    ASSERT_STR_CONTAINS(err, "one of fp32, int8");
    srv_config_free(&c);
    unlink(path);
    rmdir(dir);
    return 0;
}
