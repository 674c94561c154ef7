// Router files: the common __metadata__ (format, kind, encoder, models, default pair, training
// provenance) is written and checked here; each kind's tensors are read by its own loader. A file
// is untrusted input: every key is validated and a bad one is named in the error.
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "core/safetensors.h"
#include "rl/battle.h"
#include "rl/encoder.h"
#include "routers/router_impl.h"

#define MAX_MODELS 4096

static const char *const kept_keys[] = {
    "hyper",   "metrics",       "data_digest",          "n_battles",       "source",
    "aliases", "train_prompts", "train_prompts_sha256", "n_train_prompts", "encoder_precision"};
_Static_assert(RL_COUNTOF(kept_keys) == RL_COUNTOF(((struct rl_router *)0)->meta),
               "one copy per kept metadata key");

int rl__router_write(const char *path, const struct rl_router_meta *m, const struct rl_tensor *t,
                     size_t n, char *errbuf) {
    json_t *models = json_array();
    if (!models)
        return rl__errf(errbuf, RL_ENOMEM, "%s: out of memory", path);
    for (int i = 0; i < m->n_models; i++)
        json_array_append_new(models, json_string(m->models[i]));
    char *models_text = json_dumps(models, JSON_COMPACT);
    json_decref(models);
    if (!models_text)
        return rl__errf(errbuf, RL_ENOMEM, "%s: out of memory", path);
    char dim[32], n_battles[32], n_prompts[32];
    snprintf(dim, sizeof dim, "%d", m->encoder_dim);
    snprintf(n_battles, sizeof n_battles, "%zu", m->n_battles);
    snprintf(n_prompts, sizeof n_prompts, "%zu", m->n_train_prompts);
    const char *meta[40];
    int k = 0;
    meta[k++] = "format";
    meta[k++] = RL_ROUTER_FORMAT;
    meta[k++] = "format_version";
    meta[k++] = RL_ROUTER_FORMAT_VERSION;
    meta[k++] = "kind";
    meta[k++] = m->kind->name;
    if (m->encoder) {
        meta[k++] = "encoder";
        meta[k++] = m->encoder;
        meta[k++] = "encoder_dim";
        meta[k++] = dim;
    }
    if (m->encoder && m->encoder_precision) {
        meta[k++] = "encoder_precision";
        meta[k++] = m->encoder_precision;
    }
    if (m->features) {
        meta[k++] = "features";
        meta[k++] = RL_FEATURES_VERSION;
    }
    meta[k++] = "models";
    meta[k++] = models_text;
    meta[k++] = "default_strong";
    meta[k++] = m->models[m->strong];
    meta[k++] = "default_weak";
    meta[k++] = m->models[m->weak];
    meta[k++] = "hyper";
    meta[k++] = m->hyper ? m->hyper : "{}";
    meta[k++] = "metrics";
    meta[k++] = m->metrics ? m->metrics : "{}";
    meta[k++] = "data_digest";
    meta[k++] = m->digest ? m->digest : "";
    meta[k++] = "n_battles";
    meta[k++] = n_battles;
    if (m->source) {
        meta[k++] = "source";
        meta[k++] = m->source;
    }
    if (m->aliases) {
        meta[k++] = "aliases";
        meta[k++] = m->aliases;
    }
    if (m->train_prompts) {
        meta[k++] = "train_prompts";
        meta[k++] = m->train_prompts;
        meta[k++] = "train_prompts_sha256";
        meta[k++] = m->train_prompts_sha256;
        meta[k++] = "n_train_prompts";
        meta[k++] = n_prompts;
    }
    meta[k] = NULL;
    int rc = rl_safetensors_write(path, t, n, meta, errbuf);
    free(models_text);
    return rc;
}

// ----------------------------------------------------------------------------
// Loading

static const char *need_meta(const struct rl_safetensors *st, const char *key, char *errbuf) {
    const char *v = rl_safetensors_meta(st, key);
    if (!v)
        rl__errf(errbuf, RL_EFORMAT, "%s: not a router file: no '%s' in __metadata__",
                 rl_safetensors_path(st), key);
    return v;
}

// The "models" key: a JSON list of distinct, non-empty strings.
static int parse_models(const struct rl_safetensors *st, const char *text, char ***out, int *n,
                        char *errbuf) {
    const char *path = rl_safetensors_path(st);
    json_error_t err;
    json_t *arr = json_loads(text, 0, &err);
    int rc = RL_OK;
    if (!json_is_array(arr) || json_array_size(arr) < 2 || json_array_size(arr) > MAX_MODELS) {
        rc = rl__errf(errbuf, RL_EFORMAT,
                      "%s: metadata 'models' must be a JSON list of 2 to %d names", path,
                      MAX_MODELS);
        goto done;
    }
    *n = (int)json_array_size(arr);
    *out = calloc((size_t)*n, sizeof **out);
    if (!*out) {
        rc = rl__errf(errbuf, RL_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    for (int i = 0; i < *n; i++) {
        json_t *s = json_array_get(arr, (size_t)i);
        if (!json_is_string(s) || json_string_length(s) == 0 ||
            json_string_length(s) >= RL_MODEL_NAME_MAX) {
            rc = rl__errf(errbuf, RL_EFORMAT, "%s: metadata 'models'[%d] is not a model name", path,
                          i);
            goto done;
        }
        (*out)[i] = (char *)json_string_value(s);
        for (int j = 0; j < i; j++)
            if (strcmp((*out)[i], (*out)[j]) == 0) {
                rc = rl__errf(errbuf, RL_EFORMAT, "%s: model '%s' listed twice", path, (*out)[i]);
                goto done;
            }
    }
    // The strings belong to arr; copy them before it goes.
    for (int i = 0; i < *n; i++) {
        (*out)[i] = strdup((*out)[i]);
        if (!(*out)[i]) {
            for (int j = 0; j < i; j++)
                free((*out)[j]);
            rc = rl__errf(errbuf, RL_ENOMEM, "%s: out of memory", path);
            goto done;
        }
    }
    json_decref(arr);
    return RL_OK;
done:
    free(*out);
    *out = NULL;
    *n = 0;
    json_decref(arr);
    return rc;
}

static int find_exact(struct rl_router *r, const char *name) {
    for (int i = 0; i < r->n_models; i++)
        if (strcmp(r->model_names[i], name) == 0)
            return i;
    return -1;
}

// format, format_version and kind: the kind the file is, or NULL with errbuf saying why.
static const struct rl_router_kind *read_kind(const struct rl_safetensors *st, char *errbuf) {
    const char *path = rl_safetensors_path(st);
    const char *format = need_meta(st, "format", errbuf);
    if (!format)
        return NULL;
    if (strcmp(format, RL_ROUTER_FORMAT) != 0) {
        rl__errf(errbuf, RL_EFORMAT, "%s: format '%.40s', expected '%s'", path, format,
                 RL_ROUTER_FORMAT);
        return NULL;
    }
    const char *version = need_meta(st, "format_version", errbuf);
    if (!version)
        return NULL;
    if (strcmp(version, RL_ROUTER_FORMAT_VERSION) != 0) {
        rl__errf(errbuf, RL_EUNSUPPORTED, "%s: router format version %.20s, this build reads %s",
                 path, version, RL_ROUTER_FORMAT_VERSION);
        return NULL;
    }
    const char *kind_name = need_meta(st, "kind", errbuf);
    if (!kind_name)
        return NULL;
    const struct rl_router_kind *kind = rl_router_kind_find(kind_name, NULL);
    if (!kind || !kind->load) {
        rl__errf(errbuf, RL_EUNSUPPORTED, "%s: router kind '%.40s' is not one this build reads",
                 path, kind_name);
        return NULL;
    }
    return kind;
}

// encoder and encoder_dim: required for the kinds that score embeddings, optional for those that
// may (irt).
static int read_encoder(struct rl_router *r, const struct rl_safetensors *st, char *errbuf) {
    if (!r->kind->needs_encoder && !rl_safetensors_meta(st, "encoder"))
        return RL_OK;
    const char *path = rl_safetensors_path(st);
    const char *enc = need_meta(st, "encoder", errbuf);
    const char *dim_text = enc ? need_meta(st, "encoder_dim", errbuf) : NULL;
    if (!dim_text)
        return RL_EFORMAT;
    char *end;
    long dim = strtol(dim_text, &end, 10);
    if (*end || dim <= 0 || dim > 65536)
        return rl__errf(errbuf, RL_EFORMAT, "%s: encoder_dim '%.20s' is not a width", path,
                        dim_text);
    if (rl__router_set_encoder(r, enc, (int)dim) != RL_OK)
        return rl__errf(errbuf, RL_ENOMEM, "%s: out of memory", path);
    return RL_OK;
}

// features (the version of rl/features.h) with the standardisation tensors features.mean and
// features.std, each (RL_FEATURES_N) finite floats, the deviations positive.
static int read_features(struct rl_router *r, const struct rl_safetensors *st, char *errbuf) {
    const char *path = rl_safetensors_path(st);
    const char *version = rl_safetensors_meta(st, "features");
    if (!version)
        return RL_OK;
    if (strcmp(version, RL_FEATURES_VERSION) != 0)
        return rl__errf(errbuf, RL_EUNSUPPORTED,
                        "%s: prompt features '%.20s', this build computes '%s'", path, version,
                        RL_FEATURES_VERSION);
    if (r->encoder_dim + RL_FEATURES_N > RL_ROUTER_MAX_INPUT)
        return rl__errf(errbuf, RL_EUNSUPPORTED, "%s: encoder_dim %d is too wide with features",
                        path, r->encoder_dim);
    const struct rl_tensor *mean, *std;
    int64_t shape[1] = {RL_FEATURES_N};
    int rc = rl_safetensors_expect(st, "features.mean", RL_DTYPE_F32, 1, shape, &mean, errbuf);
    if (rc == RL_OK)
        rc = rl_safetensors_expect(st, "features.std", RL_DTYPE_F32, 1, shape, &std, errbuf);
    if (rc != RL_OK)
        return rc;
    memcpy(r->feat_mean, mean->data, sizeof r->feat_mean);
    memcpy(r->feat_std, std->data, sizeof r->feat_std);
    for (int i = 0; i < RL_FEATURES_N; i++)
        if (!isfinite(r->feat_mean[i]) || !(r->feat_std[i] > 0 && isfinite(r->feat_std[i])))
            return rl__errf(errbuf, RL_EFORMAT, "%s: features.mean/std[%d] is not usable", path, i);
    r->features = true;
    return RL_OK;
}

// default_strong and default_weak: two distinct models of r's list.
static int read_default_pair(struct rl_router *r, const struct rl_safetensors *st, char *errbuf) {
    const char *s = need_meta(st, "default_strong", errbuf);
    const char *w = s ? need_meta(st, "default_weak", errbuf) : NULL;
    if (!w)
        return RL_EFORMAT;
    r->def_pair.strong = find_exact(r, s);
    r->def_pair.weak = find_exact(r, w);
    if (r->def_pair.strong < 0 || r->def_pair.weak < 0 || r->def_pair.strong == r->def_pair.weak)
        return rl__errf(errbuf, RL_EFORMAT,
                        "%s: default pair '%.40s' / '%.40s' is not two listed models",
                        rl_safetensors_path(st), s, w);
    return RL_OK;
}

// A file that is not safetensors at all is not a router file: say so first, then which check.
static void not_a_router_file(const char *path, char *errbuf) {
    const char *why = errbuf ? strstr(errbuf, RL_SAFETENSORS_NOT) : NULL;
    if (!why)
        return;
    char detail[RL_ERRBUF_SIZE];
    snprintf(detail, sizeof detail, "%s", why);
    rl__errf(errbuf, RL_EFORMAT, "%s: not a router file (%s)", path, detail);
}

struct rl_router *rl__router_load_file(const char *path, char *errbuf) {
    struct rl_safetensors *st = rl_safetensors_open(path, errbuf);
    if (!st) {
        not_a_router_file(path, errbuf);
        return NULL;
    }
    struct rl_router *r = NULL;
    char **models = NULL;
    int n_models = 0;
    const struct rl_router_kind *kind = read_kind(st, errbuf);
    if (!kind)
        goto fail;
    const char *models_text = need_meta(st, "models", errbuf);
    if (!models_text || parse_models(st, models_text, &models, &n_models, errbuf) != RL_OK)
        goto fail;
    r = rl__router_new(kind, (const char *const *)models, n_models);
    if (r && !(r->path = strdup(path))) {
        rl_router_free(r);
        r = NULL;
    }
    if (!r) {
        rl__errf(errbuf, RL_ENOMEM, "%s: out of memory", path);
        goto fail;
    }
    if (read_encoder(r, st, errbuf) != RL_OK || read_features(r, st, errbuf) != RL_OK ||
        read_default_pair(r, st, errbuf) != RL_OK)
        goto fail;
    for (size_t i = 0; i < RL_COUNTOF(kept_keys); i++) {
        const char *v = rl_safetensors_meta(st, kept_keys[i]);
        if (v && !(r->meta[i] = strdup(v))) {
            rl__errf(errbuf, RL_ENOMEM, "%s: out of memory", path);
            goto fail;
        }
    }
    enum rl_precision precision;
    const char *prec = rl_router_meta(r, "encoder_precision");
    if (prec && rl_precision_parse(prec, &precision) != RL_OK) {
        rl__errf(errbuf, RL_EFORMAT, "%s: encoder_precision '%.16s' is not fp32 or int8", path,
                 prec);
        goto fail;
    }
    if (kind->load(r, st, errbuf) == RL_OK)
        goto done;
fail:
    rl_router_free(r);
    r = NULL;
done:
    for (int i = 0; i < n_models; i++)
        free(models[i]);
    free(models);
    rl_safetensors_free(st);
    return r;
}

const char *rl_router_meta(const struct rl_router *r, const char *key) {
    for (size_t i = 0; i < RL_COUNTOF(kept_keys); i++)
        if (strcmp(key, kept_keys[i]) == 0)
            return r->meta[i];
    return NULL;
}
