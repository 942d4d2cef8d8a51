"""Start-up benchmark: wall time of ``alphanas`` invocations in a fresh interpreter, median of N runs.

Every command line runs as its own process (``python -m alphanas.cli ...``, as the installed ``alphanas``
script does), so each run pays the whole start-up: the interpreter, the imports, argument parsing and the
command's work. It also lists which heavy libraries (torch, onnxruntime, egglog, matplotlib, onnx) each
command imported, so a regression of the lazy imports shows up as a name, not only as seconds.

    python -m alphanas.bench.startup                 # median of 5 runs of each command
    alphanas benchmark startup --runs 9 --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

#: the libraries whose import start-up is about (each costs from a tenth of a second to seconds)
HEAVY = ("torch", "onnxruntime", "egglog", "matplotlib", "onnx", "sympy")


def light_squeezenet() -> str:
    """The path of onnx's ``light_squeezenet.onnx`` test model (found without importing onnx)."""
    import importlib.util

    spec = importlib.util.find_spec("onnx")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("alphanas benchmark startup: onnx is not installed")
    return os.path.join(list(spec.submodule_search_locations)[0], "backend", "test", "data", "light",
                        "light_squeezenet.onnx")


def commands() -> dict[str, list[str]]:
    """The measured command lines (arguments of ``alphanas``) by label."""
    return {"--help": ["--help"], "--version": ["--version"], "argument error": ["inspect"],
            "inspect --help": ["inspect", "--help"], "inspect light_squeezenet": ["inspect", light_squeezenet()]}


_PROBE = ("import runpy, sys, atexit\n"
          "def _report():\n"
          "    sys.stderr.write('\\nHEAVY ' + ','.join(m for m in {heavy!r} if m in sys.modules) + '\\n')\n"
          "atexit.register(_report)\n"
          "sys.argv = ['alphanas'] + sys.argv[1:]\n"
          "runpy.run_module('alphanas.cli', run_name='__main__')\n")


def measure(argv: list[str], runs: int) -> dict:
    """Median, min and max wall seconds of ``alphanas ARGV`` over ``runs`` fresh processes, and the heavy
    libraries it imported."""
    times, heavy = [], ""
    for _ in range(runs):
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "alphanas.cli", *argv], capture_output=True, text=True)
        times.append(time.perf_counter() - t0)
    probe = subprocess.run([sys.executable, "-c", _PROBE.format(heavy=HEAVY), *argv], capture_output=True, text=True)
    for line in probe.stderr.splitlines():
        if line.startswith("HEAVY "):
            heavy = line[6:]
    return {"median_s": statistics.median(times), "min_s": min(times), "max_s": max(times), "runs": runs,
            "exit_status": proc.returncode, "imports": heavy.split(",") if heavy else []}


def main(argv: list[str] | None = None) -> int:
    """Measure every command of :func:`commands` and print a table (``--json PATH`` also writes JSON)."""
    p = argparse.ArgumentParser(prog="alphanas benchmark startup", description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=5, help="fresh processes per command (default 5; the median is reported)")
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = p.parse_args(argv)
    if args.runs < 1:
        p.error("--runs: give at least 1")
    from rich.console import Console
    from alphanas.table import Table

    results = {label: measure(cmd, args.runs) for label, cmd in commands().items()}
    t = Table(title=f"alphanas start-up, median of {args.runs} fresh processes ({os.cpu_count()} cores)")
    for col in ("command", "median s", "min s", "max s", "exit", "heavy imports"):
        t.add_column(col, justify="right" if col.endswith(" s") or col == "exit" else "left", no_wrap=True)
    for label, r in results.items():
        t.add_row(f"alphanas {label}", f"{r['median_s']:.2f}", f"{r['min_s']:.2f}", f"{r['max_s']:.2f}",
                  str(r["exit_status"]), ", ".join(r["imports"]) or "none")
    Console(highlight=False).print(t)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
