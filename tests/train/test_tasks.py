"""Tasks: metrics against independent oracles (scikit-learn, numpy on the model's own outputs), training
of multi-label and regression models, objective and constraint parsing over task and plug-in metrics."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from sklearn.metrics import average_precision_score, mean_absolute_error, mean_squared_error

from alphanas.data import load_dataset
from alphanas.errors import AlphanasError
from alphanas.search.objectives import Constraints, metric_keys, parse_constraint, parse_objectives, senses
from alphanas.train import predict, train
from alphanas.train.tasks import average_precision, get_task, metric_sense
from tests.train.test_training import tiny


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", seed=0)


def test_average_precision_matches_sklearn():
    rng = np.random.default_rng(0)
    y = (rng.random((300, 5)) < 0.3).astype(np.float32)
    s = y + rng.normal(0, 0.8, y.shape)
    s[:, 2] = np.round(s[:, 2])  # ties
    assert average_precision(s, y) == pytest.approx(average_precision_score(y, s, average="macro"), abs=1e-12)


def test_classification_metrics_by_hand():
    out = torch.tensor([[0.1, 0.9, 0.0, 0.0, 0.0, 0.0], [0.9, 0.1, 0.5, 0.4, 0.3, 0.2], [0.0, 0.1, 0.2, 0.3, 0.4, 0.5]])
    y = torch.tensor([1, 5, 0])  # top-1: right, wrong, wrong; top-5: right, right (5th), wrong (the smallest)
    m = get_task("classification").evaluate(out, y)
    assert m == {"acc": 1 / 3, "top5": 2 / 3}


def _multilabel(ds):
    """Digits with three labels per image: even, > 4, a loop (0, 6, 8, 9)."""
    def lab(y):
        return np.stack([y % 2 == 0, y > 4, np.isin(y, (0, 6, 8, 9))], 1).astype(np.float32)
    return dataclasses.replace(ds, y_train=lab(ds.y_train), y_val=lab(ds.y_val), y_test=lab(ds.y_test), num_classes=3)


def _regression(ds):
    """Digits with two targets: the class index / 9 and the mean raw intensity (a function of the pixels)."""
    def tgt(x, y):
        return np.stack([y / 9.0, x.mean(axis=(1, 2, 3))], 1).astype(np.float32)
    return dataclasses.replace(ds, y_train=tgt(ds.x_train, ds.y_train), y_val=tgt(ds.x_val, ds.y_val),
                               y_test=tgt(ds.x_test, ds.y_test))


def test_multilabel_training_reports_map_of_its_outputs(digits):
    ds = _multilabel(digits)
    r = train(tiny(classes=3), ds, 3, task="multilabel", optimizer="adam", lr=0.01, seed=0, device="cpu")
    assert r.task == "multilabel" and set(r.val_metrics) == {"map", "bce"}
    logits = predict(r.graph, ds.x_val, device="cpu")
    assert r.val_metrics["map"] == pytest.approx(average_precision_score(ds.y_val, logits, average="macro"), abs=1e-6)
    assert r.val_metrics["map"] > 0.8 and r.val_acc == r.val_metrics["map"]
    bce = torch.nn.functional.binary_cross_entropy_with_logits(torch.tensor(logits), torch.tensor(ds.y_val))
    assert r.val_metrics["bce"] == pytest.approx(float(bce), rel=1e-5)


def test_regression_training_reports_mse_mae_of_its_outputs(digits):
    ds = _regression(digits)
    r = train(tiny(classes=2), ds, 3, task="regression", optimizer="adam", lr=0.01, seed=0, device="cpu")
    pred = predict(r.graph, ds.x_test, device="cpu")
    assert r.test_metrics["mse"] == pytest.approx(mean_squared_error(ds.y_test, pred), rel=1e-5)
    assert r.test_metrics["mae"] == pytest.approx(mean_absolute_error(ds.y_test, pred), rel=1e-5)
    assert r.val_metrics["mse"] < float(np.var(ds.y_val, axis=0).mean())  # better than predicting the mean
    assert r.metrics().keys() == {"val_mse", "val_mae", "test_mse", "test_mae"}
    # the best epoch minimises the validation MSE
    assert r.best_epoch == 1 + int(np.argmin([h.val_metrics["mse"] for h in r.history]))


def test_task_mismatches_are_one_line_errors(digits):
    with pytest.raises(AlphanasError, match="task multilabel needs 0/1 targets"):
        train(tiny(classes=10), digits, 1, task="multilabel", device="cpu")
    with pytest.raises(AlphanasError, match=r"has 2 regression targets .*training needs outputs of shape \[N, 2\]"):
        train(tiny(classes=10), _regression(digits), 1, task="regression", device="cpu")
    with pytest.raises(AlphanasError, match="unknown task 'segmentation'"):
        get_task("segmentation")
    with pytest.raises(AlphanasError, match="label smoothing applies to classification"):
        train(tiny(classes=2), _regression(digits), 1, task="regression", label_smoothing=0.1, device="cpu")


def test_objectives_name_any_metric_with_its_direction():
    objs = parse_objectives("val_mse, params, iou:max, test_top5, latency")
    assert objs == ["val_mse:min", "params", "iou:max", "test_top5:max", "latency_ms"]
    assert metric_keys(objs) == ["val_mse", "params", "iou", "test_top5", "latency_ms"]
    assert senses(objs) == {"val_mse": "min", "params": "min", "iou": "max", "test_top5": "max", "latency_ms": "min"}
    assert parse_objectives("accuracy,params") == ["accuracy", "params"]  # the built-ins as before
    assert metric_sense("val_map") == "max" and metric_sense("r2") is None
    for bad, msg in (("r2", "as NAME:max or NAME:min"), ("val_mse:max", "task metric to minimise"),
                     ("iou:up", "must be max or min"), ("params:max", "always minimised")):
        with pytest.raises(AlphanasError, match=msg):
            parse_objectives(bad)


def test_constraints_on_any_metric():
    assert parse_constraint("val_mae <= 0.5") == ("val_mae", "<=", 0.5)
    assert parse_constraint("r2>0.8") == ("r2", ">=", 0.8)
    c = Constraints(bounds=(parse_constraint("val_mae<=0.5"), parse_constraint("params<=100")))
    assert c.violation({"params": 50}) is None  # val_mae is only known after training
    assert c.violation({"params": 150}) == "params 150 > 100"
    assert c.violation({"params": 50, "val_mae": 0.7}, after_training=True) == "val_mae 0.7 > 0.5"
    assert c.violation({"params": 50}, after_training=True) == "val_mae not reported (bound <= 0.5)"
    assert c.violation({"params": 50, "val_mae": 0.2}, after_training=True) is None
    with pytest.raises(AlphanasError, match="METRIC<=VALUE"):
        parse_constraint("val_mae=0.5")


def test_search_with_a_regression_task_uses_its_metrics(tmp_path):
    from alphanas.search.report import write_report
    from alphanas.search.run import SearchConfig, run_search

    cfg = SearchConfig(zoo="cnn", dataset="synthetic", task="regression", objectives=["val_mse", "params"],
                       constraints=["val_mae<=1e6"], trials=2, epochs=1, out=str(tmp_path / "s"), device="cpu",
                       lr=1e-3, synth_budget_s=2.0)
    res = run_search(cfg)
    done = [c for c in res.candidates if c.status == "done"]
    assert done and all({"val_mse", "val_mae", "test_mse", "test_mae"} <= set(c.metrics) for c in done)
    assert all("val_acc" not in c.metrics for c in done)
    assert res.objectives == ["val_mse:min", "params"]
    rep = write_report(tmp_path / "s")
    assert rep.axes == ("params", "val_mse")
    # the report's front is best-first on val_mse (minimised)
    mses = [c.metrics["val_mse"] for c in rep.front]
    assert mses == sorted(mses)
    # searched models carry their preprocessing record
    from alphanas.ir import load_onnx
    from alphanas.train.preprocessing import read_preprocessing

    info = read_preprocessing(load_onnx(rep.models[0]))
    assert info["task"] == "regression" and info["dataset"] == "synthetic" and len(info["mean"]) == 1
