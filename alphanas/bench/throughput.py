"""Training throughput of the trainer against a plain PyTorch loop, and a search's wall-time split.

    python -m alphanas.bench.throughput                              # or: alphanas benchmark throughput
    python -m alphanas.bench.throughput --models digits-cnn --precision fp32 --part trainer --json

**Part (a), ``trainer``.** For each model and precision, :func:`alphanas.train.train` and a plain PyTorch
loop (:func:`plain_loop`) train the *same* lowered module (:func:`alphanas.ir.torch_lowering.to_torch` of
the same graph) on the same in-memory data with the same settings: the ``alphanas search`` defaults
(batch 64, SGD with Nesterov momentum 0.9, learning rate 0.1, weight decay 5e-4 on weights but not on
biases and norms, cosine schedule stepped per batch, 5 epochs, the same seeded batch order, the same
final batch folding). Both sides do the same work, which the trainer's contract requires: every epoch of
training steps is followed by a validation pass in eval mode, and the test split is evaluated once at the
end; each side's time runs from the graph (lowering and data transfer included) to its test accuracy.
The plain loop is the minimum code for that and nothing more (no divergence check, running metrics,
best-epoch copies, progress, write-back). The models:

* ``digits-cnn``: the zoo's ``resnet_small``, the seed of the default ``alphanas search`` on digits,
* ``resnet18``: the zoo's ResNet-18 (CIFAR variant) built for the same 8x8x1 digits images.

The two sides alternate (trainer, plain, trainer, plain, ...) in one process after one untimed run of each
(warm-up); images/s = training images / wall seconds, the median over ``--repeats``; ``ratio`` is the
median over the interleaved pairs of trainer images/s ÷ plain loop images/s (1.0: the trainer adds
nothing; pairing cancels slow changes of the machine's load). The same is reported per CPU second of the
process (``time.process_time``, all its threads: ``cpu_ratio``), which other processes on a busy machine
disturb far less than wall time; with one thread it is the fairer figure there. torch's CPU threads are set
once per model, the same for both sides (``--threads``; default the rule ``alphanas train`` uses,
:func:`alphanas.train.cpu_threads`).

**Part (b), ``search``.** The wall time of a search split into training, proposal, verification, storage
and idle, with and without pipelining, from :func:`alphanas.bench.search_time.measure_fresh` where that module
is installed (otherwise one line says that part (b) is unavailable).

``--json`` prints the results as JSON instead of tables (``--json PATH`` writes them to a file): the rows,
the settings, torch's version, the thread count, the CPU count and the machine load (``os.getloadavg``)
before and after.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from alphanas.errors import AlphanasError
from alphanas.options import validate_options

#: benchmark model name -> zoo model (built for the dataset's images)
MODELS = {"digits-cnn": "resnet_small", "resnet18": "resnet18"}
PRECISIONS = ("fp32", "bf16", "fp16")
PARTS = ("trainer", "search", "all")
#: the keys of every row of part (a)
ROW_KEYS = ("model", "zoo", "precision", "threads", "images", "trainer_images_per_s", "plain_images_per_s", "ratio",
            "trainer_images_per_cpu_s", "plain_images_per_cpu_s", "cpu_ratio", "trainer_s", "plain_s", "trainer_cpu_s",
            "plain_cpu_s", "trainer_test_acc", "plain_test_acc")
#: the top-level keys of :func:`run`'s result
RUN_KEYS = ("rows", "settings", "torch", "python", "device", "cpu_count", "threads", "loadavg_before", "loadavg_after")
#: the top-level keys of the ``--json`` output: part (a)'s (empty when it did not run) and part (b)'s
RESULT_KEYS = (*RUN_KEYS, "search", "search_unavailable")


@dataclass
class PlainResult:
    """What :func:`plain_loop` reports: per-step training losses and batch sizes, the final state dict, the
    test accuracy and the wall time."""

    losses: list[float] = field(default_factory=list)
    batch_sizes: list[int] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)
    test_acc: float = float("nan")
    seconds: float = 0.0
    cpu_seconds: float = 0.0  # CPU time of the process (all its threads)

    @property
    def images(self) -> int:
        """Training images seen (every epoch)."""
        return int(sum(self.batch_sizes))


def plain_loop(graph, dataset, epochs: int, *, batch_size: int = 64, lr: float = 0.1, momentum: float = 0.9,
               weight_decay: float = 5e-4, warmup_epochs: float = 0.0, precision: str = "fp32", seed: int = 0,
               device: str = "cpu", eval_batch_size: int = 1024) -> PlainResult:
    """Train ``graph`` lowered to torch with a plain PyTorch loop (see the module docstring for what it does and
    which settings of :func:`alphanas.train.train` it reproduces); written independently of the trainer, so
    that the same seed giving the same losses is a check that both do the same work."""
    import torch
    import torch.nn.functional as F

    from alphanas.ir.torch_lowering import to_torch

    t0, c0 = time.perf_counter(), time.process_time()
    dev = torch.device(device)
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
    res = PlainResult()
    with torch.random.fork_rng(devices=[dev] if dev.type == "cuda" else []):
        torch.manual_seed(seed)
        model = to_torch(graph.copy()).to(dev).train()
        x = torch.as_tensor(np.ascontiguousarray(dataset.x_train), dtype=torch.float32).to(dev)
        y = torch.as_tensor(np.ascontiguousarray(dataset.y_train), dtype=torch.int64).to(dev)
        x_val = torch.as_tensor(np.ascontiguousarray(dataset.x_val), dtype=torch.float32).to(dev)
        n = len(y)
        bs = min(batch_size, n)
        steps_per_epoch = n // bs + (1 if n % bs >= 2 else 0)  # a last batch of one sample is dropped
        total, warmup = epochs * steps_per_epoch, int(round(warmup_epochs * steps_per_epoch))

        def factor(step: int) -> float:  # linear warm-up, then cosine decay to 0 over the remaining steps
            if warmup and step < warmup:
                return (step + 1) / warmup
            return 0.5 * (1.0 + math.cos(math.pi * min(1.0, (step - warmup) / max(1, total - warmup))))

        params = list(model.parameters())
        opt = torch.optim.SGD([{"params": [p for p in params if p.ndim > 1], "weight_decay": weight_decay},
                               {"params": [p for p in params if p.ndim <= 1], "weight_decay": 0.0}],
                              lr=lr, momentum=momentum, nesterov=momentum > 0)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
        scaler = torch.amp.GradScaler(dev.type, enabled=precision == "fp16")
        gen = torch.Generator().manual_seed(seed)
        losses = []

        def accuracy(xs: torch.Tensor, ys: torch.Tensor) -> float:
            model.eval()
            with torch.inference_mode(), torch.autocast(dev.type, dtype=dtype, enabled=dtype is not None):
                pred = torch.cat([model(xs[i:i + eval_batch_size]).argmax(1) for i in range(0, len(xs), eval_batch_size)])
            model.train()
            return int((pred.cpu() == ys.cpu()).sum()) / len(ys) if len(ys) else float("nan")

        for _ in range(epochs):
            perm = torch.randperm(n, generator=gen)
            for b in range(steps_per_epoch):
                idx = perm[b * bs:(b + 1) * bs].to(dev)
                xb, yb = x[idx], y[idx]
                opt.zero_grad(set_to_none=True)
                with torch.autocast(dev.type, dtype=dtype, enabled=dtype is not None):
                    loss = F.cross_entropy(model(xb).float(), yb)
                scaler.scale(loss).backward()
                scaler.step(opt)
                scaler.update()
                sched.step()
                losses.append(loss.detach())
                res.batch_sizes.append(len(yb))
            accuracy(x_val, torch.as_tensor(dataset.y_val))
        res.test_acc = accuracy(torch.as_tensor(np.ascontiguousarray(dataset.x_test), dtype=torch.float32).to(dev),
                                torch.as_tensor(dataset.y_test))
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        res.seconds, res.cpu_seconds = time.perf_counter() - t0, time.process_time() - c0
        res.losses = [float(v) for v in losses]
        res.state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    return res


def trainer_run(graph, dataset, epochs: int, *, batch_size: int = 64, lr: float = 0.1, precision: str = "fp32",
                seed: int = 0, device: str = "cpu", **options):
    """:func:`alphanas.train.train` with the settings :func:`plain_loop` reproduces; ``(result, (seconds, CPU
    seconds))``."""
    import torch

    from alphanas.train import train

    t0, c0 = time.perf_counter(), time.process_time()
    r = train(graph, dataset, epochs, batch_size=batch_size, lr=lr, optimizer="sgd", momentum=0.9, weight_decay=5e-4,
              schedule="cosine", warmup_epochs=0.0, augment="none", seed=seed, device=device, precision=precision,
              channels_last="off", **options)
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()
    return r, (time.perf_counter() - t0, time.process_time() - c0)


def _load() -> tuple[float, float, float] | None:
    try:
        return os.getloadavg()
    except OSError:  # not on every platform
        return None


def run(models: tuple[str, ...] = ("digits-cnn", "resnet18"), precisions: tuple[str, ...] = ("fp32", "bf16"), *,
        epochs: int = 5, repeats: int = 3, batch_size: int = 64, lr: float = 0.1, threads: int | None = None,
        device: str = "cpu", seed: int = 0, dataset=None, graphs: dict[str, Any] | None = None,
        on_run: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Part (a): every model at every precision, trainer and plain loop interleaved (see the module docstring).

    ``dataset`` defaults to ``digits``; ``graphs`` maps a model name to a prebuilt graph (otherwise the name
    is a key of :data:`MODELS`, built for the dataset); ``on_run(label)`` is called after every timed or
    warm-up run (a progress bar)."""
    import torch

    from alphanas.train import cpu_threads, describe, resolve_device

    if dataset is None:
        from alphanas.data import load_dataset

        dataset = load_dataset("digits", seed=0)
    dev = resolve_device(device)
    threads_before = torch.get_num_threads()
    load_before = _load()
    rows: list[dict[str, Any]] = []
    try:
        for name in models:
            graph = (graphs or {}).get(name)
            if graph is None:
                from alphanas import zoo

                c, h = dataset.x_train.shape[1], dataset.x_train.shape[2]
                graph = zoo.build(MODELS[name], input_size=h, in_channels=c, num_classes=dataset.num_classes,
                                  seed=seed)
            n_threads = cpu_threads(graph, batch_size, threads)
            torch.set_num_threads(n_threads)
            for precision in precisions:
                common = dict(batch_size=batch_size, lr=lr, precision=precision, seed=seed, device=str(dev))
                # warm-up (untimed): allocator, kernels, lazy imports
                trainer_run(graph, dataset, 1, **common)
                plain_loop(graph, dataset, 1, **common)
                if on_run:
                    on_run(f"{name} {precision} warm-up")
                t_times, p_times, t_cpu, p_cpu = [], [], [], []
                r = p = None
                for _ in range(repeats):
                    r, (s, cs) = trainer_run(graph, dataset, epochs, **common)
                    t_times.append(s)
                    t_cpu.append(cs)
                    if on_run:
                        on_run(f"{name} {precision} trainer")
                    p = plain_loop(graph, dataset, epochs, **common)
                    p_times.append(p.seconds)
                    p_cpu.append(p.cpu_seconds)
                    if on_run:
                        on_run(f"{name} {precision} plain loop")
                assert r is not None and p is not None
                images = p.images
                med = statistics.median
                rows.append({"model": name, "zoo": MODELS.get(name, name), "precision": precision,
                             "threads": n_threads, "images": images,
                             "trainer_images_per_s": images / med(t_times), "plain_images_per_s": images / med(p_times),
                             "ratio": med([b / a for a, b in zip(t_times, p_times)]),
                             "trainer_images_per_cpu_s": images / med(t_cpu), "plain_images_per_cpu_s": images / med(p_cpu),
                             "cpu_ratio": med([b / a for a, b in zip(t_cpu, p_cpu)]),
                             "trainer_s": t_times, "plain_s": p_times, "trainer_cpu_s": t_cpu, "plain_cpu_s": p_cpu,
                             "trainer_test_acc": r.test_acc, "plain_test_acc": p.test_acc})
    finally:
        torch.set_num_threads(threads_before)
    return {"rows": rows, "device": describe(dev) if dev.type == "cuda" else "cpu", "torch": torch.__version__,
            "python": platform.python_version(),
            "cpu_count": os.cpu_count(), "threads": sorted({r["threads"] for r in rows}),
            "loadavg_before": load_before, "loadavg_after": _load(),
            "settings": {"dataset": dataset.name, "train_images": int(len(dataset.y_train)),
                         "val_images": int(len(dataset.y_val)), "test_images": int(len(dataset.y_test)),
                         "epochs": epochs, "repeats": repeats, "batch_size": batch_size, "lr": lr,
                         "optimizer": "sgd (nesterov, momentum 0.9, weight decay 5e-4)", "schedule": "cosine",
                         "seed": seed, "models": list(models), "precisions": list(precisions)}}


def search_available() -> bool:
    """Whether part (b)'s :mod:`alphanas.bench.search_time` is installed."""
    return importlib.util.find_spec("alphanas.bench.search_time") is not None


def run_search(trials: int, executor: str, epochs: int, seed: int = 0) -> list[dict[str, Any]]:
    """Part (b): :func:`alphanas.bench.search_time.measure_fresh` with pipelining on and off (each in a fresh
    folder and a fresh Python process, as ``alphanas search`` and ``alphanas benchmark search_time`` run it)."""
    import importlib

    measure = importlib.import_module("alphanas.bench.search_time").measure_fresh
    out = []
    for pipeline in (True, False):
        with tempfile.TemporaryDirectory(prefix="alphanas-throughput-") as tmp:
            res = measure(trials=trials, executor=executor, pipeline=pipeline, seed=seed, epochs=epochs,
                          out=os.path.join(tmp, "search"))
        out.append({"pipeline": pipeline, **dict(res)})
    return out


def markdown(res: dict[str, Any]) -> str:
    """Part (a)'s rows as a Markdown table."""
    lines = ["| model | precision | threads | trainer img/s | plain loop img/s | trainer ÷ plain | "
             "trainer img/CPU-s | plain img/CPU-s | trainer ÷ plain (CPU time) |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    lines += [f"| {r['model']} ({r['zoo']}) | {r['precision']} | {r['threads']} | {r['trainer_images_per_s']:,.0f} | "
              f"{r['plain_images_per_s']:,.0f} | {r['ratio']:.3f} | {r['trainer_images_per_cpu_s']:,.0f} | "
              f"{r['plain_images_per_cpu_s']:,.0f} | {r['cpu_ratio']:.3f} |" for r in res["rows"]]
    return "\n".join(lines)


def _names(text: str, allowed, what: str) -> tuple[str, ...]:
    out = tuple(t.strip().lower() for t in text.split(",") if t.strip())
    bad = [t for t in out if t not in allowed]
    if not out or bad:
        raise AlphanasError(f"{what} {text!r}: use one or more of {', '.join(allowed)}, separated by commas")
    return out


def main(argv: list[str] | None = None) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from alphanas.console import check_output_path, console
    from alphanas.table import Table

    p = argparse.ArgumentParser(prog="alphanas benchmark throughput", description=__doc__.split("\n\n")[0])
    p.add_argument("--models", default="digits-cnn,resnet18", help=f"of {', '.join(MODELS)} (default both)")
    p.add_argument("--precision", default="fp32,bf16", help=f"of {', '.join(PRECISIONS)} (default fp32,bf16)")
    p.add_argument("--part", choices=PARTS, default="all",
                   help="trainer: (a) trainer vs plain loop; search: (b) a search's time split; all (default)")
    p.add_argument("--epochs", type=int, default=5, help="epochs per timed run (default 5, as alphanas search)")
    p.add_argument("--repeats", type=int, default=3, help="timed runs of each side (default 3; the median counts)")
    p.add_argument("--batch-size", type=int, default=64, help="default 64, as alphanas search")
    p.add_argument("--threads", type=int, help="torch CPU threads for both sides (default: alphanas train's rule)")
    p.add_argument("--device", default="cpu", help="cpu (default), cuda, auto")
    p.add_argument("--trials", type=int, default=15, help="part (b): trials of the search (default 15)")
    p.add_argument("--executor", default="process", help="part (b): search executor (default process)")
    p.add_argument("--json", nargs="?", const="-", metavar="PATH",
                   help="print the results as JSON (or write them to PATH)")
    p.add_argument("--force", action="store_true", help="overwrite an existing --json file")
    args = p.parse_args(argv)
    validate_options(args)
    if args.threads is not None and args.threads < 1:
        raise AlphanasError(f"--threads {args.threads}: must be >= 1")
    models = _names(args.models, MODELS, "--models")
    precisions = _names(args.precision, PRECISIONS, "--precision")
    out = check_output_path(args.json, [], args.force) if args.json not in (None, "-") else None
    c = console()
    err = Console(stderr=True, highlight=False)
    import torch

    res: dict[str, Any] = {"rows": [], "settings": {}, "torch": torch.__version__, "python": platform.python_version(),
                           "device": args.device, "cpu_count": os.cpu_count(), "threads": [], "loadavg_before": _load(),
                           "loadavg_after": None, "search": None, "search_unavailable": None}
    if args.part in ("trainer", "all"):
        total = len(models) * len(precisions) * (1 + 2 * args.repeats)
        with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                      TimeElapsedColumn(), console=err, transient=True) as bar:
            task = bar.add_task("throughput", total=total)
            res.update(run(models, precisions, epochs=args.epochs, repeats=args.repeats, batch_size=args.batch_size,
                           threads=args.threads, device=args.device,
                           on_run=lambda label: bar.update(task, advance=1, description=label)))
    if args.part in ("search", "all"):
        if search_available():
            res["search"] = run_search(args.trials, args.executor, args.epochs)
            res["loadavg_after"] = _load()
        else:
            res["search_unavailable"] = "part (b) is unavailable: alphanas.bench.search_time is not installed"
            if args.json != "-":
                c.print(res["search_unavailable"])
    if args.json == "-":
        print(json.dumps(res, indent=2, default=str))
        return 0
    if res["rows"]:
        t = Table(title="training images/s: trainer vs plain PyTorch loop")
        for col in ("model", "precision", "threads", "trainer", "plain", "ratio", "ratio CPU"):
            t.add_column(col, justify="left" if col in ("model", "precision") else "right")
        for r in res["rows"]:
            t.add_row(r["model"], r["precision"], str(r["threads"]),
                      f"{r['trainer_images_per_s']:,.0f}", f"{r['plain_images_per_s']:,.0f}", f"{r['ratio']:.3f}",
                      f"{r['cpu_ratio']:.3f}")
        c.print(t)
        c.print(f"digits, batch {args.batch_size}, {args.epochs} epochs, median of {args.repeats} interleaved runs, "
                f"{res['device']}, torch {res['torch']}; trainer and plain: images/s; ratio: trainer ÷ plain loop, "
                "median of the pairs (CPU: per CPU second of the process); models: "
                + ", ".join(f"{m} = zoo {z}" for m, z in MODELS.items() if m in models))
        c.print(f"machine load (1/5/15 min) before {res['loadavg_before']}, after {res['loadavg_after']}")
    for s in res["search"] or []:
        t = Table(title=f"search time split, pipeline {'on' if s['pipeline'] else 'off'}")
        t.add_column("measure")
        t.add_column("value", justify="right")
        for k, v in s.items():
            if k != "pipeline" and isinstance(v, (int, float, str, bool)):
                t.add_row(k, f"{v:.4g}" if isinstance(v, float) else str(v))
        c.print(t)
    if out is not None:
        out.write_text(json.dumps(res, indent=2, default=str))
        c.print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    import sys

    from alphanas.console import run_main

    sys.exit(run_main(main))
