"""Published-model corpus: every ``.onnx`` file of a folder through the steps a user takes, one table.

For each model, in order (a step after a failed one it depends on is ``skip``):

- ``ort``: onnxruntime runs the original on the verification inputs (:func:`alphanas.ir.runtime.
  verification_feeds`: random values per dtype, a dynamic model at two sizes; a model onnxruntime cannot
  run is reported apart, its other steps still run where they can);
- ``import``: :func:`alphanas.ir.load_onnx`;
- ``save``: :func:`alphanas.ir.save_onnx` (checked by the ONNX checker);
- ``roundtrip``: onnxruntime runs the saved model on the same inputs and computes the same outputs;
- ``inspect``: the costs ``alphanas inspect`` prints (params, MACs, FLOPs: known or unknown, never negative);
- ``rewrite``: the default pass pipeline under ``rewrite --verify``'s guard, then the final comparison
  (passes refused by the guard are named in the detail, not failures);
- ``properties``: ``inspect --properties`` (every registered property of the model and of each block);
- ``torch``: :func:`alphanas.ir.to_torch` lowering (``refused`` names the op; not a failure of the import:
  opaque and unlowerable ops are kept as they are).

Each step is ``ok``, ``fail`` (with a one-line reason), ``refused`` (a one-line ``AlphanasError`` where the
step legitimately declines, e.g. lowering an opaque op) or ``skip``.

    python -m alphanas.bench.corpus DIR [--json PATH] [--markdown] [--input-value NAME:VALUE ...]
    alphanas benchmark corpus DIR ...
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
import time
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

#: the steps, in the order they run
STEPS = ("ort", "import", "save", "roundtrip", "inspect", "rewrite", "properties", "torch")
#: the steps every model onnxruntime runs must pass (the issue's aim)
REQUIRED = ("import", "save", "roundtrip", "inspect", "rewrite")


@dataclasses.dataclass
class ModelResult:
    """One model's outcome: per step ``(status, one-line detail)`` and the seconds it took."""

    name: str
    size_mb: float
    steps: dict[str, tuple[str, str]] = dataclasses.field(default_factory=dict)
    seconds: float = 0.0

    def status(self, step: str) -> str:
        return self.steps.get(step, ("skip", ""))[0]

    @property
    def passes(self) -> bool:
        """Whether every required step passed (for a model onnxruntime runs)."""
        return all(self.status(s) == "ok" for s in REQUIRED)


def _line(e: BaseException, limit: int = 200) -> str:
    from alphanas.errors import one_line

    text = one_line(str(e)) or type(e).__name__
    return text if len(text) <= limit else text[:limit] + "..."


def _count(n: int | None) -> str:
    return "?" if n is None else f"{n:,}"


def _fail(e: BaseException) -> tuple[str, str]:
    from alphanas.errors import AlphanasError

    if isinstance(e, AlphanasError):
        return ("fail", _line(e))
    return ("fail", f"{type(e).__name__}: {_line(e)}")


def _run_all(model: Any, feeds_list: list[dict]) -> list[list[np.ndarray]]:
    from alphanas.ir.runtime import session

    sess = session(model, "cpu", optimize=False, threads=1)
    names = {i.name for i in sess.get_inputs()}
    return [sess.run(None, {k: v for k, v in f.items() if k in names}) for f in feeds_list]


#: the smallest output scale the round trip's error is relative to: an output of random inputs that is
#: all but zero (a saturated sigmoid, peak 3e-8) differs by float rounding alone, relative to itself by 2
MIN_SCALE = 1e-3


def _max_error(ref: list[list[np.ndarray]], got: list[list[np.ndarray]], names: list[str]) -> tuple[float, str]:
    from alphanas.passes.equivalence import output_error

    worst, where = 0.0, ""
    for r_list, g_list in zip(ref, got):
        if len(r_list) != len(g_list):
            return float("inf"), f"{len(g_list)} outputs instead of {len(r_list)}"
        for name, r, g in zip(names, r_list, g_list):
            r, g = np.asarray(r), np.asarray(g)
            if r.shape != g.shape:
                return float("inf"), f"output {name!r} has shape {list(g.shape)} instead of {list(r.shape)}"
            err = output_error(r, g) if r.size else 0.0
            if 0 < err < float("inf") and r.dtype.kind == "f":
                finite = np.abs(r[np.isfinite(r)])
                peak = float(finite.max()) if finite.size else 0.0
                err = err * peak / max(peak, MIN_SCALE) if peak > 0 else err
            if err > worst or not where:
                worst, where = err, f"output {name!r}"
    return worst, where


def check_model(path: str | os.PathLike, *, seed: int = 0, tolerance: float = 1e-4,
                input_values: Mapping[str, Any] | None = None) -> ModelResult:
    """Run every step of :data:`STEPS` on the model at ``path``."""
    import onnx

    from alphanas.errors import AlphanasError
    from alphanas.ir import cost, load_onnx, save_onnx, to_torch
    from alphanas.ir.runtime import session_feeds
    from alphanas.passes.equivalence import reference_feeds

    path = Path(path)
    res = ModelResult(path.name, path.stat().st_size / 2**20)
    t0 = time.perf_counter()
    steps = res.steps
    graph = None
    try:
        graph = load_onnx(path)
        steps["import"] = ("ok", f"{len(graph.nodes)} nodes, {sum(n.is_opaque for n in graph.nodes)} opaque")
    except Exception as e:
        steps["import"] = _fail(e)
    # the inputs: the verification feeds of the imported graph (index ranges, sizes, values); without it,
    # onnxruntime's own view of the inputs
    feeds_list: list[dict] | None = None
    reference = None
    try:
        if graph is not None:
            feeds_list, reference = reference_feeds(graph, seed=seed, input_values=input_values)
        else:
            from alphanas.ir.runtime import session

            feeds_list = [session_feeds(session(str(path), "cpu", optimize=False), seed=seed)]
            reference = _run_all(str(path), feeds_list)
        sizes = sorted({tuple(a.shape) for f in feeds_list for a in f.values() if a.ndim})
        steps["ort"] = ("ok", f"{len(feeds_list)} run(s), input shapes {', '.join(map(str, map(list, sizes[:4])))}")
    except AlphanasError as e:
        steps["ort"] = ("fail", f"no inputs: {_line(e)}")
    except Exception as e:
        steps["ort"] = ("fail", f"onnxruntime cannot run the original: {_line(e)}")
    if graph is None:
        res.seconds = time.perf_counter() - t0
        return res
    with tempfile.TemporaryDirectory(prefix="alphanas-corpus-") as tmp:
        saved = os.path.join(tmp, "saved.onnx")
        try:
            save_onnx(graph, saved)
            steps["save"] = ("ok", f"{os.path.getsize(saved) / 2**20:.1f} MiB")
        except Exception as e:
            steps["save"] = _fail(e)
        if steps["save"][0] == "ok" and reference is not None:
            try:
                got = _run_all(saved, feeds_list or [])
                err, where = _max_error(reference, got, [o.name for o in onnx.load(str(path), load_external_data=False
                                                                                    ).graph.output])
                steps["roundtrip"] = ("ok" if err <= tolerance else "fail",
                                      f"max scaled error {err:.1e}" if err <= tolerance else f"{where}: error {err:.2e}")
            except Exception as e:
                steps["roundtrip"] = ("fail", f"onnxruntime fails on the saved model: {_line(e)}")
    try:
        s = cost.summary(graph)
        neg = [k for k, v in s.items() if isinstance(v, (int, float)) and v < 0]
        steps["inspect"] = (("fail", f"negative {', '.join(neg)}") if neg else
                            ("ok", f"params {s['params']:,}, MACs {_count(s['macs'])}"))
    except Exception as e:
        steps["inspect"] = _fail(e)
    steps["rewrite"] = _rewrite_step(graph, reference is not None, seed, tolerance, input_values)
    try:
        from alphanas.properties.report import properties_report

        rep = properties_report(graph)
        steps["properties"] = ("ok", f"{len(rep['properties'])} properties, {len(rep.get('blocks', []))} blocks")
    except Exception as e:
        steps["properties"] = _fail(e)
    try:
        to_torch(graph)
        steps["torch"] = ("ok", "lowered")
    except AlphanasError as e:
        steps["torch"] = ("refused", _line(e))
    except Exception as e:
        steps["torch"] = _fail(e)
    res.seconds = time.perf_counter() - t0
    return res


def _rewrite_step(graph, ort_runs: bool, seed: int, tolerance: float,
                  input_values: Mapping[str, Any] | None) -> tuple[str, str]:
    from alphanas import passes
    from alphanas.ir import to_onnx
    from alphanas.passes.builtin import DEFAULT_PIPELINE
    from alphanas.passes.equivalence import compare, rewrite_guard

    try:
        pm = passes.pipeline(list(DEFAULT_PIPELINE))
        pm.guard = rewrite_guard(graph, verify=ort_runs, tolerance=tolerance, seed=seed, input_values=input_values)
        rewritten = pm.run(graph).graph
        import onnx

        onnx.checker.check_model(to_onnx(rewritten), full_check=True)
        refused = "; ".join(f"{k} refused ({v})" for k, v in pm.refused.items())
        delta = f"{len(graph.nodes)} -> {len(rewritten.nodes)} nodes"
        if not ort_runs:
            return ("ok", f"{delta} (checked, not verified: onnxruntime cannot run the original)"
                    + (f"; {refused}" if refused else ""))
        eq = compare(graph, rewritten, seed=seed, tolerance=tolerance, input_values=input_values)
        if not eq.ok:
            return ("fail", eq.message)
        return ("ok", f"{delta}, verified" + (f"; {_line(Exception(refused))}" if refused else ""))
    except Exception as e:
        return _fail(e)


def run_corpus(folder: str | os.PathLike, *, seed: int = 0, tolerance: float = 1e-4,
               input_values: Mapping[str, Any] | None = None, on_model=None) -> list[ModelResult]:
    """:func:`check_model` on every ``*.onnx`` file under ``folder`` (sorted by name)."""
    from alphanas.errors import AlphanasError

    files = sorted(Path(folder).rglob("*.onnx"))
    if not Path(folder).is_dir():
        raise AlphanasError(f"{folder}: not a folder")
    if not files:
        raise AlphanasError(f"{folder}: no .onnx files")
    out = []
    for f in files:
        if on_model is not None:
            on_model(f.name)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out.append(check_model(f, seed=seed, tolerance=tolerance, input_values=input_values))
    return out


def summary(results: list[ModelResult]) -> dict:
    """Counts: models, models onnxruntime runs, per step the models passing it, models passing every
    required step (of those onnxruntime runs)."""
    runs = [r for r in results if r.status("ort") == "ok"]
    return {
        "models": len(results),
        "ort_runs": len(runs),
        "per_step_ok": {s: sum(r.status(s) == "ok" for r in results) for s in STEPS},
        "all_required_ok": sum(r.passes for r in runs),
        "required_steps": list(REQUIRED),
        "results": [dataclasses.asdict(r) for r in results],
    }


_MARK = {"ok": "✓", "fail": "✗", "refused": "–", "skip": "·"}


def markdown(results: list[ModelResult]) -> str:
    """The per-step table in Markdown, with the failure reasons under it."""
    s = summary(results)
    lines = ["| model | MiB | " + " | ".join(STEPS) + " | s |", "|---|---:|" + "---|" * len(STEPS) + "---:|"]
    for r in results:
        lines.append(f"| {r.name} | {r.size_mb:.1f} | " + " | ".join(_MARK[r.status(x)] for x in STEPS)
                     + f" | {r.seconds:.0f} |")
    lines.append("")
    lines.append(f"{s['models']} models, {s['ort_runs']} run by onnxruntime; of those, "
                 f"{s['all_required_ok']} pass {', '.join(REQUIRED)}. Per step: "
                 + ", ".join(f"{k} {v}" for k, v in s["per_step_ok"].items()) + ".")
    notes = [f"- {r.name}, {x}: {r.steps[x][1]}" for r in results for x in STEPS
             if r.status(x) in ("fail", "refused")]
    if notes:
        lines += ["", *notes]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from alphanas.errors import AlphanasError

    p = argparse.ArgumentParser(prog="python -m alphanas.bench.corpus", description=__doc__.split("\n\n")[0])
    p.add_argument("folder", metavar="DIR", help="folder with the .onnx models (searched recursively)")
    p.add_argument("--json", metavar="PATH", help="write the counts and per-model results as JSON")
    p.add_argument("--markdown", action="store_true", help="print the table as Markdown (for docs/results.md)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random inputs (default 0)")
    p.add_argument("--input-value", action="append", default=[], metavar="NAME:VALUE",
                   help="feed input NAME the value VALUE (a number or comma-separated numbers) in every run")
    args = p.parse_args(argv)
    from alphanas.ir.runtime import parse_input_values

    try:
        values = parse_input_values(args.input_value)
        from rich.progress import BarColumn, Progress, TextColumn

        from alphanas.console import console

        c = console()
        n = len(list(Path(args.folder).rglob("*.onnx"))) if Path(args.folder).is_dir() else 0
        with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                      console=c, transient=True) as bar:
            task = bar.add_task("models", total=n)
            count = [0]

            def on_model(name: str) -> None:
                bar.update(task, completed=count[0], description=name)
                count[0] += 1

            results = run_corpus(args.folder, seed=args.seed, input_values=values, on_model=on_model)
    except AlphanasError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    s = summary(results)
    if args.json:
        from alphanas.fileio import write_bytes_atomic

        write_bytes_atomic(args.json, (json.dumps(s, indent=1, default=str) + "\n").encode())
    if args.markdown:
        print(markdown(results))
        return 0
    from alphanas.table import Table

    t = Table(title=f"{s['models']} models, {s['ort_runs']} run by onnxruntime, {s['all_required_ok']} pass "
                    f"{', '.join(REQUIRED)}")
    t.add_column("model", overflow="fold", min_width=24)
    for x in STEPS:
        t.add_column(x, justify="center", overflow="fold")
    t.add_column("s", justify="right")
    for r in results:
        t.add_row(r.name, *(_MARK[r.status(x)] for x in STEPS), f"{r.seconds:.0f}")
    c.print(t)
    for r in results:
        for x in STEPS:
            if r.status(x) in ("fail", "refused"):
                c.print(f"{r.name} {x} {r.status(x)}: {r.steps[x][1]}", markup=False, highlight=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
