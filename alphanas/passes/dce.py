"""Dead-code elimination: drop nodes whose outputs never reach a graph output, and unused weights."""

from __future__ import annotations

from alphanas.ir.graph import Graph
from alphanas.passes.base import Pass, PassResult
from alphanas.passes.registry import register_pass


@register_pass
class DeadCodeElimination(Pass):
    """Remove nodes that do not contribute to any graph output, and unused initializers."""

    name = "dce"

    def run(self, graph: Graph) -> PassResult:
        weights = len(graph.initializers)
        removed = graph.eliminate_dead_nodes()
        return PassResult(graph, bool(removed) or len(graph.initializers) != weights)
