"""Shared set-up of the Python package's tests: the routellm program the results are compared
with ($ROUTELLM_BIN, else build/routellm of the source tree) and a helper that runs it."""

import json
import os
import subprocess

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("ROUTELLM_BIN") or os.path.join(ROOT, "build", "routellm")


@pytest.fixture(scope="session")
def cli():
    """cli(*args, json_out=True): run routellm with args; its stdout parsed as JSON, or as
    text when json_out is False. A failing command fails the test with its stderr."""
    if not os.access(BIN, os.X_OK):
        pytest.skip("no routellm program at %s (run make)" % BIN)

    def run(*args, json_out=True):
        p = subprocess.run([BIN, *args], capture_output=True, text=True, timeout=300)
        assert p.returncode == 0, "routellm %s: %s" % (" ".join(args), p.stderr)
        return json.loads(p.stdout) if json_out else p.stdout

    return run
