"""The books of the model-based NAS-Bench-201 searches (:class:`QueriedCells`): query order, accuracies,
no cell queried twice nor one isomorphic to a queried one, best-first ranking, predictor data."""

import itertools
import random

import numpy as np
import pytest

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
    assert books.metrics[str(others[0])] == {"val_acc": 0.9}
    # a query may answer the cell's visible columns: the accuracy is val_acc, the rest is kept
    wide = QueriedCells(lambda cell, mutation, what: {"val_acc": 0.7, "latency_ms_fpga": 3.5})
    assert wide.evaluate(twins[0], "random_sample") == 0.7
    assert wide.metrics[str(twins[0])] == {"val_acc": 0.7, "latency_ms_fpga": 3.5}


def test_neighbourhoods_by_count_and_distance():
    from alphanas.bench.nb201.surrogate import neighbourhood

    cell = Cell.parse("|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|")
    one, two = neighbourhood(cell, 1), neighbourhood(cell, 2)
    assert len(one) == 6 * 4 and len(two) == 6 * 4 + 15 * 4 * 4  # C(6,1)*4 + C(6,2)*4^2
    assert len(set(two)) == len(two) and cell not in two and two[:len(one)] == one
    assert all(1 <= sum(a != b for a, b in zip(cell.ops, c.ops)) <= 2 for c in two)


def test_climb_neighbourhood_and_global_options_keep_the_protocol(monkeypatch):
    """The optional steps of the screened evolution (hill climb over the best basins, neighbourhood
    screening, global UCB steps) stay deterministic, distinct and non-isomorphic."""
    from alphanas.bench.nb201 import NB201Table, run_search
    from alphanas.bench.nb201.surrogate import SurrogateConfig
    from tests.bench.test_nb201 import write_table

    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        table = NB201Table(write_table(Path(folder) / "syn.csv"))
    monkeypatch.setattr(NB201Table, "test_acc_200ep", lambda *a: pytest.fail("a search read a test accuracy"))
    config = SurrogateConfig(warmup=12, local_after=14, local_every=2, local_basins=2, global_every=5,
                             radius=1, local_top=2)
    cands = run_search(table, "surrogate", 30, seed=1, surrogate=config)
    assert cands == run_search(table, "surrogate", 30, seed=1, surrogate=config)
    assert len({c.key for c in cands}) == 30 == len({c.hash for c in cands})
    described = " ".join(c.description for c in cands)
    assert "climb r1" in described and "global:" in described
