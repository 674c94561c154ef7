"""The library's objects and functions as Python: the encoder, routers, and embed, score,
calibrate and evaluate, each a call into libroutellm with its arguments converted. Every score,
threshold and metric is computed in C; this module converts arguments, frees what C allocated
and raises Error with the C message.

Encoders and routers are immutable after load and may be shared by threads (the C calls run
without the GIL). Names resolve as the routellm program resolves them: a shipped router by kind
name from the data home (rl_home), or a path to a router file.
"""

import ctypes
import os
import threading
import weakref

import numpy as np

from . import _lib
from ._lib import Error, lib

# The encoder folder, under the home, that the routellm program uses by default (its
# CLI_DEFAULT_MODEL_DIR), and the calibration sample of `routellm calibrate`.
DEFAULT_MODEL_DIR = "models/all-MiniLM-L6-v2"
DEFAULT_PROMPTS = "data/prompts/arena_hard.jsonl.gz"

# rl/eval.h: RL_EVAL_PRICE_STRONG and RL_EVAL_PRICE_WEAK, per million tokens.
DEFAULT_PRICES = (24.7, 0.24)


def version():
    """The library's version (rl_version), the same as `routellm --version`."""
    return lib.rl_version().decode()


def home():
    """The data home in use (rl_home): $ROUTELLM_HOME, an installed share/routellm, or the source
    tree the library was built from."""
    return os.fsdecode(lib.rl_home())


def router_names(shipped_only=True):
    """The router kinds the library knows, in registry order; by default those that ship a
    default router (the names `route --router` takes)."""
    names = []
    for i in range(lib.rl_router_kind_count()):
        k = lib.rl_router_kind_at(i)
        if not shipped_only or lib.rl_router_kind_shipped(k):
            names.append(lib.rl_router_kind_name(k).decode())
    return names


# ----------------------------------------------------------------------------
# Encoder


class Encoder:
    """The local sentence encoder (rl_encoder_open): unit-norm embeddings of texts.

    model_dir: the model folder; None means <home>/models/all-MiniLM-L6-v2.
    """

    def __init__(self, model_dir=None):
        if model_dir is None:
            model_dir = os.path.join(home(), DEFAULT_MODEL_DIR)
        err = _lib.errbuf()
        handle = lib.rl_encoder_open(_lib.path_arg(model_dir), err)
        if not handle:
            raise Error(_lib.message(err), _lib.EIO)
        self._handle = handle
        self._free = weakref.finalize(self, lib.rl_encoder_free, handle)
        self.model_dir = os.fspath(model_dir)
        self.name = lib.rl_encoder_name(handle).decode()
        self.dim = lib.rl_encoder_dim(handle)

    def close(self):
        """Free the encoder now rather than when it is collected."""
        self._free()

    def embed(self, texts):
        """Embeddings of texts (a str or a sequence of str): float32 array (n, dim)."""
        if isinstance(texts, (str, bytes)):
            texts = [texts]
        arr, n = _lib.text_array(texts)
        out = np.empty((n, self.dim), dtype=np.float32)
        err = _lib.errbuf()
        _lib.check(lib.rl_encoder_embed(self._handle, arr, n,
                                        out.ctypes.data_as(ctypes.POINTER(ctypes.c_float)), err),
                   err)
        return out


_encoders = {}
_encoders_lock = threading.Lock()


def encoder(model_dir=None):
    """The encoder of model_dir (None: the default one), opened once per process and shared."""
    key = os.path.abspath(os.path.join(home(), DEFAULT_MODEL_DIR) if model_dir is None
                          else os.fspath(model_dir))
    with _encoders_lock:
        enc = _encoders.get(key)
        if enc is None:
            enc = _encoders[key] = Encoder(key)
        return enc


def embed(texts, model_dir=None):
    """Embed texts with the local encoder: a float32 NumPy array (n, dim), one unit-norm row per
    text, as `routellm embed` writes them."""
    return encoder(model_dir).embed(texts)


# ----------------------------------------------------------------------------
# Routers


class Router:
    """A router (rl_router_load): a shipped router by kind name ("mf", "sw_ranking", "bert",
    "irt", "random", "length") or a router file's path.

    strong, weak: the pair of models to score, among the models the router knows; None takes
    the router's default pair (as `route` without --strong and --weak).
    home: the data home to find shipped routers in; None means home().
    """

    def __init__(self, name_or_path, strong=None, weak=None, home=None, model_dir=None):
        err = _lib.errbuf()
        handle = lib.rl_router_load(_lib.path_arg(name_or_path), _lib.path_arg(home), err)
        if not handle:
            raise Error(_lib.message(err), _lib.EINVAL)
        self._adopt(handle, os.fspath(name_or_path), model_dir)
        self.pair = _lib.RouterPair()
        s = None if strong is None else _lib.encode(strong, "strong")
        w = None if weak is None else _lib.encode(weak, "weak")
        _lib.check(lib.rl_router_pair(handle, s, w, ctypes.byref(self.pair), err), err)

    @classmethod
    def random(cls, seed=0):
        """A random router drawing from seed (rl_router_random_new); `Router("random")` is
        seed 0."""
        r = cls.__new__(cls)
        handle = lib.rl_router_random_new(seed)
        if not handle:
            raise MemoryError("out of memory")
        r._adopt(handle, "random", None)
        r.pair = _lib.RouterPair()
        _lib.check(lib.rl_router_pair(handle, None, None, ctypes.byref(r.pair), None))
        return r

    def _adopt(self, handle, spec, model_dir):
        self._handle = handle
        self._free = weakref.finalize(self, lib.rl_router_free, handle)
        self.spec = spec
        self.name = lib.rl_router_name(handle).decode()
        self.model_dir = model_dir

    def close(self):
        """Free the router now rather than when it is collected."""
        self._free()

    @property
    def models(self):
        """The model names the router knows, in its file's order."""
        return [lib.rl_router_model(self._handle, i).decode()
                for i in range(lib.rl_router_n_models(self._handle))]

    def _model(self, i):
        name = lib.rl_router_model(self._handle, i)
        return name.decode() if name else None

    @property
    def strong(self):
        """The strong model of the pair scored (None for names outside the router's list)."""
        return self._model(self.pair.strong)

    @property
    def weak(self):
        """The weak model of the pair scored."""
        return self._model(self.pair.weak)

    @property
    def needs_encoder(self):
        """Whether the router scores the prompt's embedding."""
        return lib.rl_router_encoder_dim(self._handle) > 0

    def meta(self, key):
        """Training provenance stored in the router file ("hyper", "metrics", "aliases",
        "source", "n_battles", ...), as the file holds it; None when absent."""
        v = lib.rl_router_meta(self._handle, _lib.encode(key, "key"))
        return v.decode() if v else None

    def _encoder(self):
        if not self.needs_encoder:
            return None
        enc = encoder(self.model_dir)
        err = _lib.errbuf()
        _lib.check(lib.rl_router_check_encoder(self._handle, enc._handle, err), err)
        return enc

    def score(self, prompts):
        """p_strong of each prompt (a str or a sequence of str): float64 array (n,)
        (rl_eval_score, embedding with the encoder when the router needs one)."""
        if isinstance(prompts, (str, bytes)):
            prompts = [prompts]
        arr, n = _lib.text_array(prompts, "prompt")
        enc = self._encoder()
        out = np.empty(n, dtype=np.float64)
        err = _lib.errbuf()
        _lib.check(lib.rl_eval_score(self._handle, ctypes.byref(self.pair),
                                     enc._handle if enc else None, None, arr, n,
                                     out.ctypes.data_as(ctypes.POINTER(ctypes.c_double)), None,
                                     None, err), err)
        return out

    def decide(self, prompt, threshold):
        """Route one prompt at threshold (rl_router_decide): (p_strong, strong, model), where
        strong is p_strong >= threshold and model the router's name of the chosen model."""
        raw = _lib.encode(prompt, "prompt")
        emb = None
        enc = self._encoder()
        if enc is not None:
            emb = enc.embed([raw])
        p = _lib.Prompt(raw, len(raw), None if emb is None else
                        emb.ctypes.data_as(ctypes.POINTER(ctypes.c_float)))
        d = _lib.Decision()
        status = lib.rl_router_decide(self._handle, ctypes.byref(self.pair), ctypes.byref(p),
                                      float(threshold), ctypes.byref(d))
        if status < 0:
            raise Error("router %s: scoring failed: %s"
                        % (self.name, lib.rl_strerror(status).decode()), status)
        return d.p_strong, bool(d.strong), d.name.decode() if d.name else None


def _router(router, strong=None, weak=None, model_dir=None):
    """router as a Router: itself when it is one (strong and weak must then be None)."""
    if isinstance(router, Router):
        if strong is not None or weak is not None:
            raise ValueError("strong and weak are chosen when a Router is made")
        return router
    return Router(router, strong, weak, model_dir=model_dir)


def score(prompts, router, strong=None, weak=None, model_dir=None):
    """p_strong of each prompt with router (a name, a router file or a Router): float64 array,
    the p_strong that `routellm route --json` prints for each."""
    return _router(router, strong, weak, model_dir).score(prompts)


# ----------------------------------------------------------------------------
# Calibration


def _load_texts(path):
    texts = _lib.Texts()
    params = _lib.TextsParams(None, True)
    err = _lib.errbuf()
    _lib.check(lib.rl_texts_load(_lib.path_arg(path), ctypes.byref(params), ctypes.byref(texts),
                                 err), err)
    try:
        return [texts.items[i] for i in range(texts.n)]
    finally:
        lib.rl_texts_free(ctypes.byref(texts))


def calibrate(router, strong_model_pct, prompts=None, strong=None, weak=None, model_dir=None):
    """The threshold that sends a share strong_model_pct (a fraction in [0, 1]) of the prompts to
    the strong model: the (1 - strong_model_pct) quantile of the router's scores over them
    (rl_calibrate_threshold), as `routellm calibrate` computes it.

    prompts: None for the shipped sample (<home>/data/prompts/arena_hard.jsonl.gz), a path to a
    prompt file (.json, .jsonl, .csv or text, read as `calibrate --prompts` reads it), or a list
    of prompts. Returns the threshold unrounded; `routellm calibrate` prints it to 5 decimals.
    """
    if prompts is None:
        prompts = os.path.join(home(), DEFAULT_PROMPTS)
    if isinstance(prompts, (str, bytes, os.PathLike)):
        where = os.fspath(prompts)
        prompts = _load_texts(prompts)
        if not prompts:
            raise Error("%s: no prompts in the sample" % os.fsdecode(where), _lib.EINVAL)
    scores = score(prompts, router, strong, weak, model_dir)
    alpha = ctypes.c_double()
    status = lib.rl_calibrate_threshold(scores.ctypes.data_as(ctypes.POINTER(ctypes.c_double)),
                                        len(scores), float(strong_model_pct),
                                        ctypes.byref(alpha))
    if status < 0:
        raise Error("calibrate: strong_model_pct must be in [0, 1] and the sample must hold "
                    "prompts (%s)" % lib.rl_strerror(status).decode(), status)
    return alpha.value


# ----------------------------------------------------------------------------
# Evaluation


def _bench(benchmark, strong, weak, prompt_column, cost_strong, cost_weak, data_dir):
    err = _lib.errbuf()
    spec = os.fspath(benchmark)
    if spec.startswith("table:") or os.path.exists(spec):
        if strong is None or weak is None:
            raise ValueError("a table benchmark needs strong= and weak=, its quality columns")
        path = spec[len("table:"):] if spec.startswith("table:") else spec
        params = _lib.BenchTableParams(*(None if v is None else _lib.encode(v, "column")
                                         for v in (prompt_column, strong, weak, cost_strong,
                                                   cost_weak)))
        b = lib.rl_bench_load_table(_lib.path_arg(path), ctypes.byref(params), err)
    else:
        if strong is not None or weak is not None:
            raise ValueError("strong= and weak= name a table's columns; the built-in benchmarks "
                             "fix the pair")
        if data_dir is None:
            data_dir = os.path.join(home(), "data/evals")
        b = lib.rl_bench_load(_lib.encode(spec, "benchmark"), _lib.path_arg(data_dir), err)
    if not b:
        raise Error(_lib.message(err), _lib.EINVAL)
    return b


def _points(pts):
    return [{"threshold": p.threshold, "strong_pct": p.strong_pct, "quality": p.quality,
             "pgr": p.pgr, "cost": p.cost} for p in pts]


def evaluate(router, benchmark="mt-bench", *, strong=None, weak=None, prompt_column=None,
             cost_strong=None, cost_weak=None, score_as=None, num_results=10, random_iters=10,
             bootstrap=0, prices=DEFAULT_PRICES, data_dir=None, model_dir=None):
    """Evaluate a router on a benchmark with RouteLLM's protocol (rl/eval.h), as
    `routellm eval --no-decontaminate --format json` does for one router.

    router: a name, a router file, a Router (scoring its own pair), or "oracle" (the ceiling). The random router averages
    random_iters seeds (0, 1, ...), as the program does.
    benchmark: "mt-bench", "mmlu", "gsm8k", or a table ("table:FILE" or a path) with strong= and
    weak= naming its quality columns (prompt_column, cost_strong, cost_weak as in
    `eval --prompt-column/--cost-strong/--cost-weak`).
    score_as: (strong, weak) models the router knows, scored in place of the benchmark's pair
    (`eval --as strong=M,weak=M`).
    bootstrap: resamples for the 95% interval of APGR (seed 0), 0 for none.

    Returns a dict with the keys of the program's JSON report: "benchmark", "strong_model",
    "weak_model", "n_prompts", "n_source", "n_contaminated", "strong_quality", "weak_quality",
    "router", "iters", "points" (a list of dicts), "metrics" (a dict; "apgr_ci" is (lo, hi) or
    None) and "scores" (float64 array, the first seed's for the random router). Metrics that are
    not defined are NaN.
    """
    if not 1 <= num_results <= 1000 or random_iters < 1 or bootstrap < 0:
        raise ValueError("num_results must be in [1, 1000], random_iters >= 1, bootstrap >= 0")
    b = _bench(benchmark, strong, weak, prompt_column, cost_strong, cost_weak, data_dir)
    try:
        return _evaluate(b, router, score_as, num_results, random_iters, bootstrap,
                         _lib.Prices(*prices), model_dir)
    finally:
        lib.rl_bench_free(b)


def _evaluate(b, router, score_as, num_results, random_iters, bootstrap, prices, model_dir):
    bench = b.contents
    n, n_pts = bench.n, num_results + 1
    prompts = [bench.prompts[i] for i in range(n)]
    err = _lib.errbuf()
    dptr = ctypes.POINTER(ctypes.c_double)
    if router == "oracle":
        runs = [np.empty(n, dtype=np.float64)]
        _lib.check(lib.rl_eval_oracle_scores(b, runs[0].ctypes.data_as(dptr)))
    elif router == "random":
        runs = [Router.random(seed).score(prompts) for seed in range(random_iters)]
    elif isinstance(router, Router):
        runs = [router.score(prompts)]
    else:
        s, w = score_as if score_as else (bench.strong, bench.weak)
        runs = [Router(router, s, w, model_dir=model_dir).score(prompts)]
    curves = (_lib.Point * (n_pts * len(runs)))()
    for i, scores in enumerate(runs):
        part = ctypes.cast(ctypes.byref(curves, i * n_pts * ctypes.sizeof(_lib.Point)),
                           ctypes.POINTER(_lib.Point))
        status = lib.rl_eval_curve(b, scores.ctypes.data_as(dptr), num_results,
                                   ctypes.byref(prices), part)
        if status < 0:
            raise Error("cannot compute the curve (no prompts, or a score is not finite)",
                        status)
    pts = (_lib.Point * n_pts)()
    lib.rl_eval_curve_mean(curves, len(runs), num_results, pts)
    m = _lib.Metrics()
    _lib.check(lib.rl_eval_bench_metrics(b, pts, n_pts, ctypes.byref(prices), ctypes.byref(m)))
    metrics = {name: getattr(m, name) for name, _ in _lib.Metrics._fields_}
    metrics["apgr_ci"] = None
    if bootstrap:
        all_scores = np.concatenate(runs)
        lo, hi = ctypes.c_double(), ctypes.c_double()
        status = lib.rl_eval_bootstrap_apgr(b, all_scores.ctypes.data_as(dptr), len(runs),
                                            num_results, bootstrap, 0, ctypes.byref(lo),
                                            ctypes.byref(hi))
        if status == _lib.ENOMEM:
            raise MemoryError("out of memory")
        if status == 0:
            metrics["apgr_ci"] = (lo.value, hi.value)
    return {
        "benchmark": bench.name.decode(),
        "strong_model": bench.strong.decode(),
        "weak_model": bench.weak.decode(),
        "n_prompts": n,
        "n_source": bench.n_total,
        "n_contaminated": bench.n_dropped,
        "strong_quality": lib.rl_bench_quality(b, True),
        "weak_quality": lib.rl_bench_quality(b, False),
        "router": router if isinstance(router, str) else getattr(router, "spec", str(router)),
        "iters": len(runs),
        "points": _points(pts),
        "metrics": metrics,
        "scores": runs[0],
    }

