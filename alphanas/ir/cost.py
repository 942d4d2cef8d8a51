"""Exact cost counts of a graph: parameters, MACs, FLOPs and peak activation memory (batch 1).

Counts are per sample: the symbols at axis 0 of the graph inputs (the batch) count as 1. Any other
symbolic dimension (a dynamic height, width or sequence length) makes the shape-dependent counts
unknown: :func:`counts` and :func:`summary` report ``None`` for them (give the model static input
shapes, ``load_onnx(..., input_shapes=...)`` or ``--input-shape``, for exact counts). The plain
``graph_macs``/``graph_flops``/``node_flops`` keep returning numbers for the search's heuristics, and
count such dimensions as 1.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from alphanas.ir import symbolic
from alphanas.ir.graph import Graph, Node, Value
from alphanas.ir.opdef import OpGroup


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


def batch_symbols(graph: Graph) -> set[str]:
    """The symbols at axis 0 of the graph inputs: the batch, which the counts take as 1."""
    return {v.shape[0] for v in graph.inputs
            if v.shape and isinstance(v.shape[0], str) and symbolic.is_symbol(v.shape[0])}


def symbolic_dims(graph: Graph) -> list[str]:
    """The symbolic dimensions, other than the batch, that some value's shape depends on (sorted)."""
    batch = batch_symbols(graph)
    found: set[str] = set()
    for v in _activations(graph):
        for d in v.shape or ():
            if isinstance(d, str):
                found |= {d} if symbolic.is_unknown(d) else symbolic.symbols_of(d) - batch
    return sorted(found)


def _activations(graph: Graph) -> Iterator[Value]:
    yield from graph.inputs
    for node in graph.nodes:
        yield from node.outputs


@contextmanager
def _per_sample(graph: Graph) -> Iterator[None]:
    """Within the block, every activation's shape has the batch symbols set to 1."""
    binding = dict.fromkeys(batch_symbols(graph), 1)
    saved = [(v, v.shape) for v in _activations(graph)]
    try:
        for v, shape in saved:
            if shape is not None and not all(isinstance(d, int) for d in shape):
                v.shape = symbolic.evaluate_shape(shape, binding)
        yield
    finally:
        for v, shape in saved:
            v.shape = shape


def _static(v: Value | None) -> bool:
    return v is None or v.const is not None or (v.shape is not None and all(isinstance(d, int) and d >= 0 for d in v.shape))


def counts(graph: Graph) -> dict[str, int | None]:
    """``params``, ``macs`` and ``flops`` in one pass over the nodes (what the cost property and
    ``inspect`` need), per sample; ``macs`` and ``flops`` are ``None`` (unknown) when a costed node's
    shapes depend on a symbolic dimension other than the batch, or when a node has an output of unknown
    shape (its work cannot be bounded)."""
    params: dict = {}
    macs: int | None = 0
    flops: int | None = 0
    with _per_sample(graph):
        for node in graph.nodes:
            opdef = node.opdef
            if opdef is None:
                if any(v.shape is None for v in node.outputs):  # its work depends on a shape nobody knows
                    macs = flops = None
                continue
            ins = node.inputs
            for i in opdef.param_inputs(node):
                v = ins[i]
                if v not in params:  # a weight shared by several nodes counts once
                    params[v] = int(v.const.size)
            if macs is None or flops is None or OpGroup.SHAPE in opdef.groups:
                continue
            if not all(_static(v) for v in (*ins, *node.outputs)):
                macs = flops = None
                continue
            macs += int(opdef.macs(node))
            flops += int(opdef.flops(node))
    return {"params": sum(params.values()), "macs": macs, "flops": flops}


def node_flops_or_none(node: Node, graph: Graph) -> int | None:
    """FLOPs of one node of ``graph`` per sample; ``None`` when they depend on a symbolic dimension."""
    opdef = node.opdef
    if opdef is None or OpGroup.SHAPE in opdef.groups:
        return 0
    with _per_sample(graph):
        if not all(_static(v) for v in (*node.inputs, *node.outputs)):
            return None
        return int(opdef.flops(node))


def peak_activation_bytes_or_none(graph: Graph) -> int | None:
    """:func:`peak_activation_bytes` per sample; ``None`` when a shape depends on a symbolic dimension or is
    unknown (an opaque op's output: the sum would leave it out, so it would be no upper bound)."""
    with _per_sample(graph):
        if not all(v.shape is not None and _static(v) for v in _activations(graph)):
            return None
        return peak_activation_bytes(graph)


def summary(graph: Graph) -> dict[str, int | None]:
    """Nodes, :func:`counts` and the peak activation memory (``None`` where unknown)."""
    return {"nodes": len(graph.nodes), **counts(graph), "peak_activation_bytes": peak_activation_bytes_or_none(graph)}
