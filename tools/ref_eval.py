#!/usr/bin/env python3
"""Reference for the evaluation metrics: writes tests/data/eval/ref_eval.json.

Re-implements the computation of RouteLLM's harness (routellm/evals/benchmarks.py and
evaluate.py at lm-sys/RouteLLM 0b64fda) with the same libraries it uses -- pandas.qcut for the
thresholds, numpy.interp for CPT(x%), numpy trapezoids for AUC and APGR, groupby-mean for the
random router's runs -- on score arrays that the C test can regenerate bit for bit (splitmix64),
over synthetic cases and over the shipped MT-Bench, MMLU and GSM8K data (data/evals), which it
reads with pandas exactly as benchmarks.py does. It also records numpy.interp on non-monotone
curves and Series.quantile for the calibration. The exact decile edges (at exactly i/10, as the
C harness computes them) are written out in plain Python (lerp, edge) beside pandas' qcut.

    python3 -m venv .venv-ref && .venv-ref/bin/pip install numpy pandas
    .venv-ref/bin/python tools/ref_eval.py            # from the repository root
"""
import glob
import json
import os
import sys

import numpy as np
import pandas as pd

STRONG = "gpt-4-1106-preview"
WEAK = "mistralai/Mixtral-8x7B-Instruct-v0.1"
PRICE_STRONG, PRICE_WEAK = 24.7, 0.24
NUM_RESULTS = 10
M64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15


def uniform(seed, n):
    """n draws in [0, 1): splitmix64's finaliser of seed + (i + 1) * golden, top 53 bits."""
    out = np.empty(n)
    for i in range(n):
        z = (seed + (i + 1) * GOLDEN) & M64
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
        z ^= z >> 31
        out[i] = (z >> 11) * 2.0**-53
    return out


# ----------------------------------------------------------------------------
# The metric in plain Python, as src/eval/curve.c computes it


def lerp(a, b, t):
    """numpy's _lerp: a + (b - a) * t, computed from the nearer end."""
    diff = b - a
    return b - diff * (1 - t) if t >= 0.5 else a + diff * t


def edge(nth, n, i, num_results=NUM_RESULTS):
    """The quantile at exactly i / num_results of n sorted values, nth(k) being the k-th: position
    (n - 1) * i / num_results split into its integer part and remainder, then numpy's lerp."""
    lo, rem = divmod((n - 1) * i, num_results)
    return nth(lo) if rem == 0 else lerp(nth(lo), nth(lo + 1), rem / num_results)


def apgr(x, y, weak, strong):
    """evaluate.py's apgr_metric: the area under quality y over strong share x in [0, 1],
    between the areas of the weak model's quality and the strong model's (numpy trapezoids)."""
    weak_auc, strong_auc = np.trapezoid([weak] * len(x), x), np.trapezoid([strong] * len(x), x)
    return (np.trapezoid(y, x) - weak_auc) / (strong_auc - weak_auc)


# ----------------------------------------------------------------------------
# The reference, with the original's libraries


def qcut_edges(scores):
    """The bins of pd.qcut(scores, 10, retbins=True); pandas refuses duplicate edges, so for
    tied scores take the same quantiles qcut computes before it raises."""
    s = pd.Series(scores)
    try:
        return pd.qcut(s, NUM_RESULTS, retbins=True)[1]
    except ValueError:
        q = np.linspace(0, 1, NUM_RESULTS + 1)
        np.putmask(q, NUM_RESULTS * q != np.arange(NUM_RESULTS + 1), np.nextafter(q, 1))
        return s.quantile(q).to_numpy()


def exact_edges(scores):
    """Quantiles at exactly i/10 (rational positions), numpy's lerp."""
    s = np.sort(np.asarray(scores))
    return np.array([edge(lambda k: s[k], len(s), i) for i in range(NUM_RESULTS + 1)])


def selections(scores, edges):
    sc = pd.Series(scores)
    return [(sc > e) if i == len(edges) - 1 else (sc >= e) for i, e in enumerate(edges)]


def curve(scores, q_strong, q_weak, turns=None):
    """Points (threshold, strong_pct, quality, cost) per edge, as MMLU/GSM8K.evaluate (quality =
    mean correctness x 100) or MTBench.evaluate (mean judge score over both turns' rows)."""
    edges = qcut_edges(scores)
    pts = []
    for sel in selections(scores, edges):
        sel = sel.to_numpy()
        if turns is None:
            results = np.where(sel, q_strong, q_weak)
            quality = sum(results) / len(results) * 100
        else:
            s1, s2, w1, w2 = turns
            rows = np.concatenate([np.where(sel, s1, w1), np.where(sel, s2, w2)])
            quality = pd.Series(rows).mean()
        k = int(sel.sum())
        n = len(sel)
        pct = k / n * 100
        cost = (k * PRICE_STRONG + (n - k) * PRICE_WEAK) / n
        pts.append({"strong_pct": pct, "quality": float(quality), "cost": cost})
    return edges, pts


def metrics(df, weak_acc, strong_acc):
    """evaluate.py's pct_call_metric, auc_metric and apgr_metric on one method's points."""
    df = df.sort_values(by=["strong_percentage"])
    x = df["strong_percentage"].to_numpy() / 100
    y = df["accuracy"].to_numpy()
    out = {}
    for pct in (0.2, 0.5, 0.8):
        out["cpt%d" % round(pct * 100)] = float(
            np.interp(pct * (strong_acc - weak_acc) + weak_acc, df["accuracy"],
                      df["strong_percentage"]))
    out["auc"] = float(np.trapezoid(y, x))
    out["apgr"] = float(apgr(x, y, weak_acc, strong_acc))
    # The paper's (1/10) * sum of PGR at the ten thresholds that give strong calls.
    first = df[df["edge"] != NUM_RESULTS]
    out["apgr_avg"] = float(((first["accuracy"] - weak_acc) / (strong_acc - weak_acc)).mean())
    cost = np.interp([out["cpt50"], out["cpt80"]], df["strong_percentage"], df["cost"])
    out["saving50"] = float(PRICE_STRONG / cost[0])
    out["saving80"] = float(PRICE_STRONG / cost[1])
    return out


def case(name, score_runs, q_strong, q_weak, turns=None, strong_acc=None, weak_acc=None):
    """One method (several runs are averaged per strong_percentage, as the random router)."""
    rows, edges_all = [], []
    for scores in score_runs:
        edges, pts = curve(scores, q_strong, q_weak, turns)
        ex = exact_edges(scores)
        for a, b in zip(selections(scores, edges), selections(scores, ex)):
            assert (a == b).all(), f"{name}: pandas and exact edges select differently"
        edges_all.append([float(e) for e in edges])
        for i, p in enumerate(pts):
            rows.append({"edge": i, "strong_percentage": p["strong_pct"],
                         "accuracy": p["quality"], "cost": p["cost"]})
    df = pd.DataFrame(rows)
    if len(score_runs) > 1:
        df = df.groupby(["strong_percentage"], as_index=False).mean()
    if strong_acc is None:
        strong_acc = float(np.mean(q_strong)) * (100 if turns is None else 1)
        weak_acc = float(np.mean(q_weak)) * (100 if turns is None else 1)
    df = df.sort_values(by=["strong_percentage"])
    out = {"name": name, "edges": edges_all[0], "weak_quality": weak_acc,
           "strong_quality": strong_acc,
           "points": [{"strong_pct": float(r.strong_percentage), "quality": float(r.accuracy),
                       "cost": float(r.cost)} for r in df.itertuples()]}
    out.update(metrics(df, weak_acc, strong_acc))
    return out


def synthetic(seed, n, signal):
    """Correctness of two models and scores that carry `signal` about which one is better."""
    u = uniform(seed, 3 * n)
    q_weak = (u[:n] < 0.6).astype(float)
    q_strong = np.maximum(q_weak, (u[n:2 * n] < 0.5).astype(float))
    q_strong[(u[n:2 * n] > 0.93)] = 0.0
    gain = (q_strong > q_weak).astype(float)
    scores = (1 - signal) * u[2 * n:] + signal * gain
    return scores, q_strong, q_weak


def load_benchmarks(root):
    """The shipped data read as benchmarks.py reads it (decontaminated, original row order)."""
    out = {}
    for sub in ("mmlu", "gsm8k"):
        bad = pd.read_json(f"{root}/{sub}/contaminated_prompts.jsonl.gz", lines=True)
        bad = bad["eval_prompt"].tolist()
        if sub == "mmlu":
            files = sorted(glob.glob(f"{root}/mmlu/responses/mmlu_*.csv.gz"))
            df = pd.concat([pd.read_csv(f) for f in files], ignore_index=True)
        else:
            df = pd.read_csv(f"{root}/gsm8k/gsm8k_responses.csv.gz")
        df = df[~df["prompt"].isin(bad)]
        out[sub] = (df[STRONG].to_numpy(float), df[WEAK].to_numpy(float), None)
    q = pd.read_json(f"{root}/mt_bench/question.jsonl.gz", lines=True)
    j = pd.read_json(f"{root}/mt_bench/judgements.jsonl.gz", lines=True)
    bad = pd.read_json(f"{root}/mt_bench/contaminated_prompts.jsonl.gz", lines=True)
    bad = bad["eval_prompt"].tolist()
    q["turn1"] = q["turns"].apply(lambda t: t[0])
    q["turn2"] = q["turns"].apply(lambda t: t[1])
    q = q[~(q["turn1"].isin(bad) | q["turn2"].isin(bad))]

    def score(model, turn):
        sel = j[(j["model"] == model) & (j["turn"] == turn)].set_index("question_id")["score"]
        return sel.loc[q["question_id"]].to_numpy(float)

    s1, s2, w1, w2 = score(STRONG, 1), score(STRONG, 2), score(WEAK, 1), score(WEAK, 2)
    out["mt-bench"] = ((s1 + s2) / 2, (w1 + w2) / 2, (s1, s2, w1, w2))
    return out


def main():
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    os.chdir(root)
    cases = []
    # Synthetic: a good router, a useless one, heavy ties, a tiny non-monotone curve.
    for name, seed, n, signal in (("signal", 1, 997, 0.6), ("noise", 2, 503, 0.0),
                                  ("anti", 3, 37, -0.7)):
        s, qs, qw = synthetic(seed, n, signal)
        cases.append(dict(case(name, [s], qs, qw), seed=seed, n=n, signal=signal,
                          q_strong=qs.tolist(), q_weak=qw.tolist(), scores=s.tolist()))
    s, qs, qw = synthetic(4, 301, 0.5)
    s = np.round(s * 4) / 4  # five distinct values: qcut would refuse these edges
    cases.append(dict(case("ties", [s], qs, qw), q_strong=qs.tolist(), q_weak=qw.tolist(),
                      scores=s.tolist()))
    # Averaged runs, as the random router: seeds 10..14.
    s0, qs, qw = synthetic(5, 213, 0.0)
    runs = [uniform(10 + r, 213) for r in range(5)]
    cases.append(dict(case("runs", runs, qs, qw), q_strong=qs.tolist(), q_weak=qw.tolist(),
                      run_seeds=[10 + r for r in range(5)]))

    # The shipped benchmarks with scores (u + [strong is better]) / 2, u from seed 7.
    bench = []
    for name, (qs, qw, turns) in load_benchmarks("data/evals").items():
        u = uniform(7, len(qs))
        s = (u + (qs > qw)) / 2
        c = case(name, [s], qs, qw, turns)
        bench.append(dict(c, n=len(qs), seed=7))

    # Where pandas' floating-point quantile positions and exact ones part: n - 1 = 10, i = 3.
    s = np.arange(11) / 10.0
    edge_doc = {"scores": s.tolist(), "pandas": [float(e) for e in qcut_edges(s)],
                "exact": [float(e) for e in exact_edges(s)]}

    # numpy.interp on non-monotone xp, as the original's CPT does on noisy curves.
    interp = []
    for t in range(40):
        u = uniform(100 + t, 64)
        n = 2 + int(u[0] * 14)
        xp = np.round(u[1:1 + n] * 10, 1)
        fp = u[20:20 + n] * 100
        for k in range(6):
            x = float(np.round(u[40 + k] * 11 - 0.5, 2))
            interp.append({"x": x, "xp": xp.tolist(), "fp": fp.tolist(),
                           "y": float(np.interp(x, xp, fp))})

    # Calibration: Series.quantile (linear) at 1 - P.
    u = uniform(9, 1250)
    quant = [{"q": q, "value": float(pd.Series(u).quantile(q))}
             for q in (0.0, 0.05, 0.1, 0.3, 0.5, 0.7, 0.75, 0.9, 0.99, 1.0)]

    out = {"version": 1, "num_results": NUM_RESULTS, "price_strong": PRICE_STRONG,
           "price_weak": PRICE_WEAK, "pandas": pd.__version__, "numpy": np.__version__,
           "cases": cases, "benchmarks": bench, "edges_doc": edge_doc, "interp": interp,
           "quantile": {"seed": 9, "n": 1250, "cases": quant}}
    path = "tests/data/eval/ref_eval.json"
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(out, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {path} ({os.path.getsize(path)} bytes)", file=sys.stderr)


if __name__ == "__main__":
    main()
