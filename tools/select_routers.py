#!/usr/bin/env python3
"""Choose the training data and hyper-parameters of the shipped routers on validation data that
never touches the evaluation benchmarks (MT-Bench, MMLU test, GSM8K test), then, only to report
the choice transparently, score every candidate on those benchmarks too. docs/TRAINING.md
explains the protocol and holds the resulting tables.

Standard library only (the metric comes from tools/ref_eval.py, which needs numpy and pandas
only for its own reference); run from the repository root after `make` and `make models`:

    python3 tools/select_routers.py [--bin build/routellm] [--kinds mf,sw_ranking,bert]
        [--variants gold,gold+alpaca,...] [--test] [--work .cache/select]
        [--bootstrap 10000] [--seed 0]

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
The selection score of a variant is the mean of the five APGRs (four domains, the exact pair).

Rule (one-standard-error rule for selection under noisy validation): per router kind the
baseline is `gold`, the simplest variant (one data source, default hyper-parameters). Another
variant replaces it only if its selection score exceeds the baseline's by more than two standard
errors of the difference; of the variants that clear that bar the highest-scoring one ships, and
if none does the baseline ships. The standard error comes from a paired bootstrap over the
validation prompts: each resample draws, independently per validation set, its prompts with
replacement, and every variant of the kind is evaluated on the same resampled prompts with the
whole protocol (its own decile edges, its own weak and strong quality), from the per-prompt
score files `routellm eval --scores-out` writes; the standard error of a difference is the
standard deviation of the resampled differences of the two selection scores. The APGR computed
here from those files must equal `routellm eval`'s on the full sets (checked to 1e-9), so the
bootstrap measures the same number the table reports. It captures the sampling noise of the
validation prompts only, not the variation between training seeds. This rule replaced "the
highest selection score ships" after that rule's benchmark figures were known (docs/TRAINING.md
says so and shows every variant's benchmark figures for that reason).

Every figure is printed, so the choice can be checked. With --test, every variant is also
trained on all its data and evaluated on MT-Bench, MMLU and GSM8K (these numbers play no part
in the choice).

Runs take long (each variant trains 5 to 10 routers per kind); every trained router and score
file is kept under --work and reused, so an interrupted run resumes where it stopped.
"""
import argparse
import bisect
import csv
import glob
import gzip
import itertools
import json
import operator
import os
import random
import statistics
import subprocess
import sys

from ref_eval import NUM_RESULTS, apgr, edge  # the metric, written once (tools/ref_eval.py)

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
# The variant every other one must beat by more than two standard errors (the module docstring).
BASELINE = "gold"
# What the rule chose (the table in docs/TRAINING.md); tools/make_routers.sh trains these.
SHIPPED = {"mf": "gold", "sw_ranking": "gold-margin0.25", "bert": "gold"}
SETS = list(GROUPS) + ["alpaca"]


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


def eval_table(args, table, router, scores_out):
    """`routellm eval` of one router on one table; its per-prompt scores go to scores_out."""
    doc = json.loads(run([args.bin, "eval", "--benchmark", f"table:{table}", "--strong", STRONG,
                          "--weak", WEAK, "--router-file", f"r={router}", "--format", "json",
                          "--scores-out", scores_out]))
    stem = os.path.basename(table)[:-len(".csv")]
    return doc["routers"][0], f"{scores_out}/{stem}-r.jsonl"


def pooled_eval(args, table, score_files, pooled):
    with open(pooled, "w", encoding="utf-8") as out:
        for f in score_files:
            with open(f, encoding="utf-8") as inp:
                out.write(inp.read())
    doc = json.loads(run([args.bin, "eval", "--benchmark", f"table:{table}", "--strong", STRONG,
                          "--weak", WEAK, "--scores", f"r={pooled}", "--format", "json"]))
    return doc["routers"][0]


def validate(args, kind, variant):
    """The five validation APGRs of one kind and variant, and the per-prompt score file behind
    each (for the bootstrap)."""
    apgr, files = {}, {}
    base = f"{args.work}/{variant}/{kind}"
    for g, names in GROUPS.items():
        r = train_run(args, kind, variant, f"no-{g}", skip=names)
        doc, files[g] = eval_table(args, f"{args.work}/val-{g}.csv", r, f"{base}-no-{g}-scores")
        apgr[g] = doc["apgr"]
    uses_alpaca = VARIANTS[variant][1]
    if not uses_alpaca:
        r = train_run(args, kind, variant, "all")
        doc, files["alpaca"] = eval_table(args, f"{args.work}/val-alpaca.csv", r,
                                          f"{base}-all-scores")
    else:
        fold_files = []
        for k in range(FOLDS):
            fold = f"{args.work}/val-alpaca-{k}.csv"
            r = train_run(args, kind, variant, f"fold{k}", extra=["--exclude", fold])
            fold_files.append(eval_table(args, fold, r, f"{base}-fold{k}-scores")[1])
        files["alpaca"] = f"{base}-pooled.jsonl"
        doc = pooled_eval(args, f"{args.work}/val-alpaca.csv", fold_files, files["alpaca"])
    apgr["alpaca"] = doc["apgr"]
    return {"apgr": apgr, "files": files, "score": sum(apgr[s] for s in SETS) / len(SETS)}


def test(args, kind, variant):
    r = train_run(args, kind, variant, "all")
    out = {}
    for bench in BENCHMARKS:
        doc = json.loads(run([args.bin, "eval", "--benchmark", bench, "--router-file", f"r={r}",
                              "--format", "json"]))
        out[bench] = doc["routers"][0]["apgr"]
    return out


# ----------------------------------------------------------------------------
# Paired bootstrap of the selection scores

def read_table(path):
    """(prompt, strong quality, weak quality) rows of a validation table, in file order."""
    with open(path, newline="", encoding="utf-8") as f:
        return [(r[0], float(r[1]), float(r[2])) for r in list(csv.reader(f))[1:]]


def read_scores(path):
    scores = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                row = json.loads(line)
                scores[row["prompt"]] = row["score"]
    return scores


class Curve:
    """One router's scores on one validation table, sorted once, so that the APGR of any
    resample (a count per table row) costs a few cumulative sums and bisections."""

    def __init__(self, table, scores, path):
        prompts = {r[0] for r in table}
        missing = [p for p in scores if p not in prompts]
        if missing:
            sys.exit(f"{path}: prompt not in its table: {missing[0][:80]!r}")
        kept = [i for i, r in enumerate(table) if r[0] in scores]
        self.order = sorted(kept, key=lambda i: scores[table[i][0]])
        self.score = [scores[table[i][0]] for i in self.order]
        self.q_weak = [table[i][2] for i in self.order]
        self.gain = [table[i][1] - table[i][2] for i in self.order]

    def apgr(self, counts, num_results=NUM_RESULTS):
        """APGR of the protocol on the prompts drawn counts[i] times each; None when the two
        models tie on the resample (`routellm eval --bootstrap` skips those too)."""
        cnt = [counts[i] for i in self.order]
        cum = [0] + list(itertools.accumulate(cnt))
        cum_gain = [0.0] + list(itertools.accumulate(map(operator.mul, cnt, self.gain)))
        n = cum[-1]
        weak = sum(map(operator.mul, cnt, self.q_weak))
        r_w, r_s = weak / n, (weak + cum_gain[-1]) / n
        if r_w == r_s:
            return None

        def nth(pos):  # the pos-th smallest score of the resample
            return self.score[bisect.bisect_right(cum, pos) - 1]

        x, y = [], []
        for e in range(num_results, -1, -1):
            threshold = edge(nth, n, e, num_results)
            k = (bisect.bisect_right if e == num_results else bisect.bisect_left)(self.score,
                                                                                  threshold)
            x.append((n - cum[k]) / n * 100 / 100)  # via the percentage, as curve.c does
            y.append((weak + cum_gain[-1] - cum_gain[k]) / n)
        return apgr(x, y, r_w, r_s)


def bootstrap(args, results):
    """Resampled selection scores of every variant in results (one kind), paired: replicate b
    of every variant is evaluated on the same resampled prompts."""
    tables = {s: read_table(f"{args.work}/val-{s}.csv") for s in SETS}
    curves = {}
    for v, res in results.items():
        for s in SETS:
            c = curves[v, s] = Curve(tables[s], read_scores(res["files"][s]), res["files"][s])
            full = c.apgr([1] * len(tables[s]))
            if abs(full - res["apgr"][s]) > 1e-9:
                sys.exit(f"{v} on {s}: APGR {full!r} from {res['files'][s]} differs from "
                         f"routellm eval's {res['apgr'][s]!r}")
    rng = random.Random(args.seed)
    reps = {v: [] for v in results}
    for _ in range(10 * args.bootstrap):
        if len(reps[BASELINE]) == args.bootstrap:
            break
        rep = {v: 0.0 for v in results}
        for s in SETS:
            n = len(tables[s])
            counts = [0] * n
            for i in rng.choices(range(n), k=n):
                counts[i] += 1
            vals = {v: curves[v, s].apgr(counts) for v in results}
            if any(a is None for a in vals.values()):
                rep = None
                break
            for v, a in vals.items():
                rep[v] += a / len(SETS)
        if rep is not None:
            for v in results:
                reps[v].append(rep[v])
    if len(reps[BASELINE]) < args.bootstrap:
        sys.exit("the two models tie on most resamples of the validation sets: no bootstrap")
    return reps


def choose(results, reps):
    """Apply the rule: per variant its margin over the baseline, the standard error of that
    margin and whether it clears two of them; returns the chosen variant."""
    base = results[BASELINE]
    base["se"] = statistics.stdev(reps[BASELINE])
    for v, res in results.items():
        res["se"] = statistics.stdev(reps[v])
        if v == BASELINE:
            continue
        res["margin"] = res["score"] - base["score"]
        res["margin_se"] = statistics.stdev(a - b for a, b in zip(reps[v], reps[BASELINE]))
        res["clears"] = res["margin"] > 2 * res["margin_se"]
    cleared = [v for v, res in results.items() if res.get("clears")]
    return max(cleared, key=lambda v: results[v]["score"]) if cleared else BASELINE


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bin", default="build/routellm")
    p.add_argument("--kinds", default="mf,sw_ranking,bert")
    p.add_argument("--variants", default=",".join(VARIANTS))
    p.add_argument("--work", default=".cache/select")
    p.add_argument("--bootstrap", type=int, default=10000, help="paired resamples (default 10000)")
    p.add_argument("--seed", type=int, default=0, help="seed of the resamples (default 0)")
    p.add_argument("--test", action="store_true",
                   help="also report each variant on MT-Bench, MMLU and GSM8K (not used to choose)")
    args = p.parse_args()
    variants = args.variants.split(",")
    if BASELINE not in variants:
        sys.exit(f"--variants must include the baseline, {BASELINE}")
    if args.bootstrap < 2:
        sys.exit("--bootstrap must be at least 2")
    prepare(args.work)
    print("Validation APGR (held-out RouterDC domains with the stand-in pair; AlpacaEval "
          "gpt-4-1106-preview vs Mixtral). Selection score = mean of the five, ± its bootstrap "
          f"standard error; margin = score − {BASELINE}'s, ± the paired bootstrap standard "
          f"error of that difference ({args.bootstrap} resamples, seed {args.seed}); a variant "
          f"replaces {BASELINE} only if margin > 2 SE.\n")
    print("| router | variant | " + " | ".join(SETS) + " | selection score | margin over "
          f"{BASELINE} | 2 SE (bar) | clears |"
          + (" MT-Bench | MMLU | GSM8K |" if args.test else ""))
    print("|---|---|" + "---|" * (len(SETS) + 4) + ("---|---|---|" if args.test else ""))
    chosen = {}
    for kind in args.kinds.split(","):
        results = {v: validate(args, kind, v) for v in variants
                   if v != "gold-mf30" or kind == "mf"}
        reps = bootstrap(args, results)
        chosen[kind] = best = choose(results, reps)
        for v, res in results.items():
            name = f"**{v} (shipped)**" if v == best else v
            if v == BASELINE:
                margin = "— (baseline) | — | —"
            else:
                margin = (f"{res['margin']:+.4f} ± {res['margin_se']:.4f} | "
                          f"{2 * res['margin_se']:.4f} | {'yes' if res['clears'] else 'no'}")
            line = (f"| {kind} | {name} | " + " | ".join(f"{res['apgr'][s]:.3f}" for s in SETS)
                    + f" | {res['score']:.4f} ± {res['se']:.4f} | {margin} |")
            if args.test:
                t = test(args, kind, v)
                line += " " + " | ".join(f"{t[b]:.3f}" for b in BENCHMARKS) + " |"
            print(line, flush=True)
    for kind, v in chosen.items():
        if SHIPPED.get(kind) != v:
            log(f"note: the rule chose {v} for {kind}, but SHIPPED says {SHIPPED.get(kind)}: "
                "update SHIPPED and tools/make_routers.sh")


if __name__ == "__main__":
    main()
