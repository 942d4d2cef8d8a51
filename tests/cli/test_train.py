"""``alphanas train``: digits accuracy, ONNX parity under onnxruntime, determinism, resnet_small, user errors."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from alphanas import zoo
from alphanas.cli import main
from alphanas.data import CIFAR10_ENV, load_dataset
from alphanas.ir import load_onnx, runtime, save_onnx
from alphanas.train import predict
from alphanas.ir.cost import graph_flops
from alphanas.ir.cost import graph_params


def _train(capsys, *args) -> tuple[int, dict | None, str]:
    rc = main(["train", *args, "--json"])
    cap = capsys.readouterr()
    return rc, (json.loads(cap.out) if rc == 0 else None), cap.err


def _exit_code(argv: list[str]) -> int:
    """``main``'s status, also when argparse rejects the options (it exits with 2)."""
    try:
        return main(argv)
    except SystemExit as e:
        return int(e.code)


def test_train_zoo_cnn_on_digits_reaches_95_percent_and_onnx_matches_torch(tmp_path, capsys):
    out = tmp_path / "cnn-digits.onnx"
    rc, rep, err = _train(capsys, "--zoo", "cnn", "--dataset", "digits", "--epochs", "6", "--device", "cpu",
                          "-o", str(out))
    assert rc == 0, err
    assert rep["test_acc"] >= 0.95, rep
    assert rep["stopped"] == "completed" and rep["epochs_completed"] == 6 and not rep["diverged"]
    assert out.exists() and not (tmp_path / "cnn-digits.onnx.ckpt").exists()  # default checkpoint cleaned up
    ds = load_dataset("digits", seed=0)
    graph = load_onnx(out)
    assert rep["params"] == graph_params(graph) and rep["flops"] == graph_flops(graph)
    (ort_logits,) = runtime.session(out, "cpu").run(None, {graph.inputs[0].name: ds.x_test})
    torch_logits = predict(graph, ds.x_test, device="cpu")
    assert np.array_equal(ort_logits.argmax(1), torch_logits.argmax(1))
    assert np.abs(ort_logits - torch_logits).max() < 1e-4
    # the accuracy the training loop reported is the written model's accuracy under onnxruntime
    assert rep["test_acc"] == pytest.approx(float((ort_logits.argmax(1) == ds.y_test).mean()))


def test_same_seed_same_accuracy_and_output_protection(tmp_path, capsys):
    args = ["--zoo", "cnn", "--dataset", "digits", "--epochs", "2", "--seed", "3", "--device", "cpu"]
    rc_a, a, err = _train(capsys, *args, "-o", str(tmp_path / "a.onnx"))
    assert rc_a == 0, err
    rc_b, b, err = _train(capsys, *args, "-o", str(tmp_path / "b.onnx"))
    assert rc_b == 0, err
    assert a["test_acc"] == b["test_acc"] and a["val_acc"] == b["val_acc"]
    assert [h["train_loss"] for h in a["history"]] == [h["train_loss"] for h in b["history"]]
    before = (tmp_path / "a.onnx").read_bytes()
    rc, _, err = _train(capsys, *args, "-o", str(tmp_path / "a.onnx"))
    assert rc == 2 and "already exists" in err and "--force" in err
    assert (tmp_path / "a.onnx").read_bytes() == before
    rc, _, err = _train(capsys, str(tmp_path / "a.onnx"), "--dataset", "digits", "--epochs", "1",
                        "-o", str(tmp_path / "a.onnx"), "--force")
    assert rc == 2 and "overwrite the input" in err
    assert (tmp_path / "a.onnx").read_bytes() == before


def test_train_resnet_small_on_digits(tmp_path, capsys):
    if "resnet_small" not in zoo.names():
        pytest.skip("zoo model resnet_small is not registered")
    out = tmp_path / "rs.onnx"
    rc, rep, err = _train(capsys, "--zoo", "resnet_small", "--dataset", "digits", "--epochs", "2", "--device", "cpu",
                          "-o", str(out))
    assert rc == 0, err
    assert rep["test_acc"] > 0.5, rep  # chance is 0.1
    graph = load_onnx(out)
    ds = load_dataset("digits", seed=0)
    (ort_logits,) = runtime.session(out, "cpu").run(None, {graph.inputs[0].name: ds.x_test})
    assert np.abs(ort_logits - predict(graph, ds.x_test, device="cpu")).max() < 1e-4


def test_train_onnx_file_input(tmp_path, capsys):
    src = tmp_path / "seed.onnx"
    save_onnx(zoo.build("cnn", input_size=8, in_channels=1, num_classes=4, width=8), src)
    rc, rep, err = _train(capsys, str(src), "--dataset", "synthetic", "--epochs", "1", "-o", str(tmp_path / "t.onnx"))
    assert rc == 0, err
    assert rep["model"] == str(src) and 0.0 <= rep["test_acc"] <= 1.0


@pytest.mark.parametrize("args, message", [
    (["--zoo", "cnn", "--dataset", "cifar10", "--data-dir", "/nonexistent/cifar"],
     "cifar10: data folder '/nonexistent/cifar' does not exist"),
    (["--zoo", "cnn", "--dataset", "imagenet"], "unknown dataset 'imagenet'"),
    (["--dataset", "digits"], "give either a model file or --zoo NAME"),
    (["--zoo", "nosuchnet", "--dataset", "digits"], "unknown zoo model 'nosuchnet'"),
    (["--zoo", "cnn", "--dataset", "digits", "--optimizer", "lion"], "invalid choice"),
])
def test_bad_input_exits_2_with_one_line(tmp_path, capsys, args, message):
    rc = _exit_code(["train", *args, "--epochs", "1", "-o", str(tmp_path / "x.onnx")])
    err = capsys.readouterr().err
    assert rc == 2
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "x.onnx").exists()


def test_mismatched_model_input_shape(tmp_path, capsys):
    src = tmp_path / "cifar-cnn.onnx"
    save_onnx(zoo.build("cnn", input_size=32, in_channels=3, num_classes=10, width=8), src)
    rc = main(["train", str(src), "--dataset", "digits", "--epochs", "1", "-o", str(tmp_path / "x.onnx")])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1
    assert "expects input" in err and "[N, 3, 32, 32]" not in err and "3, 32, 32]" in err and "[N, 1, 8, 8]" in err


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message for a machine without a GPU")
def test_cuda_requested_without_gpu(tmp_path, capsys):
    rc = main(["train", "--zoo", "cnn", "--dataset", "digits", "--epochs", "1", "--device", "cuda",
               "-o", str(tmp_path / "x.onnx")])
    err = capsys.readouterr().err
    assert rc == 2 and "no CUDA GPU" in err and err.count("\n") == 1


def test_real_command_exit_status(tmp_path):
    p = subprocess.run([sys.executable, "-m", "alphanas.cli", "train", "--zoo", "cnn", "--dataset", "cifar10",
                        "--data-dir", str(tmp_path / "none"), "--epochs", "1", "-o", str(tmp_path / "x.onnx")],
                       capture_output=True, text=True)
    assert p.returncode == 2
    assert p.stderr.startswith("alphanas: error: cifar10: data folder") and p.stderr.count("\n") == 1


def test_errors_about_library_parameters_name_the_command_line_flags(tmp_path, capsys, monkeypatch):
    """The library names its parameters (``root``, ``device``); the CLI names its flags for the same errors."""
    monkeypatch.delenv(CIFAR10_ENV, raising=False)
    out = ["-o", str(tmp_path / "m.onnx")]
    rc, _, err = _train(capsys, "--zoo", "cnn", "--dataset", "cifar10", "--epochs", "1", *out)
    assert rc == 2 and "pass --data-dir=DIR" in err and "root=" not in err
    rc, _, err = _train(capsys, "--zoo", "cnn", "--dataset", "digits", "--data-dir", str(tmp_path), "--epochs", "1", *out)
    assert rc == 2 and err.strip().endswith("drop --data-dir")
    if not torch.cuda.is_available():
        rc, _, err = _train(capsys, "--zoo", "cnn", "--dataset", "digits", "--device", "cuda", "--epochs", "1", *out)
        assert rc == 2 and "use --device cpu or --device auto" in err
    assert not (tmp_path / "m.onnx").exists()
