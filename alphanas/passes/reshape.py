"""Reshape and transpose chain simplification.

* a chain of reshape-like ops (Reshape, Flatten, Squeeze, Unsqueeze) becomes one Reshape to the final
  shape, or disappears when the final shape equals the input shape;
* ``Transpose(Transpose(x, p), q)`` becomes ``Transpose(x, p∘q)``, and an identity permutation
  disappears.
"""

from __future__ import annotations

from typing import TypeGuard

from alphanas.ir.graph import Graph, Node, Value
from alphanas.passes.base import Pass, PassResult
from alphanas.passes.registry import register_pass
from alphanas.passes.util import bypass

RESHAPE_LIKE = frozenset({"Reshape", "Flatten", "Squeeze", "Unsqueeze"})


def reshape_target(shape) -> list[int] | None:
    """A static Reshape target producing ``shape`` (one symbolic dimension becomes -1), or None."""
    if shape is None:
        return None
    syms = [d for d in shape if not isinstance(d, int)]
    if len(syms) > 1:
        return None
    return [-1 if not isinstance(d, int) else d for d in shape]


def _is(node: Node | None, ops) -> TypeGuard[Node]:
    """Whether ``node`` is one of ``ops`` in its canonical form (an opaque one, e.g. a Reshape to a shape
    computed at run time, is left alone: its output shape may be unknown)."""
    return node is not None and node.domain == "" and node.op_type in ops and not node.is_opaque \
        and all(o.shape is not None for o in node.outputs[:1])


def transpose_perm(node: Node) -> list[int]:
    return node.opdef.perm(node)


@register_pass
class ReshapeChainSimplification(Pass):
    """Merge chains of Reshape/Flatten/Squeeze/Unsqueeze and of Transpose; drop no-op ones."""

    name = "reshape-chain"

    def run(self, graph: Graph) -> PassResult:
        modified = False
        for node in list(graph.nodes):
            if node not in graph.nodes:
                continue  # removed earlier in this sweep
            if _is(node, RESHAPE_LIKE):
                modified |= self._reshape(graph, node)
            elif _is(node, ("Transpose",)):
                modified |= self._transpose(graph, node)
        if modified:
            graph.eliminate_dead_nodes()
        return PassResult(graph, modified)

    def _reshape(self, graph: Graph, node: Node) -> bool:
        src: Value = node.input(0)
        while _is(src.producer, RESHAPE_LIKE):
            src = src.producer.input(0)
        out = node.outputs[0]
        if src.shape is not None and tuple(src.shape) == out.dims:
            return bypass(graph, node, src)
        if src is node.inputs[0]:
            return False
        target = reshape_target(out.shape)
        if target is None:
            return False
        new = graph.add_node("Reshape", [src], {"shape": target}, name=node.name, index=graph.nodes.index(node))
        if new.outputs[0].dims != out.dims or not bypass(graph, node, new.outputs[0]):
            graph.remove_node(new)
            return False
        return True

    def _transpose(self, graph: Graph, node: Node) -> bool:
        perm = transpose_perm(node)
        src = node.input(0)
        changed_src = False
        while _is(src.producer, ("Transpose",)):
            inner = transpose_perm(src.producer)
            perm = [inner[i] for i in perm]
            src = src.producer.input(0)
            changed_src = True
        if perm == list(range(len(perm))):
            return bypass(graph, node, src)
        if not changed_src:
            return False
        new = graph.add_node("Transpose", [src], {"perm": perm}, name=node.name, index=graph.nodes.index(node))
        if not bypass(graph, node, new.outputs[0]):
            graph.remove_node(new)
            return False
        return True
