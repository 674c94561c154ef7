// Fuzz target: what the proxy does with a client's request body (srv__route() in
// src/server/route.c, start_attempt() in attempt.c, srv__embeddings() in embeddings.c): parse it
// with srv_body_parse as the server does, read "model", split a router alias with
// srv_parse_router_model, take the routing prompt as a chat body (srv_routing_prompt) and as a
// completions body (srv_completion_prompt), splice upstream ids into the body with
// srv_body_set_model, check it as an embeddings request (srv_embeddings_parse) and write the
// answer to an accepted one (srv_embeddings_answer), and word the error answers with
// srv_error_body. Each result is checked against what the server promises its clients: a prompt
// is non-empty UTF-8 within SRV_MAX_PROMPT, the rewritten body is the same JSON object with only
// "model" changed, an accepted embeddings request holds 1 to SRV_MAX_EMBED_INPUTS non-empty
// texts within SRV_MAX_EMBED_INPUT bytes and its answer is JSON with one entry per text, and
// every error body is valid JSON.
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

// Take a prompt with `take` (srv_routing_prompt or srv_completion_prompt) and check it.
static void routing_prompt(const json_t *body,
                           int (*take)(const json_t *, struct rl_buf *, const char **),
                           const char *param, const char *code) {
    struct rl_buf prompt;
    rl_buf_init(&prompt, SRV_MAX_PROMPT + 1);
    const char *why = NULL;
    int rc = take(body, &prompt, &why);
    if (rc == RL_OK) {
        // The encoder is handed at most SRV_MAX_PROMPT bytes of whole UTF-8 characters.
        json_t *s = prompt.len <= SRV_MAX_PROMPT ? json_stringn(prompt.data, prompt.len) : NULL;
        if (!s || prompt.len == 0)
            abort();
        json_decref(s);
    } else {
        if (rc != RL_EINVAL || !why)
            abort();
        error_body(why, param, code);
    }
    rl_buf_free(&prompt);
}

// The body as an embeddings request to a 4-wide encoder named "enc": accepted with sound texts
// and an answer that parses back, or refused with a 400 or 404 and a message.
static void embeddings(const json_t *body) {
    enum { DIM = 4 };
    struct srv_embeddings_req r;
    struct srv_refusal why = {0};
    if (srv_embeddings_parse(body, "enc", DIM, &r, &why) != RL_OK) {
        if ((why.status != 400 && why.status != 404) || !why.code || !why.message[0])
            abort();
        error_body(why.message, why.param, why.code);
        return;
    }
    if (r.n < 1 || r.n > SRV_MAX_EMBED_INPUTS)
        abort();
    for (size_t i = 0; i < r.n; i++) {
        size_t len = 0;
        const char *text = srv_embeddings_input(&r, i, &len);
        if (!text || len == 0 || len > SRV_MAX_EMBED_INPUT || strlen(text) != len)
            abort(); // the encoder reads NUL-terminated texts
    }
    float *emb = malloc(r.n * DIM * sizeof *emb);
    if (!emb)
        abort();
    for (size_t k = 0; k < r.n * DIM; k++)
        emb[k] = (float)k / 7.0f - 100.0f;
    struct rl_buf out;
    rl_buf_init(&out, srv_embeddings_answer_max(r.n, DIM, "enc"));
    if (srv_embeddings_answer(&out, emb, r.n, DIM, r.base64, "enc", 1) != RL_OK)
        abort();
    json_t *j = json_loadb(out.data, out.len, JSON_REJECT_DUPLICATES, NULL);
    if (!j || json_array_size(json_object_get(j, "data")) != r.n)
        abort();
    json_decref(j);
    rl_buf_free(&out);
    free(emb);
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
    embeddings(body);
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

    routing_prompt(body, srv_routing_prompt, "messages", "invalid_messages");
    routing_prompt(body, srv_completion_prompt, "prompt", "invalid_prompt");

    // A configured upstream id, and the client's own model name (any UTF-8, quotes included).
    set_model(data, size, body, "gpt-4o-mini");
    set_model(data, size, body, name);
    json_decref(body);
    return 0;
}
