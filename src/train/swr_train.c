// Building the SW-ranking router (RouteLLM §2.2): a global Bradley-Terry/Elo fit with ties over
// the models of the training battles, the 10-tier partition of the ratings, and the compact
// per-prompt tier-cell counts plus fp16 (or int8) prompt embeddings the per-query fit needs.
// Validation scores each held-out battle's prompt against the training battles only.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "routers/bt.h"
#include "routers/swr.h"
#include "train/train_impl.h"

#define GAMMA 10.0f

// A held-out battle keyed by its prompt, so that sorting groups battles of one prompt.
struct val_item {
    uint32_t prompt;
    size_t battle;
};

static int by_prompt(const void *x, const void *y) {
    const struct val_item *a = x, *b = y;
    if (a->prompt != b->prompt)
        return a->prompt < b->prompt ? -1 : 1;
    return a->battle < b->battle ? -1 : a->battle > b->battle;
}

// ----------------------------------------------------------------------------
// The router's arrays, built step by step

static int oom(const struct rl_train_ctx *c) {
    return rl__errf(c->errbuf, RL_ENOMEM, "sw_ranking: out of memory");
}

// What the trainer builds: the arrays of the router file (rl_swr's layout), owned until they
// pass to the trainer's output.
struct swr_build {
    int n_tiers;         // T
    int elo_iterations;  // of the global fit
    int32_t *model_tier; // (M) tier of each model, 0 = best
    float *model_rating; // (M)
    int32_t *remap;      // (b->n_prompts) row of each prompt among the stored ones, or -1
    size_t n_store;      // N stored prompts
    size_t nnz;          // non-empty tier cells over all stored prompts
    int32_t *offsets;    // (N + 1) CSR over cells per prompt
    uint8_t *cell;       // (nnz) ta·T + tb
    float *cell_weight;  // (nnz, 2) weight of rows "ta won" and "ta lost"
    uint16_t *emb16;     // (N, D) fp16, or NULL
    int8_t *emb8;        // (N, D) int8, or NULL
    float *scale8;       // (N) scale of each int8 row
};

static void build_free(struct swr_build *x) {
    free(x->model_tier);
    free(x->model_rating);
    free(x->remap);
    free(x->offsets);
    free(x->cell);
    free(x->cell_weight);
    free(x->emb16);
    free(x->emb8);
    free(x->scale8);
}

// Stored prompts: those of every training battle, in battle order. A prompt whose battles are
// all within one tier adds nothing to the cells but still counts in max s, as every battle does
// in the original. RL_EINVAL when no training battle is between two tiers.
static int store_prompts(const struct rl_train_ctx *c, struct swr_build *x) {
    const struct rl_battles *b = c->b;
    size_t n_cross = 0;
    for (size_t i = 0; i < b->n_prompts; i++)
        x->remap[i] = -1;
    for (size_t i = 0; i < b->n; i++) {
        const struct rl_battle *e = &b->items[i];
        if (c->held_out[i])
            continue;
        n_cross += x->model_tier[e->model_a] != x->model_tier[e->model_b];
        if (x->remap[e->prompt] < 0)
            x->remap[e->prompt] = (int32_t)x->n_store++;
    }
    if (n_cross == 0)
        return rl__errf(c->errbuf, RL_EINVAL, "sw_ranking: no training battle between two tiers");
    return RL_OK;
}

// Cell weights per stored prompt: a dense (N, T²) pass, then compressed to CSR.
static int build_cells(const struct rl_train_ctx *c, struct swr_build *x) {
    const struct rl_battles *b = c->b;
    const int T = x->n_tiers;
    const size_t TT = (size_t)(T * T);
    double *cw = calloc(x->n_store * TT * 2, sizeof *cw);
    x->offsets = malloc((x->n_store + 1) * sizeof *x->offsets);
    if (!cw || !x->offsets) {
        free(cw);
        return oom(c);
    }
    for (size_t i = 0; i < b->n; i++) {
        const struct rl_battle *e = &b->items[i];
        int ta = x->model_tier[e->model_a], tb = x->model_tier[e->model_b];
        if (c->held_out[i] || ta == tb)
            continue;
        double *row = cw + (size_t)x->remap[e->prompt] * TT * 2;
        // Reuse add_rows on a (T, T) pair of planes: win plane then loss plane.
        rl__bt_add_rows(row, row + T * T, T, ta, tb, e->outcome, e->weight);
    }
    size_t nnz = 0;
    for (size_t i = 0; i < x->n_store; i++)
        for (size_t k = 0; k < TT; k++)
            nnz += cw[i * TT * 2 + k] != 0 || cw[i * TT * 2 + TT + k] != 0;
    x->cell = malloc(nnz ? nnz : 1);
    x->cell_weight = malloc((nnz ? nnz : 1) * 2 * sizeof *x->cell_weight);
    if (!x->cell || !x->cell_weight) {
        free(cw);
        return oom(c);
    }
    nnz = 0;
    for (size_t i = 0; i < x->n_store; i++) {
        x->offsets[i] = (int32_t)nnz;
        const double *row = cw + i * TT * 2;
        for (size_t k = 0; k < TT; k++) {
            if (row[k] == 0 && row[TT + k] == 0)
                continue;
            x->cell[nnz] = (uint8_t)k;
            x->cell_weight[2 * nnz] = (float)row[k];
            x->cell_weight[2 * nnz + 1] = (float)row[TT + k];
            nnz++;
        }
    }
    x->offsets[x->n_store] = (int32_t)nnz;
    x->nnz = nnz;
    free(cw);
    return RL_OK;
}

// The stored prompts' embeddings, compact: fp16, or int8 with a scale per row.
static int compact_embeddings(const struct rl_train_ctx *c, bool int8, struct swr_build *x) {
    const int D = c->dim;
    if (int8) {
        x->emb8 = malloc(x->n_store * (size_t)D);
        x->scale8 = malloc(x->n_store * sizeof *x->scale8);
        if (!x->emb8 || !x->scale8)
            return oom(c);
    } else {
        x->emb16 = malloc(x->n_store * (size_t)D * sizeof *x->emb16);
        if (!x->emb16)
            return oom(c);
    }
    for (size_t i = 0; i < c->b->n_prompts; i++) {
        if (x->remap[i] < 0)
            continue;
        const float *e = c->emb + i * (size_t)D;
        size_t r = (size_t)x->remap[i];
        if (x->emb16) {
            for (int d = 0; d < D; d++)
                x->emb16[r * D + d] = rl__f32_to_f16(e[d]);
        } else {
            float mx = 0;
            for (int d = 0; d < D; d++)
                mx = fmaxf(mx, fabsf(e[d]));
            float sc = mx > 0 ? mx / 127.0f : 1.0f;
            x->scale8[r] = sc;
            for (int d = 0; d < D; d++)
                x->emb8[r * D + d] = (int8_t)lrintf(e[d] / sc);
        }
    }
    return RL_OK;
}

// ----------------------------------------------------------------------------
// Validation

struct swr_val {
    size_t n_all;                  // held-out battles
    size_t n_cross;                // of those, between two tiers: the ones scored
    struct rl_train_progress prog; // the final figures (val_loss, val_acc)
};

// The held-out battles of `order` (n_val of them, grouped by prompt), scored with the router s
// built from the training battles; reports progress as one epoch.
static int score_held_out(const struct rl_train_ctx *c, const struct rl_swr *s,
                          const struct val_item *order, size_t n_val, float *sims,
                          struct rl_train_progress *prog) {
    const struct rl_train_params *p = c->p;
    size_t right = 0, n_decisive = 0;
    double val_loss = 0, val_w = 0, tb_beta[RL_SWR_MAX_TIERS];
    int64_t last_prompt = -1;
    *prog = (struct rl_train_progress){.epoch = 1, .n_epochs = 1, .n_steps = n_val};
    for (size_t k = 0; k < n_val; k++) {
        const struct rl_battle *x = &c->b->items[order[k].battle];
        if ((int64_t)x->prompt != last_prompt) {
            int rc = rl__swr_tier_beta(s, c->emb + (size_t)x->prompt * s->dim, sims, tb_beta);
            if (rc != RL_OK)
                return rl__errf(c->errbuf, rc, "sw_ranking: validation fit failed");
            last_prompt = x->prompt;
        }
        double pa = rl__swr_p(s, tb_beta, (int)x->model_a, (int)x->model_b);
        pa = fmin(fmax(pa, 1e-7), 1 - 1e-7);
        double y = x->outcome == RL_OUTCOME_A_WINS ? 1 : x->outcome == RL_OUTCOME_B_WINS ? 0 : 0.5;
        val_loss += x->weight * -(y * log(pa) + (1 - y) * log(1 - pa));
        val_w += x->weight;
        if (y != 0.5) {
            n_decisive++;
            right += (pa > 0.5) == (y == 1);
        }
        prog->step = k + 1;
        if (p->progress && (k % 256 == 0 || k + 1 == n_val))
            p->progress(p->progress_ctx, prog);
    }
    prog->epoch_done = true;
    prog->val_loss = val_w > 0 ? val_loss / val_w : NAN;
    prog->val_acc = n_decisive ? (double)right / (double)n_decisive : NAN;
    if (p->progress)
        p->progress(p->progress_ctx, prog);
    return RL_OK;
}

// Validation on held-out battles across two tiers: each distinct prompt is scored once.
static int validate(const struct rl_train_ctx *c, const struct swr_build *x, struct swr_val *v) {
    const struct rl_battles *b = c->b;
    const struct rl_swr s = {
        .n_prompts = (int)x->n_store,
        .dim = c->dim,
        .n_tiers = x->n_tiers,
        .n_models = (int)b->n_models,
        .gamma = GAMMA,
        .emb16 = x->emb16,
        .emb8 = x->emb8,
        .scale8 = x->scale8,
        .model_tier = x->model_tier,
        .offsets = x->offsets,
        .cell = x->cell,
        .cell_weight = x->cell_weight,
        .simd = rl__swr_simd_supported(),
    };
    float *sims = malloc(x->n_store * sizeof *sims);
    struct val_item *order = malloc((b->n + 1) * sizeof *order);
    int rc = RL_OK;
    if (!sims || !order) {
        rc = oom(c);
        goto done;
    }
    v->n_all = v->n_cross = 0;
    // Group held-out battles by prompt so each prompt's tier fit is computed once.
    for (size_t i = 0; i < b->n; i++)
        if (c->held_out[i]) {
            v->n_all++;
            const struct rl_battle *e = &b->items[i];
            if (x->model_tier[e->model_a] != x->model_tier[e->model_b])
                order[v->n_cross++] = (struct val_item){e->prompt, i};
        }
    qsort(order, v->n_cross, sizeof *order, by_prompt);
    rc = score_held_out(c, &s, order, v->n_cross, sims, &v->prog);
done:
    free(sims);
    free(order);
    return rc;
}

// ----------------------------------------------------------------------------
// Training

// The file's hyper-parameters and metrics, and its tensors: every array of x passes to out.
static int emit(const struct rl_train_ctx *c, struct swr_build *x, const struct swr_val *v,
                struct rl_train_out *out) {
    const struct rl_train_params *p = c->p;
    const int M = (int)c->b->n_models, D = c->dim;
    int anchor = rl_battles_find_model(c->b, RL_TRAIN_ANCHOR_MODEL);
    int strong_tier = x->model_tier[c->strong], weak_tier = x->model_tier[c->weak];
    snprintf(out->hyper, sizeof out->hyper,
             "{\"n_tiers\":%d,\"gamma\":%g,\"storage\":\"%s\",\"holdout\":%g,"
             "\"same_tier_battles\":\"dropped\",\"anchor\":\"%s\"}",
             x->n_tiers, (double)GAMMA, x->emb16 ? "fp16" : "int8", p->holdout,
             anchor >= 0 ? RL_TRAIN_ANCHOR_MODEL : "none");
    snprintf(out->metrics, sizeof out->metrics,
             "{\"stored_prompts\":%zu,\"cells\":%zu,\"elo_iterations\":%d,"
             "\"strong_tier\":%d,\"weak_tier\":%d,\"val_battles\":%zu,\"val_cross_tier\":%zu,"
             "\"val_loss\":%.6f,\"val_acc\":%.6f}",
             x->n_store, x->nnz, x->elo_iterations, strong_tier, weak_tier, v->n_all, v->n_cross,
             isnan(v->prog.val_loss) ? -1 : v->prog.val_loss,
             isnan(v->prog.val_acc) ? -1 : v->prog.val_acc);

    float *gamma = malloc(sizeof *gamma);
    if (!gamma)
        return oom(c);
    *gamma = GAMMA;
    const int64_t N = (int64_t)x->n_store, NNZ = (int64_t)x->nnz;
    const struct rl_train_tensor t[] = {
        {"model_tier", RL_DTYPE_I32, 1, {M}, x->model_tier},
        {"model_rating", RL_DTYPE_F32, 1, {M}, x->model_rating},
        {"gamma", RL_DTYPE_F32, 1, {1}, gamma},
        {"prompt_emb", RL_DTYPE_F16, 2, {N, D}, x->emb16},
        {"prompt_emb_i8", RL_DTYPE_I8, 2, {N, D}, x->emb8},
        {"prompt_scale", RL_DTYPE_F32, 1, {N}, x->scale8},
        {"cell_offsets", RL_DTYPE_I32, 1, {N + 1}, x->offsets},
        {"cell_index", RL_DTYPE_U8, 1, {NNZ}, x->cell},
        {"cell_weight", RL_DTYPE_F32, 2, {NNZ, 2}, x->cell_weight},
    };
    // Every buffer passes to out, whether or not it can hold them all.
    int rc = rl__train_out_take(out, t, RL_COUNTOF(t));
    x->model_tier = NULL;
    x->model_rating = NULL;
    x->emb16 = NULL;
    x->emb8 = NULL;
    x->scale8 = NULL;
    x->offsets = NULL;
    x->cell = NULL;
    x->cell_weight = NULL;
    if (rc != RL_OK)
        rl__errf(c->errbuf, rc, "sw_ranking: cannot collect the tensors");
    return rc;
}

int rl__train_swr(const struct rl_train_ctx *c, struct rl_train_out *out) {
    const struct rl_battles *b = c->b;
    const struct rl_train_params *p = c->p;
    const int M = (int)b->n_models, D = c->dim;
    if (p->n_tiers < 2 || p->n_tiers > RL_SWR_MAX_TIERS)
        return rl__errf(c->errbuf, RL_EINVAL, "sw_ranking: tiers must be in 2..%d",
                        RL_SWR_MAX_TIERS);
    if (D % RL_SWR_DIM_STEP != 0)
        return rl__errf(c->errbuf, RL_EUNSUPPORTED,
                        "sw_ranking: embedding width %d is not a multiple of %d", D,
                        RL_SWR_DIM_STEP);
    struct swr_build x = {0};
    struct swr_val v = {0};
    x.model_tier = malloc((size_t)M * sizeof *x.model_tier);
    x.model_rating = malloc((size_t)M * sizeof *x.model_rating);
    x.remap = malloc((b->n_prompts + 1) * sizeof *x.remap);
    int rc = RL_OK;
    if (!x.model_tier || !x.model_rating || !x.remap) {
        rc = oom(c);
        goto done;
    }
    x.n_tiers = rl__train_tiers(c, p->n_tiers, x.model_rating, x.model_tier, &x.elo_iterations);
    if (x.n_tiers < 0) {
        rc = x.n_tiers;
        goto done;
    }
    rc = store_prompts(c, &x);
    if (rc != RL_OK)
        goto done;
    rc = build_cells(c, &x);
    if (rc == RL_OK)
        rc = compact_embeddings(c, p->sw_int8, &x);
    if (rc == RL_OK)
        rc = validate(c, &x, &v);
    if (rc == RL_OK)
        rc = emit(c, &x, &v, out);
done:
    build_free(&x);
    return rc;
}
