"""The books of the model-based NAS-Bench-201 searches (:class:`QueriedCells`): query order, accuracies,
no cell queried twice nor one isomorphic to a queried one, best-first ranking, predictor data."""

import itertools
import random

import numpy as np

from alphanas.bench.nb201 import OPS, Cell
from alphanas.bench.nb201.space import cell_class
from alphanas.bench.nb201.tracker import QueriedCells


def test_books_record_order_refuse_isomorphic_cells_and_rank_best_first():
    calls = []

    def query(cell, mutation, what):
        calls.append((str(cell), mutation, what))
        return {0: 0.5, 1: 0.9, 2: 0.5}[len(calls) - 1]

    # two different cells of one isomorphism class: found by enumeration, not assumed
    by_class: dict[int, list[Cell]] = {}
    for ops in itertools.islice(itertools.product(OPS, repeat=6), 3000):
        by_class.setdefault(cell_class(Cell(ops)), []).append(Cell(ops))
    twins = next(cells for cells in by_class.values() if len(cells) >= 2)
    rng = random.Random(0)
    others = [c for c in (Cell.random(rng) for _ in range(50)) if cell_class(c) != cell_class(twins[0])]
    books = QueriedCells(query)
    assert books.fresh(twins[0]) and books.fresh(twins[1])
    assert books.evaluate(twins[0], "random_sample") == 0.5
    assert not books.fresh(twins[0]) and not books.fresh(twins[1])  # the same cell, and its isomorphic twin
    books.evaluate(others[0], "surrogate", "predicted 0.9")
    third = next(c for c in others[1:] if books.fresh(c))
    books.evaluate(third, "generated")
    assert len(books) == 3 and books.cells == [twins[0], others[0], third]
    assert calls[1] == (str(others[0]), "surrogate", "predicted 0.9")
    assert books.value(others[0]) == 0.9
    assert books.best(2) == [others[0], twins[0]]  # ties keep query order
    x, y = books.training_data(lambda c: np.array([len(str(c))], dtype=float))
    assert x.shape == (3, 1) and y.tolist() == [0.5, 0.9, 0.5]
