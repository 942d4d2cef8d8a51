"""User arrays as a dataset: ``npz`` (``x_train``, ``y_train`` and optional ``x_val``/``y_val``/``x_test``/``y_test``
in one ``.npz`` file or a folder of ``.npy`` files), and :func:`dataset_from_arrays`, which every
array-producing source (image folders, MNIST, CIFAR-100, plug-ins) uses to split, check and normalise.

    ds = load_dataset("npz", root="data.npz", seed=0)   # any input rank: images, sequences, tables

Missing splits are cut from the training arrays, stratified and seeded (the same procedure as
``digits``: with neither ``x_val`` nor ``x_test``, 15 % test and 15 % validation of the whole set).

``task`` says what ``y`` holds: ``classification`` (default; integer labels ``[N]``), ``multilabel``
(0/1 labels ``[N, C]``) or ``regression`` (finite numbers of any shape ``[N, ...]``); for the last two
the missing splits are cut at random (seeded, the same fractions), not stratified.

    ds = load_npz("targets.npz", seed=0, task="regression")   # y_train of shape [N, 5, 8]
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np

from alphanas.data.checks import check_splits, check_task
from alphanas.data.dataset import Dataset
from alphanas.data.inputs import SEPARATOR, Inputs, check_same_inputs, gather, is_multi, normalise_inputs, split_name, take
from alphanas.data.splits import check_fraction, normalise, stratified_split, three_way_split
from alphanas.errors import AlphanasError, ParameterError

SPLITS = ("train", "val", "test")


def _hold_out(source: str, y: np.ndarray, fraction: float, seed: int,
              stratify: bool = True) -> tuple[np.ndarray, np.ndarray]:
    try:
        return stratified_split(y, fraction, seed, stratify)
    except ValueError as e:
        raise AlphanasError(f"{source}: cannot split off a stratified {fraction:g} of {len(y)} samples "
                            f"({e}); give more samples per class or explicit val/test splits") from None


def dataset_from_arrays(name: str, arrays: dict[str, tuple[Inputs, np.ndarray]], *, seed: int = 0,
                        val_fraction: float = 0.15, test_fraction: float = 0.15, num_classes: int | None = None,
                        class_names: list[str] | None = None, default_augment: str = "none",
                        task: str = "classification") -> Dataset:
    """A :class:`Dataset` from raw ``{"train": (x, y), "val": ..., "test": ...}`` arrays (``val`` and
    ``test`` optional): checked for ``task`` (:func:`~alphanas.data.checks.check_splits`), missing splits
    cut from ``train`` (seeded by ``seed``; stratified by class for classification, random otherwise),
    normalised with training statistics. Classification labels become int64, other targets float32. ``x``
    may be a dict of named inputs (:mod:`alphanas.data.inputs`): each float input is normalised on its own."""
    if "train" not in arrays:
        raise AlphanasError(f"{name}: no training data (x_train, y_train)")
    task = check_task(task)
    if class_names is not None and num_classes is None and task == "classification":
        num_classes = len(class_names)
    k = check_splits(name, arrays, num_classes, task)
    stratify = task == "classification"
    ytype = np.int64 if stratify else np.float32
    x = arrays["train"][0] if is_multi(arrays["train"][0]) else np.asarray(arrays["train"][0])
    y = np.asarray(arrays["train"][1]).astype(ytype)
    has_val, has_test = "val" in arrays, "test" in arrays
    if not has_val and not has_test:
        try:
            tr, va, te = three_way_split(y, val_fraction, test_fraction, seed, stratify)
        except ValueError as e:
            how = "stratified by class" if stratify else "at random"
            raise AlphanasError(f"{name}: cannot split {len(y)} samples into train/validation/test {how} "
                                f"({e}); give more samples{' per class' if stratify else ''} or explicit "
                                "splits") from None
        parts = {"train": (take(x, tr), y[tr]), "val": (take(x, va), y[va]), "test": (take(x, te), y[te])}
    else:
        parts = {s: (a[0] if is_multi(a[0]) else np.asarray(a[0]), np.asarray(a[1]).astype(ytype))
                 for s, a in arrays.items()}
        missing = "test" if has_val else "val"
        fraction = test_fraction if missing == "test" else val_fraction
        check_fraction(fraction, f"{missing}_fraction")
        if missing not in arrays:
            keep, held = _hold_out(name, y, fraction, seed, stratify)
            parts["train"], parts[missing] = (take(x, keep), y[keep]), (take(x, held), y[held])
    if is_multi(x):
        (xt, xv, xs), mean, std = normalise_inputs(parts["train"][0], [parts["val"][0], parts["test"][0]], normalise)
    else:
        (xt, xv, xs), mean, std = normalise(parts["train"][0], [parts["val"][0], parts["test"][0]])
    if task == "regression":
        names_: list[str] = []
    else:
        names_ = list(class_names) if class_names else [str(i) for i in range(k)]
    return Dataset(name, xt, parts["train"][1], xv, parts["val"][1], xs, parts["test"][1], k, mean, std,
                   class_names=names_, default_augment=default_augment, task=task)


def read_arrays(root: str | os.PathLike) -> dict[str, tuple[Inputs, np.ndarray]]:
    """``{"train": (x, y), ...}`` from an ``.npz`` file or a folder of ``x_train.npy``, ``y_train.npy``, ...;
    ``x`` is a dict (input name -> array) where the data has one ``x_<split>__<input>`` array per model
    input (:mod:`alphanas.data.inputs`)."""
    path = Path(root).expanduser()
    if not path.exists():
        raise AlphanasError(f"npz: {str(path)!r} does not exist; pass an .npz file or a folder of .npy files")
    found: dict[str, np.ndarray] = {}
    if path.is_dir():
        for key in (f"{a}_{s}" for s in SPLITS for a in "xy"):
            whole = path / f"{key}.npy"
            named = sorted(path.glob(f"{key}{SEPARATOR}*.npy")) if key.startswith("x_") else []
            for f in ([whole] if whole.is_file() else []) + named:
                try:
                    found[f.stem] = np.load(f, allow_pickle=False)
                except Exception as e:
                    raise AlphanasError(f"npz: {f} is not a readable .npy array ({type(e).__name__}: "
                                        f"{' '.join(str(e).split())})") from None
        where = f"folder {str(path)!r}"
    else:
        try:
            with np.load(path, allow_pickle=False) as z:
                if not isinstance(z, np.lib.npyio.NpzFile):
                    raise ValueError("a single .npy array, not an .npz archive")
                keys = {f"{a}_{s}" for s in SPLITS for a in "xy"}
                found = {k: z[k] for k in z.files if split_name(k)[0] in keys and (k in keys or k.startswith("x_"))}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
            raise AlphanasError(f"npz: {path} is not a readable .npz archive ({type(e).__name__}: "
                                f"{' '.join(str(e).split())})") from None
        where = str(path)
    out: dict[str, tuple[Inputs, np.ndarray]] = {}
    for s in SPLITS:
        xk, yk = f"x_{s}", f"y_{s}"
        x = gather("npz", where, found, s)
        if (x is not None) != (yk in found):
            have, lack = (xk, yk) if x is not None else (yk, xk)
            raise AlphanasError(f"npz: {where} has {have} but not {lack}; give both or neither")
        if x is not None:
            out[s] = (x, found[yk])
    if "train" not in out:
        raise AlphanasError(f"npz: {where} has no x_train/y_train arrays (found: {', '.join(sorted(found)) or 'none'})")
    check_same_inputs("npz", {s: x for s, (x, _) in out.items()})
    return out


def load_npz(root: str | os.PathLike | None = None, seed: int = 0, val_fraction: float = 0.15,
             test_fraction: float = 0.15, num_classes: int | None = None, task: str = "classification") -> Dataset:
    """Arrays from an ``.npz`` file or ``.npy`` folder ``root`` (see the module docstring) as targets of
    ``task``: class indices ``0..num_classes-1`` (default: up to the largest label) for classification,
    0/1 labels ``[N, C]`` for multilabel, finite numbers ``[N, ...]`` for regression."""
    if root is None:
        raise ParameterError("root", "npz: no data given; pass {root}=FILE.npz (or a folder of x_train.npy, "
                                     "y_train.npy, ...)")
    arrays = read_arrays(root)
    return dataset_from_arrays("npz", arrays, seed=seed, val_fraction=val_fraction, test_fraction=test_fraction,
                               num_classes=num_classes, task=task)


__all__ = ["SPLITS", "dataset_from_arrays", "load_npz", "read_arrays"]
