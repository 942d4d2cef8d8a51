"""NAS-Bench-201: the tabular search space, its table, searches over it, and the benchmark comparing them.

:mod:`~alphanas.bench.nb201.space` (cells as IR graphs, property-guided and random mutations),
:mod:`~alphanas.bench.nb201.table` (the CSV table, the query log a search sees, the tabular evaluator),
:mod:`~alphanas.bench.nb201.search` (property-guided evolution, regularized evolution, random search, and
the entry to :mod:`~alphanas.bench.nb201.surrogate` and :mod:`~alphanas.bench.nb201.generative`),
:mod:`~alphanas.bench.nb201.convert` (the downloaded NAS-Bench-201 / NATS-Bench and HW-NAS-Bench files to the CSVs),
:mod:`~alphanas.bench.nb201.script` (``python -m alphanas.bench.nb201`` / ``alphanas benchmark nb201``) and
:mod:`~alphanas.bench.nb201.hvplot` (hypervolume tables and plot from the benchmark's JSON files).
"""

from alphanas.bench.nb201.script import DEFAULT_TABLE, LABELS, REPORT_BUDGETS, curves, main, plot, run, summarize
from alphanas.bench.nb201.search import (STRATEGIES, PropertySearchConfig, best_by_validation, check_columns,
                                         feasible, run_search)
from alphanas.bench.nb201.space import (EDGES, META_KEY, NODES, OPS, Cell, TableError, cell_from_graph, cell_graph,
                                        cell_hash, cell_signature, edges_fragment, fragment_properties,
                                        property_mutation, random_edge_mutation)
from alphanas.bench.nb201.table import COLUMNS, NB201Table, TableQueries, TabularEvaluator

__all__ = ["COLUMNS", "DEFAULT_TABLE", "EDGES", "LABELS", "META_KEY", "NODES", "OPS", "REPORT_BUDGETS", "STRATEGIES",
           "Cell", "NB201Table", "PropertySearchConfig", "TableError", "TableQueries", "TabularEvaluator",
           "best_by_validation", "check_columns", "feasible", "cell_from_graph", "cell_graph", "cell_hash",
           "cell_signature", "curves",
           "edges_fragment", "fragment_properties", "main", "plot", "property_mutation", "random_edge_mutation",
           "run", "run_search", "summarize"]
