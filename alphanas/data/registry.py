"""Datasets by name: :func:`load_dataset` dispatches to the loader of ``digits``, ``cifar10`` or ``synthetic``."""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable

from alphanas.data.cifar10 import load_cifar10
from alphanas.data.dataset import Dataset
from alphanas.data.digits import load_digits
from alphanas.data.synthetic import load_synthetic
from alphanas.errors import AlphanasError, ParameterError

_LOADERS: dict[str, Callable[..., Dataset]] = {"digits": load_digits, "cifar10": load_cifar10, "synthetic": load_synthetic}


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
        raise ParameterError("root", f"dataset {name!r} is built in and reads no folder; drop {{root}}")
    accepted = set(inspect.signature(loader).parameters) - {"root", "seed"}
    unknown = sorted(set(options) - accepted)
    if unknown:
        raise AlphanasError(f"dataset {name!r}: unknown option(s) {', '.join(unknown)}; it accepts "
                            f"{', '.join(sorted(accepted)) or 'none'}")
    return loader(root=root, seed=seed, **options) if key == "cifar10" else loader(seed=seed, **options)


__all__ = ["load_dataset", "names"]
