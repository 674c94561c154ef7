// Global Bradley-Terry/Elo ratings of the models and their tiers (RouteLLM §2.2 steps 3-4),
// used by the SW-ranking trainer (tiers define the per-query cells) and the BERT-head trainer
// (tiers say which side of a battle is the stronger model).
#include <stdlib.h>

#include "core/core.h"
#include "routers/bt.h"
#include "train/train_impl.h"

struct rank {
    double rating;
    int model;
};

static int rank_cmp(const void *x, const void *y) {
    const struct rank *a = x, *b = y;
    if (a->rating != b->rating)
        return a->rating > b->rating ? -1 : 1;
    return a->model - b->model;
}

int rl__train_tiers(const struct rl_train_ctx *c, int n_tiers, float *rating, int32_t *tier,
                    int *elo_iterations) {
    const struct rl_battles *b = c->b;
    const int M = (int)b->n_models;
    if (M > RL_TRAIN_MAX_RATED)
        return rl__errf(c->errbuf, RL_ETOOBIG, "more than %d models to rate", RL_TRAIN_MAX_RATED);
    double *win = calloc((size_t)M * M, sizeof *win), *loss = calloc((size_t)M * M, sizeof *loss);
    double *beta = malloc((size_t)M * sizeof *beta);
    double *scratch = malloc((size_t)rl__bt_scratch_size(M) * sizeof *scratch);
    struct rank *ranks = malloc((size_t)M * sizeof *ranks);
    double *sorted = malloc((size_t)M * sizeof *sorted);
    int *sorted_tier = malloc((size_t)M * sizeof *sorted_tier);
    int rc;
    if (!win || !loss || !beta || !scratch || !ranks || !sorted || !sorted_tier) {
        rc = rl__errf(c->errbuf, RL_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < b->n; i++)
        if (!c->held_out[i])
            rl__bt_add_rows(win, loss, M, (int)b->items[i].model_a, (int)b->items[i].model_b,
                            b->items[i].outcome, b->items[i].weight);
    rc = rl__bt_fit(M, win, loss, beta, scratch);
    if (rc < 0) {
        rl__errf(c->errbuf, rc, "battle weights are not finite");
        goto done;
    }
    *elo_iterations = rc;
    double shift = RL_BT_INIT;
    int anchor = rl_battles_find_model(b, RL_TRAIN_ANCHOR_MODEL);
    if (anchor >= 0)
        shift = RL_TRAIN_ANCHOR_RATING - RL_BT_SCALE * beta[anchor];
    for (int m = 0; m < M; m++) {
        rating[m] = (float)(RL_BT_SCALE * beta[m] + shift);
        ranks[m] = (struct rank){rating[m], m};
    }
    qsort(ranks, (size_t)M, sizeof *ranks, rank_cmp);
    for (int m = 0; m < M; m++)
        sorted[m] = ranks[m].rating;
    rc = rl__bt_tiers(sorted, M, n_tiers, sorted_tier);
    if (rc < 0) {
        rl__errf(c->errbuf, rc, "out of memory");
        goto done;
    }
    for (int m = 0; m < M; m++)
        tier[ranks[m].model] = sorted_tier[m];
done:
    free(win);
    free(loss);
    free(beta);
    free(scratch);
    free(ranks);
    free(sorted);
    free(sorted_tier);
    return rc;
}
