"""Training library: determinism, write-back checked against onnxruntime, selection on validation,
checkpoint/resume (also through a real SIGINT), divergence, time budget, shape checks, schedule, augmentation."""

from __future__ import annotations

import math
import os
import signal

import numpy as np
import pytest
import torch

from alphanas.data import load_dataset
from alphanas.errors import AlphanasError
from alphanas.ir import GraphBuilder, runtime
from alphanas.train import TrainingInterrupted, check_compatible, evaluate, predict, resolve_device, train
from alphanas.train.trainer import _flip_crop, _lr_factor
from alphanas.ir.cost import graph_flops
from alphanas.ir.cost import graph_params


def tiny(c: int = 1, size: int = 8, classes: int = 4, seed: int = 0, bn: bool = True, batch="N"):
    b = GraphBuilder("tiny", seed=seed)
    x = b.input("x", (batch, c, size, size))
    y = b.conv(x, 8, 3, bias=not bn)
    if bn:
        y = b.batchnorm(y)
    y = b.maxpool(b.relu(y), 2)
    return b.build(b.dense(b.flatten(y), classes))


@pytest.fixture(scope="module")
def data():
    return load_dataset("synthetic", seed=0)  # 4 classes, 1x8x8, 256/64/64


def _weights(g):
    return {k: v.const.copy() for k, v in g.initializers.items()}


def test_training_learns_is_deterministic_and_leaves_input_untouched(data):
    g = tiny()
    before = _weights(g)
    r1 = train(g, data, 3, batch_size=32, seed=0)
    r2 = train(g, data, 3, batch_size=32, seed=0)
    r3 = train(g, data, 3, batch_size=32, seed=1)
    assert all(np.array_equal(before[k], g.initializers[k].const) for k in before)
    assert r1.test_acc >= 0.7  # chance is 0.25
    assert r1.train_loss[-1] < r1.train_loss[0]
    assert r1.train_loss == r2.train_loss and r1.val_accs == r2.val_accs and r1.test_acc == r2.test_acc
    w1, w2 = _weights(r1.graph), _weights(r2.graph)
    assert all(np.array_equal(w1[k], w2[k]) for k in w1)
    assert r3.train_loss != r1.train_loss
    assert not r1.diverged and r1.stopped == "completed" and r1.epochs_completed == 3
    assert r1.device.startswith(("cpu", "cuda"))
    assert r1.params == graph_params(g) and r1.flops == graph_flops(g)


def test_returned_graph_matches_onnxruntime_and_reported_accuracy(data):
    r = train(tiny(), data, 2, batch_size=32, seed=0, device="cpu")
    torch_logits = predict(r.graph, data.x_test, device="cpu")
    (ort_logits,) = runtime.run(r.graph, {"x": data.x_test}, provider="cpu")
    assert np.allclose(torch_logits, ort_logits, atol=1e-4)
    assert np.array_equal(torch_logits.argmax(1), ort_logits.argmax(1))
    # the reported accuracies are those of the written-back weights, measured independently by onnxruntime
    assert r.test_acc == pytest.approx(float((ort_logits.argmax(1) == data.y_test).mean()))
    (ort_val,) = runtime.run(r.graph, {"x": data.x_val}, provider="cpu")
    assert r.val_acc == pytest.approx(float((ort_val.argmax(1) == data.y_val).mean()))
    assert evaluate(r.graph, data.x_test, data.y_test, device="cpu") == pytest.approx(r.test_acc)


def test_selection_uses_validation_best_epoch(data):
    r = train(tiny(), data, 4, batch_size=32, lr=0.3, seed=2, keep="best")
    assert r.best_epoch == 1 + int(np.argmax(r.val_accs))
    assert r.val_acc == pytest.approx(max(r.val_accs))
    last = train(tiny(), data, 4, batch_size=32, lr=0.3, seed=2, keep="last")
    assert last.val_acc == pytest.approx(last.val_accs[-1])


def test_checkpoint_resume_after_interrupt_equals_uninterrupted_run(data, tmp_path):
    kw = dict(batch_size=32, seed=0, augment="flip_crop", label_smoothing=0.1, device="cpu")
    full = train(tiny(), data, 3, **kw)
    ckpt = tmp_path / "run.ckpt"

    def stop_in_epoch_2(p):
        if p.phase == "batch" and p.epoch == 2 and p.batch == 3:
            raise KeyboardInterrupt

    with pytest.raises(TrainingInterrupted, match="run the same command again to resume"):
        train(tiny(), data, 3, checkpoint=ckpt, progress=stop_in_epoch_2, **kw)
    assert ckpt.exists()
    resumed = train(tiny(), data, 3, checkpoint=ckpt, **kw)
    assert resumed.resumed_from_epoch == 1
    assert resumed.train_loss == pytest.approx(full.train_loss, abs=1e-6)
    assert resumed.val_accs == full.val_accs and resumed.test_acc == full.test_acc
    wf, wr = _weights(full.graph), _weights(resumed.graph)
    assert all(np.allclose(wf[k], wr[k], atol=1e-6) for k in wf)
    # a finished checkpoint returns the same result again; different options are refused
    again = train(tiny(), data, 3, checkpoint=ckpt, **kw)
    assert again.test_acc == full.test_acc and again.resumed_from_epoch == 3
    with pytest.raises(AlphanasError, match="different run"):
        train(tiny(), data, 4, checkpoint=ckpt, **kw)


def test_sigint_saves_checkpoint_and_resumes(data, tmp_path):
    ckpt = tmp_path / "sig.ckpt"
    full = train(tiny(), data, 2, batch_size=32, seed=4, device="cpu")

    def ctrl_c(p):
        if p.phase == "batch" and p.epoch == 1 and p.batch == 2:
            os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(KeyboardInterrupt):
        train(tiny(), data, 2, batch_size=32, seed=4, device="cpu", checkpoint=ckpt, progress=ctrl_c)
    resumed = train(tiny(), data, 2, batch_size=32, seed=4, device="cpu", checkpoint=ckpt)
    assert resumed.val_accs == full.val_accs and resumed.test_acc == full.test_acc


def test_divergence_is_flagged(data):
    r = train(tiny(bn=False), data, 3, batch_size=32, lr=1e12, optimizer="sgd", seed=0)
    assert r.diverged and r.stopped == "diverged"
    assert r.epochs_completed < 3


def test_time_budget_stops_early(data):
    r = train(tiny(), data, 50, batch_size=8, seed=0, max_minutes=1e-5)
    assert r.stopped == "time" and len(r.history) == 1 and r.history[0].partial
    assert 0.0 <= r.test_acc <= 1.0


def test_model_dataset_mismatch_is_user_error(data):
    with pytest.raises(AlphanasError, match=r"expects input 'x' of shape \['N', 3, 8, 8\] .* gives \[N, 1, 8, 8\]"):
        check_compatible(tiny(c=3), data)
    with pytest.raises(AlphanasError, match="has 4 classes"):
        check_compatible(tiny(classes=10), data)
    with pytest.raises(AlphanasError, match="fixed batch size 1"):
        check_compatible(tiny(batch=1), data)
    with pytest.raises(AlphanasError, match="unknown optimizer"):
        train(tiny(), data, 1, optimizer="lion")


def test_learning_rate_schedule_values():
    # 10 steps, 2 warm-up steps: linear warm-up, then half a cosine from 1 to 0
    assert [_lr_factor(s, 10, 2, "cosine") for s in (0, 1)] == [0.5, 1.0]
    assert _lr_factor(2, 10, 2, "cosine") == pytest.approx(1.0)
    assert _lr_factor(6, 10, 2, "cosine") == pytest.approx(0.5)
    assert _lr_factor(10, 10, 2, "cosine") == pytest.approx(0.0, abs=1e-12)
    assert _lr_factor(7, 10, 0, "constant") == 1.0
    assert _lr_factor(3, 8, 0, "cosine") == pytest.approx(0.5 * (1 + math.cos(math.pi * 3 / 8)))


def test_flip_crop_is_a_window_of_the_padded_image():
    x = torch.arange(2 * 3 * 6 * 6, dtype=torch.float32).reshape(2, 3, 6, 6) + 1.0
    out = _flip_crop(x, torch.Generator().manual_seed(0), pad=2)
    assert out.shape == x.shape
    for i in range(2):
        windows = []
        for img in (x[i], x[i].flip(2)):
            padded = torch.nn.functional.pad(img, (2, 2, 2, 2))
            windows += [padded[:, r:r + 6, c:c + 6] for r in range(5) for c in range(5)]
        assert any(torch.equal(out[i], w) for w in windows)
    many = _flip_crop(x.repeat(16, 1, 1, 1), torch.Generator().manual_seed(1), pad=2)
    assert not all(torch.equal(many[0], m) for m in many[1:])  # the crops differ between samples


def test_device_choice():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    if torch.cuda.is_available():
        assert resolve_device("cuda").type == "cuda"
    else:
        with pytest.raises(AlphanasError, match="no CUDA GPU.*use device cpu"):
            resolve_device("cuda")
    with pytest.raises(AlphanasError, match="unknown device 'tpu'"):
        resolve_device("tpu")


@pytest.mark.parametrize("keep", ["best", "last"])
def test_final_validation_is_that_of_the_kept_weights_without_evaluating_again(data, keep, monkeypatch):
    # the end-of-epoch validation already measured the kept weights: train reuses it; the figures must be
    # those of the returned graph, measured independently, and of the kept epoch in the history
    from alphanas.train import trainer

    calls = []
    real = trainer._Run._eval
    monkeypatch.setattr(trainer._Run, "_eval", lambda self, *a: calls.append(1) or real(self, *a))
    r = train(tiny(), data, 3, batch_size=32, seed=0, device="cpu", keep=keep)
    assert len(calls) == 3 + 1  # one validation per epoch, then the test split only
    kept = r.history[(r.best_epoch if keep == "best" else 3) - 1]
    assert r.val_metrics == kept.val_metrics and r.val_acc == kept.val_acc
    assert evaluate(r.graph, data.x_val, data.y_val, device="cpu") == pytest.approx(r.val_acc)
