// Internal interface of the similarity-weighted ranking router, shared with its trainer: the
// compact model (tiers, stored prompt embeddings, per-prompt tier-cell counts) and the per-query
// tier fit.
#ifndef RL_SRC_ROUTERS_SWR_H
#define RL_SRC_ROUTERS_SWR_H

#include <stdbool.h>
#include <stdint.h>

#include "rl/core.h"
#include "rl/train.h"

#define RL_SWR_MAX_TIERS RL_TRAIN_MAX_TIERS
// Embedding width a multiple of this: the AVX2 scan reads 16 components a step.
#define RL_SWR_DIM_STEP 16

struct rl_swr {
    int n_prompts;             // N stored training prompts
    int dim;                   // D
    int n_tiers;               // T
    int n_models;              // M
    float gamma;               // weight base γ (10 in the paper)
    const uint16_t *emb16;     // (N, D) fp16 unit vectors, or NULL
    const int8_t *emb8;        // (N, D) int8, row i scaled by scale8[i], or NULL
    const float *scale8;       // (N)
    const int32_t *model_tier; // (M) tier of each model, 0 = best
    const int32_t *offsets;    // (N + 1) CSR over cells per prompt
    const uint8_t *cell;       // (nnz) ta·T + tb, ta != tb
    const float *cell_weight;  // (nnz, 2) weight of rows "ta won" and "ta lost"
    bool simd;                 // use the AVX2/F16C scan
};

// Per-query tier ratings (RouteLLM §2.2): similarities s to every stored prompt, weights
// γ^(1 + s / max s), weighted Bradley-Terry over the tier cells. sims is scratch of N floats;
// beta receives T values (ratings are 400·beta + 1000). RL_OK or RL_EINVAL.
int rl__swr_tier_beta(const struct rl_swr *s, const float *e, float *sims, double *beta);

// P(strong beats weak) from tier betas: 1 − 1/(1 + 10^((R_s − R_w)/400)).
double rl__swr_p(const struct rl_swr *s, const double *beta, int strong, int weak);

bool rl__swr_simd_supported(void);

#endif
