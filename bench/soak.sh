#!/usr/bin/env bash
# Soak test of `routellm serve` (release build): SOAK_SECONDS (default 1800) of mixed traffic on
# loopback, printing Markdown for bench/RESULTS.md.
#   - bench/proxy_loadgen: LOAD_RATE (default 1000) non-streaming requests/s, open loop, half
#     routed by router-random-0.5 to a pair whose strong upstream always fails with 500 (so they
#     are retried, then fall back to the weak one), half to a healthy upstream by name;
#   - bench/soak_client.py: MIX_RATE (default 20) requests/s of streams read to the end, streams
#     dropped after their first bytes, requests to a slow upstream (200 ms), routed requests that
#     fall back, and plain ones;
#   - SIGHUP every RELOAD_SECONDS (default 300), alternating two configurations.
# Every answer must be the expected one (loadgen: 200 within 2 s; the client checks each kind).
# RSS and open descriptors are sampled every 10 s; growth is measured from the end of warm-up
# (the first tenth of the run) to the end.
#
#   bash bench/soak.sh          (after make and make build/bench/proxy_stub build/bench/proxy_loadgen)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
SECS=${SOAK_SECONDS:-1800}
LOAD_RATE=${LOAD_RATE:-1000}
MIX_RATE=${MIX_RATE:-20}
RELOAD=${RELOAD_SECONDS:-300}
work=$(mktemp -d /tmp/rl_soak_XXXXXX)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    [ -n "${SOAK_KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

"$BUILD/bench/proxy_stub" > "$work/fast.port" & pids+=($!)
"$BUILD/bench/proxy_stub" --threaded --delay-ms 200 > "$work/slow.port" & pids+=($!)
sleep 0.5
fast=$(cat "$work/fast.port"); slow=$(cat "$work/slow.port")
config() { # threshold
    cat > "$work/serve.yaml" <<YAML
server: {host: 127.0.0.1, port: 0, log_requests: false}
models:
  - {name: ok, base_url: "http://127.0.0.1:$fast/ok/v1"}
  - {name: bad, base_url: "http://127.0.0.1:$fast/e500/v1"}
  - {name: slow, base_url: "http://127.0.0.1:$slow/slow/v1", timeout_s: 10}
routing: {strong: bad, weak: ok, retries: 1, backoff_s: 0.01}
routers:
  random: {threshold: $1}
YAML
}
config 0.5
"$BUILD/routellm" serve --config "$work/serve.yaml" 2> "$work/serve.log" & srv=$!
pids+=($srv)
for _ in $(seq 50); do grep -q '"listening"' "$work/serve.log" && break; sleep 0.1; done
port=$(grep -o '"port":[0-9]*' "$work/serve.log" | head -1 | cut -d: -f2)

sample() { # -> "rss_kib fds"
    echo "$(awk '/^VmRSS/ {print $2}' "/proc/$srv/status") $(ls "/proc/$srv/fd" | wc -l)"
}
: > "$work/samples"
(
    t=0
    while sleep 10; do
        t=$((t + 10))
        echo "$t $(sample)" >> "$work/samples"
        if (( t % RELOAD == 0 )); then
            if (( t / RELOAD % 2 )); then config 0.6; else config 0.5; fi
            kill -HUP "$srv"
        fi
    done
) & pids+=($!)

"$BUILD/bench/proxy_loadgen" "$port" /v1/chat/completions router-random-0.5 $((LOAD_RATE / 2)) "$SECS" 32 \
    > "$work/load_routed" & l1=$!
"$BUILD/bench/proxy_loadgen" "$port" /v1/chat/completions ok $((LOAD_RATE / 2)) "$SECS" 32 \
    > "$work/load_plain" & l2=$!
mix_rc=0
python3 bench/soak_client.py "$port" "$SECS" "$MIX_RATE" > "$work/mix" 2> "$work/mix.err" || mix_rc=$?
load_rc=0
wait $l1 || load_rc=$?
wait $l2 || load_rc=$?
sleep 11

echo "### Soak (${SECS} s, $LOAD_RATE + $MIX_RATE requests/s, SIGHUP every ${RELOAD} s)"
echo
echo '```'
echo "routed (fallback): $(cat "$work/load_routed")"
echo "plain:             $(cat "$work/load_plain")"
echo "mixed client:      $(cat "$work/mix")"
head -5 "$work/mix.err"
echo "reloads:           $(grep -c '"msg":"reloaded"' "$work/serve.log")"
echo "server errors:     $(grep -c '"level":"error"' "$work/serve.log" || true)"
n=$(wc -l < "$work/samples")
warm=$(( n / 10 + 1 ))
read -r _ rss0 fd0 <<< "$(sed -n "${warm}p" "$work/samples")"
read -r _ rss1 fd1 <<< "$(tail -1 "$work/samples")"
read -r _ rssmax _ <<< "$(sort -k2 -n "$work/samples" | tail -1)"
echo "RSS after warm-up ${rss0} KiB, at the end ${rss1} KiB, peak ${rssmax} KiB ($(( (rss1 - rss0) * 100 / rss0 ))%)"
echo "descriptors after warm-up ${fd0}, at the end ${fd1}"
echo '```'
