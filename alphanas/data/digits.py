"""scikit-learn's 8x8 handwritten digits (embedded: nothing to download).

The images are read straight from the CSV file scikit-learn ships (``sklearn/datasets/data/digits.csv.gz``,
what ``sklearn.datasets.load_digits`` reads) without importing scikit-learn: that import costs more than a
second, paid by every search worker; ``sklearn.datasets.load_digits`` is the fallback.
"""

from __future__ import annotations

import importlib.util
import os

import numpy as np

from alphanas.data.dataset import Dataset
from alphanas.data.splits import normalise, three_way_split


def load_digits(seed: int = 0, val_fraction: float = 0.15, test_fraction: float = 0.15) -> Dataset:
    """scikit-learn's 8x8 handwritten digits (1,797 images, 10 classes), split 70/15/15 by default."""
    x, y = digits_arrays()
    train, val, test = three_way_split(y, val_fraction, test_fraction, seed)
    (xt, xv, xs), mean, std = normalise(x[train], [x[val], x[test]])
    return Dataset("digits", xt, y[train], xv, y[val], xs, y[test], 10, mean, std,
                   class_names=[str(i) for i in range(10)], default_augment="none")


def digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """All 1,797 images (``float32``, shape ``(n, 1, 8, 8)``, values 0..16) and labels (``int64``)."""
    spec = importlib.util.find_spec("sklearn")
    where = list(spec.submodule_search_locations or []) if spec is not None else []
    path = os.path.join(where[0], "datasets", "data", "digits.csv.gz") if where else ""
    if path and os.path.isfile(path):
        data = np.loadtxt(path, delimiter=",")
        images, target = data[:, :-1].reshape(-1, 8, 8), data[:, -1]
    else:  # another scikit-learn layout: its loader
        from sklearn.datasets import load_digits as sk_digits

        d = sk_digits()
        images, target = d.images, d.target
    return images.astype(np.float32)[:, None, :, :], target.astype(np.int64)


__all__ = ["digits_arrays", "load_digits"]
