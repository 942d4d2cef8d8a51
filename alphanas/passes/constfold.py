"""Constant folding: a node whose inputs are all constant is evaluated once and becomes a weight.

Evaluation uses onnx's reference evaluator on the node exported alone, so every op (opaque ones
included) folds with exact ONNX semantics.
"""

from __future__ import annotations

import numpy as np

from alphanas.ir.graph import Graph, Node, Value
from alphanas.passes.base import Pass, PassResult
from alphanas.passes.registry import register_pass

#: Ops never folded: random generators have no single value.
_NEVER = frozenset({"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial",
                    "Bernoulli"})


def evaluate(node: Node) -> list[np.ndarray]:
    """Compute the outputs of ``node`` whose inputs are all constants."""
    from onnx.reference import ReferenceEvaluator

    from alphanas.ir.onnx_io import to_onnx

    g = Graph("fold")
    ins: list[Value | None] = []
    for v in node.inputs:
        if v is None:
            ins.append(None)
            continue
        c = Value(v.name, const=v.const)
        g.add_initializer_value(c)
        ins.append(c)
    outs = [Value(v.name, v.shape, v.dtype) for v in node.outputs]
    g.append_node(Node(node.op_type, ins, outs, node.attrs, node.name, node.domain, node.onnx_attrs))
    g.outputs = outs
    results = ReferenceEvaluator(to_onnx(g)).run(None, {})
    return [np.asarray(r) for r in results]


@register_pass
class ConstantFolding(Pass):
    """Evaluate nodes whose inputs are all constants and replace them by weights."""

    name = "const-fold"

    def __init__(self, max_elements: int = 1 << 22) -> None:
        self.max_elements = max_elements

    def run(self, graph: Graph) -> PassResult:
        modified = False
        for node in list(graph.nodes):
            if node.op_type in _NEVER or not any(v is not None for v in node.inputs):
                continue
            if not all(v is None or v.is_const for v in node.inputs):
                continue
            if any(graph.is_output(v) for v in node.outputs):
                continue  # a graph output must stay computed by a node
            if any(v.shape is None or not v.static_shape or v.numel() > self.max_elements for v in node.outputs):
                continue
            values = evaluate(node)
            for v, arr in zip(node.outputs, values):
                c = graph.add_initializer(v.name + "_folded", arr.astype(v.dtype, copy=False))
                graph.replace_all_uses(v, c)
            graph.remove_node(node)
            modified = True
        if modified:
            graph.prune_initializers()
        return PassResult(graph, modified)
