// A stub OpenAI-compatible upstream for the server's tests and benchmarks. It listens on
// 127.0.0.1 (port 0 picks a free port) and behaves according to the first path segment of
// POST /<mode>/v1/chat/completions, so one stub can play every upstream of a test config:
//
//   ok       answers a chat.completion (or, with "stream": true, an SSE stream ending in [DONE])
//            whose "model" echoes the request's and whose content is "echo: <last user text>"
//   slow     like ok, but waits stub_set_delay() ms before the answer and between SSE events
//   e429     429 with an OpenAI error body        e500   500 with an OpenAI error body
//   flaky    500 for the first stub_set_flaky() requests, then like ok
//   cut      streams two events, then drops the connection (non-streaming: a short body)
//   badjson  200 with a body that is not JSON     badsse  an SSE stream of garbage, no [DONE]
//   hang     waits 5 s (or until stopped) before answering like ok
//   big      200 with a 3 MiB JSON body
//   e401     401 whose message quotes the key it was sent     e302   a redirect elsewhere
//   e400     400 (context_length_exceeded) whose message quotes the key it was sent (the
//            bearer token, else the api-key or x-api-key header; e401 likewise)
//
// and, for `routellm label`, with usage (100, 20) for say and (200, 10) for the judges:
//
//   say      answers with the request's "model" as the whole content (a fixed answer per
//            configured model id), after stub_set_delay() ms
//   judge    a judge: shown one answer, "Rating: [[N]]" for the first "score=N" in its prompt
//            (none: a reply without a verdict); shown two (MT-Bench's pairwise prompt),
//            "[[A]]", "[[B]]" or "[[C]]" by the first two "score=" values in order
//   biased   a pairwise judge that always answers "[[A]]"
//
// A POST to a path ending in /completions but not /chat/completions is a legacy text completion:
// the modes that answer like ok (ok, slow, flaky, hang) then answer in its shape, a
// text_completion (or its stream) whose text is "echo: <prompt>" (the prompt string, or the
// first string of a prompt array); the other modes answer as they do for chat.
//
// A POST to a path whose first segment is no mode but which ends in /chat/completions or
// /completions (a provider's own shape, e.g. /openai/deployments/d/chat/completions) is answered
// like ok and counted as "other"; any other path gets 404. GET <anything>/models lists no models
// (401 in mode e401) and is not counted. Each mode counts its other requests; the last request's
// body and Authorization header are kept, and so are the request line and headers of the last GET
// and the last POST (stub_last_request).
#ifndef RL_TEST_STUB_UPSTREAM_H
#define RL_TEST_STUB_UPSTREAM_H

#include <stdbool.h>

struct stub_upstream;

// threaded: one thread per connection (slow modes sleep freely); otherwise one epoll thread,
// which is faster but must not be given the slow or hang modes.
struct stub_upstream *stub_start(int port, bool threaded);
void stub_stop(struct stub_upstream *s); // NULL is a no-op
int stub_port(const struct stub_upstream *s);
long stub_count(struct stub_upstream *s, const char *mode); // requests seen by a mode
long stub_aborted(struct stub_upstream *s);    // requests whose connection broke before the end
char *stub_last_body(struct stub_upstream *s); // malloc'd copy, or NULL
char *stub_last_auth(struct stub_upstream *s); // malloc'd copy, or NULL
// The last request with this method ("GET" or "POST"): "METHOD target\n", the target as sent
// (query included), then "Name: value\n" for each header field as received. malloc'd, or NULL.
char *stub_last_request(struct stub_upstream *s, const char *method);
void stub_set_delay(struct stub_upstream *s, int ms);
void stub_set_flaky(struct stub_upstream *s, int failures);
void stub_reset(struct stub_upstream *s); // counters and the last request

#endif
