// Shared helpers of the libFuzzer targets in fuzz/. Most readers of outside input take a path,
// so a target writes the fuzzer's bytes to a scratch file in /dev/shm (tmpfs) and reads that.
#ifndef RL_FUZZ_H
#define RL_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

// Scratch files written so far, removed when the process exits.
#define FUZZ_MAX_SCRATCH 16
static char fuzz_scratch[FUZZ_MAX_SCRATCH][128];
static int fuzz_n_scratch;

static void fuzz_remove_scratch(void) {
    for (int i = 0; i < fuzz_n_scratch; i++)
        unlink(fuzz_scratch[i]);
}

// The scratch file of this process with the given suffix (e.g. ".csv"): its path, written with
// exactly data[0..size). Aborts when it cannot be written, which is a broken machine, not a
// finding.
static inline const char *fuzz_file(const uint8_t *data, size_t size, const char *suffix) {
    char path[128];
    snprintf(path, sizeof path, "/dev/shm/rl-fuzz-%ld%s", (long)getpid(), suffix);
    int slot = 0;
    while (slot < fuzz_n_scratch && strcmp(fuzz_scratch[slot], path) != 0)
        slot++;
    if (slot == fuzz_n_scratch) {
        if (slot == FUZZ_MAX_SCRATCH)
            abort();
        if (fuzz_n_scratch++ == 0)
            atexit(fuzz_remove_scratch);
        memcpy(fuzz_scratch[slot], path, sizeof path);
    }
    FILE *f = fopen(path, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0)
        abort();
    return fuzz_scratch[slot];
}

static char fuzz_dir_path[128];

static int fuzz_remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st, (void)flag, (void)ftw;
    remove(path);
    return 0;
}

static void fuzz_remove_dir(void) {
    nftw(fuzz_dir_path, fuzz_remove_entry, 8, FTW_DEPTH | FTW_PHYS);
}

// This process's scratch folder /dev/shm/rl-fuzz-<pid>-<tag> (one per process), created on the
// first call and removed with its contents at exit.
static inline const char *fuzz_dir(const char *tag) {
    if (!fuzz_dir_path[0]) {
        snprintf(fuzz_dir_path, sizeof fuzz_dir_path, "/dev/shm/rl-fuzz-%ld-%s", (long)getpid(),
                 tag);
        if (mkdir(fuzz_dir_path, 0700) != 0)
            abort();
        atexit(fuzz_remove_dir);
    }
    return fuzz_dir_path;
}

// A NUL-terminated copy of the input (malloc'd; the caller frees it).
static inline char *fuzz_string(const uint8_t *data, size_t size) {
    char *s = malloc(size + 1);
    if (!s)
        abort();
    memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

// Targets store what they read here, so the compiler cannot drop the reads.
static volatile uint8_t fuzz_sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
