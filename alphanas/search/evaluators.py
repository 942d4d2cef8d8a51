"""Evaluators: turn a candidate graph into metrics for the search (accuracy, cost, latency).

Every evaluator follows one protocol::

    metrics = evaluator.evaluate(graph, seed=7, parent=parent_graph_or_None)

and returns plain floats. Accuracies are *fractions* in [0, 1]; ``val_acc`` is for selection and
``test_acc`` is reported apart and never used to select. Evaluators are small picklable objects
(only settings, no data or models), so they travel to a process pool or a Ray worker unchanged; each
process loads its dataset once, lazily, and keeps it in a per-process cache.

* :class:`TrainEvaluator` trains a copy of the graph from scratch (or, with ``inherit=True``, starting
  from the parent's weights for every node whose name and weight shapes are unchanged) with
  :func:`alphanas.train.train`, and reports ``val_acc``, ``test_acc``, ``params``, ``flops``,
  ``train_s``, ``diverged`` (0/1) and ``inherited_frac``.
* :class:`LatencyEvaluator` measures onnxruntime inference latency (``latency_ms``) on this machine.
* :class:`CombinedEvaluator` merges the metrics of several evaluators (e.g. training and latency).
* :class:`PluginEvaluator` calls a user's function (``module:function`` or a name in the entry-point
  group ``alphanas.evaluators``) with the candidate as a ``torch.nn.Module``, its ONNX path, the
  device, the epoch budget and the parent's weights, and reports the metrics it returns (plus
  ``params`` and ``flops``); the search uses them like its own (objectives, constraints, store, report).

With a ``task`` other than classification (:mod:`alphanas.train.tasks`), :class:`TrainEvaluator`
reports that task's metrics as ``val_<metric>`` / ``test_<metric>`` (``val_mse``, ``val_map``, ...)
instead of ``val_acc`` / ``test_acc``; classification adds ``val_top5`` / ``test_top5``.

:meth:`TrainEvaluator.run` also returns the trained graph, so that a search loop can keep trained
weights (e.g. in the ONNX it stores) and pass them back as ``parent`` of the next children.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from alphanas.ir.graph import Graph
from alphanas.search.protocols import Evaluator

__all__ = ["CombinedEvaluator", "ENTRY_POINT_GROUP", "Evaluation", "Evaluator", "LatencyEvaluator", "PluginEvaluator",
           "TrainEvaluator", "cached_dataset", "clear_dataset_cache", "inherit_weights", "reinitialize_weights",
           "resolve_evaluator"]


# ---------------------------------------------------------------------------------------------------
# per-process dataset cache
# ---------------------------------------------------------------------------------------------------

_DATASETS: dict[tuple, Any] = {}
_DATASETS_LOCK = threading.Lock()


def cached_dataset(name: str, root: str | None = None, seed: int = 0, options: dict | None = None):
    """:func:`alphanas.data.load_dataset`, loaded once per process for the same arguments."""
    from alphanas.data import load_dataset

    opts = dict(options or {})
    key = (name, None if root is None else str(root), int(seed), tuple(sorted((k, repr(v)) for k, v in opts.items())))
    with _DATASETS_LOCK:
        if key not in _DATASETS:
            _DATASETS[key] = load_dataset(name, root=root, seed=seed, **opts)
        return _DATASETS[key]


def clear_dataset_cache() -> None:
    """Forget every dataset :func:`cached_dataset` holds (the next call loads it again, as a fresh process
    would; for timing a cold start)."""
    with _DATASETS_LOCK:
        _DATASETS.clear()


# ---------------------------------------------------------------------------------------------------
# weight inheritance
# ---------------------------------------------------------------------------------------------------


def inherit_weights(child: Graph, parent: Graph) -> tuple[int, int]:
    """Copy ``parent``'s weights into ``child`` (in place) where a node has the same name and op type
    in both and its constant input in the same position has the same shape.

    Returns ``(inherited, total)`` counted in parameter *elements* over the child's floating-point
    initializers (so ``inherited / total`` is the inherited fraction of the child's weights).
    """
    by_name = {n.name: n for n in parent.nodes}
    done: set[str] = set()
    inherited = 0
    for node in child.nodes:
        src = by_name.get(node.name)
        if src is None or src.op_type != node.op_type or src.domain != node.domain:
            continue
        for mine, theirs in zip(node.inputs, src.inputs):
            if mine is None or theirs is None or not mine.is_const or not theirs.is_const:
                continue
            if mine.name in done or mine.name not in child.initializers:
                continue
            a, b = mine.const, theirs.const
            if a.shape != b.shape or a.dtype.kind != "f" or b.dtype.kind != "f":
                continue
            mine.const = np.array(b, dtype=a.dtype, copy=True)
            done.add(mine.name)
            inherited += int(a.size)
    total = sum(int(v.const.size) for v in child.initializers.values() if v.const.dtype.kind == "f")
    return inherited, total


def reinitialize_weights(graph: Graph, seed: int = 0) -> Graph:
    """A copy of ``graph`` with fresh weights, for training an architecture from scratch: each op
    initialises its own constant inputs (:meth:`~alphanas.ir.opdef.OpDef.init_weight`: He-normal
    matrices and kernels with the fan-in of the op's layout, zero biases, unit norm scales, batch-norm
    statistics reset to mean 0 and variance 1). A weight shared by several nodes is drawn once, by its
    first user. Structure and names are unchanged."""
    rng = np.random.default_rng(seed)
    g = graph.copy()
    done: set[str] = set()
    for node in g.nodes:
        opdef = node.opdef
        if opdef is None:
            continue
        for i in sorted(set(opdef.init_inputs(node))):
            v = node.inputs[i]
            if v.name in done or v.const.dtype.kind != "f":
                continue
            done.add(v.name)
            v.const = np.asarray(opdef.init_weight(node, i, rng)).astype(v.const.dtype)
    return g


# ---------------------------------------------------------------------------------------------------
# training evaluator
# ---------------------------------------------------------------------------------------------------


@dataclass
class Evaluation:
    """What :meth:`TrainEvaluator.run` returns: the metrics and the trained copy of the graph."""

    metrics: dict[str, float]
    graph: Graph


@dataclass
class TrainEvaluator:
    """Train a candidate for ``epochs`` on ``dataset_name`` and report its metrics.

    The dataset split is fixed by ``dataset_seed`` (the same for every candidate); ``seed`` given to
    :meth:`evaluate` drives the randomness of training (shuffling, augmentation, dropout). The weights
    kept are those of the best *validation* epoch; the test split is evaluated once, at the end, and
    only reported. ``inherit=True`` starts from the parent's weights where they fit
    (:func:`inherit_weights`); otherwise the candidate's own weights (fresh from the zoo, a
    mutation or an import) are the starting point. ``device="auto"`` trains on CUDA when present.
    Extra keyword arguments of :func:`alphanas.train.train` go in ``train_options``.
    """

    #: a process executor may train it in the search's driver while its workers start (training is
    #: self-contained: its random state is forked and seeded per call), see alphanas.search.executors
    lendable: ClassVar[bool] = True
    dataset_name: str = "digits"
    epochs: int = 3
    batch_size: int = 128
    lr: float | None = None
    optimizer: str = "sgd"
    weight_decay: float | None = None
    inherit: bool = False
    device: str = "auto"
    data_root: str | None = None
    dataset_seed: int = 0
    dataset_options: dict = field(default_factory=dict)
    train_options: dict = field(default_factory=dict)
    max_minutes: float | None = None
    task: str = "classification"

    def dataset(self):
        """The dataset (loaded lazily, once per process)."""
        return cached_dataset(self.dataset_name, self.data_root, self.dataset_seed, self.dataset_options)

    def train(self, graph: Graph, *, seed: int, epochs: int | None = None, dataset=None, **options):
        """:func:`~alphanas.train.train` on this evaluator's dataset (or ``dataset``, e.g. a cross-validation
        fold of it) with its settings; ``epochs`` and ``options`` (e.g. ``progress``, ``keep``) override them
        for this call."""
        from alphanas.train import train

        kwargs = {"batch_size": self.batch_size, "lr": self.lr, "optimizer": self.optimizer,
                  "weight_decay": self.weight_decay, "device": self.device, "max_minutes": self.max_minutes,
                  "task": self.task, **self.train_options, **options}
        data = self.dataset() if dataset is None else dataset
        return train(graph, data, self.epochs if epochs is None else epochs, seed=seed, **kwargs)

    def run(self, graph: Graph, *, seed: int, parent: Graph | None = None) -> Evaluation:
        """Train a copy of ``graph`` and return its metrics together with the trained graph."""
        start = graph
        inherited, total = 0, 0
        if self.inherit and parent is not None:
            start = graph.copy()
            inherited, total = inherit_weights(start, parent)
        result, oom_retried = self._train_or_retry(start, seed)
        from alphanas.train.preprocessing import attach_preprocessing

        trained = attach_preprocessing(result.graph, self.dataset(), task=self.task)
        metrics = {k: float(v) for k, v in result.metrics().items()}
        metrics.update({
            "params": float(result.params), "flops": float(result.flops), "train_s": float(result.wall_time),
            "diverged": float(bool(result.diverged) or not math.isfinite(result.val_acc)),
            "epochs": float(result.epochs_completed), "inherited_frac": inherited / total if total else 0.0,
            "oom_retried": float(oom_retried),
        })
        return Evaluation(metrics, trained)

    def _train_or_retry(self, graph: Graph, seed: int):
        """Train; a run out of (device) memory is retried once at half the batch size, and when that runs
        out too, the candidate fails with the reason (the search goes on). Returns ``(result, retried)``."""
        from alphanas.train.precision import is_out_of_memory, release_memory

        try:
            return self.train(graph, seed=seed), False
        except Exception as e:
            if not is_out_of_memory(e):
                raise
            first = str(e).splitlines()[0][:200] if str(e) else type(e).__name__
        release_memory()
        half = max(1, self.batch_size // 2)
        try:
            return self.train(graph, seed=seed, batch_size=half), True
        except Exception as e:
            if not is_out_of_memory(e):
                raise
            release_memory()
            from alphanas.errors import AlphanasError

            raise AlphanasError(f"out of memory at batch size {self.batch_size} ({first}) and again at {half}: "
                                "a smaller batch size or a larger device fits it") from None

    def evaluate(self, graph: Graph, *, seed: int, parent: Graph | None = None) -> dict[str, float]:
        """Metrics of ``graph`` after training (see the class docstring)."""
        return self.run(graph, seed=seed, parent=parent).metrics


# ---------------------------------------------------------------------------------------------------
# latency and composition
# ---------------------------------------------------------------------------------------------------


@dataclass
class LatencyEvaluator:
    """onnxruntime latency of one inference at ``batch`` on this machine (``latency_ms``: the median).

    Uses :func:`alphanas.ir.runtime.measure_latency`; ``provider`` is ``auto`` (CUDA when onnxruntime
    has it), ``cpu`` or ``cuda``. Numbers compare only within one machine and load level.
    """

    provider: str = "auto"
    batch: int = 1
    warmup: int = 3
    repeats: int = 20
    threads: int | None = 1

    def evaluate(self, graph: Graph, *, seed: int, parent: Graph | None = None) -> dict[str, float]:
        from alphanas.ir.runtime import measure_latency

        m = measure_latency(graph, provider=self.provider, batch=self.batch, warmup=self.warmup,
                            repeats=self.repeats, threads=self.threads, seed=seed)
        return {"latency_ms": float(m["median_ms"]), "latency_p90_ms": float(m["p90_ms"])}


@dataclass
class CombinedEvaluator:
    """Runs several evaluators on the same candidate and merges their metrics (later ones win on clashes).

    When the first evaluator has ``run`` (a :class:`TrainEvaluator`), the later ones see the trained
    graph, so e.g. latency is measured on the trained weights.
    """

    evaluators: list

    def run(self, graph: Graph, *, seed: int, parent: Graph | None = None) -> Evaluation:
        metrics: dict[str, float] = {}
        current = graph
        for i, ev in enumerate(self.evaluators):
            if i == 0 and hasattr(ev, "run"):
                out = ev.run(graph, seed=seed, parent=parent)
                metrics.update(out.metrics)
                current = out.graph
            else:
                metrics.update(ev.evaluate(current, seed=seed, parent=parent))
        return Evaluation(metrics, current)

    def evaluate(self, graph: Graph, *, seed: int, parent: Graph | None = None) -> dict[str, float]:
        return self.run(graph, seed=seed, parent=parent).metrics


# ---------------------------------------------------------------------------------------------------
# user evaluators (plug-ins)
# ---------------------------------------------------------------------------------------------------

#: entry-point group of user evaluators: ``name = "module:function"``
ENTRY_POINT_GROUP = "alphanas.evaluators"


def resolve_evaluator(spec: str):
    """The function named by ``spec``: ``module:function`` (``module.sub:function``), or the name of an entry
    point in the group :data:`ENTRY_POINT_GROUP`. Raises :class:`~alphanas.errors.AlphanasError` (one line)."""
    import importlib
    from importlib.metadata import entry_points

    from alphanas.errors import AlphanasError

    text = (spec or "").strip()
    if ":" not in text:
        found = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == text]
        if not found:
            names = sorted(ep.name for ep in entry_points(group=ENTRY_POINT_GROUP))
            raise AlphanasError(f"evaluator {text!r}: give MODULE:FUNCTION or the name of an installed "
                                f"{ENTRY_POINT_GROUP} entry point ({', '.join(names) or 'none installed'})")
        try:
            fn = found[0].load()
        except Exception as e:
            raise AlphanasError(f"evaluator {text!r}: its entry point {found[0].value} does not load "
                                f"({type(e).__name__}: {e})") from None
    else:
        module, _, name = text.partition(":")
        try:
            mod = importlib.import_module(module)
        except Exception as e:
            raise AlphanasError(f"evaluator {text!r}: module {module!r} does not import ({type(e).__name__}: {e})") from None
        fn = mod
        for part in name.split("."):
            fn = getattr(fn, part, None)
        if fn is None:
            raise AlphanasError(f"evaluator {text!r}: module {module!r} has no {name!r}")
    if not callable(fn):
        raise AlphanasError(f"evaluator {text!r} is not callable")
    return fn


@dataclass
class PluginEvaluator:
    """A user's evaluation function as a search evaluator (picklable: it holds the function's name).

    The function is called with keyword arguments::

        metrics = fn(model=module, onnx_path=path, device=torch_device, epochs=n, parent_weights=weights_or_None,
                     seed=seed)

    ``model`` is the candidate lowered to a ``torch.nn.Module`` (a ``torch.fx.GraphModule``; with
    ``inherit=True`` it already holds the parent's weights where they fit); ``onnx_path`` a temporary
    ONNX file of the candidate (deleted afterwards); ``parent_weights`` the parent's initializers
    (``{name: numpy array}``) when inheriting, else ``None``. The function may train ``model`` in
    place: its weights are written back and kept as the candidate's trained model. It returns a dict
    of finite numbers, used like the built-in metrics; ``params`` and ``flops`` are added when it
    does not report them. ``options`` are passed on as further keyword arguments.
    """

    spec: str
    epochs: int = 3
    device: str = "auto"
    inherit: bool = False
    options: dict = field(default_factory=dict)

    def run(self, graph: Graph, *, seed: int, parent: Graph | None = None) -> Evaluation:
        import os
        import tempfile

        import torch

        from alphanas.errors import AlphanasError
        from alphanas.ir import cost
        from alphanas.ir.onnx_io import save_onnx
        from alphanas.ir.torch_lowering import to_torch, write_back
        from alphanas.train.device import resolve_device

        fn = resolve_evaluator(self.spec)
        work = graph.copy()
        parent_weights = None
        if self.inherit and parent is not None:
            inherit_weights(work, parent)
            parent_weights = {k: np.array(v.const, copy=True) for k, v in parent.initializers.items()}
        dev = resolve_device(self.device)
        module = to_torch(work).to(dev)
        with tempfile.TemporaryDirectory(prefix="alphanas-eval-") as tmp:
            path = os.path.join(tmp, "candidate.onnx")
            save_onnx(work, path)
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                out = fn(model=module, onnx_path=path, device=dev, epochs=self.epochs, parent_weights=parent_weights,
                         seed=seed, **self.options)
        if not isinstance(out, dict):
            raise AlphanasError(f"evaluator {self.spec}: returned {type(out).__name__}, not a dict of metrics")
        metrics: dict[str, float] = {}
        for k, v in out.items():
            try:
                metrics[str(k)] = float(v)
            except (TypeError, ValueError):
                raise AlphanasError(f"evaluator {self.spec}: metric {k!r} is {type(v).__name__}, not a number") from None
        module.eval()
        write_back(work, module.cpu())
        metrics.setdefault("params", float(cost.graph_params(work)))
        metrics.setdefault("flops", float(cost.graph_flops(work)))
        return Evaluation(metrics, work)

    def evaluate(self, graph: Graph, *, seed: int, parent: Graph | None = None) -> dict[str, float]:
        """The metrics the function returns for ``graph`` (see the class docstring)."""
        return self.run(graph, seed=seed, parent=parent).metrics
