#!/usr/bin/env bash
# Benchmarks of `routellm serve` on loopback with wrk, in one run, printing Markdown for
# bench/RESULTS.md:
#   1. gateway overhead with router-random-0.5 in front of the fast C stub upstream
#      (bench/proxy_stub.c): the stub called directly, routellm serve, the LiteLLM proxy and the
#      original RouteLLM server (both from PyPI; run bench/serve_setup.sh first, or they are
#      left out). Latency p50/p99 at a constant 5,000 requests/s (bench/proxy_loadgen.c, open
#      loop: wrk cannot hold a rate) and the highest request rate (wrk, 50 connections);
#   2. routed throughput with the mf router on distinct prompts (every request embedded) and on
#      one repeated prompt (the embedding cache), then on distinct prompts with the fp32 and the
#      int8 encoder (encoder.precision) in alternating rounds;
#   3. added time to first byte when streaming;
#   4. peak RSS (VmHWM) of routellm serve idle and after the load above.
#
#   make bench-serve            (or: BUILD=build bash bench/serve_proxy.sh)
#
# Environment: BUILD (default build), DURATION (seconds per run, default 10), RATE (default 5000),
# SERVE_BENCH_VENV (default .venv-serve-bench).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
DURATION=${DURATION:-10}
RATE=${RATE:-5000}
venv=${SERVE_BENCH_VENV:-.venv-serve-bench}
export RL_BENCH_KEY=sk-bench-4f1c2a9e8d7b6c5a4f3e2d1c0b9a8f7e
work=$(mktemp -d /tmp/rl_bench_serve_XXXXXX)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

source bench/serve_lib.sh
# wrk_run URL CONNECTIONS MODEL [DISTINCT] -> "rps p50 p90 p99 non2xx errors"
wrk_run() {
    local out
    out=$(RL_BENCH_MODEL=$3 RL_BENCH_DISTINCT=${4:-0} RL_BENCH_TAG="$RANDOM$RANDOM-" \
        wrk -t1 -c"$2" -d"${DURATION}s" -s bench/serve_post.lua "$1" 2>&1)
    echo "$out" | sed -n 's/^RESULT rps=\([0-9.]*\) p50_us=\([0-9]*\) p90_us=\([0-9]*\) p99_us=\([0-9]*\) non2xx=\([0-9]*\) errors=\([0-9]*\)$/\1 \2 \3 \4 \5 \6/p'
}
rss_kib() { # pid field
    awk -v f="$2:" '$1 == f {print $2}' "/proc/$1/status"
}

# ----------------------------------------------------------------------------
# Upstream stub and the proxies

stub_port=$(free_port)
"$BUILD/bench/proxy_stub" --port "$stub_port" > /dev/null &
pids+=($!)
wait_port "$stub_port" 5
stub="http://127.0.0.1:$stub_port/ok/v1"

rl_port=$(free_port)
cat > "$work/serve.yaml" <<YAML
server: {host: 127.0.0.1, port: $rl_port}
models:
  - {name: strong, base_url: "$stub", model: big-model, price_in: 10, price_out: 30}
  - {name: weak, base_url: "$stub", model: small-model, price_in: 0.2, price_out: 0.2}
routing: {strong: strong, weak: weak}
routers:
  random: {threshold: 0.5}
  mf: {threshold: 0.5}
encoder: {workers: 1, batch_max: 32, cache_entries: 100000}
YAML
"$BUILD/routellm" serve --config "$work/serve.yaml" 2> "$work/serve.log" &
rl_pid=$!
pids+=($rl_pid)
wait_port "$rl_port" 30
sleep 1
rss_idle=$(rss_kib "$rl_pid" VmRSS)

have_py=0
if [ -x "$venv/bin/python" ]; then
    have_py=1
    ll_port=$(free_port)
    cat > "$work/litellm.yaml" <<YAML
model_list:
  - model_name: big-model
    litellm_params: {model: openai/big-model, api_base: "$stub", api_key: dummy}
YAML
    LITELLM_LOCAL_MODEL_COST_MAP=True LITELLM_MASTER_KEY=$RL_BENCH_KEY "$venv/bin/litellm" --config "$work/litellm.yaml" --host 127.0.0.1 --port "$ll_port" \
        --num_workers 1 > "$work/litellm.log" 2>&1 &
    pids+=($!)
    orig_port=$(free_port)
    OPENAI_API_KEY=dummy "$venv/bin/python" -m routellm.openai_server --routers random \
        --strong-model openai/big-model --weak-model openai/small-model --base-url "$stub" \
        --api-key dummy --port "$orig_port" > "$work/routellm_py.log" 2>&1 &
    pids+=($!)
    wait_port "$ll_port" 120
    wait_port "$orig_port" 120
fi

# ----------------------------------------------------------------------------
# 1. Gateway overhead

echo "### Gateway overhead (router-random-0.5, fast C stub upstream, ${DURATION} s per run)"
echo
echo "| target | at $RATE/s: achieved | p50 | p90 | p99 | added p50 | added p99 | max req/s (wrk, 50 conns) | p50 | p99 | errors, late |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
row() { # name url port path model
    read -r prps p50 p90 p99 pmax perr plate <<< "$(loadgen "$3" "$4" "$5")"
    read -r mrps m50 m90 m99 mn2 merr <<< "$(wrk_run "$2/chat/completions" 50 "$5")"
    local a50="" a99=""
    if [ -n "${base50:-}" ]; then
        a50="$(( p50 - base50 )) µs"
        a99="$(( p99 - base99 )) µs"
    else
        base50=$p50
        base99=$p99
    fi
    echo "| $1 | $prps | $p50 µs | $p90 µs | $p99 µs | $a50 | $a99 | $mrps | $m50 µs | $m99 µs | $(( perr + mn2 + merr )), $plate |"
}
row "stub, direct" "$stub" "$stub_port" /ok/v1/chat/completions big-model
row "routellm serve (C)" "http://127.0.0.1:$rl_port/v1" "$rl_port" /v1/chat/completions router-random-0.5
rss_after_random=$(rss_kib "$rl_pid" VmHWM)
if [ "$have_py" = 1 ]; then
    row "LiteLLM proxy $("$venv/bin/pip" show litellm | sed -n 's/^Version: //p')" \
        "http://127.0.0.1:$ll_port/v1" "$ll_port" /v1/chat/completions big-model
    row "RouteLLM 0.2.0 server" "http://127.0.0.1:$orig_port/v1" "$orig_port" \
        /v1/chat/completions router-random-0.5
else
    echo "| LiteLLM proxy, RouteLLM server | not run: bash bench/serve_setup.sh first | | | | | | | | | |"
fi
echo

# ----------------------------------------------------------------------------
# 2. Routed throughput with mf

echo "### Routed throughput with mf (8 connections, no pause)"
echo
echo "| prompts | req/s | p50 | p99 | errors |"
echo "|---|---|---|---|---|"
read -r rps p50 p90 p99 n2 err <<< "$(wrk_run "http://127.0.0.1:$rl_port/v1/chat/completions" 8 router-mf-0.5 1)"
echo "| distinct (each embedded) | $rps | $p50 µs | $p99 µs | $(( n2 + err )) |"
read -r rps p50 p90 p99 n2 err <<< "$(wrk_run "http://127.0.0.1:$rl_port/v1/chat/completions" 8 router-mf-0.5 0)"
echo "| one repeated (cache) | $rps | $p50 µs | $p99 µs | $(( n2 + err )) |"
curl -s "http://127.0.0.1:$rl_port/metrics" > "$work/metrics.txt"
batches=$(awk '$1 == "routellm_encoder_batches_total" {print $2}' "$work/metrics.txt")
prompts=$(awk '$1 == "routellm_encoder_prompts_total" {print $2}' "$work/metrics.txt")
echo
echo "Encoder passes: $batches for $prompts prompts (mean batch $(awk -v a="$prompts" -v b="$batches" 'BEGIN {printf "%.1f", a / b}'))."
echo

# The same proxy with the int8 encoder beside it, alternating with the fp32 one.
rl8_port=$(free_port)
sed -e "s/port: $rl_port}/port: $rl8_port}/" \
    -e 's/^encoder: {/encoder: {precision: int8, /' "$work/serve.yaml" > "$work/serve_int8.yaml"
"$BUILD/routellm" serve --config "$work/serve_int8.yaml" 2> "$work/serve_int8.log" &
pids+=($!)
wait_port "$rl8_port" 30
echo "### Routed throughput with mf on distinct prompts: fp32 and int8 encoder (8 connections, alternating rounds)"
echo
echo "| round | encoder | req/s | p50 | p99 | errors |"
echo "|---|---|---|---|---|---|"
for round in 1 2; do
    for precision in fp32 int8; do
        port=$rl_port
        [ "$precision" = int8 ] && port=$rl8_port
        read -r rps p50 p90 p99 n2 err <<< "$(wrk_run "http://127.0.0.1:$port/v1/chat/completions" 8 router-mf-0.5 1)"
        echo "| $round | $precision | $rps | $p50 µs | $p99 µs | $(( n2 + err )) |"
    done
done
echo

# ----------------------------------------------------------------------------
# 3. Time to first byte when streaming

ttfb() { # url model -> median and p99 of curl's time_starttransfer over 300 requests, in µs
    local body="{\"model\":\"$2\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"stream\":true}"
    for _ in $(seq 1 300); do
        curl -s -o /dev/null -w '%{time_starttransfer}\n' -H 'Content-Type: application/json' \
            -d "$body" "$1/chat/completions"
    done | sort -n | awk '{v[NR] = $1 * 1e6} END {printf "%d %d", v[int(NR / 2)], v[int(NR * 0.99)]}'
}
read -r d50 d99 <<< "$(ttfb "$stub" big-model)"
read -r r50 r99 <<< "$(ttfb "http://127.0.0.1:$rl_port/v1" router-random-0.5)"
echo "### Time to first byte, streaming (curl, 300 sequential requests, new connection each)"
echo
echo "| target | p50 | p99 |"
echo "|---|---|---|"
echo "| stub, direct | $d50 µs | $d99 µs |"
echo "| routellm serve | $r50 µs | $r99 µs |"
echo "| added | $(( r50 - d50 )) µs | $(( r99 - d99 )) µs |"
echo

# ----------------------------------------------------------------------------
# 4. Memory

echo "### Memory of routellm serve (random + mf routers, encoder loaded)"
echo
echo "| state | RSS |"
echo "|---|---|"
echo "| idle after start-up (VmRSS) | $(( rss_idle / 1024 )) MiB |"
echo "| peak after the gateway runs (VmHWM) | $(( rss_after_random / 1024 )) MiB |"
echo "| peak after the mf runs (VmHWM) | $(( $(rss_kib "$rl_pid" VmHWM) / 1024 )) MiB |"
