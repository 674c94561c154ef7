// Reading a sentence-transformers model folder: the architecture from config.json, the module
// list (modules.json), the pooling config and sentence_bert_config.json, then the BERT weights
// from model.safetensors, checked against the architecture and laid out for the kernels (linear
// weights packed into panels, Q/K/V fused, biases padded) in one block, llm.c style.
// Only the BERT family with absolute positions and exact GELU is supported; Dense modules,
// weighted-mean or last-token pooling and other activations are rejected with a clear error.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "core/json.h"
#include "encoder/bert.h"
#include "encoder/kernels.h"

#define MAX_CONFIG_FILE (1u << 20)
#define SETUP_HINT      "fetch the default encoder with `make models`"

// ----------------------------------------------------------------------------
// JSON files

// Parse dir/name into *root. A missing file is RL_EIO with a hint at the setup command (unless
// optional, when *root is NULL and RL_OK is returned).
static int load_json(const char *dir, const char *name, bool optional, json_t **root, char *path,
                     size_t path_size, char *errbuf) {
    *root = NULL;
    if (rl_path_join(path, path_size, dir, name) != RL_OK)
        return rl__errf(errbuf, RL_ETOOBIG, "%s: path too long", dir);
    if (!rl_file_exists(path)) {
        if (optional)
            return RL_OK;
        return rl__errf(errbuf, RL_EIO, "%s: no such file (%s)", path, SETUP_HINT);
    }
    return rl__json_load(path, MAX_CONFIG_FILE, JSON_REJECT_DUPLICATES, root, errbuf);
}

static int get_int(json_t *obj, const char *key, int lo, int hi, int *out, const char *path,
                   char *errbuf) {
    json_t *v = json_object_get(obj, key);
    if (!v)
        return rl__errf(errbuf, RL_EFORMAT, "%s: \"%s\" is missing", path, key);
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return rl__errf(errbuf, RL_EFORMAT, "%s: \"%s\" must be an integer in [%d, %d]", path, key,
                        lo, hi);
    *out = (int)json_integer_value(v);
    return RL_OK;
}

// A string setting that must have one value when present.
static int check_str(json_t *obj, const char *key, const char *want, const char *path,
                     char *errbuf) {
    json_t *v = json_object_get(obj, key);
    if (!v)
        return RL_OK;
    if (!json_is_string(v) || strcmp(json_string_value(v), want) != 0)
        return rl__errf(errbuf, RL_EUNSUPPORTED,
                        "%s: \"%s\" is %.40s%s%s, only \"%s\" is supported", path, key,
                        json_is_string(v) ? "\"" : "",
                        json_is_string(v) ? json_string_value(v) : "not a string",
                        json_is_string(v) ? "\"" : "", want);
    return RL_OK;
}

// ----------------------------------------------------------------------------
// Configuration

static int parse_config(json_t *root, struct rl__bert_config *cfg, const char *path, char *errbuf) {
    if (!json_is_object(root))
        return rl__errf(errbuf, RL_EFORMAT, "%s: not a JSON object", path);
    const struct {
        const char *key;
        int lo, hi;
        int *out;
    } ints[] = {
        {"vocab_size", 1, 1 << 20, &cfg->n_vocab},
        {"hidden_size", 1, 4096, &cfg->n_hidden},
        {"num_hidden_layers", 1, 64, &cfg->n_layers},
        {"num_attention_heads", 1, 128, &cfg->n_heads},
        {"intermediate_size", 1, 16384, &cfg->n_ffn},
        {"max_position_embeddings", 2, 8192, &cfg->n_positions},
        {"type_vocab_size", 1, 16, &cfg->n_types},
    };
    for (size_t i = 0; i < RL_COUNTOF(ints); i++) {
        int rc = get_int(root, ints[i].key, ints[i].lo, ints[i].hi, ints[i].out, path, errbuf);
        if (rc < 0)
            return rc;
    }
    if (cfg->n_hidden % cfg->n_heads != 0)
        return rl__errf(errbuf, RL_EFORMAT,
                        "%s: hidden_size %d is not a multiple of num_attention_heads %d", path,
                        cfg->n_hidden, cfg->n_heads);
    int rc = check_str(root, "hidden_act", "gelu", path, errbuf);
    if (rc == RL_OK)
        rc = check_str(root, "position_embedding_type", "absolute", path, errbuf);
    if (rc < 0)
        return rc;
    if (!json_object_get(root, "hidden_act"))
        return rl__errf(errbuf, RL_EFORMAT, "%s: \"hidden_act\" is missing", path);
    cfg->ln_eps = 1e-12f;
    json_t *eps = json_object_get(root, "layer_norm_eps");
    if (eps) {
        double v = json_number_value(eps);
        if (!json_is_number(eps) || !(v > 0 && v < 1))
            return rl__errf(errbuf, RL_EFORMAT, "%s: \"layer_norm_eps\" must be a number in (0, 1)",
                            path);
        cfg->ln_eps = (float)v;
    }
    return RL_OK;
}

// A module path from modules.json names a folder inside the model; keep it there.
static bool safe_relative(const char *p) {
    return p[0] != '/' && strstr(p, "..") == NULL;
}

static int parse_pooling(json_t *root, struct rl__bert_config *cfg, const char *path,
                         char *errbuf) {
    if (!json_is_object(root))
        return rl__errf(errbuf, RL_EFORMAT, "%s: not a JSON object", path);
    static const struct {
        const char *key;
        int mode; // -1: not supported
    } modes[] = {
        {"pooling_mode_mean_tokens", RL__POOLING_MEAN},
        {"pooling_mode_cls_token", RL__POOLING_CLS},
        {"pooling_mode_max_tokens", RL__POOLING_MAX},
        {"pooling_mode_mean_sqrt_len_tokens", RL__POOLING_MEAN},
        {"pooling_mode_weightedmean_tokens", -1},
        {"pooling_mode_lasttoken", -1},
    };
    int n_on = 0;
    for (size_t i = 0; i < RL_COUNTOF(modes); i++) {
        json_t *v = json_object_get(root, modes[i].key);
        if (v && !json_is_boolean(v))
            return rl__errf(errbuf, RL_EFORMAT, "%s: \"%s\" is not a boolean", path, modes[i].key);
        if (!json_is_true(v))
            continue;
        if (modes[i].mode < 0)
            return rl__errf(errbuf, RL_EUNSUPPORTED, "%s: \"%s\" is not supported", path,
                            modes[i].key);
        cfg->pooling = (enum rl__pooling)modes[i].mode;
        n_on++;
    }
    if (n_on != 1)
        return rl__errf(errbuf, RL_EUNSUPPORTED,
                        "%s: %d pooling modes are set; exactly one (mean, cls or max) is supported",
                        path, n_on);
    json_t *dim = json_object_get(root, "word_embedding_dimension");
    if (dim && (!json_is_integer(dim) || json_integer_value(dim) != cfg->n_hidden))
        return rl__errf(errbuf, RL_EFORMAT,
                        "%s: \"word_embedding_dimension\" does not match hidden_size %d", path,
                        cfg->n_hidden);
    return RL_OK;
}

// modules.json: a Transformer at the folder's root, one Pooling module, optionally Normalize.
// Without modules.json, sentence-transformers wraps a plain model with mean pooling; so do we.
static int parse_modules(const char *dir, struct rl__bert_config *cfg, char *errbuf) {
    char path[4096];
    json_t *root;
    int rc = load_json(dir, "modules.json", true, &root, path, sizeof path, errbuf);
    if (rc < 0 || !root)
        return rc;
    const char *pooling_dir = NULL;
    bool has_transformer = false;
    if (!json_is_array(root)) {
        rc = rl__errf(errbuf, RL_EFORMAT, "%s: not a JSON array", path);
        goto done;
    }
    size_t i;
    json_t *m;
    json_array_foreach(root, i, m) {
        const char *type = json_string_value(json_object_get(m, "type"));
        const char *mpath = json_string_value(json_object_get(m, "path"));
        if (!type || !mpath || !safe_relative(mpath)) {
            rc = rl__errf(errbuf, RL_EFORMAT,
                          "%s: module %zu needs string \"type\" and a relative "
                          "\"path\" inside the folder",
                          path, i);
            goto done;
        }
        if (rl_has_suffix(type, ".Transformer") && mpath[0] == '\0' && !has_transformer) {
            has_transformer = true;
        } else if (rl_has_suffix(type, ".Pooling") && !pooling_dir) {
            pooling_dir = mpath;
        } else if (rl_has_suffix(type, ".Normalize")) {
            cfg->has_normalize = true;
        } else {
            rc = rl__errf(errbuf, RL_EUNSUPPORTED,
                          "%s: module %zu (%.64s at \"%.64s\") is not "
                          "supported",
                          path, i, type, mpath);
            goto done;
        }
    }
    if (!has_transformer || !pooling_dir) {
        rc = rl__errf(errbuf, RL_EFORMAT,
                      "%s: needs a Transformer module at path \"\" and a "
                      "Pooling module",
                      path);
        goto done;
    }
    char sub[4096];
    if (rl_path_join(sub, sizeof sub, dir, pooling_dir) != RL_OK) {
        rc = rl__errf(errbuf, RL_ETOOBIG, "%s: path too long", dir);
        goto done;
    }
    json_t *pool;
    rc = load_json(sub, "config.json", false, &pool, path, sizeof path, errbuf);
    if (rc == RL_OK) {
        rc = parse_pooling(pool, cfg, path, errbuf);
        json_decref(pool);
    }
done:
    json_decref(root);
    return rc;
}

static int parse_sbert(const char *dir, struct rl__bert_config *cfg, char *errbuf) {
    char path[4096];
    json_t *root;
    int rc = load_json(dir, "sentence_bert_config.json", true, &root, path, sizeof path, errbuf);
    cfg->max_seq = cfg->n_positions < 512 ? cfg->n_positions : 512;
    if (rc < 0 || !root)
        return rc;
    if (!json_is_object(root)) {
        rc = rl__errf(errbuf, RL_EFORMAT, "%s: not a JSON object", path);
    } else if (json_object_get(root, "max_seq_length")) {
        rc = get_int(root, "max_seq_length", 2, cfg->n_positions, &cfg->max_seq, path, errbuf);
    }
    json_t *lc = json_object_get(root, "do_lower_case");
    if (rc == RL_OK && lc) {
        if (json_is_boolean(lc))
            cfg->lower_case = json_is_true(lc);
        else
            rc = rl__errf(errbuf, RL_EFORMAT, "%s: \"do_lower_case\" is not a boolean", path);
    }
    json_decref(root);
    return rc;
}

int rl__bert_config_load(const char *dir, struct rl__bert_config *cfg, char *errbuf) {
    memset(cfg, 0, sizeof *cfg);
    char path[4096];
    json_t *root;
    int rc = load_json(dir, "config.json", false, &root, path, sizeof path, errbuf);
    if (rc < 0)
        return rc;
    rc = parse_config(root, cfg, path, errbuf);
    json_decref(root);
    if (rc < 0)
        return rc;
    cfg->pooling = RL__POOLING_MEAN;
    rc = parse_modules(dir, cfg, errbuf);
    if (rc < 0)
        return rc;
    return parse_sbert(dir, cfg, errbuf);
}

// ----------------------------------------------------------------------------
// Weights

static void to_f32(const struct rl_tensor *t, float *dst) {
    size_t n = t->nbytes / rl_dtype_size(t->dtype);
    if (t->dtype == RL_DTYPE_F32) {
        memcpy(dst, t->data, t->nbytes);
    } else if (t->dtype == RL_DTYPE_F16) {
        const uint16_t *src = t->data;
        for (size_t i = 0; i < n; i++)
            dst[i] = rl__f16_to_f32(src[i]);
    } else { // BF16: the high half of a float
        const uint16_t *src = t->data;
        for (size_t i = 0; i < n; i++) {
            uint32_t bits = (uint32_t)src[i] << 16;
            memcpy(&dst[i], &bits, sizeof bits);
        }
    }
}

struct loader {
    const struct rl__bert_config *cfg;
    const struct rl__kernels *k;
    struct rl_safetensors *st;
    const char *prefix; // "" or "bert."
    char *errbuf;
};

// Find prefix+name with a float dtype and the given shape (rows, cols; cols 0 for a vector).
static int find(struct loader *ld, const char *name, int rows, int cols,
                const struct rl_tensor **out) {
    char full[256];
    snprintf(full, sizeof full, "%s%s", ld->prefix, name);
    const struct rl_tensor *t = rl_safetensors_find(ld->st, full);
    if (t && t->dtype != RL_DTYPE_F32 && t->dtype != RL_DTYPE_F16 && t->dtype != RL_DTYPE_BF16)
        return rl__errf(ld->errbuf, RL_EFORMAT,
                        "%s: tensor \"%s\" is %s, expected F32, F16 or BF16",
                        rl_safetensors_path(ld->st), full, rl_dtype_name(t->dtype));
    enum rl_dtype dtype = t ? t->dtype : RL_DTYPE_F32;
    const int64_t shape[2] = {rows, cols};
    return rl_safetensors_expect(ld->st, full, dtype, cols ? 2 : 1, shape, out, ld->errbuf);
}

// Copy a vector tensor (n floats) into dst, zero-padding it to pad floats.
static int load_vec(struct loader *ld, const char *name, int n, float *dst, int pad) {
    const struct rl_tensor *t;
    int rc = find(ld, name, n, 0, &t);
    if (rc < 0)
        return rc;
    to_f32(t, dst);
    memset(dst + n, 0, (size_t)(pad - n) * sizeof *dst);
    return RL_OK;
}

// Convert a (rows, cols) matrix into tmp (rows × cols floats) and release its mapped pages.
static int load_mat(struct loader *ld, const char *name, int rows, int cols, float *tmp) {
    const struct rl_tensor *t;
    int rc = find(ld, name, rows, cols, &t);
    if (rc < 0)
        return rc;
    to_f32(t, tmp);
    rl_safetensors_release(ld->st, t);
    return RL_OK;
}

// The int8 plan: which linear layers run in int8 when int8 is asked for; the others stay fp32
// (the forward pass takes either form for each). Measured on all-MiniLM-L6-v2 with the 328
// golden texts of tests/unit/encoder/int8.c, cosine of the int8 vectors to fp32 (mean, worst),
// quantisation blocks of 32 k (kernels.c):
//   every linear layer int8              0.99928  0.99826
//   QKV stays fp32 (in all six layers)   0.99966  0.99919
//   FFN down stays fp32                  0.99938  0.99840
//   FFN up stays fp32                    0.99951  0.99848
//   output projection stays fp32         0.99930  0.99811
//   one whole layer stays fp32           0.99930 to 0.99951, worst 0.99814 to 0.99884
// (blocks of 64 k: 0.99885 and 0.99714 with every layer int8; one scale per row and output
// channel: 0.99390 and 0.98065). Every layer int8 passes the gates (mean >= 0.999, worst >=
// 0.995), so the plan quantises them all; QKV is the layer to keep in fp32 first should a model
// need it.
unsigned rl__bert_q8_plan(const struct rl__bert_config *cfg) {
    (void)cfg;
    return RL__LINEAR_ALL;
}

// Bump allocation out of the block: 64-byte aligned pieces. With base NULL it only measures.
struct bump {
    float *base;
    size_t used; // floats
};

static float *bump(struct bump *b, size_t n) {
    float *p = b->base ? b->base + b->used : NULL;
    b->used += (n + 15) / 16 * 16;
    return p;
}

// Lay out the block; called once to measure and once to assign.
static void layout(struct bump *b, const struct rl__bert_config *cfg, struct rl__bert_weights *w,
                   unsigned q8_set, bool own_word, bool own_pos, float **word, float **pos) {
    const struct rl__kernels *k = w->k;
    int C = cfg->n_hidden, F = cfg->n_ffn, nr = k->nr;
    size_t pad3c = (size_t)k->n_panels(3 * C) * nr, padc = (size_t)k->n_panels(C) * nr;
    size_t padf = (size_t)k->n_panels(F) * nr;
    *word = own_word ? bump(b, (size_t)cfg->n_vocab * C) : NULL;
    *pos = own_pos ? bump(b, (size_t)cfg->n_positions * C) : NULL;
    w->type0 = bump(b, (size_t)C);
    w->ln_w = bump(b, (size_t)C);
    w->ln_b = bump(b, (size_t)C);
    static const struct {
        int rows_is_ffn, cols_is_ffn, rows_x3; // (rows, cols): rows F, 3C or C; cols F or C
    } shapes[RL__N_LINEAR] = {{0, 0, 1}, {0, 0, 0}, {1, 0, 0}, {0, 1, 0}};
    for (int l = 0; l < cfg->n_layers; l++) {
        struct rl__bert_layer *L = &w->layers[l];
        const float **wp[RL__N_LINEAR] = {&L->qkv_w, &L->o_w, &L->ffn1_w, &L->ffn2_w};
        for (int m = 0; m < RL__N_LINEAR; m++) {
            int rows = shapes[m].rows_is_ffn ? F : shapes[m].rows_x3 ? 3 * C : C;
            int cols = shapes[m].cols_is_ffn ? F : C;
            // Exactly one of the two forms; q8 sizes are whole multiples of 64 bytes.
            bool q8 = q8_set & 1u << m;
            *wp[m] = q8 ? NULL : bump(b, k->packed_size(rows, cols));
            L->q8[m] = q8 ? bump(b, k->q8_packed_size(rows, cols) / sizeof(float)) : NULL;
        }
        L->qkv_b = bump(b, pad3c);
        L->o_b = bump(b, padc);
        L->ln1_w = bump(b, (size_t)C);
        L->ln1_b = bump(b, (size_t)C);
        L->ffn1_b = bump(b, padf);
        L->ffn2_b = bump(b, padc);
        L->ln2_w = bump(b, (size_t)C);
        L->ln2_b = bump(b, (size_t)C);
    }
}

// Pack the (rows, cols) matrix w in the one form the layout gave it: fp32 into wp or int8 into
// q8.
static void pack(const struct rl__kernels *k, const float *w, int rows, int cols, const float *wp,
                 const void *q8) {
    // Layout pointers are const for the forward pass; the loader is their one writer.
    if (wp)
        k->pack(w, rows, cols, (float *)wp);
    else
        k->q8_pack(w, rows, cols, (void *)q8);
}

static int load_layer(struct loader *ld, int l, struct rl__bert_layer *L, float *tmp) {
    const struct rl__kernels *k = ld->k;
    int C = ld->cfg->n_hidden, F = ld->cfg->n_ffn, nr = k->nr;
    int pad3c = k->n_panels(3 * C) * nr, padc = k->n_panels(C) * nr;
    int padf = k->n_panels(F) * nr;
    static const char *const qkv[3] = {"query", "key", "value"};
    char name[160];
    int rc;
    // Layout pointers are const for the forward pass; the loader is their one writer.
    float *qkv_b = (float *)L->qkv_b;
    for (int i = 0; i < 3; i++) {
        snprintf(name, sizeof name, "encoder.layer.%d.attention.self.%s.weight", l, qkv[i]);
        rc = load_mat(ld, name, C, C, tmp + (size_t)i * C * C);
        if (rc < 0)
            return rc;
        snprintf(name, sizeof name, "encoder.layer.%d.attention.self.%s.bias", l, qkv[i]);
        rc = load_vec(ld, name, C, qkv_b + i * C, C);
        if (rc < 0)
            return rc;
    }
    memset(qkv_b + 3 * C, 0, (size_t)(pad3c - 3 * C) * sizeof(float));
    pack(k, tmp, 3 * C, C, L->qkv_w, L->q8[RL__LINEAR_QKV]);

    static const struct {
        const char *name;
        int rows_is_ffn, cols_is_ffn; // the matrix is (F or C, F or C)
    } mats[3] = {
        {"attention.output.dense", 0, 0},
        {"intermediate.dense", 1, 0},
        {"output.dense", 0, 1},
    };
    const float *const wdst[3] = {L->o_w, L->ffn1_w, L->ffn2_w};
    const void *const qdst[3] = {L->q8[RL__LINEAR_OUT], L->q8[RL__LINEAR_FFN1],
                                 L->q8[RL__LINEAR_FFN2]};
    float *const bdst[3] = {(float *)L->o_b, (float *)L->ffn1_b, (float *)L->ffn2_b};
    for (int i = 0; i < 3; i++) {
        int rows = mats[i].rows_is_ffn ? F : C, cols = mats[i].cols_is_ffn ? F : C;
        snprintf(name, sizeof name, "encoder.layer.%d.%s.weight", l, mats[i].name);
        rc = load_mat(ld, name, rows, cols, tmp);
        if (rc < 0)
            return rc;
        pack(k, tmp, rows, cols, wdst[i], qdst[i]);
        snprintf(name, sizeof name, "encoder.layer.%d.%s.bias", l, mats[i].name);
        rc = load_vec(ld, name, rows, bdst[i], rows == F ? padf : padc);
        if (rc < 0)
            return rc;
    }
    static const char *const lns[2] = {"attention.output.LayerNorm", "output.LayerNorm"};
    float *const lnw[2] = {(float *)L->ln1_w, (float *)L->ln2_w};
    float *const lnb[2] = {(float *)L->ln1_b, (float *)L->ln2_b};
    for (int i = 0; i < 2; i++) {
        snprintf(name, sizeof name, "encoder.layer.%d.%s.weight", l, lns[i]);
        rc = load_vec(ld, name, C, lnw[i], C);
        if (rc < 0)
            return rc;
        snprintf(name, sizeof name, "encoder.layer.%d.%s.bias", l, lns[i]);
        rc = load_vec(ld, name, C, lnb[i], C);
        if (rc < 0)
            return rc;
    }
    return RL_OK;
}

// The word and position tables are used in place when they are F32 (the reader guarantees
// alignment), so a forward pass only touches the rows of the tokens it sees.
static int load_embeddings(struct loader *ld, struct rl__bert_weights *w, float *word, float *pos) {
    const struct rl__bert_config *cfg = ld->cfg;
    int C = cfg->n_hidden;
    const struct rl_tensor *t;
    int rc = find(ld, "embeddings.word_embeddings.weight", cfg->n_vocab, C, &t);
    if (rc < 0)
        return rc;
    if (word)
        to_f32(t, word);
    w->word = word ? word : t->data;
    rc = find(ld, "embeddings.position_embeddings.weight", cfg->n_positions, C, &t);
    if (rc < 0)
        return rc;
    if (pos)
        to_f32(t, pos);
    w->pos = pos ? pos : t->data;
    rc = find(ld, "embeddings.token_type_embeddings.weight", cfg->n_types, C, &t);
    if (rc < 0)
        return rc;
    // Only type 0 is used: every text is a single segment.
    if (t->dtype == RL_DTYPE_F32) {
        memcpy((float *)w->type0, t->data, (size_t)C * sizeof(float));
    } else {
        struct rl_tensor row = *t;
        row.nbytes = (size_t)C * rl_dtype_size(t->dtype);
        to_f32(&row, (float *)w->type0);
    }
    rc = load_vec(ld, "embeddings.LayerNorm.weight", C, (float *)w->ln_w, C);
    if (rc < 0)
        return rc;
    return load_vec(ld, "embeddings.LayerNorm.bias", C, (float *)w->ln_b, C);
}

int rl__bert_weights_open(const char *path, const struct rl__bert_config *cfg, unsigned q8,
                          struct rl__bert_weights *w, char *errbuf) {
    memset(w, 0, sizeof *w);
    if (!rl_file_exists(path))
        return rl__errf(errbuf, RL_EIO, "%s: no such file (%s)", path, SETUP_HINT);
    w->k = rl__kernels_for_cpu(errbuf);
    if (!w->k)
        return RL_EUNSUPPORTED;
    struct loader ld = {.cfg = cfg, .k = w->k, .prefix = "", .errbuf = errbuf};
    float *tmp = NULL;
    int rc = RL_OK;
    ld.st = w->st = rl_safetensors_open(path, errbuf);
    if (!w->st)
        return RL_EFORMAT;
    if (!rl_safetensors_find(ld.st, "embeddings.word_embeddings.weight") &&
        rl_safetensors_find(ld.st, "bert.embeddings.word_embeddings.weight"))
        ld.prefix = "bert.";
    const struct rl_tensor *word_t =
        rl_safetensors_find(ld.st, ld.prefix[0] ? "bert.embeddings.word_embeddings.weight"
                                                : "embeddings.word_embeddings.weight");
    const struct rl_tensor *pos_t =
        rl_safetensors_find(ld.st, ld.prefix[0] ? "bert.embeddings.position_embeddings.weight"
                                                : "embeddings.position_embeddings.weight");
    bool own_word = !word_t || word_t->dtype != RL_DTYPE_F32;
    bool own_pos = !pos_t || pos_t->dtype != RL_DTYPE_F32;

    w->layers = calloc((size_t)cfg->n_layers, sizeof *w->layers);
    if (!w->layers)
        goto nomem;
    float *word, *pos;
    struct bump b = {0};
    layout(&b, cfg, w, q8, own_word, own_pos, &word, &pos);
    w->block = aligned_alloc(64, b.used * sizeof(float));
    size_t tmp_n =
        (size_t)cfg->n_hidden * (cfg->n_ffn > 3 * cfg->n_hidden ? cfg->n_ffn : 3 * cfg->n_hidden);
    tmp = malloc(tmp_n * sizeof *tmp);
    if (!w->block || !tmp)
        goto nomem;
    b = (struct bump){.base = w->block};
    layout(&b, cfg, w, q8, own_word, own_pos, &word, &pos);

    for (int l = 0; l < cfg->n_layers; l++)
        for (int m = 0; m < RL__N_LINEAR; m++)
            w->any_q8 |= w->layers[l].q8[m] != NULL;
    rc = load_embeddings(&ld, w, word, pos);
    for (int l = 0; rc == RL_OK && l < cfg->n_layers; l++)
        rc = load_layer(&ld, l, &w->layers[l], tmp);
    free(tmp);
    if (rc < 0)
        rl__bert_weights_free(w);
    return rc;
nomem:
    free(tmp);
    rl__bert_weights_free(w);
    return rl__errf(errbuf, RL_ENOMEM, "%s: out of memory for the weights", path);
}

void rl__bert_weights_free(struct rl__bert_weights *w) {
    free(w->block);
    free(w->layers);
    rl_safetensors_free(w->st);
    memset(w, 0, sizeof *w);
}
