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

#define MAX_SPECS      64
#define SHOWN_WARNINGS 10

static void usage(FILE *f) {
    fprintf(f,
            "usage: routellm train {mf,sw_ranking,bert} --data SPEC [--data SPEC ...] --out FILE\n"
            "                      [options]\n"
            "\n"
            "Train a router from pairwise battles and write it as a router file.\n"
            "\n"
            "data (SPEC is FORMAT:PATH[,key=value...], see docs/TRAINING.md):\n"
            "  --data SPEC            arena55k:, arena:, judge:, alpaca_eval:, table: files\n"
            "  --strict               reject a file at its first malformed row (default: skip\n"
            "                         the row and report it)\n"
            "  --exclude SPEC         texts to keep out of training (e.g. evaluation prompts):\n"
            "                         PATH[,column=NAME]; training prompts with cosine >= the\n"
            "                         threshold to any of them are dropped\n"
            "  --exclude-threshold X  cosine threshold (default 0.95)\n"
            "  --dropped FILE         write the dropped prompts as JSONL\n"
            "\n"
            "training:\n"
            "  --out FILE             router file to write (.safetensors)\n"
            "  --prompts-out FILE     where to list the training prompts (gzipped JSONL; default\n"
            "                         beside --out: NAME.prompts.jsonl.gz); the router file names\n"
            "                         it, and `routellm eval` decontaminates against it\n"
            "  --strong M --weak M    default pair (default gpt-4-1106-preview and\n"
            "                         mixtral-8x7b-instruct-v0.1)\n"
            "  --alias NAME=MODEL     the router also knows NAME, with MODEL's parameters (a\n"
            "                         stand-in for a model the data does not cover)\n"
            "  --epochs N --seed S --lr X --batch N --weight-decay X --noise X --hidden N\n"
            "                         gradient training (mf, bert); mf defaults are the paper's:\n"
            "                         lr 3e-4, weight decay 1e-5, batch 64, noise 0.1, hidden 128\n"
            "  --holdout F            validation fraction (default 0.05)\n"
            "  --tiers N              sw_ranking and bert: number of tiers (default 10)\n"
            "  --int8                 sw_ranking: store prompt embeddings as int8, not fp16\n"
            "  --threads N            1 or 2 (default 2); the result does not depend on it\n"
            "  --model-dir DIR        encoder folder (default <home>/models/all-MiniLM-L6-v2)\n"
            "  --no-cache             do not use the embedding cache\n");
}

struct train_opts {
    const struct rl_router_kind *kind;
    const char *data[MAX_SPECS], *exclude[MAX_SPECS], *alias[MAX_SPECS];
    int n_data, n_exclude, n_alias;
    const char *out, *dropped, *model_dir, *prompts_out;
    double exclude_threshold;
    bool strict, no_cache;
    struct rl_train_params p;
};

static int parse_args(int argc, char **argv, struct train_opts *o) {
    if (argc < 2 || cli_is_help(argv[1])) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : -1;
    }
    o->kind = rl_router_kind_find(argv[1], NULL);
    if (!o->kind || !rl_router_kind_trainable(o->kind))
        return cli_fail("train: unknown router kind '%s' (mf, sw_ranking or bert)", argv[1]);
    o->p = rl_train_params_default(o->kind);
    o->exclude_threshold = 0.95;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (cli_is_help(a)) {
            usage(stdout);
            return -1;
        }
        if (strcmp(a, "--strict") == 0) {
            o->strict = true;
            continue;
        }
        if (strcmp(a, "--int8") == 0) {
            o->p.sw_int8 = 1;
            continue;
        }
        if (strcmp(a, "--no-cache") == 0) {
            o->no_cache = true;
            continue;
        }
        if (strncmp(a, "--", 2) != 0 || i + 1 >= argc) {
            usage(stderr);
            return cli_fail("train: unexpected argument '%s'", a);
        }
        const char *v = argv[++i];
        double x = 0;
        int rc = 0;
        if (strcmp(a, "--data") == 0) {
            if (o->n_data >= MAX_SPECS)
                return cli_fail("train: more than %d --data specs", MAX_SPECS);
            o->data[o->n_data++] = v;
        } else if (strcmp(a, "--exclude") == 0) {
            if (o->n_exclude >= MAX_SPECS)
                return cli_fail("train: more than %d --exclude specs", MAX_SPECS);
            o->exclude[o->n_exclude++] = v;
        } else if (strcmp(a, "--exclude-threshold") == 0) {
            rc = cli_parse_double(a, v, -1, 1, &o->exclude_threshold);
        } else if (strcmp(a, "--dropped") == 0) {
            o->dropped = v;
        } else if (strcmp(a, "--out") == 0) {
            o->out = v;
        } else if (strcmp(a, "--prompts-out") == 0) {
            o->prompts_out = v;
        } else if (strcmp(a, "--alias") == 0) {
            if (o->n_alias >= MAX_SPECS)
                return cli_fail("train: more than %d --alias options", MAX_SPECS);
            o->alias[o->n_alias++] = v;
        } else if (strcmp(a, "--strong") == 0) {
            o->p.strong = v;
        } else if (strcmp(a, "--weak") == 0) {
            o->p.weak = v;
        } else if (strcmp(a, "--model-dir") == 0) {
            o->model_dir = v;
        } else if (strcmp(a, "--epochs") == 0) {
            rc = cli_parse_double(a, v, 1, 100000, &x);
            o->p.epochs = (int)x;
        } else if (strcmp(a, "--seed") == 0) {
            rc = cli_parse_double(a, v, 0, 9007199254740992.0, &x);
            o->p.seed = (uint64_t)x;
        } else if (strcmp(a, "--lr") == 0) {
            rc = cli_parse_double(a, v, 1e-12, 10, &o->p.lr);
        } else if (strcmp(a, "--batch") == 0) {
            rc = cli_parse_double(a, v, 2, 1 << 20, &x);
            o->p.batch = (int)x;
        } else if (strcmp(a, "--weight-decay") == 0) {
            rc = cli_parse_double(a, v, 0, 10, &o->p.weight_decay);
        } else if (strcmp(a, "--noise") == 0) {
            rc = cli_parse_double(a, v, 0, 10, &o->p.noise);
        } else if (strcmp(a, "--hidden") == 0) {
            rc = cli_parse_double(a, v, 1, 4096, &x);
            o->p.hidden = (int)x;
        } else if (strcmp(a, "--holdout") == 0) {
            rc = cli_parse_double(a, v, 0, 0.49, &o->p.holdout);
        } else if (strcmp(a, "--tiers") == 0) {
            rc = cli_parse_double(a, v, 2, 16, &x);
            o->p.n_tiers = (int)x;
        } else if (strcmp(a, "--threads") == 0) {
            rc = cli_parse_double(a, v, 1, 2, &x);
            o->p.n_threads = (int)x;
        } else {
            usage(stderr);
            return cli_fail("train: unknown option '%s'", a);
        }
        if (rc)
            return rc;
    }
    o->p.aliases = o->alias;
    o->p.n_aliases = o->n_alias;
    if (o->n_data == 0)
        return cli_fail("train: give at least one --data SPEC");
    if (!o->out)
        return cli_fail("train: give --out FILE");
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
    struct rl_battles_read_opts ro = {.strict = o->strict, .warn = on_warning, .warn_ctx = &w};
    char err[RL_ERRBUF_SIZE];
    for (int i = 0; i < o->n_data; i++) {
        long n = rl_battles_read(b, o->data[i], &ro, err);
        if (n < 0)
            return cli_fail("%s", err);
        fprintf(stderr, "read %ld battles from %s\n", n, o->data[i]);
    }
    if (w.n > SHOWN_WARNINGS)
        fprintf(stderr, "routellm: warning: %ld malformed rows skipped in all\n", w.n);
    fprintf(stderr,
            "%zu battles, %zu distinct prompts, %u models (%zu battles with a prompt under %d "
            "characters and %zu of a model against itself dropped)\n",
            b->n, b->n_prompts, b->n_models, b->n_dropped_short, RL_BATTLE_MIN_PROMPT,
            b->n_dropped_self);
    if (b->n == 0)
        return cli_fail("train: no battles to train on");
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
                         const float *emb, int dim) {
    char **ex = NULL, err[RL_ERRBUF_SIZE];
    size_t n_ex = 0;
    for (int i = 0; i < o->n_exclude; i++) {
        char **t;
        long n = rl_texts_read(o->exclude[i], &t, err);
        if (n < 0) {
            rl_texts_free(ex, n_ex);
            return cli_fail("%s", err);
        }
        char **grown = realloc(ex, (n_ex + (size_t)n + 1) * sizeof *grown);
        if (!grown) {
            rl_texts_free(t, (size_t)n);
            rl_texts_free(ex, n_ex);
            return cli_fail("out of memory");
        }
        ex = grown;
        memcpy(ex + n_ex, t, (size_t)n * sizeof *t);
        n_ex += (size_t)n;
        free(t);
    }
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
    if (rl_max_similarity(emb, b->n_prompts, ex_emb, n_ex, dim, max, arg) != RL_OK) {
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
            "start of one: %ld): %zu battles removed\n",
            n_drop, b->n_prompts, o->exclude_threshold, n_ex, n_quoted, removed);
    if (o->dropped && write_dropped(o->dropped, b, drop, quoted, max, arg, ex))
        goto done;
    rc = 0;
done:
    free(ex_emb);
    free(max);
    free(arg);
    free(drop);
    free(quoted);
    rl_texts_free(ex, n_ex);
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
    for (int i = 0; a && i < o->n_data; i++)
        json_array_append_new(a, json_string(o->data[i]));
    char *s = a ? json_dumps(a, JSON_COMPACT) : NULL;
    json_decref(a);
    return s;
}

int cli_cmd_train(int argc, char **argv) {
    struct train_opts o;
    memset(&o, 0, sizeof o);
    int rc = parse_args(argc, argv, &o);
    if (rc)
        return rc < 0 ? 0 : rc;
    struct rl_battles *b = rl_battles_new();
    if (!b)
        return cli_fail("out of memory");
    struct cli_scorer sc;
    cli_scorer_init(&sc, o.model_dir, o.no_cache);
    float *emb = NULL;
    char *source = NULL, prompts_out[4096];
    rc = read_data(&o, b);
    if (rc)
        goto done;
    rc = cli_scorer_embed(&sc, (const char *const *)b->prompts, b->n_prompts, "training prompts",
                          &emb);
    if (rc)
        goto done;
    const char *enc_name = rl_encoder_name(sc.enc);
    int dim = rl_encoder_dim(sc.enc);
    if (o.n_exclude > 0) {
        rc = decontaminate(&o, &sc, b, emb, dim);
        if (rc)
            goto done;
    }
    source = source_text(&o);
    o.p.source = source;
    if (default_prompts_out(&o, prompts_out, sizeof prompts_out)) {
        rc = 1;
        goto done;
    }
    o.p.prompts_out = prompts_out;
    struct train_view view = {.sw = strcmp(rl_router_kind_name(o.kind), "sw_ranking") == 0};
    o.p.progress = on_progress;
    o.p.progress_ctx = &view;
    char err[RL_ERRBUF_SIZE];
    if (rl_train(o.kind, b, emb, enc_name, dim, &o.p, o.out, err) != RL_OK) {
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
        printf("wrote %s: %s router, %d models, default pair %s / %s\n", o.out, rl_router_name(r),
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
    cli_scorer_free(&sc);
    rl_battles_free(b);
    return rc;
}
