#!/usr/bin/env bash
# Rebuild the default routers shipped in routers/ from the training data in data/train, with
# fixed seeds: `make routers` runs this after building the binary and fetching the encoder.
#
#   tools/make_routers.sh [ROUTELLM_BINARY]      (default build/routellm)
#
# The data of each router kind is the variant that tools/select_routers.py chose by its rule
# (docs/TRAINING.md has the rule and every variant's figures; keep SHIPPED there in step with
# this file): a variant replaces the baseline, gold battles alone, only if it beats it on
# validation data that never touches MT-Bench, MMLU test or GSM8K test by more than two standard
# errors. Only sw_ranking's smaller margin did:
#   mf          gold battles from data/train/routerdc
#   sw_ranking  gold battles with margin 0.25 (the per-question scores of ARC, C-Eval and CMMLU
#               are probabilities, so a smaller margin keeps more of them)
#   bert        gold battles
# Gold battles: per-question correctness of 7 open 7-8B models on training splits of ARC, MATH,
# GSM8K, C-Eval, CMMLU and code benchmarks (data/train/routerdc). Training prompts within cosine
# 0.95 of an evaluation prompt (data/evals), or quoted by one, are dropped first and listed in
# data/train/dropped-<kind>.jsonl.gz. Each router lists the prompts it was trained on beside it
# (routers/<kind>.prompts.jsonl.gz), which `routellm eval` decontaminates against.
#
# The data has no battle of GPT-4 or Mixtral, so every router names the RouteLLM pair through
# aliases: gpt-4-1106-preview stands for the strongest model of the gold data by
# Bradley-Terry rating (dolphin-2.9-llama3-8b) and mixtral-8x7b-instruct-v0.1 for the weakest
# (chinese-mistral-7b-v0.1). Embeddings come from the local encoder through the cache in
# .cache/embeddings, so a second run only trains.
set -euo pipefail
export LC_ALL=C # the order of the data files (and so of the battles) must not depend on the locale
cd "$(dirname "$0")/.."
bin=${1:-build/routellm}

gold=() gold_m25=()
for f in data/train/routerdc/*.json.gz; do
    gold+=(--data "table:$f")
    gold_m25+=(--data "table:$f,margin=0.25")
done
exclude=(--exclude data/evals/mt_bench/question.jsonl.gz
         --exclude data/evals/gsm8k/gsm8k_responses.csv.gz)
for f in data/evals/mmlu/responses/*.csv.gz; do
    exclude+=(--exclude "$f")
done
stand_in=(--alias gpt-4-1106-preview=dolphin-2.9-llama3-8b
          --alias mixtral-8x7b-instruct-v0.1=chinese-mistral-7b-v0.1)

mkdir -p routers
"$bin" train mf "${gold[@]}" "${exclude[@]}" "${stand_in[@]}" \
    --dropped data/train/dropped-mf.jsonl --seed 1 --epochs 10 --out routers/mf.safetensors
"$bin" train sw_ranking "${gold_m25[@]}" "${exclude[@]}" "${stand_in[@]}" \
    --dropped data/train/dropped-sw_ranking.jsonl --out routers/sw_ranking.safetensors
"$bin" train bert "${gold[@]}" "${exclude[@]}" "${stand_in[@]}" \
    --dropped data/train/dropped-bert.jsonl --seed 1 --out routers/bert.safetensors
gzip -n -9 -f data/train/dropped-{mf,sw_ranking,bert}.jsonl
