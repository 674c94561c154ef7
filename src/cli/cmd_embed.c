// `routellm embed`: embed texts given as arguments, or one per line on stdin, with the local
// encoder. Prints one JSON object per text ({"text", "embedding"}), or writes an N × D float32
// .npy file with --out. Input is read and embedded a batch at a time, so memory stays bounded
// however long stdin is. It does not deduplicate texts or cache embeddings.
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <utf8proc.h>

#include "cli/cli.h"
#include "core/npy.h"
#include "rl.h"

#define MAX_LINE      (16u << 20) // bytes per stdin line
#define DEFAULT_BATCH 64
#define MAX_BATCH     4096

struct embed_opts {
    const char *model, *out;
    int batch, threads;
    int precision; // an enum rl_precision
    int n_texts;   // TEXT arguments, now argv[1..n_texts]; 0 reads stdin
};

// Returns 0, CLI_HELP or CLI_EXIT_USAGE.
static int parse_args(int argc, char **argv, struct embed_opts *o) {
    memset(o, 0, sizeof *o);
    o->batch = DEFAULT_BATCH;
    char batch_help[96];
    snprintf(batch_help, sizeof batch_help, "texts per forward pass (default %d, at most %d)",
             DEFAULT_BATCH, MAX_BATCH);
    const struct cli_opt opts[] = {
        CLI_STR("--model", &o->model, "DIR", 0,
                "encoder folder (default <home>/" CLI_DEFAULT_MODEL_DIR "; fetch it with `make "
                "models`)"),
        CLI_STR("--model-dir", &o->model, "DIR", 0, "the same as --model"),
        CLI_STR("--out", &o->out, "FILE", 0,
                "write an N x D float32 NumPy array (.npy) instead of JSON lines"),
        CLI_INT("--batch", &o->batch, 1, MAX_BATCH, "N", batch_help),
        CLI_INT("--threads", &o->threads, 0, 256, "N",
                "threads per forward pass (default: one per CPU)"),
        CLI_PRECISION(&o->precision),
    };
    const struct cli_spec spec = {
        .name = "embed",
        .args = "[--] [TEXT ...]",
        .max_args = -1,
        .args_end_options = true,
        .about = "Embed each TEXT, or each line of stdin when no TEXT is given, with the local "
                 "sentence encoder. Embeddings are unit-length (L2-normalised) float32 vectors.",
        CLI_OPTS(opts),
        .notes = "Without --out, each text gives one line on stdout:\n"
                 "  {\"text\": \"...\", \"embedding\": [0.0123, ...]}",
    };
    return cli_parse(&spec, argc, argv, &o->n_texts);
}

// ----------------------------------------------------------------------------
// Input: the arguments, or stdin one line at a time

struct input {
    char **argv; // texts from the command line, or NULL for stdin
    int argc, next_arg;
    char *line;
    size_t line_cap;
    size_t line_no;
};

// The next text (borrowed until the next call), NULL at the end; *err set on a read error.
// A line stops at "\n" (a trailing "\r" is dropped too); a NUL byte inside ends the text early,
// as texts are C strings.
static char *next_text(struct input *in, int *err) {
    *err = 0;
    if (in->argv)
        return in->next_arg < in->argc ? in->argv[in->next_arg++] : NULL;
    size_t n = 0;
    int c = EOF;
    bool any = false;
    while ((c = getc_unlocked(stdin)) != EOF) {
        any = true;
        if (c == '\n')
            break;
        if (n >= MAX_LINE) {
            *err = cli_fail("embed: stdin line %zu is longer than %u bytes", in->line_no + 1,
                            MAX_LINE);
            return NULL;
        }
        if (n + 1 >= in->line_cap) {
            size_t cap = in->line_cap ? 2 * in->line_cap : 4096;
            char *p = realloc(in->line, cap);
            if (!p) {
                *err = cli_fail("embed: out of memory");
                return NULL;
            }
            in->line = p;
            in->line_cap = cap;
        }
        in->line[n++] = (char)c;
    }
    if (ferror(stdin)) {
        *err = cli_fail("embed: cannot read stdin: %s", strerror(errno));
        return NULL;
    }
    if (!any)
        return NULL;
    in->line_no++;
    if (n > 0 && in->line[n - 1] == '\r')
        n--;
    if (!in->line) { // an empty first line
        in->line = malloc(1);
        if (!in->line) {
            *err = cli_fail("embed: out of memory");
            return NULL;
        }
        in->line_cap = 1;
    }
    in->line[n] = '\0';
    return in->line;
}

// Lines in stdin when it is a regular file (for the progress bar); 0 when unknown.
static size_t count_stdin_lines(void) {
    struct stat st;
    if (fstat(fileno(stdin), &st) != 0 || !S_ISREG(st.st_mode))
        return 0;
    long start = ftell(stdin);
    if (start < 0)
        return 0;
    size_t lines = 0;
    char buf[1 << 16];
    size_t n;
    int last = '\n';
    while ((n = fread(buf, 1, sizeof buf, stdin)) > 0) {
        for (size_t i = 0; i < n; i++)
            lines += buf[i] == '\n';
        last = buf[n - 1];
    }
    lines += last != '\n';
    clearerr(stdin);
    return fseek(stdin, start, SEEK_SET) == 0 ? lines : 0;
}

// ----------------------------------------------------------------------------
// Output

// The text as a JSON string; bytes that are not UTF-8 become U+FFFD, the tokenizer's reading.
static json_t *json_text(const char *s) {
    json_t *j = json_string(s);
    if (j)
        return j;
    size_t len = strlen(s);
    char *fixed = malloc(3 * len + 1), *p = fixed;
    if (!fixed)
        return NULL;
    for (size_t i = 0; i < len;) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t n =
            utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(len - i), &cp);
        if (n <= 0) {
            memcpy(p, "\xef\xbf\xbd", 3);
            p += 3;
            i++;
        } else {
            memcpy(p, s + i, (size_t)n);
            p += n;
            i += (size_t)n;
        }
    }
    *p = '\0';
    j = json_string(fixed);
    free(fixed);
    return j;
}

static int print_json(const char *text, const float *emb, size_t dim) {
    json_t *arr = json_array();
    for (size_t k = 0; arr && k < dim; k++)
        json_array_append_new(arr, json_real(emb[k]));
    json_t *obj = json_pack("{s:o, s:o}", "text", json_text(text), "embedding", arr);
    if (!obj)
        return cli_fail("embed: out of memory");
    // Nine significant digits read back as the same float32.
    int rc = json_dumpf(obj, stdout, JSON_COMPACT | JSON_REAL_PRECISION(9));
    json_decref(obj);
    if (rc != 0 || fputc('\n', stdout) == EOF)
        return cli_fail("embed: cannot write to stdout: %s", strerror(errno));
    return 0;
}

// ----------------------------------------------------------------------------
// The command

struct batch {
    char **texts; // owned copies
    size_t n;
    float *emb; // (n, dim)
};

static int flush(struct batch *b, const struct rl_encoder *enc, struct rl_encoder_ws *ws,
                 struct rl_npy_writer *npy, struct cli_progress *progress) {
    char err[RL_ERRBUF_SIZE];
    size_t dim = rl_encoder_dim(enc);
    if (b->n == 0)
        return 0;
    if (rl_encoder_embed_ws(enc, ws, (const char *const *)b->texts, b->n, b->emb, err) != RL_OK)
        return cli_fail("embed: %s", err);
    if (npy) {
        if (rl_npy_writer_append(npy, b->emb, b->n, err) != RL_OK)
            return cli_fail("embed: %s", err);
    } else {
        for (size_t i = 0; i < b->n; i++)
            if (print_json(b->texts[i], b->emb + i * dim, dim))
                return 1;
    }
    cli_progress_add(progress, b->n);
    for (size_t i = 0; i < b->n; i++)
        free(b->texts[i]);
    b->n = 0;
    return 0;
}

int cli_cmd_embed(int argc, char **argv) {
    struct embed_opts o;
    int rc = parse_args(argc, argv, &o);
    if (rc)
        return rc == CLI_HELP ? 0 : rc;

    char err[RL_ERRBUF_SIZE];
    struct rl_encoder *enc = cli_encoder_open(o.model, o.precision);
    if (!enc)
        return 1;
    size_t dim = rl_encoder_dim(enc);
    struct rl_encoder_ws *ws = rl_encoder_ws_new(o.threads);
    struct batch b = {
        .texts = calloc((size_t)o.batch, sizeof(char *)),
        .emb = malloc((size_t)o.batch * dim * sizeof(float)),
    };
    struct rl_npy_writer *npy = NULL;
    struct input in = {0};
    rc = 0;
    if (!ws || !b.texts || !b.emb) {
        rc = cli_fail("embed: out of memory");
        goto done;
    }
    if (o.out)
        npy = rl_npy_writer_open(o.out, dim, err);
    if (o.out && !npy) {
        rc = cli_fail("embed: %s", err);
        goto done;
    }
    size_t total = 0;
    if (o.n_texts > 0) {
        in.argv = argv + 1;
        in.argc = o.n_texts;
        total = (size_t)in.argc;
    } else {
        total = count_stdin_lines();
    }
    struct cli_progress progress;
    cli_progress_start(&progress, "embed", total);
    int read_err = 0;
    for (;;) {
        const char *text = next_text(&in, &read_err);
        if (!text)
            break;
        b.texts[b.n] = strdup(text);
        if (!b.texts[b.n]) {
            rc = cli_fail("embed: out of memory");
            goto done;
        }
        if (++b.n == (size_t)o.batch) {
            rc = flush(&b, enc, ws, npy, &progress);
            if (rc != 0)
                goto done;
        }
    }
    if (read_err) {
        rc = read_err;
        goto done;
    }
    rc = flush(&b, enc, ws, npy, &progress);
    if (rc != 0)
        goto done;
    cli_progress_finish(&progress);
    if (npy) {
        rc = rl_npy_writer_commit(npy, err) == RL_OK ? 0 : cli_fail("embed: %s", err);
        npy = NULL;
    } else if (fflush(stdout) != 0) {
        rc = cli_fail("embed: cannot write to stdout: %s", strerror(errno));
    }
done:
    rl_npy_writer_abort(npy);
    for (size_t i = 0; i < b.n; i++)
        free(b.texts[i]);
    free(b.texts);
    free(b.emb);
    free(in.line);
    rl_encoder_ws_free(ws);
    rl_encoder_free(enc);
    return rc;
}
