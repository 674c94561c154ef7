// Battles: pairwise preference records "model A vs model B on prompt q, outcome o", the data every
// router is trained from, and the readers that turn public datasets into them. A battle set
// interns prompts and model names (model names in canonical form, see rl_model_canon), so a set
// of 100k battles over 1k prompts stores each prompt once. A set is not thread-safe while being
// filled; once filled it may be read from any number of threads.
#ifndef RL_BATTLE_H
#define RL_BATTLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rl/core.h"

RL_API_BEGIN

// ----------------------------------------------------------------------------
// Model names

#define RL_MODEL_NAME_MAX 128

// Canonical form of a model name: lower case, provider prefix ("mistralai/") removed, known
// aliases resolved ("gpt4_1106_preview" -> "gpt-4-1106-preview", "Mixtral-8x7B" ->
// "mixtral-8x7b-instruct-v0.1"). RL_EINVAL for an empty name, RL_ETOOBIG when out is too small.
int rl_model_canon(const char *name, char *out, size_t out_size) RL_NODISCARD;

// ----------------------------------------------------------------------------
// Battles

enum rl_outcome {
    RL_OUTCOME_A_WINS,
    RL_OUTCOME_B_WINS,
    RL_OUTCOME_TIE,
    RL_OUTCOME_BOTH_BAD, // a tie in which neither answer was acceptable
};

struct rl_battle {
    uint32_t prompt;  // index into rl_battles.prompts
    uint32_t model_a; // index into rl_battles.models
    uint32_t model_b;
    uint8_t outcome; // enum rl_outcome
    uint8_t source;  // index into rl_battles.sources
    float weight;    // sample weight, 1 unless the source says otherwise
};

// Prompts shorter than this (in bytes, after trimming) are dropped, as the paper does.
#define RL_BATTLE_MIN_PROMPT 16
// Longest prompt kept, in bytes; longer ones are cut at a UTF-8 boundary (the encoder reads at
// most 256 tokens anyway).
#define RL_BATTLE_MAX_PROMPT  16384
#define RL_BATTLE_MAX_SOURCES 255

// One model's quality on one prompt, scaled to [0, 1] (correct = 1; a judge's score rescaled),
// the data of routers that model each model's quality rather than pairwise wins (irt).
struct rl_cell {
    uint32_t prompt; // index into rl_battles.prompts
    uint32_t model;  // index into rl_battles.models
    float score;     // in [0, 1]
    uint8_t source;  // index into rl_battles.sources
};

struct rl_battles_index; // prompt and model lookup tables, internal

struct rl_battles {
    size_t n;
    struct rl_battle *items; // (n)
    size_t n_prompts;
    char **prompts; // (n_prompts) first user turns, trimmed, unique
    size_t n_models;
    char **models; // (n_models) canonical names, unique
    size_t n_sources;
    char **sources;         // (n_sources) e.g. "alpaca_eval:<path>"
    size_t n_dropped_short; // battles dropped because the prompt was too short
    size_t n_dropped_self;  // battles of a model against itself, dropped
    size_t n_cells;
    struct rl_cell *cells; // (n_cells) per-model qualities, from readers in cells mode
    struct rl_battles_index *index;
};

struct rl_battles *rl_battles_new(void);    // an empty set; NULL on ENOMEM
void rl_battles_free(struct rl_battles *b); // NULL is a no-op

// Add one battle. The prompt is trimmed; a prompt shorter than RL_BATTLE_MIN_PROMPT bytes is
// counted in n_dropped_short and not added (returns 0); so is a battle of a model against itself
// (n_dropped_self). Model names are canonicalised. Returns 1 when added, 0 when dropped, or < 0.
int rl_battles_add(struct rl_battles *b, const char *prompt, size_t prompt_len, const char *model_a,
                   const char *model_b, enum rl_outcome outcome, float weight, int source);

int rl_battles_source(struct rl_battles *b, const char *name); // intern a source name: id or < 0
int rl_battles_model(struct rl_battles *b, const char *name);  // intern a model name: id or < 0
int rl_battles_find_model(const struct rl_battles *b, const char *name); // id, or -1

// Add one model's quality on a prompt (score in [0, 1]), from data source `source` (an id of
// rl_battles_source, or 0 when the set names none; 0-255). The prompt is cleaned as for battles;
// a too-short prompt is counted in n_dropped_short and not added (returns 0). Returns 1 when
// added, 0 when dropped, or < 0 (RL_EINVAL for a score outside [0, 1] or a bad name).
int rl_battles_add_cell(struct rl_battles *b, const char *prompt, size_t prompt_len,
                        const char *model, double score, int source);

// Remove every battle and cell whose prompt is flagged in drop (b->n_prompts entries); the prompt
// table is unchanged. Returns the number of battles removed.
size_t rl_battles_drop_prompts(struct rl_battles *b, const bool *drop);

// SHA-256 over every battle (prompt text, model names, outcome, weight) in order, as 64 hex
// characters plus NUL in hex. Two sets with the same battles in the same order agree.
int rl_battles_digest(const struct rl_battles *b, char hex[65]) RL_NODISCARD;
// The same over every cell (prompt text, model name, score) in order.
int rl_battles_digest_cells(const struct rl_battles *b, char hex[65]) RL_NODISCARD;

// ----------------------------------------------------------------------------
// Readers
//
// A data spec is "FORMAT:PATH[,key=value...]"; "PATH" alone guesses the format from the name.
//   arena55k     Chatbot Arena 55k CSV: id, model_a, model_b, prompt (JSON list of turns),
//                response_a, response_b, winner_model_a, winner_model_b, winner_tie.
//   arena        Arena conversations, JSON array or JSONL: model_a, model_b, winner ("model_a",
//                "model_b", "tie", "tie (bothbad)"), conversation_a (list of {role, content}).
//   judge        RouteLLM's GPT-4-judge set (JSON array/JSONL or CSV): prompt, mixtral_score 1-5.
//                Score >= min_weak_win (default 4) is a weak win, else a strong win; models are
//                strong= and weak= (default RL_MODEL_DEFAULT_STRONG and _WEAK, rl/core.h).
//   alpaca_eval  AlpacaEval battles.csv(.gz): prompt_id, annotator, model_1, model_2, preference
//                (1 = model_1, 2 = model_2, 1.5 or 0 = tie, fractional = weighted); the prompts
//                come from prompts.jsonl(.gz) beside it (or prompts=PATH). annotators=a|b
//                and models=a|b (both models of a row listed, names as in the file) filter.
//   table        Per-prompt results, CSV or JSON/JSONL: a prompt column (prompt= names it,
//                default "prompt", else "question") plus one numeric column per model; a
//                RouterDC-style row {question, scores: {model: score}} is accepted too. Every
//                pair of models whose scores differ by at least margin= (default 0.5 for 0/1
//                correctness) gives a "gold" battle won by the higher score; equal scores give a
//                tie when ties=1, else nothing. models=a|b|c keeps only those columns, skip=a|b
//                leaves out columns that are neither prompt nor model (ids, categories). In cells
//                mode (rl_battles_read_opts.cells) one cell per scored model instead.
// Common keys: source=NAME labels the battles; weight=W multiplies their weights;
// limit=N reads at most N rows.

// Called once per skipped row with "file:line: reason". May be NULL.
typedef void (*rl_battles_warn_fn)(void *ctx, const char *message);

struct rl_battles_read_opts {
    bool strict;             // reject the whole file at the first malformed row
    rl_battles_warn_fn warn; // lenient mode: told about each skipped row
    void *warn_ctx;
    // Cells mode: a table gives one cell per scored model and prompt instead of battles (its
    // margin= and ties= do not apply); a file whose values leave [0, 1] is rescaled by its own
    // lowest and highest value, or by scale=LO:HI. The other formats have no per-model scores
    // and are refused.
    bool cells;
};

// Read one data spec into b. Returns the number of battles (cells in cells mode) added (>= 0) or
// < 0 with errbuf naming the file, the line and the problem. In lenient mode malformed rows are
// skipped and reported through opts->warn; a file with no valid row at all is still an error.
long rl_battles_read(struct rl_battles *b, const char *spec,
                     const struct rl_battles_read_opts *opts, char *errbuf);

RL_API_END

#endif
