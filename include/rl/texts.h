// Text lists: the prompts of a calibration sample, the evaluation prompts kept out of training,
// the training prompts an evaluation checks a router against. One reader takes them all, from a
// CSV column, JSON or JSONL records, or lines of text; and two textual checks compare two lists
// (a text that quotes another at its start). Every function is reentrant; a list is owned by the
// caller and may be read from any number of threads.
#ifndef RL_TEXTS_H
#define RL_TEXTS_H

#include <stdbool.h>
#include <stddef.h>

#include "rl/core.h"

RL_API_BEGIN

// A list of texts, each NUL-terminated and owned by the list.
struct rl_texts {
    char **items; // (n)
    size_t n;
};

// How a list is read.
struct rl_texts_params {
    // The CSV column or JSON member that holds the text; NULL: "prompt" (in JSON records then
    // "question", then "turns").
    const char *column;
    // Keep each text's bytes as found (a calibration sample, which is routed as given); else
    // trim white space and cut at RL_BATTLE_MAX_PROMPT bytes (rl/battle.h), as battle prompts
    // are.
    bool exact;
};

#define RL_TEXTS_MAX (16u << 20) // texts one list may hold

// Read the list in the file at path; the name says how (".gz" is decompressed):
//   .csv      the column's cells (a cell holding a JSON list of turns, as the Arena 55k's
//             prompts do, gives its first turn);
//   .json     a JSON array, or JSONL lines, of records (the member's string, or the first turn
//   .jsonl    of its list of turns) or of strings;
//   other     one text per line; lines of spaces and tabs are blank;
//   capture:DIR  the prompts of `routellm serve`'s capture folder DIR (its request lines, each
//             prompt once in the order first seen; redacted prompts have no text).
// Empty texts are left out. RL_OK with *out (free with rl_texts_free), which may hold no text;
// else RL_EIO, RL_ETOOBIG (the file or the count), RL_EFORMAT naming the file and the line (a
// NUL byte, a record without the member, a malformed row) or RL_ENOMEM, with *out empty.
int rl_texts_load(const char *path, const struct rl_texts_params *p, struct rl_texts *out,
                  char *errbuf) RL_NODISCARD;
// The same from a spec "PATH[,column=NAME]" (field=NAME says the same), as `train --exclude`
// takes it; the spec's column wins over p's. p may be NULL. RL_EINVAL for an unknown option.
int rl_texts_load_spec(const char *spec, const struct rl_texts_params *p, struct rl_texts *out,
                       char *errbuf) RL_NODISCARD;
// Read texts with a second value beside each: the CSV column or JSON member `second` of the same
// row (a string, or a JSON number as JSON writes it), such as a prompt's reference answer.
// seconds->items[i] belongs to out->items[i]; a row whose text is empty is left out with its
// value. A row without the value, or with an empty one, is RL_EFORMAT naming the file and line;
// a text file (one text per line) has no second column and is RL_EFORMAT too. Otherwise as
// rl_texts_load; free both lists with rl_texts_free.
int rl_texts_load_pairs(const char *path, const struct rl_texts_params *p, const char *second,
                        struct rl_texts *out, struct rl_texts *seconds, char *errbuf) RL_NODISCARD;
void rl_texts_free(struct rl_texts *t); // safe on a zeroed struct

// Move every text of from to the end of to; from is empty afterwards. RL_OK, or RL_ENOMEM with
// both lists unchanged.
int rl_texts_append(struct rl_texts *to, struct rl_texts *from) RL_NODISCARD;

// ----------------------------------------------------------------------------
// Decontamination: an evaluation prompt and a training prompt are the same question when their
// embeddings' cosine is at least RL_DECONTAM_COSINE (RouteLLM's find_contaminated.py), or when
// one quotes the other at its start.

#define RL_DECONTAM_COSINE 0.95

// Shortest quoted text that counts (shorter ones, such as "Solve for x.", start many unrelated
// prompts).
#define RL_TEXTS_MIN_QUOTED 32

// Mark hit[i] when text a[i], normalised (white space collapsed, ASCII lower case), has at
// least min_len bytes and is the start of some normalised b[j] (an evaluation prompt that quotes
// a training question and adds its choices, say). Returns the number marked, or RL_ENOMEM.
long rl_texts_prefix_match(const char *const *a, size_t n_a, const char *const *b, size_t n_b,
                           size_t min_len, bool *hit);

// The reverse: mark hit[i] when normalised a[i] starts with some normalised b[j] of at least
// min_len bytes (an evaluation prompt quoting a training question). Returns the number marked,
// or RL_ENOMEM.
long rl_texts_quote_match(const char *const *a, size_t n_a, const char *const *b, size_t n_b,
                          size_t min_len, bool *hit);

RL_API_END

#endif
