// Reading a validation-suite file (suite.h). The file is YAML (core/yaml.c reads it, bounded);
// every key is checked here, unknown ones are errors that name the file and the line, and the
// paths in data specs are taken from the project's folder unless they are absolute.
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/suite.h"
#include "core/core.h"
#include "core/yaml.h"
#include "rl/encoder.h"
#include "rl/texts.h"

#define SUITE_MAX_FILE (1u << 20)

struct reader {
    const char *path;
    const char *home;
    struct suite *s;
};

static int fail_at(const struct reader *r, const struct rl_ynode *n, const char *fmt,
                   const char *a) {
    char msg[512];
    snprintf(msg, sizeof msg, fmt, a);
    return cli_fail("%s:%d: %s", r->path, n ? n->line : 0, msg);
}

static const char *scalar(const struct rl_ynode *n) {
    return n && n->type == RL_YAML_SCALAR ? n->value : NULL;
}

// A data spec "FORMAT:PATH[,opts]" or "PATH[,opts]" with a relative PATH made absolute under home.
static char *spec_from_home(const struct reader *r, const char *spec) {
    const char *path = spec;
    size_t head = strspn(spec, "abcdefghijklmnopqrstuvwxyz0123456789_");
    if (head > 0 && spec[head] == ':')
        path = spec + head + 1;
    head = (size_t)(path - spec);
    if (path[0] == '/' || !r->home)
        return strdup(spec);
    size_t n = strlen(spec) + strlen(r->home) + 2;
    char *out = malloc(n);
    if (out)
        snprintf(out, n, "%.*s%s/%s", (int)head, spec, r->home, path);
    return out;
}

// A sequence of strings into out[0..max): each through spec_from_home when as_spec.
static int read_list(const struct reader *r, const struct rl_ynode *n, const char *key, char **out,
                     size_t max, size_t *count, bool as_spec) {
    if (n->type != RL_YAML_SEQ)
        return fail_at(r, n, "%s: expected a list", key);
    if (n->n_kids > max)
        return fail_at(r, n, "%s: too many entries", key);
    for (size_t i = 0; i < n->n_kids; i++) {
        const char *v = scalar(n->kids[i]);
        if (!v || !*v)
            return fail_at(r, n->kids[i], "%s: expected a non-empty string", key);
        out[i] = as_spec ? spec_from_home(r, v) : strdup(v);
        if (!out[i])
            return cli_fail("out of memory");
        *count = i + 1;
    }
    return 0;
}

static int read_number(const struct reader *r, const struct rl_ynode *n, const char *key, double lo,
                       double hi, double *out) {
    const char *v = scalar(n);
    char *end;
    double x = v ? strtod(v, &end) : 0;
    if (!v || end == v || *end || !(x >= lo && x <= hi)) {
        char msg[160];
        snprintf(msg, sizeof msg, "%%s: expected a number in [%g, %g]", lo, hi);
        return fail_at(r, n, msg, key);
    }
    *out = x;
    return 0;
}

static int read_bool(const struct reader *r, const struct rl_ynode *n, const char *key, bool *out) {
    const char *v = scalar(n);
    if (v && strcmp(v, "true") == 0)
        *out = true;
    else if (v && strcmp(v, "false") == 0)
        *out = false;
    else
        return fail_at(r, n, "%s: expected true or false", key);
    return 0;
}

static int read_string(const struct reader *r, const struct rl_ynode *n, const char *key,
                       char **out) {
    const char *v = scalar(n);
    if (!v || !*v)
        return fail_at(r, n, "%s: expected a non-empty string", key);
    free(*out);
    *out = strdup(v);
    return *out ? 0 : cli_fail("out of memory");
}

// ----------------------------------------------------------------------------
// Sections

static int read_source(const struct reader *r, const struct rl_ynode *m, struct suite_source *src) {
    if (m->type != RL_YAML_MAP)
        return fail_at(r, m, "%s: each entry is a mapping", "sources");
    src->line = m->line;
    for (size_t i = 0; i + 1 < m->n_kids; i += 2) {
        const char *k = m->kids[i]->value;
        const struct rl_ynode *v = m->kids[i + 1];
        int rc = strcmp(k, "name") == 0     ? read_string(r, v, "sources.name", &src->name)
                 : strcmp(k, "tables") == 0 ? read_list(r, v, "sources.tables", src->tables,
                                                        SUITE_MAX_SPECS, &src->n_tables, true)
                 : strcmp(k, "battles") == 0
                     ? read_list(r, v, "sources.battles", src->battles, SUITE_MAX_SPECS,
                                 &src->n_battles, true)
                     : fail_at(r, m->kids[i],
                               "sources: unknown key '%s' (known: name, tables, battles)", k);
        if (rc)
            return rc;
    }
    if (!src->name || src->n_tables == 0)
        return fail_at(r, m, "%s: a source needs a name and tables", "sources");
    return 0;
}

static int read_precision(const struct reader *r, const struct rl_ynode *n, int *out) {
    enum rl_precision p;
    const char *v = scalar(n);
    if (!v || rl_precision_parse(v, &p) != RL_OK)
        return fail_at(r, n, "%s: expected fp32 or int8", "routers.precision");
    *out = (int)p;
    return 0;
}

// s freed and replaced by t (NULL when out of memory, after printing so).
static char *replace_with(char *s, char *t) {
    free(s);
    if (!t)
        cli_fail("out of memory");
    return t;
}

static int read_router(const struct reader *r, const struct rl_ynode *m, struct suite_router *rt) {
    if (m->type != RL_YAML_MAP)
        return fail_at(r, m, "%s: each entry is a mapping", "routers");
    rt->line = m->line;
    rt->precision = -1;
    bool embedding = true;
    for (size_t i = 0; i + 1 < m->n_kids; i += 2) {
        const char *k = m->kids[i]->value;
        const struct rl_ynode *v = m->kids[i + 1];
        int rc;
        if (strcmp(k, "name") == 0)
            rc = read_string(r, v, "routers.name", &rt->name);
        else if (strcmp(k, "kind") == 0)
            rc = read_string(r, v, "routers.kind", &rt->kind);
        else if (strcmp(k, "sources") == 0)
            rc = read_list(r, v, "routers.sources", rt->sources, SUITE_MAX_SOURCES, &rt->n_sources,
                           false);
        else if (strcmp(k, "table_options") == 0)
            rc = read_string(r, v, "routers.table_options", &rt->table_options);
        else if (strcmp(k, "features") == 0)
            rc = read_bool(r, v, "routers.features", &rt->features);
        else if (strcmp(k, "embedding") == 0)
            rc = read_bool(r, v, "routers.embedding", &embedding);
        else if (strcmp(k, "strong") == 0)
            rc = read_string(r, v, "routers.strong", &rt->strong);
        else if (strcmp(k, "weak") == 0)
            rc = read_string(r, v, "routers.weak", &rt->weak);
        else if (strcmp(k, "aliases") == 0)
            rc = read_list(r, v, "routers.aliases", rt->aliases, SUITE_MAX_ALIASES, &rt->n_aliases,
                           false);
        else if (strcmp(k, "score_tokens") == 0)
            rc = read_bool(r, v, "routers.score_tokens", &rt->score_tokens);
        else if (strcmp(k, "precision") == 0)
            rc = read_precision(r, v, &rt->precision);
        else if (strcmp(k, "encoder") == 0)
            rc = read_string(r, v, "routers.encoder", &rt->encoder) ||
                 !(rt->encoder = replace_with(rt->encoder, spec_from_home(r, rt->encoder)));
        else
            rc = fail_at(r, m->kids[i],
                         "routers: unknown key '%s' (known: name, kind, sources, table_options, "
                         "features, embedding, strong, weak, encoder, precision, score_tokens, "
                         "aliases)",
                         k);
        if (rc)
            return rc;
    }
    rt->no_embedding = !embedding;
    if (!rt->name || !rt->kind || rt->n_sources == 0)
        return fail_at(r, m, "%s: a router needs a name, a kind and sources", "routers");
    if (rt->no_embedding && !rt->features)
        return fail_at(r, m, "routers.%s: without the embedding it needs features: true", rt->name);
    if (rt->score_tokens && !rt->encoder)
        return fail_at(r, m, "routers.%s: score_tokens reads a causal LM: give its encoder",
                       rt->name);
    return 0;
}

// Exclude entries may be globs (the 57 MMLU files): each is expanded here.
static int read_exclude(const struct reader *r, const struct rl_ynode *n, struct suite *s) {
    char *raw[SUITE_MAX_SPECS] = {0};
    size_t n_raw = 0;
    int rc = read_list(r, n, "exclude", raw, SUITE_MAX_SPECS, &n_raw, true);
    for (size_t i = 0; rc == 0 && i < n_raw; i++) {
        glob_t g;
        if (glob(raw[i], 0, NULL, &g) != 0 || g.gl_pathc == 0) {
            rc = fail_at(r, n->kids[i], "exclude: no file matches '%s'", raw[i]);
            globfree(&g);
            break;
        }
        for (size_t k = 0; rc == 0 && k < g.gl_pathc; k++) {
            if (s->n_exclude == SUITE_MAX_EXCLUDE)
                rc = fail_at(r, n, "%s: too many files", "exclude");
            else if (!(s->exclude[s->n_exclude++] = strdup(g.gl_pathv[k])))
                rc = cli_fail("out of memory");
        }
        globfree(&g);
    }
    for (size_t i = 0; i < n_raw; i++)
        free(raw[i]);
    return rc;
}

static int read_top(const struct reader *r, const struct rl_ynode *root, struct suite *s) {
    for (size_t i = 0; i + 1 < root->n_kids; i += 2) {
        const char *k = root->kids[i]->value;
        const struct rl_ynode *v = root->kids[i + 1];
        double x;
        int rc = 0;
        if (strcmp(k, "suite") == 0) {
            rc = read_string(r, v, "suite", &s->name);
        } else if (strcmp(k, "min_gap") == 0) {
            rc = read_number(r, v, k, 0, 1, &s->min_gap);
        } else if (strcmp(k, "max_pairs") == 0) {
            rc = read_number(r, v, k, 1, 1000, &x);
            s->max_pairs = (size_t)x;
        } else if (strcmp(k, "min_coverage") == 0) {
            rc = read_number(r, v, k, 0, 1, &s->min_coverage);
        } else if (strcmp(k, "decontaminate") == 0) {
            rc = read_number(r, v, k, -1, 1, &s->decontaminate);
        } else if (strcmp(k, "bootstrap") == 0) {
            rc = read_number(r, v, k, 0, 100000, &x);
            s->bootstrap = (int)x;
        } else if (strcmp(k, "exclude") == 0) {
            rc = read_exclude(r, v, s);
        } else if (strcmp(k, "baselines") == 0) {
            rc = read_list(r, v, k, s->baselines, SUITE_MAX_ROUTERS, &s->n_baselines, false);
        } else if (strcmp(k, "sources") == 0 || strcmp(k, "routers") == 0) {
            bool src = k[0] == 's';
            size_t max = src ? SUITE_MAX_SOURCES : SUITE_MAX_ROUTERS;
            if (v->type != RL_YAML_SEQ || v->n_kids > max)
                return fail_at(r, v, "%s: expected a list (not too long)", k);
            for (size_t j = 0; rc == 0 && j < v->n_kids; j++) {
                rc = src ? read_source(r, v->kids[j], &s->sources[j])
                         : read_router(r, v->kids[j], &s->routers[j]);
                *(src ? &s->n_sources : &s->n_routers) = j + 1;
            }
        } else {
            rc = fail_at(r, root->kids[i],
                         "unknown key '%s' (known: suite, min_gap, max_pairs, min_coverage, "
                         "decontaminate, bootstrap, exclude, sources, routers, baselines)",
                         k);
        }
        if (rc)
            return rc;
    }
    return 0;
}

// Names are unique, and every router trains on at least one source.
static int check(const struct reader *r, const struct suite *s) {
    for (size_t i = 0; i < s->n_sources; i++)
        for (size_t j = 0; j < i; j++)
            if (strcmp(s->sources[i].name, s->sources[j].name) == 0)
                return fail_at(r, NULL, "source '%s' is listed twice", s->sources[i].name);
    for (size_t i = 0; i < s->n_routers; i++) {
        const struct suite_router *rt = &s->routers[i];
        for (size_t j = 0; j < i; j++)
            if (strcmp(rt->name, s->routers[j].name) == 0)
                return fail_at(r, NULL, "router '%s' is listed twice", rt->name);
        size_t n = 0;
        for (size_t j = 0; j < s->n_sources; j++)
            n += suite_router_uses(rt, &s->sources[j]);
        if (n == 0)
            return cli_fail("%s:%d: router '%s': its sources match no source", r->path, rt->line,
                            rt->name);
    }
    return 0;
}

int suite_load(const char *path, const char *home, struct suite *s) {
    memset(s, 0, sizeof *s);
    s->min_gap = 0.02;
    s->max_pairs = 10;
    s->min_coverage = 0.9;
    s->decontaminate = RL_DECONTAM_COSINE;
    s->bootstrap = 1000;
    s->path = strdup(path);
    char *text = NULL, err[RL_ERRBUF_SIZE];
    size_t len = 0;
    if (!s->path)
        return cli_fail("out of memory");
    if (rl_file_read(path, SUITE_MAX_FILE, &text, &len, err) != RL_OK)
        return cli_fail("%s", err);
    struct rl_ynode *root = NULL;
    int rc = rl__yaml_parse(path, text, len, &root, err) == RL_OK ? 0 : cli_fail("%s", err);
    free(text);
    struct reader r = {path, home, s};
    if (rc == 0)
        rc = read_top(&r, root, s);
    if (rc == 0)
        rc = check(&r, s);
    if (rc == 0 && s->n_sources < 2)
        rc = cli_fail("%s: a suite needs at least two sources", path);
    rl__ynode_free(root);
    return rc;
}

static void free_all(char **v, size_t n) {
    for (size_t i = 0; i < n; i++)
        free(v[i]);
}

void suite_free(struct suite *s) {
    free(s->path);
    free(s->name);
    free_all(s->exclude, s->n_exclude);
    free_all(s->baselines, s->n_baselines);
    for (size_t i = 0; i < s->n_sources; i++) {
        struct suite_source *src = &s->sources[i];
        free(src->name);
        free_all(src->tables, src->n_tables);
        free_all(src->battles, src->n_battles);
    }
    for (size_t i = 0; i < s->n_routers; i++) {
        struct suite_router *rt = &s->routers[i];
        free(rt->name);
        free(rt->kind);
        free(rt->table_options);
        free(rt->encoder);
        free(rt->strong);
        free(rt->weak);
        free_all(rt->sources, rt->n_sources);
        free_all(rt->aliases, rt->n_aliases);
    }
}

// Iterative, with one backtracking point (the last '*' seen): time linear in
// strlen(pattern) × strlen(name), where the recursive form was exponential in the stars.
bool suite_match(const char *pattern, const char *name) {
    const char *star = NULL, *resume = NULL;
    while (*name) {
        if (*pattern == '*') {
            star = pattern++;
            resume = name;
        } else if (*pattern == *name) {
            pattern++;
            name++;
        } else if (star) {
            pattern = star + 1; // the last star takes one more character
            name = ++resume;
        } else {
            return false;
        }
    }
    while (*pattern == '*')
        pattern++;
    return *pattern == '\0';
}

bool suite_router_uses(const struct suite_router *r, const struct suite_source *src) {
    for (size_t i = 0; i < r->n_sources; i++)
        if (suite_match(r->sources[i], src->name))
            return true;
    return false;
}
