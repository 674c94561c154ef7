"""Controller.chat.completions against real OpenAI-compatible upstreams: run by
tests/e2e/run.sh, which starts two llama-cpp-python servers and sets RL_PY_STRONG_BASE and
RL_PY_WEAK_BASE (their /v1 URLs) and RL_PY_STRONG and RL_PY_WEAK (their model names). Skipped
without them."""

import asyncio
import os

import pytest

import routellm_c as rc

pytest.importorskip("openai")
if not os.environ.get("RL_PY_STRONG_BASE"):
    pytest.skip("no upstreams (tests/e2e/run.sh starts them)", allow_module_level=True)

STRONG, WEAK = os.environ["RL_PY_STRONG"], os.environ["RL_PY_WEAK"]
MESSAGES = [
    {"role": "system", "content": "Answer in one short sentence."},
    {"role": "user", "content": "What is the capital of France?"},
]


@pytest.fixture(scope="module")
def controller():
    return rc.Controller(
        routers=["random", "mf"], strong_model=STRONG, weak_model=WEAK,
        api_base={STRONG: os.environ["RL_PY_STRONG_BASE"], WEAK: os.environ["RL_PY_WEAK_BASE"]},
        api_key="unused")


@pytest.mark.parametrize("model,upstream", [("router-random-0", STRONG),
                                            ("router-random-1", WEAK)])
def test_create_calls_the_model_the_threshold_picks(controller, model, upstream):
    before = controller.model_counts["random"][upstream]
    resp = controller.chat.completions.create(model=model, messages=MESSAGES, max_tokens=8,
                                              temperature=0)
    assert upstream in resp.model
    assert resp.choices[0].message.content
    assert 0 < resp.usage.completion_tokens <= 8
    assert controller.model_counts["random"][upstream] == before + 1


def test_mf_streams_from_the_model_route_picks(controller):
    prompt = MESSAGES[-1]["content"]
    p = rc.score([prompt], "mf")[0]
    for threshold, upstream in [(p, STRONG), (min(1.0, p + 1e-6), WEAK)]:
        assert controller.route(prompt, "mf", threshold) == upstream
        stream = controller.chat.completions.create(
            messages=MESSAGES, router="mf", threshold=threshold, max_tokens=8, temperature=0,
            stream=True)
        chunks = list(stream)
        assert all(upstream in c.model for c in chunks)
        assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices).strip()


def test_acreate_is_the_async_client(controller):
    resp = asyncio.run(controller.chat.completions.acreate(
        model="router-random-1", messages=MESSAGES, max_tokens=4, temperature=0))
    assert WEAK in resp.model
