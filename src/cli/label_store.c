// The state of a `routellm label` job on disk: the prompts it labels, the journal that makes it
// resumable (every finished cell appended and flushed as it completes; label.h describes the
// records) and the table written from it. What runs the calls is label_run.c.
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/sha.h>

#include "cli/label.h"
#include "rl/texts.h"

#define JOURNAL_VERSION 1

// ----------------------------------------------------------------------------
// Prompts

static int by_key(const void *a, const void *b, void *job) {
    const struct label_job *j = job;
    return memcmp(j->keys[*(const size_t *)a], j->keys[*(const size_t *)b], 16);
}

// The index of the prompt whose key is `key`, or -1.
static long find_key(const struct label_job *j, const uint8_t *key) {
    size_t lo = 0, hi = j->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = memcmp(j->keys[j->by_key[mid]], key, 16);
        if (c == 0)
            return (long)j->by_key[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

static void key_hex(const uint8_t *key, char out[33]) {
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 16; i++) {
        out[2 * i] = hex[key[i] >> 4];
        out[2 * i + 1] = hex[key[i] & 15];
    }
    out[32] = '\0';
}

static bool key_parse(const char *s, uint8_t *key) {
    if (!s || strlen(s) != 32)
        return false;
    for (int i = 0; i < 32; i++) {
        char c = s[i];
        int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (v < 0)
            return false;
        key[i / 2] = (uint8_t)(i % 2 ? key[i / 2] | v : v << 4);
    }
    return true;
}

// Drop repeated prompts (by key), keeping the first of each, in place; the keys are computed here.
static int dedupe(struct label_job *j, char *errbuf) {
    size_t n = j->n;
    j->keys = malloc((n ? n : 1) * sizeof *j->keys);
    j->by_key = malloc((n ? n : 1) * sizeof *j->by_key);
    if (!j->keys || !j->by_key)
        return rl__errf(errbuf, RL_ENOMEM, "out of memory for %zu prompts", n);
    for (size_t i = 0; i < n; i++) {
        unsigned char md[SHA256_DIGEST_LENGTH];
        SHA256((const unsigned char *)j->prompts[i], strlen(j->prompts[i]), md);
        memcpy(j->keys[i], md, 16);
        j->by_key[i] = i;
    }
    qsort_r(j->by_key, n, sizeof *j->by_key, by_key, j);
    bool *repeat = calloc(n ? n : 1, sizeof *repeat);
    if (!repeat)
        return rl__errf(errbuf, RL_ENOMEM, "out of memory for %zu prompts", n);
    for (size_t k = 1; k < n; k++) {
        size_t a = j->by_key[k - 1], b = j->by_key[k];
        if (memcmp(j->keys[a], j->keys[b], 16) == 0)
            repeat[a > b ? a : b] = true; // the later one; the first occurrence is kept
    }
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        if (repeat[i]) {
            free(j->prompts[i]);
            if (j->refs)
                free(j->refs[i]);
            continue;
        }
        j->prompts[kept] = j->prompts[i];
        if (j->refs)
            j->refs[kept] = j->refs[i];
        memcpy(j->keys[kept], j->keys[i], 16);
        kept++;
    }
    free(repeat);
    j->n_duplicates = n - kept;
    j->n = kept;
    for (size_t i = 0; i < kept; i++)
        j->by_key[i] = i;
    qsort_r(j->by_key, kept, sizeof *j->by_key, by_key, j);
    return RL_OK;
}

int label_job_prompts(struct label_job *j, const char *path, const char *ref_column, char *errbuf) {
    struct rl_texts texts = {0}, refs = {0};
    int rc = ref_column ? rl_texts_load_pairs(path, NULL, ref_column, &texts, &refs, errbuf)
                        : rl_texts_load(path, NULL, &texts, errbuf);
    if (rc != RL_OK)
        return rc;
    if (texts.n == 0)
        rc = rl__errf(errbuf, RL_EFORMAT, "%s: no prompts", path);
    else if (texts.n > LABEL_MAX_PROMPTS)
        rc = rl__errf(errbuf, RL_ETOOBIG, "%s: %zu prompts, more than %u", path, texts.n,
                      LABEL_MAX_PROMPTS);
    // Each prompt goes into a JSON request: it must be UTF-8.
    for (size_t i = 0; rc == RL_OK && i < texts.n; i++) {
        json_t *s = json_string(texts.items[i]);
        if (!s)
            rc = rl__errf(errbuf, RL_EFORMAT, "%s: prompt %zu is not valid UTF-8", path, i + 1);
        json_decref(s);
    }
    if (rc != RL_OK) {
        rl_texts_free(&texts);
        rl_texts_free(&refs);
        return rc;
    }
    j->prompts = texts.items;
    j->n = texts.n;
    j->refs = ref_column ? refs.items : NULL;
    rc = dedupe(j, errbuf);
    if (rc != RL_OK)
        return rc;
    j->cells = calloc(j->n * (size_t)j->n_models, sizeof *j->cells);
    if (j->mode == LABEL_MODE_PAIRWISE) {
        j->verdicts = calloc(j->n, sizeof *j->verdicts);
        j->pair_spent = calloc(j->n, sizeof *j->pair_spent);
    }
    if (!j->cells || (j->mode == LABEL_MODE_PAIRWISE && (!j->verdicts || !j->pair_spent)))
        return rl__errf(errbuf, RL_ENOMEM, "out of memory for %zu prompts", j->n);
    return RL_OK;
}

void label_job_free(struct label_job *j) {
    if (j->fd >= 0) {
        label_journal_sync(j, true);
        close(j->fd);
    }
    j->fd = -1;
    for (size_t i = 0; j->prompts && i < j->n; i++)
        free(j->prompts[i]);
    for (size_t i = 0; j->refs && i < j->n; i++)
        free(j->refs[i]);
    for (size_t i = 0; j->cells && i < j->n * (size_t)j->n_models; i++)
        free(j->cells[i].answer);
    free(j->prompts);
    free(j->refs);
    free(j->keys);
    free(j->by_key);
    free(j->cells);
    free(j->verdicts);
    free(j->pair_spent);
    free(j->journal_path);
    j->prompts = j->refs = NULL;
    j->keys = NULL;
    j->by_key = NULL;
    j->cells = NULL;
    j->verdicts = NULL;
    j->pair_spent = NULL;
    j->journal_path = NULL;
}

// ----------------------------------------------------------------------------
// The journal

static int model_index(const struct label_job *j, const char *name) {
    for (int m = 0; name && m < j->n_models; m++)
        if (strcmp(j->models[m], name) == 0)
            return m;
    return -1;
}

static json_t *header_json(const struct label_job *j) {
    json_t *models = json_array();
    for (int m = 0; models && m < j->n_models; m++)
        json_array_append_new(models, json_string(j->models[m]));
    return json_pack("{s:i,s:o,s:s}", "routellm_label", JOURNAL_VERSION, "models", models,
                     "grading", j->grading);
}

// Write one record as one line with one write(2): a crash leaves it whole or torn at the end.
static int journal_write(struct label_job *j, json_t *rec) {
    char *line = rec ? json_dumps(rec, JSON_COMPACT) : NULL;
    json_decref(rec);
    if (!line)
        return RL_ENOMEM;
    size_t n = strlen(line);
    line[n] = '\n'; // json_dumps leaves the terminating NUL, which becomes the newline
    ssize_t w = write(j->fd, line, n + 1);
    free(line);
    if (w != (ssize_t)(n + 1))
        return RL_EIO;
    j->unsynced = true;
    label_journal_sync(j, false);
    return RL_OK;
}

void label_journal_sync(struct label_job *j, bool force) {
    if (j->fd < 0 || !j->unsynced)
        return;
    double now = rl_now_s();
    if (!force && now - j->last_sync < LABEL_SYNC_S)
        return;
    fdatasync(j->fd);
    j->last_sync = now;
    j->unsynced = false;
}

// Replay one record of a journal.
static int replay(struct label_job *j, json_t *rec, long line, char *errbuf) {
    const char *p = j->journal_path;
    const char *ans = json_string_value(json_object_get(rec, "answer"));
    const char *cell = json_string_value(json_object_get(rec, "cell"));
    int m = model_index(j, json_string_value(json_object_get(rec, "model")));
    uint8_t key[16];
    json_t *spent = json_object_get(rec, "spent"), *cost = json_object_get(rec, "cost");
    if ((!ans == !cell) || !key_parse(ans ? ans : cell, key) || m < 0 || !json_is_number(spent) ||
        !json_is_number(cost) || json_number_value(spent) < 0 || json_number_value(cost) < 0)
        return rl__errf(errbuf, RL_EFORMAT, "%s:%ld: not a label record", p, line);
    double s = json_number_value(spent);
    j->before.spent += s;
    if (cell && j->mode != LABEL_MODE_REFERENCE)
        j->before.judge_spent += s;
    long i = find_key(j, key);
    if (i < 0) {
        j->foreign++;
        return RL_OK;
    }
    struct label_cell *c = &j->cells[(size_t)i * (size_t)j->n_models + (size_t)m];
    if (c->state == LABEL_CELL_DONE)
        return RL_OK; // a cell is recorded once; a record after it would be a second label
    c->cost = json_number_value(cost);
    if (ans) {
        const char *text = json_string_value(json_object_get(rec, "text"));
        if (!text)
            return rl__errf(errbuf, RL_EFORMAT, "%s:%ld: an answer record without text", p, line);
        free(c->answer);
        c->answer = strdup(text);
        if (!c->answer)
            return rl__errf(errbuf, RL_ENOMEM, "out of memory");
        c->state = LABEL_CELL_ANSWERED;
        return RL_OK;
    }
    json_t *q = json_object_get(rec, "quality");
    if (!json_is_null(q) && !json_is_number(q))
        return rl__errf(errbuf, RL_EFORMAT, "%s:%ld: quality is not a number or null", p, line);
    c->quality = json_is_number(q) ? json_number_value(q) : NAN;
    c->state = LABEL_CELL_DONE;
    free(c->answer);
    c->answer = NULL;
    j->before.cells++;
    j->before.missing += isnan(c->quality);
    return RL_OK;
}

// The header must name the same models, in the same order, and the same grading.
static int check_header(struct label_job *j, json_t *h, char *errbuf) {
    json_t *want = header_json(j);
    if (!want)
        return rl__errf(errbuf, RL_ENOMEM, "out of memory");
    bool same = json_integer_value(json_object_get(h, "routellm_label")) == JOURNAL_VERSION &&
                json_equal(json_object_get(h, "models"), json_object_get(want, "models")) &&
                json_equal(json_object_get(h, "grading"), json_object_get(want, "grading"));
    int rc = RL_OK;
    if (!same) {
        char *had = json_dumps(h, JSON_COMPACT), *now = json_dumps(want, JSON_COMPACT);
        rc = rl__errf(errbuf, RL_EINVAL,
                      "%s was written by another job (%.80s; this one is %.80s): give another "
                      "--out, or remove the journal to start over",
                      j->journal_path, had ? had : "?", now ? now : "?");
        free(had);
        free(now);
    }
    json_decref(want);
    return rc;
}

// Read the journal at j->journal_path, if any, into the cells. *good is the length of its whole
// records: a torn last record (no newline: the process died while writing it) is not counted.
static int journal_replay(struct label_job *j, off_t *good, bool *has_header, char *errbuf) {
    *good = 0;
    *has_header = false;
    FILE *f = fopen(j->journal_path, "rb");
    if (!f)
        return errno == ENOENT ? RL_OK
                               : rl__errf(errbuf, RL_EIO, "%s: cannot read: %s", j->journal_path,
                                          strerror(errno));
    char *buf = malloc(LABEL_JOURNAL_LINE_MAX + 2);
    int rc = buf ? RL_OK : rl__errf(errbuf, RL_ENOMEM, "out of memory");
    for (long line = 1; rc == RL_OK && fgets(buf, LABEL_JOURNAL_LINE_MAX + 2, f); line++) {
        size_t n = strlen(buf);
        if (n == 0 || buf[n - 1] != '\n') {
            if (!feof(f))
                rc = rl__errf(errbuf, RL_EFORMAT, "%s:%ld: a record longer than %u bytes",
                              j->journal_path, line, LABEL_JOURNAL_LINE_MAX);
            break; // a torn last record (or a NUL byte in it): cut off below
        }
        json_error_t jerr;
        json_t *rec = json_loadb(buf, n, 0, &jerr);
        if (!json_is_object(rec))
            rc = rl__errf(errbuf, RL_EFORMAT, "%s:%ld: not a JSON record: the journal is damaged",
                          j->journal_path, line);
        else if (line == 1)
            rc = check_header(j, rec, errbuf);
        else
            rc = replay(j, rec, line, errbuf);
        json_decref(rec);
        *has_header = rc == RL_OK;
        *good += (off_t)n;
    }
    if (rc == RL_OK && ferror(f))
        rc = rl__errf(errbuf, RL_EIO, "%s: read error", j->journal_path);
    free(buf);
    fclose(f);
    return rc;
}

int label_journal_open(struct label_job *j, const char *path, char *errbuf) {
    j->fd = -1;
    j->journal_path = strdup(path);
    if (!j->journal_path)
        return rl__errf(errbuf, RL_ENOMEM, "out of memory");
    int fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return rl__errf(errbuf, RL_EIO, "%s: cannot open: %s", path, strerror(errno));
    // One run per journal: a second one would label the same cells twice.
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        close(fd);
        return rl__errf(errbuf, RL_EIO, "%s: another `routellm label` is writing this table", path);
    }
    j->fd = fd;
    off_t good;
    bool has_header;
    int rc = journal_replay(j, &good, &has_header, errbuf);
    if (rc != RL_OK)
        return rc;
    struct stat st;
    if (fstat(fd, &st) != 0)
        return rl__errf(errbuf, RL_EIO, "%s: %s", path, strerror(errno));
    if (st.st_size > good) {
        j->torn = (size_t)(st.st_size - good);
        if (ftruncate(fd, good) != 0)
            return rl__errf(errbuf, RL_EIO, "%s: cannot cut a torn record: %s", path,
                            strerror(errno));
    }
    if (!has_header) {
        rc = journal_write(j, header_json(j));
        if (rc != RL_OK)
            return rl__errf(errbuf, rc, "%s: cannot write: %s", path, strerror(errno));
        label_journal_sync(j, true);
    }
    j->last_sync = rl_now_s();
    return RL_OK;
}

int label_journal_answer(struct label_job *j, size_t prompt, int model, const char *text,
                         double spent, long prompt_tokens, long completion_tokens) {
    char key[33];
    key_hex(j->keys[prompt], key);
    return journal_write(j, json_pack("{s:s,s:s,s:s,s:f,s:f,s:I,s:I}", "answer", key, "model",
                                      j->models[model], "text", text, "cost", spent, "spent", spent,
                                      "prompt_tokens", (json_int_t)prompt_tokens,
                                      "completion_tokens", (json_int_t)completion_tokens));
}

int label_journal_cell(struct label_job *j, size_t prompt, int model, double quality, double spent,
                       const char *verdict) {
    char key[33];
    key_hex(j->keys[prompt], key);
    const struct label_cell *c = &j->cells[prompt * (size_t)j->n_models + (size_t)model];
    return journal_write(j, json_pack("{s:s,s:s,s:o,s:f,s:f,s:s}", "cell", key, "model",
                                      j->models[model], "quality",
                                      isnan(quality) ? json_null() : json_real(quality), "cost",
                                      c->cost, "spent", spent, "verdict", verdict ? verdict : ""));
}

// ----------------------------------------------------------------------------
// The table

// Append s as one CSV field (RFC 4180: quoted when it holds a comma, quote or line break).
static int csv_field(struct rl_buf *b, const char *s, bool last) {
    int rc = RL_OK;
    if (strpbrk(s, ",\"\r\n")) {
        rc = rl_buf_append(b, "\"", 1);
        for (const char *p = s; rc == RL_OK && *p; p++)
            rc = *p == '"' ? rl_buf_append(b, "\"\"", 2) : rl_buf_append(b, p, 1);
        if (rc == RL_OK)
            rc = rl_buf_append(b, "\"", 1);
    } else {
        rc = rl_buf_append(b, s, strlen(s));
    }
    return rc == RL_OK ? rl_buf_append(b, last ? "\n" : ",", 1) : rc;
}

int label_table_write(const struct label_job *j, const char *path, size_t *rows, char *errbuf) {
    struct rl_buf b;
    rl_buf_init(&b, SIZE_MAX / 2);
    *rows = 0;
    int rc = csv_field(&b, "prompt", false), nm = j->n_models;
    char name[256];
    for (int m = 0; rc == RL_OK && m < nm; m++)
        rc = csv_field(&b, j->models[m], false);
    for (int m = 0; rc == RL_OK && m < nm; m++) {
        snprintf(name, sizeof name, "%s|cost", j->models[m]);
        rc = csv_field(&b, name, m == nm - 1);
    }
    for (size_t i = 0; rc == RL_OK && i < j->n; i++) {
        const struct label_cell *c = &j->cells[i * (size_t)nm];
        bool any = false;
        for (int m = 0; m < nm; m++)
            any |= c[m].state == LABEL_CELL_DONE;
        if (!any)
            continue;
        rc = csv_field(&b, j->prompts[i], false);
        char v[64];
        for (int m = 0; rc == RL_OK && m < nm; m++) {
            bool known = c[m].state == LABEL_CELL_DONE && !isnan(c[m].quality);
            snprintf(v, sizeof v, "%.6g", known ? c[m].quality : 0.0);
            rc = csv_field(&b, known ? v : "", false);
        }
        for (int m = 0; rc == RL_OK && m < nm; m++) {
            snprintf(v, sizeof v, "%.10g", c[m].cost);
            rc = csv_field(&b, c[m].state == LABEL_CELL_DONE ? v : "", m == nm - 1);
        }
        (*rows)++;
    }
    if (rc != RL_OK) {
        rl_buf_free(&b);
        return rl__errf(errbuf, rc, "%s: out of memory", path);
    }
    rc = rl_file_write(path, b.data, b.len, errbuf);
    rl_buf_free(&b);
    return rc;
}
