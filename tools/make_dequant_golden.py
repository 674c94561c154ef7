"""Golden fixture of the GGUF dequantisers (tests/unit/lm/quant.c): blocks of each tensor type
that the small models of issue 11 use, with random quantised bytes and sane scales, and the
float32 values the `gguf` package from PyPI (llama.cpp's Python reader, numpy reference
dequantisers) gives for them.

    python3 -m venv /tmp/gg && /tmp/gg/bin/pip install gguf==0.19.0
    /tmp/gg/bin/python tools/make_dequant_golden.py tests/data/lm/dequant_golden.jsonl.gz
"""
import gzip
import json
import sys

import numpy as np
from gguf import GGML_QUANT_SIZES, GGMLQuantizationType as T
from gguf import quants

BLOCKS = 6
# Byte offsets of the float16 scales in one block, set to finite values of either sign.
HALVES = {
    T.Q4_0: [0], T.Q4_1: [0, 2], T.Q5_0: [0], T.Q5_1: [0, 2], T.Q8_0: [0],
    T.Q4_K: [0, 2], T.Q6_K: [208],
}


def main(out):
    rng = np.random.default_rng(20261203)
    rows = []
    for t, halves in HALVES.items():
        elems, size = GGML_QUANT_SIZES[t]
        raw = rng.integers(0, 256, size=(BLOCKS, size), dtype=np.uint8)
        for at in halves:
            scale = rng.uniform(-2, 2, size=BLOCKS).astype(np.float16)
            raw[:, at:at + 2] = scale.view(np.uint8).reshape(BLOCKS, 2)
        values = quants.dequantize(raw.reshape(-1), t).astype(np.float32)
        assert values.size == BLOCKS * elems and np.all(np.isfinite(values))
        rows.append({"type": t.name, "n": int(values.size), "hex": raw.tobytes().hex(),
                     "values": [float(v) for v in values]})
    for t in (T.F16, T.BF16):
        floats = rng.normal(0, 3, size=64).astype(np.float32)
        if t == T.F16:
            raw = floats.astype(np.float16).view(np.uint8)
        else:
            raw = (floats.view(np.uint32) >> 16).astype(np.uint16).view(np.uint8)
        values = quants.dequantize(raw, t).astype(np.float32)
        rows.append({"type": t.name, "n": int(values.size), "hex": raw.tobytes().hex(),
                     "values": [float(v) for v in values]})
    with gzip.open(out, "wt") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
