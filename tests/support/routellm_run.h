// Running the built program, as the command-line tests do.
#ifndef RL_TEST_ROUTELLM_RUN_H
#define RL_TEST_ROUTELLM_RUN_H

// Runs `routellm <args>` (the program under test, RL_TEST_BIN) through the shell, so args may
// hold quotes and redirections, with its stdout written to the file out and its stderr to err.
// Returns its exit status, or -1 when it did not exit (a signal) or could not be run.
int routellm_run(const char *args, const char *out, const char *err);

#endif
