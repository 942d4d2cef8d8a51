"""Generative search over NAS-Bench-201 after AG-Net (Lukasik, Jung, Keuper, ECCV 2022).

AG-Net's loop: evaluate a few random architectures; then, each round, retrain a graph *generator* on
the best architectures evaluated so far, sample many architectures from it, rank the samples with a
*surrogate* trained on every evaluation, and evaluate the top ones. The generator thereby learns
"where to look": its distribution concentrates on increasingly good architectures.

What this module keeps from the paper: the initial random sample (:attr:`GenerativeConfig.initial`,
16 in the paper), the generator retrained every round on the top-``k`` evaluated cells weighted by
rank, the surrogate filter over a large sample (``samples`` per round) and the batch of queries per
round (``batch``, 16 in the paper), and the generator's sequential construction of a cell edge by
edge, each edge's op conditioned on the ones generated before.

Where it deviates, and why: (1) the generator is an autoregressive softmax model over the six edges
(edge ``k``'s op from a linear function of the one-hot ops of edges ``< k``), trained by weighted
maximum likelihood in numpy, not the paper's GNN decoder trained through a VAE's latent space: a
table search runs without torch, and in a space of six categorical edges the autoregressive
factorisation is exact; (2) the surrogate is the Gaussian process on the encoding of
:mod:`alphanas.bench.nb201.surrogate` (the paper uses a GNN or XGBoost predictor), and the generator is
not back-propagated through the surrogate — the surrogate filters samples instead; (3) isomorphic
cells (:func:`~alphanas.bench.nb201.space.cell_hash`) are never queried twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from alphanas.bench.nb201.space import EDGES, OPS, Cell, cell_class
from alphanas.bench.nb201.surrogate import encode
from alphanas.bench.nb201.tracker import QueriedCells
from alphanas.search.surrogate import GaussianProcess, acquire


@dataclass
class GenerativeConfig:
    """Settings of the generative search (defaults: the benchmark's fixed settings)."""

    initial: int = 16  # random cells before the first generator (AG-Net: 16)
    batch: int = 10  # cells queried per round
    samples: int = 300  # cells sampled from the generator per round
    top_k: int = 20  # best evaluated cells the generator is trained on
    epochs: int = 150  # full-batch gradient steps per generator training
    learning_rate: float = 0.5
    l2: float = 1e-3
    kappa: float = 0.5  # UCB weight of the surrogate filter


class EdgeGenerator:
    """Autoregressive categorical generator of cells: ``p(op_k | op_<k) = softmax(W_k · onehot(op_<k) + b_k)``."""

    def __init__(self) -> None:
        n = len(OPS)
        self.weights = [np.zeros((n * k + 1, n)) for k in range(len(EDGES))]

    @staticmethod
    def _inputs(ops: np.ndarray, k: int) -> np.ndarray:
        n = len(OPS)
        x = np.zeros((len(ops), n * k + 1))
        x[:, -1] = 1.0
        for j in range(k):
            x[np.arange(len(ops)), j * n + ops[:, j]] = 1.0
        return x

    def fit(self, cells: list[Cell], weights: np.ndarray, epochs: int, learning_rate: float, l2: float
            ) -> "EdgeGenerator":
        """Weighted maximum likelihood of ``cells`` (weights sum to one), from the current parameters."""
        ops = np.array([[OPS.index(op) for op in cell.ops] for cell in cells])
        w = np.asarray(weights, dtype=float)[:, None]
        for k, theta in enumerate(self.weights):
            x = self._inputs(ops, k)
            target = np.eye(len(OPS))[ops[:, k]]
            for _ in range(epochs):
                logits = x @ theta
                p = np.exp(logits - logits.max(1, keepdims=True))
                p /= p.sum(1, keepdims=True)
                theta -= learning_rate * (x.T @ (w * (p - target)) + l2 * theta)
        return self

    def sample(self, count: int, rng: np.random.Generator) -> list[Cell]:
        ops = np.zeros((count, len(EDGES)), dtype=int)
        for k, theta in enumerate(self.weights):
            logits = self._inputs(ops, k) @ theta
            p = np.exp(logits - logits.max(1, keepdims=True))
            p /= p.sum(1, keepdims=True)
            u = rng.random((count, 1))
            ops[:, k] = np.minimum((p.cumsum(1) < u).sum(1), len(OPS) - 1)
        return [Cell(tuple(OPS[i] for i in row)) for row in ops]


def generative_search(query: Callable[[Cell, str, str], float], budget: int, rng: np.random.Generator,
                      config: GenerativeConfig) -> None:
    """Run the generative search; ``query(cell, mutation, description)`` evaluates a cell and returns its
    validation accuracy (called for ``budget`` distinct, non-isomorphic cells, or fewer when stuck)."""
    books = QueriedCells(query)
    generator = EdgeGenerator()  # uniform before training: its samples are the random initial cells
    stalls = 0
    while len(books) < min(budget, config.initial) and stalls < 1000:
        cell = generator.sample(1, rng)[0]
        if books.fresh(cell):
            books.evaluate(cell, "random_sample")
        else:
            stalls += 1
    stalls = 0
    while len(books) < budget and stalls < 20:
        ranked = books.best(config.top_k)
        rank_weights = 1.0 / (np.arange(len(ranked)) + 1.0)
        generator.fit(ranked, rank_weights / rank_weights.sum(), config.epochs, config.learning_rate, config.l2)
        pool: dict[int, Cell] = {}
        for cell in generator.sample(config.samples, rng):
            if books.fresh(cell):
                pool.setdefault(cell_class(cell), cell)
        if not pool:
            stalls += 1
            continue
        candidates = list(pool.values())
        model = GaussianProcess().fit(*books.training_data(encode))
        mean, std = model.predict(np.stack([encode(c) for c in candidates]))
        score = acquire(mean, std, config.kappa)
        for i in np.argsort(-score, kind="stable")[:min(config.batch, budget - len(books))]:
            books.evaluate(candidates[i], "generated", f"predicted {mean[i]:.4f} ± {std[i]:.4f}")


__all__ = ["EdgeGenerator", "GenerativeConfig", "generative_search"]
