// Curve and metric arithmetic of the evaluation harness: a hand-computed five-prompt fixture,
// then the numbers of tools/ref_eval.py (pandas.qcut, numpy.interp, numpy trapezoids on the same
// scores) for synthetic cases and for the shipped MT-Bench, MMLU and GSM8K data.
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rl/eval.h"
#include "support/ref_uniform.h"
#include "test.h"

#define REF_PATH RL_TEST_DATA "/eval/ref_eval.json"

// A benchmark over caller-owned arrays (rl_bench_free is not called on it).
static struct rl_bench view(size_t n, double *qs, double *qw) {
    struct rl_bench b = {0};
    b.name = "test";
    b.strong = "s";
    b.weak = "w";
    b.n = n;
    b.q_strong = qs;
    b.q_weak = qw;
    return b;
}

// ----------------------------------------------------------------------------
// Hand-computed fixture (the derivation is in docs/EVAL.md, "A worked example")

TEST(eval_metrics_hand) {
    double scores[5] = {0.9, 0.1, 0.5, 0.3, 0.7};
    double qs[5] = {100, 100, 0, 100, 100}, qw[5] = {0, 100, 0, 0, 100};
    struct rl_bench b = view(5, qs, qw);
    struct rl_eval_prices prices = {10, 1};
    struct rl_eval_point pts[5];
    ASSERT_OK(rl_eval_curve(&b, scores, 4, &prices, pts));
    static const struct {
        double threshold, pct, quality, pgr, cost;
        int edge;
    } want[5] = {{0.9, 0, 40, 0, 1, 4},
                 {0.7, 40, 60, 0.5, 4.6, 3},
                 {0.5, 60, 60, 0.5, 6.4, 2},
                 {0.3, 80, 80, 1, 8.2, 1},
                 {0.1, 100, 80, 1, 10, 0}};
    for (int i = 0; i < 5; i++) {
        ASSERT_NEAR(pts[i].threshold, want[i].threshold, 1e-15);
        ASSERT_NEAR(pts[i].strong_pct, want[i].pct, 1e-12);
        ASSERT_NEAR(pts[i].quality, want[i].quality, 1e-12);
        ASSERT_NEAR(pts[i].pgr, want[i].pgr, 1e-12);
        ASSERT_NEAR(pts[i].cost, want[i].cost, 1e-12);
        ASSERT_EQ(pts[i].edge, want[i].edge);
    }
    struct rl_eval_metrics m;
    ASSERT_OK(rl_eval_metrics(pts, 5, 40, 80, 10, &m));
    ASSERT_NEAR(m.auc, 62, 1e-12);
    ASSERT_NEAR(m.apgr, 0.55, 1e-12);
    ASSERT_NEAR(m.apgr_avg, 0.75, 1e-12);
    ASSERT_NEAR(m.cpt20, 16, 1e-12);
    // np.interp lands on the right end of the flat stretch at quality 60; the first crossing
    // is at 40% strong calls.
    ASSERT_NEAR(m.cpt50, 60, 1e-12);
    ASSERT_NEAR(m.cpt50_min, 40, 1e-12);
    ASSERT_NEAR(m.cpt80, 72, 1e-12);
    ASSERT_NEAR(m.cpt80_min, 72, 1e-12);
    ASSERT_NEAR(m.cpt20_min, 16, 1e-12);
    ASSERT_NEAR(m.saving50, 10 / 6.4, 1e-12);
    ASSERT_NEAR(m.saving80, 10 / 7.48, 1e-12);

    // The oracle sends prompts 0 and 3 (gain 100) first: 80 from 40% strong calls on.
    double oracle[5];
    ASSERT_OK(rl_eval_oracle_scores(&b, oracle));
    ASSERT_NEAR(oracle[0], 1.0, 0);
    ASSERT_NEAR(oracle[3], 0.8, 0);
    ASSERT_NEAR(oracle[1], 0.6, 0);
    ASSERT_NEAR(oracle[2], 0.4, 0);
    ASSERT_NEAR(oracle[4], 0.2, 0);
    ASSERT_OK(rl_eval_curve(&b, oracle, 4, &prices, pts));
    ASSERT_OK(rl_eval_metrics(pts, 5, 40, 80, 10, &m));
    ASSERT_NEAR(m.apgr, 0.8, 1e-12);
    ASSERT_NEAR(m.cpt50, 20, 1e-12);
    return 0;
}

TEST(eval_metrics_invalid) {
    double s[2] = {0.5, NAN}, e[11], qs[2] = {1, 1}, qw[2] = {0, 0};
    ASSERT_EQ(rl_eval_edges(s, 0, 10, e), RL_EINVAL);
    ASSERT_EQ(rl_eval_edges(s, 1, 0, e), RL_EINVAL);
    ASSERT_EQ(rl_eval_edges(s, 1, RL_EVAL_MAX_RESULTS + 1, e), RL_EINVAL);
    ASSERT_EQ(rl_eval_edges(s, 2, 10, e), RL_EINVAL);
    ASSERT_OK(rl_eval_edges(s, 1, 10, e));
    ASSERT_NEAR(e[0], 0.5, 0);
    ASSERT_NEAR(e[10], 0.5, 0);
    struct rl_eval_point pts[2];
    memset(pts, 0, sizeof pts);
    struct rl_eval_metrics m;
    ASSERT_EQ(rl_eval_metrics(pts, 1, 0, 1, 1, &m), RL_EINVAL);
    // A tied or inverted pair has no PGR, but still an AUC.
    ASSERT_OK(rl_eval_metrics(pts, 2, 1, 1, 1, &m));
    ASSERT(!m.pgr_defined);
    ASSERT(isnan(m.apgr) && isnan(m.cpt50) && isnan(m.saving50));
    ASSERT_NEAR(m.auc, 0, 0);
    ASSERT_OK(rl_eval_metrics(pts, 2, 1, 0.5, 1, &m));
    ASSERT(!m.pgr_defined && isnan(m.apgr_avg) && isnan(m.cpt80_min));
    // A one-prompt benchmark: 100% strong at the first edge, 0% at the last.
    struct rl_bench b = view(1, qs, qw);
    struct rl_eval_prices prices = {1, 1};
    struct rl_eval_point one[3];
    double p[1] = {0.25};
    ASSERT_OK(rl_eval_curve(&b, p, 2, &prices, one));
    ASSERT_NEAR(one[0].strong_pct, 0, 0);
    ASSERT_NEAR(one[1].strong_pct, 100, 0);
    ASSERT_NEAR(one[2].strong_pct, 100, 0);
    return 0;
}

// A pair whose strong model is not better by RL_EVAL_MIN_GAP of the quality range (tied,
// inverted, or ahead by less) keeps its curve and AUC; PGR and everything derived from it is NaN,
// and the bootstrap gives no interval. The range follows the table's scale: 1% of 0-1 is 0.01, of
// 1-10 judge scores 0.09.
TEST(eval_metrics_unordered_pair) {
    static const struct {
        /* input: four prompts' qualities */
        double qs[4], qw[4];
        /* output */
        double min_gap;
        bool ordered;
    } cases[] = {
        {{1, 0, 1, 0}, {1, 0, 1, 0}, 0.01, false},                // tied
        {{0, 0, 1, 0}, {1, 1, 1, 0}, 0.01, false},                // inverted
        {{0.50, 0.5, 0.5, 1}, {0.49, 0.5, 0.5, 0}, 0.01, true},   // ahead by 0.2525
        {{0.53, 0.5, 0.5, 1}, {0.50, 0.5, 0.5, 1}, 0.005, true},  // range 0.5: needs 0.005
        {{0.51, 0.5, 0.5, 1}, {0.50, 0.5, 0.5, 1}, 0.005, false}, // ahead by 0.0025
        {{10, 1, 5.0, 5}, {10, 1, 4.8, 5}, 0.09, false},          // judge scores, ahead by 0.05
        {{10, 1, 5.4, 5}, {10, 1, 5.0, 5}, 0.09, true},           // ahead by 0.1
    };
    double scores[4] = {0.9, 0.1, 0.5, 0.3};
    struct rl_eval_prices prices = {10, 1};
    for (size_t i = 0; i < RL_COUNTOF(cases); i++) {
        double qs[4], qw[4];
        memcpy(qs, cases[i].qs, sizeof qs);
        memcpy(qw, cases[i].qw, sizeof qw);
        struct rl_bench b = view(4, qs, qw);
        ASSERT_NEAR(rl_bench_min_gap(&b), cases[i].min_gap, 1e-12);
        ASSERT_EQ(rl_bench_pair_ordered(&b), cases[i].ordered);
        struct rl_eval_point pts[5];
        struct rl_eval_metrics m;
        ASSERT_OK(rl_eval_curve(&b, scores, 4, &prices, pts));
        ASSERT_OK(rl_eval_bench_metrics(&b, pts, 5, &prices, &m));
        ASSERT_EQ(m.pgr_defined, cases[i].ordered);
        ASSERT(isfinite(m.auc));
        ASSERT_NEAR(m.cost_strong, 10, 0);
        ASSERT_NEAR(m.r_strong, rl_bench_quality(&b, true), 0);
        for (int k = 0; k < 5; k++)
            ASSERT_EQ(isnan(pts[k].pgr) != 0, !cases[i].ordered);
        double metric[] = {m.apgr,      m.apgr_avg,  m.cpt20,     m.cpt50,    m.cpt80,
                           m.cpt20_min, m.cpt50_min, m.cpt80_min, m.saving50, m.saving80};
        for (size_t k = 0; k < RL_COUNTOF(metric); k++)
            ASSERT_EQ(isnan(metric[k]) != 0, !cases[i].ordered);
        double lo, hi;
        if (!cases[i].ordered)
            ASSERT_EQ(rl_eval_bootstrap_apgr(&b, scores, 1, 4, 50, 7, &lo, &hi), RL_EINVAL);
    }
    return 0;
}

// Tied scores keep their duplicate edges (pandas.qcut would refuse them): repeated points that
// add nothing to the areas.
TEST(eval_metrics_ties) {
    double s[6] = {0.5, 0.5, 0.5, 0.5, 0.5, 0.9}, e[11];
    ASSERT_OK(rl_eval_edges(s, 6, 10, e));
    for (int i = 0; i <= 8; i++)
        ASSERT_NEAR(e[i], 0.5, 0);
    ASSERT_NEAR(e[9], 0.7, 1e-15);
    ASSERT_NEAR(e[10], 0.9, 0);
    double qs[6] = {100, 100, 100, 100, 100, 100}, qw[6] = {0, 0, 0, 0, 0, 100};
    struct rl_bench b = view(6, qs, qw);
    struct rl_eval_prices prices = {1, 1};
    struct rl_eval_point pts[11];
    ASSERT_OK(rl_eval_curve(&b, s, 10, &prices, pts));
    // Nine edges at 0.5 give the same all-strong point; only 0.7, 0.9 and the last differ.
    for (int i = 2; i < 11; i++)
        ASSERT_NEAR(pts[i].strong_pct, 100, 0);
    ASSERT_NEAR(pts[1].strong_pct, 100.0 / 6, 1e-12);
    ASSERT_NEAR(pts[0].strong_pct, 0, 0);
    struct rl_eval_metrics m;
    ASSERT_OK(rl_eval_metrics(pts, 11, 100.0 / 6, 100, 1, &m));
    // Trapezoids: from (0, 100/6) to (1/6, 100/6)... then (1/6, 100/6) to (1, 100).
    ASSERT_NEAR(m.auc, (1.0 / 6) * (100.0 / 6) + (5.0 / 6) * (100.0 / 6 + 100) / 2, 1e-12);
    return 0;
}

// ----------------------------------------------------------------------------
// Against the Python reference

static json_t *load_ref(void) {
    json_error_t err;
    json_t *ref = json_load_file(REF_PATH, 0, &err);
    if (!ref)
        fprintf(stderr, "  %s: %s (run tools/ref_eval.py)\n", REF_PATH, err.text);
    return ref;
}

static double num(json_t *o, const char *k) {
    return json_number_value(json_object_get(o, k));
}

static double *array(json_t *a, size_t *n) {
    *n = json_array_size(a);
    double *x = malloc((*n ? *n : 1) * sizeof *x);
    for (size_t i = 0; x && i < *n; i++)
        x[i] = json_number_value(json_array_get(a, i));
    return x;
}

// Compare a curve and its metrics with a reference case; tol is relative to the quantities.
static int check_case(json_t *c, const struct rl_eval_point *pts, int n_pts, double r_w,
                      double r_s) {
    const char *name = json_string_value(json_object_get(c, "name"));
    json_t *ref_pts = json_object_get(c, "points");
    ASSERT_EQ(json_array_size(ref_pts), n_pts);
    ASSERT_NEAR(r_w, num(c, "weak_quality"), 1e-9);
    ASSERT_NEAR(r_s, num(c, "strong_quality"), 1e-9);
    double maxdiff = 0;
    for (int i = 0; i < n_pts; i++) {
        json_t *p = json_array_get(ref_pts, (size_t)i);
        ASSERT_NEAR(pts[i].strong_pct, num(p, "strong_pct"), 1e-9);
        ASSERT_NEAR(pts[i].quality, num(p, "quality"), 1e-9);
        ASSERT_NEAR(pts[i].cost, num(p, "cost"), 1e-9);
        double d = fabs(pts[i].quality - num(p, "quality"));
        maxdiff = d > maxdiff ? d : maxdiff;
    }
    struct rl_eval_metrics m;
    ASSERT_OK(rl_eval_metrics(pts, (size_t)n_pts, r_w, r_s, RL_EVAL_PRICE_STRONG, &m));
    static const char *const keys[] = {"apgr",  "apgr_avg", "auc",      "cpt20",
                                       "cpt50", "cpt80",    "saving50", "saving80"};
    double got[] = {m.apgr, m.apgr_avg, m.auc, m.cpt20, m.cpt50, m.cpt80, m.saving50, m.saving80};
    for (size_t k = 0; k < RL_COUNTOF(keys); k++) {
        double want = num(c, keys[k]);
        if (!(fabs(got[k] - want) <= 1e-9 * (1 + fabs(want))))
            TEST_FAIL_("%s: %s = %.12g, reference %.12g", name, keys[k], got[k], want);
        double d = fabs(got[k] - want);
        maxdiff = d > maxdiff ? d : maxdiff;
    }
    printf("    %-9s apgr %.4f cpt50 %6.2f%%  maxdiff %.2e\n", name, m.apgr, m.cpt50, maxdiff);
    return 0;
}

TEST(eval_metrics_reference_cases) {
    json_t *ref = load_ref();
    ASSERT_NOT_NULL(ref);
    struct rl_eval_prices prices = {RL_EVAL_PRICE_STRONG, RL_EVAL_PRICE_WEAK};
    json_t *cases = json_object_get(ref, "cases");
    ASSERT(json_array_size(cases) >= 5);
    int rc = 0;
    for (size_t ci = 0; rc == 0 && ci < json_array_size(cases); ci++) {
        json_t *c = json_array_get(cases, ci);
        size_t n, n2;
        double *qs = array(json_object_get(c, "q_strong"), &n);
        double *qw = array(json_object_get(c, "q_weak"), &n2);
        // The reference's correctness is 0/1; ours is stored as percent.
        for (size_t i = 0; i < n; i++) {
            qs[i] *= 100;
            qw[i] *= 100;
        }
        struct rl_bench b = view(n, qs, qw);
        struct rl_eval_point pts[11];
        json_t *seeds = json_object_get(c, "run_seeds");
        if (seeds) {
            int runs = (int)json_array_size(seeds);
            struct rl_eval_point all[5 * 11];
            double *s = malloc(n * sizeof *s);
            for (int r = 0; r < runs && r < 5; r++) {
                ref_uniform((uint64_t)json_integer_value(json_array_get(seeds, (size_t)r)), n, s);
                if (rl_eval_curve(&b, s, 10, &prices, all + r * 11) != RL_OK)
                    rc = 1;
            }
            free(s);
            rl_eval_curve_mean(all, runs, 10, pts);
        } else {
            size_t ns;
            double *s = array(json_object_get(c, "scores"), &ns);
            double edges[11];
            if (ns != n || rl_eval_edges(s, n, 10, edges) != RL_OK ||
                rl_eval_curve(&b, s, 10, &prices, pts) != RL_OK)
                rc = 1;
            json_t *ref_edges = json_object_get(c, "edges");
            for (int i = 0; rc == 0 && i < 11; i++)
                if (fabs(edges[i] - json_number_value(json_array_get(ref_edges, (size_t)i))) >
                    1e-12)
                    rc = 1;
            free(s);
        }
        if (rc == 0)
            rc = check_case(c, pts, 11, rl_bench_quality(&b, false), rl_bench_quality(&b, true));
        free(qs);
        free(qw);
    }
    json_decref(ref);
    return rc;
}

TEST(eval_metrics_reference_benchmarks) {
    json_t *ref = load_ref();
    ASSERT_NOT_NULL(ref);
    struct rl_eval_prices prices = {RL_EVAL_PRICE_STRONG, RL_EVAL_PRICE_WEAK};
    json_t *benches = json_object_get(ref, "benchmarks");
    ASSERT_EQ(json_array_size(benches), 3);
    int rc = 0;
    for (size_t bi = 0; rc == 0 && bi < 3; bi++) {
        json_t *c = json_array_get(benches, bi);
        char err[RL_ERRBUF_SIZE];
        struct rl_bench *b = rl_bench_load(json_string_value(json_object_get(c, "name")),
                                           RL_DATA_DIR "/data/evals", err);
        if (!b) {
            fprintf(stderr, "  %s\n", err);
            rc = 1;
            break;
        }
        double *s = malloc(b->n * sizeof *s), edges[11];
        struct rl_eval_point pts[11];
        rc = (size_t)json_integer_value(json_object_get(c, "n")) == b->n ? 0 : 1;
        // The reference's scores: (u + [strong is better]) / 2.
        ref_uniform((uint64_t)json_integer_value(json_object_get(c, "seed")), b->n, s);
        for (size_t i = 0; i < b->n; i++)
            s[i] = (s[i] + (b->q_strong[i] > b->q_weak[i])) / 2;
        if (rc == 0 && (rl_eval_edges(s, b->n, 10, edges) != RL_OK ||
                        rl_eval_curve(b, s, 10, &prices, pts) != RL_OK))
            rc = 1;
        json_t *ref_edges = json_object_get(c, "edges");
        for (int i = 0; rc == 0 && i < 11; i++)
            if (fabs(edges[i] - json_number_value(json_array_get(ref_edges, (size_t)i))) > 1e-12)
                rc = 1;
        if (rc == 0)
            rc = check_case(c, pts, 11, rl_bench_quality(b, false), rl_bench_quality(b, true));
        free(s);
        rl_bench_free(b);
    }
    json_decref(ref);
    return rc;
}

// numpy.interp on arbitrary, often non-monotone xp: same answer to the last bit or so.
TEST(eval_metrics_interp_numpy) {
    json_t *ref = load_ref();
    ASSERT_NOT_NULL(ref);
    json_t *cases = json_object_get(ref, "interp");
    ASSERT(json_array_size(cases) >= 200);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < json_array_size(cases); i++) {
        json_t *c = json_array_get(cases, i);
        size_t n, n2;
        double *xp = array(json_object_get(c, "xp"), &n);
        double *fp = array(json_object_get(c, "fp"), &n2);
        double got = rl_eval_interp(num(c, "x"), xp, fp, n), want = num(c, "y");
        if (!(fabs(got - want) <= 1e-12 * (1 + fabs(want)))) {
            fprintf(stderr, "  case %zu: interp(%g) over %zu points = %.17g, numpy %.17g\n", i,
                    num(c, "x"), n, got, want);
            rc = 1;
        }
        free(xp);
        free(fp);
    }
    json_decref(ref);
    return rc;
}

// Where pandas computes the quantile position (n - 1)·i/10 in floating point it can land one
// ulp above a sample value and count that prompt as weak; the exact position does not.
TEST(eval_metrics_exact_positions) {
    json_t *ref = load_ref();
    ASSERT_NOT_NULL(ref);
    json_t *doc = json_object_get(ref, "edges_doc");
    size_t n, k;
    double *s = array(json_object_get(doc, "scores"), &n);
    double *pandas = array(json_object_get(doc, "pandas"), &k);
    double *exact = array(json_object_get(doc, "exact"), &k);
    double edges[11];
    int rc = rl_eval_edges(s, n, 10, edges);
    for (int i = 0; rc == 0 && i < 11; i++) {
        if (edges[i] != exact[i] || fabs(edges[i] - pandas[i]) > 1e-15)
            rc = 1;
    }
    ASSERT_OK(rc);
    ASSERT(pandas[3] > s[3]);
    ASSERT(edges[3] == s[3]);
    free(s);
    free(pandas);
    free(exact);
    json_decref(ref);
    return 0;
}

// The bootstrap interval brackets the point estimate, narrows with more prompts' worth of
// signal, is reproducible for a seed, and refuses degenerate input.
TEST(eval_metrics_bootstrap) {
    json_t *ref = load_ref();
    ASSERT_NOT_NULL(ref);
    json_t *c = json_array_get(json_object_get(ref, "cases"), 0); // "signal", 997 prompts
    ASSERT_STR_EQ(json_string_value(json_object_get(c, "name")), "signal");
    size_t n, k;
    double *qs = array(json_object_get(c, "q_strong"), &n);
    double *qw = array(json_object_get(c, "q_weak"), &k);
    double *s = array(json_object_get(c, "scores"), &k);
    struct rl_bench b = view(n, qs, qw);
    double lo, hi, lo2, hi2;
    ASSERT_OK(rl_eval_bootstrap_apgr(&b, s, 1, 10, 300, 7, &lo, &hi));
    ASSERT_OK(rl_eval_bootstrap_apgr(&b, s, 1, 10, 300, 7, &lo2, &hi2));
    ASSERT_NEAR(lo, lo2, 0);
    ASSERT_NEAR(hi, hi2, 0);
    double apgr = num(c, "apgr");
    printf("    signal: APGR %.4f, 95%% interval [%.4f, %.4f]\n", apgr, lo, hi);
    ASSERT(lo < apgr && apgr < hi);
    ASSERT(hi - lo < 0.2);
    ASSERT_EQ(rl_eval_bootstrap_apgr(&b, s, 1, 10, 1, 7, &lo, &hi), RL_EINVAL);
    // Both models equal on every prompt: every resample ties, so there is no interval.
    ASSERT_EQ(rl_eval_bootstrap_apgr(&(struct rl_bench){.n = n, .q_strong = qs, .q_weak = qs}, s, 1,
                                     10, 50, 7, &lo, &hi),
              RL_EINVAL);
    // A pair just above the minimum gap (12 of 997 wrong answers of the weak model made right):
    // the resamples that fall below it are skipped, and the interval is that of the others.
    double *near = malloc(n * sizeof *near);
    ASSERT_NOT_NULL(near);
    memcpy(near, qw, n * sizeof *near);
    struct rl_bench nb = view(n, near, qw);
    for (size_t i = 0, fixed = 0; i < n && fixed < 12; i++) {
        fixed += near[i] == 0;
        near[i] = 1;
    }
    ASSERT(rl_bench_pair_ordered(&nb));
    ASSERT_OK(rl_eval_bootstrap_apgr(&nb, s, 1, 10, 200, 7, &lo, &hi));
    ASSERT(isfinite(lo) && isfinite(hi) && lo <= hi);
    free(near);
    free(qs);
    free(qw);
    free(s);
    json_decref(ref);
    return 0;
}
