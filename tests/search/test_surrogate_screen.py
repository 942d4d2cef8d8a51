"""Surrogate screening in the general search (``--strategy surrogate``): warm-up fallback, the predictor
consulted afterwards, determinism, resume (the predictor refit from the store), the cost-aware
acquisition by hand, and a real digits search through the CLI."""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

import numpy as np
import pytest

from alphanas.cli import main
from alphanas.errors import AlphanasError
from alphanas.search import mutations as M
from alphanas.search.evolution import Evolution
from alphanas.search.store import Store
from alphanas.search.surrogate import GaussianProcess, SurrogateScreen, acquire, graph_features
from tests.search.test_evolution import FakeEvaluator, tiny_seed


def _search(tmp_path, name, trials, *, seed=0, warmup=3, mutants=4):
    ev = FakeEvaluator(str(tmp_path / f"{name}.calls"))
    screen = SurrogateScreen(mutants=mutants, warmup=warmup)
    evo = Evolution(tiny_seed(), ev, Store(tmp_path / name), trials=trials, seed=seed,
                    mutator=M.Mutator("random_edit"), screen=screen)
    return evo.run()


def test_random_until_warm_up_then_the_predictor_picks_one_of_several_mutants(tmp_path):
    res = _search(tmp_path, "a", 7)
    for c in res.candidates[1:]:
        consulted = c.trial >= 3  # trials 0-2 evaluated: the predictor is fit from trial 3 on
        assert ("surrogate_pred" in c.metrics) == consulted, c.trial
        if consulted:
            assert c.timings["screened_out"] == 3  # 4 mutants, 1 trained
            assert math.isfinite(c.metrics["surrogate_pred"]) and c.metrics["surrogate_std"] >= 0
            assert c.metrics["proxy_surrogate"] == pytest.approx(c.metrics["surrogate_pred"]
                                                                  + 0.5 * c.metrics["surrogate_std"])
        else:
            assert "screened_out" not in c.timings and "proxy_surrogate" not in c.metrics


def test_same_seed_same_candidates_and_resume_refits_from_the_store(tmp_path):
    a = _search(tmp_path, "a", 7)
    b = _search(tmp_path, "b", 7)
    _search(tmp_path, "c", 4)  # interrupted after 4 trials, then resumed with a fresh screen
    c = _search(tmp_path, "c", 7)
    key = [(x.hash, x.metrics.get("surrogate_pred")) for x in a.candidates]
    assert key == [(x.hash, x.metrics.get("surrogate_pred")) for x in b.candidates]
    assert key == [(x.hash, x.metrics.get("surrogate_pred")) for x in c.candidates]
    assert [x.hash for x in _search(tmp_path, "d", 7, seed=1).candidates] != [x.hash for x in a.candidates]


def _population(graphs, accs, params):
    return [SimpleNamespace(hash=str(i), metrics={"val_acc": a, "params": p})
            for i, (a, p) in enumerate(zip(accs, params))]


def test_acquisition_is_ucb_and_with_costs_the_improvement_over_the_best_no_costlier():
    from alphanas.ir import zoo
    from alphanas.ir.cost import graph_params

    graphs = [zoo.build("resnet_small", widths=w, blocks=(1, 1, 1), num_classes=4) for w in
              [(4, 4, 4), (4, 8, 8), (8, 8, 8), (8, 16, 16), (16, 16, 16)]]
    params = [float(graph_params(g)) for g in graphs]
    accs = [0.5, 0.62, 0.7, 0.8, 0.78]
    seen, new = graphs[:4], [graphs[4], graphs[0]]
    plain = SurrogateScreen(warmup=3, kappa=1.0)
    plain.observe(_population(seen, accs[:4], params[:4]), lambda c: seen[int(c.hash)])
    # the independent computation: a GP on the same features, UCB with kappa 1
    gp = GaussianProcess().fit(np.stack([graph_features(g) for g in seen]), np.array(accs[:4]))
    mean, std = gp.predict(np.stack([graph_features(g) for g in new]))
    assert plain.scores(new) == pytest.approx(list(acquire(mean, std, 1.0)))
    assert plain.annotations(1) == {"surrogate_pred": pytest.approx(mean[1]), "surrogate_std": pytest.approx(std[1])}
    costly = SurrogateScreen(warmup=3, kappa=1.0, costs=("params",))
    costly.observe(_population(seen, accs[:4], params[:4]), lambda c: seen[int(c.hash)])
    got = costly.scores(new)
    # graphs[4] costs more than every seen one: the reference is the best accuracy seen (0.8); graphs[0]
    # costs as much as seen[0] and less than the others: its reference is 0.5
    assert got == pytest.approx([mean[0] + std[0] - 0.8, mean[1] + std[1] - 0.5])
    assert params[4] > max(params[:4]) and params[0] < min(params[1:4])


def test_before_warm_up_one_mutant_and_bad_settings_are_refused():
    s = SurrogateScreen(warmup=3, mutants=6)
    assert s.keep == 1.0 and not s.ready
    assert s.scores([tiny_seed()]) == [0.0] and s.annotations(0) == {}
    g = tiny_seed()
    s.observe(_population([g] * 3, [0.1, 0.2, math.nan], [1.0] * 3), lambda c: g)  # the NaN is not learnt
    assert not s.ready
    s.observe(_population([g] * 3, [0.1, 0.2, 0.3], [1.0] * 3), lambda c: g)
    assert s.ready and s.keep == pytest.approx(1 / 6)
    for kw in ({"mutants": 1}, {"warmup": 2}, {"sense": "up"}):
        with pytest.raises(AlphanasError):
            SurrogateScreen(**kw)


def test_cli_surrogate_with_a_proxy_or_without_a_trained_objective_exits_2(tmp_path, capsys):
    base = ["search", "--strategy", "surrogate", "--dataset", "digits", "--trials", "2", "--epochs", "1"]
    assert main([*base, "--proxy", "synflow", "--out", str(tmp_path / "a")]) == 2
    err = capsys.readouterr().err.strip()
    assert "--proxy" in err and "--strategy surrogate" in err and len(err.splitlines()) == 1
    assert main([*base, "--objectives", "params,flops", "--out", str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err.strip()
    assert "--objectives" in err and "trained metric" in err and len(err.splitlines()) == 1


@pytest.mark.slow
def test_cli_surrogate_search_on_digits_consults_the_predictor_and_repeats(tmp_path, capsys):
    """An 8-trial surrogate search on digits (1 epoch): the predictor ranks the mutants once a trial sees
    4 evaluated candidates (with the default pipelined generations of 2 that is trial 4 or later), and the
    same seed gives the same candidates."""
    runs = []
    for name in ("a", "b"):
        argv = ["search", "--strategy", "surrogate", "--dataset", "digits", "--trials", "8", "--epochs", "1",
                "--out", str(tmp_path / name), "--json"]
        assert main(argv) == 0
        assert json.loads(capsys.readouterr().out)["evaluations"] == 8
        with Store(tmp_path / name, create=False) as st:
            runs.append(st.candidates())
    a, b = runs
    assert [c.status for c in a] == ["done"] * 8
    assert [c.hash for c in a] == [c.hash for c in b]
    assert [c.metrics.get("val_acc") for c in a] == [c.metrics.get("val_acc") for c in b]
    consulted = [c for c in a if "surrogate_pred" in c.metrics]
    assert consulted and all(c.trial >= 4 for c in consulted)
    assert consulted == [c for c in a if c.trial >= consulted[0].trial]  # from then on, every trial
    assert all(c.timings["screened_out"] >= 1 for c in consulted)
    assert all(0.0 <= c.metrics["surrogate_pred"] <= 1.5 for c in consulted)
