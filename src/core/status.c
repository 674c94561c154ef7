// Status strings, error-buffer formatting and the invariant-failure path.
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/core.h"

const char *rl_strerror(int status) {
    switch (status) {
    case RL_OK: return "success";
    case RL_ENOMEM: return "out of memory";
    case RL_EIO: return "input/output error";
    case RL_EFORMAT: return "malformed input";
    case RL_EINVAL: return "invalid argument";
    case RL_ETOOBIG: return "input exceeds a limit";
    case RL_EUNSUPPORTED: return "unsupported";
    default: return "unknown error";
    }
}

const char *rl_version(void) {
    return RL_VERSION;
}

int rl__errf(char *errbuf, int status, const char *fmt, ...) {
    if (errbuf) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(errbuf, RL_ERRBUF_SIZE, fmt, ap);
        va_end(ap);
    }
    return status;
}

void rl__abort(const char *file, int line, const char *expr) {
    fprintf(stderr, "%s:%d: invariant failed: %s\n", file, line, expr);
    abort();
}
