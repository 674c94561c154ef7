#!/usr/bin/env bash
# Run the libFuzzer targets built by `make fuzz` / `make fuzz-regress` (see docs/FUZZING.md).
#
#   bash tools/fuzz.sh fuzz BUILD SECONDS [NAME...]   fuzz each target for SECONDS from its
#                                                     corpus; new inputs go to .cache/fuzz/NAME
#   bash tools/fuzz.sh fuzz-regress BUILD [SECONDS]   run every committed corpus input once
#
# A crash, leak, sanitizer report or timeout leaves its input in .cache/fuzz/crashes/ and makes
# the script exit non-zero.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=$1
build=$2
seconds=${3:-60}
shift $(($# < 3 ? $# : 3))
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
    for src in fuzz/*.c; do
        names+=("$(basename "$src" .c)")
    done
fi

mkdir -p .cache/fuzz/crashes
failed=()
for name in "${names[@]}"; do
    bin=$build/fuzz/$name
    corpus=fuzz/corpus/$name
    mkdir -p "$corpus" ".cache/fuzz/$name"
    common=(-artifact_prefix=".cache/fuzz/crashes/$name-" -timeout=10 -rss_limit_mb=2048
            -print_final_stats=0)
    if [ "$mode" = fuzz-regress ]; then
        echo "== $name: replaying $(find "$corpus" -type f | wc -l) inputs"
        if ! "$bin" "${common[@]}" -runs=0 "$corpus" 2> ".cache/fuzz/$name.log"; then
            tail -40 ".cache/fuzz/$name.log" >&2
            failed+=("$name")
        fi
    else
        echo "== $name: fuzzing for $seconds s"
        if ! "$bin" "${common[@]}" -max_total_time="$seconds" ".cache/fuzz/$name" "$corpus" \
            2> ".cache/fuzz/$name.log"; then
            tail -40 ".cache/fuzz/$name.log" >&2
            failed+=("$name")
        fi
        grep -E "^#[0-9]+.*(DONE|pulse)" ".cache/fuzz/$name.log" | tail -1 || true
    fi
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz: failures in ${failed[*]} (inputs in .cache/fuzz/crashes/)" >&2
    exit 1
fi
echo "fuzz: ${#names[@]} targets, no failures"
