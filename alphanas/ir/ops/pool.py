"""Pooling and reductions: MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool, ReduceMean/Max/Sum."""

from __future__ import annotations

from typing import Any

import numpy as np

from alphanas.ir._torch import F, lazy, torch
from alphanas.ir.opdef import OpDef, OpGroup, normalize_axis, register
from alphanas.ir.ops.linear import conv_out, known_or_fresh, torch_padding, window_attrs


class _Pool(OpDef):
    attributes = {"kernel_shape": None, "strides": None, "pads": None, "dilations": None, "ceil_mode": 0}
    groups = frozenset({OpGroup.POOL})
    access = "pool"

    def complete_attrs(self, attrs):
        out = super().complete_attrs(attrs)
        n = len(out["kernel_shape"])
        out["kernel_shape"] = list(out["kernel_shape"])
        out["strides"] = list(out["strides"] or [1] * n)
        out["dilations"] = list(out["dilations"] or [1] * n)
        out["pads"] = list(out["pads"] or [0] * (2 * n))
        return out

    def from_onnx(self, imp, inputs, attrs, opset, outputs):
        kernel = list(attrs["kernel_shape"])
        canon = {"kernel_shape": kernel, "ceil_mode": int(attrs.get("ceil_mode", 0)),
                 **window_attrs(attrs, inputs[0].shape, kernel)}
        for k in set(self.attributes) - set(canon):
            if k in attrs:
                canon[k] = attrs[k]
        imp.add(self.op_type, inputs, canon, outputs)

    def infer(self, node):
        x = node.inputs[0]
        a = node.attrs
        n = len(a["kernel_shape"])
        spatial = [conv_out(x.shape[2 + i], a["kernel_shape"][i], a["strides"][i], a["pads"][i], a["pads"][n + i],
                            a["dilations"][i], bool(a["ceil_mode"])) for i in range(n)]
        return [((*x.shape[:2], *known_or_fresh(spatial, node, 2)), x.dtype)]

    def to_onnx(self, node, exp):
        # dilations and ceil_mode are newer than the ops: written only where set, and only where they exist
        attrs = dict(node.attrs)
        if all(d == 1 for d in attrs["dilations"]) and (exp.opset < 10 or self.op_type == "AveragePool" and exp.opset < 19):
            del attrs["dilations"]
        if not attrs["ceil_mode"] and exp.opset < 10:
            del attrs["ceil_mode"]
        if self.op_type == "MaxPool" and not attrs.get("storage_order") and exp.opset < 8:
            del attrs["storage_order"]
        exp.node(node, self.op_type, [exp.name(v) for v in node.inputs], attrs)

    def flops(self, node):
        k = 1
        for d in node.attrs["kernel_shape"]:
            k *= d
        return node.outputs[0].numel() * k


@register
class MaxPool(_Pool):
    op_type = "MaxPool"
    attributes = {**_Pool.attributes, "storage_order": 0}
    synth_kinds = {"max": {}}

    def lower(self, node, ctx):
        a = node.attrs
        n = len(a["kernel_shape"])
        fn = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}[n]
        padding, spec = torch_padding(a["pads"])
        x = ctx.input(0)
        if spec is not None or any(p > k // 2 for p, k in zip(padding, a["kernel_shape"])):
            x = ctx.call(F.pad, x, spec or [p for q in reversed(padding) for p in (q, q)], value=float("-inf"))
            padding = (0,) * n
        return [ctx.call(fn, x, tuple(a["kernel_shape"]), stride=tuple(a["strides"]), padding=padding,
                         dilation=tuple(a["dilations"]), ceil_mode=bool(a["ceil_mode"]))]


def avg_pool(x, kernel, stride, pads, ceil_mode: bool, count_include_pad: bool):
    """ONNX AveragePool semantics for any (also asymmetric) padding."""
    n = len(kernel)
    fn = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}[n]
    padding, spec = torch_padding(pads)
    if spec is None and all(p <= k // 2 for p, k in zip(padding, kernel)):
        return fn(x, kernel, stride, padding, ceil_mode=ceil_mode, count_include_pad=count_include_pad)
    spec = spec or [p for q in reversed(padding) for p in (q, q)]
    xp = F.pad(x, spec)
    total = fn(xp, kernel, stride, 0, ceil_mode=ceil_mode, count_include_pad=True)
    if count_include_pad:
        return total
    ones = F.pad(torch.ones_like(x[:1, :1]), spec)
    frac = fn(ones, kernel, stride, 0, ceil_mode=ceil_mode, count_include_pad=True)
    return total / frac


def avg_pool_dilated(x, kernel, stride, pads, dilation, ceil_mode: bool, count_include_pad: bool, out):
    """ONNX AveragePool with dilations: a depthwise convolution with a dilated kernel of ones over the
    padded input, divided by the number of taps inside the input (or inside the padded input when
    ``count_include_pad``); windows a ceil-mode output adds past the padded end count only real taps."""
    n = len(kernel)
    conv = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[n]
    size = x.shape[2:]
    extra = [max(0, (out[i] - 1) * stride[i] + dilation[i] * (kernel[i] - 1) + 1 - (size[i] + pads[i] + pads[n + i]))
             for i in range(n)]
    spec = [p for i in reversed(range(n)) for p in (pads[i], pads[n + i] + extra[i])]
    c = x.shape[1]
    ones = torch.ones((c, 1, *kernel), dtype=x.dtype)
    total = conv(F.pad(x, spec), ones, stride=tuple(stride), dilation=tuple(dilation), groups=c)
    if count_include_pad:
        inner = F.pad(torch.ones((1, 1, *[size[i] + pads[i] + pads[n + i] for i in range(n)]), dtype=x.dtype),
                      [p for i in reversed(range(n)) for p in (0, extra[i])])
    else:
        inner = F.pad(torch.ones((1, 1, *size), dtype=x.dtype), spec)
    count = conv(inner, ones[:1], stride=tuple(stride), dilation=tuple(dilation))
    index = (slice(None), slice(None), *[slice(0, o) for o in out])
    return (total / count)[index]


@register
class AveragePool(_Pool):
    op_type = "AveragePool"
    attributes = {**_Pool.attributes, "count_include_pad": 0}
    synth_kinds = {"avg": {}}

    def lower(self, node, ctx):
        a = node.attrs
        if any(d != 1 for d in a["dilations"]):
            out = node.outputs[0].shape[2:]
            if not all(isinstance(d, int) for d in (*node.inputs[0].shape[2:], *out)):
                raise NotImplementedError("dilated average pooling over symbolic spatial sizes has no torch lowering")
            return [ctx.call(avg_pool_dilated, ctx.input(0), tuple(a["kernel_shape"]), tuple(a["strides"]), list(a["pads"]),
                             tuple(a["dilations"]), bool(a["ceil_mode"]), bool(a["count_include_pad"]), tuple(out))]
        return [ctx.call(avg_pool, ctx.input(0), tuple(a["kernel_shape"]), tuple(a["strides"]), list(a["pads"]),
                         bool(a["ceil_mode"]), bool(a["count_include_pad"]))]


class _GlobalPool(OpDef):
    groups = frozenset({OpGroup.GLOBAL_POOL})
    access = "global_pool"

    def infer(self, node):
        x = node.inputs[0]
        return [((*x.shape[:2], *([1] * (len(x.shape) - 2))), x.dtype)]

    def flops(self, node):
        return node.inputs[0].numel()


@register
class GlobalAveragePool(_GlobalPool):
    op_type = "GlobalAveragePool"
    synth_kinds = {"avg": {}}

    def lower(self, node, ctx):
        dims = tuple(range(2, len(node.inputs[0].shape)))
        return [ctx.call(torch.mean, ctx.input(0), dim=dims, keepdim=True)]


def _amax(x, dim, keepdim):
    return torch.amax(x, dim=dim, keepdim=keepdim)


@register
class GlobalMaxPool(_GlobalPool):
    op_type = "GlobalMaxPool"
    synth_kinds = {"max": {}}

    def lower(self, node, ctx):
        dims = tuple(range(2, len(node.inputs[0].shape)))
        return [ctx.call(_amax, ctx.input(0), dims, True)]


#: the opset from which a reduction reads its axes from an input rather than an attribute
AXES_INPUT_SINCE = {"ReduceSum": 13}


def emit_reduce(exp, node, op_type: str, x: str, axes, keepdims: int, output: str, name: str | None = None) -> str:
    """Write reduction ``op_type`` of ``x`` over ``axes`` (``None``: all) in the form valid at the export
    opset (axes an attribute before opset 18, 13 for ``ReduceSum``; an input since); returns ``output``."""
    if exp.opset < AXES_INPUT_SINCE.get(op_type, 18):
        exp.node(node, op_type, [x], {"axes": None if axes is None else list(axes), "keepdims": keepdims},
                 outputs=[output], name=name or exp.fresh(node.name))
        return output
    ins = [x]
    if axes is not None:
        ins.append(exp.const(np.array(axes, dtype=np.int64), f"{node.name}_axes"))
    exp.node(node, op_type, ins, {"keepdims": keepdims}, outputs=[output], name=name or exp.fresh(node.name))
    return output


class _Reduce(OpDef):
    """Reduction over static ``axes`` (``None`` = all axes); axes were an input from opset 18 (13 for Sum)."""

    attributes = {"axes": None, "keepdims": 1, "noop_with_empty_axes": 0}
    groups = frozenset({OpGroup.REDUCE})
    access = "reduce"
    axes_input_since = 18
    #: the torch reduction, ``fn(x, dim=..., keepdim=...)``
    torch_fn: Any = None

    def from_onnx(self, imp, inputs, attrs, opset, outputs):
        from alphanas.ir.onnx_io import NotCanonical

        axes = attrs.get("axes")
        if opset >= self.axes_input_since and len(inputs) > 1 and inputs[1] is not None:
            if not inputs[1].is_const:
                raise NotCanonical("dynamic reduction axes")
            axes = [int(a) for a in inputs[1].const.reshape(-1)]
        if axes is not None and len(axes) == 0:
            if attrs.get("noop_with_empty_axes", 0):
                imp.add("Identity", inputs[:1], {}, outputs)
                return
            axes = None
        imp.add(self.op_type, inputs[:1], {"axes": None if axes is None else list(axes),
                                           "keepdims": int(attrs.get("keepdims", 1))}, outputs)

    def to_onnx(self, node, exp):
        emit_reduce(exp, node, self.op_type, exp.name(node.inputs[0]), node.attrs["axes"], node.attrs["keepdims"],
                    node.outputs[0].name, name=node.name)

    def axes(self, node) -> list[int]:
        rank = len(node.inputs[0].shape)
        ax = node.attrs["axes"]
        return list(range(rank)) if ax is None else sorted(normalize_axis(a, rank) for a in ax)

    def infer(self, node):
        x = node.inputs[0]
        axes = self.axes(node)
        if node.attrs["keepdims"]:
            shape = tuple(1 if i in axes else d for i, d in enumerate(x.shape))
        else:
            shape = tuple(d for i, d in enumerate(x.shape) if i not in axes)
        return [(shape, x.dtype)]

    def flops(self, node):
        return node.inputs[0].numel()

    def lower(self, node, ctx):
        return [ctx.call(type(self).torch_fn, ctx.input(0), dim=tuple(self.axes(node)), keepdim=bool(node.attrs["keepdims"]))]


@register
class ReduceMean(_Reduce):
    op_type = "ReduceMean"
    torch_fn = staticmethod(lazy("torch.mean"))


@register
class ReduceSum(_Reduce):
    op_type = "ReduceSum"
    axes_input_since = 13
    torch_fn = staticmethod(lazy("torch.sum"))


def reduce_max(x, dim, keepdim: bool):
    """ONNX ReduceMax: ``torch.amax``, and over an empty set the lowest value of the type (as ONNX)."""
    import torch

    if x.numel() or not dim:
        return torch.amax(x, dim=dim, keepdim=keepdim)
    shape = [1 if i in dim or i - x.dim() in dim else d for i, d in enumerate(x.shape)]
    if not keepdim:
        shape = [d for i, d in enumerate(x.shape) if not (i in dim or i - x.dim() in dim)]
    low = False if x.dtype == torch.bool else (-float("inf") if x.dtype.is_floating_point else torch.iinfo(x.dtype).min)
    return torch.full(shape, low, dtype=x.dtype)


@register
class ReduceMax(_Reduce):
    op_type = "ReduceMax"
    torch_fn = staticmethod(reduce_max)
