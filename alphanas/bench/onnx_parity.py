"""ONNX parity of the IR: the nine light model-zoo CNNs shipped in the onnx wheel, and the seed zoo.

For every light model (``onnx/backend/test/data/light``): import with :func:`alphanas.load_onnx`,
export with :func:`alphanas.ir.to_onnx` (``onnx.checker`` full check), and compare under onnxruntime
the exported model with the original on a seeded random input, the stored reference output, and the
original again after :func:`randomize_light_weights` (the light models fill every weight with 0.02,
which hides most errors; random weights make the output depend on the input). For every zoo model:
IR -> ONNX -> onnxruntime against IR -> torch (``alphanas.ir.to_torch``). Differences are
``max |ours - theirs| / max |theirs|``.

    alphanas benchmark onnx_parity [--light NAMES] [--zoo NAMES] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from typing import Any

import numpy as np

from alphanas.errors import AlphanasError
from alphanas.ir.cost import graph_params

LIGHT_NAMES = ["bvlc_alexnet", "densenet121", "inception_v1", "inception_v2", "resnet50", "shufflenet",
               "squeezenet", "vgg19", "zfnet512"]


def light_dir() -> str:
    import onnx

    return os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "light")


def light_path(name: str) -> str:
    return os.path.join(light_dir(), f"light_{name}.onnx")


def light_reference(name: str) -> np.ndarray:
    import onnx
    from onnx import numpy_helper

    return numpy_helper.to_array(onnx.load_tensor(os.path.join(light_dir(), f"light_{name}_output_0.pb")))


def rel_diff(ours: np.ndarray, theirs: np.ndarray) -> float:
    """``max |ours - theirs| / max |theirs|`` (shapes must agree)."""
    if ours.shape != theirs.shape:
        raise ValueError(f"shapes differ: {ours.shape} vs {theirs.shape}")
    return float(np.abs(ours.astype(np.float64) - theirs).max() / max(float(np.abs(theirs).max()), 1e-12))


def randomize_light_weights(model, seed: int):
    """A copy of a light model with every ``ConstantOfShape`` weight replaced by a seeded random
    initializer of the same shape; a final softmax's logits become an extra output.

    Scales keep the signal alive through 20-120 layers: He initialisation for rank >= 2, small
    offsets (biases, batch-norm means, tensors added after an Unsqueeze) in [-0.05, 0.05], and other
    1-d tensors (batch-norm scales and variances, multipliers) in [0.5, 1.5].
    """
    import onnx
    from onnx import numpy_helper

    from alphanas.ir.ops.linear import Conv, Gemm
    from alphanas.ir.ops.norm import BatchNormalization

    rng = np.random.default_rng(seed)
    m = onnx.ModelProto()
    m.CopyFrom(model)
    shapes = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    offsets = set()
    for n in m.graph.node:
        if n.op_type in (Conv.op_type, Gemm.op_type) and len(n.input) > 2:  # the bias
            offsets.add(n.input[2])
        elif n.op_type == BatchNormalization.op_type:  # bias and running mean
            offsets.update(n.input[2:4])
    offsets |= {n.input[0] for n in m.graph.node if n.op_type == "Unsqueeze"
                and any(c.op_type == "Add" and n.output[0] in c.input for c in m.graph.node)}
    keep = []
    for n in m.graph.node:
        if n.op_type != "ConstantOfShape":
            keep.append(n)
            continue
        shape = tuple(int(d) for d in shapes[n.input[0]])
        if len(shape) >= 2:
            w = rng.standard_normal(shape, dtype=np.float32)
            w *= np.float32(np.sqrt(2.0 / np.prod(shape[1:])))
        elif n.output[0] in offsets:
            w = rng.uniform(-0.05, 0.05, size=shape).astype(np.float32)
        else:
            w = rng.uniform(0.5, 1.5, size=shape).astype(np.float32)
        t = m.graph.initializer.add()
        t.name, t.data_type, t.raw_data = n.output[0], onnx.TensorProto.FLOAT, w.tobytes()
        t.dims.extend(shape)
    del m.graph.node[:]
    m.graph.node.extend(keep)
    # A saturated softmax hides differences: also return the logits that feed a final softmax.
    outputs = {o.name for o in m.graph.output}
    for n in keep:
        if n.op_type == "Softmax" and n.output[0] in outputs:
            m.graph.output.append(onnx.helper.make_tensor_value_info(n.input[0], onnx.TensorProto.FLOAT, None))
    return m


def light_row(name: str, seed: int = 0) -> dict[str, Any]:
    """Import/export one light model and measure its differences under onnxruntime."""
    import onnx

    from alphanas.ir import from_onnx, load_onnx, runtime, to_onnx

    def run(model, feeds):
        return runtime.session(model, "cpu").run(None, feeds)

    t0 = time.perf_counter()
    graph = load_onnx(light_path(name))
    t_import = time.perf_counter() - t0
    t0 = time.perf_counter()
    exported = to_onnx(graph)
    t_export = time.perf_counter() - t0
    onnx.checker.check_model(exported, full_check=True)
    original = onnx.load(light_path(name))
    feeds = runtime.random_feeds(graph, seed=seed + 1)
    ours = run(exported, feeds)[0]
    randomized = randomize_light_weights(original, seed)
    rgraph = from_onnx(randomized, source=name)
    rfeeds = {k: 10 * v for k, v in runtime.random_feeds(rgraph, seed=seed + 2).items()}
    r_ours, r_theirs = run(to_onnx(rgraph), rfeeds)[-1], run(randomized, rfeeds)[-1]
    return {
        "model": name, "nodes_onnx": len(original.graph.node), "nodes_ir": len(graph.nodes),
        "opaque": sum(n.is_opaque for n in graph.nodes), "params": graph_params(graph),
        "import_s": t_import, "export_s": t_export,
        "vs_original": rel_diff(ours, run(original, feeds)[0]),
        "vs_reference": rel_diff(ours, light_reference(name)),
        "random_weights": rel_diff(r_ours, r_theirs),
    }


def zoo_row(name: str, input_size: int = 32, in_channels: int = 3, seed: int = 0) -> dict[str, Any]:
    """IR -> ONNX -> onnxruntime against IR -> torch for one zoo model (batch 2, seeded input)."""
    import torch
    from alphanas.ir.torch_lowering import to_torch

    from alphanas import zoo
    from alphanas.ir import runtime

    graph = zoo.build(name, input_size=input_size, in_channels=in_channels, num_classes=10, seed=seed)
    feeds = runtime.random_feeds(graph, batch=2, seed=seed)
    ort = runtime.session(graph, "cpu").run(None, feeds)[0]
    module = to_torch(graph).eval()
    with torch.no_grad():
        out = module(*[torch.from_numpy(feeds[v.name]) for v in graph.inputs]).numpy()
    return {"model": name, "input": f"{input_size}x{input_size}x{in_channels}", "params": graph_params(graph),
            "torch_vs_onnxruntime": rel_diff(out, ort)}


def _names(text: str | None, known: list[str], what: str) -> list[str]:
    if text is None:
        return list(known)
    names = [x.strip() for x in text.split(",") if x.strip()]
    unknown = [x for x in names if x not in known]
    if unknown:
        raise AlphanasError(f"{what}: unknown {', '.join(unknown)}; known: {', '.join(known)}")
    return names


def main(argv: list[str] | None = None) -> int:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
    from alphanas.table import Table

    from alphanas import zoo
    from alphanas.console import check_output_path, console

    p = argparse.ArgumentParser(prog="alphanas benchmark onnx_parity", description=__doc__.split("\n\n")[0])
    p.add_argument("--light", help=f"comma-separated light models (default all: {', '.join(LIGHT_NAMES)}; '' for none)")
    p.add_argument("--zoo", help="comma-separated zoo models (default all; '' for none)")
    p.add_argument("--seed", type=int, default=0, help="seed of inputs and random weights (default 0)")
    p.add_argument("--json", metavar="PATH", help="also write the rows as JSON")
    p.add_argument("--force", action="store_true", help="overwrite an existing --json file")
    args = p.parse_args(argv)
    light = _names(args.light, LIGHT_NAMES, "--light")
    zoo_names = _names(args.zoo, zoo.names(), "--zoo")
    out = check_output_path(args.json, [], args.force) if args.json else None
    c = console()
    rows: dict[str, list] = {"light": [], "zoo": []}
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), console=c, transient=True) as bar:
        task = bar.add_task("parity", total=len(light) + len(zoo_names))
        for name in light:
            bar.update(task, description=f"light {name}")
            rows["light"].append(light_row(name, args.seed))
            bar.advance(task)
        for name in zoo_names:
            bar.update(task, description=f"zoo {name}")
            rows["zoo"].append(zoo_row(name, seed=args.seed))
            bar.advance(task)
    if rows["light"]:
        t = Table(title="light models: import -> export -> onnxruntime (max |diff| / max |output|)")
        for col in ("model", "ONNX nodes", "IR nodes", "opaque", "vs original", "vs reference", "random weights",
                    "import s"):
            t.add_column(col, justify="left" if col == "model" else "right")
        for r in rows["light"]:
            t.add_row(r["model"], str(r["nodes_onnx"]), str(r["nodes_ir"]), str(r["opaque"]), f"{r['vs_original']:.1e}",
                      f"{r['vs_reference']:.1e}", f"{r['random_weights']:.1e}", f"{r['import_s']:.2f}")
        c.print(t)
    if rows["zoo"]:
        t = Table(title="zoo: IR -> torch vs IR -> ONNX -> onnxruntime (max |diff| / max |output|)")
        for col in ("model", "input", "params", "torch vs onnxruntime"):
            t.add_column(col, justify="left" if col == "model" else "right")
        for r in rows["zoo"]:
            t.add_row(r["model"], r["input"], f"{r['params']:,}", f"{r['torch_vs_onnxruntime']:.1e}")
        c.print(t)
    if out is not None:
        out.write_text(json.dumps(rows, indent=2))
        c.print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    from alphanas.console import run_main

    raise SystemExit(run_main(main))
