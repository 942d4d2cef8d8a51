"""Searches over the NAS-Bench-201 table: property-guided evolution, regularized evolution, random search.

**Searches** (:func:`run_search`): ``'property'`` (property-guided evolution,
:class:`PropertySearchConfig`: a property-diverse initial population — 10 cells of distinct whole-cell
depth/mixing classes (:func:`cell_properties`, :func:`cell_signature` precomputed) drawn from 100
random, unqueried cells —, regularized
(aging) parent selection with population 15 and sample 6, property-guided mutation, and never a
re-query of a cell or of an isomorphic one), ``'rea'`` (regularized evolution as in Real et al. 2019:
population 10, sample 3, a uniformly random op on one uniformly random edge; a repeated cell is
answered from the log without cost and still ages in) and ``'random'`` (uniform cells without
repetition). The loop here is a light one over :mod:`alphanas.search.selection`: 100 runs x 300
queries take about a minute, where the full evolution loop with its SQLite store is built for trained
candidates.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from alphanas.bench.nb201.space import Cell, cell_class, cell_properties, property_mutation, random_edge_mutation
from alphanas.bench.nb201.table import NB201Table, TableQueries
from alphanas.errors import AlphanasError
from alphanas.search.candidate import Candidate, CandidateStatus
from alphanas.search.selection import regularized, select_parent

if TYPE_CHECKING:
    from alphanas.bench.nb201.generative import GenerativeConfig
    from alphanas.bench.nb201.surrogate import SurrogateConfig

STRATEGIES = ("property", "surrogate", "generative", "rea", "random")


# -- searches ------------------------------------------------------------------------------------------


@dataclass
class PropertySearchConfig:
    """Settings of the property-guided evolution (defaults: the benchmark's settings)."""

    initial: int = 10  # cells before evolution starts
    initial_pool: int = 100  # > 0: the initial cells are property-diverse picks from this many random cells
    selection: str = "regularized"  # 'regularized' (aging) | 'tournament' | 'pareto' (αNAS's, over ``objectives``)
    objectives: tuple[str, ...] = ("val_acc", "params")  # 'pareto': accuracy first, then any visible columns
    population: int = 15  # 'regularized': only the newest this many cells can be parents
    sample: int = 6  # parent = best of this many cells drawn at random
    p_depth: float = 0.5  # αNAS CIFAR depth mutation probability
    p_mixing: float = 0.5  # αNAS CIFAR mixing deletion probability
    max_edges: int = 3  # largest edge set a mutation rewrites
    p_grow: float = 0.5  # probability of growing the edge set by one more edge
    guided: bool = True  # False: every mutation is a random edit of the chosen edges (ablation)
    relax_after: int = 10  # failed guided mutations in a row before the target is dropped
    random_parent_after: int = 30  # failed mutations in a row before parents are drawn uniformly


def feasible(metrics: Mapping[str, float], constraints: Mapping[str, float] | None) -> bool:
    """True when every constrained column is at most its limit (``{"latency_ms_fpga": 5.0}``)."""
    return all(metrics.get(column, math.inf) <= limit for column, limit in (constraints or {}).items())


@dataclass
class _Run:
    queries: TableQueries
    budget: int
    candidates: list[Candidate] = field(default_factory=list)
    constraints: Mapping[str, float] = field(default_factory=dict)

    def feasible(self) -> list[Candidate]:
        """The candidates within the constraints (all of them without constraints)."""
        return [c for c in self.candidates if feasible(c.metrics, self.constraints)]

    @property
    def done(self) -> bool:
        return len(self.queries) >= self.budget

    def evaluate(self, cell: Cell, mutation: str, parent: Candidate | None = None, description: str = "",
                 hash_: str = "") -> Candidate:
        candidate = Candidate(graph=None, hash=hash_, key=str(cell), mutation=mutation, status=CandidateStatus.DONE,
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
    (:func:`cell_properties`, :func:`cell_signature` precomputed) chosen uniformly among the classes
    present, so rare classes (deep, mixing
    everything) are as likely as common ones."""
    if pool <= 0:
        return [Cell.random(rng) for _ in range(count)]
    classes: dict[tuple, list[Cell]] = {}
    for cell in (Cell.random(rng) for _ in range(pool)):
        classes.setdefault(cell_properties(cell), []).append(cell)
    chosen = rng.sample(list(classes.values()), min(count, len(classes)))
    return [rng.choice(members) for members in chosen]


def _property_evolution(run: _Run, rng: random.Random, np_rng: np.random.Generator, max_steps: int,
                        config: PropertySearchConfig) -> None:
    classes: set[int] = set()

    def fresh(cell: Cell) -> bool:
        return cell not in run.queries and cell_class(cell) not in classes

    def evaluate(cell: Cell, mutation: str, parent: Candidate | None = None, what: str = "") -> None:
        classes.add(cell_class(cell))
        run.evaluate(cell, mutation, parent, what, f"nb201-class-{cell_class(cell)}")

    failures = 0
    for _ in range(max_steps):
        if run.done:
            return
        if len(run.candidates) < config.initial:
            for cell in _initial_cells(rng, config.initial, config.initial_pool):
                if fresh(cell) and len(run.candidates) < config.initial and not run.done:
                    evaluate(cell, "random_sample")
            continue
        pool = run.feasible() or run.candidates
        if failures >= config.random_parent_after:
            parent = rng.choice(pool)
        else:
            kwargs: dict[str, object] = (
                {"k": config.sample} if config.selection == "tournament" else
                {"objectives": config.objectives} if config.selection == "pareto" else
                {"population": config.population, "sample": config.sample})
            parent = select_parent(config.selection, pool, rng, **kwargs)
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
               config: PropertySearchConfig | None = None, *, surrogate: "SurrogateConfig | None" = None,
               generative: "GenerativeConfig | None" = None,
               constraints: Mapping[str, float] | None = None) -> list[Candidate]:
    """One search run of ``strategy`` until ``budget`` distinct cells were queried; returns every
    evaluation in order (REA's repeats included, with the metrics the log answered). ``key`` is the
    cell string; ``hash`` (``nb201-class-<id>``, :func:`cell_class`: equal for isomorphic cells) is
    filled by the property, surrogate and generative
    strategies, which use it. ``constraints`` (visible column -> upper limit) restrict the parents of
    the property strategy to feasible cells; pass them to :func:`best_by_validation` as well."""
    if strategy not in STRATEGIES:
        raise AlphanasError(f"unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")
    if budget < 1:
        raise AlphanasError(f"the budget must be at least 1 query, not {budget}")
    check_columns(table, [*(config.objectives if config is not None and config.selection == "pareto" else ()),
                          *(surrogate.objectives if surrogate is not None else ()), *(constraints or {})])
    budget = min(budget, len(table))
    run = _Run(table.queries(), budget, constraints=dict(constraints or {}))
    rng = random.Random(seed)
    max_steps = 1000 * budget  # a safety net: every strategy reaches its budget far sooner
    if strategy == "random":
        _random_search(run, rng, max_steps)
    elif strategy == "rea":
        _regularized_evolution(run, rng, max_steps)
    elif strategy == "surrogate":
        from alphanas.bench.nb201.surrogate import SurrogateConfig, surrogate_search

        def query(cell: Cell, mutation: str, what: str) -> dict[str, float]:
            return run.evaluate(cell, mutation, None, what, f"nb201-class-{cell_class(cell)}").metrics

        settings = surrogate if surrogate is not None else SurrogateConfig()
        if surrogate is None and config is not None and config.selection == "pareto":
            settings.objectives = tuple(config.objectives)
        surrogate_search(query, budget, rng, np.random.default_rng(seed), settings, _initial_cells)
    elif strategy == "generative":
        from alphanas.bench.nb201.generative import GenerativeConfig, generative_search

        def query_g(cell: Cell, mutation: str, what: str) -> float:
            return run.evaluate(cell, mutation, None, what, f"nb201-class-{cell_class(cell)}").metrics["val_acc"]

        generative_search(query_g, budget, np.random.default_rng(seed),
                          generative if generative is not None else GenerativeConfig())
    else:
        _property_evolution(run, rng, np.random.default_rng(seed), max_steps, config or PropertySearchConfig())
    return run.candidates


def check_columns(table: NB201Table, columns: Iterable[str]) -> None:
    """Raise a one-line error naming the first of ``columns`` that the table does not show a search."""
    for column in columns:
        if column not in table.columns:
            raise AlphanasError(f"no column {column!r} in the table {table.path}; objectives and constraints "
                                f"name one of {', '.join(table.columns)}")


def best_by_validation(candidates: Iterable[Candidate], budgets: Sequence[int],
                       constraints: Mapping[str, float] | None = None) -> dict[int, str]:
    """For each budget: the cell with the best ``val_acc`` among the first ``budget`` distinct cells
    (ties keep the earlier one); with ``constraints``, among the feasible ones only (a budget before
    the first feasible cell gets none)."""
    result: dict[int, str] = {}
    best: Candidate | None = None
    distinct: set[str] = set()
    wanted = sorted(budgets)
    for candidate in candidates:
        if candidate.key in distinct:
            continue
        distinct.add(candidate.key)
        if feasible(candidate.metrics, constraints) and (
                best is None or candidate.metrics["val_acc"] > best.metrics["val_acc"]):
            best = candidate
        while wanted and len(distinct) == wanted[0]:
            b = wanted.pop(0)
            if best is not None:
                result[b] = best.key
    for b in wanted:  # budgets beyond what was queried get the final best
        if best is not None:
            result[b] = best.key
    return result
