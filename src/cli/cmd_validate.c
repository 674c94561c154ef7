// `routellm validate --suite FILE`: how well routers generalise. Each source of the suite is
// held out in turn; every router candidate is trained on the other sources and scored on the
// held-out source's tables, for several pairs of their models, with RouteLLM's protocol; the
// baselines (random, length) are scored beside. The report gives each router's mean APGR over
// all evaluations with a bootstrap interval, and per source (docs/VALIDATION.md).
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/validate.h"

struct validate_opts {
    const char *suite, *routers, *sources, *model_dir, *ship, *out, *strong, *weak;
    int format; // 0 table, 1 json
    int bootstrap, threads;
    int precision; // an enum rl_precision
    bool no_cache, verbose, no_aliases, own_exclude_only;
    struct cli_list data, exclude;
};

static int parse_args(int argc, char **argv, struct validate_opts *o) {
    static const char *const formats[] = {"table", "json", NULL};
    o->bootstrap = -1;
    o->threads = 2;
    const struct cli_opt opts[] = {
        CLI_STR("--suite", &o->suite, "FILE", 0,
                "the suite (default <home>/data/suite/default.yaml)"),
        CLI_STR("--routers", &o->routers, "LIST", 0,
                "comma-separated names of the suite's routers and baselines to run (default "
                "all)"),
        CLI_STR("--sources", &o->sources, "LIST", 0,
                "comma-separated patterns ('*' matches any run) of the sources to hold out "
                "(default all)"),
        CLI_INT("--bootstrap", &o->bootstrap, 0, 100000, "N",
                "resamples of the prompts for the intervals (default: the suite's)"),
        CLI_CHOICE("--format", &o->format, formats, "F", "table (default) or json on stdout"),
        CLI_INT("--threads", &o->threads, 1, 2, "N", "training threads (default 2)"),
        CLI_FLAG("--verbose", &o->verbose, "report each training set's size"),
        CLI_SECTION("shipping a router (make routers):"),
        CLI_STR("--ship", &o->ship, "NAME", 0,
                "train the suite's candidate NAME on every source, nothing held out, into --out "
                "(with its training-prompt list beside it) instead of validating"),
        CLI_STR("--out", &o->out, "FILE", 0, "the router file --ship writes"),
        CLI_STR("--strong", &o->strong, "M", 0, "--ship: the default strong model"),
        CLI_STR("--weak", &o->weak, "M", 0, "--ship: the default weak model"),
        CLI_LIST("--data", &o->data, "SPEC", 0,
                 "--ship: more training data, beside the suite's (a table: spec, read as the "
                 "candidate's kind reads tables)"),
        CLI_LIST("--exclude", &o->exclude, "FILE", 0,
                 "--ship: more texts never to train on, beside the suite's exclude list"),
        CLI_FLAG("--no-aliases", &o->no_aliases,
                 "--ship: leave out the candidate's aliases (when --data has the models they "
                 "stand in for)"),
        CLI_FLAG("--own-exclude-only", &o->own_exclude_only,
                 "--ship: decontaminate against --exclude alone, not the suite's exclude list "
                 "(in-domain K-fold training on a benchmark's other folds)"),
        CLI_MODEL_DIR(&o->model_dir),
        CLI_PRECISION(&o->precision),
        CLI_NO_CACHE(&o->no_cache),
    };
    const struct cli_spec spec = {
        .name = "validate",
        .about = "Measure how routers generalise: hold out each source of a suite in turn, "
                 "train every router candidate on the others, and score the held-out tables for "
                 "several model pairs with RouteLLM's protocol, beside the random and length "
                 "baselines. Trained routers and scores are cached, so a rerun only computes "
                 "what changed.",
        CLI_OPTS(opts),
    };
    int rc = cli_parse(&spec, argc, argv, NULL);
    if (rc == 0 && !o->ship != !o->out)
        return cli_usage(&spec, "--ship and --out go together");
    if (rc == 0 && !o->ship &&
        (o->data.n || o->exclude.n || o->no_aliases || o->own_exclude_only || o->strong || o->weak))
        return cli_usage(&spec, "--data, --exclude, --no-aliases, --own-exclude-only, --strong "
                                "and --weak go with --ship");
    return rc;
}

// Whether name is in the comma-separated list (each entry a pattern when patterns); a NULL list
// holds every name.
static bool listed(const char *list, const char *name, bool patterns) {
    if (!list)
        return true;
    for (const char *p = list; *p;) {
        size_t n = strcspn(p, ",");
        char buf[256];
        snprintf(buf, sizeof buf, "%.*s", (int)n, p);
        const char *tok = cli_trim(buf);
        if (*tok && (patterns ? suite_match(tok, name) : strcmp(tok, name) == 0))
            return true;
        p += n + (p[n] == ',');
    }
    return false;
}

// ----------------------------------------------------------------------------
// Set-up

static int add_router(struct validate *v, const char *name, const struct suite_router *cfg) {
    struct vrouter *r = &v->routers[v->n_routers++];
    r->name = name;
    r->cfg = cfg;
    r->runs = !cfg && strcmp(name, "random") == 0 ? 10 : 1;
    r->apgr = calloc(v->n_evals ? v->n_evals : 1, sizeof *r->apgr);
    r->cpt50 = calloc(v->n_evals ? v->n_evals : 1, sizeof *r->cpt50);
    r->scores = calloc(v->n_evals ? v->n_evals : 1, sizeof *r->scores);
    r->boot = calloc(v->s->bootstrap ? (size_t)v->s->bootstrap : 1, sizeof *r->boot);
    return r->apgr && r->cpt50 && r->scores && r->boot ? 0 : cli_fail("out of memory");
}

static int setup(struct validate *v, const struct validate_opts *o) {
    const struct suite *s = v->s;
    v->run_source = calloc(s->n_sources, sizeof *v->run_source);
    v->routers = calloc(s->n_routers + s->n_baselines + 1, sizeof *v->routers);
    if (!v->run_source || !v->routers)
        return cli_fail("out of memory");
    size_t n_run = 0;
    for (size_t i = 0; i < s->n_sources; i++)
        n_run += v->run_source[i] = listed(o->sources, s->sources[i].name, true);
    if (n_run == 0) {
        cli_fail("validate: --sources: no source of %s matches '%s'", s->path, o->sources);
        return CLI_EXIT_USAGE;
    }
    if (validate_tables(v))
        return 1;
    for (size_t i = 0; i < s->n_baselines; i++) {
        const struct rl_router_kind *k = rl_router_kind_find(s->baselines[i], NULL);
        if (!k || !rl_router_kind_builtin(k))
            return cli_fail("%s: baseline '%s' is not a built-in router", s->path, s->baselines[i]);
        if (listed(o->routers, s->baselines[i], false) && add_router(v, s->baselines[i], NULL))
            return 1;
    }
    for (size_t i = 0; i < s->n_routers; i++)
        if (listed(o->routers, s->routers[i].name, false) &&
            add_router(v, s->routers[i].name, &s->routers[i]))
            return 1;
    if (v->n_routers == 0) {
        cli_fail("validate: --routers: no router of %s is named in '%s'", s->path, o->routers);
        return CLI_EXIT_USAGE;
    }
    return 0;
}

static void teardown(struct validate *v) {
    for (size_t i = 0; i < v->n_routers; i++) {
        struct vrouter *r = &v->routers[i];
        for (size_t e = 0; e < v->n_evals; e++)
            free(r->scores[e]);
        free(r->scores);
        free(r->apgr);
        free(r->cpt50);
        free(r->boot);
    }
    for (size_t e = 0; e < v->n_evals; e++)
        free(v->evals[e].idx);
    for (size_t t = 0; t < v->n_tables; t++) {
        rl_battles_free(v->tables[t].b);
        free(v->tables[t].q);
    }
    free(v->routers);
    free(v->evals);
    free(v->tables);
    free(v->run_source);
    free(v->banned);
    cli_scorer_free(&v->sc);
}

// ----------------------------------------------------------------------------
// Summaries

struct summary {
    double mean, lo, hi, se, cpt50;
    size_t n;
};

static int by_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

// Mean over evaluations, and the percentile interval and standard deviation of the bootstrap
// means (or of the differences from router `base`'s, when base is given).
static struct summary summarise(const struct validate *v, const struct vrouter *r,
                                const struct vrouter *base) {
    struct summary s = {NAN, NAN, NAN, NAN, NAN, 0};
    double sum = 0, sum_c = 0;
    size_t n_c = 0;
    for (size_t e = 0; e < v->n_evals; e++) {
        if (isnan(r->apgr[e]) || (base && isnan(base->apgr[e])))
            continue;
        sum += r->apgr[e] - (base ? base->apgr[e] : 0);
        s.n++;
        if (!isnan(r->cpt50[e])) {
            sum_c += r->cpt50[e];
            n_c++;
        }
    }
    if (s.n)
        s.mean = sum / (double)s.n;
    if (n_c)
        s.cpt50 = sum_c / (double)n_c;
    const int B = v->s->bootstrap;
    double *d = malloc((size_t)(B ? B : 1) * sizeof *d);
    size_t k = 0;
    double m = 0, m2 = 0;
    for (int i = 0; d && i < B; i++) {
        double x = r->boot[i] - (base ? base->boot[i] : 0);
        if (isnan(x))
            continue;
        d[k++] = x;
        m += x;
        m2 += x * x;
    }
    if (k >= 2) {
        qsort(d, k, sizeof *d, by_double);
        s.lo = d[(size_t)floor(0.025 * (double)(k - 1))];
        s.hi = d[(size_t)ceil(0.975 * (double)(k - 1))];
        m /= (double)k;
        s.se = sqrt(fmax(0, m2 / (double)k - m * m) * (double)k / (double)(k - 1));
    }
    free(d);
    return s;
}

static const struct vrouter *find(const struct validate *v, const char *name) {
    for (size_t i = 0; i < v->n_routers; i++)
        if (strcmp(v->routers[i].name, name) == 0)
            return &v->routers[i];
    return NULL;
}

// The mean APGR of router r over the evaluations of source i.
static double source_mean(const struct validate *v, const struct vrouter *r, size_t i, size_t *n) {
    double sum = 0;
    *n = 0;
    for (size_t e = 0; e < v->n_evals; e++)
        if (v->tables[v->evals[e].table].source == i && !isnan(r->apgr[e])) {
            sum += r->apgr[e];
            (*n)++;
        }
    return *n ? sum / (double)*n : NAN;
}

static void print_table(const struct validate *v) {
    const struct suite *s = v->s;
    const struct vrouter *len = find(v, "length");
    printf("suite %s: %zu evaluations (held-out source x model pair; pairs %.2f or more apart, "
           "at most %zu per table)\n\n",
           s->name ? s->name : s->path, v->n_evals, s->min_gap, s->max_pairs);
    printf("%-22s %-10s %7s  %-15s %7s  %-17s %8s %8s\n", "router", "kind", "APGR", "95% CI", "SE",
           "vs length (SE)", "CPT(50%)", "unknown");
    for (size_t i = 0; i < v->n_routers; i++) {
        const struct vrouter *r = &v->routers[i];
        struct summary m = summarise(v, r, NULL);
        char ci[32] = "-", se[16] = "-", vs[40] = "-";
        if (!isnan(m.lo))
            snprintf(ci, sizeof ci, "%.3f-%.3f", m.lo, m.hi);
        if (!isnan(m.se))
            snprintf(se, sizeof se, "%.4f", m.se);
        if (len && r != len) {
            struct summary d = summarise(v, r, len);
            snprintf(vs, sizeof vs, "%+.4f (%.4f)", d.mean, d.se);
        }
        printf("%-22s %-10s %7.3f  %-15s %7s  %-17s %7.1f%% %8zu\n", r->name,
               r->cfg ? r->cfg->kind : r->name, m.mean, ci, se, vs, m.cpt50, r->n_unknown_pair);
    }
    printf("\nmean APGR per held-out source:\n%-26s %5s", "source", "pairs");
    for (size_t i = 0; i < v->n_routers; i++)
        printf(" %9.9s", v->routers[i].name);
    printf("\n");
    for (size_t i = 0; i < s->n_sources; i++) {
        if (!v->run_source[i])
            continue;
        size_t n;
        source_mean(v, &v->routers[0], i, &n);
        printf("%-26.26s %5zu", s->sources[i].name, n);
        for (size_t k = 0; k < v->n_routers; k++)
            printf(" %9.3f", source_mean(v, &v->routers[k], i, &n));
        printf("\n");
    }
    printf("\nAPGR: area under the PGR curve (random = 0.5), mean over the evaluations; 95%% CI "
           "and SE from %d resamples of each table's prompts; vs length: the mean paired "
           "difference from the length baseline; unknown: evaluations whose pair the router does "
           "not know (scored with its default pair).\n",
           s->bootstrap);
}

static json_t *num(double x) {
    return isnan(x) ? json_null() : json_real(round(x * 1e6) / 1e6);
}

static int print_json(const struct validate *v) {
    const struct suite *s = v->s;
    json_t *root = json_object(), *evals = json_array(), *routers = json_array();
    json_object_set_new(root, "suite", json_string(s->name ? s->name : s->path));
    json_object_set_new(root, "min_gap", json_real(s->min_gap));
    json_object_set_new(root, "max_pairs", json_integer((json_int_t)s->max_pairs));
    json_object_set_new(root, "bootstrap", json_integer(s->bootstrap));
    for (size_t e = 0; e < v->n_evals; e++) {
        const struct veval *ev = &v->evals[e];
        const struct vtable *t = &v->tables[ev->table];
        json_t *res = json_object();
        for (size_t i = 0; i < v->n_routers; i++)
            json_object_set_new(res, v->routers[i].name,
                                json_pack("{s:o,s:o}", "apgr", num(v->routers[i].apgr[e]), "cpt50",
                                          num(v->routers[i].cpt50[e])));
        json_array_append_new(evals, json_pack("{s:s,s:s,s:s,s:s,s:o,s:I,s:o}", "source",
                                               s->sources[t->source].name, "table", t->spec,
                                               "strong", t->b->models[ev->strong], "weak",
                                               t->b->models[ev->weak], "gap", num(ev->gap), "n",
                                               (json_int_t)ev->n, "results", res));
    }
    for (size_t i = 0; i < v->n_routers; i++) {
        const struct vrouter *r = &v->routers[i];
        struct summary m = summarise(v, r, NULL);
        json_t *boot = json_array();
        for (int k = 0; k < s->bootstrap; k++)
            json_array_append_new(boot, num(r->boot[k]));
        json_array_append_new(
            routers, json_pack("{s:s,s:s,s:b,s:o,s:[o,o],s:o,s:o,s:I,s:I,s:o}", "name", r->name,
                               "kind", r->cfg ? r->cfg->kind : r->name, "baseline", r->cfg == NULL,
                               "apgr", num(m.mean), "apgr_ci", num(m.lo), num(m.hi), "apgr_se",
                               num(m.se), "cpt50", num(m.cpt50), "n_evaluations", (json_int_t)m.n,
                               "unknown_pairs", (json_int_t)r->n_unknown_pair, "boot", boot));
    }
    json_object_set_new(root, "routers", routers);
    json_object_set_new(root, "evaluations", evals);
    return cli_print_json(root, JSON_INDENT(1) | JSON_REAL_PRECISION(10));
}

// ----------------------------------------------------------------------------
// The command

int cli_cmd_validate(int argc, char **argv) {
    struct validate_opts o = {0};
    int rc = parse_args(argc, argv, &o);
    if (rc)
        return rc == CLI_HELP ? 0 : rc;
    char suite_path[4096];
    if (!o.suite) {
        if (rl_path_join(suite_path, sizeof suite_path, cli_home(), "data/suite/default.yaml"))
            return cli_fail("home path too long");
        o.suite = suite_path;
    }
    struct suite s;
    if (suite_load(o.suite, cli_home(), &s)) {
        suite_free(&s);
        return 1;
    }
    if (o.bootstrap >= 0)
        s.bootstrap = o.bootstrap;
    struct validate v = {.s = &s, .home = cli_home(), .threads = o.threads, .verbose = o.verbose};
    cli_scorer_init(&v.sc, o.model_dir, o.no_cache);
    v.sc.precision = o.precision;
    if (o.ship) {
        v.extra_data = &o.data;
        v.extra_exclude = &o.exclude;
        v.no_aliases = o.no_aliases;
        v.own_exclude_only = o.own_exclude_only;
        const struct suite_router *r = NULL;
        for (size_t i = 0; i < s.n_routers && !r; i++)
            r = strcmp(s.routers[i].name, o.ship) == 0 ? &s.routers[i] : NULL;
        rc = r ? validate_banned(&v) : cli_fail("--ship: %s has no router '%s'", s.path, o.ship);
        if (rc == 0)
            rc = validate_ship(&v, r, o.out, o.strong, o.weak);
        teardown(&v);
        suite_free(&s);
        return rc;
    }
    rc = setup(&v, &o);
    if (rc == 0)
        rc = validate_banned(&v);
    for (size_t i = 0; rc == 0 && i < s.n_sources; i++) {
        if (!v.run_source[i])
            continue;
        fprintf(stderr, "validate: holding out %s\n", s.sources[i].name);
        rc = validate_fold(&v, i);
    }
    if (rc == 0)
        rc = validate_metrics(&v);
    if (rc == 0)
        rc = o.format == 1 ? print_json(&v) : (print_table(&v), 0);
    teardown(&v);
    suite_free(&s);
    return rc;
}
