"""A surrogate of the evaluator: features of an architecture, a predictor with uncertainty, acquisition.

A surrogate-assisted search learns online from the candidates it has evaluated which proposals are
worth the next evaluation: it proposes many mutants, predicts their accuracy, and evaluates (trains
or looks up) only the best by an acquisition rule.

**Features** (:func:`graph_features`): αNAS's program properties of the whole graph — input-to-output
depth and the mixing matrix (:mod:`alphanas.properties`) — its costs (log params, log FLOPs) and a
structural encoding: a Weisfeiler-Lehman subtree histogram over the op-type-labelled graph (2
iterations, hashed into :data:`WL_BUCKETS` buckets), so that graphs with the same local structure
share features.

**Predictor** (:class:`GaussianProcess`): Gaussian-process regression with a squared-exponential
kernel on standardized features; its length scale and noise are chosen each fit by marginal
likelihood over a small grid, and it returns a mean and a standard deviation per point. For the
≤ a few hundred evaluations of a NAS budget an exact GP is cheaper than an ensemble of networks and
its uncertainty is calibrated by construction; :class:`Ensemble` bags GPs over bootstrap resamples
of the data when an ensemble's spread is wanted as the uncertainty instead.

**Acquisition** (:func:`acquire`): upper confidence bound ``mean + kappa * std``; ``kappa = 0`` is
pure exploitation; :func:`expected_improvement` over the best value seen; Thompson sampling through
:meth:`GaussianProcess.sample` (joint draws of the posterior). :func:`screen` applies predictor and
acquisition to a list of candidate graphs.

**Screening in the general search** (:class:`SurrogateScreen`, ``alphanas search --strategy surrogate``):
a :class:`~alphanas.search.protocols.Screen` for :class:`~alphanas.search.evolution.Evolution`. Before each
trial the loop shows it the evaluated population (:meth:`SurrogateScreen.observe`: exactly the candidates
the trial may see, so the search stays deterministic for a fixed seed, and a resumed search refits the
same predictor from the store); once ``warmup`` candidates are evaluated the trial makes
``mutants`` property-guided mutants, the GP (refit on every evaluated candidate's features and
validation metric) ranks them by acquisition and only the best is trained; before that, one random
mutant per trial is trained, as without a screen. The chosen candidate records ``surrogate_pred`` and
``surrogate_std`` (the prediction) and ``proxy_surrogate`` (its acquisition score) in its metrics.
"""

from __future__ import annotations

import hashlib
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from scipy.linalg import cho_solve, solve_triangular

from alphanas.ir.graph import Graph

#: buckets of the hashed Weisfeiler-Lehman histogram of :func:`graph_features`
WL_BUCKETS = 64
#: length scales (in units of sqrt(feature count) of standardized features) the GP chooses from
LENGTH_SCALES = (0.25, 0.5, 1.0, 2.0)
#: noise variances (of standardized targets) the GP chooses from
NOISES = (0.01, 0.05, 0.2, 0.5)
#: the GP's kernels: squared-exponential on standardized features; cosine similarity of raw feature counts
#: (the normalized Weisfeiler-Lehman kernel of NASBOWL, Ru et al., ICLR 2021, on WL histograms)
KERNELS = ("se", "cosine")


class Predictor(Protocol):
    """What a search needs of a surrogate model."""

    def fit(self, x: np.ndarray, y: np.ndarray) -> "Predictor": ...

    def predict(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...


def _standardize(x: np.ndarray, mean: np.ndarray, scale: np.ndarray) -> np.ndarray:
    return (x - mean) / scale


class GaussianProcess:
    """Exact GP regression, hyper-parameters by marginal likelihood on a grid.

    ``kernel="se"`` (default): squared-exponential; ``fit(x, y)`` standardizes features (columns constant on
    the data are ignored) and targets. ``kernel="cosine"``: the cosine similarity of the raw feature vectors
    (for counts such as a WL histogram: the normalized WL kernel); only the noise is chosen.
    ``predict(x)`` returns ``(mean, std)`` in the units of ``y``. Deterministic (no random choices).
    """

    def __init__(self, length_scales: Sequence[float] = LENGTH_SCALES, noises: Sequence[float] = NOISES,
                 kernel: str = "se") -> None:
        if kernel not in KERNELS:
            raise ValueError(f"GP kernel {kernel!r}: use one of {', '.join(KERNELS)}")
        self.kernel = kernel
        self.length_scales = tuple(length_scales) if kernel == "se" else (1.0,)
        self.noises = tuple(noises)
        self.length_scale = self.noise = math.nan

    def _kernel(self, a: np.ndarray, b: np.ndarray, length: float) -> np.ndarray:
        if self.kernel == "cosine":
            na = np.maximum(np.linalg.norm(a, axis=1), 1e-12)
            nb = np.maximum(np.linalg.norm(b, axis=1), 1e-12)
            return (a @ b.T) / (na[:, None] * nb[None, :])
        d2 = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
        return np.exp(-np.maximum(d2, 0.0) / (2.0 * length * length * max(1, a.shape[1])))

    def fit(self, x: np.ndarray, y: np.ndarray) -> "GaussianProcess":
        x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
        if x.ndim != 2 or len(x) != len(y) or len(y) < 2:
            raise ValueError(f"a GP needs at least 2 points with 2-D features; got x {x.shape}, y {y.shape}")
        if self.kernel == "cosine":  # counts (a WL histogram): compared as they are, not standardized
            self._mean, self._scale = np.zeros(x.shape[1]), np.ones(x.shape[1])
            self._keep = np.ones(x.shape[1], dtype=bool)
        else:
            self._mean, scale = x.mean(0), x.std(0)
            self._keep = scale > 1e-12
            self._scale = np.where(self._keep, scale, 1.0)
        self._y_mean, self._y_scale = float(y.mean()), float(y.std()) or 1.0
        z = _standardize(x, self._mean, self._scale)[:, self._keep]
        t = (y - self._y_mean) / self._y_scale
        best = None
        for length in self.length_scales:
            k = self._kernel(z, z, length)
            for noise in self.noises:
                try:
                    chol = np.linalg.cholesky(k + noise * np.eye(len(t)))
                except np.linalg.LinAlgError:
                    continue
                alpha = cho_solve((chol, True), t)
                evidence = -0.5 * t @ alpha - np.log(np.diag(chol)).sum()
                if best is None or evidence > best[0]:
                    best = (evidence, length, noise, chol, alpha)
        if best is None:
            raise ValueError("the GP kernel matrix is not positive definite for any noise of the grid")
        _, self.length_scale, self.noise, self._chol, self._alpha = best
        self._z = z
        return self

    def _posterior(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The standardized points ``z`` of ``x``, the standardized posterior mean there, and ``v`` with
        ``v.T @ v`` the part of the prior covariance the observations explain."""
        z = _standardize(np.asarray(x, dtype=float), self._mean, self._scale)[:, self._keep]
        k = self._kernel(z, self._z, self.length_scale)
        return z, k @ self._alpha, solve_triangular(self._chol, k.T, lower=True)

    def predict(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        _, mean, v = self._posterior(x)
        var = np.maximum(1.0 - (v * v).sum(0), 1e-12)
        return self._y_mean + self._y_scale * mean, self._y_scale * np.sqrt(var)

    def sample(self, x: np.ndarray, rng: np.random.Generator, draws: int = 1) -> np.ndarray:
        """``draws`` joint samples of the posterior over the points ``x`` (shape ``(draws, len(x))``, units
        of ``y``; observation noise excluded), for Thompson sampling; random only through ``rng``."""
        z, mean, v = self._posterior(x)
        cov = self._kernel(z, z, self.length_scale) - v.T @ v
        cov = 0.5 * (cov + cov.T) + 1e-8 * np.eye(len(z))
        w, u = np.linalg.eigh(cov)
        root = u * np.sqrt(np.maximum(w, 0.0))
        draw = mean[None, :] + rng.standard_normal((draws, len(z))) @ root.T
        return self._y_mean + self._y_scale * draw


class Ensemble:
    """``members`` GPs, each fit on a bootstrap resample (seeded); mean and std over the members' means."""

    def __init__(self, members: int = 5, seed: int = 0) -> None:
        self.members, self.seed = members, seed

    def fit(self, x: np.ndarray, y: np.ndarray) -> "Ensemble":
        rng = np.random.default_rng(self.seed)
        x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
        self._models = []
        for _ in range(self.members):
            idx = rng.integers(0, len(y), len(y))
            if len(set(idx.tolist())) < 2:
                idx = np.arange(len(y))
            self._models.append(GaussianProcess().fit(x[idx], y[idx]))
        return self

    def predict(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        means = np.stack([m.predict(x)[0] for m in self._models])
        return means.mean(0), means.std(0)


def acquire(mean: np.ndarray, std: np.ndarray, kappa: float) -> np.ndarray:
    """Upper confidence bound: ``mean + kappa * std`` (larger is better)."""
    return np.asarray(mean) + kappa * np.asarray(std)


def expected_improvement(mean: np.ndarray, std: np.ndarray, best: float) -> np.ndarray:
    """Expected improvement over ``best`` of a Gaussian ``(mean, std)`` per point (larger is better)."""
    mean, std = np.asarray(mean, dtype=float), np.maximum(np.asarray(std, dtype=float), 1e-12)
    z = (mean - best) / std
    cdf = 0.5 * (1.0 + np.vectorize(math.erf)(z / math.sqrt(2.0)))
    pdf = np.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
    return (mean - best) * cdf + std * pdf


# -- features of a general graph ------------------------------------------------------------------


def _bucket(label: str) -> int:
    return int(hashlib.sha1(label.encode()).hexdigest()[:8], 16) % WL_BUCKETS


def wl_histogram(graph: Graph, iterations: int = 2) -> np.ndarray:
    """Weisfeiler-Lehman subtree features of the op-type-labelled dataflow graph, hashed into
    :data:`WL_BUCKETS` counts (networkx's ``weisfeiler_lehman_subgraph_hashes``)."""
    import networkx as nx

    g = nx.DiGraph()
    producers = {}
    for i, node in enumerate(graph.nodes):
        g.add_node(i, label=node.op_type)
        for out in node.outputs:
            producers[out.name if hasattr(out, "name") else out] = i
    for i, node in enumerate(graph.nodes):
        for value in node.inputs:
            if value is None:
                continue
            src = producers.get(value.name if hasattr(value, "name") else value)
            if src is not None:
                g.add_edge(src, i)
    counts = np.zeros(WL_BUCKETS)
    if g.number_of_nodes() == 0:
        return counts
    with warnings.catch_warnings():  # networkx >= 3.5 notes that its directed-graph hashes changed
        warnings.simplefilter("ignore", UserWarning)
        hashes = nx.weisfeiler_lehman_subgraph_hashes(g, node_attr="label", iterations=iterations)
    for node, labels in hashes.items():
        counts[_bucket(g.nodes[node]["label"])] += 1
        for label in labels:
            counts[_bucket(label)] += 1
    return counts


def property_features(graph: Graph) -> np.ndarray:
    """Whole-graph depth (max over input/output pairs, -1 when none) and mixing (entry-wise max of the
    mixing matrices of the first input/output pair, flattened and padded to 4x4) of αNAS's properties."""
    from alphanas.properties import PropertySet

    props = PropertySet.infer(graph, ("depth", "mixing"))
    depths = [d for _, _, d in props["depth"].pairs() if d is not None]
    mixing = np.zeros((4, 4))
    pairs = [m for _, _, m in props["mixing"].pairs() if m is not None]
    if pairs and isinstance(pairs[0], str):  # unknown rank: conservatively all-to-one
        mixing[:] = 3.0
    elif pairs:
        m = np.asarray(pairs[0], dtype=float)[:4, :4]
        mixing[:m.shape[0], :m.shape[1]] = m
    return np.concatenate([[max(depths) if depths else -1.0], mixing.ravel()])


def graph_features(graph: Graph) -> np.ndarray:
    """Properties, log costs and the WL histogram of ``graph`` as one feature vector."""
    from alphanas.properties.cost import CostProperty

    cost = CostProperty.infer(graph)
    costs = [math.log1p(float(getattr(cost, name, 0.0) or 0.0)) for name in ("params", "flops")]
    return np.concatenate([property_features(graph), costs, wl_histogram(graph)])


def screen(graphs: Sequence[Graph], seen: Sequence[Graph], seen_acc: Sequence[float], keep: int,
           kappa: float = 0.5, predictor: Predictor | None = None) -> list[int]:
    """Indices of the ``keep`` graphs (of ``graphs``) with the best acquisition under a predictor fit
    on ``seen`` with their accuracies; with fewer than 3 evaluated graphs the first ``keep`` are kept."""
    if len(seen) < 3 or len(graphs) <= keep:
        return list(range(min(keep, len(graphs))))
    model = (predictor or GaussianProcess()).fit(np.stack([graph_features(g) for g in seen]), np.asarray(seen_acc))
    mean, std = model.predict(np.stack([graph_features(g) for g in graphs]))
    order = np.argsort(-acquire(mean, std, kappa), kind="stable")
    return sorted(order[:keep].tolist())


# -- screening mutants in the general search -------------------------------------------------------


@dataclass
class SurrogateScreen:
    """Screen mutants with a GP trained online on the evaluated candidates (see the module docstring).

    ``metric`` (``val_acc``) and ``sense`` (``max``/``min``): what the predictor learns and the
    acquisition prefers. ``costs``: metric keys known before training (``params``, ``flops``) that are
    objectives too; with costs the acquisition of a mutant is its predicted metric (UCB) minus the best
    metric evaluated at no higher cost (the predicted improvement of the Pareto front at its cost);
    without costs it is the UCB itself. ``mutants``: mutants proposed per trial after ``warmup``
    evaluated candidates. ``kappa``: UCB exploration weight. Deterministic (no random choices).
    """

    mutants: int = 8
    warmup: int = 4
    kappa: float = 0.5
    metric: str = "val_acc"
    sense: str = "max"
    costs: tuple[str, ...] = ()
    proxy: str = field(default="surrogate", init=False)
    _seen: list[tuple[np.ndarray, float, dict[str, float]]] = field(default_factory=list, init=False, repr=False)
    _features: dict[str, np.ndarray] = field(default_factory=dict, init=False, repr=False)
    _last: dict[str, Any] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        from alphanas.errors import AlphanasError

        if not isinstance(self.mutants, int) or self.mutants < 2:
            raise AlphanasError(f"surrogate mutants {self.mutants}: must be an integer >= 2")
        if not isinstance(self.warmup, int) or self.warmup < 3:
            raise AlphanasError(f"surrogate warm-up {self.warmup}: must be an integer >= 3 (a GP needs points)")
        if self.sense not in ("max", "min"):
            raise AlphanasError(f"surrogate sense {self.sense!r}: must be max or min")
        self.costs = tuple(self.costs)

    @property
    def keep(self) -> float:
        """The fraction of mutants trained: 1 (a single random mutant) until the predictor is consulted."""
        return 1.0 if not self.ready else 1.0 / self.mutants

    @property
    def ready(self) -> bool:
        """Whether enough candidates are evaluated for the predictor to be consulted."""
        return len(self._seen) >= self.warmup

    def _feature(self, key: str | None, graph: Graph) -> np.ndarray:
        if key is None:
            return graph_features(graph)
        if key not in self._features:
            self._features[key] = graph_features(graph)
        return self._features[key]

    def observe(self, population: Sequence[Any], load: Callable[[Any], Graph]) -> None:
        """Take the evaluated candidates (objects with ``hash`` and ``metrics``) a trial may see;
        ``load(candidate)`` gives a candidate's graph (called once per structure)."""
        seen = []
        for cand in population:
            value = cand.metrics.get(self.metric)
            if not isinstance(value, (int, float)) or not math.isfinite(value):
                continue
            feats = self._features.get(cand.hash)
            if feats is None:
                feats = self._feature(cand.hash, load(cand))
            seen.append((feats, float(value), {c: float(cand.metrics.get(c, math.inf)) for c in self.costs}))
        self._seen = seen

    def scores(self, graphs: list[Graph], *, seed: int = 0) -> list[float]:
        """The acquisition of every graph (larger is better); all zero before warm-up."""
        self._last = {}
        if not self.ready or not graphs:
            return [0.0] * len(graphs)
        sign = 1.0 if self.sense == "max" else -1.0
        x = np.stack([f for f, _, _ in self._seen])
        y = sign * np.array([v for _, v, _ in self._seen])
        model = GaussianProcess().fit(x, y)
        mean, std = model.predict(np.stack([self._feature(None, g) for g in graphs]))
        score = acquire(mean, std, self.kappa)
        if self.costs:
            from alphanas.search.objectives import cost_metrics

            for i, g in enumerate(graphs):
                cost = cost_metrics(g)
                cheaper = [yv for (_, _, c), yv in zip(self._seen, y)
                           if all(c[k] <= cost.get(k, math.inf) for k in self.costs)]
                score[i] -= max(cheaper) if cheaper else y.min()
        self._last = {"mean": sign * mean, "std": std}
        return [float(v) for v in score]

    def annotations(self, index: int) -> dict[str, float]:
        """``surrogate_pred`` and ``surrogate_std`` of graph ``index`` of the last :meth:`scores` call."""
        if not self._last:
            return {}
        return {"surrogate_pred": float(self._last["mean"][index]), "surrogate_std": float(self._last["std"][index])}


__all__ = ["KERNELS", "LENGTH_SCALES", "NOISES", "WL_BUCKETS", "Ensemble", "GaussianProcess", "Predictor", "SurrogateScreen",
           "acquire", "graph_features", "property_features", "screen", "wl_histogram"]
