#!/usr/bin/env bash
# Rebuild the default routers shipped in routers/ from the training data in data/train, with
# fixed seeds: `make routers` runs this after building the binary and fetching the encoder.
#
#   tools/make_routers.sh [ROUTELLM_BINARY]      (default build/routellm)
#
# Each kind ships the candidate of the validation suite (data/suite/default.yaml) that
# tools/select_routers.py chose by the rule of docs/TRAINING.md, on the suite alone; the choice
# is recorded in data/suite/shipped.json. `routellm validate --ship` trains it as the suite does
# (the same data, the same decontamination: no prompt within cosine 0.95 of, or quoted by, an
# MT-Bench, MMLU test or GSM8K test text), on every source at once. Each router lists the prompts
# it was trained on beside it (routers/<kind>.prompts.jsonl.gz), which `routellm eval`
# decontaminates against. The default pair is the paper's (gpt-4-1106-preview over
# Mixtral-8x7B), through stand-in aliases where a candidate's data lacks those models.
set -euo pipefail
export LC_ALL=C # the order of the data files (and so of the battles) must not depend on the locale
cd "$(dirname "$0")/.."
bin=${1:-build/routellm}

mkdir -p routers
for kind in mf sw_ranking bert irt; do
    candidate=$(python3 -c "import json,sys; print(json.load(open('data/suite/shipped.json'))[sys.argv[1]])" "$kind")
    "$bin" validate --ship "$candidate" --out "routers/$kind.safetensors" \
        --strong gpt-4-1106-preview --weak mixtral-8x7b-instruct-v0.1
done
