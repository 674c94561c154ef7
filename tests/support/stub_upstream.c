// The stub upstream described in stub_upstream.h, built on libmicrohttpd. Its answers are small
// and deterministic: token usage is (request bytes / 4, 7), and a stream is three content events,
// a finish event, an optional usage event and [DONE].
#include <arpa/inet.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <microhttpd.h>

#include "stub_upstream.h"

#define STUB_MAX_BODY (8u << 20)
#define N_MODES       17

static const char *const modes[N_MODES] = {"ok",      "slow",   "e429",  "e500",   "flaky", "cut",
                                           "badjson", "badsse", "hang",  "big",    "e401",  "e400",
                                           "e302",    "say",    "judge", "biased", "other"};

struct stub_upstream {
    struct MHD_Daemon *d;
    int port;
    pthread_mutex_t mu;
    long counts[N_MODES];
    long aborted;
    char *last_body, *last_auth;
    char *last_post, *last_get; // request line and header lines, as stub_last_request gives them
    int delay_ms;
    int flaky_left;
    volatile int stopping;
};

struct exchange {
    char *body;
    size_t len, cap;
    char *target; // the request target as sent, query included
    bool started; // the first call of the access handler has been made
};

// One SSE stream being written: events sent one per reader call.
struct stream {
    struct stub_upstream *s;
    char **events;
    int n_events, next;
    int delay_ms;
    int cut_at; // drop the connection before this event (0: never)
};

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static bool ends_with(const char *s, const char *tail) {
    size_t n = strlen(s), t = strlen(tail);
    return n >= t && strcmp(s + n - t, tail) == 0;
}

static int mode_index(const char *url) {
    if (url[0] != '/')
        return N_MODES - 1;
    const char *slash = strchr(url + 1, '/');
    size_t n = slash ? (size_t)(slash - url - 1) : strlen(url + 1);
    for (int i = 0; i < N_MODES - 1; i++)
        if (strlen(modes[i]) == n && strncmp(url + 1, modes[i], n) == 0)
            return i;
    return N_MODES - 1;
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *ctype,
                             char *body, size_t len) {
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", ctype);
    if (status == 429)
        MHD_add_response_header(r, "Retry-After", "0");
    enum MHD_Result ok = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ok;
}

static char *dupf(size_t *len, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *p = malloc((size_t)n + 1);
    if (!p)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    *len = (size_t)n;
    return p;
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max) {
    (void)pos;
    struct stream *st = cls;
    if (st->cut_at && st->next == st->cut_at)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    if (st->next >= st->n_events)
        return MHD_CONTENT_READER_END_OF_STREAM;
    if (st->delay_ms)
        sleep_ms(st->delay_ms);
    const char *ev = st->events[st->next];
    size_t n = strlen(ev);
    if (n > max)
        return MHD_CONTENT_READER_END_WITH_ERROR;
    memcpy(buf, ev, n);
    st->next++;
    return (ssize_t)n;
}

static void stream_free(void *cls) {
    struct stream *st = cls;
    for (int i = 0; i < st->n_events; i++)
        free(st->events[i]);
    free(st->events);
    free(st);
}

// size is MHD_SIZE_UNKNOWN for a chunked stream.
static enum MHD_Result send_stream(struct MHD_Connection *c, struct stream *st, uint64_t size,
                                   const char *ctype) {
    struct MHD_Response *r =
        MHD_create_response_from_callback(size, 4096, stream_read, st, stream_free);
    if (!r) {
        stream_free(st);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", ctype);
    enum MHD_Result ok = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    return ok;
}

static void add_event(struct stream *st, char *ev) {
    st->events[st->n_events++] = ev;
}

// The text of the last user message, or "" (the stub does not check messages further).
static const char *last_user_text(json_t *req) {
    json_t *msgs = json_object_get(req, "messages");
    for (size_t i = json_array_size(msgs); i-- > 0;) {
        json_t *m = json_array_get(msgs, i);
        const char *role = json_string_value(json_object_get(m, "role"));
        json_t *content = json_object_get(m, "content");
        // String content, or the first text part of a content array.
        const char *text = json_string_value(content);
        for (size_t k = 0; !text && k < json_array_size(content); k++)
            text = json_string_value(json_object_get(json_array_get(content, k), "text"));
        if (role && text && strcmp(role, "user") == 0)
            return text;
    }
    return "";
}

// The first "score=N" at or after p: N, with *next past it; -1 when there is none.
static int find_score(const char *p, const char **next) {
    const char *at = p ? strstr(p, "score=") : NULL;
    if (!at || at[6] < '0' || at[6] > '9')
        return -1;
    *next = at + 6;
    return (int)strtol(at + 6, NULL, 10);
}

// The modes `routellm label` is tested with (stub_upstream.h): a fixed answer, a judge that
// reads "score=N" in the answers it is shown, and a judge that always prefers answer A.
static enum MHD_Result answer_label(struct stub_upstream *s, struct MHD_Connection *c,
                                    const char *name, const char *body, size_t len) {
    pthread_mutex_lock(&s->mu);
    int delay = s->delay_ms;
    pthread_mutex_unlock(&s->mu);
    if (delay)
        sleep_ms(delay);
    json_t *req = json_loadb(body ? body : "", len, 0, NULL);
    const char *model = json_string_value(json_object_get(req, "model"));
    const char *text = last_user_text(req);
    char verdict[64];
    bool say = strcmp(name, "say") == 0;
    if (strcmp(name, "biased") == 0) {
        snprintf(verdict, sizeof verdict, "Assistant A is better. [[A]]");
    } else if (!say && strstr(text, "[The Start of Assistant A's Answer]")) {
        const char *next = NULL;
        int a = find_score(text, &next), b = a >= 0 ? find_score(next, &next) : -1;
        if (a < 0 || b < 0)
            snprintf(verdict, sizeof verdict, "I cannot decide.");
        else
            snprintf(verdict, sizeof verdict, "Verdict: [[%c]]", a > b ? 'A' : a < b ? 'B' : 'C');
    } else if (!say) {
        const char *next;
        int n = find_score(text, &next);
        if (n < 0)
            snprintf(verdict, sizeof verdict, "I cannot rate this answer.");
        else
            snprintf(verdict, sizeof verdict, "A fair answer. Rating: [[%d]]", n);
    }
    json_t *doc = json_pack(
        "{s:s,s:s,s:[{s:i,s:{s:s,s:s},s:s}],s:{s:i,s:i,s:i}}", "id", "chatcmpl-stub", "object",
        "chat.completion", "choices", "index", 0, "message", "role", "assistant", "content",
        say ? (model ? model : "") : verdict, "finish_reason", "stop", "usage", "prompt_tokens",
        say ? 100 : 200, "completion_tokens", say ? 20 : 10, "total_tokens", say ? 120 : 210);
    char *out = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    json_decref(req);
    if (!out)
        return MHD_NO;
    return reply(c, 200, "application/json", out, strlen(out));
}

// The text a completions request asks about: its prompt, or the first string of a prompt array.
static const char *prompt_text(json_t *req) {
    json_t *p = json_object_get(req, "prompt");
    const char *text = json_string_value(json_is_array(p) ? json_array_get(p, 0) : p);
    return text ? text : "";
}

// A text completion (POST .../completions), as the chat answer below but in the legacy shape.
static enum MHD_Result answer_text(struct MHD_Connection *c, json_t *req, size_t len, int delay) {
    const char *model = json_string_value(json_object_get(req, "model"));
    model = model ? model : "unknown";
    bool usage =
        json_is_true(json_object_get(json_object_get(req, "stream_options"), "include_usage"));
    json_t *text = json_pack("s+", "echo: ", prompt_text(req));
    char *content = json_dumps(text, JSON_ENCODE_ANY);
    json_decref(text);
    long pt = (long)len / 4, ct = 7;
    size_t n;
    if (!json_is_true(json_object_get(req, "stream"))) {
        if (delay)
            sleep_ms(delay);
        char *out = dupf(&n,
                         "{\"id\":\"cmpl-stub\",\"object\":\"text_completion\",\"created\":1,"
                         "\"model\":\"%s\",\"choices\":[{\"index\":0,\"text\":%s,\"logprobs\":null,"
                         "\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":%ld,"
                         "\"completion_tokens\":%ld,\"total_tokens\":%ld}}",
                         model, content ? content : "\"\"", pt, ct, pt + ct);
        free(content);
        return reply(c, 200, "application/json", out, n);
    }
    free(content);
    struct stream *st = calloc(1, sizeof *st);
    st->events = calloc(8, sizeof *st->events);
    st->delay_ms = delay;
    static const char *const words[3] = {"one", "two", "three"};
    for (int i = 0; i < 4; i++)
        add_event(st, dupf(&n,
                           "data: {\"id\":\"cmpl-stub\",\"object\":\"text_completion\","
                           "\"model\":\"%s\",\"choices\":[{\"index\":0,\"text\":\"%s%s\","
                           "\"logprobs\":null,\"finish_reason\":%s}]}\n\n",
                           model, i < 3 ? words[i % 3] : "", i < 3 ? " " : "",
                           i < 3 ? "null" : "\"stop\""));
    if (usage)
        add_event(st, dupf(&n,
                           "data: {\"id\":\"cmpl-stub\",\"object\":\"text_completion\","
                           "\"model\":\"%s\",\"choices\":[],\"usage\":{\"prompt_tokens\":%ld,"
                           "\"completion_tokens\":%ld,\"total_tokens\":%ld}}\n\n",
                           model, pt, ct, pt + ct));
    add_event(st, dupf(&n, "data: [DONE]\n\n"));
    return send_stream(c, st, MHD_SIZE_UNKNOWN, "text/event-stream");
}

// text: the request is a legacy completion (a path ending in /completions but not
// /chat/completions); the modes that answer like ok then answer in that API's shape.
static enum MHD_Result answer(struct stub_upstream *s, struct MHD_Connection *c, int mode,
                              const char *body, size_t len, bool text_api) {
    const char *name = modes[mode];
    size_t n = 0;
    char *out;
    if (strcmp(name, "e429") == 0 || strcmp(name, "e500") == 0) {
        out = dupf(&n,
                   "{\"error\":{\"message\":\"stub %s\",\"type\":\"stub_error\",\"param\":null,"
                   "\"code\":null}}",
                   name);
        return reply(c, name[1] == '4' ? 429 : 500, "application/json", out, n);
    }
    if (strcmp(name, "e401") == 0 || strcmp(name, "e400") == 0) {
        // Errors that quote the key they were sent, as some providers' do: a bearer token, else
        // the value of an api-key or x-api-key header.
        const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
        const char *key = auth && strncmp(auth, "Bearer ", 7) == 0 ? auth + 7 : NULL;
        if (!key)
            key = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "api-key");
        if (!key)
            key = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "x-api-key");
        key = key ? key : "none";
        bool e401 = name[1] == '4' && name[3] == '1';
        out = dupf(&n,
                   "{\"error\":{\"message\":\"%s: %s\",\"type\":\"invalid_request_error\","
                   "\"param\":null,\"code\":\"%s\"}}",
                   e401 ? "Incorrect API key provided"
                        : "This model's maximum context length "
                          "is 8 tokens; your key",
                   key, e401 ? "invalid_api_key" : "context_length_exceeded");
        return reply(c, e401 ? 401 : 400, "application/json", out, n);
    }
    if (strcmp(name, "e302") == 0) {
        out = dupf(&n, "moved");
        struct MHD_Response *r = MHD_create_response_from_buffer(n, out, MHD_RESPMEM_MUST_FREE);
        MHD_add_response_header(r, "Location", "http://127.0.0.1:1/elsewhere");
        enum MHD_Result ok = MHD_queue_response(c, 302, r);
        MHD_destroy_response(r);
        return ok;
    }
    if (strcmp(name, "flaky") == 0) {
        pthread_mutex_lock(&s->mu);
        bool fail = s->flaky_left > 0;
        if (fail)
            s->flaky_left--;
        pthread_mutex_unlock(&s->mu);
        if (fail)
            return reply(c, 500, "application/json",
                         dupf(&n, "{\"error\":{\"message\":\"flaky\"}}"), n);
    }
    if (strcmp(name, "badjson") == 0) {
        out = dupf(&n, "{\"id\": \"chatcmpl-stub\", \"choices\": [");
        return reply(c, 200, "application/json", out, n);
    }
    if (strcmp(name, "big") == 0) {
        size_t big = 3u << 20;
        out = malloc(big + 32);
        if (!out)
            return MHD_NO;
        n = (size_t)snprintf(out, 32, "{\"pad\":\"");
        memset(out + n, 'x', big);
        n += big;
        memcpy(out + n, "\"}", 2);
        return reply(c, 200, "application/json", out, n + 2);
    }
    if (strcmp(name, "hang") == 0)
        for (int waited = 0; waited < 5000 && !s->stopping; waited += 10)
            sleep_ms(10);
    if (strcmp(name, "say") == 0 || strcmp(name, "judge") == 0 || strcmp(name, "biased") == 0)
        return answer_label(s, c, name, body, len);
    int delay = 0;
    if (strcmp(name, "slow") == 0) {
        pthread_mutex_lock(&s->mu);
        delay = s->delay_ms;
        pthread_mutex_unlock(&s->mu);
    }
    json_t *req = json_loadb(body ? body : "", len, 0, NULL);
    if (text_api && (strcmp(name, "cut") != 0 && strcmp(name, "badsse") != 0)) {
        enum MHD_Result ok = answer_text(c, req, len, delay);
        json_decref(req);
        return ok;
    }
    const char *model = json_string_value(json_object_get(req, "model"));
    model = model ? model : "unknown";
    bool stream = json_is_true(json_object_get(req, "stream"));
    bool usage =
        json_is_true(json_object_get(json_object_get(req, "stream_options"), "include_usage"));
    json_t *text = json_pack("s+", "echo: ", last_user_text(req));
    char *content = json_dumps(text, JSON_ENCODE_ANY);
    long pt = (long)len / 4, ct = 7;
    struct stream *st = calloc(1, sizeof *st);
    st->events = calloc(8, sizeof *st->events);
    st->s = s;
    if (!stream && strcmp(name, "cut") == 0) {
        // Promise 4 KiB and send a few bytes, so the client sees a short body.
        json_decref(req);
        json_decref(text);
        free(content);
        add_event(st, dupf(&n, "{\"id\":\"chatcmpl-stub\",\"choices\":["));
        st->cut_at = 1;
        return send_stream(c, st, 4096, "application/json");
    }
    if (!stream) {
        stream_free(st);
        if (delay)
            sleep_ms(delay);
        out = dupf(&n,
                   "{\"id\":\"chatcmpl-stub\",\"object\":\"chat.completion\",\"created\":1,"
                   "\"model\":\"%s\",\"choices\":[{\"index\":0,\"message\":{\"role\":"
                   "\"assistant\",\"content\":%s},\"finish_reason\":\"stop\"}],\"usage\":{"
                   "\"prompt_tokens\":%ld,\"completion_tokens\":%ld,\"total_tokens\":%ld}}",
                   model, content ? content : "\"\"", pt, ct, pt + ct);
        json_decref(req);
        json_decref(text);
        free(content);
        return reply(c, 200, "application/json", out, n);
    }
    st->delay_ms = delay;
    if (strcmp(name, "badsse") == 0) {
        add_event(st, dupf(&n, "data: {not json\n\n"));
        add_event(st, dupf(&n, "this is not an event\n"));
        add_event(st, dupf(&n, "data: {\"choices\": [\n\n"));
    } else {
        static const char *const words[3] = {"one", "two", "three"};
        for (int i = 0; i < 3; i++)
            add_event(st,
                      dupf(&n,
                           "data: {\"id\":\"chatcmpl-stub\",\"object\":\"chat.completion.chunk\","
                           "\"model\":\"%s\",\"choices\":[{\"index\":0,\"delta\":{\"content\":"
                           "\"%s \"},\"finish_reason\":null}]}\n\n",
                           model, words[i]));
        add_event(st, dupf(&n,
                           "data: {\"id\":\"chatcmpl-stub\",\"object\":\"chat.completion.chunk\","
                           "\"model\":\"%s\",\"choices\":[{\"index\":0,\"delta\":{},"
                           "\"finish_reason\":\"stop\"}]}\n\n",
                           model));
        if (usage)
            add_event(st, dupf(&n,
                               "data: {\"id\":\"chatcmpl-stub\",\"object\":"
                               "\"chat.completion.chunk\",\"model\":\"%s\",\"choices\":[],"
                               "\"usage\":{\"prompt_tokens\":%ld,\"completion_tokens\":%ld,"
                               "\"total_tokens\":%ld}}\n\n",
                               model, pt, ct, pt + ct));
        add_event(st, dupf(&n, "data: [DONE]\n\n"));
        st->cut_at = strcmp(name, "cut") == 0 ? 2 : 0;
    }
    json_decref(req);
    json_decref(text);
    free(content);
    return send_stream(c, st, MHD_SIZE_UNKNOWN, "text/event-stream");
}

// Called with the request target as sent, before it is parsed: the exchange starts here.
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c) {
    (void)cls, (void)c;
    struct exchange *x = calloc(1, sizeof *x);
    if (x)
        x->target = strdup(uri);
    return x;
}

static enum MHD_Result add_header_line(void *cls, enum MHD_ValueKind kind, const char *name,
                                       const char *value) {
    (void)kind;
    char **text = cls;
    size_t n = *text ? strlen(*text) : 0;
    size_t more = strlen(name) + strlen(value ? value : "") + 4;
    char *grown = realloc(*text, n + more);
    if (!grown)
        return MHD_NO;
    snprintf(grown + n, more, "%s: %s\n", name, value ? value : "");
    *text = grown;
    return MHD_YES;
}

// "METHOD target\n" then one "Name: value\n" line per header field, as received.
static char *request_text(struct MHD_Connection *c, const char *method, const char *target) {
    size_t n = strlen(method) + strlen(target) + 3;
    char *text = malloc(n);
    if (!text)
        return NULL;
    snprintf(text, n, "%s %s\n", method, target);
    MHD_get_connection_values(c, MHD_HEADER_KIND, add_header_line, &text);
    return text;
}

static void keep_request(struct stub_upstream *s, char **slot, char *text) {
    pthread_mutex_lock(&s->mu);
    free(*slot);
    *slot = text;
    pthread_mutex_unlock(&s->mu);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls) {
    (void)version;
    struct stub_upstream *s = cls;
    struct exchange *x = *con_cls;
    if (!x)
        return MHD_NO;
    if (!x->started) {
        x->started = true;
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        if (x->len + n > STUB_MAX_BODY)
            return MHD_NO;
        if (x->len + n + 1 > x->cap) {
            size_t cap = (x->len + n + 1) * 2;
            char *grown = realloc(x->body, cap);
            if (!grown)
                return MHD_NO;
            x->body = grown;
            x->cap = cap;
        }
        memcpy(x->body + x->len, upload_data, n);
        x->len += n;
        x->body[x->len] = '\0';
        *upload_data_size = 0;
        return MHD_YES;
    }
    int mode = mode_index(url);
    const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    bool get = strcmp(method, "GET") == 0;
    keep_request(s, get ? &s->last_get : &s->last_post,
                 request_text(c, method, x->target ? x->target : url));
    if (get && ends_with(url, "/models")) {
        // The model list a proxy asks for at start: not counted; e401 refuses the key.
        size_t n;
        bool refuse = strcmp(modes[mode], "e401") == 0;
        char *out = dupf(&n, refuse ? "{\"error\":{\"message\":\"bad key\"}}"
                                    : "{\"object\":\"list\",\"data\":[]}");
        return reply(c, refuse ? 401 : 200, "application/json", out, n);
    }
    pthread_mutex_lock(&s->mu);
    s->counts[mode]++;
    free(s->last_body);
    free(s->last_auth);
    s->last_body = x->body ? strdup(x->body) : NULL;
    s->last_auth = auth ? strdup(auth) : NULL;
    pthread_mutex_unlock(&s->mu);
    // A path that is no mode (a provider's own shape) is answered like ok when it is a chat or
    // completions call.
    bool chat = ends_with(url, "/chat/completions");
    bool text_api = !chat && ends_with(url, "/completions");
    if (strcmp(method, "POST") != 0 || (mode == N_MODES - 1 && !chat && !text_api)) {
        size_t n;
        return reply(c, 404, "application/json",
                     dupf(&n, "{\"error\":{\"message\":\"stub: no such path\"}}"), n);
    }
    return answer(s, c, mode == N_MODES - 1 ? 0 : mode, x->body, x->len, text_api);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
    (void)c;
    struct stub_upstream *s = cls;
    if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK) {
        pthread_mutex_lock(&s->mu);
        s->aborted++;
        pthread_mutex_unlock(&s->mu);
    }
    struct exchange *x = *con_cls;
    if (x) {
        free(x->body);
        free(x->target);
        free(x);
    }
    *con_cls = NULL;
}

struct stub_upstream *stub_start(int port, bool threaded) {
    struct stub_upstream *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    pthread_mutex_init(&s->mu, NULL);
    unsigned flags = threaded ? MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD
                              : MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_TURBO;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(0x7f000001);
    s->d = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR,
                            (struct sockaddr *)&sa, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                            MHD_OPTION_URI_LOG_CALLBACK, on_uri, s, MHD_OPTION_CONNECTION_LIMIT,
                            4096u, MHD_OPTION_LISTEN_BACKLOG_SIZE, 4096u, MHD_OPTION_END);
    if (!s->d) {
        free(s);
        return NULL;
    }
    s->port = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT)->port;
    return s;
}

void stub_stop(struct stub_upstream *s) {
    if (!s)
        return;
    s->stopping = 1;
    MHD_stop_daemon(s->d);
    free(s->last_body);
    free(s->last_auth);
    free(s->last_post);
    free(s->last_get);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

int stub_port(const struct stub_upstream *s) {
    return s->port;
}

long stub_count(struct stub_upstream *s, const char *mode) {
    long n = 0;
    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < N_MODES; i++)
        if (strcmp(modes[i], mode) == 0)
            n = s->counts[i];
    pthread_mutex_unlock(&s->mu);
    return n;
}

long stub_aborted(struct stub_upstream *s) {
    pthread_mutex_lock(&s->mu);
    long n = s->aborted;
    pthread_mutex_unlock(&s->mu);
    return n;
}

static char *copy_locked(struct stub_upstream *s, char *const *field) {
    pthread_mutex_lock(&s->mu);
    char *p = *field ? strdup(*field) : NULL;
    pthread_mutex_unlock(&s->mu);
    return p;
}

char *stub_last_body(struct stub_upstream *s) {
    return copy_locked(s, &s->last_body);
}

char *stub_last_auth(struct stub_upstream *s) {
    return copy_locked(s, &s->last_auth);
}

char *stub_last_request(struct stub_upstream *s, const char *method) {
    return copy_locked(s, strcmp(method, "GET") == 0 ? &s->last_get : &s->last_post);
}

void stub_set_delay(struct stub_upstream *s, int ms) {
    pthread_mutex_lock(&s->mu);
    s->delay_ms = ms;
    pthread_mutex_unlock(&s->mu);
}

void stub_set_flaky(struct stub_upstream *s, int failures) {
    pthread_mutex_lock(&s->mu);
    s->flaky_left = failures;
    pthread_mutex_unlock(&s->mu);
}

void stub_reset(struct stub_upstream *s) {
    pthread_mutex_lock(&s->mu);
    memset(s->counts, 0, sizeof s->counts);
    s->aborted = 0;
    free(s->last_body);
    free(s->last_auth);
    free(s->last_post);
    free(s->last_get);
    s->last_body = s->last_auth = s->last_post = s->last_get = NULL;
    pthread_mutex_unlock(&s->mu);
}
