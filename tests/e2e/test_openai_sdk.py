"""The official openai SDK against `routellm serve` in front of two real small models.

Run by tests/e2e/run.sh, which starts the upstreams and the proxy and sets RL_E2E_BASE (the
proxy's /v1 URL), RL_E2E_KEY (a client key the proxy accepts) and RL_E2E_BIN (the routellm
program, whose `embed` the proxy's embeddings are checked against). The proxy offers the random
router and the shipped mf router, which embeds each prompt with the local encoder (that encoder
also answers /v1/embeddings), and a route `smart` over both models, scored by mf.
"""

import base64
import json
import os
import struct
import subprocess
import urllib.request

import openai
import pytest

BASE = os.environ["RL_E2E_BASE"]
KEY = os.environ["RL_E2E_KEY"]
BIN = os.environ["RL_E2E_BIN"]
ENCODER = "all-MiniLM-L6-v2"
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
    assert {"strong", "weak", "smart"} <= ids


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


def route_decision(body):
    req = urllib.request.Request(
        BASE + "/route", data=json.dumps(body).encode(),
        headers={"Authorization": "Bearer " + KEY, "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.load(r)


def test_route_among_models_picks_by_its_policy(client):
    # utility with λ 0: the model of the higher predicted quality; with a huge λ: the cheaper.
    d = route_decision({"model": "smart", "messages": MESSAGES})
    assert d["route"] == "smart" and d["router"] == "mf" and d["policy"] == "utility"
    assert set(d["scores"]) == {"strong", "weak"}
    assert d["scores"]["weak"] == 0.5  # the reference model of the qualities
    best = max(d["scores"], key=lambda m: (d["scores"][m], -d["costs"][m]))
    assert d["model"] == best
    raw = client.chat.completions.with_raw_response.create(
        model="smart", messages=MESSAGES, max_tokens=4)
    assert raw.headers["x-routellm-route"] == "smart"
    assert raw.headers["x-routellm-model"] == best
    assert raw.parse().choices[0].message.content is not None
    cheap = client.chat.completions.with_raw_response.create(
        model="smart:utility-1e9", messages=MESSAGES, max_tokens=4)
    assert cheap.headers["x-routellm-model"] == "weak"
    # The policy can also come in the body, which the upstream never sees.
    cheap = client.chat.completions.with_raw_response.create(
        model="smart", messages=MESSAGES, max_tokens=4,
        extra_body={"routellm": {"policy": "cheapest", "tolerance": 1}})
    assert cheap.headers["x-routellm-model"] == "weak"


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


def test_completions_route_stream_and_pass_through(client):
    raw = client.completions.with_raw_response.create(
        model="router-random-0", prompt="The capital of France is", max_tokens=6, temperature=0)
    assert raw.headers["x-routellm-model"] == "strong"
    resp = raw.parse()
    assert "gemma-3-270m" in resp.model
    assert resp.object == "text_completion"
    assert resp.choices[0].text
    assert 0 < resp.usage.completion_tokens <= 6
    # An upstream's name passes through; max_tokens reaches it.
    resp = client.completions.create(
        model="weak", prompt=["The capital of France is"], max_tokens=2, temperature=0)
    assert "smollm2-135m" in resp.model
    assert resp.choices[0].finish_reason == "length"
    stream = client.completions.create(
        model="router-random-1", prompt="One, two, three,", max_tokens=8, temperature=0,
        stream=True)
    chunks = list(stream)
    assert len(chunks) >= 2
    assert "".join(c.choices[0].text for c in chunks if c.choices).strip()


def test_completions_refuse_a_prompt_they_cannot_route(client):
    with pytest.raises(openai.BadRequestError) as err:
        client.completions.create(model="router-random-0.5", prompt=[1, 2, 3], max_tokens=2)
    assert err.value.code == "invalid_prompt"


def cli_embedding(text):
    out = subprocess.run([BIN, "embed", text], capture_output=True, text=True, check=True,
                         timeout=120)
    return json.loads(out.stdout.splitlines()[0])["embedding"]


def test_embeddings_equal_routellm_embed(client):
    texts = ["What is the capital of France?", "Routers pick a model per prompt."]
    want = [cli_embedding(t) for t in texts]
    assert ENCODER in {m.id for m in client.models.list()}
    # The SDK's default asks for base64 and decodes it; "float" asks for numbers; an explicit
    # "base64" hands back the string, little-endian float32.
    default = client.embeddings.create(model=ENCODER, input=texts)
    floats = client.embeddings.create(model=ENCODER, input=texts, encoding_format="float")
    raw = client.embeddings.create(model=ENCODER, input=texts[1], encoding_format="base64")
    decoded = struct.unpack("<384f", base64.b64decode(raw.data[0].embedding))
    for resp in (default, floats):
        assert resp.model == ENCODER
        assert [d.index for d in resp.data] == [0, 1]
        assert resp.usage.prompt_tokens == resp.usage.total_tokens > 0
        for d, w in zip(resp.data, want):
            assert len(d.embedding) == 384
            assert max(abs(a - b) for a, b in zip(d.embedding, w)) < 1e-5
    assert max(abs(a - b) for a, b in zip(decoded, want[1])) < 1e-5


def test_embeddings_errors_are_openai_shaped(client):
    with pytest.raises(openai.NotFoundError) as err:
        client.embeddings.create(model="text-embedding-3-small", input="hi")
    assert err.value.code == "model_not_found"
    assert ENCODER in err.value.body["message"]
    with pytest.raises(openai.BadRequestError) as err:
        client.embeddings.create(model=ENCODER, input="hi", dimensions=64)
    assert err.value.code == "invalid_dimensions"
    with pytest.raises(openai.BadRequestError) as err:
        client.embeddings.create(model=ENCODER, input=[[1, 2, 3]])
    assert err.value.code == "invalid_input"
