"""CIFAR-10 read from a local folder in the standard *python* format (alphanas never downloads data)."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np

from alphanas.data.dataset import Dataset
from alphanas.data.splits import normalise, stratified_split
from alphanas.errors import AlphanasError, ParameterError

#: Environment variable naming the CIFAR-10 folder when ``root`` is not given.
CIFAR10_ENV = "ALPHANAS_CIFAR10"
CIFAR10_TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR10_FILES = (*CIFAR10_TRAIN_FILES, "test_batch", "batches.meta")


def cifar10_root(root: str | os.PathLike | None = None) -> Path:
    """The CIFAR-10 folder: ``root``, else ``$ALPHANAS_CIFAR10``; a parent holding ``cifar-10-batches-py`` also works."""
    if root is None:
        env = os.environ.get(CIFAR10_ENV)
        if not env:
            raise ParameterError(
                "root",
                "cifar10: no data folder given; pass {root}=DIR (or set $ALPHANAS_CIFAR10) pointing at the "
                f"extracted CIFAR-10 python version ({', '.join(CIFAR10_FILES)}); alphanas never downloads data"
            )
        root = env
    path = Path(root).expanduser()
    if (path / "cifar-10-batches-py").is_dir() and not (path / "data_batch_1").exists():
        path = path / "cifar-10-batches-py"
    if not path.is_dir():
        raise AlphanasError(
            f"cifar10: data folder {str(path)!r} does not exist; it must hold the CIFAR-10 python version "
            f"({', '.join(CIFAR10_FILES)}) as extracted from cifar-10-python.tar.gz"
        )
    missing = [f for f in CIFAR10_FILES if not (path / f).is_file()]
    if missing:
        raise AlphanasError(
            f"cifar10: folder {str(path)!r} lacks {', '.join(missing)}; it must hold the CIFAR-10 python version "
            f"({', '.join(CIFAR10_FILES)}) as extracted from cifar-10-python.tar.gz"
        )
    return path


def _unpickle(path: Path) -> dict:
    try:
        with open(path, "rb") as f:
            return pickle.load(f, encoding="bytes")
    except Exception as e:  # truncated file, not a pickle
        raise AlphanasError(f"cifar10: {path} is not a readable CIFAR-10 pickle ({type(e).__name__}: {e})") from None


def _get(d: dict, key: str, path: Path):
    for k in (key.encode(), key):
        if k in d:
            return d[k]
    raise AlphanasError(f"cifar10: {path} has no {key!r} entry; is it a CIFAR-10 python-format batch?")


def read_cifar10_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One CIFAR batch pickle: ``uint8 [N, 3, 32, 32]`` images and ``int64 [N]`` labels."""
    d = _unpickle(path)
    data = np.asarray(_get(d, "data", path), dtype=np.uint8)
    labels = np.asarray(_get(d, "labels", path), dtype=np.int64)
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or data.shape[0] != labels.shape[0]:
        raise AlphanasError(f"cifar10: {path}: expected data [N, 3072] and N labels, got data {list(data.shape)} "
                            f"and {labels.shape[0]} labels")
    return data.reshape(-1, 3, 32, 32), labels


def load_cifar10(root: str | os.PathLike | None = None, seed: int = 0, val_size: int | float = 5000,
                 train_limit: int | None = None) -> Dataset:
    """CIFAR-10 from a local folder; ``val_size`` images (stratified, seeded) of the 50k training set
    are held out for validation; ``test_batch`` is the test split. ``train_limit`` keeps only that
    many training images (stratified) for quick runs."""
    path = cifar10_root(root)
    parts = [read_cifar10_batch(path / f) for f in CIFAR10_TRAIN_FILES]
    x = np.concatenate([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts])
    x_test, y_test = read_cifar10_batch(path / "test_batch")
    meta = _unpickle(path / "batches.meta")
    names_ = [n.decode() if isinstance(n, bytes) else str(n) for n in _get(meta, "label_names", path / "batches.meta")]
    num_classes = max(len(names_), int(y.max()) + 1)
    if (y < 0).any() or (y >= num_classes).any() or (y_test < 0).any() or (y_test >= num_classes).any():
        raise AlphanasError(f"cifar10: {path}: labels outside 0..{num_classes - 1}")
    train, val = stratified_split(y, val_size, seed)
    if train_limit is not None and train_limit < len(train):
        keep, _ = stratified_split(y[train], len(train) - train_limit, seed + 1)
        train = train[keep]
    (xt, xv, xs), mean, std = normalise(x[train], [x[val], x_test])
    return Dataset("cifar10", xt, y[train], xv, y[val], xs, y_test, num_classes, mean, std,
                   class_names=names_, default_augment="flip_crop")


__all__ = ["CIFAR10_ENV", "CIFAR10_FILES", "CIFAR10_TRAIN_FILES", "cifar10_root", "load_cifar10", "read_cifar10_batch"]
