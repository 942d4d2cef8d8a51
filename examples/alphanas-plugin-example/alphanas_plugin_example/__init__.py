"""Example alphanas plug-in: two semantics-preserving passes.

* ``double-neg``: ``Neg(Neg(x))`` is ``x``;
* ``relu-idempotent``: ``Relu(Relu(x))`` is ``Relu(x)``.

Installed, they are found through the ``alphanas.passes`` entry points declared in ``pyproject.toml``;
uninstalled, ``alphanas rewrite --plugin alphanas_plugin_example`` loads them from ``PYTHONPATH``.
"""

from __future__ import annotations

from alphanas.ir import Graph
from alphanas.passes import Pass, PassResult
from alphanas.passes.util import bypass


class DoubleNegation(Pass):
    """Remove pairs of negations: Neg(Neg(x)) -> x."""

    name = "double-neg"

    def run(self, graph: Graph) -> PassResult:
        modified = False
        for node in list(graph.nodes):
            if node not in graph.nodes or node.op_type != "Neg":
                continue
            inner = node.inputs[0].producer
            if inner is not None and inner.op_type == "Neg":
                modified |= bypass(graph, node, inner.inputs[0])
        if modified:
            graph.eliminate_dead_nodes()  # the inner Neg, when nothing else reads it
        return PassResult(graph, modified)


class ReluIdempotence(Pass):
    """Drop a Relu applied to the output of a Relu."""

    name = "relu-idempotent"

    def precondition(self, graph: Graph) -> str | None:
        # Only a demonstration of the hook: the pass needs shapes to compare values.
        missing = [n.name for n in graph.nodes if n.op_type == "Relu" and n.outputs[0].shape is None]
        return f"Relu nodes without shapes: {missing}" if missing else None

    def run(self, graph: Graph) -> PassResult:
        modified = False
        for node in list(graph.nodes):
            if node.op_type != "Relu":
                continue
            inner = node.inputs[0].producer
            if inner is not None and inner.op_type == "Relu":
                modified |= bypass(graph, node, node.inputs[0])
        return PassResult(graph, modified)
