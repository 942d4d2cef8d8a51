"""The accuracy estimate of the candidates near the front (alphanas.search.estimate): the fold partition,
the estimate against an independent recomputation through the public train API, determinism and
resume, the choice rule on a hand-made example, and bad option values."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from alphanas.cli import main as cli_main
from alphanas.errors import AlphanasError
from alphanas.ir import zoo
from alphanas.ir.hashing import structural_hash
from alphanas.search.candidate import Candidate
from alphanas.search.estimate import (EstimateSpec, choose, estimate, fold_dataset, fold_partition, parse_estimate,
                                      trainval)
from alphanas.search.evaluators import TrainEvaluator, inherit_weights
from alphanas.search.evolution import training_seed
from alphanas.search.store import Store

SEARCH_SEED = 3


def _evaluator(inherit: bool = True) -> TrainEvaluator:
    return TrainEvaluator("digits", epochs=1, batch_size=64, lr=0.05, inherit=inherit, device="cpu",
                          train_options={"warmup_epochs": 0.0})


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A finished two-trial search on digits, stored through the store API as the search stores it: the
    seed (cnn width 4, trial 0) and a smaller child (cnn width 2, trial 1) that inherited where shapes fit."""
    out = tmp_path_factory.mktemp("est") / "run"
    ev = _evaluator()
    seed_graph = zoo.build("cnn", input_size=8, in_channels=1, num_classes=10, seed=0, width=4)
    child_graph = zoo.build("cnn", input_size=8, in_channels=1, num_classes=10, seed=1, width=2)
    with Store(out, config={"dataset": "digits"}) as store:
        trained = None
        for trial, graph in enumerate([seed_graph, child_graph]):
            cand = Candidate(graph=None, hash=structural_hash(graph), trial=trial,
                             parent_id=None if trial == 0 else 1, mutation="seed" if trial == 0 else "property")
            store.add(cand, graph)
            res = ev.run(graph, seed=training_seed(SEARCH_SEED, trial), parent=trained)
            cand.metrics, cand.status = res.metrics, "done"
            store.save_model(cand.id, res.graph, trained=True)
            store.update(cand)
            trained = res.graph if trial == 0 else trained
    return out


def test_parse_estimate():
    assert parse_estimate("kfold:5") == EstimateSpec("kfold", 5) and parse_estimate("seeds:3") == EstimateSpec("seeds", 3)
    assert parse_estimate("kfold") == EstimateSpec("kfold", 5) and parse_estimate("none") is None
    assert parse_estimate(None) is None and str(parse_estimate("KFOLD:4")) == "kfold:4"
    for bad in ("kfold:1", "seeds:0", "kfold:x", "cv:5", "kfold:-2", "seeds:1000"):
        with pytest.raises(AlphanasError, match="^estimate "):
            parse_estimate(bad)


def test_fold_partition_covers_train_and_validation_once_and_never_test():
    ds = _evaluator().dataset()
    x, y = trainval(ds)
    n = len(ds.y_train) + len(ds.y_val)
    assert len(y) == n and np.array_equal(y[:len(ds.y_train)], ds.y_train) and np.array_equal(x[len(ds.y_train):], ds.x_val)
    folds = fold_partition(y, 3, seed=0)
    every = np.concatenate(folds)
    assert len(every) == n and np.array_equal(np.sort(every), np.arange(n))  # each train+val index exactly once
    for f in folds:  # stratified: each class's share differs by at most one sample per fold
        counts = np.bincount(y[f], minlength=10)
        assert np.all(np.abs(counts - np.bincount(y, minlength=10) / 3) <= 1.0)
    assert all(np.array_equal(a, b) for a, b in zip(folds, fold_partition(y, 3, seed=0)))  # seeded
    assert not all(np.array_equal(a, b) for a, b in zip(folds, fold_partition(y, 3, seed=1)))
    fd = fold_dataset(ds, x, y, folds, 1)
    # the fold's test split is the held-out fold (rows of train+val), the real test split is in no split
    assert np.array_equal(fd.x_test, x[folds[1]]) and np.array_equal(fd.y_val, y[folds[1]])
    assert len(fd.y_train) + len(fd.y_val) == n
    rows = {r.tobytes() for split in (fd.x_train, fd.x_val, fd.x_test) for r in split}
    test_only = {r.tobytes() for r in ds.x_test} - {r.tobytes() for r in x}  # (digits repeats a few images)
    assert test_only and not test_only & rows
    with pytest.raises(AlphanasError, match="fewer folds"):
        fold_partition(np.array([0, 0, 0, 1, 1]), 3, seed=0)


def test_kfold_estimate_equals_an_independent_recomputation_and_resumes(run_dir):
    from sklearn.model_selection import StratifiedKFold

    from alphanas.train import train
    from alphanas.train.inference import predict

    ev = _evaluator()
    est = estimate(run_dir, ev, parse_estimate("kfold:3"), tolerance=100.0, shortlist_size=4, search_seed=SEARCH_SEED)
    assert [r["trial"] for r in est["shortlist"]] == [1, 0]  # the smaller child first, the seed last
    # 2 candidates x 3 folds + the delivered models of the chosen one and the seed (retrained on train+val)
    assert est["trainings"] == est["trainings_this_run"] == 8 and est["train_s"] > 0
    assert est["chosen"]["trial"] == 1  # tolerance 100 points: the smallest
    # the fold trainings' indices cover train+val exactly once, per candidate
    ds = ev.dataset()
    n = len(ds.y_train) + len(ds.y_val)
    for cid in (1, 2):
        idx = np.concatenate([json.loads((run_dir / "estimate" / "kfold3_s3" / f"c{cid}_f{k}.json").read_text())["index"]
                              for k in range(3)])
        assert np.array_equal(np.sort(idx), np.arange(n))

    # independent recomputation: sklearn folds, initial weights from the store, the public train API
    x, y = np.concatenate([ds.x_train, ds.x_val]), np.concatenate([ds.y_train, ds.y_val])
    with Store(run_dir, create=False) as store:
        seed_trained = store.load_model(1, trained=True)
        inits = {1: store.load_model(1), 2: store.load_model(2)}
    inherit_weights(inits[2], seed_trained)
    correct = {}
    for cid, trial in ((1, 0), (2, 1)):
        c = np.zeros(n)
        for tr, held in StratifiedKFold(3, shuffle=True, random_state=SEARCH_SEED).split(x, y):
            fold = type(ds)(**{**ds.__dict__, "x_train": x[np.sort(tr)], "y_train": y[np.sort(tr)],
                               "x_val": x[held], "y_val": y[held], "x_test": x[held], "y_test": y[held]})
            r = train(inits[cid], fold, 1, batch_size=64, lr=0.05, warmup_epochs=0.0, keep="last", device="cpu",
                      seed=training_seed(SEARCH_SEED, trial))
            c[held] = predict(r.graph, x[held], device="cpu").argmax(axis=1) == y[held]
        correct[cid] = c
    row = {r["id"]: r for r in est["shortlist"]}
    assert row[2]["acc"] == pytest.approx(correct[2].mean(), abs=1e-12)
    assert row[1]["acc"] == pytest.approx(correct[1].mean(), abs=1e-12)
    d = correct[2] - correct[1]
    assert row[2]["diff"] == pytest.approx(d.mean(), abs=1e-12)
    assert row[2]["diff_se"] == pytest.approx(d.std(ddof=1) / np.sqrt(n), rel=1e-9)
    assert row[1]["acc_se"] == pytest.approx(np.sqrt(correct[1].mean() * (1 - correct[1].mean()) / n), rel=1e-9)
    assert (run_dir / "estimate" / "kfold3_s3" / "c2_full.onnx").is_file()

    # resume: a rerun trains nothing and gives the same figures; a lost fold is retrained to the same result
    again = estimate(run_dir, ev, parse_estimate("kfold:3"), tolerance=100.0, shortlist_size=4, search_seed=SEARCH_SEED)
    assert again["trainings_this_run"] == 0 and again["shortlist"] == est["shortlist"]
    (run_dir / "estimate" / "kfold3_s3" / "c2_f1.json").unlink()
    third = estimate(run_dir, ev, parse_estimate("kfold:3"), tolerance=100.0, shortlist_size=4, search_seed=SEARCH_SEED)
    assert third["trainings_this_run"] == 1 and third["shortlist"] == est["shortlist"]
    # a strict tolerance keeps the seed unless the child's estimate is at least as good
    strict = estimate(run_dir, ev, parse_estimate("kfold:3"), tolerance=0.0, shortlist_size=4, search_seed=SEARCH_SEED)
    assert strict["chosen"]["trial"] == (1 if row[2]["diff"] >= 0 else 0)


def test_seeds_estimate_retrains_on_the_normal_split(run_dir, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy, ignore=shutil.ignore_patterns("estimate"))
    est = estimate(copy, _evaluator(), parse_estimate("seeds:1"), tolerance=100.0, shortlist_size=4,
                   search_seed=SEARCH_SEED)
    assert est["trainings"] == 2 and est["samples"] == len(_evaluator().dataset().y_val)
    rec = json.loads((copy / "estimate" / "seeds1_s3" / "c2_r0.json").read_text())
    assert rec["seed"] != training_seed(SEARCH_SEED, 1)  # never the search's own training seed
    with Store(copy, create=False) as store:
        assert est["chosen"]["test_acc"] == store.get(est["chosen"]["id"]).metrics["test_acc"]


def test_choose_the_smallest_within_tolerance_by_paired_difference():
    rows = [{"id": 5, "trial": 9, "params": 100, "diff": -0.009},   # -0.9 points: out
            {"id": 4, "trial": 7, "params": 300, "diff": -0.004},   # -0.4 points: in, the smallest in
            {"id": 3, "trial": 4, "params": 300, "diff": -0.001},   # same size, better: preferred
            {"id": 2, "trial": 2, "params": 900, "diff": 0.002},
            {"id": 1, "trial": 0, "params": 1000, "diff": 0.0, "seed": True}]
    assert choose(rows, 0.5)["id"] == 3
    assert choose(rows, 1.0)["id"] == 5
    assert choose(rows, 0.0)["id"] == 2
    assert choose(rows[-1:], 0.5)["id"] == 1


def test_bad_option_values_exit_2(tmp_path, capsys):
    for argv in (["benchmark", "e2e", "--out", str(tmp_path / "a"), "--estimate", "kfold:1"],
                 ["benchmark", "e2e", "--out", str(tmp_path / "a"), "--estimate", "loo"],
                 ["benchmark", "e2e", "--out", str(tmp_path / "a"), "--estimate", "kfold:3", "--shortlist", "-1"],
                 ["search", "--out", str(tmp_path / "b"), "--estimate", "seeds:x"],
                 ["search", "--out", str(tmp_path / "b"), "--estimate", "kfold:3", "--shortlist", "-2"]):
        assert cli_main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "Traceback" not in err and ("--estimate" in err or "--shortlist" in err)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_e2e_estimate_reports_the_estimates_choice_and_resumes(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["benchmark", "e2e", "--out", str(out), "--model", "cnn", "--width", "4", "--dataset", "synthetic",
            "--trials", "3", "--epochs", "1", "--seed-epochs", "0", "--probabilities", "random_edit=1",
            "--strategy", "random_edit", "--estimate", "kfold:3", "--shortlist", "2", "--json"]
    assert cli_main(argv) == 0
    data = json.loads(capsys.readouterr().out)
    est = json.loads((out / "estimate.json").read_text())
    assert data["selected_by"] == "kfold:3" and data["by_val"]["selected_by"] == "val_acc"
    assert data["best_id"] == est["chosen"]["id"] and data["seed_test_acc"] == est["seed"]["test_acc"]
    assert est["trainings"] == est["trainings_this_run"] == 3 * len(est["shortlist"]) + len(
        {est["chosen"]["id"], est["seed"]["id"]})
    assert cli_main(argv) == 0  # resumes: the search and the estimate train nothing
    assert json.loads(capsys.readouterr().out)["estimate"]["trainings_this_run"] == 0
    # the re-derived initial weights are those the search trained from: with the search's training seed on
    # the normal split they give the stored validation accuracy again
    from alphanas.bench.e2e import build_parser
    from alphanas.search.estimate import initial_graph

    e2e = build_parser().parse_args([])  # the recipe the benchmark trained with: its defaults
    ev = TrainEvaluator("synthetic", epochs=1, batch_size=e2e.batch_size, lr=e2e.lr, inherit=True, device="cpu",
                        train_options={"warmup_epochs": e2e.warmup_epochs})
    with Store(out, create=False) as store:
        done = [c for c in store.candidates() if c.status == "done"]
        assert len(done) == 3 and all(c.metrics["inherited_frac"] > 0 for c in done[1:])
        for cand in done:
            again = ev.train(initial_graph(store, cand, inherit=True), seed=training_seed(0, cand.trial))
            assert again.val_acc == cand.metrics["val_acc"]


def test_shortlist_takes_the_smallest_near_the_seed_from_the_population_or_the_front():
    from alphanas.search.estimate import shortlist

    def cand(trial, params, val):
        return Candidate(graph=None, hash=str(trial), trial=trial, id=trial + 1, status="done",
                         metrics={"params": float(params), "val_acc": val})

    cands = [cand(0, 1000, 0.95), cand(1, 100, 0.90),   # too far below the seed
             cand(2, 200, 0.96), cand(3, 250, 0.95),    # 3 is dominated by 2 (off the front)
             cand(4, 300, 0.945), cand(5, 2000, 0.99)]  # 5 is larger than the seed
    cands.append(Candidate(graph=None, hash="f", trial=6, id=7, status="failed", metrics={}))
    # floor: 0.95 - 0.005 - 2 * sqrt(0.95 * 0.05 / 270) = 0.9185
    assert [c.trial for c in shortlist(cands, tolerance=0.5, size=6, n_val=270)] == [2, 3, 4, 0]
    assert [c.trial for c in shortlist(cands, tolerance=0.5, size=2, n_val=270)] == [2, 3, 0]
    assert [c.trial for c in shortlist(cands, tolerance=0.5, size=6, n_val=270, pool="front")] == [2, 0]
    assert [c.trial for c in shortlist(cands, tolerance=0.0, size=6, n_val=270, margin_se=0.0)] == [2, 3, 0]
    with pytest.raises(AlphanasError, match="trained seed"):
        shortlist(cands[1:], tolerance=0.5, size=6, n_val=270)


def test_search_estimate_writes_estimate_json(tmp_path, capsys):
    out = tmp_path / "s"
    assert cli_main(["search", "--zoo", "cnn", "--dataset", "synthetic", "--trials", "2", "--epochs", "1",
                     "--out", str(out), "--estimate", "kfold:3", "--shortlist", "2", "--tolerance", "100",
                     "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    est = json.loads((out / "estimate.json").read_text())
    assert data["estimate"]["chosen"]["id"] == est["chosen"]["id"] and est["method"] == "kfold:3"
    assert est["seed"]["trial"] == 0 and est["trainings"] >= 3
