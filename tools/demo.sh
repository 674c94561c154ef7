#!/usr/bin/env bash
# The main job, run by `make demo`: embed two prompts with the local encoder.
set -euo pipefail
cd "$(dirname "$0")/.."
build/routellm embed "What is the capital of France?" \
    "Prove that there are infinitely many primes." | cut -c1-160
