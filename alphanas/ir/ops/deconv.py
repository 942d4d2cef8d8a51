"""Transposed convolution (``ConvTranspose``): the gradient of a convolution with respect to its input,
as U-Nets, decoders and detection necks upsample with it."""

from __future__ import annotations

import math

from alphanas.ir._torch import F

from alphanas.ir.opdef import OpDef, WeightRole, register


def _explicit_pads(attrs: dict, x_shape, kernel, strides, dilations, output_padding) -> list[int]:
    """ONNX's pads for ``ConvTranspose``: given, or derived from ``output_shape`` / ``auto_pad`` (static
    spatial sizes only)."""
    from alphanas.ir.onnx_io import NotCanonical

    n = len(kernel)
    auto_pad = attrs.get("auto_pad", "NOTSET") or "NOTSET"
    out_shape = attrs.get("output_shape")
    if out_shape is None and auto_pad in ("NOTSET", "VALID"):
        return list(attrs.get("pads") or [0] * (2 * n)) if auto_pad == "NOTSET" else [0] * (2 * n)
    sizes = list(x_shape[2:])
    if any(isinstance(d, str) for d in sizes):
        raise NotCanonical("ConvTranspose output_shape/auto_pad over symbolic spatial sizes")
    if out_shape is None:
        out_shape = [d * s for d, s in zip(sizes, strides)]
    out_shape = list(out_shape)[-n:]
    lo, hi = [], []
    for i in range(n):
        total = strides[i] * (sizes[i] - 1) + output_padding[i] + (kernel[i] - 1) * dilations[i] + 1 - out_shape[i]
        if auto_pad == "SAME_UPPER":
            lo.append(total // 2)
            hi.append(total - total // 2)
        else:
            lo.append(total - total // 2)
            hi.append(total // 2)
    return lo + hi


def conv_transpose(x, w, b, stride, pads, dilation, output_padding, group: int):
    """ONNX ConvTranspose for any pads (negative ones too) and output padding: the full transposed
    convolution, extended by ``output_padding`` at the end, cropped by ``pads``, then the bias."""
    n = len(stride)
    fn = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}[n]
    y = fn(x, w, None, stride=tuple(stride), groups=group, dilation=tuple(dilation))
    spec: list[int] = []
    for i in reversed(range(n)):
        spec += [max(0, -pads[i]), max(0, output_padding[i] - pads[n + i])]
    if any(spec):
        y = F.pad(y, spec)
    index = [slice(None), slice(None)]
    for i in range(n):
        full = (x.shape[2 + i] - 1) * stride[i] + dilation[i] * (w.shape[2 + i] - 1) + 1
        length = full + output_padding[i] - pads[i] - pads[n + i]
        start = max(0, pads[i])
        index.append(slice(start, start + length))
    y = y[tuple(index)]
    if b is not None:
        y = y + b.reshape(1, -1, *([1] * n))
    return y


@register
class ConvTranspose(OpDef):
    """N-d transposed convolution; weight ``(C_in, C_out / group, *kernel)``; explicit ``pads`` (begins then
    ends, ``output_shape`` and ``auto_pad`` resolved at import) and ``output_padding``."""

    op_type = "ConvTranspose"
    attributes = {"kernel_shape": None, "strides": None, "pads": None, "dilations": None, "group": 1,
                  "output_padding": None}
    min_inputs, max_inputs = 2, 3
    weight_inputs = (1, 2)
    access = "opaque"

    def complete_attrs(self, attrs):
        out = super().complete_attrs(attrs)
        if out["kernel_shape"] is not None:
            n = len(out["kernel_shape"])
            out["kernel_shape"] = list(out["kernel_shape"])
            for key, fill in (("strides", 1), ("dilations", 1), ("output_padding", 0)):
                out[key] = list(out[key] or [fill] * n)
            out["pads"] = list(out["pads"] or [0] * (2 * n))
        return out

    def weight_role(self, node, index):
        return WeightRole.KERNEL if index == 1 else WeightRole.OFFSET

    def fan_in(self, node, index):
        shape = node.inputs[index].const.shape  # (C_in, C_out / group, *kernel): each output reads C_in / group
        return int(shape[0] // node.attrs["group"] * math.prod(shape[2:]))

    def from_onnx(self, imp, inputs, attrs, opset, outputs):
        x, w = inputs[0], inputs[1]
        kernel = list(attrs.get("kernel_shape") or w.shape[2:])
        n = len(kernel)
        strides = list(attrs.get("strides") or [1] * n)
        dilations = list(attrs.get("dilations") or [1] * n)
        output_padding = list(attrs.get("output_padding") or [0] * n)
        pads = _explicit_pads(attrs, x.shape, kernel, strides, dilations, output_padding)
        imp.add("ConvTranspose", inputs, {"kernel_shape": kernel, "strides": strides, "dilations": dilations,
                                          "group": int(attrs.get("group", 1)), "pads": pads,
                                          "output_padding": output_padding}, outputs)

    def infer(self, node):
        from alphanas.ir import symbolic

        x, w = node.inputs[0], node.inputs[1]
        a = node.attrs
        if a["kernel_shape"] is None:
            node.attrs = self.complete_attrs({**a, "kernel_shape": list(w.shape[2:])})
            a = node.attrs
        n = len(a["kernel_shape"])
        if len(x.shape) != n + 2:
            raise ValueError(f"input rank {len(x.shape)} does not match a {n}-d kernel")
        if isinstance(x.shape[1], int) and x.shape[1] != w.shape[0]:
            raise ValueError(f"input has {x.shape[1]} channels but the weight expects {w.shape[0]}")
        spatial = []
        for i in range(n):
            d = x.shape[2 + i]
            extra = a["output_padding"][i] + (a["kernel_shape"][i] - 1) * a["dilations"][i] + 1 - a["pads"][i] - a["pads"][n + i]
            s = a["strides"][i]
            spatial.append(s * (d - 1) + extra if isinstance(d, int) else symbolic.add(symbolic.mul(s, d), extra - s))
        return [((x.shape[0], w.shape[1] * a["group"], *spatial), x.dtype)]

    def macs(self, node):
        x, w = node.inputs[0], node.inputs[1]
        if any(not isinstance(d, int) for d in x.shape[1:]):
            return 0
        return math.prod(x.shape[1:]) * math.prod(w.shape[1:])

    def to_onnx(self, node, exp):
        attrs = dict(node.attrs)
        if not any(attrs["output_padding"]):
            del attrs["output_padding"]
        pads = attrs["pads"]
        if any(p < 0 for p in pads):  # ONNX forbids negative pads: the same crop spelled as output_shape
            from alphanas.errors import UnsupportedModelError

            n = len(pads) // 2
            out = node.outputs[0].shape[2:]
            total = [pads[i] + pads[n + i] for i in range(n)]
            if any(isinstance(d, str) for d in out):
                raise UnsupportedModelError(f"node {node.name!r} (ConvTranspose): negative pads over symbolic sizes")
            del attrs["pads"]
            attrs["output_shape"] = list(out)
            if pads != [t - t // 2 for t in total] + [t // 2 for t in total]:
                if pads != [t // 2 for t in total] + [t - t // 2 for t in total]:
                    raise UnsupportedModelError(f"node {node.name!r} (ConvTranspose): negative pads {pads} have no ONNX form")
                attrs["auto_pad"] = "SAME_UPPER"
        exp.node(node, "ConvTranspose", [exp.name(v) for v in node.inputs], attrs)

    def lower(self, node, ctx):
        a = node.attrs
        if any(isinstance(d, str) for d in node.inputs[0].shape[2:]) and any(p < 0 for p in a["pads"]):
            raise NotImplementedError("negative pads over symbolic sizes")
        return [ctx.call(conv_transpose, ctx.input(0), ctx.input(1), ctx.input(2), tuple(a["strides"]), list(a["pads"]),
                         tuple(a["dilations"]), tuple(a["output_padding"]), a["group"])]
