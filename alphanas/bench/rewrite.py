"""Rewrite benchmark: node count and onnxruntime CPU latency after ``alphanas rewrite`` against the original.

For each model (the nine onnx "light" models shipped with onnx's backend tests and every zoo model) it
writes the original ONNX file, rewrites it as ``alphanas rewrite ORIGINAL -o REWRITTEN --verify`` does
(default pipeline, verified with onnxruntime), runs onnxsim on the original when onnxsim is importable (optional extra
``alphanas[onnxsim]``), and measures every file in the same run, one model after another:

* nodes of each ONNX file, and of the original merely imported and re-exported by alphanas (no pass), to
  separate what the import normalisation does from what the passes do;
* median latency at batch 1 with onnxruntime's default session options (onnxruntime runs its own
  graph optimisations when it creates a session, so part of any rewrite is redone there anyway), and
  with onnxruntime's graph optimisations disabled (the raw effect of the rewrite);
* the largest output difference of the rewritten and the simplified file against the original, on the
  same random inputs (relative to the output scale).

    python -m alphanas.bench.rewrite                        # everything (minutes on 2 cores)
    alphanas benchmark rewrite --models cnn,resnet18 --repeats 5 --json out.json --plot out.png
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from alphanas.errors import AlphanasError
from alphanas.options import validate_options

#: Variants measured for every model (``onnxsim`` only where onnxsim is importable).
VARIANTS = ("original", "alphanas", "onnxsim")


def light_models() -> dict[str, Path]:
    """The nine onnx backend-test "light" models (weights generated in-graph by ConstantOfShape)."""
    import onnx

    folder = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light"
    return {p.stem: p for p in sorted(folder.glob("*.onnx"))}


def all_models() -> list[str]:
    from alphanas import zoo

    return [*light_models(), *zoo.names()]


def onnxsim_available() -> bool:
    try:
        import onnxsim  # noqa: F401
    except ImportError:
        return False
    return True


@dataclass
class ModelResult:
    """Everything measured for one model; latencies in ms, ``None`` where a variant was not produced."""

    model: str
    nodes: dict[str, int | None] = field(default_factory=dict)
    latency_ms: dict[str, float | None] = field(default_factory=dict)  # ORT default session options
    raw_latency_ms: dict[str, float | None] = field(default_factory=dict)  # ORT graph optimisations off
    max_error: dict[str, float | None] = field(default_factory=dict)
    rewrite_s: float = 0.0
    note: str = ""

    def ratio(self, what: str, variant: str) -> float | None:
        d = getattr(self, what)
        a, b = d.get(variant), d.get("original")
        return None if a is None or not b else a / b


def write_original(name: str, folder: Path) -> Path:
    """The model's original ONNX file in ``folder`` (a light model is copied as shipped)."""
    path = folder / f"{name}.onnx"
    light = light_models()
    if name in light:
        path.write_bytes(light[name].read_bytes())
        return path
    from alphanas import zoo
    from alphanas.ir import save_onnx

    save_onnx(zoo.build(name, seed=0), path)
    return path


def rewrite_and_verify(original: Path, out: Path) -> None:
    """What ``alphanas rewrite ORIGINAL -o OUT --verify`` does: the default pass pipeline, then an onnxruntime
    comparison with the original on random inputs; ``OUT`` is written only when the outputs agree."""
    from alphanas import passes
    from alphanas.ir import load_onnx, save_onnx
    from alphanas.passes.builtin import DEFAULT_PIPELINE
    from alphanas.passes.equivalence import DEFAULT_TOLERANCE, compare

    graph = load_onnx(original)
    rewritten = passes.pipeline(list(DEFAULT_PIPELINE), max_rounds=10).run(graph).graph
    eq = compare(graph, rewritten, seed=0, tolerance=DEFAULT_TOLERANCE)
    if not eq.ok:
        raise AlphanasError(f"alphanas rewrite {original} failed: verification failed, {out} not written: {eq.message}")
    save_onnx(rewritten, out)


def run_onnxsim(original: Path, out: Path) -> None:
    import onnx
    import onnxsim

    model, ok = onnxsim.simplify(onnx.load(str(original)))
    if not ok:
        raise AlphanasError(f"onnxsim could not validate its output for {original}")
    onnx.save(model, str(out))


def node_count(path: Path) -> int:
    import onnx

    return len(onnx.load(str(path), load_external_data=False).graph.node)


def imported_node_count(path: Path) -> int:
    """Nodes after alphanas merely imports and re-exports the file (no pass)."""
    from alphanas.ir import load_onnx
    from alphanas.ir.onnx_io import to_onnx

    return len(to_onnx(load_onnx(path)).graph.node)


def max_error(reference: Path, candidate: Path, seed: int = 0) -> float:
    """Largest ``|a - b| / max|a|`` over all outputs of the two files on the same random inputs (batch 1)."""
    from alphanas.ir.runtime import session, session_feeds

    ref_sess, cand_sess = session(str(reference), "cpu"), session(str(candidate), "cpu")
    feeds = session_feeds(ref_sess, 1, seed)
    worst = 0.0
    for a, b in zip(ref_sess.run(None, feeds), cand_sess.run(None, feeds)):
        if a.shape != b.shape:
            return float("inf")
        scale = float(np.max(np.abs(a))) if a.size and np.isfinite(a).all() else 1.0
        diff = float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64)))) if a.size else 0.0
        worst = max(worst, diff / (scale or 1.0))
    return worst

def interleaved_medians(paths: dict[str, Path], *, optimize: bool, repeats: int, warmup: int,
                        threads: int | None, seed: int = 0) -> dict[str, float]:
    """Median latency (ms, batch 1, onnxruntime CPU) of every file, timed in turns (one run of each per
    repeat) so that load changes on a busy machine hit all variants alike."""
    from alphanas.ir.runtime import session, session_feeds

    sessions = {v: session(str(p), "cpu", optimize=optimize, threads=threads) for v, p in paths.items()}
    feeds = {v: session_feeds(s, 1, seed) for v, s in sessions.items()}
    for _ in range(warmup):
        for v, sess in sessions.items():
            sess.run(None, feeds[v])
    times = {v: np.empty(repeats) for v in sessions}
    for r in range(repeats):
        for v, sess in sessions.items():
            t0 = time.perf_counter()
            sess.run(None, feeds[v])
            times[v][r] = time.perf_counter() - t0
    return {v: 1e3 * float(np.median(t)) for v, t in times.items()}


def benchmark(names: list[str], *, folder: Path, repeats: int = 10, warmup: int = 2, threads: int | None = None,
              use_onnxsim: bool = True, raw: bool = True, on_step=None) -> list[ModelResult]:
    """Produce the variants of every model in ``folder`` and measure them (see the module docstring).

    ``on_step(description)`` is called after each of the :func:`steps` units of work.
    """
    results = []
    for name in names:
        r = ModelResult(name)
        step = (lambda what, name=name: on_step(f"{name}: {what}")) if on_step else (lambda what: None)
        paths: dict[str, Path] = {"original": write_original(name, folder)}
        r.nodes["imported"] = imported_node_count(paths["original"])
        t0 = time.perf_counter()
        paths["alphanas"] = folder / f"{name}.alphanas.onnx"
        rewrite_and_verify(paths["original"], paths["alphanas"])
        r.rewrite_s = time.perf_counter() - t0
        step("rewritten")
        if use_onnxsim:
            sim = folder / f"{name}.onnxsim.onnx"
            try:
                run_onnxsim(paths["original"], sim)
                paths["onnxsim"] = sim
            except Exception as e:  # onnxsim failing on a model is a result, not a crash of the benchmark
                r.note = f"onnxsim failed: {type(e).__name__}: {str(e)[:80]}"
        step("simplified")
        for v in VARIANTS:
            p = paths.get(v)
            r.nodes[v] = None if p is None else node_count(p)
            r.max_error[v] = None if p is None or v == "original" else max_error(paths["original"], p)
        settings = [("latency_ms", True)] + ([("raw_latency_ms", False)] if raw else [])
        for attr, optimize in settings:
            medians = interleaved_medians(paths, optimize=optimize, repeats=repeats, warmup=warmup, threads=threads)
            getattr(r, attr).update({v: medians.get(v) for v in VARIANTS})
            step("timed" + ("" if optimize else " (ORT optimisations off)"))
        results.append(r)
    return results


def steps(names: list[str], raw: bool = True) -> int:
    """Units of work :func:`benchmark` reports through ``on_step``."""
    return len(names) * (4 if raw else 3)


def _fmt(x: float | None, spec: str) -> str:
    return "-" if x is None else format(x, spec)


def _rows(results: list[ModelResult]):
    """Headers and cells of the two result tables: node counts, and latencies."""
    nodes_head = ["model", "original", "imported", "alphanas", "onnxsim", "max err", "rewrite s"]
    nodes = [[r.model, str(r.nodes["original"]), str(r.nodes["imported"]), str(r.nodes["alphanas"]),
              _fmt(r.nodes.get("onnxsim"), "d"), _fmt(r.max_error["alphanas"], ".0e"), f"{r.rewrite_s:.1f}"]
             for r in results]
    lat_head = ["model", "opt ms", "alphanas", "onnxsim", "raw ms", "alphanas", "onnxsim"]
    lat = [[r.model, _fmt(r.latency_ms["original"], ".2f"), _fmt(r.ratio("latency_ms", "alphanas"), ".2f"),
            _fmt(r.ratio("latency_ms", "onnxsim"), ".2f"), _fmt(r.raw_latency_ms.get("original"), ".2f"),
            _fmt(r.ratio("raw_latency_ms", "alphanas"), ".2f"), _fmt(r.ratio("raw_latency_ms", "onnxsim"), ".2f")]
           for r in results]
    return [(nodes_head, nodes), (lat_head, lat)]


TITLES = ("nodes after alphanas rewrite (and onnxsim)",
          "onnxruntime CPU latency of the original, and of the rewritten files as a ratio to it, batch 1")
CAPTIONS = ("original: the file; imported: after alphanas's import alone (no pass); max err: largest output "
            "difference of the alphanas file, relative to the output scale",
            "opt: onnxruntime's default session options (it optimises the graph itself); raw: its graph "
            "optimisations off; alphanas, onnxsim: median latency / the original's median")


def tables(results: list[ModelResult]):
    """Two rich Tables: node counts (with the output check) and latencies (ratios to the original)."""
    from alphanas.table import Table

    out = []
    for title, caption, (head, rows) in zip(TITLES, CAPTIONS, _rows(results)):
        t = Table(title=title, caption=caption)
        for c in head:
            t.add_column(c, justify="left", no_wrap=True) if c == "model" else t.add_column(c, justify="right")
        for row in rows:
            t.add_row(*row)
        out.append(t)
    return out


def markdown(results: list[ModelResult]) -> str:
    """The two tables as Markdown (for the README)."""
    lines = []
    for head, rows in _rows(results):
        lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        lines.append("")
    return "\n".join(lines)


def geomean(values: list[float | None]) -> float | None:
    vs = [v for v in values if v is not None and v > 0]
    return float(np.exp(np.mean(np.log(vs)))) if vs else None


def summary(results: list[ModelResult]) -> dict[str, Any]:
    """Geometric means over the models of every ratio (variant / original)."""
    out: dict[str, Any] = {}
    for v in ("alphanas", "onnxsim"):
        out[v] = {
            "nodes_ratio": geomean([None if r.nodes.get(v) is None else r.nodes[v] / r.nodes["original"]
                                    for r in results]),
            "latency_ratio": geomean([r.ratio("latency_ms", v) for r in results]),
            "raw_latency_ratio": geomean([r.ratio("raw_latency_ms", v) for r in results]),
        }
    return out


def plot(results: list[ModelResult], path: Path) -> None:
    """Latency ratios to the original per model (both ORT settings), as a bar chart."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [r.model for r in results]
    series = [(f"{v}, {label}", [r.ratio(attr, v) or np.nan for r in results])
              for attr, label in (("latency_ms", "ORT default"), ("raw_latency_ms", "ORT optimisations off"))
              for v in ("alphanas", "onnxsim")]
    series = [s for s in series if not np.all(np.isnan(s[1]))]
    y = np.arange(len(names))
    h = 0.8 / max(len(series), 1)
    fig, ax = plt.subplots(figsize=(8, 0.25 * len(names) * max(len(series), 1) + 1.5))
    for i, (label, vals) in enumerate(series):
        ax.barh(y + i * h, vals, h, label=label)
    ax.axvline(1.0, color="k", lw=0.8)
    ax.set_yticks(y + h * (len(series) - 1) / 2, names)
    ax.invert_yaxis()
    ax.set_xlabel("median latency / original's (lower is faster), onnxruntime CPU, batch 1")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _write_atomic(path: Path, write) -> None:
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    try:
        write(tmp)
        tmp.replace(path)
    finally:
        if tmp.exists():
            tmp.unlink()


def main(argv: list[str] | None = None) -> int:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from alphanas.console import check_output_path, console

    p = argparse.ArgumentParser(prog="alphanas benchmark rewrite", description=__doc__.split("\n\n")[0])
    p.add_argument("--models", help=f"comma-separated subset (default all: {', '.join(all_models())})")
    p.add_argument("--repeats", type=int, default=10, help="timed runs per file and setting (default 10)")
    p.add_argument("--warmup", type=int, default=2, help="untimed runs first (default 2)")
    p.add_argument("--threads", type=int, default=None, help="onnxruntime intra-op threads (default: all cores)")
    p.add_argument("--no-onnxsim", action="store_true", help="skip onnxsim even when it is installed")
    p.add_argument("--no-raw", action="store_true", help="skip the measurement with ORT graph optimisations off")
    p.add_argument("--keep", metavar="DIR", help="write the ONNX files into DIR (kept) instead of a temporary folder")
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    p.add_argument("--plot", metavar="PATH", help="also write a bar chart of the latency ratios (PNG)")
    p.add_argument("--markdown", action="store_true", help="also print the tables as Markdown")
    p.add_argument("--force", action="store_true", help="overwrite existing --json/--plot files")
    args = p.parse_args(argv)
    known = all_models()
    names = known if not args.models else [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = [m for m in names if m not in known]
    if unknown or not names:
        raise AlphanasError(f"--models: unknown {', '.join(unknown) or '(none given)'}; known: {', '.join(known)}")
    validate_options(args)
    json_out = check_output_path(args.json, [], args.force) if args.json else None
    plot_out = check_output_path(args.plot, [], args.force) if args.plot else None
    use_onnxsim = not args.no_onnxsim and onnxsim_available()
    c = console()
    if not args.no_onnxsim and not use_onnxsim:
        c.print("onnxsim is not installed (pip install 'alphanas[onnxsim]'): its columns stay empty")
    cols = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
            TimeElapsedColumn(), TimeRemainingColumn())
    with contextlib.ExitStack() as stack:
        folder = Path(args.keep) if args.keep else Path(stack.enter_context(tempfile.TemporaryDirectory()))
        folder.mkdir(parents=True, exist_ok=True)
        bar = stack.enter_context(Progress(*cols, console=c, transient=True))
        task = bar.add_task("rewrite benchmark", total=steps(names, not args.no_raw))
        results = benchmark(names, folder=folder, repeats=args.repeats, warmup=args.warmup, threads=args.threads,
                            use_onnxsim=use_onnxsim, raw=not args.no_raw,
                            on_step=lambda what: bar.update(task, advance=1, description=what))
    for t in tables(results):
        c.print(t)
    s = summary(results)
    for v, d in s.items():
        if d["nodes_ratio"] is not None:
            c.print(f"{v}: geometric mean over {len(results)} models: nodes x{d['nodes_ratio']:.3f}, latency "
                    f"x{_fmt(d['latency_ratio'], '.3f')} (ORT default), x{_fmt(d['raw_latency_ratio'], '.3f')} "
                    "(ORT optimisations off)")
    c.print(f"onnxruntime CPU, {os.cpu_count()} cores, {args.threads or 'default'} intra-op threads, "
            f"{args.repeats} timed runs of each file, in turns")
    for r in results:
        if r.note:
            c.print(f"{r.model}: {r.note}")
    if args.markdown:
        print(markdown(results))
    if json_out is not None:
        data = {"models": [asdict(r) for r in results], "summary": s, "repeats": args.repeats,
                "warmup": args.warmup, "cpu_count": os.cpu_count(), "onnxsim": use_onnxsim}
        _write_atomic(json_out, lambda tmp: tmp.write_text(json.dumps(data, indent=2)))
        c.print(f"wrote {json_out}")
    if plot_out is not None:
        _write_atomic(plot_out, lambda tmp: plot(results, tmp))
        c.print(f"wrote {plot_out}")
    return 0


if __name__ == "__main__":
    import sys

    from alphanas.console import run_main

    sys.exit(run_main(main))
