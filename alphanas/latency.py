"""onnxruntime latency benchmarking of several models side by side: rows, ratios, tables and JSON.

The measurement itself is :func:`alphanas.ir.runtime.measure_latency`; this module runs it over models
x providers x batch sizes and relates every model to the first one measured in the same run.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from alphanas.errors import AlphanasError, ParameterError

#: Keys of every row (``--json`` prints a list of these objects).
ROW_KEYS = ("model", "provider", "batch", "median_ms", "p10_ms", "p90_ms", "mean_ms", "throughput_per_s", "ratio",
            "warmup", "repeats", "rebatched_from")


def static_batch(model: bytes) -> int | None:
    """The static batch size (first dimension) the model's inputs share, or ``None`` when it is symbolic
    (or the inputs disagree, or have no shape)."""
    import onnx

    proto = onnx.load_from_string(model)
    inits = {t.name for t in proto.graph.initializer}
    firsts = set()
    for vi in proto.graph.input:
        if vi.name in inits or not vi.type.tensor_type.HasField("shape") or not vi.type.tensor_type.shape.dim:
            continue
        d = vi.type.tensor_type.shape.dim[0]
        firsts.add(d.dim_value if d.HasField("dim_value") else None)
    return firsts.pop() if len(firsts) == 1 else None


def check_static_sizes(model: bytes, name: str) -> None:
    """Refuse a model whose inputs have symbolic dimensions besides the batch (height, width, sequence
    length): timing it at some made-up size would be a silent wrong number; ``--input-shape`` fixes them."""
    import onnx

    proto = onnx.load_from_string(model)
    inits = {t.name for t in proto.graph.initializer}
    for vi in proto.graph.input:
        if vi.name in inits or not vi.type.tensor_type.HasField("shape"):
            continue
        dims = list(vi.type.tensor_type.shape.dim)
        free = [d.dim_param or "?" for d in dims[1:] if not d.HasField("dim_value")]
        if free:
            example = ",".join(["1"] + [str(d.dim_value) if d.HasField("dim_value") else "SIZE" for d in dims[1:]])
            raise ParameterError("input_shapes", f"{name}: input {vi.name!r} has symbolic dimensions besides the "
                                 f"batch ({', '.join(free)}); give them sizes with {{input_shapes}} {vi.name}:{example}")


def rebatch(model: bytes, batch: int, name: str) -> bytes:
    """``model`` (serialized) with its static batch ``b`` replaced by ``batch``, through the IR: the inputs'
    first dimension is set, the IR import re-infers every shape (refusing a model whose constants fix the
    batch, e.g. ``Reshape`` to ``[1, -1]``), and onnxruntime must then produce outputs of that batch;
    otherwise an :class:`AlphanasError` says why. Unchanged when the batch is symbolic or already ``batch``."""
    b = static_batch(model)
    if b is None or b == batch:
        return model
    import onnx

    from alphanas.ir.onnx_io import from_onnx, to_onnx
    from alphanas.ir.runtime import session, session_feeds

    proto = onnx.load_from_string(model)
    inits = {t.name for t in proto.graph.initializer}
    for vi in list(proto.graph.input) + list(proto.graph.output):
        if vi.name not in inits and vi.type.tensor_type.HasField("shape") and vi.type.tensor_type.shape.dim:
            d = vi.type.tensor_type.shape.dim[0]
            if vi in proto.graph.output:
                d.ClearField("dim_value")
            else:
                d.dim_value = batch
    del proto.graph.value_info[:]
    try:
        out = to_onnx(from_onnx(proto)).SerializeToString()
        sess = session(out, "cpu")
        results = sess.run(None, session_feeds(sess, batch, 0))
        wrong = [r.shape for r in results if getattr(r, "ndim", 0) and r.shape[0] != batch]
        if wrong:
            raise AlphanasError(f"its output has batch {wrong[0][0]}, not {batch}")
    except Exception as e:
        why = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ParameterError("batches", f"{name}: the batch dimension is fixed at {b} and the model cannot be "
                             f"re-batched to {batch} ({why[:300]}); measure it with {{batches}} {b}, or export it "
                             "with a dynamic batch") from None
    return out


def _label(model: Any, i: int) -> str:
    if isinstance(model, (str, Path)):
        return str(model)
    return getattr(model, "name", None) or f"model{i}"


def _load(model: Any) -> Any:
    """Path -> serialized model bytes, as written (not normalised by the IR, so files compare as they are)."""
    if isinstance(model, (str, Path)):
        import onnx

        p = Path(model)
        if not p.exists():
            raise AlphanasError(f"{p}: no such file; give the path of an .onnx model")
        if p.is_dir():
            raise AlphanasError(f"{p}: is a directory, not an .onnx model file")
        try:
            proto = onnx.load(str(p), load_external_data=True)
        except Exception as e:
            raise AlphanasError(f"{p}: not a readable ONNX model ({type(e).__name__}); check that the file is "
                                "complete and was saved by onnx") from None
        if not proto.graph.node and not proto.graph.output:
            raise AlphanasError(f"{p}: not an ONNX model (no graph found)")
        versions = {o.domain or "": o.version for o in proto.opset_import}
        opset, newest = versions.get("", versions.get("ai.onnx", 0)), onnx.defs.onnx_opset_version()
        if opset > newest:  # (onnxruntime would fail with a page of C++ about it)
            raise AlphanasError(f"{p}: opset {opset} is newer than the installed onnx package defines (opsets up to "
                                f"{newest}); export the model at opset {newest} or lower")
        return proto.SerializeToString()
    return model


def benchmark(models: Sequence[Any], *, providers: Sequence[str] = ("cpu",), batches: Sequence[int] = (1,),
              warmup: int = 5, repeats: int = 30, threads: int | None = None, optimize: bool = True,
              labels: Sequence[str] | None = None, input_shapes: Mapping[str, Sequence[int]] | None = None,
              on_step: Callable[[str], None] | None = None) -> list[dict[str, Any]]:
    """Measure every model under every provider and batch size.

    Returns one row per (provider, batch, model) with the keys :data:`ROW_KEYS`; ``ratio`` is the
    model's median latency divided by the first model's median for the same provider and batch
    (below 1 means faster than the first model). ``on_step`` is called after each measurement.
    ``input_shapes`` (input name -> dims) fixes those inputs' shapes in every model (as ``--input-shape``).
    """
    from alphanas.ir.runtime import measure_latency, providers as resolve

    if not models:
        raise AlphanasError("bench: give at least one model")
    for b in batches:
        if b < 1:
            raise AlphanasError(f"bench: batch sizes must be >= 1, got {b}")
    for p in providers:
        resolve(p)  # a clear error now if the provider is missing, before anything is measured
    names = list(labels) if labels is not None else [_label(m, i) for i, m in enumerate(models)]
    loaded = [_load(m) for m in models]
    if input_shapes:
        from alphanas.ir.input_shapes import with_input_shapes

        loaded = [with_input_shapes(m, input_shapes, name) for m, name in zip(loaded, names)]
    for model, name in zip(loaded, names):
        if isinstance(model, bytes):
            check_static_sizes(model, name)
    rows: list[dict[str, Any]] = []
    for provider in providers:
        for batch in batches:
            first = None
            for name, model in zip(names, loaded):
                fixed = static_batch(model) if isinstance(model, bytes) else None
                if fixed is not None:
                    model = rebatch(model, batch, name)
                try:
                    r = measure_latency(model, provider=provider, batch=batch, warmup=warmup, repeats=repeats,
                                        threads=threads, optimize=optimize)
                except AlphanasError:
                    raise
                except Exception as e:  # onnxruntime rejecting the model (invalid graph, unknown op, ...)
                    msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                    raise AlphanasError(f"{name}: onnxruntime cannot run it ({msg})") from None
                first = r["median_ms"] if first is None else first
                if r["batch"] != batch:  # (never: rebatch guarantees it; throughput is from the batch run)
                    raise AlphanasError(f"{name}: ran batch {r['batch']} instead of {batch}")
                rows.append({"model": name, "provider": r["provider"], "batch": r["batch"],
                             "median_ms": r["median_ms"], "p10_ms": r["p10_ms"], "p90_ms": r["p90_ms"],
                             "mean_ms": r["mean_ms"], "warmup": warmup, "repeats": repeats,
                             "rebatched_from": fixed if fixed not in (None, batch) else None,
                             "throughput_per_s": r["throughput_per_s"],
                             "ratio": r["median_ms"] / first if first > 0 else float("nan")})
                if on_step is not None:
                    on_step(name)
    return rows


def to_json(rows: list[dict[str, Any]]) -> str:
    return json.dumps([{k: row[k] for k in ROW_KEYS} for row in rows], indent=2)


def table(rows: list[dict[str, Any]], title: str = "onnxruntime latency"):
    """A rich Table of the rows (ratio against the first model of each provider/batch group); models are shown
    by file name when those are unique."""
    from alphanas.table import Table

    models = list(dict.fromkeys(r["model"] for r in rows))
    short = {m: Path(m).name for m in models}
    if len(set(short.values())) < len(models):  # two files of the same name: show the paths as given
        short = {m: m for m in models}
    t = Table(title=title)
    t.add_column("model")
    for col in ("provider", "batch", "median ms", "p10-p90 ms", "samples/s", "ratio"):
        t.add_column(col, justify="left" if col == "provider" else "right")
    for r in rows:
        batch = str(r["batch"]) + (f" (re-batched from {r['rebatched_from']})" if r.get("rebatched_from") else "")
        t.add_row(short[r["model"]], r["provider"].replace("ExecutionProvider", ""), batch,
                  f"{r['median_ms']:.3f}", f"{r['p10_ms']:.3f}-{r['p90_ms']:.3f}", f"{r['throughput_per_s']:,.1f}",
                  f"{r['ratio']:.3f}")
    return t
