"""Normalisations: BatchNormalization, LayerNormalization, InstanceNormalization, LRN."""

from __future__ import annotations


import numpy as np

from alphanas.ir._torch import F, nn, torch
from alphanas.ir.opdef import OpDef, OpGroup, WeightRole, normalize_axis, register


class _Norm(OpDef):
    """A normalisation whose input 1 is a scale: initialised to ones (and variances), the rest to zeros."""

    groups = frozenset({OpGroup.NORM})

    def weight_role(self, node, index):
        return WeightRole.SCALE if index == 1 else WeightRole.OFFSET

    def init_weight(self, node, index, rng):
        shape = node.inputs[index].const.shape
        return np.ones(shape) if self.weight_role(node, index) is WeightRole.SCALE else np.zeros(shape)


@register
class BatchNormalization(_Norm):
    """Inference-form batch norm (scale, bias, running mean, running var); trains as ``nn.BatchNormNd``."""

    op_type = "BatchNormalization"
    attributes = {"epsilon": 1e-5, "momentum": 0.9}
    min_inputs = max_inputs = 5
    weight_inputs = (1, 2)
    access = "channel_affine"
    synth_kinds = {"bn": {}}

    def weight_role(self, node, index):
        return WeightRole.SCALE if index in (1, 4) else WeightRole.OFFSET

    def init_inputs(self, node):
        """The parameters and the running statistics (reset to mean 0, variance 1)."""
        stats = [i for i in (3, 4) if i < len(node.inputs) and node.inputs[i] is not None and node.inputs[i].is_const]
        return sorted(set(self.param_inputs(node)) | set(stats))

    def from_onnx(self, imp, inputs, attrs, opset, outputs):
        from alphanas.ir.onnx_io import NotCanonical

        if attrs.get("spatial", 1) == 0 or attrs.get("training_mode", 0):
            raise NotCanonical("non-spatial or training-mode batch norm")
        canon = {k: float(attrs[k]) for k in ("epsilon", "momentum") if k in attrs}
        imp.add("BatchNormalization", inputs, canon, outputs)

    def infer(self, node):
        x = node.inputs[0]
        c = x.shape[1]
        for v in node.inputs[1:]:
            if isinstance(c, int) and tuple(v.shape) != (c,):
                raise ValueError(f"parameter {v.name!r} has shape {list(v.shape)}, expected [{c}]")
        return [(x.shape, x.dtype)]

    def flops(self, node):
        return 2 * node.outputs[0].numel()

    def lower(self, node, ctx):
        x = node.inputs[0]
        c = x.shape[1]
        # torch (2.x, CPU) computes wrong batch-norm gradients for a permuted input whose size-1 axes make
        # its strides look channels-last (e.g. (1,1,4,4).permute(0,3,2,1)); a contiguous copy avoids it
        # (and costs nothing for the usual, already contiguous input)
        xin = ctx.method("contiguous", ctx.input(0)) if node.inputs[0].producer is not None and \
            node.inputs[0].producer.op_type == "Transpose" else ctx.input(0)
        own = all(v.is_const and len(v.uses) == 1 for v in node.inputs[1:])
        if own and isinstance(c, int) and 2 <= len(x.shape) <= 5:
            cls = {2: nn.BatchNorm1d, 3: nn.BatchNorm1d, 4: nn.BatchNorm2d, 5: nn.BatchNorm3d}[len(x.shape)]
            mod = cls(c, eps=node.attrs["epsilon"], momentum=1.0 - node.attrs["momentum"])
            return [ctx.module(mod, xin, params={"weight": 1, "bias": 2, "running_mean": 3, "running_var": 4})]
        return [ctx.call(F.batch_norm, xin, ctx.input(3), ctx.input(4), ctx.input(1), ctx.input(2),
                         training=False, eps=node.attrs["epsilon"])]


def _layer_norm(x, weight, bias, axis: int, eps: float):
    shape = x.shape[axis:]
    return F.layer_norm(x, shape, weight.expand(shape) if weight is not None else None,
                        bias.expand(shape) if bias is not None else None, eps)


@register
class LayerNormalization(_Norm):
    """Normalise over the axes from ``axis`` to the last; scale and bias over those axes."""

    op_type = "LayerNormalization"
    attributes = {"axis": -1, "epsilon": 1e-5, "stash_type": 1}
    min_inputs, max_inputs = 2, 3
    weight_inputs = (1, 2)
    access = "layer_norm"
    synth_kinds = {"ln": {"axis": -1}}

    def num_outputs(self, attrs):
        return 1

    def from_onnx(self, imp, inputs, attrs, opset, outputs):
        """The normalised output is this op; the optional ``Mean`` and ``InvStdDev`` outputs (over the
        normalised axes, kept as size 1, in the stash type) are their formula in canonical ops."""
        imp.add("LayerNormalization", inputs, attrs, outputs[:1])
        if not any(outputs[1:]):
            return
        from onnx import helper

        x = inputs[0]
        rank = len(x.shape)
        axes = list(range(normalize_axis(attrs.get("axis", -1), rank), rank))
        stash = helper.tensor_dtype_to_np_dtype(int(attrs.get("stash_type", 1)))
        xs = x if x.dtype == stash else imp.add("Cast", [x], {"to": int(attrs.get("stash_type", 1))}, 1)[0]
        mean = imp.add("ReduceMean", [xs], {"axes": axes, "keepdims": 1}, [outputs[1]] if outputs[1] else 1)[0]
        if len(outputs) > 2 and outputs[2]:
            d = imp.add("Sub", [xs, mean], {}, 1)[0]
            var = imp.add("ReduceMean", [imp.add("Mul", [d, d], {}, 1)[0]], {"axes": axes, "keepdims": 1}, 1)[0]
            eps = imp.constant(f"{outputs[2]}_epsilon", np.array(attrs.get("epsilon", 1e-5), dtype=stash))
            std = imp.add("Sqrt", [imp.add("Add", [var, eps], {}, 1)[0]], {}, 1)[0]
            imp.add("Reciprocal", [std], {}, [outputs[2]])

    def to_onnx(self, node, exp):
        """``LayerNormalization`` from opset 17; before it, its formula over the normalised axes."""
        if exp.opset >= 17:
            super().to_onnx(node, exp)
            return
        from alphanas.ir.ops.pool import emit_reduce

        x = node.inputs[0]
        rank = len(x.dims)
        axes = list(range(normalize_axis(node.attrs["axis"], rank), rank))

        def step(op, ins, what, outputs=None):
            out = outputs or [exp.fresh(f"{node.name}_{what}")]
            exp.node(node, op, ins, {}, outputs=out, name=exp.fresh(node.name))
            return out[0]

        mean = emit_reduce(exp, node, "ReduceMean", exp.name(x), axes, 1, exp.fresh(f"{node.name}_mean"))
        centred = step("Sub", [exp.name(x), mean], "centred")
        var = emit_reduce(exp, node, "ReduceMean", step("Mul", [centred, centred], "sq"), axes, 1, exp.fresh(f"{node.name}_var"))
        eps = exp.const(np.array(node.attrs["epsilon"], dtype=x.dtype), f"{node.name}_eps")
        normed = step("Div", [centred, step("Sqrt", [step("Add", [var, eps], "vareps")], "std")], "normed")
        bias = node.inputs[2] if len(node.inputs) > 2 else None
        final = [v.name for v in node.outputs]
        scaled = step("Mul", [normed, exp.name(node.inputs[1])], "scaled", None if bias is not None else final)
        if bias is not None:
            step("Add", [scaled, exp.name(bias)], "biased", final)

    def flops(self, node):
        return 5 * node.outputs[0].numel()

    def lower(self, node, ctx):
        axis = normalize_axis(node.attrs["axis"], len(node.inputs[0].shape))
        return [ctx.call(_layer_norm, ctx.input(0), ctx.input(1), ctx.input(2), axis, node.attrs["epsilon"])]


@register
class InstanceNormalization(_Norm):
    op_type = "InstanceNormalization"
    attributes = {"epsilon": 1e-5}
    min_inputs = max_inputs = 3
    weight_inputs = (1, 2)
    access = "instance_norm"
    synth_kinds = {"in": {}}

    def lower(self, node, ctx):
        return [ctx.call(F.instance_norm, ctx.input(0), weight=ctx.input(1), bias=ctx.input(2),
                         eps=node.attrs["epsilon"])]


@register
class LRN(OpDef):
    """Local response normalisation across channels (AlexNet, GoogLeNet)."""

    op_type = "LRN"
    attributes = {"size": 5, "alpha": 1e-4, "beta": 0.75, "bias": 1.0}
    groups = frozenset({OpGroup.NORM})
    access = "lrn"

    def lower(self, node, ctx):
        a = node.attrs
        return [ctx.call(F.local_response_norm, ctx.input(0), a["size"], alpha=a["alpha"], beta=a["beta"], k=a["bias"])]


__all__ = ["BatchNormalization", "LayerNormalization", "InstanceNormalization", "LRN", "torch"]


@register
class GroupNormalization(_Norm):
    """Normalise each group of ``num_groups`` channel groups over its channels and positions; scale and
    bias per channel (opset 21; opset 18's per-group constants are repeated per channel at import)."""

    op_type = "GroupNormalization"
    attributes = {"num_groups": None, "epsilon": 1e-5, "stash_type": 1}
    min_inputs = max_inputs = 3
    weight_inputs = (1, 2)
    access = "opaque"

    def from_onnx(self, imp, inputs, attrs, opset, outputs):
        from alphanas.ir.onnx_io import NotCanonical

        x, scale, bias = inputs
        groups = int(attrs["num_groups"])
        channels = x.shape[1]
        if opset < 21 and groups != channels:
            if not (scale.is_const and bias.is_const and isinstance(channels, int)):
                raise NotCanonical("opset-18 GroupNormalization with computed scale or bias")
            per = channels // groups
            scale = imp.constant(f"{scale.name}_per_channel", np.repeat(np.asarray(scale.const), per))
            bias = imp.constant(f"{bias.name}_per_channel", np.repeat(np.asarray(bias.const), per))
        imp.add("GroupNormalization", [x, scale, bias], {k: attrs[k] for k in self.attributes if k in attrs}, outputs)

    def to_onnx(self, node, exp):
        if exp.opset < 21:
            from alphanas.errors import UnsupportedModelError

            raise UnsupportedModelError(f"node {node.name!r} (GroupNormalization): per-channel scale needs opset 21")
        exp.node(node, "GroupNormalization", [exp.name(v) for v in node.inputs],
                 {k: v for k, v in node.attrs.items() if k != "stash_type" or v != 1})

    def flops(self, node):
        return 5 * node.outputs[0].numel()

    def lower(self, node, ctx):
        return [ctx.call(group_norm, ctx.input(0), node.attrs["num_groups"], ctx.input(1), ctx.input(2),
                         node.attrs["epsilon"])]


def group_norm(x, groups: int, weight, bias, eps: float):
    """ONNX GroupNormalization (per-channel scale and bias), computed in float32 at least (stash type)."""
    xc = x.float() if x.dtype in (torch.float16, torch.bfloat16) else x
    return F.group_norm(xc, groups, weight.to(xc.dtype), bias.to(xc.dtype), eps).to(x.dtype)
