#!/usr/bin/env python3
"""The proxy's dashboard in a real browser: headless Chromium (Debian's chromium and
chromium-driver) driven through Selenium loads the page from `routellm serve` in front of the C
stub upstream, after traffic through three routers, a route and a failing model with a fallback.

It checks that the page asks for the client key and then shows the same numbers as /metrics
(requests, errors, tokens, cost, saving, per-model and per-router counts, the p_strong
histograms, the route's picks), lists the latest requests with their prompts (the capture is on),
routes a prompt typed in its box to the same p_strong as POST /v1/route, and that its threshold
slider gives the threshold, share and model string `routellm calibrate` prints for the same
sample. With --screenshot it saves the page as a PNG (docs/dashboard.png is made this way).

    python3 tests/ui/test_dashboard.py --routellm build/routellm --stub build/bench/proxy_stub
"""
import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

KEY = "ui-test-key"
SAMPLE_SIZE = 120


def fail(msg):
    sys.exit("test_dashboard: FAIL: " + msg)


def check(cond, msg):
    if not cond:
        fail(msg)
    print("ok  ", msg)


class Proxy:
    def __init__(self, port):
        self.base = "http://127.0.0.1:%d" % port

    def call(self, path, body=None, key=KEY):
        headers = {"Content-Type": "application/json"}
        if key:
            headers["Authorization"] = "Bearer " + key
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def chat(self, model, prompt):
        return self.call("/v1/chat/completions",
                         {"model": model, "messages": [{"role": "user", "content": prompt}]})[0]

    def metrics(self):
        """[(name, labels, value)] of /metrics."""
        out = []
        for line in self.call("/metrics", key=None)[1].decode().splitlines():
            if not line or line.startswith("#"):
                continue
            head, value = line.rsplit(" ", 1)
            name, _, rest = head.partition("{")
            labels = {}
            for part in rest.rstrip("}").split(",") if rest else []:
                k, _, v = part.partition("=")
                labels[k] = v.strip('"')
            out.append((name, labels, float(value)))
        return out


def total(ms, name, **want):
    return sum(v for n, labels, v in ms
               if n == name and all(labels.get(k) == w for k, w in want.items()))


def start(args, work):
    stub = subprocess.Popen([args.stub], stdout=subprocess.PIPE, text=True)
    stub_port = int(stub.stdout.readline())
    with gzip.open(os.path.join(args.data, "prompts/arena_hard.jsonl.gz"), "rt") as f:
        prompts = [json.loads(line)["prompt"] for line in f]
    sample = os.path.join(work, "sample.jsonl")
    with open(sample, "w") as f:
        for p in prompts[:SAMPLE_SIZE]:
            f.write(json.dumps({"prompt": p}) + "\n")
    up = "http://127.0.0.1:%d" % stub_port
    config = os.path.join(work, "serve.yaml")
    with open(config, "w") as f:
        f.write(f"""server: {{host: 127.0.0.1, port: 0, api_keys_env: RL_UI_KEYS}}
models:
  - {{name: strong, base_url: "{up}/ok/v1", price_in: 10, price_out: 30, probe: false}}
  - {{name: mid, base_url: "{up}/ok/v1", price_in: 0.6, price_out: 0.6, probe: false}}
  - {{name: weak, base_url: "{up}/ok/v1", price_in: 0.2, price_out: 0.2, probe: false}}
  - {{name: broken, base_url: "{up}/e500/v1", probe: false, fallbacks: [weak]}}
routing: {{strong: strong, weak: weak, retries: 0}}
routers:
  mf: {{threshold: 0.6}}
  length: {{threshold: 0.5}}
  random: {{threshold: 0.5}}
routes:
  smart:
    router: mf
    models:
      - strong: gpt-4-1106-preview
      - mid: mixtral-8x7b-instruct-v0.1
      - weak: mistral-7b-v0.1
capture: {{dir: "{work}/capture"}}
dashboard: {{calibration_prompts: "{sample}"}}
""")
    log = open(os.path.join(work, "serve.log"), "w+")
    env = dict(os.environ, RL_UI_KEYS=KEY)
    proxy = subprocess.Popen([args.routellm, "serve", "--config", config], stderr=log, env=env)
    deadline = time.time() + 60
    while time.time() < deadline:
        log.seek(0)
        for line in log:
            if '"msg":"listening"' in line:
                return stub, proxy, json.loads(line)["port"], prompts, sample
        if proxy.poll() is not None:
            break
        time.sleep(0.1)
    log.seek(0)
    fail("the proxy did not start:\n" + log.read())


def traffic(px, prompts):
    """Requests through every router, the route and the broken model; the last prompt sent."""
    sent = 0
    for i, p in enumerate(prompts[SAMPLE_SIZE:SAMPLE_SIZE + 24]):
        router = ("mf", "length", "random")[i % 3]
        if px.chat("router-%s-%s" % (router, "0.6" if router == "mf" else "0.5"), p) != 200:
            fail("a request through router-%s failed" % router)
        sent += 1
    for p in prompts[SAMPLE_SIZE + 24:SAMPLE_SIZE + 30]:
        if px.chat("smart", p) != 200:
            fail("a request through the route failed")
    for _ in range(3):  # fails upstream, answered by its fallback
        if px.chat("broken", "a request for the broken model") != 200:
            fail("the broken model's fallback did not answer")
    if px.chat("nosuchmodel", "refused") != 400:
        fail("an unknown model was not refused")
    last = "What is the last prompt the dashboard lists?"
    if px.chat("router-random-0.5", last) != 200:
        fail("the last request failed")
    return last


def live_traffic(px, prompts, seconds):
    """Requests through the mf router for a while, the page open: its charts move."""
    end, i = time.time() + seconds, 0
    while time.time() < end:
        if px.chat("router-mf-0.6", prompts[SAMPLE_SIZE + 40 + i % 60]) != 200:
            fail("a live request failed")
        i += 1
        time.sleep(0.05)
    return i


def text(d, css):
    """The text of the element css selects, read in one script (the page redraws as it polls)."""
    return d.execute_script(
        "const e = document.querySelector(arguments[0]); return e ? e.innerText : null;", css)


def browser():
    o = webdriver.ChromeOptions()
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--window-size=1400,1900", "--force-device-scale-factor=1"):
        o.add_argument(a)
    o.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    chromedriver = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")
    return webdriver.Chrome(service=Service(chromedriver), options=o)


def check_numbers(d, px):
    ms = px.metrics()
    routed = [(labels, v) for n, labels, v in ms if n == "routellm_requests_total"
              and labels["endpoint"] in ("/v1/chat/completions", "/v1/completions")]
    n_total = sum(v for _, v in routed)
    WebDriverWait(d, 20).until(lambda d: text(d, "#total-requests") == str(int(n_total)))
    check(True, "the page shows %d requests, as /metrics counts" % n_total)
    check(text(d, "#errors") == str(int(sum(v for l, v in routed if int(l["status"]) >= 400))),
          "errors as /metrics counts them (%s)" % text(d, "#errors"))
    check(text(d, "#tokens") == str(int(total(ms, "routellm_tokens_total"))),
          "tokens as /metrics counts them (%s)" % text(d, "#tokens"))
    for css, name in (("#cost", "routellm_cost_usd_total"), ("#saving", "routellm_saving_usd_total")):
        want = "%.6f" % total(ms, name)
        check(text(d, css) == want, "%s %s = %s" % (css, text(d, css), want))
    for model in ("strong", "mid", "weak", "broken"):
        row = "#upstreams tr[data-model='%s']" % model
        want = int(sum(v for l, v in routed if l["model"] == model))
        check(text(d, row + " .requests") == str(want),
              "requests to %s: %s" % (model, text(d, row + " .requests")))
        want_cost = "%.6f" % total(ms, "routellm_cost_usd_total", model=model)
        check(text(d, row + " .cost") == want_cost, "cost of %s: %s" % (model, want_cost))
    failed = total(ms, "routellm_upstream_attempts_total", model="broken") - total(
        ms, "routellm_upstream_attempts_total", model="broken", outcome="ok")
    check(failed == 3 and text(d, "#upstreams tr[data-model='broken'] td:nth-child(4)") == "3",
          "the broken model's failed attempts: 3")
    check(text(d, "#upstreams tr[data-model='broken'] td:nth-child(5)") == "3",
          "its fallbacks: 3, as routellm_fallbacks_total says %d" %
          total(ms, "routellm_fallbacks_total", **{"from": "broken"}))
    for n, labels, v in ms:
        if n == "routellm_routed_total":
            sel = "#routers tr[data-router='%s'][data-model='%s'] .decisions" % (
                labels["router"], labels["model"])
            if text(d, sel) != (str(int(v)) if v else None):  # rows of no decision are left out
                fail("%s shows %s, /metrics %d" % (sel, text(d, sel), v))
        if n == "routellm_route_requests_total":
            sel = "#routes tr[data-route='%s'][data-model='%s'] .picks" % (
                labels["route"], labels["model"])
            if text(d, sel) != str(int(v)):
                fail("%s shows %s, /metrics %d" % (sel, text(d, sel), v))
    check(True, "every router's and route's decisions per model match /metrics")
    for router in ("mf", "length", "random"):
        bars = d.execute_script(
            "return [...document.querySelectorAll(arguments[0])].map((b) => b.dataset.count);",
            "#p-hist-%s div" % router)
        shown = sum(int(b) for b in bars)
        want = total(ms, "routellm_p_strong_count", router=router)
        check(len(bars) == 10 and shown == want,
              "the p_strong histogram of %s holds %d decisions in 10 bars" % (router, shown))


def check_prompt_box(d, px):
    prompt = "Write a proof that the square root of two is irrational."
    d.find_element(By.ID, "try-prompt").send_keys(prompt)
    d.find_element(By.ID, "try-button").click()
    WebDriverWait(d, 20).until(lambda d: d.execute_script(
        "return document.querySelectorAll('#try-results tr[data-router]').length == 3 &&"
        " document.querySelectorAll('#try-results tr[data-route]').length == 1;"))
    for router in ("mf", "length"):
        status, body = px.call("/v1/route", {"model": "router-%s-0.5" % router,
                                             "messages": [{"role": "user", "content": prompt}]})
        want = "%.5f" % json.loads(body)["p_strong"]
        got = text(d, "#try-results tr[data-router='%s'] .p-strong" % router)
        check(status == 200 and got == want, "the prompt box: %s p_strong %s" % (router, got))
    status, body = px.call("/v1/route", {"model": "smart",
                                         "messages": [{"role": "user", "content": prompt}]})
    want = json.loads(body)["model"]
    got = text(d, "#try-results tr[data-route='smart'] .decision")
    check(got.startswith(want + " "), "the prompt box: route smart picks %s" % want)


def check_slider(d, px, args, sample):
    Select(d.find_element(By.ID, "slider-router")).select_by_value("mf")
    WebDriverWait(d, 120).until(lambda d: "prompts of sample.jsonl" in text(d, "#calib-status"))
    cal = json.loads(px.call("/v1/dashboard/calibration")[1])
    share = d.find_element(By.ID, "share-in")
    share.clear()
    share.send_keys("30")
    out = subprocess.run([args.routellm, "calibrate", "--router", "mf", "--strong-model-pct", "0.3",
                          "--prompts", sample, "--json"], capture_output=True, text=True)
    if out.returncode != 0:
        fail("routellm calibrate: " + out.stderr)
    ref = json.loads(out.stdout)
    t = "%.5f" % ref["threshold"]
    check(text(d, "#threshold-out") == t, "share 30%%: the threshold %s, as calibrate prints (page: %s)" % (t, text(d, "#threshold-out")))
    check(text(d, "#model-string") == "router-mf-" + t, "the model string router-mf-" + t)
    scores = cal["routers"]["mf"]["scores"]
    strong = sum(s >= float(t) for s in scores)
    want = "%.1f%%" % (100 * strong / len(scores))
    check(text(d, "#share-out") == want and strong == ref["n_strong"],
          "the expected share at it: %s (%d of %d, as calibrate counts)" %
          (want, strong, len(scores)))
    # Dragging the slider: the share follows the sample.
    d.execute_script("const s = document.getElementById('threshold'); s.value = 0.5;"
                     "s.dispatchEvent(new Event('input'));")
    want = "%.1f%%" % (100 * sum(s >= 0.5 for s in scores) / len(scores))
    check(text(d, "#share-out") == want and text(d, "#model-string") == "router-mf-0.50000",
          "the slider at 0.5: %s of the sample to the strong model" % want)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--routellm", default="build/routellm")
    ap.add_argument("--stub", default="build/bench/proxy_stub")
    ap.add_argument("--data", default="data")
    ap.add_argument("--screenshot", help="save the page as a PNG here")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="rl_ui_")
    stub, proxy, port, prompts, sample = start(args, work)
    d = None
    try:
        px = Proxy(port)
        last = traffic(px, prompts)
        d = browser()
        d.get(px.base + "/ui?interval_ms=500")
        WebDriverWait(d, 20).until(lambda d: d.find_element(By.ID, "key-form").is_displayed())
        check(True, "the page asks for the client key")
        d.find_element(By.ID, "key-input").send_keys(KEY)
        d.find_element(By.ID, "key-save").click()
        WebDriverWait(d, 20).until(lambda d: text(d, "#meta").startswith("v"))
        check("strong strong" in text(d, "#meta"), "with the key it reads the configuration")
        check_numbers(d, px)
        WebDriverWait(d, 20).until(lambda d: text(d, "#recent tr td.prompt") == last)
        check(True, "the latest request is listed first, with its prompt")
        n = live_traffic(px, prompts, 4)
        check_numbers(d, px)
        drawn = d.execute_script(
            "const c = document.getElementById('share-chart');"
            "const a = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
            "let n = 0; for (let i = 3; i < a.length; i += 4) n += a[i] > 0; return n;")
        check(drawn > 0, "after %d more requests the share chart is drawn (%d pixels)" % (n, drawn))
        check_prompt_box(d, px)
        check_slider(d, px, args, sample)
        # The only error expected is the first call's 401, which made the page ask for the key.
        severe = [e for e in d.get_log("browser") if e["level"] == "SEVERE"
                  and "status of 401" not in e["message"]]
        check(not severe, "no other error in the browser's console %s" % (severe or ""))
        if args.screenshot:
            d.execute_script("window.scrollTo(0, 0)")
            d.save_screenshot(args.screenshot)
            print("saved", args.screenshot)
    finally:
        if d:
            d.quit()
        for p in (proxy, stub):
            p.terminate()
            p.wait(timeout=30)
    print("test_dashboard: all checks passed")


if __name__ == "__main__":
    main()
