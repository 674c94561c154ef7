// Shared pieces of the command-line tool: the subcommands, error reporting, option tables,
// default paths, a progress bar, and the loading and scoring helpers of the subcommands that
// score prompts. The CLI is a client of libroutellm; only it prints and exits.
#ifndef RL_CLI_H
#define RL_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/core.h"

// Each subcommand gets argv starting at its own name and returns the process exit status.
int cli_cmd_embed(int argc, char **argv);
int cli_cmd_eval(int argc, char **argv);
int cli_cmd_calibrate(int argc, char **argv);
int cli_cmd_serve(int argc, char **argv);
int cli_cmd_train(int argc, char **argv);
int cli_cmd_label(int argc, char **argv);
int cli_cmd_route(int argc, char **argv);
int cli_cmd_validate(int argc, char **argv);

// Print "routellm: <message>" on stderr and return 1 (the exit status of a failed command).
int cli_fail(const char *fmt, ...) RL_PRINTF(1, 2);

struct json_t;
// Print the JSON document j (taken; NULL means out of memory) on stdout with jansson's dump
// flags, and a newline. 0, or 1 after printing why not.
int cli_print_json(struct json_t *j, size_t flags);

// ----------------------------------------------------------------------------
// Options from tables (options.c)
//
// A subcommand lists its options once, in an array of struct cli_opt (name, value type, range,
// where the value goes, help), and describes itself in a struct cli_spec. cli_parse reads argv
// against it, --help is written from it, and every mistake is a usage error: one line
// "routellm: <command>: <what>" on stderr (an unknown option names the closest one), then the
// usage line, and exit status 2. A failure while running is status 1 (cli_fail), success 0.

#define CLI_EXIT_USAGE 2    // exit status of a usage error
#define CLI_HELP       (-1) // cli_parse's answer when it printed --help (exit status 0)
#define CLI_LIST_MAX   128  // values of one repeatable option
#define CLI_MAX_OPTS   64   // entries of one table

enum cli_opt_type {
    CLI_OPT_FLAG,    // no value: *dest.flag = true
    CLI_OPT_STRING,  // *dest.str = the value (borrowed from argv)
    CLI_OPT_DOUBLE,  // *dest.num = a number in [lo, hi] (strtod)
    CLI_OPT_INT,     // *dest.integer = a base-10 integer in [lo, hi]
    CLI_OPT_U64,     // *dest.u64 = a base-10 integer in [lo, hi]
    CLI_OPT_CHOICE,  // *dest.integer = the index of the value among choices
    CLI_OPT_LIST,    // the value is appended to *dest.list; the option may be repeated
    CLI_OPT_SECTION, // not an option: starts a group titled `help` in --help
};

// The values of repeatable options, in command-line order. Several options may share one list;
// opt[i] says which one gave value[i].
struct cli_list {
    int n;
    char *value[CLI_LIST_MAX];     // borrowed from argv
    const char *opt[CLI_LIST_MAX]; // the option's name in its table
};

#define CLI_REQUIRED 1u // the option must be given (a usage error otherwise)

struct cli_opt {
    const char *name; // "--threshold"
    enum cli_opt_type type;
    union {
        bool *flag;
        const char **str;
        double *num;
        int *integer;
        uint64_t *u64;
        struct cli_list *list;
    } dest;
    double lo, hi;              // accepted range of a number
    const char *const *choices; // CLI_OPT_CHOICE: the accepted words, NULL-terminated
    const char *metavar;        // the value's name in help: "A" in "--threshold A"
    unsigned flags;             // CLI_REQUIRED
    const char *help;           // wrapped to the terminal width by --help
};

// Table entries. dst must point to a variable of the option's type.
#define CLI_FLAG(nm, dst, hlp)                                                                     \
    { .name = nm, .type = CLI_OPT_FLAG, .dest.flag = (dst), .help = hlp }
#define CLI_STR(nm, dst, mv, fl, hlp)                                                              \
    {                                                                                              \
        .name = nm, .type = CLI_OPT_STRING, .dest.str = (dst), .metavar = mv, .flags = fl,         \
        .help = hlp                                                                                \
    }
#define CLI_NUM(nm, dst, l, h, mv, fl, hlp)                                                        \
    {                                                                                              \
        .name = nm, .type = CLI_OPT_DOUBLE, .dest.num = (dst), .lo = l, .hi = h, .metavar = mv,    \
        .flags = fl, .help = hlp                                                                   \
    }
#define CLI_INT(nm, dst, l, h, mv, hlp)                                                            \
    {                                                                                              \
        .name = nm, .type = CLI_OPT_INT, .dest.integer = (dst), .lo = l, .hi = h, .metavar = mv,   \
        .help = hlp                                                                                \
    }
#define CLI_U64(nm, dst, l, h, mv, hlp)                                                            \
    {                                                                                              \
        .name = nm, .type = CLI_OPT_U64, .dest.u64 = (dst), .lo = l, .hi = h, .metavar = mv,       \
        .help = hlp                                                                                \
    }
#define CLI_CHOICE(nm, dst, words, mv, hlp)                                                        \
    {                                                                                              \
        .name = nm, .type = CLI_OPT_CHOICE, .dest.integer = (dst), .choices = words,               \
        .metavar = mv, .help = hlp                                                                 \
    }
#define CLI_LIST(nm, dst, mv, fl, hlp)                                                             \
    {                                                                                              \
        .name = nm, .type = CLI_OPT_LIST, .dest.list = (dst), .metavar = mv, .flags = fl,          \
        .help = hlp                                                                                \
    }
#define CLI_SECTION(title)                                                                         \
    { .type = CLI_OPT_SECTION, .help = title }

// Options that several subcommands share.
#define CLI_MODEL_DIR(dst)                                                                         \
    CLI_STR("--model-dir", dst, "DIR", 0,                                                          \
            "encoder folder (default <home>/" CLI_DEFAULT_MODEL_DIR ")")
#define CLI_NO_CACHE(dst) CLI_FLAG("--no-cache", dst, "recompute embeddings and scores")
// --precision into an int holding an enum rl_precision.
#define CLI_PRECISION(dst)                                                                         \
    CLI_CHOICE("--precision", dst, cli_precision_names, "P",                                       \
               "encoder arithmetic: fp32 (default, the reference) or int8 (int8 linear layers, "   \
               "about twice as fast, cosine >= 0.995 to fp32)")
// The --precision words, in the order of enum rl_precision, NULL-terminated.
extern const char *const cli_precision_names[];

// A subcommand: its options and what --help says about it.
struct cli_spec {
    const char *name;           // as typed after `routellm`
    const char *args;           // the positional arguments in the usage line, NULL for none
    int min_args, max_args;     // how many positional arguments; max_args -1 for any number
    bool args_first;            // the usage line names the arguments before the options
    bool args_end_options;      // the first positional argument ends the options (embed's texts)
    const char *about;          // the paragraph under the usage line
    const struct cli_opt *opts; // (n_opts)
    size_t n_opts;
    const char *notes; // text after the options, or NULL
};
#define CLI_OPTS(table) .opts = (table), .n_opts = RL_COUNTOF(table)

// Read the options in argv[1..argc) into their destinations (which keep their values when an
// option is not given): `--opt value` and `--opt=value`, `--` ends the options, `-` is an
// argument. The positional arguments are moved to argv[1..*n_args], in order (n_args may be
// NULL when spec takes none). Returns 0,
// CLI_HELP after printing --help on stdout, or CLI_EXIT_USAGE after reporting a usage error.
int cli_parse(const struct cli_spec *spec, int argc, char **argv, int *n_args);

// The --help text of spec: usage line, about, the options by section, notes.
void cli_help(const struct cli_spec *spec, FILE *f);

// The manual page is written from the same table: `routellm <command> --man` (not listed in
// --help; the build runs it, through `routellm --man <command>`) prints the page's synopsis,
// description, options and notes in roff, and cli_parse returns CLI_HELP. cli_man_text writes
// text as roff.
void cli_man_text(FILE *f, const char *text);

// Report a usage error found after parsing ("routellm: <command>: <message>" and the usage line
// on stderr); returns CLI_EXIT_USAGE.
int cli_usage(const struct cli_spec *spec, const char *fmt, ...) RL_PRINTF(2, 3);

// "Did you mean": feed the candidates one by one; the closest to word by edit distance (ignoring
// leading dashes and case) is kept, if it is close enough to be a likely typo.
struct cli_suggest {
    const char *word;
    const char *best; // NULL while no candidate is close enough
    size_t dist;
};
void cli_suggest_init(struct cli_suggest *s, const char *word);
void cli_suggest_add(struct cli_suggest *s, const char *candidate);

// ----------------------------------------------------------------------------
// Router kinds (cli.c)

enum cli_kinds { CLI_KINDS_SHIPPED, CLI_KINDS_TRAINABLE };
// The names of the registry's kinds that ship a default router, or that can be trained, joined
// by sep (e.g. "random, mf, sw_ranking, bert"). The text lives in a static buffer, valid until
// the next call.
const char *cli_kind_names(enum cli_kinds which, const char *sep);

// ----------------------------------------------------------------------------
// Paths (cli.c)

// The project's home (rl_home): $ROUTELLM_HOME, else the install's <prefix>/share/routellm, else
// the source tree the binary was built from. Shipped data (data/, routers/) and fetched weights
// (models/) are found under it.
const char *cli_home(void);

// The cache folder `name` ("eval", "embeddings", "validate"), written into out: under
// <home>/.cache, or, for an installed home, under $XDG_CACHE_HOME/routellm (~/.cache/routellm).
// RL_OK or RL_ETOOBIG.
int cli_cache_dir(const char *name, char *out, size_t out_size) RL_NODISCARD;

// The encoder folder used when none is named, relative to the home.
#define CLI_DEFAULT_MODEL_DIR "models/all-MiniLM-L6-v2"
// The causal LM a causal_llm router reads by default (`make models` fetches it).
#define CLI_DEFAULT_LM_DIR "models/SmolLM2-135M-Instruct"

// Default encoder folder, <home>/CLI_DEFAULT_MODEL_DIR, written into out.
int cli_default_model_dir(char *out, size_t out_size) RL_NODISCARD;

// An output folder named by option `opt`, made (mkdir -p) and checked writable before a long run
// rather than after it: 0, or 1 after printing why not.
int cli_output_dir(const char *opt, const char *dir);

// Cut the white space at the end of s in place; returns s past its leading white space.
char *cli_trim(char *s);

// The next item of a comma-separated list, split in place and trimmed (cli_trim), so that
// "mf, bert" gives "mf" then "bert"; NULL after the last. *cursor starts at the list (or NULL).
char *cli_list_next(char **cursor);

// Copy `in` to out (at most out_size - 1 bytes) with every byte other than [A-Za-z0-9._-]
// replaced by '_', so that it can be part of a file name.
void cli_slug(const char *in, char *out, size_t out_size);

// ----------------------------------------------------------------------------
// Progress on stderr (cli.c) when total is large enough to matter: a bar redrawn in place when
// stderr is a terminal, otherwise a line every CLI_PROGRESS_LINE_S seconds (none for a step
// shorter than that) and a last one at the end. The environment variable ROUTELLM_PROGRESS_S
// sets that interval (0: no lines). Calls are cheap; output is rate-limited.

#define CLI_PROGRESS_LINE_S 10.0

struct cli_progress {
    const char *label;
    size_t total;
    size_t done;
    bool bar, lines, printed; // drawing a bar; printing lines; printed one
    double interval;          // seconds between lines
    double last_draw;
    double start;
};
void cli_progress_start(struct cli_progress *p, const char *label, size_t total);
void cli_progress_add(struct cli_progress *p, size_t n);
void cli_progress_finish(struct cli_progress *p);

// ----------------------------------------------------------------------------
// Loading and scoring (scorer.c), for `eval`, `calibrate`, `route` and `train`. Each function
// prints its own error and returns the exit status (0 or 1), or NULL for the constructors.

struct rl_encoder;
struct rl_embcache;
struct rl_router;
struct rl_router_pair;

// The encoder in model_dir (NULL: cli_default_model_dir) at the given precision (an enum
// rl_precision); NULL after printing why it failed.
struct rl_encoder *cli_encoder_open(const char *model_dir, int precision);

// Load router spec (a kind name or a file, as rl_router_load) and resolve the pair strong /
// weak (NULL names: the router's default pair). On failure *r is NULL.
int cli_router_load(const char *spec, const char *strong, const char *weak, struct rl_router **r,
                    struct rl_router_pair *pair);

// Candidates for routing among many models (route and calibrate --models, rl/policy.h): indices
// into a router's model list, each one's price in USD per million prompt and completion tokens,
// and the reference model of the qualities.
#define CLI_MAX_CANDIDATES 64
// The --policy words, in the order of enum rl_policy_kind, NULL-terminated.
extern const char *const cli_policy_names[];
struct cli_candidates {
    int n;
    int idx[CLI_MAX_CANDIDATES];
    double price[CLI_MAX_CANDIDATES][2];
    int ref;
};
// Read the comma-separated `models`, one `--price MODEL=IN,OUT` entry per candidate from prices,
// and the reference (NULL: the router's default weak model) for router r, which must rank models
// (rl_router_kind_ranks_models). 0, or 1 after printing why not, prefixed with cmd.
int cli_candidates_read(const struct rl_router *r, const char *cmd, const char *models,
                        const struct cli_list *prices, const char *reference,
                        struct cli_candidates *c);
// Parse a --price value MODEL=IN,OUT (USD per million prompt and completion tokens, each in
// [0, 1e6]): the model's name into name (size bytes) and the prices. 0, or 1 after printing why
// not, prefixed with cmd.
int cli_price_parse(const char *cmd, const char *spec, char *name, size_t size, double *in,
                    double *out);
// Where a cached evaluation result named `file` lives: cli_cache_dir("eval"), and that folder
// joined with file, each written into a buffer of `size` bytes. False when a path does not fit.
bool cli_eval_cache_path(const char *file, char *dir, char *path, size_t size);

// The encoders are loaded on first need; embeddings go through the embedding cache in
// cli_cache_dir("embeddings") and scores through the score cache in cli_cache_dir("eval")
// (unless no_cache), with progress bars on stderr. The main encoder (model_dir) embeds training
// and decontamination texts; a router trained on another encoder (a causal_llm router's LM) is
// scored with that one, opened from <home>/models/<its name> unless the main one has its name.
#define CLI_MAX_ENCODERS 4
struct cli_encoder_slot {
    char *model_dir; // NULL for the main encoder
    int precision;   // enum rl_precision
    struct rl_encoder *enc;
    struct rl_embcache *cache;
};
struct cli_scorer {
    const char *model_dir;  // main encoder folder, NULL for the default
    int precision;          // enum rl_precision of the encoders (cli_scorer_init: fp32)
    bool no_cache;          // recompute embeddings and scores
    struct rl_encoder *enc; // the main encoder once loaded (slot[0].enc)
    struct cli_encoder_slot slot[CLI_MAX_ENCODERS];
    int n_slots;
};
void cli_scorer_init(struct cli_scorer *s, const char *model_dir, bool no_cache);
void cli_scorer_free(struct cli_scorer *s);
// Embeddings of n prompts (n × dim, caller frees *emb) by the main encoder; `what` names them in
// the progress bar.
int cli_scorer_embed(struct cli_scorer *s, const char *const *prompts, size_t n, const char *what,
                     float **emb);
// The same by the encoder in model_dir (NULL: the main one) at a precision (an enum
// rl_precision, or -1 for the scorer's), which *enc receives (owned by s).
int cli_scorer_embed_with(struct cli_scorer *s, const char *model_dir, int precision,
                          const char *const *prompts, size_t n, const char *what, float **emb,
                          struct rl_encoder **enc);
// The same by the encoder router r was trained on, checked against r, at the precision its file
// records (else the scorer's); *emb NULL for a router without one.
int cli_scorer_embed_for(struct cli_scorer *s, const struct rl_router *r,
                         const char *const *prompts, size_t n, const char *what, float **emb);
// Scores of n prompts with router r loaded from spec (a kind name or a file), cached by the
// router file's digest, the pair, the encoder and the prompts.
int cli_scorer_score(struct cli_scorer *s, const struct rl_router *r, const char *spec,
                     const char *label, const struct rl_router_pair *pair,
                     const char *const *prompts, size_t n, const char *what, double *scores);

#endif
