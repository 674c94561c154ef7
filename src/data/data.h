// Internal interface of the data layer: prompt cleaning, battle-set internals shared by
// battles.c and readers.c, and the CSV row parser.
#ifndef RL_SRC_DATA_H
#define RL_SRC_DATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rl/battle.h"

// Trim white space and cut at RL_BATTLE_MAX_PROMPT bytes (on a UTF-8 boundary); *start points
// into s. Returns the cleaned length.
size_t rl__prompt_clean(const char *s, size_t len, const char **start);

// Intern a prompt (cleaned as above): its index, RL_EINVAL when too short, RL_EFORMAT when it
// holds a NUL byte, or another status.
long rl__battles_prompt(struct rl_battles *b, const char *prompt, size_t len);

// Append a cell of already interned ids with any finite score (the table reader rescales a
// file's scores into [0, 1] once it has seen them all): 1, or RL_EINVAL / RL_ENOMEM.
int rl__battles_push_cell(struct rl_battles *b, uint32_t prompt, int model, double score,
                          int source);

// Append a battle of already interned ids: 1, or RL_EINVAL / RL_ENOMEM.
int rl__battles_push(struct rl_battles *b, uint32_t prompt, int model_a, int model_b,
                     enum rl_outcome outcome, float weight, int source);

// ----------------------------------------------------------------------------
// CSV (RFC 4180: comma separated, fields optionally double-quoted, "" inside quotes, quoted
// fields may span lines). The parser works in place: field contents are unescaped and
// NUL-terminated inside the caller's buffer.

#define RL_DCSV_MAX_FIELDS 256

struct rl__dcsv {
    char *p;   // next unread byte
    char *end; // one past the last byte
    long line; // line number (1-based) of the next row
};

struct rl__dcsv_row {
    long line; // the line the row starts on
    int n;     // number of fields
    char *field[RL_DCSV_MAX_FIELDS];
    size_t len[RL_DCSV_MAX_FIELDS];
};

void rl__dcsv_init(struct rl__dcsv *c, char *data, size_t len);
// Parse the next row: 1 when a row was read, 0 at the end, RL_EFORMAT for an unterminated quote
// or more than RL_DCSV_MAX_FIELDS fields (c then points past the bad row's line).
int rl__dcsv_next(struct rl__dcsv *c, struct rl__dcsv_row *row);
// rl__dcsv_next with the message of a malformed row in errbuf, naming path and line.
int rl__dcsv_read(struct rl__dcsv *c, struct rl__dcsv_row *row, const char *path, char *errbuf);
// Index of the first field equal to name (a header row's column), or -1.
int rl__dcsv_column(const struct rl__dcsv_row *row, const char *name);

// ----------------------------------------------------------------------------
// Model names (model_name.c)

// Entry i of the alias table of rl_model_canon: the spelling, with its canonical name in
// *canon; NULL past the end.
const char *rl__model_alias(size_t i, const char **canon);

// A table column (or JSON key) named "MODEL|FIELD" holds a field of MODEL, such as its cost or
// its answer, never a quality: returns the length of MODEL and points *field (when not NULL) at
// FIELD; 0 for a name without a '|' or with an empty side, which is a model's name.
size_t rl__model_field(const char *name, const char **field);
// Whether FIELD is the per-prompt cost of its model: "cost", or RouterBench's "total_cost".
bool rl__model_field_is_cost(const char *field);
// Whether the n bytes at s are a field name tables are known to use: the cost fields and
// RouterBench's "model_response". In a "models=a|b" list such an item is the field of the model
// before it ("models=gpt-4|cost|mixtral" names gpt-4's cost column) and is never a model.
bool rl__model_field_known(const char *s, size_t n);

#endif
