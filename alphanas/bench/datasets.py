"""Image-classification datasets as in-memory arrays: ``digits`` (embedded), ``cifar10`` (local folder), ``synthetic``.

    ds = load_dataset("digits", seed=0)
    ds.x_train.shape        # (1257, 1, 8, 8) float32, normalised with training statistics
    ds.input_shape          # (1, 8, 8)

Every dataset has three disjoint splits: *train* (fit), *validation* (model selection, early
stopping) and *test* (reported apart, never used to select anything). Splits are stratified and
derived from ``seed``. Nothing is ever downloaded: ``digits`` ships with scikit-learn and CIFAR-10
is read from a folder the user already has, in the standard CIFAR-10 *python* format.
"""

from __future__ import annotations

import inspect
import os
import pickle
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from alphanas.errors import AlphanasError

#: Environment variable naming the CIFAR-10 folder when ``root`` is not given.
CIFAR10_ENV = "ALPHANAS_CIFAR10"
CIFAR10_TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR10_FILES = (*CIFAR10_TRAIN_FILES, "test_batch", "batches.meta")


@dataclass
class Dataset:
    """Three normalised splits of an image-classification dataset (NCHW float32 images, int64 labels)."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int
    #: Per-channel mean and std of the raw training images; ``x = (raw - mean) / std``.
    mean: np.ndarray
    std: np.ndarray
    class_names: list[str] = field(default_factory=list)
    #: The augmentation that suits this data (``"flip_crop"`` for natural images, ``"none"`` otherwise).
    default_augment: str = "none"

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """``(channels, height, width)`` of one image."""
        return tuple(int(d) for d in self.x_train.shape[1:])  # type: ignore[return-value]

    def split(self, which: str) -> tuple[np.ndarray, np.ndarray]:
        """``(x, y)`` of ``"train"``, ``"val"`` or ``"test"``."""
        if which not in ("train", "val", "test"):
            raise ValueError(f"unknown split {which!r}; use train, val or test")
        return getattr(self, f"x_{which}"), getattr(self, f"y_{which}")

    def summary(self) -> str:
        c, h, w = self.input_shape
        return (f"{self.name}: {c}x{h}x{w}, {self.num_classes} classes, train {len(self.y_train)} / "
                f"val {len(self.y_val)} / test {len(self.y_test)}")


def names() -> list[str]:
    """The dataset names :func:`load_dataset` accepts."""
    return sorted(_LOADERS)


def load_dataset(name: str, root: str | os.PathLike | None = None, seed: int = 0, **options) -> Dataset:
    """Load dataset ``name`` (``digits``, ``cifar10`` or ``synthetic``).

    ``root`` is the data folder (only ``cifar10`` reads one; default ``$ALPHANAS_CIFAR10``); ``seed``
    fixes the train/validation(/test) split and, for ``synthetic``, the data. Other options go to the
    loader: ``val_fraction``/``test_fraction`` (digits), ``val_size``/``train_limit`` (cifar10),
    ``num_classes``/``input_shape``/``n_train``/``n_val``/``n_test``/``noise`` (synthetic).
    """
    key = name.strip().lower().replace("-", "")
    if key not in _LOADERS:
        raise AlphanasError(f"unknown dataset {name!r}; available: {', '.join(names())}")
    loader = _LOADERS[key]
    if root is not None and key != "cifar10":
        raise AlphanasError(f"dataset {name!r} is built in and reads no folder; drop --data-dir")
    accepted = set(inspect.signature(loader).parameters) - {"root", "seed"}
    unknown = sorted(set(options) - accepted)
    if unknown:
        raise AlphanasError(f"dataset {name!r}: unknown option(s) {', '.join(unknown)}; it accepts "
                            f"{', '.join(sorted(accepted)) or 'none'}")
    return loader(root=root, seed=seed, **options) if key == "cifar10" else loader(seed=seed, **options)


# ---------------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------------


def _stratified_split(y: np.ndarray, fraction: float | int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(keep, held_out)``: a stratified, seeded hold-out of ``fraction`` (or that many samples)."""
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(y))
    keep, held = train_test_split(idx, test_size=fraction, stratify=y, random_state=seed)
    return np.sort(keep), np.sort(held)


def _normalise(raw_train: np.ndarray, others: list[np.ndarray]) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Standardise per channel with the training split's statistics (float32 throughout)."""
    mean = raw_train.mean(axis=(0, 2, 3), dtype=np.float64).astype(np.float32)
    std = raw_train.std(axis=(0, 2, 3), dtype=np.float64).astype(np.float32)
    std = np.where(std > 0, std, np.float32(1.0)).astype(np.float32)
    m, s = mean.reshape(1, -1, 1, 1), std.reshape(1, -1, 1, 1)
    out = [((a.astype(np.float32) - m) / s).astype(np.float32) for a in [raw_train, *others]]
    return out, mean, std


def _check_fraction(value: float, what: str) -> None:
    if not 0.0 < value < 1.0:
        raise AlphanasError(f"{what}={value}: must be a fraction strictly between 0 and 1")


# ---------------------------------------------------------------------------------------------------
# digits (scikit-learn, embedded)
# ---------------------------------------------------------------------------------------------------


def load_digits(seed: int = 0, val_fraction: float = 0.15, test_fraction: float = 0.15) -> Dataset:
    """scikit-learn's 8x8 handwritten digits (1,797 images, 10 classes), split 70/15/15 by default."""
    from sklearn.datasets import load_digits as sk_digits

    _check_fraction(val_fraction, "val_fraction")
    _check_fraction(test_fraction, "test_fraction")
    if val_fraction + test_fraction >= 1.0:
        raise AlphanasError("val_fraction + test_fraction must leave some training data (sum < 1)")
    d = sk_digits()
    x = d.images.astype(np.float32)[:, None, :, :]  # values 0..16
    y = d.target.astype(np.int64)
    rest, test = _stratified_split(y, test_fraction, seed)
    # the validation fraction is of the whole set, so rescale it to what remains
    tr, va = _stratified_split(y[rest], val_fraction / (1.0 - test_fraction), seed + 1)
    train, val = rest[tr], rest[va]
    (xt, xv, xs), mean, std = _normalise(x[train], [x[val], x[test]])
    return Dataset("digits", xt, y[train], xv, y[val], xs, y[test], 10, mean, std,
                   class_names=[str(i) for i in range(10)], default_augment="none")


# ---------------------------------------------------------------------------------------------------
# CIFAR-10 (local folder, python format)
# ---------------------------------------------------------------------------------------------------


def cifar10_root(root: str | os.PathLike | None = None) -> Path:
    """The CIFAR-10 folder: ``root``, else ``$ALPHANAS_CIFAR10``; a parent holding ``cifar-10-batches-py`` also works."""
    if root is None:
        env = os.environ.get(CIFAR10_ENV)
        if not env:
            raise AlphanasError(
                "cifar10: no data folder given; pass --data-dir DIR (or set $ALPHANAS_CIFAR10) pointing at the "
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
    train, val = _stratified_split(y, val_size, seed)
    if train_limit is not None and train_limit < len(train):
        keep, _ = _stratified_split(y[train], len(train) - train_limit, seed + 1)
        train = train[keep]
    (xt, xv, xs), mean, std = _normalise(x[train], [x[val], x_test])
    return Dataset("cifar10", xt, y[train], xv, y[val], xs, y_test, num_classes, mean, std,
                   class_names=names_, default_augment="flip_crop")


# ---------------------------------------------------------------------------------------------------
# synthetic (seeded, learnable)
# ---------------------------------------------------------------------------------------------------


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
    (xt, xv, xs), mean, std = _normalise(xt, [xv, xs])
    return Dataset("synthetic", xt, yt, xv, yv, xs, ys, num_classes, mean, std,
                   class_names=[f"class{i}" for i in range(num_classes)], default_augment="none")


_LOADERS = {"digits": load_digits, "cifar10": load_cifar10, "synthetic": load_synthetic}

__all__ = ["CIFAR10_ENV", "CIFAR10_FILES", "Dataset", "cifar10_root", "load_cifar10", "load_dataset", "load_digits",
           "load_synthetic", "names", "read_cifar10_batch"]
