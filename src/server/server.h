// Internal interface of `routellm serve`, the OpenAI-compatible routing proxy. The server is a
// client of libroutellm: it reads its configuration (config.c, with core/yaml.c), parses and
// rewrites OpenAI request bodies (openai.c), batches prompts into encoder passes behind an LRU
// cache (embed.c), runs one epoll loop that drives client connections (conn.c, http1.c) and
// libcurl together (loop.c, upstream.c), relays streamed answers through a bounded ring (relay.c),
// and keeps Prometheus metrics (metrics.c) and JSON-line logs (log.c). The proxy's request stages
// (http.c, route.c, attempt.c) and its set-up (server.c) share server_impl.h besides this header.
//
// Threading: everything here runs on the loop thread except the encoder workers in embed.c,
// which share nothing with the loop but the job queues and an eventfd.
#ifndef RL_SERVER_H
#define RL_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <curl/curl.h>
#include <jansson.h>

#include "core/core.h"
#include "core/yaml.h"
#include "rl.h"

// ----------------------------------------------------------------------------
// Limits and defaults (each can be changed in the config file; see docs/SERVER.md)

#define SRV_DEFAULT_HOST      "127.0.0.1"
#define SRV_DEFAULT_PORT      6060
#define SRV_MAX_BODY          (4u << 20)    // request body, bytes
#define SRV_MAX_INFLIGHT_BODY (1024u << 20) // request bodies held at once, bytes
#define SRV_DRAIN_FACTOR      4u            // a chunked body over the limit is drained up to 4x it
#define SRV_MAX_RESPONSE      (16u << 20)   // buffered (non-streaming) upstream response, bytes
#define SRV_MAX_HEADER        (64u << 10)   // request line + headers, bytes
#define SRV_MAX_CONNECTIONS   1024u
#define SRV_IDLE_TIMEOUT_S    60u   // a keep-alive connection idle this long is closed
#define SRV_HEADER_TIMEOUT_S  10.0  // a request head must be in this long after its first byte
#define SRV_BODY_TIMEOUT_S    60.0  // a request body must be in this long after its head
#define SRV_MAX_PER_CLIENT    128u  // connections one client address may hold
#define SRV_PROBE_EXTRA_S     10.0  // the start-up check of an upstream: connect timeout + this
#define SRV_CUT_FLUSH_S       1.0   // after the drain deadline, time to send the cut answers
#define SRV_STALL_TIMEOUT_S   120.0 // an upstream answer silent this long after it began is cut
#define SRV_REQUEST_TIMEOUT_S 900.0 // all attempts of a request, until its answer begins
#define SRV_STREAM_RING       (256u << 10)   // per-stream relay buffer, bytes
#define SRV_SSE_LINE_MAX      (64u << 10)    // longest SSE line inspected for usage
#define SRV_MAX_PROMPT        (32u << 10)    // routing prompt bytes handed to the encoder
#define SRV_MAX_EMBED_INPUTS  2048           // texts in one POST /v1/embeddings (OpenAI's limit)
#define SRV_MAX_EMBED_INPUT   SRV_MAX_PROMPT // bytes of one of them: a cache entry's text
#define SRV_MAX_KEYS          64
#define SRV_MAX_MODELS        64 // upstream models in a config file (metrics hold models^2 cells)
#define SRV_MAX_ROUTERS       64 // entries of a config file's routers: section
#define SRV_MAX_ROUTES        64 // entries of a config file's routes: section
#define SRV_NAME_MAX          64 // model and router names
#define SRV_MMAP_THRESHOLD    (256u << 10) // blocks this large get their own mapping (server.c)
#define SRV_MAX_JSON_NODES    (1u << 18)   // values and keys in a request body (bounds the parse)
#define SRV_KEY_SHAPED_MIN    32   // a word of letters and digits this long is masked as a key
#define SRV_MAX_HEADERS       32   // models[].headers entries of one model
#define SRV_MAX_QUERY         32   // models[].query entries of one model
#define SRV_HEADER_NAME_MAX   64   // bytes of a header or query parameter name
#define SRV_HEADER_VALUE_MAX  4096 // bytes of a header or query value, variables expanded
#define SRV_MAX_SECRETS       (SRV_MAX_HEADERS + 1) // a key and the variables its headers read
#define SRV_CAPTURE_MAX_BYTES (64u << 20)           // capture file size before it is rotated
#define SRV_CAPTURE_MAX_FILES 20u                   // rotated capture files kept
#define SRV_RECENT_MAX        50u                   // requests the dashboard lists

// ----------------------------------------------------------------------------
// Configuration (config.c)

// How a group of deployments (models[].deployments) spreads its calls.
enum srv_balance {
    SRV_BALANCE_ROUND_ROBIN, // each call to the next deployment in turn
    SRV_BALANCE_LEAST_BUSY,  // the deployment with the fewest calls in flight
};

// How a model's key (api_key_env, or --api-key) is sent upstream.
enum srv_auth {
    SRV_AUTH_BEARER, // Authorization: Bearer <key> (the default)
    SRV_AUTH_HEADER, // <auth_header>: <key>, e.g. Azure OpenAI's api-key
    SRV_AUTH_NONE,   // no key is sent, even when one is set
};

// One entry of a model's headers: or query: map.
struct srv_pair {
    char *name;
    char *value; // as written; in headers, ${VAR} names an environment variable
    char *sent;  // headers: the value with its variables read (srv_config_finish)
    int line;
};

struct srv_pairs {
    struct srv_pair *items;
    size_t n;
};

// A list of model names as written (models[].fallbacks, routes.<name>.fallbacks), with the line
// of each.
struct srv_names {
    char **items;
    int *lines;
    size_t n;
};

// Model indices: a fallback chain, resolved by srv_config_finish.
struct srv_chain {
    int *items;
    size_t n;
};

struct srv_model {
    char *name;        // the name clients use and x-routellm-model reports
    char *base_url;    // OpenAI-compatible base URL, e.g. https://api.openai.com/v1
    char *model;       // the id sent upstream
    char *api_key_env; // environment variable holding the key (NULL: no key)
    char *api_key;     // the key itself, read from the environment; never logged
    double timeout_s;  // total time of one attempt
    double connect_timeout_s;
    double stall_timeout_s;   // an answer that began and then sends nothing this long is cut
    double price_in;          // USD per million prompt tokens
    double price_out;         // USD per million completion tokens
    int auth;                 // enum srv_auth
    char *auth_header;        // the header carrying the key with SRV_AUTH_HEADER
    struct srv_pairs headers; // sent with every upstream request, after the key's header
    struct srv_pairs query;   // appended, URL-encoded, to every upstream URL
    bool probe;               // ask GET <base_url>/models at start (srv_server_run)
    char **secrets;           // values read from the environment for headers; masked like keys
    size_t n_secrets;
    struct srv_names fallbacks;         // tried in order once this model has failed
    struct srv_names context_fallbacks; // tried when it answers that the prompt is too long
    unsigned cooldown_errors;           // calls failed in a row that put it in cooldown (0: never)
    double cooldown_s;                  // how long a cooldown lasts
    // A group: its calls go to these models (each a plain upstream), spread as balance says.
    // A group has no base_url, key or headers of its own.
    struct srv_names deployments;
    int balance;              // enum srv_balance
    struct srv_chain members; // resolved deployments
    // Resolved by srv_config_finish: the fallbacks, each followed by its own fallbacks, depth
    // first, without repeats (a chain that leads back to the model is refused); likewise the
    // context fallbacks, each followed by its own context fallbacks.
    struct srv_chain chain, context_chain;
    int line; // where it was defined, for messages
};

struct srv_router_cfg {
    char *name;       // the <router> of router-<router>-<threshold>
    char *path;       // checkpoint_path, or NULL for the router shipped under `name`
    char *strong;     // the router's own name for the strong model (NULL: its default)
    char *weak;       // likewise for the weak model
    double threshold; // the threshold /v1/models advertises
    int line;
};

// One candidate of a route: an upstream model, and the name its route's router knows it by.
struct srv_candidate {
    char *model; // a name of the models: section
    char *as;    // the router's name for it (NULL: the same name)
    int line;
};

// A named route (routes: section): the `model` a client asks for, the candidates it chooses
// among, and how (include/rl/policy.h).
struct srv_route_cfg {
    char *name;
    char *router; // a name of the routers: section, or a shipped kind without one
    struct srv_candidate *candidates;
    size_t n_candidates;
    int policy;           // enum rl_policy_kind
    double tolerance;     // cheapest: within this much of the best quality
    double lambda;        // utility: quality per USD (NAN: not given)
    double output_tokens; // expected completion tokens, for the expected cost
    char *reference;      // the router's model the qualities are against (NULL: its weak model)
    struct srv_names fallbacks; // tried once the chosen model and its own chain failed
    struct srv_chain chain;     // resolved by srv_config_finish, without repeats
    int *models;                // resolved: candidates[i]'s index in the models: section
    int line;
};

struct srv_config {
    char *path; // the file read, or NULL for a flags-only start

    char *host;
    int port;
    size_t max_body;
    size_t max_inflight_body; // request bodies held at once, all requests together
    size_t max_response;
    size_t max_header;
    unsigned max_connections;
    unsigned max_per_client; // 0: no cap
    unsigned idle_timeout_s;
    double header_timeout_s;
    double body_timeout_s;
    double drain_timeout_s;
    char *api_keys_env; // variable holding comma-separated client keys (NULL: no keys)
    char *keys[SRV_MAX_KEYS];
    size_t n_keys;
    bool log_requests;

    struct srv_model *models;
    size_t n_models;

    char *strong; // routing.strong: a model name
    char *weak;
    bool fallback;
    int retries;
    double backoff_s;
    double request_timeout_s; // every attempt of a request, until its answer begins

    bool routers_given; // false: every shipped router is offered under its kind name
    struct srv_router_cfg *routers;
    size_t n_routers;

    struct srv_route_cfg *routes;
    size_t n_routes;

    // capture: one JSON line per chat or completions request (and per feedback) in capture_dir
    char *capture_dir;          // NULL: no capture
    bool capture_redact;        // the prompt's SHA-256 instead of its text
    size_t capture_max_bytes;   // the current file is rotated past this size
    unsigned capture_max_files; // rotated files kept (the oldest beyond are deleted)

    // dashboard: the page at / and /ui, and the data it reads (dashboard.c)
    bool dashboard;
    char *calibration_prompts; // NULL: <home>/data/prompts/arena_hard.jsonl.gz

    char *encoder_dir;     // NULL: cli_default_model_dir()
    int encoder_precision; // an enum rl_precision (default fp32)
    int encoder_workers;
    int batch_max;
    size_t cache_entries;
};

void srv_config_init(struct srv_config *c); // defaults, no models
void srv_config_free(struct srv_config *c);

// Read a YAML file into c (which holds defaults). On error errbuf names file:line and the key.
int srv_config_load(struct srv_config *c, const char *path, char *errbuf) RL_NODISCARD;

// Set one value from text, as a file would give it, through the file's own key tables: `key` is
// "<section>.<key>" of the server, routing or encoder section ("server.port",
// "encoder.model_dir"), or "routers", comma-separated router names that replace the routers:
// section (each router with its defaults). The CLI sets its flags this way rather than writing
// fields: keyed like the file, rather than one function per field, a flag is checked exactly as
// the file's key is, and a new key needs no new function. RL_EINVAL (errbuf names the key, the
// value and what it must be) or RL_ENOMEM.
int srv_config_set(struct srv_config *c, const char *key, const char *value,
                   char *errbuf) RL_NODISCARD;
// The same for a value already parsed as a number (checked against the key's range).
int srv_config_set_num(struct srv_config *c, const char *key, double value,
                       char *errbuf) RL_NODISCARD;
// Send `key` to every upstream (the --api-key flag: the file can only name variables). Call it
// after srv_config_finish, which sets each model's key from its api_key_env. RL_EINVAL for a key
// holding a control character, or RL_ENOMEM.
int srv_config_set_api_key(struct srv_config *c, const char *key, char *errbuf) RL_NODISCARD;

// Append a model or a router; strings are copied.
int srv_config_add_model(struct srv_config *c, const char *name, const char *base_url,
                         const char *model, const char *api_key_env) RL_NODISCARD;
int srv_config_add_router(struct srv_config *c, const char *name) RL_NODISCARD;

// Cross-checks after files and flags are merged: names unique and well formed, routing.strong
// and .weak exist, fallback chains and routes name known models and chains have no cycle (each
// is resolved into model indices), keys and header variables read from the environment. errbuf
// names the offending entry.
int srv_config_finish(struct srv_config *c, char *errbuf) RL_NODISCARD;

// The model's secrets for srv_mask_secrets: its key, then every value its headers read from the
// environment. Fills out with at most max borrowed pointers (valid while m is) and returns how
// many.
size_t srv_model_secrets(const struct srv_model *m, const char **out, size_t max);
// <base_url>/<path>, however many slashes base_url ends with, then ?<query> with each name and
// value percent-encoded (RFC 3986: all but letters, digits and - . _ ~). malloc'd; NULL when out
// of memory.
char *srv_model_url(const struct srv_model *m, const char *path);
// The request headers of a call to m: Content-Type: application/json, no Expect, the key as its
// auth says, then its headers: in order (free with curl_slist_free_all). NULL when out of memory.
struct curl_slist *srv_model_headers(const struct srv_model *m);

int srv_config_model_index(const struct srv_config *c, const char *name); // -1 when unknown
// The route whose name is the len bytes at name; -1 when unknown.
int srv_config_route_index(const struct srv_config *c, const char *name, size_t len);

// ----------------------------------------------------------------------------
// OpenAI bodies (openai.c)

// Parse a request body as the proxy accepts it: one JSON object, no duplicate keys, no NUL byte,
// at most SRV_MAX_JSON_NODES values and keys. NULL when it is not, with msg (for a 400 answer)
// saying why.
json_t *srv_body_parse(const char *body, size_t len, char *msg, size_t msg_size);

// The body member that carries a route request's own policy ({"policy", "tolerance",
// "lambda"}); it is removed before the body goes upstream.
#define SRV_OPTIONS_MEMBER "routellm"

// Parse t, a plain decimal number (digits, '.', 'e', signs; no "nan", "inf", hex or spaces)
// that is finite, into *v.
bool srv_parse_number(const char *t, double *v);

// Parse "router-<router>-<threshold>". Returns 1 and fills router/threshold for a router alias,
// 0 when name does not start with "router-", RL_EINVAL for a malformed alias (why says how).
int srv_parse_router_model(const char *name, char *router, size_t router_size, double *threshold,
                           const char **why);

// The routing prompt: the text of the last message whose role is "user" (string content, or the
// "text" parts of a content array joined by newlines), cut to SRV_MAX_PROMPT bytes on a UTF-8
// boundary. RL_EINVAL with *why when there is no such text.
int srv_routing_prompt(const json_t *body, struct rl_buf *out, const char **why) RL_NODISCARD;

// The routing prompt of a completions request: its "prompt", a string or an array holding one
// string, cut like srv_routing_prompt's. RL_EINVAL with *why for any other prompt (token arrays,
// several prompts) or an empty one.
int srv_completion_prompt(const json_t *body, struct rl_buf *out, const char **why) RL_NODISCARD;

// Why a request is refused: the status and the parts of its OpenAI error body.
struct srv_refusal {
    int status;
    const char *param, *code; // static strings; param may be NULL
    char message[300];
};

// A POST /v1/embeddings body, checked by srv_embeddings_parse.
struct srv_embeddings_req {
    const json_t *input; // a string, or an array of n strings; borrowed from the parsed body
    size_t n;
    bool base64; // encoding_format "base64"; otherwise "float"
};

// Check an embeddings body against the encoder that serves it (its name and width): "model" is
// that name, "input" a non-empty string or an array of 1 to SRV_MAX_EMBED_INPUTS of them, each
// at most SRV_MAX_EMBED_INPUT bytes, "encoding_format" "float", "base64" or null,
// "dimensions" the width or null, "user" a string or null; other members are ignored. RL_OK
// with r filled, or RL_EINVAL with why (400; 404 for another model).
int srv_embeddings_parse(const json_t *body, const char *model, size_t dim,
                         struct srv_embeddings_req *r, struct srv_refusal *why) RL_NODISCARD;
// Input i (< r->n) of a parsed request and its length in bytes; valid while the body is.
const char *srv_embeddings_input(const struct srv_embeddings_req *r, size_t i, size_t *len);
// The answer, in OpenAI's shape: {"object":"list","data":[{"object":"embedding","index":i,
// "embedding":E}, ...],"model":model,"usage":{"prompt_tokens":tokens,"total_tokens":tokens}},
// where E is an array of numbers that read back as the same float32 values, or with base64 a
// string, the base64 of the dim values as little-endian float32. emb is (n, dim) and finite.
int srv_embeddings_answer(struct rl_buf *out, const float *emb, size_t n, size_t dim, bool base64,
                          const char *model, long tokens) RL_NODISCARD;
// Bytes that always hold that answer.
size_t srv_embeddings_answer_max(size_t n, size_t dim, const char *model);
// Write the finite x as printf's "%.9g" would (9 significant digits: a float32 reads back
// exactly), but several times faster and with -0 as "0": a JSON number of at most 16 bytes, no
// NUL. Returns the length.
size_t srv_format_f32(float x, char *buf);

// Copy body with the value of its top-level "model" member replaced by the JSON string `model`;
// every other byte is kept. body must be a valid JSON object (already parsed by jansson).
int srv_body_set_model(const char *body, size_t len, const char *model,
                       struct rl_buf *out) RL_NODISCARD;

// Copy body without its top-level member `key` (and the comma that separated it); every other
// byte is kept. body must be a valid JSON object (already parsed by jansson). RL_EINVAL when it
// has no such member.
int srv_body_drop_member(const char *body, size_t len, const char *key,
                         struct rl_buf *out) RL_NODISCARD;

// Whether an upstream's error answer (status and body) says that the prompt is longer than the
// model's context: a 400, 413 or 422 whose body holds OpenAI's code context_length_exceeded or
// a message of its kin ("maximum context length", "context window", "context size", "prompt is
// too long", "too many tokens") in its first 64 KiB, compared ignoring case.
bool srv_upstream_context_exceeded(long status, const char *body, size_t len);

// {"error": {"message", "type", "param", "code"}} into out (param and code may be NULL).
int srv_error_body(struct rl_buf *out, const char *message, const char *type, const char *param,
                   const char *code) RL_NODISCARD;

// Copy text into out with every occurrence of the n secrets (NULL or empty ones are skipped; the
// longest wins where two start at one place) and every key-shaped word (a known key prefix such
// as sk-, hf_ or AIza, or SRV_KEY_SHAPED_MIN+ letters, digits, '-' and '_' with a letter and a
// digit) replaced by "[redacted]". RL_OK or the buffer's error.
int srv_mask_secrets(const char *text, const char *const *secrets, size_t n,
                     struct rl_buf *out) RL_NODISCARD;
// What the client gets for an upstream's own 4xx: never its body, but an OpenAI-shaped error
// saying which model refused with which status, the upstream's error message (cut to 1 KiB,
// masked as above) and its error code when that is a plain identifier.
int srv_upstream_error_body(const char *body, size_t len, const char *model, long status,
                            const char *const *secrets, size_t n_secrets,
                            struct rl_buf *out) RL_NODISCARD;

// Token counts from a response's "usage" object; false (outputs untouched) when absent or negative.
bool srv_usage(const json_t *resp, long *prompt_tokens, long *completion_tokens);

// Constant-time comparison of a presented key against the configured ones.
bool srv_key_allowed(const struct srv_config *c, const char *presented);

// What the relay learns from an upstream text/event-stream as it passes through: whether the
// final "data: [DONE]" event came, and the token counts of the last chunk carrying a valid
// "usage" (stream_options.include_usage). Lines over SRV_SSE_LINE_MAX are not inspected.
struct srv_sse {
    struct rl_buf line; // the unfinished line, capped at SRV_SSE_LINE_MAX
    bool line_skip;     // the unfinished line is over the cap
    bool saw_done;
    bool have_usage; // prompt_tokens and completion_tokens hold valid counts (>= 0)
    long prompt_tokens, completion_tokens;
};
void srv_sse_init(struct srv_sse *s);
void srv_sse_free(struct srv_sse *s); // frees the line buffer
// Scan the next piece of the stream; pieces may split lines anywhere. Buffers at most one line
// of SRV_SSE_LINE_MAX bytes, and never fails: an unreadable line is skipped.
void srv_sse_scan(struct srv_sse *s, const char *data, size_t n);

// ----------------------------------------------------------------------------
// HTTP/1.1 request framing (http1.c): pure functions over bytes, strict about every ambiguity.

#define SRV_HTTP_MAX_FIELDS 100

struct srv_http_field {
    const char *name;
    size_t name_len;
    const char *value; // without surrounding whitespace
    size_t value_len;
};

struct srv_http_head {
    size_t len; // bytes of the head, the empty line included
    char method[16];
    const char *target; // origin-form, as sent (query included)
    size_t target_len;
    int minor; // HTTP/1.<minor>
    bool keep_alive, chunked, has_length, expect_continue;
    uint64_t length; // Content-Length when has_length
    struct srv_http_field fields[SRV_HTTP_MAX_FIELDS];
    size_t n_fields;
};

// Parse the request head at the start of buf[0..len); at most `max` bytes may hold it. Returns 1
// when it is complete (h points into buf), 0 when more bytes are needed, or the HTTP status to
// answer before closing (400, 417, 431, 501, 505) with *why saying what is wrong.
int srv_http_parse_head(const char *buf, size_t len, size_t max, struct srv_http_head *h,
                        const char **why);
// The first field called name (case-insensitive), with its length; NULL when absent.
const char *srv_http_field(const struct srv_http_head *h, const char *name, size_t *len);

// A chunked body decoder, fed the bytes after the head in pieces split anywhere.
struct srv_chunked {
    int state;
    uint64_t left;   // data bytes left in the current chunk
    unsigned digits; // of the size being read
    size_t extra;    // bytes of the extension or trailers being read
};
void srv_chunked_init(struct srv_chunked *c);
// Decode buf[0..n) in place: the body's data bytes are moved to buf[0..*data_len), and *used
// bytes of the input were read. Returns 1 when the body (trailers included) ended at *used, 0
// when more input is needed (everything was used), or 400 with *why (and nothing decoded).
int srv_chunked_decode(struct srv_chunked *c, char *buf, size_t n, size_t *data_len, size_t *used,
                       const char **why);

// ----------------------------------------------------------------------------
// Client connections (conn.c): the listening socket and HTTP/1.1 connections on the loop, with
// deadlines for the head and the body, a cap per client address, keep-alive, pipelining and
// 100-continue; fixed answers, and streamed ones sent chunked.

struct srv_conn;
struct srv_listener;
struct srv_loop;

// How a request's connection ended it.
enum srv_conn_end {
    SRV_CONN_OK,            // the answer was written
    SRV_CONN_CLIENT_CLOSED, // the client hung up or stopped reading
    SRV_CONN_TIMEOUT,       // the head, body or a write took too long
    SRV_CONN_BAD_REQUEST,   // the body was malformed (the client was answered 400)
    SRV_CONN_ERROR,         // out of memory, or a streamed answer broke
    SRV_CONN_SHUTDOWN,      // the server closed it
};

// What a connection asks of its owner. Every call is on the loop thread.
struct srv_conn_ops {
    // A request head is in: the owner's request, passed to the calls below (NULL closes the
    // connection). The owner may answer at once; a request with a body is then not read further.
    void *(*begin)(void *owner, struct srv_conn *c, const struct srv_http_head *h);
    // A piece of the body; false drops the rest of it (read up to SRV_DRAIN_FACTOR x max_body).
    bool (*body)(void *req, const char *data, size_t n);
    void (*body_end)(void *req); // the whole body is in: answer now or later
    // The next bytes of a streamed answer, at most max: a count > 0, or SRV_RELAY_WAIT (then
    // srv_conn_wake when there are more), SRV_RELAY_END, or SRV_RELAY_BROKEN (the connection
    // closes without ending the stream properly).
    ssize_t (*stream)(void *req, char *buf, size_t max);
    // The request is over; req is not used again. Must not call back into the connection.
    void (*end)(void *req, enum srv_conn_end how);
};

// Bind server.host:server.port and accept connections on the loop. NULL with errbuf on failure.
struct srv_listener *srv_listener_new(struct srv_loop *loop, const struct srv_config *c,
                                      const struct srv_conn_ops *ops, void *owner, char *errbuf);
int srv_listener_port(const struct srv_listener *l); // the bound port (useful with port 0)
// Read the limits and deadlines from c from now on (after a reload; host and port stay).
void srv_listener_set_config(struct srv_listener *l, const struct srv_config *c);
// Drain: stop accepting, close idle connections, and close the others after their answer.
void srv_listener_stop_accepting(struct srv_listener *l);
void srv_listener_free(struct srv_listener *l); // closes every connection (SRV_CONN_SHUTDOWN)

// Answer with status, the header lines (each "Name: value\r\n"; NULL for none) and a body, which
// the connection takes (free()d). Content-Length and Connection are added. The answer is written
// once the owner's call returns to the loop, so ops->end never runs inside these three calls;
// only a request's first answer counts.
void srv_conn_respond(struct srv_conn *c, int status, const char *headers, char *body, size_t len);
// Answer with a body read from ops->stream (chunked to HTTP/1.1 clients).
void srv_conn_respond_stream(struct srv_conn *c, int status, const char *headers);
void srv_conn_wake(struct srv_conn *c); // ops->stream has more

// ----------------------------------------------------------------------------
// Stream relay (relay.c): a streamed answer passes from the upstream transfer to the client
// through a bounded ring. The writer is paused when the ring is full, never buffered further;
// an event stream that breaks after it began ends with an error event, never silently.

#define SRV_RELAY_FULL   1    // push: nothing taken; the writer waits for ops->unpause
#define SRV_RELAY_WAIT   0    // read: nothing to read yet; ops->wake follows when there is
#define SRV_RELAY_END    (-1) // read: the stream is over
#define SRV_RELAY_BROKEN (-2) // read: the stream is over and broken; end the response with an error

struct srv_relay;
// What the relay tells its owner (who finds itself in srv_relay.data).
struct srv_relay_ops {
    void (*wake)(struct srv_relay *r);    // a reader told SRV_RELAY_WAIT may read again
    void (*unpause)(struct srv_relay *r); // a writer told SRV_RELAY_FULL may push again
    void (*broken)(struct srv_relay *r);  // an event stream broke: its error event is read next
};

struct srv_relay {
    char *ring;
    size_t cap, head, len; // ring size; start and length of the unread bytes
    bool sse;              // text/event-stream: scanned, and a broken one ends with an error event
    bool writer_paused, reader_waiting;
    bool ended, failed, error_sent; // srv_relay_end was called; with an error; the event was read
    bool cut;                       // ended by srv_relay_cut: the proxy, not the upstream, ended it
    char error[128];                // why the transfer failed
    char model[SRV_NAME_MAX];       // the upstream named in the error event
    struct srv_sse events;          // what the event stream said: [DONE], usage
    const struct srv_relay_ops *ops;
    void *data;
};

// Allocate a ring of cap bytes. A zeroed srv_relay may be freed without init. RL_ENOMEM on failure.
int srv_relay_init(struct srv_relay *r, size_t cap, bool sse, const char *model,
                   const struct srv_relay_ops *ops, void *data) RL_NODISCARD;
void srv_relay_free(struct srv_relay *r);
// Take all n bytes (RL_OK), none (SRV_RELAY_FULL: push them again after ops->unpause), or
// refuse a piece larger than the ring (RL_ETOOBIG). Wakes a waiting reader.
int srv_relay_push(struct srv_relay *r, const char *data, size_t n);
// The writer is done: error is NULL for a complete transfer, else why it failed (copied).
void srv_relay_end(struct srv_relay *r, const char *error);
// The proxy ends the stream itself (why is copied): an event stream ends with an error event
// saying so once the bytes already in the ring are read. No-op after srv_relay_end.
void srv_relay_cut(struct srv_relay *r, const char *why);
// Copy up to max bytes into buf: returns the count (> 0) or one of SRV_RELAY_WAIT, _END and
// _BROKEN. A broken event stream reads as one error event before _END (_BROKEN when the event
// does not fit in max bytes).
ssize_t srv_relay_read(struct srv_relay *r, char *buf, size_t max);

// ----------------------------------------------------------------------------
// Event loop (loop.c): epoll watchers and one-shot timers, single-threaded.

struct srv_loop;
struct srv_watch {
    int fd;
    void (*cb)(struct srv_watch *w, uint32_t events);
    void *data;
};
struct srv_timer {
    uint64_t due_ns;
    void (*cb)(struct srv_timer *t);
    void *data;
    struct srv_timer *next;
    bool armed;
};

struct srv_loop *srv_loop_new(void); // NULL on failure (errno set)
void srv_loop_free(struct srv_loop *l);
int srv_loop_add(struct srv_loop *l, struct srv_watch *w, uint32_t events) RL_NODISCARD;
int srv_loop_mod(struct srv_loop *l, struct srv_watch *w, uint32_t events) RL_NODISCARD;
void srv_loop_del(struct srv_loop *l, struct srv_watch *w);
void srv_timer_start(struct srv_loop *l, struct srv_timer *t, double delay_s);
void srv_timer_stop(struct srv_loop *l, struct srv_timer *t);
// Wait for events (at most max_wait_ms; -1 = until the next timer), then run watchers and due
// timers. Returns RL_OK, or RL_EIO when epoll fails.
int srv_loop_run_once(struct srv_loop *l, int max_wait_ms) RL_NODISCARD;
uint64_t srv_now_ns(void); // CLOCK_MONOTONIC

// ----------------------------------------------------------------------------
// Upstream calls (upstream.c): libcurl multi transfers driven by the loop.

struct srv_upstream;
struct srv_call {
    CURL *easy;  // non-NULL while the transfer runs
    long status; // HTTP status of the latest status line
    char content_type[128];
    double retry_after_s; // Retry-After in seconds, 0 when absent
    // Each piece of the body as it arrives: return n, CURL_WRITEFUNC_PAUSE, or 0 to abort.
    size_t (*on_body)(struct srv_call *call, const char *data, size_t n);
    // Once, after the transfer ends (not after srv_upstream_cancel).
    void (*on_done)(struct srv_call *call, CURLcode rc);
    void *data;
    char errbuf[CURL_ERROR_SIZE];
};

struct srv_upstream *srv_upstream_new(struct srv_loop *loop); // NULL on failure
void srv_upstream_free(struct srv_upstream *u);
// POST body to url, or GET url when body is NULL. The body and headers must live until on_done
// or cancel.
int srv_upstream_start(struct srv_upstream *u, struct srv_call *call, const char *url,
                       struct curl_slist *headers, const char *body, size_t len, double timeout_s,
                       double connect_timeout_s) RL_NODISCARD;
void srv_upstream_cancel(struct srv_upstream *u, struct srv_call *call); // no on_done; idempotent
void srv_upstream_unpause(struct srv_upstream *u, struct srv_call *call);
// Read one line of an upstream's answer head into call: a status line sets status (its three
// digits, 0 when they are not) and clears the rest; Content-Type is kept (visible ASCII, cut
// at the first other byte, at most 127 bytes); Retry-After in seconds, in (0, 3600), sets
// retry_after_s. Other lines are ignored.
void srv_upstream_header(struct srv_call *call, const char *line, size_t len);

// ----------------------------------------------------------------------------
// Embeddings (embed.c): an LRU cache of prompt -> embedding in front of a pool of encoder
// threads that embed every queued prompt in one batched pass.

struct srv_embedder;
struct srv_embed_waiter {
    // Called on the loop thread with the embedding (valid during the call) or a status < 0.
    void (*cb)(struct srv_embed_waiter *w, const float *embedding, int status);
    // Set on a hit and before cb: the tokens the encoder read, [CLS] and [SEP] included.
    int n_tokens;
    struct srv_embed_waiter *prev, *next;
    void *entry;
};

struct srv_embed_stats {
    uint64_t hits, misses, batches, prompts, errors;
};

struct srv_embedder *srv_embedder_new(const struct rl_encoder *enc, struct srv_loop *loop,
                                      int workers, int batch_max, size_t cache_entries,
                                      char *errbuf);
void srv_embedder_free(struct srv_embedder *e); // joins the workers; NULL is a no-op
// Look text up. Returns 1 with *embedding (valid until the next embedder call) and w->n_tokens
// set on a hit, 0 when queued (w->cb runs later on the loop thread), or < 0 on failure.
int srv_embedder_get(struct srv_embedder *e, const char *text, size_t len,
                     struct srv_embed_waiter *w, const float **embedding);
void srv_embedder_cancel(struct srv_embedder *e, struct srv_embed_waiter *w); // idempotent
int srv_embedder_dim(const struct srv_embedder *e);
struct srv_embed_stats srv_embedder_stats(const struct srv_embedder *e);

// ----------------------------------------------------------------------------
// Metrics (metrics.c), updated on the loop thread only.

struct srv_metrics;
struct srv_metrics *srv_metrics_new(const struct srv_config *c, const char *const *router_names,
                                    size_t n_routers);
void srv_metrics_free(struct srv_metrics *m);
// endpoint is the request's path, a string that outlives every srv_metrics; router -1 means a
// request that named an upstream model directly (or was not routed), model -1 none.
void srv_metrics_request(struct srv_metrics *m, const char *endpoint, int router, int model,
                         int status);
void srv_metrics_routing(struct srv_metrics *m, int router, int model, double seconds);
void srv_metrics_p_strong(struct srv_metrics *m, int router, double p_strong); // a pair decision
void srv_metrics_attempt(struct srv_metrics *m, int model, const char *outcome, double seconds);
void srv_metrics_fallback(struct srv_metrics *m, int from, int to);
void srv_metrics_route(struct srv_metrics *m, int route, int model); // a route's decision
void srv_metrics_cooldown(struct srv_metrics *m, int model);         // a cooldown began
void srv_metrics_stream_error(struct srv_metrics *m, int model);
// Tokens and cost of one answered request; `strong` is the routing pair's strong model.
void srv_metrics_usage(struct srv_metrics *m, int model, int strong, long prompt_tokens,
                       long completion_tokens);
void srv_metrics_inflight(struct srv_metrics *m, int delta);
// After a reload: copy into `to` every count of `from` whose router and model names `to` also
// has (a router or model that is gone takes its counts with it).
void srv_metrics_carry(struct srv_metrics *to, const struct srv_metrics *from);
int srv_metrics_render(const struct srv_metrics *m, const struct srv_embed_stats *emb,
                       struct rl_buf *out) RL_NODISCARD;

// ----------------------------------------------------------------------------
// Capture (capture.c): the JSONL files of the capture: section, appended on the loop thread.

struct srv_capture;
// Create capture_dir (mkdir -p) and open its capture.jsonl for appending. NULL with errbuf.
struct srv_capture *srv_capture_open(const struct srv_config *c, char *errbuf);
void srv_capture_free(struct srv_capture *k); // NULL is a no-op
// Whether k was opened with c's capture settings (a reload keeps it then).
bool srv_capture_same(const struct srv_capture *k, const struct srv_config *c);
// Append one line (ending in '\n') with one write(2), rotating the file first when the line
// would take it past max_file_bytes. A failure is logged, never retried.
void srv_capture_write(struct srv_capture *k, const char *line, size_t len);

// ----------------------------------------------------------------------------
// JSON-line logs (log.c) on stderr: one line per event, written with a single write(2).

enum srv_log_level { SRV_LOG_DEBUG, SRV_LOG_INFO, SRV_LOG_WARN, SRV_LOG_ERROR };

#define SRV_LOG_LINE_MAX 4096 // longer lines are cut (and stay valid JSON)

struct srv_log {
    char buf[SRV_LOG_LINE_MAX];
    size_t len;
    bool on;
};
void srv_log_set_level(enum srv_log_level min);
// Start a line; the fields below append to it and srv_log_end writes it. Every call is a no-op
// when the level is filtered out or an append failed.
void srv_log_begin(struct srv_log *l, enum srv_log_level level, const char *msg);
void srv_log_str(struct srv_log *l, const char *key, const char *value); // NULL value: skipped
void srv_log_int(struct srv_log *l, const char *key, long long value);
void srv_log_num(struct srv_log *l, const char *key, double value);
void srv_log_end(struct srv_log *l);
// One-field convenience: {"level", "msg", "detail"}.
void srv_logf(enum srv_log_level level, const char *msg, const char *fmt, ...) RL_PRINTF(3, 4);
// Append s to b as a JSON string literal (quotes included).
int srv_json_quote(struct rl_buf *b, const char *s, size_t len) RL_NODISCARD;

// ----------------------------------------------------------------------------
// The server (server.c)

struct srv_server;
// Fill c (initialised with srv_config_init) from wherever the configuration comes from, and
// srv_config_finish it: the server calls it at start and again at each SIGHUP.
typedef int (*srv_config_builder)(void *data, struct srv_config *c, char *errbuf);
// Build the configuration, load its routers and the encoder they need, bind the socket. NULL on
// failure, errbuf says why.
struct srv_server *srv_server_new(srv_config_builder build, void *build_data, const char *home,
                                  char *errbuf);
int srv_server_port(const struct srv_server *s); // the bound port (useful with port 0)
// Serve until SIGTERM or SIGINT, then drain in-flight requests up to the drain deadline. SIGHUP
// reloads the configuration and router files: new requests use the new set, requests in flight
// finish on the old one, and a set that fails to load is refused with a logged error.
int srv_server_run(struct srv_server *s);
void srv_server_free(struct srv_server *s);

#endif
