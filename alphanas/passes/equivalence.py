"""Checking that a rewritten graph computes what the original did, with onnxruntime on random inputs."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from alphanas.errors import AlphanasError
from alphanas.ir.graph import Graph
from alphanas.ir.opdef import WeightRole, lookup

#: Default bound on the output difference, relative to the output scale (max |reference|).
DEFAULT_TOLERANCE = 1e-4


@dataclass
class Equivalence:
    """Outcome of :func:`compare`: the worst scaled difference over all outputs and trials."""

    ok: bool
    max_error: float
    worst_output: str
    message: str


def reference_outputs(graph: Graph, feeds_list: list[dict], provider: str = "cpu") -> list[list[np.ndarray]]:
    """The outputs of ``graph`` under onnxruntime (no graph optimizations) for each of ``feeds_list``."""
    from alphanas.ir.runtime import session

    sess = session(graph, provider, optimize=False)
    return [sess.run(None, feeds) for feeds in feeds_list]


def reference_feeds(original: Graph, *, trials: int = 1, seed: int = 0, batch: int | None = None,
                    provider: str = "cpu", input_shapes: Mapping[str, Sequence[int]] | None = None,
                    input_values: Mapping[str, object] | None = None,
                    ) -> tuple[list[dict], list[list[np.ndarray]]]:
    """Verification inputs on which onnxruntime runs ``original``, and its outputs on them.

    :func:`~alphanas.ir.runtime.verification_feeds` at the default sizes; when the original fails there
    and has symbolic dimensions (no ``batch`` fixes them), the :data:`~alphanas.ir.runtime.LONGER_SIZES`
    in turn (a model that needs a long sequence), then all of these with the unnamed dimensions of the
    inputs after the first set to the batch size (a recurrent state). The original's error at the default sizes is raised
    when no size works.
    """
    from alphanas.ir.runtime import LONGER_SIZES, VERIFICATION_SIZES, is_dynamic, verification_feeds

    candidates = [(VERIFICATION_SIZES, False)]
    if batch is None and is_dynamic(original, input_shapes):
        candidates += [(sizes, False) for sizes in LONGER_SIZES]
        candidates += [(sizes, True) for sizes in (VERIFICATION_SIZES, *LONGER_SIZES)]
    first: BaseException | None = None
    for sizes, states in candidates:
        feeds = verification_feeds(original, trials=trials, seed=seed, batch=batch, input_shapes=input_shapes,
                                   input_values=input_values, sizes=sizes, states_follow_batch=states)
        try:
            return feeds, reference_outputs(original, feeds, provider)
        except AlphanasError:
            raise
        except Exception as e:  # onnxruntime's errors: try longer inputs
            first = first or e
    assert first is not None
    raise first


def output_error(reference: np.ndarray, got: np.ndarray) -> float:
    """``max |got - reference| / max |reference|`` (the scale of the output; 1 when it is all zeros).

    NaN where both have NaN, and equal infinities, count as equal; any other NaN or infinity is an
    infinite error. Non-numeric outputs must be identical.
    """
    r, g = reference, got
    if r.dtype.kind not in "fc" or g.dtype.kind not in "fc":
        return 0.0 if np.array_equal(r, g) else float("inf")
    r, g = r.astype(np.complex128 if "c" in r.dtype.kind + g.dtype.kind else np.float64), g.astype(
        np.complex128 if "c" in r.dtype.kind + g.dtype.kind else np.float64)
    same = (np.isnan(r) & np.isnan(g)) | (r == g)
    finite_r = np.isfinite(r)
    peak = float(np.max(np.abs(r[finite_r]))) if finite_r.any() else 0.0
    scale = peak if peak > 0 else 1.0
    with np.errstate(invalid="ignore", over="ignore"):  # inf - inf where ``same`` already decided
        diff = np.where(same, 0.0, np.abs(r - g))
    worst = float(np.max(diff)) if diff.size else 0.0
    return float("inf") if np.isnan(worst) else worst / scale


def _one_line(error: BaseException, limit: int = 300) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= limit else text[:limit] + "..."


def compare(original: Graph, rewritten: Graph, *, trials: int = 1, batch: int | None = None, seed: int = 0,
            tolerance: float = DEFAULT_TOLERANCE, provider: str = "cpu",
            reference: list[list[np.ndarray]] | None = None,
            input_shapes: Mapping[str, Sequence[int]] | None = None,
            input_values: Mapping[str, object] | None = None) -> Equivalence:
    """Run both graphs on the same random inputs and compare every output.

    The inputs are :func:`~alphanas.ir.runtime.verification_feeds`: a dynamic model runs at two sizes
    (``batch`` fixes every symbolic dimension instead; ``input_shapes`` gives whole input shapes by
    name; ``input_values`` whole input values by name), with realistic values per dtype, at longer
    sizes where the original fails at the default ones (:func:`reference_feeds`). The error of an
    output is :func:`output_error` with the original's value as reference (NaN in both at the same
    place is equal); shape mismatches fail.
    ``reference`` (outputs of ``original`` on those same feeds) skips re-running the original.
    """
    from alphanas.ir.runtime import verification_feeds

    if [v.name for v in original.inputs] != [v.name for v in rewritten.inputs]:
        return Equivalence(False, float("inf"), "", "the rewritten graph has different inputs "
                           f"({[v.name for v in rewritten.inputs]} vs {[v.name for v in original.inputs]})")
    if len(original.outputs) != len(rewritten.outputs):
        return Equivalence(False, float("inf"), "", "the rewritten graph has a different number of outputs")
    if reference is not None:
        feeds_list = verification_feeds(original, trials=trials, seed=seed, batch=batch, input_shapes=input_shapes,
                                        input_values=input_values)
        ref = reference
    else:
        try:
            feeds_list, ref = reference_feeds(original, trials=trials, seed=seed, batch=batch, provider=provider,
                                              input_shapes=input_shapes, input_values=input_values)
        except AlphanasError:
            raise
        except Exception as e:  # onnxruntime's errors (Fail, InvalidGraph, InvalidArgument, ...)
            raise AlphanasError(f"cannot verify: the original model fails in onnxruntime ({_one_line(e)})") from None
    try:
        got = reference_outputs(rewritten, feeds_list, provider)
    except AlphanasError:
        raise
    except Exception as e:
        return Equivalence(False, float("inf"), "", f"the rewritten model fails in onnxruntime ({_one_line(e)})")
    worst, worst_name = 0.0, ""
    for r_list, g_list in zip(ref, got):
        for v, r, g in zip(original.outputs, r_list, g_list):
            r, g = np.asarray(r), np.asarray(g)
            if r.shape != g.shape:
                return Equivalence(False, float("inf"), v.name, f"output {v.name!r}: shape {list(g.shape)} "
                                   f"instead of {list(r.shape)}")
            if r.size == 0:
                continue
            err = output_error(r, g)
            if err > worst or not worst_name:
                worst, worst_name = err, v.name
    ok = worst <= tolerance
    msg = (f"outputs equal within {tolerance:g} (max scaled error {worst:.2e})" if ok else
           f"output {worst_name!r} differs: max scaled error {worst:.2e} > {tolerance:g}")
    return Equivalence(ok, worst, worst_name, msg)


def randomize_weights(graph: Graph, seed: int = 0) -> Graph:
    """A copy of ``graph`` with random float weights of a sensible scale (for meaningful equivalence tests).

    By the role a constant plays in its first reader (:meth:`~alphanas.ir.opdef.OpDef.weight_role`):
    kernels and weight matrices (Conv, Gemm, MatMul) get N(0, 1/fan_in), scales (norm scales,
    batch-norm variances, ``Mul``/``Div`` operands) U(0.5, 1.5), everything else (biases, means,
    additive constants) N(0, 0.1). Integer constants and scalars are kept.
    """
    rng = np.random.default_rng(seed)
    g = graph.copy()
    role: dict[str, WeightRole] = {}  # the role in the first node that reads the constant
    for n in g.nodes:
        opdef = lookup(n.op_type, n.domain)  # (also for a node kept opaque for its attributes: same op, same roles)
        for i, v in enumerate(n.inputs):
            if v is not None and v.is_const:
                role.setdefault(v.name, WeightRole.OFFSET if opdef is None else opdef.weight_role(n, i))
    for name, v in g.initializers.items():
        a = v.array
        if a.dtype.kind != "f" or a.size <= 1:
            continue
        r = role.get(name, WeightRole.OFFSET)
        if r is WeightRole.KERNEL:
            fan_in = a.size // a.shape[0] if a.ndim > 1 else a.size
            new = rng.standard_normal(a.shape) / np.sqrt(max(fan_in, 1))
        elif r is WeightRole.SCALE:
            new = rng.uniform(0.5, 1.5, a.shape)
        else:
            new = 0.1 * rng.standard_normal(a.shape)
        v.const = new.astype(a.dtype)
    return g


def rewrite_guard(original: Graph, *, verify: bool = True, tolerance: float = DEFAULT_TOLERANCE, seed: int = 0,
                  provider: str = "cpu", input_shapes: Mapping[str, Sequence[int]] | None = None,
                  input_values: Mapping[str, object] | None = None) -> Callable[[Graph], str | None]:
    """A :class:`~alphanas.passes.PassManager` ``guard`` keeping a rewrite of ``original`` writable and
    (with ``verify``) equivalent: a graph is refused when it fails the ONNX checker, when onnxruntime
    cannot load it, or (``verify``) when its outputs on the verification inputs differ from the
    original's by more than ``tolerance``. Each check applies only where the original passes it (a
    model with ops onnxruntime lacks is still checked against the ONNX checker)."""
    import onnx

    from alphanas.ir.onnx_io import to_onnx
    from alphanas.ir.runtime import ort, session

    def problem(g: Graph, *, with_ort: bool, feeds=None, reference=None) -> str | None:
        try:
            model = to_onnx(g)
        except AlphanasError as e:
            return f"cannot be exported: {e}"
        try:
            onnx.checker.check_model(model, full_check=True)
        except Exception as e:  # ValidationError, InferenceError
            return f"fails the ONNX checker: {_one_line(e)}"
        if not with_ort:
            return None
        try:
            sess = session(model, provider, optimize=False)
            if feeds is None:
                return None
            got = [sess.run(None, f) for f in feeds]
        except Exception as e:  # onnxruntime's own errors (Fail, InvalidGraph, RuntimeException)
            return f"fails in onnxruntime: {_one_line(e)}"
        for r_list, g_list in zip(reference, got):
            for v, r, out in zip(original.outputs, r_list, g_list):
                r, out = np.asarray(r), np.asarray(out)
                if r.shape != out.shape:
                    return f"output {v.name!r} has shape {list(out.shape)} instead of {list(r.shape)}"
                err = output_error(r, out) if r.size else 0.0
                if err > tolerance:
                    return f"output {v.name!r} differs: max scaled error {err:.2e} > {tolerance:g}"
        return None

    if problem(original, with_ort=False) is not None:
        return lambda g: None  # the original fails the checker itself: nothing to hold a rewrite to
    try:
        ort()
        with_ort = problem(original, with_ort=True) is None
    except AlphanasError:  # onnxruntime is not installed
        with_ort = False
    feeds = reference = None
    if with_ort and verify:
        try:
            feeds, reference = reference_feeds(original, seed=seed, provider=provider, input_shapes=input_shapes,
                                               input_values=input_values)
        except Exception as e:
            raise AlphanasError(f"cannot verify: the original model fails in onnxruntime on random inputs "
                                f"({_one_line(e)}); give its input shapes") from None
        if reference is None:
            feeds = None
    return lambda g: problem(g, with_ort=with_ort, feeds=feeds, reference=reference)
