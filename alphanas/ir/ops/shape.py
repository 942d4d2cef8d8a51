"""Data-movement ops: Flatten, Reshape, Transpose, Concat, Split, Slice, Gather, Pad, Squeeze, Unsqueeze, Cast."""

from __future__ import annotations

import numpy as np
from alphanas.ir.onnx_proto import helper, np_dtype

from alphanas.ir._torch import F, torch
from alphanas.errors import InvalidGraphError
from alphanas.ir import symbolic
from alphanas.ir.opdef import OpDef, OpGroup, dim_product, dim_sum, normalize_axis, register

SHAPE = frozenset({OpGroup.SHAPE})


def _static_input(imp, v, what):
    from alphanas.ir.onnx_io import NotCanonical

    if v is None:
        return None
    if not v.is_const:
        raise NotCanonical(f"dynamic {what}")
    return [int(a) for a in np.asarray(v.const).reshape(-1)]


@register
class Flatten(OpDef):
    op_type = "Flatten"
    attributes = {"axis": 1}
    groups = SHAPE
    access = "reshape"

    def infer(self, node):
        x = node.inputs[0]
        rank = len(x.shape)
        axis = node.attrs["axis"] + rank if node.attrs["axis"] < 0 else node.attrs["axis"]
        if not 0 <= axis <= rank:
            raise ValueError(f"axis {node.attrs['axis']} out of range for rank {rank}")
        return [((dim_product(x.shape[:axis]), dim_product(x.shape[axis:])), x.dtype)]

    def lower(self, node, ctx):
        x = node.inputs[0]
        axis = node.attrs["axis"] + len(x.shape) if node.attrs["axis"] < 0 else node.attrs["axis"]
        if axis == 0:
            return [ctx.call(torch.reshape, ctx.input(0), (1, -1))]
        out = ctx.call(torch.flatten, ctx.input(0), axis) if axis < len(x.shape) else ctx.method("unsqueeze", ctx.input(0), -1)
        if axis > 1:
            out = ctx.call(torch.flatten, out, 0, axis - 1)
        return [out]


def reshape_target(in_shape, target, allowzero=0):
    """Resolve 0 (copy) and -1 (infer) in a reshape target, symbolic dimensions included (the inferred
    size is the exact quotient of the element counts, an expression when it involves symbols)."""
    out = [in_shape[i] if (d == 0 and not allowzero) else d for i, d in enumerate(target)]
    if -1 in out:
        known = [d for d in out if d != -1]
        if any(isinstance(d, int) and d == 0 for d in known):
            raise ValueError(f"cannot infer -1 reshaping {list(in_shape)} to {list(target)} (a zero-sized axis)")
        rest = symbolic.exact_div(dim_product(in_shape), dim_product(known))
        if rest is None or (isinstance(rest, int) and rest < 0):
            raise ValueError(f"cannot reshape {list(in_shape)} to {list(target)}")
        out[out.index(-1)] = rest
    elif all(isinstance(d, int) for d in (*in_shape, *out)) and np.prod(in_shape) != np.prod(out):
        raise ValueError(f"cannot reshape {list(in_shape)} ({int(np.prod(in_shape))} elements) to {list(target)}")
    return tuple(out)


@register
class Reshape(OpDef):
    """Reshape to a static target (``0`` copies the input dimension, ``-1`` is inferred)."""

    op_type = "Reshape"
    attributes = {"shape": None, "allowzero": 0}
    groups = SHAPE
    access = "reshape"

    def from_onnx(self, imp, inputs, attrs, opset, outputs):
        from alphanas.ir import shape_values
        from alphanas.ir.onnx_io import NotCanonical

        allowzero = int(attrs.get("allowzero", 0))
        computed = imp.shape_vector(inputs[1])  # e.g. [N, -1] from x.view(x.size(0), -1)
        if computed is None:
            target = _static_input(imp, inputs[1], "reshape target")
        else:
            try:
                if allowzero and 0 in computed:
                    raise shape_values.Unknown("allowzero")
                target = shape_values.reshape_target(inputs[0].shape, computed)
            except shape_values.Unknown as e:
                raise NotCanonical(f"computed reshape target {computed}: {e}") from None
        # a computed target holds no literal 0 (refused above): its 0s are reshape_target's copies
        imp.add("Reshape", inputs[:1], {"shape": target, "allowzero": allowzero if computed is None else 0}, outputs)

    def to_onnx(self, node, exp):
        shape = exp.const(np.array(node.attrs["shape"], dtype=np.int64), f"{node.name}_shape")
        attrs = {"allowzero": 1} if node.attrs["allowzero"] else {}
        if attrs and exp.opset < 14:
            from alphanas.errors import UnsupportedModelError

            raise UnsupportedModelError(f"node {node.name!r} (Reshape): allowzero needs opset 14 or newer")
        exp.node(node, "Reshape", [exp.name(node.inputs[0]), shape], attrs)

    def infer(self, node):
        x = node.inputs[0]
        return [(reshape_target(x.shape, node.attrs["shape"], node.attrs["allowzero"]), x.dtype)]

    def lower(self, node, ctx):
        out = node.outputs[0].shape
        syms = [i for i, d in enumerate(out) if isinstance(d, str)]
        if len(syms) <= 1:
            target = tuple(-1 if isinstance(d, str) else d for d in out)
        else:
            target = tuple(ctx.method("size", ctx.input(0), i) if d == 0 else d for i, d in enumerate(node.attrs["shape"]))
        return [ctx.call(torch.reshape, ctx.input(0), target)]


@register
class Transpose(OpDef):
    op_type = "Transpose"
    attributes = {"perm": None}
    groups = SHAPE
    access = "transpose"

    def perm(self, node):
        p = node.attrs["perm"]
        return list(range(len(node.inputs[0].shape)))[::-1] if p is None else list(p)

    def infer(self, node):
        x = node.inputs[0]
        return [(tuple(x.shape[i] for i in self.perm(node)), x.dtype)]

    def lower(self, node, ctx):
        return [ctx.method("permute", ctx.input(0), *self.perm(node))]


@register
class Concat(OpDef):
    op_type = "Concat"
    attributes = {"axis": 0}
    max_inputs = 1 << 20
    groups = SHAPE
    access = "concat"

    def infer(self, node):
        shapes = [v.shape for v in node.inputs]
        axis = normalize_axis(node.attrs["axis"], len(shapes[0]))
        for s in shapes[1:]:
            if len(s) != len(shapes[0]):
                raise ValueError(f"concat of ranks {[len(x) for x in shapes]}")
        out = list(shapes[0])
        out[axis] = dim_sum([s[axis] for s in shapes])
        return [(tuple(out), node.inputs[0].dtype)]

    def lower(self, node, ctx):
        return [ctx.call(torch.cat, [ctx.input(i) for i in range(len(node.inputs))], dim=node.attrs["axis"])]


@register
class Split(OpDef):
    """Split along ``axis`` into static sizes ``split``."""

    op_type = "Split"
    attributes = {"axis": 0, "split": None}
    groups = SHAPE
    access = "split"

    def num_outputs(self, attrs):
        return len(attrs["split"])

    def from_onnx(self, imp, inputs, attrs, opset, outputs):
        x = inputs[0]
        given = attrs.get("axis", 0)
        axis = normalize_axis(given, len(x.shape))
        split = attrs.get("split") if opset < 13 else _static_input(imp, inputs[1] if len(inputs) > 1 else None, "split sizes")
        if split is None:
            n = attrs.get("num_outputs", len(outputs))
            size = x.shape[axis]
            chunk = -(-size // n)
            split = [chunk] * (n - 1) + [size - chunk * (n - 1)]
        imp.add("Split", [x], {"axis": given, "split": list(split)}, outputs)

    def to_onnx(self, node, exp):
        if exp.opset < 13:  # the sizes were an attribute
            exp.node(node, "Split", [exp.name(node.inputs[0])], {"axis": node.attrs["axis"], "split": list(node.attrs["split"])})
            return
        split = exp.const(np.array(node.attrs["split"], dtype=np.int64), f"{node.name}_split")
        exp.node(node, "Split", [exp.name(node.inputs[0]), split], {"axis": node.attrs["axis"]})

    def infer(self, node):
        x = node.inputs[0]
        axis = normalize_axis(node.attrs["axis"], len(x.shape))
        if isinstance(x.shape[axis], int) and sum(node.attrs["split"]) != x.shape[axis]:
            raise ValueError(f"split sizes {node.attrs['split']} do not add up to {x.shape[axis]}")
        out = []
        for s in node.attrs["split"]:
            shape = list(x.shape)
            shape[axis] = s
            out.append((tuple(shape), x.dtype))
        return out

    def lower(self, node, ctx):
        parts = ctx.call(torch.split, ctx.input(0), list(node.attrs["split"]), dim=node.attrs["axis"])
        return [ctx.getitem(parts, i) for i in range(len(node.attrs["split"]))]


@register
class Slice(OpDef):
    """Static slicing: ``starts``/``ends``/``axes``/``steps`` as attributes."""

    op_type = "Slice"
    attributes = {"starts": None, "ends": None, "axes": None, "steps": None}
    groups = SHAPE
    access = "slice"

    def from_onnx(self, imp, inputs, attrs, opset, outputs):
        if opset < 10:
            starts, ends, axes, steps = attrs["starts"], attrs["ends"], attrs.get("axes"), None
        else:
            get = lambda i, w: _static_input(imp, inputs[i] if len(inputs) > i else None, w)  # noqa: E731
            starts, ends, axes, steps = get(1, "slice starts"), get(2, "slice ends"), get(3, "slice axes"), get(4, "slice steps")
        imp.add("Slice", inputs[:1], {"starts": list(starts), "ends": list(ends),
                                      "axes": None if axes is None else list(axes),
                                      "steps": None if steps is None else list(steps)}, outputs)

    def to_onnx(self, node, exp):
        a = node.attrs
        if exp.opset < 10:  # attributes, and no steps
            if a["steps"] is not None and any(s != 1 for s in a["steps"]):
                from alphanas.errors import UnsupportedModelError

                raise UnsupportedModelError(f"node {node.name!r} (Slice): steps other than 1 need opset 10 or newer")
            exp.node(node, "Slice", [exp.name(node.inputs[0])], {"starts": list(a["starts"]), "ends": list(a["ends"]),
                                                                 "axes": None if a["axes"] is None else list(a["axes"])})
            return
        ins = [exp.name(node.inputs[0])]
        for key in ("starts", "ends", "axes", "steps"):
            ins.append("" if a[key] is None else exp.const(np.array(a[key], dtype=np.int64), f"{node.name}_{key}"))
        exp.node(node, "Slice", ins, {})

    def slices(self, node):
        x = node.inputs[0]
        rank = len(x.shape)
        a = node.attrs
        axes = [normalize_axis(i, rank) for i in (a["axes"] or range(len(a["starts"])))]
        steps = a["steps"] or [1] * len(axes)
        sl = [slice(None)] * rank
        for ax, s, e, st in zip(axes, a["starts"], a["ends"], steps):
            sl[ax] = slice(s, e if abs(e) < 2**62 else (None if st > 0 else None), st)
        return sl

    def infer(self, node):
        x = node.inputs[0]
        a = node.attrs
        rank = len(x.shape)
        out = list(x.shape)
        axes = [normalize_axis(i, rank) for i in (a["axes"] or range(len(a["starts"])))]
        for ax, start, end, step in zip(axes, a["starts"], a["ends"], a["steps"] or [1] * len(axes)):
            length = symbolic.slice_length(x.shape[ax], start, end, step)
            out[ax] = symbolic.fresh(node.name, ax) if length is None else length
        return [(tuple(out), x.dtype)]

    def lower(self, node, ctx):
        import operator

        sl = self.slices(node)
        backward = {i: s for i, s in enumerate(sl) if s.step is not None and s.step < 0}
        if not backward:
            return [ctx.call(operator.getitem, ctx.input(0), tuple(sl))]
        shape = node.inputs[0].shape
        if any(not isinstance(shape[i], int) for i in backward):
            raise NotImplementedError("negative slice steps over a symbolic axis have no torch lowering")
        forward = tuple(slice(None) if i in backward else s for i, s in enumerate(sl))
        y = ctx.call(operator.getitem, ctx.input(0), forward)
        for i, s in backward.items():  # (torch slices forward only: the picked indices, gathered)
            y = ctx.call(take_indices, y, i, list(range(shape[i]))[s])
        return [y]


def take_indices(x, axis: int, indices: list[int]):
    """``x`` at the static ``indices`` along ``axis`` (a backward slice)."""
    return torch.index_select(x, axis, torch.tensor(indices, dtype=torch.int64, device=x.device))


@register
class Gather(OpDef):
    """ONNX ``Gather``: pick entries of ``data`` along ``axis`` at ``indices`` (negative ones count from
    the end). The output shape is ``data.shape[:axis] + indices.shape + data.shape[axis+1:]``; scalar
    indices (e.g. ViT's class token ``x[:, 0]``) drop the axis. A constant float ``data`` is an
    embedding table and counts as trainable parameters."""

    op_type = "Gather"
    attributes = {"axis": 0}
    min_inputs = max_inputs = 2
    weight_inputs = (0,)
    groups = SHAPE
    access = "gather"

    def param_inputs(self, node):
        return [i for i in super().param_inputs(node) if node.inputs[i].const.dtype.kind == "f"]

    def check(self, node):
        super().check(node)
        idx = node.inputs[1]
        if idx.dtype.kind not in "iu":
            raise InvalidGraphError(f"node {node.name!r} (Gather): indices must be integers, not {idx.dtype}")
        data = node.inputs[0]
        if idx.is_const and data.shape is not None:
            size = data.shape[normalize_axis(node.attrs["axis"], len(data.shape))]
            if isinstance(size, int) and idx.const.size and not (-size <= idx.const.min() and idx.const.max() < size):
                raise InvalidGraphError(f"node {node.name!r} (Gather): indices out of range for axis size {size}")

    def infer(self, node):
        data, idx = node.inputs
        axis = normalize_axis(node.attrs["axis"], len(data.shape))
        return [(tuple(data.shape[:axis]) + tuple(idx.shape) + tuple(data.shape[axis + 1:]), data.dtype)]

    def lower(self, node, ctx):
        import operator

        axis = normalize_axis(node.attrs["axis"], len(node.inputs[0].shape))
        # one tensor index at position ``axis`` is exactly Gather (torch wraps negative indices too)
        return [ctx.call(operator.getitem, ctx.input(0), (*[slice(None)] * axis, ctx.input(1)))]


_PAD_MODES = {"constant": "constant", "reflect": "reflect", "edge": "replicate", "wrap": "circular"}


@register
class Pad(OpDef):
    """Static padding: ``pads`` is [begin_0, ..., begin_n, end_0, ..., end_n] over all axes."""

    op_type = "Pad"
    attributes = {"pads": None, "mode": "constant", "value": 0.0}
    groups = SHAPE
    access = "pad"

    def from_onnx(self, imp, inputs, attrs, opset, outputs):
        x = inputs[0]
        if opset < 11:
            pads, value = list(attrs["pads"]), float(attrs.get("value", 0.0))
        else:
            pads = _static_input(imp, inputs[1], "pads")
            value_v = inputs[2] if len(inputs) > 2 else None
            if value_v is not None and not value_v.is_const:
                from alphanas.ir.onnx_io import NotCanonical

                raise NotCanonical("dynamic pad value")
            value = 0.0 if value_v is None else float(np.asarray(value_v.const).reshape(-1)[0])
            axes = _static_input(imp, inputs[3] if len(inputs) > 3 else None, "pad axes")
            if axes is not None:
                rank = len(x.shape)
                full = [0] * (2 * rank)
                for j, ax in enumerate(axes):
                    ax = normalize_axis(ax, rank)
                    full[ax], full[rank + ax] = pads[j], pads[len(axes) + j]
                pads = full
        imp.add("Pad", [x], {"pads": pads, "mode": attrs.get("mode", "constant"), "value": value}, outputs)

    def to_onnx(self, node, exp):
        x = node.inputs[0]
        if exp.opset < 11:  # pads and value were attributes
            exp.node(node, "Pad", [exp.name(x)], {"pads": list(node.attrs["pads"]), "mode": node.attrs["mode"],
                                                  "value": float(node.attrs["value"])})
            return
        pads = exp.const(np.array(node.attrs["pads"], dtype=np.int64), f"{node.name}_pads")
        ins = [exp.name(x), pads]
        if node.attrs["mode"] == "constant" and node.attrs["value"] != 0.0:
            ins.append(exp.const(np.array(node.attrs["value"], dtype=x.dtype), f"{node.name}_value"))
        exp.node(node, "Pad", ins, {"mode": node.attrs["mode"]})

    def infer(self, node):
        x = node.inputs[0]
        p = node.attrs["pads"]
        rank = len(x.shape)
        out = tuple(d + p[i] + p[rank + i] if isinstance(d, int) else symbolic.add(d, p[i], p[rank + i])
                    for i, d in enumerate(x.shape))
        return [(out, x.dtype)]

    def lower(self, node, ctx):
        x = node.inputs[0]
        p = node.attrs["pads"]
        rank = len(x.shape)
        spec: list[int] = []
        for i in reversed(range(rank)):
            spec += [p[i], p[rank + i]]
        mode = _PAD_MODES[node.attrs["mode"]]
        # torch pads the trailing axes; non-constant modes take exactly the rank-2 spatial axes
        keep = 2 if mode == "constant" else 2 * max(rank - 2, 1)
        while len(spec) > keep and spec[-1] == 0 and spec[-2] == 0:
            spec = spec[:-2]
        kwargs = {"value": node.attrs["value"]} if mode == "constant" else {}
        return [ctx.call(F.pad, ctx.input(0), spec, mode=mode, **kwargs)]


class _AxesOp(OpDef):
    attributes = {"axes": None}
    groups = SHAPE
    access = "reshape"

    def from_onnx(self, imp, inputs, attrs, opset, outputs):
        axes = attrs.get("axes") if opset < 13 else _static_input(imp, inputs[1] if len(inputs) > 1 else None, "axes")
        imp.add(self.op_type, inputs[:1], {"axes": None if axes is None else list(axes)}, outputs)

    def to_onnx(self, node, exp):
        if exp.opset < 13:  # the axes were an attribute
            axes = node.attrs["axes"]
            exp.node(node, self.op_type, [exp.name(node.inputs[0])], {"axes": None if axes is None else list(axes)})
            return
        ins = [exp.name(node.inputs[0])]
        if node.attrs["axes"] is not None:
            ins.append(exp.const(np.array(node.attrs["axes"], dtype=np.int64), f"{node.name}_axes"))
        exp.node(node, self.op_type, ins, {})

    def lower(self, node, ctx):
        shape = node.outputs[0].shape
        if sum(isinstance(d, str) for d in shape) <= 1:
            return [ctx.call(torch.reshape, ctx.input(0), tuple(-1 if isinstance(d, str) else d for d in shape))]
        # several run-time sizes: a reshape could infer only one of them; insert or drop the axes instead
        axes = node.attrs["axes"]
        return [ctx.call(squeeze_unsqueeze, ctx.input(0), self.op_type, None if axes is None else tuple(axes))]


def squeeze_unsqueeze(x, op_type: str, axes):
    """ONNX ``Squeeze``/``Unsqueeze`` on a tensor of any (run-time) shape."""
    if op_type == "Unsqueeze":
        rank = x.dim() + len(axes)
        for a in sorted(a % rank for a in axes):
            x = x.unsqueeze(a)
        return x
    if axes is None:
        return x.squeeze()
    return x.squeeze(tuple(a % x.dim() for a in axes))


@register
class Squeeze(_AxesOp):
    op_type = "Squeeze"

    def infer(self, node):
        x = node.inputs[0]
        axes = node.attrs["axes"]
        axes = [i for i, d in enumerate(x.shape) if d == 1] if axes is None else [normalize_axis(a, len(x.shape)) for a in axes]
        return [(tuple(d for i, d in enumerate(x.shape) if i not in axes), x.dtype)]


@register
class Unsqueeze(_AxesOp):
    op_type = "Unsqueeze"

    def infer(self, node):
        x = node.inputs[0]
        rank = len(x.shape) + len(node.attrs["axes"])
        axes = sorted(normalize_axis(a, rank) for a in node.attrs["axes"])
        out = list(x.shape)
        for a in axes:
            out.insert(a, 1)
        return [(tuple(out), x.dtype)]


@register
class Cast(OpDef):
    op_type = "Cast"
    attributes = {"to": 1, "saturate": 1}
    groups = frozenset({OpGroup.ELEMENTWISE, OpGroup.UNARY, OpGroup.HELPER})
    access = "unary"

    def infer(self, node):
        return [(node.inputs[0].shape, np_dtype(node.attrs["to"]))]

    def to_onnx(self, node, exp):
        # ``saturate`` (float8 targets) exists from opset 19; 1 is its default
        attrs = {"to": node.attrs["to"]}
        if exp.opset >= 19 and node.attrs["saturate"] != 1:
            attrs["saturate"] = node.attrs["saturate"]
        exp.node(node, "Cast", [exp.name(node.inputs[0])], attrs)

    def lower(self, node, ctx):
        dt = torch.from_numpy(np.zeros(1, dtype=helper.tensor_dtype_to_np_dtype(node.attrs["to"]))).dtype
        return [ctx.method("to", ctx.input(0), dt)]
