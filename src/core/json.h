// JSON documents and line-oriented files, read one way everywhere: whole files through
// rl_file_read (bounded, gzip-aware), lines split by one iterator, JSON parsed by jansson, and
// every error naming the file and the line. Kept apart from core.h so that only the files that
// parse JSON include jansson.
#ifndef RL_SRC_CORE_JSON_H
#define RL_SRC_CORE_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/core.h"

// ----------------------------------------------------------------------------
// Lines

// The lines of a buffer, in order. Each line is what lies between two '\n' (the last one may
// lack its '\n'); the line terminator is not part of it, a '\r' before it is.
struct rl__lines {
    const char *p, *end;
    size_t line; // number of the line last returned, from 1
};

void rl__lines_init(struct rl__lines *it, const char *data, size_t len);
// The next line in *s (not NUL-terminated) and *len; false at the end of the buffer.
bool rl__lines_next(struct rl__lines *it, const char **s, size_t *len);

// ----------------------------------------------------------------------------
// JSONL: one JSON value per line; blank lines (JSON white space only) are skipped

// The next non-blank line, parsed: true with *value, which the caller decrefs, or with *value
// NULL when the line is not valid JSON (jerr says why); false at the end. it->line is the number
// of the line.
bool rl__jsonl_next(struct rl__lines *it, json_t **value, json_error_t *jerr);

// Called with each object of a JSONL file and its line number; returns RL_OK or a status with
// its message in errbuf, which stops the walk.
typedef int (*rl__jsonl_fn)(void *ctx, json_t *obj, const char *path, size_t line, char *errbuf);

// Pass every line of the file at path (at most max_len bytes once decompressed) to fn, strictly:
// a line that is not a JSON object is RL_EFORMAT naming the file and the line. RL_OK, the first
// failure, or rl_file_read's error.
int rl__jsonl_read(const char *path, size_t max_len, rl__jsonl_fn fn, void *ctx,
                   char *errbuf) RL_NODISCARD;

// ----------------------------------------------------------------------------
// JSON documents

// Parse len bytes of data, read from path, as one JSON document with jansson's decoding flags.
// RL_OK with *root (the caller decrefs), or RL_EFORMAT with errbuf
// "PATH:LINE:COLUMN: invalid JSON: WHAT".
int rl__json_parse(const char *path, const char *data, size_t len, size_t flags, json_t **root,
                   char *errbuf) RL_NODISCARD;

// Read and parse the JSON document of the file at path (at most max_len bytes once
// decompressed). RL_OK, rl_file_read's errors, or RL_EFORMAT as rl__json_parse.
int rl__json_load(const char *path, size_t max_len, size_t flags, json_t **root,
                  char *errbuf) RL_NODISCARD;

#endif
