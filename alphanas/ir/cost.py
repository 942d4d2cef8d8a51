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
    """Largest total size of live activations over the node order (inputs included, weights not)."""
    last_use: dict[int, int] = {}
    outputs = {id(v) for v in graph.outputs}
    for i, node in enumerate(graph.nodes):
        for v in node.inputs:
            if v is not None and not v.is_const:
                last_use[id(v)] = i
    live = {id(v): v.numel(batch) * v.dtype.itemsize for v in graph.inputs}
    peak = sum(live.values())
    for i, node in enumerate(graph.nodes):
        for v in node.outputs:
            if v.shape is not None:
                live[id(v)] = v.numel(batch) * v.dtype.itemsize
        peak = max(peak, sum(live.values()))
        for vid in [k for k in live if last_use.get(k, -1) <= i and k not in outputs]:
            del live[vid]
    return peak


def summary(graph: Graph) -> dict[str, int]:
    return {
        "nodes": len(graph.nodes),
        "params": graph_params(graph),
        "macs": graph_macs(graph),
        "flops": graph_flops(graph),
        "peak_activation_bytes": peak_activation_bytes(graph),
    }
