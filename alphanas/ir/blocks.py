"""Blocks of a network: residual blocks, inception/fire modules, MBConvs, transformer layers, ...

:func:`find_blocks` splits a graph into an ordered list of disjoint :class:`Block` s, each a
:class:`~alphanas.ir.subgraph.Subgraph` with a name and a kind. Search uses them to duplicate, delete
and mutate whole blocks.

Two sources, in this order:

1. **Recorded blocks.** Zoo models write ``{block name: [node names]}`` as JSON into
   ``graph.metadata["alphanas.blocks"]`` (and ``{block name: kind}`` into
   ``graph.metadata["alphanas.block_kinds"]``); ONNX carries both as ``metadata_props``. Node names
   that no longer exist (e.g. after a mutation or an import that dropped ``Dropout``) are ignored.
   Unrecorded nodes whose only neighbouring block is one recorded block (a mutation inside it) join it.
2. **Structural detection**, for any imported graph and for the nodes no recorded block covers. A
   *fork* is a node (or the graph input) whose outputs feed two or more nodes; the *join that closes
   it* is its immediate post-dominator. The region between them (every node on a path from the fork
   to the join, the join included, the fork excluded) is a block: a residual block when the join is an
   ``Add``, an inception/fire/dense module when it is a ``Concat``, a squeeze-excite gate when it is a
   ``Mul``. Of several forks closing at one join the outermost is taken, and regions nested in (or
   overlapping) a larger region are left inside it. What remains is grouped into ``chain`` blocks:
   the connected runs of nodes between the regions (stems, transitions, heads).

Dominators and post-dominators come from networkx.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import networkx as nx

from alphanas.ir.graph import Graph, Node
from alphanas.ir.subgraph import Subgraph

#: graph metadata key holding ``{block name: [node names]}`` as JSON
BLOCKS_KEY = "alphanas.blocks"
#: graph metadata key holding ``{block name: kind}`` as JSON
KINDS_KEY = "alphanas.block_kinds"

#: block kind of a structurally detected region, by the op type of its join
JOIN_KINDS = {"Add": "residual", "Sum": "residual", "Concat": "concat", "Mul": "gate"}

_SRC, _SNK = "<source>", "<sink>"


@dataclass
class Block:
    """A named, typed group of nodes: ``subgraph`` gives its nodes and input/output boundary."""

    name: str
    kind: str
    subgraph: Subgraph
    #: ``"metadata"`` when recorded by the model builder, ``"structure"`` when detected
    origin: str = "structure"

    @property
    def nodes(self) -> list[Node]:
        return self.subgraph.nodes

    def __repr__(self) -> str:
        return f"<Block {self.name!r} ({self.kind}, {len(self.nodes)} nodes, {self.origin})>"


def record_blocks(graph: Graph, blocks: Mapping[str, tuple[str, Sequence[str]]]) -> None:
    """Store ``{name: (kind, node names)}`` in ``graph.metadata`` (replacing any recorded blocks)."""
    graph.metadata[BLOCKS_KEY] = json.dumps({name: list(nodes) for name, (_, nodes) in blocks.items()})
    graph.metadata[KINDS_KEY] = json.dumps({name: kind for name, (kind, _) in blocks.items()})


def recorded_blocks(graph: Graph) -> dict[str, tuple[str, list[str]]] | None:
    """The blocks stored in ``graph.metadata`` as ``{name: (kind, node names)}``, or ``None``.

    Malformed metadata (e.g. hand-edited) is reported with a warning and treated as absent.
    """
    raw = graph.metadata.get(BLOCKS_KEY)
    if raw is None:
        return None
    try:
        blocks = json.loads(raw)
        kinds = json.loads(graph.metadata.get(KINDS_KEY, "{}"))
        if not isinstance(blocks, dict) or not isinstance(kinds, dict):
            raise ValueError("expected JSON objects")
        out = {}
        for name, nodes in blocks.items():
            if not isinstance(nodes, list) or not all(isinstance(n, str) for n in nodes):
                raise ValueError(f"block {name!r} is not a list of node names")
            out[str(name)] = (str(kinds.get(name, "block")), nodes)
        return out
    except ValueError as e:
        warnings.warn(f"graph {graph.name!r}: ignoring malformed metadata {BLOCKS_KEY!r} ({e}); "
                      "blocks are detected from the structure instead", stacklevel=2)
        return None


def find_blocks(graph: Graph, *, use_metadata: bool = True) -> list[Block]:
    """Disjoint blocks covering every node of ``graph``, in topological order (see module doc)."""
    order = {id(n): i for i, n in enumerate(graph.nodes)}
    by_name = {n.name: n for n in graph.nodes}
    blocks: list[tuple[str, str, list[Node], str]] = []
    taken: set[int] = set()
    recorded = recorded_blocks(graph) if use_metadata else None
    for name, (kind, names) in (recorded or {}).items():
        nodes = [by_name[x] for x in names if x in by_name and id(by_name[x]) not in taken]
        if nodes:
            taken |= {id(n) for n in nodes}
            blocks.append((name, kind, nodes, "metadata"))
    free = [n for n in graph.nodes if id(n) not in taken]
    if free and blocks:
        free = _absorb_interior(graph, blocks, free)
    if free:
        counts: dict[str, int] = {}
        for kind, nodes in _detect(graph, {id(n) for n in free}):
            i = counts[kind] = counts.get(kind, -1) + 1
            blocks.append((f"{kind}_{i}", kind, nodes, "structure"))
    blocks.sort(key=lambda b: min(order[id(n)] for n in b[2]))
    return [Block(name, kind, Subgraph(graph, nodes), origin) for name, kind, nodes, origin in blocks]


def _absorb_interior(graph: Graph, blocks: list, free: list[Node]) -> list[Node]:
    """Give each connected group of unrecorded nodes whose only neighbouring block is one recorded
    block to that block (e.g. nodes a mutation put inside a residual block); return the rest."""
    owner = {id(n): i for i, (_, _, nodes, _) in enumerate(blocks) for n in nodes}
    free_ids = {id(n) for n in free}
    g = nx.Graph()
    g.add_nodes_from(free_ids)
    neighbours: dict[int, set[int]] = {i: set() for i in free_ids}
    for n in free:
        adjacent = [v.producer for v in n.inputs if v is not None and v.producer is not None]
        adjacent += [u for v in n.outputs for u in v.users()]
        for m in adjacent:
            if id(m) in free_ids:
                g.add_edge(id(n), id(m))
            elif id(m) in owner:
                neighbours[id(n)].add(owner[id(m)])
    rest: set[int] = set()
    for comp in nx.connected_components(g):
        around = set().union(*(neighbours[i] for i in comp))
        if len(around) == 1:
            nodes = blocks[around.pop()][2]
            nodes.extend(n for n in free if id(n) in comp)
        else:
            rest |= comp
    return [n for n in free if id(n) in rest]


def _dataflow(graph: Graph) -> nx.DiGraph:
    """Node-level data-flow graph with a virtual source (graph inputs) and sink (graph outputs)."""
    g = nx.DiGraph()
    g.add_node(_SRC)
    g.add_node(_SNK)
    outputs = {id(v) for v in graph.outputs}
    for n in graph.nodes:
        g.add_node(id(n))
        fed = False
        for v in n.inputs:
            if v is None or v.is_const:
                continue
            g.add_edge(_SRC if v.producer is None else id(v.producer), id(n))
            fed = True
        if not fed:
            g.add_edge(_SRC, id(n))
        if all(not v.uses for v in n.outputs) or any(id(v) in outputs for v in n.outputs):
            g.add_edge(id(n), _SNK)
    if any(v.producer is None for v in graph.outputs):
        g.add_edge(_SRC, _SNK)
    return g


def _detect(graph: Graph, allowed: set[int]) -> list[tuple[str, list[Node]]]:
    """Fork/join regions inside ``allowed`` (outermost first, disjoint) and the chains between them."""
    # dataflow vertices: node ids and the _SRC/_SNK sentinels
    by_id: dict[object, Node] = {id(n): n for n in graph.nodes}
    rank: dict[object, int] = {id(n): i for i, n in enumerate(graph.nodes)}
    rank[_SRC], rank[_SNK] = -1, len(graph.nodes)
    g = _dataflow(graph)
    ipdom = nx.immediate_dominators(g.reverse(copy=False), _SNK)
    # For each join, the outermost of the forks it closes (the largest region).
    per_join: dict[object, set] = {}
    for fork in g.nodes:
        if fork == _SNK or g.out_degree(fork) < 2 or fork not in ipdom:
            continue
        join = ipdom[fork]
        if join == _SNK:
            continue
        region = _between(g, rank, fork, join)
        if len(region) >= 2 and len(region) > len(per_join.get(join, ())):
            per_join[join] = region
    accepted: list[tuple[str, set]] = []
    used: set = set()
    for join, region in sorted(per_join.items(), key=lambda kv: (-len(kv[1]), rank[kv[0]])):
        if region <= allowed and not region & used:
            accepted.append((JOIN_KINDS.get(by_id[join].op_type, "fork_join"), region))
            used |= region
    result = [(kind, [by_id[i] for i in sorted(region, key=rank.__getitem__)]) for kind, region in accepted]
    rest = nx.DiGraph(g.subgraph(allowed - used))
    for comp in nx.weakly_connected_components(rest):
        result.append(("chain", [by_id[i] for i in sorted(comp, key=rank.__getitem__)]))
    return result


def _between(g: nx.DiGraph, rank: dict, fork, join) -> set:
    """Nodes on some path from ``fork`` to ``join``: the join included, the fork excluded."""
    lo, hi = rank[fork], rank[join]
    down, stack = set(), [fork]
    while stack:
        for s in g.successors(stack.pop()):
            if s not in down and rank[s] <= hi:
                down.add(s)
                stack.append(s)
    region, stack = {join}, [join]
    while stack:
        for p in g.predecessors(stack.pop()):
            if p not in region and p in down and rank[p] > lo:
                region.add(p)
                stack.append(p)
    return region
