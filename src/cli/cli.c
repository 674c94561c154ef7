// Helpers shared by the subcommands: error lines, paths and file names, the progress bar. Options
// are read by options.c.
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/cli.h"
#include "rl/router.h"

int cli_fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("routellm: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

int cli_print_json(json_t *j, size_t flags) {
    char *text = j ? json_dumps(j, flags) : NULL;
    json_decref(j);
    if (!text)
        return cli_fail("out of memory");
    printf("%s\n", text);
    free(text);
    return 0;
}

// ----------------------------------------------------------------------------
// Paths

const char *cli_kind_names(enum cli_kinds which, const char *sep) {
    static char out[512];
    size_t len = 0;
    out[0] = '\0';
    for (size_t i = 0; i < rl_router_kind_count(); i++) {
        const struct rl_router_kind *k = rl_router_kind_at(i);
        bool take =
            which == CLI_KINDS_SHIPPED ? rl_router_kind_shipped(k) : rl_router_kind_trainable(k);
        if (!take || len >= sizeof out)
            continue;
        int n =
            snprintf(out + len, sizeof out - len, "%s%s", len ? sep : "", rl_router_kind_name(k));
        len += n > 0 ? (size_t)n : 0;
    }
    return out;
}

const char *cli_home(void) {
    return rl_home();
}

// An installed home is not the user's to write, so its caches go to the user's cache folder.
int cli_cache_dir(const char *name, char *out, size_t out_size) {
    const char *home = cli_home(), *installed = rl__home_installed();
    char root[4096];
    int rc = rl_path_join(root, sizeof root, home, ".cache");
    if (installed && strcmp(home, installed) == 0) {
        const char *xdg = getenv("XDG_CACHE_HOME"), *user = getenv("HOME");
        rc = (xdg && *xdg) ? rl_path_join(root, sizeof root, xdg, "routellm")
                           : rl_path_join(root, sizeof root, (user && *user) ? user : "/tmp",
                                          ".cache/routellm");
    }
    return rc == RL_OK ? rl_path_join(out, out_size, root, name) : rc;
}

int cli_default_model_dir(char *out, size_t out_size) {
    return rl_path_join(out, out_size, cli_home(), CLI_DEFAULT_MODEL_DIR);
}

int cli_output_dir(const char *opt, const char *dir) {
    struct stat st;
    if (stat(dir, &st) == 0 && !S_ISDIR(st.st_mode))
        return cli_fail("%s %s: not a folder", opt, dir);
    if (rl__mkdirs(dir) != RL_OK)
        return cli_fail("%s %s: cannot create the folder: %s", opt, dir, strerror(errno));
    if (access(dir, W_OK) != 0)
        return cli_fail("%s %s: cannot write there: %s", opt, dir, strerror(errno));
    return 0;
}

char *cli_trim(char *s) {
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

char *cli_list_next(char **cursor) {
    char *item = *cursor;
    if (!item)
        return NULL;
    char *comma = strchr(item, ',');
    if (comma)
        *comma = '\0';
    *cursor = comma ? comma + 1 : NULL;
    return cli_trim(item);
}

void cli_slug(const char *in, char *out, size_t out_size) {
    size_t j = 0;
    for (size_t i = 0; in[i] && j + 1 < out_size; i++) {
        char c = in[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_' || c == '.';
        out[j++] = ok ? c : '_';
    }
    out[j] = '\0';
}

// ----------------------------------------------------------------------------
// Progress bar

static void progress_draw(struct cli_progress *p) {
    double elapsed = rl_now_s() - p->start;
    double frac = p->total ? (double)p->done / (double)p->total : 1.0;
    int width = 30, filled = (int)(frac * width);
    double rate = elapsed > 0 ? (double)p->done / elapsed : 0;
    fprintf(stderr, "\r%s [", p->label);
    for (int i = 0; i < width; i++)
        fputc(i < filled ? '#' : '.', stderr);
    fprintf(stderr, "] %zu/%zu %.0f/s", p->done, p->total, rate);
    fflush(stderr);
}

void cli_progress_start(struct cli_progress *p, const char *label, size_t total) {
    p->label = label;
    p->total = total;
    p->done = 0;
    p->bar = total >= 16 && isatty(STDERR_FILENO);
    p->lines = total >= 16 && !p->bar;
    p->interval = CLI_PROGRESS_LINE_S;
    const char *env = getenv("ROUTELLM_PROGRESS_S");
    if (env && *env) {
        char *end;
        double s = strtod(env, &end);
        if (*end == '\0' && s >= 0 && s <= 86400)
            p->interval = s;
    }
    p->lines = p->lines && p->interval > 0;
    p->printed = false;
    p->start = rl_now_s();
    p->last_draw = p->start;
}

// Without a terminal (CI, nohup, a pipe), a plain line every p->interval seconds.
static void progress_line(struct cli_progress *p, double t) {
    double elapsed = t - p->start;
    fprintf(stderr, "%s: %zu/%zu (%.0f%%, %.0f/s, %.0f s)\n", p->label, p->done, p->total,
            p->total ? 100.0 * (double)p->done / (double)p->total : 100.0,
            elapsed > 0 ? (double)p->done / elapsed : 0, elapsed);
    p->printed = true;
}

void cli_progress_add(struct cli_progress *p, size_t n) {
    p->done += n;
    if (!p->bar && !p->lines)
        return;
    double t = rl_now_s();
    if (p->lines) {
        if (t - p->last_draw >= p->interval) {
            p->last_draw = t;
            progress_line(p, t);
        }
    } else if (t - p->last_draw >= 0.1 || p->done >= p->total) {
        p->last_draw = t;
        progress_draw(p);
    }
}

void cli_progress_finish(struct cli_progress *p) {
    if (p->bar) {
        progress_draw(p);
        fputc('\n', stderr);
    } else if (p->printed) {
        progress_line(p, rl_now_s()); // the last figures, when the run was long enough to report
    }
}
