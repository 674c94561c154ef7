// rl_train: checks, the default pair, the validation split, dispatch to the kind's trainer and
// writing the router file with its provenance (hyper-parameters, metrics, data digest).
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "rl/features.h"
#include "routers/router_impl.h"
#include "train/train_impl.h"

struct rl_train_params rl_train_params_default(const struct rl_router_kind *kind) {
    struct rl_train_params p = {
        .seed = 0,
        .n_threads = 2,
        .holdout = 0.05,
        .epochs = 10,
        .batch = 64,
        .lr = 3e-4,
        .weight_decay = 1e-5,
        .noise = 0.1,
        .hidden = 128,
        .n_tiers = 10,
        .sw_int8 = 0,
    };
    if (kind && kind->train_defaults)
        kind->train_defaults(&p);
    return p;
}

// Held-out battles: a permutation of all battles from seed 42, the last fraction held out.
static bool *holdout_split(size_t n, double frac) {
    bool *held = calloc(n ? n : 1, sizeof *held);
    uint32_t *idx = malloc((n ? n : 1) * sizeof *idx);
    if (!held || !idx) {
        free(held);
        free(idx);
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        idx[i] = (uint32_t)i;
    struct rl_rng rng;
    rl__rng_seed(&rng, RL_TRAIN_SPLIT_SEED);
    rl__rng_shuffle(&rng, idx, n);
    size_t n_val = (size_t)floor(frac * (double)n);
    for (size_t i = n - n_val; i < n; i++)
        held[idx[i]] = true;
    free(idx);
    return held;
}

// ----------------------------------------------------------------------------
// Aliases: extra model names that copy another model's parameters

#define MAX_ALIASES 64

struct aliases {
    int n;
    char name[MAX_ALIASES][RL_MODEL_NAME_MAX]; // canonical alias names
    int model[MAX_ALIASES];                    // the model each one copies
};

static int parse_aliases(const struct rl_battles *b, const struct rl_train_params *p,
                         struct aliases *a, char *errbuf) {
    a->n = 0;
    if (p->n_aliases > MAX_ALIASES)
        return rl__errf(errbuf, RL_ETOOBIG, "more than %d aliases", MAX_ALIASES);
    for (size_t i = 0; i < p->n_aliases; i++) {
        const char *eq = strchr(p->aliases[i], '=');
        char name[RL_MODEL_NAME_MAX];
        if (!eq || (size_t)(eq - p->aliases[i]) >= sizeof name)
            return rl__errf(errbuf, RL_EINVAL, "alias '%s' is not NAME=MODEL", p->aliases[i]);
        memcpy(name, p->aliases[i], (size_t)(eq - p->aliases[i]));
        name[eq - p->aliases[i]] = '\0';
        if (rl_model_canon(name, a->name[a->n], RL_MODEL_NAME_MAX) != RL_OK)
            return rl__errf(errbuf, RL_EINVAL, "alias '%s': bad name", p->aliases[i]);
        a->model[a->n] = rl_battles_find_model(b, eq + 1);
        if (a->model[a->n] < 0)
            return rl__errf(errbuf, RL_EINVAL, "alias '%s': the data has no model '%s'",
                            p->aliases[i], eq + 1);
        if (rl_battles_find_model(b, a->name[a->n]) >= 0)
            return rl__errf(errbuf, RL_EINVAL, "alias '%s': '%s' is already a model of the data",
                            p->aliases[i], a->name[a->n]);
        for (int j = 0; j < a->n; j++)
            if (strcmp(a->name[j], a->name[a->n]) == 0)
                return rl__errf(errbuf, RL_EINVAL, "alias '%s' given twice", a->name[j]);
        a->n++;
    }
    return RL_OK;
}

// A default-pair name: a model of the data, or an alias (numbered after the models).
static int resolve_model(const struct rl_battles *b, const struct aliases *a, const char *name,
                         const char *role, char *errbuf) {
    int id = rl_battles_find_model(b, name);
    if (id >= 0)
        return id;
    char canon[RL_MODEL_NAME_MAX];
    if (rl_model_canon(name, canon, sizeof canon) == RL_OK)
        for (int i = 0; i < a->n; i++)
            if (strcmp(canon, a->name[i]) == 0)
                return (int)b->n_models + i;
    // The models the data has, as many as the message holds, so that the fix can be typed.
    char found[96] = "";
    size_t len = 0, shown = 0;
    for (; shown < b->n_models; shown++) {
        size_t n = strlen(b->models[shown]);
        if (len + n + 2 >= sizeof found - 16)
            break;
        len += (size_t)snprintf(found + len, sizeof found - len, "%s%s", shown ? ", " : "",
                                b->models[shown]);
    }
    if (shown < b->n_models)
        snprintf(found + len, sizeof found - len, "%s%zu more", shown ? " and " : "",
                 b->n_models - shown);
    return rl__errf(errbuf, RL_EINVAL,
                    "the training data has no battles of the %s model '%.32s' (it has %s); set "
                    "--strong/--weak or map it with --alias",
                    role, name, found);
}

// Append one row per alias to each per-model tensor of out (the kind's list, NULL-terminated),
// copied from the aliased model's row.
static int extend_per_model(struct rl_train_out *out, const char *const *per_model, int M,
                            const struct aliases *a) {
    for (size_t i = 0; i < out->n; i++) {
        struct rl_tensor *t = &out->t[i];
        bool listed = false;
        for (size_t k = 0; per_model && per_model[k]; k++)
            listed |= strcmp(t->name, per_model[k]) == 0;
        if (!listed)
            continue;
        RL_ASSERT(t->n_dims >= 1 && t->shape[0] == M);
        size_t row = t->nbytes / (size_t)M;
        unsigned char *grown = realloc(out->owned[i], t->nbytes + row * (size_t)a->n);
        if (!grown)
            return RL_ENOMEM;
        for (int k = 0; k < a->n; k++)
            memcpy(grown + t->nbytes + row * (size_t)k, grown + row * (size_t)a->model[k], row);
        out->owned[i] = grown;
        t->data = grown;
        t->nbytes += row * (size_t)a->n;
        t->shape[0] += a->n;
    }
    return RL_OK;
}

static char *aliases_json(const struct rl_battles *b, const struct aliases *a) {
    json_t *o = json_object();
    for (int i = 0; o && i < a->n; i++)
        json_object_set_new(o, a->name[i], json_string(b->models[a->model[i]]));
    char *s = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(o);
    return s;
}

// ----------------------------------------------------------------------------
// The training-prompt list

// Every prompt that has a battle in b (a cell, for kinds trained on cells; held-out ones included:
// they are training data too), in prompt order, written to path and referenced from the router
// file at out_path.
static int write_prompt_list(const struct rl_battles *b, bool cells, const char *path,
                             const char *out_path, char *ref, size_t ref_size, char sha[65],
                             size_t *n_listed, char *errbuf) {
    bool *used = calloc(b->n_prompts ? b->n_prompts : 1, sizeof *used);
    const char **texts = malloc((b->n_prompts ? b->n_prompts : 1) * sizeof *texts);
    if (!used || !texts) {
        free(used);
        free(texts);
        return rl__errf(errbuf, RL_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < b->n; i++)
        used[b->items[i].prompt] = true;
    for (size_t i = 0; cells && i < b->n_cells; i++)
        used[b->cells[i].prompt] = true;
    size_t n = 0;
    for (size_t i = 0; i < b->n_prompts; i++)
        if (used[i])
            texts[n++] = b->prompts[i];
    int rc = rl__train_prompts_write(path, texts, n, sha, errbuf);
    if (rc == RL_OK)
        rc = rl__train_prompts_ref(out_path, path, ref, ref_size, errbuf);
    *n_listed = n;
    free(used);
    free(texts);
    return rc;
}

// ----------------------------------------------------------------------------
// Prompt features

// The trainer's input with features: each prompt's embedding (dim floats, none when emb is NULL)
// followed by its RL_FEATURES_N features, standardised with the mean and standard deviation over
// b's prompts (a feature that does not vary keeps a deviation of 1). *x (n_prompts, dim + F) and
// the two (F) tensors of the router file go to the caller.
static int features_input(const struct rl_battles *b, const float *emb, int dim, float **x,
                          float **mean, float **std) {
    const int F = RL_FEATURES_N, W = dim + F;
    const size_t n = b->n_prompts;
    *x = malloc((n ? n : 1) * (size_t)W * sizeof **x);
    *mean = calloc(F, sizeof **mean);
    *std = calloc(F, sizeof **std);
    double *sum = calloc(2 * (size_t)F, sizeof *sum);
    if (!*x || !*mean || !*std || !sum) {
        free(sum);
        return RL_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        float *row = *x + i * (size_t)W;
        if (dim > 0)
            memcpy(row, emb + i * (size_t)dim, (size_t)dim * sizeof *row);
        rl_features(b->prompts[i], strlen(b->prompts[i]), row + dim);
        for (int k = 0; k < F; k++) {
            sum[k] += row[dim + k];
            sum[F + k] += (double)row[dim + k] * row[dim + k];
        }
    }
    for (int k = 0; k < F; k++) {
        double m = n ? sum[k] / (double)n : 0;
        double var = n ? sum[F + k] / (double)n - m * m : 0;
        (*mean)[k] = (float)m;
        (*std)[k] = var > 1e-12 ? (float)sqrt(var) : 1.0f;
    }
    for (size_t i = 0; i < n; i++) {
        float *f = *x + i * (size_t)W + dim;
        for (int k = 0; k < F; k++)
            f[k] = (f[k] - (*mean)[k]) / (*std)[k];
    }
    free(sum);
    return RL_OK;
}

// ----------------------------------------------------------------------------
// Training

int rl_train(const struct rl_router_kind *kind, const struct rl_battles *b, const float *prompt_emb,
             const char *encoder, size_t dim, const struct rl_train_params *p, const char *out_path,
             char *errbuf) {
    bool cells = kind && kind->cells;
    if ((cells ? b->n_cells : b->n) == 0 || b->n_models < 2)
        return rl__errf(errbuf, RL_EINVAL,
                        cells ? "no per-model scores to train on" : "no battles to train on");
    if (b->n > UINT32_MAX - 1)
        return rl__errf(errbuf, RL_ETOOBIG, "more than %u battles", UINT32_MAX - 1);
    bool no_emb = !prompt_emb && !encoder && dim == 0;
    if (p->features && kind && !kind->features)
        return rl__errf(errbuf, RL_EINVAL, "router kind '%s' does not read prompt features",
                        kind->name);
    if (no_emb ? (kind && kind->needs_encoder) || !p->features
               : (!encoder || dim == 0 || dim > RL_ROUTER_MAX_INPUT - RL_FEATURES_N || !prompt_emb))
        return rl__errf(errbuf, RL_EINVAL, "no prompt embeddings");
    const int D = (int)dim;
    if (!(p->holdout >= 0 && p->holdout < 0.5))
        return rl__errf(errbuf, RL_EINVAL, "holdout %g is not in [0, 0.5)", p->holdout);
    if (p->n_threads < 1)
        return rl__errf(errbuf, RL_EINVAL, "n_threads must be at least 1");
    struct aliases al;
    int rc = parse_aliases(b, p, &al, errbuf);
    if (rc != RL_OK)
        return rc;
    int strong =
        resolve_model(b, &al, p->strong ? p->strong : RL_MODEL_DEFAULT_STRONG, "strong", errbuf);
    if (strong < 0)
        return strong;
    int weak = resolve_model(b, &al, p->weak ? p->weak : RL_MODEL_DEFAULT_WEAK, "weak", errbuf);
    if (weak < 0)
        return weak;
    const int M = (int)b->n_models;
    if ((strong >= M ? al.model[strong - M] : strong) == (weak >= M ? al.model[weak - M] : weak))
        return rl__errf(errbuf, RL_EINVAL, "the strong and weak models are the same");
    bool *held = holdout_split(b->n, p->holdout);
    float *x = NULL, *feat_mean = NULL, *feat_std = NULL;
    if (held && p->features && features_input(b, prompt_emb, D, &x, &feat_mean, &feat_std) != RL_OK)
        held = (free(held), NULL);
    if (!held) {
        free(x);
        free(feat_mean);
        free(feat_std);
        return rl__errf(errbuf, RL_ENOMEM, "out of memory");
    }
    // The trainers see the pair as models of the data, and the features as part of the input.
    struct rl_train_ctx c = {b,
                             p->features ? x : prompt_emb,
                             p->features ? D + RL_FEATURES_N : D,
                             p,
                             strong >= M ? al.model[strong - M] : strong,
                             weak >= M ? al.model[weak - M] : weak,
                             held,
                             errbuf};
    struct rl_train_out out;
    memset(&out, 0, sizeof out);
    const char **names = NULL;
    char *alias_text = NULL;
    if (kind && kind->train)
        rc = kind->train(&c, &out);
    else
        rc = rl__errf(errbuf, RL_EINVAL, "router kind '%s' is not trained",
                      rl_router_kind_name(kind));
    free(x);
    if (rc == RL_OK && p->features) {
        const int64_t shape[1] = {RL_FEATURES_N};
        rc = rl__train_out_add(&out, "features.mean", RL_DTYPE_F32, 1, shape, feat_mean);
        feat_mean = NULL;
        if (rc == RL_OK)
            rc = rl__train_out_add(&out, "features.std", RL_DTYPE_F32, 1, shape, feat_std);
        feat_std = NULL;
        if (rc != RL_OK)
            rl__errf(errbuf, rc, "cannot add the feature tensors");
    }
    free(feat_mean);
    free(feat_std);
    if (rc == RL_OK && al.n > 0) {
        names = malloc(((size_t)M + (size_t)al.n) * sizeof *names);
        alias_text = aliases_json(b, &al);
        rc = names && alias_text ? extend_per_model(&out, kind->per_model, M, &al) : RL_ENOMEM;
        if (rc != RL_OK)
            rl__errf(errbuf, rc, "out of memory");
        for (int i = 0; names && i < M + al.n; i++)
            names[i] = i < M ? b->models[i] : al.name[i - M];
    }
    char digest[65] = "";
    if (rc == RL_OK) {
        rc = cells ? rl_battles_digest_cells(b, digest) : rl_battles_digest(b, digest);
        if (rc != RL_OK)
            rl__errf(errbuf, rc, "cannot hash the training data");
    }
    char list_sha[65] = "", list_ref[4096] = "";
    size_t n_listed = 0;
    if (rc == RL_OK && p->prompts_out)
        rc = write_prompt_list(b, cells, p->prompts_out, out_path, list_ref, sizeof list_ref,
                               list_sha, &n_listed, errbuf);
    if (rc == RL_OK) {
        struct rl_router_meta m = {
            .kind = kind,
            .encoder = encoder,
            .encoder_dim = D,
            .features = p->features,
            .models = names ? names : (const char *const *)b->models,
            .n_models = M + al.n,
            .strong = strong,
            .weak = weak,
            .hyper = out.hyper,
            .metrics = out.metrics,
            .digest = digest,
            .n_battles = cells ? b->n_cells : b->n,
            .source = p->source,
            .encoder_precision = p->encoder_precision,
            .aliases = alias_text,
            .train_prompts = p->prompts_out ? list_ref : NULL,
            .train_prompts_sha256 = list_sha,
            .n_train_prompts = n_listed,
        };
        rc = rl__router_write(out_path, &m, out.t, out.n, errbuf);
    }
    for (size_t i = 0; i < out.n; i++)
        free(out.owned[i]);
    free(names);
    free(alias_text);
    free(held);
    return rc;
}
