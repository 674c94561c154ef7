"""The pieces of the tokenizer golden corpora that tools/make_tokenizer_golden.py (WordPiece) and
tools/make_lm_tokenizer_golden.py (the LM vocabularies) share: the real prompts and answers, the
seeded random texts and byte strings, the damaged prompts, libutf8proc through ctypes, and the
writer of the gzip-compressed JSON-lines files.

Standard library only, so that each script runs in the environment of its own reference
tokenizer. Every generator draws from the rng it is given in a fixed order: the same seed and
arguments give the same records, and the committed fixtures depend on that order.
"""
import ctypes
import gzip
import io
import json
import os

DATA_DIR = os.environ.get("RL_SHARED_DATA", "../shared/data")

# utf8proc_category_t order.
CATEGORIES = ("Cn Lu Ll Lt Lm Lo Mn Mc Me Nd Nl No Pc Pd Ps Pe Pi Pf Po Sm Sc Sk So Zs Zl Zp "
              "Cc Cf Cs Co").split()
# The White_Space code points, as src/tokenizer/unicode.c and src/lm/bpe.c list them.
WHITESPACE = {0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20, 0x85, 0xA0, 0x1680, 0x2028, 0x2029, 0x202F,
              0x205F, 0x3000} | set(range(0x2000, 0x200B))

# The blocks random_unicode draws from, [lo, hi), in code point order.
UNICODE_BLOCKS = [
    (0xC0, 0x250),
    (0x300, 0x370),  # combining diacritics
    (0x370, 0x530),  # Greek, Cyrillic
    (0x590, 0x700),  # Hebrew, Arabic
    (0x900, 0x980),  # Devanagari
    (0xE00, 0xE60),  # Thai
    (0x1100, 0x1200),  # Hangul jamo
    (0x1E00, 0x2000),  # Latin/Greek extended
    (0x2000, 0x2070),  # general punctuation, spaces, Cf
    (0x3000, 0x3100),  # CJK punctuation, kana
    (0x4E00, 0x4F00),
    (0xAC00, 0xAD00),  # Hangul syllables
    (0xFE00, 0xFFFE),  # variation selectors, fullwidth, specials
    (0x1F300, 0x1F700),  # emoji
    (0x1F900, 0x1FAFF),
]


def all_code_points():
    return [cp for cp in range(0x110000) if not 0xD800 <= cp <= 0xDFFF]


class Utf8proc:
    """libutf8proc, the library the C code classifies characters with."""
    DECOMPOSE = 1 << 4

    def __init__(self):
        lib = ctypes.CDLL("libutf8proc.so.2")
        lib.utf8proc_category.restype = ctypes.c_int
        lib.utf8proc_category.argtypes = [ctypes.c_int32]
        lib.utf8proc_get_property.restype = ctypes.POINTER(ctypes.c_int16)
        lib.utf8proc_get_property.argtypes = [ctypes.c_int32]
        lib.utf8proc_tolower.restype = ctypes.c_int32
        lib.utf8proc_tolower.argtypes = [ctypes.c_int32]
        lib.utf8proc_decompose_char.restype = ctypes.c_ssize_t
        lib.utf8proc_decompose_char.argtypes = [ctypes.c_int32, ctypes.POINTER(ctypes.c_int32),
                                                ctypes.c_ssize_t, ctypes.c_int, ctypes.c_void_p]
        lib.utf8proc_unicode_version.restype = ctypes.c_char_p
        self.lib = lib
        self.buf = (ctypes.c_int32 * 16)()
        self.version = lib.utf8proc_unicode_version().decode()

    def category(self, cp):
        return CATEGORIES[self.lib.utf8proc_category(cp)]

    def ccc(self, cp):
        return self.lib.utf8proc_get_property(cp)[1]  # after the int16 category

    def lower(self, cp):
        return self.lib.utf8proc_tolower(cp)

    def decompose(self, cp):
        n = self.lib.utf8proc_decompose_char(cp, self.buf, 16, self.DECOMPOSE, None)
        return [self.buf[i] for i in range(n)]


# ----------------------------------------------------------------------------
# Real text

def read_jsonl(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(os.path.join(DATA_DIR, path), "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def real_prompts(rng, n_arena_v01, n_arena_v2):
    """(kind, prompt): MT-Bench's turns, n_arena_v01 Arena-Hard v0.1 prompts drawn from rng (all,
    in file order and without a draw, when None), n_arena_v2 drawn from v2.0, all of AlpacaEval."""
    out = []
    for q in read_jsonl("mt_bench_fastchat/question.jsonl"):
        out += [("mt_bench", t) for t in q["turns"]]
    v1 = read_jsonl("arena_hard_auto/v0.1/question.jsonl.gz")
    if n_arena_v01 is not None:
        v1 = rng.sample(v1, n_arena_v01)
    out += [("arena_hard_v0.1", q["prompt"]) for q in v1]
    v2 = read_jsonl("arena_hard_auto/v2.0/question.jsonl.gz")
    out += [("arena_hard_v2.0", q["prompt"]) for q in rng.sample(v2, n_arena_v2)]
    out += [("alpaca_eval", q["instruction"]) for q in read_jsonl("alpaca_eval/prompts.jsonl.gz")]
    return out


def answers():
    rows = read_jsonl("arena_hard_auto/v0.1/model_answer/gpt-4-0314.jsonl.gz")
    return [r["messages"][1]["content"]["answer"] for r in rows]


def damaged_prompts(rng, prompts, n):
    out = []
    for _, p in rng.sample(prompts, n):
        b = bytearray(p.encode()[:600])
        for _ in range(rng.randint(1, 5)):
            if not b:
                break
            i = rng.randrange(len(b))
            b[i] = rng.choice([0x80, 0xC3, 0xE4, 0xF0, 0xFF, 0xED, rng.randrange(256)])
        out.append(("damaged_prompt", bytes(b)))
    return out


# ----------------------------------------------------------------------------
# Malformed UTF-8 that both corpora hold, in groups, each script placing them among its own cases

# Overlong forms, leads of 5 and 6 bytes, surrogates.
INVALID_UTF8_FORMS = [
    b"\xff", b"\xfe", b"\xc0\x80", b"\xc1\xbf", b"a\xc0\xafb", b"\xe0\x80\xaf",
    b"\xe0\x9f\xbf", b"\xf0\x80\x80\xaf", b"\xf0\x8f\xbf\xbf", b"\xf8\x88\x80\x80\x80",
    b"\xfc\x84\x80\x80\x80\x80", b"\xed\xa0\x80", b"\xed\xbf\xbf", b"a\xed\xa0\x80\xed\xb0\x80b",
]
# Stray continuation bytes, truncated sequences, Latin-1 text.
INVALID_UTF8_CUT = [
    b"\x80", b"\xbf", b"a\x80b", b"a\x80\x80\x80b",
    b"\xc3", b"a\xc3", b"\xe4\xb8", b"a\xe4\xb8b", b"\xf0\x9f\x98", b"\xf0\x9f\x98a",
    b"\xf0\x9f", b"caf\xe9", b"na\xefve", b"\xe4\xb8\xad\xe6\x96", b"\xe4\xb8\xad\xe6\x96\x87",
    b"\xc3\xa9\x80\xc3\xa9", b"a\xe2\x80b", b"\xe2\x80\x8b\xe2\x80",
]
# Bad bytes inside words, U+FFFD itself and cut short, the BOM, the first 3- and 4-byte values.
INVALID_UTF8_MIXED = [
    b"hello\xffworld", b"hello \xff world", b"\xef\xbf\xbd", b"\xef\xbf", b"\xef\xbb\xbfBOM",
    b"\x00\xff\x00", b"\xe0\xa0", b"\xe0\xa0\x80", b"\xf0\x90\x80", b"\xf0\x90\x80\x80",
]
# Two-byte edges, a 3-byte sequence with a continuation byte too many, a bad byte after a long run.
INVALID_UTF8_EDGES = [
    b"\xc2\xa0", b"\xc2", b"\xc2 ", b"\xdf\xbf", b"\xe1\x80\x80\x80", b"abc" * 40 + b"\xff",
]


# ----------------------------------------------------------------------------
# Random text

def random_ascii(rng, n, separators=None):
    """n texts of ASCII words and symbol runs, joined by one space, or, given separators, by one
    of them drawn per text."""
    chars = [chr(c) for c in range(32, 127)] + ["\t", "\n"]
    out = []
    for _ in range(n):
        k = rng.choice([0, 1, 2, 5, 10, 40, 100, 300])
        words = []
        while sum(len(w) + 1 for w in words) < k:
            if rng.random() < 0.6:
                words.append("".join(rng.choice("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
                                     for _ in range(rng.randint(1, 14))))
            else:
                words.append("".join(rng.choice(chars) for _ in range(rng.randint(1, 8))))
        sep = rng.choice(separators) if separators else " "
        out.append(("random_ascii", sep.join(words)))
    return out


def unicode_pool(spaces, punct, blocks):
    """Characters to draw from: a-z four times over, then spaces (a list), the characters of punct,
    every code point of blocks, and a few controls, joiners and astral characters."""
    pool = []
    pool += [chr(c) for c in range(0x61, 0x7B)] * 4 + spaces + list(punct)
    for lo, hi in blocks:
        pool += [chr(c) for c in range(lo, hi)]
    pool += ["\u200d", "\u200b", "\ufe0f", "\x00", "\x01", "\x7f", "\x85", "\ufffd", "\U000E0041"]
    pool += [chr(c) for c in range(0x1D165, 0x1D16E)] + [chr(c) for c in range(0x20000, 0x20040)]
    return pool


def random_unicode(rng, n, pool, lengths):
    return [("random_unicode", "".join(rng.choice(pool) for _ in range(rng.choice(lengths))))
            for _ in range(n)]


def random_bytes(rng, n, pieces):
    """n byte strings: random bytes, a soup of high and printable bytes, or a text of pieces
    (strings) with one to three bytes deleted, replaced or inserted."""
    out = []
    for _ in range(n):
        k = rng.choice([1, 2, 3, 4, 8, 16, 64, 200])
        mode = rng.random()
        if mode < 0.4:
            b = bytes(rng.randrange(256) for _ in range(k))
        elif mode < 0.7:  # mostly high bytes: lead/continuation soup
            b = bytes(rng.choice([rng.randrange(0x80, 0x100), rng.randrange(0x20, 0x7F)])
                      for _ in range(k))
        else:  # valid UTF-8 with damage
            s = "".join(rng.choice(pieces) for _ in range(k))
            b = bytearray(s.encode())
            for _ in range(rng.randint(1, 3)):
                if not b:
                    break
                i = rng.randrange(len(b))
                op = rng.random()
                if op < 0.33:
                    del b[i]
                elif op < 0.66:
                    b[i] = rng.randrange(256)
                else:
                    b.insert(i, rng.choice([0x80, 0xBF, 0xC0, 0xE0, 0xF0, 0xFF]))
            b = bytes(b)
        out.append(("random_bytes", b))
    return out


# ----------------------------------------------------------------------------
# The golden file

def text_field(x):
    """An input as the fields of its record: {"text": ...} for a str or UTF-8 bytes, else
    {"hex": ...} with the bytes in lowercase hex."""
    if isinstance(x, bytes):
        try:
            return {"text": x.decode("utf-8")}
        except UnicodeDecodeError:
            return {"hex": x.hex()}
    return {"text": x}


def write_golden(path, records, ensure_ascii):
    """Write the records (dicts) one JSON object a line, gzip-compressed with mtime 0 so that a
    rerun gives identical bytes."""
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, filename="", compresslevel=9) as gz:
        for rec in records:
            gz.write((json.dumps(rec, ensure_ascii=ensure_ascii, separators=(",", ":")) + "\n").encode())
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(buf.getvalue())
