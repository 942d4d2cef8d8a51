"""Data for models with several inputs: one array per graph input, named after it.

A model such as masked attention takes ``(x, mask)``. Its data holds one array per input and split,
named ``x_<split>__<input name>`` (two underscores), all with the same number of samples N as
``y_<split>``::

    np.savez("attn.npz", x_train__x=x, x_train__mask=mask, y_train=y)   # val/test cut from train

In a :class:`~alphanas.data.Dataset` such inputs are a ``dict`` (input name -> array ``[N, ...]``)
where a single-input dataset has one array; every split has the same input names. Floating-point
inputs are standardised with their own training statistics (as a single input is); boolean and
integer inputs (masks, token ids) are kept as they are. The trainer feeds each array to the graph
input of its name.
"""

from __future__ import annotations

from typing import Union

import numpy as np

from alphanas.errors import AlphanasError

#: between the split and the input name in an array's name: ``x_train__mask``
SEPARATOR = "__"

#: a split's inputs: one array, or input name -> array
Inputs = Union[np.ndarray, dict[str, np.ndarray]]


def is_multi(x) -> bool:
    """Whether ``x`` holds several named inputs (a ``dict``) rather than one array."""
    return isinstance(x, dict)


def take(x: Inputs, index) -> Inputs:
    """Rows ``index`` (an index array or a slice) of every input of ``x``."""
    if is_multi(x):
        return {k: v[index] for k, v in x.items()}
    return x[index]


def count(x: Inputs) -> int:
    """The number of samples of ``x`` (of its first input)."""
    return len(next(iter(x.values()))) if is_multi(x) else len(x)


def sample_shapes(x: Inputs) -> dict[str, tuple[int, ...]]:
    """Input name -> the shape of one sample (``{"": shape}`` for a single array)."""
    items = x.items() if is_multi(x) else [("", x)]
    return {k: tuple(int(d) for d in np.shape(v)[1:]) for k, v in items}


def split_name(key: str) -> tuple[str, str | None]:
    """``"x_train__mask"`` -> ``("x_train", "mask")``; ``"x_train"`` -> ``("x_train", None)``."""
    head, sep, tail = key.partition(SEPARATOR)
    return (head, tail) if sep else (key, None)


def gather(source: str, where: str, found: dict[str, np.ndarray], split: str) -> Inputs | None:
    """The inputs of ``split`` among the arrays ``found`` (by name): ``x_<split>``, or the named
    ``x_<split>__<input>`` arrays as a dict; ``None`` when there are none. Both forms, an empty input
    name or named inputs of different N are one-line errors."""
    key = f"x_{split}"
    named: dict[str, np.ndarray] = {}
    for k in sorted(found):
        head, name = split_name(k)
        if head == key and name is not None:
            named[name] = found[k]
    if not named:
        return found.get(key)
    if key in found:
        raise AlphanasError(f"{source}: {where} has both {key} and {', '.join(f'{key}{SEPARATOR}{n}' for n in named)}; "
                            f"give one array {key} for a single-input model or one {key}{SEPARATOR}<input> per input")
    if "" in named:
        raise AlphanasError(f"{source}: {where} has an array {key}{SEPARATOR} with no input name after {SEPARATOR!r}")
    sizes = {n: (len(a) if np.ndim(a) else 0) for n, a in named.items()}
    first = next(iter(sizes))
    for n, size in sizes.items():
        if size != sizes[first]:
            raise AlphanasError(f"{source}: {key}{SEPARATOR}{n} has {size} samples but {key}{SEPARATOR}{first} has "
                                f"{sizes[first]}; every input of a split needs the same number of samples N")
    return named


def check_same_inputs(source: str, splits: dict[str, Inputs]) -> None:
    """Every split has one array, or every split has the same named inputs (one line naming the first
    split that differs)."""
    first_split, first = next(iter(splits.items()))
    for split, x in splits.items():
        if is_multi(x) != is_multi(first) or (is_multi(x) and set(x) != set(first)):
            def desc(s, a):
                return (", ".join(f"x_{s}{SEPARATOR}{n}" for n in a) if is_multi(a) else f"x_{s}")
            raise AlphanasError(f"{source}: the {split} split has inputs {desc(split, x)} but the {first_split} split "
                                f"has {desc(first_split, first)}; every split needs the same inputs")


def normalise_inputs(train: dict[str, np.ndarray], others: list[dict[str, np.ndarray]], normalise):
    """Per input: floating-point arrays standardised with ``normalise`` (the single-input procedure,
    training statistics of that input), boolean and integer arrays kept. Returns ``([train, *others],
    mean, std)`` with ``mean``/``std`` as input name -> per-channel statistics of the standardised
    inputs."""
    outs: list[dict[str, np.ndarray]] = [{} for _ in range(1 + len(others))]
    mean: dict[str, np.ndarray] = {}
    std: dict[str, np.ndarray] = {}
    for name, a in train.items():
        arrays = [a, *(o[name] for o in others)]
        if np.asarray(a).dtype.kind == "f":
            normed, mean[name], std[name] = normalise(np.asarray(a), [np.asarray(o) for o in arrays[1:]])
        else:
            normed = [np.asarray(o) for o in arrays]
        for out, arr in zip(outs, normed):
            out[name] = arr
    return outs, mean, std


__all__ = ["SEPARATOR", "Inputs", "check_same_inputs", "count", "gather", "is_multi", "normalise_inputs",
           "sample_shapes", "split_name", "take"]
