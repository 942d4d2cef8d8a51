"""Broadcasting and repetition of a whole tensor: Expand (numpy broadcasting to a constant shape) and
Tile (repetition a constant number of times per axis)."""

from __future__ import annotations

import numpy as np

from alphanas.ir import symbolic
from alphanas.ir.opdef import OpDef, OpGroup, broadcast_shapes, register


def _static(inputs, i: int, what: str) -> list[int]:
    from alphanas.ir.onnx_io import NotCanonical

    v = inputs[i] if len(inputs) > i else None
    if v is None or not v.is_const:
        raise NotCanonical(f"a computed {what}")
    return [int(a) for a in np.asarray(v.const).reshape(-1)]


@register
class Expand(OpDef):
    """Broadcast the input to ``shape`` (numpy rules; a 1 in ``shape`` keeps the input's size)."""

    op_type = "Expand"
    attributes = {"shape": None}
    groups = frozenset({OpGroup.SHAPE})
    access = "elementwise"

    def from_onnx(self, imp, inputs, attrs, opset, outputs):
        imp.add("Expand", inputs[:1], {"shape": _static(inputs, 1, "Expand shape")}, outputs)

    def to_onnx(self, node, exp):
        shape = exp.const(np.array(node.attrs["shape"], dtype=np.int64), f"{node.name}_shape")
        exp.node(node, "Expand", [exp.name(node.inputs[0]), shape], {})

    def infer(self, node):
        x = node.inputs[0]
        return [(broadcast_shapes(tuple(x.shape), tuple(node.attrs["shape"])), x.dtype)]

    def lower(self, node, ctx):
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
