"""The official openai SDK against `routellm serve` in front of two real small models.

Run by tests/e2e/run.sh, which starts the upstreams and the proxy and sets RL_E2E_BASE (the
proxy's /v1 URL) and RL_E2E_KEY (a client key the proxy accepts). The proxy offers the random
router and the shipped mf router, which embeds each prompt with the local encoder.
"""

import json
import os
import urllib.request

import openai
import pytest

BASE = os.environ["RL_E2E_BASE"]
KEY = os.environ["RL_E2E_KEY"]
MESSAGES = [
    {"role": "system", "content": "Answer in one short sentence."},
    {"role": "user", "content": "What is the capital of France?"},
]


@pytest.fixture(scope="module")
def client():
    return openai.OpenAI(base_url=BASE, api_key=KEY, max_retries=0, timeout=120)


def test_models_lists_router_aliases_and_upstreams(client):
    ids = {m.id for m in client.models.list()}
    assert "router-random-0.5" in ids
    assert {"strong", "weak"} <= ids


@pytest.mark.parametrize("threshold,model,upstream_id", [
    ("0", "strong", "gemma-3-270m"),
    ("1", "weak", "smollm2-135m"),
])
def test_chat_routes_to_the_model_the_threshold_picks(client, threshold, model, upstream_id):
    raw = client.chat.completions.with_raw_response.create(
        model=f"router-random-{threshold}", messages=MESSAGES, max_tokens=8, temperature=0)
    assert raw.headers["x-routellm-model"] == model
    assert 0.0 <= float(raw.headers["x-routellm-p-strong"]) <= 1.0
    resp = raw.parse()
    # The answer is the upstream's own: its model id, its text, its usage.
    assert upstream_id in resp.model
    assert resp.choices[0].message.content
    assert 0 < resp.usage.completion_tokens <= 8


def test_fields_pass_through_unchanged(client):
    # max_tokens and stop reach the model: the answer stops where they say.
    resp = client.chat.completions.create(
        model="weak", messages=MESSAGES, max_tokens=3, temperature=0, seed=7)
    assert resp.usage.completion_tokens <= 3
    assert resp.choices[0].finish_reason == "length"


def test_streaming_relays_chunks_and_finishes(client):
    stream = client.chat.completions.create(
        model="router-random-0", messages=MESSAGES, max_tokens=12, temperature=0, stream=True)
    chunks = list(stream)
    assert len(chunks) >= 3
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.strip()
    assert any(c.choices and c.choices[0].finish_reason for c in chunks)


@pytest.mark.parametrize("model", [
    "router-random", "router-random-1.5", "router-nosuch-0.5", "router-random-0.1-0.2",
    "no-such-model",
])
def test_bad_model_names_are_400_in_openai_shape(client, model):
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(model=model, messages=MESSAGES, max_tokens=4)
    assert err.value.status_code == 400
    assert err.value.body["message"]
    assert err.value.code in ("invalid_model", "model_not_found")


def test_wrong_key_is_401():
    bad = openai.OpenAI(base_url=BASE, api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as err:
        bad.chat.completions.create(model="weak", messages=MESSAGES, max_tokens=4)
    assert err.value.status_code == 401
    with pytest.raises(openai.AuthenticationError):
        bad.models.list()


def test_route_only_endpoint_calls_no_model():
    req = urllib.request.Request(
        BASE + "/route",
        data=json.dumps({"model": "router-random-0.5", "messages": MESSAGES}).encode(),
        headers={"Authorization": "Bearer " + KEY, "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        body = json.load(r)
    assert body["router"] == "random"
    assert body["threshold"] == 0.5
    assert body["model"] == ("strong" if body["p_strong"] >= 0.5 else "weak")


def test_learned_router_embeds_the_prompt(client):
    raw = client.chat.completions.with_raw_response.create(
        model="router-mf-0.5", messages=MESSAGES, max_tokens=4)
    p = float(raw.headers["x-routellm-p-strong"])
    assert raw.headers["x-routellm-model"] == ("strong" if p >= 0.5 else "weak")
    assert raw.parse().choices[0].message.content is not None
    # The same prompt again is served from the embedding cache and scores the same.
    again = client.chat.completions.with_raw_response.create(
        model="router-mf-0.5", messages=MESSAGES, max_tokens=4)
    assert float(again.headers["x-routellm-p-strong"]) == p
