// Loading what the scoring subcommands need (the encoder, a router and its pair) and scoring
// prompts with them: embeddings through the embedding cache, scores through the score cache, with
// progress bars on stderr. Shared by `eval`, `calibrate`, `route` and `train`; the arithmetic is
// the library's (rl_eval_score), this file only loads, caches and reports.
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "rl.h"
#include "rl/embcache.h"
#include "rl/eval.h"

// ----------------------------------------------------------------------------
// Loading

const char *const cli_precision_names[] = {
    [RL_PRECISION_FP32] = "fp32", [RL_PRECISION_INT8] = "int8", NULL};

struct rl_encoder *cli_encoder_open(const char *model_dir, int precision) {
    char dir[4096], err[RL_ERRBUF_SIZE];
    if (!model_dir) {
        if (cli_default_model_dir(dir, sizeof dir) != RL_OK) {
            cli_fail("model folder path too long");
            return NULL;
        }
        model_dir = dir;
    }
    struct rl_encoder *enc =
        rl_encoder_open_precision(model_dir, (enum rl_precision)precision, err);
    if (!enc)
        cli_fail("%s", err);
    return enc;
}

int cli_router_load(const char *spec, const char *strong, const char *weak, struct rl_router **r,
                    struct rl_router_pair *pair) {
    char err[RL_ERRBUF_SIZE];
    *r = rl_router_load(spec, cli_home(), err);
    if (!*r)
        return cli_fail("%s", err);
    if (rl_router_pair(*r, strong, weak, pair, err) != RL_OK) {
        rl_router_free(*r);
        *r = NULL;
        return cli_fail("%s", err);
    }
    return 0;
}

bool cli_eval_cache_path(const char *file, char *dir, char *path, size_t size) {
    return cli_cache_dir("eval", dir, size) == RL_OK &&
           rl_path_join(path, size, dir, file) == RL_OK;
}

// ----------------------------------------------------------------------------
// Embedding

static void on_progress(void *ctx, size_t done, size_t total) {
    struct cli_progress *p = ctx;
    (void)total;
    if (done > p->done)
        cli_progress_add(p, done - p->done);
}

void cli_scorer_init(struct cli_scorer *s, const char *model_dir, bool no_cache) {
    memset(s, 0, sizeof *s);
    s->model_dir = model_dir;
    s->no_cache = no_cache;
}

void cli_scorer_free(struct cli_scorer *s) {
    for (int i = 0; i < s->n_slots; i++) {
        rl_embcache_free(s->slot[i].cache);
        rl_encoder_free(s->slot[i].enc);
        free(s->slot[i].model_dir);
    }
    memset(s, 0, sizeof *s);
}

// The slot of the encoder in model_dir (NULL: the main one) at a precision, opened on first
// need; NULL after printing why.
static struct cli_encoder_slot *scorer_slot(struct cli_scorer *s, const char *model_dir,
                                            int precision) {
    for (int i = 0; i < s->n_slots; i++) {
        const char *d = s->slot[i].model_dir;
        if ((d == model_dir || (d && model_dir && strcmp(d, model_dir) == 0)) &&
            s->slot[i].precision == precision)
            return &s->slot[i];
    }
    if (s->n_slots == CLI_MAX_ENCODERS) {
        cli_fail("more than %d encoders in one run", CLI_MAX_ENCODERS);
        return NULL;
    }
    struct cli_encoder_slot *slot = &s->slot[s->n_slots];
    *slot = (struct cli_encoder_slot){.precision = precision};
    if (model_dir && !(slot->model_dir = strdup(model_dir))) {
        cli_fail("out of memory");
        return NULL;
    }
    slot->enc = cli_encoder_open(model_dir ? model_dir : s->model_dir, precision);
    if (!slot->enc) {
        free(slot->model_dir);
        return NULL;
    }
    s->n_slots++;
    if (!model_dir && precision == s->precision)
        s->enc = slot->enc;
    // The embedding cache is an optimisation: without one, prompts are embedded directly. Other
    // precisions than fp32 give other vectors and keep their own folder, <name>@<precision>.
    char root[4096], name[512], err[RL_ERRBUF_SIZE];
    if (precision == RL_PRECISION_FP32)
        snprintf(name, sizeof name, "%s", rl_encoder_name(slot->enc));
    else
        snprintf(name, sizeof name, "%s@%s", rl_encoder_name(slot->enc),
                 rl_precision_name((enum rl_precision)precision));
    if (!s->no_cache && cli_cache_dir("embeddings", root, sizeof root) == RL_OK)
        slot->cache = rl_embcache_open(root, name, rl_encoder_dim(slot->enc), err);
    return slot;
}

// The folder of the encoder called name: the main one when its folder has that name (NULL),
// else <home>/models/<name> in path.
static const char *encoder_dir_for(const struct cli_scorer *s, const char *name, char *path,
                                   size_t size) {
    char main_dir[4096];
    const char *dir = s->model_dir;
    if (!dir && cli_default_model_dir(main_dir, sizeof main_dir) == RL_OK)
        dir = main_dir;
    char copy[4096], gguf[600];
    snprintf(gguf, sizeof gguf, "%s.gguf", name);
    // The main folder, or its GGUF file named without .gguf.
    if (dir && snprintf(copy, sizeof copy, "%s", dir) < (int)sizeof copy) {
        const char *base = basename(copy);
        if (strcmp(base, name) == 0 || strcmp(base, gguf) == 0)
            return NULL;
    }
    char rel[600];
    snprintf(rel, sizeof rel, "models/%s", name);
    if (rl_path_join(path, size, cli_home(), rel) != RL_OK)
        return NULL;
    return path;
}

static int embed_slot(struct cli_encoder_slot *slot, const char *const *prompts, size_t n,
                      const char *what, float **emb) {
    *emb = NULL;
    size_t dim = rl_encoder_dim(slot->enc);
    float *e = malloc((n ? n : 1) * dim * sizeof *e);
    if (!e)
        return cli_fail("out of memory for %zu embeddings", n);
    char err[RL_ERRBUF_SIZE], label[128];
    snprintf(label, sizeof label, "embedding %s", what);
    struct cli_progress p;
    cli_progress_start(&p, label, n);
    int rc;
    if (slot->cache) {
        long got = rl_embcache_get(slot->cache, slot->enc, prompts, n, e, on_progress, &p, err);
        rc = got < 0 ? (int)got : RL_OK;
    } else {
        rc = RL_OK;
        for (size_t i = 0; i < n && rc == RL_OK; i += 32) {
            size_t k = n - i < 32 ? n - i : 32;
            rc = rl_encoder_embed(slot->enc, prompts + i, k, e + i * dim, err);
            cli_progress_add(&p, k);
        }
    }
    // The cache reports only the prompts it had to embed; the bar ends full either way.
    if (rc == RL_OK && p.done < n)
        cli_progress_add(&p, n - p.done);
    cli_progress_finish(&p);
    if (rc != RL_OK) {
        free(e);
        return cli_fail("embedding %s: %s", what, err);
    }
    *emb = e;
    return 0;
}

int cli_scorer_embed_with(struct cli_scorer *s, const char *model_dir, int precision,
                          const char *const *prompts, size_t n, const char *what, float **emb,
                          struct rl_encoder **enc) {
    *emb = NULL;
    struct cli_encoder_slot *slot =
        scorer_slot(s, model_dir, precision < 0 ? s->precision : precision);
    if (!slot)
        return 1;
    if (enc)
        *enc = slot->enc;
    return embed_slot(slot, prompts, n, what, emb);
}

int cli_scorer_embed(struct cli_scorer *s, const char *const *prompts, size_t n, const char *what,
                     float **emb) {
    return cli_scorer_embed_with(s, NULL, -1, prompts, n, what, emb, NULL);
}

// The precision router r's file records (checked when it loaded), else the scorer's.
static int router_precision(const struct cli_scorer *s, const struct rl_router *r) {
    enum rl_precision p;
    const char *rec = rl_router_meta(r, "encoder_precision");
    return rec && rl_precision_parse(rec, &p) == RL_OK ? (int)p : s->precision;
}

int cli_scorer_embed_for(struct cli_scorer *s, const struct rl_router *r,
                         const char *const *prompts, size_t n, const char *what, float **emb) {
    *emb = NULL;
    const char *name = rl_router_encoder_name(r);
    if (!name || rl_router_encoder_dim(r) <= 0)
        return 0;
    char path[4096], err[RL_ERRBUF_SIZE];
    int precision = router_precision(s, r);
    struct cli_encoder_slot *slot = NULL;
    for (int i = 0; i < s->n_slots && !slot; i++)
        if (strcmp(rl_encoder_name(s->slot[i].enc), name) == 0 && s->slot[i].precision == precision)
            slot = &s->slot[i];
    if (!slot)
        slot = scorer_slot(s, encoder_dir_for(s, name, path, sizeof path), precision);
    if (!slot)
        return 1;
    if (rl_router_check_encoder(r, slot->enc, err) != RL_OK)
        return cli_fail("%s", err);
    return embed_slot(slot, prompts, n, what, emb);
}

// ----------------------------------------------------------------------------
// Scoring

// A router file's bytes identify its scores; a kind name is resolved the way rl_router_load
// resolves it.
static int router_digest(const char *spec, uint64_t *h) {
    char path[4096];
    const char *file = spec;
    const struct rl_router_kind *k = rl_router_kind_find(spec, NULL);
    if (k) {
        if (rl_router_kind_file(k, cli_home(), path, sizeof path) != RL_OK)
            return cli_fail("%s: no router file ships for this kind", spec);
        file = path;
    }
    struct rl_mmap m = {0};
    char err[RL_ERRBUF_SIZE];
    if (rl_mmap_open(&m, file, err) != RL_OK)
        return cli_fail("%s", err);
    *h = rl__fnv1a(m.data, m.len, *h);
    rl_mmap_free(&m);
    return 0;
}

int cli_scorer_score(struct cli_scorer *s, const struct rl_router *r, const char *spec,
                     const char *label, const struct rl_router_pair *pair,
                     const char *const *prompts, size_t n, const char *what, double *scores) {
    char err[RL_ERRBUF_SIZE];
    // Built-in routers (random, length) have no file and cost nothing to rerun: never cached.
    if (rl_router_kind_builtin(rl_router_kind(r))) {
        if (rl_eval_score(r, pair, NULL, NULL, prompts, n, scores, NULL, NULL, err) != RL_OK)
            return cli_fail("%s", err);
        return 0;
    }
    uint64_t key = RL_FNV1A_INIT;
    if (router_digest(spec, &key))
        return 1;
    struct rl_router_pair p = *pair;
    key = rl__fnv1a(&p, sizeof p, key);
    const char *enc_name = rl_router_encoder_name(r);
    if (enc_name)
        key = rl__fnv1a(enc_name, strlen(enc_name), key);
    // fp32 keys stay those of the caches written before there was a choice.
    if (enc_name && router_precision(s, r) != RL_PRECISION_FP32) {
        const char *prec = rl_precision_name((enum rl_precision)router_precision(s, r));
        key = rl__fnv1a(prec, strlen(prec), key);
    }
    key = rl__fnv1a_strings(prompts, n, key);

    char dir[4096], file[256], path[4096], sl_what[64], sl_label[64];
    cli_slug(what, sl_what, sizeof sl_what);
    cli_slug(label, sl_label, sizeof sl_label);
    snprintf(file, sizeof file, "%s-%s-%016llx.scores", sl_what, sl_label, (unsigned long long)key);
    bool cache = !s->no_cache && cli_eval_cache_path(file, dir, path, sizeof path);
    if (cache && rl_eval_cache_read(path, key, scores, n) == RL_OK)
        return 0;

    float *emb = NULL;
    if (cli_scorer_embed_for(s, r, prompts, n, what, &emb))
        return 1;
    char plabel[128];
    snprintf(plabel, sizeof plabel, "scoring %s with %s", what, label);
    struct cli_progress prog;
    cli_progress_start(&prog, plabel, n);
    int rc = rl_eval_score(r, pair, NULL, emb, prompts, n, scores, on_progress, &prog, err);
    cli_progress_finish(&prog);
    free(emb);
    if (rc != RL_OK)
        return cli_fail("%s", err);
    // A cache that cannot be written only costs time on the next run.
    if (cache && rl__mkdirs(dir) == RL_OK && rl_eval_cache_write(path, key, scores, n, NULL))
        fprintf(stderr, "routellm: note: could not write the score cache %s\n", path);
    return 0;
}

// ----------------------------------------------------------------------------
// Candidates among many models

const char *const cli_policy_names[] = {
    [RL_POLICY_CHEAPEST] = "cheapest", [RL_POLICY_UTILITY] = "utility", NULL};

int cli_price_parse(const char *cmd, const char *spec, char *name, size_t size, double *in,
                    double *out) {
    const char *eq = strchr(spec, '=');
    char *end;
    bool ok = eq && eq > spec && (size_t)(eq - spec) < size;
    if (ok) {
        *in = strtod(eq + 1, &end);
        ok = end > eq + 1 && *end == ',';
        if (ok) {
            const char *at = end + 1;
            *out = strtod(at, &end);
            ok = end > at && *end == '\0' && *in >= 0 && *out >= 0 && *in <= 1e6 && *out <= 1e6;
        }
    }
    if (!ok)
        return cli_fail("%s: --price %s: expected MODEL=IN,OUT (USD per million prompt and "
                        "completion tokens, each in [0, 1e6])",
                        cmd, spec);
    snprintf(name, size, "%.*s", (int)(eq - spec), spec);
    return 0;
}

// The price of each candidate from prices (MODEL=IN,OUT; names as the router resolves them).
static int candidate_prices(const struct rl_router *r, const char *cmd,
                            const struct cli_list *prices, struct cli_candidates *c) {
    char err[RL_ERRBUF_SIZE];
    bool seen[CLI_MAX_CANDIDATES] = {false};
    for (int k = 0; k < prices->n; k++) {
        char name[256];
        double in, out;
        if (cli_price_parse(cmd, prices->value[k], name, sizeof name, &in, &out))
            return 1;
        int at = rl_router_model_index(r, name, err);
        if (at < 0)
            return cli_fail("%s: --price: %s", cmd, err);
        int i = 0;
        while (i < c->n && c->idx[i] != at)
            i++;
        if (i == c->n)
            return cli_fail("%s: --price names %s, which is not among --models", cmd, name);
        c->price[i][0] = in;
        c->price[i][1] = out;
        seen[i] = true;
    }
    for (int i = 0; i < c->n; i++)
        if (!seen[i])
            return cli_fail("%s: no --price for %s: a policy compares the candidates' costs", cmd,
                            rl_router_model(r, c->idx[i]));
    return 0;
}

int cli_candidates_read(const struct rl_router *r, const char *cmd, const char *models,
                        const struct cli_list *prices, const char *reference,
                        struct cli_candidates *c) {
    char err[RL_ERRBUF_SIZE];
    if (!rl_router_kind_ranks_models(rl_router_kind(r)))
        return cli_fail("%s: a %s router scores one pair and cannot rank models; --models needs "
                        "mf, sw_ranking or irt",
                        cmd, rl_router_name(r));
    char *list = strdup(models), *cursor = list, *name;
    if (!list)
        return cli_fail("out of memory");
    c->n = 0;
    int rc = 0;
    while (rc == 0 && (name = cli_list_next(&cursor)) != NULL) {
        if (!*name || c->n == CLI_MAX_CANDIDATES) {
            rc = cli_fail("%s: --models: %s", cmd, *name ? "more than 64 models" : "an empty name");
            break;
        }
        c->idx[c->n] = rl_router_model_index(r, name, err);
        if (c->idx[c->n++] < 0)
            rc = cli_fail("%s: --models: %s", cmd, err);
    }
    free(list);
    if (rc)
        return rc;
    struct rl_router_pair def;
    (void)rl_router_default_pair(r, &def);
    c->ref = reference ? rl_router_model_index(r, reference, err) : def.weak;
    if (c->n == 0 || c->ref < 0)
        return cli_fail("%s: %s", cmd, c->n == 0 ? "--models names no model" : err);
    return candidate_prices(r, cmd, prices, c);
}
