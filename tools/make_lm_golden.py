#!/usr/bin/env python3
"""Golden fixtures of the decoder's forward pass (src/lm/decoder.c), made by llama.cpp itself.

1. A tiny llama-architecture model with seeded random weights, written with the `gguf` package
   (PyPI; llama.cpp's own writer) to tests/data/lm/tiny_llama.gguf: 2 layers, width 64, 4 query
   and 2 key/value heads, feed-forward 128, a byte-level vocabulary of 258 tokens and an untied output
   matrix, all in F32: llama.cpp then computes in float32 as the decoder does (with quantised
   matrices it rounds the activations to 8 bits too, which random weights amplify), so the two
   must agree to rounding. The quantised types are checked by the dequantisers' own golden test
   and by the SmolLM2 fixture below. llama-cpp-python (PyPI, the same llama.cpp) runs it on 200 seeded token
   sequences of 1 to 48 tokens; the last position's logits (all 258) and the final hidden state
   (the output norm's, llama.cpp's embeddings without pooling) go to
   tests/data/lm/tiny_llama_golden.jsonl.gz.
2. With --smollm2 GGUF: SmolLM2-135M-Instruct's top 20 last-position logits on 24 token
   sequences (tests/data/lm/smollm2_golden.jsonl.gz), for the test on the real model.

    python3 -m venv /tmp/lm && /tmp/lm/bin/pip install gguf==0.19.0 numpy \\
        'llama-cpp-python[server]==0.3.36'
    /tmp/lm/bin/python tools/make_lm_golden.py --smollm2 PATH/SmolLM2-135M-Instruct.Q4_1.gguf
"""
import argparse
import gzip
import json
import random

import numpy as np
from gguf import GGMLQuantizationType as Q
from gguf import GGUFWriter, quants
import llama_cpp

E, F, H, HKV, LAYERS, CTX = 64, 128, 4, 2, 2, 128


def byte_tokens():
    """GPT-2's byte-level alphabet: a printable character for each of the 256 bytes."""
    keep = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    extra = iter(range(256, 512))
    return [chr(b) if b in keep else chr(next(extra)) for b in range(256)]


TOKENS = byte_tokens() + ["\u0120t", "ab"]  # two merged tokens, so the vocabulary has merges
MERGES = ["\u0120 t", "a b"]
V = len(TOKENS)
OUT = "tests/data/lm/"


def tensor(w, name, values, qtype):
    values = values.astype(np.float32)
    if qtype == Q.F32:
        w.add_tensor(name, values)
    elif qtype == Q.F16:
        w.add_tensor(name, values.astype(np.float16))
    else:
        w.add_tensor(name, quants.quantize(values, qtype), raw_dtype=qtype)


def write_tiny(path, seed):
    rng = np.random.default_rng(seed)
    w = GGUFWriter(path, "llama")
    w.add_block_count(LAYERS)
    w.add_context_length(CTX)
    w.add_embedding_length(E)
    w.add_feed_forward_length(F)
    w.add_head_count(H)
    w.add_head_count_kv(HKV)
    w.add_rope_dimension_count(E // H)
    w.add_rope_freq_base(10000.0)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("default")
    w.add_token_list(TOKENS)
    w.add_token_types([1] * V)
    w.add_token_merges(MERGES)
    w.add_add_bos_token(False)
    d = E // H
    mat = lambda rows, cols, s: rng.normal(0, s, (rows, cols))
    tensor(w, "token_embd.weight", mat(V, E, 1.0), Q.F32)
    tensor(w, "output_norm.weight", 1 + rng.normal(0, 0.1, E), Q.F32)
    tensor(w, "output.weight", mat(V, E, 0.3), Q.F32)
    for i in range(LAYERS):
        qa = qb = qc = Q.F32
        tensor(w, f"blk.{i}.attn_norm.weight", 1 + rng.normal(0, 0.1, E), Q.F32)
        tensor(w, f"blk.{i}.attn_q.weight", mat(E, E, 0.25), qa)
        tensor(w, f"blk.{i}.attn_k.weight", mat(HKV * d, E, 0.25), qb)
        tensor(w, f"blk.{i}.attn_v.weight", mat(HKV * d, E, 0.25), qc)
        tensor(w, f"blk.{i}.attn_output.weight", mat(E, E, 0.15), qa)
        tensor(w, f"blk.{i}.ffn_norm.weight", 1 + rng.normal(0, 0.1, E), Q.F32)
        tensor(w, f"blk.{i}.ffn_gate.weight", mat(F, E, 0.2), qb)
        tensor(w, f"blk.{i}.ffn_up.weight", mat(F, E, 0.2), qc)
        tensor(w, f"blk.{i}.ffn_down.weight", mat(E, F, 0.15), qa)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def last_logits(llm, ids):
    llm.reset()
    llm.eval(ids)
    return np.array(llm.scores[len(ids) - 1], dtype=np.float64)


def hidden_state(emb, ids):
    """The final hidden state of the last position: llama.cpp's embeddings without pooling."""
    batch = llama_cpp.llama_batch_init(len(ids), 0, 1)
    for i, t in enumerate(ids):
        batch.token[i] = t
        batch.pos[i] = i
        batch.n_seq_id[i] = 1
        batch.seq_id[i][0] = 0
        batch.logits[i] = i == len(ids) - 1
    batch.n_tokens = len(ids)
    llama_cpp.llama_memory_clear(llama_cpp.llama_get_memory(emb.ctx), True)
    if llama_cpp.llama_decode(emb.ctx, batch) != 0:
        raise SystemExit("llama_decode failed")
    ptr = llama_cpp.llama_get_embeddings_ith(emb.ctx, len(ids) - 1)
    out = np.array([ptr[i] for i in range(llama_cpp.llama_n_embd(emb.model))], dtype=np.float64)
    llama_cpp.llama_batch_free(batch)
    return out


def open_model(path, embedding):
    return llama_cpp.Llama(model_path=path, n_ctx=CTX if "tiny" in path else 512, n_threads=2,
                           embedding=embedding, logits_all=not embedding, verbose=False,
                           pooling_type=llama_cpp.LLAMA_POOLING_TYPE_NONE)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--smollm2", help="SmolLM2-135M-Instruct.Q4_1.gguf")
    args = ap.parse_args()
    tiny = OUT + "tiny_llama.gguf"
    write_tiny(tiny, seed=20261203)
    llm, emb = open_model(tiny, False), open_model(tiny, True)
    rng = random.Random(7)
    with gzip.open(OUT + "tiny_llama_golden.jsonl.gz", "wt") as f:
        for _ in range(200):
            ids = [rng.randrange(V) for _ in range(rng.randint(1, 48))]
            rec = {"ids": ids, "logits": [round(x, 6) for x in last_logits(llm, ids)],
                   "hidden": [round(x, 6) for x in hidden_state(emb, ids)]}
            f.write(json.dumps(rec) + "\n")
    if args.smollm2:
        llm = open_model(args.smollm2, False)
        texts = ["The capital of France is", "def fibonacci(n):", "1 + 1 =",
                 "<|im_start|>user\nWhat is 12 times 7?<|im_end|>\n<|im_start|>assistant\n"]
        rng = random.Random(11)
        seqs = [llm.tokenize(t.encode(), add_bos=False, special=True) for t in texts]
        seqs += [[rng.randrange(llm.n_vocab()) for _ in range(rng.randint(2, 64))]
                 for _ in range(20)]
        with gzip.open(OUT + "smollm2_golden.jsonl.gz", "wt") as f:
            for ids in seqs:
                logits = last_logits(llm, ids)
                top = np.argsort(-logits)[:20]
                f.write(json.dumps({"ids": ids, "top": [int(i) for i in top],
                                    "logits": [round(float(logits[i]), 5) for i in top]}) + "\n")


if __name__ == "__main__":
    main()
