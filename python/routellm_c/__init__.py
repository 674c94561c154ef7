"""routellm_c: RouteLLM-style LLM routing from Python, computed by libroutellm (the C library,
bundled with the package and called through ctypes).

    from routellm_c import Controller          # RouteLLM's in-process API
    from routellm_c import embed, score, calibrate, evaluate, Router, Encoder

docs/PYTHON.md has the reference and the guide for moving from RouteLLM.
"""

from ._lib import Error
from .controller import Controller, ModelPair, RoutingError
from .core import (Encoder, Router, calibrate, embed, encoder, evaluate, home, router_names,
                   score, version)

__version__ = version()

__all__ = ["Controller", "ModelPair", "RoutingError", "Error", "Encoder", "Router", "embed",
           "encoder", "score", "calibrate", "evaluate", "home", "router_names", "version"]
