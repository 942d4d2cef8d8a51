"""Constant folding: a node whose inputs are all constant is evaluated once and becomes a weight.

Evaluation uses onnx's reference evaluator on the node exported alone, so every op (opaque ones
included) folds with exact ONNX semantics. Quantization stays as it is: ``DequantizeLinear`` of int8
weights is the form quantized runtimes expect, and folding it would turn the weights into floats (4x
larger). A node whose evaluation fails, or whose folded value does not have the type and shape the graph
declares for it, is left as it is and named in :attr:`ConstantFolding.refused_nodes`.
"""

from __future__ import annotations

import numpy as np

from alphanas.errors import one_line
from alphanas.ir.graph import Graph, Node, Value
from alphanas.passes.base import Pass, PassResult
from alphanas.passes.registry import register_pass

#: Ops never folded: random generators have no single value.
_NEVER = frozenset({"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial",
                    "Bernoulli"})
#: Ops never folded: the quantized form of a model (integer weights and their scales) is kept.
_QUANTIZATION = frozenset({"QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear"})


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
        #: Node name -> why it was not folded although its inputs are constant (filled by :meth:`run`).
        self.refused_nodes: dict[str, str] = {}

    def run(self, graph: Graph) -> PassResult:
        modified = False
        for node in list(graph.nodes):
            if node.op_type in _NEVER or node.op_type in _QUANTIZATION or not any(v is not None for v in node.inputs):
                continue
            if not all(v is None or v.is_const for v in node.inputs):
                continue
            if any(graph.is_output(v) for v in node.outputs):
                continue  # a graph output must stay computed by a node
            # an output whose shape the graph does not know (an opaque op's) is tried too: the size limit
            # then applies to what the evaluation gives
            if any(v.shape is not None and (not v.static_shape or v.numel() > self.max_elements) for v in node.outputs):
                continue
            values, problem = self._fold(node)
            if problem is not None:
                self.refused_nodes[node.name] = problem
                continue
            if any(arr.size > self.max_elements for arr in values):
                continue
            for v, arr in zip(node.outputs, values):
                c = graph.add_initializer(v.name + "_folded", arr.astype(v.dtype, copy=False))
                graph.replace_all_uses(v, c)
            graph.remove_node(node)
            modified = True
        if modified:
            graph.prune_initializers()
        return PassResult(graph, modified)

    @staticmethod
    def _fold(node: Node) -> tuple[list[np.ndarray], str | None]:
        """The folded outputs of ``node``, or why it cannot be folded."""
        try:
            values = evaluate(node)
        except Exception as e:  # the reference evaluator lacks the op, or rejects the node
            return [], f"evaluation failed ({type(e).__name__}: {one_line(e, 200)})"
        if len(values) != len(node.outputs):
            return [], f"evaluation gave {len(values)} outputs instead of {len(node.outputs)}"
        for v, arr in zip(node.outputs, values):
            if arr.dtype != v.dtype:
                return [], f"output {v.name!r} evaluates to {arr.dtype}, the graph declares {v.dtype}"
            if v.shape is not None and tuple(arr.shape) != tuple(v.shape):
                return [], f"output {v.name!r} evaluates to shape {list(arr.shape)}, the graph declares {list(v.shape)}"
        return values, None
