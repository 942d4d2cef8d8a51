"""NAS-Bench-201 benchmark: property-guided evolution vs regularized evolution vs random search.

    python -m alphanas.bench.nb201 --table cifar10.csv --strategy property --budget 300 --runs 100
    python -m alphanas.bench.nb201 --strategy all --plot nb201.png

Each run of a strategy queries distinct cells of the table until the budget (the protocol of the
table's README: a search reads only ``val_acc_12ep`` and the cost columns of the cells it queries);
after 25/50/100/150/200/300 queries the harness looks up ``test_acc_200ep`` of the best-by-validation
cell seen so far. The table prints mean ± std over the runs (run ``r`` uses seed ``seed + r``);
``--json`` prints ``{"strategy": S, "runs": R, "budgets": {"100": {"mean": M, "std": D}, ...}}`` (a
list of those with ``--strategy all``).
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections.abc import Callable, Sequence
from pathlib import Path

from alphanas.bench.nb201.search import STRATEGIES, PropertySearchConfig, best_by_validation, run_search
from alphanas.bench.nb201.table import NB201Table
from alphanas.console import check_output_path, run_main
from alphanas.errors import AlphanasError

#: where the shared NAS-Bench-201 CIFAR-10 table lives beside a checkout (``../shared/data/nb201``)
DEFAULT_TABLE = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "nb201" / "cifar10.csv"
REPORT_BUDGETS = (25, 50, 100, 150, 200, 300)
LABELS = {"property": "property-guided evolution", "rea": "regularized evolution (P=10, S=3)",
          "random": "random search"}


def curves(table: NB201Table, strategy: str, budget: int, runs: int, seed: int = 0,
           config: PropertySearchConfig | None = None,
           on_run: Callable[[], None] | None = None) -> list[list[float]]:
    """Per run: ``test_acc_200ep`` (percent) of the best-by-validation cell after 1..budget queries."""
    points = range(1, budget + 1)
    result = []
    for r in range(runs):
        best = best_by_validation(run_search(table, strategy, budget, seed + r, config), points)
        result.append([table.test_acc_200ep(best[n]) for n in points])
        if on_run is not None:
            on_run()
    return result


def summarize(per_run: Sequence[Sequence[float]], budgets: Sequence[int]) -> dict[str, dict[str, float]]:
    """``{"100": {"mean": M, "std": D}, ...}`` over runs (sample std; 0 for one run)."""
    out = {}
    for b in budgets:
        values = [run[b - 1] for run in per_run]
        std = statistics.stdev(values) if len(values) > 1 else 0.0
        out[str(b)] = {"mean": round(statistics.fmean(values), 4), "std": round(std, 4)}
    return out


def plot(results: dict[str, list[list[float]]], path: Path, optimum: float | None = None, title: str = "") -> None:
    """Mean ± std of test accuracy vs queries, one line per strategy; written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for strategy, per_run in results.items():
        arr = np.asarray(per_run)
        x = np.arange(1, arr.shape[1] + 1)
        mean, std = arr.mean(axis=0), arr.std(axis=0, ddof=1) if len(arr) > 1 else np.zeros(arr.shape[1])
        line, = ax.plot(x, mean, lw=1.6, label=LABELS.get(strategy, strategy))
        ax.fill_between(x, mean - std, mean + std, color=line.get_color(), alpha=0.15, lw=0)
    if optimum is not None:
        ax.axhline(optimum, color="k", ls=":", lw=1, label=f"table optimum {optimum:.2f}")
    ax.set_xlabel("queries (distinct cells)")
    ax.set_ylabel("test accuracy (200 ep) of best-by-validation cell, %")
    ax.set_xscale("log")
    first = min(len(r[0]) for r in results.values())
    ax.set_xlim(10, max(len(r[0]) for r in results.values()))
    low = min(float(np.mean([run[min(24, first - 1)] for run in r])) for r in results.values())
    ax.set_ylim(low - 0.8, (optimum or ax.get_ylim()[1]) + 0.2)
    ax.grid(alpha=0.3, which="both")
    ax.legend(loc="lower right", fontsize=8)
    runs = len(next(iter(results.values())))
    ax.set_title(f"NAS-Bench-201 ({title}), mean ± std over {runs} runs")
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.tmp.png")
    try:
        fig.savefig(tmp, dpi=110)
        tmp.replace(path)
    finally:
        plt.close(fig)
        if tmp.exists():
            tmp.unlink()


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m alphanas.bench.nb201", description=__doc__.split("\n\n")[0])
    p.add_argument("--table", type=Path, default=None,
                   help=f"NAS-Bench-201 CSV table (default: {DEFAULT_TABLE} when it exists)")
    p.add_argument("--strategy", default="property", choices=[*STRATEGIES, "all"])
    p.add_argument("--budget", type=int, default=300, help="distinct cells queried per run (default 300)")
    p.add_argument("--runs", type=int, default=100, help="independent runs per strategy (default 100)")
    p.add_argument("--seed", type=int, default=0, help="run r uses seed SEED + r (default 0)")
    p.add_argument("--json", action="store_true", help="print JSON instead of the table")
    p.add_argument("--plot", type=Path, default=None, help="write a PNG of mean ± std vs queries")
    p.add_argument("--force", action="store_true", help="overwrite an existing --plot file")
    g = p.add_argument_group("property-guided evolution settings (ablations; defaults are the benchmark's)")
    defaults = PropertySearchConfig()
    g.add_argument("--selection", choices=["regularized", "tournament"], default=defaults.selection,
                   help=f"parent selection (default {defaults.selection})")
    g.add_argument("--population", type=int, default=defaults.population,
                   help=f"regularized: newest cells that can be parents (default {defaults.population})")
    g.add_argument("--sample", type=int, default=defaults.sample,
                   help=f"parent = best of this many (default {defaults.sample})")
    g.add_argument("--initial-pool", type=int, default=defaults.initial_pool,
                   help=f"random cells the property-diverse initial population is drawn from; 0: plain random "
                        f"(default {defaults.initial_pool})")
    g.add_argument("--mutation", choices=["property", "random"], default="property",
                   help="property: property-guided; random: random edits of the same subgraphs (ablation)")
    return p


def run(argv: Sequence[str] | None = None) -> int:
    """The benchmark; raises :class:`AlphanasError` on user errors (see :func:`main`)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
    from alphanas.table import Table

    args = _parser().parse_args(argv)
    if args.runs < 1 or args.budget < 1:
        raise AlphanasError("--runs and --budget must be at least 1")
    if args.population < 1 or args.sample < 1 or args.initial_pool < 0:
        raise AlphanasError("--population and --sample must be at least 1, --initial-pool at least 0")
    config = PropertySearchConfig(selection=args.selection, population=args.population, sample=args.sample,
                                  initial_pool=args.initial_pool, guided=args.mutation == "property")
    path = args.table
    if path is None:
        if not DEFAULT_TABLE.is_file():
            raise AlphanasError(f"no NAS-Bench-201 table at the default {DEFAULT_TABLE}; give one with --table FILE")
        path = DEFAULT_TABLE
    plot_path = check_output_path(args.plot, [path], args.force) if args.plot is not None else None
    table = NB201Table(path)
    budget = min(args.budget, len(table))
    budgets = [b for b in REPORT_BUDGETS if b < budget] + [budget]
    strategies = list(STRATEGIES) if args.strategy == "all" else [args.strategy]

    err = Console(stderr=True)
    results: dict[str, list[list[float]]] = {}
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(bar_width=28), MofNCompleteColumn(),
                  TextColumn("runs"), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                  console=err, transient=args.json) as bar:
        for strategy in strategies:
            task = bar.add_task(f"nb201 {strategy}", total=args.runs)
            results[strategy] = curves(table, strategy, budget, args.runs, args.seed, config,
                                       on_run=lambda task=task: bar.advance(task))
    summaries = [{"strategy": s, "runs": args.runs, "budgets": summarize(results[s], budgets)} for s in strategies]

    if args.json:
        print(json.dumps(summaries[0] if len(summaries) == 1 else summaries, indent=2))
    else:
        out = Table(title=f"NAS-Bench-201 ({path.name}): test_acc_200ep of the best-by-validation cell, "
                          f"mean ± std over {args.runs} runs")
        out.add_column("queries", justify="right")
        for s in strategies:
            out.add_column(LABELS[s], justify="right")
        for b in budgets:
            out.add_row(str(b), *(f"{summ['budgets'][str(b)]['mean']:.2f} ± {summ['budgets'][str(b)]['std']:.2f}"
                                  for summ in summaries))
        Console().print(out)
    if plot_path is not None:
        plot(results, plot_path, optimum=table.optimum(), title=path.name)
        err.print(f"wrote {plot_path}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for ``python -m alphanas.bench.nb201`` and ``alphanas benchmark nb201``: user errors
    print one line and return 2."""
    return run_main(lambda: run(argv))
