"""Checks of user data before anything trains on it: splits whose shapes disagree, labels out of range,
NaN or infinite values. Each failure is one :class:`~alphanas.errors.AlphanasError` line naming the
source, the split and the first offending sample."""

from __future__ import annotations

import numpy as np

from alphanas.errors import AlphanasError


def check_pair(source: str, split: str, x: np.ndarray, y: np.ndarray) -> None:
    """``x`` (``[N, ...]`` numbers) and ``y`` (``[N]`` integer labels) of one split fit together and are finite."""
    if x.ndim < 1:
        raise AlphanasError(f"{source}: x_{split} is a scalar; it must be an array [N, ...] of N samples")
    if y.ndim != 1:
        raise AlphanasError(f"{source}: y_{split} has shape {list(y.shape)}; labels must be one integer class per "
                            f"sample, shape [N]")
    if x.shape[0] != y.shape[0]:
        raise AlphanasError(f"{source}: x_{split} has {x.shape[0]} samples but y_{split} has {y.shape[0]} labels; "
                            "they must have the same first dimension")
    if x.shape[0] == 0:
        raise AlphanasError(f"{source}: the {split} split is empty")
    if x.dtype.kind not in "biuf":
        raise AlphanasError(f"{source}: x_{split} has dtype {x.dtype}; inputs must be numbers")
    if y.dtype.kind == "f":
        if not np.all(np.isfinite(y)) or not np.array_equal(y, np.round(y)):
            bad = int(np.flatnonzero(~np.isfinite(y) | (y != np.round(y)))[0])
            raise AlphanasError(f"{source}: y_{split}[{bad}] = {y[bad]} is not an integer class label")
    elif y.dtype.kind not in "biu":
        raise AlphanasError(f"{source}: y_{split} has dtype {y.dtype}; labels must be integers")
    if x.dtype.kind == "f":
        finite = np.isfinite(x.reshape(len(x), -1)).all(axis=1)
        if not finite.all():
            bad = int(np.flatnonzero(~finite)[0])
            what = "NaN" if np.isnan(x[bad]).any() else "infinite"
            raise AlphanasError(f"{source}: x_{split}[{bad}] holds {what} values ({int((~finite).sum())} sample(s) "
                                "of this split do); remove or impute them")


def check_splits(source: str, splits: dict[str, tuple[np.ndarray, np.ndarray]],
                 num_classes: int | None = None) -> int:
    """Check every split (see :func:`check_pair`), that all splits have the same sample shape, and that
    labels lie in ``0..num_classes-1`` (default: ``0..max label``, every split counted); returns the
    number of classes."""
    shape = None
    first = ""
    for name, (x, y) in splits.items():
        check_pair(source, name, x, y)
        if shape is None:
            shape, first = x.shape[1:], name
        elif x.shape[1:] != shape:
            raise AlphanasError(f"{source}: x_{name} samples have shape {list(x.shape[1:])} but x_{first} samples "
                                f"have {list(shape)}; every split needs the same sample shape")
    labels = np.concatenate([np.asarray(y) for _, y in splits.values()]).astype(np.int64)
    low = int(labels.min())
    if low < 0:
        name = next(n for n, (_, y) in splits.items() if (np.asarray(y) < 0).any())
        raise AlphanasError(f"{source}: y_{name} holds label {low}; labels must be class indices 0..K-1")
    k = int(labels.max()) + 1 if num_classes is None else int(num_classes)
    if int(labels.max()) >= k:
        name = next(n for n, (_, y) in splits.items() if (np.asarray(y) >= k).any())
        raise AlphanasError(f"{source}: y_{name} holds label {int(labels.max())} but there are {k} classes; "
                            f"labels must lie in 0..{k - 1}")
    if k < 2:
        raise AlphanasError(f"{source}: only one class (label 0); classification needs at least 2")
    return k


__all__ = ["check_pair", "check_splits"]
