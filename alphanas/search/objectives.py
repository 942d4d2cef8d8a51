"""Objectives (what the Pareto front trades off) and constraints (what a candidate must not exceed).

Objective names on the command line map to metric keys and senses:

=============  ==============  =====
name           metric          sense
=============  ==============  =====
accuracy       ``val_acc``     max   (validation accuracy; the test split is only reported)
params         ``params``      min
flops          ``flops``       min
latency_ms     ``latency_ms``  min   (onnxruntime on this machine: CPU, or CUDA when present)
=============  ==============  =====

Any other metric a candidate reports is an objective too: a metric of the training task with its
declared sense (``val_top5``, ``val_map``, ``val_mse``, ``test_mae``: :data:`alphanas.train.tasks.METRIC_SENSES`)
or any metric of a plug-in evaluator as ``NAME:max`` / ``NAME:min`` (``iou:max``). Such objectives are
kept in the normalised form ``NAME:sense``. ``--constraint NAME<=X`` / ``NAME>=X`` bounds any metric:
bounds on cost metrics are checked before training, the others after evaluation (a candidate that
breaks one is ``rejected``).

Parameters and FLOPs are exact counts from :mod:`alphanas.ir.cost`, so they and the latency are
measured in the driver *before* training: a candidate that violates a constraint is recorded as
``rejected`` and never trained.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from alphanas.errors import AlphanasError, ParameterError
from alphanas.ir.graph import Graph

#: objective name -> (metric key, "max" | "min")
OBJECTIVES: dict[str, tuple[str, str]] = {
    "accuracy": ("val_acc", "max"),
    "params": ("params", "min"),
    "flops": ("flops", "min"),
    "latency_ms": ("latency_ms", "min"),
}
_ALIASES = {"acc": "accuracy", "val_acc": "accuracy", "latency": "latency_ms", "macs": "flops"}


def _parse_one(raw: str) -> str:
    """One objective in normalised form: a built-in name, or ``metric:max`` / ``metric:min``."""
    from alphanas.train.tasks import metric_sense

    text = raw.strip()
    name, _, sense = text.partition(":")
    name, sense = name.strip(), sense.strip().lower()
    low = _ALIASES.get(name.lower(), name.lower())
    if sense and sense not in ("max", "min"):
        raise AlphanasError(f"objective {text!r}: the direction after ':' must be max or min")
    if low in OBJECTIVES:
        if sense and sense != OBJECTIVES[low][1]:
            raise AlphanasError(f"objective {text!r}: {low} is always {OBJECTIVES[low][1]}imised")
        return low
    if not name.replace("_", "").replace("-", "").replace(".", "").isalnum():
        raise AlphanasError(f"objective {text!r}: not a metric name; use e.g. val_top5, val_mse or NAME:max")
    declared = metric_sense(name)
    if declared and sense and sense != declared:
        raise AlphanasError(f"objective {text!r}: {name} is a task metric to {declared}imise")
    sense = sense or declared or ""
    if not sense:
        raise AlphanasError(f"unknown objective {text!r}; choose from {', '.join(OBJECTIVES)}, a task metric "
                            "(val_top5, val_map, val_mse, val_mae, ...) or a plug-in evaluator's metric as NAME:max or NAME:min")
    return f"{name}:{sense}"


#: the objectives of a search that names none, per task: its primary metric against the parameter count
DEFAULT_OBJECTIVES: dict[str, list[str]] = {"classification": ["accuracy", "params"],
                                            "multilabel": ["val_map:max", "params"],
                                            "regression": ["val_mse:min", "params"]}


def default_objectives(task: str | None = None) -> list[str]:
    """The objectives a search of ``task`` uses when none are given (:data:`DEFAULT_OBJECTIVES`)."""
    from alphanas.train.tasks import get_task

    return list(DEFAULT_OBJECTIVES[get_task(task).name])


def quality_metric(objectives: list[str]) -> tuple[str, str]:
    """``(metric key, sense)`` of the first objective that is not a cost (``params``, ``flops``,
    ``latency_ms``): what a progress display calls "best"; ``("val_acc", "max")`` when all are costs."""
    for o in objectives:
        key, sense = metric_of(o)
        if key not in PRE_TRAINING:
            return key, sense
    return "val_acc", "max"


def parse_objectives(text: str | list[str]) -> list[str]:
    """``"accuracy,params"`` -> ``["accuracy", "params"]``; ``"val_mse,iou:max"`` -> ``["val_mse:min",
    "iou:max"]`` (validated, aliases resolved, no repeats)."""
    items = text.split(",") if isinstance(text, str) else list(text)
    out: list[str] = []
    for raw in items:
        if not raw.strip():
            continue
        name = _parse_one(raw)
        if name not in out:
            out.append(name)
    if len(out) < 1:
        raise ParameterError("objectives", "{objectives}: give at least one objective, e.g. accuracy,params")
    return out


def metric_of(objective: str) -> tuple[str, str]:
    """``(metric key, "max" | "min")`` of one parsed objective (``accuracy`` -> ``("val_acc", "max")``)."""
    if objective in OBJECTIVES:
        return OBJECTIVES[objective]
    key, _, sense = objective.rpartition(":")
    return key, sense


def metric_keys(objectives: list[str]) -> list[str]:
    """The metric keys of ``objectives`` (``accuracy`` -> ``val_acc``, ``val_mse:min`` -> ``val_mse``)."""
    return [metric_of(o)[0] for o in objectives]


def senses(objectives: list[str]) -> dict[str, str]:
    """``{metric key: "max" | "min"}`` for ``objectives``."""
    return dict(metric_of(o) for o in objectives)


#: metrics known before training (cost counts, latency): bounds on them reject a candidate untrained
PRE_TRAINING = ("params", "flops", "latency_ms")


def parse_constraint(text: str) -> tuple[str, str, float]:
    """``"val_mae<=0.5"`` -> ``("val_mae", "<=", 0.5)`` (also ``>=``; ``<`` and ``>`` mean the same)."""
    import re

    m = re.fullmatch(r"\s*([A-Za-z_][\w.\-]*)\s*(<=|>=|<|>)\s*([-+0-9.eE]+|inf)\s*", text or "")
    if not m:
        raise ParameterError("constraint", f"{{constraint}} {text!r}: write METRIC<=VALUE or METRIC>=VALUE, "
                                           "e.g. val_mae<=0.5 or params<=1e5")
    key = {"accuracy": "val_acc", "acc": "val_acc", "latency": "latency_ms"}.get(m.group(1), m.group(1))
    try:
        value = float(m.group(3))
    except ValueError:
        raise ParameterError("constraint", f"{{constraint}} {text!r}: {m.group(3)!r} is not a number") from None
    if not math.isfinite(value):
        raise ParameterError("constraint", f"{{constraint}} {text!r}: the bound must be finite")
    return key, m.group(2)[0] + "=", value


@dataclass(frozen=True)
class Constraints:
    """Upper bounds a candidate must respect (``None``: no bound)."""

    max_params: float | None = None
    max_flops: float | None = None
    max_latency_ms: float | None = None
    #: bounds on any metric: ``(key, "<=" | ">=", value)`` (see :func:`parse_constraint`)
    bounds: tuple[tuple[str, str, float], ...] = ()

    def __post_init__(self) -> None:
        for name in ("max_params", "max_flops", "max_latency_ms"):
            v = getattr(self, name)
            if v is not None and not (isinstance(v, (int, float)) and v > 0 and math.isfinite(v)):
                raise AlphanasError(f"--{name.replace('_', '-')} {v}: must be a positive number")

    @property
    def needs_latency(self) -> bool:
        return self.max_latency_ms is not None or any(k == "latency_ms" for k, _, _ in self.bounds)

    def violation(self, metrics: dict[str, float], *, after_training: bool = False) -> str | None:
        """Why ``metrics`` break a bound (one line), or ``None`` when they respect all of them. Before
        training only the bounds on :data:`PRE_TRAINING` metrics apply; ``after_training`` checks all
        (a metric the evaluator did not report breaks its bound)."""
        for key, bound in (("params", self.max_params), ("flops", self.max_flops), ("latency_ms", self.max_latency_ms)):
            if bound is not None and key in metrics and metrics[key] > bound:
                return f"{key} {metrics[key]:.6g} > {bound:.6g}"
        for key, op, bound in self.bounds:
            if key not in PRE_TRAINING and not after_training:
                continue
            value = metrics.get(key)
            if value is None or not math.isfinite(value):
                if after_training or key in metrics:
                    return f"{key} not reported (bound {op} {bound:.6g})"
                continue
            if (op == "<=" and value > bound) or (op == ">=" and value < bound):
                return f"{key} {value:.6g} {'>' if op == '<=' else '<'} {bound:.6g}"
        return None

    def to_dict(self) -> dict:
        out: dict = {"max_params": self.max_params, "max_flops": self.max_flops, "max_latency_ms": self.max_latency_ms}
        if self.bounds:
            out["bounds"] = [list(b) for b in self.bounds]
        return out


def cost_metrics(graph: Graph, *, latency: bool = False, provider: str = "auto", repeats: int = 20) -> dict[str, float]:
    """``params`` and ``flops`` of ``graph`` (exact counts), and ``latency_ms`` (onnxruntime median,
    batch 1, one thread) when ``latency``."""
    from alphanas.ir import cost

    out = {"params": float(cost.graph_params(graph)), "flops": float(cost.graph_flops(graph))}
    if latency:
        from alphanas.ir.runtime import measure_latency

        m = measure_latency(graph, provider=provider, batch=1, warmup=3, repeats=repeats, threads=1)
        out["latency_ms"] = float(m["median_ms"])
    return out
