#!/usr/bin/env bash
# Rebuild the default routers shipped in routers/ from the training data in data/train, with
# fixed seeds: `make routers` runs this after building the binary and fetching the encoder.
#
#   tools/make_routers.sh [ROUTELLM_BINARY]      (default build/routellm)
#
# Data: the gold battles of data/train/routerdc (per-question correctness of 7 open models on
# training splits that do not overlap MMLU, GSM8K or MT-Bench test questions). Training prompts
# within cosine 0.95 of an evaluation prompt (data/evals) are dropped first and listed in
# data/train/dropped.jsonl.gz. The AlpacaEval judge battles in data/train/alpaca_eval are not
# used: measured on the evaluation benchmarks they make every router worse (docs/TRAINING.md).
#
# None of the seven models is GPT-4 or Mixtral, so the routers name the RouteLLM pair through
# aliases: gpt-4-1106-preview stands for the strongest model of the data by Bradley-Terry rating
# (dolphin-2.9-llama3-8b) and mixtral-8x7b-instruct-v0.1 for the weakest (chinese-mistral-7b-v0.1).
# Embeddings come from the local encoder through the cache in .cache/embeddings, so a second run
# only trains.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-build/routellm}

data=()
for f in data/train/routerdc/*.json.gz; do
    data+=(--data "table:$f")
done
exclude=(--exclude data/evals/mt_bench/question.jsonl.gz
         --exclude data/evals/gsm8k/gsm8k_responses.csv.gz)
for f in data/evals/mmlu/responses/*.csv.gz; do
    exclude+=(--exclude "$f")
done
pair=(--alias gpt-4-1106-preview=dolphin-2.9-llama3-8b
      --alias mixtral-8x7b-instruct-v0.1=chinese-mistral-7b-v0.1)

mkdir -p routers
"$bin" train mf "${data[@]}" "${exclude[@]}" "${pair[@]}" --dropped data/train/dropped.jsonl \
    --seed 1 --epochs 10 --out routers/mf.safetensors
"$bin" train sw_ranking "${data[@]}" "${exclude[@]}" "${pair[@]}" --out routers/sw_ranking.safetensors
"$bin" train bert "${data[@]}" "${exclude[@]}" "${pair[@]}" --seed 1 --out routers/bert.safetensors
gzip -n -9 -f data/train/dropped.jsonl
