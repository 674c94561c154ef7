// The sentence encoder: loading a model folder, and the BERT forward pass over batches packed
// without padding. A batch is cut into chunks of about CHUNK_TOKENS tokens; all tokens of a
// chunk go through each linear layer as one (Σ T) × C matrix, while attention runs per text and
// head, so no work is spent on padding and no mask is needed. A chunk runs on the workspace's
// thread team, which shares out groups of GEMM output panels, (text, head) attention pairs and
// row blocks, stage after stage (see "Forward pass").
//
// Per layer (post-LN BERT, as in Hugging Face's BertLayer):
//   qkv = x·Wqkvᵀ + b;  ctx = attention(q, k, v);  x = LN(x + ctx·Woᵀ + bo)
//   h = gelu(x·W1ᵀ + b1);  x = LN(x + h·W2ᵀ + b2)
// then pooling (mean, CLS or max over each text's tokens) and L2 normalisation.
//
// A GGUF model is a causal LM read in the routing template instead (lm/route.h): its texts are
// shared out among the workspace's threads, one pass per text.
#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"
#include "encoder/bert.h"
#include "encoder/kernels.h"
#include "lm/route.h"
#include "rl/encoder.h"

// Tokens per forward pass. Large enough that the GEMMs run at full speed and weights are read
// once per many tokens; small enough that activations stay in the L2/L3 caches.
#define CHUNK_TOKENS 256

// When several threads share a chunk, GEMM stages are split into single output panels and
// attention into single (text, head) pairs, at most MAX_ITEMS_PER_THREAD per thread, so that the
// threads' shares can be made equal (claims take runs of items, see forward()). Cheap row stages
// get ROW_ITEMS_PER_THREAD items per thread.
#define MAX_ITEMS_PER_THREAD 64
#define ROW_ITEMS_PER_THREAD 2

// Workspaces kept for rl_encoder_embed between calls: creating one costs a thread start and
// fresh pages, about a millisecond, a third of a short prompt's forward pass.
#define WS_POOL 4

struct rl_encoder {
    char *name;
    enum rl_precision precision;
    struct rl__lm_encoder *lm; // a causal LM (cfg, w and tok unused), or NULL for BERT
    struct rl__bert_config cfg;
    struct rl__bert_weights w;
    struct rl_tokenizer *tok;
    // Idle workspaces of rl_encoder_embed; the only mutable state, guarded by pool_mu.
    pthread_mutex_t pool_mu;
    struct rl_encoder_ws *pool[WS_POOL];
    int n_pool;
};

struct seq {
    int start; // first token in the chunk
    int len;
};

struct rl_encoder_ws {
    struct rl__team *team;
    int n_threads;
    // Buffers for cap_tokens tokens (and as many texts) at the widths c and f they were sized
    // for, and scratch_each floats of attention scratch per thread; regrown when an encoder or a
    // batch needs more. All point into mem.
    size_t cap_tokens, scratch_each;
    int c, f;
    float *mem;
    float *x;       // (T, C) hidden states: the residual stream
    float *qkv;     // (T, 3C)
    float *ctx;     // (T, C) attention output, heads side by side
    float *ffn;     // (T, F)
    float *scratch; // (n_threads, scratch_each) attention scratch
    void *xq;       // (T, q8_row bytes) the int8 rows of the next int8 GEMM's input
    size_t q8_row;  // bytes per row of xq
    int32_t *ids;   // (T)
    int32_t *pos;   // (T) position of each token in its text
    struct seq *seqs;
};

// ----------------------------------------------------------------------------
// Loading

static char *base_name(const char *dir) {
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        n--;
    size_t b = n;
    while (b > 0 && dir[b - 1] != '/')
        b--;
    if (n == b)
        return strdup("encoder");
    return strndup(dir + b, n - b);
}

struct rl_encoder *rl_encoder_open(const char *model_dir, char *errbuf) {
    return rl_encoder_open_precision(model_dir, RL_PRECISION_FP32, errbuf);
}

// With plan, the int8 set is the plan's for this model; otherwise q8.
static struct rl_encoder *open_encoder(const char *model_dir, bool plan, unsigned q8,
                                       char *errbuf) {
    struct rl_encoder *e = calloc(1, sizeof *e);
    char *name = base_name(model_dir);
    if (!e || !name) {
        free(e);
        free(name);
        rl__errf(errbuf, RL_ENOMEM, "%s: out of memory", model_dir);
        return NULL;
    }
    e->name = name;
    pthread_mutex_init(&e->pool_mu, NULL);
    char path[4096];
    if (!rl_file_exists(model_dir)) {
        rl__errf(errbuf, RL_EIO,
                 "%s: model folder not found (fetch the default encoder with `make models`)",
                 model_dir);
        goto fail;
    }
    if (rl__bert_config_load(model_dir, &e->cfg, errbuf) != RL_OK)
        goto fail;
    if (rl_path_join(path, sizeof path, model_dir, "model.safetensors") != RL_OK) {
        rl__errf(errbuf, RL_ETOOBIG, "%s: path too long", model_dir);
        goto fail;
    }
    if (rl__bert_weights_open(path, &e->cfg, plan ? rl__bert_q8_plan(&e->cfg) : q8, &e->w,
                              errbuf) != RL_OK)
        goto fail;
    e->precision = e->w.any_q8 ? RL_PRECISION_INT8 : RL_PRECISION_FP32;
    e->tok = rl_tokenizer_load(model_dir, errbuf);
    if (!e->tok)
        goto fail;
    if (rl_tokenizer_n_vocab(e->tok) > (size_t)e->cfg.n_vocab) {
        rl__errf(errbuf, RL_EFORMAT, "%s: the tokenizer has %zu entries but vocab_size is %d",
                 model_dir, rl_tokenizer_n_vocab(e->tok), e->cfg.n_vocab);
        goto fail;
    }
    return e;
fail:
    rl_encoder_free(e);
    return NULL;
}

static bool ends_with(const char *s, const char *tail) {
    size_t n = strlen(s), k = strlen(tail);
    return n >= k && strcmp(s + n - k, tail) == 0;
}

// The GGUF file model_dir names: itself when it ends in .gguf, else the one .gguf file of a
// folder without config.json. false when it names a BERT folder (or nothing).
static bool gguf_path(const char *model_dir, char *path, size_t size) {
    if (ends_with(model_dir, ".gguf"))
        return snprintf(path, size, "%s", model_dir) < (int)size;
    char config[4096];
    if (rl_path_join(config, sizeof config, model_dir, "config.json") != RL_OK ||
        rl_file_exists(config))
        return false;
    DIR *d = opendir(model_dir);
    if (!d)
        return false;
    int found = 0;
    for (struct dirent *de; (de = readdir(d));)
        if (ends_with(de->d_name, ".gguf") && de->d_name[0] != '.' &&
            rl_path_join(path, size, model_dir, de->d_name) == RL_OK)
            found++;
    closedir(d);
    return found == 1;
}

// A causal LM's routing encoder, called after its folder (or its file without .gguf).
static struct rl_encoder *open_lm_encoder(const char *model_dir, const char *path,
                                          enum rl_precision precision, char *errbuf) {
    struct rl_encoder *e = calloc(1, sizeof *e);
    char *name = base_name(model_dir);
    if (e)
        e->lm = calloc(1, sizeof *e->lm);
    if (!e || !name || !e->lm) {
        if (e)
            free(e->lm);
        free(e);
        free(name);
        rl__errf(errbuf, RL_ENOMEM, "%s: out of memory", model_dir);
        return NULL;
    }
    if (ends_with(name, ".gguf"))
        name[strlen(name) - 5] = '\0';
    e->name = name;
    e->precision = precision;
    pthread_mutex_init(&e->pool_mu, NULL);
    if (rl__lm_encoder_open(path, precision, e->lm, errbuf) != RL_OK) {
        rl_encoder_free(e);
        return NULL;
    }
    return e;
}

struct rl_encoder *rl_encoder_open_precision(const char *model_dir, enum rl_precision precision,
                                             char *errbuf) {
    if (precision != RL_PRECISION_FP32 && precision != RL_PRECISION_INT8) {
        rl__errf(errbuf, RL_EINVAL, "precision %d is not fp32 or int8", (int)precision);
        return NULL;
    }
    char path[4096];
    if (gguf_path(model_dir, path, sizeof path))
        return open_lm_encoder(model_dir, path, precision, errbuf);
    return open_encoder(model_dir, precision == RL_PRECISION_INT8, 0, errbuf);
}

struct rl_encoder *rl__encoder_open_q8(const char *model_dir, unsigned q8, char *errbuf) {
    return open_encoder(model_dir, false, q8, errbuf);
}

void rl_encoder_free(struct rl_encoder *e) {
    if (!e)
        return;
    for (int i = 0; i < e->n_pool; i++)
        rl_encoder_ws_free(e->pool[i]);
    pthread_mutex_destroy(&e->pool_mu);
    rl_tokenizer_free(e->tok);
    rl__bert_weights_free(&e->w);
    if (e->lm)
        rl__lm_encoder_free(e->lm);
    free(e->lm);
    free(e->name);
    free(e);
}

size_t rl_encoder_dim(const struct rl_encoder *e) {
    return (size_t)(e->lm ? e->lm->lm.n_embd : e->cfg.n_hidden);
}

const char *rl_encoder_name(const struct rl_encoder *e) {
    return e->name;
}

size_t rl_encoder_max_tokens(const struct rl_encoder *e) {
    return e->lm ? (size_t)e->lm->lm.n_ctx : (size_t)e->cfg.max_seq;
}

size_t rl_encoder_max_positions(const struct rl_encoder *e) {
    return e->lm ? (size_t)e->lm->lm.n_ctx : (size_t)e->cfg.n_positions;
}

long rl_encoder_count_tokens(const struct rl_encoder *e, const char *text, size_t len) {
    if (!e->lm) {
        int32_t *ids = malloc((size_t)e->cfg.max_seq * sizeof *ids);
        long n =
            ids ? rl_tokenizer_encode(e->tok, text, len, ids, (size_t)e->cfg.max_seq) : RL_ENOMEM;
        free(ids);
        return n;
    }
    struct rl__lm_ids body = {0};
    int n_text = 0;
    char err[RL_ERRBUF_SIZE];
    int rc = rl__lm_route_body(&e->lm->lm.file, &e->lm->vocab, text, len, RL_LM_ROUTE_MAX_TEXT,
                               &body, &n_text, err);
    long n = rc == RL_OK ? (long)(e->lm->head.n + (int)body.n) : rc;
    free(body.p);
    return n;
}

int rl_encoder_score_rows(const struct rl_encoder *e, float *rows, char *errbuf) {
    if (!e->lm)
        return rl__errf(errbuf, RL_EINVAL, "%s is not a causal LM: it has no score tokens",
                        e->name);
    int32_t ids[RL_ENCODER_SCORE_TOKENS];
    for (int k = 0; k < RL_ENCODER_SCORE_TOKENS; k++) {
        char digit = (char)('1' + k);
        ids[k] = rl__lm_vocab_find(&e->lm->vocab, &digit, 1);
        if (ids[k] < 0)
            return rl__errf(errbuf, RL_EFORMAT, "%s: the vocabulary has no token \"%c\"", e->name,
                            digit);
    }
    // The vocabulary was checked against the model's width at open.
    int rc = rl__lm_output_rows(&e->lm->lm, ids, RL_ENCODER_SCORE_TOKENS, rows);
    return rc == RL_OK ? RL_OK : rl__errf(errbuf, rc, "%s: a score token is out of range", e->name);
}

const struct rl_tokenizer *rl_encoder_tokenizer(const struct rl_encoder *e) {
    return e->tok;
}

enum rl_precision rl_encoder_precision(const struct rl_encoder *e) {
    return e->precision;
}

static const char *const precision_names[] = {"fp32", "int8"};

const char *rl_precision_name(enum rl_precision p) {
    return (unsigned)p < RL_COUNTOF(precision_names) ? precision_names[p] : "unknown";
}

int rl_precision_parse(const char *s, enum rl_precision *p) {
    for (size_t i = 0; s && i < RL_COUNTOF(precision_names); i++) {
        if (strcmp(s, precision_names[i]) == 0) {
            *p = (enum rl_precision)i;
            return RL_OK;
        }
    }
    return RL_EINVAL;
}

// ----------------------------------------------------------------------------
// Workspaces

struct rl_encoder_ws *rl_encoder_ws_new(int n_threads) {
    if (n_threads <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        n_threads = n > 0 ? (int)(n < 64 ? n : 64) : 1;
    }
    struct rl_encoder_ws *ws = calloc(1, sizeof *ws);
    if (!ws)
        return NULL;
    ws->n_threads = n_threads;
    if (n_threads > 1)
        ws->team = rl__team_new(n_threads);
    if (n_threads > 1 && !ws->team) {
        free(ws);
        return NULL;
    }
    return ws;
}

void rl_encoder_ws_free(struct rl_encoder_ws *ws) {
    if (!ws)
        return;
    rl__team_free(ws->team);
    free(ws->mem);
    free(ws);
}

int rl_encoder_ws_threads(const struct rl_encoder_ws *ws) {
    return ws->n_threads;
}

// Make room for a chunk of up to tokens tokens (texts of at most max_len tokens) of encoder e.
static int ws_reserve(struct rl_encoder_ws *ws, const struct rl_encoder *e, size_t tokens,
                      int max_len) {
    int C = e->cfg.n_hidden, F = e->cfg.n_ffn, d = C / e->cfg.n_heads;
    size_t scratch = e->w.k->attention_scratch(max_len, d);
    size_t q8_row = e->w.any_q8 ? e->w.k->q8_row_size(C > F ? C : F) : 0;
    if (ws->mem && tokens <= ws->cap_tokens && C <= ws->c && F <= ws->f &&
        scratch <= ws->scratch_each && q8_row <= ws->q8_row)
        return RL_OK;
    if (ws->mem) { // grow all dimensions at once, never shrink
        tokens = tokens > ws->cap_tokens ? tokens : ws->cap_tokens;
        C = C > ws->c ? C : ws->c;
        F = F > ws->f ? F : ws->f;
        scratch = scratch > ws->scratch_each ? scratch : ws->scratch_each;
        q8_row = q8_row > ws->q8_row ? q8_row : ws->q8_row;
    }
    free(ws->mem);
    ws->mem = NULL;
    // Each piece is a multiple of 16 floats so that every buffer starts 64-byte aligned.
    size_t rt = (tokens + 15) / 16 * 16, rs = (scratch + 15) / 16 * 16;
    // q8_row is a multiple of 64 bytes (kernels.h), so xq keeps the alignment.
    size_t floats =
        rt * (size_t)(5 * C + F) + rs * (size_t)ws->n_threads + rt * (q8_row / sizeof(float));
    size_t ints = 2 * rt + rt * sizeof(struct seq) / sizeof(int32_t);
    ws->mem = aligned_alloc(64, (floats + ints) * sizeof(float));
    if (!ws->mem)
        return RL_ENOMEM;
    float *p = ws->mem;
    ws->x = p;
    p += rt * (size_t)C;
    ws->qkv = p;
    p += rt * (size_t)3 * C;
    ws->ctx = p;
    p += rt * (size_t)C;
    ws->ffn = p;
    p += rt * (size_t)F;
    ws->scratch = p;
    p += rs * (size_t)ws->n_threads;
    ws->xq = p;
    p += rt * (q8_row / sizeof(float));
    ws->ids = (int32_t *)p;
    ws->pos = ws->ids + rt;
    ws->seqs = (struct seq *)(ws->pos + rt);
    ws->cap_tokens = tokens;
    ws->c = C;
    ws->f = F;
    ws->scratch_each = scratch;
    ws->q8_row = q8_row;
    return RL_OK;
}

// ----------------------------------------------------------------------------
// Forward pass

// The forward pass of a chunk is a fixed sequence of stages, each a set of independent items:
// embedding rows, then per layer the QKV GEMM (output panels), attention ((text, head) pairs),
// the output projection, LayerNorm (row blocks), FFN up, FFN down, LayerNorm, and last pooling
// (texts). Items are numbered globally in that order and threads claim runs of them from one
// atomic ticket; a run may start once every item of the earlier stages is done, which a count
// of finished items tells (items are claimed in order, and none of a stage finishes before the
// count reaches the stage's start). Unlike a static split with barriers, a thread that the OS
// deschedules between claims holds nobody up: the others take its share.
// With int8 layers, each int8 GEMM's input rows are quantised once they are final: by the
// embedding and LayerNorm stages for the rows they finish, and by two stages of their own for
// the attention output and the FFN's GELU output (their rows are finished by many items). Those
// two stages have no items when no layer is int8.
enum stage_kind {
    STAGE_QKV,
    STAGE_ATTENTION,
    STAGE_QUANT_CTX,
    STAGE_OUT_PROJ,
    STAGE_LN1,
    STAGE_FFN_UP,
    STAGE_QUANT_FFN,
    STAGE_FFN_DOWN,
    STAGE_LN2,
    N_LAYER_STAGES,
};

struct chunk {
    const struct rl_encoder *e;
    struct rl_encoder_ws *ws;
    int n_seqs;
    int n_tokens;
    float *out; // (n_seqs, C)
    // Items per stage and per layer, and the global total.
    int n_embed, n_pool, n_layer_items;
    int items[N_LAYER_STAGES];
    long n_items;
    atomic_long ticket; // next item to claim
    atomic_long done;   // items finished
};

// Bounds of part g of n things split into parts.
static void part(int n, int g, int parts, int *lo, int *hi) {
    *lo = (int)((long)n * g / parts);
    *hi = (int)((long)n * (g + 1) / parts);
}

static int min_int(int a, int b) {
    return a < b ? a : b;
}

// x[r] = word[id] + type[0] + pos[p], in Hugging Face's order of additions, then LayerNorm.
static void embed_rows(const struct chunk *ch, int r0, int r1) {
    const struct rl__bert_weights *w = &ch->e->w;
    const struct rl_encoder_ws *ws = ch->ws;
    int C = ch->e->cfg.n_hidden;
    for (int r = r0; r < r1; r++) {
        const float *word = w->word + (size_t)ws->ids[r] * C;
        const float *pos = w->pos + (size_t)ws->pos[r] * C;
        float *x = ws->x + (size_t)r * C;
        for (int j = 0; j < C; j++)
            x[j] = (word[j] + w->type0[j]) + pos[j];
    }
    w->k->layernorm(ws->x, C, C, w->ln_w, w->ln_b, ch->e->cfg.ln_eps, r0, r1);
    if (w->layers[0].q8[RL__LINEAR_QKV])
        w->k->q8_quantize(ws->x, C, C, ws->xq, r0, r1);
}

static void pool(const struct chunk *ch, int s0, int s1) {
    const struct rl_encoder_ws *ws = ch->ws;
    int C = ch->e->cfg.n_hidden;
    for (int s = s0; s < s1; s++) {
        const struct seq *q = &ws->seqs[s];
        const float *x = ws->x + (size_t)q->start * C;
        float *out = ch->out + (size_t)s * C;
        switch (ch->e->cfg.pooling) {
        case RL__POOLING_CLS: memcpy(out, x, (size_t)C * sizeof *out); break;
        case RL__POOLING_MAX:
            memcpy(out, x, (size_t)C * sizeof *out);
            for (int t = 1; t < q->len; t++)
                for (int j = 0; j < C; j++)
                    out[j] = x[(size_t)t * C + j] > out[j] ? x[(size_t)t * C + j] : out[j];
            break;
        case RL__POOLING_MEAN:
            memset(out, 0, (size_t)C * sizeof *out);
            for (int t = 0; t < q->len; t++)
                for (int j = 0; j < C; j++)
                    out[j] += x[(size_t)t * C + j];
            for (int j = 0; j < C; j++)
                out[j] /= (float)q->len;
            break;
        }
        rl__l2_normalize(out, C);
    }
}

// Item g (of ch->items[kind]) of one stage of layer l.
static void run_layer_item(const struct chunk *ch, int l, enum stage_kind kind, int g,
                           float *scratch) {
    const struct rl__bert_config *cfg = &ch->e->cfg;
    const struct rl__bert_layer *L = &ch->e->w.layers[l];
    const struct rl__kernels *k = ch->e->w.k;
    struct rl_encoder_ws *ws = ch->ws;
    int C = cfg->n_hidden, F = cfg->n_ffn, NH = cfg->n_heads, d = C / NH, T = ch->n_tokens;
    int n = ch->items[kind], lo, hi;
    const void *const *q8 = L->q8;
    switch (kind) {
    case STAGE_QKV:
        part(k->n_panels(3 * C), g, n, &lo, &hi);
        if (q8[RL__LINEAR_QKV])
            k->q8_gemm(T, 3 * C, C, ws->xq, q8[RL__LINEAR_QKV], L->qkv_b, ws->qkv, 3 * C,
                       RL__EPI_BIAS, lo, hi);
        else
            k->gemm(T, 3 * C, C, ws->x, C, L->qkv_w, L->qkv_b, ws->qkv, 3 * C, RL__EPI_BIAS, lo,
                    hi);
        break;
    case STAGE_ATTENTION:
        part(ch->n_seqs * NH, g, n, &lo, &hi);
        for (int item = lo; item < hi; item++) {
            const struct seq *q = &ws->seqs[item / NH];
            int h = item % NH;
            const float *base = ws->qkv + (size_t)q->start * 3 * C + h * d;
            k->attention_head(q->len, d, base, base + C, base + 2 * C, 3 * C,
                              1.0f / sqrtf((float)d), ws->ctx + (size_t)q->start * C + h * d, C,
                              scratch);
        }
        break;
    case STAGE_QUANT_CTX:
        part(T, g, n, &lo, &hi);
        if (q8[RL__LINEAR_OUT])
            k->q8_quantize(ws->ctx, C, C, ws->xq, lo, hi);
        break;
    case STAGE_OUT_PROJ:
        part(k->n_panels(C), g, n, &lo, &hi);
        if (q8[RL__LINEAR_OUT])
            k->q8_gemm(T, C, C, ws->xq, q8[RL__LINEAR_OUT], L->o_b, ws->x, C, RL__EPI_BIAS_RESIDUAL,
                       lo, hi);
        else
            k->gemm(T, C, C, ws->ctx, C, L->o_w, L->o_b, ws->x, C, RL__EPI_BIAS_RESIDUAL, lo, hi);
        break;
    case STAGE_LN1:
        part(T, g, n, &lo, &hi);
        k->layernorm(ws->x, C, C, L->ln1_w, L->ln1_b, cfg->ln_eps, lo, hi);
        if (q8[RL__LINEAR_FFN1])
            k->q8_quantize(ws->x, C, C, ws->xq, lo, hi);
        break;
    case STAGE_LN2:
        part(T, g, n, &lo, &hi);
        k->layernorm(ws->x, C, C, L->ln2_w, L->ln2_b, cfg->ln_eps, lo, hi);
        if (l + 1 < cfg->n_layers && L[1].q8[RL__LINEAR_QKV])
            k->q8_quantize(ws->x, C, C, ws->xq, lo, hi);
        break;
    case STAGE_FFN_UP:
        part(k->n_panels(F), g, n, &lo, &hi);
        if (q8[RL__LINEAR_FFN1])
            k->q8_gemm(T, F, C, ws->xq, q8[RL__LINEAR_FFN1], L->ffn1_b, ws->ffn, F,
                       RL__EPI_BIAS_GELU, lo, hi);
        else
            k->gemm(T, F, C, ws->x, C, L->ffn1_w, L->ffn1_b, ws->ffn, F, RL__EPI_BIAS_GELU, lo, hi);
        break;
    case STAGE_QUANT_FFN:
        part(T, g, n, &lo, &hi);
        if (q8[RL__LINEAR_FFN2])
            k->q8_quantize(ws->ffn, F, F, ws->xq, lo, hi);
        break;
    case STAGE_FFN_DOWN:
        part(k->n_panels(C), g, n, &lo, &hi);
        if (q8[RL__LINEAR_FFN2])
            k->q8_gemm(T, C, F, ws->xq, q8[RL__LINEAR_FFN2], L->ffn2_b, ws->x, C,
                       RL__EPI_BIAS_RESIDUAL, lo, hi);
        else
            k->gemm(T, C, F, ws->ffn, F, L->ffn2_w, L->ffn2_b, ws->x, C, RL__EPI_BIAS_RESIDUAL, lo,
                    hi);
        break;
    case N_LAYER_STAGES: break;
    }
}

// The bounds [*start, *end) of the stage that global item i belongs to.
static void stage_bounds(const struct chunk *ch, long i, long *start, long *end) {
    if (i < ch->n_embed) {
        *start = 0;
        *end = ch->n_embed;
        return;
    }
    long j = i - ch->n_embed;
    int l = (int)(j / ch->n_layer_items);
    long base = ch->n_embed + (long)l * ch->n_layer_items;
    if (l >= ch->e->cfg.n_layers) {
        *start = base;
        *end = base + ch->n_pool;
        return;
    }
    int r = (int)(j % ch->n_layer_items), k = 0;
    while (r >= ch->items[k]) {
        r -= ch->items[k];
        base += ch->items[k++];
    }
    *start = base;
    *end = base + ch->items[k];
}

static void run_item(const struct chunk *ch, long i, float *scratch) {
    int lo, hi;
    if (i < ch->n_embed) {
        part(ch->n_tokens, (int)i, ch->n_embed, &lo, &hi);
        embed_rows(ch, lo, hi);
        return;
    }
    long j = i - ch->n_embed;
    int l = (int)(j / ch->n_layer_items), r = (int)(j % ch->n_layer_items);
    if (l >= ch->e->cfg.n_layers) {
        part(ch->n_seqs, r, ch->n_pool, &lo, &hi);
        pool(ch, lo, hi);
        return;
    }
    int k = 0;
    while (r >= ch->items[k])
        r -= ch->items[k++];
    run_layer_item(ch, l, (enum stage_kind)k, r, scratch);
}

static void wait_done(struct chunk *ch, long until) {
    int spins = 0;
    while (atomic_load_explicit(&ch->done, memory_order_acquire) < until) {
        if (++spins < 4000) {
            rl__cpu_relax();
        } else {
            sched_yield();
            spins = 0;
        }
    }
}

static void forward(void *arg, int tid, int nt) {
    struct chunk *ch = arg;
    float *scratch = ch->ws->scratch + (size_t)tid * ch->ws->scratch_each;
    if (nt == 1) {
        for (long i = 0; i < ch->n_items; i++)
            run_item(ch, i, scratch);
        return;
    }
    // Guided self-scheduling: a claim takes a share of what is left of the stage, so a stage
    // costs a few claims, and the last claims, of single items, even out the threads' ends.
    for (;;) {
        long i = atomic_load(&ch->ticket), start, end, take;
        do {
            if (i >= ch->n_items)
                return;
            stage_bounds(ch, i, &start, &end);
            take = (end - i) / (2 * nt);
            take = take < 1 ? 1 : take;
        } while (!atomic_compare_exchange_weak(&ch->ticket, &i, i + take));
        wait_done(ch, start);
        for (long j = i; j < i + take; j++)
            run_item(ch, j, scratch);
        atomic_fetch_add_explicit(&ch->done, take, memory_order_release);
    }
}

static void run_chunk(const struct rl_encoder *e, struct rl_encoder_ws *ws, int n_seqs,
                      int n_tokens, float *out) {
    const struct rl__bert_config *cfg = &e->cfg;
    int C = cfg->n_hidden, nt = ws->n_threads;
    // One thread runs each stage as a single item.
    int per = nt == 1 ? 1 : MAX_ITEMS_PER_THREAD * nt,
        rows = nt == 1 ? 1 : ROW_ITEMS_PER_THREAD * nt;
    struct chunk chunk = {.e = e, .ws = ws, .n_seqs = n_seqs, .n_tokens = n_tokens, .out = out};
    struct chunk *ch = &chunk;
    ch->n_embed = min_int(n_tokens, rows);
    ch->n_pool = min_int(n_seqs, rows);
    ch->items[STAGE_QKV] = min_int(e->w.k->n_panels(3 * C), per);
    ch->items[STAGE_ATTENTION] = min_int(n_seqs * cfg->n_heads, per);
    ch->items[STAGE_OUT_PROJ] = min_int(e->w.k->n_panels(C), per);
    ch->items[STAGE_LN1] = ch->items[STAGE_LN2] = min_int(n_tokens, rows);
    ch->items[STAGE_FFN_UP] = min_int(e->w.k->n_panels(cfg->n_ffn), per);
    ch->items[STAGE_FFN_DOWN] = min_int(e->w.k->n_panels(C), per);
    ch->items[STAGE_QUANT_CTX] = ch->items[STAGE_QUANT_FFN] =
        e->w.any_q8 ? min_int(n_tokens, rows) : 0;
    for (int k = 0; k < N_LAYER_STAGES; k++)
        ch->n_layer_items += ch->items[k];
    ch->n_items = ch->n_embed + (long)cfg->n_layers * ch->n_layer_items + ch->n_pool;
    atomic_init(&ch->ticket, 0);
    atomic_init(&ch->done, 0);
    rl__team_run(ws->team, nt, forward, ch);
}

// ----------------------------------------------------------------------------
// Batching

// Source of token sequences: either texts through the tokenizer, or given ids.
struct source {
    const char *const *texts;
    const int32_t *const *ids;
    const size_t *n_ids;
};

// Write the ids of sequence i of src to dst; returns how many, or < 0.
static int fill(const struct rl_encoder *e, const struct source *src, size_t i, int32_t *dst,
                char *errbuf) {
    if (src->texts) {
        if (!src->texts[i])
            return rl__errf(errbuf, RL_EINVAL, "text %zu is NULL", i);
        int n = rl_tokenizer_encode(e->tok, src->texts[i], strlen(src->texts[i]), dst,
                                    (size_t)e->cfg.max_seq);
        if (n < 0)
            return rl__errf(errbuf, n, "text %zu: tokenizer failed: %s", i, rl_strerror(n));
        // An added token of tokenizer.json could carry an id past the embedding table.
        for (int j = 0; j < n; j++)
            if (dst[j] < 0 || dst[j] >= e->cfg.n_vocab)
                return rl__errf(errbuf, RL_EFORMAT,
                                "text %zu: the tokenizer gave id %d, outside vocab_size %d", i,
                                dst[j], e->cfg.n_vocab);
        return n;
    }
    size_t n = src->n_ids[i];
    if (n < 1 || n > (size_t)e->cfg.n_positions)
        return rl__errf(errbuf, RL_EINVAL, "sequence %zu has %zu tokens, expected 1 to %d", i, n,
                        e->cfg.n_positions);
    for (size_t j = 0; j < n; j++) {
        int32_t id = src->ids[i][j];
        if (id < 0 || id >= e->cfg.n_vocab)
            return rl__errf(errbuf, RL_EINVAL,
                            "sequence %zu, token %zu: id %d is outside the vocabulary (%d)", i, j,
                            id, e->cfg.n_vocab);
        dst[j] = id;
    }
    return (int)n;
}

// A causal LM's texts, claimed one at a time by the workspace's threads; the first error stops
// the claims.
struct lm_job {
    const struct rl_encoder *e;
    const char *const *texts;
    size_t n;
    float *out;
    atomic_size_t next;
    atomic_int rc;
    pthread_mutex_t mu; // guards errbuf
    char *errbuf;
};

static void lm_worker(void *arg, int tid, int n_threads) {
    struct lm_job *j = arg;
    (void)tid;
    (void)n_threads;
    size_t dim = (size_t)j->e->lm->lm.n_embd;
    for (size_t i; atomic_load(&j->rc) == RL_OK && (i = atomic_fetch_add(&j->next, 1)) < j->n;) {
        char err[RL_ERRBUF_SIZE];
        int rc = j->texts[i] ? rl__lm_encoder_embed(j->e->lm, j->texts[i], strlen(j->texts[i]),
                                                    j->out + i * dim, NULL, err)
                             : rl__errf(err, RL_EINVAL, "text is NULL");
        int ok = RL_OK;
        if (rc != RL_OK && atomic_compare_exchange_strong(&j->rc, &ok, rc)) {
            pthread_mutex_lock(&j->mu);
            rl__errf(j->errbuf, rc, "text %zu: %s", i, err);
            pthread_mutex_unlock(&j->mu);
        }
    }
}

static int embed_lm(const struct rl_encoder *e, struct rl_encoder_ws *ws, const struct source *src,
                    size_t n, float *out, char *errbuf) {
    if (!src->texts)
        return rl__errf(errbuf, RL_EINVAL, "%s: a causal LM embeds texts, not token ids", e->name);
    struct lm_job j = {.e = e, .texts = src->texts, .n = n, .out = out, .errbuf = errbuf};
    atomic_init(&j.next, 0);
    atomic_init(&j.rc, RL_OK);
    pthread_mutex_init(&j.mu, NULL);
    int threads = ws->n_threads < (int)n ? ws->n_threads : (int)n;
    rl__team_run(ws->team, threads, lm_worker, &j);
    pthread_mutex_destroy(&j.mu);
    return atomic_load(&j.rc);
}

static int embed(const struct rl_encoder *e, struct rl_encoder_ws *ws, const struct source *src,
                 size_t n, float *out, char *errbuf) {
    if (e->lm)
        return embed_lm(e, ws, src, n, out, errbuf);
    int max_len = src->texts ? e->cfg.max_seq : e->cfg.n_positions;
    // A chunk closes once it reaches CHUNK_TOKENS, so it never holds more than this.
    size_t cap = CHUNK_TOKENS + (size_t)max_len;
    if (n * (size_t)max_len < cap)
        cap = n * (size_t)max_len;
    if (ws_reserve(ws, e, cap, max_len) != RL_OK)
        return rl__errf(errbuf, RL_ENOMEM, "out of memory for a batch of %zu tokens", cap);
    int C = e->cfg.n_hidden;
    size_t first = 0; // first sequence of the current chunk
    int n_tokens = 0, n_seqs = 0;
    for (size_t i = 0; i < n; i++) {
        int len = fill(e, src, i, ws->ids + n_tokens, errbuf);
        if (len < 0)
            return len;
        ws->seqs[n_seqs] = (struct seq){.start = n_tokens, .len = len};
        for (int t = 0; t < len; t++)
            ws->pos[n_tokens + t] = t;
        n_tokens += len;
        n_seqs++;
        if (n_tokens >= CHUNK_TOKENS || i + 1 == n) {
            run_chunk(e, ws, n_seqs, n_tokens, out + first * C);
            first = i + 1;
            n_tokens = 0;
            n_seqs = 0;
        }
    }
    return RL_OK;
}

// Run embed on ws or, when ws is NULL, on one of the encoder's pooled workspaces (one thread
// per CPU), made when none is idle. The pool is why e is not const here.
static int embed_with(const struct rl_encoder *e, struct rl_encoder_ws *ws,
                      const struct source *src, size_t n, float *out, char *errbuf) {
    if (n == 0)
        return RL_OK;
    if (ws)
        return embed(e, ws, src, n, out, errbuf);
    struct rl_encoder *mut = (struct rl_encoder *)e;
    pthread_mutex_lock(&mut->pool_mu);
    struct rl_encoder_ws *tmp = mut->n_pool ? mut->pool[--mut->n_pool] : NULL;
    pthread_mutex_unlock(&mut->pool_mu);
    if (!tmp)
        tmp = rl_encoder_ws_new(0);
    if (!tmp)
        return rl__errf(errbuf, RL_ENOMEM, "cannot create an encoder workspace");
    int rc = embed(e, tmp, src, n, out, errbuf);
    pthread_mutex_lock(&mut->pool_mu);
    if (mut->n_pool < WS_POOL) {
        mut->pool[mut->n_pool++] = tmp;
        tmp = NULL;
    }
    pthread_mutex_unlock(&mut->pool_mu);
    rl_encoder_ws_free(tmp);
    return rc;
}

int rl_encoder_embed_ws(const struct rl_encoder *e, struct rl_encoder_ws *ws,
                        const char *const *texts, size_t n, float *out, char *errbuf) {
    if (!texts && n > 0)
        return rl__errf(errbuf, RL_EINVAL, "texts is NULL");
    struct source src = {.texts = texts};
    return embed_with(e, ws, &src, n, out, errbuf);
}

int rl_encoder_embed(const struct rl_encoder *e, const char *const *texts, size_t n, float *out,
                     char *errbuf) {
    return rl_encoder_embed_ws(e, NULL, texts, n, out, errbuf);
}

int rl_encoder_embed_ids(const struct rl_encoder *e, struct rl_encoder_ws *ws,
                         const int32_t *const *ids, const size_t *n_ids, size_t n, float *out,
                         char *errbuf) {
    if ((!ids || !n_ids) && n > 0)
        return rl__errf(errbuf, RL_EINVAL, "ids is NULL");
    struct source src = {.ids = ids, .n_ids = n_ids};
    return embed_with(e, ws, &src, n, out, errbuf);
}
