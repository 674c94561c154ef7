#!/usr/bin/env python3
"""Reference ids for the causal-LM tokenizers (src/lm/vocab.c, bpe.c, spm.c), from llama.cpp.

Run from the repository root, after `make models` (which puts the two GGUF files in models/):

    python3 -m venv /tmp/llamaref && /tmp/llamaref/bin/pip install llama-cpp-python==0.3.36
    /tmp/llamaref/bin/python tools/make_lm_tokenizer_golden.py

(pip builds llama.cpp from the sdist: about 15 minutes on two cores.) The fixtures in
tests/data/lm were made that way with llama-cpp-python 0.3.36 (CPU build, llama.cpp as vendored
in that release) on Python 3.11.7, with libutf8proc 2.8.0 (Unicode 15.0) choosing the code points
of the sweep, and LLAMA_CPP_SRC set (below). Real prompts are read from ../shared/data, or from
$RL_SHARED_DATA. Reruns give identical bytes (seeded generators, gzip mtime 0).

For each model it writes tests/data/lm/tokenizer_<model>.jsonl.gz: one JSON object per line,
{"kind", "text" | "hex", "ids"}, the ids being those of

    Llama(model_path=..., vocab_only=True).tokenize(data, add_bos=False, special=False)

on the UTF-8 bytes of "text", or on the raw bytes of "hex" (byte strings that are not valid
UTF-8; llama.cpp tokenizes bytes, so they are passed as they are). Both files hold the same
records in the same order. The mix follows tools/make_tokenizer_golden.py (real prompts,
handwritten cases, invalid UTF-8, random ASCII, Unicode and bytes, damaged prompts, long inputs, a
code point sweep; the generators both use are in tools/tokenizer_corpus.py), with cases for what
these tokenizers do differently: contractions, digits, runs of spaces, tabs and newlines, and the
texts of special tokens.

Byte strings holding a 4-byte sequence whose value exceeds U+10FFFF are left out: llama.cpp's
byte-level BPE throws a C++ exception on them, which ends the Python process (the C tokenizer
reads them as U+FFFD; a unit test covers that).

With LLAMA_CPP_SRC set to a llama.cpp source tree (vendor/llama.cpp in the llama-cpp-python
sdist), the script also checks the character classes the C code assumes (libutf8proc's
categories, the White_Space list and CJK Extension I as letters) against llama.cpp's
src/unicode-data.cpp, and stops if they differ.
"""
import os
import random
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tokenizer_corpus import (  # noqa: E402  (shared with tools/make_tokenizer_golden.py)
    INVALID_UTF8_CUT, INVALID_UTF8_EDGES, INVALID_UTF8_FORMS, INVALID_UTF8_MIXED, UNICODE_BLOCKS, WHITESPACE, Utf8proc, all_code_points, answers, damaged_prompts,
    random_ascii, random_bytes, random_unicode, real_prompts, text_field, unicode_pool,
    write_golden)

MODELS = {
    "smollm2": "models/SmolLM2-135M-Instruct/SmolLM2-135M-Instruct.Q4_1.gguf",
    "gemma3": "models/gemma-3-270m/gemma-3-270m-q4_k_m.gguf",
}
OUT = "tests/data/lm/tokenizer_%s.jsonl.gz"
SEED = 20250611
LLAMA_CPP_PYTHON = "0.3.36"

CJK_EXT_I = (0x2EBF0, 0x2EE5D)  # letters for llama.cpp, unassigned for utf8proc 2.8


def fail(msg):
    sys.exit("make_lm_tokenizer_golden: " + msg)


def c_class(u, cp):
    """The class bpe.c gives a code point: L(etter), N(umber), W(hitespace) or O(ther)."""
    if cp in WHITESPACE:
        return "W"
    if CJK_EXT_I[0] <= cp <= CJK_EXT_I[1]:
        return "L"
    cat = u.category(cp)
    return cat[0] if cat[0] in "LN" else "O"


def check_llama_unicode(u, src):
    """Compare c_class with llama.cpp's own tables (unicode-data.cpp)."""
    text = open(os.path.join(src, "src", "unicode-data.cpp"), encoding="utf-8").read()
    body = re.search(r"unicode_ranges_flags = \{(.*?)\n\};", text, re.S).group(1)
    starts = [(int(a, 16), int(b, 16)) for a, b in re.findall(r"\{0x([0-9A-F]+), 0x([0-9A-F]+)\}", body)]
    ws = re.search(r"unicode_set_whitespace = \{(.*?)\};", text, re.S).group(1)
    ws = {int(x, 16) for x in re.findall(r"0x([0-9A-F]+)", ws)}
    if ws != WHITESPACE:
        fail("llama.cpp's whitespace list differs: %s" % sorted(ws ^ WHITESPACE))
    bad = []
    for (lo, flags), (hi, _) in zip(starts, starts[1:]):
        want = "L" if flags & 0x4 else "N" if flags & 0x2 else "O"
        for cp in range(lo, hi):
            if not 0xD800 <= cp <= 0xDFFF:
                got = c_class(u, cp)
                if (got if got != "W" else "O") != want:
                    bad.append(cp)
    if bad:
        fail("%d code points classed differently from llama.cpp, first U+%04X" % (len(bad), bad[0]))
    print("llama.cpp's character classes agree with the C code's", file=sys.stderr)


def above_max(b):
    """Whether llama.cpp's lenient UTF-8 decoder reads a value above U+10FFFF in b."""
    i = 0
    while i < len(b):
        c = b[i]
        if c < 0xC0 or c >= 0xF8:
            i += 1
            continue
        need = 1 if c < 0xE0 else 2 if c < 0xF0 else 3
        if i + need >= len(b) or any(b[i + k] & 0xC0 != 0x80 for k in range(1, need + 1)):
            i += 1
            continue
        if need == 3:
            v = (c & 7) << 18 | (b[i + 1] & 0x3F) << 12 | (b[i + 2] & 0x3F) << 6 | (b[i + 3] & 0x3F)
            if v > 0x10FFFF:
                return True
        i += need + 1
    return False


# ----------------------------------------------------------------------------
# The corpus

def handwritten():
    s = [
        # ASCII, contractions, digits
        "Hello, world!", "hello world", "HELLO WORLD", "a", "A", "I", "don't", "can't-stop",
        "I'm we're they've she'll he'd it's", "I'M WE'RE THEY'VE", "'s 't 're 've 'm 'll 'd",
        "'", "''", "'x", "rock'n'roll", "O'Neil's", "x's", "'S", "' s", "'re'", "'''ll",
        "e-mail: someone@example.com", "https://example.com/path?q=1&r=2#frag", "C++ and C#",
        "3.14159 2,718 1e-9 0x1F 100% $5 #1 ~x ^y `z` |w| <tag>", "snake_case_word camelCaseWord",
        "0", "7", "42", "123456789", "2024-06-11", "12:30:45", "1,000,000", "v1.2.3", "x2y3z",
        " 1", "  12", "a1b2c3", "1 2 3", "1\n2", "١٢٣ ٤٥٦", "１２３", "Ⅻ ⅻ", "½ ¼ ¾ ²³¹", "①②③",
        "٣.١٤", "०१२३", "𝟙𝟚𝟛", "1️⃣", "3rd 21st 100th",
        "The quick brown fox jumps over the lazy dog.", "int main(void) { return 0; }",
        "def f(x):\n    return x * 2\n", "for (int i = 0; i < n; i++) {\n\tsum += a[i];\n}",
        "SELECT * FROM t WHERE id = 1;", "<div class=\"a\">x</div>", "{\"key\": [1, 2, null]}",
        "!!!???...", "--", "a.b.c", "...", "'quoted' \"double\"", "(parens) [brackets] {braces}",
        # Whitespace runs: GPT-2's \s+(?!\S), Gemma's space, tab and newline tokens
        "tab\there", "new\nline", "cr\rlf\r\n", "  lead", "trail  ", "\t\n\r ", " ", "  ",
        "   ", " " * 31, " " * 32, " " * 33, "a b", "a  b", "a   b", "a    b", "a" + " " * 40 + "b",
        "\n", "\n\n", "\n" * 31, "\n" * 32, "\n" * 70, "a\nb", "a\n\nb", "a\n\n\nb", " \n ",
        "\t", "\t\t", "\t" * 31, "\t" * 32, "a\tb", "a\t\tb", " \t", "\t ", "\n \n", " \n\n ",
        "a \n b", "a\n  b", "x\r\n\r\ny", "\u00a0", "a\u00a0\u00a0b", "a\u3000b", " \u3000 ",
        "end ", "end  ", "end\n", " start", "\nstart", "a  ", "  a  ", "a \u00a0b",
        "word " * 400, "a " * 300, "x" * 99, "x" * 100, "x" * 101, "ab" * 50, "ab" * 51,
        # Accents, case and other scripts
        "café naïve résumé façade coöperate", "CAFÉ NAÏVE RÉSUMÉ", "Ångström Ærø Øre ŒUVRE",
        "İstanbul ıi İI", "Straße STRASSE ß ẞ", "ΣΊΣΥΦΟΣ σς ΟΔΥΣΣΕΥΣ", "Ǆ ǅ ǆ Ǳ ǲ ǳ",
        "ﬁ ﬂ ﬀ ﬃ", "K Å Ω", "Tiếng Việt có dấu", "español: ¿Qué tal? ¡Hola!",
        "e\u0301 e\u0300\u0301 a\u0308\u0304 o\u0328\u0301", "\u0301\u0301 leading marks",
        "a\u0301" * 60, "a" + "\u0301" * 500 + "b", "ä" * 100, "é" * 101 + "x",
        "你好，世界！", "我爱北京天安门", "中文English混合mixed", "東京タワー", "漢字かな交じり文",
        "ひらがな カタカナ ｶﾀｶﾅ", "한국어 텍스트입니다", "안녕하세요 세계", "ㄱㄴㄷ ᄀᄂᄃ",
        "\U00020000\U0002A6DF\U0002B740\U0002B820", "\U0002EBF0\U0002EC00 \U0002EE5D",
        "a\U0002EBF0b 1\U0002EC001", "مرحبا بالعالم", "العَرَبِيَّة", "שָׁלוֹם עוֹלָם",
        "Привет, мир!", "ПРИВЕТ Ёлка йод", "Γειά σου Κόσμε", "Ἀθῆναι ᾅ ᾠ", "สวัสดีครับ",
        "नमस्ते दुनिया", "हिन्दी क़ ख़", "বাংলা", "தமிழ்", "తెలుగు", "ಕನ್ನಡ", "മലയാളം", "ქართული",
        "Հայերեն", "ᚠᚢᚦ", "𒀀𒁀", "𓀀𓁀", "abc\u202edcba\u202c", "\u200fRTL\u200e",
        # Emoji and symbols
        "😀", "😀😃😄", "I ❤️ NY", "👍🏽", "👨‍👩‍👧‍👦 family", "🏳️‍🌈 flag", "🇺🇸🇯🇵", "#️⃣",
        "🤣🥰🫠🫡", "emoji😀inside", "☺ ☹ ☃ ★ ♥", "\U0001F600" * 120, "$€£¥₹₿", "+−×÷=≠≈",
        "©®™", "°℃℉", "«quotes» „quotes“ ‘single’", "a–b—c", "a…b", "「括弧」『二重』",
        # Control, format, private use and unassigned characters
        "\x00", "a\x00b", "a\x01b\x02c\x1fd\x7fe", "a\x0bb\x0cc", "a\x1cb\x1dc\x1ed\x1ff", "a\x85b",
        "a\x80b\x9fc", "a\u00adb", "zero\u200bwidth", "a\u200cb\u200dc", "\ufeffBOM", "a\ufffdb",
        "\ufffd", "a\uE000b\uF8FFc", "a\U000F0000b\U0010FFFDc", "a\u0378b\u0380c", "a\uFFFEb\uFFFFc",
        "a\U000E0001b\U000E0020c",
        # Texts of special and user-defined tokens: with special=False control tokens are text,
        # user-defined ones (Gemma's whitespace runs and HTML tags) are still cut out first
        "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|im_start|>user\nHello!<|im_end|>\n",
        "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face"
        "<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n",
        "<repo_name>x<file_sep>y<filename>z", "<jupyter_code>print(1)<jupyter_output>1",
        "<bos>", "<eos>", "<pad>", "<unk>", "<mask>", "[multimodal]", "<start_of_image>",
        "<end_of_image>", "<start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\n",
        "<unused0> <unused99>", "</s>", "<s>", "a</s>b", "<b>bold</b> <i>it</i> <u>u</u>",
        "<table><tr><td>1</td></tr></table>", "<h1>Title</h1>\n<p>para</p>", "< b>", "<b >",
        "<B>", "<<b>>", "<b><b>", "</b></b>", "<code>x = 1</code>", "<ul>\n  <li>a</li>\n</ul>",
        "<start_of_image><end_of_image>", "[multimodal][multimodal]", "x<sub>2</sub>",
        "<blockquote>q</blockquote>", "<span>  </span>", "<div>\n\n</div>", "\n<b>\n",
        "<|im_end|>" * 20, "<start_of_turn>" * 20, "<b>" * 50, "\n<b> \n</b>\t",
        # Empty and degenerate
        "", "\u200b", "\u0301", "\x00\x00", "\ufffd\ufffd",
    ]
    return [("handwritten", x) for x in s]


def invalid_utf8():
    cases = INVALID_UTF8_FORMS + [b"\xf4\x8f\xbf\xbf"] + INVALID_UTF8_CUT
    cases += [b"<|im_\xffend|>", b"<b\xff>", b"\xff<b>", b"\xe4<b>", b"\xf0\x9f\n\n", b"\n\xe4\xb8\n"]
    cases += INVALID_UTF8_MIXED + INVALID_UTF8_EDGES
    cases += [
        b"1\xff2", b"\xc0\xb1", b"\xe0\x80\xb1\xe0\x80\xa0", b"x" * 50 + b"\xff" + b"x" * 50,
        b"\xe4\xb8\xad" * 10 + b"\xe4", b"\xcc\x81" * 3 + b"\xcc", b"e\xcc\x81\xcc", b"  \xff  ",
        b"\xc0\xa0\xc0\xa0x", b"\xf7\xbf\xbf", b"\xf4\x90\x80",
    ]
    return [("invalid_utf8", c) for c in cases]


def codepoint_sweep(u, rng):
    """Words "ac1" for every number, separator, control, format, titlecase and modifier letter
    code point, a quarter of the other categories and of CJK Extension I, and a sample of the
    large homogeneous blocks (Lo, Cn, Co)."""
    cps = []
    for cp in all_code_points():
        cat = u.category(cp)
        if cat[0] in "NZ" or cat in ("Cc", "Cf", "Lt", "Lm"):
            rate = 1
        elif cat in ("Lo", "Cn", "Co") and not CJK_EXT_I[0] <= cp <= CJK_EXT_I[1]:
            rate = 1 / 256
        else:
            rate = 1 / 4
        if rng.random() < rate:
            cps.append(cp)
    out = []
    for i in range(0, len(cps), 256):
        words = ["a%s1" % chr(cp) for cp in cps[i:i + 256]]
        out.append(("codepoint_sweep", " ".join(words)))
    return out


def long_inputs(rng, prompts):
    ans = answers()
    out = [("long", "\n\n".join(rng.sample(ans, 6))) for _ in range(2)]
    out.append(("long", "\n".join(p for _, p in prompts[:200])[:20000]))
    out.append(("long_word", "a" * 20000))
    out.append(("long_word", "\u00e9" * 3000))
    out.append(("long_digits", "1234567890" * 300))
    out.append(("long_marks", "a" + "\u0301" * 3000 + " b"))
    out.append(("long_spaces", " " * 20000 + "end"))
    out.append(("long_newlines", "\n" * 10000 + "end"))
    out.append(("long_mixed_space", " \t\n" * 1000))
    out.append(("long_controls", "\x01" * 3000 + "end"))
    out.append(("long_punct", "!" * 20000))
    out.append(("long_cjk", "".join(chr(0x4E00 + rng.randrange(0x5000)) for _ in range(2000))))
    out.append(("long_emoji", "\U0001F600 " * 1000))
    out.append(("long_special", "<|im_end|><b>\n\n" * 500))
    return out


def build_corpus(u):
    rng = random.Random(SEED)
    prompts = real_prompts(rng, 200, 60)
    pool = unicode_pool([" "] * 20 + ["\n"] * 4 + ["\t"] * 2, ".,;:!?'\"()-[]{}<>/0123456789",
                        sorted(UNICODE_BLOCKS + [(0x2150, 0x2190)]))  # and number forms
    records = list(prompts)
    records += handwritten()
    records += invalid_utf8()
    records += random_ascii(rng, 300, [" ", " ", "  ", "\n", "\t"])
    records += random_unicode(rng, 300, pool, [1, 5, 20, 50, 100])
    records += random_bytes(rng, 250, ["é", "中", "😀", "a", " ", "ß", "\u0301", "\n", "<b>", "1"])
    records += damaged_prompts(rng, prompts, 100)
    records += long_inputs(rng, prompts)
    records += codepoint_sweep(u, rng)
    kept = [(k, x) for k, x in records if not (isinstance(x, bytes) and above_max(x))]
    print("%d records (%d left out: values above U+10FFFF)" % (len(kept), len(records) - len(kept)),
          file=sys.stderr)
    return kept


def write_corpus(path, records, ids):
    write_golden(path, ({"kind": kind, **text_field(x), "ids": row}
                        for (kind, x), row in zip(records, ids)), ensure_ascii=False)


def main():
    import llama_cpp
    from llama_cpp import Llama

    if llama_cpp.__version__ != LLAMA_CPP_PYTHON:
        print("warning: llama-cpp-python %s, the fixtures were made with %s"
              % (llama_cpp.__version__, LLAMA_CPP_PYTHON), file=sys.stderr)
    for path in MODELS.values():
        if not os.path.exists(path):
            fail("%s missing: run `make models` first" % path)
    u = Utf8proc()
    if os.environ.get("LLAMA_CPP_SRC"):
        check_llama_unicode(u, os.environ["LLAMA_CPP_SRC"])
    records = build_corpus(u)
    for name, path in MODELS.items():
        model = Llama(model_path=path, vocab_only=True, verbose=False)
        ids = []
        for _, x in records:
            data = x if isinstance(x, bytes) else x.encode("utf-8")
            ids.append(model.tokenize(data, add_bos=False, special=False))
        write_corpus(OUT % name, records, ids)
        print("%s: %d records, %d ids" % (OUT % name, len(records), sum(map(len, ids))),
              file=sys.stderr)
        del model


if __name__ == "__main__":
    main()
