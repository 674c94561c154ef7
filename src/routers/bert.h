// Internal interface of the BERT-style classifier router, shared with its trainer: a two-layer
// head on the encoder's pooled embedding, three classes (0 strong wins, 1 tie, 2 weak wins). The
// causal_llm router is the same head on a causal LM's hidden state, standardised first.
#ifndef RL_SRC_ROUTERS_BERT_H
#define RL_SRC_ROUTERS_BERT_H

#define RL_BERT_CLASSES 3

// Head parameters W₁ (H, D), b₁ (H), W₂ (3, H), b₂ (3); rl__bert_n_params counts them all.
// mean and std (D each, causal_llm) standardise the input first; NULL for bert.
struct rl_bert_head {
    int dim, hidden; // the head's input width and its hidden units
    const float *w1, *b1, *w2, *b2;
    const float *mean, *std;
    // causal_llm's score-token variant: the score tokens' output rows (RL_ENCODER_SCORE_TOKENS ×
    // in_dim); the head's input is then their centred logits at the embedding (dim of them).
    const float *score_rows;
    int in_dim;
};

static inline unsigned long rl__bert_n_params(int D, int H) {
    return (unsigned long)H * D + H + RL_BERT_CLASSES * H + RL_BERT_CLASSES;
}

// Logits (3) of one embedding (turned into score logits when h->score_rows is set, standardised
// when h->mean is); hidden receives the H post-GELU activations.
void rl__bert_forward(const struct rl_bert_head *h, const float *e, float *hidden, double *logits);

#endif
