// `routellm label`: make a per-prompt quality table for a set of models from a list of prompts,
// through the upstreams of a serve configuration: each model answers each prompt, and a judge
// (MT-Bench's single-answer or pairwise prompt) or a reference answer grades it. The table is
// what `train --data table:` and `eval --benchmark table:` read. The work is resumable: every
// finished cell is journaled as it completes (label_store.c), and a rerun does only the rest.
// docs/LABEL.md has the details.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/label.h"
#include "server/server.h"

#define MAX_ERRORS_SHOWN 10 // failures described one by one; the totals count all

struct label_opts {
    const char *config, *prompts, *models, *judge, *ref_column, *grader, *out;
    bool pairwise;
    int concurrency;
    double rps, max_cost, temperature;
    int max_tokens, judge_max_tokens;
};

// The configuration's names of its models, for messages.
static void config_names(const struct srv_config *c, char *out, size_t size) {
    size_t n = 0;
    out[0] = '\0';
    for (size_t i = 0; i < c->n_models && n + 1 < size; i++)
        n += (size_t)snprintf(out + n, size - n, "%s%s", i ? ", " : "", c->models[i].name);
}

// --models into names (split in place) and their indices among the configured models.
static int parse_models(const struct cli_spec *spec, char *list, const struct srv_config *c,
                        const char **names, int *cfg, int *n) {
    char known[1024];
    *n = 0;
    char *cursor = list;
    for (char *name = cli_list_next(&cursor); name; name = cli_list_next(&cursor)) {
        if (!*name)
            continue;
        if (*n == LABEL_MAX_MODELS)
            return cli_usage(spec, "--models: more than %d models", LABEL_MAX_MODELS);
        int idx = srv_config_model_index(c, name);
        if (idx < 0) {
            config_names(c, known, sizeof known);
            return cli_usage(spec, "--models: no model '%s' in %s (it has: %s)", name, c->path,
                             known);
        }
        for (int k = 0; k < *n; k++)
            if (strcmp(names[k], name) == 0)
                return cli_usage(spec, "--models: '%s' is given twice", name);
        names[*n] = name;
        cfg[(*n)++] = idx;
    }
    if (*n < 2)
        return cli_usage(spec, "--models: give at least two models (a table compares them)");
    return 0;
}

static void print_plan(const struct label_job *j, const struct label_opts *o) {
    size_t cells = j->n * (size_t)j->n_models;
    fprintf(stderr, "label: %zu prompt%s", j->n, j->n == 1 ? "" : "s");
    if (j->n_duplicates)
        fprintf(stderr, " (%zu repeated one%s left out)", j->n_duplicates,
                j->n_duplicates == 1 ? "" : "s");
    fprintf(stderr, " x %d models = %zu cells; graded by %s\n", j->n_models, cells, j->grading);
    if (j->before.cells)
        fprintf(stderr, "label: %ld cells done by earlier runs ($%.6f spent), %zu to go\n",
                j->before.cells, j->before.spent, cells - (size_t)j->before.cells);
    if (j->foreign)
        fprintf(stderr,
                "label: %zu journal records are for prompts not in %s (kept, not "
                "used)\n",
                j->foreign, o->prompts);
    if (j->torn)
        fprintf(stderr, "label: cut a torn last record (%zu bytes) off the journal\n", j->torn);
}

static void print_totals(const struct label_job *j, const struct label_totals *t) {
    fprintf(stderr,
            "label: this run: %ld calls (%ld answers, %ld judgements), %ld failed; tokens %ld "
            "prompt, %ld completion; $%.6f ($%.6f judging)\n",
            t->calls, t->answers, t->judgements, t->failures, t->prompt_tokens,
            t->completion_tokens, t->spent, t->judge_spent);
    if (t->no_usage)
        fprintf(stderr, "label: %ld replies reported no token usage; they count $0\n", t->no_usage);
    size_t done = 0, missing = 0, cells = j->n * (size_t)j->n_models;
    for (size_t k = 0; k < cells; k++) {
        done += j->cells[k].state == LABEL_CELL_DONE;
        missing += j->cells[k].state == LABEL_CELL_DONE && isnan(j->cells[k].quality);
    }
    fprintf(stderr,
            "label: the table: %zu of %zu cells labelled, %zu missing verdict%s (empty cells); "
            "$%.6f spent over all runs ($%.6f judging)\n",
            done, cells, missing, missing == 1 ? "" : "s", j->before.spent + t->spent,
            j->before.judge_spent + t->judge_spent);
}

// The job's grading as the journal records it; a rerun must grade the same way.
static void grading_name(struct label_job *j, const struct label_opts *o,
                         const struct srv_config *c, int judge) {
    if (j->mode == LABEL_MODE_REFERENCE)
        snprintf(j->grading, sizeof j->grading, "reference column %s, grader %s", o->ref_column,
                 o->grader ? o->grader : "exact");
    else
        snprintf(j->grading, sizeof j->grading, "judge %s (%s), MT-Bench %s", c->models[judge].name,
                 c->models[judge].model, j->mode == LABEL_MODE_PAIRWISE ? "pair-v2" : "single-v1");
}

static int check_references(const struct label_job *j, const struct label_grader *g,
                            const struct label_opts *o) {
    size_t bad = 0, first = 0;
    for (size_t i = 0; i < j->n; i++) {
        if (!label_grader_reference_ok(g, j->refs[i]) && bad++ == 0)
            first = i;
    }
    if (bad)
        return cli_fail("label: %s: %zu reference%s in column %s cannot be graded by %s (the "
                        "first: prompt %zu, '%.60s')",
                        o->prompts, bad, bad == 1 ? "" : "s", o->ref_column,
                        o->grader ? o->grader : "exact", first + 1, j->refs[first]);
    return 0;
}

static int finish(const struct label_job *j, const struct label_opts *o, enum label_stop why,
                  const char *errbuf) {
    size_t open = 0, cells = j->n * (size_t)j->n_models;
    for (size_t k = 0; k < cells; k++)
        open += j->cells[k].state != LABEL_CELL_DONE;
    switch (why) {
    case LABEL_STOP_AUTH:
    case LABEL_STOP_ERROR: return cli_fail("label: %s", errbuf);
    case LABEL_STOP_BUDGET:
        return cli_fail("label: stopped at --max-cost $%g with %zu cell%s left; rerun with a "
                        "higher --max-cost to go on",
                        o->max_cost, open, open == 1 ? "" : "s");
    case LABEL_STOP_SIGNAL:
        return cli_fail("label: interrupted with %zu cell%s left; rerun to go on", open,
                        open == 1 ? "" : "s");
    case LABEL_STOP_DONE: break;
    }
    if (open)
        return cli_fail("label: %zu cell%s could not be labelled (failed calls); rerun to retry "
                        "them",
                        open, open == 1 ? "" : "s");
    return 0;
}

int cli_cmd_label(int argc, char **argv) {
    struct label_opts o = {
        .concurrency = 4, .max_cost = -1, .judge_max_tokens = LABEL_JUDGE_MAX_TOKENS};
    const struct cli_opt opts[] = {
        CLI_STR("--config", &o.config, "FILE", CLI_REQUIRED,
                "the serve configuration whose models: are called (keys from the environment, "
                "headers, query, auth, prices; routing: retries and backoff_s)"),
        CLI_STR("--prompts", &o.prompts, "FILE", CLI_REQUIRED,
                "prompts: text (one per line), .jsonl/.json (\"prompt\") or .csv (prompt column); "
                "with --reference-column a .csv or .jsonl"),
        CLI_STR("--models", &o.models, "A,B", CLI_REQUIRED,
                "the models to label (names of the configuration's models), 2 to " RL_STRINGIFY(
                    LABEL_MAX_MODELS) "; each gets a quality and a MODEL|cost column"),
        CLI_STR("--out", &o.out, "TABLE.csv", CLI_REQUIRED,
                "the table to write; its journal TABLE.csv.journal.jsonl sits beside it"),
        CLI_SECTION("grading, one of:"),
        CLI_STR("--judge", &o.judge, "MODEL", 0,
                "a configured model grades each answer 1-10 with MT-Bench's single-answer prompt"),
        CLI_FLAG("--pairwise", &o.pairwise,
                 "with --judge and two models: the judge compares the two answers in both orders; "
                 "quality = wins + ties/2 over the two, so the pair's qualities sum to 1"),
        CLI_STR("--reference-column", &o.ref_column, "COL", 0,
                "grade against the prompts file's column COL without a judge: 1 right, 0 wrong"),
        CLI_STR("--grader", &o.grader, "G", 0,
                "exact (default), number (GSM8K's last number), choice (a letter A-J) or "
                "regex:RE (the last match, its first group, against the reference)"),
        CLI_SECTION("calls:"),
        CLI_INT("--concurrency", &o.concurrency, 1, 256, "N", "calls at once (default 4)"),
        CLI_NUM("--rps", &o.rps, 0, 10000, "R", 0,
                "at most R calls start per second, retries included (default: no cap)"),
        CLI_NUM("--max-cost", &o.max_cost, 0, 1e9, "USD", 0,
                "stop starting calls once the table's spend (every run, judge included) reaches "
                "USD; calls in flight finish"),
        CLI_INT("--max-tokens", &o.max_tokens, 1, 1000000, "N",
                "max_tokens of an answer (default: the upstream's)"),
        CLI_INT("--judge-max-tokens", &o.judge_max_tokens, 1, 1000000, "N",
                "max_tokens of a judge's reply (default " RL_STRINGIFY(LABEL_JUDGE_MAX_TOKENS) ")"),
        CLI_NUM("--temperature", &o.temperature, 0, 2, "T", 0,
                "temperature of the answers (default 0; the judge's is 0)"),
    };
    const struct cli_spec spec_s = {
        .name = "label",
        .about = "Label prompts for training and evaluation: each model answers each prompt "
                 "through the configured upstreams, and a judge or a reference answer grades "
                 "the answer. Writes a table that `train --data table:` and `eval --benchmark "
                 "table:` read. Every finished cell is journaled at once: a rerun, after a "
                 "failure, an interrupt or --max-cost, does only the cells left.",
        CLI_OPTS(opts),
        .notes = "Exit status 0 when every cell is labelled; 1 when some are left (failures, "
                 "--max-cost, an interrupt): rerun the same command to go on. docs/LABEL.md has "
                 "a worked example.",
    };
    const struct cli_spec *spec = &spec_s;
    int rc = cli_parse(spec, argc, argv, NULL);
    if (rc)
        return rc == CLI_HELP ? 0 : rc;
    if (!o.judge == !o.ref_column)
        return cli_usage(spec, "give --judge MODEL or --reference-column COL (one of them)");
    if (o.pairwise && !o.judge)
        return cli_usage(spec, "--pairwise needs --judge");
    if (o.grader && !o.ref_column)
        return cli_usage(spec, "--grader applies with --reference-column");

    char errbuf[RL_ERRBUF_SIZE] = "";
    struct label_grader grader = {0};
    if (o.ref_column && label_grader_init(&grader, o.grader ? o.grader : "exact", errbuf) != RL_OK)
        return cli_usage(spec, "--grader: %s", errbuf);

    struct srv_config c;
    srv_config_init(&c);
    struct label_job j = {.fd = -1};
    char *models = strdup(o.models);
    const char *names[LABEL_MAX_MODELS];
    int cfg[LABEL_MAX_MODELS], judge = -1, status = 1;
    char journal[4096];
    if (!models) {
        status = cli_fail("label: out of memory");
        goto done;
    }
    if (srv_config_load(&c, o.config, errbuf) != RL_OK || srv_config_finish(&c, errbuf) != RL_OK) {
        status = cli_fail("label: %s", errbuf);
        goto done;
    }
    if ((status = parse_models(spec, models, &c, names, cfg, &j.n_models)) != 0)
        goto done;
    status = 1;
    if (o.judge && (judge = srv_config_model_index(&c, o.judge)) < 0) {
        char known[1024];
        config_names(&c, known, sizeof known);
        status =
            cli_usage(spec, "--judge: no model '%s' in %s (it has: %s)", o.judge, o.config, known);
        goto done;
    }
    for (int k = -1; k < j.n_models; k++) {
        int i = k < 0 ? judge : cfg[k];
        if (i >= 0 && c.models[i].deployments.n) {
            status = cli_usage(spec,
                               "'%s' is a group of deployments (models[].deployments): name one "
                               "of them, e.g. '%s'",
                               c.models[i].name, c.models[i].deployments.items[0]);
            goto done;
        }
    }
    if (o.pairwise && j.n_models != 2) {
        status = cli_usage(spec, "--pairwise compares two models; --models gives %d", j.n_models);
        goto done;
    }
    j.models = names;
    j.mode = o.ref_column ? LABEL_MODE_REFERENCE
             : o.pairwise ? LABEL_MODE_PAIRWISE
                          : LABEL_MODE_JUDGE;
    grading_name(&j, &o, &c, judge);
    if (label_job_prompts(&j, o.prompts, o.ref_column, errbuf) != RL_OK) {
        status = cli_fail("label: %s", errbuf);
        goto done;
    }
    if (o.ref_column && (status = check_references(&j, &grader, &o)) != 0)
        goto done;
    status = 1;
    if ((size_t)snprintf(journal, sizeof journal, "%s.journal.jsonl", o.out) >= sizeof journal) {
        status = cli_fail("label: --out: path too long");
        goto done;
    }
    if (label_journal_open(&j, journal, errbuf) != RL_OK) {
        status = cli_fail("label: %s", errbuf);
        goto done;
    }
    print_plan(&j, &o);

    const struct label_run_params p = {
        .config = &c,
        .model_cfg = cfg,
        .judge_cfg = judge,
        .grader = &grader,
        .concurrency = o.concurrency,
        .rps = o.rps,
        .max_cost = o.max_cost,
        .max_tokens = o.max_tokens,
        .judge_max_tokens = o.judge_max_tokens,
        .temperature = o.temperature,
        .max_errors_shown = MAX_ERRORS_SHOWN,
    };
    struct label_totals t;
    char run_err[RL_ERRBUF_SIZE] = "";
    enum label_stop why = label_run(&j, &p, &t, run_err);
    size_t rows = 0;
    if (label_table_write(&j, o.out, &rows, errbuf) != RL_OK) {
        print_totals(&j, &t);
        status = cli_fail("label: %s", errbuf);
        goto done;
    }
    print_totals(&j, &t);
    fprintf(stderr, "label: wrote %s (%zu row%s)\n", o.out, rows, rows == 1 ? "" : "s");
    status = finish(&j, &o, why, run_err);
done:
    label_job_free(&j);
    label_grader_free(&grader);
    srv_config_free(&c);
    free(models);
    return status;
}
