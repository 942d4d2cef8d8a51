"""Index computations and data-dependent selection: ArgMax, ArgMin, TopK, CumSum, GatherElements,
ScatterElements, ScatterND."""

from __future__ import annotations

import numpy as np
from alphanas.ir._torch import torch

from alphanas.ir.opdef import OpDef, OpGroup, normalize_axis, register


def _const_attr(inputs, i: int, what: str):
    from alphanas.ir.onnx_io import NotCanonical

    v = inputs[i] if len(inputs) > i else None
    if v is None:
        return None
    if not v.is_const:
        raise NotCanonical(f"a computed {what}")
    return np.asarray(v.const).reshape(-1).tolist()


# -- arg-max / arg-min -------------------------------------------------------------------------------


def arg_extreme(x, axis: int, keepdims: bool, last: bool, largest: bool):
    """ONNX ArgMax/ArgMin: the first (or, with ``last``, the last) index of the extreme along ``axis``."""
    fn = torch.argmax if largest else torch.argmin
    if not last:
        return fn(x, dim=axis, keepdim=keepdims)
    return x.shape[axis] - 1 - fn(torch.flip(x, (axis,)), dim=axis, keepdim=keepdims)


class _Arg(OpDef):
    attributes = {"axis": 0, "keepdims": 1, "select_last_index": 0}
    groups = frozenset({OpGroup.NONLINEAR})
    access = "opaque"
    largest = True

    def infer(self, node):
        x = node.inputs[0]
        axis = normalize_axis(node.attrs["axis"], len(x.shape))
        shape = list(x.shape)
        if node.attrs["keepdims"]:
            shape[axis] = 1
        else:
            del shape[axis]
        return [(tuple(shape), np.dtype(np.int64))]

    def to_onnx(self, node, exp):
        attrs = dict(node.attrs)
        if not attrs["select_last_index"] and exp.opset < 12:  # (the attribute exists from opset 12)
            del attrs["select_last_index"]
        exp.node(node, self.op_type, [exp.name(node.inputs[0])], attrs)

    def lower(self, node, ctx):
        axis = normalize_axis(node.attrs["axis"], len(node.inputs[0].shape))
        return [ctx.call(arg_extreme, ctx.input(0), axis, bool(node.attrs["keepdims"]),
                         bool(node.attrs["select_last_index"]), self.largest)]


@register
class ArgMax(_Arg):
    """Index of the largest element along ``axis`` (``int64``)."""

    op_type = "ArgMax"


@register
class ArgMin(_Arg):
    """Index of the smallest element along ``axis`` (``int64``)."""

    op_type = "ArgMin"
    largest = False


# -- top-k -------------------------------------------------------------------------------------------


def top_k(x, k: int, axis: int, largest: bool):
    """ONNX TopK: values and ``int64`` indices, sorted, equal values in index order (a stable sort)."""
    values, indices = torch.sort(x, dim=axis, descending=largest, stable=True)
    return values.narrow(axis, 0, k), indices.narrow(axis, 0, k)


@register
class TopK(OpDef):
    """The ``k`` largest (or smallest) elements along ``axis`` and their indices; ``k`` is a constant."""

    op_type = "TopK"
    attributes = {"k": None, "axis": -1, "largest": 1, "sorted": 1}
    groups = frozenset({OpGroup.NONLINEAR})
    access = "opaque"

    def num_outputs(self, attrs):
        return 2

    def from_onnx(self, imp, inputs, attrs, opset, outputs):
        k = attrs.get("k") if opset < 10 else _const_attr(inputs, 1, "TopK k")[0]
        imp.add("TopK", inputs[:1], {"k": int(k), "axis": attrs.get("axis", -1), "largest": attrs.get("largest", 1),
                                     "sorted": attrs.get("sorted", 1)}, outputs)

    def to_onnx(self, node, exp):
        a = node.attrs
        if exp.opset < 10:
            exp.node(node, "TopK", [exp.name(node.inputs[0])], {"k": a["k"], "axis": a["axis"]})
            return
        k = exp.const(np.array([a["k"]], dtype=np.int64), f"{node.name}_k")
        attrs = {"axis": a["axis"]} if exp.opset < 11 else {"axis": a["axis"], "largest": a["largest"], "sorted": a["sorted"]}
        exp.node(node, "TopK", [exp.name(node.inputs[0]), k], attrs)

    def infer(self, node):
        x = node.inputs[0]
        shape = list(x.shape)
        shape[normalize_axis(node.attrs["axis"], len(shape))] = node.attrs["k"]
        return [(tuple(shape), x.dtype), (tuple(shape), np.dtype(np.int64))]

    def lower(self, node, ctx):
        axis = normalize_axis(node.attrs["axis"], len(node.inputs[0].shape))
        both = ctx.call(top_k, ctx.input(0), node.attrs["k"], axis, bool(node.attrs["largest"]))
        return [ctx.getitem(both, 0), ctx.getitem(both, 1)]


# -- cumulative sum ----------------------------------------------------------------------------------


def cum_sum(x, axis: int, exclusive: bool, reverse: bool):
    """ONNX CumSum along ``axis``, optionally exclusive (shifted by one) and/or from the end."""
    y = torch.flip(x, (axis,)) if reverse else x
    out = torch.cumsum(y, dim=axis).to(x.dtype)
    if exclusive:
        out = out - y
    return torch.flip(out, (axis,)) if reverse else out


@register
class CumSum(OpDef):
    """Cumulative sum along a constant ``axis``."""

    op_type = "CumSum"
    attributes = {"axis": 0, "exclusive": 0, "reverse": 0}
    groups = frozenset()
    access = "opaque"

    def from_onnx(self, imp, inputs, attrs, opset, outputs):
        axis = _const_attr(inputs, 1, "CumSum axis")
        imp.add("CumSum", inputs[:1], {"axis": int(axis[0]), "exclusive": attrs.get("exclusive", 0),
                                       "reverse": attrs.get("reverse", 0)}, outputs)

    def to_onnx(self, node, exp):
        axis = exp.const(np.array(node.attrs["axis"], dtype=np.int64), f"{node.name}_axis")
        exp.node(node, "CumSum", [exp.name(node.inputs[0]), axis],
                 {"exclusive": node.attrs["exclusive"], "reverse": node.attrs["reverse"]})

    def lower(self, node, ctx):
        axis = normalize_axis(node.attrs["axis"], len(node.inputs[0].shape))
        return [ctx.call(cum_sum, ctx.input(0), axis, bool(node.attrs["exclusive"]), bool(node.attrs["reverse"]))]


# -- gather / scatter by element ---------------------------------------------------------------------


def wrap_index(idx, size: int):
    """Negative indices counted from the end, as ONNX allows."""
    return torch.where(idx < 0, idx + size, idx).to(torch.int64)


def gather_elements(x, idx, axis: int):
    return torch.gather(x, axis, wrap_index(idx, x.shape[axis]))


@register
class GatherElements(OpDef):
    """``out[i][j][k] = data[index[i][j][k]][j][k]`` (along ``axis``); the output has the indices' shape."""

    op_type = "GatherElements"
    attributes = {"axis": 0}
    min_inputs = max_inputs = 2
    groups = frozenset({OpGroup.SHAPE})
    access = "opaque"

    def infer(self, node):
        return [(node.inputs[1].shape, node.inputs[0].dtype)]

    def lower(self, node, ctx):
        axis = normalize_axis(node.attrs["axis"], len(node.inputs[0].shape))
        return [ctx.call(gather_elements, ctx.input(0), ctx.input(1), axis)]


_REDUCE = {"add": "sum", "mul": "prod", "max": "amax", "min": "amin"}


class _Scatter(OpDef):
    min_inputs = max_inputs = 3
    groups = frozenset({OpGroup.SHAPE})
    access = "opaque"

    def to_onnx(self, node, exp):
        attrs = dict(node.attrs)
        if attrs["reduction"] == "none" and exp.opset < 16:  # (reductions exist from opset 16)
            del attrs["reduction"]
        exp.node(node, self.op_type, [exp.name(v) for v in node.inputs], attrs)


def scatter_elements(x, idx, updates, axis: int, reduction: str):
    idx = wrap_index(idx, x.shape[axis])
    if reduction == "none":
        return torch.scatter(x, axis, idx, updates)
    return torch.scatter_reduce(x, axis, idx, updates, _REDUCE[reduction], include_self=True)


@register
class ScatterElements(_Scatter):
    """A copy of ``data`` with ``updates`` written (or reduced) at ``indices`` along ``axis``."""

    op_type = "ScatterElements"
    attributes = {"axis": 0, "reduction": "none"}

    def lower(self, node, ctx):
        axis = normalize_axis(node.attrs["axis"], len(node.inputs[0].shape))
        return [ctx.call(scatter_elements, ctx.input(0), ctx.input(1), ctx.input(2), axis, node.attrs["reduction"])]


def scatter_nd(x, idx, updates, reduction: str):
    """ONNX ScatterND: ``updates[i...]`` written (or reduced) at ``data[indices[i...]]``, in index order."""
    out = x.clone()
    k = idx.shape[-1]
    flat_idx = idx.reshape(-1, k).to(torch.int64)
    flat_upd = updates.reshape(flat_idx.shape[0], *x.shape[k:])
    for i in range(flat_idx.shape[0]):
        where = tuple(int(j) % x.shape[d] for d, j in enumerate(flat_idx[i]))
        u = flat_upd[i]
        if reduction == "none":
            out[where] = u
        elif reduction == "add":
            out[where] = out[where] + u
        elif reduction == "mul":
            out[where] = out[where] * u
        elif reduction == "max":
            out[where] = torch.maximum(out[where], u)
        else:
            out[where] = torch.minimum(out[where], u)
    return out


@register
class ScatterND(_Scatter):
    """A copy of ``data`` with slices ``updates`` written (or reduced) at the index tuples ``indices``."""

    op_type = "ScatterND"
    attributes = {"reduction": "none"}

    def lower(self, node, ctx):
        return [ctx.call(scatter_nd, ctx.input(0), ctx.input(1), ctx.input(2), node.attrs["reduction"])]
