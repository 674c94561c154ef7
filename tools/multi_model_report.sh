#!/bin/bash
# Routing among many models on held-out prompts: the report of docs/EVAL.md ("Results: many
# models"), on two training-side tables. The protocol was fixed before any number was seen, and
# nothing in it is chosen by a result.
#
# Arena:
#   - data: data/train/arena_bench_v1/scores.csv.gz (Chatbot Arena prompts, GPT-4 single-answer
#     scores 1-10 of 15 models; training-side data, none of it MT-Bench, MMLU or GSM8K);
#   - split by question_id: rows whose id ends in an even hex digit train, the others evaluate;
#   - routers: mf, sw_ranking and irt, each trained on the training rows with its defaults
#     (battles where a score is at least one point higher win, as the suite reads this table;
#     irt on the scores themselves), default pair gpt-4-1106-preview / Mixtral;
#   - models: five of the table's fifteen, across the price range, at their providers' list
#     prices in USD per million input / output tokens: gpt-4-1106-preview 10/30, claude-2.1 8/24,
#     gpt-3.5-turbo-1106 1/2, Mixtral-8x7B-Instruct 0.6/0.6 and Mistral-7B-Instruct 0.2/0.2
#     (Together AI's price for the open models);
#   - measure: `routellm eval --models` on the evaluation rows: AIQ and the saving at the best
#     single model's quality for each router and policy, with the random and length baselines.
#
# MMLU-Pro (fixed after the Arena run, before this one; the Arena table has 150 prompts only):
#   - data: the six tables of data/train/mmlu_pro (29 models' correctness, not from MMLU), one
#     table; split by question_id, even ids train, odd ids evaluate;
#   - routers as above, trained on the battles of the suite's eight MMLU-Pro models
#     (data/suite/default.yaml) and, for irt, on every model's cells;
#   - models: gemini-1.5-pro-002 1.25/5, Meta-Llama-3.1-70B-Instruct 0.88/0.88,
#     Mixtral-8x7B-Instruct-v0.1 0.6/0.6, Meta-Llama-3.1-8B-Instruct 0.18/0.18 and
#     Mistral-7B-Instruct-v0.2 0.2/0.2 (Google's price; Together AI's for the open models);
#   - measure as above.
# Usage: bash tools/multi_model_report.sh [OUT_DIR]   (default .cache/multi_model_report)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-.cache/multi_model_report}
bin=${ROUTELLM:-build/routellm}
mkdir -p "$out"
python3 - "$out" <<'PY'
import csv, gzip, sys
out = sys.argv[1]
rows = list(csv.reader(gzip.open("data/train/arena_bench_v1/scores.csv.gz", "rt", newline="")))
head, body = rows[0], rows[1:]
for name, keep in (("train", "02468ace"), ("eval", "13579bdf")):
    with open(f"{out}/arena_{name}.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(head)
        w.writerows(r for r in body if r[0][-1].lower() in keep)
rows, head = [], None
for sub in ("biology_psychology", "business_economics", "chemistry", "engineering", "math_cs",
            "physics"):
    r = list(csv.reader(gzip.open(f"data/train/mmlu_pro/{sub}.csv.gz", "rt", newline="")))
    head = head or r[0]
    assert r[0] == head, sub
    rows += r[1:]
for name, parity in (("train", 0), ("eval", 1)):
    with open(f"{out}/mmlu_pro_{name}.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(head)
        w.writerows(r for r in rows if int(r[0]) % 2 == parity)
PY
models=gpt-4-1106-preview,claude-2.1,gpt-3.5-turbo-1106,mistralai/Mixtral-8x7B-Instruct-v0.1,mistralai/Mistral-7B-Instruct-v0.1
strong=gpt-4-1106-preview
weak=mistralai/Mixtral-8x7B-Instruct-v0.1
for kind in mf sw_ranking; do
  "$bin" train "$kind" --data "table:$out/arena_train.csv,skip=question_id,margin=1" \
    --strong "$strong" --weak "$weak" --out "$out/$kind.safetensors"
done
"$bin" train irt --data "table:$out/arena_train.csv,skip=question_id,scale=1:10" \
  --strong "$strong" --weak "$weak" --out "$out/irt.safetensors"
"$bin" eval --benchmark "table:$out/arena_eval.csv" --models "$models" \
  --price gpt-4-1106-preview=10,30 --price claude-2.1=8,24 --price gpt-3.5-turbo-1106=1,2 \
  --price mistralai/Mixtral-8x7B-Instruct-v0.1=0.6,0.6 \
  --price mistralai/Mistral-7B-Instruct-v0.1=0.2,0.2 \
  --router-file "mf=$out/mf.safetensors" --router-file "sw_ranking=$out/sw_ranking.safetensors" \
  --router-file "irt=$out/irt.safetensors" --output "$out" "$@" | tee "$out/report_arena.txt"

suite_models="gemini-1.5-pro-002|Meta-Llama-3.1-70B-Instruct|Qwen1.5-72B-Chat|Mixtral-8x7B-Instruct-v0.1|Meta-Llama-3.1-8B-Instruct|Mistral-7B-Instruct-v0.2|gemma-7b|Llama-2-7b-hf"
strong=gemini-1.5-pro-002
weak=Mixtral-8x7B-Instruct-v0.1
for kind in mf sw_ranking; do
  "$bin" train "$kind" --data "table:$out/mmlu_pro_train.csv,models=$suite_models" \
    --strong "$strong" --weak "$weak" --out "$out/mmlu_pro_$kind.safetensors"
done
"$bin" train irt --data "table:$out/mmlu_pro_train.csv,skip=question_id|category|src" \
  --strong "$strong" --weak "$weak" --out "$out/mmlu_pro_irt.safetensors"
"$bin" eval --benchmark "table:$out/mmlu_pro_eval.csv" \
  --models gemini-1.5-pro-002,Meta-Llama-3.1-70B-Instruct,Mixtral-8x7B-Instruct-v0.1,Meta-Llama-3.1-8B-Instruct,Mistral-7B-Instruct-v0.2 \
  --price gemini-1.5-pro-002=1.25,5 --price Meta-Llama-3.1-70B-Instruct=0.88,0.88 \
  --price Mixtral-8x7B-Instruct-v0.1=0.6,0.6 --price Meta-Llama-3.1-8B-Instruct=0.18,0.18 \
  --price Mistral-7B-Instruct-v0.2=0.2,0.2 \
  --router-file "mf=$out/mmlu_pro_mf.safetensors" \
  --router-file "sw_ranking=$out/mmlu_pro_sw_ranking.safetensors" \
  --router-file "irt=$out/mmlu_pro_irt.safetensors" --output "$out" "$@" | tee "$out/report_mmlu_pro.txt"
