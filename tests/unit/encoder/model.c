// Bad model folders: each broken copy of the tiny BERT must be refused with a message naming
// the file and the problem (and, for missing files, the setup command).
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/core.h"
#include "core/safetensors.h"
#include "rl/encoder.h"
#include "test.h"

#define SRC RL_TEST_DATA "/encoder/tiny-bert"
#define DST "build/test_encoder_model"

static const char *const files[] = {
    "config.json",           "model.safetensors", "vocab.txt",
    "tokenizer_config.json", "modules.json",      "sentence_bert_config.json",
    "1_Pooling/config.json",
};

static int copy_file(const char *from, const char *to) {
    char *data;
    size_t len;
    int rc = rl_file_read(from, 16u << 20, &data, &len, NULL);
    if (rc < 0)
        return rc;
    rc = rl_file_write(to, data, len, NULL);
    free(data);
    return rc;
}

// A fresh copy of the tiny model in DST.
static int fresh_copy(void) {
    mkdir("build", 0755);
    mkdir(DST, 0755);
    mkdir(DST "/1_Pooling", 0755);
    for (size_t i = 0; i < RL_COUNTOF(files); i++) {
        char from[512], to[512];
        snprintf(from, sizeof from, "%s/%s", SRC, files[i]);
        snprintf(to, sizeof to, "%s/%s", DST, files[i]);
        if (copy_file(from, to) != RL_OK)
            return -1;
    }
    return 0;
}

static int write_text(const char *name, const char *text) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", DST, name);
    return rl_file_write(path, text, strlen(text), NULL);
}

// Set key in the JSON file name (NULL value: delete the key).
static int edit_json(const char *name, const char *key, json_t *value) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", DST, name);
    json_t *root = json_load_file(path, 0, NULL);
    if (!root)
        return -1;
    if (value)
        json_object_set_new(root, key, value);
    else
        json_object_del(root, key);
    int rc = json_dump_file(root, path, 0);
    json_decref(root);
    return rc;
}

// Rewrite model.safetensors with one tensor dropped (dtype < 0) or given another dtype of the
// same element size.
static int edit_weights(const char *name, int dtype) {
    char err[RL_ERRBUF_SIZE];
    struct rl_safetensors *st = rl_safetensors_open(SRC "/model.safetensors", err);
    if (!st)
        return -1;
    size_t n = rl_safetensors_n_tensors(st), m = 0;
    struct rl_tensor *t = calloc(n, sizeof *t);
    for (size_t i = 0; t && i < n; i++) {
        t[m] = *rl_safetensors_tensor(st, i);
        if (strcmp(t[m].name, name) == 0) {
            if (dtype < 0)
                continue;
            t[m].dtype = (enum rl_dtype)dtype;
        }
        m++;
    }
    int rc = t ? rl_safetensors_write(DST "/model.safetensors", t, m, NULL, err) : -1;
    free(t);
    rl_safetensors_free(st);
    return rc;
}

static int expect_failure(const char *want1, const char *want2) {
    char err[RL_ERRBUF_SIZE] = "";
    struct rl_encoder *e = rl_encoder_open(DST, err);
    if (e) {
        rl_encoder_free(e);
        TEST_FAIL_("loaded, expected an error containing \"%s\"", want1);
    }
    if (!strstr(err, want1) || (want2 && !strstr(err, want2)))
        TEST_FAIL_("\"%s\" does not contain \"%s\"%s%s", err, want1, want2 ? " and " : "",
                   want2 ? want2 : "");
    return 0;
}

#define EXPECT(w1, w2)                                                                             \
    do {                                                                                           \
        if (expect_failure(w1, w2) != 0)                                                           \
            return 1;                                                                              \
    } while (0)

TEST(encoder_model_missing_files_name_setup_command) {
    char err[RL_ERRBUF_SIZE];
    ASSERT_NULL(rl_encoder_open("build/no/such/model", err));
    ASSERT_STR_CONTAINS(err, "build/no/such/model: model folder not found");
    ASSERT_STR_CONTAINS(err, "make models");
    ASSERT_OK(fresh_copy());
    char path[512];
    snprintf(path, sizeof path, "%s/config.json", DST);
    remove(path);
    EXPECT(DST "/config.json: no such file", "make models");
    ASSERT_OK(fresh_copy());
    snprintf(path, sizeof path, "%s/model.safetensors", DST);
    remove(path);
    EXPECT(DST "/model.safetensors: no such file", "make models");
    ASSERT_OK(fresh_copy());
    snprintf(path, sizeof path, "%s/1_Pooling/config.json", DST);
    remove(path);
    EXPECT(DST "/1_Pooling/config.json: no such file", NULL);
    ASSERT_OK(fresh_copy());
    snprintf(path, sizeof path, "%s/vocab.txt", DST);
    remove(path);
    EXPECT("vocab.txt", NULL);
    // Without modules.json (a plain Hugging Face folder), mean pooling is assumed.
    ASSERT_OK(fresh_copy());
    snprintf(path, sizeof path, "%s/modules.json", DST);
    remove(path);
    struct rl_encoder *e = rl_encoder_open(DST, err);
    ASSERT_NOT_NULL(e);
    rl_encoder_free(e);
    return 0;
}

TEST(encoder_model_bad_configs) {
    ASSERT_OK(fresh_copy());
    ASSERT_OK(write_text("config.json", "{\"hidden_size\": 32,"));
    EXPECT(DST "/config.json:1:", "invalid JSON");

    ASSERT_OK(fresh_copy());
    ASSERT_OK(edit_json("config.json", "hidden_act", json_string("relu")));
    EXPECT(DST "/config.json: \"hidden_act\" is \"relu\", only \"gelu\" is supported", NULL);
    ASSERT_OK(fresh_copy());
    ASSERT_OK(edit_json("config.json", "num_attention_heads", json_integer(5)));
    EXPECT("hidden_size 32 is not a multiple of num_attention_heads 5", NULL);
    ASSERT_OK(fresh_copy());
    ASSERT_OK(edit_json("config.json", "hidden_size", NULL));
    EXPECT(DST "/config.json: \"hidden_size\" is missing", NULL);
    ASSERT_OK(fresh_copy());
    ASSERT_OK(edit_json("config.json", "num_hidden_layers", json_string("2")));
    EXPECT("\"num_hidden_layers\" must be an integer in [1, 64]", NULL);
    ASSERT_OK(fresh_copy());
    ASSERT_OK(edit_json("config.json", "position_embedding_type", json_string("relative_key")));
    EXPECT("\"position_embedding_type\" is \"relative_key\"", NULL);
    ASSERT_OK(fresh_copy());
    ASSERT_OK(edit_json("config.json", "layer_norm_eps", json_real(-1)));
    EXPECT("\"layer_norm_eps\" must be a number in (0, 1)", NULL);

    // The config disagrees with the weights.
    ASSERT_OK(fresh_copy());
    ASSERT_OK(edit_json("config.json", "intermediate_size", json_integer(48)));
    EXPECT(DST "/model.safetensors: tensor \"encoder.layer.0.intermediate.dense.weight\" has shape "
               "[64, 32], expected [48, 32]",
           NULL);

    ASSERT_OK(fresh_copy());
    ASSERT_OK(edit_json("1_Pooling/config.json", "pooling_mode_cls_token", json_true()));
    EXPECT(DST "/1_Pooling/config.json: 2 pooling modes are set", NULL);
    ASSERT_OK(fresh_copy());
    ASSERT_OK(edit_json("1_Pooling/config.json", "pooling_mode_mean_tokens", json_false()));
    ASSERT_OK(edit_json("1_Pooling/config.json", "pooling_mode_weightedmean_tokens", json_true()));
    EXPECT("\"pooling_mode_weightedmean_tokens\" is not supported", NULL);

    ASSERT_OK(fresh_copy());
    ASSERT_OK(write_text(
        "modules.json", "[{\"type\": \"sentence_transformers.models.Transformer\", \"path\": \"\"},"
                        "{\"type\": \"sentence_transformers.models.Pooling\", \"path\": "
                        "\"1_Pooling\"},"
                        "{\"type\": \"sentence_transformers.models.Dense\", \"path\": "
                        "\"2_Dense\"}]"));
    EXPECT(DST "/modules.json: module 2 (sentence_transformers.models.Dense", "not supported");
    ASSERT_OK(write_text(
        "modules.json", "[{\"type\": \"sentence_transformers.models.Transformer\", \"path\": \"\"},"
                        "{\"type\": \"sentence_transformers.models.Pooling\", \"path\": "
                        "\"../1_Pooling\"}]"));
    EXPECT("module 1 needs string \"type\" and a relative \"path\"", NULL);
    ASSERT_OK(write_text("modules.json", "{}"));
    EXPECT(DST "/modules.json: not a JSON array", NULL);

    ASSERT_OK(fresh_copy());
    ASSERT_OK(edit_json("sentence_bert_config.json", "max_seq_length", json_integer(1000)));
    EXPECT(DST "/sentence_bert_config.json: \"max_seq_length\" must be an integer in [2, 40]",
           NULL);
    return 0;
}

TEST(encoder_model_bad_weights) {
    ASSERT_OK(fresh_copy());
    ASSERT_OK(edit_weights("encoder.layer.1.output.LayerNorm.bias", -1));
    EXPECT(DST "/model.safetensors: tensor \"encoder.layer.1.output.LayerNorm.bias\" is missing",
           NULL);
    ASSERT_OK(fresh_copy());
    ASSERT_OK(edit_weights("encoder.layer.0.attention.self.key.weight", RL_DTYPE_I32));
    EXPECT("tensor \"encoder.layer.0.attention.self.key.weight\" is I32, expected F32, F16 or BF16",
           NULL);
    // A truncated file.
    ASSERT_OK(fresh_copy());
    char *data;
    size_t len;
    ASSERT_OK(rl_file_read(SRC "/model.safetensors", 16u << 20, &data, &len, NULL));
    ASSERT_OK(rl_file_write(DST "/model.safetensors", data, len - 100, NULL));
    free(data);
    EXPECT(DST "/model.safetensors: tensor", "past the data area");
    ASSERT_OK(write_text("model.safetensors", "not a safetensors file at all"));
    EXPECT(DST "/model.safetensors: not a safetensors file: header length", NULL);
    return 0;
}
