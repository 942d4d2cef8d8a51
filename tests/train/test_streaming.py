"""The streaming DataLoader path: the same weights as the in-memory path (augmentation off, same seed), chosen
automatically by size or for memory-mapped arrays, on-the-fly augmentation that does not depend on the workers."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from alphanas.data import load_dataset
from alphanas.train import train
from alphanas.train.trainer import BatchReader, _flip_crop_np, use_streaming
from tests.train.test_training import tiny


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", seed=0)


def _same_weights(a, b) -> bool:
    return a.initializers.keys() == b.initializers.keys() and all(
        np.array_equal(a.initializers[k].const, b.initializers[k].const) for k in a.initializers)


def test_streaming_and_in_memory_train_identical_weights(digits):
    g = tiny(classes=10)
    mem = train(g, digits, 2, batch_size=100, seed=3, device="cpu", streaming=False, augment="none")
    stream = train(g, digits, 2, batch_size=100, seed=3, device="cpu", streaming=True, workers=2, augment="none")
    assert not mem.streamed and stream.streamed
    assert _same_weights(mem.graph, stream.graph)
    assert (mem.val_acc, mem.test_acc, mem.best_epoch) == (stream.val_acc, stream.test_acc, stream.best_epoch)
    assert [h.train_loss for h in mem.history] == [h.train_loss for h in stream.history]


def test_streaming_from_memory_mapped_files(digits, tmp_path):
    x = np.lib.format.open_memmap(tmp_path / "x.npy", mode="w+", dtype=np.float32, shape=digits.x_train.shape)
    x[:] = digits.x_train
    x.flush()
    mm = dataclasses.replace(digits, x_train=np.load(tmp_path / "x.npy", mmap_mode="r"))
    assert use_streaming(mm) and not use_streaming(digits)
    assert use_streaming(digits, limit=1000)  # by size
    g = tiny(classes=10)
    a = train(g, mm, 1, seed=0, device="cpu", workers=0)
    assert a.streamed
    assert _same_weights(a.graph, train(g, digits, 1, seed=0, device="cpu").graph)


def test_streamed_augmentation_is_per_batch_deterministic(digits):
    y = digits.y_train
    x = np.random.default_rng(0).random((len(y), 3, 8, 8), dtype=np.float32)
    reader = BatchReader(x, y, np.int64, "flip_crop", seed=5)
    idx = np.arange(7, 40)
    a, ya = reader[(2, 4, idx)]
    b, _ = reader[(2, 4, idx)]
    c, _ = reader[(3, 4, idx)]
    assert torch.equal(a, b) and not torch.equal(a, c) and torch.equal(ya, torch.as_tensor(y[idx]))
    # each sample is a flip and an 8x8 window of its zero-padded image
    out = _flip_crop_np(x[:20], np.random.default_rng(1))
    for i in range(20):
        pad = np.pad(x[i], ((0, 0), (4, 4), (4, 4)))
        found = [(f, oy, ox) for f in (False, True) for oy in range(9) for ox in range(9)
                 if np.array_equal((np.pad(x[i][..., ::-1], ((0, 0), (4, 4), (4, 4))) if f else pad)
                                   [:, oy:oy + 8, ox:ox + 8], out[i])]
        assert found
    rgb = dataclasses.replace(digits, x_train=x, x_val=np.repeat(digits.x_val, 3, 1), x_test=np.repeat(digits.x_test, 3, 1))
    r = train(tiny(c=3, classes=10), rgb, 1, seed=0, device="cpu",
              streaming=True, workers=1, augment="flip_crop")
    assert r.streamed and np.isfinite(r.history[0].train_loss)


def test_streaming_resumes_mid_epoch_to_the_in_memory_weights(digits, tmp_path):
    from alphanas.errors import AlphanasError
    from alphanas.train import TrainingInterrupted

    g = tiny(classes=10)
    kw = dict(batch_size=128, seed=1, device="cpu", augment="none")
    full = train(g, digits, 2, **kw)
    ckpt = tmp_path / "s.ckpt"

    def stop(p):
        if p.phase == "batch" and p.epoch == 2 and p.batch == 3:
            raise KeyboardInterrupt

    with pytest.raises(TrainingInterrupted):
        train(g, digits, 2, checkpoint=ckpt, progress=stop, streaming=True, workers=1, **kw)
    resumed = train(g, digits, 2, checkpoint=ckpt, streaming=True, workers=1, **kw)
    assert resumed.resumed_from_epoch == 1 and _same_weights(full.graph, resumed.graph)
    # with augmentation the paths draw differently: a streaming checkpoint does not resume in memory
    aug = dict(kw, augment="flip_crop")
    rgb = dataclasses.replace(digits, x_train=np.repeat(digits.x_train, 3, 1), x_val=np.repeat(digits.x_val, 3, 1),
                              x_test=np.repeat(digits.x_test, 3, 1))
    with pytest.raises(TrainingInterrupted):
        train(tiny(c=3, classes=10), rgb, 2, checkpoint=tmp_path / "a.ckpt", progress=stop, streaming=True,
              workers=0, **aug)
    with pytest.raises(AlphanasError, match="different run"):
        train(tiny(c=3, classes=10), rgb, 2, checkpoint=tmp_path / "a.ckpt", streaming=False, **aug)
