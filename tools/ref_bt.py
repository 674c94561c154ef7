#!/usr/bin/env python3
"""Reference fixtures for the Bradley-Terry code (tests/unit/routers/bt.c, swr.c).

Run from the repository root:
    pip install numpy scikit-learn          # any recent versions
    python3 tools/ref_bt.py > tests/data/routers/bt_fixture.json

It writes, from fixed seeds:
  "elo":  battles among 6 models (outcome 0 = A wins, 1 = B wins, 2 = tie, weights) and the
          coefficients of RouteLLM's compute_elo_mle_with_tie: every battle duplicated, a tie
          labelled 1 in one copy and 0 in the other, X[a] = +ln 10, X[b] = -ln 10, fitted by
          scikit-learn LogisticRegression without penalty or intercept, with sample weights.
  "swr":  a small SW-ranking problem: stored unit embeddings, battles (prompt, tier_a, tier_b,
          outcome, weight) between different tiers, query embeddings, and for each query the tier
          coefficients of the same regression weighted by 10 ** (1 + s / max s) (RouteLLM
          section 2.2), with s the cosine similarity of the query to the battle's prompt.
"""
import json
import math

import numpy as np
from sklearn.linear_model import LogisticRegression


def fit(n, rows, weights):
    """rows: (a, b, outcome); returns the sum-zero coefficient vector."""
    X, y, w = [], [], []
    for (a, b, o), wt in zip(rows, weights):
        x = np.zeros(n)
        x[a] = math.log(10)
        x[b] = -math.log(10)
        for copy in range(2):
            X.append(x)
            y.append(1 if o == 0 or (o == 2 and copy == 0) else 0)
            w.append(wt)
    # C = inf is "no penalty" (penalty=None is deprecated in recent scikit-learn).
    lr = LogisticRegression(C=np.inf, fit_intercept=False, tol=1e-12, max_iter=100000)
    lr.fit(np.array(X), np.array(y), sample_weight=np.array(w))
    beta = lr.coef_[0]
    return beta - beta.mean()


def main():
    rng = np.random.default_rng(1234)
    n = 6
    strength = np.array([1.2, 0.8, 0.5, 0.0, -0.4, -1.0])
    battles, weights = [], []
    for _ in range(400):
        a, b = rng.choice(n, size=2, replace=False)
        p = 1 / (1 + 10 ** (-(strength[a] - strength[b])))
        u = rng.random()
        o = 2 if rng.random() < 0.15 else (0 if u < p else 1)
        battles.append((int(a), int(b), o))
        weights.append(float(rng.choice([1.0, 0.5, 2.0])))
    elo = {"n": n, "battles": [list(x) + [w] for x, w in zip(battles, weights)],
           "beta": fit(n, battles, weights).tolist()}

    T, N, D = 4, 12, 16
    emb = rng.normal(size=(N, D))
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    emb = emb.astype(np.float16).astype(np.float64)  # the router stores fp16
    sw_battles = []
    for _ in range(150):
        i = int(rng.integers(N))
        ta, tb = rng.choice(T, size=2, replace=False)
        p = 1 / (1 + 10 ** (-(0.3 * (tb - ta)) * (1 + emb[i, 0])))
        o = 2 if rng.random() < 0.1 else (0 if rng.random() < p else 1)
        sw_battles.append((i, int(ta), int(tb), o, float(rng.choice([1.0, 0.5]))))
    queries, betas = [], []
    for _ in range(3):
        q = rng.normal(size=D)
        q /= np.linalg.norm(q)
        s = emb @ q
        w = 10 ** (1 + s / s.max())
        rows = [(ta, tb, o) for (_, ta, tb, o, _) in sw_battles]
        wts = [wt * w[i] for (i, _, _, _, wt) in sw_battles]
        queries.append(q.tolist())
        betas.append(fit(T, rows, wts).tolist())
    swr = {"n_tiers": T, "dim": D, "emb": emb.tolist(),
           "battles": [list(x) for x in sw_battles], "queries": queries, "beta": betas}
    json.dump({"elo": elo, "swr": swr}, fp=__import__("sys").stdout)


if __name__ == "__main__":
    main()
