// The server test harness: fork/exec of the real binary (so a test sees exactly what a user
// gets, exit status and logs included) and a small libcurl client that records status, headers,
// body and the time of the first body byte.
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>

#include "serve_harness.h"

#ifndef RL_TEST_BIN
#define RL_TEST_BIN "build/routellm"
#endif

// Every temporary folder made, removed at exit (tests read the logs after the server stops).
static char (*made)[64];
static size_t n_made;

static void remove_folders(void) {
    for (size_t i = 0; i < n_made; i++) {
        static const char *const files[] = {"serve.yaml", "serve.log"};
        for (size_t k = 0; k < 2; k++) {
            char path[96];
            snprintf(path, sizeof path, "%s/%s", made[i], files[k]);
            unlink(path);
        }
        rmdir(made[i]);
    }
    free(made);
    made = NULL;
    n_made = 0;
}

static int write_config(struct proxy *p, const char *text) {
    snprintf(p->dir, sizeof p->dir, "/tmp/rl_serve_XXXXXX");
    if (!mkdtemp(p->dir))
        return RL_EIO;
    char(*grown)[64] = realloc(made, (n_made + 1) * sizeof *made);
    if (grown) {
        if (n_made == 0)
            atexit(remove_folders);
        made = grown;
        snprintf(made[n_made++], sizeof made[0], "%s", p->dir);
    }
    snprintf(p->config, sizeof p->config, "%s/serve.yaml", p->dir);
    snprintf(p->log, sizeof p->log, "%s/serve.log", p->dir);
    return rl_file_write(p->config, text, strlen(text), NULL);
}

// Servers left running by a test that failed half-way are stopped by the next start or at exit,
// so that a failure never leaves a process behind holding the runner's output open.
static pid_t running[8];

static void kill_leftovers(void) {
    for (size_t i = 0; i < sizeof running / sizeof running[0]; i++) {
        if (running[i] > 0) {
            kill(running[i], SIGKILL);
            waitpid(running[i], NULL, 0);
            running[i] = 0;
        }
    }
}

#define SPAWN_MAX_ARGS 32 // after "serve"

static pid_t spawn(struct proxy *p, const char *extra_env, const char *const *args) {
    static bool registered;
    if (!registered)
        registered = atexit(kill_leftovers) == 0;
    kill_leftovers();
    pid_t pid = fork();
    if (pid != 0) {
        running[0] = pid;
        return pid;
    }
    FILE *log = freopen(p->log, "w", stderr);
    FILE *out = freopen("/dev/null", "w", stdout);
    if (!log || !out)
        _exit(127);
    if (extra_env)
        putenv((char *)extra_env);
    const char *argv[SPAWN_MAX_ARGS + 3] = {RL_TEST_BIN, "serve"};
    int n = 2;
    for (int i = 0; args[i] && n < SPAWN_MAX_ARGS + 2; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    execv(RL_TEST_BIN, (char *const *)argv);
    _exit(127);
}

char *proxy_log(const struct proxy *p) {
    char *data = NULL;
    size_t len;
    if (rl_file_read(p->log, 1 << 24, &data, &len, NULL) != RL_OK)
        return NULL;
    return data;
}

// Start the server with args and wait until it logs {"msg":"listening",...,"port":N}.
static int start_and_wait(struct proxy *p, const char *extra_env, const char *const *args) {
    p->pid = spawn(p, extra_env, args);
    if (p->pid < 0)
        return RL_EIO;
    for (int waited = 0; waited < 10000; waited += 5) {
        char *log = proxy_log(p);
        const char *at = log ? strstr(log, "\"msg\":\"listening\"") : NULL;
        const char *port = at ? strstr(at, "\"port\":") : NULL;
        if (port)
            p->port = (int)strtol(port + 7, NULL, 10);
        free(log);
        if (p->port > 0)
            return RL_OK;
        int status;
        if (waitpid(p->pid, &status, WNOHANG) == p->pid) {
            p->pid = 0;
            running[0] = 0;
            return RL_EIO;
        }
        usleep(5000);
    }
    proxy_stop(p);
    return HARNESS_TIMEOUT;
}

int proxy_start(struct proxy *p, const char *extra_env, const char *fmt, ...) {
    memset(p, 0, sizeof *p);
    char text[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (write_config(p, text) != RL_OK)
        return RL_EIO;
    const char *args[] = {"--config", p->config, "--port", "0", NULL};
    return start_and_wait(p, extra_env, args);
}

int proxy_start_flags(struct proxy *p, const char *extra_env, const char *const *args) {
    memset(p, 0, sizeof *p);
    if (write_config(p, "") != RL_OK) // the folder for the log; the file is not read
        return RL_EIO;
    const char *full[SPAWN_MAX_ARGS + 1] = {"--port", "0"};
    int n = 2;
    for (int i = 0; args[i] && n < SPAWN_MAX_ARGS; i++)
        full[n++] = args[i];
    full[n] = NULL;
    return start_and_wait(p, extra_env, full);
}

bool proxy_wait_log(const struct proxy *p, const char *needle, int n) {
    for (int waited = 0; waited < 10000; waited += 20) {
        char *log = proxy_log(p);
        int seen = 0;
        for (const char *at = log ? strstr(log, needle) : NULL; at; at = strstr(at + 1, needle))
            seen++;
        free(log);
        if (seen >= n)
            return true;
        usleep(20000);
    }
    return false;
}

int proxy_run_to_exit(struct proxy *p, const char *config_text, const char *const *args) {
    memset(p, 0, sizeof *p);
    if (write_config(p, config_text) != RL_OK)
        return -1;
    const char *full[12] = {"--config", p->config};
    int n = 2;
    for (int i = 0; args && args[i] && n < 11; i++)
        full[n++] = args[i];
    full[n] = NULL;
    pid_t pid = spawn(p, NULL, full);
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid)
        return -1;
    running[0] = 0;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int proxy_stop(struct proxy *p) {
    if (p->pid <= 0)
        return -1;
    kill(p->pid, SIGTERM);
    int status = 0;
    for (int waited = 0; waited < 10000; waited += 5) {
        if (waitpid(p->pid, &status, WNOHANG) == p->pid) {
            p->pid = 0;
            running[0] = 0;
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        }
        usleep(5000);
    }
    kill_leftovers();
    p->pid = 0;
    return -1;
}

// ----------------------------------------------------------------------------
// Client

struct call_state {
    struct http_resp *r;
    double t0;
    long abort_after;
};

static size_t on_body(char *data, size_t size, size_t n, void *userp) {
    struct call_state *cs = userp;
    if (cs->r->body.len == 0 && size * n > 0)
        cs->r->t_first = rl_now_s() - cs->t0;
    if (rl_buf_append(&cs->r->body, data, size * n) != RL_OK)
        return 0;
    if (cs->abort_after > 0 && (long)cs->r->body.len >= cs->abort_after)
        return 0; // hang up, as a client that goes away mid-stream does
    return size * n;
}

static size_t on_header(char *data, size_t size, size_t n, void *userp) {
    struct http_resp *r = userp;
    return rl_buf_append(&r->headers, data, size * n) == RL_OK ? size * n : 0;
}

int http_call(int port, const char *path, const char *body, const char *header,
              long abort_after_bytes, long timeout_ms, struct http_resp *r) {
    memset(r, 0, sizeof *r);
    rl_buf_init(&r->body, 64u << 20);
    rl_buf_init(&r->headers, 1u << 20);
    CURL *e = curl_easy_init();
    if (!e)
        return RL_ENOMEM;
    char url[512];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    h = curl_slist_append(h, "Expect:");
    if (header)
        h = curl_slist_append(h, header);
    struct call_state cs = {r, rl_now_s(), abort_after_bytes};
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    if (body) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &cs);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms > 0 ? timeout_ms : 20000L);
    CURLcode rc = curl_easy_perform(e);
    r->t_total = rl_now_s() - cs.t0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &r->status);
    curl_slist_free_all(h);
    curl_easy_cleanup(e);
    if (rc == CURLE_OK)
        return RL_OK;
    return rc == CURLE_OPERATION_TIMEDOUT ? HARNESS_TIMEOUT : RL_EIO;
}

void http_resp_free(struct http_resp *r) {
    rl_buf_free(&r->body);
    rl_buf_free(&r->headers);
}

bool http_header(const struct http_resp *r, const char *name, char *out, size_t out_size) {
    size_t nlen = strlen(name);
    const char *p = r->headers.data;
    while (p && *p) {
        const char *eol = strstr(p, "\r\n");
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        if (len > nlen && strncasecmp(p, name, nlen) == 0 && p[nlen] == ':') {
            const char *v = p + nlen + 1;
            while (*v == ' ')
                v++;
            size_t vlen = len - (size_t)(v - p);
            if (vlen >= out_size)
                vlen = out_size - 1;
            memcpy(out, v, vlen);
            out[vlen] = '\0';
            return true;
        }
        p = eol ? eol + 2 : NULL;
    }
    return false;
}

double metric_value(int port, const char *sample) {
    struct http_resp r;
    double v = -1;
    if (http_call(port, "/metrics", NULL, NULL, 0, 0, &r) == RL_OK && r.body.data) {
        size_t n = strlen(sample);
        for (const char *p = r.body.data; p && *p;) {
            if (strncmp(p, sample, n) == 0 && p[n] == ' ') {
                v = strtod(p + n + 1, NULL);
                break;
            }
            p = strchr(p, '\n');
            p = p ? p + 1 : NULL;
        }
    }
    http_resp_free(&r);
    return v;
}
