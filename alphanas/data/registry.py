"""Datasets by name: :func:`load_dataset` dispatches to a built-in loader or a plug-in.

Built in: ``digits``, ``synthetic`` (generated, no folder), ``cifar10``, ``cifar100``, ``mnist``,
``fashion-mnist`` (standard formats in a local folder), ``imagefolder`` (one sub-folder per class)
and ``npz`` (arrays). Plug-ins come from the entry-point group ``alphanas.datasets``: each entry
point names a function ``load(root=None, seed=0, **options) -> Dataset`` (see
``examples/alphanas-dataset-example``).

``task`` (classification, multilabel, regression) reaches the sources that take other targets:
``npz`` checks and splits its ``y`` arrays for it, and so does a plug-in whose function has a ``task``
parameter. ``imagefolder`` holds class folders and refuses any other task; the other built-ins give
class labels, which the trainer checks against the task.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from importlib import metadata

from alphanas.data.arrays import load_npz
from alphanas.data.cifar10 import load_cifar10
from alphanas.data.cifar100 import load_cifar100
from alphanas.data.dataset import Dataset
from alphanas.data.digits import load_digits
from alphanas.data.idx import load_fashion_mnist, load_mnist
from alphanas.data.imagefolder import load_imagefolder
from alphanas.data.synthetic import load_synthetic
from alphanas.errors import AlphanasError, ParameterError

#: The entry-point group third-party data sources register under.
ENTRY_POINT_GROUP = "alphanas.datasets"

_LOADERS: dict[str, Callable[..., Dataset]] = {
    "digits": load_digits, "synthetic": load_synthetic, "cifar10": load_cifar10, "cifar100": load_cifar100,
    "mnist": load_mnist, "fashion-mnist": load_fashion_mnist, "imagefolder": load_imagefolder, "npz": load_npz,
}


def _key(name: str) -> str:
    return name.strip().lower().replace("_", "-").replace("fashionmnist", "fashion-mnist")


def _plugins() -> dict[str, metadata.EntryPoint]:
    return {_key(ep.name): ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}


def names() -> list[str]:
    """The dataset names :func:`load_dataset` accepts (built-ins and installed plug-ins)."""
    return sorted(set(_LOADERS) | set(_plugins()))


def _loader(name: str) -> Callable[..., Dataset]:
    key = _key(name)
    if key in _LOADERS:
        return _LOADERS[key]
    eps = _plugins()
    if key not in eps:
        raise AlphanasError(f"unknown dataset {name!r}; available: {', '.join(names())}")
    ep = eps[key]
    try:
        fn = ep.load()
    except Exception as e:
        raise AlphanasError(f"dataset plug-in {ep.name!r} ({ep.value}) of group {ENTRY_POINT_GROUP!r} failed to load: "
                            f"{type(e).__name__}: {e}; reinstall or uninstall the package that provides it") from None
    if not callable(fn):
        raise AlphanasError(f"dataset plug-in {ep.name!r} ({ep.value}) is not a function")
    return fn


def load_dataset(name: str, root: str | os.PathLike | None = None, seed: int = 0, *, task: str | None = None,
                 **options) -> Dataset:
    """Load dataset ``name`` (see :func:`names`).

    ``root`` is the data folder or file (``cifar10`` defaults to ``$ALPHANAS_CIFAR10``); ``seed``
    fixes the train/validation(/test) split and, for ``synthetic``, the data. Other options go to the
    loader, e.g. ``image_size``/``channels``/``skip_corrupt`` (imagefolder), ``val_fraction``/
    ``test_fraction`` (digits, npz, imagefolder), ``val_size`` (cifar10, cifar100, mnist),
    ``train_limit`` (cifar10), ``labels`` (cifar100: fine or coarse), ``num_classes``/``input_shape``/
    ``n_train``/``n_val``/``n_test``/``noise`` (synthetic). ``task`` says what the targets are for
    (see the module docstring; ``None``: classification).
    """
    from alphanas.data.checks import check_task

    task_ = check_task(task)
    loader = _loader(name)
    params = inspect.signature(loader).parameters
    if task_ != "classification":
        if _key(name) == "imagefolder":
            raise ParameterError("task", f"dataset 'imagefolder' holds one folder per class, for classification only; "
                                 f"for {{task}} {task_} give the targets as arrays ({{dataset}} npz) or through an "
                                 "alphanas.datasets plug-in", others=("dataset",))

    takes_kwargs = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    if root is not None and "root" not in params and not takes_kwargs:
        raise ParameterError("root", f"dataset {name!r} is built in and reads no folder; drop {{root}}")
    accepted = set(params) - {"root", "seed", "task"}
    unknown = sorted(set(options) - accepted) if not takes_kwargs else []
    if unknown:
        raise ParameterError(unknown[0], f"dataset {name!r}: unknown option(s) "
                             + ", ".join("{" + u + "}" for u in unknown)
                             + f"; it accepts {', '.join(sorted(accepted)) or 'none'}", others=tuple(unknown[1:]))
    kwargs = dict(options, seed=seed)
    if task_ != "classification" and "task" in params:
        kwargs["task"] = task_
    if "root" in params or takes_kwargs:
        kwargs["root"] = root
    ds = loader(**kwargs)
    if not all(hasattr(ds, a) for a in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test", "num_classes")):
        raise AlphanasError(f"dataset {name!r}: its loader returned {type(ds).__name__}, not an alphanas.data.Dataset")
    return ds


__all__ = ["ENTRY_POINT_GROUP", "load_dataset", "names"]
