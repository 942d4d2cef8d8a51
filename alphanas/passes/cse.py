"""Common-subexpression elimination: nodes computing the same op on the same inputs are merged.

Small constants with equal contents count as the same input, so duplicated scalars and shape
tensors merge too. Random-number ops are never merged.
"""

from __future__ import annotations

import hashlib

from alphanas.ir.graph import Graph, Value
from alphanas.passes.base import Pass, PassResult
from alphanas.passes.constfold import _NEVER
from alphanas.passes.registry import register_pass
from alphanas.passes.util import forward

#: Constants up to this many elements are compared by content.
_CONTENT_LIMIT = 1 << 16


def _freeze(x):
    if isinstance(x, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in x.items()))
    if isinstance(x, (list, tuple)):
        return tuple(_freeze(v) for v in x)
    return x


@register_pass
class CommonSubexpressionElimination(Pass):
    """Merge nodes that apply the same op, attributes and inputs (and equal small constants)."""

    name = "cse"

    def run(self, graph: Graph) -> PassResult:
        modified = False
        canon: dict[int, Value] = {}
        by_content: dict[tuple, Value] = {}
        for v in list(graph.initializers.values()):
            a = v.array
            if a.size <= _CONTENT_LIMIT:
                content = (a.dtype.str, a.shape, hashlib.sha1(a.tobytes()).hexdigest())
                first = by_content.setdefault(content, v)
                canon[id(v)] = first
                if first is not v and not graph.is_output(v):
                    graph.replace_all_uses(v, first)
                    modified = True
        seen: dict[tuple, list[Value]] = {}
        for node in list(graph.nodes):
            if node.op_type in _NEVER:
                continue
            ins = tuple(None if v is None else id(canon.get(id(v), v)) for v in node.inputs)
            raw = None if node.onnx_attrs is None else tuple(a.SerializeToString() for a in node.onnx_attrs)
            key = (node.op_type, node.domain, _freeze(node.attrs), raw, ins, len(node.outputs))
            if key not in seen:
                seen[key] = list(node.outputs)
                continue
            for v, f in zip(node.outputs, seen[key]):
                if v.uses or graph.is_output(v):
                    modified |= forward(graph, v, f)
            if all(not v.uses and not graph.is_output(v) for v in node.outputs):
                graph.remove_node(node)
                modified = True
        if modified:
            graph.prune_initializers()
        return PassResult(graph, modified)
