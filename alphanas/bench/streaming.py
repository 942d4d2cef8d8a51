"""Training throughput of the in-memory path against the streaming DataLoader path (images per second).

    python -m alphanas.bench.streaming                      # or: alphanas benchmark streaming
    python -m alphanas.bench.streaming --n 16384 --size 32 --workers 0,2,4 --device cuda --json s.json

The data are seeded random images (``--n`` of ``3 x size x size`` float32, 10 classes: throughput does
not depend on what the pixels show) with small validation and test splits. Each configuration trains
the same zoo model (``--model``, default ``resnet_small``) for ``--epochs`` epochs with the same seed:

* ``in-memory``: the splits held on the training device (the default below
  :data:`alphanas.train.trainer.STREAMING_BYTES`),
* ``streaming, W workers``: batches read by a ``DataLoader`` with ``W`` worker processes (pinned memory on
  CUDA), from arrays in memory,
* ``streaming, memmap``: the same, reading a memory-mapped ``.npy`` file (the case of data larger than memory).

Images per second = training images seen / wall time of :func:`alphanas.train.train` (the small
validation pass of each epoch included). With ``--augment flip_crop`` the in-memory path augments on
the device and the streaming path in its workers. With ``--augment none`` the benchmark also checks
that every path reaches the same weights (``identical_weights``).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from alphanas.errors import AlphanasError
from alphanas.options import validate_options


def make_data(n: int, size: int, seed: int = 0, n_eval: int = 256):
    """A :class:`alphanas.data.Dataset` of ``n`` random ``3 x size x size`` training images (10 classes)."""
    from alphanas.data.dataset import Dataset

    rng = np.random.default_rng(seed)

    def split(k):
        return rng.standard_normal((k, 3, size, size), dtype=np.float32), rng.integers(0, 10, k).astype(np.int64)

    (xt, yt), (xv, yv), (xs, ys) = split(n), split(n_eval), split(n_eval)
    return Dataset("random", xt, yt, xv, yv, xs, ys, 10, np.zeros(3, np.float32), np.ones(3, np.float32))


def run(n: int = 8192, size: int = 32, epochs: int = 2, batch_size: int = 256, workers: tuple[int, ...] = (0, 2),
        model: str = "resnet_small", device: str = "auto", augment: str = "none", memmap: bool = True,
        seed: int = 0) -> dict[str, Any]:
    """Train every configuration once and return the rows (``path``, ``workers``, ``images_per_s``, ...)."""
    import dataclasses

    from alphanas import zoo
    from alphanas.train import describe, resolve_device, train

    dev = resolve_device(device)
    ds = make_data(n, size, seed)
    graph = zoo.build(model, input_size=size, in_channels=3, num_classes=10, seed=seed)
    configs: list[tuple[str, Any, bool, int]] = [("in-memory", ds, False, 0)]
    configs += [(f"streaming, {w} worker{'s' if w != 1 else ''}", ds, True, w) for w in workers]
    rows: list[dict[str, Any]] = []
    weights: list[dict[str, np.ndarray]] = []
    with tempfile.TemporaryDirectory(prefix="alphanas-stream-") as tmp:
        if memmap:
            path = Path(tmp) / "x_train.npy"
            np.save(path, ds.x_train)
            mm = dataclasses.replace(ds, x_train=np.load(path, mmap_mode="r"))
            w = max(workers) if workers else 0
            configs.append((f"streaming, memmap, {w} worker{'s' if w != 1 else ''}", mm, True, w))
        # one untimed epoch first: lowering, allocator and (on CUDA) kernel selection warm up
        train(graph, ds, 1, batch_size=batch_size, seed=seed, device=dev, augment=augment, streaming=False)
        for name, data, streaming, w in configs:
            r = train(graph, data, epochs, batch_size=batch_size, seed=seed, device=dev, augment=augment,
                      streaming=streaming, workers=w)
            rows.append({"path": name, "workers": w, "streamed": r.streamed, "seconds": r.wall_time,
                         "images_per_s": n * epochs / r.wall_time, "val_acc": r.val_acc})
            weights.append({k: v.const for k, v in r.graph.initializers.items()})
    same = all(a.keys() == weights[0].keys() and all(np.array_equal(a[k], weights[0][k]) for k in a) for a in weights)
    base = rows[0]["images_per_s"]
    for row in rows:
        row["vs_in_memory"] = row["images_per_s"] / base
    return {"rows": rows, "device": describe(dev), "n": n, "size": size, "epochs": epochs, "batch_size": batch_size,
            "model": model, "augment": augment, "cpu_count": os.cpu_count(),
            "identical_weights": same if augment == "none" else None, "data_mb": ds.x_train.nbytes / 2**20}


def markdown(res: dict[str, Any]) -> str:
    """The rows as a Markdown table."""
    lines = ["| path | images/s | vs in-memory | seconds |", "|---|---:|---:|---:|"]
    lines += [f"| {r['path']} | {r['images_per_s']:,.0f} | {r['vs_in_memory']:.2f}x | {r['seconds']:.2f} |"
              for r in res["rows"]]
    return "\n".join(lines)


def _ints(text: str) -> tuple[int, ...]:
    try:
        out = tuple(int(t) for t in text.split(",") if t.strip())
    except ValueError:
        raise AlphanasError(f"--workers {text!r}: give worker counts separated by commas, e.g. 0,2") from None
    if any(w < 0 for w in out):
        raise AlphanasError(f"--workers {text!r}: counts must be >= 0")
    return out


def main(argv: list[str] | None = None) -> int:
    from alphanas.table import Table

    from alphanas.console import check_output_path, console

    p = argparse.ArgumentParser(prog="alphanas benchmark streaming", description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=8192, help="training images (default 8192)")
    p.add_argument("--size", type=int, default=32, help="image height and width (default 32)")
    p.add_argument("--epochs", type=int, default=2, help="timed epochs per configuration (default 2)")
    p.add_argument("--batch-size", type=int, default=256, help="default 256")
    p.add_argument("--workers", dest="worker_counts", default="0,2", help="DataLoader worker counts to measure (default 0,2)")
    p.add_argument("--model", default="resnet_small", help="zoo model (default resnet_small)")
    p.add_argument("--device", default="auto", help="auto (cuda if available), cpu, cuda")
    p.add_argument("--augment", choices=("none", "flip_crop"), default="none", help="default none")
    p.add_argument("--no-memmap", action="store_true", help="skip the memory-mapped configuration")
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    p.add_argument("--force", action="store_true", help="overwrite an existing --json file")
    args = p.parse_args(argv)
    validate_options(args)
    if args.n < 2 or args.size < 4:
        raise AlphanasError(f"--n {args.n} / --size {args.size}: give --n >= 2 images and --size >= 4 pixels")
    out = check_output_path(args.json, [], args.force) if args.json else None
    res = run(args.n, args.size, args.epochs, args.batch_size, _ints(args.worker_counts), args.model, args.device,
              args.augment, not args.no_memmap)
    c = console()
    t = Table(title=f"training throughput: {args.model}, {args.n} images 3x{args.size}x{args.size} "
                    f"({res['data_mb']:.0f} MiB), batch {args.batch_size}, {res['device']}")
    for col in ("path", "images/s", "vs in-memory", "seconds"):
        t.add_column(col, justify="left" if col == "path" else "right")
    for r in res["rows"]:
        t.add_row(r["path"], f"{r['images_per_s']:,.0f}", f"{r['vs_in_memory']:.2f}x", f"{r['seconds']:.2f}")
    c.print(t)
    if res["identical_weights"] is not None:
        c.print(f"identical weights on every path: {res['identical_weights']}")
    if out is not None:
        out.write_text(json.dumps(res, indent=2))
        c.print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    import sys

    from alphanas.console import run_main

    sys.exit(run_main(main))
