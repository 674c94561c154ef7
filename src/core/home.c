// The home: the folder holding the shipped data (routers/, data/) and the fetched encoder
// weights (models/). A build tree uses its source tree; an installed copy uses
// <prefix>/share/routellm beside the bin/ or lib/ folder it runs from, so that the same build
// works wherever `make install` puts it, with no path fixed for the install. Nothing here is
// written to.
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"

#ifndef RL_DATA_DIR
#define RL_DATA_DIR "."
#endif

static char installed[PATH_MAX];
static pthread_once_t installed_once = PTHREAD_ONCE_INIT;

// <the folder of file>/../share/routellm, resolved, into installed; false when it does not exist.
static bool share_beside(const char *file) {
    const char *slash = strrchr(file, '/');
    char path[PATH_MAX];
    if (!slash)
        return false;
    int n = snprintf(path, sizeof path, "%.*s/../share/routellm", (int)(slash - file), file);
    return n > 0 && (size_t)n < sizeof path && realpath(path, installed) != NULL;
}

// The running program first (the routellm tool, statically linked), then the shared object
// this code is part of (libroutellm.so under another program). dladdr names the program by its
// argv[0] when the code is in the program itself, so only an absolute name is taken.
static void find_installed(void) {
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        if (share_beside(exe))
            return;
    }
    Dl_info info;
    if (dladdr((void *)find_installed, &info) && info.dli_fname && info.dli_fname[0] == '/' &&
        share_beside(info.dli_fname))
        return;
    installed[0] = '\0';
}

const char *rl__home_installed(void) {
    pthread_once(&installed_once, find_installed);
    return installed[0] ? installed : NULL;
}

const char *rl_home(void) {
    const char *env = getenv("ROUTELLM_HOME");
    if (env && *env)
        return env;
    const char *share = rl__home_installed();
    return share ? share : RL_DATA_DIR;
}
