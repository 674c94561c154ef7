"""The C library through ctypes: finding libroutellm.so, the structures and prototypes of the
public API (include/rl/*.h) that the package calls, and C errors turned into exceptions.

Every structure here mirrors its C declaration field by field; a change to one of those headers
must be made here too (the tests compare every result with the routellm program, so a layout
that drifts shows there). Nothing here routes, scores or computes: it only declares.
"""

import ctypes
import os
from ctypes import (POINTER, c_bool, c_char_p, c_double, c_float, c_int, c_size_t, c_uint64,
                    c_void_p)

# rl/core.h: RL_ERRBUF_SIZE, and the status codes tested by name.
ERRBUF_SIZE = 256
ENOMEM, EIO, EINVAL = -1, -2, -4


class Error(Exception):
    """An error from libroutellm: the C library's message, and its status (enum rl_status)."""

    def __init__(self, message, status=EINVAL):
        super().__init__(message)
        self.status = status


# ----------------------------------------------------------------------------
# Finding the library: $ROUTELLM_LIB when set (that one alone), else the copy bundled in the
# package at install time, else the system's (a `make install`), by its soname.

def _load():
    chosen = os.environ.get("ROUTELLM_LIB")
    if chosen:
        try:
            return ctypes.CDLL(chosen)
        except OSError as e:
            raise ImportError("routellm_c: ROUTELLM_LIB=%s: %s" % (chosen, e)) from e
    here = os.path.dirname(os.path.abspath(__file__))
    tried = []
    for path in (os.path.join(here, "libroutellm.so"), "libroutellm.so.0"):
        try:
            return ctypes.CDLL(path)
        except OSError as e:
            tried.append(str(e))
    raise ImportError("routellm_c: libroutellm.so not found (%s); reinstall the package from "
                      "the source tree (pip install ./python) or set ROUTELLM_LIB"
                      % "; ".join(tried))


lib = _load()

# ----------------------------------------------------------------------------
# Structures (rl/router.h, rl/texts.h, rl/eval.h)


class RouterPair(ctypes.Structure):
    _fields_ = [("strong", c_int), ("weak", c_int)]


class Prompt(ctypes.Structure):
    _fields_ = [("text", c_char_p), ("len", c_size_t), ("embedding", POINTER(c_float))]


class Decision(ctypes.Structure):
    _fields_ = [("p_strong", c_double), ("strong", c_bool), ("model", c_int), ("name", c_char_p)]


class Texts(ctypes.Structure):
    _fields_ = [("items", POINTER(c_char_p)), ("n", c_size_t)]


class TextsParams(ctypes.Structure):
    _fields_ = [("column", c_char_p), ("exact", c_bool)]


class Bench(ctypes.Structure):
    _fields_ = [("name", c_char_p), ("strong", c_char_p), ("weak", c_char_p),
                ("n", c_size_t), ("n_total", c_size_t), ("n_dropped", c_size_t),
                ("prompts", POINTER(c_char_p)), ("q_strong", POINTER(c_double)),
                ("q_weak", POINTER(c_double)), ("c_strong", POINTER(c_double)),
                ("c_weak", POINTER(c_double)), ("c_strong_col", c_char_p),
                ("c_weak_col", c_char_p), ("n_missing", c_size_t)]


class BenchTableParams(ctypes.Structure):
    _fields_ = [("prompt", c_char_p), ("strong", c_char_p), ("weak", c_char_p),
                ("cost_strong", c_char_p), ("cost_weak", c_char_p)]


class Prices(ctypes.Structure):
    _fields_ = [("strong", c_double), ("weak", c_double)]


class Point(ctypes.Structure):
    _fields_ = [("threshold", c_double), ("strong_pct", c_double), ("quality", c_double),
                ("pgr", c_double), ("cost", c_double), ("edge", c_int)]


class Metrics(ctypes.Structure):
    _fields_ = [("pgr_defined", c_bool), ("r_weak", c_double), ("r_strong", c_double),
                ("apgr", c_double), ("apgr_avg", c_double), ("auc", c_double),
                ("cpt20", c_double), ("cpt50", c_double), ("cpt80", c_double),
                ("cpt20_min", c_double), ("cpt50_min", c_double), ("cpt80_min", c_double),
                ("cost_strong", c_double), ("saving50", c_double), ("saving80", c_double)]


# ----------------------------------------------------------------------------
# Prototypes: (name, result type, argument types)

_PROTOTYPES = [
    ("rl_strerror", c_char_p, [c_int]),
    ("rl_version", c_char_p, []),
    ("rl_home", c_char_p, []),
    ("rl_encoder_open", c_void_p, [c_char_p, c_char_p]),
    ("rl_encoder_free", None, [c_void_p]),
    ("rl_encoder_dim", c_size_t, [c_void_p]),
    ("rl_encoder_name", c_char_p, [c_void_p]),
    ("rl_encoder_embed", c_int, [c_void_p, POINTER(c_char_p), c_size_t, POINTER(c_float),
                                 c_char_p]),
    ("rl_router_kind_count", c_size_t, []),
    ("rl_router_kind_at", c_void_p, [c_size_t]),
    ("rl_router_kind_name", c_char_p, [c_void_p]),
    ("rl_router_kind_shipped", c_bool, [c_void_p]),
    ("rl_router_kind_find", c_void_p, [c_char_p, c_char_p]),
    ("rl_router_kind", c_void_p, [c_void_p]),
    ("rl_router_load", c_void_p, [c_char_p, c_char_p, c_char_p]),
    ("rl_router_random_new", c_void_p, [c_uint64]),
    ("rl_router_free", None, [c_void_p]),
    ("rl_router_name", c_char_p, [c_void_p]),
    ("rl_router_encoder_name", c_char_p, [c_void_p]),
    ("rl_router_encoder_dim", c_size_t, [c_void_p]),
    ("rl_router_check_encoder", c_int, [c_void_p, c_void_p, c_char_p]),
    ("rl_router_meta", c_char_p, [c_void_p, c_char_p]),
    ("rl_router_n_models", c_size_t, [c_void_p]),
    ("rl_router_model", c_char_p, [c_void_p, c_size_t]),
    ("rl_router_pair", c_int, [c_void_p, c_char_p, c_char_p, POINTER(RouterPair), c_char_p]),
    ("rl_router_decide", c_int, [c_void_p, POINTER(RouterPair), POINTER(Prompt), c_double,
                                 POINTER(Decision)]),
    ("rl_texts_load", c_int, [c_char_p, POINTER(TextsParams), POINTER(Texts), c_char_p]),
    ("rl_texts_free", None, [POINTER(Texts)]),
    ("rl_calibrate_threshold", c_int, [POINTER(c_double), c_size_t, c_double,
                                       POINTER(c_double)]),
    ("rl_bench_load", POINTER(Bench), [c_char_p, c_char_p, c_char_p]),
    ("rl_bench_load_table", POINTER(Bench), [c_char_p, POINTER(BenchTableParams), c_char_p]),
    ("rl_bench_free", None, [POINTER(Bench)]),
    ("rl_bench_quality", c_double, [POINTER(Bench), c_bool]),
    ("rl_eval_score", c_int, [c_void_p, POINTER(RouterPair), c_void_p, POINTER(c_float),
                              POINTER(c_char_p), c_size_t, POINTER(c_double), c_void_p, c_void_p,
                              c_char_p]),
    ("rl_eval_curve", c_int, [POINTER(Bench), POINTER(c_double), c_int, POINTER(Prices),
                              POINTER(Point)]),
    ("rl_eval_curve_mean", None, [POINTER(Point), c_size_t, c_int, POINTER(Point)]),
    ("rl_eval_bench_metrics", c_int, [POINTER(Bench), POINTER(Point), c_size_t,
                                      POINTER(Prices), POINTER(Metrics)]),
    ("rl_eval_bootstrap_apgr", c_int, [POINTER(Bench), POINTER(c_double), c_size_t, c_int,
                                       c_int, c_uint64, POINTER(c_double), POINTER(c_double)]),
    ("rl_eval_oracle_scores", c_int, [POINTER(Bench), POINTER(c_double)]),
]

for _name, _res, _args in _PROTOTYPES:
    _fn = getattr(lib, _name)
    _fn.restype = _res
    _fn.argtypes = _args

del _name, _res, _args, _fn


# ----------------------------------------------------------------------------
# Helpers


def errbuf():
    """A fresh, zeroed error buffer for one call."""
    return ctypes.create_string_buffer(ERRBUF_SIZE)


def message(buf, status=None):
    """The C message in buf, else the text of status."""
    text = buf.value.decode("utf-8", "replace") if buf is not None else ""
    if not text and status is not None:
        text = lib.rl_strerror(status).decode()
    return text


def check(status, buf=None):
    """Raise Error with the C message when status is negative; return status otherwise."""
    if status < 0:
        raise Error(message(buf, status), status)
    return status


def encode(text, what="text"):
    """A str as the NUL-terminated UTF-8 the library reads; a NUL inside would cut it short."""
    if isinstance(text, bytes):
        raw = text
    elif isinstance(text, str):
        raw = text.encode("utf-8")
    else:
        raise TypeError("%s must be str, not %s" % (what, type(text).__name__))
    if b"\0" in raw:
        raise ValueError("%s holds a NUL character" % what)
    return raw


def text_array(texts, what="text"):
    """A ctypes char*[] of the texts (the array keeps the encoded bytes alive)."""
    raw = [encode(t, what) for t in texts]
    arr = (c_char_p * max(len(raw), 1))(*raw)
    return arr, len(raw)


def path_arg(path):
    """A str or os.PathLike as bytes for the library; None stays None."""
    return None if path is None else os.fsencode(os.fspath(path))
