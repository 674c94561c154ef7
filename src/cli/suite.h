// The validation suite (`routellm validate`, docs/VALIDATION.md): which sources are held out in
// turn, the tables that evaluate them, the data each router candidate trains on, and the rules
// that choose the model pairs. Read from a YAML file (suite.c); the run itself is validate.c.
#ifndef RL_CLI_SUITE_H
#define RL_CLI_SUITE_H

#include <stdbool.h>
#include <stddef.h>

#define SUITE_MAX_SOURCES 64
#define SUITE_MAX_SPECS   64 // data specs of one source, or benchmark files to exclude
#define SUITE_MAX_ROUTERS 32
#define SUITE_MAX_ALIASES 16
#define SUITE_MAX_EXCLUDE 256 // benchmark files, once globs are expanded

// A held-out unit: the tables that evaluate routers trained without it, and what it gives to
// the training data when it is not held out.
struct suite_source {
    char *name;
    char *tables[SUITE_MAX_SPECS]; // table specs, read in cells mode (per-model scores)
    size_t n_tables;
    char *battles[SUITE_MAX_SPECS]; // battle specs for the battle-trained kinds
    size_t n_battles;
    int line;
};

// A router candidate: a kind, the sources it trains on, and how.
struct suite_router {
    char *name;
    char *kind;
    char *sources[SUITE_MAX_SOURCES]; // patterns of source names ('*' matches any run)
    size_t n_sources;
    char *table_options; // key=value options added to its table: battle specs ("margin=0.25")
    bool features;       // prompt features beside the embedding
    bool no_embedding;   // irt: the features alone
    bool score_tokens;   // causal_llm: its LM's score-token logits, not the whole hidden state
    char *strong, *weak; // default pair (NULL: the library's)
    char *encoder;       // the encoder of its input (an absolute path), NULL for the suite's
    int precision;       // that encoder's (an enum rl_precision), -1 for the suite's
    char *aliases[SUITE_MAX_ALIASES];
    size_t n_aliases;
    int line;
};

struct suite {
    char *path;
    char *name;
    double min_gap;       // pairs whose mean quality (on [0, 1]) differs by at least this
    size_t max_pairs;     // per table, spread over the pairs sorted by gap
    double min_coverage;  // a model needs a score on this share of a table's prompts
    double decontaminate; // cosine at which a training prompt is the same as another
    int bootstrap;        // resamples of the prompts
    char *exclude[SUITE_MAX_EXCLUDE]; // texts never trained on (the benchmarks), globs expanded
    size_t n_exclude;
    struct suite_source sources[SUITE_MAX_SOURCES];
    size_t n_sources;
    struct suite_router routers[SUITE_MAX_ROUTERS];
    size_t n_routers;
    char *baselines[SUITE_MAX_ROUTERS]; // built-in routers shown beside (random, length)
    size_t n_baselines;
};

// Read a suite file. Relative paths in it are taken from home (the project's folder). 0, or 1
// after printing an error that names the file, the line and the key.
int suite_load(const char *path, const char *home, struct suite *s);
void suite_free(struct suite *s);

// Whether router r trains on source i.
bool suite_router_uses(const struct suite_router *r, const struct suite_source *src);

// Whether name matches pattern, where '*' matches any run of characters.
bool suite_match(const char *pattern, const char *name);

#endif
