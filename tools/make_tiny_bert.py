#!/usr/bin/env python3
"""Write the tiny random BERT models and their golden embeddings used by the encoder unit tests.

    python3 -m venv .venv-tools
    .venv-tools/bin/pip install torch sentence-transformers safetensors numpy
    .venv-tools/bin/python tools/make_tiny_bert.py            # writes tests/data/encoder/

Two sentence-transformers model folders are written, each with config.json, model.safetensors,
vocab.txt, tokenizer_config.json, modules.json, sentence_bert_config.json and 1_Pooling/:

  tiny-bert/      mean pooling + Normalize, F32 weights, plain BERT tensor names
  tiny-bert-cls/  CLS pooling, no Normalize module, F16 weights, "bert."-prefixed names and a
                  pooler (which the encoder must ignore)

and, for each, golden.jsonl (one line per input: the text when there is one, the token ids and
the embedding) and golden.npy (the embeddings, N x hidden float32, written by numpy.save). The
references come from sentence-transformers itself (PyTorch, fp32, CPU) loading the folder;
embeddings of the folder without a Normalize module are L2-normalised afterwards, as the C encoder
always normalises. Weights are random but seeded, so the output is reproducible.
"""
import json
import os
import shutil
import sys

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from sentence_transformers import SentenceTransformer

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "encoder")

HIDDEN, LAYERS, HEADS, FFN, MAX_POS, MAX_SEQ = 32, 2, 4, 64, 40, 24

WORDS = """the a an of to and in is it that for on with as was be by this are or at from his her
not but have they you we he she what which their there all will one can about when how why who
model route router strong weak prompt answer question code python write story math sum prove
cat dog house tree river city night day time year good bad new old big small fast slow
hello world test token sentence embed vector""".split()
PIECES = "##s ##ed ##ing ##er ##ly ##est ##y ##a ##e ##o ##t ##n ##r".split()
CHARS = list("abcdefghijklmnopqrstuvwxyz0123456789.,!?'\"()-:;")

TEXTS = [
    "",
    "hello world",
    "The cat sat on the mat.",
    "write a python story about a strong router",
    "Routers route prompts: the strong model answers, the weak model answers faster!",
    "zzzz qqqq unknownword",
    "a " * 40,  # longer than max_seq_length: truncated
    "Hello, World! 123 -- (test) 'quoted'",
    "embed this sentence into a vector, then route it",
    "why? how? when?",
]

# Token-id inputs that bypass the tokenizer: lengths 2 (just [CLS] [SEP]) to MAX_SEQ.
ID_SEQS_SEED = 7


def write_folder(path, state, pooling, normalize, vocab):
    os.makedirs(os.path.join(path, "1_Pooling"), exist_ok=True)
    config = {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "hidden_act": "gelu",
        "hidden_size": HIDDEN,
        "intermediate_size": FFN,
        "num_attention_heads": HEADS,
        "num_hidden_layers": LAYERS,
        "max_position_embeddings": MAX_POS,
        "layer_norm_eps": 1e-12,
        "type_vocab_size": 2,
        "vocab_size": len(vocab),
        "pad_token_id": 0,
        "position_embedding_type": "absolute",
        "hidden_dropout_prob": 0.0,
        "attention_probs_dropout_prob": 0.0,
    }
    with open(os.path.join(path, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    with open(os.path.join(path, "vocab.txt"), "w") as f:
        f.write("\n".join(vocab) + "\n")
    with open(os.path.join(path, "tokenizer_config.json"), "w") as f:
        json.dump({"do_lower_case": True, "tokenizer_class": "BertTokenizer",
                   "model_max_length": MAX_POS}, f)
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling",
         "type": "sentence_transformers.models.Pooling"},
    ]
    if normalize:
        modules.append({"idx": 2, "name": "2", "path": "2_Normalize",
                        "type": "sentence_transformers.models.Normalize"})
    with open(os.path.join(path, "modules.json"), "w") as f:
        json.dump(modules, f, indent=2)
    with open(os.path.join(path, "sentence_bert_config.json"), "w") as f:
        json.dump({"max_seq_length": MAX_SEQ, "do_lower_case": False}, f)
    with open(os.path.join(path, "1_Pooling", "config.json"), "w") as f:
        json.dump({"word_embedding_dimension": HIDDEN,
                   "pooling_mode_cls_token": pooling == "cls",
                   "pooling_mode_mean_tokens": pooling == "mean",
                   "pooling_mode_max_tokens": False,
                   "pooling_mode_mean_sqrt_len_tokens": False}, f, indent=2)
    save_file(state, os.path.join(path, "model.safetensors"), metadata={"format": "pt"})


def random_state(gen, vocab_size, prefix, dtype, with_pooler):
    """BERT weights with a spread large enough that attention and GELU are far from linear."""
    def rnd(*shape, scale=0.3, mean=0.0):
        return (torch.randn(*shape, generator=gen) * scale + mean).to(dtype)

    s = {
        "embeddings.word_embeddings.weight": rnd(vocab_size, HIDDEN, scale=1.0),
        "embeddings.position_embeddings.weight": rnd(MAX_POS, HIDDEN, scale=0.5),
        "embeddings.token_type_embeddings.weight": rnd(2, HIDDEN, scale=0.5),
        "embeddings.LayerNorm.weight": rnd(HIDDEN, scale=0.2, mean=1.0),
        "embeddings.LayerNorm.bias": rnd(HIDDEN, scale=0.2),
        "embeddings.position_ids": torch.arange(MAX_POS, dtype=torch.int64).unsqueeze(0),
    }
    for i in range(LAYERS):
        p = f"encoder.layer.{i}."
        for name in ("query", "key", "value"):
            s[p + f"attention.self.{name}.weight"] = rnd(HIDDEN, HIDDEN)
            s[p + f"attention.self.{name}.bias"] = rnd(HIDDEN, scale=0.1)
        s[p + "attention.output.dense.weight"] = rnd(HIDDEN, HIDDEN, scale=0.2)
        s[p + "attention.output.dense.bias"] = rnd(HIDDEN, scale=0.1)
        s[p + "attention.output.LayerNorm.weight"] = rnd(HIDDEN, scale=0.2, mean=1.0)
        s[p + "attention.output.LayerNorm.bias"] = rnd(HIDDEN, scale=0.2)
        s[p + "intermediate.dense.weight"] = rnd(FFN, HIDDEN, scale=0.3)
        s[p + "intermediate.dense.bias"] = rnd(FFN, scale=0.3)
        s[p + "output.dense.weight"] = rnd(HIDDEN, FFN, scale=0.15)
        s[p + "output.dense.bias"] = rnd(HIDDEN, scale=0.1)
        s[p + "output.LayerNorm.weight"] = rnd(HIDDEN, scale=0.2, mean=1.0)
        s[p + "output.LayerNorm.bias"] = rnd(HIDDEN, scale=0.2)
    if with_pooler:
        s["pooler.dense.weight"] = rnd(HIDDEN, HIDDEN)
        s["pooler.dense.bias"] = rnd(HIDDEN)
    return {prefix + k: v.contiguous() for k, v in s.items()}


def golden(path, normalize, id_seqs):
    model = SentenceTransformer(path, device="cpu")
    model.eval()
    rows = []
    with torch.no_grad():
        for text in TEXTS:
            feats = model.tokenize([text])
            emb = model(feats)["sentence_embedding"][0]
            rows.append({"text": text, "ids": feats["input_ids"][0].tolist(), "emb": emb})
        for ids in id_seqs:
            t = torch.tensor([ids])
            feats = {"input_ids": t, "attention_mask": torch.ones_like(t),
                     "token_type_ids": torch.zeros_like(t)}
            emb = model(feats)["sentence_embedding"][0]
            rows.append({"ids": ids, "emb": emb})
    embs = torch.stack([r["emb"] for r in rows]).double()
    if not normalize:
        embs = embs / embs.norm(dim=1, keepdim=True)
    embs = embs.float().numpy()
    with open(os.path.join(path, "golden.jsonl"), "w") as f:
        for r, e in zip(rows, embs):
            line = {k: v for k, v in r.items() if k != "emb"}
            line["embedding"] = [float(x) for x in e]
            f.write(json.dumps(line) + "\n")
    np.save(os.path.join(path, "golden.npy"), embs.astype("<f4"))
    return len(rows)


def main():
    torch.manual_seed(0)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + WORDS + PIECES
    vocab += [c for c in CHARS if c not in vocab]
    gen = torch.Generator().manual_seed(1234)
    rng = np.random.default_rng(ID_SEQS_SEED)
    lengths = [2, 3, 5, 8, 13, MAX_SEQ]
    id_seqs = [[2] + rng.integers(5, len(vocab), n - 2).tolist() + [3] for n in lengths]

    mean_dir = os.path.join(OUT, "tiny-bert")
    write_folder(mean_dir, random_state(gen, len(vocab), "", torch.float32, False), "mean", True,
                 vocab)
    n = golden(mean_dir, True, id_seqs)

    cls_dir = os.path.join(OUT, "tiny-bert-cls")
    write_folder(cls_dir, random_state(gen, len(vocab), "bert.", torch.float16, True), "cls",
                 False, vocab)
    # sentence-transformers would run the fp16 weights in fp16; the reference is the same weights
    # widened to fp32, which is what the C encoder computes.
    state = {k: (v.float() if v.is_floating_point() else v)
             for k, v in load_file(os.path.join(cls_dir, "model.safetensors")).items()}
    ref_dir = cls_dir + ".ref"
    write_folder(ref_dir, {k[len("bert."):]: v for k, v in state.items()
                           if not k.startswith("bert.pooler")}, "cls", False, vocab)
    golden(ref_dir, False, id_seqs)
    for name in ("golden.jsonl", "golden.npy"):
        os.replace(os.path.join(ref_dir, name), os.path.join(cls_dir, name))
    shutil.rmtree(ref_dir)
    print(f"wrote {n} golden embeddings per model under {os.path.relpath(OUT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
