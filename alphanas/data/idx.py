"""MNIST and Fashion-MNIST from a local folder of IDX files (gzip-compressed or not; never downloaded).

The folder holds ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``
and ``t10k-labels-idx1-ubyte``, each optionally ending in ``.gz``. The ``t10k`` files are the test
split; ``val_size`` training images (stratified, seeded) are held out for validation.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np

from alphanas.data.arrays import dataset_from_arrays
from alphanas.data.dataset import Dataset
from alphanas.data.splits import stratified_split
from alphanas.errors import AlphanasError, ParameterError

IDX_FILES = {"x_train": "train-images-idx3-ubyte", "y_train": "train-labels-idx1-ubyte",
             "x_test": "t10k-images-idx3-ubyte", "y_test": "t10k-labels-idx1-ubyte"}
FASHION_NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                 "Ankle boot"]
_DTYPES: dict[int, str] = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """One IDX file (``.gz`` or plain) as a numpy array of the shape its header declares."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            data = f.read()
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
    except (OSError, EOFError) as e:
        raise AlphanasError(f"idx: {path} is not readable ({type(e).__name__}: {e})") from None
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _DTYPES:
        raise AlphanasError(f"idx: {path} is not an IDX file (bad magic number {data[:4].hex()})")
    ndim = data[3]
    head = 4 + 4 * ndim
    if len(data) < head:
        raise AlphanasError(f"idx: {path} is truncated (header of {ndim} dimensions)")
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_DTYPES[data[2]])
    want = int(np.prod(shape)) * dtype.itemsize
    if len(data) - head != want:
        raise AlphanasError(f"idx: {path} declares shape {list(shape)} ({want} bytes) but holds {len(data) - head} "
                            "bytes of data; the file is truncated or corrupt")
    return np.frombuffer(data, dtype, offset=head).reshape(shape)


def _find(root: Path, stem: str, name: str) -> Path:
    for cand in (root / stem, root / f"{stem}.gz", root / stem.replace("-idx", ".idx"),
                 root / f"{stem.replace('-idx', '.idx')}.gz"):
        if cand.is_file():
            return cand
    raise AlphanasError(f"{name}: folder {root} lacks {stem} (or {stem}.gz); it must hold the four IDX files "
                        f"{', '.join(IDX_FILES.values())} (gzip or not)")


def load_idx_dataset(name: str, root: str | os.PathLike | None, seed: int = 0, val_size: int | float = 5000,
                     class_names: list[str] | None = None) -> Dataset:
    """An MNIST-format folder as a :class:`Dataset` named ``name``."""
    if root is None:
        raise ParameterError("root", f"{name}: no data folder given; pass {{root}}=DIR holding "
                                     f"{', '.join(IDX_FILES.values())} (gzip or not); alphanas never downloads data")
    path = Path(root).expanduser()
    if not path.is_dir():
        raise AlphanasError(f"{name}: data folder {str(path)!r} does not exist")
    a = {k: read_idx(_find(path, stem, name)) for k, stem in IDX_FILES.items()}
    for k in ("x_train", "x_test"):
        if a[k].ndim != 3:
            raise AlphanasError(f"{name}: {k} has shape {list(a[k].shape)}; IDX images must be [N, H, W]")
    x, y = a["x_train"][:, None], a["y_train"].astype(np.int64)
    if len(x) != len(y):
        raise AlphanasError(f"{name}: {len(x)} training images but {len(y)} training labels")
    try:
        train, val = stratified_split(y, val_size, seed)
    except ValueError as e:
        raise AlphanasError(f"{name}: cannot hold out {val_size} validation images ({e})") from None
    arrays = {"train": (x[train], y[train]), "val": (x[val], y[val]),
              "test": (a["x_test"][:, None], a["y_test"].astype(np.int64))}
    return dataset_from_arrays(name, arrays, seed=seed, num_classes=10, class_names=class_names)


def load_mnist(root: str | os.PathLike | None = None, seed: int = 0, val_size: int | float = 5000) -> Dataset:
    """MNIST (handwritten digits, 28x28 grey) from a local IDX folder; see the module docstring."""
    return load_idx_dataset("mnist", root, seed, val_size, [str(i) for i in range(10)])


def load_fashion_mnist(root: str | os.PathLike | None = None, seed: int = 0, val_size: int | float = 5000) -> Dataset:
    """Fashion-MNIST (clothing, 28x28 grey) from a local IDX folder; see the module docstring."""
    return load_idx_dataset("fashion-mnist", root, seed, val_size, FASHION_NAMES)


__all__ = ["FASHION_NAMES", "IDX_FILES", "load_fashion_mnist", "load_idx_dataset", "load_mnist", "read_idx"]
