#!/usr/bin/env bash
# The worked example of docs/GUIDE.md, run by tests/e2e/run.sh against its proxy, whose config
# captures into $RL_GUIDE_CAPTURE: traffic goes through the proxy, users rate the answers, a
# router is trained on those ratings, calibrated on the captured prompts and served by a reload.
# Each step is a command of the guide; the script checks what each one gives.
#
#   RL_GUIDE_BIN RL_GUIDE_PY RL_GUIDE_BASE RL_GUIDE_KEY RL_GUIDE_CAPTURE RL_GUIDE_CONFIG
#   RL_GUIDE_PID RL_GUIDE_WORK   (set by run.sh)
set -euo pipefail
bin=$RL_GUIDE_BIN
py=$RL_GUIDE_PY
work=$RL_GUIDE_WORK

echo "guide: 1. traffic through the proxy, each answer rated by its user"
"$py" - <<'PY'
import json, os, urllib.request

base, key = os.environ["RL_GUIDE_BASE"], os.environ["RL_GUIDE_KEY"]
topics = ["the sea", "a city at night", "an old clock", "winter", "a cat", "the moon",
          "a library", "rain", "a mountain", "coffee", "a train", "the desert"]
asks = ["Write one sentence about {}.", "Give two words that describe {}."]

def post(path, body, request_id=None):
    headers = {"Authorization": "Bearer " + key, "Content-Type": "application/json"}
    if request_id:
        headers["x-request-id"] = request_id
    req = urllib.request.Request(base + path, data=json.dumps(body).encode(), headers=headers)
    with urllib.request.urlopen(req, timeout=120) as r:
        return r.headers, json.load(r)

n = 0
for t in topics:
    for a in asks:
        rid = f"guide-{n}"
        headers, answer = post("/chat/completions", {
            "model": "router-random-0.5", "max_tokens": 12, "temperature": 0,
            "messages": [{"role": "user", "content": a.format(t)}]}, rid)
        assert headers["x-request-id"] == rid
        text = answer["choices"][0]["message"]["content"] or ""
        # The users of this example like answers of three words or more.
        _, ok = post("/feedback", {"request_id": rid, "rating": 1.0 if len(text.split()) >= 3 else 0.0})
        assert ok == {"status": "recorded"}
        n += 1
print(f"guide: {n} requests rated")
PY
lines=$(grep -c '"type":"request"' "$RL_GUIDE_CAPTURE/capture.jsonl")
ratings=$(grep -c '"type":"feedback"' "$RL_GUIDE_CAPTURE/capture.jsonl")
echo "guide: the capture holds $lines request lines and $ratings ratings"
[ "$ratings" -eq 24 ]

echo "guide: 2. train a router on the ratings"
"$bin" train mf --data "capture:$RL_GUIDE_CAPTURE" --strong strong --weak weak \
    --out "$work/mine.safetensors" > "$work/train.log" 2>&1 || { cat "$work/train.log"; exit 1; }
grep -E "battles|wrote" "$work/train.log" | head -3

echo "guide: 3. calibrate it on the captured prompts: half the traffic to the strong model"
"$bin" calibrate --router "$work/mine.safetensors" --prompts "capture:$RL_GUIDE_CAPTURE" \
    --strong-model-pct 0.5 --json > "$work/calibrate.json"
threshold=$("$py" -c 'import json,sys; print(json.load(open(sys.argv[1]))["threshold"])' \
    "$work/calibrate.json")
echo "guide: threshold $threshold"

echo "guide: 4. serve it: add it to the config and reload"
cat >> "$RL_GUIDE_CONFIG" <<YAML
  mine: {checkpoint_path: "$work/mine.safetensors", threshold: $threshold}
YAML
kill -HUP "$RL_GUIDE_PID"
"$py" - "$threshold" <<'PY'
import json, os, sys, time, urllib.error, urllib.request

base, key, threshold = os.environ["RL_GUIDE_BASE"], os.environ["RL_GUIDE_KEY"], sys.argv[1]
req = urllib.request.Request(base + "/models", headers={"Authorization": "Bearer " + key})
model = f"router-mine-{float(threshold):g}"
for _ in range(100):  # the reload takes a moment
    with urllib.request.urlopen(req, timeout=30) as r:
        if model in {m["id"] for m in json.load(r)["data"]}:
            break
    time.sleep(0.1)
else:
    sys.exit(f"{model} never appeared in /v1/models")
body = {"model": f"router-mine-{threshold}", "max_tokens": 8,
        "messages": [{"role": "user", "content": "Write one sentence about the sea."}]}
req = urllib.request.Request(base + "/chat/completions", data=json.dumps(body).encode(),
                             headers={"Authorization": "Bearer " + key,
                                      "Content-Type": "application/json"})
with urllib.request.urlopen(req, timeout=120) as r:
    assert r.headers["x-routellm-model"] in ("strong", "weak")
    print(f"guide: router-mine sent the prompt to {r.headers['x-routellm-model']} "
          f"(p_strong {r.headers['x-routellm-p-strong']})")
PY
echo "guide: done"
