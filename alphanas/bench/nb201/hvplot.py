"""Hypervolume per strategy and device from ``python -m alphanas.bench.nb201 ... --hypervolume ... --json``
outputs: a table (``--markdown`` for the docs) and a bar chart with standard errors.

    python -m alphanas.bench.nb201 --strategy all --budgets 50,100 --hypervolume latency --json > all.json
    python -m alphanas.bench.nb201 --strategy surrogate --selection pareto --objectives val_acc,latency_ms_fpga \\
        --budgets 50,100 --hypervolume latency_ms_fpga --json > surrogate_fpga.json
    python -m alphanas.bench.nb201.hvplot all.json surrogate_*.json --plot hypervolume.png --markdown

A multi-objective strategy searches one latency column per run (its ``--objectives``), so its devices come
from several files; every (strategy, device, budget) must come from one file only, and every file must
report the same seeds, table and budgets: a mix is refused, not averaged.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from alphanas.console import check_output_path, run_main
from alphanas.errors import AlphanasError
from alphanas.fileio import save_figure_atomic

#: (mean, standard error) per strategy label, then per column, then per budget
Volumes = dict[str, dict[str, dict[int, tuple[float, float]]]]


def _label(summary: dict[str, Any]) -> str:
    if "label" in summary:
        return str(summary["label"])
    from alphanas.bench.nb201.script import LABELS

    return LABELS.get(summary["strategy"], summary["strategy"])


def collect(paths: Sequence[Path]) -> tuple[Volumes, dict[str, Any]]:
    """The hypervolumes of the benchmark JSON files ``paths`` by strategy label, column and budget, and the
    common settings (seeds, table, budgets); one-line errors for unreadable, mixed or duplicated results."""
    volumes: Volumes = {}
    common: dict[str, Any] | None = None
    origin: dict[tuple[str, str, int], Path] = {}
    for path in paths:
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, ValueError) as exc:
            raise AlphanasError(f"{path}: not a readable benchmark JSON ({exc})") from None
        for summary in data if isinstance(data, list) else [data]:
            if not isinstance(summary, dict) or "hypervolume" not in summary or "strategy" not in summary:
                raise AlphanasError(f"{path}: not an output of python -m alphanas.bench.nb201 --json "
                                    "(no strategy/hypervolume)")
            if not summary["hypervolume"]:
                raise AlphanasError(f"{path}: strategy {summary['strategy']} has no hypervolume; run the benchmark "
                                    "with --hypervolume COLUMN")
            settings = {"seeds": summary.get("seeds"), "table": summary.get("table"),
                        "budgets": sorted(int(b) for b in summary.get("budgets", {}))}
            if common is None:
                common = settings
            elif settings != common:
                raise AlphanasError(f"{path}: {summary['strategy']} was run with other seeds, table or budgets "
                                    f"than the first file; compare like with like")
            label = _label(summary)
            for column, per_budget in summary["hypervolume"].items():
                for budget, value in per_budget.items():
                    key = (label, column, int(budget))
                    if key in origin:
                        raise AlphanasError(f"{path}: {label} on {column} at {budget} queries is also in "
                                            f"{origin[key]}; give each result once")
                    origin[key] = Path(path)
                    volumes.setdefault(label, {}).setdefault(column, {})[int(budget)] = (
                        float(value["mean"]), float(value["sem"]))
    if common is None:
        raise AlphanasError("no benchmark JSON files given")
    return volumes, common


def _columns(volumes: Volumes) -> list[str]:
    return sorted({c for per in volumes.values() for c in per})


def _budgets(volumes: Volumes) -> list[int]:
    return sorted({b for per in volumes.values() for col in per.values() for b in col})


def markdown(volumes: Volumes) -> str:
    """One markdown table per budget: strategies as rows, columns (devices) as columns, ``mean ± s.e.``, the
    best mean of each column in bold; ``–`` where a strategy has no result for a column."""
    columns = _columns(volumes)
    out = []
    for budget in _budgets(volumes):
        best = {c: max((per[c][budget][0] for per in volumes.values() if c in per and budget in per[c]), default=None)
                for c in columns}
        head = [c.removeprefix("latency_ms_") for c in columns]
        out.append(f"| {budget} queries | " + " | ".join(head) + " |")
        out.append("|---|" + "---:|" * len(columns))
        for label, per in volumes.items():
            cells = []
            for c in columns:
                if c not in per or budget not in per[c]:
                    cells.append("–")
                    continue
                mean, sem = per[c][budget]
                text = f"{mean:.3f} ± {sem:.3f}"
                cells.append(f"**{text}**" if best[c] is not None and mean == best[c] else text)
            out.append(f"| {label} | " + " | ".join(cells) + " |")
        out.append("")
    return "\n".join(out)


def plot(volumes: Volumes, path: Path, runs: int | None = None) -> None:
    """Grouped bars (mean ± standard error) per column, one panel per budget; written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    columns, budgets = _columns(volumes), _budgets(volumes)
    labels = list(volumes)
    fig, axes = plt.subplots(len(budgets), 1, figsize=(8.5, 2.9 * len(budgets)), squeeze=False)
    width = 0.8 / max(1, len(labels))
    x = np.arange(len(columns))
    for ax, budget in zip(axes[:, 0], budgets):
        low = 1.0
        for k, label in enumerate(labels):
            per = volumes[label]
            mean = np.array([per.get(c, {}).get(budget, (np.nan, 0.0))[0] for c in columns])
            sem = np.array([per.get(c, {}).get(budget, (np.nan, 0.0))[1] for c in columns])
            ax.bar(x + (k - (len(labels) - 1) / 2) * width, mean, width, yerr=sem, capsize=2, label=label)
            if np.isfinite(mean).any():
                low = min(low, float(np.nanmin(mean)))
        ax.set_xticks(x, [c.removeprefix("latency_ms_") for c in columns], fontsize=8)
        ax.set_ylim(max(0.0, low - 0.05), 1.0)
        ax.set_ylabel("hypervolume fraction")
        ax.set_title(f"{budget} queries" + (f", mean ± s.e. over {runs} runs" if runs else ""), fontsize=10)
        ax.grid(alpha=0.3, axis="y")
    handles, names = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, names, fontsize=7, ncol=3, loc="lower center", frameon=False)
    fig.suptitle("NAS-Bench-201: hypervolume of val_acc vs latency per device", fontsize=11)
    fig.tight_layout(rect=(0, 0.04 + 0.025 * ((len(labels) + 2) // 3), 1, 1))
    save_figure_atomic(fig, path)


def run(argv: Sequence[str] | None = None) -> int:
    """The command; raises :class:`AlphanasError` on user errors (see :func:`main`)."""
    p = argparse.ArgumentParser(prog="python -m alphanas.bench.nb201.hvplot", description=__doc__.split("\n\n")[0])
    p.add_argument("files", nargs="+", type=Path, help="benchmark --json outputs with --hypervolume")
    p.add_argument("--plot", type=Path, default=None, help="write the bar chart here (PNG)")
    p.add_argument("--force", action="store_true", help="overwrite an existing --plot file")
    p.add_argument("--markdown", action="store_true", help="print markdown tables instead of the console table")
    args = p.parse_args(argv)
    plot_path = check_output_path(args.plot, args.files, args.force) if args.plot is not None else None
    volumes, common = collect(args.files)
    if args.markdown:
        print(markdown(volumes))
    else:
        from rich.console import Console
        from alphanas.table import Table

        columns = _columns(volumes)
        for budget in _budgets(volumes):
            table = Table(title=f"hypervolume fraction at {budget} queries, mean ± s.e.")
            table.add_column("strategy")
            for c in columns:
                table.add_column(c.removeprefix("latency_ms_"), justify="right")
            for label, per in volumes.items():
                table.add_row(label, *(f"{per[c][budget][0]:.3f} ± {per[c][budget][1]:.3f}"
                                       if c in per and budget in per[c] else "–" for c in columns))
            Console().print(table)
    if plot_path is not None:
        plot(volumes, plot_path, runs=len(common["seeds"] or []) or None)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for ``python -m alphanas.bench.nb201.hvplot``: user errors print one line and return 2."""
    return run_main(lambda: run(argv))


if __name__ == "__main__":
    raise SystemExit(main())


__all__ = ["collect", "main", "markdown", "plot", "run"]
