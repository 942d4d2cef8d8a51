"""CIFAR-100 read from a local folder in the standard *python* format (``train``, ``test``, ``meta``;
alphanas never downloads data). ``labels="fine"`` gives the 100 classes, ``"coarse"`` the 20
super-classes; ``val_size`` training images (stratified, seeded) are held out for validation."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from alphanas.data.arrays import dataset_from_arrays
from alphanas.data.cifar10 import _get, _unpickle
from alphanas.data.dataset import Dataset
from alphanas.data.splits import stratified_split
from alphanas.errors import AlphanasError, ParameterError

CIFAR100_FILES = ("train", "test", "meta")


def cifar100_root(root: str | os.PathLike | None) -> Path:
    """The CIFAR-100 folder ``root`` (a parent holding ``cifar-100-python`` also works)."""
    if root is None:
        raise ParameterError("root", "cifar100: no data folder given; pass {root}=DIR holding the extracted CIFAR-100 "
                                     "python version (train, test, meta); alphanas never downloads data")
    path = Path(root).expanduser()
    if (path / "cifar-100-python").is_dir() and not (path / "train").exists():
        path = path / "cifar-100-python"
    if not path.is_dir():
        raise AlphanasError(f"cifar100: data folder {str(path)!r} does not exist")
    missing = [f for f in CIFAR100_FILES if not (path / f).is_file()]
    if missing:
        raise AlphanasError(f"cifar100: folder {str(path)!r} lacks {', '.join(missing)}; it must hold the CIFAR-100 "
                            "python version (train, test, meta) as extracted from cifar-100-python.tar.gz")
    return path


def _read(path: Path, key: str) -> tuple[np.ndarray, np.ndarray]:
    d = _unpickle(path)
    data = np.asarray(_get(d, "data", path), dtype=np.uint8)
    labels = np.asarray(_get(d, key, path), dtype=np.int64)
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or data.shape[0] != labels.shape[0]:
        raise AlphanasError(f"cifar100: {path}: expected data [N, 3072] and N labels, got data {list(data.shape)} "
                            f"and {labels.shape[0]} labels")
    return data.reshape(-1, 3, 32, 32), labels


def load_cifar100(root: str | os.PathLike | None = None, seed: int = 0, val_size: int | float = 5000,
                  labels: str = "fine") -> Dataset:
    """CIFAR-100 from a local folder; see the module docstring."""
    if labels not in ("fine", "coarse"):
        raise AlphanasError(f"cifar100: labels={labels!r}; use fine (100 classes) or coarse (20)")
    path = cifar100_root(root)
    x, y = _read(path / "train", f"{labels}_labels")
    x_test, y_test = _read(path / "test", f"{labels}_labels")
    meta = _unpickle(path / "meta")
    names = [n.decode() if isinstance(n, bytes) else str(n) for n in _get(meta, f"{labels}_label_names", path / "meta")]
    try:
        train, val = stratified_split(y, val_size, seed)
    except ValueError as e:
        raise AlphanasError(f"cifar100: cannot hold out {val_size} validation images ({e})") from None
    ds = dataset_from_arrays("cifar100", {"train": (x[train], y[train]), "val": (x[val], y[val]),
                                          "test": (x_test, y_test)}, seed=seed, class_names=names,
                             default_augment="flip_crop")
    return ds


__all__ = ["CIFAR100_FILES", "cifar100_root", "load_cifar100"]
