"""The package against the routellm program: the same embeddings, scores, thresholds, decisions
and evaluation figures for the same inputs, since both come from libroutellm."""

import os

import numpy as np
import pytest

import routellm_c as rc
from conftest import ROOT

PROMPTS = [
    "What is the capital of France?",
    "Write a proof that there are infinitely many primes, then generalise it to primes of the "
    "form 4k+3.",
    "Résume ce texte en une phrase : le chat dort sur le canapé.",
]
ROUTERS = ["mf", "sw_ranking", "bert", "irt", "length"]


def test_embed_matches_the_program(cli, tmp_path):
    out = tmp_path / "emb.npy"
    cli("embed", "--out", str(out), *PROMPTS, json_out=False)
    want = np.load(out)
    got = rc.embed(PROMPTS)
    assert got.dtype == np.float32 and got.shape == want.shape == (3, 384)
    np.testing.assert_allclose(got, want, atol=1e-6, rtol=0)
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1, atol=1e-5)
    assert rc.embed(PROMPTS[0]).shape == (1, 384)


@pytest.mark.parametrize("router", ROUTERS)
def test_scores_match_route_json(cli, router):
    got = rc.score(PROMPTS, router)
    assert got.dtype == np.float64 and got.shape == (len(PROMPTS),)
    for prompt, p in zip(PROMPTS, got):
        want = cli("route", "--router", router, "--threshold", "0.5", "--json", prompt)
        assert want["router"] == router
        assert abs(p - want["p_strong"]) <= 1e-6


def test_a_router_file_scores_as_its_name(cli):
    path = os.path.join(ROOT, "routers", "mf.safetensors")
    by_file = rc.score(PROMPTS, path)
    np.testing.assert_array_equal(by_file, rc.score(PROMPTS, "mf"))
    want = cli("route", "--router", path, "--threshold", "0.5", "--json", PROMPTS[1])
    assert abs(by_file[1] - want["p_strong"]) <= 1e-6


def test_another_pair_scores_as_route_strong_weak(cli):
    r = rc.Router("mf")
    strong, weak = r.models[1], r.models[-1]
    got = rc.score(PROMPTS[:1], "mf", strong=strong, weak=weak)[0]
    want = cli("route", "--router", "mf", "--strong", strong, "--weak", weak, "--threshold",
               "0.5", "--json", PROMPTS[0])
    assert abs(got - want["p_strong"]) <= 1e-6
    assert got != pytest.approx(rc.score(PROMPTS[:1], "mf")[0], abs=1e-9)


@pytest.mark.parametrize("threshold", ["0.3", "0.7"])
def test_decide_and_controller_route_as_the_program(cli, threshold):
    c = rc.Controller(routers=["mf"], strong_model="big", weak_model="small")
    r = c.routers["mf"]
    for prompt in PROMPTS:
        want = cli("route", "--router", "mf", "--threshold", threshold, "--json", prompt)
        p, strong, name = r.decide(prompt, float(threshold))
        assert abs(p - want["p_strong"]) <= 1e-6
        assert name == want["model"]
        assert c.route(prompt, "mf", float(threshold)) == ("big" if strong else "small")
        assert strong == (name == r.strong)


def test_calibrate_matches_the_program_on_a_sample(cli, tmp_path):
    sample = tmp_path / "sample.txt"
    sample.write_text("\n".join(PROMPTS * 2 + ["Sort a list in Python.", "Tell me a joke.",
                                               "Explain TCP slow start in detail."]) + "\n")
    want = cli("calibrate", "--router", "mf", "--strong-model-pct", "0.4", "--prompts",
               str(sample), "--json", "--no-cache")
    got = rc.calibrate("mf", 0.4, prompts=str(sample))
    assert "%.5f" % got == "%.5f" % want["threshold"]
    # A list of prompts is the same sample.
    lines = sample.read_text().splitlines()
    assert rc.calibrate("mf", 0.4, prompts=lines) == got


def test_calibrate_matches_the_program_on_the_shipped_sample(cli):
    want = cli("calibrate", "--router", "length", "--strong-model-pct", "0.3", "--json")
    got = rc.calibrate("length", 0.3)
    assert "%.5f" % got == "%.5f" % want["threshold"]
    assert want["model"] == "router-length-%.5f" % got


def _close(a, b):
    if b is None:
        return a is None or np.isnan(a)
    return a == pytest.approx(b, rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("router", ["mf", "random"])
def test_evaluate_matches_eval_json(cli, router):
    want = cli("eval", "--benchmark", "mt-bench", "--routers", router, "--no-decontaminate",
               "--bootstrap", "40", "--format", "json")
    got = rc.evaluate(router, "mt-bench", bootstrap=40)
    for key in ("benchmark", "strong_model", "weak_model", "n_prompts", "n_source",
                "n_contaminated"):
        assert got[key] == want[key]
    assert _close(got["strong_quality"], want["strong_quality"])
    row = next(r for r in want["routers"] if r["name"] == router)
    assert got["iters"] == row["iters"]
    assert len(got["points"]) == len(row["points"])
    for g, w in zip(got["points"], row["points"]):
        for key in ("threshold", "strong_pct", "quality", "pgr", "cost"):
            assert _close(g[key], w[key]), key
    for key in ("apgr", "apgr_avg", "auc", "cpt20", "cpt50", "cpt80", "saving50"):
        assert _close(got["metrics"][key], row[key]), key
    assert all(_close(g, w) for g, w in zip(got["metrics"]["apgr_ci"], row["apgr_ci"]))
    assert got["scores"].shape == (got["n_prompts"],)


def test_evaluate_the_oracle_and_a_table(tmp_path):
    oracle = rc.evaluate("oracle", "mt-bench")
    assert oracle["metrics"]["apgr"] > rc.evaluate("mf", "mt-bench")["metrics"]["apgr"]
    table = tmp_path / "t.csv"
    table.write_text("prompt,a,b\n" + "".join('"%s",%d,0\n' % (p, i % 2)
                                              for i, p in enumerate(PROMPTS * 4)))
    res = rc.evaluate("length", "table:%s" % table, strong="a", weak="b")
    assert res["n_prompts"] == 12 and res["strong_model"] == "a"


def test_errors_carry_the_c_message():
    with pytest.raises(rc.Error, match="did you mean 'sw_ranking'"):
        rc.Router("sw-ranking")
    with pytest.raises(rc.Error, match="nope.safetensors"):
        rc.score(["x"], "/nope.safetensors")
    with pytest.raises(rc.Error) as e:
        rc.score(["x"], "mf", strong="no-such-model")
    assert "no-such-model" in str(e.value)
    with pytest.raises(rc.Error, match="nonexistent-model-dir: model folder not found"):
        rc.Encoder("/nonexistent-model-dir")
    with pytest.raises(rc.Error, match="unknown benchmark|mt-bnch"):
        rc.evaluate("mf", "mt-bnch")
    with pytest.raises(ValueError, match="NUL"):
        rc.score(["a\0b"], "length")


def test_controller_parses_model_names_as_the_original():
    c = rc.Controller(routers=["length"], strong_model="big", weak_model="small")
    assert c._parse_model_name("router-length-0.25") == ("length", 0.25)
    for bad in ["gpt-4", "router-length", "router-length-x", "router--0.5"]:
        with pytest.raises(rc.RoutingError):
            c._parse_model_name(bad)
    with pytest.raises(rc.RoutingError, match="Available routers"):
        c.route("hi", "mf", 0.5)
    with pytest.raises(rc.RoutingError, match="between 0.0 and 1.0"):
        c.route("hi", "length", 1.5)
    with pytest.raises(rc.RoutingError, match="last user message"):
        c.completion(model="router-length-0.5", messages=[{"role": "system", "content": "x"}])
    with pytest.raises(rc.RoutingError, match="unknown key"):
        rc.Controller(routers=["mf"], strong_model="a", weak_model="b",
                      config={"mf": {"checkpoint": "x"}})
    rates = c.batch_calculate_win_rate(PROMPTS, "length")
    np.testing.assert_array_equal(rates, rc.score(PROMPTS, "length"))


def test_controller_config_loads_a_router_file():
    path = os.path.join(ROOT, "routers", "bert.safetensors")
    c = rc.Controller(routers=["mine"], strong_model="big", weak_model="small",
                      config={"mine": {"checkpoint_path": path}})
    p = rc.score(PROMPTS[:1], "bert")[0]
    assert c.route(PROMPTS[0], "mine", p) == "big"
    assert c.route(PROMPTS[0], "mine", min(1.0, p + 1e-6)) == "small"
