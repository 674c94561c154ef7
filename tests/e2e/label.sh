#!/usr/bin/env bash
# `routellm label` with the two small real models of tests/e2e/run.sh (docs/LABEL.md):
#   1. 30 arithmetic prompts answered by both models and graded against their reference answers
#      (--grader number: the answer's last number): every cell a grade or an empty cell that
#      the totals count, every call's cost recorded;
#   2. 6 of the prompts graded by a judge, one of the two models (MT-Bench's single-answer
#      prompt): every cell is a rating 1-10 or a missing verdict, never anything else.
# Training and evaluating on such a table is left out here: the 270M model answers most bare
# prompts with an empty message, so its cells are mostly empty and a 30-prompt table gives no
# battle to train on (docs/GUIDE.md trains on ratings instead).
#
#   RL_LABEL_BIN RL_LABEL_PY RL_LABEL_CONFIG RL_LABEL_WORK   (set by run.sh; the config's client
#   keys variable must be set too)
set -euo pipefail
bin=$RL_LABEL_BIN
py=$RL_LABEL_PY
work=$RL_LABEL_WORK

"$py" - "$work" <<'PY'
import csv, random, sys
work = sys.argv[1]
rng = random.Random(7)
with open(f"{work}/sums.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["prompt", "answer"])
    for i in range(30):
        a, b = rng.randint(2, 60), rng.randint(2, 60)
        w.writerow([f"Question {i + 1}: what is {a} plus {b}? Answer with the number only.", a + b])
PY

echo "label: 1. 30 prompts, both models, graded against the reference answers"
t0=$(date +%s)
"$bin" label --config "$RL_LABEL_CONFIG" --prompts "$work/sums.csv" --models strong,weak \
    --reference-column answer --grader number --max-tokens 12 --concurrency 2 \
    --out "$work/labels.csv" > "$work/labels.log" 2>&1 || { cat "$work/labels.log"; exit 1; }
tail -n 3 "$work/labels.log"
echo "label: took $(( $(date +%s) - t0 )) s"
"$py" - "$work/labels.csv" "$work/labels.log" <<'PY'
import csv, re, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
assert len(rows) == 30, len(rows)
empty = 0
for r in rows:  # a reference grade is 1 or 0, or an empty cell when the answer has no number
    for m in ("strong", "weak"):
        assert r[m] in ("", "0", "1"), r
        empty += r[m] == ""
        assert float(r[f"{m}|cost"]) > 0, r  # every call is paid for, graded or not
said = re.search(r"(\d+) missing verdicts?", open(sys.argv[2]).read())
assert said and int(said.group(1)) == empty, (said, empty)
print(f"label: 30 rows, {60 - empty} cells graded, {empty} answers without a number")
PY

echo "label: 2. a judge grades 6 prompts"
head -n 7 "$work/sums.csv" > "$work/six.csv"
"$bin" label --config "$RL_LABEL_CONFIG" --prompts "$work/six.csv" --models strong,weak \
    --judge strong --max-tokens 12 --judge-max-tokens 24 --concurrency 2 \
    --out "$work/judged.csv" > "$work/judged.log" 2>&1 || { cat "$work/judged.log"; exit 1; }
grep "the table:" "$work/judged.log"
"$py" - "$work/judged.csv" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
for r in rows:  # a verdict is a rating 1-10, or an empty cell: never anything else
    for m in ("strong", "weak"):
        assert r[m] == "" or 1 <= float(r[m]) <= 10, r
print(f"label: {len(rows)} judged rows")
PY
echo "label: done"
