// Internal interface of the MF router shared with its trainer.
#ifndef RL_SRC_ROUTERS_MF_H
#define RL_SRC_ROUTERS_MF_H

// Collapse MF parameters into one vector per model: v[m] = W₁ᵀ(P̂[m] ⊙ w₂).
// p (M, H), w1 (H, D), w2 (H), v (M, D) out.
void rl__mf_collapse(const float *p, const float *w1, const float *w2, int n_models, int hidden,
                     int dim, float *v);

#endif
