#!/usr/bin/env python3
"""Derive per-prompt quality tables from the AlpacaEval battles, for `table:` readers.

    python3 tools/make_alpaca_tables.py     # from the repository root; standard library only

Each AlpacaEval battle compares a model (model_2) with a fixed baseline (model_1) on one of the
805 prompts. The quality of a model on a prompt is the probability that the judge preferred it
over the baseline: preference - 1 (1 = baseline better, 2 = model better, fractional for the
weighted annotator), with 1.5 and 0 (undecided) counting as 0.5 and empty preferences (the judge
failed) skipped; several annotators of the same family are averaged. Two tables, one per
baseline, because qualities against different baselines do not compare:

  data/train/alpaca_eval/quality_v2.csv.gz   baseline gpt4_1106_preview (AlpacaEval 2 judges)
  data/train/alpaca_eval/quality_v1.csv.gz   baseline text_davinci_003 (alpaca_eval_gpt4)

Columns: prompt, then one column per model (sorted); an empty cell = no battle. The gzip header
carries no time stamp, so equal tables give equal bytes.
"""
import csv
import gzip
import io
import json
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = os.path.join(ROOT, "data", "train", "alpaca_eval")
BASELINES = {"gpt4_1106_preview": "quality_v2.csv.gz", "text_davinci_003": "quality_v1.csv.gz"}


def main():
    prompts = {}
    with gzip.open(os.path.join(SRC, "prompts.jsonl.gz"), "rt", encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            prompts[int(r["prompt_id"])] = r["instruction"]
    cells = {b: {} for b in BASELINES}  # baseline -> (prompt_id, model) -> [values]
    with gzip.open(os.path.join(SRC, "battles.csv.gz"), "rt", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            base = r["model_1"]
            if base not in BASELINES or r["preference"] == "":
                continue
            p = float(r["preference"])
            q = 0.5 if p == 0 else p - 1.0
            cells[base].setdefault((int(r["prompt_id"]), r["model_2"]), []).append(q)
    for base, name in BASELINES.items():
        c = cells[base]
        models = sorted({m for _, m in c})
        ids = sorted({i for i, _ in c})
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\n")
        w.writerow(["prompt"] + models)
        for i in ids:
            row = [prompts[i]]
            for m in models:
                v = c.get((i, m))
                row.append("" if v is None else f"{sum(v) / len(v):.6g}")
            w.writerow(row)
        path = os.path.join(SRC, name)
        with open(path, "wb") as raw:
            with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=9, mtime=0) as g:
                g.write(out.getvalue().encode("utf-8"))
        print(f"{path}: {len(ids)} prompts x {len(models)} models")


if __name__ == "__main__":
    main()
