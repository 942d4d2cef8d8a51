"""Lowering conformance: every ONNX backend node-test case of an op alphanas defines (an ``OpDef``),
imported and lowered to torch (:func:`alphanas.ir.to_torch`, eval mode), run on the case's inputs and
compared with its expected outputs.

The cases come from :func:`alphanas.bench.conformance.load_cases` (regenerated once per onnx version and
cached). A case belongs to an op when :func:`alphanas.bench.conformance.case_op` names it and the op is
registered (default domain); expanded-function cases are left out (they test other ops' compositions).

A case the importer or lowering refuses as generated, where its non-data inputs (shapes, axes, pads,
scales, bounds: every input after the first; an ``If``'s condition) are graph inputs, is tried again with
those inputs folded into initializers holding the case's values, as exported models store them; such a case is ``lowered``
with a detail saying so (``summary`` counts them as ``lowered_folded``).

Outcomes: ``lowered`` (the torch module reproduces the expected outputs, or onnxruntime's where
onnxruntime differs from the reference), ``refused`` (an ``AlphanasError`` at import or lowering: a
one-line refusal naming the op and why), ``mismatch`` (it runs and computes something else) and
``crash`` (any other exception: a bug).

    python -m alphanas.bench.lowering [--json] [--cases SUBSTRING]
"""

from __future__ import annotations

import collections
import dataclasses
import sys
import warnings

import numpy as np

from alphanas.bench.conformance import _line, _run, case_op, load_cases, same

#: outcomes of one case, in report order
OUTCOMES = ("lowered", "refused", "mismatch", "crash")


@dataclasses.dataclass
class LoweringResult:
    """The outcome of lowering one node test case: its name, the op it tests, the outcome and a detail."""

    name: str
    op: str
    outcome: str
    detail: str = ""


#: control-flow ops the importer handles itself (no ``OpDef``): an ``If`` whose condition is known at import
#: is replaced by the branch it takes
INLINED_OPS = frozenset({"If"})


def defined_ops() -> set[str]:
    """The op types (default domain) with an ``OpDef``, and those the importer inlines (:data:`INLINED_OPS`)."""
    from alphanas.ir.opdef import registry

    return {op for (domain, op) in registry() if domain == ""} | INLINED_OPS


def relevant_cases(cases: list | None = None, name_filter: str | None = None) -> list:
    """The node test cases of ops with an ``OpDef`` (optionally those whose name contains ``name_filter``)."""
    ops = defined_ops()
    cases = load_cases() if cases is None else cases
    return [c for c in cases if c.data_sets and case_op(c) in ops and (not name_filter or name_filter in c.name)]


def _torch_outputs(module, graph, inputs: list) -> list:
    import torch

    feeds = []
    for a in inputs:
        a = np.asarray(a)
        feeds.append(torch.from_numpy(np.array(a, copy=True)) if a.dtype != object else a)
    with torch.no_grad():
        out = module(*feeds)
    out = list(out) if isinstance(out, (tuple, list)) else [out]
    return [o.detach().cpu().numpy() if isinstance(o, torch.Tensor) else np.asarray(o) for o in out]


#: the detail of a case lowered with its non-data inputs folded into initializers
FOLDED = "lowered with inputs after the first folded into initializers"


def lower_case(case) -> LoweringResult:
    """Import one node test case, lower it to torch in eval mode, run its first data set and classify;
    a refused case with several inputs is tried again with the inputs after the first folded."""
    inputs, expected = case.data_sets[0]
    inputs, expected = [_array(a) for a in inputs], [_array(a) for a in expected]
    first = _lower(case, case.model, inputs, expected)
    keep = 0 if case_op(case) in INLINED_OPS else 1  # (an If's one input is its condition: folded too)
    if first.outcome != "refused" or len(inputs) < keep + 1:
        return first
    folded = _fold_inputs(case.model, inputs, keep)
    if folded is None:
        return first
    second = _lower(case, folded, inputs[:keep], expected)
    if second.outcome == "lowered":
        return LoweringResult(second.name, second.op, "lowered", FOLDED)
    return second if second.outcome in ("mismatch", "crash") else first


def _fold_inputs(model, inputs: list, keep: int = 1):
    """A copy of ``model`` whose graph inputs after the first ``keep`` are initializers holding ``inputs``'
    values."""
    import onnx

    graph_inputs = [i for i in model.graph.input if i.name not in {t.name for t in model.graph.initializer}]
    if len(graph_inputs) != len(inputs) or any(np.asarray(a).dtype == object for a in inputs[keep:]):
        return None
    m = onnx.ModelProto()
    m.CopyFrom(model)
    kept = {vi.name for vi in graph_inputs[:keep]}
    del m.graph.input[:]
    for vi in model.graph.input:
        if vi.name in kept or vi.name in {t.name for t in model.graph.initializer}:
            m.graph.input.append(vi)
    for vi, a in zip(graph_inputs[keep:], inputs[keep:]):
        m.graph.initializer.append(onnx.numpy_helper.from_array(np.asarray(a), vi.name))
    return m


def _lower(case, model, inputs: list, expected: list) -> LoweringResult:
    from alphanas.errors import AlphanasError
    from alphanas.ir import from_onnx, to_torch

    op = case_op(case)
    result = lambda outcome, detail="": LoweringResult(case.name, op, outcome, detail)  # noqa: E731
    try:
        graph = from_onnx(model)
        names = [i.name for i in model.graph.input if i.name not in {t.name for t in model.graph.initializer}]
        by_name = dict(zip(names, inputs))
        missing = [v.name for v in graph.inputs if v.name not in by_name]
        if missing:
            return result("crash", f"graph inputs {missing} are not the case's inputs")
        module = to_torch(graph).eval()
        ours = _torch_outputs(module, graph, [by_name[v.name] for v in graph.inputs])
    except AlphanasError as e:
        return result("refused", _line(e))
    except Exception as e:  # a bug: every refusal must be an AlphanasError
        return result("crash", f"{type(e).__name__}: {_line(e)}")
    if len(ours) == len(expected) and all(_same(a, b) for a, b in zip(ours, expected)):
        return result("lowered")
    try:
        theirs = _run(model.SerializeToString(), inputs)
    except Exception:
        theirs = None
    if theirs is not None and len(ours) == len(theirs) and all(_same(a, b) for a, b in zip(ours, theirs)):
        return result("lowered", "onnxruntime differs from the reference outputs; torch reproduces onnxruntime")
    diff = [(np.asarray(a).shape, np.asarray(a).dtype, np.asarray(b).shape, np.asarray(b).dtype)
            for a, b in zip(ours, expected)]
    return result("mismatch", f"torch computes different outputs {diff}")


def _array(a):
    """A data-set entry as numpy (the generator stores some as ``TensorProto``)."""
    import onnx

    return onnx.numpy_helper.to_array(a) if isinstance(a, onnx.TensorProto) else a


def _same(ours, expected) -> bool:
    """Same values and the same element type (an integer op must not come back as floats)."""
    a, b = np.asarray(ours), np.asarray(expected)
    if a.dtype != b.dtype and not (a.dtype.kind == b.dtype.kind == "f") and b.dtype != object:
        return False
    return same(a, b)


def run_all(cases: list | None = None, name_filter: str | None = None) -> list[LoweringResult]:
    """Results of every relevant case (optionally those whose name contains ``name_filter``)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return [lower_case(c) for c in relevant_cases(cases, name_filter)]


def summary(results: list[LoweringResult]) -> dict:
    """Counts per outcome, counts per op and outcome, and the cases not lowered."""
    by_outcome = collections.Counter(r.outcome for r in results)
    per_op: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for r in results:
        per_op[r.op][r.outcome] += 1
    return {
        "cases": len(results),
        "outcomes": {k: by_outcome[k] for k in OUTCOMES},
        "lowered_folded": sum(1 for r in results if r.outcome == "lowered" and r.detail == FOLDED),
        "per_op": {op: dict(c) for op, c in sorted(per_op.items())},
        "not_lowered": [dataclasses.asdict(r) for r in results if r.outcome != "lowered"],
    }


def main(argv: list[str] | None = None) -> int:
    """Run the cases and print the counts per outcome and the cases not lowered (``--json``: as JSON)."""
    from alphanas.bench._outcomes import outcome_main

    # (the refusals and failures are listed; the folded cases are counted in the table)
    return outcome_main(argv, prog="python -m alphanas.bench.lowering", description=__doc__.split("\n\n")[0],
                        json_help="print the counts (per outcome, per op) and the cases not lowered",
                        summarize=lambda cases: summary(run_all(name_filter=cases)), listed="not_lowered", width=9,
                        title=lambda s: f"Lowering to torch: {s['cases']} node-test cases of ops with an OpDef "
                                        f"({s['lowered_folded']} lowered with their non-data inputs folded)")


if __name__ == "__main__":
    sys.exit(main())
