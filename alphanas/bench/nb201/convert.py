"""Convert HW-NAS-Bench's NAS-Bench-201 hardware metrics to the ``*_hw.csv`` layout of the table reader.

    python -m alphanas.bench.nb201.convert HW-NAS-Bench-v1_0.pickle --table cifar10.csv --dataset cifar10 \\
        --out cifar10_hw.csv

HW-NAS-Bench (Li et al., ICLR 2021, https://github.com/GATECH-EIC/HW-NAS-Bench) ships one pickle; its
API reads ``data["nasbench201"][dataset][metric][index]`` with metrics such as ``edgegpu_latency``,
``raspi4_latency``, ``fpga_latency``, ``eyeriss_latency`` and energies, indexed like NAS-Bench-201's
architectures. :func:`convert_hw_nas_bench` keeps every ``*_latency`` metric as ``latency_ms_<device>``
and takes each index's cell string from the ``index``/``arch`` columns of a NAS-Bench-201 CSV table.

Limits: only HW-NAS-Bench's layout as its API reads it is converted (tested on small files written
in that layout, not on the released file, which is not available here). NAS-Bench-201 / NATS-Bench's
own ``.pth`` files (torch pickles read through their ``nats_bench`` API) are not converted here: build
the accuracy CSV (``arch, val_acc_12ep, test_acc_200ep, params_m, flops_m``) with that API.
"""

from __future__ import annotations

import argparse
import csv
import pickle
from collections.abc import Sequence
from pathlib import Path

from alphanas.bench.nb201.space import Cell, TableError
from alphanas.console import check_output_path, run_main
from alphanas.errors import AlphanasError


def convert_hw_nas_bench(pickle_path: Path, table: Path, dataset: str, out: Path) -> int:
    """Write ``out`` (``index, arch, latency_ms_<device>...``) from HW-NAS-Bench's pickle; returns the row count."""
    try:
        with Path(pickle_path).open("rb") as f:
            data = pickle.load(f)  # noqa: S301  (a file the user downloaded and names)
        metrics = data["nasbench201"][dataset]
    except (OSError, pickle.UnpicklingError, EOFError) as exc:
        raise AlphanasError(f"{pickle_path}: not a readable HW-NAS-Bench pickle ({exc})") from None
    except (KeyError, TypeError):
        raise AlphanasError(f"{pickle_path}: no NAS-Bench-201 metrics for dataset {dataset!r} "
                            f"(expected data['nasbench201'][{dataset!r}])") from None
    latency = sorted(m for m in metrics if str(m).endswith("_latency"))
    if not latency:
        raise AlphanasError(f"{pickle_path}: no *_latency metric for {dataset!r}")
    try:
        with Path(table).open(newline="") as f:
            rows = [(int(r["index"]), str(Cell.parse(r["arch"]))) for r in csv.DictReader(f)]
    except (OSError, KeyError, ValueError, TableError) as exc:
        raise AlphanasError(f"{table}: needs the index and arch columns of a NAS-Bench-201 table ({exc})") from None
    with Path(out).open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["index", "arch", *(f"latency_ms_{m[:-len('_latency')]}" for m in latency)])
        for index, arch in rows:
            try:
                w.writerow([index, arch, *(float(metrics[m][index]) for m in latency)])
            except (IndexError, KeyError, TypeError, ValueError):
                raise AlphanasError(f"{pickle_path}: no value for architecture index {index}") from None
    return len(rows)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m alphanas.bench.nb201.convert``; user errors print one line and return 2."""
    p = argparse.ArgumentParser(prog="python -m alphanas.bench.nb201.convert", description=__doc__.split("\n\n")[0])
    p.add_argument("pickle", type=Path, help="HW-NAS-Bench-v1_0.pickle")
    p.add_argument("--table", type=Path, required=True, help="NAS-Bench-201 CSV table (index and arch columns)")
    p.add_argument("--dataset", default="cifar10", help="cifar10 (default), cifar100 or ImageNet16-120")
    p.add_argument("--out", type=Path, required=True, help="the hardware CSV to write")
    p.add_argument("--force", action="store_true", help="overwrite an existing --out")

    def go() -> int:
        args = p.parse_args(argv)
        out = check_output_path(args.out, [args.pickle, args.table], args.force)
        count = convert_hw_nas_bench(args.pickle, args.table, args.dataset, out)
        print(f"wrote {out} ({count} cells)")
        return 0

    return run_main(go)


if __name__ == "__main__":
    raise SystemExit(main())


__all__ = ["convert_hw_nas_bench", "main"]
