"""A seeded, learnable synthetic dataset: smooth class prototypes plus noise and small shifts."""

from __future__ import annotations

import numpy as np

from alphanas.data.dataset import Dataset
from alphanas.data.splits import normalise
from alphanas.errors import AlphanasError


def load_synthetic(seed: int = 0, num_classes: int = 4, input_shape: tuple[int, int, int] = (1, 8, 8),
                   n_train: int = 256, n_val: int = 64, n_test: int = 64, noise: float = 1.0,
                   max_shift: int = 1) -> Dataset:
    """Random class prototypes (smooth patterns) plus Gaussian noise and small random shifts.

    Learnable by a small CNN yet not trivially separable: ``noise`` is relative to the pattern's
    amplitude. The same seed gives the same arrays.
    """
    if num_classes < 2:
        raise AlphanasError(f"synthetic: num_classes={num_classes}; need at least 2")
    c, h, w = (int(d) for d in input_shape)
    if min(c, h, w) < 1 or min(n_train, n_val, n_test) < num_classes:
        raise AlphanasError("synthetic: input_shape must be positive and each split must hold at least one "
                            "sample per class")
    rng = np.random.default_rng(seed)
    # smooth prototypes: random low-frequency cosine mixtures per class and channel
    yy, xx = np.meshgrid(np.linspace(0, np.pi, h), np.linspace(0, np.pi, w), indexing="ij")
    protos = np.zeros((num_classes, c, h, w), np.float64)
    for k in range(num_classes):
        for ch in range(c):
            for _ in range(3):
                fy, fx = rng.integers(0, 4, size=2)
                phase = rng.uniform(0, 2 * np.pi)
                protos[k, ch] += rng.normal() * np.cos(fy * yy + fx * xx + phase)
    protos /= protos.reshape(num_classes, -1).std(axis=1).reshape(-1, 1, 1, 1) + 1e-12

    def sample(n: int) -> tuple[np.ndarray, np.ndarray]:
        y = np.arange(n) % num_classes
        rng.shuffle(y)
        x = protos[y] + noise * rng.standard_normal((n, c, h, w))
        if max_shift:
            sy = rng.integers(-max_shift, max_shift + 1, size=n)
            sx = rng.integers(-max_shift, max_shift + 1, size=n)
            x = np.stack([np.roll(img, (a, b), axis=(1, 2)) for img, a, b in zip(x, sy, sx)])
        return x.astype(np.float32), y.astype(np.int64)

    xt, yt = sample(n_train)
    xv, yv = sample(n_val)
    xs, ys = sample(n_test)
    (xt, xv, xs), mean, std = normalise(xt, [xv, xs])
    return Dataset("synthetic", xt, yt, xv, yv, xs, ys, num_classes, mean, std,
                   class_names=[f"class{i}" for i in range(num_classes)], default_augment="none")


__all__ = ["load_synthetic"]
