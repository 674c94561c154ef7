#!/usr/bin/env python3
"""Tokenizer throughput: routellm's WordPiece (build/bench/bench_tokenizer) against Hugging Face
`tokenizers` on the same prompts, in one run, one thread. Prints a Markdown table with ratios.

The prompts are the real ones of the tokenizer golden corpus (MT-Bench, Arena-Hard, AlpacaEval):
the short ones (at most 200 bytes), all truncated at 256 ids as the encoder does, and all in full.
`tokenizers` is timed both per call (`encode`, what a server does per request) and per batch
(`encode_batch`, its fastest path), with RAYON_NUM_THREADS=1.

    pip install tokenizers==0.23.3
    python3 bench/tokenizer.py [--bin build/bench/bench_tokenizer] [--model models/all-MiniLM-L6-v2]
"""
import argparse
import gzip
import json
import os
import re
import subprocess
import time

os.environ["RAYON_NUM_THREADS"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"
from tokenizers import Tokenizer  # noqa: E402

PROMPT_KINDS = ("mt_bench", "alpaca_eval")


def read_prompts(path):
    texts = []
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            rec = json.loads(line)
            kind = rec.get("kind") or ""
            if isinstance(rec.get("text"), str) and (kind in PROMPT_KINDS or kind.startswith("arena_hard")):
                texts.append(rec["text"])
    return texts


def time_for_a_second(fn, n_texts):
    """Mean seconds per text of fn() (which processes n_texts texts), repeated for >= 1 s."""
    fn()
    reps, t0 = 0, time.perf_counter()
    while True:
        fn()
        reps += 1
        t1 = time.perf_counter()
        if t1 - t0 >= 1.0:
            return (t1 - t0) / (reps * n_texts)


def hf_times(tok, texts, max_ids):
    if max_ids:
        tok.enable_truncation(max_ids)
    else:
        tok.no_truncation()
    per_call = time_for_a_second(lambda: [tok.encode(t) for t in texts], len(texts))
    per_batch = time_for_a_second(lambda: tok.encode_batch(texts), len(texts))
    return per_call, per_batch


def c_times(binary, model, golden):
    out = subprocess.run([binary, model, golden], check=True, capture_output=True, text=True).stdout
    times = re.findall(r"([0-9.]+) us/prompt", out)
    if len(times) != 3:
        raise SystemExit("bench/tokenizer.py: unexpected output from %s:\n%s" % (binary, out))
    return [float(t) * 1e-6 for t in times]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default="build/bench/bench_tokenizer")
    ap.add_argument("--model", default="models/all-MiniLM-L6-v2")
    ap.add_argument("--golden", default="tests/data/tokenizer/golden.jsonl.gz")
    args = ap.parse_args()

    texts = read_prompts(args.golden)
    short = [t for t in texts if len(t.encode("utf-8")) <= 200]
    tok = Tokenizer.from_file(os.path.join(args.model, "tokenizer.json"))
    tok.no_padding()
    c = c_times(args.bin, args.model, args.golden)
    rows = [("short (<= 200 bytes)", short, 256), ("all, truncated at 256", texts, 256),
            ("all, in full", texts, 0)]
    print("| prompts | n | routellm (C) µs/prompt | tokenizers encode µs | encode_batch µs "
          "| C vs encode | C vs encode_batch |")
    print("|---|---|---|---|---|---|---|")
    for (label, sample, max_ids), c_s in zip(rows, c):
        call_s, batch_s = hf_times(tok, sample, max_ids)
        print("| %s | %d | %.2f | %.2f | %.2f | %.1fx | %.1fx |" % (
            label, len(sample), c_s * 1e6, call_s * 1e6, batch_s * 1e6, call_s / c_s, batch_s / c_s))


if __name__ == "__main__":
    main()
