"""Ops whose results are shapes and index ranges: Shape, Size, ConstantOfShape, Range.

Where the shapes involved are static the importer folds them into constants; these definitions are the
symbolic case (a dynamic batch, sequence or image size), lowered to torch ops that read the tensor's
size at run time. Their results' own lengths are fresh unknowns where they depend on run-time values."""

from __future__ import annotations

import numpy as np
from alphanas.ir._torch import torch
from alphanas.ir.onnx_proto import helper, numpy_helper, to_array

from alphanas.ir import symbolic
from alphanas.ir.opdef import OpDef, OpGroup, register

SHAPE = frozenset({OpGroup.SHAPE})


def shape_tensor(x, start: int, end: int | None):
    """ONNX Shape: ``x``'s sizes ``[start:end]`` as an ``int64`` vector."""
    return torch.tensor(list(x.shape)[start:end], dtype=torch.int64)


def size_tensor(x):
    """ONNX Size: ``x``'s element count as an ``int64`` scalar."""
    return torch.tensor(x.numel(), dtype=torch.int64)


@register
class Shape(OpDef):
    """The input's shape (``start``/``end`` select a slice of it, as ``Shape`` from opset 15)."""

    op_type = "Shape"
    attributes = {"start": 0, "end": None}
    groups = SHAPE
    access = "opaque"

    def infer(self, node):
        rank = len(node.inputs[0].shape)
        return [((len(range(rank)[node.attrs["start"]:node.attrs["end"]]),), np.dtype(np.int64))]

    def to_onnx(self, node, exp):
        attrs = {k: v for k, v in node.attrs.items() if v not in (None, 0)}
        if attrs and exp.opset < 15:
            from alphanas.errors import UnsupportedModelError

            raise UnsupportedModelError(f"node {node.name!r} (Shape): start/end need opset 15 or newer")
        exp.node(node, "Shape", [exp.name(node.inputs[0])], attrs)

    def lower(self, node, ctx):
        return [ctx.call(shape_tensor, ctx.input(0), node.attrs["start"], node.attrs["end"])]


@register
class Size(OpDef):
    """The input's element count (an ``int64`` scalar)."""

    op_type = "Size"
    groups = SHAPE
    access = "opaque"

    def infer(self, node):
        return [((), np.dtype(np.int64))]

    def lower(self, node, ctx):
        return [ctx.call(size_tensor, ctx.input(0))]


def constant_of_shape(shape, value: float, dtype: torch.dtype):
    """ONNX ConstantOfShape: a tensor of the run-time ``shape`` filled with ``value``."""
    return torch.full([int(d) for d in shape.tolist()], value, dtype=dtype)


@register
class ConstantOfShape(OpDef):
    """A tensor of a computed shape filled with ``value`` (of element type ``dtype``, an ONNX type number)."""

    op_type = "ConstantOfShape"
    attributes = {"value": 0.0, "dtype": 1}
    groups = SHAPE
    access = "opaque"

    def from_onnx(self, imp, inputs, attrs, opset, outputs):
        from alphanas.ir.onnx_io import NotCanonical

        value = attrs.get("value")
        if value is None:
            fill, dtype = 0.0, 1
        else:
            arr = to_array(value).reshape(-1)
            if arr.size != 1 or arr.dtype.kind not in "biuf":
                raise NotCanonical("ConstantOfShape value")
            fill, dtype = arr[0].item(), int(value.data_type)
        if inputs[0].shape is None or not isinstance(inputs[0].shape[0], int):
            raise NotCanonical("ConstantOfShape of a shape of unknown length")
        imp.add("ConstantOfShape", inputs, {"value": fill, "dtype": dtype}, outputs)

    def to_onnx(self, node, exp):
        np_dtype = helper.tensor_dtype_to_np_dtype(node.attrs["dtype"])
        value = numpy_helper.from_array(np.array([node.attrs["value"]], dtype=np_dtype))
        exp.node(node, "ConstantOfShape", [exp.name(node.inputs[0])], {"value": value})

    def infer(self, node):
        (rank,) = node.inputs[0].shape
        return [(tuple(symbolic.fresh(node.name, i) for i in range(rank)),
                 helper.tensor_dtype_to_np_dtype(node.attrs["dtype"]))]

    def lower(self, node, ctx):
        dt = torch.from_numpy(np.zeros(1, dtype=helper.tensor_dtype_to_np_dtype(node.attrs["dtype"]))).dtype
        return [ctx.call(constant_of_shape, ctx.input(0), node.attrs["value"], dt)]


def range_tensor(start, limit, delta):
    """ONNX Range: ``start + i * delta`` while below ``limit`` (above, for a negative ``delta``)."""
    s, lim, d = start.item(), limit.item(), delta.item()
    n = max(int(np.ceil((lim - s) / d)), 0)
    return start + torch.arange(n, dtype=start.dtype) * delta


@register
class Range(OpDef):
    """``start, start + delta, ...`` up to ``limit`` (scalar inputs; the length is a run-time value)."""

    op_type = "Range"
    min_inputs = max_inputs = 3
    groups = SHAPE
    access = "opaque"

    def infer(self, node):
        return [((symbolic.fresh(node.name, 0),), node.inputs[0].dtype)]

    def lower(self, node, ctx):
        return [ctx.call(range_tensor, ctx.input(0), ctx.input(1), ctx.input(2))]
