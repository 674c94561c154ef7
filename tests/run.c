// Test runner: `test_runner` runs every case, `test_runner NAME...` runs the named ones (or every
// case whose name starts with NAME). Prints one line per case and closes with "N passed, N failed";
// exits non-zero when any case failed.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "test_list.h"

#define X(name) int test_##name(void);
RL_TEST_LIST
#undef X

struct test_case {
    const char *name;
    int (*fn)(void);
};

static const struct test_case cases[] = {
#define X(name) {#name, test_##name},
    RL_TEST_LIST
#undef X
};

static int selected(const char *name, int argc, char **argv) {
    if (argc < 2)
        return 1;
    for (int i = 1; i < argc; i++)
        if (strncmp(name, argv[i], strlen(argv[i])) == 0)
            return 1;
    return 0;
}

int main(int argc, char **argv) {
    int passed = 0, failed = 0;
    // The commands the tests run print progress lines on a slow machine only (after 10 s without
    // a terminal): none, so that what a test reads does not depend on the machine's speed.
    setenv("ROUTELLM_PROGRESS_S", "0", 1);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (!selected(cases[i].name, argc, argv))
            continue;
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        int rc = cases[i].fn();
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
        printf("%s %s (%.0f ms)\n", rc == 0 ? "ok  " : "FAIL", cases[i].name, ms);
        fflush(stdout);
        if (rc == 0)
            passed++;
        else
            failed++;
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
