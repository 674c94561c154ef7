// Router benchmark, the C side (bench/router.py runs it next to numpy and PyTorch versions of
// the same algorithms and checks they agree before it reports timings). Modes:
//
//   build/bench/router gen --dir DIR [--battles N] [--prompts P] [--models M] [--seed S]
//       synthetic data: DIR/emb.npy (P, 384) unit prompt embeddings sharing a common direction,
//       DIR/battles.npy (N, 4) rows (model_a, model_b, outcome 0/1, prompt) drawn from a latent
//       linear preference model, and DIR/queries.npy (1000, 384) fresh query embeddings
//   build/bench/router train {mf|sw_ranking} --dir DIR --out FILE [--epochs E] [--threads T]
//                                           [--int8]
//       trains on DIR's battles and prints {"mode","seconds","per_epoch","val_acc"}
//   build/bench/router score --router FILE --dir DIR [--limit N] [--out FILE.npy]
//       scores DIR/queries.npy one at a time with the default pair; prints the per-query time
//       (median of the per-query times) and writes the scores (one row of N) for checking
//   build/bench/router decide --router FILE|KIND --prompts FILE --model DIR [--limit N]
//                             [--threads T]
//       the whole routing decision, one prompt at a time as the proxy makes it: the prompt's
//       embedding (when the router needs one, on T encoder threads, default 1) and
//       rl_router_decide (prompt features included); prints the median and p90 per prompt
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "core/npy.h"
#include "rl/battle.h"
#include "rl/encoder.h"
#include "rl/router.h"
#include "rl/texts.h"
#include "rl/train.h"

#define D 384

static _Noreturn void die(const char *msg, const char *arg) {
    fprintf(stderr, "bench/router: %s%s\n", msg, arg ? arg : "");
    exit(1);
}

static const char *opt(int argc, char **argv, const char *name, const char *def) {
    for (int i = 2; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return argv[i + 1];
    return def;
}

static long opt_long(int argc, char **argv, const char *name, long def) {
    const char *v = opt(argc, argv, name, NULL);
    if (!v)
        return def;
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (end == v || *end || errno || x < 0)
        die("bad number for ", name);
    return x;
}

// Box-Muller on the splitmix64 stream: reproducible data. u1 is in (0, 1], since log needs a
// positive argument: the [0, 1) draw plus 2^-53, which is exact.
static double gauss(uint64_t *s) {
    double u1 = rl__unit_double(rl__splitmix64(s)) + 0x1.0p-53;
    double u2 = rl__unit_double(rl__splitmix64(s));
    return sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2);
}

static void unit_rows(float *e, size_t n, uint64_t *s) {
    for (size_t i = 0; i < n; i++) {
        float *r = e + i * D;
        double ss = 0;
        for (int d = 0; d < D; d++) {
            r[d] = (float)(gauss(s) + (d == 0 ? 6.0 : 0.0));
            ss += (double)r[d] * r[d];
        }
        for (int d = 0; d < D; d++)
            r[d] = (float)(r[d] / sqrt(ss));
    }
}

static int gen(int argc, char **argv) {
    const char *dir = opt(argc, argv, "--dir", NULL);
    long n = opt_long(argc, argv, "--battles", 100000),
         p = opt_long(argc, argv, "--prompts", 20000), m = opt_long(argc, argv, "--models", 64);
    uint64_t s = (uint64_t)opt_long(argc, argv, "--seed", 1);
    if (!dir || p < 1 || m < 2)
        die("gen needs --dir and sensible sizes", NULL);
    float *emb = malloc((size_t)p * D * sizeof *emb), *q = malloc(1000 * D * sizeof *q);
    float *skill = malloc((size_t)m * D * sizeof *skill),
          *rows = malloc((size_t)n * 4 * sizeof *rows);
    if (!emb || !q || !skill || !rows)
        die("out of memory", NULL);
    unit_rows(emb, (size_t)p, &s);
    unit_rows(q, 1000, &s);
    // Model m's advantage on prompt e is <skill[m], e>: a general level plus prompt-dependent
    // parts.
    for (long k = 0; k < m; k++)
        for (int d = 0; d < D; d++)
            skill[k * D + d] =
                (float)((d == 0 ? 0.5 * (double)k / (double)m : 0) + 0.3 * gauss(&s));
    for (long i = 0; i < n; i++) {
        long a = (long)(rl__splitmix64(&s) % (uint64_t)m),
             b = (long)(rl__splitmix64(&s) % (uint64_t)(m - 1));
        b += b >= a;
        long pi = (long)(rl__splitmix64(&s) % (uint64_t)p);
        double z = 0;
        for (int d = 0; d < D; d++)
            z += (double)(skill[a * D + d] - skill[b * D + d]) * emb[pi * D + d];
        double pa = 1 / (1 + exp(-4 * z)), u = rl__unit_double(rl__splitmix64(&s));
        rows[i * 4 + 0] = (float)a;
        rows[i * 4 + 1] = (float)b;
        rows[i * 4 + 2] = u < pa ? 0.0f : 1.0f;
        rows[i * 4 + 3] = (float)pi;
    }
    char path[4096], err[RL_ERRBUF_SIZE];
    snprintf(path, sizeof path, "%s/emb.npy", dir);
    if (rl_npy_write_f32(path, emb, (size_t)p, D, err) != RL_OK)
        die(err, NULL);
    snprintf(path, sizeof path, "%s/queries.npy", dir);
    if (rl_npy_write_f32(path, q, 1000, D, err) != RL_OK)
        die(err, NULL);
    snprintf(path, sizeof path, "%s/battles.npy", dir);
    if (rl_npy_write_f32(path, rows, (size_t)n, 4, err) != RL_OK)
        die(err, NULL);
    free(emb);
    free(q);
    free(skill);
    free(rows);
    return 0;
}

static float *load(const char *dir, const char *name, size_t *rows, size_t *cols) {
    char path[4096], err[RL_ERRBUF_SIZE];
    float *x;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (rl_npy_read_f32(path, &x, rows, cols, err) != RL_OK)
        die(err, NULL);
    return x;
}

static int epochs_seen;

static void count_epochs(void *ctx, const struct rl_train_progress *p) {
    double *acc = ctx;
    if (p->epoch_done) {
        *acc = p->val_acc;
        epochs_seen++;
    }
}

static int train(int argc, char **argv) {
    const char *kind_name = argc > 2 ? argv[2] : "";
    const struct rl_router_kind *kind = rl_router_kind_find(kind_name, NULL);
    const char *dir = opt(argc, argv, "--dir", NULL), *out = opt(argc, argv, "--out", NULL);
    if (!kind || !dir || !out)
        die("train needs a kind, --dir and --out", NULL);
    size_t np, nb, c;
    float *emb = load(dir, "emb.npy", &np, &c), *rows = load(dir, "battles.npy", &nb, &c);
    struct rl_battles *b = rl_battles_new();
    char names[64][16];
    for (int k = 0; k < 64; k++)
        snprintf(names[k], sizeof names[k], "model-%02d", k);
    // Prompts are interned in index order so that prompt i keeps embedding row i.
    char text[64];
    for (size_t i = 0; i < np; i++) {
        int len = snprintf(text, sizeof text, "synthetic benchmark prompt %zu", i);
        if (rl_battles_add(b, text, (size_t)len, names[0], names[1], RL_OUTCOME_TIE, 0, 0) < 0)
            die("cannot add a battle", NULL);
    }
    b->n = 0;
    for (size_t i = 0; i < nb; i++) {
        int pi = (int)rows[i * 4 + 3];
        int len = snprintf(text, sizeof text, "synthetic benchmark prompt %d", pi);
        if (rl_battles_add(b, text, (size_t)len, names[(int)rows[i * 4]],
                           names[(int)rows[i * 4 + 1]],
                           rows[i * 4 + 2] == 0 ? RL_OUTCOME_A_WINS : RL_OUTCOME_B_WINS, 1, 0) != 1)
            die("cannot add a battle", NULL);
    }
    struct rl_train_params p = rl_train_params_default(kind);
    p.epochs = (int)opt_long(argc, argv, "--epochs", 1);
    p.n_threads = (int)opt_long(argc, argv, "--threads", 2);
    p.strong = names[63];
    p.weak = names[0];
    if (strcmp(kind_name, "sw_ranking") == 0)
        p.holdout = 0; // every battle is stored
    for (int i = 2; i < argc; i++)
        if (strcmp(argv[i], "--int8") == 0)
            p.sw_int8 = 1;
    double acc = NAN;
    p.progress = count_epochs;
    p.progress_ctx = &acc;
    char err[RL_ERRBUF_SIZE];
    double t0 = rl_now_s();
    if (rl_train(kind, b, emb, "synthetic", D, &p, out, err) != RL_OK)
        die(err, NULL);
    double t = rl_now_s() - t0;
    // JSON has no NaN: a run without held-out battles reports val_acc -1.
    printf("{\"mode\":\"train-%s\",\"battles\":%zu,\"seconds\":%.3f,\"per_epoch\":%.3f,"
           "\"val_acc\":%.4f,\"threads\":%d}\n",
           kind_name, nb, t, t / (epochs_seen ? epochs_seen : 1), isnan(acc) ? -1 : acc,
           p.n_threads);
    rl_battles_free(b);
    free(emb);
    free(rows);
    return 0;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int score(int argc, char **argv) {
    const char *file = opt(argc, argv, "--router", NULL), *dir = opt(argc, argv, "--dir", NULL);
    const char *out = opt(argc, argv, "--out", NULL);
    if (!file || !dir)
        die("score needs --router and --dir", NULL);
    char err[RL_ERRBUF_SIZE];
    struct rl_router *r = rl_router_load(file, NULL, err);
    if (!r)
        die(err, NULL);
    size_t nq, c;
    float *q = load(dir, "queries.npy", &nq, &c);
    size_t n = (size_t)opt_long(argc, argv, "--limit", (long)nq);
    n = n < nq ? n : nq;
    double *t = malloc(n * sizeof *t);
    float *s = malloc(n * sizeof *s);
    struct rl_router_pair pair;
    if (rl_router_default_pair(r, &pair) != RL_OK)
        die("no default pair", NULL);
    for (size_t i = 0; i < n; i++) {
        double p, t0 = rl_now_s();
        if (rl_router_score(r, &pair, q + i * D, &p) != RL_OK)
            die("scoring failed", NULL);
        t[i] = rl_now_s() - t0;
        s[i] = (float)p;
    }
    if (out && rl_npy_write_f32(out, s, 1, n, err) != RL_OK)
        die(err, NULL);
    qsort(t, n, sizeof *t, cmp_double);
    printf("{\"mode\":\"score-%s\",\"queries\":%zu,\"median_us\":%.3f,\"p90_us\":%.3f}\n",
           rl_router_name(r), n, t[n / 2] * 1e6, t[n * 9 / 10] * 1e6);
    rl_router_free(r);
    free(q);
    free(t);
    free(s);
    return 0;
}

static int decide(int argc, char **argv) {
    const char *spec = opt(argc, argv, "--router", NULL),
               *file = opt(argc, argv, "--prompts", NULL);
    const char *model = opt(argc, argv, "--model", "models/all-MiniLM-L6-v2");
    if (!spec || !file)
        die("decide needs --router and --prompts", NULL);
    char err[RL_ERRBUF_SIZE];
    struct rl_router *r = rl_router_load(spec, NULL, err);
    if (!r)
        die(err, NULL);
    struct rl_texts prompts;
    struct rl_texts_params tp = {.exact = true};
    if (rl_texts_load(file, &tp, &prompts, err) != RL_OK)
        die(err, NULL);
    size_t n = (size_t)opt_long(argc, argv, "--limit", (long)prompts.n);
    n = n < prompts.n ? n : prompts.n;
    size_t dim = rl_router_encoder_dim(r);
    struct rl_encoder *enc = dim ? rl_encoder_open(model, err) : NULL;
    struct rl_encoder_ws *ws =
        dim ? rl_encoder_ws_new((int)opt_long(argc, argv, "--threads", 1)) : NULL;
    if (dim && (!enc || !ws || rl_router_check_encoder(r, enc, err) != RL_OK))
        die(err, NULL);
    float *e = malloc((dim ? dim : 1) * sizeof *e);
    double *t = malloc((n ? n : 1) * sizeof *t);
    for (size_t i = 0; i < n; i++) {
        const char *text = prompts.items[i];
        double t0 = rl_now_s();
        if (dim && rl_encoder_embed_ws(enc, ws, &text, 1, e, err) != RL_OK)
            die(err, NULL);
        struct rl_prompt p = {text, strlen(text), dim ? e : NULL};
        struct rl_router_decision d;
        if (rl_router_decide(r, NULL, &p, 0.5, &d) != RL_OK)
            die("deciding failed", NULL);
        t[i] = rl_now_s() - t0;
    }
    qsort(t, n, sizeof *t, cmp_double);
    printf("{\"mode\":\"decide-%s\",\"prompts\":%zu,\"median_us\":%.1f,\"p90_us\":%.1f}\n",
           rl_router_name(r), n, t[n / 2] * 1e6, t[n * 9 / 10] * 1e6);
    free(e);
    free(t);
    rl_texts_free(&prompts);
    rl_encoder_ws_free(ws);
    rl_encoder_free(enc);
    rl_router_free(r);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2)
        die("usage: router gen|train|score|decide ... (see the top of bench/router.c)", NULL);
    if (strcmp(argv[1], "decide") == 0)
        return decide(argc, argv);
    if (strcmp(argv[1], "gen") == 0)
        return gen(argc, argv);
    if (strcmp(argv[1], "train") == 0)
        return train(argc, argv);
    if (strcmp(argv[1], "score") == 0)
        return score(argc, argv);
    die("unknown mode ", argv[1]);
}
