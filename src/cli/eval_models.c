// `routellm eval --models A,B,C --benchmark table:FILE`: routing among many models (rl/policy.h)
// evaluated on a table with a quality column per model. Each router (a kind that ranks models)
// gives every prompt a predicted quality per model; each policy (cheapest over its tolerance,
// utility over λ) is swept over its parameter into a cost–quality curve, summarised by AIQ
// (rl_multi_aiq) over the single models' cost range and by the cost at which it reaches the
// best single model's quality. The baselines are scored the same way: random (random predicted
// qualities, averaged over seeds) and length (longer prompts predict more for dearer models);
// `mix` is RouterBench's zero router, the single models mixed at random, whose curve is their
// hull: what any deployment gets without a router. Every single model and the oracle are
// points of their own.
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/cmd_eval.h"
#include "core/core.h"
#include "rl.h"

#define N_PARAMS    101 // points per policy curve
#define RANDOM_SEED 0x5eedULL
#define POLICY_MIX  (-1) // the curve of the single models mixed at random

// One curve: a router (or baseline) under one policy.
struct mcurve {
    const char *label;
    int policy; // enum rl_policy_kind, or POLICY_MIX
    struct rl_multi_point pts[N_PARAMS > RL_MULTI_MAX_MODELS ? N_PARAMS : RL_MULTI_MAX_MODELS];
    struct rl_multi_point hull[N_PARAMS > RL_MULTI_MAX_MODELS ? N_PARAMS : RL_MULTI_MAX_MODELS];
    size_t n_pts, n_hull;
    double aiq, cost_at_best; // NaN when the best single model's quality is never reached
};

struct mrun {
    const struct eval_opts *o;
    struct rl_multi_bench *b;
    double *expect; // (n × m) expected cost of each prompt on each model, for the policies
    double *cost;   // (n × m) cost charged: the table's, else the expected
    struct rl_multi_point *single; // (m)
    struct rl_multi_point oracle;
    int best;          // the single model of the highest quality (the cheapest on a tie)
    double c_lo, c_hi; // the single models' cost range
    struct mcurve *curves;
    size_t n_curves;
};

// The parameters of a policy's sweep: tolerances 0 to 1 in steps of 0.01; λ 0, then 100 values
// from 10^-2 to 10^4 over the single models' cost range, geometric, which spans every choice
// from the best quality to the cheapest model.
static void sweep(const struct mrun *r, int policy, double *params) {
    double scale = r->c_hi - r->c_lo > 0 ? r->c_hi - r->c_lo : (r->c_hi > 0 ? r->c_hi : 1);
    for (int k = 0; k < N_PARAMS; k++)
        params[k] = policy == RL_POLICY_CHEAPEST
                        ? (double)k / (N_PARAMS - 1)
                        : (k == 0 ? 0 : pow(10, -2 + 6.0 * (k - 1) / (N_PARAMS - 2)) / scale);
}

static int finish_curve(struct mrun *r, struct mcurve *c) {
    memcpy(c->hull, c->pts, c->n_pts * sizeof *c->pts);
    c->n_hull = rl_multi_hull(c->hull, c->n_pts);
    c->aiq = rl_multi_aiq(c->hull, c->n_hull, r->c_lo, r->c_hi);
    c->cost_at_best = rl_multi_cost_for(c->hull, c->n_hull, r->single[r->best].quality);
    return 0;
}

// Curves of both policies from predicted qualities pred (n × m), averaged over n_runs arrays.
static int add_curves(struct mrun *r, const char *label, const double *pred, int n_runs) {
    size_t nm = r->b->n * r->b->m;
    for (int policy = RL_POLICY_CHEAPEST; policy <= RL_POLICY_UTILITY; policy++) {
        struct mcurve *c = &r->curves[r->n_curves++];
        c->label = label;
        c->policy = policy;
        c->n_pts = N_PARAMS;
        double params[N_PARAMS];
        sweep(r, policy, params);
        memset(c->pts, 0, sizeof c->pts);
        for (int run = 0; run < n_runs; run++) {
            struct rl_multi_point pts[N_PARAMS];
            if (rl_multi_curve(r->b, pred + (size_t)run * nm, r->expect, r->cost, policy, params,
                               N_PARAMS, pts) != RL_OK)
                return cli_fail("eval: %s: a policy failed on the predicted qualities", label);
            for (int k = 0; k < N_PARAMS; k++) {
                c->pts[k].param = params[k];
                c->pts[k].cost += pts[k].cost / n_runs;
                c->pts[k].quality += pts[k].quality / n_runs;
            }
        }
        finish_curve(r, c);
    }
    return 0;
}

// The zero router: its points are the single models.
static void baseline_mix(struct mrun *r) {
    struct mcurve *c = &r->curves[r->n_curves++];
    c->label = "mix";
    c->policy = POLICY_MIX;
    c->n_pts = r->b->m;
    memcpy(c->pts, r->single, r->b->m * sizeof *r->single);
    finish_curve(r, c);
}

// Random predicted qualities, uniform in [0, 1), a fresh draw per seed.
static int baseline_random(struct mrun *r) {
    size_t nm = r->b->n * r->b->m, runs = (size_t)r->o->random_iters;
    double *pred = malloc(runs * nm * sizeof *pred);
    if (!pred)
        return cli_fail("out of memory");
    uint64_t state = RANDOM_SEED;
    for (size_t i = 0; i < runs * nm; i++)
        pred[i] = (double)(rl__splitmix64(&state) >> 11) * 0x1.0p-53;
    int rc = add_curves(r, "random", pred, (int)runs);
    free(pred);
    return rc;
}

// Predicted quality s(prompt) × rank(model): s is the prompt's length quantile in [0, 1], rank
// the model's place by mean expected cost in [0, 1] (0 the cheapest): a long prompt predicts the
// most from the dearest model, a short one nothing from any.
static int baseline_length(struct mrun *r) {
    size_t n = r->b->n, m = r->b->m;
    double *pred = malloc(n * m * sizeof *pred), *len = malloc(n * sizeof *len);
    double *mean = calloc(m, sizeof *mean);
    int rc = pred && len && mean ? 0 : cli_fail("out of memory");
    for (size_t i = 0; rc == 0 && i < n; i++) {
        len[i] = (double)strlen(r->b->prompts[i]);
        for (size_t k = 0; k < m; k++)
            mean[k] += r->expect[i * m + k] / (double)n;
    }
    for (size_t i = 0; rc == 0 && i < n; i++) {
        size_t shorter = 0;
        for (size_t j = 0; j < n; j++)
            shorter += len[j] < len[i];
        double s = n > 1 ? (double)shorter / (double)(n - 1) : 0;
        for (size_t k = 0; k < m; k++) {
            size_t cheaper = 0;
            for (size_t j = 0; j < m; j++)
                cheaper += mean[j] < mean[k];
            pred[i * m + k] = s * (double)cheaper / (double)(m - 1);
        }
    }
    if (rc == 0)
        rc = add_curves(r, "length", pred, 1);
    free(pred);
    free(len);
    free(mean);
    return rc;
}

// A router's predicted qualities: for each model its pair score against the router's default
// weak model (0.5 for that model itself), through the score cache.
static int router_curves(struct mrun *r, const struct router_spec *sp, struct cli_scorer *s) {
    struct rl_router *router;
    struct rl_router_pair def;
    if (cli_router_load(sp->spec, NULL, NULL, &router, &def))
        return 1;
    size_t n = r->b->n, m = r->b->m;
    double *pred = malloc(n * m * sizeof *pred), *col = malloc(n * sizeof *col);
    int rc = pred && col ? 0 : cli_fail("out of memory");
    if (rc == 0 && !rl_router_kind_ranks_models(rl_router_kind(router)))
        rc = cli_fail("eval: --models: %s is a %s router, which scores one pair; routing among "
                      "models needs mf, sw_ranking or irt",
                      sp->label, rl_router_name(router));
    for (size_t k = 0; rc == 0 && k < m; k++) {
        char err[RL_ERRBUF_SIZE];
        int idx = rl_router_model_index(router, r->b->models[k], err);
        if (idx < 0) {
            rc = cli_fail("eval: --models: %s: %s", sp->label, err);
            break;
        }
        struct rl_router_pair pair = {idx, def.weak};
        if (idx == def.weak)
            for (size_t i = 0; i < n; i++)
                col[i] = 0.5;
        else
            rc = cli_scorer_score(s, router, sp->spec, sp->label, &pair,
                                  (const char *const *)r->b->prompts, n, "table", col);
        for (size_t i = 0; rc == 0 && i < n; i++)
            pred[i * m + k] = col[i];
    }
    if (rc == 0)
        rc = add_curves(r, sp->label, pred, 1);
    free(pred);
    free(col);
    rl_router_free(router);
    return rc;
}

// The expected cost of each prompt on each model: its --price and the prompt's estimated tokens,
// or, without prices, the model's mean cost in the table. The charged cost: the table's when it
// has cost columns, else the expected.
static int costs(struct mrun *r, const struct cli_list *prices) {
    size_t n = r->b->n, m = r->b->m;
    double price[RL_MULTI_MAX_MODELS][2];
    bool seen[RL_MULTI_MAX_MODELS] = {false};
    for (int j = 0; j < prices->n; j++) {
        char name[256];
        double in, out;
        if (cli_price_parse("eval", prices->value[j], name, sizeof name, &in, &out))
            return 1;
        size_t k = 0;
        while (k < m && strcmp(r->b->models[k], name) != 0)
            k++;
        if (k == m)
            return cli_fail("eval: --price names %s, which is not among --models", name);
        price[k][0] = in;
        price[k][1] = out;
        seen[k] = true;
    }
    for (size_t k = 0; prices->n && k < m; k++)
        if (!seen[k])
            return cli_fail("eval: no --price for %s (give one for every model, or none and a "
                            "table with <model>|cost columns)",
                            r->b->models[k]);
    if (!prices->n && !r->b->cost)
        return cli_fail("eval: %s has no <model>|cost columns: give --price MODEL=IN,OUT for "
                        "every model",
                        r->b->name);
    r->expect = malloc(n * m * sizeof *r->expect);
    if (!r->expect)
        return cli_fail("out of memory");
    for (size_t k = 0; k < m; k++) {
        double mean = 0;
        for (size_t i = 0; !prices->n && i < n; i++)
            mean += r->b->cost[i * m + k] / (double)n;
        for (size_t i = 0; i < n; i++) {
            double tokens = ceil((double)strlen(r->b->prompts[i]) / RL_POLICY_BYTES_PER_TOKEN);
            r->expect[i * m + k] = prices->n ? rl_policy_request_cost(price[k][0], price[k][1],
                                                                      tokens, r->o->output_tokens)
                                             : mean;
        }
    }
    r->cost = r->b->cost ? r->b->cost : r->expect;
    return 0;
}

static int singles(struct mrun *r) {
    size_t n = r->b->n, m = r->b->m;
    r->single = calloc(m, sizeof *r->single);
    if (!r->single)
        return cli_fail("out of memory");
    for (size_t k = 0; k < m; k++) {
        for (size_t i = 0; i < n; i++) {
            r->single[k].cost += r->cost[i * m + k] / (double)n;
            r->single[k].quality += r->b->quality[i * m + k] / (double)n;
        }
        const struct rl_multi_point *a = &r->single[k], *best = &r->single[r->best];
        if (a->quality > best->quality || (a->quality == best->quality && a->cost < best->cost))
            r->best = (int)k;
        r->c_lo = k == 0 || a->cost < r->c_lo ? a->cost : r->c_lo;
        r->c_hi = k == 0 || a->cost > r->c_hi ? a->cost : r->c_hi;
    }
    rl_multi_oracle(r->b, r->cost, &r->oracle);
    return 0;
}

// ----------------------------------------------------------------------------
// Reports

static const char *policy_name(int policy) {
    return policy == POLICY_MIX ? "-" : rl_policy_kind_name((enum rl_policy_kind)policy);
}

// 1 - cost / the best single model's cost, in percent: how much cheaper the curve reaches its
// quality.
static double saving_pct(const struct mrun *r, const struct mcurve *c) {
    double best = r->single[r->best].cost;
    return best > 0 ? 100 * (1 - c->cost_at_best / best) : NAN;
}

static void print_table(const struct mrun *r) {
    const struct rl_multi_bench *b = r->b;
    printf("%s: %zu prompts, %zu models (%zu rows left out for an empty cell)\n", b->name, b->n,
           b->m, b->n_missing);
    printf("\n%-28s %12s %10s\n", "model", "cost/prompt", "quality");
    for (size_t k = 0; k < b->m; k++)
        printf("%-28s %12.6g %10.4f%s\n", b->models[k], r->single[k].cost, r->single[k].quality,
               (int)k == r->best ? "  <- best" : "");
    printf("%-28s %12.6g %10.4f\n", "oracle", r->oracle.cost, r->oracle.quality);
    printf("\n%-20s %-9s %8s %14s %10s\n", "router", "policy", "AIQ", "cost at best", "saving");
    for (size_t i = 0; i < r->n_curves; i++) {
        const struct mcurve *c = &r->curves[i];
        char cost[32] = "never", save[32] = "-";
        if (!isnan(c->cost_at_best)) {
            snprintf(cost, sizeof cost, "%.6g", c->cost_at_best);
            snprintf(save, sizeof save, "%.1f%%", saving_pct(r, c));
        }
        printf("%-20s %-9s %8.4f %14s %10s\n", c->label, policy_name(c->policy), c->aiq, cost,
               save);
    }
    printf("\nAIQ: mean quality of the curve's hull over the single models' cost range "
           "[%.6g, %.6g]; cost at best: the least mean cost reaching %s's quality (%.4f); "
           "saving: against %s alone.\n",
           r->c_lo, r->c_hi, b->models[r->best], r->single[r->best].quality, b->models[r->best]);
}

static json_t *point_json(const struct rl_multi_point *p, bool param) {
    return param ? json_pack("{s:f,s:f,s:f}", "param", p->param, "cost", p->cost, "quality",
                             p->quality)
                 : json_pack("{s:f,s:f}", "cost", p->cost, "quality", p->quality);
}

static json_t *num_or_null(double v) {
    return isnan(v) ? json_null() : json_real(v);
}

static int print_json(const struct mrun *r) {
    const struct rl_multi_bench *b = r->b;
    json_t *models = json_array(), *curves = json_array();
    for (size_t k = 0; k < b->m; k++) {
        json_t *p = point_json(&r->single[k], false);
        json_object_set_new(p, "model", json_string(b->models[k]));
        json_array_append_new(models, p);
    }
    for (size_t i = 0; i < r->n_curves; i++) {
        const struct mcurve *c = &r->curves[i];
        json_t *pts = json_array(), *hull = json_array();
        for (size_t k = 0; k < c->n_pts; k++)
            json_array_append_new(pts, point_json(&c->pts[k], c->policy != POLICY_MIX));
        for (size_t k = 0; k < c->n_hull; k++)
            json_array_append_new(hull, point_json(&c->hull[k], c->policy != POLICY_MIX));
        json_array_append_new(curves, json_pack("{s:s,s:s,s:f,s:o,s:o,s:o,s:o}", "router", c->label,
                                                "policy", policy_name(c->policy), "aiq", c->aiq,
                                                "cost_at_best", num_or_null(c->cost_at_best),
                                                "saving_pct", num_or_null(saving_pct(r, c)),
                                                "points", pts, "hull", hull));
    }
    json_t *j = json_pack("{s:s,s:I,s:I,s:I,s:o,s:o,s:s,s:f,s:f,s:o}", "benchmark", b->name,
                          "n_prompts", (json_int_t)b->n, "n_missing", (json_int_t)b->n_missing,
                          "n_models", (json_int_t)b->m, "models", models, "oracle",
                          point_json(&r->oracle, false), "best_single", b->models[r->best],
                          "cost_lo", r->c_lo, "cost_hi", r->c_hi, "curves", curves);
    return cli_print_json(j, JSON_INDENT(2) | JSON_REAL_PRECISION(12));
}

// --output: DIR/<table>-models.csv with every curve's points, and its plot.
static int write_output(const struct mrun *r) {
    char base[256], csv[4096], gp[4096];
    cli_eval_bench_base(r->b->name, base, sizeof base);
    if (rl__mkdirs(r->o->output) != RL_OK)
        return cli_fail("%s: cannot create the output folder: %s", r->o->output, strerror(errno));
    if (snprintf(csv, sizeof csv, "%s/%s-models.csv", r->o->output, base) >= (int)sizeof csv ||
        snprintf(gp, sizeof gp, "%s/%s-models", r->o->output, base) >= (int)sizeof gp)
        return cli_fail("%s: output path too long", r->o->output);
    FILE *f = fopen(csv, "w");
    if (!f)
        return cli_fail("%s: %s", csv, strerror(errno));
    fprintf(f, "router,policy,param,cost,quality,on_hull\n");
    for (size_t i = 0; i < r->n_curves; i++) {
        const struct mcurve *c = &r->curves[i];
        for (size_t k = 0; c->policy != POLICY_MIX && k < c->n_pts; k++) {
            bool on = false;
            for (size_t h = 0; h < c->n_hull && !on; h++)
                on = c->hull[h].param == c->pts[k].param && c->hull[h].cost == c->pts[k].cost;
            cli_eval_csv_field(f, c->label);
            fprintf(f, ",%s,%.10g,%.10g,%.10g,%d\n", policy_name(c->policy), c->pts[k].param,
                    c->pts[k].cost, c->pts[k].quality, on);
        }
    }
    for (size_t k = 0; k < r->b->m; k++) {
        cli_eval_csv_field(f, r->b->models[k]);
        fprintf(f, ",single,,%.10g,%.10g,1\n", r->single[k].cost, r->single[k].quality);
    }
    fprintf(f, "oracle,oracle,,%.10g,%.10g,1\n", r->oracle.cost, r->oracle.quality);
    if (fclose(f) != 0)
        return cli_fail("%s: write failed", csv);
    // The plot: each curve's hull as a line, the single models and the oracle as points.
    struct cli_plot p;
    if (cli_eval_plot_begin(&p, gp, "Quality against mean cost per prompt", "Mean cost per prompt",
                            "Mean quality"))
        return 1;
    for (size_t i = 0; i < r->n_curves; i++) {
        const struct mcurve *c = &r->curves[i];
        char title[160];
        if (c->policy == POLICY_MIX)
            snprintf(title, sizeof title, "single models mixed (no router)");
        else
            snprintf(title, sizeof title, "%s (%s)", c->label, policy_name(c->policy));
        cli_eval_plot_series(&p, title,
                             c->policy == POLICY_MIX ? "with lines dt 2 lw 2 lc rgb 'black'"
                                                     : "with linespoints pt 7 ps 0.5");
        for (size_t h = 0; h < c->n_hull; h++)
            cli_eval_plot_xy(&p, c->hull[h].cost, c->hull[h].quality);
    }
    for (size_t k = 0; k < r->b->m; k++) {
        cli_eval_plot_series(&p, r->b->models[k], "with points pt 5 ps 1.2");
        cli_eval_plot_xy(&p, r->single[k].cost, r->single[k].quality);
    }
    cli_eval_plot_series(&p, "oracle", "with points pt 3 ps 1.5 lc rgb 'black'");
    cli_eval_plot_xy(&p, r->oracle.cost, r->oracle.quality);
    return cli_eval_plot_end(&p, csv);
}

// ----------------------------------------------------------------------------
// The command

int cli_eval_models(const struct eval_opts *o) {
    char err[RL_ERRBUF_SIZE];
    struct mrun r = {.o = o};
    r.b = rl_multi_bench_load_table(o->benchmark + 6, o->table.prompt,
                                    (const char *const *)o->models, (size_t)o->n_models, err);
    if (!r.b)
        return cli_fail("%s", err);
    int rc = costs(&r, &o->prices_of);
    if (rc == 0)
        rc = singles(&r);
    // Two curves per router and per baseline, and the mix.
    r.curves = rc == 0 ? calloc(2 * ((size_t)o->n_routers + 2) + 1, sizeof *r.curves) : NULL;
    if (rc == 0 && !r.curves)
        rc = cli_fail("out of memory");
    struct cli_scorer s;
    cli_scorer_init(&s, o->model_dir, o->no_cache);
    s.precision = o->precision;
    for (int i = 0; rc == 0 && i < o->n_routers; i++)
        if (strcmp(o->routers[i].spec, "random") != 0 && strcmp(o->routers[i].spec, "length") != 0)
            rc = router_curves(&r, &o->routers[i], &s);
    if (rc == 0) {
        baseline_mix(&r);
        rc = baseline_random(&r);
    }
    if (rc == 0)
        rc = baseline_length(&r);
    if (rc == 0) {
        if (o->format == EVAL_FORMAT_JSON)
            rc = print_json(&r);
        else
            print_table(&r);
        fflush(stdout);
    }
    if (rc == 0 && o->output)
        rc = write_output(&r);
    cli_scorer_free(&s);
    free(r.expect);
    free(r.single);
    free(r.curves);
    rl_multi_bench_free(r.b);
    return rc;
}
