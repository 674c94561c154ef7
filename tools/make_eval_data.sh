#!/usr/bin/env bash
# Rebuild the evaluation data shipped in data/evals/ and the calibration prompt sample in
# data/prompts/ from the project's reference datasets (the shared/data folder beside the
# repository, or the folder given as $1). Files are copied byte for byte; the ones stored
# uncompressed upstream are gzip -9n'd (no name or time stamp, so the output is reproducible).
#
#   bash tools/make_eval_data.sh [path/to/shared/data]
set -euo pipefail
cd "$(dirname "$0")/.."

src=${1:-../shared/data}
evals=$src/routellm_evals
arena=$src/arena_hard_auto
[ -d "$evals" ] && [ -d "$arena" ] || { echo "make_eval_data: no $evals or $arena" >&2; exit 1; }

out=data/evals
rm -rf "$out/mt_bench" "$out/mmlu" "$out/gsm8k"
mkdir -p "$out/mt_bench" "$out/mmlu/responses" "$out/gsm8k" data/prompts

gz() { gzip -9n < "$1" > "$2"; }

gz "$evals/mt_bench/question.jsonl" "$out/mt_bench/question.jsonl.gz"
cp "$evals/mt_bench/judgements.jsonl.gz" "$out/mt_bench/"
gz "$evals/mt_bench/contaminated_prompts.jsonl" "$out/mt_bench/contaminated_prompts.jsonl.gz"
cp "$evals"/mmlu/responses/mmlu_*.csv.gz "$out/mmlu/responses/"
gz "$evals/mmlu/contaminated_prompts.jsonl" "$out/mmlu/contaminated_prompts.jsonl.gz"
cp "$evals/gsm8k/gsm8k_responses.csv.gz" "$out/gsm8k/"
gz "$evals/gsm8k/contaminated_prompts.jsonl" "$out/gsm8k/contaminated_prompts.jsonl.gz"
cp "$evals/LICENSE.RouteLLM-Apache-2.0.txt" "$out/"

# The calibration sample: Arena-Hard v0.1 (500) then v2.0 (750) rows, unmodified.
{ zcat "$arena/v0.1/question.jsonl.gz"; zcat "$arena/v2.0/question.jsonl.gz"; } |
    gzip -9n > data/prompts/arena_hard.jsonl.gz
cp "$arena/LICENSE.arena-hard-auto-Apache-2.0.txt" data/prompts/

chmod 644 "$out"/*.txt data/prompts/*.txt "$out"/*/*.gz "$out"/mmlu/responses/*.gz
for d in "$out" data/prompts; do
    ( cd "$d" && find . -type f -name '*.gz' | sort | xargs sha256sum ) > "$d/SHA256SUMS"
done
echo "make_eval_data: wrote $out and data/prompts ($(du -sh data/evals data/prompts | awk '{print $1}' | paste -sd' '))"
