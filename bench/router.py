#!/usr/bin/env python3
"""Router benchmark driver: C against numpy and PyTorch versions of the same algorithms.

    python3 -m venv .venv-bench && .venv-bench/bin/pip install numpy torch scikit-learn
    make BUILD=build bench/router     # or: make bench (runs every benchmark)
    $BENCH_PYTHON bench/router.py [--build build] [--battles 100000] [--epochs 2]

Steps, on one synthetic data set written by `build/bench/router gen`:
  1. MF training: the C trainer (2 threads) against a PyTorch loop written like RouteLLM's
     train_matrix_factorization.py (MFModel, Adam lr 3e-4, weight decay 1e-5, batch 64, noise
     0.1, BCEWithLogits, 95/5 split), same epochs, torch on 2 threads. Reports time per epoch and
     validation accuracy.
  2. MF scoring per query, given the embedding: C router (one collapsed dot product) against
     numpy computing the full formula from the same file. Scores must agree within 1e-5.
  3. SW-ranking scoring per query with 100k stored battles (every battle its own prompt, the
     worst case): C router against numpy doing the same steps (similarities, weights
     10^(1 + s/max s), tier-cell sums, Newton fit over the tiers), and against the original's
     way (scikit-learn LogisticRegression over every battle's rows) on a few queries. Scores
     must agree within 1e-4.
Prints a Markdown table for bench/RESULTS.md.
"""
import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile
import time

import numpy as np


def run(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def load_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    dtypes = {"F32": np.float32, "F16": np.float16, "I32": np.int32, "U8": np.uint8,
              "I8": np.int8}
    out = {}
    for k, v in header.items():
        if k == "__metadata__":
            continue
        a, b = v["data_offsets"]
        out[k] = np.frombuffer(data[a:b], dtype=dtypes[v["dtype"]]).reshape(v["shape"])
    return out, header.get("__metadata__", {})


def median_us(fn, queries):
    ts = []
    for q in queries:
        t0 = time.perf_counter()
        fn(q)
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts)) * 1e6


# ---------------------------------------------------------------------------- MF

def torch_train_mf(emb, rows, epochs, threads):
    import torch
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    n_models = int(rows[:, :2].max()) + 1
    win = np.where(rows[:, 2] == 0, rows[:, 0], rows[:, 1]).astype(np.int64)
    lose = np.where(rows[:, 2] == 0, rows[:, 1], rows[:, 0]).astype(np.int64)
    prompt = rows[:, 3].astype(np.int64)
    idx = np.random.default_rng(42).permutation(len(rows))
    n_val = int(0.05 * len(rows))
    tr, va = idx[n_val:], idx[:n_val]

    class MF(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.P = torch.nn.Embedding(n_models, 128)
            self.text_proj = torch.nn.Sequential(torch.nn.Linear(emb.shape[1], 128, bias=False))
            self.classifier = torch.nn.Sequential(torch.nn.Linear(128, 1, bias=False))

        def forward(self, m, x):
            p = torch.nn.functional.normalize(self.P(m), p=2, dim=1)
            return self.classifier(p * self.text_proj(x)).squeeze(-1)

    model = MF()
    Q = torch.tensor(emb)
    opt = torch.optim.Adam(model.parameters(), lr=3e-4, weight_decay=1e-5)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    W, L, P = (torch.tensor(win), torch.tensor(lose), torch.tensor(prompt))
    t0 = time.perf_counter()
    for _ in range(epochs):
        perm = torch.tensor(np.random.default_rng().permutation(tr))
        for i in range(0, len(perm), 64):
            b = perm[i:i + 64]
            x = Q[P[b]]
            x = x + torch.randn_like(x) * 0.1
            logit = model(W[b], x) - model(L[b], x)
            loss = loss_fn(logit, torch.ones_like(logit))
            opt.zero_grad()
            loss.backward()
            opt.step()
    secs = time.perf_counter() - t0
    with torch.no_grad():
        b = torch.tensor(va)
        x = Q[P[b]]
        acc = float(((model(W[b], x) - model(L[b], x)) > 0).float().mean())
    return secs / epochs, acc


def numpy_mf_scorer(path):
    t, meta = load_safetensors(path)
    models = json.loads(meta["models"])
    s, w = models.index(meta["default_strong"]), models.index(meta["default_weak"])
    P, W1, w2 = t["P.weight"], t["text_proj.0.weight"], t["classifier.0.weight"][0]
    Pn = P / np.maximum(np.linalg.norm(P, axis=1, keepdims=True), 1e-12)

    def score(e):
        z = W1 @ e
        d = w2 @ ((Pn[s] - Pn[w]) * z)
        return 1 / (1 + np.exp(-d))
    return score


# ---------------------------------------------------------------------------- SW ranking

def numpy_sw_scorer(path):
    t, meta = load_safetensors(path)
    models = json.loads(meta["models"])
    s, w = models.index(meta["default_strong"]), models.index(meta["default_weak"])
    E = t["prompt_emb"].astype(np.float32)
    tier, off, cell, cw = t["model_tier"], t["cell_offsets"], t["cell_index"], t["cell_weight"]
    gamma = float(t["gamma"][0])
    T = int(tier.max()) + 1
    owner = np.repeat(np.arange(len(off) - 1), np.diff(off))
    ln10 = np.log(10)

    def fit(win, loss):
        beta = np.zeros(T)
        for _ in range(100):
            z = ln10 * (beta[:, None] - beta[None, :])
            p = 1 / (1 + np.exp(-z))
            r = ln10 * (win - (win + loss) * p)
            g = r.sum(1) - r.sum(0)
            h = ln10 ** 2 * (win + loss) * p * (1 - p)
            H = -(h + h.T)
            H[np.diag_indices(T)] = (h.sum(1) + h.sum(0))
            step = np.linalg.solve(H + H.trace() / T / T, g)
            beta += step
            if np.abs(step).max() < 1e-12:
                break
        return beta - beta.mean()

    def score(e):
        sims = E @ e
        wt = gamma ** (1 + sims / sims.max())
        ww = wt[owner]
        win = np.bincount(cell, weights=ww * cw[:, 0], minlength=T * T).reshape(T, T)
        loss = np.bincount(cell, weights=ww * cw[:, 1], minlength=T * T).reshape(T, T)
        beta = fit(win, loss)
        if tier[s] == tier[w]:
            return 0.5
        return 1 / (1 + 10 ** (-(beta[tier[s]] - beta[tier[w]])))
    # Battle rows number models as the generator did ("model-07" is 7); the file lists them in
    # the order the trainer met them.
    by_gen = np.array([models.index("model-%02d" % k) for k in range(len(models))])
    return score, (by_gen, tier, s, w, gamma)


def sklearn_sw_original(state, rows, emb, e):
    """RouteLLM's per-query work: a similarity per stored battle (its own float32 embedding),
    weights for every battle row, then LogisticRegression over all of them."""
    from sklearn.linear_model import LogisticRegression
    by_gen, tier, s, w, gamma = state
    sims = emb[rows[:, 3].astype(int)] @ e
    wt = gamma ** (1 + sims / sims.max())
    ta, tb = tier[by_gen[rows[:, 0].astype(int)]], tier[by_gen[rows[:, 1].astype(int)]]
    keep = ta != tb
    T = int(tier.max()) + 1
    n = int(keep.sum())
    X = np.zeros((2 * n, T))
    r = np.arange(n)
    X[r, ta[keep]] = np.log(10)
    X[r, tb[keep]] = -np.log(10)
    X[n:] = X[:n]
    y = np.concatenate([rows[keep, 2] == 0, rows[keep, 2] == 0]).astype(int)
    sw = np.concatenate([wt[keep], wt[keep]])
    lr = LogisticRegression(C=np.inf, fit_intercept=False, tol=1e-8, max_iter=1000)
    lr.fit(X, y, sample_weight=sw)
    beta = lr.coef_[0]
    return 1 / (1 + 10 ** (-(beta[tier[s]] - beta[tier[w]])))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--battles", type=int, default=100000)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--queries", type=int, default=300)
    args = ap.parse_args()
    exe = os.path.join(args.build, "bench", "router")
    with tempfile.TemporaryDirectory() as d:
        # MF data: 100k battles over 20k prompts; SW data: 100k battles, one prompt each.
        mf_dir, sw_dir = os.path.join(d, "mf"), os.path.join(d, "sw")
        os.makedirs(mf_dir)
        os.makedirs(sw_dir)
        subprocess.run([exe, "gen", "--dir", mf_dir, "--battles", str(args.battles),
                        "--prompts", "20000"], check=True)
        subprocess.run([exe, "gen", "--dir", sw_dir, "--battles", str(args.battles),
                        "--prompts", str(args.battles), "--seed", "2"], check=True)
        emb, rows = np.load(os.path.join(mf_dir, "emb.npy")), np.load(os.path.join(mf_dir, "battles.npy"))

        mf_file, sw_file = os.path.join(d, "mf.safetensors"), os.path.join(d, "sw.safetensors")
        c_train = run([exe, "train", "mf", "--dir", mf_dir, "--out", mf_file,
                       "--epochs", str(args.epochs), "--threads", "2"])
        t_epoch, t_acc = torch_train_mf(emb, rows, args.epochs, 2)
        c_sw_train = run([exe, "train", "sw_ranking", "--dir", sw_dir, "--out", sw_file])
        sw8_file = os.path.join(d, "sw8.safetensors")
        run([exe, "train", "sw_ranking", "--dir", sw_dir, "--out", sw8_file, "--int8"])

        q = np.load(os.path.join(mf_dir, "queries.npy"))[:args.queries]
        results = []
        for name, file, make in (("mf", mf_file, numpy_mf_scorer), ("sw_ranking", sw_file, None)):
            out = os.path.join(d, name + "_scores.npy")
            c = run([exe, "score", "--router", file, "--dir", mf_dir, "--limit", str(args.queries),
                     "--out", out])
            c_scores = np.load(out)[0]
            if make:
                fn = make(file)
            else:
                fn, state = numpy_sw_scorer(file)
            ref = np.array([fn(x) for x in q])
            maxdiff = float(np.abs(ref - c_scores).max())
            tol = 1e-5 if name == "mf" else 1e-4
            if maxdiff > tol:
                sys.exit(f"{name}: C and numpy scores differ by {maxdiff}")
            results.append((name, c["median_us"], median_us(fn, q), maxdiff))
        out8 = os.path.join(d, "sw8_scores.npy")
        c8 = run([exe, "score", "--router", sw8_file, "--dir", mf_dir, "--limit", str(args.queries),
                  "--out", out8])
        int8_diff = float(np.abs(np.load(out8)[0] - c_scores).max())
        sw_rows = np.load(os.path.join(sw_dir, "battles.npy"))
        sw_emb = np.load(os.path.join(sw_dir, "emb.npy"))
        t0 = time.perf_counter()
        orig = [sklearn_sw_original(state, sw_rows, sw_emb, x) for x in q[:3]]
        t_orig = (time.perf_counter() - t0) / 3 * 1e6
        orig_diff = float(np.abs(np.array(orig) - np.array([fn(x) for x in q[:3]])).max())

    print(f"| MF training, {args.battles} battles, per epoch (2 threads) | C {c_train['per_epoch']:.2f} s"
          f" (val acc {c_train['val_acc']:.3f}) | PyTorch {t_epoch:.2f} s (val acc {t_acc:.3f}) |"
          f" {t_epoch / c_train['per_epoch']:.1f}x |")
    for name, c_us, np_us, md in results:
        what = "MF" if name == "mf" else f"SW ranking, {args.battles} stored battles,"
        print(f"| {what} score per query | C {c_us:.1f} us | numpy {np_us:.1f} us | "
              f"{np_us / c_us:.1f}x (maxdiff {md:.1e}) |")
    print(f"| SW ranking per query, int8 storage | C {c8['median_us']:.1f} us | | "
          f"p moves by at most {int8_diff:.1e} against fp16 |")
    print(f"| SW ranking per query, original method (sklearn over every battle, float32) | | "
          f"{t_orig / 1e3:.0f} ms (maxdiff vs C fp16 {orig_diff:.1e}) | |")
    print(f"| SW ranking build ({args.battles} battles: Elo, tiers, cells) | C "
          f"{c_sw_train['seconds']:.2f} s | | |")


if __name__ == "__main__":
    main()
