// Request capture and feedback (the capture: section): one JSON line per chat or completions
// request, written when it ends, and one per POST /v1/feedback, appended to DIR/capture.jsonl.
// A line is one write(2) on a file opened with O_APPEND, so lines never interleave. Past
// max_file_bytes the file is renamed capture-<UTC time>-<n>.jsonl and a new one begun; past
// max_files rotated files, the oldest are deleted. The prompt is written as text, or with
// redact: true as its SHA-256 alone; no header, key or answer text is ever written. The dashboard
// lists the same lines (dashboard.c), without a prompt when there is no capture.
//
// Writes happen on the loop thread: a line is a few hundred bytes into the page cache, and a
// failed write is logged (rate-limited by the log's own level) and counted, never retried.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "server/server_impl.h"

#define CAPTURE_FILE   "capture.jsonl"
#define ROTATED_PREFIX "capture-"

struct srv_capture {
    int fd;
    char *dir;
    char path[4096]; // DIR/capture.jsonl
    size_t size;     // bytes in the current file
    size_t max_bytes;
    unsigned max_files, seq;
    bool redact;
    uint64_t failed; // lines that could not be written
};

static int open_current(struct srv_capture *k, char *errbuf) {
    k->fd = open(k->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    struct stat st;
    if (k->fd < 0 || fstat(k->fd, &st) != 0)
        return rl__errf(errbuf, RL_EIO, "capture.dir: cannot open %s: %s", k->path,
                        strerror(errno));
    k->size = (size_t)st.st_size;
    return RL_OK;
}

struct srv_capture *srv_capture_open(const struct srv_config *c, char *errbuf) {
    struct srv_capture *k = calloc(1, sizeof *k);
    if (!k || !(k->dir = strdup(c->capture_dir))) {
        free(k);
        rl__errf(errbuf, RL_ENOMEM, "out of memory");
        return NULL;
    }
    k->fd = -1;
    k->max_bytes = c->capture_max_bytes;
    k->max_files = c->capture_max_files;
    k->redact = c->capture_redact;
    int rc = rl_path_join(k->path, sizeof k->path, k->dir, CAPTURE_FILE) == RL_OK
                 ? RL_OK
                 : rl__errf(errbuf, RL_ETOOBIG, "capture.dir: path too long");
    if (rc == RL_OK && rl__mkdirs(k->dir) != RL_OK)
        rc = rl__errf(errbuf, RL_EIO, "capture.dir: cannot create %s: %s", k->dir, strerror(errno));
    if (rc == RL_OK)
        rc = open_current(k, errbuf);
    if (rc != RL_OK) {
        srv_capture_free(k);
        return NULL;
    }
    return k;
}

void srv_capture_free(struct srv_capture *k) {
    if (!k)
        return;
    if (k->fd >= 0)
        close(k->fd);
    free(k->dir);
    free(k);
}

bool srv_capture_same(const struct srv_capture *k, const struct srv_config *c) {
    return k && c->capture_dir && strcmp(k->dir, c->capture_dir) == 0 &&
           k->max_bytes == c->capture_max_bytes && k->max_files == c->capture_max_files &&
           k->redact == c->capture_redact;
}

static int by_name(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

// Delete the oldest rotated files (their names sort by time) beyond max_files.
static void prune(struct srv_capture *k) {
    DIR *d = opendir(k->dir);
    if (!d)
        return;
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (strncmp(e->d_name, ROTATED_PREFIX, strlen(ROTATED_PREFIX)) != 0 || len < 6 ||
            strcmp(e->d_name + len - 6, ".jsonl") != 0)
            continue;
        if (n == cap) {
            size_t grown = cap ? 2 * cap : 64;
            char **p = realloc(names, grown * sizeof *p);
            if (!p)
                break;
            names = p;
            cap = grown;
        }
        if (!(names[n] = strdup(e->d_name)))
            break;
        n++;
    }
    closedir(d);
    qsort(names, n, sizeof *names, by_name);
    for (size_t i = 0; i + k->max_files < n; i++) {
        char path[4096];
        if (rl_path_join(path, sizeof path, k->dir, names[i]) == RL_OK && unlink(path) != 0)
            srv_logf(SRV_LOG_WARN, "capture", "cannot delete %s: %s", path, strerror(errno));
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

// Rename the current file with the time and a sequence number, and begin a new one.
static void rotate(struct srv_capture *k) {
    char name[96], path[4096], stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
    snprintf(name, sizeof name, ROTATED_PREFIX "%s-%06u.jsonl", stamp, k->seq++ % 1000000u);
    close(k->fd);
    k->fd = -1;
    if (rl_path_join(path, sizeof path, k->dir, name) != RL_OK || rename(k->path, path) != 0)
        srv_logf(SRV_LOG_WARN, "capture", "cannot rotate %s: %s", k->path, strerror(errno));
    char err[RL_ERRBUF_SIZE];
    if (open_current(k, err) != RL_OK)
        srv_logf(SRV_LOG_ERROR, "capture", "%s", err);
    prune(k);
}

void srv_capture_write(struct srv_capture *k, const char *line, size_t len) {
    if (k->size > 0 && k->size + len > k->max_bytes)
        rotate(k);
    ssize_t n = k->fd >= 0 ? write(k->fd, line, len) : -1;
    if (n == (ssize_t)len) {
        k->size += len;
        return;
    }
    if (k->failed++ % 1000 == 0) // the first failure, then every 1000th
        srv_logf(SRV_LOG_ERROR, "capture", "cannot write %s (%llu lines lost so far): %s", k->path,
                 (unsigned long long)k->failed, n < 0 ? strerror(errno) : "short write");
}

// ----------------------------------------------------------------------------
// Lines

// Seconds since the epoch, with milliseconds.
static double wall_time(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)(ts.tv_nsec / 1000000) / 1000;
}

// Write the object j as one line.
static void write_json(struct srv_capture *k, const json_t *j) {
    char *text = j ? json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(10)) : NULL;
    if (!text) {
        srv_logf(SRV_LOG_ERROR, "capture", "out of memory: a line is lost");
        return;
    }
    size_t n = strlen(text);
    char *line = realloc(text, n + 2);
    if (!line) {
        free(text);
        return;
    }
    line[n] = '\n';
    srv_capture_write(k, line, n + 1);
    free(line);
}

// How a request's line holds its routing prompt.
enum prompt_form { PROMPT_NONE, PROMPT_TEXT, PROMPT_SHA256 };

// The line of a request that ended with status.
static json_t *request_line(const struct srv_request *q, int status, enum prompt_form form) {
    const struct srv_routing *g = &q->routing;
    const struct srv_config *c = q->gen->c;
    json_t *j = json_pack("{s:s,s:s,s:f,s:s,s:i,s:b,s:f}", "type", "request", "id", q->id, "time",
                          wall_time(), "endpoint", q->path, "status", status, "stream", g->stream,
                          "latency_ms", (double)(srv_now_ns() - q->t0) * 1e-6);
    if (!j)
        return NULL;
    if (g->prompt.len && form == PROMPT_SHA256) {
        char hex[65];
        rl__sha256_hex(g->prompt.data, g->prompt.len, hex);
        json_object_set_new(j, "prompt_sha256", json_string(hex));
    } else if (g->prompt.len && form == PROMPT_TEXT) {
        json_object_set_new(j, "prompt", json_stringn(g->prompt.data, g->prompt.len));
    }
    if (q->model >= 0)
        json_object_set_new(j, "model", json_string(c->models[q->model].name));
    if (q->up.target >= 0 && q->up.target != q->model)
        json_object_set_new(j, "deployment", json_string(c->models[q->up.target].name));
    if (g->route >= 0) {
        json_object_set_new(j, "route", json_string(q->gen->routes[g->route].cfg->name));
        json_object_set_new(j, "policy", json_string(rl_policy_kind_name(g->policy.kind)));
        json_object_set_new(j, "param", json_real(g->policy.param));
        json_object_set_new(j, "quality", json_real(g->quality));
    } else if (g->router >= 0) {
        json_object_set_new(j, "threshold", json_real(g->threshold));
        json_object_set_new(j, "p_strong", json_real(g->p_strong));
        json_object_set_new(j, "strong", json_string(c->models[q->gen->strong].name));
        json_object_set_new(j, "weak", json_string(c->models[q->gen->weak].name));
    }
    if (g->router >= 0)
        json_object_set_new(j, "router", json_string(q->gen->routers[g->router].name));
    if (q->reply.have_usage) {
        json_object_set_new(j, "prompt_tokens", json_integer(q->reply.prompt_tokens));
        json_object_set_new(j, "completion_tokens", json_integer(q->reply.completion_tokens));
    }
    return j;
}

void srv__capture_request(struct srv_request *q, int status) {
    struct srv_capture *k = q->s->capture;
    bool recent = q->gen->c->dashboard;
    if ((!k && !recent) || (q->kind != SRV_KIND_CHAT && q->kind != SRV_KIND_COMPLETIONS))
        return;
    // The dashboard's list shows what the capture writes, and no prompt without a capture.
    json_t *j = request_line(q, status, !k ? PROMPT_NONE : k->redact ? PROMPT_SHA256 : PROMPT_TEXT);
    if (k)
        write_json(k, j);
    if (j && recent)
        srv__dashboard_recent(q->s, j);
    json_decref(j);
}

// ----------------------------------------------------------------------------
// POST /v1/feedback

static void bad_feedback(struct srv_request *q, const char *msg, const char *param) {
    srv__answer_error(q, 400, msg, "invalid_request_error", param, "invalid_feedback");
}

void srv__feedback(struct srv_request *q) {
    struct srv_capture *k = q->s->capture;
    if (!k) {
        srv__answer_error(q, 404,
                          "feedback is recorded in the capture, which is off (see the "
                          "capture: section)",
                          "invalid_request_error", NULL, "feedback_unavailable");
        return;
    }
    json_t *j = srv__body_json(q);
    if (!j)
        return;
    const char *id = json_string_value(json_object_get(j, "request_id"));
    const json_t *rating = json_object_get(j, "rating");
    const char *preferred = json_string_value(json_object_get(j, "preferred_model"));
    const char *key;
    json_t *v;
    const char *unknown = NULL;
    char msg[400];
    json_object_foreach(j, key, v) {
        if (strcmp(key, "request_id") != 0 && strcmp(key, "rating") != 0 &&
            strcmp(key, "preferred_model") != 0 && strcmp(key, "comment") != 0)
            unknown = key;
    }
    bool id_ok = id && *id && strlen(id) < sizeof q->id;
    for (const char *p = id; id_ok && *p; p++)
        id_ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                *p == '-' || *p == '_' || *p == '.';
    const json_t *comment = json_object_get(j, "comment");
    if (unknown) {
        snprintf(msg, sizeof msg,
                 "unknown member '%.60s' (known: request_id, rating, preferred_model, comment)",
                 unknown);
        bad_feedback(q, msg, unknown);
    } else if (!id_ok) {
        bad_feedback(q,
                     "'request_id' must be the x-request-id of a request (letters, digits, "
                     "- _ .; at most 39)",
                     "request_id");
    } else if (!rating == !preferred) {
        bad_feedback(q, "give one of 'rating' (a number in [0, 1]) and 'preferred_model'", NULL);
    } else if (rating && (!json_is_number(rating) || !(json_number_value(rating) >= 0) ||
                          json_number_value(rating) > 1)) {
        bad_feedback(q, "'rating' must be a number in [0, 1] (1: a good answer)", "rating");
    } else if (preferred && srv_config_model_index(q->gen->c, preferred) < 0) {
        snprintf(msg, sizeof msg, "'preferred_model': no model is named '%.60s'", preferred);
        bad_feedback(q, msg, "preferred_model");
    } else if (comment && (!json_is_string(comment) || json_string_length(comment) > 4096)) {
        bad_feedback(q, "'comment' must be a string of at most 4096 bytes", "comment");
    } else {
        json_t *line =
            json_pack("{s:s,s:s,s:f}", "type", "feedback", "id", id, "time", wall_time());
        if (line && rating)
            json_object_set_new(line, "rating", json_real(json_number_value(rating)));
        if (line && preferred)
            json_object_set_new(line, "preferred_model", json_string(preferred));
        if (line && comment && !k->redact)
            json_object_set(line, "comment", (json_t *)comment);
        write_json(k, line);
        json_decref(line);
        srv__answer_json(q, 200, "{\"status\":\"recorded\"}");
    }
    json_decref(j);
}
