// Fuzz target: the proxy's YAML configuration, read as `routellm serve --config FILE` reads it:
// srv_config_load on the bytes, srv_config_finish on what it accepted, then srv_config_free.
// Two environment variables let configs that name upstream and client keys (and header values
// that read ${RL_FUZZ_KEY}) get through finish. An accepted config is walked in full so ASan
// sees any short or dangling string, and what the server would send upstream is checked: header
// lines without CR, LF or NUL, URLs without blanks; fallback chains and routes are checked as
// finish promised: indices in range, no repeats, no chain through its own model.
#include <stdbool.h>

#include "fuzz.h"
#include "server/server.h"

static void touch(const char *s) {
    if (s)
        fuzz_sink ^= (uint8_t)s[strlen(s)];
}

// A model's headers, query, secrets and URLs: each name and value one line, each URL without a
// blank or control byte (the reader promised it).
static void touch_upstream(const struct srv_model *m) {
    touch(m->auth_header);
    for (size_t i = 0; i < m->headers.n; i++) {
        const struct srv_pair *h = &m->headers.items[i];
        touch(h->name);
        touch(h->value);
        if (!h->sent || strpbrk(h->sent, "\r\n") || strpbrk(h->name, "\r\n: "))
            abort();
    }
    for (size_t i = 0; i < m->query.n; i++) {
        touch(m->query.items[i].name);
        touch(m->query.items[i].value);
    }
    const char *secrets[SRV_MAX_SECRETS];
    size_t n = srv_model_secrets(m, secrets, RL_COUNTOF(secrets));
    for (size_t i = 0; i < n; i++)
        touch(secrets[i]);
    char *url = srv_model_url(m, "chat/completions");
    for (const char *p = url; p && *p; p++)
        if ((unsigned char)*p <= 0x20 || *p == 0x7f)
            abort();
    touch(url);
    free(url);
}

// A resolved chain: models in range, none twice, and never `self` (a cycle would bring it back).
static void check_chain(const struct srv_config *c, const struct srv_chain *ch, int self) {
    if (ch->n > c->n_models)
        abort();
    for (size_t i = 0; i < ch->n; i++) {
        if (ch->items[i] < 0 || (size_t)ch->items[i] >= c->n_models || ch->items[i] == self)
            abort();
        for (size_t j = 0; j < i; j++)
            if (ch->items[j] == ch->items[i])
                abort();
    }
}

static void touch_routes(const struct srv_config *c) {
    for (size_t i = 0; i < c->n_routes; i++) {
        const struct srv_route_cfg *r = &c->routes[i];
        touch(r->name);
        touch(r->router);
        touch(r->reference);
        if (strlen(r->name) >= SRV_NAME_MAX || strchr(r->name, ':') || r->n_candidates == 0 ||
            srv_config_model_index(c, r->name) >= 0 ||
            srv_config_route_index(c, r->name, strlen(r->name)) != (int)i)
            abort();
        for (size_t k = 0; k < r->n_candidates; k++) {
            touch(r->candidates[k].model);
            touch(r->candidates[k].as);
            if (r->models[k] != srv_config_model_index(c, r->candidates[k].model) ||
                r->models[k] < 0)
                abort();
        }
        check_chain(c, &r->chain, -1);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static bool env_set;
    if (!env_set) {
        setenv("RL_FUZZ_KEY", "sk-fuzz", 1);
        setenv("RL_FUZZ_CLIENT_KEYS", "k1,,k2,k3", 1);
        env_set = true;
    }
    char err[RL_ERRBUF_SIZE] = "";
    struct srv_config c;
    srv_config_init(&c);
    int rc = srv_config_load(&c, fuzz_file(data, size, ".yaml"), err);
    if (rc == RL_OK)
        rc = srv_config_finish(&c, err);
    if (rc != RL_OK) {
        // Every refusal explains itself.
        if (!err[0] && rc != RL_ENOMEM)
            abort();
        touch(err);
        srv_config_free(&c);
        return 0;
    }
    touch(c.host);
    touch(c.api_keys_env);
    for (size_t i = 0; i < c.n_keys; i++)
        touch(c.keys[i]);
    for (size_t i = 0; i < c.n_models; i++) {
        const struct srv_model *m = &c.models[i];
        touch(m->name);
        touch(m->base_url);
        touch(m->model);
        touch(m->api_key_env);
        touch(m->api_key);
        if (!m->members.n) // a group has no upstream of its own
            touch_upstream(m);
        if (srv_config_model_index(&c, m->name) != (int)i)
            abort(); // finish promised unique names
        check_chain(&c, &m->chain, (int)i);
        check_chain(&c, &m->context_chain, (int)i);
        check_chain(&c, &m->members, (int)i);
        for (size_t k = 0; k < m->members.n; k++)
            if (c.models[m->members.items[k]].members.n) // a group of groups
                abort();
        if (!m->members.n && !m->base_url)
            abort(); // an upstream without a URL
    }
    touch_routes(&c);
    touch(c.strong);
    touch(c.weak);
    if (srv_config_model_index(&c, c.strong) < 0 || srv_config_model_index(&c, c.weak) < 0)
        abort();
    for (size_t i = 0; i < c.n_routers; i++) {
        touch(c.routers[i].name);
        touch(c.routers[i].path);
        touch(c.routers[i].strong);
        touch(c.routers[i].weak);
        if (strlen(c.routers[i].name) >= SRV_NAME_MAX)
            abort(); // the server copies router names into SRV_NAME_MAX buffers
    }
    touch(c.encoder_dir);
    touch(c.capture_dir);
    touch(c.calibration_prompts);
    srv_config_free(&c);
    return 0;
}
