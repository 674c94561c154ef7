// Progress without a terminal: `routellm embed` with stderr on a pipe prints plain lines (label,
// done/total, percent, rate) at the interval ROUTELLM_PROGRESS_S sets, and a last line with the
// total; with the default interval (10 s) a short run prints none, and 0 turns them off.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

#ifndef RL_TEST_BIN
#define RL_TEST_BIN "build/routellm"
#endif

static int count_lines(const char *env, char *last, size_t last_size) {
    // A file on stdin, whose lines embed counts first (a pipe gives no total, hence no progress).
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "seq 1 40 | sed 's/^/prompt number /' > /tmp/rl_test_%ld_progress.txt && "
             "%s %s embed --batch 4 --model " RL_TEST_MODEL
             " < /tmp/rl_test_%ld_progress.txt 2>&1 >/dev/null; rc=$?; "
             "rm -f /tmp/rl_test_%ld_progress.txt; exit $rc",
             (long)getpid(), env, RL_TEST_BIN, (long)getpid(), (long)getpid());
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    char line[512];
    int n = 0;
    last[0] = '\0';
    while (fgets(line, sizeof line, p)) {
        if (strncmp(line, "embed: ", 7) == 0) {
            n++;
            snprintf(last, last_size, "%s", line);
        }
    }
    int st = pclose(p);
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? n : -1;
}

TEST(progress_lines_without_terminal) {
    char last[512];
    int n = count_lines("ROUTELLM_PROGRESS_S=0.000001", last, sizeof last);
    // One line per batch of 4 after the first, and the last one again at the end.
    ASSERT(n >= 5);
    ASSERT_STR_CONTAINS(last, "embed: 40/40 (100%");
    ASSERT_EQ(count_lines("env -u ROUTELLM_PROGRESS_S", last, sizeof last), 0); // default: 10 s
    ASSERT_EQ(count_lines("ROUTELLM_PROGRESS_S=0", last, sizeof last), 0);
    return 0;
}
