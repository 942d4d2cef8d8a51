"""NAS-Bench-201 as a search space of IR graphs, its tabular evaluator, and searches over it.

**Space.** A cell has an input (node 0) and three nodes; node ``j`` is the sum of one op per edge
``i -> j`` (``i < j``), six edges in all, each one of :data:`OPS`: ``none`` (zero: the edge is dropped
from the sum), ``skip_connect`` (Identity), ``nor_conv_1x1`` / ``nor_conv_3x3`` (ReLU-Conv-BN) and
``avg_pool_3x3``. :class:`Cell` parses and prints NAS-Bench-201's cell strings
(``|nor_conv_3x3~0|+|skip_connect~0|none~1|+|...|``); :func:`cell_graph` builds the cell as an IR graph
with :class:`~alphanas.ir.builder.GraphBuilder` (a node without live inputs is zero, and so is every
edge out of it; a cell whose output is zero multiplies the input by 0). Isomorphic cells have the same
:func:`cell_hash` (the IR's structural hash), which lets a search skip cells it has in effect already
queried.

**Table.** :class:`NB201Table` reads a CSV with NAS-Bench-201's columns (``arch``, ``val_acc_12ep``,
``test_acc_12ep``, ``test_acc_200ep``, ``params_m``, ``flops_m``). A search sees it only through a
:class:`TableQueries` log, which hands out ``val_acc_12ep`` and the cost columns of the cells it is
asked for and counts distinct cells (the budget). ``test_acc_200ep`` is read by the harness
(:meth:`NB201Table.test_acc_200ep`) for the cell a search picked, never by a search.
:class:`TabularEvaluator` wraps the table in the evaluator protocol of :mod:`alphanas.search.evaluators`.

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

**Searches** (:func:`run_search`): ``'property'`` (property-guided evolution,
:class:`PropertySearchConfig`: a property-diverse initial population — 10 cells of distinct whole-cell
depth/mixing classes (:func:`cell_signature`) drawn from 100 random, unqueried cells —, regularized
(aging) parent selection with population 15 and sample 6, property-guided mutation, and never a
re-query of a cell or of an isomorphic one), ``'rea'`` (regularized evolution as in Real et al. 2019:
population 10, sample 3, a uniformly random op on one uniformly random edge; a repeated cell is
answered from the log without cost and still ages in) and ``'random'`` (uniform cells without
repetition). The loop here is a light one over :mod:`alphanas.search.selection`: 100 runs x 300
queries take about a minute, where the full evolution loop with its SQLite store is built for trained
candidates.
"""

from __future__ import annotations

import csv
import functools
import itertools
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from alphanas.errors import AlphanasError
from alphanas.ir.builder import GraphBuilder
from alphanas.ir.graph import Graph, Value
from alphanas.properties import DepthProperty, MixingProperty, PropertySet
from alphanas.search.candidate import Candidate
from alphanas.search.selection import regularized, select_parent

__all__ = [
    "OPS", "EDGES", "Cell", "cell_graph", "cell_hash", "cell_from_graph", "edges_fragment", "fragment_properties",
    "property_mutation", "random_edge_mutation", "NB201Table", "TableQueries", "TabularEvaluator",
    "PropertySearchConfig", "run_search", "best_by_validation", "cell_signature", "STRATEGIES", "TableError",
]

#: the five edge ops of NAS-Bench-201: the vocabulary of every synthesis in this space
OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
#: the six edges ``(to, from)`` in the order of the cell string
EDGES: tuple[tuple[int, int], ...] = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))
NODES = 4
META_KEY = "nb201.arch"
COLUMNS = ("arch", "val_acc_12ep", "test_acc_200ep", "params_m", "flops_m")
STRATEGIES = ("property", "rea", "random")


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
    b = GraphBuilder(f"nb201_cell", seed=seed)
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

    return get_pass("identity-elim").run(cell_graph(cell, channels=4, size=8)).graph.structural_hash()


@functools.lru_cache(maxsize=None)
def cell_signature(cell: Cell) -> tuple:
    """The whole cell's depth and mixing (input -> output) as a hashable value: the property class
    a property-diverse initial population stratifies by."""
    props = PropertySet.infer(cell_graph(cell, channels=16, size=32), ("depth", "mixing"))
    return props["depth"].depths, props["mixing"].matrices


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


@functools.lru_cache(maxsize=None)
def fragment_properties(ops: tuple[str, ...]) -> PropertySet:
    """Shape, depth and mixing of :func:`edges_fragment` (cached: they depend only on the ops).

    Depth and mixing keep the pairs of the edges' sources only: the ``rest`` input is context that no
    replacement changes (with every selected edge ``none`` it would even lose the sum's Add).
    """
    props = PropertySet.infer(edges_fragment(ops))
    return PropertySet({"shape": props["shape"], "depth": DepthProperty(props["depth"].depths[:-1]),
                        "mixing": MixingProperty(props["mixing"].matrices[:-1])})


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


# -- the table -----------------------------------------------------------------------------------------


class NB201Table:
    """A NAS-Bench-201 table: cell string -> row. Searches query it through :meth:`queries`."""

    def __init__(self, path: str | Path) -> None:
        path = Path(path)
        if not path.is_file():
            raise TableError(f"NAS-Bench-201 table not found: {path}")
        try:
            with path.open(newline="") as f:
                reader = csv.DictReader(f)
                missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
                if missing:
                    raise TableError(f"{path}: missing column(s) {', '.join(missing)} "
                                     f"(a NAS-Bench-201 table has {', '.join(COLUMNS)})")
                self._rows = {str(Cell.parse(r["arch"])): {c: float(r[c]) for c in COLUMNS[1:]} for r in reader}
        except (UnicodeDecodeError, csv.Error, ValueError) as exc:
            raise TableError(f"{path}: not a readable NAS-Bench-201 CSV table ({exc})") from None
        if not self._rows:
            raise TableError(f"{path}: the table has no rows")
        self.path = path

    def __len__(self) -> int:
        return len(self._rows)

    def __contains__(self, cell: Cell | str) -> bool:
        return str(cell) in self._rows

    def _row(self, cell: Cell | str) -> dict[str, float]:
        try:
            return self._rows[str(cell)]
        except KeyError:
            raise TableError(f"cell not in the table {self.path}: {cell} (a search table must list all "
                             f"{len(OPS) ** len(EDGES)} cells of the space)") from None

    def visible(self, cell: Cell | str) -> dict[str, float]:
        """What a search may see of a cell: validation accuracy (fraction), params and FLOPs."""
        row = self._row(cell)
        return {"val_acc": row["val_acc_12ep"] / 100.0, "params": row["params_m"] * 1e6,
                "flops": row["flops_m"] * 1e6}

    def test_acc_200ep(self, cell: Cell | str) -> float:
        """The reported result (percent) of a picked cell; for the harness, never for a search."""
        return self._row(cell)["test_acc_200ep"]

    def optimum(self) -> float:
        """The best ``test_acc_200ep`` of the table (percent): a reference line for reports only."""
        return max(row["test_acc_200ep"] for row in self._rows.values())

    def queries(self) -> "TableQueries":
        """A fresh query log (budget counter) for one search run."""
        return TableQueries(self)


class TableQueries:
    """One search run's access to the table: :meth:`query` returns the visible columns and counts
    distinct cells; :attr:`order` lists them in the order first queried."""

    def __init__(self, table: NB201Table) -> None:
        self._table = table
        self._seen: dict[str, dict[str, float]] = {}
        self.order: list[str] = []

    def __len__(self) -> int:
        return len(self.order)

    def __contains__(self, cell: Cell | str) -> bool:
        return str(cell) in self._seen

    def query(self, cell: Cell | str) -> dict[str, float]:
        arch = str(cell)
        if arch not in self._seen:
            self._seen[arch] = self._table.visible(arch)
            self.order.append(arch)
        return dict(self._seen[arch])


class TabularEvaluator:
    """The evaluator protocol over a NAS-Bench-201 table: ``evaluate(cell_graph(...), seed=...)``.

    Returns ``val_acc`` (12-epoch validation accuracy, the selection signal), ``params``, ``flops``,
    ``train_s`` = 0, ``diverged`` = 0 and, reported apart and never to be selected on, ``test_acc``
    (200-epoch test accuracy); accuracies are fractions. :attr:`log` counts the distinct cells queried.
    """

    def __init__(self, table: NB201Table | str | Path) -> None:
        self.table = table if isinstance(table, NB201Table) else NB201Table(table)
        self.log = self.table.queries()

    def evaluate(self, graph: Graph, *, seed: int = 0, parent: Graph | None = None) -> dict[str, float]:
        cell = cell_from_graph(graph)
        metrics = self.log.query(cell)
        metrics.update(test_acc=self.table.test_acc_200ep(cell) / 100.0, train_s=0.0, diverged=0.0)
        return metrics


# -- searches ------------------------------------------------------------------------------------------


@dataclass
class PropertySearchConfig:
    """Settings of the property-guided evolution (defaults: the benchmark's settings)."""

    initial: int = 10  # cells before evolution starts
    initial_pool: int = 100  # > 0: the initial cells are property-diverse picks from this many random cells
    selection: str = "regularized"  # 'regularized' (aging) | 'tournament' (over every evaluated cell)
    population: int = 15  # 'regularized': only the newest this many cells can be parents
    sample: int = 6  # parent = best of this many cells drawn at random
    p_depth: float = 0.5  # αNAS CIFAR depth mutation probability
    p_mixing: float = 0.5  # αNAS CIFAR mixing deletion probability
    max_edges: int = 3  # largest edge set a mutation rewrites
    p_grow: float = 0.5  # probability of growing the edge set by one more edge
    guided: bool = True  # False: every mutation is a random edit of the chosen edges (ablation)
    relax_after: int = 10  # failed guided mutations in a row before the target is dropped
    random_parent_after: int = 30  # failed mutations in a row before parents are drawn uniformly


@dataclass
class _Run:
    queries: TableQueries
    budget: int
    candidates: list[Candidate] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return len(self.queries) >= self.budget

    def evaluate(self, cell: Cell, mutation: str, parent: Candidate | None = None, description: str = "",
                 hash_: str = "") -> Candidate:
        candidate = Candidate(graph=None, hash=hash_, key=str(cell), mutation=mutation, status="done",
                              parent_id=None if parent is None else parent.id, metrics=self.queries.query(cell),
                              description=description, id=len(self.candidates), trial=len(self.candidates))
        self.candidates.append(candidate)
        return candidate


def _random_search(run: _Run, rng: random.Random, max_steps: int) -> None:
    for _ in range(max_steps):
        if run.done:
            return
        cell = Cell.random(rng)
        if cell not in run.queries:
            run.evaluate(cell, "random_sample")


def _regularized_evolution(run: _Run, rng: random.Random, max_steps: int, population: int = 10,
                           sample: int = 3) -> None:
    # Real et al.: a re-sampled cell is answered from the log (it costs no budget) and still ages in.
    alive: list[Candidate] = []
    for _ in range(max_steps):
        if run.done:
            return
        if len(alive) < population:
            alive.append(run.evaluate(Cell.random(rng), "random_sample"))
            continue
        parent = regularized(alive, rng, population=population, sample=sample)
        child, what = random_edge_mutation(Cell.parse(parent.key), rng)
        alive.append(run.evaluate(child, "random_edit", parent, what))
        alive.pop(0)


def _initial_cells(rng: random.Random, count: int, pool: int) -> list[Cell]:
    """``count`` random cells; with ``pool > 0``, stratified by property class: draw ``pool`` random
    cells (nothing is queried), then take one cell from each of ``count`` classes
    (:func:`cell_signature`) chosen uniformly among the classes present, so rare classes (deep, mixing
    everything) are as likely as common ones."""
    if pool <= 0:
        return [Cell.random(rng) for _ in range(count)]
    classes: dict[tuple, list[Cell]] = {}
    for cell in (Cell.random(rng) for _ in range(pool)):
        classes.setdefault(cell_signature(cell), []).append(cell)
    chosen = rng.sample(list(classes.values()), min(count, len(classes)))
    return [rng.choice(members) for members in chosen]


def _property_evolution(run: _Run, rng: random.Random, np_rng: np.random.Generator, max_steps: int,
                        config: PropertySearchConfig) -> None:
    hashes: set[str] = set()

    def fresh(cell: Cell) -> bool:
        return cell not in run.queries and cell_hash(cell) not in hashes

    def evaluate(cell: Cell, mutation: str, parent: Candidate | None = None, what: str = "") -> None:
        hashes.add(cell_hash(cell))
        run.evaluate(cell, mutation, parent, what, cell_hash(cell))

    failures = 0
    for _ in range(max_steps):
        if run.done:
            return
        if len(run.candidates) < config.initial:
            for cell in _initial_cells(rng, config.initial, config.initial_pool):
                if fresh(cell) and len(run.candidates) < config.initial and not run.done:
                    evaluate(cell, "random_sample")
            continue
        if failures >= config.random_parent_after:
            parent = rng.choice(run.candidates)
        else:
            parent = select_parent(config.selection, run.candidates, rng, **(
                {"k": config.sample} if config.selection == "tournament" else
                {"population": config.population, "sample": config.sample}))
        relax = not config.guided or failures >= config.relax_after
        result = property_mutation(Cell.parse(parent.key), rng, np_rng, p_depth=config.p_depth,
                                   p_mixing=config.p_mixing, max_edges=config.max_edges, p_grow=config.p_grow,
                                   relax=relax, accept=fresh)
        if result is None:
            failures += 1
            continue
        failures = 0
        evaluate(result[0], "random_edit" if relax else "property", parent, result[1])


def run_search(table: NB201Table, strategy: str, budget: int, seed: int,
               config: PropertySearchConfig | None = None) -> list[Candidate]:
    """One search run of ``strategy`` until ``budget`` distinct cells were queried; returns every
    evaluation in order (REA's repeats included, with the metrics the log answered). ``key`` is the
    cell string; ``hash`` (:func:`cell_hash`) is filled by the property strategy, which uses it."""
    if strategy not in STRATEGIES:
        raise AlphanasError(f"unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")
    if budget < 1:
        raise AlphanasError(f"the budget must be at least 1 query, not {budget}")
    budget = min(budget, len(table))
    run = _Run(table.queries(), budget)
    rng = random.Random(seed)
    max_steps = 1000 * budget  # a safety net: every strategy reaches its budget far sooner
    if strategy == "random":
        _random_search(run, rng, max_steps)
    elif strategy == "rea":
        _regularized_evolution(run, rng, max_steps)
    else:
        _property_evolution(run, rng, np.random.default_rng(seed), max_steps, config or PropertySearchConfig())
    return run.candidates


def best_by_validation(candidates: Iterable[Candidate], budgets: Sequence[int]) -> dict[int, str]:
    """For each budget: the cell with the best ``val_acc`` among the first ``budget`` distinct cells
    (ties keep the earlier one)."""
    result: dict[int, str] = {}
    best: Candidate | None = None
    distinct: set[str] = set()
    wanted = sorted(budgets)
    for candidate in candidates:
        if candidate.key in distinct:
            continue
        distinct.add(candidate.key)
        if best is None or candidate.metrics["val_acc"] > best.metrics["val_acc"]:
            best = candidate
        while wanted and len(distinct) == wanted[0]:
            result[wanted.pop(0)] = best.key
    for b in wanted:  # budgets beyond what was queried get the final best
        if best is not None:
            result[b] = best.key
    return result
