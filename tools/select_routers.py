#!/usr/bin/env python3
"""Choose the training data and hyper-parameters of the shipped routers on validation data that
never touches the evaluation benchmarks (MT-Bench, MMLU test, GSM8K test), then, only to report
the choice transparently, score every candidate on those benchmarks too. docs/TRAINING.md
explains the protocol and holds the resulting tables.

Standard library only; run from the repository root after `make` and `make models`:

    python3 tools/select_routers.py [--bin build/routellm] [--kinds mf,sw_ranking,bert]
        [--variants gold,gold+alpaca,...] [--test] [--work .cache/select]

Validation (all training runs also exclude every evaluation prompt, as `make routers` does):

- held-out domains: each of four English groups of RouterDC's training splits (ARC challenge and
  easy; MATH prealgebra; GSM8K train; HumanEval, MBPP and JavaScript) is left out of training in
  turn, and the router trained on the rest is scored on it. The quality of an answer is the
  per-question score of the stand-in pair the shipped routers route between
  (dolphin-2.9-llama3-8b as the strong model, chinese-mistral-7b-v0.1 as the weak one).
- the exact pair: the 805 AlpacaEval prompts, quality = the share of the two GPT-4-Turbo judges
  (alpaca_eval_gpt4_turbo_fn, alpaca_eval_cot_gpt4_turbo_fn) that preferred gpt-4-1106-preview
  over Mixtral-8x7B-Instruct-v0.1 (ties count one half). When a variant trains on AlpacaEval
  battles, this is a 5-fold cross-validation by prompt (prompt_id mod 5; the held-out fold's
  prompts are excluded from training) whose held-out scores are pooled into one curve.

Each router is scored by APGR with RouteLLM's protocol (`routellm eval --benchmark table:...`).
The selection score of a variant is the mean of the five APGRs (four domains, the exact pair);
the variant with the highest score is chosen, per router kind. Every figure is printed, so the
choice can be checked. With --test, every variant is also trained on all its data and evaluated
on MT-Bench, MMLU and GSM8K (these numbers play no part in the choice).

Runs take long (each variant trains 5 to 10 routers per kind); every trained router and score
file is kept under --work and reused, so an interrupted run resumes where it stopped.
"""
import argparse
import csv
import glob
import gzip
import json
import os
import subprocess
import sys

ROUTERDC = "data/train/routerdc"
ALPACA = "data/train/alpaca_eval/battles.csv.gz"
ALPACA_PROMPTS = "data/train/alpaca_eval/prompts.jsonl.gz"
JUDGES = ("alpaca_eval_gpt4_turbo_fn", "alpaca_eval_cot_gpt4_turbo_fn")
STRONG, WEAK = "gpt-4-1106-preview", "mixtral-8x7b-instruct-v0.1"
STAND_IN = {STRONG: "cognitivecomputations/dolphin-2.9-llama3-8b",
            WEAK: "itpossible/Chinese-Mistral-7B-v0.1"}
GROUPS = {
    "arc": ["arc_challenge_train", "arc_easy_train"],
    "math": ["MATH_prealgebra"],
    "gsm8k": ["gsm8k-train"],
    "code": ["humaneval_train", "mbpp", "javascript"],
}
FOLDS = 5
EXCLUDE = ["--exclude", "data/evals/mt_bench/question.jsonl.gz",
           "--exclude", "data/evals/gsm8k/gsm8k_responses.csv.gz"] + \
    [a for f in sorted(glob.glob("data/evals/mmlu/responses/*.csv.gz"))
     for a in ("--exclude", f)]
ALIASES = ["--alias", STRONG + "=dolphin-2.9-llama3-8b",
           "--alias", WEAK + "=chinese-mistral-7b-v0.1"]


def gold(margin=None, ties=False, skip=()):
    """RouterDC correctness tables as gold battles, leaving out the files in skip."""
    keys = (f",margin={margin}" if margin is not None else "") + (",ties=1" if ties else "")
    return [f"table:{f}{keys}" for f in sorted(glob.glob(f"{ROUTERDC}/*.json.gz"))
            if os.path.basename(f)[:-len(".json.gz")] not in skip]


ALPACA_ALL = f"alpaca_eval:{ALPACA}"
ALPACA_PAIR = (f"alpaca_eval:{ALPACA},annotators={'|'.join(JUDGES)},"
               "models=gpt4_1106_preview|Mixtral-8x7B-Instruct-v0.1")

# Each variant: its data (a function of the RouterDC files to leave out), whether it trains on
# AlpacaEval (then the exact-pair check is cross-validated), and extra `routellm train` options.
# Without AlpacaEval the data has neither GPT-4 nor Mixtral, so the pair is aliased to the
# strongest and weakest models of the gold data (docs/ROUTERS.md).
VARIANTS = {
    "gold": (lambda skip: gold(skip=skip), False, []),
    "gold+alpaca": (lambda skip: gold(skip=skip) + [ALPACA_ALL], True, []),
    "gold+alpaca-pair": (lambda skip: gold(skip=skip) + [ALPACA_PAIR], True, []),
    "gold-ties": (lambda skip: gold(ties=True, skip=skip), False, []),
    "gold-margin0.25": (lambda skip: gold(margin=0.25, skip=skip), False, []),
    "gold-mf30": (lambda skip: gold(skip=skip), False, ["--epochs", "30"]),
}
KIND_OPTS = {"mf": ["--seed", "1"], "sw_ranking": [], "bert": ["--seed", "1"]}
# What the validation chose (the table in docs/TRAINING.md); tools/make_routers.sh trains these.
SHIPPED = {"mf": "gold+alpaca", "sw_ranking": "gold-margin0.25", "bert": "gold+alpaca-pair"}


def options(variant, aliases=True):
    """`routellm train` options of a variant; the stand-in aliases when it has no GPT-4 data."""
    _, uses_alpaca, extra = VARIANTS[variant]
    return list(extra) + (ALIASES if aliases and not uses_alpaca else [])
BENCHMARKS = ("mt-bench", "mmlu", "gsm8k")


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def run(cmd):
    log("$ " + " ".join(cmd))
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"failed ({r.returncode}): {' '.join(cmd)}\n{r.stderr[-3000:]}")
    return r.stdout


# ----------------------------------------------------------------------------
# Validation tables

def routerdc_rows(name):
    with gzip.open(f"{ROUTERDC}/{name}.json.gz", "rt", encoding="utf-8") as f:
        for row in json.load(f):
            scores = row["scores"]
            if isinstance(scores, str):
                scores = json.loads(scores)
            yield row["question"].strip(), scores


def write_table(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["prompt", STRONG, WEAK])
        w.writerows(rows)


def prepare(work):
    """The held-out tables: one per RouterDC group, the AlpacaEval pair and its folds."""
    os.makedirs(work, exist_ok=True)
    for g, names in GROUPS.items():
        rows = [(q, s[STAND_IN[STRONG]], s[STAND_IN[WEAK]])
                for n in names for q, s in routerdc_rows(n) if len(q) >= 16]
        write_table(f"{work}/val-{g}.csv", rows)
    prompts = {}
    with gzip.open(ALPACA_PROMPTS, "rt", encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            prompts[int(r["prompt_id"])] = r["instruction"].strip()
    prefs = {}
    with gzip.open(ALPACA, "rt", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            if (r["annotator"] in JUDGES and r["model_1"] == "gpt4_1106_preview"
                    and r["model_2"] == "Mixtral-8x7B-Instruct-v0.1" and r["preference"]):
                p = float(r["preference"])
                prefs.setdefault(int(r["prompt_id"]), []).append(
                    1.0 if p == 1 else 0.0 if p == 2 else 0.5)
    rows = {i: (prompts[i], sum(v) / len(v), 1 - sum(v) / len(v)) for i, v in prefs.items()}
    write_table(f"{work}/val-alpaca.csv", [rows[i] for i in sorted(rows)])
    for k in range(FOLDS):
        write_table(f"{work}/val-alpaca-{k}.csv",
                    [rows[i] for i in sorted(rows) if i % FOLDS == k])


# ----------------------------------------------------------------------------
# Training and scoring

def train_run(args, kind, variant, tag, skip=(), extra=()):
    """Train one router (or reuse it from an earlier run); returns its path."""
    out = f"{args.work}/{variant}/{kind}-{tag}.safetensors"
    if not os.path.exists(out):
        os.makedirs(os.path.dirname(out), exist_ok=True)
        data = VARIANTS[variant][0]
        cmd = [args.bin, "train", kind] + [a for d in data(skip) for a in ("--data", d)]
        cmd += EXCLUDE + list(extra) + options(variant) + KIND_OPTS[kind] + ["--out", out]
        run(cmd)
    return out


def apgr(args, table, router, scores_out=None):
    cmd = [args.bin, "eval", "--benchmark", f"table:{table}", "--strong", STRONG, "--weak", WEAK,
           "--router-file", f"r={router}", "--format", "json"]
    if scores_out:
        cmd += ["--scores-out", scores_out]
    doc = json.loads(run(cmd))
    return doc["routers"][0]["apgr"]


def pooled_apgr(args, table, score_files, where):
    pooled = f"{where}/pooled.jsonl"
    with open(pooled, "w", encoding="utf-8") as out:
        for f in score_files:
            with open(f, encoding="utf-8") as inp:
                out.write(inp.read())
    doc = json.loads(run([args.bin, "eval", "--benchmark", f"table:{table}", "--strong", STRONG,
                          "--weak", WEAK, "--scores", f"r={pooled}", "--format", "json"]))
    return doc["routers"][0]["apgr"]


def validate(args, kind, variant):
    """The five validation APGRs of one kind and variant."""
    res = {}
    for g, names in GROUPS.items():
        r = train_run(args, kind, variant, f"no-{g}", skip=names)
        res[g] = apgr(args, f"{args.work}/val-{g}.csv", r)
    uses_alpaca = VARIANTS[variant][1]
    if not uses_alpaca:
        r = train_run(args, kind, variant, "all")
        res["alpaca"] = apgr(args, f"{args.work}/val-alpaca.csv", r)
    else:
        files = []
        for k in range(FOLDS):
            fold = f"{args.work}/val-alpaca-{k}.csv"
            r = train_run(args, kind, variant, f"fold{k}", extra=["--exclude", fold])
            where = f"{args.work}/{variant}/{kind}-fold{k}-scores"
            apgr(args, fold, r, scores_out=where)
            files.append(f"{where}/val-alpaca-{k}-r.jsonl")
        res["alpaca"] = pooled_apgr(args, f"{args.work}/val-alpaca.csv", files,
                                    f"{args.work}/{variant}")
    res["score"] = sum(res[g] for g in list(GROUPS) + ["alpaca"]) / (len(GROUPS) + 1)
    return res


def test(args, kind, variant):
    r = train_run(args, kind, variant, "all")
    out = {}
    for bench in BENCHMARKS:
        doc = json.loads(run([args.bin, "eval", "--benchmark", bench, "--router-file", f"r={r}",
                              "--format", "json"]))
        out[bench] = doc["routers"][0]["apgr"]
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bin", default="build/routellm")
    p.add_argument("--kinds", default="mf,sw_ranking,bert")
    p.add_argument("--variants", default=",".join(VARIANTS))
    p.add_argument("--work", default=".cache/select")
    p.add_argument("--test", action="store_true",
                   help="also report each variant on MT-Bench, MMLU and GSM8K (not used to choose)")
    args = p.parse_args()
    prepare(args.work)
    cols = list(GROUPS) + ["alpaca"]
    print("Validation APGR (held-out RouterDC domains with the stand-in pair; AlpacaEval "
          "gpt-4-1106-preview vs Mixtral):\n")
    print("| router | variant | " + " | ".join(cols) + " | mean (selection) |"
          + (" MT-Bench | MMLU | GSM8K |" if args.test else ""))
    print("|---|---|" + "---|" * (len(cols) + 1) + ("---|---|---|" if args.test else ""))
    for kind in args.kinds.split(","):
        results = {}
        for variant in args.variants.split(","):
            if variant == "gold-mf30" and kind != "mf":
                continue
            results[variant] = validate(args, kind, variant)
        best = max(results, key=lambda v: results[v]["score"])
        for variant, res in results.items():
            mark = " **(chosen)**" if variant == best else ""
            line = (f"| {kind} | {variant}{mark} | " + " | ".join(f"{res[c]:.3f}" for c in cols)
                    + f" | {res['score']:.3f} |")
            if args.test:
                t = test(args, kind, variant)
                line += " " + " | ".join(f"{t[b]:.3f}" for b in BENCHMARKS) + " |"
            print(line, flush=True)


if __name__ == "__main__":
    main()
