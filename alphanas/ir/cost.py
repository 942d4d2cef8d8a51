"""Exact cost counts of a graph: parameters, MACs, FLOPs and peak activation memory (batch 1)."""

from __future__ import annotations

from alphanas.ir.graph import Graph, Node


def param_values(graph: Graph):
    """The distinct constant values that are trainable parameters of some node."""
    seen: dict[int, object] = {}
    for node in graph.nodes:
        opdef = node.opdef
        if opdef is None:
            continue
        for i in opdef.param_inputs(node):
            v = node.inputs[i]
            seen.setdefault(id(v), v)
    return list(seen.values())


def graph_params(graph: Graph) -> int:
    return sum(int(v.const.size) for v in param_values(graph))


def node_params(node: Node) -> int:
    """Trainable parameter elements of one node (a weight shared by several nodes counts in each)."""
    opdef = node.opdef
    return 0 if opdef is None else int(opdef.params(node))


def node_cost(node: Node, what: str) -> int:
    """``node_params`` or ``node_flops`` by name (``"params"`` or ``"flops"``)."""
    if what == "params":
        return node_params(node)
    if what == "flops":
        return node_flops(node)
    raise ValueError(f"unknown cost {what!r}; choose params or flops")


def node_macs(node: Node) -> int:
    opdef = node.opdef
    return 0 if opdef is None else int(opdef.macs(node))


def node_flops(node: Node) -> int:
    opdef = node.opdef
    return 0 if opdef is None or any(v.shape is None for v in node.outputs) else int(opdef.flops(node))


def graph_macs(graph: Graph) -> int:
    return sum(node_macs(n) for n in graph.nodes)


def graph_flops(graph: Graph) -> int:
    return sum(node_flops(n) for n in graph.nodes)


def peak_activation_bytes(graph: Graph, batch: int = 1) -> int:
    """Largest total size of live activations over the node order (inputs included, weights not).

    A value is live from its producer (or the start, for graph inputs) to its last use; graph outputs
    stay live to the end; a value nobody uses is freed right after it is produced."""
    nodes = graph.nodes
    n = len(nodes)
    free_at: dict = {}  # value -> index of the node after which it is freed (values hash by identity)
    for i, node in enumerate(nodes):
        for v in node.inputs:
            if v is not None and v.const is None:
                free_at[v] = i
    for v in graph.outputs:
        free_at[v] = n  # never freed within the sweep
    released = [0] * (n + 1)  # bytes freed right after node i
    total = 0
    for v in graph.inputs:
        size = v.numel(batch) * v.dtype.itemsize
        total += size
        released[free_at.get(v, 0)] += size
    peak = total
    for i, node in enumerate(nodes):
        for v in node.outputs:
            if v.shape is not None:
                size = v.numel(batch) * v.dtype.itemsize
                total += size
                released[max(free_at.get(v, i), i)] += size
        if total > peak:
            peak = total
        total -= released[i]
    return peak


def counts(graph: Graph) -> dict[str, int]:
    """``params``, ``macs`` and ``flops`` of :func:`graph_params`, :func:`graph_macs`, :func:`graph_flops`
    in one pass over the nodes (what the cost property and ``inspect`` need)."""
    params: dict = {}
    macs = flops = 0
    for node in graph.nodes:
        opdef = node.opdef
        if opdef is None:
            continue
        ins = node.inputs
        for i in opdef.param_inputs(node):
            v = ins[i]
            if v not in params:  # a weight shared by several nodes counts once
                params[v] = int(v.const.size)
        macs += int(opdef.macs(node))
        for v in node.outputs:
            if v.shape is None:
                break
        else:
            flops += int(opdef.flops(node))
    return {"params": sum(params.values()), "macs": macs, "flops": flops}


def summary(graph: Graph) -> dict[str, int]:
    return {"nodes": len(graph.nodes), **counts(graph), "peak_activation_bytes": peak_activation_bytes(graph)}
