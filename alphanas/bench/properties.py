"""Property-inference benchmark: time to infer every property of a whole model and of each of its blocks,
side by side with ``onnx.shape_inference.infer_shapes`` on the same model in the same run.

Models: ResNet-50 (the onnx backend-test "light" model), and the zoo's ResNet-34, MobileNetV2 and
ViT-Ti/16 at 224x224. Each repeat analyses a fresh copy of the imported graph with the per-node and
per-shape memo caches of the analysis cleared, so the figure is the cold cost of one analysis (the
``warm`` column keeps them, as a search that analyses similar graphs again does);
``infer_shapes`` runs on the ONNX ``ModelProto`` (the file as loaded for ResNet-50, the exported zoo
model otherwise) with its weights declared as inputs instead (:func:`structure_only`; it still infers every
dimension). Both sides
are timed as CPU time of this process (``time.process_time``), which a busy machine disturbs far less
than wall time; both are single-threaded. Medians over ``--repeats``; ``ratio`` = properties_ms / shape_inference_ms.

    python -m alphanas.bench.properties                      # all four models, 20 repeats
    alphanas benchmark properties --models resnet50 --repeats 5 --json
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from alphanas.errors import AlphanasError
from alphanas.options import validate_options

MODELS = ("resnet50", "resnet34", "mobilenetv2", "vit_ti16")
#: keys of every row; ``--json`` prints a list of these objects
ROW_KEYS = ("model", "nodes", "blocks", "properties_ms", "properties_warm_ms", "blocks_properties_ms",
            "shape_inference_ms", "ratio", "blocks_ratio")
#: ``onnx.TensorProto`` FLOAT, FLOAT16, DOUBLE, BFLOAT16: the element types of weights
_FLOAT_TYPES = frozenset({1, 10, 11, 16})


def load_model(name: str):
    """``(ir.Graph, onnx.ModelProto)`` of a benchmark model."""
    import onnx

    from alphanas.ir import from_onnx, to_onnx, zoo

    if name == "resnet50":
        path = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light" / "light_resnet50.onnx"
        return from_onnx(onnx.load(str(path)), source=str(path)), structure_only(onnx.load(str(path)))
    if name not in MODELS:
        raise AlphanasError(f"unknown benchmark model {name!r}; available: {', '.join(MODELS)}")
    graph = zoo.build(name, input_size=224)
    return graph, structure_only(to_onnx(graph))


def structure_only(proto):
    """``proto`` with its floating-point initializers (weights) turned into typed graph inputs (same shapes, no
    data): shape inference then measures the analysis, not the serialisation of megabytes of weights (which it
    copies). Integer initializers stay: they are shape operands (``Reshape`` targets, ``ConstantOfShape``
    shapes) whose values shape inference reads; without them it would leave dimensions unknown, doing less."""
    import onnx

    graph = proto.graph
    declared = {v.name for v in graph.input}
    keep = []
    for t in graph.initializer:
        if t.data_type in _FLOAT_TYPES:
            if t.name not in declared:
                graph.input.append(onnx.helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)))
        else:
            keep.append(t)
    del graph.initializer[:]
    graph.initializer.extend(keep)
    return proto


def _clear_caches() -> None:
    from alphanas.ir import graph
    from alphanas.properties import access, mixing

    graph._element_count.cache_clear()
    mixing._PATTERN_CACHE.clear()
    mixing._THROUGH_CACHE.clear()
    access.window.cache_clear()
    access.reshape_axes.cache_clear()


def _median_ms(fn: Callable[[], Any], repeats: int, prepare: Callable[[], Any] | None = None) -> float:
    times = []
    for _ in range(repeats):
        arg = prepare() if prepare is not None else None
        t0 = time.process_time()
        fn(arg)
        times.append((time.process_time() - t0) * 1e3)
    return statistics.median(times)


def measure(name: str, repeats: int = 20) -> dict[str, Any]:
    """One row (keys :data:`ROW_KEYS`) for model ``name``."""
    from onnx import shape_inference

    from alphanas.ir.blocks import find_blocks
    from alphanas.properties import PropertySet, registry

    graph, proto = load_model(name)
    names = list(registry())

    def fresh():
        _clear_caches()
        return graph.copy()

    def fresh_blocks():
        g = fresh()
        return [b.subgraph for b in find_blocks(g)]

    props_ms = _median_ms(lambda g: PropertySet.infer(g, names), repeats, fresh)
    # warm: the memo caches kept from earlier analyses (as in a search, which analyses similar graphs again)
    warm_ms = _median_ms(lambda g: PropertySet.infer(g, names), repeats, graph.copy)
    blocks_ms = _median_ms(lambda subs: [PropertySet.infer(s, names) for s in subs], repeats, fresh_blocks)
    shape_ms = _median_ms(lambda _: shape_inference.infer_shapes(proto), repeats)
    return {"model": name, "nodes": len(graph.nodes), "blocks": len(find_blocks(graph)),
            "properties_ms": props_ms, "properties_warm_ms": warm_ms, "blocks_properties_ms": blocks_ms,
            "shape_inference_ms": shape_ms,
            "ratio": props_ms / shape_ms, "blocks_ratio": blocks_ms / shape_ms}


def run(models=MODELS, repeats: int = 20, on_model: Callable[[str], None] | None = None) -> list[dict[str, Any]]:
    rows = []
    for m in models:
        rows.append(measure(m, repeats))
        if on_model is not None:
            on_model(m)
    return rows


def table(rows: list[dict[str, Any]]):
    from alphanas.table import Table

    t = Table(title="property inference vs onnx.shape_inference.infer_shapes (median ms)")
    columns = ("model", "nodes", "blocks", "properties", "warm", "all blocks", "infer_shapes", "ratio", "blocks ratio")
    for col in columns:
        t.add_column(col, justify="left" if col == "model" else "right")
    for r in rows:
        t.add_row(r["model"], str(r["nodes"]), str(r["blocks"]), f"{r['properties_ms']:.2f}",
                  f"{r['properties_warm_ms']:.2f}", f"{r['blocks_properties_ms']:.2f}",
                  f"{r['shape_inference_ms']:.2f}", f"{r['ratio']:.2f}x", f"{r['blocks_ratio']:.2f}x")
    return t


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="alphanas benchmark properties", description=__doc__.split("\n\n")[0])
    p.add_argument("--models", default=",".join(MODELS), help=f"comma-separated subset of {', '.join(MODELS)}")
    p.add_argument("--repeats", type=int, default=20, help="repeats per measurement (median reported)")
    p.add_argument("--json", action="store_true", help="print a JSON list of rows instead of a table")
    args = p.parse_args(argv)
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = [m for m in models if m not in MODELS]
    if unknown or not models:
        raise AlphanasError(f"--models: unknown {', '.join(unknown) or '(none given)'}; available: {', '.join(MODELS)}")
    validate_options(args)
    if args.json:
        rows = run(models, args.repeats)
        print(json.dumps([{k: r[k] for k in ROW_KEYS} for r in rows], indent=2))
        return 0
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    c = Console(highlight=False)
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeRemainingColumn(), console=c, transient=True) as bar:
        task = bar.add_task("properties benchmark", total=len(models))
        rows = run(models, args.repeats, on_model=lambda m: bar.advance(task))
    c.print(table(rows))
    return 0


if __name__ == "__main__":
    from alphanas.console import run_main

    raise SystemExit(run_main(main))
