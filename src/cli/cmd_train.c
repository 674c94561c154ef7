// `routellm train`: read battle data (any number of --data specs), embed every distinct prompt
// once through the embedding cache, optionally drop prompts too close to evaluation prompts, then
// train a router of the chosen kind and write its file. Progress bars and a validation line per
// epoch go to stderr; the summary goes to stdout.
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "rl.h"
#include "rl/battle.h"
#include "rl/train.h"

#define SHOWN_WARNINGS 10

struct train_opts {
    const struct rl_router_kind *kind;
    struct cli_list data, exclude, alias;
    const char *out, *dropped, *model_dir, *lm, *prompts_out;
    int precision;
    double exclude_threshold;
    bool strict, no_cache, int8, features, no_embedding, score_tokens;
    struct rl_train_params p;
};

// The kind called `name` when it can be trained, else NULL.
static const struct rl_router_kind *trainable_kind(const char *name) {
    const struct rl_router_kind *k = rl_router_kind_find(name, NULL);
    return k && rl_router_kind_trainable(k) ? k : NULL;
}

// The kind comes first, so that its defaults are in place before the options change them.
// Returns 0, CLI_HELP or CLI_EXIT_USAGE.
static int parse_args(int argc, char **argv, struct train_opts *o) {
    const char *first = argc > 1 ? argv[1] : "";
    o->kind = trainable_kind(first);
    bool known = o->kind != NULL;
    if (!known)
        o->kind = trainable_kind("mf");
    o->p = rl_train_params_default(o->kind);
    o->exclude_threshold = RL_DECONTAM_COSINE;
    char kinds[512], args[512];
    snprintf(kinds, sizeof kinds, "%s", cli_kind_names(CLI_KINDS_TRAINABLE, ", "));
    snprintf(args, sizeof args, "{%s}", cli_kind_names(CLI_KINDS_TRAINABLE, ","));
    const struct cli_opt opts[] = {
        CLI_SECTION("data (SPEC is FORMAT:PATH[,key=value...], see docs/TRAINING.md):"),
        CLI_LIST("--data", &o->data, "SPEC", CLI_REQUIRED,
                 "arena55k:, arena:, judge:, alpaca_eval:, table: files (repeat for several)"),
        CLI_FLAG("--strict", &o->strict,
                 "reject a file at its first malformed row (default: skip the row and report "
                 "it)"),
        CLI_LIST("--exclude", &o->exclude, "SPEC", 0,
                 "texts to keep out of training (e.g. evaluation prompts): PATH[,column=NAME]; "
                 "training prompts with cosine >= the threshold to any of them are dropped"),
        CLI_NUM("--exclude-threshold", &o->exclude_threshold, -1, 1, "X", 0,
                "cosine threshold (default " RL_STRINGIFY(RL_DECONTAM_COSINE) ")"),
        CLI_STR("--dropped", &o->dropped, "FILE", 0, "write the dropped prompts as JSONL"),
        CLI_SECTION("training (mf and bert by gradient descent; mf's defaults are the paper's):"),
        CLI_STR("--out", &o->out, "FILE", CLI_REQUIRED, "router file to write (.safetensors)"),
        CLI_STR("--prompts-out", &o->prompts_out, "FILE", 0,
                "where to list the training prompts (gzipped JSONL; default beside --out: "
                "NAME.prompts.jsonl.gz); the router file names it, and `routellm eval` "
                "decontaminates against it"),
        CLI_STR("--strong", &o->p.strong, "M", 0,
                "default strong model (default " RL_MODEL_DEFAULT_STRONG ")"),
        CLI_STR("--weak", &o->p.weak, "M", 0,
                "default weak model (default " RL_MODEL_DEFAULT_WEAK ")"),
        CLI_LIST("--alias", &o->alias, "NAME=MODEL", 0,
                 "the router also knows NAME, with MODEL's parameters (a stand-in for a model "
                 "the data does not cover)"),
        CLI_INT("--epochs", &o->p.epochs, 1, 100000, "N", "passes over the data (mf 10, bert 20)"),
        CLI_U64("--seed", &o->p.seed, 0, 9007199254740992.0, "S",
                "seed of the initialisation, the noise and the batch order (default 0)"),
        CLI_NUM("--lr", &o->p.lr, 1e-12, 10, "X", 0, "learning rate (mf 3e-4, bert 1e-3)"),
        CLI_INT("--batch", &o->p.batch, 2, 1 << 20, "N", "battles per step (default 64)"),
        CLI_NUM("--weight-decay", &o->p.weight_decay, 0, 10, "X", 0,
                "AdamW weight decay (mf 1e-5, bert 1e-4)"),
        CLI_NUM("--noise", &o->p.noise, 0, 10, "X", 0,
                "std of the noise added to the prompt embeddings (mf 0.1, bert 0)"),
        CLI_INT("--hidden", &o->p.hidden, 1, 4096, "N",
                "mf: model-embedding width (128); bert: hidden units of the head (256)"),
        CLI_NUM("--holdout", &o->p.holdout, 0, 0.49, "F", 0, "validation fraction (default 0.05)"),
        CLI_INT("--tiers", &o->p.n_tiers, 2, RL_TRAIN_MAX_TIERS, "N",
                "sw_ranking and bert: number of tiers (default 10)"),
        CLI_FLAG("--int8", &o->int8, "sw_ranking: store prompt embeddings as int8, not fp16"),
        CLI_FLAG("--features", &o->features,
                 "mf, bert, irt: read the prompt features (length, digits, code, ...) beside "
                 "the embedding"),
        CLI_FLAG("--no-embedding", &o->no_embedding,
                 "irt: read the prompt features alone, so that the router needs no encoder "
                 "(prompts are still embedded for --exclude)"),
        CLI_INT("--threads", &o->p.n_threads, 1, 2, "N",
                "1 or 2 (default 2); the result does not depend on it"),
        CLI_MODEL_DIR(&o->model_dir),
        CLI_STR("--lm", &o->lm, "DIR", 0,
                "causal_llm: the causal LM whose hidden states the router reads, a folder or a "
                "GGUF file (default <home>/" CLI_DEFAULT_LM_DIR "); --model-dir's encoder still "
                "decontaminates"),
        CLI_FLAG("--score-tokens", &o->score_tokens,
                 "causal_llm: read the LM's next-token distribution over the scores \"1\" ... "
                 "\"5\" (the paper's variant), not its whole hidden state"),
        CLI_PRECISION(&o->precision),
        CLI_FLAG("--no-cache", &o->no_cache, "do not use the embedding cache"),
    };
    const struct cli_spec spec = {
        .name = "train",
        .args = args,
        .min_args = 1,
        .max_args = 1,
        .args_first = true,
        .about = "Train a router from pairwise battles and write it as a router file.",
        CLI_OPTS(opts),
    };
    int rc = cli_parse(&spec, argc, argv, NULL);
    if (rc)
        return rc;
    if (!known && argv[1] != first && trainable_kind(argv[1]))
        return cli_usage(&spec, "give the router kind first: routellm train %s ...", argv[1]);
    if (!known)
        return cli_usage(&spec, "unknown router kind '%s' (%s)", argv[1], kinds);
    o->p.sw_int8 = o->int8;
    o->p.features = o->features;
    o->p.aliases = (const char *const *)o->alias.value;
    o->p.n_aliases = (size_t)o->alias.n;
    return 0;
}

// ----------------------------------------------------------------------------
// Reading

struct warn_state {
    long n;
};

static void on_warning(void *ctx, const char *msg) {
    struct warn_state *w = ctx;
    if (w->n < SHOWN_WARNINGS)
        fprintf(stderr, "routellm: warning: skipped %s\n", msg);
    w->n++;
}

static int read_data(const struct train_opts *o, struct rl_battles *b) {
    struct warn_state w = {0};
    struct rl_battles_read_opts ro = {.strict = o->strict,
                                      .warn = on_warning,
                                      .warn_ctx = &w,
                                      .cells = rl_router_kind_learns_cells(o->kind)};
    char err[RL_ERRBUF_SIZE];
    for (int i = 0; i < o->data.n; i++) {
        long n = rl_battles_read(b, o->data.value[i], &ro, err);
        if (n < 0)
            return cli_fail("%s", err);
        fprintf(stderr, "read %ld battles from %s\n", n, o->data.value[i]);
    }
    if (w.n > SHOWN_WARNINGS)
        fprintf(stderr, "routellm: warning: %ld malformed rows skipped in all\n", w.n);
    if (ro.cells)
        fprintf(stderr,
                "%zu scores, %zu distinct prompts, %zu models (%zu with a prompt under %d "
                "characters dropped)\n",
                b->n_cells, b->n_prompts, b->n_models, b->n_dropped_short, RL_BATTLE_MIN_PROMPT);
    else
        fprintf(stderr,
                "%zu battles, %zu distinct prompts, %zu models (%zu battles with a prompt under %d "
                "characters and %zu of a model against itself dropped)\n",
                b->n, b->n_prompts, b->n_models, b->n_dropped_short, RL_BATTLE_MIN_PROMPT,
                b->n_dropped_self);
    if (ro.cells ? b->n_cells == 0 : b->n == 0)
        return cli_fail("train: no %s to train on", ro.cells ? "per-model scores" : "battles");
    return 0;
}

// ----------------------------------------------------------------------------
// Decontamination

// One JSON line per dropped prompt: the nearest excluded text by cosine, the cosine, and
// whether an excluded text quotes the prompt at its start.
static int write_dropped(const char *path, const struct rl_battles *b, const bool *drop,
                         const bool *quoted, const float *max, const size_t *arg, char **ex) {
    FILE *f = fopen(path, "w");
    if (!f)
        return cli_fail("%s: cannot create: %s", path, strerror(errno));
    for (size_t i = 0; i < b->n_prompts; i++) {
        if (!drop[i])
            continue;
        json_t *o =
            json_pack("{s:s, s:s, s:f, s:b}", "prompt", b->prompts[i], "nearest", ex[arg[i]],
                      "cosine", round((double)max[i] * 1e4) / 1e4, "quoted", quoted[i]);
        char *line = o ? json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
        if (line)
            fprintf(f, "%s\n", line);
        free(line);
        json_decref(o);
    }
    if (fclose(f) != 0)
        return cli_fail("%s: cannot write: %s", path, strerror(errno));
    return 0;
}

static int decontaminate(const struct train_opts *o, struct cli_scorer *sc, struct rl_battles *b,
                         const float *emb, size_t dim) {
    char err[RL_ERRBUF_SIZE];
    struct rl_texts exl = {0};
    for (int i = 0; i < o->exclude.n; i++) {
        struct rl_texts t;
        if (rl_texts_load_spec(o->exclude.value[i], NULL, &t, err) != RL_OK) {
            rl_texts_free(&exl);
            return cli_fail("%s", err);
        }
        int rc = rl_texts_append(&exl, &t);
        rl_texts_free(&t);
        if (rc != RL_OK) {
            rl_texts_free(&exl);
            return cli_fail("out of memory");
        }
    }
    char **ex = exl.items;
    size_t n_ex = exl.n;
    float *ex_emb = NULL, *max = malloc(b->n_prompts * sizeof *max);
    size_t *arg = malloc(b->n_prompts * sizeof *arg);
    bool *drop = calloc(b->n_prompts, sizeof *drop), *quoted = calloc(b->n_prompts, sizeof *quoted);
    int rc = 1;
    if (!max || !arg || !drop || !quoted) {
        cli_fail("out of memory");
        goto done;
    }
    if (cli_scorer_embed(sc, (const char *const *)ex, n_ex, "excluded texts", &ex_emb))
        goto done;
    if (rl__max_cosine(emb, b->n_prompts, ex_emb, n_ex, dim, max, arg) != RL_OK) {
        cli_fail("out of memory");
        goto done;
    }
    long n_quoted =
        rl_texts_prefix_match((const char *const *)b->prompts, b->n_prompts,
                              (const char *const *)ex, n_ex, RL_TEXTS_MIN_QUOTED, quoted);
    if (n_quoted < 0) {
        cli_fail("out of memory");
        goto done;
    }
    size_t n_drop = 0;
    for (size_t i = 0; i < b->n_prompts; i++) {
        drop[i] = quoted[i] || (n_ex > 0 && max[i] >= (float)o->exclude_threshold);
        n_drop += drop[i];
    }
    size_t removed = rl_battles_drop_prompts(b, drop);
    fprintf(stderr,
            "excluded %zu of %zu prompts (cosine >= %.2f to one of %zu texts, or quoted at the "
            "start of one: %ld): %zu battles%s removed\n",
            n_drop, b->n_prompts, o->exclude_threshold, n_ex, n_quoted, removed,
            b->n_cells ? " and their scores" : "");
    if (o->dropped && write_dropped(o->dropped, b, drop, quoted, max, arg, ex))
        goto done;
    rc = 0;
done:
    free(ex_emb);
    free(max);
    free(arg);
    free(drop);
    free(quoted);
    rl_texts_free(&exl);
    return rc;
}

// ----------------------------------------------------------------------------
// Training

struct train_view {
    struct cli_progress bar;
    int epoch;
    char label[64];
    bool sw;
};

static void on_progress(void *ctx, const struct rl_train_progress *p) {
    struct train_view *v = ctx;
    if (p->epoch != v->epoch) {
        v->epoch = p->epoch;
        if (v->sw)
            snprintf(v->label, sizeof v->label, "validating");
        else
            snprintf(v->label, sizeof v->label, "epoch %d/%d", p->epoch, p->n_epochs);
        cli_progress_start(&v->bar, v->label, p->n_steps);
    }
    if (!p->epoch_done) {
        cli_progress_add(&v->bar, p->step - v->bar.done);
        return;
    }
    cli_progress_finish(&v->bar);
    if (v->sw)
        fprintf(stderr, "validation: loss %.4f, accuracy %.4f\n", p->val_loss, p->val_acc);
    else
        fprintf(stderr, "epoch %d/%d: train loss %.4f, validation loss %.4f, accuracy %.4f\n",
                p->epoch, p->n_epochs, p->train_loss, p->val_loss, p->val_acc);
}

// The training-prompt list goes beside the router file unless --prompts-out names it:
// "dir/name.safetensors" lists its prompts in "dir/name.prompts.jsonl.gz".
static int default_prompts_out(const struct train_opts *o, char *out, size_t out_size) {
    const char *given = o->prompts_out;
    size_t n = strlen(o->out);
    const char *ext = ".safetensors";
    if (!given && n > strlen(ext) && strcmp(o->out + n - strlen(ext), ext) == 0)
        n -= strlen(ext);
    int k = given ? snprintf(out, out_size, "%s", given)
                  : snprintf(out, out_size, "%.*s.prompts.jsonl.gz", (int)n, o->out);
    if (k < 0 || (size_t)k >= out_size)
        return cli_fail("train: --out path too long");
    return 0;
}

static char *source_text(const struct train_opts *o) {
    json_t *a = json_array();
    for (int i = 0; a && i < o->data.n; i++)
        json_array_append_new(a, json_string(o->data.value[i]));
    char *s = a ? json_dumps(a, JSON_COMPACT) : NULL;
    json_decref(a);
    return s;
}

int cli_cmd_train(int argc, char **argv) {
    struct train_opts o;
    memset(&o, 0, sizeof o);
    int rc = parse_args(argc, argv, &o);
    if (rc)
        return rc == CLI_HELP ? 0 : rc;
    struct rl_battles *b = rl_battles_new();
    if (!b)
        return cli_fail("out of memory");
    struct cli_scorer sc;
    cli_scorer_init(&sc, o.model_dir, o.no_cache);
    sc.precision = o.precision;
    float *emb = NULL, *lm_emb = NULL, *score_rows = NULL;
    char *source = NULL, prompts_out[4096], lm_dir[4096];
    rc = read_data(&o, b);
    if (rc)
        goto done;
    // A causal_llm router reads its LM's hidden states; the sentence encoder still finds the
    // near-duplicates of --exclude (an LM's hidden states are too alike for a cosine threshold).
    bool reads_lm = strcmp(rl_router_kind_name(o.kind), "causal_llm") == 0;
    if (o.score_tokens && !reads_lm) {
        rc = cli_fail("train: --score-tokens is for causal_llm");
        goto done;
    }
    if (reads_lm && !o.lm) {
        if (rl_path_join(lm_dir, sizeof lm_dir, cli_home(), CLI_DEFAULT_LM_DIR) != RL_OK) {
            rc = cli_fail("train: home path too long");
            goto done;
        }
        o.lm = lm_dir;
    }
    if (!reads_lm || o.exclude.n > 0)
        rc = cli_scorer_embed(&sc, (const char *const *)b->prompts, b->n_prompts,
                              "training prompts", &emb);
    if (rc == 0 && o.exclude.n > 0)
        rc = decontaminate(&o, &sc, b, emb, rl_encoder_dim(sc.enc));
    struct rl_encoder *input = sc.enc;
    if (rc == 0 && reads_lm)
        rc = cli_scorer_embed_with(&sc, o.lm, -1, (const char *const *)b->prompts, b->n_prompts,
                                   "training prompts with the LM", &lm_emb, &input);
    char err[RL_ERRBUF_SIZE];
    if (rc == 0 && o.score_tokens) {
        score_rows = malloc(RL_ENCODER_SCORE_TOKENS * rl_encoder_dim(input) * sizeof *score_rows);
        if (!score_rows)
            rc = cli_fail("out of memory");
        else if (rl_encoder_score_rows(input, score_rows, err) != RL_OK)
            rc = cli_fail("train: %s", err);
        o.p.score_rows = score_rows;
    }
    if (rc)
        goto done;
    const char *enc_name = rl_encoder_name(input);
    size_t dim = rl_encoder_dim(input);
    source = source_text(&o);
    o.p.source = source;
    if (default_prompts_out(&o, prompts_out, sizeof prompts_out)) {
        rc = 1;
        goto done;
    }
    o.p.prompts_out = prompts_out;
    o.p.encoder_precision = rl_precision_name((enum rl_precision)o.precision);
    struct train_view view = {.sw = strcmp(rl_router_kind_name(o.kind), "sw_ranking") == 0};
    o.p.progress = on_progress;
    o.p.progress_ctx = &view;
    if (o.no_embedding) {
        enc_name = NULL;
        dim = 0;
    }
    if (rl_train(o.kind, b,
                 o.no_embedding ? NULL
                 : reads_lm     ? lm_emb
                                : emb,
                 enc_name, dim, &o.p, o.out, err) != RL_OK) {
        rc = cli_fail("train: %s", err);
        goto done;
    }
    struct rl_router *r = rl_router_load(o.out, NULL, err);
    if (!r) {
        rc = cli_fail("train: the written file does not load: %s", err);
        goto done;
    }
    struct rl_router_pair dp;
    if (rl_router_default_pair(r, &dp) == RL_OK)
        printf("wrote %s: %s router, %zu models, default pair %s / %s\n", o.out, rl_router_name(r),
               rl_router_n_models(r), rl_router_model(r, dp.strong), rl_router_model(r, dp.weak));
    printf("hyper-parameters: %s\nmetrics: %s\n", rl_router_meta(r, "hyper"),
           rl_router_meta(r, "metrics"));
    if (rl_router_meta(r, "aliases"))
        printf("aliases: %s\n", rl_router_meta(r, "aliases"));
    printf("training prompts: %s in %s\n", rl_router_meta(r, "n_train_prompts"), o.p.prompts_out);
    rl_router_free(r);
done:
    free(source);
    free(emb);
    free(lm_emb);
    free(score_rows);
    cli_scorer_free(&sc);
    rl_battles_free(b);
    return rc;
}
