"""onnxruntime access: one place that imports it, picks the provider, and explains when it is missing.

onnxruntime and onnxruntime-gpu provide the same module and must not both be installed; alphanas
offers them as the extras ``[cpu]`` and ``[gpu]``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
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
    so.log_severity_level = 4  # fatal only: its errors reach the caller as exceptions, not as log lines on stderr
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


#: The sizes symbolic dimensions take in verification runs, one pair per run: (a leading, batch-like
#: dimension; any other: a sequence length, height or width). Two runs with different sizes catch a
#: rewrite that froze a dynamic dimension; 32 and 64 suit conv nets with strides up to 32.
VERIFICATION_SIZES: tuple[tuple[int, int], ...] = ((1, 32), (3, 64))

#: Longer sizes, tried in turn (by :func:`alphanas.passes.equivalence.reference_feeds`) when a dynamic model
#: fails in onnxruntime at :data:`VERIFICATION_SIZES`: models that need a long sequence (Silero VAD
#: reflect-pads its audio by 64 samples, so it needs more than 64) or a large image.
LONGER_SIZES: tuple[tuple[tuple[int, int], ...], ...] = (((1, 256), (2, 512)), ((1, 1024), (2, 2048)))

#: The size of a symbolic dimension other than the leading (batch-like) one when none is given.
DEFAULT_LENGTH = VERIFICATION_SIZES[0][1]

#: Ops whose input at the given index selects entries of their data input along an axis (an index).
_INDEX_INPUTS = {"Gather": 1}
#: Ops an integer input can pass through on its way to an index input (they keep its values).
_VALUE_PRESERVING = frozenset({"Cast", "Reshape", "Unsqueeze", "Squeeze", "Flatten", "Identity", "Transpose"})


def index_bounds(graph) -> dict[str, int]:
    """For each integer graph input used as indices (``Gather``, as embeddings are), the exclusive upper
    bound of a valid index: the smallest size of the axis it indexes, over its uses."""
    bounds: dict[str, int] = {}
    for v in graph.inputs:
        if v.dtype.kind not in "iu":
            continue
        todo, seen = [v], set()
        while todo:
            cur = todo.pop()
            if id(cur) in seen:
                continue
            seen.add(id(cur))
            for node, i in cur.uses:
                if _INDEX_INPUTS.get(node.op_type) == i and node.inputs[0] is not None:
                    data = node.inputs[0]
                    axis = _attribute(node, "axis", 0)
                    if data.shape is not None and -len(data.shape) <= axis < len(data.shape):
                        size = data.shape[axis]
                        if isinstance(size, int) and size > 0:
                            bounds[v.name] = min(bounds.get(v.name, size), size)
                elif node.op_type in _VALUE_PRESERVING and i == 0:
                    todo.extend(node.outputs)
    return bounds


def _attribute(node, key: str, default: int) -> int:
    if key in node.attrs:
        return int(node.attrs[key])
    for a in node.onnx_attrs or ():
        if a.name == key:
            return int(a.i)
    return default


#: The most elements random data is made for, per input (beyond it the shape is surely not meant).
MAX_RANDOM_ELEMENTS = 1 << 28


def random_array(shape: list[int], dtype: np.dtype, rng: np.random.Generator, index_bound: int | None = None) -> np.ndarray:
    """Realistic random data of ``dtype``: normal floats, random booleans, indices below ``index_bound``
    (when the input indexes something) or else small non-negative integers, random strings."""
    dtype = np.dtype(dtype)
    if any(d < 0 for d in shape) or math.prod(shape) > MAX_RANDOM_ELEMENTS:
        raise AlphanasError(f"an input of shape {shape} is too large (or negative) to make random data for; "
                            "give its input shape")
    if dtype.kind == "f":
        return rng.standard_normal(shape).astype(dtype)
    if dtype.kind == "c":
        return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(dtype)
    if dtype.kind == "b":
        return rng.random(shape) < 0.5
    if dtype.kind in "iu":
        return rng.integers(0, index_bound or 4, size=shape).astype(dtype)
    if dtype.kind in "OUS":
        return rng.integers(0, 10, size=shape).astype(str).astype(object)
    return np.zeros(shape, dtype=dtype)


def concrete_shape(name: str, shape, sizes: dict[str, int], batch: int, length: int,
                   input_shapes: Mapping[str, Sequence[int]] | None = None) -> list[int]:
    """``shape`` with its symbolic (or unknown) dimensions made concrete: the leading one ``batch``,
    the others ``length``; the same symbol always the same size (``sizes`` remembers them).
    ``input_shapes[name]``, when given, is used as it is."""
    if input_shapes and name in input_shapes:
        return [int(d) for d in input_shapes[name]]
    out = []
    for i, d in enumerate(shape):
        if isinstance(d, (int, np.integer)) and d >= 0:
            out.append(int(d))
            continue
        size = batch if i == 0 else length
        if isinstance(d, str) and d:
            size = sizes.setdefault(d, size)
        out.append(size)
    return out


#: Scalar inputs whose meaning fixes their value, by name: an audio model's sampling rate takes one of a
#: few rates (Silero VAD accepts 8000 and 16000, and fails on a random integer). ``input_values`` overrides.
NAMED_INPUT_VALUES: dict[str, float] = {"sr": 16000, "sample_rate": 16000, "sampling_rate": 16000}


def parse_input_values(texts: Sequence[str] | None) -> dict[str, np.ndarray]:
    """``["NAME:VALUE", ...]`` -> ``{name: array}``: VALUE is a number or comma-separated numbers (a
    vector); the array takes the input's dtype when fed. One-line :class:`AlphanasError` on bad text."""
    out: dict[str, np.ndarray] = {}
    for text in texts or ():
        name, sep, value = text.rpartition(":")
        if not sep or not name or not value:
            raise ParameterError("input_values", f"{{input_values}} {text!r}: write NAME:VALUE, e.g. sr:16000")
        try:
            numbers = [float(x) for x in value.split(",")]
        except ValueError:
            raise ParameterError("input_values", f"{{input_values}} {text!r}: the value must be a number or numbers "
                                 "separated by commas, e.g. sr:16000") from None
        out[name] = np.array(numbers[0] if len(numbers) == 1 else numbers)
    return out


def _given_value(v, value, shape: list[int]) -> np.ndarray:
    """``value`` as the input ``v`` takes it: its dtype, broadcast to ``shape`` where it is a scalar."""
    a = np.asarray(value)
    dtype = np.dtype(v.dtype)
    a = a.astype(dtype) if dtype.kind != "O" else a.astype(str).astype(object)
    if a.shape == tuple(shape):
        return a
    if a.size == 1:
        return np.full(shape, a.reshape(()), dtype=a.dtype)
    if a.size == math.prod(shape):
        return a.reshape(shape)
    raise AlphanasError(f"input value for {v.name!r} has {a.size} elements; the input's shape is {shape}")


def random_feeds(graph, batch: int = 1, seed: int = 0, *, length: int | None = None,
                 input_shapes: Mapping[str, Sequence[int]] | None = None,
                 input_values: Mapping[str, Any] | None = None, states_follow_batch: bool = False,
                 ) -> dict[str, np.ndarray]:
    """Random inputs for every graph input (see :func:`random_array`).

    Symbolic dimensions are set to ``batch`` (the leading one) and ``length`` (the others; default
    :data:`DEFAULT_LENGTH`, a size conv nets and sequence models accept); ``input_shapes`` gives whole
    shapes by input name. ``input_values`` gives an input's value by name (a scalar fills its shape);
    a numeric input of at most one element named in :data:`NAMED_INPUT_VALUES` takes that value.
    ``states_follow_batch``: the unnamed (unknown) dimensions of every input after the first take the
    size ``batch`` (a recurrent state such as Silero VAD's ``[2, batch, 128]``, whose batch axis is not
    the leading one and shares no symbol with the audio input's).
    """
    rng = np.random.default_rng(seed)
    bounds = index_bounds(graph)
    sizes: dict[str, int] = {}
    feeds = {}
    for v in graph.inputs:
        if input_values and v.name in input_values:
            given = np.asarray(input_values[v.name])
            if v.shape is None or (given.size > 1 and not (input_shapes and v.name in input_shapes)):
                feeds[v.name] = given.astype(np.dtype(v.dtype))
                continue
        if v.shape is None:
            raise AlphanasError(f"graph input {v.name!r} has no known shape; cannot make random data for it "
                                "(give its shape as an input shape)")
        dims = v.shape
        if states_follow_batch and v is not graph.inputs[0]:
            dims = [batch if isinstance(d, str) and d.startswith("?") else d for d in dims]  # fresh unknowns
        shape = concrete_shape(v.name, dims, sizes, batch, DEFAULT_LENGTH if length is None else length, input_shapes)
        if input_values and v.name in input_values:
            feeds[v.name] = _given_value(v, input_values[v.name], shape)
        elif v.name in NAMED_INPUT_VALUES and v.dtype.kind in "iuf" and math.prod(shape) <= 1:
            feeds[v.name] = _given_value(v, NAMED_INPUT_VALUES[v.name], shape)
        else:
            feeds[v.name] = random_array(shape, v.dtype, rng, bounds.get(v.name))
    return feeds


def verification_feeds(graph, *, trials: int = 1, seed: int = 0, batch: int | None = None,
                       input_shapes: Mapping[str, Sequence[int]] | None = None,
                       input_values: Mapping[str, Any] | None = None,
                       sizes: Sequence[tuple[int, int]] | None = None,
                       states_follow_batch: bool = False) -> list[dict[str, np.ndarray]]:
    """The inputs a verification runs: ``trials`` random draws at each size of :data:`VERIFICATION_SIZES`
    (or ``sizes``: (batch, length) pairs) when the graph has symbolic dimensions (one size when it has
    none, or when ``batch`` fixes them all to ``batch``); ``states_follow_batch`` as :func:`random_feeds`."""
    if batch is not None:
        pairs: Sequence[tuple[int, int]] = ((batch, batch),)
    else:
        pairs = VERIFICATION_SIZES if sizes is None else sizes
        pairs = pairs if is_dynamic(graph, input_shapes) else pairs[:1]
    return [random_feeds(graph, b, seed + 1000 * k + t, length=n, input_shapes=input_shapes, input_values=input_values,
                         states_follow_batch=states_follow_batch)
            for k, (b, n) in enumerate(pairs) for t in range(trials)]


def is_dynamic(graph, input_shapes: Mapping[str, Sequence[int]] | None = None) -> bool:
    """Whether an input of ``graph`` (other than those ``input_shapes`` gives) has a symbolic dimension."""
    return any(v.shape is None or not all(isinstance(d, int) and d >= 0 for d in v.shape)
               for v in graph.inputs if not (input_shapes and v.name in input_shapes))


_ORT_NUMPY = {"tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(float16)": np.float16,
              "tensor(int64)": np.int64, "tensor(int32)": np.int32, "tensor(int16)": np.int16,
              "tensor(int8)": np.int8, "tensor(uint64)": np.uint64, "tensor(uint32)": np.uint32,
              "tensor(uint16)": np.uint16, "tensor(uint8)": np.uint8, "tensor(bool)": np.bool_,
              "tensor(string)": np.object_, "tensor(complex64)": np.complex64, "tensor(complex128)": np.complex128}


def session_feeds(sess, batch: int = 1, seed: int = 0, *, length: int | None = None,
                  input_shapes: Mapping[str, Sequence[int]] | None = None,
                  index_bounds: Mapping[str, int] | None = None) -> dict[str, np.ndarray]:
    """Random inputs for an ``InferenceSession`` (see :func:`random_array` and :func:`random_feeds`);
    ``index_bounds`` (from :func:`index_bounds` of the graph) keeps index inputs in range."""
    rng = np.random.default_rng(seed)
    sizes: dict[str, int] = {}
    feeds = {}
    for i in sess.get_inputs():
        if i.type not in _ORT_NUMPY:
            raise AlphanasError(f"input {i.name!r} is of type {i.type}; random data can only be made for tensors")
        shape = concrete_shape(i.name, [d if d is not None else "" for d in i.shape], sizes, batch,
                               DEFAULT_LENGTH if length is None else length, input_shapes)
        feeds[i.name] = random_array(shape, np.dtype(_ORT_NUMPY[i.type]), rng, (index_bounds or {}).get(i.name))
    return feeds


def measure_latency(model: Any, feeds: dict[str, np.ndarray] | None = None, *, provider: str = "auto",
                    batch: int = 1, warmup: int = 5, repeats: int = 30, threads: int | None = None,
                    seed: int = 0, optimize: bool = True) -> dict[str, Any]:
    """Latency of one onnxruntime inference of ``model`` (Graph, ModelProto, bytes or path).

    Runs ``warmup`` untimed inferences, then ``repeats`` timed ones on the same ``feeds`` (random
    inputs at ``batch`` when not given). Returns ``median_ms``, ``p10_ms``, ``p90_ms``, ``mean_ms``,
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
    # throughput is computed from the batch actually run (a static-batch model runs its own batch)
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
        "p10_ms": 1e3 * float(np.percentile(times, 10)),
        "p90_ms": 1e3 * float(np.percentile(times, 90)),
        "mean_ms": 1e3 * float(times.mean()),
        "throughput_per_s": batch / median if median > 0 else float("inf"),
        "provider": sess.get_providers()[0],
        "batch": int(batch),
        "repeats": int(repeats),
    }
