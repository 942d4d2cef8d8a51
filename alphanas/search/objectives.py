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


def parse_objectives(text: str | list[str]) -> list[str]:
    """``"accuracy,params"`` -> ``["accuracy", "params"]`` (validated, aliases resolved, no repeats)."""
    items = text.split(",") if isinstance(text, str) else list(text)
    out: list[str] = []
    for raw in items:
        name = raw.strip().lower()
        if not name:
            continue
        name = _ALIASES.get(name, name)
        if name not in OBJECTIVES:
            raise AlphanasError(f"unknown objective {raw.strip()!r}; choose from {', '.join(OBJECTIVES)}")
        if name not in out:
            out.append(name)
    if len(out) < 1:
        raise ParameterError("objectives", "{objectives}: give at least one objective, e.g. accuracy,params")
    return out


def metric_keys(objectives: list[str]) -> list[str]:
    """The metric keys of ``objectives`` (``accuracy`` -> ``val_acc``)."""
    return [OBJECTIVES[o][0] for o in objectives]


def senses(objectives: list[str]) -> dict[str, str]:
    """``{metric key: "max" | "min"}`` for ``objectives``."""
    return {OBJECTIVES[o][0]: OBJECTIVES[o][1] for o in objectives}


@dataclass(frozen=True)
class Constraints:
    """Upper bounds a candidate must respect (``None``: no bound)."""

    max_params: float | None = None
    max_flops: float | None = None
    max_latency_ms: float | None = None

    def __post_init__(self) -> None:
        for name in ("max_params", "max_flops", "max_latency_ms"):
            v = getattr(self, name)
            if v is not None and not (isinstance(v, (int, float)) and v > 0 and math.isfinite(v)):
                raise AlphanasError(f"--{name.replace('_', '-')} {v}: must be a positive number")

    @property
    def needs_latency(self) -> bool:
        return self.max_latency_ms is not None

    def violation(self, metrics: dict[str, float]) -> str | None:
        """Why ``metrics`` break a bound (one line), or ``None`` when they respect all of them."""
        for key, bound in (("params", self.max_params), ("flops", self.max_flops), ("latency_ms", self.max_latency_ms)):
            if bound is not None and key in metrics and metrics[key] > bound:
                return f"{key} {metrics[key]:.6g} > {bound:.6g}"
        return None

    def to_dict(self) -> dict[str, float | None]:
        return {"max_params": self.max_params, "max_flops": self.max_flops, "max_latency_ms": self.max_latency_ms}


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
