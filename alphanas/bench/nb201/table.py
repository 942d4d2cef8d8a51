"""The NAS-Bench-201 table: its rows, the query log a search sees, and the evaluator over it.

**Table.** :class:`NB201Table` reads a CSV with NAS-Bench-201's columns (``arch``, ``val_acc_12ep``,
``test_acc_12ep``, ``test_acc_200ep``, ``params_m``, ``flops_m``). A search sees it only through a
:class:`TableQueries` log, which hands out ``val_acc_12ep`` and the cost columns of the cells it is
asked for and counts distinct cells (the budget). ``test_acc_200ep`` is read by the harness
(:meth:`NB201Table.test_acc_200ep`) for the cell a search picked, never by a search.
:class:`TabularEvaluator` wraps the table in the evaluator protocol of :mod:`alphanas.search.evaluators`.
"""

from __future__ import annotations

import csv
from pathlib import Path

from alphanas.bench.nb201.space import EDGES, OPS, Cell, TableError, cell_from_graph
from alphanas.ir.graph import Graph

COLUMNS = ("arch", "val_acc_12ep", "test_acc_200ep", "params_m", "flops_m")


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


__all__ = ["COLUMNS", "NB201Table", "TableQueries", "TabularEvaluator"]
