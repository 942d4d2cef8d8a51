"""Subgraph selection as αNAS does it: random connected growth (reference §1.6).

Start from a uniformly random eligible node and repeatedly add a random neighbour (a node producing
an input of, or consuming an output of, the current set); after each addition stop with probability
1 - p_grow, and never exceed ``ceil(max_frac * #eligible)`` nodes. Opaque nodes, nodes with several
outputs, nodes with no tensor input and nodes with non-float tensors are not eligible
(:func:`ineligibility` says why). A neighbour whose addition would make the
set non-convex (a path leaving and re-entering it, which would create a cycle on replacement) is
skipped. Selection may be restricted to one block (:func:`alphanas.ir.blocks.find_blocks`), and its
start node may be drawn in proportion to the node's parameters or FLOPs instead (``focus``).
"""

from __future__ import annotations

import math

import numpy as np

from alphanas.errors import AlphanasError
from alphanas.ir.blocks import find_blocks
from alphanas.ir.graph import Graph, Node
from alphanas.ir.subgraph import Subgraph


#: element types synthesis works in: its vocabulary (convolutions, dense layers, activations) is float
FLOAT_KINDS = ("f",)


def ineligibility(node: Node) -> str | None:
    """Why synthesis may not replace ``node`` (a short reason), or None when it may.

    A node is eligible when it has an alphanas definition, one output of known shape, one to three
    non-constant inputs, and all its tensors (inputs and output) are floating point: the synthesizer's
    vocabulary is float, so integer and boolean sub-computations (shape arithmetic, masks) are left
    alone. Opaque and multi-output nodes are not eligible themselves, but their neighbours are: a region
    next to them is a candidate whenever its own boundary is clean.
    """
    if node.is_opaque:
        return "opaque"
    if len(node.outputs) != 1:
        return "multi-output"
    out = node.outputs[0]
    if out.shape is None:
        return "unknown shape"
    if node.op_type in ("Dropout",):
        return "dropout"
    tensors = [v for v in node.inputs if v is not None and not v.is_const]
    if not tensors:
        return "no tensor input"
    if len(tensors) > 3:
        return "more than 3 inputs"
    if out.dtype.kind not in FLOAT_KINDS or any(v.dtype.kind not in FLOAT_KINDS or v.shape is None for v in tensors):
        return "not float"
    return None


def eligible(node: Node) -> bool:
    """True when synthesis may replace ``node`` (see :func:`ineligibility`)."""
    return ineligibility(node) is None


def ineligibility_summary(nodes: list[Node]) -> str:
    """Counts of the reasons why ``nodes`` are not eligible, e.g. ``"3 opaque, 2 not float"``."""
    counts: dict[str, int] = {}
    for n in nodes:
        why = ineligibility(n)
        if why is not None:
            counts[why] = counts.get(why, 0) + 1
    return ", ".join(f"{k} {why}" for why, k in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))) or "none"


def block_nodes(graph: Graph, block: str | None, rng: np.random.Generator | None = None) -> list[Node] | None:
    """Nodes of block ``block`` (or None for the whole graph); unknown names raise AlphanasError."""
    if block is None:
        return None
    blocks = find_blocks(graph)
    for b in blocks:
        if b.name == block:
            return list(b.subgraph.nodes)
    names = ", ".join(b.name for b in blocks[:20]) or "none"
    raise AlphanasError(f"no block named {block!r} in graph {graph.name!r}; blocks: {names}")


def _convex(graph_nodes_index: dict[int, int], chosen: set[int], nodes: list[Node]) -> bool:
    """True when no path leaves the chosen set and comes back into it."""
    lo = min(graph_nodes_index[i] for i in chosen)
    hi = max(graph_nodes_index[i] for i in chosen)
    reach: set[int] = set()
    for n in nodes[lo:hi + 1]:
        nid = id(n)
        if nid in chosen:
            continue
        srcs = [v.producer for v in n.inputs if v is not None and v.producer is not None]
        if any(id(s) in chosen or id(s) in reach for s in srcs):
            reach.add(nid)
    for n in nodes[lo:hi + 1]:
        if id(n) in chosen and any(v is not None and v.producer is not None and id(v.producer) in reach
                                   for v in n.inputs):
            return False
    return True


def weighted_index(rng: np.random.Generator, weights: list[float]) -> int:
    """An index drawn with probability proportional to ``weights`` (uniform when they are all 0)."""
    w = np.asarray(weights, dtype=float)
    if not len(w) or w.sum() <= 0:
        return int(rng.integers(len(w)))
    return int(rng.choice(len(w), p=w / w.sum()))


def random_subgraph(graph: Graph, rng: np.random.Generator, *, p_grow: float = 0.75, max_frac: float = 0.8,
                    within: list[Node] | None = None, focus: str | None = None) -> Subgraph:
    """A random connected, convex subgraph of eligible nodes (of ``within`` when given).

    ``focus`` (``"params"`` or ``"flops"``) draws the start node in proportion to its cost instead of
    uniformly, so that a search minimising that cost mutates where the cost is; growth stays uniform.
    """
    pool = [n for n in (within if within is not None else graph.nodes) if eligible(n)]
    if not pool:
        considered = list(within if within is not None else graph.nodes)
        where = "" if within is None else " in the chosen block"
        raise AlphanasError(f"graph {graph.name!r} has no node synthesis can replace{where}: considered "
                            f"{len(considered)} node(s), ineligible: {ineligibility_summary(considered)}")
    allowed = {id(n) for n in pool}
    index = {id(n): i for i, n in enumerate(graph.nodes)}
    max_len = max(1, math.ceil(max_frac * len(pool)))
    if focus is None:
        start = pool[int(rng.integers(len(pool)))]
    else:
        from alphanas.ir.cost import node_cost

        costs = [float(node_cost(n, focus)) for n in pool]
        floor = 0.01 * max(costs) / len(pool) if max(costs) > 0 else 1.0
        start = pool[weighted_index(rng, [c + floor for c in costs])]
    chosen = {id(start): start}
    while len(chosen) < max_len and rng.random() < p_grow:
        nbrs: dict[int, Node] = {}
        for n in chosen.values():
            for v in n.inputs:
                if v is not None and v.producer is not None and id(v.producer) in allowed:
                    nbrs[id(v.producer)] = v.producer
            for v in n.outputs:
                for u, _ in v.uses:
                    if id(u) in allowed:
                        nbrs[id(u)] = u
        cands = sorted((n for k, n in nbrs.items() if k not in chosen), key=lambda n: index[id(n)])
        added = False
        while cands:
            n = cands.pop(int(rng.integers(len(cands))))
            ids = set(chosen) | {id(n)}
            if _convex(index, ids, graph.nodes):
                chosen[id(n)] = n
                added = True
                break
        if not added:
            break
    return Subgraph(graph, chosen.values())
