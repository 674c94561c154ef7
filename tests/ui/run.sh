#!/usr/bin/env bash
# The proxy's dashboard in a real browser: installs Debian's chromium and chromium-driver (no
# browser download) and Selenium (PyPI, into .venv-ui with pip's cache in .cache/pip), then runs
# tests/ui/test_dashboard.py against the routellm program and the stub upstream.
#
#   make test-ui                                   (or: bash tests/ui/run.sh BIN STUB)
#   make test-ui SCREENSHOT=docs/dashboard.png     also saves the page as that PNG
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${1:-build/routellm}
stub=${2:-build/bench/proxy_stub}
venv=.venv-ui

echo "ui: installing chromium, chromium-driver and selenium"
bash tools/install_deps.sh chromium chromium-driver
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/pip" install -q --cache-dir .cache/pip 'selenium>=4.11,<5'
shot=()
if [ -n "${SCREENSHOT:-}" ]; then
    shot=(--screenshot "$SCREENSHOT")
fi
"$venv/bin/python" tests/ui/test_dashboard.py --routellm "$bin" --stub "$stub" "${shot[@]}"
