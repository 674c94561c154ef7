#!/usr/bin/env bash
# Run every benchmark driver in bench/ (`make bench` builds the programs first). Each section
# prints a Markdown report for bench/RESULTS.md.
#
#   bash bench/run.sh [NAME...]      NAME: encoder, tokenizer, router (default: all)
#
# Environment: BUILD (build folder, default build), BENCH_PYTHON (a Python with the reference
# engines, default .venv-bench/bin/python; see bench/README.md for how to create it).
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=${BUILD:-build}
BENCH_PYTHON=${BENCH_PYTHON:-.venv-bench/bin/python}

need_python() {
    if [ ! -x "$BENCH_PYTHON" ]; then
        echo "bench/run.sh: $BENCH_PYTHON not found; create it as bench/README.md says" \
             "(or set BENCH_PYTHON)" >&2
        exit 1
    fi
}

run_encoder() {
    need_python
    echo "## Encoder"
    "$BENCH_PYTHON" bench/encoder.py --bin "$BUILD/bench/encoder"
}

run_tokenizer() {
    need_python
    echo "## Tokenizer"
    "$BENCH_PYTHON" bench/tokenizer.py --bin "$BUILD/bench/bench_tokenizer"
}

run_router() {
    need_python
    echo "## Routers"
    "$BENCH_PYTHON" bench/router.py --build "$BUILD"
}

names=("$@")
if [ ${#names[@]} -eq 0 ]; then
    names=(encoder tokenizer router)
fi
for name in "${names[@]}"; do
    "run_$name"
done
