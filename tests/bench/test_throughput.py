"""The throughput benchmark (trainer vs plain PyTorch loop): the documented keys, and the oracle that the comparison
is fair: on the same seed the plain loop and :func:`alphanas.train.train` see the same images in the same batches,
follow the same loss trajectory and reach the same weights. No timing thresholds."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from alphanas import zoo
from alphanas.bench import throughput
from alphanas.data import load_dataset
from alphanas.ir.torch_lowering import to_torch
from alphanas.train import trainer


@pytest.fixture(scope="module")
def small():
    """161 digits training images: with batch 32, four full batches and one of 1 that both sides must drop."""
    ds = load_dataset("digits", seed=0)
    return dataclasses.replace(ds, x_train=ds.x_train[:161], y_train=ds.y_train[:161], x_val=ds.x_val[:60],
                               y_val=ds.y_val[:60], x_test=ds.x_test[:60], y_test=ds.y_test[:60])


def _graph(ds):
    return zoo.build("resnet_small", input_size=8, in_channels=1, num_classes=ds.num_classes, seed=0)


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_plain_loop_and_trainer_see_the_same_images_losses_and_weights(small, precision, monkeypatch):
    graph = _graph(small)
    sizes: list[int] = []
    step = trainer._Run._train_step

    def counting_step(self, xb, yb):  # a spy: counts the images of every training step the trainer takes
        sizes.append(len(yb))
        return step(self, xb, yb)

    monkeypatch.setattr(trainer._Run, "_train_step", counting_step)
    running: list[float] = []
    r, _ = throughput.trainer_run(graph, small, 2, batch_size=32, precision=precision, keep="last",
                                  progress=lambda p: running.append(p.loss) if p.phase == "batch" else None)
    p = throughput.plain_loop(graph, small, 2, batch_size=32, precision=precision)

    assert sizes == p.batch_sizes == [32, 32, 32, 32, 32] * 2  # the lone 161st image is dropped by both
    assert p.images == sum(sizes) == 320
    # the trainer reports the running mean loss of the epoch after every batch: the plain loop's losses give it
    expect = []
    for e in range(2):
        losses = p.losses[5 * e:5 * e + 5]
        expect += [sum(v * 32 for v in losses[:k + 1]) / (32 * (k + 1)) for k in range(5)]
    np.testing.assert_allclose(running, expect, rtol=1e-12)
    assert len(set(p.losses)) == len(p.losses) and p.losses[0] > p.losses[-1]  # it trains
    # the same final weights and batch-norm statistics, bit for bit (the same ops in the same order), and test accuracy
    trained = to_torch(r.graph).state_dict()
    assert trained.keys() == p.state.keys()
    for k, v in p.state.items():
        if k.endswith("num_batches_tracked"):  # a torch counter, not a weight: the ONNX graph does not hold it
            continue
        torch.testing.assert_close(trained[k], v, rtol=0, atol=0, msg=k)
    assert r.test_acc == p.test_acc


def test_run_reports_every_documented_key(small):
    res = throughput.run(("tiny",), ("fp32",), epochs=1, repeats=1, batch_size=32, dataset=small,
                         graphs={"tiny": _graph(small)}, threads=1, on_run=lambda label: None)
    assert set(res) == set(throughput.RUN_KEYS)
    (row,) = res["rows"]
    assert tuple(row) == throughput.ROW_KEYS
    assert row["images"] == 160 and row["threads"] == 1 and len(row["trainer_s"]) == len(row["plain_s"]) == 1
    assert row["ratio"] == pytest.approx(row["trainer_images_per_s"] / row["plain_images_per_s"])
    assert res["torch"] == torch.__version__ and res["settings"]["epochs"] == 1
    assert row["cpu_ratio"] > 0 and len(row["trainer_cpu_s"]) == 1
    assert "| tiny (tiny) | fp32 | 1 |" in throughput.markdown(res)


def test_cli_json_and_part_b_unavailable(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(throughput, "search_available", lambda: False)
    out = tmp_path / "t.json"
    assert throughput.main(["--models", "digits-cnn", "--precision", "fp32", "--epochs", "1", "--repeats", "1",
                            "--threads", "1", "--json", str(out)]) == 0
    res = json.loads(out.read_text())
    assert set(res) == set(throughput.RESULT_KEYS)
    assert [r["model"] for r in res["rows"]] == ["digits-cnn"] and res["rows"][0]["zoo"] == "resnet_small"
    assert res["search"] is None and "part (b) is unavailable" in res["search_unavailable"]
    assert "part (b) is unavailable" in capsys.readouterr().out


def test_bad_names_are_one_line_errors():
    from alphanas.errors import AlphanasError

    with pytest.raises(AlphanasError, match="--models 'vgg'"):
        throughput.main(["--models", "vgg"])
    with pytest.raises(AlphanasError, match="--precision"):
        throughput.main(["--precision", "fp8"])
