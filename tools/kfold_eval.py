#!/usr/bin/env python3
"""In-domain K-fold evaluation on MMLU and GSM8K: how well the routers do when they may learn from
the benchmark's own labels for the routed pair, as the paper's gold-label augmentation does
(RouteLLM trains on MMLU validation questions labelled by GPT-4 and Mixtral). These figures are
reported apart from the out-of-domain ones (docs/EVAL.md), never mixed with them.

Standard library only; run from the repository root after `make` and `make models`:

    python3 tools/kfold_eval.py [--bin build/routellm] [--k 5] [--kinds mf,sw_ranking,bert,irt]
        [--benchmarks mmlu,gsm8k] [--bootstrap 1000] [--work .cache/kfold]

For each benchmark the evaluated prompts (after its contamination list) are split into K folds by
the SHA-256 of the prompt text. For each fold k a router is trained as the shipped router of its
kind is (`routellm validate --ship` with the candidate data/suite/shipped.json names, without its
stand-in aliases: the routed pair has real data here) plus the other K - 1 folds' labels (the
benchmark's per-question correctness of gpt-4-1106-preview and Mixtral-8x7B, as gold battles or,
for irt, as per-model scores). Training prompts within cosine 0.95 of a fold-k prompt, or quoted
by one, are excluded, which also keeps duplicated questions out; the suite's own exclude list
(every benchmark text) is not applied here (`--own-exclude-only`), since the other folds are
meant to be trained on. The fold-k router scores the fold-k prompts
(`routellm eval --scores-out`); the K held-out score files are pooled and evaluated with
RouteLLM's protocol over the whole benchmark (`routellm eval --scores`), bootstrap interval
included. Everything is deterministic; trained routers are kept under --work and reused.
"""
import argparse
import csv
import glob
import gzip
import hashlib
import json
import os
import subprocess
import sys

STRONG, WEAK = "gpt-4-1106-preview", "mistralai/Mixtral-8x7B-Instruct-v0.1"


def run(cmd):
    """Run a command, logging it; its stdout, or exit with its stderr when it fails."""
    print("+ " + " ".join(cmd), file=sys.stderr, flush=True)
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(p.stderr)
    return p.stdout


def shipped():
    with open("data/suite/shipped.json") as f:
        return json.load(f)


def contaminated(path):
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return {json.loads(line)["eval_prompt"] for line in f if line.strip()}


def truth(cell):
    return 1 if cell.strip() in ("True", "true", "1", "1.0") else 0


def benchmark(name):
    """(prompt, strong correct, weak correct) for the prompts `routellm eval` evaluates."""
    rows = []
    if name == "mmlu":
        drop = contaminated("data/evals/mmlu/contaminated_prompts.jsonl.gz")
        files = sorted(glob.glob("data/evals/mmlu/responses/*.csv.gz"))
    else:
        drop = contaminated("data/evals/gsm8k/contaminated_prompts.jsonl.gz")
        files = ["data/evals/gsm8k/gsm8k_responses.csv.gz"]
    for path in files:
        with gzip.open(path, "rt", encoding="utf-8", newline="") as f:
            for r in csv.DictReader(f):
                if r["prompt"] in drop:
                    continue
                rows.append((r["prompt"], truth(r["gpt-4-1106-preview"]),
                             truth(r["mistralai/Mixtral-8x7B-Instruct-v0.1"])))
    return rows


def fold_of(prompt, k):
    return int.from_bytes(hashlib.sha256(prompt.encode("utf-8")).digest()[:8], "big") % k


def write_table(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["prompt", STRONG, WEAK])
        w.writerows(rows)


def kfold(args, bench, kind):
    rows = benchmark(bench)
    variant = shipped()[kind]
    work = f"{args.work}/{bench}"
    where_k = f"{work}/{variant}"
    os.makedirs(where_k, exist_ok=True)
    score_files = []
    for k in range(args.k):
        held = [r for r in rows if fold_of(r[0], args.k) == k]
        rest = [r for r in rows if fold_of(r[0], args.k) != k]
        write_table(f"{work}/heldout-{k}.csv", held)
        write_table(f"{work}/train-{k}.csv", rest)
        out = f"{where_k}/{kind}-{k}.safetensors"
        if not os.path.exists(out):
            run([args.bin, "validate", "--ship", variant, "--out", out + ".tmp.safetensors",
                 "--data", f"table:{work}/train-{k}.csv", "--exclude", f"{work}/heldout-{k}.csv",
                 "--no-aliases", "--own-exclude-only", "--strong", STRONG, "--weak", WEAK])
            os.replace(out + ".tmp.safetensors", out)
        where = f"{where_k}/scores-{kind}-{k}"
        run([args.bin, "eval", "--benchmark", f"table:{work}/heldout-{k}.csv", "--strong", STRONG,
             "--weak", WEAK, "--router-file", f"{kind}={out}", "--scores-out", where,
             "--format", "json"])
        score_files.append(f"{where}/heldout-{k}-{kind}.jsonl")
    pooled = f"{where_k}/{kind}-pooled.jsonl"
    with open(pooled, "w", encoding="utf-8") as f:
        for path in score_files:
            with open(path, encoding="utf-8") as inp:
                f.write(inp.read())
    doc = json.loads(run([args.bin, "eval", "--benchmark", bench, "--scores",
                          f"{kind} ({args.k}-fold)={pooled}", "--bootstrap", str(args.bootstrap),
                          "--format", "json"]))
    return doc["routers"][0]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bin", default="build/routellm")
    p.add_argument("--k", type=int, default=5)
    p.add_argument("--kinds", default="mf,sw_ranking,bert,irt")
    p.add_argument("--benchmarks", default="mmlu,gsm8k")
    p.add_argument("--bootstrap", type=int, default=1000)
    p.add_argument("--work", default=".cache/kfold")
    args = p.parse_args()
    print(f"In-domain {args.k}-fold (the benchmark's own labels for the routed pair; not "
          "comparable with out-of-domain rows):\n")
    print("| Benchmark | Router | APGR (95% CI) | CPT(50%) | CPT(80%) |")
    print("|---|---|---|---|---|")
    for bench in args.benchmarks.split(","):
        for kind in args.kinds.split(","):
            r = kfold(args, bench, kind)
            ci = r.get("apgr_ci")
            apgr = f"{r['apgr']:.3f}" + (f" ({ci[0]:.3f}–{ci[1]:.3f})" if ci else "")
            print(f"| {bench} | {r['name']} | {apgr} | {r['cpt50']:.2f}% | {r['cpt80']:.2f}% |",
                  flush=True)


if __name__ == "__main__":
    main()
