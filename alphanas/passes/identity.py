"""Identity elimination: ``Identity`` and inference-time ``Dropout`` nodes are bypassed."""

from __future__ import annotations

from alphanas.ir.graph import Graph
from alphanas.passes.base import Pass, PassResult
from alphanas.passes.registry import register_pass
from alphanas.passes.util import bypass

#: Ops that return their (first) input unchanged at inference.
PASSTHROUGH_OPS = frozenset({"Identity", "Dropout"})


@register_pass
class IdentityElimination(Pass):
    """Bypass Identity and Dropout nodes (Dropout is the identity at inference)."""

    name = "identity-elim"

    def run(self, graph: Graph) -> PassResult:
        modified = False
        for node in list(graph.nodes):
            if node.op_type in PASSTHROUGH_OPS and node.domain == "" and len(node.outputs) == 1 \
                    and node.inputs and node.inputs[0] is not None:
                modified |= bypass(graph, node, node.inputs[0])
        return PassResult(graph, modified)
