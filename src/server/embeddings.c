// POST /v1/embeddings, answered by the proxy itself from the local encoder that routing uses:
// the body is checked (srv_embeddings_parse), each text is looked up in the embedder's cache
// and the misses go to the encoder workers (embed.c) in their batched passes, while the request
// waits, suspended, like one waiting on a routing embedding. Once every text is in, the answer is
// written in OpenAI's shape. Nothing here runs an encoder pass on the loop thread.
//
// It calls no upstream and does no routing. A server that loaded no encoder (no router of its
// configuration embeds) answers 404: it has no embedding model.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/server_impl.h"

// Every text is in: write the answer.
static void finish(struct srv_request *q) {
    struct srv_embeddings *r = &q->emb;
    const struct rl_encoder *enc = q->s->encoders[0].enc;
    size_t dim = rl_encoder_dim(enc);
    struct rl_buf b;
    rl_buf_init(&b, srv_embeddings_answer_max(r->n, dim, rl_encoder_name(enc)));
    if (srv_embeddings_answer(&b, r->out, r->n, dim, r->base64, rl_encoder_name(enc), r->tokens) !=
        RL_OK) {
        rl_buf_free(&b);
        srv__answer_error(q, 500, "out of memory while writing the embeddings", "server_error",
                          NULL, NULL);
        return;
    }
    q->reply.have_usage = true;
    q->reply.prompt_tokens = r->tokens;
    q->reply.completion_tokens = 0;
    srv__embeddings_free(q);
    srv__answer(q, 200, &b, "application/json");
}

// Keep text i's embedding; the last one finishes the request.
static void keep(struct srv_request *q, size_t i, const float *embedding, int n_tokens) {
    struct srv_embeddings *r = &q->emb;
    size_t dim = rl_encoder_dim(q->s->encoders[0].enc);
    memcpy(r->out + i * dim, embedding, dim * sizeof *r->out);
    r->tokens += n_tokens;
    if (--r->left == 0)
        finish(q);
}

static void on_embedded(struct srv_embed_waiter *w, const float *embedding, int status) {
    struct srv_embed_slot *slot = (struct srv_embed_slot *)w;
    struct srv_request *q = slot->q;
    if (status != RL_OK) {
        srv__embeddings_stop(q);
        srv__answer_error(q, 500, "the encoder failed to embed the input", "server_error", NULL,
                          NULL);
        return;
    }
    keep(q, slot->i, embedding, w->n_tokens);
}

static void answer_refusal(struct srv_request *q, const struct srv_refusal *why) {
    srv__answer_error(q, why->status, why->message, "invalid_request_error", why->param, why->code);
}

void srv__embeddings(struct srv_request *q) {
    struct srv_server *s = q->s;
    if (!s->encoders[0].emb) {
        srv__answer_error(q, 404,
                          "this server loaded no encoder (none of its routers embeds prompts), so "
                          "it serves no embeddings; offer a router such as mf and restart it",
                          "invalid_request_error", "model", "embeddings_unavailable");
        return;
    }
    json_t *j = srv__body_json(q);
    if (!j)
        return;
    q->routing.json = j; // freed with the request on every early return
    size_t dim = rl_encoder_dim(s->encoders[0].enc);
    struct srv_embeddings_req req;
    struct srv_refusal why;
    if (srv_embeddings_parse(j, rl_encoder_name(s->encoders[0].enc), dim, &req, &why) != RL_OK) {
        answer_refusal(q, &why);
        return;
    }
    struct srv_embeddings *r = &q->emb;
    r->slots = calloc(req.n, sizeof *r->slots);
    r->out = malloc(req.n * dim * sizeof *r->out);
    if (!r->slots || !r->out) {
        srv__answer_error(q, 500, "out of memory", "server_error", NULL, NULL);
        return;
    }
    r->n = r->left = req.n;
    r->base64 = req.base64;
    rl_buf_free(&q->client.body);
    for (size_t i = 0; i < req.n; i++) {
        struct srv_embed_slot *slot = &r->slots[i];
        slot->q = q;
        slot->i = i;
        slot->w.cb = on_embedded;
        size_t len;
        const char *text = srv_embeddings_input(&req, i, &len);
        const float *embedding = NULL;
        int rc = srv_embedder_get(s->encoders[0].emb, text, len, &slot->w, &embedding);
        if (rc < 0) {
            srv__embeddings_stop(q);
            srv__answer_error(q, 500, "out of memory while embedding", "server_error", NULL, NULL);
            return;
        }
        if (rc == 1)
            keep(q, i, embedding, slot->w.n_tokens); // the last one answers
    }
    // The texts were copied into the cache's entries: the parsed body is no longer needed.
    json_decref(q->routing.json);
    q->routing.json = NULL;
    if (r->left)
        q->state = SRV_EMBEDDING;
}

void srv__embeddings_stop(struct srv_request *q) {
    struct srv_embeddings *r = &q->emb;
    for (size_t i = 0; r->slots && i < r->n; i++)
        srv_embedder_cancel(q->s->encoders[0].emb, &r->slots[i].w);
}

void srv__embeddings_free(struct srv_request *q) {
    srv__embeddings_stop(q);
    free(q->emb.slots);
    free(q->emb.out);
    q->emb.slots = NULL;
    q->emb.out = NULL;
}
