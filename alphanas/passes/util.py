"""Rewiring helpers shared by the built-in passes."""

from __future__ import annotations

import numpy as np

from alphanas.ir.graph import Graph, Node, Value


def forward(graph: Graph, old: Value, new: Value) -> bool:
    """Make every use of ``old`` read ``new``; keeps graph output names stable.

    When ``old`` is a graph output, ``new`` takes its name (so users of the model see the same output
    names) — possible only when ``new`` is produced by a node and is not already a graph output or a
    graph input. Returns ``False`` (and changes nothing) when the forward is not possible.
    """
    if old is new:
        return False
    if graph.is_output(old):
        if new.producer is None or graph.is_output(new) or new.is_const:
            return False
        graph.replace_all_uses(old, new)
        old_name = old.name
        graph.rename_value(old, graph.unique_name(old.name + "_dead"))
        graph.rename_value(new, old_name)
        return True
    graph.replace_all_uses(old, new)
    return True


def bypass(graph: Graph, node: Node, source: Value) -> bool:
    """Remove single-output ``node`` by forwarding its output to ``source``; returns whether it went."""
    if not forward(graph, node.outputs[0], source):
        return False
    graph.remove_node(node)
    return True


def new_const(graph: Graph, base: str, array: np.ndarray) -> Value:
    """A fresh initializer (weights are shared between graph copies, so never edit one in place)."""
    return graph.add_initializer(base, np.ascontiguousarray(array))


def single_use(graph: Graph, v: Value) -> bool:
    """``v`` is read by exactly one node input and is not a graph output."""
    return len(v.uses) == 1 and not graph.is_output(v)


def same_shape(a, b) -> bool:
    return a is not None and b is not None and tuple(a) == tuple(b)
