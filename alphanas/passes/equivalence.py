"""Checking that a rewritten graph computes what the original did, with onnxruntime on random inputs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

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
    from alphanas.ir.runtime import session

    sess = session(graph, provider, optimize=False)
    return [sess.run(None, feeds) for feeds in feeds_list]


def compare(original: Graph, rewritten: Graph, *, trials: int = 1, batch: int = 2, seed: int = 0,
            tolerance: float = DEFAULT_TOLERANCE, provider: str = "cpu",
            reference: list[list[np.ndarray]] | None = None) -> Equivalence:
    """Run both graphs on the same random inputs and compare every output.

    The error of an output is ``max |a - b| / max |b|`` (relative to its scale) with ``b`` the original's value; NaN
    or shape mismatches fail. ``reference`` (outputs of ``original`` on the same feeds) skips
    re-running the original.
    """
    from alphanas.ir.runtime import random_feeds

    if [v.name for v in original.inputs] != [v.name for v in rewritten.inputs]:
        return Equivalence(False, float("inf"), "", "the rewritten graph has different inputs "
                           f"({[v.name for v in rewritten.inputs]} vs {[v.name for v in original.inputs]})")
    if len(original.outputs) != len(rewritten.outputs):
        return Equivalence(False, float("inf"), "", "the rewritten graph has a different number of outputs")
    feeds_list = [random_feeds(original, batch=batch, seed=seed + t) for t in range(trials)]
    ref = reference if reference is not None else reference_outputs(original, feeds_list, provider)
    got = reference_outputs(rewritten, feeds_list, provider)
    worst, worst_name = 0.0, ""
    for r_list, g_list in zip(ref, got):
        for v, r, g in zip(original.outputs, r_list, g_list):
            if r.shape != g.shape:
                return Equivalence(False, float("inf"), v.name, f"output {v.name!r}: shape {list(g.shape)} "
                                   f"instead of {list(r.shape)}")
            if r.size == 0:
                continue
            if r.dtype.kind in "fc":
                peak = float(np.nanmax(np.abs(r))) if np.isfinite(r).any() else 0.0
                scale = peak if peak > 0 else 1.0
                same_nan = np.array_equal(np.isnan(r), np.isnan(g))
                diff = np.abs(r.astype(np.float64) - g.astype(np.float64))
                err = float(np.nanmax(diff)) / scale if same_nan else float("inf")
            else:
                err = 0.0 if np.array_equal(r, g) else float("inf")
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
