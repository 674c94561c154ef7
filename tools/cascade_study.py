#!/usr/bin/env python3
"""Can an answer scorer make a FrugalGPT cascade pay? A 5-fold study on Arena-Bench v1.

A cascade asks the cheapest model first and a scorer of (prompt, answer) decides whether to keep
the answer or to ask the next, dearer model; the last model's answer is always kept. The scorer
here is an ordinary `routellm train bert` router over one text, the prompt's first 600 bytes, a
blank line, then the answer's first 1,200 bytes (the encoder reads 256 tokens), trained on
"gold" battles between two pseudo-models: `accept` wins when the answer scored at least GOOD
(8 of 10 by the GPT-4 judge), `escalate` wins otherwise. Its p_strong is then P(escalate).

Data (../shared/data): Arena-Bench v1's 153 Arena prompts with the answers of 15 models and their
GPT-4 scores, and AlpacaEval's 805 Mixtral answers judged against GPT-4-turbo (acceptable when the
judge preferred Mixtral or called a tie). Folds split the Arena-Bench prompts by sha256 of the
question id; the scorer of fold k is trained on the other folds' answers of all 15 models plus
the AlpacaEval answers, and scores fold k's answers. Costs use the answers' own lengths (4 bytes a
token) and the prices below; a cascade's cost counts every call it made. Compared on the pooled
held-out prompts, on the same models and costs: each model alone; random mixes of two models; the
shipped mf router choosing between Mixtral and GPT-4 by threshold; the length baseline; and the
oracle cascade (a scorer that knows the judge's score). All choices above were fixed before any
result was seen; the benchmarks (MT-Bench, MMLU, GSM8K) are not used.

    python3 tools/cascade_study.py --routellm build/routellm --out /tmp/cascade_study
"""
import argparse
import csv
import gzip
import hashlib
import json
import os
import subprocess
import sys

GOOD = 8.0
FOLDS = 5
PROMPT_BYTES, ANSWER_BYTES = 600, 1200
# USD per 1M input / output tokens (public list prices when the models were current).
CASCADE = [("mistralai/Mistral-7B-Instruct-v0.1", 0.2, 0.2),
           ("mistralai/Mixtral-8x7B-Instruct-v0.1", 0.6, 0.6),
           ("gpt-4-1106-preview", 10.0, 30.0)]
ANSWER_FILE = {"mistralai/Mistral-7B-Instruct-v0.1": "Mistral-7B-Instruct-v0.1",
               "mistralai/Mixtral-8x7B-Instruct-v0.1": "Mixtral-8x7B-Instruct-v0.1"}


def cut(text, n):
    """The first n bytes of text, cut back to a whole UTF-8 character."""
    b = text.encode()[:n]
    return b.decode("utf-8", "ignore")


def compose(prompt, answer):
    return cut(prompt, PROMPT_BYTES) + "\n\n" + cut(answer, ANSWER_BYTES)


def fold_of(qid):
    return int(hashlib.sha256(qid.encode()).hexdigest(), 16) % FOLDS


def load(shared):
    with gzip.open(os.path.join(shared, "arena_bench_v1/scores.csv.gz"), "rt") as f:
        rows = list(csv.DictReader(f))
    models = [c for c in rows[0] if c not in ("question_id", "prompt")]
    answers = {}
    for m in models:
        name = ANSWER_FILE.get(m, m.split("/")[-1])
        with gzip.open(os.path.join(shared, "arena_bench_v1/answers", name + ".jsonl.gz"), "rt") as f:
            for line in f:
                a = json.loads(line)
                answers[(a["question_id"], m)] = a["answer"]
    with gzip.open(os.path.join(
            shared, "alpaca_eval/raw/Mixtral-8x7B-Instruct-v0.1__alpaca_eval_gpt4_turbo_fn__"
            "annotations.json.gz"), "rt") as f:
        alpaca = [(a["instruction"], a["output_2"], float(a["preference"]) >= 1.5)
                  for a in json.load(f) if a["preference"] not in (None, "")]
    return rows, models, answers, alpaca


def write_table(path, items):
    """items: (text, acceptable) -> a table a bert router trains and is evaluated on."""
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["prompt", "accept", "escalate"])
        for text, ok in items:
            w.writerow([text, 1 if ok else 0, 0 if ok else 1])


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit("failed: %s\n%s" % (" ".join(cmd), r.stderr))
    return r.stdout


def scores_of(path):
    with open(path) as f:
        return {j["prompt"]: j["score"] for j in map(json.loads, f)}


def cost(price_in, price_out, prompt, answer):
    return (len(prompt.encode()) / 4 * price_in + len(answer.encode()) / 4 * price_out) / 1e6


def hull(points):
    """The upper convex hull of (cost, quality) points, non-decreasing: what mixing two settings
    of a policy at random can reach."""
    pts, out = sorted(points), []
    for p in pts:
        while len(out) >= 2 and ((out[-1][0] - out[-2][0]) * (p[1] - out[-2][1]) -
                                 (out[-1][1] - out[-2][1]) * (p[0] - out[-2][0])) >= 0:
            out.pop()
        out.append(p)
    best, mono = -1e9, []
    for p in out:
        if p[1] > best:
            best = p[1]
            mono.append(p)
    return mono


def quality_at(points, budget):
    """Best quality on the hull at a mean cost of at most budget (None below its cheapest)."""
    h = hull(points)
    if budget < h[0][0]:
        return None
    for a, b in zip(h, h[1:]):
        if a[0] <= budget <= b[0]:
            return a[1] + (b[1] - a[1]) * (budget - a[0]) / (b[0] - a[0])
    return h[-1][1]


def cost_at(points, quality):
    """Least mean cost on the hull that reaches quality (None when it never does)."""
    h = hull(points)
    for a, b in zip([h[0]] + h, h):
        if b[1] >= quality:
            if b is a or b[1] == a[1]:
                return b[0]
            return a[0] + (b[0] - a[0]) * (quality - a[1]) / (b[1] - a[1])
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--routellm", default="build/routellm")
    ap.add_argument("--shared", default="../shared/data")
    ap.add_argument("--out", default="/tmp/cascade_study")
    ap.add_argument("--features", action="store_true",
                    help="train the scorer with the prompt features too (routellm train --features)")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    rows, models, answers, alpaca = load(args.shared)
    names = [m for m, _, _ in CASCADE]
    # Prompts where every cascade model has an answer and a score.
    usable = [r for r in rows if all(r[m] and (r["question_id"], m) in answers for m in names)]
    p_escalate = {}  # (qid, model) -> held-out P(escalate)
    auc_pairs = []   # (p_escalate, acceptable) over every held-out answer of the 15 models
    for k in range(FOLDS):
        train, held = [], []
        for r in rows:
            for m in models:
                a = answers.get((r["question_id"], m))
                if a is None or not r[m]:
                    continue
                item = (compose(r["prompt"], a), float(r[m]) >= GOOD)
                (held if fold_of(r["question_id"]) == k else train).append(item)
        train += [(compose(p, a), ok) for p, a, ok in alpaca]
        write_table(f"{args.out}/train-{k}.csv", train)
        write_table(f"{args.out}/held-{k}.csv", held)
        router = f"{args.out}/scorer-{k}.safetensors"
        run([args.routellm, "train", "bert", "--data", f"table:{args.out}/train-{k}.csv",
             "--out", router, "--seed", "1", "--strong", "escalate", "--weak", "accept"] + (["--features"] if args.features else []))
        run([args.routellm, "eval", "--benchmark", f"table:{args.out}/held-{k}.csv", "--strong",
             "escalate", "--weak", "accept", "--routers", router, "--scores-out",
             f"{args.out}/scores-{k}", "--no-decontaminate", "--format", "json"])
        got = scores_of(f"{args.out}/scores-{k}/" + next(
            f for f in os.listdir(f"{args.out}/scores-{k}") if f.endswith(".jsonl")))
        for r in rows:
            if fold_of(r["question_id"]) != k:
                continue
            for m in models:
                a = answers.get((r["question_id"], m))
                if a is None or not r[m]:
                    continue
                p = got[compose(r["prompt"], a)]
                p_escalate[(r["question_id"], m)] = p
                auc_pairs.append((p, float(r[m]) >= GOOD))
        print(f"fold {k}: {len(train)} training answers, {len(held)} held out", file=sys.stderr)

    # AUC of P(escalate) for "not acceptable".
    pos = [p for p, ok in auc_pairs if not ok]
    neg = [p for p, ok in auc_pairs if ok]
    auc = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg) / (len(pos) * len(neg))

    def single(m, price_in, price_out):
        q = sum(float(r[m]) for r in usable) / len(usable)
        c = sum(cost(price_in, price_out, r["prompt"], answers[(r["question_id"], m)])
                for r in usable) / len(usable)
        return c, q

    def cascade(decide):
        tc = tq = 0.0
        for r in usable:
            for i, (m, pi, po) in enumerate(CASCADE):
                tc += cost(pi, po, r["prompt"], answers[(r["question_id"], m)])
                if i == len(CASCADE) - 1 or decide(r, m):
                    tq += float(r[m])
                    break
        return tc / len(usable), tq / len(usable)

    singles = {m: single(m, pi, po) for m, pi, po in CASCADE}
    learned = [cascade(lambda r, m, t=t: p_escalate[(r["question_id"], m)] < t)
               for t in [i / 50 for i in range(51)]]
    oracle = [cascade(lambda r, m, g=g: float(r[m]) >= g) for g in range(1, 11)]
    # Pair routers between Mixtral and GPT-4: mf (shipped) and length, by threshold.
    mix, gpt4 = CASCADE[1], CASCADE[2]
    table = f"{args.out}/pair.csv"
    with open(table, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["prompt", "mixtral-8x7b-instruct-v0.1", "gpt-4-1106-preview"])
        for r in usable:
            w.writerow([r["prompt"], r[mix[0]], r[gpt4[0]]])
    pair_scores = {}
    for router in ("mf", "length"):
        run([args.routellm, "eval", "--benchmark", f"table:{table}", "--strong",
             "gpt-4-1106-preview", "--weak", "mixtral-8x7b-instruct-v0.1", "--routers", router, "--scores-out", f"{args.out}/pair-{router}",
             "--no-decontaminate", "--format", "json"])
        d = f"{args.out}/pair-{router}"
        pair_scores[router] = scores_of(os.path.join(d, os.listdir(d)[0]))

    def pair_curve(router):
        pts = []
        for t in [i / 50 for i in range(51)]:
            tc = tq = 0.0
            for r in usable:
                m = gpt4 if pair_scores[router][r["prompt"]] >= t else mix
                tc += cost(m[1], m[2], r["prompt"], answers[(r["question_id"], m[0])])
                tq += float(r[m[0]])
            pts.append((tc / len(usable), tq / len(usable)))
        return pts

    random_mix = [(singles[mix[0]][0] * (1 - f) + singles[gpt4[0]][0] * f,
                   singles[mix[0]][1] * (1 - f) + singles[gpt4[0]][1] * f)
                  for f in [i / 10 for i in range(11)]]
    curves = {"cascade (learned scorer)": learned, "cascade (oracle scorer)": oracle,
              "mf (Mixtral/GPT-4 pair)": pair_curve("mf"),
              "length (Mixtral/GPT-4 pair)": pair_curve("length"),
              "random mix (Mixtral/GPT-4)": random_mix}
    gpt4_cost, gpt4_q = singles[gpt4[0]]
    report = {"prompts": len(usable), "good": GOOD, "auc_not_acceptable": auc,
              "singles": singles, "policies": {}}
    for name, pts in curves.items():
        report["policies"][name] = {
            "cost_at_gpt4_quality": cost_at(pts, gpt4_q),
            "quality_at_half_gpt4_cost": quality_at(pts, gpt4_cost / 2),
            "quality_at_quarter_gpt4_cost": quality_at(pts, gpt4_cost / 4),
            "points": pts}
    with open(f"{args.out}/report.json", "w") as f:
        json.dump(report, f, indent=1)
    print(f"{len(usable)} held-out prompts; AUC of P(escalate) for answers below {GOOD}: {auc:.3f}")
    for m, (c, q) in singles.items():
        print(f"  {m:40s} cost {c * 1000:8.4f} mUSD/request  quality {q:.3f}")
    fmt = lambda x, f: "-" if x is None else f % x
    print(f"  {'policy':32s} {'cost at GPT-4 quality':>22s} {'quality at 1/2 cost':>20s}"
          f" {'quality at 1/4 cost':>20s}")
    for name, r in report["policies"].items():
        c = r["cost_at_gpt4_quality"]
        print(f"  {name:32s} {fmt(c and c / gpt4_cost, '%21.1f%%'.replace('%21.1f%%', '%20.3f x')):>22s}"
              f" {fmt(r['quality_at_half_gpt4_cost'], '%.3f'):>20s}"
              f" {fmt(r['quality_at_quarter_gpt4_cost'], '%.3f'):>20s}")


if __name__ == "__main__":
    main()
