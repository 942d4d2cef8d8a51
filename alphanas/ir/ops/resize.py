"""Resizing: ONNX ``Resize`` (and ``Upsample``, imported as ``Resize``) in every mode (nearest with its
rounding modes, linear, cubic) and coordinate transformation, lowered exactly: per resized axis, the
source indices and weights of each output position are computed once at lowering (the arithmetic of
the ONNX reference implementation) and applied as gathers and a weighted sum."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from alphanas.ir._torch import torch

from alphanas.ir import symbolic
from alphanas.ir.opdef import OpDef, register

_ATTRS: dict[str, Any] = {
    "mode": "nearest", "coordinate_transformation_mode": "half_pixel", "nearest_mode": "round_prefer_floor",
    "cubic_coeff_a": -0.75, "exclude_outside": 0, "extrapolation_value": 0.0, "keep_aspect_ratio_policy": "stretch",
    "axes": None, "antialias": 0, "scales": None, "sizes": None, "roi": None,
}


def plan(in_shape, attrs: dict) -> tuple[list, list, list | None]:
    """(scale factor per axis, output size per axis, roi per axis as (start, end) or None) as the ONNX
    reference computes them; a symbolic input axis keeps its symbol where its scale is 1."""
    r = len(in_shape)
    axes = [a % r for a in attrs["axes"]] if attrs["axes"] is not None else list(range(r))
    scales, sizes, roi = attrs["scales"], attrs["sizes"], attrs["roi"]
    full_roi = None
    if roi:
        full_roi = [(0.0, 1.0)] * r
        for i, a in enumerate(axes):
            full_roi[a] = (float(roi[i]), float(roi[len(axes) + i]))
    if sizes is not None:
        out = list(in_shape)
        for i, a in enumerate(axes):
            out[a] = int(sizes[i])
        if any(isinstance(in_shape[a], str) for a in axes):
            raise ValueError("Resize to sizes over a symbolic axis")
        factors = [out[a] / in_shape[a] if a in axes else 1.0 for a in range(r)]
        policy = attrs["keep_aspect_ratio_policy"]
        if policy != "stretch":
            pick = min if policy == "not_larger" else max
            s = pick(factors[a] for a in axes)
            factors = [s if a in axes else 1.0 for a in range(r)]
            out = [int(s * in_shape[a] + 0.5) if a in axes else in_shape[a] for a in range(r)]
        return factors, out, full_roi
    factors = [1.0] * r
    for i, a in enumerate(axes):
        factors[a] = float(np.float32(scales[i]))
    out = []
    for d, f in zip(in_shape, factors):
        if isinstance(d, str):
            out.append(d if f == 1.0 else None)
        else:
            out.append(int(np.float32(f) * np.float32(d)))  # (the reference: float32 scales times the shape, floored)
    return factors, out, full_roi


def _coeffs(attrs: dict, ratio: float) -> list[float]:
    mode = attrs["mode"]
    if mode == "nearest":
        if ratio == 1:
            return [0.0, 1.0]
        nm = attrs["nearest_mode"]
        if nm == "round_prefer_floor":
            return [float(ratio <= 0.5), float(ratio > 0.5)]
        if nm == "round_prefer_ceil":
            return [float(ratio < 0.5), float(ratio >= 0.5)]
        return [1.0, 0.0] if nm == "floor" else [0.0, 1.0]
    if mode == "linear":
        return [1.0 - ratio, ratio]
    a = attrs["cubic_coeff_a"]
    return [((a * (ratio + 1) - 5 * a) * (ratio + 1) + 8 * a) * (ratio + 1) - 4 * a,
            ((a + 2) * ratio - (a + 3)) * ratio * ratio + 1,
            ((a + 2) * (1 - ratio) - (a + 3)) * (1 - ratio) * (1 - ratio) + 1,
            ((a * ((1 - ratio) + 1) - 5 * a) * ((1 - ratio) + 1) + 8 * a) * ((1 - ratio) + 1) - 4 * a]


def axis_table(attrs: dict, n_in: int, n_out: int, factor: float, roi: tuple | None):
    """For each output position along one axis: source indices, weights, and whether it is outside the
    crop (``tf_crop_and_resize``: the extrapolation value)."""
    ctm = attrs["coordinate_transformation_mode"]
    width = factor * n_in
    idx, wts, outside = [], [], []
    for x in range(n_out):
        if ctm == "align_corners":
            xo = 0.0 if width == 1 else x * (n_in - 1) / (width - 1)
        elif ctm == "asymmetric":
            xo = x / factor
        elif ctm == "tf_crop_and_resize":
            lo, hi = roi or (0.0, 1.0)
            xo = (hi - lo) * (n_in - 1) / 2 if width == 1 else x * (hi - lo) * (n_in - 1) / (width - 1)
            xo += lo * (n_in - 1)
        elif ctm == "pytorch_half_pixel":
            xo = -0.5 if width == 1 else (x + 0.5) / factor - 0.5
        elif ctm == "half_pixel":
            xo = (x + 0.5) / factor - 0.5
        elif ctm == "half_pixel_symmetric":
            adjustment = n_out / width
            xo = n_in / 2 * (1 - adjustment) + (x + 0.5) / factor - 0.5
        else:
            raise NotImplementedError(f"coordinate transformation {ctm!r}")
        out_of_crop = ctm == "tf_crop_and_resize" and (xo < 0 or xo > n_in - 1)
        ratio = 1.0 if float(xo).is_integer() else xo - math.floor(xo)
        c = _coeffs(attrs, ratio)
        n = len(c)
        pad = -(-n // 2)
        xp = xo + pad
        near = sorted(sorted(range(n_in + 2 * pad), key=lambda i: (abs(xp - i), i))[:n])
        src = [i - pad for i in near]
        if attrs["exclude_outside"]:
            c = [0.0 if not 0 <= s < n_in else w for s, w in zip(src, c)]
            total = sum(c)
            c = [w / total for w in c]
        idx.append([min(max(s, 0), n_in - 1) for s in src])
        wts.append(c)
        outside.append(out_of_crop)
    return idx, wts, outside


def resize_axis(x, axis: int, idx: list, wts: list, outside: list, value: float, nearest: bool):
    """Apply one axis's table: ``y[..., o, ...] = sum_k wts[o][k] * x[..., idx[o][k], ...]``."""
    index = torch.tensor(idx, dtype=torch.int64, device=x.device)
    shape = [1] * x.dim()
    shape[axis] = len(idx)
    if nearest:  # one tap carries weight 1: a pure gather, exact for every element type
        pick = torch.tensor([row[int(np.argmax(w))] for row, w in zip(idx, wts)], dtype=torch.int64, device=x.device)
        y = torch.index_select(x, axis, pick)
    else:
        w = torch.tensor(wts, dtype=torch.float64, device=x.device)
        xf = x.to(torch.float64)
        y = torch.index_select(xf, axis, index[:, 0]) * w[:, 0].reshape(shape)
        for k in range(1, index.shape[1]):
            y = y + torch.index_select(xf, axis, index[:, k]) * w[:, k].reshape(shape)
        y = y.to(x.dtype) if x.dtype.is_floating_point else torch.round(y).to(x.dtype)
    if any(outside):
        mask = torch.tensor(outside, device=x.device).reshape(shape)
        y = torch.where(mask, torch.tensor(value, dtype=y.dtype, device=x.device), y)
    return y


@register
class Resize(OpDef):
    """ONNX ``Resize`` with constant ``roi``, ``scales`` and ``sizes`` (attributes here, as ONNX spells them:
    per entry of ``axes``, or of every axis). ``Upsample`` and opset-10 ``Resize`` import as asymmetric
    resizing (nearest rounding down, as their reference repeats elements)."""

    op_type = "Resize"
    attributes = dict(_ATTRS)
    min_inputs = max_inputs = 1
    groups = frozenset()
    access = "opaque"

    def from_onnx(self, imp, inputs, attrs, opset, outputs):
        from alphanas.ir.onnx_io import NotCanonical

        def const(i):
            v = inputs[i] if len(inputs) > i else None
            if v is None:
                return None
            if not v.is_const:
                raise NotCanonical("Resize with computed roi/scales/sizes")
            a = np.asarray(v.const).reshape(-1)
            return None if a.size == 0 else a.tolist()

        canon = {k: attrs[k] for k in _ATTRS if k in attrs}
        if opset < 11:  # (Upsample as well): scales only, asymmetric
            scales = attrs.get("scales") if len(inputs) < 2 else const(1)
            mode = attrs.get("mode", "nearest")
            if mode not in ("nearest", "linear") or scales is None:
                raise NotCanonical(f"legacy resize mode {mode!r}")
            if mode == "nearest" and any(s < 1 for s in scales):
                raise NotCanonical("legacy nearest down-sampling")
            canon = {"mode": mode, "coordinate_transformation_mode": "asymmetric", "nearest_mode": "floor",
                     "scales": [float(s) for s in scales]}
        else:
            canon["roi"], canon["scales"], canon["sizes"] = const(1), const(2), const(3)
            if canon["sizes"] is not None:
                canon["sizes"] = [int(s) for s in canon["sizes"]]
            if canon["antialias"] if "antialias" in canon else 0:
                raise NotCanonical("antialiased Resize")
            if canon["scales"] is None and canon["sizes"] is None:
                raise NotCanonical("Resize without scales or sizes")
            if canon.get("coordinate_transformation_mode") != "tf_crop_and_resize":
                canon["roi"] = None
        imp.add("Resize", inputs[:1], canon, outputs)

    def infer(self, node):
        x = node.inputs[0]
        _, out, _ = plan(x.shape, node.attrs)
        return [(tuple(symbolic.fresh(node.name, i) if d is None else d for i, d in enumerate(out)), x.dtype)]

    def flops(self, node):
        taps = {"nearest": 0, "linear": 2, "cubic": 4}[node.attrs["mode"]]
        return taps * node.outputs[0].numel()

    def to_onnx(self, node, exp):
        from alphanas.errors import UnsupportedModelError

        a = node.attrs
        x = exp.name(node.inputs[0])
        legacy = (a["coordinate_transformation_mode"] == "asymmetric" and a["sizes"] is None and a["axes"] is None
                  and (a["mode"] == "linear" or a["nearest_mode"] == "floor") and a["mode"] != "cubic")
        if exp.opset < 11:
            if not legacy:
                raise UnsupportedModelError(f"node {node.name!r} (Resize): this resize needs opset 11 or newer")
            scales = np.array(a["scales"], dtype=np.float32)
            if exp.opset >= 9:
                exp.node(node, "Resize" if exp.opset == 10 else "Upsample", [x, exp.const(scales, f"{node.name}_scales")],
                         {"mode": a["mode"]})
            else:
                exp.node(node, "Upsample", [x], {"mode": a["mode"], "scales": [float(s) for s in scales]})
            return
        roi = "" if a["roi"] is None else exp.const(np.array(a["roi"], dtype=np.float32), f"{node.name}_roi")
        scales = "" if a["scales"] is None else exp.const(np.array(a["scales"], dtype=np.float32), f"{node.name}_scales")
        sizes = "" if a["sizes"] is None else exp.const(np.array(a["sizes"], dtype=np.int64), f"{node.name}_sizes")
        if exp.opset < 13:  # roi and scales were required (empty tensors when unused)
            roi = roi or exp.const(np.zeros(0, np.float32), f"{node.name}_roi")
            scales = scales or exp.const(np.zeros(0, np.float32), f"{node.name}_scales")
        ins = [x, roi, scales] + ([sizes] if sizes else [])
        attrs = {k: v for k, v in a.items() if k not in ("scales", "sizes", "roi") and (v != _ATTRS[k] or k == "mode")}
        if legacy and a["mode"] == "nearest" and "nearest_mode" not in attrs:
            attrs["nearest_mode"] = a["nearest_mode"]
        exp.node(node, "Resize", ins, attrs)

    def lower(self, node, ctx):
        x = node.inputs[0]
        a = node.attrs
        factors, out, roi = plan(x.shape, a)
        y = ctx.input(0)
        for axis, (n_in, n_out, f) in enumerate(zip(x.shape, out, factors)):
            if n_in == n_out and f == 1.0 and a["coordinate_transformation_mode"] != "tf_crop_and_resize":
                continue  # (every transformation maps an unscaled axis onto itself)
            if not isinstance(n_in, int) or not isinstance(n_out, int):
                raise NotImplementedError("resizing a symbolic axis")
            idx, wts, outside = axis_table(a, n_in, n_out, f, None if roi is None else roi[axis])
            y = ctx.call(resize_axis, y, axis, idx, wts, outside, float(a["extrapolation_value"]), a["mode"] == "nearest")
        return [y]
