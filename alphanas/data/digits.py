"""scikit-learn's 8x8 handwritten digits (embedded: nothing to download)."""

from __future__ import annotations

import numpy as np

from alphanas.data.dataset import Dataset
from alphanas.data.splits import check_fraction, normalise, stratified_split
from alphanas.errors import AlphanasError


def load_digits(seed: int = 0, val_fraction: float = 0.15, test_fraction: float = 0.15) -> Dataset:
    """scikit-learn's 8x8 handwritten digits (1,797 images, 10 classes), split 70/15/15 by default."""
    from sklearn.datasets import load_digits as sk_digits

    check_fraction(val_fraction, "val_fraction")
    check_fraction(test_fraction, "test_fraction")
    if val_fraction + test_fraction >= 1.0:
        raise AlphanasError("val_fraction + test_fraction must leave some training data (sum < 1)")
    d = sk_digits()
    x = d.images.astype(np.float32)[:, None, :, :]  # values 0..16
    y = d.target.astype(np.int64)
    rest, test = stratified_split(y, test_fraction, seed)
    # the validation fraction is of the whole set, so rescale it to what remains
    tr, va = stratified_split(y[rest], val_fraction / (1.0 - test_fraction), seed + 1)
    train, val = rest[tr], rest[va]
    (xt, xv, xs), mean, std = normalise(x[train], [x[val], x[test]])
    return Dataset("digits", xt, y[train], xv, y[val], xs, y[test], 10, mean, std,
                   class_names=[str(i) for i in range(10)], default_augment="none")


__all__ = ["load_digits"]
