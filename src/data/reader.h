// Internal interface of the dataset readers (reader.c): data specs "FORMAT:PATH[,key=value...]",
// the reader context every format fills, row reporting (strict or lenient), and the CSV and
// JSON row loops the formats share. readers.c reads battles with them, texts.c text lists.
#ifndef RL_SRC_DATA_READER_H
#define RL_SRC_DATA_READER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "data/data.h"
#include "rl/battle.h"
#include "rl/core.h"

#define RL_SPEC_MAX_OPTS    16
#define RL_TABLE_MAX_MODELS 128

// ----------------------------------------------------------------------------
// Specs

struct rl__spec {
    char format[16];
    char path[4096];
    int n_opts;
    char key[RL_SPEC_MAX_OPTS][32];
    char value[RL_SPEC_MAX_OPTS][1024];
    unsigned used; // bit i: key i was consumed by the reader
};

// Parse a spec; a missing or unknown FORMAT is guessed from the file name. RL_OK or < 0.
int rl__spec_parse(const char *text, struct rl__spec *s, char *errbuf) RL_NODISCARD;
// The value of option key (marked as used), or NULL.
const char *rl__spec_get(struct rl__spec *s, const char *key);
// Option key as a number in [lo, hi] (def when absent). RL_OK or RL_EINVAL naming it.
int rl__spec_double(struct rl__spec *s, const char *key, double def, double lo, double hi,
                    double *out, char *errbuf) RL_NODISCARD;
// A number (surrounding white space allowed) or true/false. RL_OK or RL_EFORMAT.
int rl__parse_double(const char *s, size_t len, double *out);

// ----------------------------------------------------------------------------
// The reader context

struct texts;

struct rl__reader {
    struct rl_battles *b;
    const struct rl_battles_read_opts *opts;
    struct rl__spec *spec;
    const char *path;
    char *errbuf;
    int source;
    float weight;
    long limit;          // rows to read, < 0 for all
    long rows;           // rows seen
    long added;          // battles added
    long bad;            // rows skipped as malformed
    struct texts *texts; // rl_texts_load: where the texts go (b is NULL then)

    // Per-format state (the reader is reentrant: nothing lives in globals).
    struct {
        const char *strong, *weak;
        double min_weak_win;
    } judge;
    struct {
        char **text; // (n) by prompt_id; NULL where missing
        long n;
        const char *annotators; // "a|b|c" or NULL for all
        const char *models;     // "a|b|c": keep battles of two listed models; NULL for all
    } alpaca;
    struct {
        double margin;
        bool ties;
        const char *models;     // "a|b|c" or NULL
        const char *skip;       // CSV: "a|b" columns that are neither prompt nor model, or NULL
        const char *prompt_key; // JSON rows: the prompt member, NULL for prompt/question
        int n_models;
        int cols[RL_TABLE_MAX_MODELS + 1]; // CSV: [0] prompt, then the model columns
        const char *names[RL_TABLE_MAX_MODELS];
    } table;
};

// A malformed row: in strict mode fail with the message, else report it and go on (returns 0).
int rl__row_fail(struct rl__reader *r, long line, const char *fmt, ...) RL_PRINTF(3, 4);
// The whole file (decompressed when it ends in .gz), NUL-terminated; bounded in size.
int rl__data_read(const char *path, char **data, size_t *len, char *errbuf) RL_NODISCARD;

// ----------------------------------------------------------------------------
// CSV and JSON rows

// The header row of c; RL_EFORMAT naming r's file when it is empty or malformed.
int rl__csv_header(struct rl__reader *r, struct rl__dcsv *c, struct rl__dcsv_row *h);
// The columns of names[0..n) in header h; RL_EFORMAT naming the first one missing.
int rl__csv_need_cols(struct rl__reader *r, const struct rl__dcsv_row *h, const char *const *names,
                      int n, int *cols);
typedef int (*rl__csv_row_fn)(struct rl__reader *r, const struct rl__dcsv_row *row,
                              const int *cols);

// Call fn on each well-formed data row of c (up to r->limit rows); a malformed one is a failed
// row. RL_OK or the first error.
int rl__csv_rows(struct rl__reader *r, struct rl__dcsv *c, int n_cols, const int *cols,
                 rl__csv_row_fn fn);

// A prompt given as a JSON list of turns: the first turn. NULL when it is not such a list.
const char *rl__json_first_turn(json_t *turns, size_t *len);
typedef int (*rl__json_row_fn)(struct rl__reader *r, json_t *obj, long line);

// Call fn(r, object, line) on each object of a JSON array or a JSONL file (up to r->limit); a
// text list's reader (r->texts set) is given strings too.
int rl__json_rows(struct rl__reader *r, char *data, size_t len, rl__json_row_fn fn);
// o[key] when it is a string (its length in *len when len is not NULL), else NULL.
const char *rl__json_str(json_t *o, const char *key, size_t *len);
// A number, a boolean (1 or 0) or a string holding a number. RL_OK or RL_EFORMAT.
int rl__json_num(json_t *v, double *out);

// ----------------------------------------------------------------------------
// The proxy's capture folders (capture.c)

struct rl_texts;
// Battles from the feedback in the capture folder r->path (see capture.c), a rated weak answer
// winning at min_rating and above. RL_OK or an error in r->errbuf.
int rl__capture_battles(struct rl__reader *r, double min_rating) RL_NODISCARD;
// The prompts of the request lines in capture folder dir, each once, in the order first seen.
int rl__capture_texts(const char *dir, struct rl_texts *out, char *errbuf) RL_NODISCARD;

#endif
