"""Symbolic evaluation of shape computations at import.

Exporters write ``x.view(x.size(0), -1)`` with a dynamic batch as ``Shape -> Gather -> Unsqueeze ->
Concat -> Reshape``: the reshape target is computed at run time, so it is not a constant. The
importer evaluates such chains over *shape vectors*: small integer arrays whose entries are ints or
symbolic dimensions (the strings of :class:`~alphanas.ir.graph.Value` shapes). When the target of a
``Reshape`` is known this way, the reshape gets a static canonical target (a symbol at the position
the input has it becomes ``0``, "copy"; one other symbol becomes ``-1``), and the shape chain, no
longer used, is dropped as dead code.

:func:`evaluate` returns ``None`` whenever the result is not fully determined (a symbol compared
with a positive number, a quotient that does not divide exactly, ...); the node then stays what it is.
Sums, differences and products of symbols are kept as expressions (``2*batch``, :mod:`alphanas.ir.symbolic`).
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import numpy as np

#: the largest shape vector evaluated (shape computations are tiny; anything bigger is data)
MAX_ELEMENTS = 64


class Unknown(Exception):
    """The value depends on more than the symbols say."""


def is_symbol(d: Any) -> bool:
    return isinstance(d, str)


def has_symbols(a: np.ndarray) -> bool:
    return any(is_symbol(d) for d in a.reshape(-1))


def _elementwise(fn: Callable[[Any, Any], Any], a: np.ndarray, b: np.ndarray) -> np.ndarray:
    x, y = np.broadcast_arrays(a.astype(object), b.astype(object))
    out = np.empty(x.shape, dtype=object)
    for i in np.ndindex(x.shape):
        out[i] = fn(x[i], y[i])
    return out


def _arith(op: str) -> Callable[[Any, Any], Any]:
    ints = {"Add": operator.add, "Sub": operator.sub, "Mul": operator.mul, "Div": operator.floordiv}[op]

    def fn(p, q):
        if not is_symbol(p) and not is_symbol(q):
            return ints(int(p), int(q))
        # a symbol survives only a neutral element
        if op in ("Add", "Sub") and not is_symbol(q) and q == 0:
            return p
        if op == "Add" and not is_symbol(p) and p == 0:
            return q
        if op in ("Mul", "Div") and not is_symbol(q) and q == 1:
            return p
        if op == "Mul" and not is_symbol(p) and p == 1:
            return q
        # sizes are positive integers: sums, differences and products of them are exact expressions
        # (``2*batch`` from ``x.size(0) * heads``); a quotient only when it divides exactly
        from alphanas.ir import symbolic

        if op == "Add":
            return symbolic.add(p, q)
        if op == "Sub":
            return symbolic.add(p, symbolic.mul(q, -1))
        if op == "Mul":
            return symbolic.mul(p, q)
        d = symbolic.exact_div(p, q)
        if d is None or symbolic.is_unknown(d):
            raise Unknown(op)
        return d

    return fn


def _equal(p, q) -> bool:
    if is_symbol(p) and is_symbol(q):
        if p == q:
            return True
        raise Unknown("two symbols")
    if is_symbol(p) or is_symbol(q):
        n = q if is_symbol(p) else p
        if int(n) < 0:  # a dimension is never negative (exporters test against -1)
            return False
        raise Unknown("symbol against a number")
    return bool(p == q)


def _known(a: np.ndarray | None, what: str) -> np.ndarray:
    """``a``, which must be present (an absent input makes the value unknown)."""
    if a is None:
        raise Unknown(what)
    return a


def _ints(a: np.ndarray | None, what: str) -> list[int]:
    if a is None or has_symbols(a):
        raise Unknown(what)
    return [int(x) for x in a.reshape(-1)]


def evaluate(op: str, inputs: list[np.ndarray | None], attrs: dict[str, Any], opset: int) -> np.ndarray | None:
    """The value of default-domain op ``op`` on known inputs (object arrays; ``None``: absent
    optional input), or ``None`` when it cannot be determined."""
    if any(a is not None and a.size > MAX_ELEMENTS for a in inputs):
        return None
    try:
        result = _evaluate(op, inputs, attrs, opset)
    except (Unknown, ValueError, IndexError, TypeError):
        return None
    if result is None:
        return None
    out = np.empty(np.shape(result), dtype=object)  # (np.take of a scalar index gives a bare entry)
    out[...] = result
    return out


def _evaluate(op: str, ins: list[np.ndarray | None], attrs: dict[str, Any], opset: int) -> np.ndarray | None:
    x = ins[0] if ins else None
    if x is None:
        return None
    if op in ("Identity", "Cast"):
        if op == "Cast" and has_symbols(x) and attrs.get("to") not in (6, 7):  # int32, int64
            return None
        return x
    if op == "Gather":
        indices = np.asarray(_ints(ins[1], "indices")).reshape(np.shape(_known(ins[1], "indices")))
        return np.take(x, indices, axis=attrs.get("axis", 0))
    if op in ("Unsqueeze", "Squeeze"):
        axes = attrs.get("axes") if opset < 13 else (_ints(ins[1], "axes") if len(ins) > 1 and ins[1] is not None else None)
        if op == "Unsqueeze":
            if axes is None:
                raise Unknown("axes")
            rank = x.ndim + len(axes)
            return np.expand_dims(x, tuple(a % rank for a in axes))
        return np.squeeze(x, None if axes is None else tuple(a % x.ndim for a in axes))
    if op == "Concat":
        return np.concatenate([_known(a, "concat") for a in ins], axis=attrs["axis"])
    if op == "Slice":
        if opset < 10:
            starts, ends, axes, steps = attrs["starts"], attrs["ends"], attrs.get("axes"), None
        else:
            get = lambda i: _ints(ins[i], "slice") if len(ins) > i and ins[i] is not None else None  # noqa: E731
            starts, ends, axes, steps = get(1), get(2), get(3), get(4)
        index = [slice(None)] * x.ndim
        for k, (s, e) in enumerate(zip(starts, ends)):
            ax = (axes[k] if axes is not None else k) % x.ndim
            index[ax] = slice(s, e, steps[k] if steps is not None else 1)
        return x[tuple(index)]
    if op == "Reshape":
        target = _ints(ins[1], "target")
        if 0 in target:
            return None
        return x.reshape(target)
    if op in ("Add", "Sub", "Mul", "Div"):
        return _elementwise(_arith(op), x, _known(ins[1], op))
    if op == "Equal":
        return _elementwise(_equal, x, _known(ins[1], op))
    if op == "Where":
        if has_symbols(x):
            return None
        return np.where(x.astype(bool), _known(ins[1], "where"), _known(ins[2], "where")).astype(object)
    return None


def reshape_target(in_shape: tuple, target: list) -> list[int]:
    """A static ``Reshape`` target (``0`` = copy, ``-1`` = infer) for a target holding symbols.

    Raises :class:`Unknown` when more than one dimension would have to be inferred."""
    out: list[int] = []
    for i, d in enumerate(target):
        if not is_symbol(d):
            out.append(int(d))
        elif i < len(in_shape) and in_shape[i] == d:
            out.append(0)
        else:
            out.append(-1)
    if out.count(-1) > 1:
        raise Unknown("more than one dimension to infer")
    return out
