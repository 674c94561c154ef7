// The encoder on the tiny random BERTs of tools/make_tiny_bert.py, against sentence-transformers'
// outputs: token ids and texts, one and two threads, mean and CLS pooling, F32 and F16 weights,
// plain and "bert."-prefixed tensor names; batches against one text at a time; one encoder
// shared by threads; argument errors.
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "rl/encoder.h"
#include "test.h"

#define TINY     RL_TEST_DATA "/encoder/tiny-bert"
#define TINY_CLS RL_TEST_DATA "/encoder/tiny-bert-cls"

struct golden {
    size_t n;
    char *text[64];   // NULL for id-only records
    int32_t *ids[64]; // (n_ids[i])
    size_t n_ids[64];
    float emb[64][64]; // (n, dim)
    int dim;
};

static void golden_free(struct golden *g) {
    for (size_t i = 0; i < g->n; i++) {
        free(g->text[i]);
        free(g->ids[i]);
    }
}

static int golden_load(const char *dir, struct golden *g) {
    char path[512];
    snprintf(path, sizeof path, "%s/golden.jsonl", dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    memset(g, 0, sizeof *g);
    char line[1 << 14];
    while (g->n < 64 && fgets(line, sizeof line, f)) {
        json_t *j = json_loads(line, 0, NULL);
        json_t *ids = json_object_get(j, "ids"), *emb = json_object_get(j, "embedding");
        const char *text = json_string_value(json_object_get(j, "text"));
        size_t i = g->n++;
        g->text[i] = text ? strdup(text) : NULL;
        g->n_ids[i] = json_array_size(ids);
        g->ids[i] = malloc(g->n_ids[i] * sizeof(int32_t));
        for (size_t k = 0; k < g->n_ids[i]; k++)
            g->ids[i][k] = (int32_t)json_integer_value(json_array_get(ids, k));
        g->dim = (int)json_array_size(emb);
        for (int k = 0; k < g->dim && k < 64; k++)
            g->emb[i][k] = (float)json_number_value(json_array_get(emb, (size_t)k));
        json_decref(j);
    }
    fclose(f);
    return g->n > 0 ? 0 : -1;
}

// Largest absolute difference between row i of out and the golden embedding i.
static double row_diff(const struct golden *g, size_t i, const float *out) {
    double d = 0;
    for (int k = 0; k < g->dim; k++) {
        double x = fabs((double)out[(size_t)i * g->dim + k] - g->emb[i][k]);
        d = x > d ? x : d;
    }
    return d;
}

static int check_model(const char *dir, const char *name) {
    char err[RL_ERRBUF_SIZE];
    struct golden g;
    ASSERT_OK(golden_load(dir, &g));
    struct rl_encoder *e = rl_encoder_open(dir, err);
    if (!e)
        TEST_FAIL_("%s", err);
    ASSERT_EQ(rl_encoder_dim(e), g.dim);
    ASSERT_STR_EQ(rl_encoder_name(e), name);
    ASSERT_EQ(rl_encoder_max_tokens(e), 24);
    ASSERT_EQ(rl_encoder_max_positions(e), 40);
    float *out = calloc(g.n * (size_t)g.dim, sizeof *out);
    ASSERT_NOT_NULL(out);
    for (int threads = 1; threads <= 2; threads++) {
        struct rl_encoder_ws *ws = rl_encoder_ws_new(threads);
        ASSERT_NOT_NULL(ws);
        ASSERT_EQ(rl_encoder_ws_threads(ws), threads);
        // All records in one batch of token ids.
        ASSERT_OK(
            rl_encoder_embed_ids(e, ws, (const int32_t *const *)g.ids, g.n_ids, g.n, out, err));
        for (size_t i = 0; i < g.n; i++)
            if (row_diff(&g, i, out) > 1e-6)
                TEST_FAIL_("%s, %d threads, ids of record %zu: maxdiff %.3g", name, threads, i,
                           row_diff(&g, i, out));
        // The records that have a text, through the tokenizer.
        const char *texts[64];
        size_t n_text = 0;
        while (n_text < g.n && g.text[n_text])
            texts[n_text] = g.text[n_text], n_text++;
        ASSERT(n_text > 5);
        memset(out, 0, g.n * (size_t)g.dim * sizeof *out);
        ASSERT_OK(rl_encoder_embed_ws(e, ws, texts, n_text, out, err));
        for (size_t i = 0; i < n_text; i++)
            if (row_diff(&g, i, out) > 1e-6)
                TEST_FAIL_("%s, %d threads, text \"%s\": maxdiff %.3g", name, threads, texts[i],
                           row_diff(&g, i, out));
        rl_encoder_ws_free(ws);
    }
    free(out);
    rl_encoder_free(e);
    golden_free(&g);
    return 0;
}

TEST(encoder_tiny_mean_pooling_matches_sentence_transformers) {
    return check_model(TINY, "tiny-bert");
}

// CLS pooling, F16 weights, "bert." names, a pooler to ignore and no Normalize module.
TEST(encoder_tiny_cls_f16_matches_sentence_transformers) {
    return check_model(TINY_CLS, "tiny-bert-cls");
}

// Batches of many texts are cut into several chunks; every embedding must be exactly what the
// text gives alone, whatever it is batched with and however many threads run.
TEST(encoder_batch_equals_one_at_a_time) {
    char err[RL_ERRBUF_SIZE];
    struct rl_encoder *e = rl_encoder_open(TINY "/", err);
    if (!e)
        TEST_FAIL_("%s", err);
    ASSERT_STR_EQ(rl_encoder_name(e), "tiny-bert");
    enum { N = 90 };
    static const char *const words[] = {"the", "cat",   "router", "strong", "weak",   "model",
                                        "zzz", "hello", "world",  "!",      "python", "answer"};
    char *texts[N];
    for (int i = 0; i < N; i++) {
        texts[i] = calloc(1, 512);
        ASSERT_NOT_NULL(texts[i]);
        size_t len = 0;
        for (int w = 0; w < 1 + (i * 7) % 30; w++)
            len += (size_t)snprintf(texts[i] + len, 512 - len, "%s ",
                                    words[(i + w * 5) % RL_COUNTOF(words)]);
    }
    size_t dim = rl_encoder_dim(e);
    float *batch = malloc((size_t)N * dim * sizeof *batch);
    float *one = malloc((size_t)dim * sizeof *one);
    ASSERT(batch && one);
    for (int threads = 1; threads <= 2; threads++) {
        struct rl_encoder_ws *ws = rl_encoder_ws_new(threads);
        ASSERT_OK(rl_encoder_embed_ws(e, ws, (const char *const *)texts, N, batch, err));
        for (int i = 0; i < N; i++) {
            ASSERT_OK(rl_encoder_embed_ws(e, ws, (const char *const *)&texts[i], 1, one, err));
            if (memcmp(one, batch + (size_t)i * dim, (size_t)dim * sizeof *one) != 0)
                TEST_FAIL_("%d threads: text %d differs between batch and alone", threads, i);
        }
        rl_encoder_ws_free(ws);
    }
    // The convenience call (its own workspace) gives the same numbers.
    ASSERT_OK(rl_encoder_embed(e, (const char *const *)texts, N, batch, err));
    ASSERT_OK(rl_encoder_embed(e, (const char *const *)&texts[N - 1], 1, one, err));
    ASSERT(memcmp(one, batch + (size_t)(N - 1) * dim, (size_t)dim * sizeof *one) == 0);
    double norm = 0;
    for (size_t k = 0; k < dim; k++)
        norm += (double)one[k] * one[k];
    ASSERT_NEAR(norm, 1.0, 1e-6);
    ASSERT_OK(rl_encoder_embed(e, NULL, 0, NULL, err));
    for (int i = 0; i < N; i++)
        free(texts[i]);
    free(batch);
    free(one);
    rl_encoder_free(e);
    return 0;
}

TEST(encoder_rejects_bad_arguments) {
    char err[RL_ERRBUF_SIZE];
    struct rl_encoder *e = rl_encoder_open(TINY, err);
    if (!e)
        TEST_FAIL_("%s", err);
    float out[2 * 32];
    const int32_t good[3] = {2, 5, 3}, bad[3] = {2, 100000, 3}, neg[2] = {2, -1};
    const int32_t *seqs[2] = {good, bad};
    size_t lens[2] = {3, 3};
    ASSERT_EQ(rl_encoder_embed_ids(e, NULL, seqs, lens, 2, out, err), RL_EINVAL);
    ASSERT_STR_CONTAINS(err, "sequence 1, token 1: id 100000 is outside the vocabulary");
    seqs[1] = neg;
    lens[1] = 2;
    ASSERT_EQ(rl_encoder_embed_ids(e, NULL, seqs, lens, 2, out, err), RL_EINVAL);
    ASSERT_STR_CONTAINS(err, "id -1 is outside");
    lens[1] = 0;
    ASSERT_EQ(rl_encoder_embed_ids(e, NULL, seqs, lens, 2, out, err), RL_EINVAL);
    ASSERT_STR_CONTAINS(err, "sequence 1 has 0 tokens, expected 1 to 40");
    int32_t long_seq[41] = {0};
    seqs[1] = long_seq;
    lens[1] = 41;
    ASSERT_EQ(rl_encoder_embed_ids(e, NULL, seqs, lens, 2, out, err), RL_EINVAL);
    ASSERT_STR_CONTAINS(err, "41 tokens");
    // The longest sequence the positions allow, past max_seq_length, is accepted.
    lens[1] = 40;
    ASSERT_OK(rl_encoder_embed_ids(e, NULL, seqs, lens, 2, out, err));
    const char *texts[2] = {"hello", NULL};
    ASSERT_EQ(rl_encoder_embed(e, texts, 2, out, err), RL_EINVAL);
    ASSERT_STR_CONTAINS(err, "text 1 is NULL");
    rl_encoder_free(e);
    rl_encoder_free(NULL);
    rl_encoder_ws_free(NULL);
    return 0;
}

struct concurrent_job {
    const struct rl_encoder *e;
    const char *const *texts;
    size_t n;
    const float *want;
    int bad;
};

static void *concurrent_main(void *arg) {
    struct concurrent_job *j = arg;
    char err[RL_ERRBUF_SIZE];
    size_t dim = rl_encoder_dim(j->e);
    float *out = malloc(j->n * (size_t)dim * sizeof *out);
    for (int round = 0; out && round < 20; round++) {
        if (rl_encoder_embed(j->e, j->texts, j->n, out, err) != RL_OK ||
            memcmp(out, j->want, j->n * (size_t)dim * sizeof *out) != 0)
            j->bad++;
    }
    j->bad += !out;
    free(out);
    return NULL;
}

// One encoder shared by threads that all call rl_encoder_embed (and so share its workspace
// pool) at once.
TEST(encoder_shared_by_threads) {
    char err[RL_ERRBUF_SIZE];
    struct rl_encoder *e = rl_encoder_open(TINY, err);
    if (!e)
        TEST_FAIL_("%s", err);
    static const char *const texts[] = {"hello world", "the cat sat on the mat", "why? how? when?",
                                        ""};
    float want[4 * 32];
    ASSERT_OK(rl_encoder_embed(e, texts, 4, want, err));
    enum { N_THREADS = 6 };
    pthread_t th[N_THREADS];
    struct concurrent_job jobs[N_THREADS];
    for (int i = 0; i < N_THREADS; i++) {
        jobs[i] = (struct concurrent_job){.e = e, .texts = texts, .n = 4, .want = want};
        ASSERT_EQ(pthread_create(&th[i], NULL, concurrent_main, &jobs[i]), 0);
    }
    int bad = 0;
    for (int i = 0; i < N_THREADS; i++) {
        pthread_join(th[i], NULL);
        bad += jobs[i].bad;
    }
    ASSERT_EQ(bad, 0);
    rl_encoder_free(e);
    return 0;
}
