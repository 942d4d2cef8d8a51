"""Regression and multi-label tasks through the CLI with your own arrays (``--dataset npz --task ...``):
the task reaches the data source (its checks and its split), training reports the task's metrics
against independent oracles (scikit-learn on onnxruntime's outputs of the written model, a split and
normalisation done by hand), bad targets are one line with exit 2, and a search runs on such data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_digits as sk_digits
from sklearn.metrics import average_precision_score, mean_squared_error
from sklearn.model_selection import train_test_split

from alphanas import zoo
from alphanas.ir import save_onnx
from alphanas.ir.runtime import session
from tests.cli.test_byod import TRAIN, _refused, _run

#: a fast training setting shared by the CLI and the Python API runs
FAST = ["--optimizer", "adam", "--lr", "0.01", "--batch-size", "64", "--seed", "0"]


def _digits():
    d = sk_digits()
    return d.images.astype(np.float32)[:, None], d.target


def regression_targets(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Two targets per image: the class index / 9 and the mean raw intensity."""
    return np.stack([y / 9.0, x.mean(axis=(1, 2, 3))], 1).astype(np.float32)


def multilabel_targets(y: np.ndarray) -> np.ndarray:
    """Three 0/1 labels per image: even, > 4, a loop (0, 6, 8, 9)."""
    return np.stack([y % 2 == 0, y > 4, np.isin(y, (0, 6, 8, 9))], 1).astype(np.float32)


@pytest.fixture(scope="module")
def arrays(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tasks")
    x, y = _digits()
    np.savez(root / "reg.npz", x_train=x, y_train=regression_targets(x, y))
    np.savez(root / "ml.npz", x_train=x, y_train=multilabel_targets(y).astype(np.uint8))
    return {"reg": root / "reg.npz", "ml": root / "ml.npz"}


def _onnx_outputs(path: Path, x: np.ndarray) -> np.ndarray:
    sess = session(path.read_bytes(), "cpu")
    return sess.run(None, {sess.get_inputs()[0].name: x})[0]


def test_npz_regression_train_equals_the_python_api_on_the_same_split(arrays, tmp_path, capsys):
    out = tmp_path / "reg.onnx"
    rc, rep, err = _run(capsys, [*TRAIN, "--zoo", "cnn", "--dataset", "npz", "--data-dir", str(arrays["reg"]),
                                 "--task", "regression", *FAST, "-o", str(out)])
    assert rc == 0, err
    assert rep["task"] == "regression" and set(rep["metrics"]) == {"val_mse", "val_mae", "test_mse", "test_mae"}
    assert rep["classes"] is None  # regression has no class list
    # the same data by hand: a seeded random (unstratified) split as documented, normalised with training statistics
    from alphanas.data import Dataset
    from alphanas.train import train

    x, y = _digits()
    t = regression_targets(x, y)
    rest, te = (np.sort(a) for a in train_test_split(np.arange(len(x)), test_size=0.15, random_state=0))
    tr, va = (rest[np.sort(a)] for a in train_test_split(np.arange(len(rest)), test_size=0.15 / 0.85, random_state=1))
    mean, std = x[tr].mean(dtype=np.float64), x[tr].std(dtype=np.float64)
    norm = [((x[i] - np.float32(mean)) / np.float32(std)).astype(np.float32) for i in (tr, va, te)]
    ds = Dataset("npz", norm[0], t[tr], norm[1], t[va], norm[2], t[te], 0, np.float32([mean]), np.float32([std]),
                 task="regression")
    graph = zoo.build("cnn", input_size=8, in_channels=1, num_classes=2, seed=0)
    api = train(graph, ds, 1, task="regression", optimizer="adam", lr=0.01, batch_size=64, seed=0, device="cpu")
    assert rep["metrics"]["val_mse"] == pytest.approx(api.val_metrics["mse"], rel=1e-4)
    assert rep["metrics"]["test_mae"] == pytest.approx(api.test_metrics["mae"], rel=1e-4)
    # and the written model's outputs give that validation MSE (scikit-learn on onnxruntime's outputs)
    assert rep["metrics"]["val_mse"] == pytest.approx(mean_squared_error(t[va], _onnx_outputs(out, norm[1])), rel=1e-4)


def test_npz_multilabel_train_reports_map(arrays, tmp_path, capsys):
    from alphanas.data import load_dataset

    out = tmp_path / "ml.onnx"
    rc, rep, err = _run(capsys, [*TRAIN, "--zoo", "cnn", "--dataset", "npz", "--data-dir", str(arrays["ml"]),
                                 "--task", "multilabel", *FAST, "-o", str(out)])
    assert rc == 0, err
    assert rep["task"] == "multilabel" and "3 labels" in rep["dataset"]
    ds = load_dataset("npz", root=arrays["ml"], task="multilabel")
    assert ds.num_classes == 3 and ds.y_val.dtype == np.float32
    ap = average_precision_score(ds.y_val, _onnx_outputs(out, ds.x_val), average="macro")
    assert rep["metrics"]["val_map"] == pytest.approx(ap, abs=1e-6) and rep["val_acc"] == rep["metrics"]["val_map"]
    assert rep["metrics"]["val_map"] > 0.6  # chance is the positive rate, about 0.5


@pytest.fixture
def bad(tmp_path) -> Path:
    d = tmp_path / "data"
    d.mkdir()
    return d


def _npz(bad: Path, **arrays) -> list[str]:
    np.savez(bad / "d.npz", **arrays)
    return ["--dataset", "npz", "--data-dir", str(bad / "d.npz")]


def test_bad_targets_are_one_line_and_write_nothing(bad, tmp_path, capsys):
    x = np.random.default_rng(0).standard_normal((60, 1, 8, 8)).astype(np.float32)
    t = np.ones((60, 2), np.float32)
    t[7, 1] = np.nan
    reg = ["--task", "regression"]
    _refused(capsys, tmp_path, [*_npz(bad, x_train=x, y_train=t), *reg], "npz: y_train[7] holds NaN values")
    _refused(capsys, tmp_path, [*_npz(bad, x_train=x, y_train=t), *reg], "npz: y_train[7] holds NaN values",
             command="search")
    t[7, 1] = np.inf
    _refused(capsys, tmp_path, [*_npz(bad, x_train=x, y_train=t), *reg], "y_train[7] holds infinite values")
    m = np.zeros((60, 3), np.float32)
    m[4, 2] = 0.5
    _refused(capsys, tmp_path, [*_npz(bad, x_train=x, y_train=m), "--task", "multilabel"],
             "y_train[4] holds 0.5; multilabel targets must be 0 or 1")
    _refused(capsys, tmp_path, [*_npz(bad, x_train=x, y_train=np.arange(60) % 3), "--task", "multilabel"],
             "multilabel targets must be 0/1 per label, shape [N, labels]")
    # a model whose output does not have the targets' shape: the dimension and what to give
    model = bad / "two.onnx"
    save_onnx(zoo.build("cnn", input_size=8, in_channels=1, num_classes=2), model)
    _refused(capsys, tmp_path, [str(model), *_npz(bad, x_train=x, y_train=np.zeros((60, 3), np.float32)), *reg],
             "dimension 1 is 2 in the model and 3 in the data")
    _refused(capsys, tmp_path, [str(model), *_npz(bad, x_train=x, y_train=np.zeros((60, 2, 4), np.float32)), *reg],
             "has regression targets of rank 3 [N, 2, 4]")
    _refused(capsys, tmp_path, [str(model), *_npz(bad, x_train=x, y_train=np.zeros((60, 2, 4), np.float32)), *reg],
             "has regression targets of rank 3 [N, 2, 4]", command="search")
    # zoo models predict [N, width]: targets of higher rank need a model file
    _refused(capsys, tmp_path, [*_npz(bad, x_train=x, y_train=np.zeros((60, 2, 4), np.float32)), *reg],
             "zoo models predict [N, width]; pass a model file")


def test_image_folders_are_classification_only(bad, tmp_path, capsys):
    _refused(capsys, tmp_path, ["--dataset", "imagefolder", "--data-dir", str(bad), "--task", "regression"],
             "dataset 'imagefolder' holds one folder per class, for classification only; for --task regression give "
             "the targets as arrays (--dataset npz)")


def test_objectives_the_task_does_not_report_are_refused_up_front(arrays, tmp_path, capsys):
    reg = ["--dataset", "npz", "--data-dir", str(arrays["reg"]), "--task", "regression"]
    _refused(capsys, tmp_path, [*reg, "--objectives", "accuracy,params"],
             "task regression reports no val_acc; it reports flops, latency_ms, params, test_mae, test_mse, val_mae, "
             "val_mse", command="search")
    _refused(capsys, tmp_path, [*reg, "--objectives", "val_map,params"], "task regression reports no val_map",
             command="search")


def test_five_trial_search_on_npz_regression(arrays, tmp_path, capsys):
    out = tmp_path / "s"
    rc, rep, err = _run(capsys, ["search", "--zoo", "cnn", "--dataset", "npz", "--data-dir", str(arrays["reg"]),
                                 "--task", "regression", "--trials", "5", "--epochs", "1", "--lr", "0.003",
                                 "--strategy", "random_edit", "--device", "cpu", "--out", str(out), "--json"])
    assert rc == 0, err
    assert rep["counts"].get("done", 0) >= 4 and rep["evaluations"] == 5
    assert all({"val_mse", "val_mae", "test_mse", "test_mae"} <= set(c["metrics"]) for c in rep["front"])
    assert "objectives val_mse:min, params" in (out / "report.md").read_text()
    # the front is best-first on val_mse (the default objective of regression, minimised)
    mses = [c["metrics"]["val_mse"] for c in rep["front"]]
    assert mses == sorted(mses)
    assert not (out / "classes.txt").exists()

