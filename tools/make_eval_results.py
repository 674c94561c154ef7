#!/usr/bin/env python3
"""Run `routellm eval` on MT-Bench, MMLU and GSM8K and print the results tables of the README and
docs/EVAL.md: each router's APGR with its bootstrap 95% interval, CPT(50%), CPT(80%) and the
number of benchmark prompts dropped because the router trained on them ("removed"; the router
files list their training prompts, docs/EVAL.md), beside the paper's numbers for the same router
kind (arXiv 2406.18665 Tables 1-3, the best-data rows; ROUTELLM.md §4). A second table gives the
in-domain 5-fold rows of tools/kfold_eval.py, which are never mixed with the first.

Standard library only; run from the repository root after `make` (and `make routers`):

    python3 tools/make_eval_results.py [--bin build/routellm]
        [--routers random,length,mf,sw_ranking,bert,irt] [--train-prompts FILE]... [--bootstrap 1000]
        [--plots DIR] [--no-kfold]

--train-prompts FILE (repeatable) adds training prompts to check every learned router against,
beyond the lists the router files name. The in-domain rows train 5 routers per kind and benchmark
the first time (a few minutes; kept in .cache/kfold); --no-kfold skips them.
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kfold_eval  # noqa: E402  (the in-domain rows; run: logs a command, exits when it fails)

# The paper's numbers (APGR, CPT50 %, CPT80 %): MT-Bench and GSM8K "Arena + Judge" rows, MMLU
# "Arena + Gold" rows; random is the paper's random row.
PAPER = {
    "mt-bench": {"random": (0.500, 49.03, 78.08), "bert": (0.751, 19.58, 34.02),
                 "mf": (0.802, 13.40, 31.31), "sw_ranking": (0.759, 23.21, 36.04),
                 "causal_llm": (0.679, 31.50, 48.75)},
    "mmlu": {"random": (0.500, 50.07, 79.93), "bert": (0.572, 41.30, 72.20),
             "mf": (0.597, 35.46, 71.40), "sw_ranking": (0.603, 35.40, 71.55),
             "causal_llm": (0.600, 35.49, 70.31)},
    "gsm8k": {"random": (0.497, 50.00, 80.08), "bert": (0.531, 44.76, 79.09),
              "mf": (0.565, 38.82, 72.62), "sw_ranking": (0.568, 41.21, 72.20),
              "causal_llm": (0.622, 33.64, 63.26)},
}
NAMES = {"mt-bench": "MT-Bench", "mmlu": "MMLU", "gsm8k": "GSM8K"}


def run(args, bench):
    cmd = [args.bin, "eval", "--benchmark", bench, "--routers", args.routers, "--format", "json",
           "--bootstrap", str(args.bootstrap)]
    if args.plots:
        cmd += ["--output", args.plots]
    for f in args.train_prompts:
        for r in args.routers.split(","):
            if r not in ("random", "length"):
                cmd += ["--train-prompts", f"{r}={f}"]
    return json.loads(kfold_eval.run(cmd))


def cell_apgr(r):
    ci = r.get("apgr_ci")
    return f"{r['apgr']:.3f}" + (f" ({ci[0]:.3f}–{ci[1]:.3f})" if ci else "")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bin", default="build/routellm")
    p.add_argument("--routers", default="random,length,mf,sw_ranking,bert,irt")
    p.add_argument("--train-prompts", action="append", default=[])
    p.add_argument("--bootstrap", type=int, default=1000)
    p.add_argument("--plots")
    p.add_argument("--no-kfold", action="store_true")
    args = p.parse_args()

    print("Out of domain (the shipped routers; no benchmark prompt in training):\n")
    print("| Benchmark | Router | APGR (95% CI) | CPT(50%) | CPT(80%) | removed | "
          "paper APGR | paper CPT(50%) | paper CPT(80%) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for bench in ("mt-bench", "mmlu", "gsm8k"):
        doc = run(args, bench)
        for r in doc["routers"]:
            name = r["name"]
            removed = "" if r["n_train_contaminated"] is None else str(r["n_train_contaminated"])
            paper = PAPER[bench].get(name)
            ref = (f"{paper[0]:.3f} | {paper[1]:.2f}% | {paper[2]:.2f}%" if paper
                   else "— | — | —")
            label = "oracle (ceiling)" if r["oracle"] else name
            print(f"| {NAMES[bench]} | {label} | {cell_apgr(r)} | {r['cpt50']:.2f}% | "
                  f"{r['cpt80']:.2f}% | {removed} | {ref} |", flush=True)
    if args.no_kfold:
        return

    kargs = argparse.Namespace(bin=args.bin, k=5, bootstrap=args.bootstrap, work=".cache/kfold")
    print("\nIn domain, 5-fold (trained on the other folds' labels of the same benchmark plus "
          "the out-of-domain data; tools/kfold_eval.py):\n")
    print("| Benchmark | Router | APGR (95% CI) | CPT(50%) | CPT(80%) | paper APGR (same kind) |")
    print("|---|---|---|---|---|---|")
    for bench in ("mmlu", "gsm8k"):
        for kind in ("mf", "sw_ranking", "bert", "irt"):
            r = kfold_eval.kfold(kargs, bench, kind)
            paper = PAPER[bench].get(kind)
            print(f"| {NAMES[bench]} | {r['name']} | {cell_apgr(r)} | {r['cpt50']:.2f}% | "
                  f"{r['cpt80']:.2f}% | {f'{paper[0]:.3f}' if paper else '—'} |", flush=True)


if __name__ == "__main__":
    main()
