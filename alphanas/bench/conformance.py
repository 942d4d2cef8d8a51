"""ONNX backend node-test conformance: every node test case of the installed onnx package, imported,
saved and run in onnxruntime.

The onnx wheel does not ship the node tests' data; ``onnx.backend.test.case.node.collect_testcases()``
regenerates it (models, inputs, expected outputs), once per onnx version, cached in a temp folder.
For each case: run the model as generated in onnxruntime (a case it cannot run is ``ort_cannot``,
reported apart), import it with :func:`alphanas.ir.from_onnx`, export it with :func:`alphanas.ir.to_onnx`
at its own opsets, serialise, run the saved model in onnxruntime and compare with the expected outputs.

Outcomes: ``ok`` (the saved model reproduces the expected outputs, or onnxruntime's own outputs on the
original where onnxruntime differs from the reference), ``refused`` (an ``AlphanasError``: a one-line
refusal naming the op and why), ``crash`` (any other exception: a bug), ``saved_fails`` (onnxruntime or
the checker rejects the saved model), ``mismatch`` (it runs and computes something else),
``nondeterministic`` (onnxruntime's output on the original changes from run to run: random ops) and
``ort_cannot``.

    python -m alphanas.bench.conformance [--json] [--cases SUBSTRING]
"""

from __future__ import annotations

import collections
import dataclasses
import os
import pickle
import sys
import tempfile
import warnings
from typing import Any

import numpy as np

#: outcomes of one case, in report order
OUTCOMES = ("ok", "refused", "crash", "saved_fails", "mismatch", "nondeterministic", "ort_cannot")


@dataclasses.dataclass
class CaseResult:
    """The outcome of one node test case: its name, the op it tests, the outcome and a one-line detail."""

    name: str
    op: str
    outcome: str
    detail: str = ""


def cache_path() -> str:
    """Where the regenerated cases are cached: one file per onnx version, in the temp folder."""
    import onnx

    return os.path.join(tempfile.gettempdir(), f"alphanas-nodetests-{onnx.__version__}-{os.getuid()}.pkl")


def load_cases() -> list:
    """The node test cases of the installed onnx (``collect_testcases()``), regenerated once and cached."""
    path = cache_path()
    if os.path.exists(path):
        try:
            with open(path, "rb") as f:
                return pickle.load(f)
        except Exception:  # a partial or stale cache: regenerate it
            pass
    from onnx.backend.test.case.node import collect_testcases

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cases = collect_testcases(None)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".alphanas-nodetests-")
    with os.fdopen(fd, "wb") as f:
        pickle.dump(cases, f)
    os.replace(tmp, path)
    return cases


def case_op(case) -> str:
    """The op a case tests: the op type whose name the case's name spells (for an expanded function, the
    name itself, e.g. ``affine_grid_2d (expanded)``)."""
    nodes = case.model.graph.node
    key = case.name.removeprefix("test_").replace("_", "").lower()
    matches = [n.op_type for n in nodes if key.startswith(n.op_type.lower())]
    if matches:
        return max(matches, key=len)
    stem, expanded, _ = case.name.removeprefix("test_").partition("_expanded")
    return f"{stem} (expanded)" if expanded else (nodes[-1].op_type if nodes else "?")


def _session(model_bytes: bytes):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.log_severity_level = 4
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    return ort.InferenceSession(model_bytes, so, providers=["CPUExecutionProvider"])


def _run(model_bytes: bytes, inputs: list) -> list:
    sess = _session(model_bytes)
    names = [i.name for i in sess.get_inputs()]
    return sess.run(None, dict(zip(names, inputs)))


def same(a: Any, b: Any, rtol: float = 1e-3, atol: float = 1e-5) -> bool:
    """Whether two outputs agree: arrays within tolerance (NaN equal to NaN), sequences elementwise,
    ``None`` (an empty optional) only with ``None``."""
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, (list, tuple)) or isinstance(b, (list, tuple)):
        return isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and len(a) == len(b) and \
            all(same(x, y, rtol, atol) for x, y in zip(a, b))
    if isinstance(a, dict) or isinstance(b, dict):
        return isinstance(a, dict) and isinstance(b, dict) and a.keys() == b.keys() and \
            all(same(a[k], b[k], rtol, atol) for k in a)
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return False
    if a.dtype.kind in "fc" or b.dtype.kind in "fc":
        try:
            return bool(np.allclose(a.astype(np.complex128 if "c" in a.dtype.kind + b.dtype.kind else np.float64),
                                    b.astype(np.complex128 if "c" in a.dtype.kind + b.dtype.kind else np.float64),
                                    rtol=rtol, atol=atol, equal_nan=True))
        except (TypeError, ValueError):
            pass
    return bool(np.array_equal(a, b))


def _all_same(ours: list, theirs: list) -> bool:
    return len(ours) == len(theirs) and all(same(x, y) for x, y in zip(ours, theirs))


def run_case(case) -> CaseResult:
    """Import, save and run one node test case (its first data set) and classify the outcome."""
    import onnx

    from alphanas.errors import AlphanasError
    from alphanas.ir import from_onnx, to_onnx

    op = case_op(case)
    result = lambda outcome, detail="": CaseResult(case.name, op, outcome, detail)  # noqa: E731
    if not case.data_sets:
        return result("ort_cannot", "no data set")
    inputs, expected = case.data_sets[0]
    original = case.model.SerializeToString()
    try:
        theirs = _run(original, inputs)
    except Exception as e:
        return result("ort_cannot", _line(e))
    try:
        graph = from_onnx(case.model)
        saved = to_onnx(graph).SerializeToString()
    except AlphanasError as e:
        return result("refused", _line(e))
    except Exception as e:  # a bug: every refusal must be an AlphanasError
        return result("crash", f"{type(e).__name__}: {_line(e)}")
    try:
        ours = _run(saved, inputs)
    except Exception as e:
        return result("saved_fails", _line(e))
    try:
        onnx.checker.check_model(onnx.load_from_string(saved))
    except Exception as e:
        try:
            onnx.checker.check_model(case.model)
        except Exception:
            pass  # the original does not pass the checker either
        else:
            return result("saved_fails", f"checker: {_line(e)}")
    if _all_same(ours, list(expected)):
        return result("ok")
    if _all_same(ours, theirs):
        return result("ok", "onnxruntime differs from the reference outputs; the saved model reproduces onnxruntime")
    if not _all_same(theirs, _run(original, inputs)):
        return result("nondeterministic", "onnxruntime's outputs on the original change from run to run")
    return result("mismatch", "the saved model computes different outputs")


def _line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return (text[0] if text else type(e).__name__)[:200]


def run_all(cases: list | None = None, name_filter: str | None = None) -> list[CaseResult]:
    """Results of every case (optionally those whose name contains ``name_filter``)."""
    cases = load_cases() if cases is None else cases
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return [run_case(c) for c in cases if not name_filter or name_filter in c.name]


def summary(results: list[CaseResult]) -> dict:
    """Counts per outcome, the pass rate over the cases onnxruntime runs, and counts per op and outcome."""
    by_outcome = collections.Counter(r.outcome for r in results)
    runnable = len(results) - by_outcome["ort_cannot"]
    per_op: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for r in results:
        per_op[r.op][r.outcome] += 1
    return {
        "cases": len(results),
        "ort_runnable": runnable,
        "pass_rate": by_outcome["ok"] / runnable if runnable else 1.0,
        "outcomes": {k: by_outcome[k] for k in OUTCOMES},
        "ok_where_onnxruntime_differs_from_reference": sum(1 for r in results if r.outcome == "ok" and r.detail),
        "per_op": {op: dict(c) for op, c in sorted(per_op.items())},
        "failures": [dataclasses.asdict(r) for r in results if r.outcome not in ("ok", "ort_cannot")],
    }


def main(argv: list[str] | None = None) -> int:
    """Run the cases and print the counts per outcome and the failures (``--json``: as JSON)."""
    from alphanas.bench._outcomes import outcome_main

    return outcome_main(argv, prog="python -m alphanas.bench.conformance", description=__doc__.split("\n\n")[0],
                        json_help="print the counts (per outcome, per op) and failures as JSON",
                        summarize=lambda cases: summary(run_all(name_filter=cases)), listed="failures", width=16,
                        title=lambda s: f"ONNX node tests: {s['cases']} cases, {s['ort_runnable']} run by onnxruntime, "
                                        f"pass rate {100 * s['pass_rate']:.1f}%")


if __name__ == "__main__":
    sys.exit(main())
