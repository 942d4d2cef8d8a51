"""scikit-learn's 8x8 handwritten digits (embedded: nothing to download)."""

from __future__ import annotations

import numpy as np

from alphanas.data.dataset import Dataset
from alphanas.data.splits import normalise, three_way_split


def load_digits(seed: int = 0, val_fraction: float = 0.15, test_fraction: float = 0.15) -> Dataset:
    """scikit-learn's 8x8 handwritten digits (1,797 images, 10 classes), split 70/15/15 by default."""
    from sklearn.datasets import load_digits as sk_digits

    d = sk_digits()
    x = d.images.astype(np.float32)[:, None, :, :]  # values 0..16
    y = d.target.astype(np.int64)
    train, val, test = three_way_split(y, val_fraction, test_fraction, seed)
    (xt, xv, xs), mean, std = normalise(x[train], [x[val], x[test]])
    return Dataset("digits", xt, y[train], xv, y[val], xs, y[test], 10, mean, std,
                   class_names=[str(i) for i in range(10)], default_augment="none")


__all__ = ["load_digits"]
