"""RouteLLM's in-process API (routellm.controller) on libroutellm: code written for RouteLLM ports
by changing its import. The Controller routes each request in C, then calls the chosen model
through the openai client, which is imported only when a completion is asked for.

Deliberate differences from the original (docs/PYTHON.md lists them): the upstreams are
OpenAI-compatible endpoints reached with the openai client instead of LiteLLM (api_base and
api_key may map each model to its own); the routing prompt is the last user message, as
`routellm serve` takes it, rather than the last message of any role; a router's config takes
checkpoint_path (a router file) and strong/weak (the pair it scores) and nothing else.
A Controller may be shared by threads; its model_counts are updated under a lock.
"""

import re
import threading
from collections import defaultdict
from dataclasses import dataclass
from types import SimpleNamespace

from .core import Router

# The keys a router's config may hold, as `routellm serve`'s routers: section names them.
CONFIG_KEYS = ("checkpoint_path", "strong", "weak")


class RoutingError(Exception):
    """A request that cannot be routed: a bad model name, router or threshold, or no prompt."""


@dataclass
class ModelPair:
    strong: str
    weak: str


# router-<router>-<threshold>: the router's name runs to the first '-' after the prefix and the
# threshold is a plain decimal number, as `routellm serve` parses it.
_MODEL_RE = re.compile(r"router-([^-]+)-([0-9.eE+-]*[0-9][0-9.eE+-]*)")


class Controller:
    """Route requests between strong_model and weak_model with the named routers.

    routers: router names ("mf", "sw_ranking", "bert", "irt", "random", "length"), each loaded
    once; config: {router: {"checkpoint_path": FILE, "strong": M, "weak": M}}, optional, to load
    a router file under that name or score another pair of its models; api_base, api_key: the
    OpenAI-compatible endpoint and key for both models, or a dict from model name to each;
    progress_bar is accepted and has no effect (loading takes milliseconds).
    """

    def __init__(self, routers, strong_model, weak_model, config=None, api_base=None,
                 api_key=None, progress_bar=False):
        self.model_pair = ModelPair(strong=strong_model, weak=weak_model)
        self.api_base = api_base
        self.api_key = api_key
        self.progress_bar = progress_bar
        self.model_counts = defaultdict(lambda: defaultdict(int))
        self.routers = {}
        config = config or {}
        for name in routers:
            cfg = dict(config.get(name) or {})
            unknown = sorted(set(cfg) - set(CONFIG_KEYS))
            if unknown:
                raise RoutingError("config for router %s: unknown key %s (known: %s)"
                                   % (name, ", ".join(unknown), ", ".join(CONFIG_KEYS)))
            self.routers[name] = Router(cfg.get("checkpoint_path", name), cfg.get("strong"),
                                        cfg.get("weak"))
        self._lock = threading.Lock()
        self._clients = {}
        # The openai SDK's shape: controller.chat.completions.create(...).
        self.chat = SimpleNamespace(completions=SimpleNamespace(create=self.completion,
                                                                acreate=self.acompletion))

    # ------------------------------------------------------------------------
    # Routing

    def _validate_router_threshold(self, router, threshold):
        if router is None or threshold is None:
            raise RoutingError("Router or threshold unspecified.")
        if router not in self.routers:
            raise RoutingError("Invalid router %s. Available routers are %s."
                               % (router, list(self.routers)))
        if not 0 <= threshold <= 1:
            raise RoutingError("Invalid threshold %s. Threshold must be a float between 0.0 and "
                               "1.0." % threshold)

    def _parse_model_name(self, model):
        m = _MODEL_RE.fullmatch(model)
        if not m:
            raise RoutingError("Invalid model %s. Model name must be of the format "
                               "'router-[router name]-[threshold]'." % model)
        try:
            return m.group(1), float(m.group(2))
        except ValueError as e:
            raise RoutingError("Threshold %s must be a float." % m.group(2)) from e

    def _decide(self, prompt, router, threshold):
        if not prompt.strip():
            raise RoutingError("There is nothing to route: the prompt is empty.")
        _, strong, _ = self.routers[router].decide(prompt, threshold)
        return self.model_pair.strong if strong else self.model_pair.weak

    def route(self, prompt, router, threshold):
        """The model prompt goes to: strong_model when the router's p_strong >= threshold."""
        self._validate_router_threshold(router, threshold)
        return self._decide(prompt, router, threshold)

    def batch_calculate_win_rate(self, prompts, router):
        """p_strong of each prompt: a pandas Series like prompts when it is one (as the
        original returns), else a NumPy array."""
        self._validate_router_threshold(router, 0)
        scores = self.routers[router].score(list(prompts))
        if type(prompts).__name__ == "Series":
            return type(prompts)(scores, index=prompts.index)
        return scores

    @staticmethod
    def _routing_prompt(messages):
        # The last user message's text; a list of content parts gives its text parts, joined
        # by newlines (as `routellm serve` reads a request).
        for m in reversed(messages):
            if m.get("role") != "user":
                continue
            content = m.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):
                return "\n".join(p["text"] for p in content
                                 if isinstance(p, dict) and p.get("type") == "text"
                                 and isinstance(p.get("text"), str))
            return ""
        raise RoutingError("The routing prompt is the last user message, and 'messages' has "
                           "none.")

    def _routed_model(self, kwargs, router, threshold):
        if "model" in kwargs:
            router, threshold = self._parse_model_name(kwargs["model"])
        self._validate_router_threshold(router, threshold)
        model = self._decide(self._routing_prompt(kwargs["messages"]), router, threshold)
        with self._lock:
            self.model_counts[router][model] += 1
        return model

    # ------------------------------------------------------------------------
    # Completions through the openai client

    def _setting(self, value, model):
        return value.get(model) if isinstance(value, dict) else value

    def _client(self, model, asynchronous):
        key = (model, asynchronous)
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                import openai
                cls = openai.AsyncOpenAI if asynchronous else openai.OpenAI
                client = cls(base_url=self._setting(self.api_base, model),
                             api_key=self._setting(self.api_key, model))
                self._clients[key] = client
            return client

    def completion(self, *, router=None, threshold=None, **kwargs):
        """openai's chat.completions.create, routed: model="router-<router>-<threshold>" (or
        router= and threshold=) picks the model; every other argument, stream=True included,
        goes to the chosen model unchanged."""
        kwargs["model"] = self._routed_model(kwargs, router, threshold)
        return self._client(kwargs["model"], False).chat.completions.create(**kwargs)

    async def acompletion(self, *, router=None, threshold=None, **kwargs):
        """completion through openai.AsyncOpenAI."""
        kwargs["model"] = self._routed_model(kwargs, router, threshold)
        return await self._client(kwargs["model"], True).chat.completions.create(**kwargs)
