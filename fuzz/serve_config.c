// Fuzz target: the proxy's YAML configuration, read as `routellm serve --config FILE` reads it:
// srv_config_load on the bytes, srv_config_finish on what it accepted, then srv_config_free.
// Two environment variables let configs that name upstream and client keys get through
// finish. An accepted config is walked in full so ASan sees any short or dangling string.
#include <stdbool.h>

#include "fuzz.h"
#include "server/server.h"

static void touch(const char *s) {
    if (s)
        fuzz_sink ^= (uint8_t)s[strlen(s)];
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
        if (srv_config_model_index(&c, m->name) != (int)i)
            abort(); // finish promised unique names
    }
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
    srv_config_free(&c);
    return 0;
}
