// Running the built program through the shell.
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "support/routellm_run.h"
#include "test.h"

int routellm_run(const char *args, const char *out, const char *err) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s %s >%s 2>%s", RL_TEST_BIN, args, out, err);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}
