// The server's configuration: a YAML file read into a tree of nodes that keep their line
// (core/yaml.c), then checked against one table of keys per section (name, type, range, field,
// help: the schema of docs/SERVER.md), so each accepted key is written once. Every error names the
// file, the line and the key. Secrets are never read from the file: upstream and client keys
// come from environment variables the file names. The flags of src/cli/cmd_serve.c set values
// through the same tables (srv_config_set).
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/server.h"

#define CONFIG_MAX_BYTES (1u << 20)

// ----------------------------------------------------------------------------
// Defaults

void srv_config_init(struct srv_config *c) {
    memset(c, 0, sizeof *c);
    c->port = SRV_DEFAULT_PORT;
    c->max_body = SRV_MAX_BODY;
    c->max_inflight_body = SRV_MAX_INFLIGHT_BODY;
    c->max_response = SRV_MAX_RESPONSE;
    c->max_header = SRV_MAX_HEADER;
    c->max_connections = SRV_MAX_CONNECTIONS;
    c->max_per_client = SRV_MAX_PER_CLIENT;
    c->idle_timeout_s = SRV_IDLE_TIMEOUT_S;
    c->header_timeout_s = SRV_HEADER_TIMEOUT_S;
    c->body_timeout_s = SRV_BODY_TIMEOUT_S;
    c->drain_timeout_s = 30;
    c->log_requests = true;
    c->fallback = true;
    c->retries = 2;
    c->backoff_s = 0.1;
    c->request_timeout_s = SRV_REQUEST_TIMEOUT_S;
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

static void router_cfg_free(struct srv_router_cfg *r) {
    free(r->name);
    free(r->path);
    free(r->strong);
    free(r->weak);
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
    for (size_t i = 0; i < c->n_routers; i++)
        router_cfg_free(&c->routers[i]);
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
    m->stall_timeout_s = SRV_STALL_TIMEOUT_S;
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
// The accepted keys, one table per section

enum key_type { KEY_STR, KEY_BOOL, KEY_NUM, KEY_INT, KEY_UNSIGNED, KEY_SIZE };

// One key of a section. Numbers must lie in [lo, hi]; KEY_INT, KEY_UNSIGNED and KEY_SIZE must
// also be whole. The value is stored at `offset` in the section's struct.
struct key {
    const char *name;
    enum key_type type;
    double lo, hi;
    size_t offset;
    const char *help;
};

#define CFG(field)    offsetof(struct srv_config, field)
#define MODEL(field)  offsetof(struct srv_model, field)
#define ROUTER(field) offsetof(struct srv_router_cfg, field)

static const struct key server_keys[] = {
    {"host", KEY_STR, 0, 0, CFG(host), "address to listen on (IPv4 or IPv6)"},
    {"port", KEY_INT, 0, 65535, CFG(port), "port to listen on; 0 picks a free one"},
    {"max_body_bytes", KEY_SIZE, 1, 1 << 30, CFG(max_body), "largest request body"},
    {"max_inflight_body_bytes", KEY_SIZE, 1, 1ull << 40, CFG(max_inflight_body),
     "request bodies held at once, all requests together; past it new ones get 503"},
    {"max_response_bytes", KEY_SIZE, 1024, 1 << 30, CFG(max_response),
     "largest non-streaming upstream answer held in memory"},
    {"max_header_bytes", KEY_SIZE, 4096, 1 << 24, CFG(max_header), "request line plus headers"},
    {"max_connections", KEY_UNSIGNED, 1, 1 << 20, CFG(max_connections),
     "concurrent client connections"},
    {"max_connections_per_client", KEY_UNSIGNED, 0, 1 << 20, CFG(max_per_client),
     "connections one client address may hold; 0: no cap"},
    {"idle_timeout_s", KEY_UNSIGNED, 1, 86400, CFG(idle_timeout_s),
     "a keep-alive connection idle, or a client not reading its answer, this long is closed"},
    {"header_timeout_s", KEY_NUM, 0.01, 3600, CFG(header_timeout_s),
     "a request head must be in this long after its first byte"},
    {"body_timeout_s", KEY_NUM, 0.01, 86400, CFG(body_timeout_s),
     "a request body must be in this long after its head"},
    {"drain_timeout_s", KEY_NUM, 0, 3600, CFG(drain_timeout_s),
     "after SIGTERM, how long in-flight requests may take to finish"},
    {"api_keys_env", KEY_STR, 0, 0, CFG(api_keys_env),
     "environment variable holding comma-separated client keys"},
    {"log_requests", KEY_BOOL, 0, 0, CFG(log_requests), "one JSON log line per request"},
};

static const struct key model_keys[] = {
    {"name", KEY_STR, 0, 0, MODEL(name), "what clients and logs call the model"},
    {"base_url", KEY_STR, 0, 0, MODEL(base_url), "OpenAI-compatible base URL"},
    {"model", KEY_STR, 0, 0, MODEL(model), "the id sent upstream (default: the name)"},
    {"api_key_env", KEY_STR, 0, 0, MODEL(api_key_env),
     "environment variable holding the upstream key"},
    {"timeout_s", KEY_NUM, 0.001, 86400, MODEL(timeout_s), "limit on one attempt"},
    {"connect_timeout_s", KEY_NUM, 0.001, 3600, MODEL(connect_timeout_s), "limit on connecting"},
    {"stall_timeout_s", KEY_NUM, 0.001, 86400, MODEL(stall_timeout_s),
     "an answer that has begun and then sends nothing this long is cut"},
    {"price_in", KEY_NUM, 0, 1e6, MODEL(price_in), "USD per million prompt tokens"},
    {"price_out", KEY_NUM, 0, 1e6, MODEL(price_out), "USD per million completion tokens"},
};

static const struct key routing_keys[] = {
    {"strong", KEY_STR, 0, 0, CFG(strong), "the strong model of the routed pair"},
    {"weak", KEY_STR, 0, 0, CFG(weak), "the weak model of the routed pair"},
    {"fallback", KEY_BOOL, 0, 0, CFG(fallback), "after a routed model fails, try the other"},
    {"retries", KEY_INT, 0, 10, CFG(retries), "retries per model"},
    {"backoff_s", KEY_NUM, 0, 60, CFG(backoff_s), "first retry delay, doubled each time"},
    {"request_timeout_s", KEY_NUM, 0.01, 86400, CFG(request_timeout_s),
     "limit on a request's attempts, retries and fallback included, until its answer begins"},
};

static const struct key router_keys[] = {
    {"checkpoint_path", KEY_STR, 0, 0, ROUTER(path), "router file"},
    {"strong_model", KEY_STR, 0, 0, ROUTER(strong), "the router's own name for the strong model"},
    {"weak_model", KEY_STR, 0, 0, ROUTER(weak), "the router's own name for the weak model"},
    {"threshold", KEY_NUM, 0, 1, ROUTER(threshold), "the threshold /v1/models advertises"},
};

static const struct key encoder_keys[] = {
    {"model_dir", KEY_STR, 0, 0, CFG(encoder_dir), "the local sentence encoder"},
    {"workers", KEY_INT, 1, 64, CFG(encoder_workers), "encoder threads"},
    {"batch_max", KEY_INT, 1, 1024, CFG(batch_max), "most prompts embedded in one pass"},
    {"cache_entries", KEY_SIZE, 0, 10000000, CFG(cache_entries), "prompt embeddings kept (LRU)"},
};

// How much a message says about the number a key wants.
enum want { WANT_TYPE, WANT_RANGE, WANT_WHOLE };

// What the key's value must be, for messages.
static void describe(const struct key *k, enum want what, char *want, size_t size) {
    if (k->type == KEY_STR)
        snprintf(want, size, "a non-empty string");
    else if (k->type == KEY_BOOL)
        snprintf(want, size, "true or false");
    else if (what == WANT_TYPE)
        snprintf(want, size, "a number");
    else
        snprintf(want, size, "a %snumber in [%g, %g]", what == WANT_WHOLE ? "whole " : "", k->lo,
                 k->hi);
}

// Store the number v in the key's field when it is in range (and whole where it must be);
// otherwise RL_EINVAL with want saying what was expected.
static int store_num(const struct key *k, void *base, double v, char *want, size_t want_size) {
    char *field = (char *)base + k->offset;
    if (!isfinite(v) || v < k->lo || v > k->hi) {
        describe(k, WANT_RANGE, want, want_size);
        return RL_EINVAL;
    }
    if (k->type != KEY_NUM && v != floor(v)) {
        describe(k, WANT_WHOLE, want, want_size);
        return RL_EINVAL;
    }
    switch (k->type) {
    case KEY_INT: *(int *)field = (int)v; break;
    case KEY_UNSIGNED: *(unsigned *)field = (unsigned)v; break;
    case KEY_SIZE: *(size_t *)field = (size_t)v; break;
    default: *(double *)field = v; break;
    }
    return RL_OK;
}

// Store the text of a scalar in the key's field, converted to its type. RL_EINVAL with want
// saying what was expected, or RL_ENOMEM.
static int store_text(const struct key *k, void *base, const char *text, char *want,
                      size_t want_size) {
    static const char *const yes[] = {"true", "yes", "on"}, *const no[] = {"false", "no", "off"};
    char *field = (char *)base + k->offset;
    if (k->type == KEY_STR) {
        if (*text)
            return set_str((char **)field, text);
    } else if (k->type == KEY_BOOL) {
        for (size_t i = 0; i < RL_COUNTOF(yes); i++) {
            if (strcmp(text, yes[i]) == 0 || strcmp(text, no[i]) == 0) {
                *(bool *)field = strcmp(text, yes[i]) == 0;
                return RL_OK;
            }
        }
    } else {
        char *end;
        errno = 0;
        double v = strtod(text, &end);
        if (*text && !*end && !errno)
            return store_num(k, base, v, want, want_size);
        describe(k, WANT_RANGE, want, want_size);
        return RL_EINVAL;
    }
    describe(k, WANT_TYPE, want, want_size);
    return RL_EINVAL;
}

static const struct key *find_key(const struct key *keys, size_t n, const char *name) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(keys[i].name, name) == 0)
            return &keys[i];
    return NULL;
}

#define MAX_KEYS 16 // in one table

// The names of a table's keys, in its order; returns how many.
static size_t key_names(const struct key *keys, size_t n, const char **names) {
    RL_ASSERT(n <= MAX_KEYS);
    for (size_t i = 0; i < n; i++)
        names[i] = keys[i].name;
    return n;
}

static void unknown_key(char *msg, size_t size, const char *name, const char *const *known,
                        size_t n) {
    char list[200] = "";
    size_t used = 0;
    for (size_t j = 0; j < n && used < sizeof list; j++)
        used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", j ? ", " : "", known[j]);
    snprintf(msg, size, "unknown key '%.40s' (known: %s)", name, list);
}

// ----------------------------------------------------------------------------
// Reading a file's sections

struct walk {
    struct srv_config *c;
    const char *path;
    char *errbuf;
};

static int bad(struct walk *w, const struct rl_ynode *n, const char *key, const char *what) {
    return rl__errf(w->errbuf, RL_EINVAL, "%s:%d: %s: %s", w->path, n->line, key, what);
}

static int bad_value(struct walk *w, const struct rl_ynode *n, const char *key, const char *want) {
    char msg[200];
    snprintf(msg, sizeof msg, "expected %s, got '%.60s'", want,
             n->type == RL_YAML_SCALAR ? n->value
             : n->type == RL_YAML_MAP  ? "a mapping"
                                       : "a list");
    return bad(w, n, key, msg);
}

static int want_map(struct walk *w, const struct rl_ynode *n, const char *key) {
    return n->type == RL_YAML_MAP ? RL_OK : bad_value(w, n, key, "a mapping");
}

// Every key of map must be one of the n names in `known`, once.
static int check_keys(struct walk *w, const struct rl_ynode *map, const char *where,
                      const char *const *known, size_t n) {
    for (size_t i = 0; i < map->n_kids; i += 2) {
        const char *k = map->kids[i]->value;
        bool found = false;
        for (size_t j = 0; j < n && !found; j++)
            found = strcmp(k, known[j]) == 0;
        if (!found) {
            char msg[300];
            unknown_key(msg, sizeof msg, k, known, n);
            return bad(w, map->kids[i], where, msg);
        }
        for (size_t j = 0; j < i; j += 2)
            if (strcmp(k, map->kids[j]->value) == 0)
                return bad(w, map->kids[i], where, "duplicate key");
    }
    return RL_OK;
}

// The mapping `map`, called `where` in messages, holds only keys of the table, each once.
static int check_map(struct walk *w, const struct rl_ynode *map, const char *where,
                     const struct key *keys, size_t n_keys) {
    const char *names[MAX_KEYS];
    int rc = want_map(w, map, where);
    return rc == RL_OK ? check_keys(w, map, where, names, key_names(keys, n_keys, names)) : rc;
}

// Store the values of a checked mapping into the struct at base, each converted to its type.
static int store_keys(struct walk *w, const struct rl_ynode *map, const char *where,
                      const struct key *keys, size_t n_keys, void *base) {
    int rc = RL_OK;
    for (size_t i = 0; rc == RL_OK && i < map->n_kids; i += 2) {
        const struct key *k = find_key(keys, n_keys, map->kids[i]->value);
        const struct rl_ynode *v = map->kids[i + 1];
        char key[160], want[96];
        snprintf(key, sizeof key, "%s.%s", where, k->name);
        if (v->type != RL_YAML_SCALAR) {
            describe(k, WANT_TYPE, want, sizeof want);
            rc = RL_EINVAL;
        } else {
            rc = store_text(k, base, v->value, want, sizeof want);
        }
        if (rc == RL_EINVAL)
            rc = bad_value(w, v, key, want);
    }
    return rc;
}

struct section;
typedef int (*section_reader)(struct walk *w, const struct section *sec, const struct rl_ynode *n);

// A top-level section: a mapping of keys for the whole server, or the list of models or the
// map of routers, whose items each take the keys of the table.
struct section {
    const char *name;
    section_reader read;
    const struct key *keys;
    size_t n_keys;
};

static int read_plain(struct walk *w, const struct section *sec, const struct rl_ynode *map) {
    int rc = check_map(w, map, sec->name, sec->keys, sec->n_keys);
    return rc == RL_OK ? store_keys(w, map, sec->name, sec->keys, sec->n_keys, w->c) : rc;
}

static int read_models(struct walk *w, const struct section *sec, const struct rl_ynode *list) {
    if (list->type != RL_YAML_SEQ)
        return bad_value(w, list, "models", "a list of upstream models");
    int rc = RL_OK;
    for (size_t i = 0; rc == RL_OK && i < list->n_kids; i++) {
        const struct rl_ynode *map = list->kids[i];
        char where[48];
        snprintf(where, sizeof where, "models[%zu]", i);
        rc = check_map(w, map, where, sec->keys, sec->n_keys);
        if (rc == RL_OK && w->c->n_models == SRV_MAX_MODELS)
            rc = bad(w, map, where, "more than 64 models");
        if (rc == RL_OK)
            rc = srv_config_add_model(w->c, NULL, NULL, NULL, NULL);
        if (rc != RL_OK)
            break;
        struct srv_model *m = &w->c->models[w->c->n_models - 1];
        m->line = map->line;
        rc = store_keys(w, map, where, sec->keys, sec->n_keys, m);
        if (rc == RL_OK && !m->name)
            rc = bad(w, map, where, "missing 'name'");
        if (rc == RL_OK && !m->base_url)
            rc = bad(w, map, where, "missing 'base_url'");
        if (rc == RL_OK && !m->model)
            rc = set_str(&m->model, m->name);
    }
    return rc;
}

static int read_routers(struct walk *w, const struct section *sec, const struct rl_ynode *map) {
    int rc = want_map(w, map, "routers");
    w->c->routers_given = true;
    for (size_t i = 0; rc == RL_OK && i < map->n_kids; i += 2) {
        const struct rl_ynode *kn = map->kids[i], *v = map->kids[i + 1];
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
        if (v->type == RL_YAML_SCALAR &&
            (!*v->value || strcmp(v->value, "~") == 0 || strcmp(v->value, "null") == 0))
            continue;
        rc = check_map(w, v, where, sec->keys, sec->n_keys);
        if (rc == RL_OK)
            rc = store_keys(w, v, where, sec->keys, sec->n_keys, r);
    }
    return rc;
}

static const struct section sections[] = {
    {"server", read_plain, server_keys, RL_COUNTOF(server_keys)},
    {"models", read_models, model_keys, RL_COUNTOF(model_keys)},
    {"routing", read_plain, routing_keys, RL_COUNTOF(routing_keys)},
    {"routers", read_routers, router_keys, RL_COUNTOF(router_keys)},
    {"encoder", read_plain, encoder_keys, RL_COUNTOF(encoder_keys)},
};

static const struct section *find_section(const char *name) {
    for (size_t i = 0; i < RL_COUNTOF(sections); i++)
        if (strcmp(sections[i].name, name) == 0)
            return &sections[i];
    return NULL;
}

int srv_config_load(struct srv_config *c, const char *path, char *errbuf) {
    char *text = NULL;
    size_t len = 0;
    int rc = rl_file_read(path, CONFIG_MAX_BYTES, &text, &len, errbuf);
    if (rc != RL_OK)
        return rc;
    rc = set_str(&c->path, path);
    struct rl_ynode *root = NULL;
    if (rc == RL_OK)
        rc = rl__yaml_parse(path, text, len, &root, errbuf);
    struct walk w = {c, path, errbuf};
    const char *names[RL_COUNTOF(sections)];
    for (size_t i = 0; i < RL_COUNTOF(sections); i++)
        names[i] = sections[i].name;
    if (rc == RL_OK)
        rc = check_keys(&w, root, "top level", names, RL_COUNTOF(sections));
    for (size_t i = 0; rc == RL_OK && i < root->n_kids; i += 2) {
        const struct section *sec = find_section(root->kids[i]->value);
        rc = sec->read(&w, sec, root->kids[i + 1]);
    }
    rl__ynode_free(root);
    free(text);
    return rc;
}

// ----------------------------------------------------------------------------
// Setting values without a file

// The key "<section>.<name>" of a section read straight into the config. NULL when there is
// none, with errbuf listing what there is.
static const struct key *find_setting(const char *key, char *errbuf) {
    const char *dot = strchr(key, '.');
    size_t n = dot ? (size_t)(dot - key) : strlen(key);
    const char *names[RL_COUNTOF(sections) + 1];
    size_t n_names = 0;
    char msg[300];
    for (size_t i = 0; i < RL_COUNTOF(sections); i++) {
        const struct section *sec = &sections[i];
        if (sec->read != read_plain)
            continue;
        names[n_names++] = sec->name;
        if (!dot || strlen(sec->name) != n || strncmp(sec->name, key, n) != 0)
            continue;
        const struct key *k = find_key(sec->keys, sec->n_keys, dot + 1);
        if (k)
            return k;
        const char *known[MAX_KEYS];
        unknown_key(msg, sizeof msg, dot + 1, known, key_names(sec->keys, sec->n_keys, known));
        rl__errf(errbuf, RL_EINVAL, "%s: %s", sec->name, msg);
        return NULL;
    }
    names[n_names++] = "routers";
    unknown_key(msg, sizeof msg, key, names, n_names);
    rl__errf(errbuf, RL_EINVAL, "%s", msg);
    return NULL;
}

// Replace the routers: section with the comma-separated names in list, each with its defaults.
static int set_routers(struct srv_config *c, const char *list, char *errbuf) {
    for (size_t i = 0; i < c->n_routers; i++)
        router_cfg_free(&c->routers[i]);
    c->n_routers = 0;
    for (const char *p = list; *p;) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        const char *next = p + n + (end ? 1 : 0);
        while (n && (*p == ' ' || *p == '\t')) // "mf, bert": spaces around names are dropped
            p++, n--;
        while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
            n--;
        if (n >= SRV_NAME_MAX)
            return rl__errf(errbuf, RL_EINVAL, "routers: the name '%.40s...' is over %d bytes", p,
                            SRV_NAME_MAX - 1);
        char name[SRV_NAME_MAX];
        memcpy(name, p, n);
        name[n] = '\0';
        if (n > 0 && srv_config_add_router(c, name) != RL_OK)
            return rl__errf(errbuf, RL_ENOMEM, "out of memory");
        p = next;
    }
    return RL_OK;
}

int srv_config_set(struct srv_config *c, const char *key, const char *value, char *errbuf) {
    if (strcmp(key, "routers") == 0)
        return set_routers(c, value, errbuf);
    const struct key *k = find_setting(key, errbuf);
    if (!k)
        return RL_EINVAL;
    char want[96];
    int rc = store_text(k, c, value, want, sizeof want);
    if (rc == RL_EINVAL)
        return rl__errf(errbuf, rc, "%s: expected %s, got '%.60s'", key, want, value);
    return rc == RL_OK ? RL_OK : rl__errf(errbuf, rc, "out of memory");
}

int srv_config_set_num(struct srv_config *c, const char *key, double value, char *errbuf) {
    const struct key *k = find_setting(key, errbuf);
    if (!k)
        return RL_EINVAL;
    char want[96];
    int rc = RL_EINVAL;
    if (k->type == KEY_STR || k->type == KEY_BOOL)
        describe(k, WANT_TYPE, want, sizeof want);
    else
        rc = store_num(k, c, value, want, sizeof want);
    return rc == RL_OK ? RL_OK
                       : rl__errf(errbuf, rc, "%s: expected %s, got %.17g", key, want, value);
}

int srv_config_set_api_key(struct srv_config *c, const char *key, char *errbuf) {
    for (size_t i = 0; i < c->n_models; i++)
        if (set_str(&c->models[i].api_key, key) != RL_OK)
            return rl__errf(errbuf, RL_ENOMEM, "out of memory");
    return RL_OK;
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
    if (!c->host && set_str(&c->host, SRV_DEFAULT_HOST) != RL_OK)
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
