// Helpers shared by the subcommands: error lines, default paths, the progress bar.
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"

#ifndef RL_DATA_DIR
#define RL_DATA_DIR "."
#endif

int cli_fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("routellm: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

const char *cli_home(void) {
    const char *home = getenv("ROUTELLM_HOME");
    return (home && *home) ? home : RL_DATA_DIR;
}

int cli_default_model_dir(char *out, size_t out_size) {
    return rl_path_join(out, out_size, cli_home(), "models/all-MiniLM-L6-v2");
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void progress_draw(struct cli_progress *p) {
    double elapsed = now_seconds() - p->start;
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
    p->enabled = total >= 16 && isatty(STDERR_FILENO);
    p->start = now_seconds();
    p->last_draw = 0;
}

void cli_progress_add(struct cli_progress *p, size_t n) {
    p->done += n;
    if (!p->enabled)
        return;
    double t = now_seconds();
    if (t - p->last_draw >= 0.1 || p->done >= p->total) {
        p->last_draw = t;
        progress_draw(p);
    }
}

void cli_progress_finish(struct cli_progress *p) {
    if (!p->enabled)
        return;
    progress_draw(p);
    fputc('\n', stderr);
}
