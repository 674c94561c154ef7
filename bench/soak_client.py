#!/usr/bin/env python3
"""The soak test's mixed client (bench/soak.sh): streams read to the end, streams dropped
mid-way, requests to a slow upstream, requests routed through a failing upstream that fall
back, and keep-alive plain requests, at a steady rate for a given time. Standard library only.

    soak_client.py PORT SECONDS RATE

Prints one line: "requests=N unexpected=N by_kind=..." and, for each unexpected result, one
line on stderr saying what it was. Exit 1 when any result was unexpected.
"""
import http.client
import json
import random
import sys
import threading
import time

PORT, SECONDS, RATE = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
counts, unexpected = {}, []
lock = threading.Lock()


def body(model, stream=False):
    return json.dumps({"model": model, "stream": stream,
                       "messages": [{"role": "user", "content": "soak %d" % random.randrange(10**6)}]})


def one(kind):
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
    try:
        if kind in ("stream", "drop"):
            conn.request("POST", "/v1/chat/completions", body("ok", True),
                         {"Content-Type": "application/json"})
            r = conn.getresponse()
            if r.status != 200:
                return "stream status %d" % r.status
            if kind == "drop":
                r.read(40)  # the first bytes, then hang up
                conn.sock.close()
                return None
            text = r.read().decode()
            return None if text.endswith("data: [DONE]\n\n") else "stream ended without [DONE]"
        model = {"slow": "slow", "fallback": "router-random-0.5", "plain": "ok"}[kind]
        conn.request("POST", "/v1/chat/completions", body(model), {"Content-Type": "application/json"})
        r = conn.getresponse()
        data = r.read()
        if r.status != 200 or b"chat.completion" not in data:
            return "%s status %d" % (kind, r.status)
        return None
    except Exception as e:  # a reset or a timeout is unexpected too
        return "%s %s" % (kind, type(e).__name__)
    finally:
        conn.close()


def worker(kind):
    why = one(kind)
    with lock:
        counts[kind] = counts.get(kind, 0) + 1
        if why:
            unexpected.append(why)
            print("unexpected:", why, file=sys.stderr)


kinds = ["stream"] * 4 + ["drop"] * 2 + ["slow"] * 2 + ["fallback"] * 2 + ["plain"] * 2
start = time.time()
k = 0
threads = []
while time.time() - start < SECONDS:
    due = start + k / RATE
    if due > time.time():
        time.sleep(due - time.time())
    t = threading.Thread(target=worker, args=(kinds[k % len(kinds)],))
    t.start()
    threads.append(t)
    threads = [t for t in threads if t.is_alive()]
    k += 1
for t in threads:
    t.join()
print("requests=%d unexpected=%d by_kind=%s" % (sum(counts.values()), len(unexpected),
                                               ",".join("%s:%d" % kv for kv in sorted(counts.items()))))
sys.exit(1 if unexpected else 0)
