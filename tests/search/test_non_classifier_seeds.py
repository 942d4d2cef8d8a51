"""Search from models that are not classifiers (issue 12): a transformer encoder ([N, T, D] -> [N, T, D]),
an LSTM and a GRU ([N, T, 4] -> [N, T, 3]), a detection head ([N, 3, H, W] -> [N, boxes, 8]), a U-Net
with ConvTranspose ([N, 2, H, W] -> [N, 1, H, W]) and masked attention (inputs x [N, T, D] and a boolean
mask [N, T]), exported from PyTorch (tests/models/exported.py), seed a 3-trial ``--task regression``
search on an ``.npz`` whose x fits the model's input(s) and y its output (the model's own outputs on x,
plus noise). The models' symbolic sizes (sequence length, height, width) are bound to the data's; nothing
assumes logits [N, classes] or accuracy. A model with several inputs takes one array per input, named
``x_<split>__<input>``; data with one array for it is refused in one line saying so.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from alphanas.cli import main
from alphanas.ir.runtime import session

#: model -> the sample shape of its input in the data (the export's own sizes are symbolic); a dict for a
#: model with several inputs (input name -> sample shape; a boolean mask for ``mask``)
SAMPLES: dict[str, tuple | dict[str, tuple]] = {
    "transformer": (5, 8), "detection_head": (3, 8, 8), "unet": (2, 8, 8), "lstm": (5, 4), "gru": (5, 4),
    "masked_attention": {"x": (5, 8), "mask": (5,)}}


def write_targets(path, model_path, sample: tuple | dict, n: int = 48, seed: int = 0):
    """An ``.npz`` of ``n`` random inputs of shape ``sample`` (one ``x_train__<input>`` array per input when
    ``sample`` is a dict) and, as regression targets, the model's own outputs on them (onnxruntime) with a
    little noise: a dataset that fits the model exactly."""
    rng = np.random.default_rng(seed)
    sess = session(model_path.read_bytes(), "cpu")
    if isinstance(sample, dict):
        feeds = {}
        for name, shape in sample.items():
            if name == "mask":
                feeds[name] = rng.random((n, *shape)) < 0.7
                feeds[name][:, 0] = True  # every query attends to at least one key
            else:
                feeds[name] = rng.standard_normal((n, *shape)).astype(np.float32)
        arrays = {f"x_train__{k}": v for k, v in feeds.items()}
    else:
        feeds = {sess.get_inputs()[0].name: rng.standard_normal((n, *sample)).astype(np.float32)}
        arrays = {"x_train": next(iter(feeds.values()))}
    y = sess.run(None, feeds)[0]
    np.savez(path, y_train=(y + 0.05 * rng.standard_normal(y.shape)).astype(np.float32), **arrays)
    return y.shape


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_three_trial_regression_search_from_the_model(name, exported_model, tmp_path, capsys):
    model = exported_model(name, "legacy")
    shape = write_targets(tmp_path / "d.npz", model, SAMPLES[name])
    assert len(shape) >= 3  # not [N, classes]
    argv = ["search", str(model), "--dataset", "npz", "--data-dir", str(tmp_path / "d.npz"), "--task", "regression",
            "--trials", "3", "--epochs", "1", "--batch-size", "16", "--lr", "0.001", "--device", "cpu",
            "--out", str(tmp_path / "s"), "--json"]
    assert main(argv) == 0, capsys.readouterr().err
    cap = capsys.readouterr()
    out = json.loads(cap.out)
    assert out["evaluations"] == 3 and out["counts"].get("done") == 3, out
    assert out["mutation_failures"] == 0
    front = out["front"]
    assert all({"val_mse", "val_mae", "test_mse"} <= set(c["metrics"]) and "val_acc" not in c["metrics"] for c in front)
    assert all(np.isfinite(c["metrics"]["val_mse"]) for c in front)
    assert "best val_mse" in cap.err  # the progress bar shows the task's metric


@pytest.mark.parametrize("arrays,message", [
    ({"x_train": np.zeros((20, 5, 8), np.float32)},
     "has 2 inputs (x, mask) but dataset 'npz' gives one input array; give one array per input, named "
     "x_<split>__<input> (x_train__x, x_train__mask), in an .npz"),
    ({"x_train__x": np.zeros((20, 5, 8), np.float32), "x_train__mask": np.ones((20, 6), bool)},
     "model 'main_graph': size 'seq' is 5 in x_train__x and 6 in x_train__mask; the inputs' data must agree on it"),
    ({"x_train__x": np.zeros((20, 5, 8), np.float32), "x_train__mask": np.ones((20, 5), np.float32)},
     "input 'mask' is bool but dataset 'npz' gives x_train__mask as float32; give boolean data for it"),
    ({"x_train__x": np.zeros((20, 5, 8), np.float32), "x_train__m": np.ones((20, 5), bool)},
     "has inputs (x, mask) but dataset 'npz' has no array x_train__mask for its input 'mask'"),
])
def test_two_input_seed_with_data_that_does_not_fit_is_refused_in_one_line(exported_model, tmp_path, capsys,
                                                                           arrays, message):
    np.savez(tmp_path / "d.npz", y_train=np.zeros((20, 5, 8), np.float32), **arrays)
    argv = ["search", str(exported_model("masked_attention", "legacy")), "--dataset", "npz", "--data-dir",
            str(tmp_path / "d.npz"), "--task", "regression", "--trials", "3", "--epochs", "1",
            "--out", str(tmp_path / "s")]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "s").exists()


def test_output_that_does_not_fit_the_targets_names_the_dimension(exported_model, tmp_path, capsys):
    model = exported_model("unet", "legacy")
    x = np.zeros((20, 2, 8, 8), np.float32)
    np.savez(tmp_path / "d.npz", x_train=x, y_train=np.zeros((20, 1, 8, 6), np.float32))
    argv = ["search", str(model), "--dataset", "npz", "--data-dir", str(tmp_path / "d.npz"), "--task", "regression",
            "--trials", "3", "--epochs", "1", "--out", str(tmp_path / "s")]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "dimension 3 is 8 in the model and 6 in the data; give targets y of shape [N, 1, 8, 8]" in err, err
    assert len(err.splitlines()) == 1


def test_grad_norm_proxy_uses_the_task_loss():
    """The grad_norm screen differentiates the task's loss: mean squared error for regression targets (it took
    float targets as class indices before)."""
    import torch

    from alphanas import zoo
    from alphanas.ir.torch_lowering import to_torch
    from alphanas.search.proxies import grad_norm

    g = zoo.build("cnn", input_size=8, in_channels=1, num_classes=2, seed=0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 1, 8, 8)).astype(np.float32)
    y = rng.standard_normal((16, 2)).astype(np.float32)
    model = to_torch(g).train()
    torch.nn.functional.mse_loss(model(torch.from_numpy(x)), torch.from_numpy(y)).backward()
    expected = sum(float(p.grad.norm()) for p in model.parameters() if p.ndim >= 2 and p.grad is not None)
    assert grad_norm(g, (x, y), task="regression") == pytest.approx(expected, rel=1e-4)


def _train_regression(exported_model, name: str, tmp_path, capsys, *, epochs: int, lr: float):
    """``alphanas train`` of the legacy export of ``name`` on ``.npz`` regression targets of its own outputs:
    the ``--json`` report, the dataset as ``train`` split it, and an onnxruntime session of the written model."""
    from alphanas.data import load_dataset

    model = exported_model(name, "legacy")
    write_targets(tmp_path / "d.npz", model, SAMPLES[name])
    out = tmp_path / "trained.onnx"
    assert main(["train", str(model), "--dataset", "npz", "--data-dir", str(tmp_path / "d.npz"), "--task",
                 "regression", "--epochs", str(epochs), "--optimizer", "adam", "--lr", str(lr), "--device", "cpu",
                 "--json", "-o", str(out)]) == 0
    rep = json.loads(capsys.readouterr().out)
    return rep, load_dataset("npz", root=tmp_path / "d.npz", task="regression"), session(out.read_bytes(), "cpu")


def _assert_val_mse_of(rep: dict, ds, pred: np.ndarray, sample_shape: tuple[int, ...]) -> None:
    """The reported validation MSE is scikit-learn's on ``pred`` (the written model's validation outputs)."""
    from sklearn.metrics import mean_squared_error

    assert pred.shape == ds.y_val.shape == (len(ds.y_val), *sample_shape)
    assert rep["metrics"]["val_mse"] == pytest.approx(mean_squared_error(ds.y_val.reshape(len(pred), -1),
                                                                         pred.reshape(len(pred), -1)), rel=1e-4)


def test_train_binds_the_sizes_and_reports_the_mse_of_the_written_model(exported_model, tmp_path, capsys):
    """``alphanas train`` on the detection head (a Resize over its symbolic height and width): the sizes are the
    data's, it lowers and trains, and the validation MSE is scikit-learn's on onnxruntime's outputs."""
    rep, ds, sess = _train_regression(exported_model, "detection_head", tmp_path, capsys, epochs=1, lr=0.001)
    pred = sess.run(None, {sess.get_inputs()[0].name: ds.x_val})[0]
    _assert_val_mse_of(rep, ds, pred, (128, 8))


def test_train_feeds_each_input_by_name(exported_model, tmp_path, capsys):
    """``alphanas train`` on masked attention with ``x_train__x`` and a boolean ``x_train__mask``: each array
    goes to the graph input of its name (the mask as it is, x standardised), and the validation MSE is
    scikit-learn's on onnxruntime's outputs of the written model fed the validation arrays by name."""
    rep, ds, sess = _train_regression(exported_model, "masked_attention", tmp_path, capsys, epochs=2, lr=0.01)
    assert ds.x_val["mask"].dtype == np.bool_ and not ds.x_val["mask"].all()
    (pred,) = sess.run(None, ds.x_val)
    _assert_val_mse_of(rep, ds, pred, (5, 8))
