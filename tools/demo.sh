#!/usr/bin/env bash
# The main job, run by `make demo`: calibrate the recommended router (data/suite/shipped.json,
# chosen on the validation suite) for 50% strong calls on real Arena prompts, route three prompts
# with that threshold, and measure the shipped routers beside the random and length baselines on
# MT-Bench with the paper's protocol. Everything runs locally; no LLM or API is called.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=build/routellm
router=$(python3 -c "import json; print(json.load(open('data/suite/shipped.json'))['recommended'])")

echo "== calibrate: the threshold of the recommended router ($router) for 50% strong calls"
"$bin" calibrate --router "$router" --strong-model-pct 0.5 | tee build/demo_calibrate.txt
alpha=$(sed -n "s/^model: router-$router-//p" build/demo_calibrate.txt)

echo
echo "== route: three prompts at threshold $alpha"
for prompt in "Translate 'good morning' into French." \
              "hi, how are you?" \
              "Write a Python function that merges two sorted lists in linear time."; do
    "$bin" route --router "$router" --threshold "$alpha" --json "$prompt"
done

echo
echo "== eval: the shipped routers and the baselines on MT-Bench"
"$bin" eval --benchmark mt-bench --routers random,length,mf,sw_ranking,bert,irt
