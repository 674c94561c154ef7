#!/usr/bin/env python3
"""The routing gate of the int8 encoder: do the shipped routers decide alike with int8 vectors?

For each benchmark (MT-Bench, GSM8K, MMLU) and shipped router (mf, sw_ranking, bert, irt), runs
`routellm eval --scores-out` with --precision fp32 and with --precision int8 (no
decontamination, so both see every prompt), and `routellm calibrate` with fp32 at 20%, 50% and
80% strong calls on the default calibration sample. Prints, per benchmark and router, the share
of prompts whose decision (p_strong >= threshold) is the same with int8 scores as with fp32
scores at each fp32 threshold, the largest change of p_strong, and APGR with each precision.
Nothing is tuned on these figures.

    python3 bench/precision_gate.py [--bin build/routellm] [--out DIR]

Standard library only. Embeddings go through the CLI's caches (int8 ones in their own folder).
"""
import argparse
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCHMARKS = ["mt-bench", "gsm8k", "mmlu"]
ROUTERS = ["mf", "sw_ranking", "bert", "irt"]
PCTS = [20, 50, 80]


def run(cmd, out_path):
    env = dict(os.environ, ROUTELLM_PROGRESS_S="0")
    with open(out_path, "w") as f:
        subprocess.run(cmd, env=env, check=True, stdout=f)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--bin", default=os.path.join(ROOT, "build", "routellm"))
    p.add_argument("--out", default=os.path.join(ROOT, ".cache", "bench", "precision_gate"))
    args = p.parse_args()
    for prec in ("fp32", "int8"):
        d = os.path.join(args.out, prec)
        os.makedirs(d, exist_ok=True)
        for b in BENCHMARKS:
            print(f"eval {b}, {prec}", file=sys.stderr)
            run([args.bin, "eval", "--benchmark", b, "--routers", ",".join(ROUTERS),
                 "--scores-out", d, "--precision", prec, "--no-decontaminate", "--format",
                 "json"], os.path.join(d, f"{b}.json"))
    thresholds = {}
    for r in ROUTERS:
        for pct in PCTS:
            path = os.path.join(args.out, "fp32", f"cal-{r}-{pct}.json")
            run([args.bin, "calibrate", "--router", r, "--strong-model-pct", str(pct / 100),
                 "--json"], path)
            with open(path) as f:
                thresholds[r, pct] = json.load(f)["threshold"]

    def scores(prec, b, r):
        with open(os.path.join(args.out, prec, f"{b}-{r}.jsonl")) as f:
            return [json.loads(line) for line in f]

    def apgr(prec, b, r):
        with open(os.path.join(args.out, prec, f"{b}.json")) as f:
            return next(x["apgr"] for x in json.load(f)["routers"] if x["name"] == r)

    print("| benchmark | router | prompts | same decision at 20% / 50% / 80% strong | max abs "
          "change of p_strong | APGR fp32 | APGR int8 |")
    print("|---|---|---|---|---|---|---|")
    for b in BENCHMARKS:
        for r in ROUTERS:
            a, q = scores("fp32", b, r), scores("int8", b, r)
            if [x["prompt"] for x in a] != [x["prompt"] for x in q]:
                sys.exit(f"{b} {r}: the two runs scored different prompts")
            same = []
            for pct in PCTS:
                t = thresholds[r, pct]
                n = sum((x["score"] >= t) == (y["score"] >= t) for x, y in zip(a, q))
                same.append(f"{100 * n / len(a):.2f}%")
            dp = max(abs(x["score"] - y["score"]) for x, y in zip(a, q))
            print(f"| {b} | {r} | {len(a)} | {' / '.join(same)} | {dp:.4f} | "
                  f"{apgr('fp32', b, r):.4f} | {apgr('int8', b, r):.4f} |")


if __name__ == "__main__":
    main()
