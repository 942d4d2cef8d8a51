"""Ops with weights that mix features: Conv (grouped, depthwise, strided, dilated, padded), Gemm, MatMul."""

from __future__ import annotations

import math
import operator


from alphanas.ir._torch import F, torch
from alphanas.ir import symbolic
from alphanas.ir.opdef import OpDef, OpGroup, WeightRole, broadcast_shapes, dim_product, register


def conv_out(size, kernel: int, stride: int, pad_lo: int, pad_hi: int, dilation: int, ceil: bool = False):
    """Output length of a sliding window; over a symbolic size, ONNX's expression
    ``floor((size + pads - span) / stride) + 1`` (the size itself only where the window keeps it), and
    a fresh unknown in ceil mode (whether the last window starts inside the input depends on the size)."""
    if isinstance(size, str):
        if ceil and stride > 1:
            return None
        return symbolic.window_length(size, kernel, stride, pad_lo, pad_hi, dilation)
    span = dilation * (kernel - 1) + 1
    num = size + pad_lo + pad_hi - span
    if num < 0:
        raise ValueError(f"window {span} larger than padded input {size + pad_lo + pad_hi}")
    out = (-(-num // stride) if ceil else num // stride) + 1
    if ceil and (out - 1) * stride >= size + pad_lo:
        out -= 1  # the last window must start inside the input or left padding
    return out


def known_or_fresh(dims, node, first_axis: int) -> list:
    """``dims`` (axes ``first_axis`` on of ``node``'s first output) with ``None`` made fresh unknowns."""
    return [symbolic.fresh(node.name, first_axis + i) if d is None else d for i, d in enumerate(dims)]


def resolve_auto_pad(auto_pad: str, sizes, kernel, strides, dilations) -> list[int]:
    """Explicit ``pads`` (begins then ends) for ONNX ``auto_pad``."""
    n = len(kernel)
    if auto_pad in ("NOTSET", "VALID", "", None):
        return [0] * (2 * n)
    lo, hi = [], []
    for size, k, s, d in zip(sizes, kernel, strides, dilations):
        if isinstance(size, str):
            raise ValueError("auto_pad SAME needs static spatial sizes")
        out = -(-size // s)
        total = max(0, (out - 1) * s + (k - 1) * d + 1 - size)
        small, big = total // 2, total - total // 2
        lo.append(small if auto_pad == "SAME_UPPER" else big)
        hi.append(big if auto_pad == "SAME_UPPER" else small)
    return lo + hi


def torch_padding(pads: list[int]):
    """(symmetric padding per spatial dim, or None) and the F.pad spec for asymmetric pads."""
    n = len(pads) // 2
    lo, hi = pads[:n], pads[n:]
    if lo == hi:
        return tuple(lo), None
    spec: list[int] = []
    for a, b in zip(reversed(lo), reversed(hi)):
        spec += [a, b]
    return (0,) * n, spec


def window_attrs(imp_attrs: dict, x_shape, kernel) -> dict:
    """Canonical strides/pads/dilations for Conv and pooling (auto_pad resolved)."""
    n = len(kernel)
    strides = list(imp_attrs.get("strides") or [1] * n)
    dilations = list(imp_attrs.get("dilations") or [1] * n)
    pads = imp_attrs.get("pads")
    auto_pad = imp_attrs.get("auto_pad", "NOTSET")
    if auto_pad not in ("NOTSET", "", None):
        pads = resolve_auto_pad(auto_pad, x_shape[2:], kernel, strides, dilations)
    return {"strides": strides, "dilations": dilations, "pads": list(pads or [0] * (2 * n))}


@register
class Conv(OpDef):
    """N-d convolution; ``group`` > 1 is grouped (``group == C_in`` is depthwise)."""

    op_type = "Conv"
    attributes = {"kernel_shape": None, "strides": None, "pads": None, "dilations": None, "group": 1}
    min_inputs, max_inputs = 2, 3
    weight_inputs = (1, 2)
    groups = frozenset({OpGroup.CONV})
    access = "conv"

    def weight_role(self, node, index):
        return WeightRole.KERNEL if index == 1 else WeightRole.OFFSET

    def complete_attrs(self, attrs):
        out = super().complete_attrs(attrs)
        k = out["kernel_shape"]
        if k is not None:
            n = len(k)
            out["kernel_shape"] = list(k)
            out["strides"] = list(out["strides"] or [1] * n)
            out["dilations"] = list(out["dilations"] or [1] * n)
            out["pads"] = list(out["pads"] or [0] * (2 * n))
        return out

    def from_onnx(self, imp, inputs, attrs, opset, outputs):
        x, w = inputs[0], inputs[1]
        kernel = list(attrs.get("kernel_shape") or w.shape[2:])
        canon = {"kernel_shape": kernel, "group": int(attrs.get("group", 1)), **window_attrs(attrs, x.shape, kernel)}
        imp.add("Conv", inputs, canon, outputs)

    def infer(self, node):
        x, w = node.inputs[0], node.inputs[1]
        a = node.attrs
        if a["kernel_shape"] is None:
            node.attrs = self.complete_attrs({**a, "kernel_shape": list(w.shape[2:])})
            a = node.attrs
        n = len(a["kernel_shape"])
        if len(x.shape) != n + 2:
            raise ValueError(f"input rank {len(x.shape)} does not match a {n}-d kernel")
        cin = x.shape[1]
        if isinstance(cin, int) and cin != w.shape[1] * a["group"]:
            raise ValueError(f"input has {cin} channels but weight expects {w.shape[1]} x group {a['group']}")
        spatial = [conv_out(x.shape[2 + i], a["kernel_shape"][i], a["strides"][i], a["pads"][i], a["pads"][n + i],
                            a["dilations"][i]) for i in range(n)]
        return [((x.shape[0], w.shape[0], *known_or_fresh(spatial, node, 2)), x.dtype)]

    def macs(self, node):
        w = node.inputs[1]
        per_out = math.prod(w.shape[1:])
        return node.outputs[0].numel() * per_out

    def flops(self, node):
        bias = node.outputs[0].numel() if len(node.inputs) > 2 and node.inputs[2] is not None else 0
        return 2 * self.macs(node) + bias

    def lower(self, node, ctx):
        a = node.attrs
        n = len(a["kernel_shape"])
        fn = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[n]
        padding, spec = torch_padding(a["pads"])
        x = ctx.input(0)
        if spec is not None:
            x = ctx.call(F.pad, x, spec)
        return [ctx.call(fn, x, ctx.input(1), ctx.input(2), stride=tuple(a["strides"]), padding=padding,
                         dilation=tuple(a["dilations"]), groups=a["group"])]


@register
class Gemm(OpDef):
    """Y = alpha * A' B' + beta * C with optional transposes (a dense layer when B, C are weights)."""

    op_type = "Gemm"
    attributes = {"alpha": 1.0, "beta": 1.0, "transA": 0, "transB": 0}
    min_inputs, max_inputs = 2, 3
    weight_inputs = (1, 2)
    groups = frozenset({OpGroup.DENSE})
    access = "gemm"

    def weight_role(self, node, index):
        return WeightRole.KERNEL if index == 1 else WeightRole.OFFSET

    def fan_in(self, node, index):
        shape = node.inputs[index].const.shape
        return shape[1] if node.attrs.get("transB", 0) else shape[0]

    def from_onnx(self, imp, inputs, attrs, opset, outputs):
        attrs = {k: v for k, v in attrs.items() if k in self.attributes}  # drops legacy `broadcast`
        imp.add("Gemm", inputs, attrs, outputs)

    def _mkn(self, node):
        a, b = node.inputs[0].shape, node.inputs[1].shape
        m, k = (a[1], a[0]) if node.attrs["transA"] else (a[0], a[1])
        kb, n = (b[1], b[0]) if node.attrs["transB"] else (b[0], b[1])
        if isinstance(k, int) and isinstance(kb, int) and k != kb:
            raise ValueError(f"inner dimensions differ: {k} vs {kb}")
        return m, k, n

    def infer(self, node):
        m, _, n = self._mkn(node)
        return [((m, n), node.inputs[0].dtype)]

    def macs(self, node):
        m, k, n = self._mkn(node)
        # a symbolic size counts as 1 here (a batch); ir.cost reports counts that depend on one as unknown
        return math.prod(d if isinstance(d, int) else 1 for d in (m, k, n))

    def lower(self, node, ctx):
        at = node.attrs
        a, b, c = ctx.input(0), ctx.input(1), ctx.input(2)
        if not at["transA"] and at["transB"] and at["alpha"] == 1.0 and at["beta"] == 1.0:
            return [ctx.call(F.linear, a, b, c)]
        if at["transA"]:
            a = ctx.method("t", a)
        if at["transB"]:
            b = ctx.method("t", b)
        y = ctx.call(torch.matmul, a, b)
        if at["alpha"] != 1.0:
            y = ctx.call(operator.mul, y, at["alpha"])
        if c is not None:
            y = ctx.call(operator.add, y, c if at["beta"] == 1.0 else ctx.call(operator.mul, c, at["beta"]))
        return [y]


@register
class MatMul(OpDef):
    """numpy-style matmul (batched, broadcasting)."""

    op_type = "MatMul"
    min_inputs = max_inputs = 2
    weight_inputs = (0, 1)
    groups = frozenset({OpGroup.DENSE})
    access = "matmul"

    def weight_role(self, node, index):
        return WeightRole.KERNEL

    def fan_in(self, node, index):
        return node.inputs[index].const.shape[-2]

    def infer(self, node):
        a, b = node.inputs[0].shape, node.inputs[1].shape
        a2 = (1, *a) if len(a) == 1 else a
        b2 = (*b, 1) if len(b) == 1 else b
        if isinstance(a2[-1], int) and isinstance(b2[-2], int) and a2[-1] != b2[-2]:
            raise ValueError(f"inner dimensions differ: {a2[-1]} vs {b2[-2]}")
        batch = broadcast_shapes(a2[:-2], b2[:-2]) if len(a2) > 2 or len(b2) > 2 else ()
        out = (*batch, a2[-2], b2[-1])
        if len(a) == 1:
            out = out[:-2] + out[-1:]
        if len(b) == 1:
            out = out[:-1]
        return [(out, node.inputs[0].dtype)]

    def param_inputs(self, node):
        return [i for i, v in enumerate(node.inputs) if v is not None and v.is_const and v.const.dtype.kind == "f"]

    def macs(self, node):
        k = node.inputs[0].shape[-1]
        out = node.outputs[0].numel()
        return out * (k if isinstance(k, int) else 1)

    def lower(self, node, ctx):
        return [ctx.call(torch.matmul, ctx.input(0), ctx.input(1))]


__all__ = ["Conv", "Gemm", "MatMul", "conv_out", "window_attrs", "torch_padding", "dim_product"]
