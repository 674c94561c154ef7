#!/usr/bin/env python3
"""Reference embeddings of all-MiniLM-L6-v2 for the encoder's golden test.

Run from the repository root, after `make models`:

    python3 -m venv .venv-tools
    .venv-tools/bin/pip install torch sentence-transformers
    .venv-tools/bin/python tools/make_encoder_golden.py

It draws a fixed, seeded subset of the tokenizer's golden corpus (tests/data/tokenizer/
golden.jsonl.gz, records truncated at 256 tokens: real prompts from MT-Bench, AlpacaEval and
Arena-Hard, random ASCII and Unicode, control characters, invalid UTF-8, very long inputs),
embeds it with sentence-transformers (PyTorch, fp32, CPU) loading models/all-MiniLM-L6-v2, and
writes tests/data/encoder/minilm_golden.jsonl.gz: one JSON object per line,
{"kind", "text" | "hex", "n_tokens", "embedding": [384 floats rounded to 1e-8]}.
"hex" records hold raw bytes that are not valid UTF-8 (texts with a NUL are left out, as the C
API takes NUL-terminated strings); sentence-transformers embeds
bytes.decode("utf-8", "replace"), which is the C tokenizer's defined reading of them.
Reruns give identical bytes (seeded sample, gzip mtime 0).
"""
import gzip
import io
import json
import random
import sys

import torch
from sentence_transformers import SentenceTransformer

MODEL_DIR = "models/all-MiniLM-L6-v2"
CORPUS = "tests/data/tokenizer/golden.jsonl.gz"
OUT = "tests/data/encoder/minilm_golden.jsonl.gz"

# Records per kind of the tokenizer corpus; the total token count keeps the C test near a second.
PER_KIND = {
    "handwritten": 110, "mt_bench": 20, "alpaca_eval": 30, "arena_hard_v0.1": 12,
    "arena_hard_v2.0": 8, "random_ascii": 20, "random_unicode": 60, "random_bytes": 25,
    "damaged_prompt": 15, "invalid_utf8": 25, "long": 2, "long_full": 2, "long_cjk": 1,
    "long_emoji": 1, "long_controls": 1,
}
SEED = 2


def text_of(r):
    if "hex" in r:
        return bytes.fromhex(r["hex"]).decode("utf-8", "replace")
    return r["text"]


def main():
    torch.manual_seed(0)
    with gzip.open(CORPUS, "rt", encoding="utf-8") as f:
        records = [json.loads(line) for line in f]
    by_kind = {}
    for r in records:
        # The C API takes NUL-terminated strings, so texts holding a NUL cannot be compared.
        if r["max"] == 256 and "\0" not in text_of(r):
            by_kind.setdefault(r["kind"], []).append(r)
    rng = random.Random(SEED)
    chosen = []
    for kind, n in PER_KIND.items():
        pool = by_kind.get(kind, [])
        chosen += rng.sample(pool, min(n, len(pool)))

    model = SentenceTransformer(MODEL_DIR, device="cpu")
    assert model.max_seq_length == 256
    texts = [text_of(r) for r in chosen]
    emb = model.encode(texts, batch_size=16, convert_to_numpy=True, show_progress_bar=False)
    tokenize = getattr(model, "preprocess", None) or model.tokenize
    n_tokens = tokenize(texts)["attention_mask"].sum(dim=1).tolist()

    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as gz:
        for r, e, n in zip(chosen, emb, n_tokens):
            line = {"kind": r["kind"]}
            line["hex" if "hex" in r else "text"] = r["hex"] if "hex" in r else r["text"]
            line["n_tokens"] = n
            line["embedding"] = [round(float(x), 8) for x in e]
            gz.write((json.dumps(line, ensure_ascii=False) + "\n").encode("utf-8"))
    with open(OUT, "wb") as f:
        f.write(buf.getvalue())
    print(f"wrote {len(chosen)} embeddings ({sum(n_tokens)} tokens) to {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
