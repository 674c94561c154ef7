// Helpers for the server's integration tests: run `routellm serve` as a child process on a free
// port with a config written from a template, and talk to it with libcurl.
#ifndef RL_TEST_SERVE_HARNESS_H
#define RL_TEST_SERVE_HARNESS_H

#include <stdbool.h>
#include <sys/types.h>

#include "core/core.h"

struct proxy {
    pid_t pid;
    int port;
    char dir[64]; // temporary folder holding the config and the log
    char log[96]; // the server's stderr
    char config[96];
};

// Write the config (printf-style; "%1$d" and friends are not needed: callers pass the stub port
// as often as the template uses it) and start the server. extra_env ("NAME=value" or NULL) is
// added to its environment. Returns RL_OK once the server logs that it is listening.
int proxy_start(struct proxy *p, const char *extra_env, const char *fmt, ...) RL_PRINTF(3, 4);
// Start the server with flags alone (args after "serve", NULL-terminated; "--port 0" is added)
// and wait as proxy_start does.
int proxy_start_flags(struct proxy *p, const char *extra_env, const char *const *args);
// Run the server with the given argv tail (after "serve") and config text, wait for it to exit
// and return its exit status; its stderr is left in p->log.
int proxy_run_to_exit(struct proxy *p, const char *config_text, const char *const *args);
// SIGTERM, then wait; returns the exit status (or -1 if it had to be killed after 10 s).
int proxy_stop(struct proxy *p);
char *proxy_log(const struct proxy *p); // malloc'd contents of the server's stderr
// Wait until the server's log holds `needle` n times (10 s at most); false when it never does.
bool proxy_wait_log(const struct proxy *p, const char *needle, int n);

struct http_resp {
    long status;
    struct rl_buf body;
    struct rl_buf headers;
    double t_first; // seconds from the start of the request to the first body byte
    double t_total;
};

// What the harness's waits return when their time runs out (not a library status).
#define HARNESS_TIMEOUT (-100)

// One request to 127.0.0.1:port. body NULL means GET. header may be NULL. abort_after_bytes > 0
// makes the client hang up after that many body bytes; timeout_ms > 0 bounds the whole call.
// RL_OK, HARNESS_TIMEOUT or RL_EIO.
int http_call(int port, const char *path, const char *body, const char *header,
              long abort_after_bytes, long timeout_ms, struct http_resp *r);
void http_resp_free(struct http_resp *r);
// The value of a response header (case-insensitive name) copied into out; false when absent.
bool http_header(const struct http_resp *r, const char *name, char *out, size_t out_size);
// The value of one Prometheus sample line `name` (with labels, exactly as rendered), or -1.
double metric_value(int port, const char *sample);

#endif
