// Internal interface of `routellm label`: the grading of answers (label_grade.c: judge verdicts,
// reference graders, the judge's prompts), the job's prompts, journal and table (label_store.c)
// and the run that calls the upstreams (label_run.c). cmd_label.c reads the options and ties
// them together. Nothing here is thread-safe; the run is one thread around one event loop.
#ifndef RL_CLI_LABEL_H
#define RL_CLI_LABEL_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/core.h"

// ----------------------------------------------------------------------------
// Limits

#define LABEL_MAX_MODELS       16           // candidate models of one table
#define LABEL_MAX_PROMPTS      1000000      // prompts of one table
#define LABEL_MAX_ANSWER       (256u << 10) // answer bytes kept, judged and journaled
#define LABEL_VERDICT_KEPT     160        // bytes of an unreadable judge reply kept in the journal
#define LABEL_JOURNAL_LINE_MAX (2u << 20) // one journal record
#define LABEL_JUDGE_MAX_TOKENS 2048       // a judge's reply (FastChat's llm_judge uses 2048)
#define LABEL_SYNC_S           1.0        // the journal is fsync'ed at most this often
#define LABEL_SCORE_MIN        1.0        // MT-Bench's single-answer scale
#define LABEL_SCORE_MAX        10.0

// ----------------------------------------------------------------------------
// Grading (label_grade.c)

// A judge's single-answer verdict: the rating written "[[n]]" (n a number, as MT-Bench asks for
// "Rating: [[5]]"). RL_OK with *score in [LABEL_SCORE_MIN, LABEL_SCORE_MAX], or RL_EFORMAT when
// the reply has no such rating, ratings that disagree, or one out of range: a missing verdict,
// never a guess.
int label_parse_score(const char *reply, double *score) RL_NODISCARD;

// A judge's pairwise verdict: "[[A]]", "[[B]]" or "[[C]]" (a tie), as MT-Bench's pair-v2 prompt
// asks. Returns the letter, or 0 when the reply has none or more than one of them.
char label_parse_pair(const char *reply);

// The quality of the first model from the two pairwise verdicts, v_first with the first model's
// answer shown as A and v_second with it shown as B (both orders cancel the judge's position
// bias): a win counts 1, a tie 1/2, averaged over the orders. NAN when either verdict is
// missing (0). The second model's quality is 1 minus it.
double label_pair_quality(char v_first, char v_second);

enum label_grader_kind {
    LABEL_GRADER_EXACT,  // the whole answer equals the reference, after label_normalise
    LABEL_GRADER_NUMBER, // GSM8K-style: the last number of the answer equals the reference's
    LABEL_GRADER_CHOICE, // the answer's multiple-choice letter (A-J) equals the reference's
    LABEL_GRADER_REGEX,  // the last match of a regex (its first group) equals the reference
};

struct label_grader {
    enum label_grader_kind kind;
    regex_t re; // LABEL_GRADER_REGEX only
};

// "exact", "number", "choice" or "regex:RE" (POSIX extended, case-insensitive). RL_EINVAL with
// errbuf saying why.
int label_grader_init(struct label_grader *g, const char *spec, char *errbuf) RL_NODISCARD;
void label_grader_free(struct label_grader *g);
// Whether a reference can be graded against: a number for "number", a letter for "choice".
bool label_grader_reference_ok(const struct label_grader *g, const char *reference);
// Grade an answer: RL_OK with *quality 1 (right) or 0 (wrong), or RL_EFORMAT when the answer
// holds nothing to compare (no number, no letter, no match): a missing verdict.
int label_grade(const struct label_grader *g, const char *answer, const char *reference,
                double *quality) RL_NODISCARD;

// Lower-case ASCII, white space runs made one space, surrounding white space, quotes and final
// punctuation cut: "  The Answer: Paris. " and "the answer: paris" compare equal. In place.
void label_normalise(char *s);
// The last number of s (digits with optional sign, decimal point and thousands commas), in
// *value; false when s has none.
bool label_last_number(const char *s, double *value);
// The multiple-choice letter of an answer, upper case: a leading letter A-J standing alone ("B",
// "(B) ...", "B. ..."), else the one after the last "answer is" or "answer:". 0 when none.
char label_choice(const char *s);

// The messages of a judge's request (a JSON array, caller decrefs): MT-Bench's single-answer
// grading prompt (single-v1) for one answer, or its pairwise prompt (pair-v2) when answer_b is
// not NULL. NULL when out of memory.
json_t *label_judge_messages(const char *question, const char *answer_a, const char *answer_b);

// ----------------------------------------------------------------------------
// The job: its prompts, cells, journal and table (label_store.c)
//
// A cell is one (prompt, model). It is done once its label is known (a missing verdict included)
// and is then written to the journal, OUT.journal.jsonl beside the table: a header line naming
// the models and the grading, then one JSON record per line, each written with one write(2) on
// an O_APPEND descriptor, so a crash or `kill -9` leaves at most a torn last line, which the next
// run cuts off. Records:
//   {"answer": KEY, "model": M, "text": ..., "cost": USD, "spent": USD, "prompt_tokens": N,
//    "completion_tokens": N}          an answer waiting for its judge (judge modes only)
//   {"cell": KEY, "model": M, "quality": Q or null, "cost": USD, "spent": USD, "verdict": ...}
// KEY is the hex of the first 16 bytes of the prompt's SHA-256. "cost" is the answer's cost, the
// table's cell; "spent" is what the calls behind the record cost (the judge's for a judged cell),
// so that the totals of all runs are the sum of "spent". A rerun replays the journal and asks only
// for the cells that are not done; the table is written from the cells, atomically.

enum label_mode { LABEL_MODE_JUDGE, LABEL_MODE_PAIRWISE, LABEL_MODE_REFERENCE };

enum label_state { LABEL_CELL_TODO, LABEL_CELL_ANSWERED, LABEL_CELL_DONE };

struct label_cell {
    uint8_t state;  // enum label_state
    double quality; // done: the label, NAN for a missing verdict
    double cost;    // answered or done: the answer's cost, USD
    char *answer;   // answered: the answer, until its cell is done (then freed)
};

// What one run did (or, for the journal, every run before it).
struct label_totals {
    long calls;      // HTTP attempts, retries included
    long answers;    // answers received
    long judgements; // judge replies received
    long failures;   // calls given up after their retries
    long missing;    // verdicts recorded as missing
    long no_usage;   // replies without token counts (costed 0)
    long cells;      // cells done
    long prompt_tokens, completion_tokens;
    double spent;       // USD, answers and judges
    double judge_spent; // USD, the judges' part
};

struct label_job {
    enum label_mode mode;
    char grading[256];         // the grading as the journal header records it
    const char *const *models; // (n_models) the names given to --models
    int n_models;
    char **prompts; // (n) deduplicated, in file order
    char **refs;    // (n) reference answers, or NULL
    size_t n;
    size_t n_duplicates;      // prompts of the file left out as repeats
    uint8_t (*keys)[16];      // (n) first 16 bytes of each prompt's SHA-256
    size_t *by_key;           // (n) prompt indices sorted by key
    struct label_cell *cells; // (n, n_models)
    char (*verdicts)[2];      // pairwise: (n) both orders' verdicts, 0 until known
    double *pair_spent;       // pairwise: (n) the judge calls' cost so far

    char *journal_path;
    int fd; // the journal, -1 while closed (a job starts with fd = -1)
    double last_sync;
    bool unsynced;
    struct label_totals before; // from the journal: cells, missing, spent, judge_spent
    size_t foreign;             // journal records for prompts not in this prompts file
    size_t torn;                // bytes of a torn last record cut off
};

// Read the prompts (and the reference column, when ref_column is not NULL) of path, as
// rl_texts_load reads a prompt list; repeats are left out and counted. RL_OK, or an error in
// errbuf naming the file.
int label_job_prompts(struct label_job *j, const char *path, const char *ref_column,
                      char *errbuf) RL_NODISCARD;
// Open the journal (created with its header when absent, else replayed: its header must match
// the job's models and grading) and lock it against a second run. RL_OK or an error in errbuf.
int label_journal_open(struct label_job *j, const char *path, char *errbuf) RL_NODISCARD;
// Append one record (see above). RL_OK or RL_EIO (errno kept).
int label_journal_answer(struct label_job *j, size_t prompt, int model, const char *text,
                         double spent, long prompt_tokens, long completion_tokens) RL_NODISCARD;
int label_journal_cell(struct label_job *j, size_t prompt, int model, double quality, double spent,
                       const char *verdict) RL_NODISCARD;
// fsync the journal when records were written since the last sync and `force` or
// LABEL_SYNC_S passed.
void label_journal_sync(struct label_job *j, bool force);
// Write the table (prompt, a quality column per model, a MODEL|cost column per model) of every
// prompt with a done cell, atomically; *rows says how many. RL_OK or RL_EIO.
int label_table_write(const struct label_job *j, const char *path, size_t *rows,
                      char *errbuf) RL_NODISCARD;
void label_job_free(struct label_job *j); // syncs and closes the journal

// ----------------------------------------------------------------------------
// The run (label_run.c): every cell that is not done, through libcurl's multi interface on the
// proxy's event loop (src/server: loop.c, upstream.c), with the upstreams, keys, headers,
// retries and backoff of the serve configuration.

struct srv_config;

struct label_run_params {
    const struct srv_config *config;
    const int *model_cfg;              // (n_models) each candidate's index among config->models
    int judge_cfg;                     // the judge's index among config->models, -1 without a judge
    const struct label_grader *grader; // LABEL_MODE_REFERENCE
    int concurrency;                   // calls at once
    double rps;                        // call starts per second, retries included; 0: no cap
    double max_cost;                   // USD of all runs together; < 0: no cap
    long max_tokens;                   // of an answer; 0: the upstream's default
    long judge_max_tokens;             // of a judge's reply
    double temperature;                // of the answers (the judge's is 0)
    int max_errors_shown;              // failures described on stderr; the rest are only counted
};

enum label_stop {
    LABEL_STOP_DONE,   // every cell was tried
    LABEL_STOP_BUDGET, // max_cost was reached: no call started after it, those in flight finished
    LABEL_STOP_SIGNAL, // SIGINT or SIGTERM: as for the budget; a second signal abandons them
    LABEL_STOP_AUTH,   // an upstream refused the credentials: nothing else would succeed
    LABEL_STOP_ERROR,  // out of memory, the journal could not be written, the loop failed
};

// Run the job's open cells; t gets what this run did. Returns why it stopped; errbuf says more
// for LABEL_STOP_AUTH and LABEL_STOP_ERROR.
enum label_stop label_run(struct label_job *j, const struct label_run_params *p,
                          struct label_totals *t, char *errbuf);

#endif
