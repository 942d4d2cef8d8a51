"""Helpers shared by the zoo and block tests (no tests here)."""

from __future__ import annotations

import numpy as np
import onnx
import torch

from alphanas.ir.graph import Graph
from alphanas.ir.onnx_io import to_onnx
from alphanas.ir.runtime import random_feeds, session
from alphanas.ir.torch_lowering import to_torch


def perturb_weights(graph: Graph, seed: int = 0) -> Graph:
    """Replace constant-filled float weights (BN scale/shift/statistics, zero biases) by random values,
    so that comparisons also exercise them; running variances stay positive."""
    rng = np.random.default_rng(seed)
    for name, v in graph.initializers.items():
        a = v.const
        if a.dtype.kind != "f" or a.size < 2 or np.ptp(a) > 0:
            continue
        if name.endswith("running_var"):
            v.const = rng.uniform(0.5, 1.5, a.shape).astype(a.dtype)
        else:
            v.const = (a + rng.normal(0.0, 0.1, a.shape)).astype(a.dtype)
    return graph


def rel_err(a: np.ndarray, b: np.ndarray) -> float:
    """max |a - b| relative to the magnitude of ``b``."""
    return float(np.max(np.abs(a - b)) / max(float(np.max(np.abs(b))), 1e-12))


def ort_output(graph_or_model, feeds: dict) -> np.ndarray:
    return session(graph_or_model, "cpu").run(None, feeds)[0]


def torch_output(graph: Graph, feeds: dict) -> np.ndarray:
    module = to_torch(graph).eval()
    with torch.no_grad():
        out = module(*[torch.from_numpy(feeds[v.name]) for v in graph.inputs])
    out = out[0] if isinstance(out, (tuple, list)) else out
    return out.numpy()


def check_onnx_vs_torch(graph: Graph, batch: int = 2, seed: int = 0) -> float:
    """IR -> ONNX (full checker) -> onnxruntime vs IR -> torch on random inputs; returns the relative error."""
    model = to_onnx(graph)
    onnx.checker.check_model(model, full_check=True)
    feeds = random_feeds(graph, batch=batch, seed=seed)
    ref = ort_output(model, feeds)
    out = torch_output(graph, feeds)
    assert ref.shape == out.shape == (batch, *graph.outputs[0].shape[1:])
    assert np.all(np.isfinite(ref))
    return rel_err(out, ref)
