"""Search time split: where the default digits search's wall time goes, with pipelining off and on.

Runs ``alphanas search``'s default (the small residual seed on digits) through
:func:`alphanas.search.run.run_search`, once without pipelining (the driver makes each candidate in
turn, the behaviour before pipelining) and once pipelined (a proposer thread keeps a queue of ready
candidates while the workers train), in one invocation, and reports each run's split of the wall
time into training, proposal, verification, storage and idle (:mod:`alphanas.search.timesplit`),
trials per minute, the training side's busy fraction, the time per trial outside training, and the
ratios between the two runs. Each search runs in a fresh Python process, as ``alphanas search`` does
(nothing imported, no sandbox, no data in memory), and is reported three ways: the search loop
(:meth:`~alphanas.search.evolution.Evolution.run`), the whole call from
:func:`~alphanas.search.run.run_search`'s start (set-up included: imports, data, store), and the whole
process (``process_*``: from starting Python to its exit). Pipelining off is the search before
pipelining (spawned workers, started at the first task); on is the default (a fork server where the
platform has one, the fork server and sandbox started before the data and the seed are loaded, the seed
trained in the driver while they start).

    python -m alphanas.bench.search_time --json              # 30 trials (the default search), process executor
    alphanas benchmark search_time --trials 30 --executor process --epochs 5
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def _load() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def measure(trials: int = 30, executor: str = "process", pipeline: bool = True, seed: int = 0, epochs: int = 5,
            out: str | None = None, workers: int | None = None, generation: int | None = None) -> dict[str, Any]:
    """One default digits search (``trials`` trials of ``epochs`` epochs on ``executor``), pipelined or not;
    its time split (keys ``training_s``, ``proposal_s``, ``verification_s``, ``storage_s``, ``idle_s``,
    ``wall_s``, ``trials``, ``trials_per_min``, ``busy_fraction``, ``overhead_per_trial_s``, ``pipeline``,
    ...) plus ``command_wall_s`` (the whole call, set-up included), the load average before and after, and
    the search folder (``out``, a new temporary folder when None; it must not hold another search)."""
    from alphanas.search.run import SearchConfig, run_search
    from alphanas.search.sandbox import SANDBOX

    folder = Path(out) if out is not None else Path(tempfile.mkdtemp(prefix="alphanas-search-time-"))
    from alphanas.search import evaluators

    SANDBOX.close()  # a cold synthesis worker and no data in memory, as in a fresh `alphanas search`
    evaluators.clear_dataset_cache()
    load_before = _load()
    t0 = time.perf_counter()
    res = run_search(SearchConfig(trials=trials, epochs=epochs, executor=executor, workers=workers, seed=seed,
                                  out=str(folder), pipeline=bool(pipeline),
                                  generation=generation if pipeline else None))
    split = dict(res.time_split)
    split.update(command_wall_s=round(time.perf_counter() - t0, 3), pipeline=bool(pipeline), executor=executor,
                 epochs=epochs, seed=seed, out=str(folder), counts=dict(res.counts),
                 load_before=load_before, load_after=_load())
    return split


def measure_fresh(trials: int = 30, executor: str = "process", pipeline: bool = True, seed: int = 0, epochs: int = 5,
                  out: str | None = None, workers: int | None = None) -> dict[str, Any]:
    """:func:`measure` in a new Python process (``python -m alphanas.bench.search_time --one on|off``), plus
    ``process_wall_s`` (starting Python to its exit), ``process_busy_fraction`` (training ÷ that) and
    ``process_overhead_per_trial_s``."""
    folder = Path(out) if out is not None else Path(tempfile.mkdtemp(prefix="alphanas-search-time-"))
    cmd = [sys.executable, "-m", "alphanas.bench.search_time", "--one", "on" if pipeline else "off",
           "--trials", str(trials), "--executor", executor, "--seed", str(seed), "--epochs", str(epochs),
           "--out", str(folder), "--json"] + (["--workers", str(workers)] if workers else [])
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")
    res = json.loads(proc.stdout)
    n = max(1, int(res.get("trials") or 0))
    res.update(process_wall_s=round(wall, 3), process_busy_fraction=round(res["training_s"] / wall, 6),
               process_overhead_per_trial_s=round((wall - res["training_s"]) / n, 6))
    return res


def compare(trials: int = 30, executor: str = "process", seed: int = 0, epochs: int = 5, out: str | None = None,
            workers: int | None = None) -> dict[str, Any]:
    """:func:`measure_fresh` with pipelining off, then on (folders ``off`` and ``on`` under ``out``), and the
    ratios off ÷ on of the time per trial outside training (loop, whole call, whole process) and of the
    wall time."""
    base = Path(out) if out is not None else Path(tempfile.mkdtemp(prefix="alphanas-search-time-"))
    off = measure_fresh(trials, executor, False, seed, epochs, str(base / "off"), workers)
    on = measure_fresh(trials, executor, True, seed, epochs, str(base / "on"), workers)

    def ratio(a: float, b: float) -> float | None:
        return round(a / b, 3) if b else None

    return {"off": off, "on": on, "cpus": os.cpu_count(),
            "overhead_ratio": ratio(off["overhead_per_trial_s"], on["overhead_per_trial_s"]),
            "steady_overhead_ratio": ratio(off["steady_overhead_per_trial_s"], on["steady_overhead_per_trial_s"]),
            "command_overhead_ratio": ratio(off.get("command_overhead_per_trial_s", 0.0),
                                            on.get("command_overhead_per_trial_s", 0.0)),
            "process_overhead_ratio": ratio(off["process_overhead_per_trial_s"], on["process_overhead_per_trial_s"]),
            "wall_ratio": ratio(off["wall_s"], on["wall_s"]),
            "busy_fraction": {"off": off["busy_fraction"], "on": on["busy_fraction"]},
            "command_busy_fraction": {"off": off.get("command_busy_fraction"), "on": on.get("command_busy_fraction")},
            "process_busy_fraction": {"off": off["process_busy_fraction"], "on": on["process_busy_fraction"]}}


def table(res: dict[str, Any]):
    """The comparison as an :class:`alphanas.table.Table`."""
    from alphanas.table import Table

    t = Table(title=f"search time split ({res['on']['trials']} trials, {res['on']['executor']} executor, "
                    f"{res['cpus']} CPUs)")
    t.add_column("", justify="left", no_wrap=True)
    for col in ("pipeline off", "pipeline on"):
        t.add_column(col, justify="right", no_wrap=True)
    rows = [("wall s (search loop)", "wall_s", "{:.1f}"), ("training s", "training_s", "{:.1f}"),
            ("proposal s", "proposal_s", "{:.1f}"), ("verification s", "verification_s", "{:.1f}"),
            ("storage s", "storage_s", "{:.2f}"), ("worker start-up s", "startup_s", "{:.1f}"),
            ("idle s", "idle_s", "{:.1f}"),
            ("training fraction of wall", "busy_fraction", "{:.3f}"),
            ("any worker training", "any_busy_fraction", "{:.3f}"),
            ("trials per minute", "trials_per_min", "{:.1f}"),
            ("s per trial outside training", "overhead_per_trial_s", "{:.3f}"),
            ("start-up s (until every worker trains)", "startup_end_s", "{:.1f}"),
            ("after start-up: training fraction", "steady_busy_fraction", "{:.3f}"),
            ("after start-up: s per trial outside training", "steady_overhead_per_trial_s", "{:.3f}"),
            ("whole call s (set-up included)", "command_wall_s", "{:.1f}"),
            ("whole call: training fraction", "command_busy_fraction", "{:.3f}"),
            ("whole call: s per trial outside training", "command_overhead_per_trial_s", "{:.3f}"),
            ("whole process s (Python start to exit)", "process_wall_s", "{:.1f}"),
            ("whole process: training fraction", "process_busy_fraction", "{:.3f}"),
            ("whole process: s per trial outside training", "process_overhead_per_trial_s", "{:.3f}"),
            ("workers trained in the driver while starting", "lent", "{:d}")]
    for label, key, fmt in rows:
        t.add_row(label, *(fmt.format(res[k][key]) if key in res[k] else "-" for k in ("off", "on")))
    t.add_row("load average before", " ".join(map(str, res["off"]["load_before"])),
              " ".join(map(str, res["on"]["load_before"])))
    return t


def main(argv: list[str] | None = None) -> int:
    """Run :func:`compare` and print the table (``--json``: the JSON instead)."""
    p = argparse.ArgumentParser(prog="alphanas benchmark search_time", description=__doc__.split("\n\n")[0])
    p.add_argument("--trials", type=int, default=30, help="trials per search (default 30, as alphanas search)")
    p.add_argument("--epochs", type=int, default=5, help="epochs per candidate (default 5, the search's default)")
    p.add_argument("--executor", choices=("local", "process", "ray"), default="process", help="default process")
    p.add_argument("--workers", type=int, help="training workers (default: the search's default)")
    p.add_argument("--seed", type=int, default=0, help="search seed (default 0)")
    p.add_argument("--out", help="folder for the two searches (default: a new temporary folder)")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.add_argument("--one", choices=("on", "off"), help="run one search (pipelining on or off) in this process "
                   "and print its split (what the comparison runs in each fresh process)")
    args = p.parse_args(argv)
    if args.trials < 2 or args.epochs < 1:
        p.error("--trials must be at least 2 and --epochs at least 1")
    if args.out and Path(args.out).exists() and any(Path(args.out).iterdir()):
        p.error(f"--out {args.out}: not empty; give a new folder")
    if args.one:
        one = measure(args.trials, args.executor, args.one == "on", args.seed, args.epochs, args.out, args.workers)
        print(json.dumps(one, indent=2) if args.json else one)
        return 0
    res = compare(args.trials, args.executor, args.seed, args.epochs, args.out, args.workers)
    if args.json:
        print(json.dumps(res, indent=2))
        return 0
    from rich.console import Console

    c = Console(highlight=False)
    c.print(table(res))
    c.print(f"time per trial outside training: {res['overhead_ratio']}x smaller pipelined over the loop, "
            f"{res['command_overhead_ratio']}x over the whole call, {res['process_overhead_ratio']}x over the whole "
            f"process ({res['steady_overhead_ratio']}x after the start-up); wall {res['wall_ratio']}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
