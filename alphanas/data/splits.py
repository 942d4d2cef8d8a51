"""Splitting and normalisation shared by every loader: stratified seeded hold-outs, per-channel standardisation."""

from __future__ import annotations

import numpy as np

from alphanas.errors import AlphanasError


def stratified_split(y: np.ndarray, fraction: float | int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(keep, held_out)``: a stratified, seeded hold-out of ``fraction`` (or that many samples)."""
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(y))
    keep, held = train_test_split(idx, test_size=fraction, stratify=y, random_state=seed)
    return np.sort(keep), np.sort(held)


def normalise(raw_train: np.ndarray, others: list[np.ndarray]) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Standardise per channel with the training split's statistics (float32 throughout)."""
    mean = raw_train.mean(axis=(0, 2, 3), dtype=np.float64).astype(np.float32)
    std = raw_train.std(axis=(0, 2, 3), dtype=np.float64).astype(np.float32)
    std = np.where(std > 0, std, np.float32(1.0)).astype(np.float32)
    m, s = mean.reshape(1, -1, 1, 1), std.reshape(1, -1, 1, 1)
    out = [((a.astype(np.float32) - m) / s).astype(np.float32) for a in [raw_train, *others]]
    return out, mean, std


def check_fraction(value: float, what: str) -> None:
    if not 0.0 < value < 1.0:
        raise AlphanasError(f"{what}={value}: must be a fraction strictly between 0 and 1")


__all__ = ["check_fraction", "normalise", "stratified_split"]
