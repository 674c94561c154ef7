#!/usr/bin/env bash
# Does a large configuration cost the proxy anything? Two `routellm serve` instances in front of
# the fast C stub upstream (bench/proxy_stub.c), measured in alternating rounds in one run:
#   small: two models and the random router;
#   large: ten priced models (two of them a group of deployments), fallback chains, cooldown,
#          five routes over the mf router, and the random router.
# Each round sends router-random-0.5 at a constant RATE (bench/proxy_loadgen.c, open loop) to
# each instance and to the stub directly; the "added" columns are the proxy's p50 and p99 less
# the stub's of the same round. A last pair of rounds sends the route `smart` (mf over three
# models, one repeated prompt: the embedding cache) beside router-mf-0.5 on the same instance,
# the cost of a route's decision over a pair's. Prints Markdown for bench/RESULTS.md.
#
#   BUILD=build bash bench/serve_routes.sh     (after make build/bench/proxy_stub build/bench/proxy_loadgen)
#
# Environment: BUILD (default build), DURATION (seconds per run, default 5), RATE (default 5000),
# ROUNDS (default 3).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
DURATION=${DURATION:-5}
RATE=${RATE:-5000}
ROUNDS=${ROUNDS:-3}
work=$(mktemp -d /tmp/rl_bench_routes_XXXXXX)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

source bench/serve_lib.sh

stub_port=$(free_port)
"$BUILD/bench/proxy_stub" --port "$stub_port" > /dev/null &
pids+=($!)
wait_port "$stub_port" 5
stub="http://127.0.0.1:$stub_port/ok/v1"

small_port=$(free_port)
cat > "$work/small.yaml" <<YAML
server: {host: 127.0.0.1, port: $small_port}
models:
  - {name: strong, base_url: "$stub", model: big-model}
  - {name: weak, base_url: "$stub", model: small-model}
routers: {random: {threshold: 0.5}}
YAML
large_port=$(free_port)
{
    echo "server: {host: 127.0.0.1, port: $large_port}"
    echo "models:"
    echo "  - {name: gpt4, base_url: \"$stub\", price_in: 10, price_out: 30, fallbacks: [m1], cooldown_errors: 3}"
    echo "  - {name: mixtral, deployments: [m8, m9], price_in: 0.6, price_out: 0.6, fallbacks: [m2]}"
    echo "  - {name: mistral, base_url: \"$stub\", price_in: 0.1, price_out: 0.1, context_fallbacks: [m3]}"
    for i in 1 2 3 4 5 6 8 9; do
        echo "  - {name: m$i, base_url: \"$stub\", price_in: $i, price_out: $i, cooldown_errors: 2}"
    done
    echo "routing: {strong: gpt4, weak: mistral}"
    echo "routes:"
    echo "  smart: {router: mf, models: [{gpt4: gpt-4-1106-preview}, {mixtral: mixtral-8x7b-instruct-v0.1}, {mistral: mistral-7b-v0.1}], fallbacks: [m4]}"
    for i in 2 3 4 5; do
        echo "  r$i: {router: mf, models: [{gpt4: gpt-4-1106-preview}, {m$i: zephyr-7b-beta}], policy: utility, lambda: $i}"
    done
    echo "routers: {random: {threshold: 0.5}, mf: {threshold: 0.5}}"
} > "$work/large.yaml"
for name in small large; do
    "$BUILD/routellm" serve --config "$work/$name.yaml" > "$work/$name.log" 2>&1 &
    pids+=($!)
done
wait_port "$small_port" 30
wait_port "$large_port" 60

echo "### Proxy overhead with a large configuration (router-random-0.5 at $RATE/s, ${DURATION} s per run, $ROUNDS alternating rounds)"
echo
echo "| round | stub p50 / p99 | small config: added p50 / p99 | large config: added p50 / p99 | errors, late |"
echo "|---|---|---|---|---|"
for round in $(seq 1 "$ROUNDS"); do
    read -r _ d50 _ d99 _ derr dlate <<< "$(loadgen "$stub_port" /ok/v1/chat/completions router-random-0.5)"
    read -r _ s50 _ s99 _ serr slate <<< "$(loadgen "$small_port" /v1/chat/completions router-random-0.5)"
    read -r _ l50 _ l99 _ lerr llate <<< "$(loadgen "$large_port" /v1/chat/completions router-random-0.5)"
    echo "| $round | $d50 / $d99 µs | $(( s50 - d50 )) / $(( s99 - d99 )) µs | $(( l50 - d50 )) / $(( l99 - d99 )) µs | $(( derr + serr + lerr )), $(( dlate + slate + llate )) |"
done
echo
echo "### A route's decision against a pair router's (large config, one repeated prompt, the embedding cache)"
echo
echo "| model | p50 | p99 | errors, late |"
echo "|---|---|---|---|"
for model in router-mf-0.5 smart; do
    read -r _ p50 _ p99 _ err late <<< "$(loadgen "$large_port" /v1/chat/completions "$model")"
    echo "| $model | $p50 µs | $p99 µs | $err, $late |"
done
