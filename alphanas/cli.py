"""The ``alphanas`` command. Each sub-command is a thin layer over the library API.

User errors (:class:`~alphanas.errors.AlphanasError`, bad options) print one line and exit with
status 2; Ctrl-C exits with 130 after saying how to resume where that applies.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from alphanas.errors import AlphanasError

#: (name, help, function adding arguments and setting ``func``) for every sub-command.
COMMANDS: list[tuple[str, str, Callable[[argparse.ArgumentParser], None]]] = []


def command(name: str, help: str):
    def deco(setup: Callable[[argparse.ArgumentParser], None]):
        COMMANDS.append((name, help, setup))
        return setup

    return deco


def console():
    from rich.console import Console

    return Console(highlight=False)


def check_output_path(out: str | Path, inputs: list[str | Path], force: bool = False) -> Path:
    """Refuse to overwrite an input file, or an existing file without ``--force``."""
    out = Path(out)
    for p in inputs:
        if Path(p).exists() and out.exists() and out.resolve() == Path(p).resolve():
            raise AlphanasError(f"{out}: the output would overwrite the input; choose another -o path")
    if out.exists() and not force:
        raise AlphanasError(f"{out}: already exists; pass --force to overwrite it or choose another -o path")
    if out.exists() and out.is_dir():
        raise AlphanasError(f"{out}: is a directory; give a file path for -o")
    return out


def parse_int_list(text: str, what: str) -> list[int]:
    try:
        return [int(x) for x in text.replace("x", ",").split(",") if x.strip()]
    except ValueError:
        raise AlphanasError(f"{what}: expected integers separated by commas, got {text!r}") from None


# ---------------------------------------------------------------------------------------------------
# inspect
# ---------------------------------------------------------------------------------------------------


def graph_report(graph) -> dict:
    """Everything ``inspect`` shows, as plain data."""
    from alphanas.ir import cost

    ops = Counter(n.op_type for n in graph.nodes)
    opaque = Counter(n.op_type for n in graph.nodes if n.is_opaque)
    return {
        "name": graph.name,
        "inputs": [{"name": v.name, "shape": list(v.shape), "dtype": str(v.dtype)} for v in graph.inputs],
        "outputs": [{"name": v.name, "shape": None if v.shape is None else list(v.shape), "dtype": str(v.dtype)}
                    for v in graph.outputs],
        **cost.summary(graph),
        "ops": dict(ops.most_common()),
        "opaque_ops": dict(opaque.most_common()),
        "nodes_table": [
            {"name": n.name, "op": n.op_type, "shape": None if n.outputs[0].shape is None else list(n.outputs[0].shape),
             "params": 0 if n.is_opaque else n.opdef.params(n), "flops": cost.node_flops(n), "opaque": n.is_opaque}
            for n in graph.nodes
        ],
    }


@command("inspect", "ops, shapes, params, FLOPs and opaque nodes of an ONNX model")
def _inspect_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="ONNX model file")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.add_argument("--nodes", action="store_true", help="list every node")
    p.set_defaults(func=cmd_inspect)


def cmd_inspect(args) -> int:
    from rich.table import Table

    from alphanas.ir import load_onnx

    graph = load_onnx(args.model)
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
    c.print(f"  nodes {rep['nodes']}   params {rep['params']:,}   MACs {rep['macs']:,}   FLOPs {rep['flops']:,}   "
            f"peak activations {rep['peak_activation_bytes'] / 2**20:.2f} MiB (batch 1)")
    t = Table(title="ops")
    t.add_column("op")
    t.add_column("count", justify="right")
    t.add_column("params", justify="right")
    t.add_column("FLOPs", justify="right")
    per_op: dict[str, list[int]] = {}
    for row in rep["nodes_table"]:
        acc = per_op.setdefault(row["op"], [0, 0])
        acc[0] += row["params"]
        acc[1] += row["flops"]
    for op, count in rep["ops"].items():
        label = f"{op} [yellow](opaque)[/]" if op in rep["opaque_ops"] else op
        t.add_row(label, str(count), f"{per_op[op][0]:,}", f"{per_op[op][1]:,}")
    c.print(t)
    if rep["opaque_ops"]:
        c.print(f"[yellow]opaque nodes[/] (kept as-is, never mutated, not lowerable to torch): "
                + ", ".join(f"{k} x{v}" for k, v in rep["opaque_ops"].items()))
    if args.nodes:
        nt = Table(title="nodes")
        for col in ("name", "op", "output shape", "params", "FLOPs"):
            nt.add_column(col)
        for row in rep["nodes_table"]:
            nt.add_row(row["name"], row["op"], str(row["shape"]), f"{row['params']:,}", f"{row['flops']:,}")
        c.print(nt)
    for hook in INSPECT_PRINTERS:
        hook(c, extra, args)
    return 0


#: Functions ``(graph, args) -> dict`` adding sections to ``inspect`` (e.g. properties).
INSPECT_HOOKS: list[Callable] = []
#: Functions ``(console, extra, args)`` printing those sections.
INSPECT_PRINTERS: list[Callable] = []


# ---------------------------------------------------------------------------------------------------
# zoo
# ---------------------------------------------------------------------------------------------------


@command("zoo", "built-in seed models: list, export")
def _zoo_args(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="zoo_cmd", required=True)
    sub.add_parser("list", help="list the models").set_defaults(func=cmd_zoo_list)
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
    from rich.table import Table

    from alphanas import zoo

    t = Table(title="alphanas zoo")
    t.add_column("name")
    t.add_column("description")
    from rich.markup import escape

    for name, doc in zoo.describe().items():
        t.add_row(name, escape(doc))
    console().print(t)
    return 0


def cmd_zoo_export(args) -> int:
    from alphanas import zoo
    from alphanas.ir import save_onnx

    out = check_output_path(args.output, [], args.force)
    opts = {k: getattr(args, k) for k in ("input_size", "in_channels", "num_classes") if getattr(args, k) is not None}
    graph = zoo.build(args.name, seed=args.seed, **opts)
    save_onnx(graph, out)
    console().print(f"wrote {out}: {args.name}, {graph.num_params():,} params, {graph.flops():,} FLOPs, "
                    f"input {list(graph.inputs[0].shape)}")
    return 0


# ---------------------------------------------------------------------------------------------------
# benchmark: python -m alphanas.bench.NAME, from the CLI
# ---------------------------------------------------------------------------------------------------


@command("benchmark", "run a benchmark script of alphanas.bench (same as python -m alphanas.bench.NAME)")
def _benchmark_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", help="benchmark module in alphanas.bench (e.g. properties, synthesis, nb201, e2e)")
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
    return int(importlib.import_module(f"alphanas.bench.{args.name}").main(args.args) or 0)


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
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name, help_, setup in COMMANDS:
        setup(sub.add_parser(name, help=help_, description=help_))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except AlphanasError as e:
        sys.stderr.write(f"alphanas: error: {e}\n")
        return e.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("alphanas: interrupted\n")
        return 130


if __name__ == "__main__":
    sys.exit(main())
