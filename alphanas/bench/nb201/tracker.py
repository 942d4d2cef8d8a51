"""The cells a model-based NAS-Bench-201 search has queried: order, validation accuracy, isomorphism classes.

The surrogate (:mod:`~alphanas.bench.nb201.surrogate`) and generative
(:mod:`~alphanas.bench.nb201.generative`) searches keep the same books: every queried cell in query
order with its validation accuracy, and the isomorphism classes (:func:`~alphanas.bench.nb201.space.cell_class`)
already queried, so that no cell is queried twice, nor a cell isomorphic to a queried one.
:class:`QueriedCells` is those books, and the training data of their predictors.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from alphanas.bench.nb201.space import Cell, cell_class


class QueriedCells:
    """The cells queried through ``query(cell, mutation, description)``, in order. The query answers the
    validation accuracy, or the cell's visible columns (a mapping with ``val_acc``), kept in :attr:`metrics`
    for multi-objective searches."""

    def __init__(self, query: Callable[[Cell, str, str], float | Mapping[str, float]]) -> None:
        self._query = query
        self._values: dict[str, float] = {}
        #: every queried cell's answer as a mapping (``{"val_acc": v}`` when the query answers a number)
        self.metrics: dict[str, dict[str, float]] = {}
        self._classes: set[int] = set()
        #: the queried cells, in query order
        self.cells: list[Cell] = []

    def __len__(self) -> int:
        return len(self._values)

    def fresh(self, cell: Cell) -> bool:
        """Whether neither ``cell`` nor a cell isomorphic to it has been queried."""
        return str(cell) not in self._values and cell_class(cell) not in self._classes

    def evaluate(self, cell: Cell, mutation: str, description: str = "") -> float:
        """Query ``cell`` (recorded with ``mutation`` and ``description``) and return its validation accuracy."""
        self._classes.add(cell_class(cell))
        answer = self._query(cell, mutation, description)
        metrics = dict(answer) if isinstance(answer, Mapping) else {"val_acc": float(answer)}
        self.metrics[str(cell)] = metrics
        value = self._values[str(cell)] = float(metrics["val_acc"])
        self.cells.append(cell)
        return value

    def value(self, cell: Cell) -> float:
        """The validation accuracy of a queried cell."""
        return self._values[str(cell)]

    def best(self, count: int) -> list[Cell]:
        """The ``count`` queried cells of highest validation accuracy, best first (ties: query order)."""
        return sorted(self.cells, key=lambda c: -self._values[str(c)])[:count]

    def training_data(self, encode: Callable[[Cell], np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """``(features, validation accuracies)`` of the queried cells in query order, for a predictor."""
        return (np.stack([encode(c) for c in self.cells]),
                np.array([self._values[str(c)] for c in self.cells]))


__all__ = ["QueriedCells"]
