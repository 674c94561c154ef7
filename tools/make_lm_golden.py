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
   (the output norm's, llama.cpp's embeddings without pooling), with the mean negative
   log-likelihood of the sequence and the entropy of its next token from every position's
   logits, go to
   tests/data/lm/tiny_llama_golden.jsonl.gz.
   The same for a tiny `gemma3` model (tests/data/lm/tiny_gemma3.gguf and its golden file): heads
   wider than width / heads, six layers of which five attend within a window of 8 positions,
   the per-head and post-block norms, a tied output.
   Micro models of both architectures (width 8) go to fuzz/corpus/lm_model/ as the seeds of the
   lm_model fuzz target.
2. With --smollm2 GGUF and --gemma3 GGUF: the real models' top 20 last-position logits on 24
   texts each, cut at 64 tokens: four short ones and 20 Arena-Hard prompts, with the two signals
   (tests/data/lm/smollm2_golden.jsonl.gz, gemma3_golden.jsonl.gz), and the ids each reads for
   those texts and a few more as a routing prompt (tests/data/lm/prompt_ids.jsonl.gz): the
   file's chat template rendered with jinja2, or the text with BOS when there is none.

    python3 -m venv /tmp/lm && /tmp/lm/bin/pip install gguf==0.19.0 numpy \\
        'llama-cpp-python[server]==0.3.36'
    /tmp/lm/bin/python tools/make_lm_golden.py \\
        --smollm2 models/SmolLM2-135M-Instruct/SmolLM2-135M-Instruct.Q4_1.gguf \\
        --gemma3 models/gemma-3-270m/gemma-3-270m-q4_k_m.gguf
"""
import argparse
import gzip
import hashlib
import io
import json
import random

import numpy as np
from gguf import GGUFWriter
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


def write_tiny(path, seed, arch, micro=False):
    """A tiny model of arch ("llama" or "gemma3") with seeded random float32 weights. The gemma3
    one has heads wider than width / heads (32, not 16), six layers (five sliding-window layers
    with a window of 8, then a global one) and its four extra norms per layer."""
    gemma = arch == "gemma3"
    # gemma3: width 32, 2 query heads of 32 and one key/value head, feed-forward 64.
    e, f, h, hkv, layers, d = (32, 64, 2, 1, 6, 32) if gemma else (E, F, H, HKV, LAYERS, E // H)
    if micro:  # the fuzz target's seeds: the same structure, a few kilobytes
        e, f, h, hkv, layers, d = (8, 16, 2, 1, 6 if gemma else 1, 8 if gemma else 4)
    rng = np.random.default_rng(seed)
    w = GGUFWriter(path, arch)
    w.add_block_count(layers)
    w.add_context_length(CTX)
    w.add_embedding_length(e)
    w.add_feed_forward_length(f)
    w.add_head_count(h)
    w.add_head_count_kv(hkv)
    if gemma:
        w.add_key_length(d)
        w.add_value_length(d)
        w.add_sliding_window(8)
        w.add_rope_freq_base(1000000.0)
        w.add_layer_norm_rms_eps(1e-6)
    else:
        w.add_rope_dimension_count(d)
        w.add_rope_freq_base(10000.0)
        w.add_layer_norm_rms_eps(1e-5)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("default")
    w.add_token_list(TOKENS)
    w.add_token_types([1] * V)
    w.add_token_merges(MERGES)
    w.add_add_bos_token(False)
    mat = lambda rows, cols, s: rng.normal(0, s, (rows, cols))
    norm = lambda n: 1 + rng.normal(0, 0.1, n)
    f32 = lambda name, values: w.add_tensor(name, values.astype(np.float32))
    f32("token_embd.weight", mat(V, e, 1.0 / np.sqrt(e) if gemma else 1.0))
    f32("output_norm.weight", norm(e))
    if not gemma:  # gemma3 ties its output to the embedding
        f32("output.weight", mat(V, e, 0.3))
    for i in range(layers):
        f32(f"blk.{i}.attn_norm.weight", norm(e))
        f32(f"blk.{i}.attn_q.weight", mat(h * d, e, 0.25))
        f32(f"blk.{i}.attn_k.weight", mat(hkv * d, e, 0.25))
        f32(f"blk.{i}.attn_v.weight", mat(hkv * d, e, 0.25))
        f32(f"blk.{i}.attn_output.weight", mat(e, h * d, 0.15))
        f32(f"blk.{i}.ffn_norm.weight", norm(e))
        f32(f"blk.{i}.ffn_gate.weight", mat(f, e, 0.2))
        f32(f"blk.{i}.ffn_up.weight", mat(f, e, 0.2))
        f32(f"blk.{i}.ffn_down.weight", mat(e, f, 0.15))
        if gemma:
            f32(f"blk.{i}.attn_q_norm.weight", norm(d))
            f32(f"blk.{i}.attn_k_norm.weight", norm(d))
            f32(f"blk.{i}.post_attention_norm.weight", norm(e))
            f32(f"blk.{i}.post_ffw_norm.weight", norm(e))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def last_logits(llm, ids):
    llm.reset()
    llm.eval(ids)
    return np.array(llm.scores[len(ids) - 1], dtype=np.float64)


def signals(llm, ids):
    """The mean negative log-likelihood of ids[1:] and the entropy of the next token, in nats,
    from every position's logits (after last_logits has run on ids)."""
    z = np.array(llm.scores[:len(ids)], dtype=np.float64)
    top = z.max(axis=1, keepdims=True)
    lse = (top + np.log(np.exp(z - top).sum(axis=1, keepdims=True)))[:, 0]
    nll = [lse[t] - z[t, ids[t + 1]] for t in range(len(ids) - 1)]
    p = np.exp(z[-1] - lse[-1])
    return (float(np.mean(nll)) if nll else 0.0), float(lse[-1] - (p * z[-1]).sum())


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


def open_model(path, embedding, n_ctx=512):
    return llama_cpp.Llama(model_path=path, n_ctx=n_ctx, n_threads=2,
                           embedding=embedding, logits_all=not embedding, verbose=False,
                           pooling_type=llama_cpp.LLAMA_POOLING_TYPE_NONE)


def top_logits(llm, seqs, path):
    """The 20 largest last-position logits of each sequence."""
    with gzip.GzipFile(path, "wb", mtime=0) as g, io.TextIOWrapper(g) as f:
        for ids in seqs:
            logits = last_logits(llm, ids)
            top = np.argsort(-logits)[:20]
            nll, entropy = signals(llm, ids)
            f.write(json.dumps({"ids": ids, "top": [int(i) for i in top],
                                "logits": [round(float(logits[i]), 5) for i in top],
                                "mean_nll": nll, "next_entropy": entropy}) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--smollm2", help="SmolLM2-135M-Instruct.Q4_1.gguf")
    ap.add_argument("--gemma3", help="gemma-3-270m-q4_k_m.gguf")
    args = ap.parse_args()
    # Seeds of the lm_model fuzz target: micro models of both architectures, named by sha1.
    for arch in ("llama", "gemma3"):
        tmp = "/tmp/lm_micro.gguf"
        write_tiny(tmp, 1, arch, micro=True)
        with open(tmp, "rb") as f:
            blob = f.read()
        with open("fuzz/corpus/lm_model/" + hashlib.sha1(blob).hexdigest(), "wb") as f:
            f.write(blob)
    for arch, seed in (("llama", 20261203), ("gemma3", 20261204)):
        tiny = OUT + f"tiny_{arch}.gguf"
        write_tiny(tiny, seed, arch)
        llm, emb = open_model(tiny, False, CTX), open_model(tiny, True, CTX)
        rng = random.Random(7)
        with gzip.GzipFile(OUT + f"tiny_{arch}_golden.jsonl.gz", "wb", mtime=0) as g, \
                io.TextIOWrapper(g) as f:
            for _ in range(200):
                ids = [rng.randrange(V) for _ in range(rng.randint(1, 48))]
                rec = {"ids": ids, "logits": [round(x, 6) for x in last_logits(llm, ids)],
                       "hidden": [round(x, 6) for x in hidden_state(emb, ids)]}
                rec["mean_nll"], rec["next_entropy"] = signals(llm, ids)
                f.write(json.dumps(rec) + "\n")
    # Real text, as a router reads it: four short texts and the first 64 tokens of 20 Arena-Hard
    # prompts (random ids would reach unused tokens whose embeddings drive the activations far
    # from anything llama.cpp's 8-bit activation rounding was made for).
    texts = ["The capital of France is", "def fibonacci(n):", "1 + 1 =",
             "<|im_start|>user\nWhat is 12 times 7?<|im_end|>\n<|im_start|>assistant\n"]
    with gzip.open("data/prompts/arena_hard.jsonl.gz", "rt") as f:
        texts += [json.loads(line)["prompt"] for line in f][:20]
    for path, name, bos in ((args.smollm2, "smollm2", False), (args.gemma3, "gemma3", True)):
        if path:
            llm = open_model(path, False)
            seqs = [llm.tokenize(t.encode(), add_bos=bos, special=True)[:64] for t in texts]
            top_logits(llm, seqs, OUT + name + "_golden.jsonl.gz")
    if args.smollm2 and args.gemma3:
        prompt_layouts(args, texts)


def prompt_layouts(args, texts):
    """The ids each real model reads for a routing prompt (rl__lm_prompt_ids): the file's chat
    template rendered with jinja2 for one user message and the generation prompt, tokenized
    with special tokens parsed, as llama-cpp-python's chat formatter does; the text alone (with
    BOS) for a file without a template."""
    import jinja2
    extra = ["", " leading space", "trailing space ", "two\n\nlines", "tab\tand unicode é 漢字 😀",
             "1234567 digits", "```python\nprint('code')\n```"]
    with gzip.GzipFile(OUT + "prompt_ids.jsonl.gz", "wb", mtime=0) as g, \
            io.TextIOWrapper(g) as f:
        for path, name in ((args.smollm2, "smollm2"), (args.gemma3, "gemma3")):
            llm = llama_cpp.Llama(model_path=path, vocab_only=True, verbose=False)
            template = llm.metadata.get("tokenizer.chat_template")
            # A text that spells a control token is left out: the template's rendering would
            # parse it as one, which rl__lm_prompt_ids refuses to do (its own test checks that).
            for text in [t for t in texts + extra if "<|" not in t]:
                if template:
                    rendered = jinja2.Template(template).render(
                        messages=[{"role": "user", "content": text}], add_generation_prompt=True)
                    ids = llm.tokenize(rendered.encode(), add_bos=False, special=True)
                else:
                    ids = llm.tokenize(text.encode(), add_bos=True, special=False)
                f.write(json.dumps({"model": name, "text": text, "ids": ids}) + "\n")


if __name__ == "__main__":
    main()
