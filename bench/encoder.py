#!/usr/bin/env python3
"""Encoder benchmark driver: routellm's C encoder against sentence-transformers (PyTorch, CPU)
and ONNX Runtime running the same all-MiniLM-L6-v2, on the same machine and thread counts, in
one run; engine `c-int8` is the C encoder with --precision int8, compared with the C encoder's
fp32 (engine `c`) in the same run. Needs a Python environment with the reference engines (never used by the product):

    python3 -m venv .venv-bench
    .venv-bench/bin/pip install torch sentence-transformers onnxruntime onnx
    make bench                       # or: make build/bench/encoder && \\
                                     #     .venv-bench/bin/python bench/encoder.py

Each engine runs in its own process (so peak RSS is its own), rounds alternate between engines
so that background load hits them alike, and every number is the median over rounds:

  * model load time;
  * single-text latency, p50 and p99 over --iters calls, at 8, 32 and 128 tokens: the same token
    ids for every engine (no tokenizer), one text per call, embedding pooled and normalised;
  * batch throughput over the Arena-Hard prompts (texts, tokenizer included, truncated at 256
    tokens): the C encoder takes all texts in one call; sentence-transformers encode() with
    batch size 32; ONNX Runtime sorted by length and padded per batch of 32 (as encode() does);
  * peak RSS of the process.

Before timing, the latency inputs' embeddings of every engine are compared (cosine, max abs
difference), so a fast wrong engine cannot pass (fp32 engines: cosine >= 0.99999 and difference
<= 1e-4; c-int8 against the others: cosine >= 0.995, its fidelity gate). The ONNX model (mean pooling and L2
normalisation inside the graph) is exported once into .cache/bench/. Prints a Markdown report;
--json FILE also saves the raw records.
"""
import argparse
import gzip
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


def ids_for(tokens):
    """The latency input of bench/encoder.c: [CLS], ids spread over the vocabulary, [SEP]."""
    return [101] + [1000 + (j * 7919) % 28000 for j in range(1, tokens - 1)] + [102]


def load_prompts(path, limit):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        prompts = [json.loads(line)["prompt"] for line in f if line.strip()]
    return prompts[:limit]


def emit(rec):
    print(json.dumps(rec), flush=True)


def peak_rss_mb():
    """VmHWM: unlike ru_maxrss, Linux resets it on exec, so a child does not inherit its parent's."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# ----------------------------------------------------------------------------------------------
# Workers: one engine, one thread count, in a fresh process.

def export_onnx(model_dir, path):
    import torch
    from transformers import AutoModel

    class Pooled(torch.nn.Module):
        def __init__(self, bert):
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask, token_type_ids):
            h = self.bert(input_ids=input_ids, attention_mask=attention_mask,
                          token_type_ids=token_type_ids).last_hidden_state
            m = attention_mask.unsqueeze(-1).to(h.dtype)
            e = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(e, p=2, dim=1)

    model = Pooled(AutoModel.from_pretrained(model_dir).eval())
    ids = torch.ones(2, 16, dtype=torch.long)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    axes = {"input_ids": {0: "b", 1: "t"}, "attention_mask": {0: "b", 1: "t"},
            "token_type_ids": {0: "b", 1: "t"}, "embedding": {0: "b"}}
    with torch.no_grad():
        torch.onnx.export(model, (ids, torch.ones_like(ids), torch.zeros_like(ids)), path + ".tmp",
                          input_names=["input_ids", "attention_mask", "token_type_ids"],
                          output_names=["embedding"], dynamic_axes=axes, opset_version=17,
                          dynamo=False)
    os.replace(path + ".tmp", path)


class OrtEngine:
    name = "onnxruntime"

    def __init__(self, args):
        import onnxruntime as ort
        from tokenizers import Tokenizer
        so = ort.SessionOptions()
        so.intra_op_num_threads = args.threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        self.sess = ort.InferenceSession(args.onnx, so, providers=["CPUExecutionProvider"])
        self.tok = Tokenizer.from_file(os.path.join(args.model, "tokenizer.json"))
        # The model's tokenizer.json pads every text to 128 tokens; encode() pads per batch
        # itself, with an attention mask that covers only the real tokens.
        self.tok.no_padding()
        self.tok.enable_truncation(256)

    def run_ids(self, batch):
        ids = np.array(batch, dtype=np.int64)
        feed = {"input_ids": ids, "attention_mask": np.ones_like(ids),
                "token_type_ids": np.zeros_like(ids)}
        return self.sess.run(None, feed)[0]

    def encode(self, texts, batch_size=32):
        enc = self.tok.encode_batch(texts)
        order = sorted(range(len(texts)), key=lambda i: len(enc[i].ids))
        out = np.zeros((len(texts), 384), np.float32)
        for b in range(0, len(order), batch_size):
            idx = order[b:b + batch_size]
            width = max(len(enc[i].ids) for i in idx)
            ids = np.zeros((len(idx), width), np.int64)
            mask = np.zeros_like(ids)
            for r, i in enumerate(idx):
                n = len(enc[i].ids)
                ids[r, :n] = enc[i].ids
                mask[r, :n] = 1
            feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            out[idx] = self.sess.run(None, feed)[0]
        return out


class StEngine:
    name = "sentence-transformers"

    def __init__(self, args):
        import torch
        from sentence_transformers import SentenceTransformer
        torch.set_num_threads(args.threads)
        self.torch = torch
        self.model = SentenceTransformer(args.model, device="cpu")
        self.model.eval()

    def run_ids(self, batch):
        t = self.torch.tensor(batch, dtype=self.torch.long)
        feats = {"input_ids": t, "attention_mask": self.torch.ones_like(t),
                 "token_type_ids": self.torch.zeros_like(t)}
        with self.torch.inference_mode():
            return self.model(feats)["sentence_embedding"].numpy()

    def encode(self, texts, batch_size=32):
        return self.model.encode(texts, batch_size=batch_size, convert_to_numpy=True,
                                 show_progress_bar=False)


def worker(args):
    t0 = time.perf_counter()
    engine = (OrtEngine if args.worker == "ort" else StEngine)(args)
    base = {"engine": engine.name, "threads": args.threads}
    emit({**base, "kind": "load", "seconds": time.perf_counter() - t0})
    dumped = []
    for tokens in args.tokens:
        batch = [ids_for(tokens)]
        for _ in range(10):
            emb = engine.run_ids(batch)
        times = []
        for _ in range(args.iters):
            s = time.perf_counter()
            engine.run_ids(batch)
            times.append((time.perf_counter() - s) * 1e3)
        times.sort()
        dumped.append(emb[0])
        emit({**base, "kind": "latency", "tokens": tokens, "iters": args.iters,
              "p50_ms": times[(args.iters - 1) // 2], "p99_ms": times[(args.iters * 99 - 1) // 100],
              "mean_ms": sum(times) / len(times)})
    np.save(args.dump, np.array(dumped, dtype=np.float32))
    if args.prompts:
        texts = load_prompts(args.prompts, args.limit)
        runs = []
        for _ in range(args.repeat):
            s = time.perf_counter()
            engine.encode(texts)
            runs.append(time.perf_counter() - s)
        med = statistics.median(runs)
        emit({**base, "kind": "batch", "texts": len(texts), "repeat": args.repeat,
              "seconds": med, "texts_per_s": len(texts) / med})
    emit({**base, "kind": "rss", "peak_rss_mb": peak_rss_mb()})


# ----------------------------------------------------------------------------------------------
# Driver

def run_engine(args, engine, threads, dump):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS="1",
               MKL_NUM_THREADS=str(threads), TOKENIZERS_PARALLELISM="false")
    common = ["--threads", str(threads), "--tokens", ",".join(map(str, args.tokens)),
              "--iters", str(args.iters), "--model", args.model, "--dump", dump,
              "--repeat", str(args.repeat)]
    if args.prompts:
        common += ["--prompts", args.prompts, "--limit", str(args.limit)]
    if engine == "c":
        cmd = [args.bin] + common
    elif engine == "c-int8":
        cmd = [args.bin, "--precision", "int8"] + common
    else:
        cmd = [sys.executable, os.path.abspath(__file__), "--worker", engine, "--onnx", args.onnx] \
            + common + (["--prompts", ""] if not args.prompts else [])
    out = subprocess.run(cmd, env=env, check=True, stdout=subprocess.PIPE, text=True).stdout
    recs = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    for r in recs:
        r["engine"] = engine
    return recs


def agree(a, b):
    cos = float(np.min(np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) *
                                                np.linalg.norm(b, axis=1))))
    return cos, float(np.max(np.abs(a - b)))


def report(args, recs, checks):
    def med(engine, threads, kind, field, tokens=None):
        vals = [r[field] for r in recs if r["engine"] == engine and r["threads"] == threads and
                r["kind"] == kind and (tokens is None or r.get("tokens") == tokens)]
        return statistics.median(vals) if vals else float("nan")

    def fmt(x, digits):
        return "-" if x != x else f"{x:.{digits}f}"

    names = {"c": "routellm (C)", "c-int8": "routellm (C, int8)", "ort": "ONNX Runtime",
             "st": "sentence-transformers"}
    lines = []
    for threads in args.threads:
        lines.append(f"\n### {threads} thread{'s' if threads > 1 else ''}\n")
        head = "| engine | load s |" + "".join(f" p50 {t} tok ms | p99 {t} tok ms |"
                                              for t in args.tokens)
        head += " batch texts/s | peak RSS MB |"
        lines.append(head)
        lines.append("|" + "---|" * (head.count("|") - 1))
        for e in args.engines:
            row = f"| {names[e]} | {med(e, threads, 'load', 'seconds'):.2f} |"
            for t in args.tokens:
                row += f" {med(e, threads, 'latency', 'p50_ms', t):.2f} |" \
                       f" {med(e, threads, 'latency', 'p99_ms', t):.2f} |"
            row += f" {fmt(med(e, threads, 'batch', 'texts_per_s'), 1)} |"
            row += f" {fmt(med(e, threads, 'rss', 'peak_rss_mb'), 0)} |"
            lines.append(row)
        for fast in (e for e in ("c", "c-int8") if e in args.engines):
            for other in (e for e in args.engines if e not in (fast, "c-int8")):
                ratio = []
                for t in args.tokens:
                    ratio.append(f"{t} tok {med(other, threads, 'latency', 'p50_ms', t) / med(fast, threads, 'latency', 'p50_ms', t):.2f}x")
                tp = med(fast, threads, "batch", "texts_per_s") / \
                    med(other, threads, "batch", "texts_per_s")
                batch = f"; batch throughput {tp:.2f}x" if tp == tp else ""
                lines.append(f"\n{names[fast]} vs {names[other]}: p50 latency speed-up "
                             f"{', '.join(ratio)}{batch}")
    lines.append("\nAgreement on the latency inputs (min cosine, max abs diff):")
    for (a, b), (cos, diff) in sorted(checks.items()):
        lines.append(f"- {names[a]} vs {names[b]}: {cos:.7f}, {diff:.2g}")
    print("\n".join(lines))


def driver(args):
    if "ort" in args.engines and not os.path.exists(args.onnx):
        print(f"exporting {args.model} to {args.onnx}", file=sys.stderr)
        # In a child process, so that torch's memory does not count in the engines' RSS.
        subprocess.run([sys.executable, os.path.abspath(__file__), "--export", "--model",
                        args.model, "--onnx", args.onnx], check=True)
    recs, checks, dumps = [], {}, {}
    os.makedirs(os.path.join(ROOT, ".cache", "bench"), exist_ok=True)
    for rnd in range(args.rounds):
        for threads in args.threads:
            for engine in args.engines:
                dump = os.path.join(ROOT, ".cache", "bench", f"latency_{engine}.npy")
                print(f"round {rnd + 1}/{args.rounds}: {engine}, {threads} thread(s)",
                      file=sys.stderr)
                recs += run_engine(args, engine, threads, dump)
                dumps[engine] = np.load(dump)
        for a in args.engines:
            for b in args.engines:
                if a < b:
                    checks[(a, b)] = agree(dumps[a], dumps[b])
    bad = [k for k, (cos, diff) in checks.items()
           if (cos < 0.995 if "c-int8" in k else cos < 0.99999 or diff > 1e-4)]
    report(args, recs, checks)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(recs, f, indent=1)
    if bad:
        print(f"engines disagree: {bad}", file=sys.stderr)
        sys.exit(1)


def main():
    shared = os.environ.get("RL_SHARED_DATA", os.path.join(ROOT, "..", "shared", "data"))
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--bin", default=os.path.join(ROOT, "build", "bench", "encoder"))
    p.add_argument("--model", default=os.path.join(ROOT, "models", "all-MiniLM-L6-v2"))
    p.add_argument("--onnx", default=os.path.join(ROOT, ".cache", "bench", "all-MiniLM-L6-v2.onnx"))
    p.add_argument("--prompts",
                   default=os.path.join(shared, "arena_hard_auto", "v0.1", "question.jsonl.gz"))
    p.add_argument("--limit", type=int, default=500, help="prompts for the batch measurement")
    p.add_argument("--threads", default="1,2")
    p.add_argument("--tokens", default="8,32,128")
    p.add_argument("--iters", type=int, default=200)
    p.add_argument("--repeat", type=int, default=1, help="batch passes per round")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--engines", default="c,ort,st", help="of c, c-int8, ort, st")
    p.add_argument("--json", help="also write the raw records here")
    p.add_argument("--worker", choices=["ort", "st"], help=argparse.SUPPRESS)
    p.add_argument("--export", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--dump", help=argparse.SUPPRESS)
    args = p.parse_args()
    args.tokens = [int(t) for t in str(args.tokens).split(",")]
    if args.export:
        export_onnx(args.model, args.onnx)
        return
    if args.worker:
        args.threads = int(args.threads)
        worker(args)
        return
    args.threads = [int(t) for t in args.threads.split(",")]
    args.engines = args.engines.split(",")
    if args.prompts and not os.path.exists(args.prompts):
        sys.exit(f"bench/encoder.py: {args.prompts} not found (set RL_SHARED_DATA or --prompts)")
    driver(args)


if __name__ == "__main__":
    main()
