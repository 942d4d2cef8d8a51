"""Surrogate-assisted search over NAS-Bench-201: propose many mutants, evaluate the predicted best.

**Encoding** (:func:`encode`): per cell, the one-hot op of each edge (30), BANANAS's path encoding
(which of the 4 + 16 + 16 + 64 input-to-output paths with their op sequences are live; White et al.,
AAAI 2021) and αNAS's properties of the whole cell (:func:`~alphanas.bench.nb201.space.cell_properties`:
input-to-output depth and the 4x4 mixing matrix) with its conv counts as a cost proxy. Nothing of the
table is read to encode a cell.

**Search** (:func:`surrogate_search`, :class:`SurrogateConfig`), after the property-diverse initial
cells of the property-guided evolution, in one of three proposal modes:

- ``'evolution'`` (the default, the benchmark's setting): property-guided aging evolution (population
  15, sample 6, as the ``property`` strategy) whose every step draws ``mutants`` (10) property-guided
  mutants of the parent; a Gaussian process (:class:`~alphanas.search.surrogate.GaussianProcess`),
  refit on every queried cell's validation accuracy, ranks them by upper confidence bound
  ``mean + kappa * std`` and only the best is queried (``kappa`` 1 for the first ``warmup`` = 20
  queries, then ``kappa_late`` = 0: explore, then exploit); after warm-up every 5th query
  (``global_every``) is a global step instead: a joint Thompson draw of the GP posterior over the 200
  (``global_top``) unqueried isomorphism classes of the whole space with the best UCB at ``global_kappa``
  = 2, which can move the search to another basin.
- ``'pool'``: rounds of ``batch`` queries chosen from a pool of property-guided mutants and one-edge
  edits of the best ``parents`` cells, every one-edge neighbour of the best ``neighbours`` cells and
  ``random`` random cells (a BANANAS-style loop; after warm-up only ``late_parents`` parents).
- ``'space'``: Bayesian optimisation over one cell of every isomorphism class of the whole space.

Optional steps of ``'evolution'`` (off by default; tried for the issue's targets, see docs/results.md):
after ``local_after`` queries every ``local_every``-th query hill-climbs (the GP-ranked unqueried one-edit,
then two-edit, neighbours of the best cell of one of ``local_basins`` basins); with ``radius`` the
neighbours of the ``local_top`` best cells join the screened mutants; ``global_every=0`` turns the global
steps off, ``global_top=0`` makes them the plain best UCB over every unqueried class.

Further options of ``'evolution'`` (off by default; the third attempt, see docs/results.md): the
acquisition (``acquisition``: UCB, expected improvement, or a joint Thompson draw of the GP posterior over
the screened mutants), mutants of ``extra_parents`` more parents drawn rank-weighted from every queried
cell, ``edits`` random 1-3-edit neighbours per parent, rank-warped GP targets (``warp``, :func:`warp`),
the predictor's feature subset (``features``, :func:`features`) and a Thompson draw over the
``global_top`` best-UCB classes in the global step.

**Multi-objective mode** (``objectives=('val_acc', COLUMN)``; the benchmark's ``--selection pareto
--objectives val_acc,COLUMN``): :func:`_pareto_search` maximizes the hypervolume of validation accuracy
vs a cost column such as a device's latency, querying the candidate whose optimistic predicted point
adds the most hypervolume to the queried cells' front.

**Weisfeiler-Lehman encoding** (``features='wl'``, :func:`wl_counts` over :func:`op_graph`; with
``kernel='cosine'`` the GP is NASBOWL's normalized WL kernel, Ru et al., ICLR 2021): tried for the
accuracy targets in the fourth attempt (docs/results.md), off by default.

No mode queries a cell twice, nor a cell isomorphic to a queried one.
"""

from __future__ import annotations

import functools
import itertools
import random
import statistics
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from alphanas.bench.nb201.space import (EDGES, NODES, OPS, Cell, cell_class, cell_index, cell_properties,
                                        property_mutation, random_edge_mutation)
from alphanas.bench.nb201.tracker import QueriedCells
from alphanas.errors import AlphanasError
from alphanas.search.surrogate import GaussianProcess, acquire, expected_improvement

#: input-to-output paths of the cell as edge-index sequences into :data:`EDGES`
PATHS: tuple[tuple[int, ...], ...] = ((3,), (0, 4), (1, 5), (0, 2, 5))
_LIVE_OPS = OPS[1:]


@functools.lru_cache(maxsize=None)
def _path_index() -> dict[tuple[str, ...], int]:
    index: dict[tuple[str, ...], int] = {}
    for length in (1, 2, 3):
        for ops in itertools.product(_LIVE_OPS, repeat=length):
            index.setdefault(ops, len(index))
    return index


@functools.lru_cache(maxsize=None)
def encode(cell: Cell) -> np.ndarray:
    """The cell's feature vector: edge one-hot, path encoding, whole-cell depth and mixing, conv counts."""
    onehot = np.zeros(len(EDGES) * len(OPS))
    for k, op in enumerate(cell.ops):
        onehot[k * len(OPS) + OPS.index(op)] = 1.0
    index = _path_index()
    paths = np.zeros(len(index))
    for path in PATHS:
        ops = tuple(cell.ops[k] for k in path)
        if "none" not in ops:
            paths[index[ops]] = 1.0
    properties = np.asarray(cell_properties(cell), dtype=float)  # depth, 4x4 mixing
    convs = [float(cell.ops.count("nor_conv_3x3")), float(cell.ops.count("nor_conv_1x1"))]
    return np.concatenate([onehot, paths, properties, convs])


@dataclass
class SurrogateConfig:
    """Settings of the surrogate-assisted search (defaults: the benchmark's fixed settings)."""

    initial: int = 10  # property-diverse initial cells
    initial_pool: int = 100  # random cells the initial ones are stratified from
    parents: int = 10  # best cells so far whose mutants form the pool
    mutants: int = 10  # mutation attempts per parent per round ('evolution': per step)
    random: int = 50  # random cells added to the pool per round
    batch: int = 5  # cells queried per round
    kappa: float = 1.0  # UCB exploration weight during warm-up
    kappa_late: float = 0.0  # ... after warm-up (exploitation)
    warmup: int = 20  # queries before kappa drops to kappa_late (and the global steps start)
    p_property: float = 0.7  # share of mutation attempts that are property-guided (else one random edge)
    neighbours: int = 3  # every one-edge neighbour of this many best cells joins the pool
    late_parents: int = 3  # parents after warm-up (local search around the best)
    proposal: str = "evolution"  # 'evolution': screened property-guided evolution; 'pool': rounds over a pool
    population: int = 15  # 'evolution': aging population the parent is drawn from
    sample: int = 6  # 'evolution': parent = best of this many drawn from the population
    refit: int = 1  # 'evolution': queries between refits of the predictor
    radius: int = 0  # 'evolution' after warm-up: also screen every cell within this many edge edits ...
    local_top: int = 3  # ... of each of this many best cells (0 radius: off)
    local_after: int = 0  # 'evolution': after this many queries (0: never), hill-climb from the best cell
    local_kappa: float = 0.0  # UCB weight ranking the best cell's unqueried neighbours in the climb
    local_every: int = 1  # climb on every this-many-th query (the others: screened evolution)
    local_basins: int = 1  # climbs rotate over the best cells of this many basins (>= 3 edits apart)
    global_every: int = 5  # 'evolution' after warm-up: every this-many-th query (0: never) is the best
    global_kappa: float = 2.0  # ... UCB (this kappa) over every unqueried isomorphism class of the space
    acquisition: str = "ucb"  # 'evolution': 'ucb' (kappa) | 'ei' (expected improvement) | 'thompson' (a joint draw)
    extra_parents: int = 0  # 'evolution': parents beyond the aging one, drawn rank-weighted from all queried cells
    edits: int = 0  # 'evolution': random 1-3-edit neighbours of each parent that join the screened mutants
    warp: str = "none"  # 'evolution': the GP's targets, 'none' | 'rank' (see :func:`warp`)
    features: str = "all"  # 'evolution': 'all' (:func:`encode`) | 'onehot+properties' (no paths) | 'onehot' | 'wl'
    kernel: str = "se"  # 'evolution': the GP's kernel, 'se' | 'cosine' (with features 'wl': NASBOWL's WL kernel)

    global_top: int = 200  # > 0: the global step draws a joint Thompson sample over this many best-UCB classes
    objectives: tuple[str, ...] = ()  # ('val_acc', COLUMN): multi-objective mode (:func:`_pareto_search`)
    pareto_pool: str = "space"  # multi-objective: 'space' (every unqueried class) | 'mutants' (of the front)
    pareto_kappa: float = 1.0  # multi-objective: the optimistic point is mean +- this many std
    pareto_sample: int = 0  # multi-objective, 'space': screen this many random unqueried classes per query (0: all)


def _pool(cells: list[Cell], rng: random.Random, np_rng: np.random.Generator, config: SurrogateConfig,
          fresh: Callable[[Cell], bool]) -> list[Cell]:
    pool: dict[int, Cell] = {}

    def add(cell: Cell) -> None:
        h = cell_class(cell)
        if h not in pool and fresh(cell):
            pool[h] = cell

    for parent in cells:
        for _ in range(config.mutants):
            if rng.random() < config.p_property:
                result = property_mutation(parent, rng, np_rng, relax=rng.random() < 0.2, accept=fresh)
                if result is not None:
                    add(result[0])
            else:
                add(random_edge_mutation(parent, rng)[0])
    for parent in cells[:config.neighbours]:
        for k in range(len(EDGES)):
            for op in OPS:
                if op != parent.ops[k]:
                    add(parent.replace({k: op}))
    for _ in range(config.random):
        add(Cell.random(rng))
    return list(pool.values())


def surrogate_search(query: Callable[[Cell, str, str], float], budget: int, rng: random.Random,
                     np_rng: np.random.Generator, config: SurrogateConfig,
                     initial: Callable[[random.Random, int, int], list[Cell]]) -> None:
    """Run the surrogate-assisted search; ``query(cell, mutation, description)`` evaluates a cell and
    returns its validation accuracy (it is called for exactly ``budget`` distinct cells, or fewer
    when the space runs out)."""
    books = QueriedCells(query)
    for cell in initial(rng, config.initial, config.initial_pool):
        if len(books) < min(budget, config.initial) and books.fresh(cell):
            books.evaluate(cell, "random_sample")
    if config.objectives:
        _pareto_search(books, budget, rng, np_rng, config)
        return
    if config.proposal == "space":
        _space_search(books, budget, config)
        return
    if config.proposal == "evolution":
        _screened_evolution(books, budget, rng, np_rng, config)
        return
    stalls = 0
    while len(books) < budget and stalls < 100:
        if len(books) < 3:
            cell = Cell.random(rng)
            if books.fresh(cell):
                books.evaluate(cell, "random_sample")
            continue
        late = len(books) >= config.warmup
        ranked = books.best(config.late_parents if late else config.parents)
        pool = _pool(ranked, rng, np_rng, config, books.fresh)
        if not pool:
            stalls += 1
            continue
        model = GaussianProcess().fit(*books.training_data(encode))
        mean, std = model.predict(np.stack([encode(c) for c in pool]))
        kappa = config.kappa_late if late else config.kappa
        score = acquire(mean, std, kappa)
        for i in np.argsort(-score, kind="stable")[:min(config.batch, budget - len(books))]:
            books.evaluate(pool[i], "surrogate", f"predicted {mean[i]:.4f} ± {std[i]:.4f}")


@functools.lru_cache(maxsize=1)
def _space() -> tuple[list[Cell], np.ndarray, np.ndarray]:
    """One cell per isomorphism class (the first in product order), its encoding and class ids."""
    firsts: dict[int, Cell] = {}
    for ops in itertools.product(OPS, repeat=len(EDGES)):
        cell = Cell(ops)
        firsts.setdefault(cell_class(cell), cell)
    cells = list(firsts.values())
    return cells, np.stack([encode(c) for c in cells]), np.array(list(firsts))


@functools.lru_cache(maxsize=None)
def _space_features(which: str) -> np.ndarray:
    """:func:`features` of :func:`_space`'s cells (one per isomorphism class)."""
    return np.stack([features(c, which) for c in _space()[0]])


def _unqueried(books: QueriedCells) -> np.ndarray:
    """Indices into :func:`_space` of the isomorphism classes no queried cell belongs to, ascending."""
    queried = {cell_class(c) for c in books.cells}
    return np.flatnonzero([i not in queried for i in _space()[2].tolist()])


def _space_search(books: QueriedCells, budget: int, config: SurrogateConfig) -> None:
    """Bayesian optimisation over every isomorphism class of the space: each round the ``batch``
    unqueried classes of best UCB (kappa, then kappa_late after warm-up) are queried."""
    space, features, _ = _space()
    while len(books) < budget:
        index = _unqueried(books)
        if not len(index):
            return
        model = GaussianProcess().fit(*books.training_data(encode))
        mean, std = model.predict(features[index])
        kappa = config.kappa_late if len(books) >= config.warmup else config.kappa
        order = np.argsort(-acquire(mean, std, kappa), kind="stable")
        for j in order[:min(config.batch, budget - len(books))]:
            i = index[j]
            books.evaluate(space[i], "surrogate", f"predicted {mean[j]:.4f} ± {std[j]:.4f}")


@functools.lru_cache(maxsize=4096)
def neighbourhood(cell: Cell, radius: int) -> tuple[Cell, ...]:
    """Every cell within ``radius`` edge edits of ``cell`` (itself excluded), in a fixed order."""
    out = []
    for r in range(1, radius + 1):
        for edges in itertools.combinations(range(len(EDGES)), r):
            choices = [[op for op in OPS if op != cell.ops[k]] for k in edges]
            for ops in itertools.product(*choices):
                out.append(cell.replace(dict(zip(edges, ops))))
    return tuple(out)


def _distance(a: Cell, b: Cell) -> int:
    return sum(x != y for x, y in zip(a.ops, b.ops))


def _basins(books: QueriedCells, count: int) -> list[Cell]:
    """The best cell, then the best cell at least 3 edits from every one chosen, ..., up to ``count``."""
    chosen: list[Cell] = []
    for cell in books.best(len(books)):
        if all(_distance(cell, c) >= 3 for c in chosen):
            chosen.append(cell)
            if len(chosen) == count:
                break
    return chosen


def _climb(books: QueriedCells, model: GaussianProcess, config: SurrogateConfig, step: int) -> bool:
    """One step of the hill climb: query the unqueried cell of best UCB among one-edit neighbours (two-edit
    ones once those are all queried) of a basin's best cell (basin ``step`` modulo :attr:`local_basins`);
    False when every basin's neighbourhoods are exhausted."""
    starts = _basins(books, config.local_basins)
    for k in range(len(starts)):
        start = starts[(step + k) % len(starts)]
        for radius in (1, 2):
            pool: dict[int, Cell] = {}
            for cell in neighbourhood(start, radius):
                if books.fresh(cell):
                    pool.setdefault(cell_class(cell), cell)
            if pool:
                candidates = list(pool.values())
                mean, std = model.predict(np.stack([features(c, config.features) for c in candidates]))
                i = int(np.argmax(acquire(mean, std, config.local_kappa)))
                books.evaluate(candidates[i], "surrogate",
                               f"climb r{radius}: predicted {mean[i]:.4f} ± {std[i]:.4f}")
                return True
    return False


def warp(y: np.ndarray, how: str) -> np.ndarray:
    """The predictor's targets from validation accuracies: ``'none'``; ``'rank'``: normal scores of the ranks
    (a Gaussian copula, which keeps the order and stops the worst cells from dominating the fit)."""
    y = np.asarray(y, dtype=float)
    if how == "rank":
        ranks = np.argsort(np.argsort(y, kind="stable"), kind="stable")
        q = (ranks + 0.5) / len(y)
        return np.array([statistics.NormalDist().inv_cdf(v) for v in q])
    return y


def features(cell: Cell, which: str = "all") -> np.ndarray:
    """The columns of :func:`encode` a predictor sees: ``'all'``; ``'onehot+properties'``: the edge one-hot,
    depth, mixing and conv counts (no path encoding: its ~84 sparse columns dominate a standardized
    distance); ``'onehot'``: the edge one-hot only; ``'wl'`` / ``'wlH'``: the cell's Weisfeiler-Lehman
    histogram (:func:`wl_counts`, H = 1-3 iterations, default 2) instead."""
    if which.startswith("wl"):
        return _wl_matrix(_wl_iterations(which))[cell_index(cell)]
    return encode(cell)[..., _columns(which)]


def _wl_iterations(which: str) -> int:
    if which == "wl":
        return 2
    if which in ("wl1", "wl2", "wl3"):
        return int(which[2])
    raise ValueError(f"surrogate features {which!r}: use all, onehot+properties, onehot, wl, wl1, wl2 or wl3")


def op_graph(cell: Cell) -> tuple[dict[str, str], dict[str, tuple[str, ...]]]:
    """The cell as NASBOWL's op-labelled DAG: an ``in`` and an ``out`` node and one node per edge whose op
    is not ``none``, labelled with its op; an op node's predecessors are ``in`` (edges leaving node 0) or
    the op nodes of the edges entering its source node; ``out``'s are the op nodes of the edges entering
    node 3. Nodes on no input-to-output path are dropped (they cannot change the cell's output).
    Returns ``(labels, predecessors)``."""
    live = [k for k, op in enumerate(cell.ops) if op != "none"]
    preds: dict[str, tuple[str, ...]] = {"in": ()}
    for k in live:
        source = EDGES[k][1]
        preds[f"e{k}"] = ("in",) if source == 0 else tuple(f"e{j}" for j in live if EDGES[j][0] == source)
    preds["out"] = tuple(f"e{j}" for j in live if EDGES[j][0] == NODES - 1)
    import networkx as nx

    graph = nx.DiGraph((p, n) for n, ps in preds.items() for p in ps)
    graph.add_nodes_from(preds)
    keep = (nx.descendants(graph, "in") & nx.ancestors(graph, "out")) | {"in", "out"}
    labels = {n: ("in" if n == "in" else "out" if n == "out" else cell.ops[int(n[1:])]) for n in preds if n in keep}
    return labels, {n: tuple(p for p in preds[n] if p in keep) for n in labels}


def wl_counts(cell: Cell, iterations: int = 2) -> dict[str, int]:
    """Weisfeiler-Lehman subtree labels of :func:`op_graph` and how often each occurs, over iterations
    0..``iterations`` (a node's next label: its label and the sorted labels of its predecessors)."""
    # readable labels, not networkx's hashed ones: one vocabulary over the whole space, no hash collisions,
    # and independent of networkx's change of directed-graph hashing (3.5)
    labels, preds = op_graph(cell)
    counts: dict[str, int] = {}
    for it in range(iterations + 1):
        for label in labels.values():
            counts[label] = counts.get(label, 0) + 1
        if it < iterations:
            labels = {n: f"{labels[n]}({','.join(sorted(labels[p] for p in preds[n]))})" for n in labels}
    return counts


@functools.lru_cache(maxsize=None)
def _wl_matrix(iterations: int) -> np.ndarray:
    """:func:`wl_counts` of every cell of the space (rows in :func:`cell_index` order) over one vocabulary."""
    rows = [wl_counts(Cell(ops), iterations) for ops in itertools.product(OPS, repeat=len(EDGES))]
    vocabulary = {label: i for i, label in enumerate(sorted({label for row in rows for label in row}))}
    matrix = np.zeros((len(rows), len(vocabulary)))
    for r, row in enumerate(rows):
        for label, count in row.items():
            matrix[r, vocabulary[label]] = count
    return matrix


@functools.lru_cache(maxsize=None)
def _columns(which: str) -> np.ndarray:
    width, total = len(EDGES) * len(OPS), len(encode(Cell(("none",) * len(EDGES))))
    if which == "onehot":
        return np.arange(width)
    if which == "onehot+properties":
        return np.r_[0:width, width + len(_path_index()):total]
    return np.arange(total)


def _choose(model: GaussianProcess, candidates: list[Cell], kappa: float, config: SurrogateConfig,
            np_rng: np.random.Generator, best: float) -> tuple[int, float, float]:
    """Index of the candidate to query by the configured acquisition, with its predicted mean and std."""
    x = np.stack([features(c, config.features) for c in candidates])
    mean, std = model.predict(x)
    if config.acquisition == "ei":
        score = expected_improvement(mean, std, best)
    elif config.acquisition == "thompson":
        score = model.sample(x, np_rng)[0]
    else:
        score = acquire(mean, std, kappa)
    i = int(np.argmax(score))
    return i, float(mean[i]), float(std[i])


def _edit(cell: Cell, rng: random.Random) -> Cell:
    """A random neighbour 1-3 edge edits away (each edited edge gets a different op)."""
    edges = rng.sample(range(len(EDGES)), rng.randint(1, 3))
    return cell.replace({k: rng.choice([op for op in OPS if op != cell.ops[k]]) for k in edges})


def _add_mutants(pool: dict[int, Cell], parent: Cell, count: int, books: QueriedCells, rng: random.Random,
                 np_rng: np.random.Generator, relax: bool) -> None:
    """Add up to ``count`` fresh property-guided mutants of ``parent`` to ``pool`` (keyed by isomorphism class)."""
    for _ in range(count):
        result = property_mutation(parent, rng, np_rng, relax=relax, accept=books.fresh)
        if result is not None:
            pool.setdefault(cell_class(result[0]), result[0])


def _screened_evolution(books: QueriedCells, budget: int, rng: random.Random, np_rng: np.random.Generator,
                        config: SurrogateConfig) -> None:
    """Property-guided aging evolution whose every step screens ``mutants`` mutants with the predictor."""
    model = None
    fitted = 0
    failures = 0
    while len(books) < budget and failures < 1000:
        if model is None or len(books) - fitted >= config.refit:
            x, y = books.training_data(functools.partial(features, which=config.features))
            targets = warp(y, config.warp)
            model = GaussianProcess(kernel=config.kernel).fit(x, targets)
            fitted = len(books)
        if config.global_every and len(books) >= config.warmup and len(books) % config.global_every == 1:
            space = _space()[0]
            encoded = _space_features(config.features)
            index = _unqueried(books)
            if len(index):
                mean, std = model.predict(encoded[index])
                j = int(np.argmax(acquire(mean, std, config.global_kappa)))
                if config.global_top:
                    top = np.argsort(-acquire(mean, std, config.global_kappa), kind="stable")[:config.global_top]
                    j = int(top[np.argmax(model.sample(encoded[index[top]], np_rng)[0])])
                books.evaluate(space[index[j]], "surrogate", f"global: predicted {mean[j]:.4f} ± {std[j]:.4f}")
                continue
        if config.local_after and len(books) >= config.local_after and len(books) % config.local_every == 0 \
                and _climb(books, model, config, len(books) // config.local_every):
            continue
        alive = books.cells[-config.population:]
        if failures >= 30:
            parent = rng.choice(books.cells)
        else:
            parent = max((rng.choice(alive) for _ in range(config.sample)), key=books.value)
        parents = [parent]
        if config.extra_parents:
            ranked = books.best(len(books))
            weights = [1.0 / (r + 1) for r in range(len(ranked))]
            parents += rng.choices(ranked, weights=weights, k=config.extra_parents)
        pool: dict[int, Cell] = {}
        for source in parents:
            _add_mutants(pool, source, config.mutants, books, rng, np_rng, relax=failures >= 10)
            for _ in range(config.edits):
                cell = _edit(source, rng)
                if books.fresh(cell):
                    pool.setdefault(cell_class(cell), cell)
        if config.radius > 0 and len(books) >= config.warmup:
            for best in books.best(config.local_top):
                for cell in neighbourhood(best, config.radius):
                    if books.fresh(cell):
                        pool.setdefault(cell_class(cell), cell)
        if not pool:
            failures += 1
            continue
        failures = 0
        candidates = list(pool.values())
        kappa = config.kappa_late if len(books) >= config.warmup else config.kappa
        i, mu, sd = _choose(model, candidates, kappa, config, np_rng, float(targets.max()))
        books.evaluate(candidates[i], "surrogate", f"predicted {mu:.4f} ± {sd:.4f}")


def _pareto_search(books: QueriedCells, budget: int, rng: random.Random, np_rng: np.random.Generator,
                   config: SurrogateConfig) -> None:
    """Multi-objective mode: maximize the hypervolume of (validation accuracy, the cost column
    ``objectives[1]``, minimized). Two GPs (accuracy; log cost) are refit on every queried cell; each
    query is the candidate whose optimistic point (accuracy ``mean + pareto_kappa * std``, cost
    ``exp(mean - pareto_kappa * std)``) adds the most hypervolume to the queried cells' front (reference:
    the worst accuracy and cost queried so far, widened by a tenth of their ranges); ties, e.g. when no
    candidate is predicted to add any, go to the best optimistic accuracy. Candidates (``pareto_pool``):
    one cell of every unqueried isomorphism class, or ``mutants`` property-guided mutants of each front
    cell plus ``random`` random cells."""
    from alphanas.search.pareto import hypervolume_improvement_2d, pareto_front

    if len(config.objectives) != 2 or config.objectives[0] != "val_acc":
        raise AlphanasError(f"the surrogate's objectives {','.join(config.objectives)}: it searches two, "
                            "val_acc and one cost column (--objectives val_acc,latency_ms_fpga)")
    if config.pareto_pool not in ("space", "mutants"):
        raise AlphanasError(f"pareto_pool {config.pareto_pool!r}: use space or mutants")
    column = config.objectives[1]
    failures = 0
    while len(books) < budget and failures < 1000:
        x, acc = books.training_data(functools.partial(features, which=config.features))
        raw = np.array([books.metrics[str(c)][column] for c in books.cells], dtype=float)
        log = bool((raw > 0).all())
        cost = np.log(raw) if log else raw
        if len(books) < 2 or np.ptp(acc) == 0 or np.ptp(cost) == 0:
            cell = Cell.random(rng)
            if books.fresh(cell):
                books.evaluate(cell, "random_sample")
            continue
        acc_model = GaussianProcess(kernel=config.kernel).fit(x, acc)
        cost_model = GaussianProcess(kernel=config.kernel).fit(x, cost)
        if config.pareto_pool == "space":
            space = _space()[0]
            index = _unqueried(books)
            if 0 < config.pareto_sample < len(index):
                index = np.sort(np_rng.choice(index, config.pareto_sample, replace=False))
            candidates = [space[i] for i in index]
            encoded = _space_features(config.features)[index]
        else:
            pool: dict[int, Cell] = {}
            points = [{"val_acc": a, "cost": k} for a, k in zip(acc.tolist(), cost.tolist())]
            for i in pareto_front(points, ["val_acc", "cost"], {"val_acc": "max", "cost": "min"}):
                _add_mutants(pool, books.cells[i], config.mutants, books, rng, np_rng, relax=failures >= 10)
            for _ in range(config.random):
                cell = Cell.random(rng)
                if books.fresh(cell):
                    pool.setdefault(cell_class(cell), cell)
            candidates = list(pool.values())
            encoded = np.stack([features(c, config.features) for c in candidates]) if candidates else None
        if not candidates:
            failures += 1
            continue
        failures = 0
        mean_a, std_a = acc_model.predict(encoded)
        mean_c, std_c = cost_model.predict(encoded)
        optimistic = np.stack([mean_a + config.pareto_kappa * std_a, -(mean_c - config.pareto_kappa * std_c)], 1)
        observed = np.stack([acc, -cost], 1)
        reference = observed.min(0) - 0.1 * np.ptp(observed, 0)
        gain = hypervolume_improvement_2d(observed, optimistic, reference)
        i = int(np.lexsort((-optimistic[:, 0], -gain))[0])  # ties: the best accuracy UCB (pareto_kappa)
        shown = np.exp(mean_c[i]) if log else mean_c[i]
        books.evaluate(candidates[i], "surrogate", f"hypervolume +{gain[i]:.2e}: predicted {mean_a[i]:.4f}, "
                                                   f"{column} {shown:.4g}")


__all__ = ["PATHS", "SurrogateConfig", "encode", "features", "neighbourhood", "op_graph", "surrogate_search", "warp",
           "wl_counts"]
