"""The NAS-Bench-201 table: its rows, the query log a search sees, and the evaluator over it.

**Table.** :class:`NB201Table` reads a CSV with NAS-Bench-201's columns (``arch``, ``val_acc_12ep``,
``test_acc_200ep``, ``params_m``, ``flops_m`` required) and keeps every other numeric column; a hardware
table with the same ``arch`` column (``cifar10_hw.csv``: ``latency_ms_<device>`` per device) is joined
when given, or found beside the table as ``<stem>_hw.csv``. A search sees the table only through a
:class:`TableQueries` log, which hands out the *visible* columns of the cells it is asked for —
``val_acc`` (``val_acc_12ep`` as a fraction), ``params``, ``flops`` (absolute) and every further column
whose name does not start with ``test_`` (latencies under their own names) — and counts distinct cells
(the budget). Test accuracies are read by the harness (:meth:`NB201Table.test_acc_200ep`) for the cell
a search picked, never by a search. :class:`TabularEvaluator` wraps the table in the evaluator protocol
of :mod:`alphanas.search.evaluators`; it refuses a graph that is not exactly the cell it claims to be.
"""

from __future__ import annotations

import csv
from pathlib import Path

from alphanas.bench.nb201.space import EDGES, OPS, Cell, TableError, cell_from_graph, cell_graph
from alphanas.ir.graph import Graph
from alphanas.ir.hashing import structural_hash

COLUMNS = ("arch", "val_acc_12ep", "test_acc_200ep", "params_m", "flops_m")
#: table columns renamed (and rescaled) for a search: the rest keep their names
_RENAMED = {"val_acc_12ep": ("val_acc", 0.01), "params_m": ("params", 1e6), "flops_m": ("flops", 1e6)}
_HIDDEN_PREFIX = "test_"


def _read_rows(path: Path, required: tuple[str, ...], what: str) -> dict[str, dict[str, float]]:
    if not path.is_file():
        raise TableError(f"{what} not found: {path}")
    try:
        with path.open(newline="") as f:
            reader = csv.DictReader(f)
            fields = list(reader.fieldnames or [])
            missing = [c for c in required if c not in fields]
            if missing:
                raise TableError(f"{path}: missing column(s) {', '.join(missing)} "
                                 f"(a {what} has {', '.join(required)})")
            numeric = [c for c in fields if c not in ("arch", "index")]
            return {str(Cell.parse(r["arch"])): {c: float(r[c]) for c in numeric} for r in reader}
    except (UnicodeDecodeError, csv.Error, ValueError, TypeError) as exc:
        raise TableError(f"{path}: not a readable {what} CSV ({exc})") from None


# -- the table -----------------------------------------------------------------------------------------


class NB201Table:
    """A NAS-Bench-201 table: cell string -> row. Searches query it through :meth:`queries`."""

    def __init__(self, path: str | Path, hardware: str | Path | None = None) -> None:
        path = Path(path)
        self._rows = _read_rows(path, COLUMNS, "NAS-Bench-201 table")
        if not self._rows:
            raise TableError(f"{path}: the table has no rows")
        self.path = path
        beside = path.with_name(f"{path.stem}_hw{path.suffix}")
        self.hardware = Path(hardware) if hardware is not None else (beside if beside.is_file() else None)
        if self.hardware is not None:
            hw = _read_rows(self.hardware, ("arch",), "hardware table")
            missing = [arch for arch in self._rows if arch not in hw]
            if missing:
                raise TableError(f"{self.hardware}: no row for {len(missing)} cell(s) of {path}, e.g. {missing[0]}")
            for arch, row in self._rows.items():
                row.update({c: v for c, v in hw[arch].items() if c not in row})
        first = next(iter(self._rows.values()))
        #: the column names a search sees (:meth:`visible`)
        self.columns: tuple[str, ...] = tuple(_RENAMED[c][0] if c in _RENAMED else c for c in first
                                              if not c.startswith(_HIDDEN_PREFIX))

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
        """What a search may see of a cell: validation accuracy (fraction), params and FLOPs
        (absolute) and every further column not named ``test_*`` (e.g. ``latency_ms_fpga``)."""
        out = {}
        for column, value in self._row(cell).items():
            if column in _RENAMED:
                name, scale = _RENAMED[column]
                out[name] = value * scale
            elif not column.startswith(_HIDDEN_PREFIX):
                out[column] = value
        return out

    def column(self, name: str) -> list[float]:
        """Every cell's value of a visible column (for reference points and reports, not for searches)."""
        if name not in self.columns:
            raise TableError(f"no column {name!r} in {self.path}; a search sees {', '.join(self.columns)}")
        return [self.visible(arch)[name] for arch in self._rows]

    def archs(self) -> list[str]:
        """Every cell string of the table, in file order."""
        return list(self._rows)

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
        shape = graph.inputs[0].shape if len(graph.inputs) == 1 else None
        channels, size = (shape[1], shape[2]) if shape is not None and len(shape) == 4 else (16, 32)
        if not (isinstance(channels, int) and isinstance(size, int)) or \
                structural_hash(graph) != structural_hash(cell_graph(cell, channels=channels, size=size)):
            raise TableError(f"graph {graph.name!r} is not the NAS-Bench-201 cell its metadata names ({cell}); "
                             f"a table answers only for the cells it lists")
        metrics = self.log.query(cell)
        metrics.update(test_acc=self.table.test_acc_200ep(cell) / 100.0, train_s=0.0, diverged=0.0)
        return metrics


__all__ = ["COLUMNS", "NB201Table", "TableQueries", "TabularEvaluator"]
