// The server's configuration: a YAML file read into a tree of nodes that keep their line
// (core/yaml.c), then checked against one table of keys per section (name, type, range, field,
// help: the schema of docs/SERVER.md), so each accepted key is written once. Every error names the
// file, the line and the key. Secrets are never read from the file: upstream and client keys
// come from environment variables the file names, and so do the parts of a model's extra
// headers written ${VAR}. The flags of src/cli/cmd_serve.c set values through the same tables
// (srv_config_set).
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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
    c->capture_max_bytes = SRV_CAPTURE_MAX_BYTES;
    c->capture_max_files = SRV_CAPTURE_MAX_FILES;
    c->dashboard = true;
}

static void pairs_free(struct srv_pairs *p) {
    for (size_t i = 0; i < p->n; i++) {
        free(p->items[i].name);
        free(p->items[i].value);
        free(p->items[i].sent);
    }
    free(p->items);
    p->items = NULL;
    p->n = 0;
}

static void secrets_free(struct srv_model *m) {
    for (size_t i = 0; i < m->n_secrets; i++)
        free(m->secrets[i]);
    free(m->secrets);
    m->secrets = NULL;
    m->n_secrets = 0;
}

static void names_free(struct srv_names *l) {
    for (size_t i = 0; i < l->n; i++)
        free(l->items[i]);
    free(l->items);
    free(l->lines);
    memset(l, 0, sizeof *l);
}

static void chain_free(struct srv_chain *ch) {
    free(ch->items);
    memset(ch, 0, sizeof *ch);
}

static void model_free(struct srv_model *m) {
    free(m->name);
    free(m->base_url);
    free(m->model);
    free(m->api_key_env);
    free(m->api_key);
    free(m->auth_header);
    pairs_free(&m->headers);
    pairs_free(&m->query);
    secrets_free(m);
    names_free(&m->fallbacks);
    names_free(&m->context_fallbacks);
    chain_free(&m->chain);
    chain_free(&m->context_chain);
    names_free(&m->deployments);
    chain_free(&m->members);
}

static void route_cfg_free(struct srv_route_cfg *r) {
    free(r->name);
    free(r->router);
    for (size_t i = 0; i < r->n_candidates; i++) {
        free(r->candidates[i].model);
        free(r->candidates[i].as);
    }
    free(r->candidates);
    free(r->reference);
    names_free(&r->fallbacks);
    chain_free(&r->chain);
    free(r->models);
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
    for (size_t i = 0; i < c->n_routes; i++)
        route_cfg_free(&c->routes[i]);
    free(c->routes);
    free(c->encoder_dir);
    free(c->capture_dir);
    free(c->calibration_prompts);
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
    m->auth = SRV_AUTH_BEARER;
    m->probe = true;
    m->cooldown_s = 30;
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

int srv_config_route_index(const struct srv_config *c, const char *name, size_t len) {
    for (size_t i = 0; i < c->n_routes; i++)
        if (strlen(c->routes[i].name) == len && memcmp(c->routes[i].name, name, len) == 0)
            return (int)i;
    return -1;
}

// ----------------------------------------------------------------------------
// The accepted keys, one table per section

// KEY_AUTH, KEY_POLICY, KEY_BALANCE and KEY_PRECISION store the index of their word in their word
// list (key_words) as an int, the value of an enum; KEY_HEADERS and KEY_QUERY read a mapping of
// names to values into a struct srv_pairs, checked as header fields or as query parameters;
// KEY_NAMES reads a list of model names into a struct srv_names; KEY_CANDIDATES reads a route's
// list of models into its candidates.
enum key_type {
    KEY_STR,
    KEY_BOOL,
    KEY_NUM,
    KEY_INT,
    KEY_UNSIGNED,
    KEY_SIZE,
    KEY_AUTH,
    KEY_POLICY,
    KEY_BALANCE,
    KEY_PRECISION,
    KEY_HEADERS,
    KEY_QUERY,
    KEY_NAMES,
    KEY_CANDIDATES,
};

// One key of a section. Numbers must lie in [lo, hi]; KEY_INT, KEY_UNSIGNED and KEY_SIZE must
// also be whole. The value is stored at `offset` in the section's struct.
struct key {
    const char *name;
    enum key_type type;
    double lo, hi;
    size_t offset;
    const char *help;
};

// The words of models[].auth, in the order of enum srv_auth.
static const char *const auth_words[] = {"bearer", "header", "none", NULL};
// The words of routes.<name>.policy, in the order of enum rl_policy_kind.
static const char *const policy_words[] = {"cheapest", "utility", NULL};
// The words of models[].balance, in the order of enum srv_balance.
static const char *const balance_words[] = {"round_robin", "least_busy", NULL};
// The words of encoder.precision, in the order of enum rl_precision.
static const char *const precision_words[] = {"fp32", "int8", NULL};

// The words of a key that takes one of a list (NULL-terminated), or NULL.
static const char *const *key_words(const struct key *k) {
    return k->type == KEY_AUTH        ? auth_words
           : k->type == KEY_POLICY    ? policy_words
           : k->type == KEY_BALANCE   ? balance_words
           : k->type == KEY_PRECISION ? precision_words
                                      : NULL;
}

#define CFG(field)    offsetof(struct srv_config, field)
#define MODEL(field)  offsetof(struct srv_model, field)
#define ROUTER(field) offsetof(struct srv_router_cfg, field)
#define ROUTE(field)  offsetof(struct srv_route_cfg, field)

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
    {"auth", KEY_AUTH, 0, 0, MODEL(auth),
     "how the key is sent: bearer (Authorization: Bearer), header (auth_header), none"},
    {"auth_header", KEY_STR, 0, 0, MODEL(auth_header),
     "the header carrying the key (auth: header)"},
    {"headers", KEY_HEADERS, 0, 0, MODEL(headers),
     "header name -> value sent with every request; ${VAR} reads an environment variable"},
    {"query", KEY_QUERY, 0, 0, MODEL(query),
     "parameter name -> value appended, URL-encoded, to every upstream URL"},
    {"probe", KEY_BOOL, 0, 0, MODEL(probe), "ask GET <base_url>/models at start"},
    {"fallbacks", KEY_NAMES, 0, 0, MODEL(fallbacks),
     "models tried in order once this one has failed, each followed by its own fallbacks"},
    {"context_fallbacks", KEY_NAMES, 0, 0, MODEL(context_fallbacks),
     "models tried in order when this one answers that the prompt is too long"},
    {"cooldown_errors", KEY_UNSIGNED, 0, 1000, MODEL(cooldown_errors),
     "requests failed in a row after which the model is skipped for cooldown_s; 0: never"},
    {"cooldown_s", KEY_NUM, 0.001, 86400, MODEL(cooldown_s), "how long a cooldown lasts"},
    {"deployments", KEY_NAMES, 0, 0, MODEL(deployments),
     "makes the model a group whose calls go to these models (its deployments)"},
    {"balance", KEY_BALANCE, 0, 0, MODEL(balance),
     "how a group spreads its calls: round_robin or least_busy"},
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

static const struct key route_keys[] = {
    {"router", KEY_STR, 0, 0, ROUTE(router), "the router that scores the candidates"},
    {"models", KEY_CANDIDATES, 0, 0, 0,
     "the candidates: model names, or name: router's name for it"},
    {"policy", KEY_POLICY, 0, 0, ROUTE(policy),
     "cheapest (within tolerance of the best quality) or utility (quality - lambda x cost)"},
    {"tolerance", KEY_NUM, 0, 1, ROUTE(tolerance), "cheapest: quality given up at most"},
    {"lambda", KEY_NUM, 0, RL_POLICY_LAMBDA_MAX, ROUTE(lambda), "utility: quality per USD"},
    {"output_tokens", KEY_NUM, 0, 1e7, ROUTE(output_tokens),
     "expected completion tokens per request, for the expected cost"},
    {"reference", KEY_STR, 0, 0, ROUTE(reference),
     "the router's model the qualities are against (default: its weak model)"},
    {"fallbacks", KEY_NAMES, 0, 0, ROUTE(fallbacks),
     "models tried once the chosen one and its own fallbacks failed"},
};

static const struct key capture_keys[] = {
    {"dir", KEY_STR, 0, 0, CFG(capture_dir),
     "folder of the capture files (capture.jsonl and its rotations); capture is off without it"},
    {"redact", KEY_BOOL, 0, 0, CFG(capture_redact),
     "write the prompt's SHA-256 instead of its text"},
    {"max_file_bytes", KEY_SIZE, 4096, 1ull << 40, CFG(capture_max_bytes),
     "the current file is rotated once it would pass this size"},
    {"max_files", KEY_UNSIGNED, 1, 100000, CFG(capture_max_files),
     "rotated files kept; older ones are deleted"},
};

static const struct key dashboard_keys[] = {
    {"enabled", KEY_BOOL, 0, 0, CFG(dashboard), "serve the dashboard page at / and /ui"},
    {"calibration_prompts", KEY_STR, 0, 0, CFG(calibration_prompts),
     "the prompt sample behind the page's threshold slider (default: the shipped Arena prompts)"},
};

static const struct key encoder_keys[] = {
    {"model_dir", KEY_STR, 0, 0, CFG(encoder_dir), "the local sentence encoder"},
    {"precision", KEY_PRECISION, 0, 0, CFG(encoder_precision),
     "the encoder's arithmetic: fp32 (the reference) or int8 (about twice as fast)"},
    {"workers", KEY_INT, 1, 64, CFG(encoder_workers), "encoder threads"},
    {"batch_max", KEY_INT, 1, 1024, CFG(batch_max), "most prompts embedded in one pass"},
    {"cache_entries", KEY_SIZE, 0, 10000000, CFG(cache_entries), "prompt embeddings kept (LRU)"},
};

// How much a message says about the number a key wants.
enum want { WANT_TYPE, WANT_RANGE, WANT_WHOLE };

// What the key's value must be, for messages.
static void describe(const struct key *k, enum want what, char *want, size_t size) {
    const char *const *words = key_words(k);
    if (words) {
        size_t used = (size_t)snprintf(want, size, "one of");
        for (size_t i = 0; words[i] && used < size; i++)
            used += (size_t)snprintf(want + used, size - used, "%s %s", i ? "," : "", words[i]);
    } else if (k->type == KEY_HEADERS || k->type == KEY_QUERY)
        snprintf(want, size, "a mapping of names to values");
    else if (k->type == KEY_NAMES)
        snprintf(want, size, "a list of model names");
    else if (k->type == KEY_CANDIDATES)
        snprintf(want, size, "a list of model names, or of name: router's name");
    else if (k->type == KEY_STR)
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
    } else if (key_words(k)) {
        for (int i = 0; key_words(k)[i]; i++) {
            if (strcmp(text, key_words(k)[i]) == 0) {
                *(int *)field = i;
                return RL_OK;
            }
        }
    } else if (k->type == KEY_HEADERS || k->type == KEY_QUERY || k->type == KEY_NAMES ||
               k->type == KEY_CANDIDATES) {
        // A mapping or a list, never a scalar: falls through to the type message.
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

#define MAX_KEYS 24 // in one table

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

// ----------------------------------------------------------------------------
// A model's extra headers and query parameters

// Fields the proxy sets itself, or that would change how the request is framed or encoded:
// neither headers: nor auth_header may name them.
static const char *const reserved_headers[] = {
    "Host",         "Content-Length",  "Transfer-Encoding",
    "Connection",   "Keep-Alive",      "Upgrade",
    "TE",           "Trailer",         "Expect",
    "Content-Type", "Accept-Encoding", "Proxy-Connection",
};

static bool is_letter_(char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_';
}

// Why name cannot be a header the proxy sends, or NULL when it can: RFC 9110's token
// characters, at most SRV_HEADER_NAME_MAX bytes, and not reserved.
static const char *header_name_problem(const char *name) {
    static const char tchar[] = "!#$%&'*+-.^_`|~";
    size_t n = strlen(name);
    if (n == 0 || n > SRV_HEADER_NAME_MAX)
        return "a header name has 1 to 64 characters";
    for (size_t i = 0; i < n; i++) {
        char ch = name[i];
        if (!is_letter_(ch) && !(ch >= '0' && ch <= '9') && !strchr(tchar, ch))
            return "not a header name (letters, digits and !#$%&'*+-.^_`|~ only)";
    }
    for (size_t i = 0; i < RL_COUNTOF(reserved_headers); i++)
        if (strcasecmp(name, reserved_headers[i]) == 0)
            return "the proxy sets this header itself, or it would change how the request is "
                   "framed";
    return NULL;
}

// The length of NAME when p, which starts with "${", opens a reference ${NAME} (letters, digits
// and _, not starting with a digit, at most 127 bytes); 0 when it does not.
static size_t ref_len(const char *p) {
    const char *q = p + 2;
    size_t n = 0;
    while (is_letter_(q[n]) || (n > 0 && q[n] >= '0' && q[n] <= '9'))
        n++;
    return n > 0 && n < 128 && q[n] == '}' ? n : 0;
}

// A byte that may not be in a header line: every control character but HTAB (CR, LF and NUL
// included: they would end or split the line).
static bool is_ctl(char ch) {
    return ((unsigned char)ch < 0x20 && ch != '\t') || ch == 0x7f;
}

static bool has_ctl(const char *s) {
    for (; s && *s; s++)
        if (is_ctl(*s))
            return true;
    return false;
}

// Why value cannot be sent as written, or NULL when it can. A header value is one line without
// surrounding blanks, whose ${NAME} references are counted into *n_refs; a query value is
// encoded, so only control characters are refused, and it reads no variable.
static const char *value_problem(const char *value, bool header, size_t *n_refs) {
    size_t n = strlen(value);
    if (n == 0)
        return "expected a non-empty string";
    if (n > SRV_HEADER_VALUE_MAX)
        return "longer than 4096 bytes";
    for (size_t i = 0; i < n; i++) {
        if (is_ctl(value[i]))
            return "holds a control character (CR, LF, NUL or another below 0x20)";
        if (value[i] != '$' || value[i + 1] != '{')
            continue;
        if (!header)
            return "query values cannot read environment variables, since URLs end up in "
                   "logs: send secrets in headers:";
        size_t len = ref_len(value + i);
        if (len == 0)
            return "'${' must open a reference ${NAME} (letters, digits and _, not starting "
                   "with a digit)";
        ++*n_refs;
        i += len + 2;
    }
    if (header &&
        (value[0] == ' ' || value[0] == '\t' || value[n - 1] == ' ' || value[n - 1] == '\t'))
        return "starts or ends with a space or tab";
    return NULL;
}

// Read the mapping `map` of names to values (KEY_HEADERS or KEY_QUERY) into out, checking each
// entry as the type wants; `where` is the key, e.g. "models[0].headers".
static int read_pairs(struct walk *w, const struct rl_ynode *map, const char *where,
                      enum key_type type, struct srv_pairs *out) {
    bool header = type == KEY_HEADERS;
    size_t max = header ? SRV_MAX_HEADERS : SRV_MAX_QUERY, n_refs = 0;
    if (map->type != RL_YAML_MAP)
        return bad_value(w, map, where, "a mapping of names to values");
    if (map->n_kids / 2 > max)
        return bad(w, map->kids[2 * max], where,
                   header ? "more than 32 headers" : "more than 32 query parameters");
    pairs_free(out);
    out->items = calloc(map->n_kids / 2 + 1, sizeof *out->items);
    if (!out->items)
        return rl__errf(w->errbuf, RL_ENOMEM, "out of memory");
    for (size_t i = 0; i < map->n_kids; i += 2) {
        const struct rl_ynode *kn = map->kids[i], *v = map->kids[i + 1];
        char what[240];
        snprintf(what, sizeof what, "%.160s.%.64s", where, kn->value);
        const char *why = NULL;
        if (header)
            why = header_name_problem(kn->value);
        else if (!*kn->value || strlen(kn->value) > SRV_HEADER_NAME_MAX)
            why = "a parameter name has 1 to 64 characters";
        for (const char *p = kn->value; !why && *p; p++)
            if (is_ctl(*p))
                why = "the name holds a control character";
        for (size_t j = 0; !why && header && j < i; j += 2)
            if (strcasecmp(kn->value, map->kids[j]->value) == 0)
                why = "given twice (header names ignore case)";
        if (why)
            return bad(w, kn, what, why);
        if (v->type != RL_YAML_SCALAR)
            return bad_value(w, v, what, "a non-empty string");
        why = value_problem(v->value, header, &n_refs);
        if (!why && n_refs > SRV_MAX_HEADERS)
            why = "more than 32 ${NAME} references in one model's headers";
        if (why)
            return bad(w, v, what, why);
        struct srv_pair *pr = &out->items[out->n];
        pr->name = strdup(kn->value);
        pr->value = strdup(v->value);
        pr->line = kn->line;
        out->n++;
        if (!pr->name || !pr->value)
            return rl__errf(w->errbuf, RL_ENOMEM, "out of memory");
    }
    return RL_OK;
}

// Copy the scalar n into *dst as a model name of `where`: non-empty, at most SRV_NAME_MAX - 1
// bytes (srv_config_finish checks that it names a model).
static int read_name(struct walk *w, const struct rl_ynode *n, const char *where, char **dst) {
    if (n->type != RL_YAML_SCALAR || !*n->value)
        return bad_value(w, n, where, "a model name");
    if (strlen(n->value) >= SRV_NAME_MAX)
        return bad(w, n, where, "a model name is at most 63 bytes");
    return set_str(dst, n->value) == RL_OK ? RL_OK
                                           : rl__errf(w->errbuf, RL_ENOMEM, "out of memory");
}

// Read a list of model names (KEY_NAMES) into out, at most SRV_MAX_MODELS of them.
static int read_names(struct walk *w, const struct rl_ynode *list, const char *where,
                      struct srv_names *out) {
    if (list->type != RL_YAML_SEQ)
        return bad_value(w, list, where, "a list of model names");
    if (list->n_kids > SRV_MAX_MODELS)
        return bad(w, list->kids[SRV_MAX_MODELS], where, "more than 64 names");
    names_free(out);
    out->items = calloc(list->n_kids + 1, sizeof *out->items);
    out->lines = calloc(list->n_kids + 1, sizeof *out->lines);
    if (!out->items || !out->lines)
        return rl__errf(w->errbuf, RL_ENOMEM, "out of memory");
    for (size_t i = 0; i < list->n_kids; i++) {
        int rc = read_name(w, list->kids[i], where, &out->items[i]);
        if (rc != RL_OK)
            return rc;
        out->lines[i] = list->kids[i]->line;
        out->n++;
    }
    return RL_OK;
}

// Read a route's list of models (KEY_CANDIDATES): each item a model name, or a mapping of one
// model name to the router's name for it.
static int read_candidates(struct walk *w, const struct rl_ynode *list, const char *where,
                           struct srv_route_cfg *r) {
    if (list->type != RL_YAML_SEQ || list->n_kids == 0)
        return bad_value(w, list, where, "a non-empty list of model names");
    if (list->n_kids > SRV_MAX_MODELS)
        return bad(w, list->kids[SRV_MAX_MODELS], where, "more than 64 models");
    r->candidates = calloc(list->n_kids, sizeof *r->candidates);
    if (!r->candidates)
        return rl__errf(w->errbuf, RL_ENOMEM, "out of memory");
    for (size_t i = 0; i < list->n_kids; i++) {
        const struct rl_ynode *item = list->kids[i];
        struct srv_candidate *cand = &r->candidates[r->n_candidates++];
        cand->line = item->line;
        if (item->type == RL_YAML_MAP && item->n_kids != 2)
            return bad(w, item, where,
                       "an item is a model name, or one 'name: router's name for it'");
        int rc = item->type == RL_YAML_MAP ? read_name(w, item->kids[0], where, &cand->model)
                                           : read_name(w, item, where, &cand->model);
        if (rc == RL_OK && item->type == RL_YAML_MAP)
            rc = read_name(w, item->kids[1], where, &cand->as);
        if (rc != RL_OK)
            return rc;
    }
    return RL_OK;
}

// The key node of `key` in a mapping, or NULL.
static const struct rl_ynode *map_key(const struct rl_ynode *map, const char *key) {
    for (size_t i = 0; i < map->n_kids; i += 2)
        if (strcmp(map->kids[i]->value, key) == 0)
            return map->kids[i];
    return NULL;
}

// The model's auth, auth_header and headers agree: auth: header names its header, which is a
// header the proxy may send; and the header the key travels in is not also given in headers:.
static int check_auth(struct walk *w, const struct rl_ynode *map, const char *where,
                      const struct srv_model *m) {
    char what[128];
    const struct rl_ynode *kn = map_key(map, "auth_header");
    snprintf(what, sizeof what, "%s.auth_header", where);
    if (m->auth == SRV_AUTH_HEADER && !m->auth_header)
        return bad(w, map_key(map, "auth"), what,
                   "auth: header needs auth_header, the header that carries the key "
                   "(e.g. api-key)");
    if (m->auth != SRV_AUTH_HEADER && m->auth_header)
        return bad(w, kn, what, "only used with auth: header");
    const char *why = m->auth_header ? header_name_problem(m->auth_header) : NULL;
    if (why)
        return bad(w, kn, what, why);
    const char *key_header = m->auth == SRV_AUTH_BEARER   ? "Authorization"
                             : m->auth == SRV_AUTH_HEADER ? m->auth_header
                                                          : NULL;
    for (size_t i = 0; key_header && i < m->headers.n; i++) {
        const struct srv_pair *h = &m->headers.items[i];
        if (strcasecmp(h->name, key_header) != 0)
            continue;
        snprintf(what, sizeof what, "%.48s.headers.%.64s", where, h->name);
        return rl__errf(w->errbuf, RL_EINVAL,
                        "%s:%d: %s: auth: %s sends this header with the key; write auth: none "
                        "to send your own",
                        w->path, h->line, what, auth_words[m->auth]);
    }
    return RL_OK;
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
        if (k->type == KEY_HEADERS || k->type == KEY_QUERY) {
            rc = read_pairs(w, v, key, k->type, (struct srv_pairs *)((char *)base + k->offset));
            continue;
        }
        if (k->type == KEY_NAMES) {
            rc = read_names(w, v, key, (struct srv_names *)((char *)base + k->offset));
            continue;
        }
        if (k->type == KEY_CANDIDATES) {
            rc = read_candidates(w, v, key, base);
            continue;
        }
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

// The keys of one upstream, which a group of deployments does not have.
static const char *const group_refuses[] = {"base_url",    "model",   "api_key_env", "auth",
                                            "auth_header", "headers", "query",       "probe"};

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
        bool group = map_key(map, "deployments") != NULL;
        if (rc == RL_OK && !m->base_url && !group)
            rc = bad(w, map, where, "missing 'base_url'");
        for (size_t k = 0; rc == RL_OK && group && k < RL_COUNTOF(group_refuses); k++)
            if (map_key(map, group_refuses[k]))
                rc = bad(w, map_key(map, group_refuses[k]), where,
                         "a model with deployments calls them: it takes no upstream keys of its "
                         "own (base_url, model, api_key_env, auth, auth_header, headers, query, "
                         "probe)");
        if (rc == RL_OK && !group && map_key(map, "balance"))
            rc = bad(w, map_key(map, "balance"), where, "balance goes with deployments");
        if (rc == RL_OK)
            rc = check_auth(w, map, where, m);
        if (rc == RL_OK && !m->model)
            rc = set_str(&m->model, m->name);
        if (group)
            m->probe = false;
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

static int read_routes(struct walk *w, const struct section *sec, const struct rl_ynode *map) {
    int rc = want_map(w, map, "routes");
    for (size_t i = 0; rc == RL_OK && i < map->n_kids; i += 2) {
        const struct rl_ynode *kn = map->kids[i], *v = map->kids[i + 1];
        char where[96];
        snprintf(where, sizeof where, "routes.%.60s", kn->value);
        if (i / 2 == SRV_MAX_ROUTES)
            return bad(w, kn, "routes", "more than 64 routes");
        struct srv_route_cfg *grown =
            realloc(w->c->routes, (w->c->n_routes + 1) * sizeof *w->c->routes);
        if (!grown)
            return rl__errf(w->errbuf, RL_ENOMEM, "out of memory");
        w->c->routes = grown;
        struct srv_route_cfg *r = &w->c->routes[w->c->n_routes++];
        memset(r, 0, sizeof *r);
        r->line = kn->line;
        r->policy = RL_POLICY_CHEAPEST;
        r->tolerance = 0.05;
        r->lambda = NAN;
        r->output_tokens = 256;
        if (set_str(&r->name, kn->value) != RL_OK)
            return rl__errf(w->errbuf, RL_ENOMEM, "out of memory");
        rc = check_map(w, v, where, sec->keys, sec->n_keys);
        if (rc == RL_OK)
            rc = store_keys(w, v, where, sec->keys, sec->n_keys, r);
        if (rc == RL_OK && !r->router)
            rc = bad(w, kn, where, "missing 'router'");
        if (rc == RL_OK && !r->candidates)
            rc = bad(w, kn, where, "missing 'models'");
        if (rc == RL_OK && r->policy == RL_POLICY_UTILITY && isnan(r->lambda))
            rc = bad(w, kn, where, "policy: utility needs lambda (quality per USD)");
        if (rc == RL_OK && r->policy == RL_POLICY_CHEAPEST && !isnan(r->lambda))
            rc = bad(w, map_key(v, "lambda"), where, "lambda goes with policy: utility");
    }
    return rc;
}

static const struct section sections[] = {
    {"server", read_plain, server_keys, RL_COUNTOF(server_keys)},
    {"models", read_models, model_keys, RL_COUNTOF(model_keys)},
    {"routing", read_plain, routing_keys, RL_COUNTOF(routing_keys)},
    {"routers", read_routers, router_keys, RL_COUNTOF(router_keys)},
    {"routes", read_routes, route_keys, RL_COUNTOF(route_keys)},
    {"encoder", read_plain, encoder_keys, RL_COUNTOF(encoder_keys)},
    {"capture", read_plain, capture_keys, RL_COUNTOF(capture_keys)},
    {"dashboard", read_plain, dashboard_keys, RL_COUNTOF(dashboard_keys)},
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
    if (has_ctl(key))
        return rl__errf(errbuf, RL_EINVAL, "--api-key: the key holds a control character");
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

// Like where_errf, with any format.
static int model_errf(const struct srv_config *c, char *errbuf, int line, const char *fmt, ...)
    RL_PRINTF(4, 5);
static int model_errf(const struct srv_config *c, char *errbuf, int line, const char *fmt, ...) {
    char msg[RL_ERRBUF_SIZE];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return where_errf(c, errbuf, line, "%s%s", msg, "");
}

// Read the ${NAME} references of each header value from the environment into its `sent` text,
// and keep every value read as a secret of the model (masked like its key). An unset or empty
// variable, or one holding a control character, is an error naming the header and the
// variable, never the value.
static int expand_headers(const struct srv_config *c, struct srv_model *m, char *errbuf) {
    secrets_free(m);
    m->secrets = calloc(SRV_MAX_HEADERS, sizeof *m->secrets);
    if (!m->secrets)
        return RL_ENOMEM;
    for (size_t i = 0; i < m->headers.n; i++) {
        struct srv_pair *h = &m->headers.items[i];
        struct rl_buf b;
        rl_buf_init(&b, SRV_HEADER_VALUE_MAX);
        int rc = RL_OK;
        for (const char *p = h->value; *p && rc == RL_OK;) {
            size_t n = p[0] == '$' && p[1] == '{' ? ref_len(p) : 0;
            if (n == 0) {
                rc = rl_buf_append(&b, p++, 1);
                continue;
            }
            char var[128];
            snprintf(var, sizeof var, "%.*s", (int)n, p + 2);
            p += n + 3;
            const char *v = getenv(var);
            bool ctl = has_ctl(v);
            if (!v || !*v || ctl) {
                rl_buf_free(&b);
                return model_errf(
                    c, errbuf, h->line, "model %s: headers.%.64s: the environment variable %s %s",
                    m->name, h->name, var,
                    ctl ? "holds a control character (a header is one line)" : "is not set");
            }
            // read_pairs allows at most SRV_MAX_HEADERS references per model.
            char *copy = m->n_secrets < SRV_MAX_HEADERS ? strdup(v) : NULL;
            if (!copy) {
                rl_buf_free(&b);
                return RL_ENOMEM;
            }
            m->secrets[m->n_secrets++] = copy;
            rc = rl_buf_append(&b, v, strlen(v));
        }
        if (rc == RL_ETOOBIG)
            return model_errf(c, errbuf, h->line,
                              "model %s: headers.%.64s: longer than %d bytes once its variables "
                              "are read",
                              m->name, h->name, SRV_HEADER_VALUE_MAX);
        if (rc != RL_OK)
            return rc;
        free(h->sent);
        h->sent = rl_buf_take(&b, NULL);
    }
    return RL_OK;
}

// ----------------------------------------------------------------------------
// Fallback chains and routes

static bool chain_has(const struct srv_chain *ch, int model) {
    for (size_t i = 0; i < ch->n; i++)
        if (ch->items[i] == model)
            return true;
    return false;
}

static int chain_init(struct srv_chain *ch) {
    chain_free(ch);
    ch->items = calloc(SRV_MAX_MODELS, sizeof *ch->items);
    return ch->items ? RL_OK : RL_ENOMEM;
}

// Append to ch the fallbacks (or context fallbacks) of model `owner`, each followed depth first
// by its own, skipping models already on it. A list that names `origin`, the model whose chain
// this is, closes a cycle: an error naming the line. The depth is bounded by the model count,
// since each level adds a model.
static int chain_follow(const struct srv_config *c, int origin, int owner, bool context,
                        struct srv_chain *ch, char *errbuf) {
    const struct srv_model *om = &c->models[owner];
    const struct srv_names *list = context ? &om->context_fallbacks : &om->fallbacks;
    const char *key = context ? "context_fallbacks" : "fallbacks";
    for (size_t i = 0; i < list->n; i++) {
        int m = srv_config_model_index(c, list->items[i]);
        if (m < 0)
            return model_errf(c, errbuf, list->lines[i], "model %s: %s: no model is named '%s'",
                              om->name, key, list->items[i]);
        if (m == origin)
            return model_errf(c, errbuf, list->lines[i],
                              "model %s: %s: '%s' leads back to %s, a cycle", om->name, key,
                              list->items[i], c->models[origin].name);
        if (chain_has(ch, m))
            continue;
        ch->items[ch->n++] = m;
        int rc = chain_follow(c, origin, m, context, ch, errbuf);
        if (rc != RL_OK)
            return rc;
    }
    return RL_OK;
}

// Each group's deployments: known models that are not groups, each once.
static int resolve_groups(struct srv_config *c, char *errbuf) {
    for (size_t i = 0; i < c->n_models; i++) {
        struct srv_model *m = &c->models[i];
        if (!m->deployments.n)
            continue;
        if (chain_init(&m->members) != RL_OK)
            return RL_ENOMEM;
        for (size_t k = 0; k < m->deployments.n; k++) {
            int d = srv_config_model_index(c, m->deployments.items[k]);
            const char *why = d < 0                        ? "no model is named '%s'"
                              : c->models[d].deployments.n ? "'%s' is a group itself"
                              : chain_has(&m->members, d)  ? "'%s' is given twice"
                                                           : NULL;
            if (why) {
                char msg[128];
                snprintf(msg, sizeof msg, why, m->deployments.items[k]);
                return model_errf(c, errbuf, m->deployments.lines[k], "model %s: deployments: %s",
                                  m->name, msg);
            }
            m->members.items[m->members.n++] = d;
        }
    }
    return RL_OK;
}

static int resolve_chains(struct srv_config *c, char *errbuf) {
    for (size_t i = 0; i < c->n_models; i++) {
        struct srv_model *m = &c->models[i];
        int rc = chain_init(&m->chain);
        if (rc == RL_OK)
            rc = chain_init(&m->context_chain);
        if (rc == RL_OK)
            rc = chain_follow(c, (int)i, (int)i, false, &m->chain, errbuf);
        if (rc == RL_OK)
            rc = chain_follow(c, (int)i, (int)i, true, &m->context_chain, errbuf);
        if (rc != RL_OK)
            return rc;
    }
    return RL_OK;
}

// A route's name is what clients send as `model`: unique among routes and models, not a router
// alias, and without ':' (which separates a policy written into the model string).
static int check_route(struct srv_config *c, size_t k, char *errbuf) {
    struct srv_route_cfg *r = &c->routes[k];
    if (!name_ok(r->name, true) || strchr(r->name, ':') || strncmp(r->name, "router-", 7) == 0)
        return model_errf(c, errbuf, r->line,
                          "route name '%.60s' must use letters, digits and _ . - / and must "
                          "not start with 'router-'",
                          r->name);
    if (srv_config_model_index(c, r->name) >= 0)
        return model_errf(c, errbuf, r->line, "route %s: a model has the same name", r->name);
    for (size_t j = 0; j < k; j++)
        if (strcmp(c->routes[j].name, r->name) == 0)
            return model_errf(c, errbuf, r->line, "route '%s' is given twice", r->name);
    free(r->models);
    r->models = calloc(r->n_candidates, sizeof *r->models);
    if (!r->models || chain_init(&r->chain) != RL_OK)
        return RL_ENOMEM;
    for (size_t i = 0; i < r->n_candidates; i++) {
        const struct srv_candidate *cand = &r->candidates[i];
        r->models[i] = srv_config_model_index(c, cand->model);
        if (r->models[i] < 0)
            return model_errf(c, errbuf, cand->line, "route %s: models: no model is named '%s'",
                              r->name, cand->model);
        for (size_t j = 0; j < i; j++)
            if (r->models[j] == r->models[i])
                return model_errf(c, errbuf, cand->line, "route %s: models: '%s' is given twice",
                                  r->name, cand->model);
    }
    for (size_t i = 0; i < r->fallbacks.n; i++) {
        int m = srv_config_model_index(c, r->fallbacks.items[i]);
        if (m < 0)
            return model_errf(c, errbuf, r->fallbacks.lines[i],
                              "route %s: fallbacks: no model is named '%s'", r->name,
                              r->fallbacks.items[i]);
        const struct srv_chain *own = &c->models[m].chain;
        for (size_t j = 0; j <= own->n; j++) {
            int next = j == 0 ? m : own->items[j - 1];
            if (!chain_has(&r->chain, next))
                r->chain.items[r->chain.n++] = next;
        }
    }
    return RL_OK;
}

size_t srv_model_secrets(const struct srv_model *m, const char **out, size_t max) {
    size_t n = 0;
    if (m->api_key && n < max)
        out[n++] = m->api_key;
    for (size_t i = 0; i < m->n_secrets && n < max; i++)
        out[n++] = m->secrets[i];
    return n;
}

// Append s percent-encoded: RFC 3986's unreserved characters stay, every other byte is %XX.
static int append_encoded(struct rl_buf *b, const char *s) {
    static const char hex[] = "0123456789ABCDEF";
    int rc = RL_OK;
    for (const char *p = s; *p && rc == RL_OK; p++) {
        char ch = *p;
        bool plain =
            is_letter_(ch) || (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '~';
        char esc[3] = {'%', hex[(unsigned char)ch >> 4], hex[(unsigned char)ch & 15]};
        rc = plain ? rl_buf_append(b, p, 1) : rl_buf_append(b, esc, 3);
    }
    return rc;
}

char *srv_model_url(const struct srv_model *m, const char *path) {
    size_t n = strlen(m->base_url);
    while (n && m->base_url[n - 1] == '/')
        n--;
    struct rl_buf b;
    rl_buf_init(&b, 1u << 20);
    int rc = rl_buf_appendf(&b, "%.*s/%s", (int)n, m->base_url, path);
    for (size_t i = 0; rc == RL_OK && i < m->query.n; i++) {
        rc = rl_buf_append(&b, i ? "&" : "?", 1);
        if (rc == RL_OK)
            rc = append_encoded(&b, m->query.items[i].name);
        if (rc == RL_OK)
            rc = rl_buf_append(&b, "=", 1);
        if (rc == RL_OK)
            rc = append_encoded(&b, m->query.items[i].value);
    }
    return rc == RL_OK ? rl_buf_take(&b, NULL) : NULL;
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
        for (size_t j = 0; j < i; j++)
            if (strcmp(c->models[j].name, m->name) == 0)
                return where_errf(c, errbuf, m->line, "model name '%s' is used twice%s", m->name,
                                  "");
        if (m->deployments.n) // a group: no URL of its own; resolve_groups checks its members
            continue;
        if (strncmp(m->base_url, "http://", 7) != 0 && strncmp(m->base_url, "https://", 8) != 0)
            return where_errf(c, errbuf, m->line,
                              "model %s: base_url must start with http:// or https://, got '%.80s'",
                              m->name, m->base_url);
        // Paths are appended to base_url, and query: after them: a query or fragment written
        // into base_url would end up in the middle of the URL.
        bool clean = true;
        for (const char *p = m->base_url; *p; p++)
            clean &= (unsigned char)*p > 0x20 && *p != 0x7f && *p != '?' && *p != '#';
        if (!clean)
            return where_errf(c, errbuf, m->line,
                              "model %s: base_url must not hold '?', '#', blanks or control "
                              "characters (give query parameters in query:), got '%.80s'",
                              m->name, m->base_url);
        if (m->api_key_env) {
            const char *key = getenv(m->api_key_env);
            if (!key || !*key)
                return where_errf(c, errbuf, m->line,
                                  "model %s: the environment variable %s (api_key_env) is not set",
                                  m->name, m->api_key_env);
            // The key goes into a header line: a CR or LF in it would add lines of its own.
            if (has_ctl(key))
                return where_errf(c, errbuf, m->line,
                                  "model %s: the environment variable %s (api_key_env) holds a "
                                  "control character",
                                  m->name, m->api_key_env);
            if (set_str(&m->api_key, key) != RL_OK)
                return RL_ENOMEM;
        }
        int rc = expand_headers(c, m, errbuf);
        if (rc != RL_OK)
            return rc;
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
    int rc = resolve_groups(c, errbuf);
    if (rc == RL_OK)
        rc = resolve_chains(c, errbuf);
    for (size_t i = 0; rc == RL_OK && i < c->n_routes; i++)
        rc = check_route(c, i, errbuf);
    if (rc != RL_OK)
        return rc == RL_ENOMEM ? rl__errf(errbuf, rc, "out of memory") : rc;
    if (c->api_keys_env)
        return read_client_keys(c, errbuf);
    return RL_OK;
}
