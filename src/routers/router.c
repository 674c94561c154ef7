// The router object shared by every kind: construction, model lists, pair resolution, the
// router's input (embedding and prompt features), dispatch of the score and the routing decision.
// The kind-specific arithmetic lives in random.c, mf.c, swr.c and bert.c; the table of kinds in
// registry.c; reading router files in file.c.
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/core.h"
#include "core/safetensors.h"
#include "rl/battle.h"
#include "routers/router_impl.h"

// ----------------------------------------------------------------------------
// Construction

struct rl_router *rl__router_new(const struct rl_router_kind *kind, const char *const *models,
                                 int n_models) {
    struct rl_router *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->kind = kind;
    if (n_models > 0) {
        r->model_names = calloc((size_t)n_models, sizeof *r->model_names);
        if (!r->model_names)
            goto fail;
        for (int i = 0; i < n_models; i++) {
            r->model_names[i] = strdup(models[i]);
            if (!r->model_names[i])
                goto fail;
            r->n_models = i + 1;
        }
    }
    r->def_pair = (struct rl_router_pair){0, n_models > 1 ? 1 : 0};
    return r;
fail:
    rl_router_free(r);
    return NULL;
}

static size_t align8(size_t n) {
    return (n + 7) & ~(size_t)7;
}

void *rl__router_impl_new(size_t impl_size, const struct rl_tensor *const *parts, size_t n,
                          void **dst) {
    size_t total = align8(impl_size);
    for (size_t i = 0; i < n; i++)
        if (parts[i])
            total += align8(parts[i]->nbytes);
    unsigned char *block = malloc(total);
    if (!block)
        return NULL;
    memset(block, 0, impl_size);
    size_t at = align8(impl_size);
    for (size_t i = 0; i < n; i++) {
        dst[i] = NULL;
        if (!parts[i])
            continue;
        dst[i] = block + at;
        memcpy(dst[i], parts[i]->data, parts[i]->nbytes);
        at += align8(parts[i]->nbytes);
    }
    return block;
}

int rl__router_set_encoder(struct rl_router *r, const char *name, int dim) {
    char *copy = strdup(name);
    if (!copy)
        return RL_ENOMEM;
    free(r->encoder_name);
    r->encoder_name = copy;
    r->encoder_dim = dim;
    return RL_OK;
}

void rl_router_free(struct rl_router *r) {
    if (!r)
        return;
    r->kind->free(r->impl);
    for (int i = 0; i < r->n_models; i++)
        free(r->model_names[i]);
    free(r->model_names);
    free(r->encoder_name);
    free(r->path);
    for (size_t i = 0; i < RL_COUNTOF(r->meta); i++)
        free(r->meta[i]);
    free(r);
}

// ----------------------------------------------------------------------------
// Accessors

const struct rl_router_kind *rl_router_kind(const struct rl_router *r) {
    return r->kind;
}

const char *rl_router_name(const struct rl_router *r) {
    return r->kind->name;
}

const char *rl_router_encoder_name(const struct rl_router *r) {
    return r->encoder_name;
}

size_t rl_router_encoder_dim(const struct rl_router *r) {
    return (size_t)r->encoder_dim;
}

int rl_router_check_encoder(const struct rl_router *r, const struct rl_encoder *enc, char *errbuf) {
    if (!r->encoder_name)
        return RL_OK;
    if (!enc)
        return rl__errf(errbuf, RL_EINVAL, "router %s needs the encoder %s (%d-d), none loaded",
                        rl_router_name(r), r->encoder_name, r->encoder_dim);
    const char *name = rl_encoder_name(enc);
    int dim = (int)rl_encoder_dim(enc);
    if (strcmp(name, r->encoder_name) != 0 || dim != r->encoder_dim)
        return rl__errf(errbuf, RL_EINVAL,
                        "router %s was trained on encoder %s (%d-d) but the loaded encoder is "
                        "%s (%d-d); retrain it with 'routellm train' on this encoder",
                        rl_router_name(r), r->encoder_name, r->encoder_dim, name, dim);
    return RL_OK;
}

size_t rl_router_n_models(const struct rl_router *r) {
    return (size_t)r->n_models;
}

const char *rl_router_model(const struct rl_router *r, size_t i) {
    if (i >= (size_t)r->n_models)
        return NULL;
    return r->model_names[i];
}

// ----------------------------------------------------------------------------
// Pairs

// A router file stores the names that were canonical when it was trained. When none is the
// name's canonical form, they are canonicalised again, so that a spelling the alias table
// learnt since (an older file's "claude-2" for today's "claude-2.0") still finds its model.
int rl__router_find_model(const struct rl_router *r, const char *name) {
    char canon[RL_MODEL_NAME_MAX], stored[RL_MODEL_NAME_MAX];
    if (rl_model_canon(name, canon, sizeof canon) != RL_OK)
        return -1;
    for (int i = 0; i < r->n_models; i++)
        if (strcasecmp(canon, r->model_names[i]) == 0)
            return i;
    for (int i = 0; i < r->n_models; i++)
        if (rl_model_canon(r->model_names[i], stored, sizeof stored) == RL_OK &&
            strcmp(canon, stored) == 0)
            return i;
    return -1;
}

// The message lists every known model, truncated to what the error buffer holds.
static int unknown_model(const struct rl_router *r, const char *name, char *errbuf) {
    if (!errbuf)
        return RL_EINVAL;
    int n = snprintf(errbuf, RL_ERRBUF_SIZE,
                     "router %s does not know the model '%s'; it knows: ", rl_router_name(r), name);
    for (int i = 0; i < r->n_models && n >= 0 && n < RL_ERRBUF_SIZE; i++)
        n += snprintf(errbuf + n, (size_t)(RL_ERRBUF_SIZE - n), "%s%s", i ? ", " : "",
                      r->model_names[i]);
    if (n >= RL_ERRBUF_SIZE)
        memcpy(errbuf + RL_ERRBUF_SIZE - 5, "...", 4);
    return RL_EINVAL;
}

static int resolve(const struct rl_router *r, const char *name, int fallback, int *out,
                   char *errbuf) {
    if (!name) {
        *out = fallback;
        return RL_OK;
    }
    int i = rl__router_find_model(r, name);
    if (i < 0 && !r->kind->any_pair)
        return unknown_model(r, name, errbuf);
    *out = i < 0 ? fallback : i;
    return RL_OK;
}

int rl_router_pair(const struct rl_router *r, const char *strong, const char *weak,
                   struct rl_router_pair *pair, char *errbuf) {
    struct rl_router_pair p;
    int rc = resolve(r, strong, r->def_pair.strong, &p.strong, errbuf);
    if (rc == RL_OK)
        rc = resolve(r, weak, r->def_pair.weak, &p.weak, errbuf);
    if (rc != RL_OK)
        return rc;
    if (p.strong == p.weak && !r->kind->any_pair)
        return rl__errf(errbuf, RL_EINVAL, "router %s: the strong and weak models are both %s",
                        rl_router_name(r), r->model_names[p.strong]);
    *pair = p;
    return RL_OK;
}

int rl_router_model_index(const struct rl_router *r, const char *name, char *errbuf) {
    int i = rl__router_find_model(r, name);
    return i >= 0 ? i : unknown_model(r, name, errbuf);
}

int rl_router_default_pair(const struct rl_router *r, struct rl_router_pair *pair) {
    *pair = r->def_pair;
    return RL_OK;
}

// ----------------------------------------------------------------------------
// Scoring

int rl__router_input_dim(const struct rl_router *r) {
    return r->encoder_dim + (r->features ? RL_FEATURES_N : 0);
}

bool rl_router_needs_text(const struct rl_router *r) {
    return r->kind->needs_text || r->features;
}

int rl_router_score_prompt(const struct rl_router *r, const struct rl_router_pair *pair,
                           const struct rl_prompt *prompt, double *p_strong) {
    struct rl_router_pair p = pair ? *pair : r->def_pair;
    if (!r->kind->any_pair &&
        (p.strong < 0 || p.strong >= r->n_models || p.weak < 0 || p.weak >= r->n_models))
        return RL_EINVAL;
    if (r->encoder_dim > 0 && !prompt->embedding)
        return RL_EINVAL;
    if (rl_router_needs_text(r) && !prompt->text && prompt->len > 0)
        return RL_EINVAL;
    // The input is the embedding itself unless features follow it; then it is built here, on
    // the stack (file.c keeps such routers' inputs within RL_ROUTER_MAX_INPUT).
    float input[RL_ROUTER_MAX_INPUT];
    const float *x = prompt->embedding;
    if (r->features) {
        RL_ASSERT(rl__router_input_dim(r) <= RL_ROUTER_MAX_INPUT);
        if (r->encoder_dim > 0)
            memcpy(input, prompt->embedding, (size_t)r->encoder_dim * sizeof *input);
        float *f = input + r->encoder_dim;
        rl_features(prompt->len ? prompt->text : "", prompt->len, f);
        for (int i = 0; i < RL_FEATURES_N; i++)
            f[i] = (f[i] - r->feat_mean[i]) / r->feat_std[i];
        x = input;
    }
    int rc = r->kind->score(r, &p, prompt, x, p_strong);
    // Finite parameters from a router file can still be large enough to overflow a score; that
    // prompt gets an error rather than a NaN, which would route it as if it were weak.
    if (rc == RL_OK && !(*p_strong >= 0 && *p_strong <= 1))
        return RL_EFORMAT;
    return rc;
}

int rl_router_score(const struct rl_router *r, const struct rl_router_pair *pair,
                    const float *embedding, double *p_strong) {
    if (rl_router_needs_text(r))
        return RL_EINVAL;
    struct rl_prompt prompt = {.embedding = embedding};
    return rl_router_score_prompt(r, pair, &prompt, p_strong);
}

// ----------------------------------------------------------------------------
// Decisions

// RouteLLM §1.1: the strong model when p_strong >= α. This is the only place the rule is written.
bool rl_router_goes_strong(double p_strong, double threshold) {
    return p_strong >= threshold;
}

int rl_router_decide(const struct rl_router *r, const struct rl_router_pair *pair,
                     const struct rl_prompt *prompt, double threshold,
                     struct rl_router_decision *d) {
    struct rl_router_pair p = pair ? *pair : r->def_pair;
    double p_strong;
    int rc = rl_router_score_prompt(r, &p, prompt, &p_strong);
    if (rc != RL_OK)
        return rc;
    d->p_strong = p_strong;
    d->strong = rl_router_goes_strong(p_strong, threshold);
    d->model = d->strong ? p.strong : p.weak;
    d->name = rl_router_model(r, d->model);
    return RL_OK;
}
