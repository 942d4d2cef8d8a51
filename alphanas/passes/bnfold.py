"""Fold inference-form BatchNormalization (and per-channel constant Mul/Add) into the Conv or Gemm before it.

``BN(conv(x, W, b)) = conv(x, W * s, (b - mean) * s + beta)`` with ``s = gamma / sqrt(var + eps)``
per output channel; a per-channel ``Mul`` by a constant scales the weights and bias, an ``Add`` of a
per-channel constant shifts the bias. Arithmetic is done in float64 and stored in the weights' dtype.
The Conv/Gemm output must have no other user, and its weights must be constants.
"""

from __future__ import annotations

import numpy as np

from alphanas.ir.graph import Dim, Graph, Node, Value
from alphanas.ir.ops.elementwise import Add, Mul
from alphanas.ir.ops.linear import Conv, Gemm
from alphanas.ir.ops.norm import BatchNormalization
from alphanas.passes.base import Pass, PassResult
from alphanas.passes.registry import register_pass
from alphanas.passes.util import bypass, new_const, single_use


def channel_vector(c: np.ndarray, out_rank: int, channels: Dim) -> np.ndarray | None:
    """``c`` as a per-channel vector (length ``channels``) when it broadcasts along axis 1 only, else None."""
    if not isinstance(channels, int) or c.ndim > out_rank:
        return None
    shape = (1,) * (out_rank - c.ndim) + tuple(c.shape)
    if any(d != 1 for i, d in enumerate(shape) if i != 1) or shape[1] not in (1, channels):
        return None
    return np.broadcast_to(c.reshape(-1).astype(np.float64), (channels,)) if c.size == 1 else c.reshape(-1).astype(np.float64)


def _foldable_producer(graph: Graph, x: Value) -> Node | None:
    """The Conv/Gemm producing ``x`` when its weights are constants and ``x`` has no other user."""
    p = x.producer
    if p is None or p.domain != "" or not single_use(graph, x):
        return None
    if isinstance(p.opdef, Conv) and p.input(1).is_const and (len(p.inputs) < 3 or p.inputs[2] is None or p.inputs[2].is_const):
        return p
    if isinstance(p.opdef, Gemm) and p.input(1).is_const and (len(p.inputs) < 3 or p.inputs[2] is None or p.inputs[2].is_const) \
            and (p.attrs["beta"] != 0.0 or len(p.inputs) < 3 or p.inputs[2] is None):
        return p
    return None


def fold_affine(graph: Graph, p: Node, scale: np.ndarray | None, shift: np.ndarray | None) -> None:
    """Rewrite Conv/Gemm ``p`` so that its output becomes ``out * scale + shift`` (per channel)."""
    w = p.input(1).array
    b_val = p.inputs[2] if len(p.inputs) > 2 else None
    channels = p.outputs[0].dim(1)
    dtype = w.dtype
    scale = np.ones(channels) if scale is None else scale
    shift = np.zeros(channels) if shift is None else shift
    if isinstance(p.opdef, Conv):
        w2 = w.astype(np.float64) * scale.reshape((-1,) + (1,) * (w.ndim - 1))
        b = np.zeros(channels) if b_val is None else b_val.array.astype(np.float64)
        b2 = b * scale + shift
    else:  # Gemm: Y = alpha * A B + beta * C, channels are the columns of Y
        if p.attrs["transB"]:
            w2 = w.astype(np.float64) * scale[:, None]
        else:
            w2 = w.astype(np.float64) * scale[None, :]
        beta = p.attrs["beta"] if b_val is not None else 1.0
        c = np.zeros(channels) if b_val is None else b_val.array.astype(np.float64)
        b2 = c * scale + shift / beta
        if b_val is None:
            p.attrs["beta"] = 1.0
    new_w = new_const(graph, p.input(1).name, w2.astype(dtype))
    new_b = new_const(graph, (b_val.name if b_val is not None else p.name + "_bias"), b2.astype(dtype))
    p.set_input(1, new_w)
    if len(p.inputs) > 2:
        p.set_input(2, new_b)
    else:
        p._append_input(new_b)


@register_pass
class BatchNormFolding(Pass):
    """Fold BatchNormalization and per-channel constant Mul/Add into the preceding Conv or Gemm."""

    name = "bn-fold"

    def run(self, graph: Graph) -> PassResult:
        modified = False
        for node in list(graph.nodes):
            if not isinstance(node.opdef, (BatchNormalization, Mul, Add)):
                continue
            affine = self._affine(graph, node)
            if affine is None:
                continue
            producer, scale, shift = affine
            fold_affine(graph, producer, scale, shift)
            if not bypass(graph, node, producer.outputs[0]):
                raise AssertionError("unreachable: the producer output has a single use")  # pragma: no cover
            modified = True
        if modified:
            graph.prune_initializers()
        return PassResult(graph, modified)

    def _affine(self, graph: Graph, node: Node) -> tuple[Node, np.ndarray | None, np.ndarray | None] | None:
        """The foldable producer and the per-channel (scale, shift) that ``node`` applies to its output."""
        if isinstance(node.opdef, BatchNormalization):
            if not all(v is not None and v.is_const for v in node.inputs[1:]):
                return None
            p = _foldable_producer(graph, node.input(0))
            if p is None:
                return None
            gamma, beta, mean, var = (node.input(i).array.astype(np.float64) for i in range(1, 5))
            s = gamma / np.sqrt(var + node.attrs["epsilon"])
            return p, s, beta - mean * s
        # Mul / Add with one constant, per-channel operand
        a, b = node.inputs
        const_i = 1 if (b is not None and b.is_const) else 0 if (a is not None and a.is_const) else None
        if const_i is None or node.input(1 - const_i).is_const:
            return None
        c = node.input(const_i).array
        if c.dtype.kind != "f":
            return None
        x = node.input(1 - const_i)
        if x.shape is None or node.outputs[0].shape != x.shape:
            return None
        p = _foldable_producer(graph, x)
        if p is None:
            return None
        vec = channel_vector(c, len(x.shape), x.shape[1])
        if vec is None:
            return None
        return (p, vec, None) if isinstance(node.opdef, Mul) else (p, None, vec)

