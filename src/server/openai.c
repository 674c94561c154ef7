// The OpenAI side of the proxy: router model names, the routing prompt of chat and completions
// bodies, the one-field rewrite of request bodies, embeddings requests and answers, error bodies,
// token usage and client keys. Bodies are parsed with jansson to
// validate them and read fields, but the bytes forwarded upstream are the client's own with only
// the value of "model" spliced in, so numbers, key order and unknown fields travel unchanged.
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "server/server.h"

// ----------------------------------------------------------------------------
// Request bodies

// An upper bound on the values and keys jansson would allocate for body: every '[', '{', ',' and
// ':' outside strings starts at most one more. Counted before parsing, it bounds the parse's
// memory by the count rather than by the body's shape (a 4 MiB array of 2 million 1s costs
// jansson about 90 MB).
static size_t json_node_bound(const char *body, size_t len) {
    size_t n = 1;
    bool in_string = false;
    for (size_t i = 0; i < len; i++) {
        char ch = body[i];
        if (in_string) {
            if (ch == '\\')
                i++;
            else if (ch == '"')
                in_string = false;
        } else if (ch == '"') {
            in_string = true;
        } else if (ch == '[' || ch == '{' || ch == ',' || ch == ':') {
            n++;
        }
    }
    return n;
}

json_t *srv_body_parse(const char *body, size_t len, char *msg, size_t msg_size) {
    // JSON text has no raw NUL byte anywhere, but jansson skips one that follows a number or a
    // literal, and the body rewrite (srv_body_set_model) would then stop at it.
    if (memchr(body, '\0', len)) {
        snprintf(msg, msg_size, "the body is not valid JSON: it contains a NUL byte");
        return NULL;
    }
    if (json_node_bound(body, len) > SRV_MAX_JSON_NODES) {
        snprintf(msg, msg_size, "the body has more than %u JSON values and keys",
                 (unsigned)SRV_MAX_JSON_NODES);
        return NULL;
    }
    json_error_t jerr;
    json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!j) {
        snprintf(msg, msg_size, "the body is not valid JSON: %s (line %d, column %d)", jerr.text,
                 jerr.line, jerr.column);
        return NULL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        snprintf(msg, msg_size, "the body must be a JSON object");
        return NULL;
    }
    return j;
}

// ----------------------------------------------------------------------------
// Model names

bool srv_parse_number(const char *t, double *v) {
    // Only the characters of a plain decimal number: strtod alone would also take "nan",
    // "inf", hex floats and leading spaces.
    bool digit = false;
    for (const char *p = t; *p; p++) {
        if (*p >= '0' && *p <= '9')
            digit = true;
        else if (!strchr(".eE+-", *p))
            return false;
    }
    char *end;
    errno = 0;
    *v = digit ? strtod(t, &end) : NAN;
    return digit && !*end && !errno && isfinite(*v);
}

int srv_parse_router_model(const char *name, char *router, size_t router_size, double *threshold,
                           const char **why) {
    static const char prefix[] = "router-";
    if (strncmp(name, prefix, sizeof prefix - 1) != 0)
        return 0;
    const char *r = name + sizeof prefix - 1;
    const char *dash = strchr(r, '-');
    if (!dash) {
        *why = "expected router-<router>-<threshold>, e.g. router-mf-0.60091";
        return RL_EINVAL;
    }
    size_t n = (size_t)(dash - r);
    if (n == 0 || n >= router_size) {
        *why = "the router name in router-<router>-<threshold> is empty or too long";
        return RL_EINVAL;
    }
    double v;
    if (!srv_parse_number(dash + 1, &v) || v < 0 || v > 1) {
        *why = "the threshold in router-<router>-<threshold> must be a number in [0, 1]";
        return RL_EINVAL;
    }
    memcpy(router, r, n);
    router[n] = '\0';
    *threshold = v;
    return 1;
}

// ----------------------------------------------------------------------------
// Routing prompt

// Append at most the room left under SRV_MAX_PROMPT, cut back to a UTF-8 character boundary.
static int append_capped(struct rl_buf *out, const char *s, size_t n) {
    size_t room = SRV_MAX_PROMPT > out->len ? SRV_MAX_PROMPT - out->len : 0;
    if (n > room) {
        n = room;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
    }
    return rl_buf_append(out, s, n);
}

int srv_routing_prompt(const json_t *body, struct rl_buf *out, const char **why) {
    const json_t *msgs = json_object_get(body, "messages");
    if (!json_is_array(msgs)) {
        *why = "'messages' must be an array of messages";
        return RL_EINVAL;
    }
    const json_t *content = NULL;
    for (size_t i = json_array_size(msgs); i-- > 0 && !content;) {
        const json_t *m = json_array_get(msgs, i);
        const char *role = json_string_value(json_object_get(m, "role"));
        if (role && strcmp(role, "user") == 0)
            content = json_object_get(m, "content");
    }
    if (!content) {
        *why = "the routing prompt is the last user message, and 'messages' has none";
        return RL_EINVAL;
    }
    rl_buf_reset(out);
    int rc = RL_OK;
    if (json_is_string(content)) {
        rc = append_capped(out, json_string_value(content), json_string_length(content));
    } else if (json_is_array(content)) {
        size_t n_text = 0;
        for (size_t i = 0; rc == RL_OK && i < json_array_size(content); i++) {
            const json_t *part = json_array_get(content, i);
            const char *type = json_string_value(json_object_get(part, "type"));
            const json_t *text = json_object_get(part, "text");
            if (!type || strcmp(type, "text") != 0 || !json_is_string(text))
                continue;
            if (n_text++ > 0)
                rc = append_capped(out, "\n", 1);
            if (rc == RL_OK)
                rc = append_capped(out, json_string_value(text), json_string_length(text));
        }
    }
    if (rc != RL_OK)
        return rc;
    if (out->len == 0) {
        *why = "the last user message has no text to route on";
        return RL_EINVAL;
    }
    return RL_OK;
}

int srv_completion_prompt(const json_t *body, struct rl_buf *out, const char **why) {
    const json_t *p = json_object_get(body, "prompt");
    // An array of one string is what clients send for a single prompt as often as the string.
    if (json_is_array(p) && json_array_size(p) == 1)
        p = json_array_get(p, 0);
    if (!json_is_string(p)) {
        *why = "'prompt' must be a string or an array holding one string (token arrays and "
               "several prompts cannot be routed)";
        return RL_EINVAL;
    }
    rl_buf_reset(out);
    int rc = append_capped(out, json_string_value(p), json_string_length(p));
    if (rc != RL_OK)
        return rc;
    if (out->len == 0) {
        *why = "'prompt' is empty: there is no text to route on";
        return RL_EINVAL;
    }
    return RL_OK;
}

// ----------------------------------------------------------------------------
// Embeddings

static int refuse(struct srv_refusal *why, int status, const char *param, const char *code,
                  const char *fmt, ...) RL_PRINTF(5, 6);
static int refuse(struct srv_refusal *why, int status, const char *param, const char *code,
                  const char *fmt, ...) {
    why->status = status;
    why->param = param;
    why->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why->message, sizeof why->message, fmt, ap);
    va_end(ap);
    return RL_EINVAL;
}

// Check one input: a non-empty string within SRV_MAX_EMBED_INPUT bytes.
static int check_input(const json_t *v, size_t i, bool listed, struct srv_refusal *why) {
    char where[48] = "'input'";
    if (listed)
        snprintf(where, sizeof where, "'input[%zu]'", i);
    if (json_is_array(v))
        return refuse(why, 400, "input", "invalid_input",
                      "%s is made of token ids, which this server does not take: send the text",
                      where);
    if (!json_is_string(v))
        return refuse(why, 400, "input", "invalid_input", "%s must be a string", where);
    size_t len = json_string_length(v);
    if (len == 0)
        return refuse(why, 400, "input", "invalid_input", "%s is empty", where);
    if (len > SRV_MAX_EMBED_INPUT)
        return refuse(why, 400, "input", "invalid_input",
                      "%s has %zu bytes, over the limit of %u (the encoder reads only the first "
                      "256 tokens of a text anyway)",
                      where, len, (unsigned)SRV_MAX_EMBED_INPUT);
    return RL_OK;
}

int srv_embeddings_parse(const json_t *body, const char *model, size_t dim,
                         struct srv_embeddings_req *r, struct srv_refusal *why) {
    memset(r, 0, sizeof *r);
    const char *name = json_string_value(json_object_get(body, "model"));
    if (!name)
        return refuse(why, 400, "model", "invalid_model",
                      "'model' is required and must be a string: '%s', the encoder of this server",
                      model);
    if (strcmp(name, model) != 0)
        return refuse(why, 404, "model", "model_not_found",
                      "the embedding model '%.100s' does not exist here; this server embeds with "
                      "'%s'",
                      name, model);
    const json_t *in = json_object_get(body, "input");
    if (json_is_array(in)) {
        r->n = json_array_size(in);
        if (r->n == 0 || r->n > SRV_MAX_EMBED_INPUTS)
            return refuse(why, 400, "input", "invalid_input",
                          "'input' must hold 1 to %d texts; it holds %zu", SRV_MAX_EMBED_INPUTS,
                          r->n);
        // A flat array of integers is one text given as token ids.
        if (json_is_integer(json_array_get(in, 0)))
            return check_input(in, 0, false, why);
        for (size_t i = 0; i < r->n; i++)
            if (check_input(json_array_get(in, i), i, true, why) != RL_OK)
                return RL_EINVAL;
    } else if (in) {
        r->n = 1;
        if (check_input(in, 0, false, why) != RL_OK)
            return RL_EINVAL;
    } else {
        return refuse(why, 400, "input", "invalid_input",
                      "'input' is required: a string or an array of strings");
    }
    r->input = in;
    const json_t *fmt = json_object_get(body, "encoding_format");
    const char *f = json_string_value(fmt);
    if (fmt && !json_is_null(fmt) && (!f || (strcmp(f, "float") != 0 && strcmp(f, "base64") != 0)))
        return refuse(why, 400, "encoding_format", "invalid_encoding_format",
                      "'encoding_format' must be \"float\" or \"base64\"");
    r->base64 = f && strcmp(f, "base64") == 0;
    const json_t *dims = json_object_get(body, "dimensions");
    if (dims && !json_is_null(dims) &&
        !(json_is_integer(dims) && json_integer_value(dims) == (json_int_t)dim))
        return refuse(why, 400, "dimensions", "invalid_dimensions",
                      "'dimensions' must be %zu: the encoder '%s' has no other width", dim, model);
    const json_t *user = json_object_get(body, "user");
    if (user && !json_is_null(user) && !json_is_string(user))
        return refuse(why, 400, "user", "invalid_user", "'user' must be a string");
    return RL_OK;
}

const char *srv_embeddings_input(const struct srv_embeddings_req *r, size_t i, size_t *len) {
    const json_t *v = json_is_array(r->input) ? json_array_get(r->input, i) : r->input;
    *len = json_string_length(v);
    return json_string_value(v);
}

size_t srv_format_f32(float x, char *buf) {
    static const double pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                   1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    double v = x;
    size_t n = 0;
    if (v == 0) {
        buf[0] = '0';
        return 1;
    }
    if (v < 0) {
        buf[n++] = '-';
        v = -v;
    }
    // The 9 digits m = round(v / 10^(e-8)) in [1e8, 1e9), e the decimal exponent, first guessed
    // from the binary one (log10(2) = 0.30103) and corrected by the loop when one off; a double
    // holds v * 10^k to about 1e-16, far inside the last digit's 1e-9, so the digits read back
    // as the same float.
    int e2;
    frexp(v, &e2);
    int e = (int)floor((e2 - 1) * 0.30103);
    uint64_t m = 0;
    for (int tries = 0; tries < 3; tries++) {
        int k = 8 - e;
        double p = k >= 0 && k < 23 ? pow10[k] : k < 0 && k > -23 ? pow10[-k] : pow(10.0, abs(k));
        m = (uint64_t)llrint(k >= 0 ? v * p : v / p); // ties to even, as printf
        if (m >= 1000000000u && m != 1000000000u)
            e++;
        else if (m < 100000000u)
            e--;
        else
            break;
    }
    if (m == 1000000000u) { // rounded up to the next power of ten
        m = 100000000u;
        e++;
    }
    char d[9];
    for (int i = 8; i >= 0; i--, m /= 10)
        d[i] = (char)('0' + m % 10);
    int nd = 9;
    while (nd > 1 && d[nd - 1] == '0')
        nd--;
    if (e >= -4 && e < 9) { // fixed notation, as %g chooses for these exponents
        if (e < 0) {
            buf[n++] = '0';
            buf[n++] = '.';
            for (int i = 0; i < -e - 1; i++)
                buf[n++] = '0';
            memcpy(buf + n, d, (size_t)nd);
            return n + (size_t)nd;
        }
        for (int i = 0; i <= e; i++)
            buf[n++] = i < nd ? d[i] : '0';
        if (nd > e + 1) {
            buf[n++] = '.';
            memcpy(buf + n, d + e + 1, (size_t)(nd - e - 1));
            n += (size_t)(nd - e - 1);
        }
        return n;
    }
    buf[n++] = d[0];
    if (nd > 1) {
        buf[n++] = '.';
        memcpy(buf + n, d + 1, (size_t)(nd - 1));
        n += (size_t)(nd - 1);
    }
    buf[n++] = 'e';
    buf[n++] = e < 0 ? '-' : '+';
    int a = abs(e);
    if (a >= 10)
        buf[n++] = (char)('0' + a / 10);
    else
        buf[n++] = '0';
    buf[n++] = (char)('0' + a % 10);
    return n;
}

// One embedding as the answer carries it: a JSON array, or a base64 string of little-endian
// float32 values. row holds at least dim * 17 + 2 bytes.
static size_t format_embedding(const float *v, size_t dim, bool base64, char *row,
                               unsigned char *raw) {
    size_t n = 0;
    if (!base64) {
        row[n++] = '[';
        for (size_t k = 0; k < dim; k++) {
            if (k)
                row[n++] = ',';
            n += srv_format_f32(v[k], row + n);
        }
        row[n++] = ']';
        return n;
    }
    for (size_t k = 0; k < dim; k++) {
        uint32_t u;
        memcpy(&u, &v[k], 4);
        for (int b = 0; b < 4; b++)
            raw[4 * k + (size_t)b] = (unsigned char)(u >> (8 * b));
    }
    row[n++] = '"';
    n += (size_t)EVP_EncodeBlock((unsigned char *)row + n, raw, (int)(4 * dim));
    row[n++] = '"';
    return n;
}

// A float takes at most 16 bytes and a comma (its base64 under 6), an entry's frame under 64, and
// the model name at most 6 bytes a byte once quoted (\u00XX).
size_t srv_embeddings_answer_max(size_t n, size_t dim, const char *model) {
    return n * (dim * 17 + 64) + 6 * strlen(model) + 128;
}

int srv_embeddings_answer(struct rl_buf *out, const float *emb, size_t n, size_t dim, bool base64,
                          const char *model, long tokens) {
    // A float is at most 16 bytes and a comma; base64 needs 4 bytes per 3, i.e. about 5.4 per
    // float, and EVP_EncodeBlock writes a NUL after them.
    char *row = malloc(dim * 17 + 8);
    unsigned char *raw = malloc(dim * 4 + 1);
    int rc = row && raw ? rl_buf_appendf(out, "{\"object\":\"list\",\"data\":[") : RL_ENOMEM;
    for (size_t i = 0; rc == RL_OK && i < n; i++) {
        rc = rl_buf_appendf(
            out, "%s{\"object\":\"embedding\",\"index\":%zu,\"embedding\":", i ? "," : "", i);
        size_t len = format_embedding(emb + i * dim, dim, base64, row, raw);
        if (rc == RL_OK)
            rc = rl_buf_append(out, row, len);
        if (rc == RL_OK)
            rc = rl_buf_append(out, "}", 1);
    }
    if (rc == RL_OK)
        rc = rl_buf_appendf(out, "],\"model\":");
    if (rc == RL_OK)
        rc = srv_json_quote(out, model, strlen(model));
    if (rc == RL_OK)
        rc = rl_buf_appendf(out, ",\"usage\":{\"prompt_tokens\":%ld,\"total_tokens\":%ld}}", tokens,
                            tokens);
    free(row);
    free(raw);
    return rc;
}

// ----------------------------------------------------------------------------
// Body rewrite

static size_t skip_ws(const char *s, size_t i, size_t len) {
    while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
        i++;
    return i;
}

// Index just past the JSON string that starts at s[i] == '"'.
static size_t skip_string(const char *s, size_t i, size_t len) {
    for (i++; i < len; i++) {
        if (s[i] == '\\')
            i++;
        else if (s[i] == '"')
            return i + 1;
    }
    return len;
}

// Index just past the JSON value that starts at s[i]; the text is known to be valid JSON.
static size_t skip_value(const char *s, size_t i, size_t len) {
    if (s[i] == '"')
        return skip_string(s, i, len);
    if (s[i] != '{' && s[i] != '[') {
        while (i < len && !strchr(",}] \t\r\n", s[i]))
            i++;
        return i;
    }
    int depth = 0;
    while (i < len) {
        char ch = s[i];
        if (ch == '"') {
            i = skip_string(s, i, len);
            continue;
        }
        if (ch == '{' || ch == '[')
            depth++;
        else if ((ch == '}' || ch == ']') && --depth == 0)
            return i + 1;
        i++;
    }
    return len;
}

// Whether the key literal s[a..b) (quotes included) decodes to name. Escaped keys are rare but
// legal, so they are decoded by jansson rather than compared raw.
static bool key_is(const char *s, size_t a, size_t b, const char *name) {
    size_t n = strlen(name);
    if (b - a == n + 2 && memcmp(s + a + 1, name, n) == 0)
        return true;
    if (!memchr(s + a, '\\', b - a))
        return false;
    json_t *k = json_loadb(s + a, b - a, JSON_DECODE_ANY, NULL);
    bool yes = json_is_string(k) && strcmp(json_string_value(k), name) == 0;
    json_decref(k);
    return yes;
}

int srv_body_set_model(const char *body, size_t len, const char *model, struct rl_buf *out) {
    size_t i = skip_ws(body, 0, len);
    if (i >= len || body[i] != '{')
        return RL_EFORMAT;
    i = skip_ws(body, i + 1, len);
    while (i < len && body[i] == '"') {
        size_t key_end = skip_string(body, i, len);
        bool is_model = key_is(body, i, key_end, "model");
        size_t v = skip_ws(body, key_end, len);
        if (v >= len || body[v] != ':')
            return RL_EFORMAT;
        v = skip_ws(body, v + 1, len);
        size_t v_end = skip_value(body, v, len);
        if (is_model) {
            rl_buf_reset(out);
            int rc = rl_buf_append(out, body, v);
            if (rc == RL_OK)
                rc = srv_json_quote(out, model, strlen(model));
            if (rc == RL_OK)
                rc = rl_buf_append(out, body + v_end, len - v_end);
            return rc;
        }
        i = skip_ws(body, v_end, len);
        if (i < len && body[i] == ',')
            i = skip_ws(body, i + 1, len);
    }
    return RL_EFORMAT;
}

int srv_body_drop_member(const char *body, size_t len, const char *key, struct rl_buf *out) {
    size_t i = skip_ws(body, 0, len);
    if (i >= len || body[i] != '{')
        return RL_EFORMAT;
    i = skip_ws(body, i + 1, len);
    size_t prev_end = 0; // where the previous member's value ends; 0 before the first
    while (i < len && body[i] == '"') {
        size_t key_end = skip_string(body, i, len);
        bool found = key_is(body, i, key_end, key);
        size_t v = skip_ws(body, key_end, len);
        if (v >= len || body[v] != ':')
            return RL_EFORMAT;
        v = skip_ws(body, v + 1, len);
        size_t v_end = skip_value(body, v, len);
        size_t next = skip_ws(body, v_end, len);
        bool comma = next < len && body[next] == ',';
        if (found) {
            // The member goes with the comma after it, or else with the one before it.
            size_t from = comma || !prev_end ? i : prev_end;
            size_t to = comma ? skip_ws(body, next + 1, len) : v_end;
            rl_buf_reset(out);
            int rc = rl_buf_append(out, body, from);
            return rc == RL_OK ? rl_buf_append(out, body + to, len - to) : rc;
        }
        prev_end = v_end;
        i = comma ? skip_ws(body, next + 1, len) : next;
    }
    return RL_EINVAL;
}

// ----------------------------------------------------------------------------
// Errors, usage, keys

bool srv_upstream_context_exceeded(long status, const char *body, size_t len) {
    static const char *const marks[] = {"context_length_exceeded", "maximum context length",
                                        "context window",          "context size",
                                        "prompt is too long",      "too many tokens"};
    if ((status != 400 && status != 413 && status != 422) || !body)
        return false;
    if (len > (64u << 10)) // an error message is near the start of any sane error body
        len = 64u << 10;
    for (size_t i = 0; i < len; i++)
        for (size_t k = 0; k < RL_COUNTOF(marks); k++) {
            size_t n = strlen(marks[k]);
            if (len - i >= n && strncasecmp(body + i, marks[k], n) == 0)
                return true;
        }
    return false;
}

int srv_error_body(struct rl_buf *out, const char *message, const char *type, const char *param,
                   const char *code) {
    int rc = rl_buf_append(out, "{\"error\":{\"message\":", 20);
    if (rc == RL_OK)
        rc = srv_json_quote(out, message, strlen(message));
    if (rc == RL_OK)
        rc = rl_buf_append(out, ",\"type\":", 8);
    if (rc == RL_OK)
        rc = srv_json_quote(out, type, strlen(type));
    const char *names[2] = {",\"param\":", ",\"code\":"};
    const char *vals[2] = {param, code};
    for (int k = 0; k < 2 && rc == RL_OK; k++) {
        rc = rl_buf_append(out, names[k], strlen(names[k]));
        if (rc == RL_OK)
            rc = vals[k] ? srv_json_quote(out, vals[k], strlen(vals[k]))
                         : rl_buf_append(out, "null", 4);
    }
    if (rc == RL_OK)
        rc = rl_buf_append(out, "}}", 2);
    return rc;
}

// Characters of a key-shaped word: keys are long runs of these.
static bool is_key_char(char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '-' || ch == '_';
}

// Does w[0..n) look like a credential: a provider's key prefix, or a long run of letters and
// digits?
static bool key_shaped(const char *w, size_t n) {
    static const char *const prefixes[] = {"sk-", "sk_", "gsk_", "hf_", "AIza", "xai-", "pk-"};
    for (size_t i = 0; i < RL_COUNTOF(prefixes); i++)
        if (n >= 12 && strncmp(w, prefixes[i], strlen(prefixes[i])) == 0)
            return true;
    if (n < SRV_KEY_SHAPED_MIN)
        return false;
    bool letter = false, digit = false;
    for (size_t i = 0; i < n; i++) {
        letter |= (w[i] >= 'a' && w[i] <= 'z') || (w[i] >= 'A' && w[i] <= 'Z');
        digit |= w[i] >= '0' && w[i] <= '9';
    }
    return letter && digit;
}

// The length of the longest of the n secrets that text[0..n_text) starts with, or 0.
static size_t secret_at(const char *text, size_t n_text, const char *const *secrets, size_t n) {
    size_t best = 0;
    for (size_t k = 0; k < n; k++) {
        size_t len = secrets[k] ? strlen(secrets[k]) : 0;
        if (len > best && len <= n_text && memcmp(text, secrets[k], len) == 0)
            best = len;
    }
    return best;
}

int srv_mask_secrets(const char *text, const char *const *secrets, size_t n_secrets,
                     struct rl_buf *out) {
    size_t n = strlen(text);
    int rc = RL_OK;
    for (size_t i = 0; i < n && rc == RL_OK;) {
        size_t slen = secret_at(text + i, n - i, secrets, n_secrets);
        if (slen) {
            rc = rl_buf_append(out, "[redacted]", 10);
            i += slen;
            continue;
        }
        size_t j = i;
        while (j < n && is_key_char(text[j]))
            j++;
        if (j == i) {
            rc = rl_buf_append(out, text + i, 1);
            i++;
        } else {
            rc = key_shaped(text + i, j - i) ? rl_buf_append(out, "[redacted]", 10)
                                             : rl_buf_append(out, text + i, j - i);
            i = j;
        }
    }
    return rc;
}

// A short code or type from the upstream is kept if it is a plain identifier.
static const char *plain_word(const json_t *v) {
    const char *s = json_string_value(v);
    if (!s || !*s || strlen(s) > 64)
        return NULL;
    for (const char *p = s; *p; p++)
        if (!is_key_char(*p) && *p != '.')
            return NULL;
    return key_shaped(s, strlen(s)) ? NULL : s;
}

int srv_upstream_error_body(const char *body, size_t len, const char *model, long status,
                            const char *const *secrets, size_t n_secrets, struct rl_buf *out) {
    json_error_t jerr;
    json_t *j = len ? json_loadb(body, len, 0, &jerr) : NULL;
    const json_t *e = json_object_get(j, "error");
    const char *msg = json_string_value(json_object_get(e, "message"));
    if (!msg)
        msg = json_string_value(e); // {"error": "text"}, as some servers answer
    const char *code = plain_word(json_object_get(e, "code"));
    struct rl_buf text;
    rl_buf_init(&text, 2048);
    int rc =
        rl_buf_appendf(&text, "upstream model '%s' refused the request (HTTP %ld)", model, status);
    if (rc == RL_OK && msg) {
        char cut[1024];
        snprintf(cut, sizeof cut, "%s", msg); // long messages are cut
        rc = rl_buf_append(&text, ": ", 2);
        if (rc == RL_OK)
            rc = srv_mask_secrets(cut, secrets, n_secrets, &text);
    }
    if (rc == RL_OK)
        rc = srv_error_body(out, text.data, "upstream_error", NULL,
                            code ? code : "upstream_refused");
    rl_buf_free(&text);
    json_decref(j);
    return rc;
}

bool srv_usage(const json_t *resp, long *prompt_tokens, long *completion_tokens) {
    const json_t *u = json_object_get(resp, "usage");
    const json_t *p = json_object_get(u, "prompt_tokens");
    const json_t *c = json_object_get(u, "completion_tokens");
    // The counts are stored only when both are valid: a stream may carry several usage chunks,
    // and a bad one must not overwrite the counts of a good one.
    if (!json_is_integer(p) || !json_is_integer(c) || json_integer_value(p) < 0 ||
        json_integer_value(c) < 0)
        return false;
    *prompt_tokens = (long)json_integer_value(p);
    *completion_tokens = (long)json_integer_value(c);
    return true;
}

// Compare every configured key in full, without an early exit, so that the time taken does not
// depend on how much of a key matched or which key it was.
bool srv_key_allowed(const struct srv_config *c, const char *presented) {
    size_t plen = strlen(presented);
    unsigned ok = 0;
    for (size_t k = 0; k < c->n_keys; k++) {
        const char *key = c->keys[k];
        size_t klen = strlen(key);
        unsigned diff = (unsigned)(klen ^ plen);
        for (size_t i = 0; i < klen; i++)
            diff |= (unsigned char)key[i] ^ (unsigned char)(i < plen ? presented[i] : 0);
        ok |= diff == 0;
    }
    return ok != 0;
}

// ----------------------------------------------------------------------------
// Streamed answers

void srv_sse_init(struct srv_sse *s) {
    memset(s, 0, sizeof *s);
    rl_buf_init(&s->line, SRV_SSE_LINE_MAX);
}

void srv_sse_free(struct srv_sse *s) {
    rl_buf_free(&s->line);
}

// Look at one complete line: "[DONE]" marks a clean end, and a chunk with a usage object gives
// the token counts.
static void sse_line(struct srv_sse *s, const char *line, size_t n) {
    if (n && line[n - 1] == '\r')
        n--;
    if (n < 5 || memcmp(line, "data:", 5) != 0)
        return;
    const char *p = line + 5;
    size_t k = n - 5;
    while (k && *p == ' ')
        p++, k--;
    if (k == 6 && memcmp(p, "[DONE]", 6) == 0) {
        s->saw_done = true;
        return;
    }
    if (!memmem(p, k, "\"usage\"", 7))
        return;
    json_t *j = json_loadb(p, k, 0, NULL);
    if (j && srv_usage(j, &s->prompt_tokens, &s->completion_tokens))
        s->have_usage = true;
    json_decref(j);
}

void srv_sse_scan(struct srv_sse *s, const char *data, size_t n) {
    while (n) {
        const char *nl = memchr(data, '\n', n);
        size_t take = nl ? (size_t)(nl - data) : n;
        if (!s->line_skip && rl_buf_append(&s->line, data, take) != RL_OK)
            s->line_skip = true; // an over-long line is relayed but not inspected
        if (!nl)
            return;
        if (!s->line_skip)
            sse_line(s, s->line.data ? s->line.data : "", s->line.len);
        rl_buf_reset(&s->line);
        s->line_skip = false;
        data = nl + 1;
        n -= take + 1;
    }
}
