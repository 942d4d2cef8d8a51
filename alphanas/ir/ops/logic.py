"""Comparisons, boolean logic and selection: Equal, Less, Greater, LessOrEqual, GreaterOrEqual, Not, And,
Or, Xor, Where. All broadcast as numpy does; comparisons and logic give ``bool`` tensors."""

from __future__ import annotations

from typing import Any

import numpy as np
from alphanas.ir._torch import lazy, torch

from alphanas.ir.opdef import OpDef, OpGroup, broadcast_shapes, register

#: comparisons are step functions of their operands: non-linear (for depth), zero derivative
COMPARE = frozenset({OpGroup.ELEMENTWISE, OpGroup.NONLINEAR})


class _Logical(OpDef):
    """A broadcasting op whose output is ``bool``; ``fn`` is its torch form. The access rule
    (``logical``) is the broadcasting one: each output element reads the same element of every operand
    (sound; not derivable from autograd, since the output is piecewise constant)."""

    min_inputs = max_inputs = 2
    groups = COMPARE
    access = "logical"
    fn: Any = None

    def infer(self, node):
        shapes = [v.shape for v in node.inputs]
        return [(broadcast_shapes(*shapes), np.dtype(bool))]

    def lower(self, node, ctx):
        ins = [ctx.input(i) for i in range(len(node.inputs))]
        if any(v.dtype is not None and np.dtype(v.dtype).kind == "u" and np.dtype(v.dtype).itemsize > 1
               for v in node.inputs):
            ins = [ctx.call(unsigned_order, x) for x in ins]
        return [ctx.call(type(self).fn, *ins)]


def unsigned_order(x):
    """An unsigned tensor as int64 with the same order (torch has no comparison kernels for uint16/32/64):
    the bits reinterpreted with the sign bit flipped, exact for every value."""
    return torch.bitwise_xor(x.to(torch.int64), torch.tensor(-(2 ** 63), dtype=torch.int64))


def _logical(op_type: str, fn, n: int = 2) -> type:
    return register(type(op_type, (_Logical,), {"op_type": op_type, "fn": staticmethod(fn), "min_inputs": n,
                                                 "max_inputs": n, "__doc__": f"ONNX ``{op_type}`` (``bool`` output)."}))


Equal = _logical("Equal", lazy("torch.eq"))
Less = _logical("Less", lazy("torch.lt"))
Greater = _logical("Greater", lazy("torch.gt"))
LessOrEqual = _logical("LessOrEqual", lazy("torch.le"))
GreaterOrEqual = _logical("GreaterOrEqual", lazy("torch.ge"))
Not = _logical("Not", lazy("torch.logical_not"), 1)
And = _logical("And", lazy("torch.logical_and"))
Or = _logical("Or", lazy("torch.logical_or"))
Xor = _logical("Xor", lazy("torch.logical_xor"))


@register
class Where(OpDef):
    """``x`` where ``condition`` holds, else ``y`` (all three broadcast); linear in ``x`` and ``y``."""

    op_type = "Where"
    min_inputs = max_inputs = 3
    groups = frozenset({OpGroup.ELEMENTWISE})
    access = "elementwise"

    def infer(self, node):
        c, x, y = node.inputs
        return [(broadcast_shapes(c.shape, x.shape, y.shape), x.dtype)]

    def lower(self, node, ctx):
        return [ctx.call(torch.where, ctx.input(0), ctx.input(1), ctx.input(2))]
