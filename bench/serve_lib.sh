# Helpers of the proxy benchmarks (serve_proxy.sh, serve_routes.sh), sourced after BUILD, RATE
# and DURATION are set.

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
wait_port() { # port seconds
    for _ in $(seq 1 $(( $2 * 10 ))); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    echo "$(basename "$0"): nothing listens on port $1" >&2
    return 1
}
# loadgen PORT PATH MODEL -> "rate p50 p90 p99 max errors late"
loadgen() {
    "$BUILD/bench/proxy_loadgen" "$1" "$2" "$3" "$RATE" "$DURATION" 64 |
        sed -n 's/^rate=\([0-9]*\) p50_us=\([0-9]*\) p90_us=\([0-9]*\) p99_us=\([0-9]*\) max_us=\([0-9]*\) errors=\([0-9]*\) late=\([0-9]*\)$/\1 \2 \3 \4 \5 \6 \7/p'
}
