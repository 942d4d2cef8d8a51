"""Precision, memory layout, determinism and out-of-memory handling of training (issue 14, CPU side)."""

from __future__ import annotations

import pytest
import torch

from alphanas.data import load_dataset
from alphanas.errors import AlphanasError
from alphanas.ir import zoo
from alphanas.search.evaluators import TrainEvaluator
from alphanas.train import train
from alphanas.train.precision import deterministic_mode, grad_scaler, is_out_of_memory, resolve_precision
from tests.train.test_training import tiny


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", seed=0)


def test_bf16_on_cpu_trains_to_fp32_accuracy(digits):
    g = zoo.build("cnn", in_channels=1, num_classes=10, input_size=8)
    a = train(g, digits, 3, batch_size=64, seed=0, precision="fp32")
    b = train(g, digits, 3, batch_size=64, seed=0, precision="bf16")
    assert a.config.precision == "fp32" and b.config.precision == "bf16"
    assert a.train_loss != b.train_loss  # autocast really ran in bf16
    # within noise: one epoch-3 digits CNN differs by ~1 point between seeds
    assert b.val_acc > 0.9 and abs(a.val_acc - b.val_acc) <= 0.02 and abs(a.test_acc - b.test_acc) <= 0.02


def test_fp16_uses_a_loss_scaler_and_auto_is_fp32_on_cpu():
    cpu = torch.device("cpu")
    assert grad_scaler(cpu, "fp16").is_enabled() and not grad_scaler(cpu, "bf16").is_enabled()
    assert resolve_precision("auto", cpu) == "fp32" and resolve_precision("bf16", cpu) == "bf16"
    with pytest.raises(AlphanasError, match="unknown precision 'fp8'"):
        resolve_precision("fp8", cpu)
    data = load_dataset("synthetic", seed=0)
    r = train(tiny(), data, 1, batch_size=32, seed=0, precision="fp16")
    assert r.config.precision == "fp16" and r.train_loss[0] == r.train_loss[0]


def test_channels_last_on_cpu_gives_the_same_training():
    data = load_dataset("synthetic", seed=0)
    a = train(tiny(), data, 2, batch_size=32, seed=0, channels_last="off")
    b = train(tiny(), data, 2, batch_size=32, seed=0, channels_last="on")
    assert not a.channels_last and b.channels_last
    assert b.train_loss == pytest.approx(a.train_loss, rel=1e-4) and abs(a.val_acc - b.val_acc) <= 1 / 64


def test_deterministic_mode_sets_and_restores_the_flags():
    before = torch.are_deterministic_algorithms_enabled()
    with deterministic_mode(True):
        assert torch.are_deterministic_algorithms_enabled() and torch.backends.cudnn.deterministic
        assert not torch.backends.cudnn.benchmark
    assert torch.are_deterministic_algorithms_enabled() == before


def test_out_of_memory_is_retried_at_half_batch_then_recorded(monkeypatch):
    import alphanas.train as train_mod

    real = train_mod.train
    calls = []

    def fake(graph, dataset, epochs, *, batch_size=128, **kw):
        calls.append(batch_size)
        if batch_size > limit:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real(graph, dataset, epochs, batch_size=batch_size, **kw)

    monkeypatch.setattr(train_mod, "train", fake)
    ev = TrainEvaluator(dataset_name="synthetic", epochs=1, batch_size=64, device="cpu")
    limit = 32
    m = ev.evaluate(tiny(), seed=0)
    assert calls == [64, 32] and m["oom_retried"] == 1.0 and m["val_acc"] > 0
    calls.clear()
    limit = 8
    with pytest.raises(AlphanasError, match="out of memory at batch size 64 .* and again at 32"):
        ev.evaluate(tiny(), seed=0)
    assert calls == [64, 32]
    assert is_out_of_memory(RuntimeError("DefaultCPUAllocator: not enough memory: you tried to allocate"))
    assert not is_out_of_memory(RuntimeError("shape mismatch"))
