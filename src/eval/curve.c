// Call–performance curves and their metrics, computed as RouteLLM's harness computes them
// (routellm/evals/{benchmarks,evaluate}.py; ROUTELLM.md §1.6 and §4): thresholds at the bin
// edges of pandas.qcut, strong when p >= edge (p > edge at the last one), numpy.interp for
// CPT(x%) and numpy.trapz for AUC and APGR; and a bootstrap of APGR over prompts. Pure
// arithmetic: no I/O, no allocation beyond working copies of the scores.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "eval/eval_impl.h"
#include "rl/calibrate.h"
#include "rl/eval.h"
#include "rl/router.h"

// ----------------------------------------------------------------------------
// numpy primitives

double rl__lerp(double a, double b, double t) {
    double diff = b - a;
    return t >= 0.5 ? b - diff * (1 - t) : a + diff * t;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int rl__sorted_scores(const double *scores, size_t n, double **sorted) {
    if (n == 0)
        return RL_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(scores[i]))
            return RL_EINVAL;
    double *s = malloc(n * sizeof *s);
    if (!s)
        return RL_ENOMEM;
    memcpy(s, scores, n * sizeof *s);
    qsort(s, n, sizeof *s, cmp_double);
    *sorted = s;
    return RL_OK;
}

// Index i with xp[i] <= key < xp[i + 1] by numpy's search (numpy/core/src/multiarray/
// compiled_base.c, binary_search_with_guess): -1 below xp[0], n above xp[n - 1]. Its exact
// probe order matters, because the original feeds it curves that are not increasing.
static long np_search(double key, const double *xp, long n, long guess) {
    enum { CACHE = 8 };
    long imin = 0, imax = n;
    if (key > xp[n - 1])
        return n;
    if (key < xp[0])
        return -1;
    if (n <= 4) {
        long i = 1;
        while (i < n && key >= xp[i])
            i++;
        return i - 1;
    }
    if (guess > n - 3)
        guess = n - 3;
    if (guess < 1)
        guess = 1;
    if (key < xp[guess]) {
        if (key >= xp[guess - 1])
            return guess - 1;
        imax = guess - 1;
        if (guess > CACHE && key >= xp[guess - CACHE])
            imin = guess - CACHE;
    } else {
        if (key < xp[guess + 1])
            return guess;
        if (key < xp[guess + 2])
            return guess + 1;
        imin = guess + 2;
        if (guess < n - CACHE - 1 && key < xp[guess + CACHE])
            imax = guess + CACHE;
    }
    while (imin < imax) {
        long mid = imin + ((imax - imin) >> 1);
        if (key >= xp[mid])
            imin = mid + 1;
        else
            imax = mid;
    }
    return imin - 1;
}

double rl_eval_interp(double x, const double *xp, const double *fp, size_t n) {
    RL_ASSERT(n > 0);
    if (isnan(x))
        return x;
    if (n == 1)
        return fp[0]; // left, right and exact all give fp[0]
    long len = (long)n;
    long j = np_search(x, xp, len, 0);
    if (j == -1)
        return fp[0];
    if (j == len)
        return fp[len - 1];
    if (j == len - 1 || xp[j] == x)
        return fp[j];
    double slope = (fp[j + 1] - fp[j]) / (xp[j + 1] - xp[j]);
    double y = slope * (x - xp[j]) + fp[j];
    if (isnan(y)) {
        y = slope * (x - xp[j + 1]) + fp[j + 1];
        if (isnan(y) && fp[j] == fp[j + 1])
            y = fp[j];
    }
    return y;
}

double rl_eval_trapz(const double *y, const double *x, size_t n) {
    double sum = 0;
    for (size_t i = 1; i < n; i++)
        sum += (x[i] - x[i - 1]) * (y[i] + y[i - 1]) / 2.0;
    return sum;
}

// ----------------------------------------------------------------------------
// Thresholds

// pandas.qcut(x, q) takes the quantiles at np.linspace(0, 1, q + 1) with linear interpolation:
// position (n - 1)·i/q in the sorted scores. The position is split into an exact integer part
// and fraction here, where pandas computes it in floating point; the two differ only when the
// position is a whole number, and then this edge is exactly the sample value (docs/EVAL.md).
// Equal edges are kept rather than refused (pandas' default duplicates='raise' would stop the
// whole evaluation for a router with many tied scores): they give repeated points, which add
// nothing to the areas.
int rl_eval_edges(const double *scores, size_t n, int num_results, double *edges) {
    if (num_results < 1 || num_results > RL_EVAL_MAX_RESULTS)
        return RL_EINVAL;
    double *s;
    int rc = rl__sorted_scores(scores, n, &s);
    if (rc != RL_OK)
        return rc;
    uint64_t q = (uint64_t)num_results;
    for (uint64_t i = 0; i <= q; i++) {
        uint64_t pos = (uint64_t)(n - 1) * i;
        uint64_t lo = pos / q, rem = pos % q;
        edges[i] = rem == 0 ? s[lo] : rl__lerp(s[lo], s[lo + 1], (double)rem / (double)q);
    }
    free(s);
    return RL_OK;
}

// ----------------------------------------------------------------------------
// Curves

int rl_eval_curve(const struct rl_bench *b, const double *scores, int num_results,
                  const struct rl_eval_prices *prices, struct rl_eval_point *pts) {
    double edges[RL_EVAL_MAX_RESULTS + 1];
    int rc = rl_eval_edges(scores, b->n, num_results, edges);
    if (rc != RL_OK)
        return rc;
    double r_w = rl_bench_quality(b, false), r_s = rl_bench_quality(b, true);
    double gap = rl_bench_pair_ordered(b) ? r_s - r_w : NAN;
    double nd = (double)b->n;
    for (int e = 0; e <= num_results; e++) {
        double edge = edges[e], quality = 0, cost = 0;
        size_t strong = 0;
        for (size_t i = 0; i < b->n; i++) {
            bool s = e < num_results ? rl_router_goes_strong(scores[i], edge) : scores[i] > edge;
            strong += s;
            quality += s ? b->q_strong[i] : b->q_weak[i];
            if (b->c_strong)
                cost += s ? b->c_strong[i] : b->c_weak[i];
        }
        if (!b->c_strong)
            cost = (double)strong * prices->strong + (double)(b->n - strong) * prices->weak;
        // Edges rise, so the share of strong calls falls: reversing sorts by strong_pct.
        struct rl_eval_point *p = &pts[num_results - e];
        p->threshold = edge;
        p->strong_pct = (double)strong / nd * 100;
        p->quality = quality / nd;
        p->pgr = (p->quality - r_w) / gap;
        p->cost = cost / nd;
        p->edge = e;
    }
    return RL_OK;
}

void rl_eval_curve_mean(const struct rl_eval_point *runs, size_t n_runs, int num_results,
                        struct rl_eval_point *out) {
    int n_pts = num_results + 1;
    for (int i = 0; i < n_pts; i++) {
        struct rl_eval_point m = {0};
        for (size_t r = 0; r < n_runs; r++) {
            const struct rl_eval_point *p = &runs[r * (size_t)n_pts + (size_t)i];
            m.threshold += p->threshold;
            m.strong_pct += p->strong_pct;
            m.quality += p->quality;
            m.pgr += p->pgr;
            m.cost += p->cost;
        }
        m.threshold /= n_runs;
        m.strong_pct /= n_runs;
        m.quality /= n_runs;
        m.pgr /= n_runs;
        m.cost /= n_runs;
        m.edge = runs[i].edge;
        out[i] = m;
    }
}

// ----------------------------------------------------------------------------
// Oracle

struct gain {
    double g;
    size_t i;
};

static int by_gain(const void *a, const void *b) {
    const struct gain *x = a, *y = b;
    if (x->g != y->g)
        return x->g < y->g ? 1 : -1;
    return (x->i > y->i) - (x->i < y->i);
}

int rl_eval_oracle_scores(const struct rl_bench *b, double *scores) {
    struct gain *g = malloc((b->n ? b->n : 1) * sizeof *g);
    if (!g)
        return RL_ENOMEM;
    for (size_t i = 0; i < b->n; i++)
        g[i] = (struct gain){b->q_strong[i] - b->q_weak[i], i};
    qsort(g, b->n, sizeof *g, by_gain);
    for (size_t r = 0; r < b->n; r++)
        scores[g[r].i] = (double)(b->n - r) / (double)b->n;
    free(g);
    return RL_OK;
}

// ----------------------------------------------------------------------------
// Metrics

// The smallest share of strong calls at which the curve (sorted by strong_pct) first reaches
// `target`, interpolating linearly inside the segment where it crosses.
static double first_crossing(const double *x, const double *y, size_t n, double target) {
    for (size_t i = 0; i < n; i++) {
        if (y[i] < target)
            continue;
        if (i == 0 || y[i] == y[i - 1])
            return x[i];
        return x[i - 1] + (target - y[i - 1]) * (x[i] - x[i - 1]) / (y[i] - y[i - 1]);
    }
    return x[n - 1];
}

bool rl__pgr_defined(double r_weak, double r_strong, double min_gap) {
    return r_strong - r_weak > 0 && r_strong - r_weak >= min_gap;
}

// When PGR is not defined (rl__pgr_defined), every metric that divides by the gap is NaN; AUC
// and the cost of always-strong are still computed.
static int metrics_gap(const struct rl_eval_point *pts, size_t n_pts, double r_weak,
                       double r_strong, double min_gap, double cost_strong,
                       struct rl_eval_metrics *m) {
    if (n_pts < 2 || n_pts > RL_EVAL_MAX_RESULTS + 1)
        return RL_EINVAL;
    double x[RL_EVAL_MAX_RESULTS + 1], pct[RL_EVAL_MAX_RESULTS + 1], y[RL_EVAL_MAX_RESULTS + 1];
    double flat_w[RL_EVAL_MAX_RESULTS + 1], flat_s[RL_EVAL_MAX_RESULTS + 1];
    double cost[RL_EVAL_MAX_RESULTS + 1];
    int last_edge = 0;
    for (size_t i = 0; i < n_pts; i++) {
        pct[i] = pts[i].strong_pct;
        x[i] = pts[i].strong_pct / 100;
        y[i] = pts[i].quality;
        cost[i] = pts[i].cost;
        flat_w[i] = r_weak;
        flat_s[i] = r_strong;
        if (pts[i].edge > last_edge)
            last_edge = pts[i].edge;
    }
    memset(m, 0, sizeof *m);
    m->r_weak = r_weak;
    m->r_strong = r_strong;
    m->cost_strong = cost_strong;
    m->auc = rl_eval_trapz(y, x, n_pts);
    m->pgr_defined = rl__pgr_defined(r_weak, r_strong, min_gap);
    if (!m->pgr_defined) {
        m->apgr = m->apgr_avg = m->cpt20 = m->cpt50 = m->cpt80 = NAN;
        m->cpt20_min = m->cpt50_min = m->cpt80_min = m->saving50 = m->saving80 = NAN;
        return RL_OK;
    }

    // AUC and APGR exactly as evaluate.py's auc_metric and apgr_metric.
    double weak_auc = rl_eval_trapz(flat_w, x, n_pts);
    double strong_auc = rl_eval_trapz(flat_s, x, n_pts);
    m->apgr = (m->auc - weak_auc) / (strong_auc - weak_auc);

    // The paper's (1/10)·Σ PGR(α_i) over the ten thresholds with strong calls: every edge but
    // the last, whose p > max rule always gives 0% strong.
    double sum = 0;
    int count = 0;
    for (size_t i = 0; i < n_pts; i++) {
        if (pts[i].edge == last_edge)
            continue;
        sum += (pts[i].quality - r_weak) / (r_strong - r_weak);
        count++;
    }
    m->apgr_avg = count ? sum / count : 0;

    // CPT(x%) as pct_call_metric: np.interp(r_w + x·(r_s - r_w), quality, strong_pct).
    static const double targets[3] = {0.2, 0.5, 0.8};
    double *cpt[3] = {&m->cpt20, &m->cpt50, &m->cpt80};
    double *cpt_min[3] = {&m->cpt20_min, &m->cpt50_min, &m->cpt80_min};
    for (int t = 0; t < 3; t++) {
        double target = targets[t] * (r_strong - r_weak) + r_weak;
        *cpt[t] = rl_eval_interp(target, y, pct, n_pts);
        *cpt_min[t] = first_crossing(pct, y, n_pts, target);
    }
    // The cost at a CPT point interpolates the cost curve along the share of strong calls,
    // which is sorted, so np.interp is well defined here.
    double c50 = rl_eval_interp(m->cpt50, pct, cost, n_pts);
    double c80 = rl_eval_interp(m->cpt80, pct, cost, n_pts);
    m->saving50 = c50 > 0 ? cost_strong / c50 : 0;
    m->saving80 = c80 > 0 ? cost_strong / c80 : 0;
    return RL_OK;
}

int rl_eval_metrics(const struct rl_eval_point *pts, size_t n_pts, double r_weak, double r_strong,
                    double cost_strong, struct rl_eval_metrics *m) {
    return metrics_gap(pts, n_pts, r_weak, r_strong, 0, cost_strong, m);
}

int rl_eval_bench_metrics(const struct rl_bench *b, const struct rl_eval_point *pts, size_t n_pts,
                          const struct rl_eval_prices *prices, struct rl_eval_metrics *m) {
    return metrics_gap(pts, n_pts, rl_bench_quality(b, false), rl_bench_quality(b, true),
                       rl_bench_min_gap(b), rl_bench_cost(b, prices, true), m);
}

// ----------------------------------------------------------------------------
// Bootstrap

// Each resample keeps the protocol whole: its own decile edges, its own r_w and r_s, and the
// random router's runs averaged before the metrics, so the interval is that of the number the
// table reports.
int rl_eval_bootstrap_apgr(const struct rl_bench *b, const double *scores, size_t n_runs,
                           int num_results, int n_boot, uint64_t seed, double *lo, double *hi) {
    if (n_boot < 2 || n_runs < 1 || b->n == 0 || num_results < 1 ||
        num_results > RL_EVAL_MAX_RESULTS || !rl_bench_pair_ordered(b))
        return RL_EINVAL;
    // The resamples keep the table's scale: a resample passes with the gap the table needs.
    double min_gap = rl_bench_min_gap(b);
    size_t n = b->n, n_pts = (size_t)num_results + 1;
    double *qs = malloc(n * sizeof *qs), *qw = malloc(n * sizeof *qw);
    double *s = malloc(n * sizeof *s), *apgr = malloc((size_t)n_boot * sizeof *apgr);
    size_t *idx = malloc(n * sizeof *idx);
    struct rl_eval_point *runs = malloc(n_runs * n_pts * sizeof *runs);
    struct rl_eval_point *mean = malloc(n_pts * sizeof *mean);
    int rc = qs && qw && s && apgr && idx && runs && mean ? RL_OK : RL_ENOMEM;
    struct rl_bench v = {0};
    v.n = n;
    v.q_strong = qs;
    v.q_weak = qw;
    struct rl_eval_prices unit = {1, 1};
    int kept = 0;
    uint64_t state = seed;
    for (int it = 0; rc == RL_OK && it < n_boot; it++) {
        for (size_t i = 0; i < n; i++) {
            idx[i] = (size_t)(rl__splitmix64(&state) % n);
            qs[i] = b->q_strong[idx[i]];
            qw[i] = b->q_weak[idx[i]];
        }
        double r_w = rl_bench_quality(&v, false), r_s = rl_bench_quality(&v, true);
        if (!rl__pgr_defined(r_w, r_s, min_gap))
            continue;
        for (size_t r = 0; rc == RL_OK && r < n_runs; r++) {
            for (size_t i = 0; i < n; i++)
                s[i] = scores[r * n + idx[i]];
            rc = rl_eval_curve(&v, s, num_results, &unit, runs + r * n_pts);
        }
        if (rc != RL_OK)
            break;
        rl_eval_curve_mean(runs, n_runs, num_results, mean);
        struct rl_eval_metrics m;
        rc = metrics_gap(mean, n_pts, r_w, r_s, min_gap, 1, &m);
        if (rc == RL_OK)
            apgr[kept++] = m.apgr;
    }
    if (rc == RL_OK && kept < 2)
        rc = RL_EINVAL;
    if (rc == RL_OK)
        rc = rl_calibrate_quantile(apgr, (size_t)kept, 0.025, lo);
    if (rc == RL_OK)
        rc = rl_calibrate_quantile(apgr, (size_t)kept, 0.975, hi);
    free(qs);
    free(qw);
    free(s);
    free(apgr);
    free(idx);
    free(runs);
    free(mean);
    return rc;
}
