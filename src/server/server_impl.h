// Internal interface of the proxy's stages. A request passes through them in this order, and
// each keeps its state in its own part of struct srv_request:
//
//   conn.c     connections: sockets, HTTP/1.1 framing (http1.c), deadlines (its interface is in
//              server.h)
//   http.c     HTTP glue: the request object, the endpoint table, client keys, answers
//   route.c    routing: parse the body, pick the route, wait for the embedding, decide
//   attempt.c  upstream attempts: retries, back-off, fallback, what each failure means
//   embeddings.c  POST /v1/embeddings, answered from the encoder workers (embed.c), no upstream
//   capture.c  the capture: files: a line per request when it ends, POST /v1/feedback
//   dashboard.c  the page at / and /ui, its data, the latest request lines, the slider's sample
//   relay.c    a streamed answer's way to the client (its interface is in server.h)
//   server.c   set-up: routers, encoder, upstreams, the model list, the socket; run, drain, free
//
// Everything here runs on the loop thread.
#ifndef RL_SERVER_IMPL_H
#define RL_SERVER_IMPL_H

#include "server/server.h"

// ----------------------------------------------------------------------------
// The server, built by server.c and read by every stage

// An encoder the server loaded at start, with its workers and their cache: the configuration's
// (encoder.model_dir, the model of POST /v1/embeddings) first, then each other encoder a router of
// the first configuration reads (a causal_llm router's LM, <home>/models/<name>).
#define SRV_MAX_ENCODERS 4
struct srv_encoder {
    struct rl_encoder *enc;
    struct srv_embedder *emb;
};

// A loaded router, offered as router-<name>-<threshold>.
struct srv_router {
    char name[SRV_NAME_MAX]; // the <router> of router-<router>-<threshold>
    struct rl_router *r;
    struct rl_router_pair pair;
    double threshold; // advertised in /v1/models
    bool needs_embedding;
    const struct srv_encoder *encoder; // the server's encoder it reads, when needs_embedding
};

// A named route of the config's routes: section, resolved against its router.
struct srv_route {
    const struct srv_route_cfg *cfg; // borrowed from the generation's config
    int router;                      // index into srv_gen.routers
    int *router_models;              // per candidate: its index among the router's models
    int ref;                         // the router's model the qualities are against
};

// A model's live state: its recent failures, for its cooldown (models[].cooldown_errors), its
// calls in flight, and a group's next deployment (models[].deployments).
struct srv_health {
    unsigned fails;    // calls in a row that failed
    uint64_t until_ns; // skipped while a fallback is left, until then
    unsigned busy;     // calls in flight
    unsigned turn;     // a round-robin group: the member that has the next call
};

// One entry of the GET /v1/models list, also answered alone by GET /v1/models/<id>.
struct srv_model_entry {
    char *id;
    char *json;
};

// The upstream APIs a request can go to: chat and the legacy text completions.
enum srv_api { SRV_API_CHAT, SRV_API_COMPLETIONS, SRV_N_APIS };

struct srv_calibration; // the dashboard's scores of the calibration sample (dashboard.c)

// One loaded configuration and everything built from it: what a request uses from its start to
// its end. SIGHUP builds a new one (server.c); requests keep a reference to the one they began
// on, so an old set is freed when its last request ends.
struct srv_gen {
    int refs;
    struct srv_config *c;
    struct srv_router *routers;
    size_t n_routers;
    struct srv_route *routes;
    size_t n_routes;
    struct srv_health *health; // per model; starts afresh with each configuration
    struct srv_metrics *metrics;
    char **urls[SRV_N_APIS];     // per API, per model: <base_url>/chat/completions, /completions
    struct curl_slist **headers; // per model: content type, key, no Expect
    int strong, weak;            // model indices
    char *models_json;           // the GET /v1/models answer
    struct srv_model_entry *model_entries;
    size_t n_model_entries;
    struct srv_calibration *calibration; // begun by the first GET /v1/dashboard/calibration
};

void srv__gen_unref(struct srv_gen *g); // frees it with its last reference

struct srv_server {
    struct srv_gen *gen; // the current configuration
    srv_config_builder build;
    void *build_data;
    char *home;
    struct srv_loop *loop;
    struct srv_listener *listener;
    struct srv_upstream *up;
    // Loaded at start for the routers that need them, never reloaded; encoders[0] is the
    // configuration's (enc NULL when no router reads it), the others follow in n_encoders.
    struct srv_encoder encoders[SRV_MAX_ENCODERS];
    size_t n_encoders;
    struct srv_watch sig;
    bool draining;
    uint64_t drain_deadline_ns;
    struct srv_request *live; // every request not yet completed
    long n_live;
    uint64_t id_seed, id_next;
    uint64_t trimmed_ns;         // the last malloc_trim, when the server went idle
    uint64_t body_bytes;         // request bodies reserved by live requests
    struct srv_probe *probes;    // the start-up checks of the upstreams (server.c)
    struct srv_capture *capture; // NULL when the capture: section names no dir
    size_t n_probes;
    int port;
    uint64_t started_ns;
    json_t *recent[SRV_RECENT_MAX]; // the dashboard's latest request lines, a ring
    size_t recent_at, n_recent;     // the next slot; lines held
};

// ----------------------------------------------------------------------------
// A request and its parts, one per stage

// From the path alone.
enum srv_kind {
    SRV_KIND_OTHER,
    SRV_KIND_CHAT,
    SRV_KIND_COMPLETIONS,
    SRV_KIND_ROUTE,
    SRV_KIND_EMBEDDINGS,
    SRV_KIND_FEEDBACK,
};
enum srv_state { SRV_RECEIVING, SRV_EMBEDDING, SRV_UPSTREAM, SRV_BACKOFF, SRV_ANSWERED };

// The client's side of the connection (http.c).
struct srv_client {
    struct srv_conn *conn;
    struct rl_buf body;
    bool too_big;      // the body went over server.max_body_bytes; the rest was dropped
    bool too_busy;     // the body would pass server.max_inflight_body_bytes; the rest was dropped
    uint64_t reserved; // bytes counted in srv_server.body_bytes for it
};

// Where the request goes (route.c).
struct srv_routing {
    json_t *json; // the parsed body
    bool stream;
    int router; // index into gen->routers, -1 for a direct model request
    int route;  // index into gen->routes for a route request (router is then its router), or -1
    struct rl_policy policy; // a route request's policy, the route's unless the request's own
    double threshold, p_strong;
    double quality;    // a route request: the chosen model's quality
    bool drop_options; // the body's "routellm" member is removed before it goes upstream
    uint64_t t0;
    struct rl_buf prompt;
    struct srv_embed_waiter waiter;
    struct srv_embedder *embedder; // the one the waiter was handed to, or NULL
};

// Why an attempt failed, as far as the client's final error is concerned.
enum srv_failure { SRV_FAIL_OTHER, SRV_FAIL_TIMEOUT, SRV_FAIL_AUTH, SRV_FAIL_REDIRECT };

// The upstream calls made for it (attempt.c).
struct srv_attempts {
    struct srv_call call;
    struct rl_buf body;           // the request body rewritten for body_model
    int body_model;               // -1 for none yet
    int first_model;              // the model routed to, before any fallback
    int target;                   // the upstream called: q->model, or one of its deployments
    bool busy;                    // a call to target is counted in its health.busy
    int plan[SRV_MAX_MODELS];     // the models to try in order: the first, then fallbacks
    size_t n_plan, at;            // plan[at] is q->model
    int retries_left, n, n_model; // retries left on this model; attempts in all, on this model
    bool fell_back, too_big;
    bool context;                  // the plan is a context fallback chain
    enum srv_failure last_failure; // of the latest failed attempt: what the final error says
    uint64_t t0;                   // when the current attempt began
    struct rl_buf resp;            // a non-streaming answer, held (bounded) until complete
    struct srv_timer backoff;      // the wait before a retry
    struct srv_timer stall;        // checks that a begun answer keeps coming (stall_timeout_s)
    uint64_t last_byte_ns;         // when the current attempt last delivered a byte
    struct srv_timer deadline;     // routing.request_timeout_s, until the answer begins
    bool committed;                // a streamed answer began: its status is sent, no retry is left
};

// One text of an embeddings request, waiting on the encoder (embeddings.c).
struct srv_embed_slot {
    struct srv_embed_waiter w; // first: the callback finds the slot from it
    struct srv_request *q;
    size_t i; // its index in the request's input
};

// An embeddings request (embeddings.c).
struct srv_embeddings {
    struct srv_embed_slot *slots; // (n)
    float *out;                   // (n, dim)
    size_t n, left;               // texts; those not embedded yet
    long tokens;                  // the encoder's tokens over all texts
    bool base64;
};

// The answer (http.c).
struct srv_reply {
    int status; // the body went to the connection with it; a streamed one comes from the relay
    bool ready, stream;
    bool have_usage; // the upstream's token counts, for the metrics
    long prompt_tokens, completion_tokens;
    int retry_after_s; // > 0: sent as Retry-After
};

struct srv_request {
    struct srv_server *s;
    struct srv_gen *gen;             // the configuration it began on (a reference)
    struct srv_request *prev, *next; // s->live
    const struct srv_endpoint *ep;   // http.c's table row for the path, NULL when none
    enum srv_kind kind;
    enum srv_state state;
    const struct srv_http_head *head; // owned by the connection, valid until the request ends
    char id[40];
    char method[16];
    char path[64];
    bool path_too_long;
    bool drain_cut; // the drain deadline cut it
    uint64_t t0;
    int model; // the upstream chosen (after any fallback), -1 before
    struct srv_client client;
    struct srv_routing routing;
    struct srv_attempts up;
    struct srv_relay relay; // started when a streamed answer begins
    struct srv_embeddings emb;
    struct srv_reply reply;
};

// ----------------------------------------------------------------------------
// HTTP glue (http.c)

// The calls the connections make (conn.c); their owner is the server.
extern const struct srv_conn_ops srv__http_ops;
// Set the complete answer and send it; the body is taken from *body. Only the first answer of a
// request counts.
void srv__answer(struct srv_request *q, int status, struct rl_buf *body, const char *ctype);
// An answer in OpenAI's error shape; param and code may be NULL.
void srv__answer_error(struct srv_request *q, int status, const char *message, const char *type,
                       const char *param, const char *code);
void srv__answer_json(struct srv_request *q, int status, const char *text);
// 200 with the JSON value j (taken; NULL, as a failed json_pack gives, answers 500).
void srv__answer_value(struct srv_request *q, json_t *j);
// srv__answer with more headers: extra holds whole lines, each ending in CRLF.
void srv__answer_with(struct srv_request *q, int status, struct rl_buf *body, const char *ctype,
                      const char *extra);
// The request's body parsed as the proxy accepts JSON (srv_body_parse); NULL after answering
// 400 invalid_json when it is not.
json_t *srv__body_json(struct srv_request *q);
// Send the status now; the body follows from q->relay, which the caller has started.
void srv__answer_stream(struct srv_request *q, int status, const char *ctype);
void srv__stream_wake(struct srv_request *q); // the relay has more for the client
// The drain deadline passed: end a stream with an error event, answer 503 to a request not yet
// answered (srv__request_cut's work is stopped either way).
void srv__request_cut(struct srv_request *q);

// ----------------------------------------------------------------------------
// Routing (route.c)

// The body is in: parse it, pick the route or the named upstream, and go on to the attempts
// (or, for POST /v1/route, answer with the decision). Answers every error itself.
void srv__route(struct srv_request *q);

// ----------------------------------------------------------------------------
// Attempts (attempt.c)

// Call q->model upstream, with the retries and fallback the configuration allows.
void srv__attempts_begin(struct srv_request *q);
void srv__attempts_stop(struct srv_request *q); // no callback follows; idempotent
// The client hung up: count an attempt in flight as cancelled, then stop.
void srv__attempts_abandon(struct srv_request *q);

// ----------------------------------------------------------------------------
// Capture (capture.c)

// A chat or completions request ended with status: its line in the capture, when there is one,
// and among the dashboard's latest requests, when the dashboard is on.
void srv__capture_request(struct srv_request *q, int status);
// POST /v1/feedback: check the body and append it to the capture; answers every outcome.
void srv__feedback(struct srv_request *q);

// ----------------------------------------------------------------------------
// Dashboard (dashboard.c)

void srv__dashboard_page(struct srv_request *q);        // GET / and /ui
void srv__dashboard_data(struct srv_request *q);        // GET /v1/dashboard
void srv__dashboard_calibration(struct srv_request *q); // GET /v1/dashboard/calibration
// A request's capture line (with its prompt only when the capture keeps it): kept, with a
// reference, among the latest SRV_RECENT_MAX.
void srv__dashboard_recent(struct srv_server *s, json_t *line);
// Stop the calibration's thread and free it; NULL is a no-op.
void srv__calibration_free(struct srv_calibration *c);

// ----------------------------------------------------------------------------
// Embeddings (embeddings.c)

// The body is in: check it, and embed its texts through the encoder workers and their cache
// (never on the loop thread). Answers every outcome itself.
void srv__embeddings(struct srv_request *q);
void srv__embeddings_stop(struct srv_request *q); // no callback follows; idempotent
void srv__embeddings_free(struct srv_request *q); // frees what srv__embeddings allocated

#endif
