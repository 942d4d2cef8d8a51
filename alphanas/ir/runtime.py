"""onnxruntime access: one place that imports it, picks the provider, and explains when it is missing.

onnxruntime and onnxruntime-gpu provide the same module and must not both be installed; alphanas
offers them as the extras ``[cpu]`` and ``[gpu]``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from alphanas.errors import AlphanasError, MissingDependencyError, ParameterError


def ort():
    try:
        import onnxruntime
    except ImportError:
        raise MissingDependencyError(
            "onnxruntime is not installed; install one of: pip install 'alphanas[cpu]' (onnxruntime) "
            "or pip install 'alphanas[gpu]' (onnxruntime-gpu) - never both"
        ) from None
    return onnxruntime


def providers(provider: str = "auto") -> list[str]:
    """Execution providers for ``provider`` in {"auto", "cpu", "cuda"}; "auto" prefers CUDA."""
    available = ort().get_available_providers()
    if provider == "cpu":
        return ["CPUExecutionProvider"]
    if provider == "cuda":
        if "CUDAExecutionProvider" not in available:
            raise ParameterError(
                "provider", "the CUDA provider of onnxruntime is not available here (installed providers: "
                f"{', '.join(available)}); install onnxruntime-gpu on a machine with a GPU, or use {{provider}}=cpu"
            )
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    if provider == "auto":
        return (["CUDAExecutionProvider"] if "CUDAExecutionProvider" in available else []) + ["CPUExecutionProvider"]
    raise AlphanasError(f"unknown provider {provider!r}; use cpu, cuda or auto")


#: In-memory models larger than this many bytes reach onnxruntime through a temporary file with
#: external data (protobuf cannot serialise 2 GB or more).
SERIALIZE_LIMIT = 2**31 - (64 << 20)


def session(model: Any, provider: str = "auto", *, optimize: bool = True, threads: int | None = None):
    """An ``InferenceSession`` for a Graph, ModelProto, bytes or path (external data included)."""
    from alphanas.ir.graph import Graph

    rt = ort()
    so = rt.SessionOptions()
    so.log_severity_level = 3
    if not optimize:
        so.graph_optimization_level = rt.GraphOptimizationLevel.ORT_DISABLE_ALL
    if threads:
        so.intra_op_num_threads = threads
    owned = isinstance(model, Graph)
    if owned:
        from alphanas.ir.onnx_io import to_onnx

        model = to_onnx(model)
    if hasattr(model, "SerializeToString"):
        if model.ByteSize() <= SERIALIZE_LIMIT:
            model = model.SerializeToString()
        else:
            return _session_via_external_data(rt, model, so, provider, copy=not owned)
    return rt.InferenceSession(model if isinstance(model, bytes) else str(model), so, providers=providers(provider))


def _session_via_external_data(rt, model, so, provider: str, copy: bool):
    import os
    import tempfile

    import onnx

    if copy:  # saving with external data moves the caller's tensors out of its proto
        original, model = model, onnx.ModelProto()
        model.CopyFrom(original)
    with tempfile.TemporaryDirectory(prefix="alphanas-ort-", ignore_cleanup_errors=True) as tmp:
        path = os.path.join(tmp, "model.onnx")
        onnx.save_model(model, path, save_as_external_data=True, all_tensors_to_one_file=True,
                        location="model.onnx.data", size_threshold=1024)
        # once the session exists onnxruntime holds the weights (read, or mapped: an unlinked file stays mapped)
        return rt.InferenceSession(path, so, providers=providers(provider))


def run(model: Any, feeds: dict[str, np.ndarray], provider: str = "auto") -> list[np.ndarray]:
    """Run a model once under onnxruntime and return all outputs."""
    return session(model, provider).run(None, feeds)


def random_feeds(graph, batch: int = 1, seed: int = 0) -> dict[str, np.ndarray]:
    """Random inputs for every graph input (symbolic dimensions set to ``batch``)."""
    rng = np.random.default_rng(seed)
    feeds = {}
    for v in graph.inputs:
        shape = [d if isinstance(d, int) else batch for d in v.shape]
        if v.dtype.kind == "f":
            feeds[v.name] = rng.standard_normal(shape).astype(v.dtype)
        elif v.dtype.kind in "iu":
            feeds[v.name] = rng.integers(0, 2, size=shape).astype(v.dtype)
        else:
            feeds[v.name] = np.zeros(shape, dtype=v.dtype)
    return feeds


_ORT_NUMPY = {"tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(float16)": np.float16,
              "tensor(int64)": np.int64, "tensor(int32)": np.int32, "tensor(int8)": np.int8,
              "tensor(uint8)": np.uint8, "tensor(bool)": np.bool_}


def session_feeds(sess, batch: int = 1, seed: int = 0) -> dict[str, np.ndarray]:
    """Random inputs for an ``InferenceSession`` (symbolic dimensions set to ``batch``)."""
    rng = np.random.default_rng(seed)
    feeds = {}
    for i in sess.get_inputs():
        shape = [d if isinstance(d, int) and d > 0 else batch for d in i.shape]
        dtype = np.dtype(_ORT_NUMPY.get(i.type, np.float32))
        if dtype.kind == "f":
            feeds[i.name] = rng.standard_normal(shape).astype(dtype)
        elif dtype.kind in "iu":
            feeds[i.name] = rng.integers(0, 2, size=shape).astype(dtype)
        else:
            feeds[i.name] = np.zeros(shape, dtype=dtype)
    return feeds


def measure_latency(model: Any, feeds: dict[str, np.ndarray] | None = None, *, provider: str = "auto",
                    batch: int = 1, warmup: int = 5, repeats: int = 30, threads: int | None = None,
                    seed: int = 0, optimize: bool = True) -> dict[str, Any]:
    """Latency of one onnxruntime inference of ``model`` (Graph, ModelProto, bytes or path).

    Runs ``warmup`` untimed inferences, then ``repeats`` timed ones on the same ``feeds`` (random
    inputs at ``batch`` when not given). Returns ``median_ms``, ``p90_ms``, ``mean_ms``,
    ``throughput_per_s`` (samples per second at the median), ``provider`` (the provider that ran),
    ``batch`` and ``repeats``. Numbers are only comparable within one process on one machine.
    ``optimize=False`` turns off onnxruntime's own graph optimizations (to see what a rewrite alone gains).
    """
    import time

    if repeats < 1 or warmup < 0:
        raise AlphanasError(f"measure_latency: need repeats >= 1 and warmup >= 0 (got {repeats}, {warmup})")
    sess = session(model, provider, threads=threads, optimize=optimize)
    if feeds is None:
        feeds = session_feeds(sess, batch, seed)
    else:
        batch = next((a.shape[0] for a in feeds.values() if getattr(a, "ndim", 0) > 0), batch)
    for _ in range(warmup):
        sess.run(None, feeds)
    times = np.empty(repeats)
    for r in range(repeats):
        t0 = time.perf_counter()
        sess.run(None, feeds)
        times[r] = time.perf_counter() - t0
    median = float(np.median(times))
    return {
        "median_ms": 1e3 * median,
        "p90_ms": 1e3 * float(np.percentile(times, 90)),
        "mean_ms": 1e3 * float(times.mean()),
        "throughput_per_s": batch / median if median > 0 else float("inf"),
        "provider": sess.get_providers()[0],
        "batch": int(batch),
        "repeats": int(repeats),
    }
