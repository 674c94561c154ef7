// The server's configuration: a YAML file read with libyaml into a small tree (keeping each
// node's line), then checked key by key against the schema in docs/SERVER.md. Every error names
// the file, the line and the key. Secrets are never read from the file: upstream and client keys
// come from environment variables the file names. Flags are merged by src/cli/cmd_serve.c.
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "server/server.h"

#define CONFIG_MAX_BYTES (1u << 20)
#define CONFIG_MAX_DEPTH 16
#define CONFIG_MAX_NODES 20000

// ----------------------------------------------------------------------------
// Defaults

void srv_config_init(struct srv_config *c) {
    memset(c, 0, sizeof *c);
    c->port = 6060;
    c->max_body = SRV_MAX_BODY;
    c->max_response = SRV_MAX_RESPONSE;
    c->max_header = SRV_MAX_HEADER;
    c->max_connections = SRV_MAX_CONNECTIONS;
    c->idle_timeout_s = SRV_IDLE_TIMEOUT_S;
    c->drain_timeout_s = 30;
    c->log_requests = true;
    c->fallback = true;
    c->retries = 2;
    c->backoff_s = 0.1;
    c->encoder_workers = 1;
    c->batch_max = 32;
    c->cache_entries = 10000;
}

static void model_free(struct srv_model *m) {
    free(m->name);
    free(m->base_url);
    free(m->model);
    free(m->api_key_env);
    free(m->api_key);
}

void srv_config_free(struct srv_config *c) {
    free(c->path);
    free(c->host);
    free(c->api_keys_env);
    for (size_t i = 0; i < c->n_keys; i++)
        free(c->keys[i]);
    for (size_t i = 0; i < c->n_models; i++)
        model_free(&c->models[i]);
    free(c->models);
    free(c->strong);
    free(c->weak);
    for (size_t i = 0; i < c->n_routers; i++) {
        free(c->routers[i].name);
        free(c->routers[i].path);
        free(c->routers[i].strong);
        free(c->routers[i].weak);
    }
    free(c->routers);
    free(c->encoder_dir);
    memset(c, 0, sizeof *c);
}

// Replace *dst with a copy of src (NULL allowed).
static int set_str(char **dst, const char *src) {
    char *copy = NULL;
    if (src) {
        copy = strdup(src);
        if (!copy)
            return RL_ENOMEM;
    }
    free(*dst);
    *dst = copy;
    return RL_OK;
}

int srv_config_add_model(struct srv_config *c, const char *name, const char *base_url,
                         const char *model, const char *api_key_env) {
    struct srv_model *grown = realloc(c->models, (c->n_models + 1) * sizeof *grown);
    if (!grown)
        return RL_ENOMEM;
    c->models = grown;
    struct srv_model *m = &c->models[c->n_models++];
    memset(m, 0, sizeof *m);
    m->timeout_s = 600;
    m->connect_timeout_s = 5;
    int rc = set_str(&m->name, name);
    if (rc == RL_OK)
        rc = set_str(&m->base_url, base_url);
    if (rc == RL_OK)
        rc = set_str(&m->model, model);
    if (rc == RL_OK)
        rc = set_str(&m->api_key_env, api_key_env);
    return rc;
}

int srv_config_add_router(struct srv_config *c, const char *name) {
    struct srv_router_cfg *grown = realloc(c->routers, (c->n_routers + 1) * sizeof *grown);
    if (!grown)
        return RL_ENOMEM;
    c->routers = grown;
    struct srv_router_cfg *r = &c->routers[c->n_routers++];
    memset(r, 0, sizeof *r);
    r->threshold = 0.5;
    c->routers_given = true;
    return set_str(&r->name, name);
}

int srv_config_model_index(const struct srv_config *c, const char *name) {
    for (size_t i = 0; i < c->n_models; i++)
        if (strcmp(c->models[i].name, name) == 0)
            return (int)i;
    return -1;
}

// ----------------------------------------------------------------------------
// YAML to a tree of nodes with line numbers

enum ynode_type { Y_SCALAR, Y_MAP, Y_SEQ };

struct ynode {
    enum ynode_type type;
    char *value;         // scalars
    int line;            // 1-based
    struct ynode **kids; // maps: key, value, key, value, ...; sequences: items
    size_t n_kids, cap_kids;
};

static void ynode_free(struct ynode *n) {
    if (!n)
        return;
    for (size_t i = 0; i < n->n_kids; i++)
        ynode_free(n->kids[i]);
    free(n->kids);
    free(n->value);
    free(n);
}

struct yreader {
    yaml_parser_t parser;
    const char *path;
    char *errbuf;
    size_t n_nodes;
};

static int yerr(struct yreader *y, int line, const char *fmt, const char *a, const char *b) {
    char msg[RL_ERRBUF_SIZE];
    snprintf(msg, sizeof msg, fmt, a, b);
    return rl__errf(y->errbuf, RL_EFORMAT, "%s:%d: %s", y->path, line, msg);
}

// The array doubles, so that a collection of CONFIG_MAX_NODES items costs linear time.
static int add_kid(struct ynode *parent, struct ynode *kid) {
    if (parent->n_kids == parent->cap_kids) {
        size_t cap = parent->cap_kids ? 2 * parent->cap_kids : 8;
        struct ynode **grown = realloc(parent->kids, cap * sizeof *grown);
        if (!grown)
            return RL_ENOMEM;
        parent->kids = grown;
        parent->cap_kids = cap;
    }
    parent->kids[parent->n_kids++] = kid;
    return RL_OK;
}

// Read the node that starts with the next event (recursively for collections).
static int read_node(struct yreader *y, int depth, struct ynode **out) {
    yaml_event_t ev;
    *out = NULL;
    if (!yaml_parser_parse(&y->parser, &ev))
        return yerr(y, (int)y->parser.problem_mark.line + 1, "YAML syntax error: %s%s",
                    y->parser.problem ? y->parser.problem : "unknown problem", "");
    int line = (int)ev.start_mark.line + 1;
    int rc = RL_OK;
    if (++y->n_nodes > CONFIG_MAX_NODES || depth > CONFIG_MAX_DEPTH) {
        yaml_event_delete(&ev);
        return yerr(y, line, "the file is nested too deeply or is too large%s%s", "", "");
    }
    struct ynode *n = calloc(1, sizeof *n);
    if (!n) {
        yaml_event_delete(&ev);
        return RL_ENOMEM;
    }
    n->line = line;
    switch (ev.type) {
    case YAML_SCALAR_EVENT:
        n->type = Y_SCALAR;
        n->value = strndup((const char *)ev.data.scalar.value, ev.data.scalar.length);
        if (!n->value)
            rc = RL_ENOMEM;
        else if (strlen(n->value) != ev.data.scalar.length)
            rc = yerr(y, line, "a value contains a NUL byte%s%s", "", "");
        break;
    case YAML_MAPPING_START_EVENT:
    case YAML_SEQUENCE_START_EVENT: {
        bool map = ev.type == YAML_MAPPING_START_EVENT;
        n->type = map ? Y_MAP : Y_SEQ;
        for (;;) {
            struct ynode *kid;
            rc = read_node(y, depth + 1, &kid);
            if (rc != RL_OK || !kid)
                break;
            if (map && n->n_kids % 2 == 0 && kid->type != Y_SCALAR) {
                rc = yerr(y, kid->line, "keys must be plain strings%s%s", "", "");
                ynode_free(kid);
                break;
            }
            rc = add_kid(n, kid);
            if (rc != RL_OK) {
                ynode_free(kid);
                break;
            }
        }
        break;
    }
    case YAML_MAPPING_END_EVENT:
    case YAML_SEQUENCE_END_EVENT:
        free(n);
        n = NULL; // the end of the enclosing collection
        break;
    case YAML_ALIAS_EVENT: rc = yerr(y, line, "YAML aliases are not supported%s%s", "", ""); break;
    default: rc = yerr(y, line, "unexpected YAML event%s%s", "", ""); break;
    }
    yaml_event_delete(&ev);
    if (rc != RL_OK) {
        ynode_free(n);
        return rc;
    }
    *out = n;
    return RL_OK;
}

// Parse a whole document; an empty file gives an empty map.
static int read_document(struct yreader *y, const char *text, size_t len, struct ynode **root) {
    *root = NULL;
    yaml_parser_set_input_string(&y->parser, (const unsigned char *)text, len);
    int rc = RL_OK;
    for (int expect = 0; expect < 2 && rc == RL_OK; expect++) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&y->parser, &ev))
            return yerr(y, (int)y->parser.problem_mark.line + 1, "YAML syntax error: %s%s",
                        y->parser.problem ? y->parser.problem : "unknown problem", "");
        bool ok = ev.type == (expect == 0 ? YAML_STREAM_START_EVENT : YAML_DOCUMENT_START_EVENT);
        bool empty = expect == 1 && ev.type == YAML_STREAM_END_EVENT;
        yaml_event_delete(&ev);
        if (empty) {
            *root = calloc(1, sizeof **root);
            if (!*root)
                return RL_ENOMEM;
            (*root)->type = Y_MAP;
            (*root)->line = 1;
            return RL_OK;
        }
        if (!ok)
            rc = yerr(y, 1, "expected a YAML document%s%s", "", "");
    }
    if (rc == RL_OK)
        rc = read_node(y, 0, root);
    if (rc == RL_OK && (!*root || (*root)->type != Y_MAP))
        rc = yerr(y, *root ? (*root)->line : 1, "the top level must be a mapping%s%s", "", "");
    // A second document would otherwise be ignored without a word.
    for (int expect = 0; expect < 2 && rc == RL_OK; expect++) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&y->parser, &ev)) {
            rc = yerr(y, (int)y->parser.problem_mark.line + 1, "YAML syntax error: %s%s",
                      y->parser.problem ? y->parser.problem : "unknown problem", "");
            break;
        }
        if (ev.type != (expect == 0 ? YAML_DOCUMENT_END_EVENT : YAML_STREAM_END_EVENT))
            rc = yerr(y, (int)ev.start_mark.line + 1,
                      "the file holds more than one YAML document%s%s", "", "");
        yaml_event_delete(&ev);
    }
    if (rc != RL_OK) {
        ynode_free(*root);
        *root = NULL;
    }
    return rc;
}

// ----------------------------------------------------------------------------
// Schema checks

struct walk {
    struct srv_config *c;
    const char *path;
    char *errbuf;
};

static int bad(struct walk *w, const struct ynode *n, const char *key, const char *what) {
    return rl__errf(w->errbuf, RL_EINVAL, "%s:%d: %s: %s", w->path, n->line, key, what);
}

static int bad_value(struct walk *w, const struct ynode *n, const char *key, const char *want) {
    char msg[160];
    snprintf(msg, sizeof msg, "expected %s, got '%.60s'", want,
             n->type == Y_SCALAR ? n->value
             : n->type == Y_MAP  ? "a mapping"
                                 : "a list");
    return bad(w, n, key, msg);
}

// Every key of map must be in `known` (a NULL-terminated list).
static int check_keys(struct walk *w, const struct ynode *map, const char *where,
                      const char *const *known) {
    for (size_t i = 0; i < map->n_kids; i += 2) {
        const char *k = map->kids[i]->value;
        bool found = false;
        for (size_t j = 0; known[j] && !found; j++)
            found = strcmp(k, known[j]) == 0;
        if (!found) {
            char list[200] = "";
            size_t used = 0;
            for (size_t j = 0; known[j] && used < sizeof list; j++)
                used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", j ? ", " : "",
                                         known[j]);
            char msg[300];
            snprintf(msg, sizeof msg, "unknown key '%.40s' (known: %s)", k, list);
            return bad(w, map->kids[i], where, msg);
        }
        for (size_t j = 0; j < i; j += 2)
            if (strcmp(k, map->kids[j]->value) == 0)
                return bad(w, map->kids[i], where, "duplicate key");
    }
    return RL_OK;
}

static int get_str(struct walk *w, const struct ynode *n, const char *key, char **dst) {
    if (n->type != Y_SCALAR || !*n->value)
        return bad_value(w, n, key, "a non-empty string");
    return set_str(dst, n->value);
}

static int get_num(struct walk *w, const struct ynode *n, const char *key, double lo, double hi,
                   double *out) {
    if (n->type != Y_SCALAR)
        return bad_value(w, n, key, "a number");
    char *end;
    errno = 0;
    double v = strtod(n->value, &end);
    if (!*n->value || *end || errno || !isfinite(v) || v < lo || v > hi) {
        char want[96];
        snprintf(want, sizeof want, "a number in [%g, %g]", lo, hi);
        return bad_value(w, n, key, want);
    }
    *out = v;
    return RL_OK;
}

static int get_uint(struct walk *w, const struct ynode *n, const char *key, double lo, double hi,
                    double *out) {
    int rc = get_num(w, n, key, lo, hi, out);
    if (rc == RL_OK && *out != floor(*out)) {
        char want[96];
        snprintf(want, sizeof want, "a whole number in [%g, %g]", lo, hi);
        return bad_value(w, n, key, want);
    }
    return rc;
}

static int get_bool(struct walk *w, const struct ynode *n, const char *key, bool *out) {
    static const char *const yes[] = {"true", "yes", "on"}, *const no[] = {"false", "no", "off"};
    for (size_t i = 0; n->type == Y_SCALAR && i < 3; i++) {
        if (strcmp(n->value, yes[i]) == 0 || strcmp(n->value, no[i]) == 0) {
            *out = strcmp(n->value, yes[i]) == 0;
            return RL_OK;
        }
    }
    return bad_value(w, n, key, "true or false");
}

static int want_map(struct walk *w, const struct ynode *n, const char *key) {
    return n->type == Y_MAP ? RL_OK : bad_value(w, n, key, "a mapping");
}

// ----------------------------------------------------------------------------
// Sections

static int read_server(struct walk *w, const struct ynode *map) {
    static const char *const known[] = {"host",
                                        "port",
                                        "max_body_bytes",
                                        "max_response_bytes",
                                        "max_header_bytes",
                                        "max_connections",
                                        "idle_timeout_s",
                                        "drain_timeout_s",
                                        "api_keys_env",
                                        "log_requests",
                                        NULL};
    struct srv_config *c = w->c;
    int rc = want_map(w, map, "server");
    if (rc == RL_OK)
        rc = check_keys(w, map, "server", known);
    for (size_t i = 0; rc == RL_OK && i < map->n_kids; i += 2) {
        const char *k = map->kids[i]->value;
        const struct ynode *v = map->kids[i + 1];
        char key[64];
        snprintf(key, sizeof key, "server.%s", k);
        double d = 0;
        if (strcmp(k, "host") == 0) {
            rc = get_str(w, v, key, &c->host);
        } else if (strcmp(k, "port") == 0) {
            rc = get_uint(w, v, key, 0, 65535, &d);
            c->port = (int)d;
        } else if (strcmp(k, "max_body_bytes") == 0) {
            rc = get_uint(w, v, key, 1, 1 << 30, &d);
            c->max_body = (size_t)d;
        } else if (strcmp(k, "max_response_bytes") == 0) {
            rc = get_uint(w, v, key, 1024, 1 << 30, &d);
            c->max_response = (size_t)d;
        } else if (strcmp(k, "max_header_bytes") == 0) {
            rc = get_uint(w, v, key, 4096, 1 << 24, &d);
            c->max_header = (size_t)d;
        } else if (strcmp(k, "max_connections") == 0) {
            rc = get_uint(w, v, key, 1, 1 << 20, &d);
            c->max_connections = (unsigned)d;
        } else if (strcmp(k, "idle_timeout_s") == 0) {
            rc = get_uint(w, v, key, 1, 86400, &d);
            c->idle_timeout_s = (unsigned)d;
        } else if (strcmp(k, "drain_timeout_s") == 0) {
            rc = get_num(w, v, key, 0, 3600, &c->drain_timeout_s);
        } else if (strcmp(k, "api_keys_env") == 0) {
            rc = get_str(w, v, key, &c->api_keys_env);
        } else {
            rc = get_bool(w, v, key, &c->log_requests);
        }
    }
    return rc;
}

static int read_model(struct walk *w, const struct ynode *map, size_t idx) {
    static const char *const known[] = {"name",        "base_url",  "model",
                                        "api_key_env", "timeout_s", "connect_timeout_s",
                                        "price_in",    "price_out", NULL};
    char where[48];
    snprintf(where, sizeof where, "models[%zu]", idx);
    int rc = want_map(w, map, where);
    if (rc == RL_OK)
        rc = check_keys(w, map, where, known);
    if (rc == RL_OK && w->c->n_models == SRV_MAX_MODELS)
        rc = bad(w, map, where, "more than 64 models");
    if (rc == RL_OK)
        rc = srv_config_add_model(w->c, NULL, NULL, NULL, NULL);
    if (rc != RL_OK)
        return rc;
    struct srv_model *m = &w->c->models[w->c->n_models - 1];
    m->line = map->line;
    for (size_t i = 0; rc == RL_OK && i < map->n_kids; i += 2) {
        const char *k = map->kids[i]->value;
        const struct ynode *v = map->kids[i + 1];
        char key[96];
        snprintf(key, sizeof key, "%s.%s", where, k);
        if (strcmp(k, "name") == 0)
            rc = get_str(w, v, key, &m->name);
        else if (strcmp(k, "base_url") == 0)
            rc = get_str(w, v, key, &m->base_url);
        else if (strcmp(k, "model") == 0)
            rc = get_str(w, v, key, &m->model);
        else if (strcmp(k, "api_key_env") == 0)
            rc = get_str(w, v, key, &m->api_key_env);
        else if (strcmp(k, "timeout_s") == 0)
            rc = get_num(w, v, key, 0.001, 86400, &m->timeout_s);
        else if (strcmp(k, "connect_timeout_s") == 0)
            rc = get_num(w, v, key, 0.001, 3600, &m->connect_timeout_s);
        else if (strcmp(k, "price_in") == 0)
            rc = get_num(w, v, key, 0, 1e6, &m->price_in);
        else
            rc = get_num(w, v, key, 0, 1e6, &m->price_out);
    }
    if (rc == RL_OK && !m->name)
        rc = bad(w, map, where, "missing 'name'");
    if (rc == RL_OK && !m->base_url)
        rc = bad(w, map, where, "missing 'base_url'");
    if (rc == RL_OK && !m->model)
        rc = set_str(&m->model, m->name);
    return rc;
}

static int read_routing(struct walk *w, const struct ynode *map) {
    static const char *const known[] = {"strong", "weak", "fallback", "retries", "backoff_s", NULL};
    struct srv_config *c = w->c;
    int rc = want_map(w, map, "routing");
    if (rc == RL_OK)
        rc = check_keys(w, map, "routing", known);
    for (size_t i = 0; rc == RL_OK && i < map->n_kids; i += 2) {
        const char *k = map->kids[i]->value;
        const struct ynode *v = map->kids[i + 1];
        char key[64];
        snprintf(key, sizeof key, "routing.%s", k);
        double d = 0;
        if (strcmp(k, "strong") == 0) {
            rc = get_str(w, v, key, &c->strong);
        } else if (strcmp(k, "weak") == 0) {
            rc = get_str(w, v, key, &c->weak);
        } else if (strcmp(k, "fallback") == 0) {
            rc = get_bool(w, v, key, &c->fallback);
        } else if (strcmp(k, "retries") == 0) {
            rc = get_uint(w, v, key, 0, 10, &d);
            c->retries = (int)d;
        } else {
            rc = get_num(w, v, key, 0, 60, &c->backoff_s);
        }
    }
    return rc;
}

static int read_routers(struct walk *w, const struct ynode *map) {
    static const char *const known[] = {"checkpoint_path", "strong_model", "weak_model",
                                        "threshold", NULL};
    int rc = want_map(w, map, "routers");
    w->c->routers_given = true;
    for (size_t i = 0; rc == RL_OK && i < map->n_kids; i += 2) {
        const struct ynode *kn = map->kids[i], *v = map->kids[i + 1];
        char where[96];
        snprintf(where, sizeof where, "routers.%.60s", kn->value);
        if (i / 2 == SRV_MAX_ROUTERS)
            rc = bad(w, kn, "routers", "more than 64 routers");
        for (size_t j = 0; j < i && rc == RL_OK; j += 2)
            if (strcmp(kn->value, map->kids[j]->value) == 0)
                rc = bad(w, kn, where, "duplicate router");
        if (rc == RL_OK)
            rc = srv_config_add_router(w->c, kn->value);
        if (rc != RL_OK)
            break;
        struct srv_router_cfg *r = &w->c->routers[w->c->n_routers - 1];
        r->line = kn->line;
        // `mf:` with nothing after it (a YAML null) takes every default.
        if (v->type == Y_SCALAR &&
            (!*v->value || strcmp(v->value, "~") == 0 || strcmp(v->value, "null") == 0))
            continue;
        rc = want_map(w, v, where);
        if (rc == RL_OK)
            rc = check_keys(w, v, where, known);
        for (size_t j = 0; rc == RL_OK && j < v->n_kids; j += 2) {
            const char *k = v->kids[j]->value;
            const struct ynode *val = v->kids[j + 1];
            char key[160];
            snprintf(key, sizeof key, "%s.%s", where, k);
            if (strcmp(k, "checkpoint_path") == 0)
                rc = get_str(w, val, key, &r->path);
            else if (strcmp(k, "strong_model") == 0)
                rc = get_str(w, val, key, &r->strong);
            else if (strcmp(k, "weak_model") == 0)
                rc = get_str(w, val, key, &r->weak);
            else
                rc = get_num(w, val, key, 0, 1, &r->threshold);
        }
    }
    return rc;
}

static int read_encoder(struct walk *w, const struct ynode *map) {
    static const char *const known[] = {"model_dir", "workers", "batch_max", "cache_entries", NULL};
    struct srv_config *c = w->c;
    int rc = want_map(w, map, "encoder");
    if (rc == RL_OK)
        rc = check_keys(w, map, "encoder", known);
    for (size_t i = 0; rc == RL_OK && i < map->n_kids; i += 2) {
        const char *k = map->kids[i]->value;
        const struct ynode *v = map->kids[i + 1];
        char key[64];
        snprintf(key, sizeof key, "encoder.%s", k);
        double d = 0;
        if (strcmp(k, "model_dir") == 0) {
            rc = get_str(w, v, key, &c->encoder_dir);
        } else if (strcmp(k, "workers") == 0) {
            rc = get_uint(w, v, key, 1, 64, &d);
            c->encoder_workers = (int)d;
        } else if (strcmp(k, "batch_max") == 0) {
            rc = get_uint(w, v, key, 1, 1024, &d);
            c->batch_max = (int)d;
        } else {
            rc = get_uint(w, v, key, 0, 10000000, &d);
            c->cache_entries = (size_t)d;
        }
    }
    return rc;
}

int srv_config_load(struct srv_config *c, const char *path, char *errbuf) {
    static const char *const known[] = {"server", "models", "routing", "routers", "encoder", NULL};
    char *text = NULL;
    size_t len = 0;
    int rc = rl_file_read(path, CONFIG_MAX_BYTES, &text, &len, errbuf);
    if (rc != RL_OK)
        return rc;
    rc = set_str(&c->path, path);
    struct yreader y = {.path = path, .errbuf = errbuf};
    struct ynode *root = NULL;
    if (rc == RL_OK && !yaml_parser_initialize(&y.parser))
        rc = RL_ENOMEM;
    else if (rc == RL_OK) {
        rc = read_document(&y, text, len, &root);
        yaml_parser_delete(&y.parser);
    }
    struct walk w = {c, path, errbuf};
    if (rc == RL_OK)
        rc = check_keys(&w, root, "top level", known);
    for (size_t i = 0; rc == RL_OK && i < root->n_kids; i += 2) {
        const char *k = root->kids[i]->value;
        const struct ynode *v = root->kids[i + 1];
        if (strcmp(k, "server") == 0) {
            rc = read_server(&w, v);
        } else if (strcmp(k, "models") == 0) {
            if (v->type != Y_SEQ) {
                rc = bad_value(&w, v, "models", "a list of upstream models");
                break;
            }
            for (size_t j = 0; rc == RL_OK && j < v->n_kids; j++)
                rc = read_model(&w, v->kids[j], j);
        } else if (strcmp(k, "routing") == 0) {
            rc = read_routing(&w, v);
        } else if (strcmp(k, "routers") == 0) {
            rc = read_routers(&w, v);
        } else {
            rc = read_encoder(&w, v);
        }
    }
    ynode_free(root);
    free(text);
    return rc;
}

// ----------------------------------------------------------------------------
// Cross-checks

// Names travel inside model ids and metric labels: keep them to a safe alphabet.
static bool name_ok(const char *s, bool allow_dash) {
    size_t n = strlen(s);
    if (n == 0 || n >= SRV_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' ||
                  (allow_dash && (ch == '-' || ch == '/' || ch == ':'));
        if (!ok)
            return false;
    }
    return true;
}

static int where_errf(const struct srv_config *c, char *errbuf, int line, const char *fmt,
                      const char *a, const char *b) {
    char msg[RL_ERRBUF_SIZE];
    snprintf(msg, sizeof msg, fmt, a, b);
    if (c->path && line > 0)
        return rl__errf(errbuf, RL_EINVAL, "%s:%d: %s", c->path, line, msg);
    return rl__errf(errbuf, RL_EINVAL, "%s", msg);
}

// Split the comma-separated client keys held by the variable api_keys_env.
static int read_client_keys(struct srv_config *c, char *errbuf) {
    const char *v = getenv(c->api_keys_env);
    if (!v || !*v)
        return where_errf(c, errbuf, 0,
                          "server.api_keys_env: the environment variable %s is not set%s",
                          c->api_keys_env, "");
    const char *p = v;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n > 0) {
            if (c->n_keys == SRV_MAX_KEYS)
                return where_errf(c, errbuf, 0, "%s holds more than %s client keys",
                                  c->api_keys_env, "64");
            c->keys[c->n_keys] = strndup(p, n);
            if (!c->keys[c->n_keys])
                return RL_ENOMEM;
            c->n_keys++;
        }
        p += n + (end ? 1 : 0);
    }
    return c->n_keys ? RL_OK
                     : where_errf(c, errbuf, 0, "%s holds no client keys%s", c->api_keys_env, "");
}

int srv_config_finish(struct srv_config *c, char *errbuf) {
    if (!c->host && set_str(&c->host, "127.0.0.1") != RL_OK)
        return RL_ENOMEM;
    if (c->n_models == 0)
        return where_errf(c, errbuf, 0,
                          "no upstream models: give a models: section or "
                          "--strong-model, --weak-model and --base-url%s%s",
                          "", "");
    for (size_t i = 0; i < c->n_models; i++) {
        struct srv_model *m = &c->models[i];
        if (!name_ok(m->name, true) || strncmp(m->name, "router-", 7) == 0)
            return where_errf(c, errbuf, m->line,
                              "model name '%.60s' must use letters, digits and _ . - / : "
                              "and must not start with 'router-'%s",
                              m->name, "");
        if (strncmp(m->base_url, "http://", 7) != 0 && strncmp(m->base_url, "https://", 8) != 0)
            return where_errf(c, errbuf, m->line,
                              "model %s: base_url must start with http:// or https://, got '%.80s'",
                              m->name, m->base_url);
        for (size_t j = 0; j < i; j++)
            if (strcmp(c->models[j].name, m->name) == 0)
                return where_errf(c, errbuf, m->line, "model name '%s' is used twice%s", m->name,
                                  "");
        if (m->api_key_env) {
            const char *key = getenv(m->api_key_env);
            if (!key || !*key)
                return where_errf(c, errbuf, m->line,
                                  "model %s: the environment variable %s (api_key_env) is not set",
                                  m->name, m->api_key_env);
            if (set_str(&m->api_key, key) != RL_OK)
                return RL_ENOMEM;
        }
    }
    if (!c->strong && c->n_models >= 1 && set_str(&c->strong, c->models[0].name) != RL_OK)
        return RL_ENOMEM;
    if (!c->weak && set_str(&c->weak, c->models[c->n_models > 1 ? 1 : 0].name) != RL_OK)
        return RL_ENOMEM;
    if (srv_config_model_index(c, c->strong) < 0)
        return where_errf(c, errbuf, 0, "routing.strong: no model is named '%.60s'%s", c->strong,
                          "");
    if (srv_config_model_index(c, c->weak) < 0)
        return where_errf(c, errbuf, 0, "routing.weak: no model is named '%.60s'%s", c->weak, "");
    for (size_t i = 0; i < c->n_routers; i++) {
        const struct srv_router_cfg *r = &c->routers[i];
        if (!name_ok(r->name, false))
            return where_errf(c, errbuf, r->line,
                              "router name '%.60s' must use only letters, digits, _ and .%s",
                              r->name, "");
        for (size_t j = 0; j < i; j++)
            if (strcmp(c->routers[j].name, r->name) == 0)
                return where_errf(c, errbuf, r->line, "router '%s' is given twice%s", r->name, "");
    }
    if (c->api_keys_env)
        return read_client_keys(c, errbuf);
    return RL_OK;
}
