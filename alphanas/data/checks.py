"""Checks of user data before anything trains on it: splits whose shapes disagree, labels out of range,
targets that do not suit the task, NaN or infinite values. Each failure is one
:class:`~alphanas.errors.AlphanasError` line naming the source, the split and the first offending sample."""

from __future__ import annotations

import numpy as np

from alphanas.errors import AlphanasError

#: the tasks whose targets the data sources check (their losses and metrics live in ``alphanas.train.tasks``)
TASKS = ("classification", "multilabel", "regression")


def check_task(task: str | None) -> str:
    """``task`` normalised (``None``: classification); an unknown task is one line listing the known ones."""
    key = (task or "classification").strip().lower().replace("-", "").replace("_", "")
    key = {"multilabelclassification": "multilabel", "classify": "classification"}.get(key, key)
    if key not in TASKS:
        raise AlphanasError(f"unknown task {task!r}; use one of {', '.join(TASKS)}")
    return key


def _first_bad(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask.reshape(len(mask), -1).any(axis=1))[0])


def _check_targets(source: str, split: str, y: np.ndarray, task: str) -> None:
    """``y`` suits ``task``: integer labels ``[N]``, 0/1 labels ``[N, C]`` or finite numbers ``[N, ...]``."""
    if task == "classification":
        if y.ndim != 1:
            raise AlphanasError(f"{source}: y_{split} has shape {list(y.shape)}; labels must be one integer class per "
                                "sample, shape [N] (for other targets pass task multilabel or regression)")
        if y.dtype.kind == "f":
            if not np.all(np.isfinite(y)) or not np.array_equal(y, np.round(y)):
                bad = int(np.flatnonzero(~np.isfinite(y) | (y != np.round(y)))[0])
                raise AlphanasError(f"{source}: y_{split}[{bad}] = {y[bad]} is not an integer class label")
        elif y.dtype.kind not in "biu":
            raise AlphanasError(f"{source}: y_{split} has dtype {y.dtype}; labels must be integers")
        return
    if y.dtype.kind not in "biuf":
        raise AlphanasError(f"{source}: y_{split} has dtype {y.dtype}; {task} targets must be numbers")
    if y.dtype.kind == "f" and not np.isfinite(y).all():
        bad = _first_bad(~np.isfinite(y))
        what = "NaN" if np.isnan(y[bad]).any() else "infinite"
        raise AlphanasError(f"{source}: y_{split}[{bad}] holds {what} values ({int((~np.isfinite(y)).sum())} value(s) "
                            "of this split do); remove or impute them")
    if task == "multilabel":
        if y.ndim != 2:
            raise AlphanasError(f"{source}: y_{split} has shape {list(y.shape)}; multilabel targets must be 0/1 per "
                                "label, shape [N, labels]")
        off = (y != 0) & (y != 1)
        if off.any():
            bad = _first_bad(off)
            raise AlphanasError(f"{source}: y_{split}[{bad}] holds {y[bad][off[bad]][0]}; multilabel targets must be "
                                "0 or 1")


def check_pair(source: str, split: str, x: np.ndarray, y: np.ndarray, task: str = "classification",
               input_name: str | None = None) -> None:
    """``x`` (``[N, ...]`` numbers) and ``y`` (the ``task``'s targets: ``[N]`` integer labels, ``[N, C]``
    0/1 labels or ``[N, ...]`` numbers) of one split fit together and are finite; ``input_name``: ``x``
    is that input of a multi-input split (named ``x_<split>__<input>`` in the messages)."""
    task = check_task(task)
    xn = f"x_{split}" if input_name is None else f"x_{split}__{input_name}"
    if x.ndim < 1:
        raise AlphanasError(f"{source}: {xn} is a scalar; it must be an array [N, ...] of N samples")
    if y.ndim < 1:
        raise AlphanasError(f"{source}: y_{split} is a scalar; it must be an array [N, ...] of N targets")
    _check_targets(source, split, y, task)
    if x.shape[0] != y.shape[0]:
        raise AlphanasError(f"{source}: {xn} has {x.shape[0]} samples but y_{split} has {y.shape[0]} labels; "
                            "they must have the same first dimension")
    if x.shape[0] == 0:
        raise AlphanasError(f"{source}: the {split} split is empty")
    if x.dtype.kind not in "biuf":
        raise AlphanasError(f"{source}: {xn} has dtype {x.dtype}; inputs must be numbers")
    if x.dtype.kind == "f":
        finite = np.isfinite(x.reshape(len(x), -1)).all(axis=1)
        if not finite.all():
            bad = int(np.flatnonzero(~finite)[0])
            what = "NaN" if np.isnan(x[bad]).any() else "infinite"
            raise AlphanasError(f"{source}: {xn}[{bad}] holds {what} values ({int((~finite).sum())} sample(s) "
                                "of this split do); remove or impute them")


def check_splits(source: str, splits: dict[str, tuple[np.ndarray, np.ndarray]],
                 num_classes: int | None = None, task: str = "classification") -> int:
    """Check every split (see :func:`check_pair`), that all splits have the same sample (and target)
    shape, and, for classification, that labels lie in ``0..num_classes-1`` (default: ``0..max label``,
    every split counted); returns the number of classes (multilabel: labels per sample; regression: 0)."""
    task = check_task(task)
    shape = tshape = None
    first = ""
    for name, (xs, y) in splits.items():
        named = xs.items() if isinstance(xs, dict) else [(None, xs)]
        for input_name, x in named:
            check_pair(source, name, np.asarray(x), y, task, input_name)
        shapes = {n: tuple(np.shape(x)[1:]) for n, x in named}
        if shape is None:
            shape, tshape, first = shapes, y.shape[1:], name
            continue
        for n, s in shapes.items():
            if n in shape and s != shape[n]:
                sfx = "" if n is None else f"__{n}"
                raise AlphanasError(f"{source}: x_{name}{sfx} samples have shape {list(s)} but x_{first}{sfx} samples "
                                    f"have {list(shape[n])}; every split needs the same sample shape")
        if y.shape[1:] != tshape:
            raise AlphanasError(f"{source}: y_{name} targets have shape {list(y.shape[1:])} but y_{first} targets "
                                f"have {list(tshape)}; every split needs the same target shape")
    if task == "regression":
        return 0
    if task == "multilabel":
        labels = int(tshape[0]) if tshape else 0
        if num_classes is not None and int(num_classes) != labels:
            raise AlphanasError(f"{source}: y_{first} has {labels} labels per sample but {num_classes} were asked for")
        if labels < 1:
            raise AlphanasError(f"{source}: y_{first} has no labels (shape [N, 0]); multilabel needs at least 1")
        return labels
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


__all__ = ["TASKS", "check_pair", "check_splits", "check_task"]
