#!/usr/bin/env bash
# Install the Debian packages routellm builds and tests with, and any packages named as arguments
# (tests/ui/run.sh adds chromium and chromium-driver). Idempotent and non-interactive; uses sudo
# when not run as root.
set -euo pipefail

packages=(
    build-essential pkg-config ca-certificates git
    libopenblas-dev libcurl4-openssl-dev libmicrohttpd-dev libjansson-dev libyaml-dev
    libutf8proc-dev zlib1g-dev libssl-dev
    python3 python3-pip python3-venv
    gnuplot-nox
    clang libclang-rt-14-dev # make fuzz, make fuzz-regress (libFuzzer)
    cmake # builds llama-cpp-python for make test-e2e
    "$@"
)

sudo=()
if [ "$(id -u)" -ne 0 ]; then
    sudo=(sudo)
fi
missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
        missing+=("$p")
    fi
done
# A fresh machine often runs unattended-upgrades at boot: wait up to 10 minutes for apt's lock
# instead of failing at once.
apt=(apt-get -o DPkg::Lock::Timeout=600)
if [ ${#missing[@]} -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" "${apt[@]}" update -qq
    "${sudo[@]}" "${apt[@]}" install -y -qq --no-install-recommends "${missing[@]}"
fi
