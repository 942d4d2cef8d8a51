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
    from alphanas.table import Table

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


#: What a change of parameters means for each built-in pass (others: "changed").
PARAM_VERBS = {"bn-fold": "folded", "cse": "merged", "const-fold": "folded"}


def pass_effects(history) -> list[dict[str, Any]]:
    """Per pass (in first-run order) over every round: rounds in which it changed the graph, nodes removed
    (negative: added) and parameter elements removed, from the :class:`~alphanas.passes.manager.PassRecord`
    history of a run."""
    out: dict[str, dict[str, Any]] = {}
    for r in history:
        e = out.setdefault(r.name, {"pass": r.name, "rounds_changed": 0, "nodes_removed": 0, "params_removed": 0})
        if r.modified:
            e["rounds_changed"] += 1
            e["nodes_removed"] += r.nodes_before - r.nodes_after
            e["params_removed"] += r.params_before - r.params_after
    return list(out.values())


def explain(effect: dict[str, Any]) -> str:
    """One pass's effect in words: ``cse: 12 nodes removed, 425,536 parameters merged (2 rounds)``."""
    if not effect["rounds_changed"]:
        return f"{effect['pass']}: no change"
    parts = []
    n, p = effect["nodes_removed"], effect["params_removed"]
    if n:
        parts.append(f"{abs(n):,} node{'s' if abs(n) != 1 else ''} {'removed' if n > 0 else 'added'}")
    if p:
        verb = PARAM_VERBS.get(effect["pass"], "removed") if p > 0 else "added"
        parts.append(f"{abs(p):,} parameter{'s' if abs(p) != 1 else ''} {verb}")
    if not parts:
        parts.append("rewrote nodes in place (same node and parameter counts)")
    rounds = effect["rounds_changed"]
    return f"{effect['pass']}: {', '.join(parts)} ({rounds} round{'s' if rounds != 1 else ''})"
