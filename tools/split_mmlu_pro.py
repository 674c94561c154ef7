#!/usr/bin/env python3
"""Split the MMLU-Pro correctness table into the validation suite's held-out groups.

    python3 tools/split_mmlu_pro.py SOURCE.csv.gz     # e.g. ../shared/data/mmlu_pro/mmlu_pro_non_mmlu.csv.gz

Writes data/train/mmlu_pro/<group>.csv.gz, each with every column of the source and the rows of
its categories, in the source's order (standard library only; gzip without a time stamp, so the
same input gives the same bytes).
"""
import csv
import gzip
import io
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GROUPS = {
    "chemistry": ["chemistry"],
    "engineering": ["engineering"],
    "physics": ["physics"],
    "business_economics": ["business", "economics"],
    "math_cs": ["math", "computer science"],
    "biology_psychology": ["biology", "psychology"],
}


def main():
    with gzip.open(sys.argv[1], "rt", encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    cat = header.index("category")
    seen = set()
    for group, cats in GROUPS.items():
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\n")
        w.writerow(header)
        n = 0
        for r in body:
            if r[cat] in cats:
                w.writerow(r)
                n += 1
        seen.update(cats)
        path = os.path.join(ROOT, "data", "train", "mmlu_pro", group + ".csv.gz")
        with open(path, "wb") as raw:
            with gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=9, mtime=0) as g:
                g.write(out.getvalue().encode("utf-8"))
        print(f"{path}: {n} questions")
    left = {r[cat] for r in body} - seen
    if left:
        sys.exit(f"categories in no group: {sorted(left)}")


if __name__ == "__main__":
    main()
