"""NAS-Bench-201 as a search space of IR graphs: cells, their graphs, and mutations of cells.

**Space.** A cell has an input (node 0) and three nodes; node ``j`` is the sum of one op per edge
``i -> j`` (``i < j``), six edges in all, each one of :data:`OPS`: ``none`` (zero: the edge is dropped
from the sum), ``skip_connect`` (Identity), ``nor_conv_1x1`` / ``nor_conv_3x3`` (ReLU-Conv-BN) and
``avg_pool_3x3``. :class:`Cell` parses and prints NAS-Bench-201's cell strings
(``|nor_conv_3x3~0|+|skip_connect~0|none~1|+|...|``); :func:`cell_graph` builds the cell as an IR graph
with :class:`~alphanas.ir.builder.GraphBuilder` (a node without live inputs is zero, and so is every
edge out of it; a cell whose output is zero multiplies the input by 0). Isomorphic cells have the same
:func:`cell_hash` (the IR's structural hash), which lets a search skip cells it has in effect already
queried.

**Property-guided mutation** (:func:`property_mutation`): choose node ``j`` and a set ``S`` of its
incoming edges (one edge, grown edge by edge with probability ``p_grow``); the subgraph is those
edges' ops with node ``j``'s sum, its inputs the source nodes of ``S`` plus the sum of ``j``'s other
edges (:func:`edges_fragment`). Its shape, depth and mixing properties are inferred with
:mod:`alphanas.properties`, mutated as αNAS does (depth ±δ, mixing requirements deleted with
probability ``p_mixing``, shape kept), and the replacement is synthesized from the space's vocabulary
by enumeration: every assignment of :data:`OPS` to ``S`` (at most 5³) whose inferred properties satisfy
the target and that differs from the parent. Among those, the synthesizer returns one of the
*least* over-satisfying (fewest extra depth and mixing over the target, ties at random): a relaxed
target lets weaker ops in, an unchanged or tightened one only stronger or equal ones.
"""

from __future__ import annotations

import functools
import itertools
import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from alphanas.errors import AlphanasError
from alphanas.ir.builder import GraphBuilder
from alphanas.ir.graph import Graph, Value
from alphanas.properties import DepthProperty, MixingProperty, PropertySet
from alphanas.ir.hashing import structural_hash

#: the five edge ops of NAS-Bench-201: the vocabulary of every synthesis in this space
OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
#: the six edges ``(to, from)`` in the order of the cell string
EDGES: tuple[tuple[int, int], ...] = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))
NODES = 4
META_KEY = "nb201.arch"


class TableError(AlphanasError):
    """The table file is missing or malformed, or a cell string is invalid."""


# -- cells ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    """A NAS-Bench-201 cell: one op of :data:`OPS` per edge of :data:`EDGES`."""

    ops: tuple[str, ...]

    def __post_init__(self) -> None:
        if len(self.ops) != len(EDGES) or any(op not in OPS for op in self.ops):
            raise TableError(f"a cell has {len(EDGES)} edges with ops from {', '.join(OPS)}; got {self.ops}")

    @classmethod
    def parse(cls, arch: str) -> "Cell":
        """Parse ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``."""
        nodes = arch.strip().strip("|").split("|+|")
        ops: dict[tuple[int, int], str] = {}
        try:
            if len(nodes) != NODES - 1:
                raise ValueError
            for j, node in enumerate(nodes, start=1):
                edges = node.split("|")
                if len(edges) != j:
                    raise ValueError
                for edge in edges:
                    op, source = edge.split("~")
                    ops[(j, int(source))] = op
            return cls(tuple(ops[e] for e in EDGES))
        except (ValueError, KeyError):
            raise TableError(f"not a NAS-Bench-201 cell string: {arch!r}") from None

    def __str__(self) -> str:
        by_edge = dict(zip(EDGES, self.ops))
        return "|" + "|+|".join("|".join(f"{by_edge[(j, i)]}~{i}" for i in range(j)) for j in range(1, NODES)) + "|"

    def op(self, to: int, source: int) -> str:
        return self.ops[EDGES.index((to, source))]

    def replace(self, assignment: dict[int, str]) -> "Cell":
        """A copy with the edges at the given indices (into :data:`EDGES`) set to new ops."""
        ops = list(self.ops)
        for index, op in assignment.items():
            ops[index] = op
        return Cell(tuple(ops))

    @classmethod
    def random(cls, rng: random.Random) -> "Cell":
        return cls(tuple(rng.choice(OPS) for _ in EDGES))


def _edge_op(b: GraphBuilder, x: Value, op: str, name: str) -> Value:
    """One edge op on ``x`` (never ``none``: zero edges are dropped by the caller)."""
    if op == "skip_connect":
        return b.op("Identity", x, name=name)
    if op == "avg_pool_3x3":  # NAS-Bench-201: AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
        return b.op("AveragePool", x, name=name, kernel_shape=[3, 3], strides=[1, 1], pads=[1, 1, 1, 1],
                    count_include_pad=0)
    kernel = 3 if op == "nor_conv_3x3" else 1
    with b.scope(name):
        return b.batchnorm(b.conv(b.relu(x), x.shape[1], kernel=kernel, bias=False))


def _sum(b: GraphBuilder, terms: Sequence[Value], name: str) -> Value:
    total = terms[0]
    for k, term in enumerate(terms[1:]):
        total = b.add(total, term, name=f"{name}.add{k}")
    return total


def cell_graph(cell: Cell, channels: int = 16, size: int = 32, seed: int = 0) -> Graph:
    """The cell as an IR graph on an ``(N, channels, size, size)`` input (NB201's first stage: 16, 32).

    The cell string is kept in ``graph.metadata['nb201.arch']``.
    """
    b = GraphBuilder("nb201_cell", seed=seed)
    x = b.input("x", ("N", channels, size, size))
    nodes: list[Value | None] = [x]
    for j in range(1, NODES):
        terms = [_edge_op(b, nodes[i], cell.op(j, i), f"n{j}.e{i}.{cell.op(j, i)}")
                 for i in range(j) if cell.op(j, i) != "none" and nodes[i] is not None]
        nodes.append(_sum(b, terms, f"n{j}") if terms else None)
    out = nodes[-1] if nodes[-1] is not None else b.scale(x, 0.0, name="zero")
    graph = b.build(out)
    graph.eliminate_dead_nodes()
    graph.prune_initializers()
    graph.metadata[META_KEY] = str(cell)
    return graph


def cell_from_graph(graph: Graph) -> Cell:
    """The cell a graph of :func:`cell_graph` was built from."""
    try:
        return Cell.parse(graph.metadata[META_KEY])
    except KeyError:
        raise TableError(f"graph {graph.name!r} is not a NAS-Bench-201 cell (no {META_KEY!r} metadata)") from None


@functools.lru_cache(maxsize=None)
def cell_hash(cell: Cell) -> str:
    """Structural hash of the cell's IR graph after the ``identity-elim`` pass: equal for isomorphic
    cells, for cells whose dead edges differ and for cells that read a node through a skip edge instead
    of that node's single input (the same computation). The 15,625 cells fall into 5,366 classes."""
    from alphanas.passes import get_pass

    return structural_hash(get_pass("identity-elim").run(cell_graph(cell, channels=4, size=8)).graph)


@functools.lru_cache(maxsize=None)
def cell_signature(cell: Cell) -> tuple:
    """The whole cell's depth and mixing (input -> output) as a hashable value: the property class
    a property-diverse initial population stratifies by."""
    props = PropertySet.infer(cell_graph(cell, channels=16, size=32), ("depth", "mixing"))
    return props["depth"].depths, props["mixing"].matrices


#: every cell's isomorphism class (:func:`cell_hash`) and whole-cell depth and mixing
#: (:func:`cell_signature`), precomputed by :func:`precompute_cells` so that a table search needs
#: neither the IR's op library (torch) nor ~10 ms per cell to hash it
CELL_DATA = Path(__file__).with_name("cells.npz")
#: :func:`infer_fragment_properties` of every op tuple of 1 to 3 edges, precomputed with :data:`CELL_DATA`
FRAGMENT_DATA = Path(__file__).with_name("fragments.json")


def cell_index(cell: Cell) -> int:
    """The cell's position in ``itertools.product(OPS, repeat=6)`` (the order of :data:`CELL_DATA`)."""
    index = 0
    for op in cell.ops:
        index = index * len(OPS) + OPS.index(op)
    return index


@functools.lru_cache(maxsize=1)
def _cell_data() -> tuple[np.ndarray, np.ndarray]:
    try:
        with np.load(CELL_DATA) as data:
            classes, signature = data["classes"], data["signature"]
    except (OSError, KeyError, ValueError) as exc:
        raise AlphanasError(f"{CELL_DATA}: unreadable precomputed cell data ({exc}); regenerate it with "
                            f"python -c 'from alphanas.bench.nb201.space import precompute_cells; "
                            f"precompute_cells()'") from None
    if len(classes) != len(OPS) ** len(EDGES) or signature.shape != (len(classes), 17):
        raise AlphanasError(f"{CELL_DATA}: precomputed cell data of the wrong shape; regenerate it")
    return classes, signature


def cell_class(cell: Cell) -> int:
    """The cell's isomorphism class: equal for two cells exactly when their :func:`cell_hash` is."""
    return int(_cell_data()[0][cell_index(cell)])


def cell_properties(cell: Cell) -> tuple[int, ...]:
    """The whole cell's depth (-1: the output does not depend on the input) and its 4x4 mixing matrix
    (row-major; -1 entries when there is none): :func:`cell_signature` as 17 integers."""
    return tuple(int(v) for v in _cell_data()[1][cell_index(cell)])


def precompute_cells(path: Path | None = None) -> Path:
    """Compute :data:`CELL_DATA` from the IR (:func:`cell_hash`, :func:`cell_signature`) for all cells."""
    classes = np.zeros(len(OPS) ** len(EDGES), np.int16)
    signature = np.zeros((len(classes), 17), np.int8)
    ids: dict[str, int] = {}
    for i, ops in enumerate(itertools.product(OPS, repeat=len(EDGES))):
        cell = Cell(ops)
        classes[i] = ids.setdefault(cell_hash(cell), len(ids))
        (depths,), (matrices,) = cell_signature(cell)
        signature[i, 0] = -1 if depths[0] is None else depths[0]
        signature[i, 1:] = -1 if matrices[0] is None else np.asarray(matrices[0]).ravel()
    path = path or CELL_DATA
    np.savez_compressed(path, classes=classes, signature=signature)
    fragments = {}
    for k in (1, 2, 3):
        for ops in itertools.product(OPS, repeat=k):
            props = infer_fragment_properties(ops)
            fragments[",".join(ops)] = {"inputs": props["shape"].inputs, "outputs": props["shape"].outputs,
                                        "depths": props["depth"].depths, "matrices": props["mixing"].matrices}
    path.with_name(FRAGMENT_DATA.name).write_text(json.dumps(fragments, separators=(",", ":")) + "\n")
    return path


# -- properties and property-guided mutation --------------------------------------------------------


def edges_fragment(ops: Sequence[str], channels: int = 16, size: int = 32) -> Graph:
    """The subgraph of a selected edge set: inputs ``s0..s{k-1}`` (the edges' source nodes) and
    ``rest`` (the sum of the target node's other edges), output the node's sum."""
    b = GraphBuilder("nb201_edges")
    sources = [b.input(f"s{k}", ("N", channels, size, size)) for k in range(len(ops))]
    rest = b.input("rest", ("N", channels, size, size))
    terms = [_edge_op(b, s, op, f"e{k}.{op}") for k, (s, op) in enumerate(zip(sources, ops)) if op != "none"]
    out = _sum(b, [rest, *terms], "node") if terms else b.op("Identity", rest, name="node")
    return b.build(out)


def infer_fragment_properties(ops: tuple[str, ...]) -> PropertySet:
    """Shape, depth and mixing of :func:`edges_fragment`, inferred on its IR graph.

    Depth and mixing keep the pairs of the edges' sources only: the ``rest`` input is context that no
    replacement changes (with every selected edge ``none`` it would even lose the sum's Add).
    """
    props = PropertySet.infer(edges_fragment(ops))
    return PropertySet({"shape": props["shape"], "depth": DepthProperty(props["depth"].depths[:-1]),
                        "mixing": MixingProperty(props["mixing"].matrices[:-1])})


def _tuples(value: object) -> object:
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


@functools.lru_cache(maxsize=1)
def _stored_fragments() -> dict[tuple[str, ...], dict]:
    try:
        stored = json.loads(FRAGMENT_DATA.read_text())
    except (OSError, ValueError) as exc:
        raise AlphanasError(f"{FRAGMENT_DATA}: unreadable precomputed fragment properties ({exc}); regenerate "
                            f"them with alphanas.bench.nb201.space.precompute_cells()") from None
    return {tuple(key.split(",")): value for key, value in stored.items()}


@functools.lru_cache(maxsize=None)
def fragment_properties(ops: tuple[str, ...]) -> PropertySet:
    """:func:`infer_fragment_properties`, read from :data:`FRAGMENT_DATA` (precomputed for every op
    tuple of 1 to 3 edges; inferred for any other)."""
    stored = _stored_fragments().get(tuple(ops))
    if stored is None:
        return infer_fragment_properties(tuple(ops))
    from alphanas.properties.shape import ShapeProperty

    return PropertySet({"shape": ShapeProperty(_tuples(stored["inputs"]), _tuples(stored["outputs"])),
                        "depth": DepthProperty(_tuples(stored["depths"])),
                        "mixing": MixingProperty(_tuples(stored["matrices"]))})


@functools.lru_cache(maxsize=None)
def _strength(ops: tuple[str, ...]) -> int:
    """How much a fragment computes: total depth plus all mixing-matrix entries (orders over-satisfaction)."""
    props = fragment_properties(ops)
    depth = sum(d for _, _, d in props["depth"].pairs())
    mixing = sum(sum(sum(row) for row in m) for _, _, m in props["mixing"].pairs())
    return depth + mixing


@functools.lru_cache(maxsize=100_000)
def _satisfying(target: PropertySet, edges: int) -> tuple[tuple[str, ...], ...]:
    """The synthesizer's search: every assignment of :data:`OPS` to ``edges`` edges whose fragment
    satisfies ``target`` (cached: a search meets the same targets again and again)."""
    return tuple(ops for ops in itertools.product(OPS, repeat=edges) if target.satisfied_by(fragment_properties(ops)))


def _choose_edges(rng: random.Random, max_edges: int, p_grow: float) -> list[int]:
    to = rng.randrange(1, NODES)
    incoming = [k for k, (j, _) in enumerate(EDGES) if j == to]
    size = 1
    while size < min(max_edges, len(incoming)) and rng.random() < p_grow:
        size += 1
    return sorted(rng.sample(incoming, size))


def property_mutation(cell: Cell, rng: random.Random, np_rng: np.random.Generator, *, p_depth: float = 0.5,
                      p_mixing: float = 0.5, max_edges: int = 3, p_grow: float = 0.5,
                      relax: bool = False, accept: Callable[[Cell], bool] = lambda c: True
                      ) -> tuple[Cell, str] | None:
    """One property-guided mutation of ``cell`` (see the module docstring); ``None`` when no
    replacement satisfies the mutated target and passes ``accept``.

    ``relax=True`` drops every requirement but the shape and picks uniformly among all different
    replacements: a random edit of the same subgraph, without properties (the retry a search uses
    when guided mutations keep failing, and the ablation ``guided=False``).
    """
    edges = _choose_edges(rng, max_edges, p_grow)
    original = tuple(cell.ops[k] for k in edges)
    source = fragment_properties(original)
    if relax:
        target = PropertySet({"shape": source["shape"]})
    else:
        target = source.mutate(np_rng, {"shape": 0.0, "depth": p_depth, "mixing": p_mixing})
    children = []
    for ops in _satisfying(target, len(edges)):
        if ops == original:
            continue
        child = cell.replace(dict(zip(edges, ops)))
        if accept(child):
            children.append((_strength(ops), ops, child))
    if not children:
        return None
    least = min(strength for strength, _, _ in children)
    _, ops, child = rng.choice(children if relax else [c for c in children if c[0] == least])
    changes = ", ".join(f"{EDGES[k][1]}->{EDGES[k][0]}: {a} => {o}" for k, a, o in zip(edges, original, ops) if a != o)
    return child, changes


def random_edge_mutation(cell: Cell, rng: random.Random) -> tuple[Cell, str]:
    """Real et al.'s NB201 mutation: one uniformly random edge gets a uniformly random other op."""
    k = rng.randrange(len(EDGES))
    op = rng.choice([o for o in OPS if o != cell.ops[k]])
    return cell.replace({k: op}), f"{EDGES[k][1]}->{EDGES[k][0]}: {cell.ops[k]} => {op}"


__all__ = ["CELL_DATA", "EDGES", "META_KEY", "NODES", "OPS", "Cell", "TableError", "cell_class", "cell_from_graph",
           "cell_graph", "cell_hash", "cell_index", "cell_properties", "cell_signature", "precompute_cells",
           "FRAGMENT_DATA", "infer_fragment_properties", "edges_fragment", "fragment_properties", "property_mutation",
           "random_edge_mutation"]
