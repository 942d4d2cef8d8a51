"""Element-wise ops: activations, arithmetic with broadcasting, softmax, clip, identity, dropout."""

from __future__ import annotations

import math
import operator
from typing import Any

import numpy as np
from alphanas.ir.onnx_proto import helper

from alphanas.ir._torch import F, lazy, nn, torch
from alphanas.ir.opdef import OpDef, OpGroup, WeightRole, broadcast_shapes, normalize_axis, register

#: the groups of an element-wise function of one input, of a non-linear one, and of an activation
UNARY = frozenset({OpGroup.ELEMENTWISE, OpGroup.UNARY})
NONLINEAR_UNARY = UNARY | {OpGroup.NONLINEAR}
ACTIVATION = NONLINEAR_UNARY | {OpGroup.ACTIVATION}


class Unary(OpDef):
    """An element-wise op of one input; ``fn(x, **torch_kwargs(attrs))`` is its torch form."""

    groups = NONLINEAR_UNARY
    access = "unary"
    fn: Any = None

    def torch_kwargs(self, attrs: dict) -> dict:
        return {}

    def lower(self, node, ctx):
        return [ctx.call(type(self).fn, ctx.input(0), **self.torch_kwargs(node.attrs))]


def _unary(op_type: str, fn, groups: frozenset[OpGroup] = NONLINEAR_UNARY, attributes: dict | None = None, kwargs=None,
           synth: dict[str, dict] | None = None, synth_order: int = 100, to_onnx=None) -> type:
    body: dict[str, Any] = {"op_type": op_type, "fn": staticmethod(fn), "groups": groups, "attributes": attributes or {},
                            "synth_kinds": synth or {}, "synth_order": synth_order}
    if kwargs is not None:
        body["torch_kwargs"] = lambda self, attrs: kwargs(attrs)
    if to_onnx is not None:
        body["to_onnx"] = to_onnx
    return register(type(op_type, (Unary,), body))


def _gelu_to_onnx(self, node, exp):
    """``Gelu`` from opset 20; before it, its formula (``Erf`` or the tanh approximation)."""
    x = exp.name(node.inputs[0])
    approximate = node.attrs["approximate"]
    if exp.opset >= 20:
        exp.node(node, "Gelu", [x], {"approximate": approximate})
        return
    dtype = node.inputs[0].dtype

    def c(value, what):
        return exp.const(np.array(value, dtype=dtype), f"{node.name}_{what}")

    def step(op, ins, what):
        out = exp.fresh(f"{node.name}_{what}")
        exp.node(node, op, ins, {}, outputs=[out], name=exp.fresh(node.name))
        return out

    if approximate == "tanh":  # 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
        cube = step("Mul", [step("Mul", [x, x], "sq"), x], "cube")
        inner = step("Add", [x, step("Mul", [cube, c(0.044715, "k")], "kcube")], "inner")
        core = step("Tanh", [step("Mul", [inner, c(math.sqrt(2 / math.pi), "s")], "scaled")], "tanh")
    else:  # 0.5 x (1 + erf(x / sqrt 2))
        core = step("Erf", [step("Div", [x, c(math.sqrt(2.0), "sqrt2")], "scaled")], "erf")
    half = step("Mul", [x, c(0.5, "half")], "half")
    exp.node(node, "Mul", [half, step("Add", [core, c(1.0, "one")], "onep")], {})


# (synth_order: the synthesizer's default activations are relu, gelu, swish, sigmoid, tanh, relu6)
Relu = _unary("Relu", lazy("torch.relu"), ACTIVATION, synth={"relu": {}}, synth_order=0)
Sigmoid = _unary("Sigmoid", lazy("torch.sigmoid"), ACTIVATION, synth={"sigmoid": {}}, synth_order=3)
Tanh = _unary("Tanh", lazy("torch.tanh"), ACTIVATION, synth={"tanh": {}}, synth_order=4)
Gelu = _unary("Gelu", lazy("torch.nn.functional.gelu"), ACTIVATION, attributes={"approximate": "none"},
              kwargs=lambda a: {"approximate": a["approximate"]},
              synth={"gelu": {"approximate": "none"}}, synth_order=1, to_onnx=_gelu_to_onnx)
LeakyRelu = _unary("LeakyRelu", lazy("torch.nn.functional.leaky_relu"), ACTIVATION, attributes={"alpha": 0.01},
                   kwargs=lambda a: {"negative_slope": a["alpha"]})
Elu = _unary("Elu", lazy("torch.nn.functional.elu"), ACTIVATION, attributes={"alpha": 1.0},
             kwargs=lambda a: {"alpha": a["alpha"]})
Softplus = _unary("Softplus", lazy("torch.nn.functional.softplus"), ACTIVATION)
Exp = _unary("Exp", lazy("torch.exp"))
Log = _unary("Log", lazy("torch.log"))
Sqrt = _unary("Sqrt", lazy("torch.sqrt"))
Erf = _unary("Erf", lazy("torch.erf"))
Reciprocal = _unary("Reciprocal", lazy("torch.reciprocal"))
Neg = _unary("Neg", lazy("torch.neg"), UNARY)
Abs = _unary("Abs", lazy("torch.abs"))


def _hard_sigmoid(x, alpha: float, beta: float):
    return torch.clamp(alpha * x + beta, 0.0, 1.0)


HardSigmoid = _unary("HardSigmoid", _hard_sigmoid, ACTIVATION, attributes={"alpha": 0.2, "beta": 0.5},
                     kwargs=lambda a: {"alpha": a["alpha"], "beta": a["beta"]})


def swish(x, alpha: float = 1.0):
    """x * sigmoid(alpha * x) (SiLU when alpha is 1)."""
    return F.silu(x) if alpha == 1.0 else x * torch.sigmoid(alpha * x)


@register
class Swish(Unary):
    """Swish/SiLU. ONNX has it only from opset 24, so it is exported as a model-local function."""

    op_type = "Swish"
    attributes = {"alpha": 1.0}
    groups = ACTIVATION
    synth_kinds = {"swish": {"alpha": 1.0}}
    synth_order = 2
    fn = staticmethod(swish)

    def torch_kwargs(self, attrs):
        return {"alpha": attrs["alpha"]}

    def from_onnx(self, imp, inputs, attrs, opset, outputs):
        imp.add("Swish", inputs, {"alpha": float(attrs.get("alpha", 1.0))}, outputs)

    def to_onnx(self, node, exp):
        from alphanas.ir.onnx_io import ALPHANAS_DOMAIN

        x = exp.name(node.inputs[0])
        alpha = float(node.attrs["alpha"])
        if exp.opset >= 24:
            exp.node(node, "Swish", [x], {"alpha": alpha})
            return
        if exp.opset < 12:  # no float attribute on Constant to refer to: written out inline
            ax = x
            if alpha != 1.0:
                ax = exp.fresh(f"{node.name}_ax")
                exp.node(node, "Mul", [x, exp.const(np.array(alpha, dtype=node.inputs[0].dtype), f"{node.name}_alpha")],
                         {}, outputs=[ax], name=exp.fresh(node.name))
            s = exp.fresh(f"{node.name}_sigmoid")
            exp.node(node, "Sigmoid", [ax], {}, outputs=[s], name=exp.fresh(node.name))
            exp.node(node, "Mul", [x, s], {})
            return
        body = [
            helper.make_node("Mul", ["X", "alpha_t"], ["ax"]),
            helper.make_node("Sigmoid", ["ax"], ["s"]),
            helper.make_node("Mul", ["X", "s"], ["Y"]),
        ]
        alpha_const = helper.make_node("Constant", [], ["alpha_t"], value_float=1.0)
        alpha_const.attribute[0].ref_attr_name = "alpha"
        exp.function(helper.make_function(ALPHANAS_DOMAIN, "Swish", ["X"], ["Y"], [alpha_const] + body,
                                          [helper.make_opsetid("", exp.opset)], attributes=["alpha"]))
        exp.node(node, "Swish", [x], {"alpha": alpha}, domain=ALPHANAS_DOMAIN)


@register
class Softmax(OpDef):
    op_type = "Softmax"
    attributes = {"axis": -1}
    groups = frozenset({OpGroup.NONLINEAR})
    access = "softmax"

    def from_onnx(self, imp, inputs, attrs, opset, outputs):
        x = inputs[0]
        axis = attrs.get("axis", 1 if opset < 13 else -1)
        if opset < 13 and x.shape is not None:
            # Before opset 13, softmax coerced the input to 2-D at ``axis``.
            rank = len(x.shape)
            axis = normalize_axis(axis, rank)
            if axis != rank - 1:
                from alphanas.ir.onnx_io import NotCanonical

                target = [d if isinstance(d, int) else -1 for d in x.shape]
                if target.count(-1) > 1:
                    raise NotCanonical("legacy softmax over an input with several symbolic dimensions")
                flat = imp.add("Flatten", [x], {"axis": axis}, 1)[0]
                sm = imp.add("Softmax", [flat], {"axis": 1}, 1)[0]
                imp.add("Reshape", [sm], {"shape": target}, outputs)
                return
        imp.add("Softmax", [x], {"axis": axis}, outputs)

    def to_onnx(self, node, exp):
        x = node.inputs[0]
        rank = len(x.shape) if x.shape is not None else None
        axis = node.attrs["axis"]
        if exp.opset >= 13 or rank is None:
            exp.node(node, "Softmax", [exp.name(x)], {"axis": axis})
            return
        # before opset 13 softmax coerces its input to 2-D at ``axis``: the same over the last axis only
        axis = normalize_axis(axis, rank)
        if axis == rank - 1:
            exp.node(node, "Softmax", [exp.name(x)], {"axis": axis})
            return
        perm = [i for i in range(rank) if i != axis] + [axis]
        inverse = [perm.index(i) for i in range(rank)]
        moved, soft = exp.fresh(f"{node.name}_moved"), exp.fresh(f"{node.name}_soft")
        exp.node(node, "Transpose", [exp.name(x)], {"perm": perm}, outputs=[moved], name=exp.fresh(node.name))
        exp.node(node, "Softmax", [moved], {"axis": rank - 1}, outputs=[soft], name=exp.fresh(node.name))
        exp.node(node, "Transpose", [soft], {"perm": inverse})

    def lower(self, node, ctx):
        return [ctx.call(torch.softmax, ctx.input(0), dim=node.attrs["axis"])]


def clip(x, lo, hi):
    """ONNX ``Clip`` with tensor bounds (scalars, or one-element tensors; ``None``: unbounded): ``torch.clamp``
    with the bounds as 0-d tensors, so that the result keeps ``x``'s shape (when ``min > max`` every element
    becomes ``max``, as ONNX says)."""
    lo = None if lo is None else lo.reshape(())
    hi = None if hi is None else hi.reshape(())
    if lo is None and hi is None:
        return x
    return torch.clamp(x, min=lo, max=hi)


@register
class Clip(OpDef):
    """Clamp to [min, max]. Constant bounds are static attributes (inputs from opset 11 on); bounds computed
    at run time stay inputs 1 and 2 (``min``/``max`` attributes then unset), as the model gives them."""

    op_type = "Clip"
    attributes = {"min": None, "max": None}
    groups = ACTIVATION
    # (element-wise with broadcasting: computed bounds are read too; a one-input Clip is unary)
    access = "elementwise"
    synth_kinds = {"relu6": {"min": 0.0, "max": 6.0}}
    synth_order = 5

    max_inputs = 3

    def from_onnx(self, imp, inputs, attrs, opset, outputs):
        if opset < 11:
            lo, hi = attrs.get("min"), attrs.get("max")
        else:
            bounds = list(inputs[1:3]) + [None] * (3 - len(inputs))
            if any(v is not None and not v.is_const for v in bounds):  # computed bounds: kept as inputs
                ins = list(inputs[:3])
                while ins[-1] is None:
                    ins.pop()
                imp.add("Clip", ins, {}, outputs)
                return
            lo, hi = (None if v is None else float(v.const) for v in bounds)
        imp.add("Clip", inputs[:1], {"min": lo, "max": hi}, outputs)

    def infer(self, node):
        from alphanas.ir.opdef import operand, shape_of

        x = operand(node, 0)
        if len(node.inputs) > 1:
            if node.attrs["min"] is not None or node.attrs["max"] is not None:
                raise ValueError("Clip: bounds are given both as attributes and as inputs")
            for v in node.inputs[1:]:
                if v is None:
                    continue
                shape = shape_of(v)
                if all(isinstance(d, int) for d in shape) and int(np.prod(shape, dtype=np.int64)) != 1:
                    raise ValueError(f"Clip: bound {v.name!r} has shape {list(shape)}; ONNX wants a scalar")
        return [(shape_of(x), x.dtype)]

    def to_onnx(self, node, exp):
        x = node.inputs[0]
        if len(node.inputs) > 1:  # computed bounds
            if exp.opset < 11:
                from alphanas.errors import UnsupportedModelError

                raise UnsupportedModelError(f"node {node.name!r} (Clip): computed bounds need opset 11 or later")
            exp.node(node, "Clip", [exp.name(v) if v is not None else "" for v in node.inputs], {})
            return
        if exp.opset < 11:  # bounds were attributes
            lo, hi = node.attrs["min"], node.attrs["max"]
            big = float(np.finfo(np.float32).max)
            exp.node(node, "Clip", [exp.name(x)],
                     {"min": -big if lo is None else float(lo), "max": big if hi is None else float(hi)})
            return
        names = [exp.name(x)]
        for key in ("min", "max"):
            val = node.attrs[key]
            names.append("" if val is None else exp.const(np.array(val, dtype=x.dtype), f"{node.name}_{key}"))
        exp.node(node, "Clip", names, {})

    def lower(self, node, ctx):
        if len(node.inputs) > 1:
            return [ctx.call(clip, ctx.input(0), ctx.input(1), ctx.input(2))]
        if node.attrs["min"] is None and node.attrs["max"] is None:
            return [ctx.input(0)]
        lo, hi = node.attrs["min"], node.attrs["max"]
        dtype = node.inputs[0].dtype
        if dtype is not None and np.dtype(dtype).kind in "iub":  # integer bounds keep an integer result
            lo, hi = (None if b is None else int(b) for b in (lo, hi))
        return [ctx.call(torch.clamp, ctx.input(0), min=lo, max=hi)]


class Binary(OpDef):
    """Broadcasting binary arithmetic. Constant float operands with >1 element are trainable."""

    min_inputs = max_inputs = 2
    groups = frozenset({OpGroup.ELEMENTWISE, OpGroup.ARITHMETIC})
    access = "elementwise"
    fn: Any = None

    def infer(self, node):
        a, b = node.inputs
        return [(broadcast_shapes(a.shape, b.shape), a.dtype)]

    def param_inputs(self, node):
        return [i for i, v in enumerate(node.inputs)
                if v is not None and v.is_const and v.const.dtype.kind == "f" and v.const.size > 1]

    def macs(self, node):
        return 0

    def lower(self, node, ctx):
        dtype = node.outputs[0].dtype
        if dtype is not None and np.dtype(dtype).kind == "u" and np.dtype(dtype).itemsize > 1:
            # torch's unsigned types wider than 8 bits have no arithmetic kernels: compute in int64 (the
            # same bits modulo 2**64) and cast back
            return [ctx.call(unsigned_op, self.op_type, ctx.input(0), ctx.input(1), _torch_dtype(dtype))]
        return [ctx.call(type(self).fn, ctx.input(0), ctx.input(1))]


def _torch_dtype(dtype) -> torch.dtype:
    return torch.from_numpy(np.zeros(1, dtype=dtype)).dtype


def unsigned_op(op_type: str, a, b, dtype: torch.dtype):
    """ONNX ``op_type`` (``Add``, ``Sub``, ``Mul``, ``Div``) of unsigned operands, computed in int64 and cast
    back to ``dtype`` (wrapping as ONNX does)."""
    fn = {"Add": operator.add, "Sub": operator.sub, "Mul": operator.mul, "Div": int_div, "Pow": int_pow}[op_type]
    return fn(a.to(torch.int64), b.to(torch.int64)).to(dtype)


def int_div(a, b):
    """ONNX integer ``Div``: the quotient truncated toward zero, in the operands' type."""
    return torch.div(a, b, rounding_mode="trunc")


def int_pow(a, b):
    """ONNX ``Pow`` of an integer base: computed in float64, the result in the base's integer type."""
    return torch.pow(a.to(torch.float64), b.to(torch.float64)).to(a.dtype)


class _Scaling(Binary):
    """``Mul`` and ``Div``: the second operand, when constant, is a multiplicative factor."""

    def weight_role(self, node, index):
        return WeightRole.SCALE if index == 1 else WeightRole.OFFSET


Add = register(type("Add", (Binary,), {"op_type": "Add", "fn": staticmethod(operator.add)}))
Sub = register(type("Sub", (Binary,), {"op_type": "Sub", "fn": staticmethod(operator.sub)}))
Mul = register(type("Mul", (_Scaling,), {"op_type": "Mul", "fn": staticmethod(operator.mul)}))


@register
class Div(_Scaling):
    """Division; non-linear (for depth) unless the divisor is a constant."""

    op_type = "Div"
    fn = staticmethod(operator.truediv)

    def lower(self, node, ctx):
        dtype = node.outputs[0].dtype
        if dtype is not None and np.dtype(dtype).kind in "iu":
            if np.dtype(dtype).kind == "u" and np.dtype(dtype).itemsize > 1:
                return [ctx.call(unsigned_op, "Div", ctx.input(0), ctx.input(1), _torch_dtype(dtype))]
            return [ctx.call(int_div, ctx.input(0), ctx.input(1))]
        return super().lower(node, ctx)

    def is_nonlinear(self, node):
        d = node.inputs[1]
        return not (d is not None and d.is_const)


@register
class Pow(Binary):
    """Power; non-linear (for depth) unless the exponent is the constant 1."""

    op_type = "Pow"
    fn = staticmethod(lazy("torch.pow"))

    def lower(self, node, ctx):
        base = node.inputs[0].dtype
        if base is not None and np.dtype(base).kind in "iu":
            return [ctx.call(int_pow, ctx.input(0), ctx.input(1))]
        return super().lower(node, ctx)

    def is_nonlinear(self, node):
        e = node.inputs[1]
        return not (e is not None and e.is_const and bool(np.all(np.asarray(e.const) == 1)))


HELPER = frozenset({OpGroup.ELEMENTWISE, OpGroup.UNARY, OpGroup.HELPER})


class _Passthrough(OpDef):
    groups = HELPER
    access = "unary"

    def lower(self, node, ctx):
        return [ctx.input(0)]


@register
class Identity(_Passthrough):
    op_type = "Identity"


@register
class Dropout(OpDef):
    """Dropout with a static ratio; identity at inference (import drops it unless asked to keep it)."""

    op_type = "Dropout"
    attributes = {"ratio": 0.5}
    groups = HELPER
    access = "unary"

    def from_onnx(self, imp, inputs, attrs, opset, outputs):
        from alphanas.ir.onnx_io import NotCanonical

        ratio = attrs.get("ratio", 0.5)
        if len(inputs) > 1 and inputs[1] is not None:
            if not inputs[1].is_const:
                raise NotCanonical("a dropout ratio computed in the graph")
            ratio = float(np.asarray(inputs[1].const).reshape(-1)[0])
        mode = inputs[2] if len(inputs) > 2 else None
        if mode is not None and not (mode.is_const and not np.asarray(mode.const).any()):
            raise NotCanonical("dropout in training mode")
        if attrs.get("seed") is not None:
            raise NotCanonical("a seeded dropout")
        imp.add("Dropout", inputs[:1], {"ratio": float(ratio)}, outputs)

    def to_onnx(self, node, exp):
        if exp.opset < 12:  # the ratio was an attribute
            exp.node(node, "Dropout", [exp.name(node.inputs[0])], {"ratio": float(node.attrs["ratio"])})
            return
        ratio = exp.const(np.array(node.attrs["ratio"], dtype=np.float32), f"{node.name}_ratio")
        exp.node(node, "Dropout", [exp.name(node.inputs[0]), ratio], {})

    def lower(self, node, ctx):
        return [ctx.module(nn.Dropout(node.attrs["ratio"]), ctx.input(0))]


def hard_swish(x):
    """ONNX HardSwish: ``x * max(0, min(1, x / 6 + 1 / 2))`` (torch's ``hardswish``)."""
    return F.hardswish(x)


def mish(x):
    """ONNX Mish: ``x * tanh(softplus(x))``."""
    return x * torch.tanh(F.softplus(x))


HardSwish = _unary("HardSwish", hard_swish, ACTIVATION)
Mish = _unary("Mish", mish, ACTIVATION)


def selu(x, alpha: float, gamma: float):
    """ONNX Selu with its (float32) alpha and gamma attributes."""
    return gamma * torch.where(x > 0, x, alpha * (torch.exp(x) - 1))


Selu = _unary("Selu", selu, ACTIVATION, attributes={"alpha": 1.67326319217681884765625, "gamma": 1.05070102214813232421875},
              kwargs=lambda a: {"alpha": a["alpha"], "gamma": a["gamma"]})


def prelu(x, slope):
    """ONNX PRelu: ``x`` where positive, ``slope * x`` elsewhere (``slope`` broadcasts to ``x``)."""
    return torch.where(x < 0, x * slope, x)


@register
class PRelu(OpDef):
    """Leaky ReLU with a learned slope (input 1, broadcast to the data; trainable when constant)."""

    op_type = "PRelu"
    min_inputs = max_inputs = 2
    weight_inputs = (1,)
    groups = frozenset({OpGroup.ELEMENTWISE, OpGroup.NONLINEAR})
    access = "elementwise"

    def infer(self, node):
        x, slope = node.inputs
        return [(broadcast_shapes(x.shape, slope.shape), x.dtype)]

    def weight_role(self, node, index):
        return WeightRole.SCALE if index == 1 else WeightRole.OFFSET

    def init_weight(self, node, index, rng):
        return np.full(node.inputs[index].array.shape, 0.25)  # (the usual PReLU initialisation)

    def lower(self, node, ctx):
        return [ctx.call(prelu, ctx.input(0), ctx.input(1))]
