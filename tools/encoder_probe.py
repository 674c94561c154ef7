#!/usr/bin/env python3
"""Screen a candidate sentence encoder on the validation suite's folds before building it in C.

    python3 -m venv .venv-probe && .venv-probe/bin/pip install numpy scipy scikit-learn \\
        sentence-transformers
    .venv-probe/bin/python tools/encoder_probe.py --encoder all-MiniLM-L6-v2=models/all-MiniLM-L6-v2 \\
        --encoder all-mpnet-base-v2=DIR [--alpaca-together]

The sources are those of data/suite/default.yaml (RouterDC's six groups, MMLU-Pro's six, the
arena_bench_v1 scores, the two AlpacaEval tables held out together), read from data/train. Each
encoder's embeddings of every prompt come from sentence-transformers (kept in
.cache/probe/<name>.npz). Two probes, leave-one-source-out, each on the embedding with and
without a Python approximation of the prompt features of rl/features.h (the probe needs their
kind of signal, not their exact values):

  rho   Spearman correlation, within each held-out source, between a ridge regression's
        prediction of an item's difficulty and its difficulty b fitted by a two-parameter IRT
        model on every model of the source (free item parameters);
  apgr  mean APGR (RouteLLM's protocol) over the suite's pairs of a ridge regression of the
        "generic gain" (the mean quality difference over the source's pairs, standardised), fitted
        within each training source.

What it screens for is a gain from the encoder alone; the routers themselves are measured by
`routellm validate` on encoders the C engine runs. Standard output: one line per encoder and
input. Deterministic.
"""
import argparse
import csv
import gzip
import json
import math
import os
import re
import sys

import numpy as np
from scipy.stats import spearmanr
from sklearn.linear_model import Ridge

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
T = os.path.join(ROOT, "data", "train")


def read_csv(path, skip=()):
    with gzip.open(path, "rt", encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    head = rows[0]
    p = head.index("prompt")
    cols = [i for i, h in enumerate(head) if i != p and h not in skip]
    prompts = [r[p].strip() for r in rows[1:]]
    q = np.array([[float(r[i]) if r[i] != "" else np.nan for i in cols] for r in rows[1:]])
    return prompts, [head[i] for i in cols], q


def read_routerdc(names):
    prompts, rows = [], []
    for n in names:
        with gzip.open(os.path.join(T, "routerdc", n + ".json.gz"), "rt") as f:
            for r in json.load(f):
                s = r["scores"]
                rows.append(json.loads(s.replace("'", '"')) if isinstance(s, str) else s)
                prompts.append(r["question"].strip())
    models = sorted(rows[0])
    return prompts, models, np.array([[float(r.get(m, np.nan)) for m in models] for r in rows])


def sources(alpaca_together=True):
    s = {}
    for g, files in {"arc": ["arc_challenge_train", "arc_easy_train"], "math": ["MATH_prealgebra"],
                     "gsm8k-train": ["gsm8k-train"], "ceval": ["ceval"], "cmmlu": ["cmmlu_train"],
                     "code": ["humaneval_train", "mbpp", "javascript"]}.items():
        s["routerdc/" + g] = [read_routerdc(files)]
    for g in ("chemistry", "engineering", "physics", "business_economics", "math_cs",
              "biology_psychology"):
        s["mmlu_pro/" + g] = [read_csv(os.path.join(T, "mmlu_pro", g + ".csv.gz"),
                                       skip=("question_id", "category", "src"))]
    p, m, q = read_csv(os.path.join(T, "arena_bench_v1", "scores.csv.gz"), skip=("question_id",))
    s["arena_bench"] = [(p, m, (q - 1) / 9)]
    al = [read_csv(os.path.join(T, "alpaca_eval", f"quality_v{v}.csv.gz")) for v in (2, 1)]
    s["alpaca_eval"] = al
    return s


NUM = re.compile(r"\d+(?:[\.,]\d+)?")


def features(t):
    n = max(len(t), 1)
    return [math.log1p(len(t.encode())), math.log1p(len(t.split())), math.log1p(t.count("\n") + 1),
            sum(c.isdigit() for c in t) / n, math.log1p(len(NUM.findall(t))),
            sum(c in "=+-*/^<>$" for c in t) / n, math.log1p(t.count("{") + t.count("}")),
            math.log1p(t.count("?")), sum(ord(c) > 127 for c in t) / n]


def pairs(q, cap=10, min_gap=0.02, cover=0.9):
    ok = [j for j in range(q.shape[1]) if (~np.isnan(q[:, j])).mean() >= cover]
    c = []
    for s in ok:
        for w in ok:
            both = ~np.isnan(q[:, s]) & ~np.isnan(q[:, w])
            if s != w and both.any():
                g = (q[both, s] - q[both, w]).mean()
                if g >= min_gap:
                    c.append((g, s, w))
    c.sort()
    if len(c) > cap:
        c = [c[round(i * (len(c) - 1) / (cap - 1))] for i in range(cap)]
    return [(s, w) for _, s, w in c]


def apgr(scores, qs, qw, k=10):
    edges = np.quantile(scores, np.linspace(0, 1, k + 1))
    pts = []
    for i, e in enumerate(edges):
        m = scores > e if i == k else scores >= e
        pts.append((m.mean(), np.where(m, qs, qw).mean()))
    pts.sort()
    c, r = np.array([p[0] for p in pts]), np.array([p[1] for p in pts])
    auc = float(np.sum((c[1:] - c[:-1]) * (r[1:] + r[:-1]) / 2))
    return (auc - qw.mean()) / (qs.mean() - qw.mean())


def fit2pl(y, mask, epochs=400, lr=0.05, l2=1e-2):
    n, m = y.shape
    par = [np.zeros(n), np.zeros(n), np.zeros(m)]
    m1 = [np.zeros_like(p) for p in par]
    m2 = [np.zeros_like(p) for p in par]
    for t in range(1, epochs + 1):
        a = np.exp(par[0])
        d = par[2][None, :] - par[1][:, None]
        p = 1 / (1 + np.exp(-a[:, None] * d))
        r = (p - y) * mask
        g = [(r * d).sum(1) * a + l2 * par[0], -(r * a[:, None]).sum(1) + l2 * par[1],
             (r * a[:, None]).sum(0)]
        for i in range(3):
            m1[i] = 0.9 * m1[i] + 0.1 * g[i]
            m2[i] = 0.999 * m2[i] + 0.001 * g[i] ** 2
            par[i] -= lr * m1[i] / (1 - 0.9 ** t) / (np.sqrt(m2[i] / (1 - 0.999 ** t)) + 1e-8)
    return par[1]


def embed(name, model_dir, texts):
    path = os.path.join(ROOT, ".cache", "probe", name + ".npz")
    if os.path.exists(path):
        z = np.load(path, allow_pickle=True)
        got = dict(zip(z["texts"], z["emb"]))
        if all(t in got for t in texts):
            return np.stack([got[t] for t in texts])
    from sentence_transformers import SentenceTransformer
    m = SentenceTransformer(model_dir, device="cpu")
    order = np.argsort([len(t) for t in texts])
    e = np.zeros((len(texts), m.get_sentence_embedding_dimension()), np.float32)
    e[order] = m.encode([texts[i] for i in order], batch_size=32, normalize_embeddings=True)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    np.savez(path, texts=np.array(texts, dtype=object), emb=e)
    return e


def probe(src, X):
    """(mean rho, mean APGR) leave-one-source-out for inputs X[name] (list per table)."""
    names = list(src)
    rhos, apgrs = [], []
    for held in names:
        train = [n for n in names if n != held]
        allx = np.concatenate([x for n in train for x in X[n]])
        mu, sd = allx.mean(0), allx.std(0) + 1e-6
        std = {n: [(x - mu) / sd for x in X[n]] for n in names}
        xt = np.concatenate([z - z.mean(0) for n in train for z in std[n]])
        yb = np.concatenate([DIFF[n][i] - DIFF[n][i].mean() for n in train
                             for i in range(len(src[n]))])
        yg = np.concatenate([GAIN[n][i] for n in train for i in range(len(src[n]))])
        mb = Ridge(alpha=30, fit_intercept=False).fit(xt, yb)
        mg = Ridge(alpha=10, fit_intercept=False).fit(xt, yg)
        for i, (_, _, q) in enumerate(src[held]):
            rhos.append(spearmanr(std[held][i] @ mb.coef_, DIFF[held][i]).correlation)
            sc = std[held][i] @ mg.coef_
            for s, w in pairs(q):
                ok = ~np.isnan(q[:, s]) & ~np.isnan(q[:, w])
                apgrs.append(apgr(sc[ok], q[ok, s], q[ok, w]))
    return float(np.mean(rhos)), float(np.mean(apgrs))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--encoder", action="append", required=True, help="NAME=DIR")
    args = ap.parse_args()
    src = sources()
    global DIFF, GAIN
    DIFF = {n: [fit2pl(np.nan_to_num(q), ~np.isnan(q)) for _, _, q in t] for n, t in src.items()}
    GAIN = {}
    for n, tables in src.items():
        GAIN[n] = []
        for _, _, q in tables:
            g = np.stack([np.nan_to_num(q[:, s] - q[:, w]) for s, w in pairs(q, cap=40)], 1).mean(1)
            GAIN[n].append((g - g.mean()) / (g.std() + 1e-9))
    texts = sorted({p for t in src.values() for ps, _, _ in t for p in ps})
    F = {n: [np.array([features(p) for p in ps]) for ps, _, _ in t] for n, t in src.items()}
    rho, a = probe(src, F)
    print(f"features alone: rho {rho:.3f}  APGR {a:.3f}", flush=True)
    for spec in args.encoder:
        name, d = spec.split("=", 1)
        e = dict(zip(texts, embed(name, d, texts)))
        E = {n: [np.stack([e[p] for p in ps]) for ps, _, _ in t] for n, t in src.items()}
        EF = {n: [np.hstack([a, b]) for a, b in zip(E[n], F[n])] for n in src}
        for label, X in ((name, E), (name + " + features", EF)):
            rho, a = probe(src, X)
            print(f"{label}: rho {rho:.3f}  APGR {a:.3f}", flush=True)


if __name__ == "__main__":
    main()
