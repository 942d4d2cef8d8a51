"""Models carry their preprocessing: the metadata record survives ONNX, ``inspect`` shows it, and the
embedded normalisation on raw input gives what the original model gives on normalised input (onnxruntime)."""

from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from alphanas.cli import main
from alphanas.data import load_dataset
from alphanas.ir import load_onnx, save_onnx
from alphanas.train.preprocessing import METADATA_KEY, attach_preprocessing, read_preprocessing
from tests.train.test_training import tiny


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", seed=0)


def _ort(path, x):
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return sess.run(None, {sess.get_inputs()[0].name: x})[0]


def test_metadata_round_trips_through_onnx(digits, tmp_path):
    g = attach_preprocessing(tiny(classes=10), digits)
    save_onnx(g, tmp_path / "m.onnx")
    props = {p.key: p.value for p in onnx.load(str(tmp_path / "m.onnx")).metadata_props}
    info = json.loads(props[METADATA_KEY])
    assert info == read_preprocessing(load_onnx(tmp_path / "m.onnx"))
    assert info["task"] == "classification" and info["channels"] == 1 and info["image_size"] == [8, 8]
    assert info["mean"] == [float(digits.mean[0])] and info["std"] == [float(digits.std[0])]
    assert info["class_names"] == [str(i) for i in range(10)] and info["embedded"] is False


def test_embedded_normalisation_on_raw_input_equals_original_on_normalised(digits, tmp_path):
    g = tiny(classes=10, seed=1)
    save_onnx(g, tmp_path / "plain.onnx")
    save_onnx(attach_preprocessing(g, digits, embed=True), tmp_path / "raw.onnx")
    raw = (digits.x_val * digits.std.reshape(1, -1, 1, 1) + digits.mean.reshape(1, -1, 1, 1)).astype(np.float32)
    assert raw.min() >= -1e-4 and raw.max() <= 16 + 1e-4  # digits' raw pixel range 0..16
    np.testing.assert_allclose(_ort(tmp_path / "raw.onnx", raw), _ort(tmp_path / "plain.onnx", digits.x_val),
                               rtol=1e-4, atol=1e-4)
    assert read_preprocessing(load_onnx(tmp_path / "raw.onnx"))["embedded"] is True


def test_train_cli_writes_it_and_inspect_shows_it_streaming_on(tmp_path, capsys):
    out = tmp_path / "t.onnx"
    assert main(["train", "--zoo", "resnet_small", "--dataset", "synthetic", "--epochs", "1", "-o", str(out),
                 "--no-checkpoint", "--embed-preprocessing", "--device", "cpu", "--json", "--streaming", "on",
                 "--workers", "0"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["streamed"] is True and res["task"] == "classification" and "val_top5" in res["metrics"]
    assert main(["inspect", str(out), "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["preprocessing"]["embedded"] is True and rep["preprocessing"]["dataset"] == "synthetic"
    assert main(["inspect", str(out)]) == 0
    text = capsys.readouterr().out
    assert "preprocessing" in text and "embedded in the graph" in text
