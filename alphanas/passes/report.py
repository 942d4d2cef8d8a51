"""Before/after summaries of a rewrite: nodes per op type, parameters, FLOPs."""

from __future__ import annotations

from collections import Counter
from typing import Any, Literal

from alphanas.ir.graph import Graph


def summary(graph: Graph) -> dict[str, Any]:
    from alphanas.ir.cost import counts

    c = counts(graph)  # flops None: unknown, they depend on a symbolic dimension
    return {"nodes": len(graph.nodes), "params": c["params"], "flops": c["flops"],
            "ops": dict(Counter(n.op_type for n in graph.nodes))}


def compare_summaries(before: Graph, after: Graph) -> dict[str, Any]:
    """``{"before": summary, "after": summary, "ops": [(op, n_before, n_after), ...]}`` (ops by name)."""
    b, a = summary(before), summary(after)
    ops = sorted(set(b["ops"]) | set(a["ops"]))
    return {"before": b, "after": a, "ops": [(op, b["ops"].get(op, 0), a["ops"].get(op, 0)) for op in ops]}


def table(comparison: dict[str, Any], title: str = "rewrite"):
    """A rich Table of :func:`compare_summaries`."""
    from rich.table import Table

    def delta(x: int | None, y: int | None) -> str:
        return "" if x == y or x is None or y is None else f"{y - x:+,}"

    def count(x: int | None) -> str:
        return "?" if x is None else f"{x:,}"

    t = Table(title=title)
    columns: tuple[tuple[str, Literal["left", "right"]], ...] = (
        ("", "left"), ("before", "right"), ("after", "right"), ("change", "right"))
    for col, just in columns:
        t.add_column(col, justify=just)
    for op, x, y in comparison["ops"]:
        t.add_row(op, f"{x:,}", f"{y:,}", delta(x, y))
    t.add_section()
    for key, label in (("nodes", "nodes"), ("params", "params"), ("flops", "FLOPs (batch 1)")):
        x, y = comparison["before"][key], comparison["after"][key]
        t.add_row(f"[bold]{label}[/]", count(x), count(y), delta(x, y))
    return t
