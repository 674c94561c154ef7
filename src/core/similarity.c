// The one similarity kernel: for each row of a set of unit embeddings, its nearest row of another
// set by cosine (a dot product, the rows being unit norm). Decontamination uses it both ways:
// `train --exclude` drops training prompts near an excluded text, and the evaluation drops
// benchmark prompts near a router's training prompts (RouteLLM's find_contaminated.py, cosine
// >= 0.95). The similarity matrix comes in blocks of one OpenBLAS SGEMM each, so it is never held
// whole. A block's values depend on its shape (the library's kernels accumulate edge tiles in
// another order), so the block is fixed here, once for every caller.
#include <cblas.h>
#include <float.h>
#include <stdlib.h>

#include "core/core.h"

#define BLOCK 1024 // rows of a and of b per SGEMM: 4 MiB of similarities

int rl__max_cosine(const float *a, size_t n_a, const float *b, size_t n_b, size_t dim, float *max,
                   size_t *arg) {
    for (size_t i = 0; i < n_a; i++) {
        max[i] = -FLT_MAX;
        if (arg)
            arg[i] = 0;
    }
    if (n_a == 0 || n_b == 0 || dim == 0)
        return RL_OK;
    float *sim = malloc((size_t)BLOCK * BLOCK * sizeof *sim);
    if (!sim)
        return RL_ENOMEM;
    const int D = (int)dim;
    for (size_t i0 = 0; i0 < n_a; i0 += BLOCK) {
        size_t ni = n_a - i0 < BLOCK ? n_a - i0 : BLOCK;
        for (size_t j0 = 0; j0 < n_b; j0 += BLOCK) {
            size_t nj = n_b - j0 < BLOCK ? n_b - j0 : BLOCK;
            // sim (ni, nj) = a[i0 : i0 + ni] (ni, D) · b[j0 : j0 + nj]ᵀ (D, nj)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)ni, (int)nj, D, 1.0f,
                        a + i0 * dim, D, b + j0 * dim, D, 0.0f, sim, (int)nj);
            for (size_t i = 0; i < ni; i++) {
                const float *row = sim + i * nj;
                for (size_t j = 0; j < nj; j++) {
                    if (row[j] > max[i0 + i]) {
                        max[i0 + i] = row[j];
                        if (arg)
                            arg[i0 + i] = j0 + j;
                    }
                }
            }
        }
    }
    free(sim);
    return RL_OK;
}
