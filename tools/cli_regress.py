#!/usr/bin/env python3
"""Behaviour check for refactoring: run one recorded set of commands with a base build and
with the current build, and report every difference.

    python3 tools/cli_regress.py [--base REF] [--full] [--only NAME ...]

REF defaults to the commit named in tools/cli_regress.base: the last commit that changed the
behaviour on purpose (move it there with each such change). The base commit REF is checked out
into .cache/regress/<sha> (a detached git worktree) and built there; the current tree must
already be built (`make all build/bench/proxy_stub`). Both builds use their own shipped routers
and data, share the encoder weights (models/) and the embedding cache (.cache/embeddings), and
start each command with an empty score cache, so every router score is recomputed by the build
under test.

A command is compared on its exit status, stdout, stderr and the files it writes, after the
tree's own path is replaced by <HOME>. Commands marked `usage` are option errors: only the
outcome is compared there (both fail; the current build answers with exit status 2), since the
wording of option errors may change. `serve` requests run against one stub upstream
(bench/proxy_stub.c) and compare status, the headers that carry routing information, and the
body with its `id` and `created` fields masked.

--full adds the commands that embed the 14k MMLU prompts (a few minutes on a cold cache).
Exit status: 0 when every command agrees, 1 otherwise.
"""
import argparse
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

PROMPTS_TXT = """How do I invert a binary tree in Python?
Write a haiku about the first frost of autumn.
What is 17 * 23?
Explain the difference between TCP and UDP to a ten-year-old.
Prove that the square root of 2 is irrational.
hi
Translate 'good morning' into French.
Summarise the plot of Hamlet in three sentences.
"""

TABLE_CSV = """prompt,big,small,big|cost,small|cost
"Solve x^2 - 5x + 6 = 0 and explain each step.",1,0,0.004,0.0001
"What is the capital of France?",1,1,0.003,0.0001
"Write a limerick about a cat who loves jazz.",0.8,0.7,0.005,0.0002
"Implement quicksort in C with a median-of-three pivot.",1,0,0.006,0.0002
"How many days are there in a leap year?",1,1,0.002,0.0001
"Derive the formula for the sum of a geometric series.",1,0.5,0.005,0.0002
"Name three primary colours.",1,1,0.002,0.0001
"Explain quantum entanglement to a high-school student.",0.9,0.4,0.006,0.0003
"Translate 'thank you very much' into Japanese.",1,0.9,0.002,0.0001
"Write a SQL query for the second highest salary in a table.",1,0,0.004,0.0002
"""


def commands(full):
    """The recorded commands: (name, argv after the binary, stdin text or None, flags)."""
    mt = "Compose an engaging travel blog post about a recent trip to Hawaii."
    c = [
        # route
        ("route-mf", ["route", "--router", "mf", "--threshold", "0.5",
                      "How do I invert a binary tree?"], None, ""),
        ("route-swr-json", ["route", "--router", "sw_ranking", "--threshold", "0.3", "--json",
                            "Write a haiku about autumn."], None, ""),
        ("route-bert-json", ["route", "--router", "bert", "--threshold", "0.5", "--json",
                             "What is 17*23?"], None, ""),
        ("route-random", ["route", "--router", "random", "--threshold", "0.5", "--json",
                          "hello"], None, ""),
        ("route-mf-swapped-pair", ["route", "--router", "mf", "--threshold", "0.2", "--strong",
                                   "mixtral-8x7b-instruct-v0.1", "--weak", "gpt-4-1106-preview",
                                   "--json", mt], None, ""),
        ("route-stdin", ["route", "--router", "mf", "--threshold", "0.5", "-"],
         "Prove Fermat's little theorem.\n", ""),
        ("route-file", ["route", "--router", "@HOME@/routers/mf.safetensors", "--threshold",
                        "0.7", "--", "--looks like an option"], None, ""),
        ("route-unknown-model", ["route", "--router", "mf", "--threshold", "0.5", "--strong",
                                 "no-such-model", "x"], None, ""),
        ("route-unknown-router", ["route", "--router", "no_such_router", "--threshold", "0.5",
                                  "x"], None, ""),
        ("route-no-threshold", ["route", "--router", "mf", "x"], None, "usage"),
        ("route-bad-threshold", ["route", "--router", "mf", "--threshold", "1.5", "x"], None,
         "usage"),
        ("route-unknown-option", ["route", "--router", "mf", "--treshold", "0.5", "x"], None,
         "usage"),
        ("route-help", ["route", "--help"], None, "usage-help"),
        # embed
        ("embed-args", ["embed", "hello world", "A second, longer text to embed."], None, ""),
        ("embed-stdin-npy", ["embed", "--out", "out/e.npy"], PROMPTS_TXT, ""),
        ("embed-batch1", ["embed", "--batch", "1", "--threads", "1"], PROMPTS_TXT, ""),
        ("embed-bad-batch", ["embed", "--batch", "0", "x"], None, "usage"),
        # calibrate
        ("calibrate-mf", ["calibrate", "--router", "mf", "--strong-model-pct", "0.5"], None, ""),
        ("calibrate-swr-json", ["calibrate", "--router", "sw_ranking", "--strong-model-pct",
                                "0.3", "--json"], None, ""),
        ("calibrate-bert-txt", ["calibrate", "--router", "bert", "--strong-model-pct", "0.8",
                                "--prompts", "prompts.txt"], None, ""),
        ("calibrate-random", ["calibrate", "--router", "random", "--strong-model-pct", "0.5",
                              "--json"], None, ""),
        ("calibrate-csv-nocache", ["calibrate", "--router", "mf", "--strong-model-pct", "0.25",
                                   "--prompts", "table.csv", "--no-cache"], None, ""),
        ("calibrate-bad-pct", ["calibrate", "--router", "mf", "--strong-model-pct", "2"], None,
         "usage"),
        # eval
        ("eval-mtbench-all", ["eval", "--benchmark", "mt-bench", "--routers",
                              "random,mf,sw_ranking,bert"], None, ""),
        ("eval-mtbench-json", ["eval", "--benchmark", "mt-bench", "--routers", "mf",
                               "--format", "json"], None, ""),
        ("eval-mtbench-bootstrap-csv", ["eval", "--benchmark", "mt-bench", "--routers", "bert",
                                        "--format", "csv", "--bootstrap", "200"], None, ""),
        ("eval-gsm8k-json", ["eval", "--benchmark", "gsm8k", "--routers", "random,mf,bert",
                             "--format", "json"], None, ""),
        ("eval-gsm8k-bins", ["eval", "--benchmark", "gsm8k", "--routers", "sw_ranking",
                             "--num-results", "5", "--random-iters", "3"], None, ""),
        ("eval-table", ["eval", "--benchmark", "table:table.csv", "--strong", "big", "--weak",
                        "small", "--routers", "random,length,mf,sw_ranking", "--as",
                        "strong=gpt-4-1106-preview,weak=mixtral-8x7b-instruct-v0.1"], None, ""),
        ("eval-table-costs-json", ["eval", "--benchmark", "table:table.csv", "--strong", "big",
                                   "--weak", "small", "--strong-cost", "big|cost",
                                   "--weak-cost", "small|cost", "--routers", "bert", "--as",
                                   "strong=gpt-4-1106-preview,weak=mixtral-8x7b-instruct-v0.1",
                                   "--format", "json"], None, ""),
        ("eval-output", ["eval", "--benchmark", "mt-bench", "--routers", "mf,random",
                         "--output", "out"], None, "nopng"),
        ("eval-scores-out", ["eval", "--benchmark", "mt-bench", "--routers", "sw_ranking",
                             "--scores-out", "out"], None, ""),
        ("eval-scores-in", ["eval", "--benchmark", "table:table.csv", "--strong", "big",
                            "--weak", "small", "--scores", "mine=scores.jsonl"], None, ""),
        ("eval-router-file", ["eval", "--benchmark", "mt-bench", "--router-file",
                              "x=@HOME@/routers/mf.safetensors", "--no-decontaminate"],
         None, ""),
        ("eval-train-prompts", ["eval", "--benchmark", "table:table.csv", "--strong", "big",
                                "--weak", "small", "--routers", "mf", "--train-prompts",
                                "mf=prompts.txt", "--decontaminate", "0.9", "--as",
                                "strong=gpt-4-1106-preview,weak=mixtral-8x7b-instruct-v0.1"],
         None, ""),
        ("eval-unknown-benchmark", ["eval", "--benchmark", "nosuch"], None, "usage"),
        ("eval-bad-format", ["eval", "--benchmark", "mt-bench", "--format", "yaml"], None,
         "usage"),
        ("eval-unknown-pair", ["eval", "--benchmark", "table:table.csv", "--strong", "big",
                               "--weak", "small", "--routers", "mf"], None, ""),
        ("route-irt", ["route", "--router", "irt", "--threshold", "0.5", "--json",
                       "Prove that there are infinitely many primes."], None, ""),
        ("route-length", ["route", "--router", "length", "--threshold", "0.2",
                          "Summarise the plot of Hamlet in three sentences."], None, ""),
        ("train-irt-features", ["train", "irt", "--data",
                                "table:@HOME@/data/train/arena_bench_v1/scores.csv.gz,"
                                "skip=question_id,scale=1:10", "--features", "--no-embedding",
                                "--out", "out/irt.safetensors", "--epochs", "50"], None, ""),
        ("eval-missing-table", ["eval", "--benchmark", "table:nosuch.csv", "--strong", "a",
                                "--weak", "b"], None, ""),
        # train: small data so the run is quick; the written files must be identical
        ("train-mf", ["train", "mf", "--data",
                      "table:@HOME@/data/train/routerdc/humaneval_train.json.gz",
                      "--out", "out/mf.safetensors", "--epochs", "2"], None, ""),
        ("train-swr", ["train", "sw_ranking", "--data",
                       "table:@HOME@/data/train/routerdc/mbpp.json.gz,margin=0.25",
                       "--out", "out/swr.safetensors", "--tiers", "4"], None, ""),
        ("train-bert", ["train", "bert", "--data",
                        "table:@HOME@/data/train/routerdc/javascript.json.gz",
                        "--out", "out/bert.safetensors", "--epochs", "2", "--seed", "3"],
         None, ""),
        ("train-mf-exclude-alias", ["train", "mf", "--data",
                                    "table:@HOME@/data/train/routerdc/humaneval_train.json.gz",
                                    "--exclude", "@HOME@/data/evals/mt_bench/question.jsonl.gz",
                                    "--dropped", "out/dropped.jsonl", "--alias",
                                    "my-big=meta-llama/meta-llama-3-8b", "--strong", "my-big",
                                    "--weak", "mistralai/mistral-7b-v0.1",
                                    "--out", "out/mf2.safetensors", "--epochs", "1",
                                    "--threads", "1"], None, ""),
        ("train-alpaca-limit", ["train", "sw_ranking", "--data",
                                "alpaca_eval:@HOME@/data/train/alpaca_eval/battles.csv.gz,"
                                "limit=3000", "--out", "out/a.safetensors", "--int8"], None, ""),
        ("train-unknown-kind", ["train", "nosuch", "--data", "table:table.csv", "--out",
                                "out/x.safetensors"], None, "usage"),
        ("train-no-out", ["train", "mf", "--data", "table:table.csv"], None, "usage"),
        ("train-bad-spec", ["train", "mf", "--data", "table:table.csv,bogus=1", "--out",
                            "out/x.safetensors"], None, ""),
        # top level
        ("top-unknown-command", ["frobnicate"], None, "usage"),
        ("top-version", ["--version"], None, ""),
    ]
    if full:
        c += [
            ("eval-mmlu-all", ["eval", "--benchmark", "mmlu", "--routers",
                               "random,mf,sw_ranking,bert", "--format", "json"], None, ""),
        ]
    return c


SERVE_CONFIG = """server:
  host: 127.0.0.1
  port: 0
models:
  - name: strong
    base_url: http://127.0.0.1:{stub}/ok/v1
    model: gpt-4-1106-preview
    price_in: 10
    price_out: 30
  - name: weak
    base_url: http://127.0.0.1:{stub}/ok/v1
    model: mixtral
    price_in: 0.24
    price_out: 0.24
  - name: broken
    base_url: http://127.0.0.1:{stub}/e500/v1
routing:
  strong: strong
  weak: weak
  retries: 1
  backoff_s: 0.01
routers:
  mf: {{threshold: 0.2}}
  random: {{threshold: 0.5}}
  bert: {{}}
encoder:
  workers: 1
"""


def msg(text):
    return [{"role": "user", "content": text}]


SERVE_REQUESTS = [
    ("health", "GET", "/health", None),
    ("models", "GET", "/v1/models", None),
    ("route-mf", "POST", "/v1/route", {"model": "router-mf-0.2", "messages": msg("What is 2+2?")}),
    ("route-bert", "POST", "/v1/route",
     {"model": "router-bert-0.5", "messages": msg("Prove the Cauchy-Schwarz inequality.")}),
    ("chat-mf", "POST", "/v1/chat/completions",
     {"model": "router-mf-0.2", "messages": msg("Write a sonnet about the sea.")}),
    ("chat-stream", "POST", "/v1/chat/completions",
     {"model": "router-mf-0.9", "stream": True, "messages": msg("Count to three.")}),
    ("chat-direct", "POST", "/v1/chat/completions",
     {"model": "weak", "messages": msg("Say hi.")}),
    ("completions-mf", "POST", "/v1/completions",
     {"model": "router-mf-0.2", "prompt": "Write a haiku about the sea."}),
    ("embeddings", "POST", "/v1/embeddings",
     {"model": "all-MiniLM-L6-v2", "input": ["What is 2+2?", "Say hi."],
      "encoding_format": "base64"}),
    ("chat-broken-direct", "POST", "/v1/chat/completions",
     {"model": "broken", "messages": msg("Say hi.")}),
    ("chat-bad-threshold", "POST", "/v1/chat/completions",
     {"model": "router-mf-2", "messages": msg("x")}),
    ("chat-unknown-router", "POST", "/v1/chat/completions",
     {"model": "router-nosuch-0.5", "messages": msg("x")}),
    ("chat-no-messages", "POST", "/v1/chat/completions", {"model": "router-mf-0.5"}),
    ("chat-bad-json", "POST", "/v1/chat/completions", b"{not json"),
    ("not-found", "GET", "/v1/nothing", None),
    ("wrong-method", "GET", "/v1/chat/completions", None),
]

KEPT_HEADERS = ("content-type", "x-routellm-model", "x-routellm-router", "x-routellm-p-strong")


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def build_base(ref):
    found = subprocess.run(["git", "-C", ROOT, "rev-parse", "--verify", "--quiet", ref + "^{commit}"],
                           capture_output=True, text=True)
    if found.returncode != 0:
        # A shallow clone lacks old commits: there is nothing to compare with.
        print(f"cli_regress: commit {ref} is not in this clone (shallow?); nothing compared")
        sys.exit(0)
    sha = found.stdout.strip()
    tree = os.path.join(ROOT, ".cache", "regress", sha)
    if not os.path.isdir(tree):
        os.makedirs(os.path.dirname(tree), exist_ok=True)
        run(["git", "-C", ROOT, "worktree", "add", "--detach", tree, sha],
            stdout=subprocess.DEVNULL)
    models = os.path.join(tree, "models")
    if not os.path.exists(models):
        os.symlink(os.path.join(ROOT, "models"), models)
    emb = os.path.join(tree, ".cache", "embeddings")
    if not os.path.exists(emb):
        os.makedirs(os.path.dirname(emb), exist_ok=True)
        os.makedirs(os.path.join(ROOT, ".cache", "embeddings"), exist_ok=True)
        os.symlink(os.path.join(ROOT, ".cache", "embeddings"), emb)
    print(f"cli_regress: building the base {sha[:12]} in {tree}", flush=True)
    run(["make", "-C", tree, f"-j{os.cpu_count() or 2}", "all"], stdout=subprocess.DEVNULL)
    return tree


def normalise(text, home):
    return text.replace(home, "<HOME>")


def prepare_workdir(home):
    d = tempfile.mkdtemp(prefix="rl-regress-")
    os.makedirs(os.path.join(d, "out"))
    with open(os.path.join(d, "prompts.txt"), "w") as f:
        f.write(PROMPTS_TXT)
    with open(os.path.join(d, "table.csv"), "w") as f:
        f.write(TABLE_CSV)
    import csv
    import io
    rows = list(csv.DictReader(io.StringIO(TABLE_CSV)))
    with open(os.path.join(d, "scores.jsonl"), "w") as f:
        for i, r in enumerate(rows):
            f.write(json.dumps({"prompt": r["prompt"], "score": (i * 7 % 10) / 10}) + "\n")
    return d


def files_digest(d, home, skip_png):
    """Every file under d/out: relative path -> sha256 of its bytes with the tree's path and the
    working folder replaced (router files record the data specs they were trained on)."""
    out = {}
    base = os.path.join(d, "out")
    for dirpath, _, names in os.walk(base):
        for n in sorted(names):
            p = os.path.join(dirpath, n)
            rel = os.path.relpath(p, base)
            if skip_png and (n.endswith(".png") or n.endswith(".svg")):
                out[rel] = "(image)"
                continue
            with open(p, "rb") as f:
                data = f.read()
            if n.endswith(".safetensors") and len(data) >= 8:
                # The header's length prefix and padding move with the paths it records.
                hlen = int.from_bytes(data[:8], "little")
                # Files now record the encoder's precision; the base's did not.
                header = re.sub(rb',?"encoder_precision":"(fp32|int8)"', b"",
                                data[8:8 + hlen].rstrip(b" "))
                data = header + b"\0" + data[8 + hlen:]
            data = data.replace(home.encode(), b"<HOME>").replace(d.encode(), b"<CWD>")
            out[rel] = hashlib.sha256(data).hexdigest()
    return out


def run_command(binary, home, argv, stdin, flags):
    d = prepare_workdir(home)
    env = dict(os.environ)
    env.pop("ROUTELLM_HOME", None)
    # Progress lines appear on a slow machine only: never in what is compared.
    env["ROUTELLM_PROGRESS_S"] = "0"
    # A fresh score cache per command: every router score is recomputed by this build.
    shutil.rmtree(os.path.join(home, ".cache", "eval"), ignore_errors=True)
    argv = [a.replace("@HOME@", home) for a in argv]
    p = subprocess.run([binary] + argv, cwd=d, input=stdin, capture_output=True, text=True,
                       env=env, timeout=1800)
    result = {
        "rc": p.returncode,
        "stdout": normalise(p.stdout.replace(d, "<CWD>"), home),
        "stderr": normalise(p.stderr.replace(d, "<CWD>"), home),
        "files": files_digest(d, home, "nopng" in flags),
    }
    shutil.rmtree(d, ignore_errors=True)
    return result


def http(port, method, path, body):
    data = None
    headers = {}
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method,
                                 headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            status, hdrs, payload = r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        status, hdrs, payload = e.code, dict(e.headers), e.read()
    text = payload.decode("utf-8", "replace")
    text = re.sub(r'"(id|created|system_fingerprint)":\s*("[^"]*"|\d+)', r'"\1":"<masked>"', text)
    kept = {k.lower(): v for k, v in hdrs.items() if k.lower() in KEPT_HEADERS}
    return {"status": status, "headers": kept, "body": text}


def run_serve(binary, home, stub_port):
    d = tempfile.mkdtemp(prefix="rl-regress-serve-")
    cfg = os.path.join(d, "serve.yaml")
    with open(cfg, "w") as f:
        f.write(SERVE_CONFIG.format(stub=stub_port))
    log = open(os.path.join(d, "log"), "w+")
    proc = subprocess.Popen([binary, "serve", "--config", cfg, "--log-level", "info"], cwd=d,
                            stdout=log, stderr=subprocess.STDOUT)
    port = None
    try:
        for _ in range(600):
            time.sleep(0.1)
            log.seek(0)
            m = re.search(r'"port":\s*(\d+)', log.read())
            if m:
                port = int(m.group(1))
                break
            if proc.poll() is not None:
                break
        if port is None:
            log.seek(0)
            return {"start": "failed", "log": log.read()}
        results = {}
        for name, method, path, body in SERVE_REQUESTS:
            results[name] = http(port, method, path, body)
        return results
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        shutil.rmtree(d, ignore_errors=True)


def start_stub():
    stub = os.path.join(ROOT, "build", "bench", "proxy_stub")
    if not os.path.exists(stub):
        run(["make", "-C", ROOT, "build/bench/proxy_stub"], stdout=subprocess.DEVNULL)
    proc = subprocess.Popen([stub, "--threaded"], stdout=subprocess.PIPE, text=True)
    port = int(proc.stdout.readline())
    return proc, port


def compare(name, a, b, flags):
    """Differences between the base result a and the current result b, as text lines."""
    if flags.startswith("usage"):
        want_rc = 0 if flags == "usage-help" else 2
        if b["rc"] != want_rc or (a["rc"] == 0) != (b["rc"] == 0):
            return [f"{name}: exit status {a['rc']} -> {b['rc']} (want {want_rc})"]
        return []
    diffs = []
    for key in a:
        if a[key] != b.get(key):
            diffs.append(f"{name}: {key} differs\n--- base\n{fmt(a[key])}\n+++ current\n"
                         f"{fmt(b.get(key))}")
    return diffs


def fmt(v):
    return v if isinstance(v, str) else json.dumps(v, indent=1, sort_keys=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", help="git commit of the behaviour to keep (default: the commit "
                    "named in tools/cli_regress.base)")
    ap.add_argument("--full", action="store_true", help="also the MMLU commands")
    ap.add_argument("--only", nargs="*", help="run only these commands (names)")
    args = ap.parse_args()
    if not args.base:
        with open(os.path.join(ROOT, "tools", "cli_regress.base")) as f:
            args.base = f.read().split()[0]

    base_home = build_base(args.base)
    builds = {"base": (os.path.join(base_home, "build", "routellm"), base_home),
              "current": (os.path.join(ROOT, "build", "routellm"), ROOT)}
    failures = []
    n = n_bad = 0
    for name, argv, stdin, flags in commands(args.full):
        if args.only and name not in args.only:
            continue
        n += 1
        t0 = time.time()
        res = {k: run_command(b, h, argv, stdin, flags) for k, (b, h) in builds.items()}
        d = compare(name, res["base"], res["current"], flags)
        failures += d
        n_bad += bool(d)
        print(f"{'ok  ' if not d else 'FAIL'} {name} ({time.time() - t0:.1f} s)", flush=True)
    if not args.only or "serve" in args.only:
        stub, stub_port = start_stub()
        try:
            res = {k: run_serve(b, h, stub_port) for k, (b, h) in builds.items()}
        finally:
            stub.terminate()
            stub.wait()
        for name, _, _, _ in SERVE_REQUESTS:
            n += 1
            a = res["base"].get(name, res["base"])
            b = res["current"].get(name, res["current"])
            d = [] if a == b else [f"serve {name}:\n--- base\n{fmt(a)}\n+++ current\n{fmt(b)}"]
            failures += d
            n_bad += bool(d)
            print(f"{'ok  ' if not d else 'FAIL'} serve {name}", flush=True)
    for f in failures:
        print(f, file=sys.stderr)
    print(f"cli_regress: {n - n_bad} of {n} agree with {args.base}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
