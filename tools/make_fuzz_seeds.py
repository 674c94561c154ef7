#!/usr/bin/env python3
"""Write the seed inputs of the library's fuzz targets into fuzz/corpus/<target>/.

Run from the repository root after `make` (the router seeds are trained by build/routellm on
tests/data with the tiny test encoder):

    pip install numpy safetensors tokenizers
    python3 tools/make_fuzz_seeds.py

Each seed is a small real-format file (or a crafted broken one) with the selector bytes the
target reads first (see the comment at the top of each fuzz/<target>.c). Seeds are named
seed-*, so the inputs that fuzzing adds (named by their SHA-1) stay apart.
"""
import gzip
import io
import json
import os
import shutil
import struct
import subprocess
import tempfile

import numpy as np
from safetensors.numpy import save as st_save

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "tests", "data")
TINY = os.path.join(DATA, "encoder", "tiny-bert")


def corpus(target):
    d = os.path.join(ROOT, "fuzz", "corpus", target)
    os.makedirs(d, exist_ok=True)
    return d


def put(target, name, data):
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(corpus(target), "seed-" + name), "wb") as f:
        f.write(data)


def read(*parts):
    with open(os.path.join(*parts), "rb") as f:
        return f.read()


def gz(data):
    # A fixed mtime keeps the seed bytes reproducible.
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as f:
        f.write(data)
    return buf.getvalue()


def st_split(blob):
    n = struct.unpack("<Q", blob[:8])[0]
    return json.loads(blob[8:8 + n]), blob[8 + n:]


def st_join(header, body):
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + body


# ----------------------------------------------------------------------------
# safetensors

def safetensors_seeds():
    tensors = {
        "w": np.arange(12, dtype=np.float32).reshape(3, 4),
        "h": np.linspace(-1, 1, 6, dtype=np.float16).reshape(2, 3),
        "i": np.array([1, -2, 3], dtype=np.int32),
        "l": np.array([[7]], dtype=np.int64),
        "b": np.array([0, 255, 3], dtype=np.uint8),
        "d": np.array([1.5], dtype=np.float64),
        "s": np.array(2.0, dtype=np.float32),
        "e": np.zeros((0, 4), dtype=np.float32),
    }
    blob = st_save(tensors, metadata={"format": "pt", "note": "fuzz seed"})
    put("safetensors", "dtypes", blob)
    put("safetensors", "one", st_save({"x": np.ones(4, dtype=np.float32)}))
    put("safetensors", "empty", st_save({}, metadata={"format": "pt"}))
    put("safetensors", "truncated", blob[:len(blob) - 5])
    header, body = st_split(blob)
    header["w"]["data_offsets"][1] += 4
    put("safetensors", "overlap", st_join(header, body))
    header, body = st_split(blob)
    header["i"]["shape"] = [4]
    header["h"]["dtype"] = "BF16"
    put("safetensors", "bad-shape", st_join(header, body))


# ----------------------------------------------------------------------------
# Routers and their training-prompt lists

def router_seeds():
    exe = os.path.join(ROOT, "build", "routellm")
    # Relative data paths, run from the root: the router's "source" metadata records them.
    data = ["--data", "arena:tests/data/battles/arena_conversations.jsonl",
            "--data", "judge:tests/data/battles/gpt4_dataset.jsonl"]
    runs = {
        "mf": ["mf", "--epochs", "2", "--hidden", "8"],
        "mf-alias": ["mf", "--epochs", "1", "--hidden", "4", "--alias", "gpt-4o=gpt-4-1106-preview"],
        "sw_ranking": ["sw_ranking", "--tiers", "2"],
        "sw_ranking-int8": ["sw_ranking", "--tiers", "2", "--int8"],
        "bert": ["bert", "--epochs", "2", "--hidden", "8", "--tiers", "2"],
    }
    tmp = tempfile.mkdtemp()
    try:
        for name, args in runs.items():
            out = os.path.join(tmp, name + ".safetensors")
            subprocess.run([exe, "train"] + args + data +
                           ["--model-dir", TINY, "--no-cache", "--threads", "1", "--out", out],
                           check=True, cwd=ROOT, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
            blob = read(out)
            put("router_file", name, blob)
            lst = read(tmp, name + ".prompts.jsonl.gz")
            if name in ("mf", "sw_ranking"):
                put("train_prompts", name + "-gz", b"\0" + lst)
                put("train_prompts", name + "-plain", b"\1" + gzip.decompress(lst))
        mf = read(tmp, "mf.safetensors")
        put("router_file", "mf-truncated", mf[:len(mf) // 2])
        broken = {
            "kind-random": ("kind", "random"),
            "models-dup": ("models", '["a","a"]'),
            "dim-text": ("encoder_dim", "32x"),
            "pair-missing": ("default_weak", "nobody"),
            "version-2": ("format_version", "2"),
        }
        for name, (key, value) in broken.items():
            header, body = st_split(mf)
            header["__metadata__"][key] = value
            put("router_file", "mf-" + name, st_join(header, body))
        header, body = st_split(read(tmp, "sw_ranking.safetensors"))
        for t in header.values():
            if isinstance(t, dict) and "shape" in t and t["shape"]:
                t["shape"][0] = t["shape"][0] + 1
                break
        put("router_file", "sw_ranking-shape", st_join(header, body))
    finally:
        shutil.rmtree(tmp)
    put("train_prompts", "two", b"\1" + b'{"prompt": "first prompt"}\n{"prompt": "second \\u00e9"}\n')
    put("train_prompts", "not-object", b"\1" + b'{"prompt": "ok"}\n[1, 2]\n')
    put("train_prompts", "gz-truncated", b"\0" + gz(b'{"prompt": "a prompt"}\n' * 20)[:30])


# ----------------------------------------------------------------------------
# Battles: the first byte is the format (bits 0-2), strict (bit 3) and options (bit 4)

def battle_seeds():
    b = os.path.join(DATA, "battles")
    alpaca = os.path.join(b, "alpaca")
    seeds = {
        "arena55k": (0, read(b, "arena55k.csv")),
        "arena55k-bad": (0, read(b, "arena55k_bad.csv")),
        "arena-jsonl": (1, read(b, "arena_conversations.jsonl")),
        "arena-bad": (1, read(b, "arena_bad.jsonl")),
        "arena-json": (2, b"[" + b",".join(read(b, "arena_conversations.jsonl").splitlines()[:3])
                       + b"]"),
        "judge-jsonl": (3, read(b, "gpt4_dataset.jsonl")),
        "judge-bad": (3, read(b, "gpt4_dataset_bad.jsonl")),
        "judge-csv": (4, b'prompt,mixtral_score\n"Write a haiku about the sea, please.",5\n'
                         b'"Prove that there are infinitely many primes.",2\n'),
        "alpaca": (5, read(alpaca, "battles.csv") + b"\0" + read(alpaca, "prompts.jsonl")),
        "alpaca-bad": (5, read(alpaca, "battles_bad.csv") + b"\0" + read(alpaca, "prompts.jsonl")),
        "table-csv": (6, read(b, "table.csv")),
        "table-bad": (6, read(b, "table_bad.csv")),
        "table-routerdc": (7, read(b, "routerdc.json")),
        "table-jsonl": (7, b'{"question": "Is 91 a prime number? Answer yes or no.", '
                           b'"gpt-4": 1, "mixtral": 0, "llama": true}\n'),
    }
    for name, (fmt, data) in seeds.items():
        put("battles", name, bytes([fmt]) + data)
        put("battles", name + "-strict-opts", bytes([fmt | 8 | 16]) + data)


def texts_seeds():
    b = os.path.join(DATA, "battles")
    put("texts", "csv", b"\0" + read(b, "texts.csv"))
    put("texts", "jsonl", b"\1" + read(b, "texts.jsonl"))
    put("texts", "json", b"\2" + b'[{"prompt": "one"}, {"turns": ["two", "three"]}]')
    put("texts", "txt", b"\3" + read(b, "texts.txt"))
    put("texts", "csv-column", b"\4" + b'id,text\n1,"a ""quoted"" text"\n2,plain\n')
    put("texts", "jsonl-field", b"\5" + b'{"question": "q1"}\n\n{"question": "q2"}\n')
    put("texts", "csv-ragged", b"\0" + b'prompt,x\n"unterminated,1\n')


def eval_table_seeds():
    put("eval_table", "csv", b"\0" + b"prompt,gpt-4,mixtral\nfirst prompt,1,0\n"
                                     b'"second, quoted ""prompt""",True,False\n')
    put("eval_table", "jsonl", b"\1" + b'{"prompt": "first prompt", "gpt-4": true, "mixtral": 0.5}\n'
                                       b'{"prompt": "second", "gpt-4": 8, "mixtral": 9}\n')
    put("eval_table", "csv-cost", b"\2" + b"prompt,gpt-4,mixtral,cost_gpt-4,cost_mixtral\n"
                                          b"p1,0.9,0.5,0.02,0.001\np2,0.7,0.8,0.03,0.002\n")
    put("eval_table", "jsonl-cost-question",
        b"\7" + b'{"question": "q", "gpt-4": 1, "mixtral": 0, "cost_gpt-4": 2, "cost_mixtral": 1}\n')
    put("eval_table", "csv-bad", b"\0" + b"prompt,gpt-4,mixtral\nfirst,1,zero\n")
    scores = [{"prompt": "What is 2 + 2?", "score": 0.9},
              {"prompt": "Name a prime number.", "score": 0.1},
              {"prompt": 'Say "hi".', "score": 0.5}]
    put("eval_table", "scores", b"\x08" + "\n\n".join(json.dumps(s) for s in scores).encode())
    put("eval_table", "scores-missing", b"\x08" + json.dumps(scores[0]).encode() + b"\n")
    put("eval_table", "scores-bad", b"\x08" + b'{"prompt": "x", "score": "high"}\n')


# ----------------------------------------------------------------------------
# .npy and the embedding cache

def npy_bytes(arr, version=None):
    buf = io.BytesIO()
    if version:
        np.lib.format.write_array_header_2_0(buf, np.lib.format.header_data_from_array_1_0(arr)) \
            if version == 2 else np.lib.format.write_array_header_1_0(
                buf, np.lib.format.header_data_from_array_1_0(arr))
        buf.write(arr.tobytes())
    else:
        np.save(buf, arr)
    return buf.getvalue()


def npy_seeds():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    put("npy", "2x3", b"\0" + npy_bytes(a))
    put("npy", "2x3-v2", b"\0" + npy_bytes(a, 2))
    put("npy", "0x4", b"\0" + npy_bytes(np.zeros((0, 4), dtype=np.float32)))
    put("npy", "f8", b"\0" + npy_bytes(a.astype(np.float64)))
    put("npy", "1d", b"\0" + npy_bytes(np.ones(3, dtype=np.float32)))
    put("npy", "fortran", b"\0" + npy_bytes(np.asfortranarray(a)))
    put("npy", "truncated", b"\0" + npy_bytes(a)[:-4])
    put("npy", "golden", b"\0" + read(TINY, "golden.npy"))
    import hashlib
    texts = ["a", "b", "hello"]
    keys = b"RLEMBKEYS1\n" + b"".join(hashlib.sha256(t.encode()).digest()[:16] for t in texts)
    emb = np.eye(3, 4, dtype=np.float32)
    # Cache width 4 is selector bits 1-2 = 2: byte 0b101; the next byte is the row count.
    put("npy", "cache", bytes([1 | 2 << 1, 3]) + keys + npy_bytes(emb))
    put("npy", "cache-wrong-rows", bytes([1 | 2 << 1, 2]) + keys[:11 + 32] + npy_bytes(emb))
    put("npy", "cache-bad-magic", bytes([1 | 2 << 1, 3]) + b"X" + keys[1:] + npy_bytes(emb))


# ----------------------------------------------------------------------------
# Model folder files

def tokenizer_seeds():
    from tokenizers import BertWordPieceTokenizer
    tok = BertWordPieceTokenizer(os.path.join(TINY, "vocab.txt"), lowercase=True)
    tmp = tempfile.mkdtemp()
    try:
        tok.save(os.path.join(tmp, "tokenizer.json"))
        tj = read(tmp, "tokenizer.json")
    finally:
        shutil.rmtree(tmp)
    put("tokenizer_config", "tokenizer-json", b"\0" + tj)
    j = json.loads(tj)
    j["added_tokens"].append({"id": 5000, "content": "[BIG]", "single_word": False,
                              "lstrip": False, "rstrip": False, "normalized": False,
                              "special": True})
    put("tokenizer_config", "tokenizer-json-bad-id", b"\0" + json.dumps(j).encode())
    vocab = read(TINY, "vocab.txt")
    put("tokenizer_config", "vocab", b"\1" + vocab)
    put("tokenizer_config", "vocab-dup", b"\1" + vocab + vocab.splitlines(True)[5])
    put("tokenizer_config", "tokenizer-config", b"\2" + read(TINY, "tokenizer_config.json"))
    put("tokenizer_config", "config", b"\3" + read(TINY, "config.json"))
    cfg = json.loads(read(TINY, "config.json"))
    cfg["num_attention_heads"] = 5
    put("tokenizer_config", "config-heads", b"\3" + json.dumps(cfg).encode())
    put("tokenizer_config", "pooling", b"\4" + read(TINY, "1_Pooling", "config.json"))
    put("tokenizer_config", "pooling-cls", b"\4" + read(DATA, "encoder", "tiny-bert-cls",
                                                        "1_Pooling", "config.json"))
    put("tokenizer_config", "modules", b"\5" + read(TINY, "modules.json"))
    put("tokenizer_config", "sbert", b"\6" + read(TINY, "sentence_bert_config.json"))


def http_request_seeds():
    # The first byte picks the split of the chunked body.
    body = '{"model":"router-mf-0.5","messages":[{"role":"user","content":"hi"}]}'
    put("http_request", "post", "\x03POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
        "Content-Length: %d\r\nAuthorization: Bearer k\r\n\r\n%s" % (len(body), body))
    put("http_request", "chunked", "\x05POST /v1/route HTTP/1.1\r\nHost: x\r\n"
        "Transfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n"
        "1c;ext=1\r\n" + body[:28] + "\r\n%x\r\n%s\r\n0\r\nT: v\r\n\r\n" % (len(body) - 28, body[28:]))
    put("http_request", "pipelined", "\x01GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
        "GET /metrics HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    put("http_request", "smuggle", "\x02POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
        "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
    put("http_request", "bad-length", "\x00POST / HTTP/1.1\r\nHost: x\r\nContent-Length : -1\r\n\r\n")
    completion = '{"model":"router-mf-0.5","prompt":"hi","stream":true}'
    put("http_request", "completions", "\x04POST /v1/completions HTTP/1.1\r\nHost: x\r\n"
        "Content-Length: %d\r\n\r\n%s" % (len(completion), completion))
    embedding = '{"model":"all-MiniLM-L6-v2","input":["a","b"],"encoding_format":"base64"}'
    put("http_request", "embeddings", "\x06POST /v1/embeddings HTTP/1.1\r\nHost: x\r\n"
        "Transfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n" % (len(embedding), embedding))


if __name__ == "__main__":
    safetensors_seeds()
    router_seeds()
    battle_seeds()
    texts_seeds()
    eval_table_seeds()
    npy_seeds()
    tokenizer_seeds()
    http_request_seeds()
