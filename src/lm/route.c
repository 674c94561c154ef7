// The causal LM as the causal_llm router's encoder (lm/route.h).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encoder/kernels.h"
#include "lm/route.h"

int rl__lm_encoder_open(const char *path, enum rl_precision precision, struct rl__lm_encoder *e,
                        char *errbuf) {
    memset(e, 0, sizeof *e);
    int rc = rl__lm_open(path, precision, &e->lm, errbuf);
    if (rc != RL_OK)
        return rc;
    char inner[RL_ERRBUF_SIZE] = "";
    struct rl__lm_ids head = {0};
    rc = rl__lm_vocab_load(&e->lm.file, path, &e->vocab, inner);
    if (rc == RL_OK && (size_t)e->lm.n_vocab < e->vocab.n_tokens)
        rc = rl__errf(inner, RL_EFORMAT, "the vocabulary has %zu tokens, the model %d",
                      e->vocab.n_tokens, e->lm.n_vocab);
    if (rc == RL_OK)
        rc = rl__lm_route_head(&e->lm.file, &e->vocab, &head, inner);
    // The head, the longest question kept and the tail must fit the model's context.
    if (rc == RL_OK && (int)head.n + RL_LM_ROUTE_MAX_TEXT + 32 > e->lm.n_ctx)
        rc = rl__errf(inner, RL_EUNSUPPORTED, "a context of %d tokens is too short for routing",
                      e->lm.n_ctx);
    if (rc == RL_OK)
        rc = rl__lm_prefix_new(&e->lm, head.p, (int)head.n, &e->head, inner);
    free(head.p);
    if (rc != RL_OK) {
        rl__lm_encoder_free(e);
        return rl__errf(errbuf, rc, "%s: %s", path, inner);
    }
    return RL_OK;
}

void rl__lm_encoder_free(struct rl__lm_encoder *e) {
    if (!e)
        return;
    rl__lm_prefix_free(&e->head);
    rl__lm_vocab_free(&e->vocab);
    rl__lm_free(&e->lm);
}

int rl__lm_encoder_embed(const struct rl__lm_encoder *e, const char *text, size_t len, float *out,
                         size_t *n_tokens, char *errbuf) {
    struct rl__lm_ids body = {0};
    int n_text = 0;
    int rc = rl__lm_route_body(&e->lm.file, &e->vocab, text, len, RL_LM_ROUTE_MAX_TEXT, &body,
                               &n_text, errbuf);
    if (rc == RL_OK)
        rc = rl__lm_forward(&e->lm, &e->head, body.p, (int)body.n, NULL, out, errbuf);
    if (rc == RL_OK) {
        rl__l2_normalize(out, e->lm.n_embd);
        if (n_tokens)
            *n_tokens = (size_t)e->head.n + body.n;
    }
    free(body.p);
    return rc;
}
