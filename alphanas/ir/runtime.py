"""onnxruntime access: one place that imports it, picks the provider, and explains when it is missing.

onnxruntime and onnxruntime-gpu provide the same module and must not both be installed; alphanas
offers them as the extras ``[cpu]`` and ``[gpu]``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from alphanas.errors import AlphanasError, MissingDependencyError


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
            raise AlphanasError(
                "the CUDA provider of onnxruntime is not available here (installed providers: "
                f"{', '.join(available)}); install onnxruntime-gpu on a machine with a GPU, or use --provider cpu"
            )
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    if provider == "auto":
        return (["CUDAExecutionProvider"] if "CUDAExecutionProvider" in available else []) + ["CPUExecutionProvider"]
    raise AlphanasError(f"unknown provider {provider!r}; use cpu, cuda or auto")


def session(model: Any, provider: str = "auto", *, optimize: bool = True, threads: int | None = None):
    """An ``InferenceSession`` for a Graph, ModelProto, bytes or path."""
    from alphanas.ir.graph import Graph

    rt = ort()
    if isinstance(model, Graph):
        from alphanas.ir.onnx_io import to_onnx

        model = to_onnx(model)
    if hasattr(model, "SerializeToString"):
        model = model.SerializeToString()
    so = rt.SessionOptions()
    so.log_severity_level = 3
    if not optimize:
        so.graph_optimization_level = rt.GraphOptimizationLevel.ORT_DISABLE_ALL
    if threads:
        so.intra_op_num_threads = threads
    return rt.InferenceSession(model if isinstance(model, bytes) else str(model), so, providers=providers(provider))


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
