# PYTHON_ARGCOMPLETE_OK
"""The ``alphanas`` command. Each sub-command is a thin layer over the library API.

User errors (:class:`~alphanas.errors.AlphanasError`, bad options) print one line and exit with
status 2; Ctrl-C exits with 130 after saying how to resume where that applies. Anything else is a bug:
one line naming the exception, the model and the node, exit status 1 (``--debug`` shows the traceback).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from alphanas.console import check_output_path, console, parse_int_list, rich_progress, run_main
from alphanas.errors import AlphanasError, ParameterError
from alphanas.options import FLAGS, validate_options

#: (name, help, function adding arguments and setting ``func``) for every sub-command.
COMMANDS: list[tuple[str, str, Callable[[argparse.ArgumentParser], None]]] = []


def command(name: str, help: str):
    def deco(setup: Callable[[argparse.ArgumentParser], None]):
        COMMANDS.append((name, help, setup))
        return setup

    return deco


# ---------------------------------------------------------------------------------------------------
# inspect
# ---------------------------------------------------------------------------------------------------


def graph_report(graph) -> dict:
    """Everything ``inspect`` shows, as plain data."""
    from alphanas.ir import cost

    ops = Counter(n.op_type for n in graph.nodes)
    opaque = Counter(n.op_type for n in graph.nodes if n.is_opaque)
    summary = cost.summary(graph)
    # weights that only opaque nodes read are parameters too (the cost model cannot see what the op does
    # with them, but they are in the file): counted once each, and added to the total
    known = {id(v) for n in graph.nodes if not n.is_opaque for v in n.inputs if v is not None}
    opaque_weights = {id(v): v for n in graph.nodes if n.is_opaque for v in n.inputs
                      if v is not None and v.is_const and id(v) not in known}
    opaque_params = sum(int(v.const.size) for v in opaque_weights.values())
    summary["params"] += opaque_params

    def node_params(n) -> int:
        if not n.is_opaque:
            return n.opdef.params(n)
        return sum(int(v.const.size) for v in n.inputs if v is not None and id(v) in opaque_weights)

    # the FLOPs of an opaque op are unknown (nothing says what it computes): never 0, but None, and the
    # totals say that they leave those nodes out
    unknown_flops = [n.name for n in graph.nodes if n.is_opaque]
    node_flops = {n.name: None if n.is_opaque else cost.node_flops_or_none(n, graph) for n in graph.nodes}
    flops_known = None  # the other nodes' FLOPs (shown as "known + ?"); None when one of them is unknown too
    if unknown_flops:
        summary["flops"] = summary["macs"] = None  # a total that leaves nodes out is no total
        known_f = [f for name, f in node_flops.items() if name not in unknown_flops]
        flops_known = None if any(f is None for f in known_f) else sum(known_f)  # type: ignore[arg-type]
    return {
        "name": graph.name,
        "inputs": [{"name": v.name, "shape": list(v.shape), "dtype": str(v.dtype)} for v in graph.inputs],
        "outputs": [{"name": v.name, "shape": None if v.shape is None else list(v.shape), "dtype": str(v.dtype)}
                    for v in graph.outputs],
        **summary,
        "opaque_params": opaque_params,
        "flops_unknown_nodes": unknown_flops,
        "flops_known": flops_known,
        "symbolic_dims": cost.symbolic_dims(graph),
        "ops": dict(ops.most_common()),
        "opaque_ops": dict(opaque.most_common()),
        "nodes_table": [
            {"name": n.name, "op": n.op_type, "shape": None if n.outputs[0].shape is None else list(n.outputs[0].shape),
             "params": node_params(n), "flops": node_flops[n.name],
             "opaque": n.is_opaque}
            for n in graph.nodes
        ],
    }


@command("inspect", "ops, shapes, params, FLOPs and opaque nodes of an ONNX model")
def _inspect_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="ONNX model file")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.add_argument("--nodes", action="store_true", help="list every node")
    p.add_argument("--properties", action="store_true",
                   help="program properties (shape, depth, mixing, cost and plug-ins) of the model and of each block")
    _input_shape_option(p)
    p.set_defaults(func=cmd_inspect)


def _input_shape_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--input-shape", action="append", default=[], metavar="NAME:DIMS",
                   help="give input NAME the static shape DIMS, e.g. images:1,3,320,320 (repeatable); shapes and "
                   "costs are then exact")


def _load(path, args):
    """``load_onnx`` with the ``--input-shape`` options of ``args``."""
    from alphanas.ir import load_onnx, parse_input_shapes

    return load_onnx(path, input_shapes=parse_input_shapes(getattr(args, "input_shape", None)))


def _count(n: int | None) -> str:
    """A cost count, ``?`` when unknown (it depends on a symbolic dimension)."""
    return "?" if n is None else f"{n:,}"


def cmd_inspect(args) -> int:
    from alphanas.table import Table

    graph = _load(args.model, args)
    rep = graph_report(graph)
    extra = {}
    for hook in INSPECT_HOOKS:
        extra.update(hook(graph, args))
    rep.update(extra)
    if args.json:
        print(json.dumps(rep, indent=2, default=str))
        return 0
    c = console()
    c.print(f"[bold]{rep['name']}[/]  ({args.model})")
    for v in rep["inputs"]:
        c.print(f"  input  {v['name']}: {v['dtype']} {v['shape']}")
    for v in rep["outputs"]:
        c.print(f"  output {v['name']}: {v['dtype']} {v['shape']}")
    peak = rep["peak_activation_bytes"]
    plus = " + ?" if rep["flops_unknown_nodes"] else ""  # (the opaque nodes' share is unknown)
    flops = rep["flops_known"] if plus else rep["flops"]
    c.print(f"  nodes {rep['nodes']}   params {rep['params']:,}   MACs {_count(rep['macs'])}   "
            f"FLOPs {_count(flops)}{plus}   "
            f"peak activations {'?' if peak is None else f'{peak / 2**20:.2f} MiB'} (batch 1)")
    if plus:
        c.print(f"  [yellow]+ ? the MACs and FLOPs of {len(rep['flops_unknown_nodes'])} opaque node(s) are unknown[/] "
                "(alphanas has no definition of their ops); the counts cover the other nodes")
    if rep["symbolic_dims"]:
        c.print(f"  [yellow]? depends on the symbolic dimensions {', '.join(rep['symbolic_dims'])}[/]: "
                "give --input-shape NAME:DIMS for exact counts")
    t = Table(title="ops")
    t.add_column("op")
    t.add_column("count", justify="right")
    t.add_column("params", justify="right")
    t.add_column("FLOPs", justify="right")
    per_op: dict[str, list] = {}
    for row in rep["nodes_table"]:
        acc = per_op.setdefault(row["op"], [0, 0])
        acc[0] += row["params"]
        acc[1] = None if acc[1] is None or row["flops"] is None else acc[1] + row["flops"]
    for op, count in rep["ops"].items():
        label = f"{op} [yellow](opaque)[/]" if op in rep["opaque_ops"] else op
        t.add_row(label, str(count), f"{per_op[op][0]:,}", _count(per_op[op][1]))
    c.print(t)
    if rep["opaque_ops"]:
        c.print("[yellow]opaque nodes[/] (kept as-is, never mutated, not lowerable to torch): "
                + ", ".join(f"{k} x{v}" for k, v in rep["opaque_ops"].items()))
    if args.nodes:
        nt = Table(title="nodes")
        for col in ("name", "op", "output shape", "params", "FLOPs"):
            nt.add_column(col)
        for row in rep["nodes_table"]:
            nt.add_row(row["name"], row["op"], str(row["shape"]), f"{row['params']:,}", _count(row["flops"]))
        c.print(nt)
    for hook in INSPECT_PRINTERS:
        hook(c, extra, args)
    return 0


#: Functions ``(graph, args) -> dict`` adding sections to ``inspect`` (e.g. properties).
INSPECT_HOOKS: list[Callable] = []
#: Functions ``(console, extra, args)`` printing those sections.
INSPECT_PRINTERS: list[Callable] = []


def _properties_section(graph, args) -> dict:
    if not getattr(args, "properties", False):
        return {}
    from alphanas.properties.report import properties_report

    # (values of unknown shape get sound conservative properties: printed as ?)
    return {"properties": properties_report(graph)}


def _print_properties_section(c, extra, args) -> None:
    if "properties" in extra:
        from alphanas.properties.report import print_report

        print_report(c, extra["properties"])


INSPECT_HOOKS.append(_properties_section)
INSPECT_PRINTERS.append(_print_properties_section)


def _preprocessing_section(graph, args) -> dict:
    from alphanas.train.preprocessing import read_preprocessing

    info = read_preprocessing(graph)
    return {} if info is None else {"preprocessing": info}


def _print_preprocessing_section(c, extra, args) -> None:
    info = extra.get("preprocessing")
    if not info:
        return
    c.print(f"[bold]preprocessing[/] (metadata alphanas.preprocessing): task {info.get('task', '?')}, "
            f"input {info.get('input_layout', '')} {info.get('input_shape')}")
    if "mean" in info:
        where = "embedded in the graph: give raw data" if info.get("embedded") else "apply before the model"
        c.print(f"  normalise: (raw - mean) / std, mean {info['mean']}, std {info['std']} ({where})")
    names = info.get("class_names") or []
    if names:
        c.print(f"  classes ({len(names)}): {', '.join(names[:20])}{' ...' if len(names) > 20 else ''}")


INSPECT_HOOKS.append(_preprocessing_section)
INSPECT_PRINTERS.append(_print_preprocessing_section)


# ---------------------------------------------------------------------------------------------------
# zoo
# ---------------------------------------------------------------------------------------------------


@command("zoo", "built-in seed models: list, export")
def _zoo_args(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="zoo_cmd", required=True, metavar="{list,export}")
    zl = sub.add_parser("list", help="list the models")
    zl.add_argument("--json", action="store_true", help="print {name: description} as JSON")
    zl.set_defaults(func=cmd_zoo_list)
    e = sub.add_parser("export", help="write a model as ONNX")
    e.add_argument("name")
    e.add_argument("-o", "--output", required=True, help="output .onnx path")
    e.add_argument("--input-size", type=int, help="spatial input size (8 digits, 32 CIFAR, 224 ImageNet)")
    e.add_argument("--in-channels", type=int, help="input channels (1 digits, 3 images)")
    e.add_argument("--num-classes", type=int, help="number of classes")
    e.add_argument("--seed", type=int, default=0, help="weight initialisation seed")
    e.add_argument("--force", action="store_true", help="overwrite an existing output file")
    e.set_defaults(func=cmd_zoo_export)


def cmd_zoo_list(args) -> int:
    from alphanas.table import Table

    from alphanas import zoo

    if getattr(args, "json", False):
        print(json.dumps(zoo.describe(), indent=2))
        return 0
    t = Table(title="alphanas zoo")
    t.add_column("name")
    t.add_column("description", wrap=True)
    from rich.markup import escape

    for name, doc in zoo.describe().items():
        t.add_row(name, escape(doc))
    console().print(t)
    return 0


def cmd_zoo_export(args) -> int:
    from alphanas import zoo
    from alphanas.ir import save_onnx
    from alphanas.ir.cost import graph_flops, graph_params

    out = check_output_path(args.output, [], args.force)
    opts = {k: getattr(args, k) for k in ("input_size", "in_channels", "num_classes") if getattr(args, k) is not None}
    graph = zoo.build(args.name, seed=args.seed, **opts)
    save_onnx(graph, out)
    console().print(f"wrote {out}: {args.name}, {graph_params(graph):,} params, {graph_flops(graph):,} FLOPs, "
                    f"input {list(graph.inputs[0].shape)}")
    return 0


# ---------------------------------------------------------------------------------------------------
# train
# ---------------------------------------------------------------------------------------------------


DATASET_HELP = ("digits or synthetic (built in); cifar10, cifar100, mnist, fashion-mnist (local folder); imagefolder "
                "(one sub-folder per class), npz (arrays); or an alphanas.datasets plug-in (see docs/data.md)")


def _data_options(p: argparse.ArgumentParser) -> None:
    """The options of the data source, shared by ``train`` and ``search``."""
    p.add_argument("--data-dir", help="the data folder (imagefolder, cifar10, cifar100, mnist, fashion-mnist) or "
                                      "file/folder (npz); cifar10 defaults to $ALPHANAS_CIFAR10")
    p.add_argument("--split-seed", type=int, default=0, help="seed of the train/validation/test split (default 0)")
    p.add_argument("--image-size", type=int, metavar="N", help="imagefolder: resize every image to NxN")
    p.add_argument("--channels", type=int, choices=(1, 3), help="imagefolder: 1 (grey) or 3 (RGB); default: the "
                                                                "first image's")
    p.add_argument("--skip-corrupt", action="store_true",
                   help="imagefolder: skip (count and list) unreadable images instead of stopping")


def _dataset_options(args) -> dict:
    """The data-source options given on the command line (only those, so other sources reject them by name)."""
    opts: dict = {}
    if args.image_size is not None:
        opts["image_size"] = args.image_size
    if args.channels is not None:
        opts["channels"] = args.channels
    if args.skip_corrupt:
        opts["skip_corrupt"] = True
    return opts


def _report_skipped(ds) -> None:
    skipped = getattr(ds, "skipped", [])
    if skipped:
        sys.stderr.write(f"alphanas: skipped {len(skipped)} corrupt image(s): {', '.join(skipped)}\n")


def write_class_list(ds, path: Path) -> Path | None:
    """The dataset's class names, one a line (label 0 first), written to ``path`` (when it has names)."""
    names = list(getattr(ds, "class_names", []) or [])
    if not names:
        return None
    path.write_text("".join(f"{n}\n" for n in names))
    return path


def _precision_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--precision", choices=("auto", "fp32", "bf16", "fp16"), default="auto",
                   help="training precision: autocast to bf16/fp16 (fp16 with a loss scaler); auto: bf16 on CUDA "
                   "devices that support it, fp32 on the CPU (default)")
    p.add_argument("--channels-last", choices=("auto", "on", "off"), default="auto",
                   help="NHWC memory layout; auto: measured per model on CUDA at reduced precision, off on the CPU")
    p.add_argument("--compile", action="store_true", help="run the lowered module through torch.compile "
                   "(its compile time is reported)")
    p.add_argument("--deterministic", action="store_true", help="deterministic kernels on CUDA (slower; "
                   "see docs/training.md); on the CPU runs are deterministic anyway")


@command("train", "train a model (ONNX file or zoo) on a dataset and write it as ONNX with the trained weights")
def _train_args(p: argparse.ArgumentParser) -> None:
    _precision_options(p)
    p.add_argument("model", nargs="?", help="ONNX model file (or use --zoo NAME)")
    p.add_argument("--zoo", metavar="NAME", help="build zoo model NAME for the dataset's input shape and classes")
    p.add_argument("--dataset", required=True, help=DATASET_HELP)
    _data_options(p)
    p.add_argument("--epochs", type=int, required=True, help="number of epochs")
    p.add_argument("--batch-size", type=int, default=128, help="training batch size (default 128)")
    p.add_argument("--lr", type=float, help="peak learning rate (default 0.1 for sgd, 1e-3 for adam/adamw)")
    p.add_argument("--optimizer", choices=("sgd", "adam", "adamw"), default="sgd", help="default sgd (momentum 0.9)")
    p.add_argument("--weight-decay", type=float, help="default 5e-4 sgd, 0 adam, 0.05 adamw (never on biases/norms)")
    p.add_argument("--warmup-epochs", type=float, help="linear warm-up before the cosine decay (default min(5, epochs/10))")
    p.add_argument("--label-smoothing", type=float, default=0.0, help="default 0")
    p.add_argument("--augment", choices=("auto", "none", "flip_crop"), default="auto",
                   help="auto: flip+crop for cifar10, none otherwise")
    p.add_argument("--device", default="auto", help="auto (cuda if available), cpu, cuda or cuda:N")
    p.add_argument("--threads", type=int, default=0,
                   help="torch CPU threads (default: 1 for small models, where it is fastest, else all cores)")
    p.add_argument("--seed", type=int, default=0, help="seed of shuffling, augmentation and zoo weights (default 0)")
    p.add_argument("--max-minutes", type=float, help="stop after this much training time and keep what was reached")
    p.add_argument("--checkpoint", help="checkpoint file (default OUT.ckpt, deleted after success); a rerun resumes")
    p.add_argument("--no-checkpoint", action="store_true", help="do not save a checkpoint")
    p.add_argument("-o", "--output", required=True, help="output .onnx path for the trained model")
    p.add_argument("--force", action="store_true", help="overwrite an existing output file")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    _task_options(p)
    p.add_argument("--streaming", choices=("auto", "on", "off"), default="auto",
                   help="stream batches through a DataLoader (auto: when the data exceeds 2 GiB or is memory-mapped)")
    p.add_argument("--workers", dest="loader_workers", type=int, default=2,
                   help="DataLoader worker processes when streaming (default 2; 0: load in this process)")
    p.add_argument("--embed-preprocessing", action="store_true",
                   help="put the input normalisation (mean/std) into the graph: the model then takes raw pixels")
    p.set_defaults(func=cmd_train)


def _task_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--task", choices=("classification", "multilabel", "regression"), default="classification",
                   help="classification (cross-entropy; top-1, top-5; default), multilabel (BCE; mAP) or regression "
                   "(MSE; MSE, MAE)")


def cmd_train(args) -> int:
    from rich.console import Console
    from alphanas.table import Table

    from alphanas.data import load_dataset
    from alphanas.ir import load_onnx, save_onnx
    from alphanas.train import TrainingInterrupted, check_compatible, resolve_device, train

    if (args.model is None) == (args.zoo is None):
        raise AlphanasError("give either a model file or --zoo NAME (exactly one of them)")
    out = check_output_path(args.output, [args.model] if args.model else [], args.force)
    if args.checkpoint and args.no_checkpoint:
        raise AlphanasError("--checkpoint and --no-checkpoint contradict each other; give one of them")
    ds = load_dataset(args.dataset, root=args.data_dir, seed=args.split_seed, task=args.task, **_dataset_options(args))
    dims = "x".join(map(str, ds.input_shape))
    if args.zoo:
        from alphanas import zoo

        if len(ds.input_shape) != 3 or ds.input_shape[1] != ds.input_shape[2]:
            raise AlphanasError(f"zoo models take square images [C, H, H]; dataset {ds.name!r} gives {dims} samples; "
                                "pass a model file built for them (or --image-size N for an image folder)")
        from alphanas.train.tasks import get_task

        c, h, _ = ds.input_shape
        graph = zoo.build(args.zoo, input_size=h, in_channels=c, num_classes=get_task(args.task).outputs(ds),
                          seed=args.seed)
        source = f"zoo:{args.zoo}"
    else:
        from alphanas.train.inference import sample_input_shapes

        graph = load_onnx(args.model)
        bound = sample_input_shapes(graph, ds)  # the model's symbolic sample sizes take the data's
        if bound is not None:
            graph = load_onnx(args.model, input_shapes=bound)
        source = args.model
    check_compatible(graph, ds, args.task)
    _report_skipped(ds)
    if resolve_device(args.device).type == "cpu":  # (resolving first fails before the progress bar starts)
        import torch

        from alphanas.train import cpu_threads

        torch.set_num_threads(cpu_threads(graph, args.batch_size, args.threads))
    ckpt = None if args.no_checkpoint else Path(args.checkpoint or f"{out}.ckpt")
    if ckpt is not None and args.checkpoint:  # (the default sits beside the output, checked above)
        from alphanas.console import check_writable_folder

        if ckpt.is_dir():
            raise AlphanasError(f"--checkpoint {ckpt}: is a directory; give a file path")
        check_writable_folder(ckpt.parent, f"--checkpoint {ckpt}: cannot be written")
    err = Console(stderr=True, highlight=False)
    if ckpt is not None and ckpt.exists():
        err.print(f"resuming from checkpoint {ckpt}")
    try:
        with rich_progress(console=err, description="train") as bar:
            result = train(graph, ds, args.epochs, batch_size=args.batch_size, lr=args.lr, optimizer=args.optimizer,
                           weight_decay=args.weight_decay, warmup_epochs=args.warmup_epochs,
                           label_smoothing=args.label_smoothing, augment=args.augment, device=args.device,
                           seed=args.seed, progress=bar, max_minutes=args.max_minutes, checkpoint=ckpt,
                           task=args.task, streaming={"auto": None, "on": True, "off": False}[args.streaming],
                           workers=args.loader_workers, precision=args.precision, channels_last=args.channels_last,
                           compile=args.compile, deterministic=args.deterministic or None)
    except TrainingInterrupted as e:
        sys.stderr.write(f"alphanas: {e}\n")
        return 130
    from alphanas.train.preprocessing import attach_preprocessing

    save_onnx(attach_preprocessing(result.graph, ds, task=args.task, embed=args.embed_preprocessing), out)
    if ckpt is not None and not args.checkpoint:
        ckpt.unlink(missing_ok=True)
    classes = write_class_list(ds, out.with_name(out.stem + ".classes.txt"))
    rep = {"model": source, "dataset": ds.summary(), "output": str(out), **result.to_dict(),
           "classes": str(classes) if classes else None, "skipped": list(getattr(ds, "skipped", []))}
    if args.json:
        print(json.dumps(rep, indent=2, default=str))
        return 0
    t = Table(title=f"trained {source} on {ds.name}")
    t.add_column("metric")
    t.add_column("value", justify="right")
    if result.task == "classification":
        rows = [("validation accuracy", f"{100 * result.val_acc:.2f}% (best epoch {result.best_epoch})"),
                ("test accuracy", f"{100 * result.test_acc:.2f}%")]
    else:
        rows = [(f"{split} {k}", f"{v:.6g}" + (f" (best epoch {result.best_epoch})" if split == "validation" and i == 0
                                              else ""))
                for split, ms in (("validation", result.val_metrics), ("test", result.test_metrics))
                for i, (k, v) in enumerate(ms.items())]
    rows += [
        ("epochs", f"{result.epochs_completed}/{args.epochs}"
                   + ("" if result.stopped == "completed" else f" ({result.stopped})")),
        ("params", f"{result.params:,}"),
        ("FLOPs (batch 1)", f"{result.flops:,}"),
        ("wall time", f"{result.wall_time:.1f} s on {result.device}" + (" (streamed)" if result.streamed else "")),
        ("data (train/val/test)", f"{ds.name} {dims}, {len(ds.y_train)}/{len(ds.y_val)}/{len(ds.y_test)}"),
    ]
    for k, v in rows:
        t.add_row(k, v)
    c_ = console()
    c_.print(t)
    if result.diverged:
        c_.print("[yellow]training diverged (loss became NaN/inf); the weights of the best validation epoch were kept; "
                 "try a lower --lr[/]")
    c_.print(f"wrote {out}" + (f" and its class list {classes}" if classes else ""))
    return 0


# ---------------------------------------------------------------------------------------------------
# rewrite
# ---------------------------------------------------------------------------------------------------


@command("rewrite", "run graph passes (default pipeline or --pass NAME ...) and print a before/after table")
def _rewrite_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", nargs="?", help="input ONNX model (never modified)")
    p.add_argument("-o", "--output", help="output .onnx path")
    p.add_argument("--pass", dest="passes", action="append", metavar="NAME",
                   help="pass to run (repeatable, in order); default: the built-in pipeline")
    p.add_argument("--plugin", action="append", default=[], metavar="MODULE",
                   help="import MODULE and register the passes it defines (repeatable)")
    p.add_argument("--verify", action="store_true",
                   help="compare outputs with the original under onnxruntime on random inputs (a dynamic model at two sizes); "
                   "a pass whose result differs is undone and named; refuse to write on mismatch")
    p.add_argument("--tolerance", type=float, default=None, help="largest scaled output difference --verify accepts "
                   "(default 1e-4)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random inputs of --verify")
    p.add_argument("--input-value", action="append", default=[], metavar="NAME:VALUE",
                   help="--verify feeds input NAME this value (a number, or numbers separated by commas), e.g. "
                   "sr:8000 (repeatable; default: random, and 16000 for an audio model's scalar sr)")
    p.add_argument("--max-rounds", type=int, default=10,
                   help="most rounds of the pass sequence (default 10); still changing after the last is an error")
    p.add_argument("--target-opset", type=int, default=None, metavar="N",
                   help="write the default-domain opset N (converted with onnx.version_converter); default: the model's own")
    p.add_argument("--list", action="store_true", help="list the available passes (plug-ins included) and exit")
    p.add_argument("--json", action="store_true", help="print the result (counts, per-pass effects) as JSON")
    p.add_argument("--force", action="store_true", help="overwrite an existing output file")
    _input_shape_option(p)
    p.set_defaults(func=cmd_rewrite)


def _check_runs_in_onnxruntime(graph, model: str, why: str | None = None) -> None:
    """Refuse, in one line, a model onnxruntime cannot load (an op of a custom domain, say); ``why`` says
    what needs the run (default: ``rewrite --verify``)."""
    from alphanas.errors import one_line
    from alphanas.ir.runtime import session

    try:
        session(graph, "cpu", optimize=False)
    except AlphanasError:
        raise
    except Exception as e:  # onnxruntime's own errors (Fail, InvalidGraph, NotImplemented)
        if why is not None:
            raise AlphanasError(f"onnxruntime cannot run {model} ({one_line(e, 300)}); {why}") from None
        raise AlphanasError(f"--verify: onnxruntime cannot run {model} ({one_line(e, 300)}), so its rewrite cannot "
                            "be verified; run without --verify (the ONNX checker still guards every pass)") from None


def _stderr_console():
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True)


def cmd_rewrite(args) -> int:
    from rich.progress import BarColumn, Progress, TextColumn

    from alphanas import passes
    from alphanas.ir import save_onnx
    from alphanas.passes import report
    from alphanas.passes.builtin import DEFAULT_PIPELINE
    from alphanas.passes.equivalence import DEFAULT_TOLERANCE, compare, rewrite_guard

    for mod in args.plugin:
        passes.load_plugin(mod)
    c = console()
    if args.list:
        from alphanas.table import Table

        from alphanas.passes.registry import origin

        t = Table(title="passes")
        for col in ("name", "description", "from"):
            t.add_column(col, wrap=col == "description")
        for name, cls in passes.available().items():
            t.add_row(name + (" *" if name in DEFAULT_PIPELINE else ""), cls.description(), origin(name))
        c.print(t)
        c.print("* in the default pipeline")
        return 0
    if not args.model or not args.output:
        raise AlphanasError("rewrite: give an input model and -o OUTPUT.onnx (or --list to see the passes)")
    out = check_output_path(args.output, [args.model], args.force)
    _check_target_opset(args.target_opset)
    names = args.passes or list(DEFAULT_PIPELINE)
    pm = passes.pipeline(names, max_rounds=args.max_rounds)
    graph = _load(args.model, args)  # with --input-shape, the graph's inputs (and so its shapes) are static
    tol = DEFAULT_TOLERANCE if args.tolerance is None else args.tolerance
    # every graph a pass changes must pass the checker and load in onnxruntime (with --verify: compute
    # the same outputs); a pass whose result does not is undone and named below
    from alphanas.ir.runtime import parse_input_values

    values = parse_input_values(args.input_value)
    if args.verify:  # a model onnxruntime cannot run cannot be verified: say so before any pass runs
        _check_runs_in_onnxruntime(graph, args.model)
    pm.guard = rewrite_guard(graph, verify=args.verify, tolerance=tol, seed=args.seed, input_values=values)
    with Progress(TextColumn("[progress.description]{task.description}"), BarColumn(),
                  TextColumn("{task.completed}/{task.total} passes"), console=c, transient=True,
                  disable=not c.is_terminal) as bar:
        task = bar.add_task("rewriting", total=len(names))

        def step(rec):
            bar.update(task, completed=len(pm.history) % len(names) or len(names),
                       description=f"round {rec.round}: {rec.name} ({rec.nodes_after} nodes)")

        pm.on_pass = step
        result = pm.run(graph)
    rewritten = result.graph
    warn = _stderr_console() if args.json else c  # (with --json, stdout holds only the JSON)
    comparison = report.compare_summaries(graph, rewritten)
    effects = report.pass_effects(pm.history)
    rounds = max((r.round for r in pm.history), default=0)
    if not args.json:
        c.print(report.table(comparison, title=f"rewrite {args.model}"))
        c.print(f"passes ({rounds} round{'s' if rounds != 1 else ''}):")
        for e in effects:
            c.print(f"  {report.explain(e)}")
    for p in pm.passes:
        for node, why in getattr(p, "refused_nodes", {}).items():
            warn.print(f"[yellow]{p.name} left node {node!r} as it was[/]: {why}")
    named = [name for name in pm.refused if args.passes and name in args.passes]
    if named:  # the user asked for this pass by name: leaving it out silently would not be what was asked
        what = "verification failed" if args.verify else "the rewrite is refused"
        raise AlphanasError(f"{what}, {out} not written: pass {named[0]!r} {pm.refused[named[0]]} "
                            "(report the pass sequence above, or run without the offending --pass)")
    for name, why in pm.refused.items():
        warn.print(f"[yellow]pass {name!r} refused (its result was undone)[/]: {why}")
    if args.verify:
        eq = compare(graph, rewritten, seed=args.seed, tolerance=tol, input_values=values)
        if not eq.ok:
            raise AlphanasError(f"verification failed, {out} not written: {eq.message} "
                                "(report the pass sequence above, or run without the offending --pass)")
        if not args.json:
            c.print(f"verified with onnxruntime: {eq.message}")
    # atomic (temporary file + rename); weights beside it when the input kept them there, or over 2 GB
    save_onnx(rewritten, out, target_opset=args.target_opset)
    if args.json:
        print(json.dumps({"input": args.model, "output": str(out), "before": comparison["before"],
                          "after": comparison["after"], "rounds": rounds, "passes": effects,
                          "refused": pm.refused, "verified": bool(args.verify)}, indent=2, default=str))
        return 0
    c.print(f"wrote {out}")
    return 0


# ---------------------------------------------------------------------------------------------------
# mutate
# ---------------------------------------------------------------------------------------------------


#: the synthesizers of :data:`alphanas.synth.SYNTHESIZERS`, spelled out so that ``--help`` does not import
#: the synthesizers (egglog); a test keeps the two equal
SYNTHESIZERS = ("egraph", "progressive", "progressive-cached")


@command("mutate", "one property-guided mutation: select a subgraph, mutate its properties, synthesize, splice, verify")
def _mutate_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="input ONNX model (never modified)")
    p.add_argument("-o", "--output", required=True, help="output .onnx path")
    p.add_argument("--seed", type=int, default=0, help="seed of the subgraph choice, property mutation and synthesis")
    p.add_argument("--synth", default="egraph", choices=SYNTHESIZERS, help="synthesizer (default egraph)")
    p.add_argument("--block", default=None, metavar="NAME", help="select the subgraph inside this block "
                   "(names as 'alphanas inspect' lists them)")
    p.add_argument("--budget-ms", type=float, default=10000.0,
                   help="time budget of the whole mutation, verification included (default 10000)")
    p.add_argument("--p", type=float, default=0.5, help="property mutation probability (αNAS CIFAR: 0.5)")
    p.add_argument("--target-opset", type=int, default=None, metavar="N",
                   help="write the default-domain opset N (converted with onnx.version_converter); default: the model's own")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--force", action="store_true", help="overwrite an existing output file")
    _input_shape_option(p)
    p.set_defaults(func=cmd_mutate)


def _nodes_table(graph, title: str):
    from alphanas.table import Table

    from alphanas.ir import cost

    t = Table(title=title)
    for col in ("node", "op", "output shape", "params", "FLOPs"):
        t.add_column(col, justify="right" if col in ("params", "FLOPs") else "left")
    for n in graph.nodes:
        shape = n.outputs[0].shape
        t.add_row(n.name, n.op_type, "?" if shape is None else "x".join(str(d) for d in shape),
                  str(0 if n.is_opaque else n.opdef.params(n)), _count(cost.node_flops_or_none(n, graph)))
    return t


def _described(prop, empty: str = "none") -> str:
    """A property's description, ``empty`` when it requires nothing (no blank ``target:`` line)."""
    text = prop.describe()
    pairs = getattr(prop, "pairs", None)
    if callable(pairs) and not list(pairs()):  # (a mixing property with no pair left requires nothing)
        return empty
    return text if text.strip() else empty


def _change(before: int | None, after: int | None) -> str:
    """The exact change in a count beside its percentage: ``+1,536 (+0.15%)``; ``0`` when unchanged."""
    if before is None or after is None:
        return "?"
    d = after - before
    if d == 0:
        return "0"
    if not before:
        return f"{d:+,}"
    pct = 100 * d / before
    return f"{d:+,} ({pct:+.2g}%)" if abs(pct) < 0.1 else f"{d:+,} ({pct:+.1f}%)"


def _check_target_opset(opset: int | None) -> None:
    """Refuse a ``--target-opset`` outside the opsets alphanas writes before any work starts."""
    if opset is None:
        return
    from alphanas.ir.onnx_io import MAX_IMPORT_OPSET, MIN_CANONICAL_OPSET

    if not MIN_CANONICAL_OPSET <= opset <= MAX_IMPORT_OPSET:
        raise AlphanasError(f"--target-opset: got {opset}; give an opset from {MIN_CANONICAL_OPSET} to "
                            f"{MAX_IMPORT_OPSET} (those alphanas writes with the installed onnx)")


def cmd_mutate(args) -> int:
    from alphanas.ir import cost, save_onnx

    if args.budget_ms <= 0:
        raise AlphanasError("--budget-ms: give a positive time budget in milliseconds")
    if not 0 <= args.p <= 1:
        raise AlphanasError("--p: give a probability between 0 and 1")
    out = check_output_path(args.output, [args.model], args.force)
    _check_target_opset(args.target_opset)
    graph = _load(args.model, args)
    _check_runs_in_onnxruntime(graph, args.model, "every mutation is verified by running the whole model in "
                               "onnxruntime, so this model cannot be mutated (replace or register the op first)")
    # in a worker process that is killed once the budget (plus a small slack) is spent, whatever the stage
    from alphanas.search.sandbox import SynthesisSandbox

    box = SynthesisSandbox(single_thread=False)
    try:
        res = box.mutate(graph, seed=args.seed, synthesizer=args.synth, block=args.block, p=args.p,
                         budget_s=args.budget_ms / 1e3)
    finally:
        box.close()
    before, after = cost.summary(graph), cost.summary(res.graph)
    save_onnx(res.graph, out, target_opset=args.target_opset)
    if args.json:
        nodes = lambda g: [{"name": n.name, "op": n.op_type, "shape": list(n.outputs[0].shape or ())}  # noqa: E731
                           for n in g.nodes]
        print(json.dumps({"output": str(out), "synthesizer": args.synth, "seed": args.seed,
                          "old": nodes(res.old), "new": nodes(res.new), "description": res.description,
                          "original": {k: v.to_json() for k, v in res.original.items()},
                          "target": {k: v.to_json() for k, v in res.target.items()},
                          "achieved": {k: v.to_json() for k, v in res.achieved.items()},
                          "before": before, "after": after, "synth_ms": res.synth_ms,
                          "verify_ms": res.verify_ms, "elapsed_ms": res.elapsed_ms, "budget_ms": args.budget_ms,
                          "draws": res.draws, "not_lowered": res.not_lowered}, indent=2, default=str))
        return 0
    from alphanas.table import Table

    c = console()
    c.print(_nodes_table(res.old, "old subgraph"))
    c.print(_nodes_table(res.new, "new subgraph"))
    c.print(f"new: {res.description}")
    for name in res.target:
        c.print(f"[bold]{name}[/bold]\n  original: {_described(res.original[name])}\n"
                f"  target:   {_described(res.target[name], 'none (the mutation relaxed every requirement away)')}\n"
                f"  achieved: {_described(res.achieved[name])}")
    t = Table(title=f"{args.model} -> {out}")
    for col in ("", "before", "after", "change"):
        t.add_column(col, justify="left" if not col else "right")
    for key in ("nodes", "params", "flops"):
        b, a = before[key], after[key]
        t.add_row(key, _count(b), _count(a), _change(b, a))
    c.print(t)
    if res.not_lowered:
        c.print(f"[yellow]the model does not lower to torch[/] ({res.not_lowered}): the rest was mutated; the whole "
                "model was checked by onnxruntime, the new region also by a torch step; alphanas cannot train it",
                highlight=False)
    c.print(f"synthesis {res.synth_ms:.0f} ms ({args.synth}), splice-and-verify {res.verify_ms:.0f} ms, whole mutation "
            f"{res.elapsed_ms or 0:.0f} ms of a {args.budget_ms:.0f} ms budget; wrote {out}")
    return 0


# ---------------------------------------------------------------------------------------------------
# bench
# ---------------------------------------------------------------------------------------------------


@command("bench", "onnxruntime latency and throughput of one or more models, side by side")
def _bench_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("models", nargs="+", help="ONNX models; ratios are relative to the first")
    p.add_argument("--provider", default="cpu", choices=("cpu", "cuda"), help="onnxruntime execution provider")
    p.add_argument("--batch", default="1", help="batch sizes, comma separated (e.g. 1,32)")
    p.add_argument("--warmup", type=int, default=5, help="untimed runs before timing (default 5)")
    p.add_argument("--repeats", type=int, default=30, help="timed runs per model and batch (default 30)")
    p.add_argument("--threads", type=int, default=None, help="onnxruntime intra-op threads (default: all cores)")
    p.add_argument("--no-ort-optimize", dest="optimize", action="store_false",
                   help="turn off onnxruntime's own graph optimizations (to see what a rewrite alone changes)")
    p.add_argument("--json", action="store_true", help="print a JSON list of rows instead of a table")
    _input_shape_option(p)
    p.set_defaults(func=cmd_bench)


def cmd_bench(args) -> int:
    from rich.progress import Progress

    from alphanas import latency
    from alphanas.ir import parse_input_shapes

    input_shapes = parse_input_shapes(args.input_shape)
    batches = parse_int_list(args.batch, "--batch")
    if not batches:
        raise AlphanasError("--batch: give at least one batch size, e.g. --batch 1,32")
    if min(batches) < 1:
        raise AlphanasError(f"--batch: got {min(batches)}; batch sizes must be >= 1")
    total = len(batches) * len(args.models)
    c = console()
    with Progress(console=c, transient=True, disable=args.json or not c.is_terminal) as bar:
        task = bar.add_task("measuring", total=total)
        rows = latency.benchmark(args.models, providers=[args.provider], batches=batches, warmup=args.warmup,
                                 repeats=args.repeats, threads=args.threads, optimize=args.optimize,
                                 input_shapes=input_shapes, on_step=lambda name: bar.advance(task))
    if args.json:
        print(latency.to_json(rows))
    else:
        c.print(latency.table(rows))
        c.print("ratio: median latency / the first model's median (same provider and batch, this run)")
    return 0


# ---------------------------------------------------------------------------------------------------
# benchmark: python -m alphanas.bench.NAME, from the CLI
# ---------------------------------------------------------------------------------------------------


def list_benchmarks() -> dict[str, str]:
    """Benchmark name -> the first line of its docstring, for every module of :mod:`alphanas.bench` that
    defines ``main`` (read from the source: nothing is imported)."""
    import ast
    import importlib.util

    spec = importlib.util.find_spec("alphanas.bench")
    root = Path(list(spec.submodule_search_locations)[0]) if spec and spec.submodule_search_locations else None
    out: dict[str, str] = {}
    for path in sorted(root.iterdir()) if root else []:
        src = path / "__init__.py" if path.is_dir() else path
        if path.name.startswith("_") or src.suffix != ".py" or not src.is_file():
            continue
        tree = ast.parse(src.read_text(encoding="utf-8"))
        names = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
        names |= {a.asname or a.name for n in tree.body if isinstance(n, ast.ImportFrom) for a in n.names}
        if "main" in names:
            doc = (ast.get_docstring(tree) or "").strip().split("\n\n")[0].replace("\n", " ")
            out[path.stem] = doc.split(". ")[0].rstrip(".")  # its first sentence
    return out


class _BenchmarkHelp(argparse.RawDescriptionHelpFormatter):
    pass


@command("benchmark", "run a benchmark script of alphanas.bench (same as python -m alphanas.bench.NAME)")
def _benchmark_args(p: argparse.ArgumentParser) -> None:
    p.formatter_class = _BenchmarkHelp
    p.epilog = "benchmarks (each takes --help):\n" + "\n".join(
        f"  {name:<12} {doc}" for name, doc in list_benchmarks().items())
    p.add_argument("name", help="benchmark module in alphanas.bench (listed below)")
    p.add_argument("args", nargs=argparse.REMAINDER, help="arguments for the benchmark (see its --help)")
    p.set_defaults(func=cmd_benchmark)


def cmd_benchmark(args) -> int:
    import importlib
    import pkgutil

    import alphanas.bench as bench

    available = sorted(m.name for m in pkgutil.iter_modules(bench.__path__) if hasattr(
        importlib.import_module(f"alphanas.bench.{m.name}"), "main"))
    if args.name not in available:
        raise AlphanasError(f"unknown benchmark {args.name!r}; available: {', '.join(available) or 'none'}")
    # a benchmark's own argparse errors are one line too (argparse prints its usage first otherwise)
    one_line, argparse.ArgumentParser.error = argparse.ArgumentParser.error, _Parser.error  # type: ignore[method-assign]
    try:
        return int(importlib.import_module(f"alphanas.bench.{args.name}").main(args.args) or 0)
    finally:
        argparse.ArgumentParser.error = one_line  # type: ignore[method-assign]


# ---------------------------------------------------------------------------------------------------
# search, report
# ---------------------------------------------------------------------------------------------------


@command("search", "evolutionary architecture search from a seed model; resumable; no arguments: the embedded default")
def _search_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--precision", choices=("auto", "fp32", "bf16", "fp16"), default="auto",
                   help="training precision of the candidates (auto: bf16 on CUDA that supports it, else fp32)")
    p.add_argument("--deterministic", action="store_true", help="deterministic kernels on CUDA (slower)")
    p.add_argument("seed_model", nargs="?", metavar="SEED.onnx", help="seed model (default: --zoo resnet_small)")
    p.add_argument("--zoo", metavar="NAME", help="zoo seed model built for the dataset (default resnet_small)")
    p.add_argument("--dataset", default="digits", help=DATASET_HELP + " (default digits)")
    _data_options(p)
    p.add_argument("--trials", type=int, default=30, help="candidates to evaluate, the seed included (default 30)")
    p.add_argument("--epochs", type=int, default=5, help="training epochs per candidate (default 5)")
    p.add_argument("--batch-size", type=int, default=64, help="training batch size (default 64)")
    p.add_argument("--lr", type=float, help="peak learning rate (default 0.1, SGD)")
    p.add_argument("--objectives",
                   help="comma list of accuracy, params, flops, latency_ms, a task metric (val_top5, val_map, val_mse, "
                   "...) or an evaluator's metric as NAME:max or NAME:min (default: the task's own metric and params: "
                   "accuracy,params; val_map,params; val_mse,params)")
    p.add_argument("--out", default="alphanas-search", help="search folder (default ./alphanas-search); a rerun resumes")
    p.add_argument("--seed", type=int, default=0, help="search seed (default 0): same seed, same search")
    p.add_argument("--strategy", choices=("property", "random_edit", "random", "surrogate"), default="property",
                   help="property: αNAS (default); random_edit: Primer-style edits; random: random search; "
                   "surrogate: αNAS whose mutants a predictor learnt on the evaluated candidates screens")
    p.add_argument("--selection", choices=("pareto", "regularized", "tournament"), default="pareto",
                   help="parent selection (default pareto: near the Pareto front)")
    p.add_argument("--synthesizer", choices=("egraph", "progressive"), default="egraph", help="default egraph")
    p.add_argument("--pick", choices=("random", "cheapest"), default="random",
                   help="which satisfying subgraph synthesis returns: random (αNAS, default) or cheapest (fewest FLOPs)")
    p.add_argument("--focus", choices=("none", "params", "flops"), default="none",
                   help="where mutations act: none (uniformly, αNAS; default) or in proportion to params/FLOPs")
    p.add_argument("--max-params", type=float, help="reject candidates with more parameters (e.g. 1e6)")
    p.add_argument("--max-flops", type=float, help="reject candidates with more FLOPs")
    p.add_argument("--max-latency-ms", type=float, help="reject candidates slower than this (onnxruntime, batch 1)")
    p.add_argument("--executor", choices=("local", "process", "ray"), default="local",
                   help="local: in this process (default); process: a process pool; ray: a Ray cluster")
    p.add_argument("--workers", type=int, help="parallel evaluations (default 1 local, 2 process/ray)")
    p.add_argument("--address", help="Ray cluster address (with --executor ray; default: a local Ray instance)")
    p.add_argument("--inherit", action="store_true", help="start training from the parent's weights where they fit")
    p.add_argument("--proxy", choices=("synflow", "grad_norm"), help="zero-cost proxy pre-screen of mutants")
    p.add_argument("--proxy-keep", type=float, default=0.5, help="fraction of screened mutants kept (default 0.5)")
    p.add_argument("--device", default="auto", help="training device: auto (cuda if available), cpu, cuda")
    p.add_argument("--threads", type=int, default=1, help="torch threads in this process (default 1: fastest for "
                   "small candidates; 0: torch's default)")
    p.add_argument("--json", action="store_true", help="print the front as JSON")
    p.add_argument("--num-classes", type=int, help="re-target the seed model's classifier head to this many classes "
                   "(other weights kept); with --dataset synthetic, also its class count")
    p.add_argument("--input-size", type=int, help="--dataset synthetic: image height and width (default 8)")
    p.add_argument("--in-channels", type=int, help="--dataset synthetic: image channels (default 1)")
    _task_options(p)
    p.add_argument("--evaluator", metavar="MODULE:FUNCTION",
                   help="evaluate candidates with this function (or alphanas.evaluators entry point) instead of training")
    p.add_argument("--constraint", action="append", default=[], metavar="METRIC<=X",
                   help="reject candidates outside a bound on any metric, e.g. val_mae<=0.5 or r2>=0.8 (repeatable)")
    p.add_argument("--pipeline", choices=("on", "off"), default="on",
                   help="on (default): propose candidates concurrently with training; off: one after another")
    p.add_argument("--generation", type=int, metavar="N",
                   help="pipelined: generations of N trials proposed from the same population, so the same seed "
                   "gives the same search (default: twice the workers); 0: asynchronous (freshest parents, "
                   "depends on timing)")
    p.add_argument("--per-device", type=int, metavar="N",
                   help="candidates trained at once on each GPU (--executor process: one pool per GPU; ray: "
                   "1/N of a GPU per candidate)")
    p.add_argument("--estimate", default="none", metavar="kfold:K|seeds:R|none",
                   help="after the search, re-estimate the seed and the --shortlist smallest candidates near it "
                   "(kfold:K: K-fold cross-validation over train+validation from each one's initial weights; seeds:R: "
                   "R retrainings) and choose the smallest within --tolerance of the seed; writes OUT/estimate.json "
                   "(default none)")
    p.add_argument("--shortlist", type=int, default=6, metavar="M", help="with --estimate: candidates retrained "
                   "besides the seed (default 6)")
    p.add_argument("--tolerance", type=float, default=0.5, help="with --estimate: allowed accuracy loss in points "
                   "(default 0.5)")
    p.set_defaults(func=cmd_search)


def _search_estimate(args, cfg) -> dict | None:
    """``alphanas search --estimate``: the accuracy estimate of the finished search (or None without it)."""
    from rich.console import Console

    from alphanas.search.estimate import estimate, estimate_table, parse_estimate, write_estimate
    from alphanas.search.run import make_evaluator

    spec = parse_estimate(args.estimate)
    if spec is None:
        return None
    err = Console(stderr=True, highlight=False)
    est = estimate(args.out, make_evaluator(cfg), spec, tolerance=args.tolerance, shortlist_size=args.shortlist,
                   search_seed=args.seed, threads=cfg.threads,
                   on_training=lambda name: err.print(f"estimate {spec}: training {name}"))
    write_estimate(args.out, est)
    if not args.json:
        console().print(estimate_table(est))
    return est


def cmd_search(args) -> int:
    from rich.console import Console

    from alphanas.search.report import write_report
    from alphanas.search.run import SearchConfig, SearchProgress, front_table, run_search

    cfg = SearchConfig(seed_model=args.seed_model, zoo=args.zoo, dataset=args.dataset, data_dir=args.data_dir,
                       split_seed=args.split_seed, dataset_options=_dataset_options(args),
                       trials=args.trials, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                       objectives=args.objectives, out=args.out, seed=args.seed, strategy=args.strategy,
                       selection=args.selection, synthesizer=args.synthesizer, max_params=args.max_params,
                       max_flops=args.max_flops, max_latency_ms=args.max_latency_ms, executor=args.executor,
                       workers=args.workers, address=args.address, inherit=args.inherit, proxy=args.proxy,
                       proxy_keep=args.proxy_keep, device=args.device, threads=args.threads or None,
                       pick=args.pick, focus=None if args.focus == "none" else args.focus, task=args.task,
                       evaluator=args.evaluator, constraints=list(args.constraint), precision=args.precision,
                       deterministic=args.deterministic, pipeline=args.pipeline == "on", generation=args.generation,
                       per_device=args.per_device,
                       num_classes=args.num_classes, input_size=args.input_size, in_channels=args.in_channels)
    if args.seed_model and not Path(args.seed_model).is_file():
        raise AlphanasError(f"{args.seed_model}: no such file")
    out_dir = Path(args.out)
    if out_dir.exists() and not out_dir.is_dir():
        raise AlphanasError(f"{out_dir}: is a file; give a folder for --out (it is created when missing)")
    from alphanas.console import check_writable_folder

    check_writable_folder(out_dir if out_dir.exists() else out_dir.parent, f"--out {out_dir}: cannot be written")
    from alphanas.search.estimate import parse_estimate

    parse_estimate(args.estimate)  # a bad --estimate fails here, not after the search
    try:
        from alphanas.search.objectives import quality_metric
        from alphanas.search.run import search_objectives

        metric, sense = quality_metric(search_objectives(cfg))
        with SearchProgress(Console(stderr=True, highlight=False), args.trials, metric, sense) as bar:
            result = run_search(cfg, on_event=bar)
    except KeyboardInterrupt:
        sys.stderr.write(f"alphanas: interrupted; every finished trial is saved in {out_dir}; resume with the "
                         "same command (e.g. alphanas search ... --out " + str(out_dir) + ")\n")
        return 130
    check_search_folder(out_dir)  # (all trials failed: say why, not "run the search first")
    report = write_report(args.out)
    est = _search_estimate(args, cfg)
    skipped_file = Path(args.out) / "skipped.txt"
    if skipped_file.is_file():
        skipped = skipped_file.read_text().split("\n")[:-1]
        sys.stderr.write(f"alphanas: skipped {len(skipped)} corrupt image(s), listed in {skipped_file}: "
                         f"{', '.join(skipped)}\n")
    if args.json:
        print(json.dumps({"out": args.out, "front": [{"id": c.id, "trial": c.trial, "mutation": c.mutation,
                                                      "metrics": c.metrics} for c in result.front],
                          "counts": result.counts, "mutation_failures": result.mutation_failures,
                          "duplicates": result.duplicates, "evaluations": result.evaluations,
                          "wall_s": result.wall_s, "time_split": result.time_split,
                          **({"estimate": est} if est is not None else {})}, indent=2, default=str))
        return 0
    c = console()
    c.print(front_table(result))
    c.print(f"candidates: {_in_words(result.counts)} · mutation failures {result.mutation_failures} · duplicates skipped "
            f"{result.duplicates} · {result.wall_s:.0f} s")
    if result.time_split:
        from alphanas.search.timesplit import in_words

        c.print(f"time: {in_words(result.time_split)}", highlight=False)
    c.print(f"wrote {report.png}, {report.markdown}, {report.html} and {len(report.models)} front "
            f"model(s) in {Path(args.out) / 'front'}")
    return 0


@command("report", "interactive HTML report (self-contained), Pareto plot (PNG), Markdown table and the front's "
         "ONNX models of a search folder; --serve: live on localhost")
def _report_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("dir", help="the --out folder of `alphanas search`")
    p.add_argument("--serve", action="store_true",
                   help="serve the report on localhost instead of writing files; it refreshes while a search runs")
    p.add_argument("--port", type=int, default=8765, help="with --serve: the port (default 8765; 0: any free port)")
    p.add_argument("--refresh", type=float, default=5.0, help="with --serve: seconds between refreshes (default 5)")
    p.add_argument("--json", action="store_true", help="print what was written and the front as JSON")
    p.set_defaults(func=cmd_report)


def check_search_folder(path: str | Path) -> None:
    """Refuse, in one line and before anything is written, a path that is not the folder of a search with a
    trained candidate: missing, a file, no or an empty/foreign database, or only failed trials (then the
    most common reasons are named). The database is opened read-only, so a bad one is never modified."""
    import sqlite3

    from alphanas.search.store import DB_NAME

    p = Path(path)
    if not p.exists():
        raise AlphanasError(f"{p}: no such folder; give the --out folder of 'alphanas search'")
    if not p.is_dir():
        raise AlphanasError(f"{p}: is a file, not a folder; give the --out folder of 'alphanas search'")
    db = p / DB_NAME
    if not db.is_file():
        raise AlphanasError(f"{p}: not a search folder (no {DB_NAME}); give the --out folder of 'alphanas search'")
    if db.stat().st_size == 0:
        raise AlphanasError(f"{db}: is empty, not a search database; run 'alphanas search --out {p}' to start one")
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            rows = con.execute("SELECT status, error FROM candidates").fetchall()
        finally:
            con.close()
    except sqlite3.Error as e:
        raise AlphanasError(f"{db}: not a readable search database ({e})") from None
    if any(status == "done" for status, _ in rows):
        return
    if not rows:
        raise AlphanasError(f"{p}: the search has no candidate yet; run 'alphanas search --out {p}'")
    errors = Counter((err or "no reason recorded").strip().splitlines()[0][:200] for status, err in rows
                     if status == "failed")
    if errors:
        why = "; ".join(f"{e} (x{n})" for e, n in errors.most_common(2))
        raise AlphanasError(f"{p}: no trained candidate: {sum(errors.values())} of {len(rows)} trial(s) failed: {why}")
    counts = Counter(status for status, _ in rows)
    raise AlphanasError(f"{p}: no trained candidate yet ({_in_words(counts)}); run or resume the search")


def _in_words(counts) -> str:
    """``{'done': 28, 'failed': 2}`` as ``28 done, 2 failed``."""
    return ", ".join(f"{n} {status}" for status, n in sorted(dict(counts).items(), key=lambda kv: -kv[1])) or "none"


def cmd_report(args) -> int:
    import math

    if not 0 <= args.port <= 65535:
        raise AlphanasError(f"--port {args.port}: must be between 0 and 65535")
    if not (math.isfinite(args.refresh) and args.refresh > 0):
        raise AlphanasError(f"--refresh {args.refresh}: must be a positive number of seconds")
    if args.serve and args.json:
        raise AlphanasError("--serve and --json do not combine: --json reports the files that report writes")
    if args.serve:
        return _serve_report(args)
    from alphanas.search.report import write_report

    check_search_folder(args.dir)
    rep = write_report(args.dir)
    if args.json:
        print(json.dumps({"dir": args.dir, "objectives": rep.objectives, "summary": rep.data["summary"],
                          "files": {"html": str(rep.html), "png": str(rep.png), "markdown": str(rep.markdown),
                                    "models": [str(m) for m in rep.models]},
                          "seed": rep.data["seed"],
                          "front": [{"id": c.id, "trial": c.trial, "parent": c.parent_id, "mutation": c.mutation,
                                     "metrics": c.metrics} for c in rep.front]}, indent=2, default=str))
        return 0
    c = console()
    c.print(f"{len(rep.candidates)} candidates, front of {len(rep.front)} on {', '.join(rep.objectives)}")
    for path in (rep.html, rep.png, rep.markdown):
        c.print(f"wrote {path}")
    c.print(f"wrote {len(rep.models)} model(s) to {Path(args.dir) / 'front'}")
    return 0


def _serve_report(args) -> int:
    from alphanas.search.report_serve import ReportServer

    server = ReportServer(args.dir, port=args.port, refresh=args.refresh)
    c = console()
    c.print(f"serving the report of {args.dir} at {server.url} (refreshes every {args.refresh:g} s); Ctrl-C stops")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        c.print("stopped serving")
    finally:
        server.server_close()
    return 0


# ---------------------------------------------------------------------------------------------------
# entry point
# ---------------------------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit status 2, no usage dump
        sys.stderr.write(f"alphanas: error: {message} (see '{self.prog} --help')\n")
        sys.exit(2)


def build_parser() -> argparse.ArgumentParser:
    from alphanas import __version__

    parser = _Parser(prog="alphanas", description="Neural architecture search by property-guided synthesis, on ONNX models.")
    parser.add_argument("--version", action="version", version=f"alphanas {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="show the full traceback of an unexpected error (a bug) instead of one line")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name, help_, setup in COMMANDS:
        setup(sub.add_parser(name, help=help_, description=help_))
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` and run the sub-command (see the module docstring for the exit statuses)."""
    parser = build_parser()
    try:  # shell completion when the optional extra is installed (docs/cli.md)
        import argcomplete

        argcomplete.autocomplete(parser)
    except ImportError:
        pass
    args = parser.parse_args(argv)
    model = getattr(args, "model", None) or getattr(args, "models", None) or getattr(args, "seed_model", None)
    return run_main(lambda: _run_command(args), model=model, debug=args.debug)


def _run_command(args) -> int:
    """The sub-command (its options validated first); a library error about a parameter names the
    command-line flag instead."""
    validate_options(args)
    try:
        return int(args.func(args) or 0)
    except ParameterError as e:
        raise e.spelled(lambda name: FLAGS.get(name, name)) from None


if __name__ == "__main__":
    sys.exit(main())
