// Encoder benchmark, the C side (bench/encoder.py runs it next to sentence-transformers and ONNX
// Runtime): model load time, single-text latency at fixed token counts and batch throughput
// over real prompts, on a chosen number of threads. Prints one JSON object per measurement.
//
//   build/bench/encoder [--model DIR] [--precision fp32|int8] [--threads N] [--tokens 8,32,128]
//                       [--iters N] [--prompts FILE.jsonl[.gz]] [--limit N] [--repeat N]
//                       [--dump FILE.npy]
//   build/bench/encoder --gemm
//
// Latency inputs are token ids, so every engine sees exactly T tokens: [CLS], T-2 ids spread over
// the vocabulary, [SEP]; each record lists them. --dump writes their embeddings (one row per
// token count) for the driver to check against the other engines before it reports timings.
// The records of --precision int8 name the engine "c-int8". Batch throughput embeds the "prompt"
// field of every line of --prompts in one call (texts are
// tokenized and truncated to the model's max_seq_length, as sentence-transformers does).
// --gemm instead times the encoder's GEMM kernel against OpenBLAS's cblas_sgemm (one thread) on
// all-MiniLM-L6-v2's four weight shapes, after checking that both give the same product.
#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "core/core.h"
#include "core/npy.h"
#include "encoder/kernels.h"
#include "rl/encoder.h"

#define MAX_TOKEN_COUNTS 16

static _Noreturn void die(const char *fmt, const char *arg) {
    fprintf(stderr, "bench/encoder: ");
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    exit(1);
}

static long parse_long(const char *s) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end || errno || v < 0)
        die("bad number '%s'", s);
    return v;
}

// Peak resident set size in MiB: VmHWM, which (unlike ru_maxrss) Linux resets on exec, so the
// figure is this program's own and not its parent's.
static double peak_rss_mb(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %ld kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    if (kb < 0) {
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        kb = ru.ru_maxrss;
    }
    return (double)kb / 1024.0;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

// The "prompt" of each JSON line of path (at most limit).
static char **read_prompts(const char *path, size_t limit, size_t *n) {
    char err[RL_ERRBUF_SIZE], *data;
    size_t len;
    if (rl_file_read(path, 256u << 20, &data, &len, err) != RL_OK)
        die("%s", err);
    size_t cap = 1024;
    char **out = malloc(cap * sizeof *out);
    *n = 0;
    for (char *p = data; out && p < data + len && *n < limit;) {
        char *nl = memchr(p, '\n', (size_t)(data + len - p));
        size_t k = nl ? (size_t)(nl - p) : (size_t)(data + len - p);
        json_t *rec = json_loadb(p, k, 0, NULL);
        p += k + 1;
        const char *prompt = json_string_value(json_object_get(rec, "prompt"));
        if (prompt) {
            if (*n == cap)
                out = realloc(out, (cap *= 2) * sizeof *out);
            if (out)
                out[(*n)++] = strdup(prompt);
        }
        json_decref(rec);
    }
    free(data);
    if (!out)
        die("%s", "out of memory");
    return out;
}

static void print_json(json_t *obj) {
    json_dumpf(obj, stdout, JSON_COMPACT | JSON_REAL_PRECISION(6));
    fputc('\n', stdout);
    fflush(stdout);
    json_decref(obj);
}

// Median seconds of reps calls of the GEMM of one kind (0: ours on packed weights, 1: cblas).
static double time_gemm(const struct rl__kernels *K, int kind, int reps, int m, int n, int k,
                        const float *x, const float *w, const float *wp, const float *bias,
                        float *y) {
    double *t = malloc((size_t)reps * sizeof *t);
    if (!t)
        die("%s", "out of memory");
    for (int r = 0; r < reps; r++) {
        double s = rl_now_s();
        if (kind == 0)
            K->gemm(m, n, k, x, k, wp, bias, y, n, RL__EPI_BIAS, 0, K->n_panels(n));
        else
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1.0f, x, k, w, k, 0.0f, y,
                        n);
        t[r] = rl_now_s() - s;
    }
    qsort(t, (size_t)reps, sizeof *t, cmp_double);
    double med = t[(reps - 1) / 2];
    free(t);
    return med;
}

// The linear layers of all-MiniLM-L6-v2 (outputs, inputs) at prompt-sized row counts. One
// matrix's weights stay in the caches across repetitions, so this compares arithmetic, not
// memory traffic; the kernel's bias (zero here) is work cblas_sgemm does not do.
static void bench_gemm(void) {
    static const int shapes[4][2] = {{1152, 384}, {384, 384}, {1536, 384}, {384, 1536}};
    static const int rows[] = {8, 32, 128, 256};
    char err[RL_ERRBUF_SIZE];
    const struct rl__kernels *K = rl__kernels_for_cpu(err);
    if (!K)
        die("%s", err);
    openblas_set_num_threads(1);
    for (int s = 0; s < 4; s++) {
        int n = shapes[s][0], k = shapes[s][1];
        float *w = malloc((size_t)n * k * sizeof *w), *bias = calloc((size_t)n + 64, sizeof *bias);
        float *wp = aligned_alloc(64, K->packed_size(n, k) * sizeof *wp);
        if (!w || !bias || !wp)
            die("%s", "out of memory");
        unsigned seed = 1;
        for (size_t i = 0; i < (size_t)n * k; i++)
            w[i] = (float)((seed = seed * 1103515245u + 12345u) >> 9) / 8388608.0f - 0.5f;
        K->pack(w, n, k, wp);
        for (size_t r = 0; r < RL_COUNTOF(rows); r++) {
            int m = rows[r], reps = m <= 32 ? 400 : 100;
            float *x = malloc((size_t)m * k * sizeof *x), *y0 = malloc((size_t)m * n * 4);
            float *y1 = malloc((size_t)m * n * sizeof *y1);
            if (!x || !y0 || !y1)
                die("%s", "out of memory");
            for (size_t i = 0; i < (size_t)m * k; i++)
                x[i] = (float)((seed = seed * 1103515245u + 12345u) >> 9) / 8388608.0f - 0.5f;
            time_gemm(K, 0, 1, m, n, k, x, w, wp, bias, y0);
            time_gemm(K, 1, 1, m, n, k, x, w, wp, bias, y1);
            double maxdiff = 0;
            for (size_t i = 0; i < (size_t)m * n; i++)
                maxdiff = fmax(maxdiff, fabs((double)y0[i] - y1[i]));
            if (maxdiff > 1e-3)
                die("%s", "the GEMM kernel and cblas_sgemm disagree");
            double ours = time_gemm(K, 0, reps, m, n, k, x, w, wp, bias, y0);
            double blas = time_gemm(K, 1, reps, m, n, k, x, w, wp, bias, y1);
            double flop = 2.0 * m * n * k;
            print_json(json_pack("{s:s, s:i, s:i, s:i, s:f, s:f, s:f, s:f, s:f}", "kind", "gemm",
                                 "m", m, "n", n, "k", k, "kernel_us", ours * 1e6, "cblas_us",
                                 blas * 1e6, "kernel_gflops", flop / ours * 1e-9, "cblas_gflops",
                                 flop / blas * 1e-9, "maxdiff", maxdiff));
            free(x);
            free(y0);
            free(y1);
        }
        free(w);
        free(bias);
        free(wp);
    }
}

int main(int argc, char **argv) {
    const char *model = "models/all-MiniLM-L6-v2", *prompts = NULL, *dump = NULL;
    enum rl_precision precision = RL_PRECISION_FP32;
    const char *tokens_arg = "8,32,128";
    long threads = 1, iters = 200, limit = 1000000, repeat = 3;
    if (argc == 2 && strcmp(argv[1], "--gemm") == 0) {
        bench_gemm();
        return 0;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            die("missing value after %s", a);
        i++;
        if (strcmp(a, "--model") == 0)
            model = v;
        else if (strcmp(a, "--threads") == 0)
            threads = parse_long(v);
        else if (strcmp(a, "--precision") == 0) {
            if (rl_precision_parse(v, &precision) != RL_OK)
                die("bad --precision '%s' (fp32 or int8)", v);
        } else if (strcmp(a, "--tokens") == 0)
            tokens_arg = v;
        else if (strcmp(a, "--iters") == 0)
            iters = parse_long(v);
        else if (strcmp(a, "--prompts") == 0)
            prompts = v;
        else if (strcmp(a, "--limit") == 0)
            limit = parse_long(v);
        else if (strcmp(a, "--repeat") == 0)
            repeat = parse_long(v);
        else if (strcmp(a, "--dump") == 0)
            dump = v;
        else
            die("unknown option %s", a);
    }
    if (iters < 1 || repeat < 1)
        die("%s", "--iters and --repeat must be at least 1");
    const char *engine = precision == RL_PRECISION_FP32 ? "c" : "c-int8";

    char err[RL_ERRBUF_SIZE];
    double t0 = rl_now_s();
    struct rl_encoder *e = rl_encoder_open_precision(model, precision, err);
    if (!e)
        die("%s", err);
    double load_s = rl_now_s() - t0;
    struct rl_encoder_ws *ws = rl_encoder_ws_new((int)threads);
    if (!ws)
        die("%s", "cannot create the workspace");
    print_json(json_pack("{s:s, s:i, s:s, s:f}", "engine", engine, "threads", (int)threads, "kind",
                         "load", "seconds", load_s));

    // ---- Latency at fixed token counts.
    const struct rl_tokenizer *tok = rl_encoder_tokenizer(e);
    int32_t cls = rl_tokenizer_token_id(tok, "[CLS]"), sep = rl_tokenizer_token_id(tok, "[SEP]");
    size_t dim = rl_encoder_dim(e);
    int n_counts = 0;
    int counts[MAX_TOKEN_COUNTS];
    for (const char *p = tokens_arg; *p && n_counts < MAX_TOKEN_COUNTS;) {
        char *end;
        long t = strtol(p, &end, 10);
        if (end == p || t < 2 || (size_t)t > rl_encoder_max_positions(e))
            die("bad --tokens '%s'", tokens_arg);
        counts[n_counts++] = (int)t;
        p = *end == ',' ? end + 1 : end;
    }
    float *dumped = malloc((size_t)n_counts * dim * sizeof *dumped);
    double *times = malloc((size_t)iters * sizeof *times);
    if (!dumped || !times)
        die("%s", "out of memory");
    for (int c = 0; c < n_counts; c++) {
        int T = counts[c];
        int32_t *ids = malloc((size_t)T * sizeof *ids);
        size_t n_ids = (size_t)T;
        ids[0] = cls;
        ids[T - 1] = sep;
        for (int j = 1; j < T - 1; j++)
            ids[j] = 1000 + (int32_t)((j * 7919) % 28000);
        const int32_t *seq = ids;
        for (long i = 0; i < 10; i++)
            if (rl_encoder_embed_ids(e, ws, &seq, &n_ids, 1, dumped + (size_t)c * dim, err))
                die("%s", err);
        for (long i = 0; i < iters; i++) {
            double s = rl_now_s();
            if (rl_encoder_embed_ids(e, ws, &seq, &n_ids, 1, dumped + (size_t)c * dim, err))
                die("%s", err);
            times[i] = (rl_now_s() - s) * 1e3;
        }
        double mean = 0;
        for (long i = 0; i < iters; i++)
            mean += times[i] / (double)iters;
        qsort(times, (size_t)iters, sizeof *times, cmp_double);
        json_t *jids = json_array();
        for (int j = 0; j < T; j++)
            json_array_append_new(jids, json_integer(ids[j]));
        print_json(json_pack("{s:s, s:i, s:s, s:i, s:i, s:f, s:f, s:f, s:o}", "engine", engine,
                             "threads", (int)threads, "kind", "latency", "tokens", T, "iters",
                             (int)iters, "p50_ms", times[(iters - 1) / 2], "p99_ms",
                             times[(iters * 99 - 1) / 100], "mean_ms", mean, "ids", jids));
        free(ids);
    }
    if (dump && rl_npy_write_f32(dump, dumped, (size_t)n_counts, (size_t)dim, err) != RL_OK)
        die("%s", err);

    // ---- Batch throughput over real prompts.
    if (prompts) {
        size_t n;
        char **texts = read_prompts(prompts, (size_t)limit, &n);
        float *out = malloc(n * (size_t)dim * sizeof *out);
        double *runs = malloc((size_t)repeat * sizeof *runs);
        if (!out || !runs)
            die("%s", "out of memory");
        long n_tokens = 0;
        int32_t *ids = malloc((size_t)rl_encoder_max_tokens(e) * sizeof *ids);
        for (size_t i = 0; i < n; i++)
            n_tokens += rl_tokenizer_encode(tok, texts[i], strlen(texts[i]), ids,
                                            (size_t)rl_encoder_max_tokens(e));
        free(ids);
        for (long r = 0; r < repeat; r++) {
            double s = rl_now_s();
            if (rl_encoder_embed_ws(e, ws, (const char *const *)texts, n, out, err) != RL_OK)
                die("%s", err);
            runs[r] = rl_now_s() - s;
        }
        qsort(runs, (size_t)repeat, sizeof *runs, cmp_double);
        double med = runs[(repeat - 1) / 2];
        print_json(json_pack("{s:s, s:i, s:s, s:i, s:I, s:i, s:f, s:f, s:f}", "engine", engine,
                             "threads", (int)threads, "kind", "batch", "texts", (int)n, "tokens",
                             (json_int_t)n_tokens, "repeat", (int)repeat, "seconds", med,
                             "texts_per_s", (double)n / med, "tokens_per_s",
                             (double)n_tokens / med));
        for (size_t i = 0; i < n; i++)
            free(texts[i]);
        free(texts);
        free(out);
        free(runs);
    }

    print_json(json_pack("{s:s, s:i, s:s, s:f}", "engine", engine, "threads", (int)threads, "kind",
                         "rss", "peak_rss_mb", peak_rss_mb()));
    free(dumped);
    free(times);
    rl_encoder_ws_free(ws);
    rl_encoder_free(e);
    return 0;
}
