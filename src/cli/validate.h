// `routellm validate`: every router candidate of a suite (suite.h) is trained once per held-out
// source on the other sources, and scored on the held-out source's tables for several model
// pairs; the baselines (random, length) are scored beside. Shared state of cmd_validate.c (the
// command and its report), validate_data.c (tables, pairs, contamination, training sets) and
// validate_run.c (training, scoring, the metrics and their bootstrap).
#ifndef RL_CLI_VALIDATE_H
#define RL_CLI_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cli/cli.h"
#include "cli/suite.h"
#include "rl.h"

// One evaluation table of a held-out source: every prompt's quality per model, in [0, 1].
struct vtable {
    const char *spec;
    size_t source;        // index into the suite's sources
    struct rl_battles *b; // its prompts and models (read in cells mode)
    double *q;            // (n_prompts, n_models), NaN where a model has no score
};

// One evaluation: a table and a pair of its models.
struct veval {
    size_t table;
    int strong, weak; // model indices of the table
    double gap;       // mean quality difference over the prompts both have
    size_t *idx;      // the prompts both have (n)
    size_t n;
};

// A row of the report: a router candidate, or a baseline.
struct vrouter {
    const char *name;
    const struct suite_router *cfg; // NULL for a baseline
    double *apgr, *cpt50;           // (n_evals) NaN when the pair's gap vanishes
    double *boot;                   // (bootstrap) mean APGR of each resample
    // (n_evals) the scores of each evaluation's table prompts: runs arrays of its table's
    // prompt count (runs > 1 for the random baseline, whose curves are averaged over seeds)
    double **scores;
    int runs;
    size_t n_unknown_pair; // evaluations scored with the router's default pair
};

struct validate {
    const struct suite *s;
    struct cli_scorer sc;
    const char *home;
    int threads;
    bool verbose;
    // --ship: data added to every source's, texts added to the suite's exclude list (or, with
    // own_exclude_only, replacing it), and the candidate's aliases left out (when the added data
    // has the models they stand in for).
    struct cli_list *extra_data, *extra_exclude;
    bool no_aliases, own_exclude_only;

    struct vtable *tables;
    size_t n_tables;
    struct veval *evals;
    size_t n_evals;
    struct vrouter *routers; // candidates, then baselines
    size_t n_routers;
    bool *run_source; // (n_sources) held out in this run

    // The prompts of every source (its tables and battles), embedded once, and the hashes of
    // those never to be trained on: the benchmarks' near-duplicates and quotes.
    uint64_t *banned; // sorted
    size_t n_banned;
};

// The `held` of validate_training_set that holds out no source.
#define VALIDATE_NONE ((size_t)-1)

// ----------------------------------------------------------------------------
// validate_data.c

// Read every table of the suite and choose its pairs (min_gap, min_coverage, max_pairs).
int validate_tables(struct validate *v);
// The hashes of training-side prompts that match a benchmark text (v->banned).
int validate_banned(struct validate *v);
// The training data of router r for the fold that holds out source `held`: its sources' battle
// specs (or tables in cells mode, for kinds trained on cells), with the prompts dropped that
// match a benchmark text or a prompt of the held-out source, and the prompts' embeddings.
// 0, or 1 after printing why, with *out and *emb NULL.
int validate_training_set(struct validate *v, const struct suite_router *r, size_t held,
                          struct rl_battles **out, float **emb);
// FNV-1a of a prompt's text, the key of v->banned.
uint64_t validate_hash(const char *text);

// ----------------------------------------------------------------------------
// validate_run.c

// Train (or take from the cache) every candidate for the fold of source `held`, and score the
// fold's evaluations with them and with the baselines.
int validate_fold(struct validate *v, size_t held);
// APGR and CPT(50%) of every evaluation and router, then the bootstrap over prompts.
int validate_metrics(struct validate *v);
// Train candidate r on every source of the suite (none held out) into out, with its training-
// prompt list beside it (NAME.prompts.jsonl.gz); strong and weak (NULL: the candidate's own)
// name its default pair. This is how the shipped routers are made.
int validate_ship(struct validate *v, const struct suite_router *r, const char *out,
                  const char *strong, const char *weak);

#endif
