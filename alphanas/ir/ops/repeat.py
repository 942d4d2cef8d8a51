"""Broadcasting and repetition of a whole tensor: Expand (numpy broadcasting to a constant shape) and
Tile (repetition a constant number of times per axis)."""

from __future__ import annotations

import numpy as np

from alphanas.ir import symbolic
from alphanas.ir._torch import torch
from alphanas.ir.opdef import OpDef, OpGroup, broadcast_shapes, register


def _static(inputs, i: int, what: str) -> list[int]:
    from alphanas.ir.onnx_io import NotCanonical

    v = inputs[i] if len(inputs) > i else None
    if v is None or not v.is_const:
        raise NotCanonical(f"a computed {what}")
    return [int(a) for a in np.asarray(v.const).reshape(-1)]


def expand_to(x, shape):
    """ONNX Expand to a run-time ``shape`` (an int64 tensor): numpy broadcasting of ``x``'s shape and it."""
    return x.expand(torch.broadcast_shapes(tuple(x.shape), tuple(int(d) for d in shape.tolist())))


@register
class Expand(OpDef):
    """Broadcast the input to ``shape`` (numpy rules; a 1 in ``shape`` keeps the input's size). A target shape
    computed at run time (e.g. ``Concat([1], Shape(x)[:1], [6])`` for a zero state of a dynamic batch) stays
    input 1; ``shape`` then holds what the importer knows of it (ints and symbolic sizes), or ``None``."""

    op_type = "Expand"
    attributes = {"shape": None}
    groups = frozenset({OpGroup.SHAPE})
    access = "elementwise"
    max_inputs = 2

    def from_onnx(self, imp, inputs, attrs, opset, outputs):
        from alphanas.ir.onnx_io import NotCanonical

        target = inputs[1] if len(inputs) > 1 else None
        if target is not None and not target.is_const:  # computed at run time: kept as an input
            if target.shape is None or len(target.shape) != 1 or not isinstance(target.shape[0], int):
                raise NotCanonical("Expand to a shape of unknown length")
            known = imp.shape_vector(target)
            imp.add("Expand", inputs[:2], {"shape": None if known is None else
                                           [d if isinstance(d, str) else int(d) for d in known]}, outputs)
            return
        imp.add("Expand", inputs[:1], {"shape": _static(inputs, 1, "Expand shape")}, outputs)

    def to_onnx(self, node, exp):
        if len(node.inputs) > 1:
            exp.node(node, "Expand", [exp.name(node.inputs[0]), exp.name(node.inputs[1])], {})
            return
        shape = exp.const(np.array(node.attrs["shape"], dtype=np.int64), f"{node.name}_shape")
        exp.node(node, "Expand", [exp.name(node.inputs[0]), shape], {})

    def infer(self, node):
        x = node.inputs[0]
        target = node.attrs["shape"]
        if target is None:  # a computed shape nothing is known of: its length only
            (rank,) = node.inputs[1].shape
            target = [symbolic.fresh(node.name, i) for i in range(rank)]
            lead = max(0, len(x.shape) - rank)
            out = list(x.shape[:lead])
            for i, t in enumerate(target):
                k = i - (rank - len(x.shape)) if rank >= len(x.shape) else lead + i
                d = x.shape[k] if 0 <= k < len(x.shape) else 1
                out.append(d if isinstance(d, int) and d != 1 else t)
            return [(tuple(out), x.dtype)]
        return [(broadcast_shapes(tuple(x.shape), tuple(target)), x.dtype)]

    def lower(self, node, ctx):
        if len(node.inputs) > 1:
            return [ctx.call(expand_to, ctx.input(0), ctx.input(1))]
        x, out = node.inputs[0].shape, node.outputs[0].shape
        lead = len(out) - len(x)
        target = []
        for i, d in enumerate(out):
            if isinstance(d, int):
                target.append(d)
            elif i >= lead and x[i - lead] == d:
                target.append(-1)  # (the input's own symbolic size)
            else:
                raise NotImplementedError(f"expanding to the symbolic size {d!r}")
        return [ctx.method("expand", ctx.input(0), *target)]


@register
class Tile(OpDef):
    """Repeat the input ``repeats[i]`` times along axis ``i``."""

    op_type = "Tile"
    attributes = {"repeats": None}
    groups = frozenset({OpGroup.SHAPE})
    access = "opaque"

    def from_onnx(self, imp, inputs, attrs, opset, outputs):
        imp.add("Tile", inputs[:1], {"repeats": _static(inputs, 1, "Tile repeats")}, outputs)

    def to_onnx(self, node, exp):
        reps = exp.const(np.array(node.attrs["repeats"], dtype=np.int64), f"{node.name}_repeats")
        exp.node(node, "Tile", [exp.name(node.inputs[0]), reps], {})

    def infer(self, node):
        x = node.inputs[0]
        reps = node.attrs["repeats"]
        if len(reps) != len(x.shape):
            raise ValueError(f"{len(reps)} repeats for a rank-{len(x.shape)} input")
        return [(tuple(d * r if isinstance(d, int) else (d if r == 1 else symbolic.mul(r, d))
                      for d, r in zip(x.shape, reps)), x.dtype)]

    def lower(self, node, ctx):
        return [ctx.method("repeat", ctx.input(0), *node.attrs["repeats"])]
