// `routellm eval`, the reports: the metrics as a table, JSON or CSV on stdout, and with
// --output the curves as CSV plus a gnuplot script rendered to PNG and SVG.
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "cli/cmd_eval.h"
#include "rl.h"

extern char **environ;

static const char *quality_name(const struct rl_bench *b) {
    if (strcmp(b->name, "mt-bench") == 0)
        return "MT-Bench score (GPT-4 judge, 1-10)";
    if (strcmp(b->name, "mmlu") == 0 || strcmp(b->name, "gsm8k") == 0)
        return "accuracy (%)";
    return "quality";
}

// One cell of the table: the value in fmt, or "-" when it is not defined (NaN).
static const char *cell(char *buf, size_t size, const char *fmt, double v) {
    if (isnan(v))
        return "-";
    snprintf(buf, size, fmt, v);
    return buf;
}

void cli_eval_print_table(const struct rl_bench *b, const struct eval_opts *o,
                          const struct result *res, int n_res) {
    printf("benchmark %s: %zu prompts (%zu in the source, %zu dropped by its contamination "
           "list",
           b->name, b->n, b->n_total, b->n_dropped);
    if (b->n_missing)
        printf(", %zu without a quality for both models", b->n_missing);
    printf(")\n");
    printf("quality: %s; strong %s %.3f, weak %s %.3f\n", quality_name(b), b->strong,
           rl_bench_quality(b, true), b->weak, rl_bench_quality(b, false));
    if (b->c_strong)
        printf("costs: per-prompt columns %s and %s, always-strong %.6g per prompt\n",
               b->c_strong_col, b->c_weak_col, rl_bench_cost(b, &o->prices, true));
    else
        printf("prices: strong $%g, weak $%g per million tokens\n", o->prices.strong,
               o->prices.weak);
    printf("\n%-16s %6s %7s %7s %7s %7s %8s %8s %8s %9s%s\n", "router", "APGR", "APGR10", "CPT20",
           "CPT50", "CPT80", "AUC", "save@50", "save@80", "removed",
           o->bootstrap ? "   APGR 95% CI" : "");
    for (int i = 0; i < n_res; i++) {
        const struct result *r = &res[i];
        char removed[32];
        if (r->n_removed < 0)
            snprintf(removed, sizeof removed, "-");
        else
            snprintf(removed, sizeof removed, "%ld", r->n_removed);
        char ci[48] = "";
        if (r->has_ci)
            snprintf(ci, sizeof ci, "   [%.3f, %.3f]", r->apgr_lo, r->apgr_hi);
        else if (o->bootstrap)
            snprintf(ci, sizeof ci, "   -");
        enum { W = 32 };
        char c[8][W];
        printf("%-16s %6s %7s %7s %7s %7s %8s %8s %8s %9s%s\n", r->label,
               cell(c[0], W, "%.3f", r->m.apgr), cell(c[1], W, "%.3f", r->m.apgr_avg),
               cell(c[2], W, "%.2f%%", r->m.cpt20), cell(c[3], W, "%.2f%%", r->m.cpt50),
               cell(c[4], W, "%.2f%%", r->m.cpt80), cell(c[5], W, "%.3f", r->m.auc),
               cell(c[6], W, "%.2fx", r->m.saving50), cell(c[7], W, "%.2fx", r->m.saving80),
               removed, ci);
    }
    printf("\nAPGR: area under PGR over the share of strong calls (random = 0.5); APGR10: mean "
           "PGR at the\n%d thresholds with strong calls; CPT(x): %% strong calls to reach x%% "
           "PGR; save@x: cost of\nalways-strong / cost at CPT(x); removed: prompts dropped as "
           "near-duplicates or quotes of\nthe router's training prompts (- when not checked).\n",
           o->num_results);
    if (o->bootstrap)
        printf("APGR 95%% CI: percentile bootstrap over %d resamples of the prompts.\n",
               o->bootstrap);
}

static json_t *json_num(double x) {
    return isfinite(x) ? json_real(x) : json_null();
}

int cli_eval_print_json(const struct rl_bench *b, const struct eval_opts *o,
                        const struct result *res, int n_res) {
    json_t *doc = json_object(), *routers = json_array();
    json_object_set_new(doc, "benchmark", json_string(b->name));
    json_object_set_new(doc, "strong_model", json_string(b->strong));
    json_object_set_new(doc, "weak_model", json_string(b->weak));
    json_object_set_new(doc, "n_prompts", json_integer((json_int_t)b->n));
    json_object_set_new(doc, "n_source", json_integer((json_int_t)b->n_total));
    json_object_set_new(doc, "n_contaminated", json_integer((json_int_t)b->n_dropped));
    json_object_set_new(doc, "n_missing", json_integer((json_int_t)b->n_missing));
    json_object_set_new(doc, "strong_quality", json_num(rl_bench_quality(b, true)));
    json_object_set_new(doc, "weak_quality", json_num(rl_bench_quality(b, false)));
    json_object_set_new(doc, "num_results", json_integer(o->num_results));
    if (b->c_strong)
        json_object_set_new(doc, "prices", json_null());
    else
        json_object_set_new(
            doc, "prices",
            json_pack("{s:f,s:f}", "strong", o->prices.strong, "weak", o->prices.weak));
    for (int i = 0; i < n_res; i++) {
        const struct result *r = &res[i];
        json_t *jr = json_object(), *pts = json_array();
        json_object_set_new(jr, "name", json_string(r->label));
        json_object_set_new(jr, "router", r->spec ? json_string(r->spec) : json_null());
        json_object_set_new(jr, "oracle", json_boolean(r->spec == NULL));
        json_object_set_new(jr, "iters", json_integer(r->iters));
        json_object_set_new(jr, "n_prompts", json_integer((json_int_t)r->n_prompts));
        json_object_set_new(jr, "n_train_contaminated",
                            r->n_removed < 0 ? json_null() : json_integer(r->n_removed));
        for (int k = 0; k < r->n_pts; k++) {
            const struct rl_eval_point *p = &r->pts[k];
            json_array_append_new(pts, json_pack("{s:o,s:o,s:o,s:o,s:o}", "threshold",
                                                 json_num(p->threshold), "strong_pct",
                                                 json_num(p->strong_pct), "quality",
                                                 json_num(p->quality), "pgr", json_num(p->pgr),
                                                 "cost", json_num(p->cost)));
        }
        json_object_set_new(jr, "points", pts);
        const struct rl_eval_metrics *m = &r->m;
        struct {
            const char *k;
            double v;
        } f[] = {{"weak_quality", m->r_weak},
                 {"strong_quality", m->r_strong},
                 {"apgr", m->apgr},
                 {"apgr_avg", m->apgr_avg},
                 {"auc", m->auc},
                 {"cpt20", m->cpt20},
                 {"cpt50", m->cpt50},
                 {"cpt80", m->cpt80},
                 {"cpt20_min", m->cpt20_min},
                 {"cpt50_min", m->cpt50_min},
                 {"cpt80_min", m->cpt80_min},
                 {"cost_strong", m->cost_strong},
                 {"saving50", m->saving50},
                 {"saving80", m->saving80}};
        for (size_t k = 0; k < RL_COUNTOF(f); k++)
            json_object_set_new(jr, f[k].k, json_num(f[k].v));
        json_object_set_new(jr, "apgr_ci",
                            r->has_ci
                                ? json_pack("[o,o]", json_num(r->apgr_lo), json_num(r->apgr_hi))
                                : json_null());
        json_array_append_new(routers, jr);
    }
    json_object_set_new(doc, "routers", routers);
    char *text = json_dumps(doc, JSON_INDENT(2) | JSON_REAL_PRECISION(12));
    json_decref(doc);
    if (!text)
        return cli_fail("out of memory");
    puts(text);
    free(text);
    return 0;
}

// ",value", with an empty field for a value that is not defined (NaN).
static void csv_number(FILE *f, double v) {
    fputc(',', f);
    if (!isnan(v))
        fprintf(f, "%.10g", v);
}

void cli_eval_csv_field(FILE *f, const char *s) {
    if (!strpbrk(s, ",\"\n\r")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

void cli_eval_print_csv(const struct result *res, int n_res) {
    printf("router,n_prompts,n_train_contaminated,weak_quality,strong_quality,apgr,apgr_avg,auc,"
           "cpt20,cpt50,cpt80,cpt20_min,cpt50_min,cpt80_min,saving50,saving80,apgr_lo,apgr_hi\n");
    for (int i = 0; i < n_res; i++) {
        const struct result *r = &res[i];
        const struct rl_eval_metrics *m = &r->m;
        cli_eval_csv_field(stdout, r->label);
        printf(",%zu,", r->n_prompts);
        if (r->n_removed >= 0)
            printf("%ld", r->n_removed);
        const double v[] = {m->r_weak,    m->r_strong, m->apgr,    m->apgr_avg,  m->auc,
                            m->cpt20,     m->cpt50,    m->cpt80,   m->cpt20_min, m->cpt50_min,
                            m->cpt80_min, m->saving50, m->saving80};
        for (size_t k = 0; k < RL_COUNTOF(v); k++)
            csv_number(stdout, v[k]);
        putchar(',');
        if (r->has_ci)
            printf("%.10g,%.10g\n", r->apgr_lo, r->apgr_hi);
        else
            printf(",\n");
    }
}

// A gnuplot string literal: single quotes, with '' for a quote inside.
static void gp_string(FILE *f, const char *s) {
    fputc('\'', f);
    for (; *s; s++) {
        if (*s == '\'')
            fputc('\'', f);
        if (*s != '\n' && *s != '\r')
            fputc(*s, f);
    }
    fputc('\'', f);
}

static int run_gnuplot(const char *script) {
    char *argv[] = {"gnuplot", (char *)script, NULL};
    pid_t pid;
    int err = posix_spawnp(&pid, "gnuplot", NULL, NULL, argv, environ);
    if (err != 0)
        return cli_fail("cannot run gnuplot (%s): install gnuplot-nox (tools/install_deps.sh) "
                        "to get the plots; the curve data is in the CSV",
                        strerror(err));
    int status;
    if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return cli_fail("gnuplot failed on %s", script);
    return 0;
}

static int out_path(char *out, size_t size, const char *dir, const char *base, const char *ext) {
    int n = snprintf(out, size, "%s/%s%s", dir, base, ext);
    return n < 0 || (size_t)n >= size;
}

int cli_eval_plot_begin(struct cli_plot *p, const char *stem, const char *title, const char *xlabel,
                        const char *ylabel) {
    memset(p, 0, sizeof *p);
    if ((size_t)snprintf(p->gp, sizeof p->gp, "%s.gp", stem) >= sizeof p->gp ||
        (size_t)snprintf(p->png, sizeof p->png, "%s.png", stem) >= sizeof p->png ||
        (size_t)snprintf(p->svg, sizeof p->svg, "%s.svg", stem) >= sizeof p->svg)
        return cli_fail("%s: output path too long", stem);
    p->f = fopen(p->gp, "w");
    if (!p->f)
        return cli_fail("%s: %s", p->gp, strerror(errno));
    fprintf(p->f, "set title ");
    gp_string(p->f, title);
    fprintf(p->f, " noenhanced\nset xlabel ");
    gp_string(p->f, xlabel);
    fprintf(p->f, "\nset ylabel ");
    gp_string(p->f, ylabel);
    fprintf(p->f, "\nset offsets graph 0.02, graph 0.02, graph 0.05, graph 0.05\nset grid\n"
                  "set key bottom right opaque box noenhanced\n");
    return 0;
}

void cli_eval_plot_series(struct cli_plot *p, const char *title, const char *style) {
    if (p->n_series == CLI_PLOT_MAX_SERIES)
        return;
    if (p->n_series)
        fprintf(p->f, "EOD\n");
    snprintf(p->title[p->n_series], sizeof p->title[0], "%s", title);
    p->style[p->n_series] = style;
    fprintf(p->f, "$d%d << EOD\n", p->n_series++);
}

void cli_eval_plot_xy(struct cli_plot *p, double x, double y) {
    fprintf(p->f, "%.10g %.10g\n", x, y);
}

int cli_eval_plot_end(struct cli_plot *p, const char *data) {
    if (p->n_series)
        fprintf(p->f, "EOD\n");
    fprintf(p->f, "plot ");
    for (int i = 0; i < p->n_series; i++) {
        fprintf(p->f, "%s$d%d using 1:2 %s title ", i ? ", \\\n     " : "", i, p->style[i]);
        gp_string(p->f, p->title[i]);
    }
    fprintf(p->f, "\n");
    if (fclose(p->f) != 0)
        return cli_fail("%s: write failed", p->gp);
    char drv[4200];
    snprintf(drv, sizeof drv, "%s.render", p->gp);
    FILE *f = fopen(drv, "w");
    if (!f)
        return cli_fail("%s: %s", drv, strerror(errno));
    fprintf(f, "set terminal pngcairo size 1000,620\nset output ");
    gp_string(f, p->png);
    fprintf(f, "\nload ");
    gp_string(f, p->gp);
    fprintf(f, "\nset terminal svg size 1000,620 dynamic\nset output ");
    gp_string(f, p->svg);
    fprintf(f, "\nreplot\nunset output\n");
    fclose(f);
    int rc = run_gnuplot(drv);
    remove(drv);
    if (rc == 0)
        fprintf(stderr, "routellm: wrote %s, %s, %s and %s\n", data, p->png, p->svg, p->gp);
    return rc;
}

int cli_eval_write_output(const struct rl_bench *b, const struct eval_opts *o,
                          const struct result *res, int n_res) {
    char base[256], csv[4096], gp[4096], drv[4096], png[4096], svg[4096];
    cli_eval_bench_base(b->name, base, sizeof base);
    if (rl__mkdirs(o->output) != RL_OK)
        return cli_fail("%s: cannot create the output folder: %s", o->output, strerror(errno));
    if (out_path(csv, sizeof csv, o->output, base, ".csv") ||
        out_path(gp, sizeof gp, o->output, base, ".gp") ||
        out_path(drv, sizeof drv, o->output, base, ".render.gp") ||
        out_path(png, sizeof png, o->output, base, ".png") ||
        out_path(svg, sizeof svg, o->output, base, ".svg"))
        return cli_fail("%s: output path too long", o->output);

    FILE *f = fopen(csv, "w");
    if (!f)
        return cli_fail("%s: %s", csv, strerror(errno));
    fprintf(f, "router,edge,threshold,strong_pct,quality,pgr,cost\n");
    for (int i = 0; i < n_res; i++)
        for (int k = 0; k < res[i].n_pts; k++) {
            const struct rl_eval_point *p = &res[i].pts[k];
            cli_eval_csv_field(f, res[i].label);
            fprintf(f, ",%d,%.10g,%.10g,%.10g", p->edge, p->threshold, p->strong_pct, p->quality);
            csv_number(f, p->pgr);
            fprintf(f, ",%.10g\n", p->cost);
        }
    if (fclose(f) != 0)
        return cli_fail("%s: write failed", csv);

    f = fopen(gp, "w");
    if (!f)
        return cli_fail("%s: %s", gp, strerror(errno));
    fprintf(f, "# Call-performance curves of 'routellm eval --benchmark %s'; data in %s.csv.\n",
            b->name, base);
    for (int i = 0; i < n_res; i++) {
        fprintf(f, "$d%d << EOD\n", i);
        for (int k = 0; k < res[i].n_pts; k++)
            fprintf(f, "%.10g %.10g\n", res[i].pts[k].strong_pct, res[i].pts[k].quality);
        fprintf(f, "EOD\n");
    }
    fprintf(f, "set title ");
    char title[512];
    snprintf(title, sizeof title, "Quality against strong-model calls (%s, %zu prompts)", b->name,
             b->n);
    gp_string(f, title);
    fprintf(f, " noenhanced\nset xlabel 'Strong model calls (%%)'\nset ylabel ");
    gp_string(f, quality_name(b));
    fprintf(f, "\nset xrange [0:100]\nset offsets 0, 0, graph 0.05, graph 0.05\nset grid\nset key "
               "bottom right opaque box noenhanced\n");
    fprintf(f, "plot ");
    for (int i = 0; i < n_res; i++) {
        // The oracle is a bound, not a router: drawn apart, in black dash-dots.
        fprintf(f, "$d%d using 1:2 with linespoints pt 7 ps 0.6%s title ", i,
                res[i].spec ? "" : " dt 4 lc rgb 'black'");
        gp_string(f, res[i].label);
        fprintf(f, ", \\\n     ");
    }
    fprintf(f, "%.10g with lines dt 2 lc rgb 'red' title ", rl_bench_quality(b, true));
    gp_string(f, b->strong);
    fprintf(f, ", \\\n     %.10g with lines dt 2 lc rgb 'grey40' title ",
            rl_bench_quality(b, false));
    gp_string(f, b->weak);
    fprintf(f, "\n");
    fclose(f);

    // The plot script above is terminal-neutral; the driver renders it twice.
    f = fopen(drv, "w");
    if (!f)
        return cli_fail("%s: %s", drv, strerror(errno));
    fprintf(f, "set terminal pngcairo size 1000,620\nset output ");
    gp_string(f, png);
    fprintf(f, "\nload ");
    gp_string(f, gp);
    fprintf(f, "\nset terminal svg size 1000,620 dynamic\nset output ");
    gp_string(f, svg);
    fprintf(f, "\nreplot\nunset output\n");
    fclose(f);
    int rc = run_gnuplot(drv);
    remove(drv);
    if (rc == 0)
        fprintf(stderr, "routellm: wrote %s, %s, %s and %s\n", csv, png, svg, gp);
    return rc;
}
