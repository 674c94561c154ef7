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

int rl__train_swr(const struct rl_train_ctx *c, struct rl_train_out *out) {
    const struct rl_battles *b = c->b;
    const struct rl_train_params *p = c->p;
    const int M = (int)b->n_models, D = c->dim;
    if (p->n_tiers < 2 || p->n_tiers > RL_SWR_MAX_TIERS)
        return rl__errf(c->errbuf, RL_EINVAL, "sw_ranking: tiers must be in 2..%d",
                        RL_SWR_MAX_TIERS);
    if (D % 16 != 0)
        return rl__errf(c->errbuf, RL_EUNSUPPORTED,
                        "sw_ranking: embedding width %d is not a multiple of 16", D);
    int rc = RL_OK;
    int32_t *model_tier = malloc((size_t)M * sizeof *model_tier);
    float *model_rating = malloc((size_t)M * sizeof *model_rating);
    int32_t *remap = malloc((b->n_prompts + 1) * sizeof *remap);
    int32_t *offsets = NULL;
    uint8_t *cell = NULL;
    float *cell_weight = NULL, *scale8 = NULL, *sims = NULL, *gamma = NULL;
    uint16_t *emb16 = NULL;
    int8_t *emb8 = NULL;
    struct val_item *order = NULL;
    double *cw = NULL;
    if (!model_tier || !model_rating || !remap)
        goto oom;

    int iters = 0;
    int T = rl__train_tiers(c, p->n_tiers, model_rating, model_tier, &iters);
    if (T < 0) {
        rc = T;
        goto done;
    }
    int anchor = rl_battles_find_model(b, RL_TRAIN_ANCHOR_MODEL);

    // Stored prompts: those of every training battle, in battle order. A prompt whose battles
    // are all within one tier adds nothing to the cells but still counts in max s, as every
    // battle does in the original.
    size_t n_store = 0, n_cross = 0;
    for (size_t i = 0; i < b->n_prompts; i++)
        remap[i] = -1;
    for (size_t i = 0; i < b->n; i++) {
        const struct rl_battle *x = &b->items[i];
        if (c->held_out[i])
            continue;
        n_cross += model_tier[x->model_a] != model_tier[x->model_b];
        if (remap[x->prompt] < 0)
            remap[x->prompt] = (int32_t)n_store++;
    }
    if (n_cross == 0) {
        rc = rl__errf(c->errbuf, RL_EINVAL, "sw_ranking: no training battle between two tiers");
        goto done;
    }
    // Cell weights per stored prompt: a dense (n_store, T²) pass, then compressed to CSR.
    cw = calloc(n_store * (size_t)(T * T) * 2, sizeof *cw);
    offsets = malloc((n_store + 1) * sizeof *offsets);
    if (!cw || !offsets)
        goto oom;
    for (size_t i = 0; i < b->n; i++) {
        const struct rl_battle *x = &b->items[i];
        int ta = model_tier[x->model_a], tb = model_tier[x->model_b];
        if (c->held_out[i] || ta == tb)
            continue;
        double *row = cw + (size_t)remap[x->prompt] * (size_t)(T * T) * 2;
        // Reuse add_rows on a (T, T) pair of planes: win plane then loss plane.
        rl__bt_add_rows(row, row + T * T, T, ta, tb, x->outcome, x->weight);
    }
    size_t nnz = 0;
    for (size_t i = 0; i < n_store; i++)
        for (int k = 0; k < T * T; k++)
            nnz += cw[i * (size_t)(T * T) * 2 + (size_t)k] != 0 ||
                   cw[i * (size_t)(T * T) * 2 + (size_t)(T * T + k)] != 0;
    cell = malloc(nnz ? nnz : 1);
    cell_weight = malloc((nnz ? nnz : 1) * 2 * sizeof *cell_weight);
    if (!cell || !cell_weight)
        goto oom;
    nnz = 0;
    for (size_t i = 0; i < n_store; i++) {
        offsets[i] = (int32_t)nnz;
        const double *row = cw + i * (size_t)(T * T) * 2;
        for (int k = 0; k < T * T; k++) {
            if (row[k] == 0 && row[T * T + k] == 0)
                continue;
            cell[nnz] = (uint8_t)k;
            cell_weight[2 * nnz] = (float)row[k];
            cell_weight[2 * nnz + 1] = (float)row[T * T + k];
            nnz++;
        }
    }
    offsets[n_store] = (int32_t)nnz;

    // Prompt embeddings, compact.
    if (p->sw_int8) {
        emb8 = malloc(n_store * (size_t)D);
        scale8 = malloc(n_store * sizeof *scale8);
        if (!emb8 || !scale8)
            goto oom;
    } else {
        emb16 = malloc(n_store * (size_t)D * sizeof *emb16);
        if (!emb16)
            goto oom;
    }
    for (size_t i = 0; i < b->n_prompts; i++) {
        if (remap[i] < 0)
            continue;
        const float *e = c->emb + i * (size_t)D;
        size_t r = (size_t)remap[i];
        if (emb16) {
            for (int d = 0; d < D; d++)
                emb16[r * D + d] = rl__f32_to_f16(e[d]);
        } else {
            float mx = 0;
            for (int d = 0; d < D; d++)
                mx = fmaxf(mx, fabsf(e[d]));
            float sc = mx > 0 ? mx / 127.0f : 1.0f;
            scale8[r] = sc;
            for (int d = 0; d < D; d++)
                emb8[r * D + d] = (int8_t)lrintf(e[d] / sc);
        }
    }

    // Validation on held-out battles across two tiers: each distinct prompt is scored once.
    struct rl_swr s = {
        .n_prompts = (int)n_store,
        .dim = D,
        .n_tiers = T,
        .n_models = M,
        .gamma = GAMMA,
        .emb16 = emb16,
        .emb8 = emb8,
        .scale8 = scale8,
        .model_tier = model_tier,
        .offsets = offsets,
        .cell = cell,
        .cell_weight = cell_weight,
        .simd = rl__swr_simd_supported(),
    };
    sims = malloc(n_store * sizeof *sims);
    order = malloc((b->n + 1) * sizeof *order);
    if (!sims || !order)
        goto oom;
    size_t n_val = 0, right = 0, n_val_all = 0;
    double val_loss = 0, val_w = 0;
    // Group held-out battles by prompt so each prompt's tier fit is computed once.
    for (size_t i = 0; i < b->n; i++)
        if (c->held_out[i]) {
            n_val_all++;
            const struct rl_battle *x = &b->items[i];
            if (model_tier[x->model_a] != model_tier[x->model_b])
                order[n_val++] = (struct val_item){x->prompt, i};
        }
    qsort(order, n_val, sizeof *order, by_prompt);
    double tb_beta[RL_SWR_MAX_TIERS];
    int64_t last_prompt = -1;
    size_t n_decisive = 0;
    struct rl_train_progress prog = {.epoch = 1, .n_epochs = 1, .n_steps = n_val};
    for (size_t k = 0; k < n_val; k++) {
        const struct rl_battle *x = &b->items[order[k].battle];
        if ((int64_t)x->prompt != last_prompt) {
            rc = rl__swr_tier_beta(&s, c->emb + (size_t)x->prompt * D, sims, tb_beta);
            if (rc != RL_OK) {
                rl__errf(c->errbuf, rc, "sw_ranking: validation fit failed");
                goto done;
            }
            last_prompt = x->prompt;
        }
        double pa = rl__swr_p(&s, tb_beta, (int)x->model_a, (int)x->model_b);
        pa = fmin(fmax(pa, 1e-7), 1 - 1e-7);
        double y = x->outcome == RL_OUTCOME_A_WINS ? 1 : x->outcome == RL_OUTCOME_B_WINS ? 0 : 0.5;
        val_loss += x->weight * -(y * log(pa) + (1 - y) * log(1 - pa));
        val_w += x->weight;
        if (y != 0.5) {
            n_decisive++;
            right += (pa > 0.5) == (y == 1);
        }
        prog.step = k + 1;
        if (p->progress && (k % 256 == 0 || k + 1 == n_val))
            p->progress(p->progress_ctx, &prog);
    }
    prog.epoch_done = true;
    prog.val_loss = val_w > 0 ? val_loss / val_w : NAN;
    prog.val_acc = n_decisive ? (double)right / (double)n_decisive : NAN;
    if (p->progress)
        p->progress(p->progress_ctx, &prog);

    int strong_tier = model_tier[c->strong], weak_tier = model_tier[c->weak];
    snprintf(out->hyper, sizeof out->hyper,
             "{\"n_tiers\":%d,\"gamma\":%g,\"storage\":\"%s\",\"holdout\":%g,"
             "\"same_tier_battles\":\"dropped\",\"anchor\":\"%s\"}",
             T, (double)GAMMA, emb16 ? "fp16" : "int8", p->holdout,
             anchor >= 0 ? RL_TRAIN_ANCHOR_MODEL : "none");
    snprintf(out->metrics, sizeof out->metrics,
             "{\"stored_prompts\":%zu,\"cells\":%zu,\"elo_iterations\":%d,"
             "\"strong_tier\":%d,\"weak_tier\":%d,\"val_battles\":%zu,\"val_cross_tier\":%zu,"
             "\"val_loss\":%.6f,\"val_acc\":%.6f}",
             n_store, nnz, iters, strong_tier, weak_tier, n_val_all, n_val,
             isnan(prog.val_loss) ? -1 : prog.val_loss, isnan(prog.val_acc) ? -1 : prog.val_acc);

    gamma = malloc(sizeof *gamma);
    if (!gamma)
        goto oom;
    *gamma = GAMMA;
    const int64_t N = (int64_t)n_store, NNZ = (int64_t)nnz;
    const struct rl_train_tensor t[] = {
        {"model_tier", RL_DTYPE_I32, 1, {M}, model_tier},
        {"model_rating", RL_DTYPE_F32, 1, {M}, model_rating},
        {"gamma", RL_DTYPE_F32, 1, {1}, gamma},
        {"prompt_emb", RL_DTYPE_F16, 2, {N, D}, emb16},
        {"prompt_emb_i8", RL_DTYPE_I8, 2, {N, D}, emb8},
        {"prompt_scale", RL_DTYPE_F32, 1, {N}, scale8},
        {"cell_offsets", RL_DTYPE_I32, 1, {N + 1}, offsets},
        {"cell_index", RL_DTYPE_U8, 1, {NNZ}, cell},
        {"cell_weight", RL_DTYPE_F32, 2, {NNZ, 2}, cell_weight},
    };
    // Every buffer passes to out, whether or not it can hold them all.
    rc = rl__train_out_take(out, t, RL_COUNTOF(t));
    model_tier = NULL;
    model_rating = NULL;
    gamma = NULL;
    emb16 = NULL;
    emb8 = NULL;
    scale8 = NULL;
    offsets = NULL;
    cell = NULL;
    cell_weight = NULL;
    if (rc != RL_OK)
        rl__errf(c->errbuf, rc, "sw_ranking: cannot collect the tensors");
    goto done;
oom:
    rc = rl__errf(c->errbuf, RL_ENOMEM, "sw_ranking: out of memory");
done:
    free(model_tier);
    free(model_rating);
    free(remap);
    free(offsets);
    free(cell);
    free(cell_weight);
    free(scale8);
    free(emb16);
    free(emb8);
    free(sims);
    free(order);
    free(cw);
    free(gamma);
    return rc;
}
