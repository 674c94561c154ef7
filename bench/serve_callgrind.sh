#!/usr/bin/env bash
# Instructions per proxied request (valgrind --tool=callgrind, stable where wall-clock time on a
# shared VM is not), for one or more routellm binaries in the same run: each serves
# router-random-0.5 in front of the fast C stub upstream, warms up with 100 requests, then the
# counters are zeroed and REQUESTS requests (default 1000, at 100/s) are measured.
#
#   bash bench/serve_callgrind.sh BINARY [BINARY...]     e.g. an older build beside build/routellm
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
N=${REQUESTS:-1000}
work=$(mktemp -d /tmp/rl_callgrind_XXXXXX)
"$BUILD/bench/proxy_stub" > "$work/stub.port" & stub=$!
trap 'kill $stub 2>/dev/null; rm -rf "$work"' EXIT
sleep 0.5
sp=$(cat "$work/stub.port")
port=38400
echo "| binary | requests | instructions | per request |"
echo "|---|---|---|---|"
for bin in "$@"; do
    port=$((port + 1))
    cat > "$work/serve.yaml" <<YAML
server: {host: 127.0.0.1, port: $port, log_requests: false}
models:
  - {name: strong, base_url: "http://127.0.0.1:$sp/ok/v1"}
  - {name: weak, base_url: "http://127.0.0.1:$sp/ok/v1"}
routers: {random: {threshold: 0.5}}
YAML
    valgrind --tool=callgrind --callgrind-out-file="$work/cg" "$bin" serve --config "$work/serve.yaml" \
        > /dev/null 2>&1 & pid=$!
    sleep 8
    "$BUILD/bench/proxy_loadgen" "$port" /v1/chat/completions router-random-0.5 100 1 8 > /dev/null
    callgrind_control -z "$pid" > /dev/null
    out=$("$BUILD/bench/proxy_loadgen" "$port" /v1/chat/completions router-random-0.5 100 $((N / 100)) 8)
    callgrind_control -d "$pid" > /dev/null
    sleep 1
    kill "$pid"
    wait "$pid" 2> /dev/null || true
    ir=$(grep -h -m1 '^summary:' "$work"/cg.* | awk '{print $2}')
    case "$out" in *"errors=0 late=0"*) ;; *) echo "serve_callgrind: $bin: $out" >&2 ;; esac
    echo "| $bin | $N | $ir | $((ir / N)) |"
    rm -f "$work"/cg*
done
