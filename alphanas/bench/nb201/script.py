"""NAS-Bench-201 benchmark: property-guided evolution vs regularized evolution vs random search.

    python -m alphanas.bench.nb201 --table cifar10.csv --strategy property --budget 300 --runs 100
    python -m alphanas.bench.nb201 --strategy all --plot nb201.png

Each run of a strategy queries distinct cells of the table until the budget (the protocol of the
table's README: a search reads only ``val_acc_12ep`` and the cost columns of the cells it queries);
after each of ``--budgets`` (default 25/50/100/150/200/300) queries the harness looks up
``test_acc_200ep`` of the best-by-validation cell seen so far (within ``--constraint`` limits). The
table prints mean ± std over the runs (run ``r`` uses seed ``seed + r``). ``--hypervolume COLUMN``
adds, per budget, the hypervolume of the queried cells' front of validation accuracy vs that column
(e.g. a device latency of the joined ``*_hw.csv``), as a fraction of the whole table's front, mean ±
standard error. ``--json`` prints per strategy ``{"strategy", "runs", "seeds", "table", "optimum",
"budgets": {"100": {"mean", "std", "sem"}}, "curves": [[per-run best-so-far test accuracy after 1..budget
queries]], "hypervolume": {COLUMN: {"100": {"mean", "sem", "values"}}}}`` (a list with ``--strategy all``).

No table is shipped with alphanas: pass a CSV with the columns of :mod:`alphanas.bench.nb201.table`,
converted from the NAS-Bench-201 / NATS-Bench topology files (and HW-NAS-Bench's latencies) with
``python -m alphanas.bench.nb201.convert`` (:mod:`alphanas.bench.nb201.convert`).
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections.abc import Callable, Sequence
from pathlib import Path

from alphanas.bench.nb201.search import (STRATEGIES, PropertySearchConfig, best_by_validation, check_columns,
                                         run_search)
from alphanas.bench.nb201.table import NB201Table
from alphanas.search.pareto import hypervolume_2d
from alphanas.console import check_output_path, run_main
from alphanas.errors import AlphanasError
from alphanas.fileio import save_figure_atomic

#: where the shared NAS-Bench-201 CIFAR-10 table lives beside a checkout (``../shared/data/nb201``)
DEFAULT_TABLE = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "nb201" / "cifar10.csv"
REPORT_BUDGETS = (25, 50, 100, 150, 200, 300)
LABELS = {"property": "property-guided evolution", "surrogate": "surrogate-assisted (GP-screened) evolution",
          "generative": "generative (AG-Net-style)", "rea": "regularized evolution (P=10, S=3)",
          "random": "random search"}
#: the labels of the strategies that ``--selection pareto`` makes multi-objective
PARETO_LABELS = {"property": "property-guided evolution, Pareto selection",
                 "surrogate": "surrogate, hypervolume acquisition"}


def labels(config: PropertySearchConfig | None) -> dict[str, str]:
    """The strategies' display names under ``config`` (``--selection pareto`` changes two of them)."""
    return {**LABELS, **PARETO_LABELS} if config is not None and config.selection == "pareto" else dict(LABELS)


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


def hypervolume_fraction(table: NB201Table, archs: Sequence[str], column: str) -> float:
    """Hypervolume of ``archs``' front of (val_acc: max, ``column``: min) over the whole table's front's,
    both with the reference point (worst val_acc, worst ``column``) of the table."""
    points = [table.visible(a) for a in archs]
    senses = {"val_acc": "max", column: "min"}
    reference, total = _table_hypervolume(table, column)
    return hypervolume_2d(points, ["val_acc", column], senses, reference) / total if total > 0 else 0.0


_HV_CACHE: dict[tuple[int, str], tuple[dict[str, float], float]] = {}


def _table_hypervolume(table: NB201Table, column: str) -> tuple[dict[str, float], float]:
    """The reference point and the hypervolume of the whole table's front (cached per table)."""
    key = (id(table), column)
    if key not in _HV_CACHE:
        every = [table.visible(a) for a in table.archs()]
        reference = {"val_acc": min(p["val_acc"] for p in every), column: max(p[column] for p in every)}
        senses = {"val_acc": "max", column: "min"}
        best: dict[float, float] = {}  # the front: best accuracy per cost value, then a sweep
        for p in every:
            best[p[column]] = max(best.get(p[column], -1.0), p["val_acc"])
        front, top = [], -1.0
        for cost in sorted(best):
            if best[cost] > top:
                front.append({"val_acc": best[cost], column: cost})
                top = best[cost]
        _HV_CACHE[key] = reference, hypervolume_2d(front, ["val_acc", column], senses, reference)
    return _HV_CACHE[key]


def run_curves(table: NB201Table, strategy: str, budget: int, runs: int, seed: int = 0,
               config: PropertySearchConfig | None = None, constraints: dict[str, float] | None = None,
               hv_columns: Sequence[str] = (), hv_budgets: Sequence[int] = (),
               on_run: Callable[[], None] | None = None) -> tuple[list[list[float]], dict[str, dict[int, list[float]]]]:
    """:func:`curves` (best-by-validation within ``constraints``) and, per column of ``hv_columns`` and
    budget of ``hv_budgets``, each run's :func:`hypervolume_fraction` of its first ``budget`` cells.
    A budget before the first feasible cell scores ``nan``."""
    points = range(1, budget + 1)
    result, hv = [], {c: {b: [] for b in hv_budgets} for c in hv_columns}
    for r in range(runs):
        cands = run_search(table, strategy, budget, seed + r, config, constraints=constraints)
        best = best_by_validation(cands, points, constraints)
        result.append([table.test_acc_200ep(best[n]) if n in best else float("nan") for n in points])
        distinct = list(dict.fromkeys(c.key for c in cands))
        for column in hv_columns:
            for b in hv_budgets:
                hv[column][b].append(hypervolume_fraction(table, distinct[:b], column))
        if on_run is not None:
            on_run()
    return result, hv


def summarize(per_run: Sequence[Sequence[float]], budgets: Sequence[int]) -> dict[str, dict[str, float]]:
    """``{"100": {"mean": M, "std": D}, ...}`` over runs (sample std; 0 for one run)."""
    out = {}
    for b in budgets:
        values = [run[b - 1] for run in per_run]
        std = statistics.stdev(values) if len(values) > 1 else 0.0
        out[str(b)] = {"mean": round(statistics.fmean(values), 4), "std": round(std, 4),
                       "sem": round(std / len(values) ** 0.5, 4)}
    return out


def plot(results: dict[str, list[list[float]]], path: Path, optimum: float | None = None, title: str = "",
         names: dict[str, str] | None = None) -> None:
    """Mean ± std of test accuracy vs queries, one line per strategy (``names``: display names, default
    :data:`LABELS`); written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for strategy, per_run in results.items():
        arr = np.asarray(per_run)
        x = np.arange(1, arr.shape[1] + 1)
        mean, std = arr.mean(axis=0), arr.std(axis=0, ddof=1) if len(arr) > 1 else np.zeros(arr.shape[1])
        line, = ax.plot(x, mean, lw=1.6, label=(names or LABELS).get(strategy, strategy))
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
    save_figure_atomic(fig, path)


def plot_fronts(table: NB201Table, column: str, queried: dict[str, Sequence[str]], path: Path,
                names: dict[str, str] | None = None) -> None:
    """The front of validation accuracy vs ``column`` of each strategy's queried cells (one run each)
    beside the whole table's front, as steps (``names``: display names, default :data:`LABELS`); written
    atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def front(archs: Sequence[str]) -> tuple[list[float], list[float]]:
        points = sorted((table.visible(a)[column], table.visible(a)["val_acc"] * 100) for a in archs)
        xs, ys, top = [], [], -1.0
        for x, y in points:
            if y > top:
                xs.append(x)
                ys.append(y)
                top = y
        return xs, ys

    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    xs, ys = front(table.archs())
    ax.step(xs, ys, where="post", color="k", lw=1, ls=":", label="whole table")
    for strategy, archs in queried.items():
        xs, ys = front(archs)
        ax.step(xs, ys, where="post", lw=1.5, label=(names or LABELS).get(strategy, strategy))
    ax.set_xlabel(column)
    ax.set_ylabel("validation accuracy (12 ep), %")
    ax.set_ylim(60, 86)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title(f"NAS-Bench-201 fronts after {max(len(a) for a in queried.values())} queries (one run each)")
    fig.tight_layout()
    save_figure_atomic(fig, path)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m alphanas.bench.nb201", description=__doc__.split("\n\n")[0])
    p.add_argument("--table", type=Path, default=None,
                   help=f"NAS-Bench-201 CSV table (default: {DEFAULT_TABLE} when it exists)")
    p.add_argument("--strategy", default="property", choices=[*STRATEGIES, "all"])
    p.add_argument("--budget", type=int, default=None,
                   help="distinct cells queried per run (default: the largest of --budgets, else 300)")
    p.add_argument("--budgets", default=None, help="comma-separated budgets to report (default 25,50,100,150,200,300 "
                                                  "up to --budget)")
    p.add_argument("--hardware", type=Path, default=None,
                   help="hardware table to join (default: TABLE_hw.csv beside the table when it exists)")
    p.add_argument("--hypervolume", default="", metavar="COLUMNS",
                   help="comma-separated columns (e.g. latency_ms_fpga, or 'latency' for every latency column): "
                        "report the hypervolume of val_acc vs each per budget")
    p.add_argument("--constraint", action="append", default=[], metavar="COLUMN=MAX",
                   help="only cells with COLUMN <= MAX count as results and parents (repeatable)")
    p.add_argument("--objectives", default=None,
                   help="with --selection pareto: comma-separated objectives, accuracy first (default "
                        "val_acc,params); the property strategy selects parents on them, the surrogate maximizes "
                        "the hypervolume of val_acc and the one cost column")
    p.add_argument("--runs", type=int, default=100, help="independent runs per strategy (default 100)")
    p.add_argument("--seed", type=int, default=0, help="run r uses seed SEED + r (default 0)")
    p.add_argument("--json", action="store_true", help="print JSON instead of the table")
    p.add_argument("--plot", type=Path, default=None, help="write a PNG of mean ± std vs queries")
    p.add_argument("--plot-fronts", type=Path, default=None, metavar="PNG",
                   help="write a PNG of each strategy's front (run 0) for the first --hypervolume column")
    p.add_argument("--force", action="store_true", help="overwrite an existing --plot/--plot-fronts file")
    g = p.add_argument_group("property-guided evolution settings (ablations; defaults are the benchmark's)")
    defaults = PropertySearchConfig()
    g.add_argument("--selection", choices=["regularized", "tournament", "pareto"], default=defaults.selection,
                   help=f"parent selection (default {defaults.selection}); pareto also switches the surrogate "
                        f"strategy to its multi-objective mode over --objectives")
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
    from alphanas.options import validate_options
    from alphanas.table import Table

    args = _parser().parse_args(argv)
    try:
        wanted = sorted({int(b) for b in args.budgets.split(",") if b.strip()}) if args.budgets else []
        constraints = {c.split("=", 1)[0].strip(): float(c.split("=", 1)[1]) for c in args.constraint}
    except (ValueError, IndexError):
        raise AlphanasError("--budgets takes integers separated by commas; --constraint takes COLUMN=MAX") from None
    if args.budget is None:
        args.budget = max(wanted) if wanted else 300
    validate_options(args)
    if any(b < 1 for b in wanted):
        raise AlphanasError(f"--budgets {args.budgets}: every budget must be at least 1")
    config = PropertySearchConfig(selection=args.selection, population=args.population, sample=args.sample,
                                  initial_pool=args.initial_pool, guided=args.mutation == "property")
    if args.objectives:
        config.objectives = tuple(o.strip() for o in args.objectives.split(",") if o.strip())
    path = args.table
    if path is None:
        if not DEFAULT_TABLE.is_file():
            raise AlphanasError(f"no NAS-Bench-201 table at the default {DEFAULT_TABLE}; give one with --table FILE: "
                                "download the NAS-Bench-201/NATS-Bench topology benchmark (links at "
                                "https://github.com/D-X-Y/NATS-Bench, e.g. NATS-tss-v1_0-3ffb9-simple) and convert it "
                                "with python -m alphanas.bench.nb201.convert SOURCE --out cifar10.csv")
        path = DEFAULT_TABLE
    plot_path = check_output_path(args.plot, [path], args.force) if args.plot is not None else None
    fronts_path = check_output_path(args.plot_fronts, [path], args.force) if args.plot_fronts is not None else None
    table = NB201Table(path, args.hardware)
    budget = min(args.budget, len(table))
    budgets = sorted({min(b, budget) for b in wanted}) if wanted else [b for b in REPORT_BUDGETS if b < budget] + [budget]
    hv_columns = [c for c in table.columns if c.startswith("latency")] if args.hypervolume.strip() == "latency" \
        else [c.strip() for c in args.hypervolume.split(",") if c.strip()]
    check_columns(table, [*hv_columns, *constraints, *(config.objectives if config.selection == "pareto" else ())])
    if fronts_path is not None and not hv_columns:
        raise AlphanasError("--plot-fronts needs a --hypervolume column")
    strategies = list(STRATEGIES) if args.strategy == "all" else [args.strategy]
    names = labels(config)

    err = Console(stderr=True)
    results: dict[str, list[list[float]]] = {}
    volumes: dict[str, dict[str, dict[int, list[float]]]] = {}
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(bar_width=28), MofNCompleteColumn(),
                  TextColumn("runs"), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                  console=err, transient=args.json) as bar:
        for strategy in strategies:
            task = bar.add_task(f"nb201 {strategy}", total=args.runs)
            results[strategy], volumes[strategy] = run_curves(
                table, strategy, budget, args.runs, args.seed, config, constraints, hv_columns, budgets,
                on_run=lambda task=task: bar.advance(task))
    summaries = [{"strategy": s, "label": names[s], "selection": config.selection,
                  "objectives": list(config.objectives) if config.selection == "pareto" else ["val_acc"],
                  "runs": args.runs, "seeds": [args.seed + r for r in range(args.runs)],
                  "table": str(path), "hardware": None if table.hardware is None else str(table.hardware),
                  "optimum": table.optimum(), "constraints": constraints,
                  "budgets": summarize(results[s], budgets), "curves": [[round(v, 4) for v in run] for run in results[s]],
                  "hypervolume": {c: {str(b): _mean_sem(volumes[s][c][b]) for b in budgets} for c in hv_columns}}
                 for s in strategies]

    if args.json:
        print(json.dumps(summaries[0] if len(summaries) == 1 else summaries, indent=2))
    else:
        out = Table(title=f"NAS-Bench-201 ({path.name}): test_acc_200ep of the best-by-validation cell, "
                          f"mean ± std over {args.runs} runs")
        out.add_column("queries", justify="right")
        for s in strategies:
            out.add_column(names[s], justify="right")
        for b in budgets:
            out.add_row(str(b), *(f"{summ['budgets'][str(b)]['mean']:.2f} ± {summ['budgets'][str(b)]['std']:.2f}"
                                  for summ in summaries))
        Console().print(out)
        for column in hv_columns:
            hv = Table(title=f"hypervolume of val_acc vs {column} (fraction of the table's front), mean ± s.e.")
            hv.add_column("queries", justify="right")
            for s in strategies:
                hv.add_column(names[s], justify="right")
            for b in budgets:
                hv.add_row(str(b), *(f"{summ['hypervolume'][column][str(b)]['mean']:.4f} ± "
                                     f"{summ['hypervolume'][column][str(b)]['sem']:.4f}" for summ in summaries))
            Console().print(hv)
    if plot_path is not None:
        plot(results, plot_path, optimum=table.optimum(), title=path.name, names=names)
        err.print(f"wrote {plot_path}")
    if fronts_path is not None:
        queried = {s: list(dict.fromkeys(c.key for c in run_search(table, s, budget, args.seed, config,
                                                                     constraints=constraints)))
                   for s in strategies}
        plot_fronts(table, hv_columns[0], queried, fronts_path, names=names)
        err.print(f"wrote {fronts_path}")
    return 0


def _mean_sem(values: Sequence[float]) -> dict[str, object]:
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return {"mean": round(statistics.fmean(values), 5), "sem": round(std / len(values) ** 0.5, 5),
            "values": [round(v, 5) for v in values]}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for ``python -m alphanas.bench.nb201`` and ``alphanas benchmark nb201``: user errors
    print one line and return 2."""
    return run_main(lambda: run(argv))
