// Fuzz target: what the proxy does with a client's request body (srv__route() in
// src/server/route.c, start_attempt() in attempt.c): parse it with srv_body_parse as the server
// does, read "model", split a router alias with srv_parse_router_model, take the routing prompt
// with srv_routing_prompt, splice upstream ids into the body with srv_body_set_model, and word
// the error answers with srv_error_body. Each result is checked against what the server promises
// its clients: the prompt is non-empty UTF-8 within SRV_MAX_PROMPT, the rewritten body is the
// same JSON object with only "model" changed, and every error body is valid JSON.
#include <stdbool.h>

#include "fuzz.h"
#include "server/server.h"

// An error answer as the server words it; it must parse back to the message given.
static void error_body(const char *message, const char *param, const char *code) {
    struct rl_buf b;
    rl_buf_init(&b, SRV_MAX_BODY);
    if (srv_error_body(&b, message, "invalid_request_error", param, code) != RL_OK)
        abort();
    json_t *j = json_loadb(b.data, b.len, JSON_REJECT_DUPLICATES, NULL);
    if (!j)
        abort(); // clients would get an error they cannot parse
    json_decref(j);
    rl_buf_free(&b);
}

// Splice `model` into the body and check that nothing else changed.
static void set_model(const uint8_t *data, size_t size, const json_t *body, const char *model) {
    struct rl_buf out;
    rl_buf_init(&out, SRV_MAX_BODY + 256);
    if (srv_body_set_model((const char *)data, size, model, &out) != RL_OK)
        abort(); // the server answers 500 to a body it has accepted
    json_t *j = json_loadb(out.data, out.len, JSON_REJECT_DUPLICATES, NULL);
    if (!j || json_object_size(j) != json_object_size(body))
        abort();
    const char *key;
    json_t *v;
    json_object_foreach(j, key, v) {
        if (strcmp(key, "model") == 0) {
            if (!json_is_string(v) || strcmp(json_string_value(v), model) != 0)
                abort();
        } else if (!json_equal(v, json_object_get(body, key))) {
            abort();
        }
    }
    json_decref(j);
    rl_buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > SRV_MAX_BODY)
        return 0; // the server refuses longer bodies with 413 before reading them
    char msg[400];
    json_t *body = srv_body_parse((const char *)data, size, msg, sizeof msg);
    if (!body) {
        error_body(msg, NULL, "invalid_json");
        return 0;
    }
    const char *name = json_string_value(json_object_get(body, "model"));
    if (!name) {
        error_body("'model' is required and must be a string", "model", "invalid_model");
        json_decref(body);
        return 0;
    }
    char router[SRV_NAME_MAX];
    double threshold = -1;
    const char *why = NULL;
    int rc = srv_parse_router_model(name, router, sizeof router, &threshold, &why);
    if (rc < 0) {
        snprintf(msg, sizeof msg, "invalid model '%.100s': %s", name, why);
        error_body(msg, "model", "invalid_model");
    } else if (rc == 0) {
        snprintf(msg, sizeof msg, "the model '%.100s' does not exist", name);
        error_body(msg, "model", "model_not_found");
    } else {
        if (!(threshold >= 0 && threshold <= 1) || strlen(router) == 0 ||
            strchr(router, '-') != NULL)
            abort();
        snprintf(msg, sizeof msg, "the router '%s' is not loaded; loaded: mf random", router);
        error_body(msg, "model", "model_not_found");
    }

    struct rl_buf prompt;
    rl_buf_init(&prompt, SRV_MAX_PROMPT + 1);
    rc = srv_routing_prompt(body, &prompt, &why);
    if (rc == RL_OK) {
        // The encoder is handed at most SRV_MAX_PROMPT bytes of whole UTF-8 characters.
        json_t *s = prompt.len <= SRV_MAX_PROMPT ? json_stringn(prompt.data, prompt.len) : NULL;
        if (!s || prompt.len == 0)
            abort();
        json_decref(s);
    } else {
        if (rc != RL_EINVAL || !why)
            abort();
        error_body(why, "messages", "invalid_messages");
    }
    rl_buf_free(&prompt);

    // A configured upstream id, and the client's own model name (any UTF-8, quotes included).
    set_model(data, size, body, "gpt-4o-mini");
    set_model(data, size, body, name);
    json_decref(body);
    return 0;
}
