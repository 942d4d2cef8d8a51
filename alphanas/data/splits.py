"""Splitting and normalisation shared by every loader: seeded hold-outs (stratified by class for
classification, plain random for multilabel and regression targets), per-channel standardisation."""

from __future__ import annotations

import numpy as np

from alphanas.errors import AlphanasError


def stratified_split(y: np.ndarray, fraction: float | int, seed: int,
                     stratify: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(keep, held_out)``: a seeded hold-out of ``fraction`` (or that many samples), stratified by
    the class labels ``y`` (``stratify=False``: a plain random hold-out, for targets that are not classes)."""
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(y))
    keep, held = train_test_split(idx, test_size=fraction, stratify=y if stratify else None, random_state=seed)
    return np.sort(keep), np.sort(held)


def normalise(raw_train: np.ndarray, others: list[np.ndarray]) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Standardise with the training split's statistics (float32 throughout): per channel (axis 1) for
    inputs of rank 3 or more per sample (``[N, C, ...]``), per feature for ``[N, F]`` tables, one scalar
    for ``[N]`` scalars."""
    axes = _stat_axes(raw_train.ndim)
    mean = raw_train.mean(axis=axes, dtype=np.float64).astype(np.float32).reshape(-1)
    std = raw_train.std(axis=axes, dtype=np.float64).astype(np.float32).reshape(-1)
    std = np.where(std > 0, std, np.float32(1.0)).astype(np.float32)
    shape = [1] * raw_train.ndim
    if raw_train.ndim >= 2:
        shape[1] = -1
    m, s = mean.reshape(shape), std.reshape(shape)
    out = [((a.astype(np.float32) - m) / s).astype(np.float32) for a in [raw_train, *others]]
    return out, mean, std


def _stat_axes(ndim: int) -> tuple[int, ...]:
    return (0,) if ndim <= 2 else (0, *range(2, ndim))


def three_way_split(y: np.ndarray, val_fraction: float, test_fraction: float,
                    seed: int, stratify: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Indices ``(train, val, test)``: stratified (unless ``stratify=False``) and seeded; the fractions are
    of the whole set (the digits split: test first with ``seed``, then validation from the rest with ``seed + 1``)."""
    check_fraction(val_fraction, "val_fraction")
    check_fraction(test_fraction, "test_fraction")
    if val_fraction + test_fraction >= 1.0:
        raise AlphanasError("val_fraction + test_fraction must leave some training data (sum < 1)")
    rest, test = stratified_split(y, test_fraction, seed, stratify)
    # the validation fraction is of the whole set, so rescale it to what remains
    tr, va = stratified_split(y[rest], val_fraction / (1.0 - test_fraction), seed + 1, stratify)
    return rest[tr], rest[va], test


def check_fraction(value: float, what: str) -> None:
    if not 0.0 < value < 1.0:
        raise AlphanasError(f"{what}={value}: must be a fraction strictly between 0 and 1")


__all__ = ["check_fraction", "normalise", "stratified_split", "three_way_split"]
