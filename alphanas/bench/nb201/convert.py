"""Convert the files users download to the CSV layouts of the table reader (:mod:`alphanas.bench.nb201.table`).

    python -m alphanas.bench.nb201.convert NAS-Bench-201-v1_1-096897.pth --dataset cifar10 --out cifar10.csv
    python -m alphanas.bench.nb201.convert NATS-tss-v1_0-3ffb9-simple --dataset cifar100 --out cifar100.csv
    python -m alphanas.bench.nb201.convert HW-NAS-Bench-v1_0.pickle --table cifar10.csv --dataset cifar10 \\
        --out cifar10_hw.csv

**Accuracy tables** (:func:`convert_nats`, columns ``index, arch, val_acc_12ep, test_acc_12ep,
test_acc_200ep, params_m, flops_m``) from the NAS-Bench-201 / NATS-Bench topology benchmark files
(Dong & Yang, ICLR 2020; Dong et al., TPAMI 2021; https://github.com/D-X-Y/NATS-Bench, which links the
downloads): NAS-Bench-201's ``NAS-Bench-201-v1_0-e61699.pth`` / ``NAS-Bench-201-v1_1-096897.pth``
(``torch.load`` of a dict), NATS-Bench's ``NATS-tss-v1_0-3ffb9.pickle.pbz2`` (a bz2 pickle of the same
dict) or its archive folders ``NATS-tss-v1_0-3ffb9-simple`` / ``-full`` (``meta.pickle.pbz2`` and one
``<index:06d>.pickle.pbz2`` per architecture). The layout, as both APIs (``nas_201_api``, ``nats_bench``)
read it: ``meta_archs`` (cell string per index) and ``arch2infos[index][hp]`` with ``hp`` ``'12'`` and
``'200'`` (NAS-Bench-201: ``'less'`` and ``'full'``), each an ``ArchResults`` state dict whose
``all_results[(dataset, seed)]`` holds a ``ResultsCount`` state dict (``eval_acc1es["x-valid@11"]``,
``params`` in millions, ``flop`` in millions, ``epochs``). Per cell and dataset this module takes, as the
mean over the seeds trained:

| column | CIFAR-10 (``--dataset cifar10``) | CIFAR-100, ImageNet16-120 |
|---|---|---|
| ``val_acc_12ep`` | 12-epoch run on ``cifar10-valid``, ``x-valid`` at the last epoch | 12-epoch run, ``x-valid`` |
| ``test_acc_12ep`` | 12-epoch run on ``cifar10-valid``, ``ori-test`` | 12-epoch run, ``x-test`` |
| ``test_acc_200ep`` | 200-epoch run on ``cifar10`` (train+valid), ``ori-test`` | 200-epoch run, ``x-test`` |
| ``params_m``, ``flops_m`` | the 200-epoch run's ``params`` and ``flop`` | the same |

This is the convention of ``simulate_train_eval`` (the 12-epoch validation accuracy is the reward a
search sees) and of the papers' CIFAR-10 test accuracy (optimum 94.37). Not confirmed from any source
here: which seeds (or their mean) the shared ``cifar10.csv`` used, so converted values may differ from
it in the second decimal; the converter is tested on small files written in the layout the APIs read,
not on the released files (several GB), which are not available here.

**Hardware tables** (:func:`convert_hw_nas_bench`, ``index, arch, latency_ms_<device>...``) from
HW-NAS-Bench (Li et al., ICLR 2021, https://github.com/GATECH-EIC/HW-NAS-Bench), one pickle; its API reads
``data["nasbench201"][dataset][metric][index]`` with metrics such as ``edgegpu_latency``,
``raspi4_latency``, ``fpga_latency``, ``eyeriss_latency`` and energies, indexed like NAS-Bench-201's
architectures. Every ``*_latency`` metric is kept as ``latency_ms_<device>``; each index's cell string
comes from the ``index``/``arch`` columns of a NAS-Bench-201 CSV table (``--table``). Tested on small files
written in that layout, not on the released file.
"""

from __future__ import annotations

import argparse
import bz2
import csv
import pickle
import statistics
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from alphanas.bench.nb201.space import Cell, TableError
from alphanas.console import check_output_path, run_main
from alphanas.errors import AlphanasError


#: the datasets of the topology benchmark, and per dataset: (12-epoch dataset, its validation set, its
#: test set, 200-epoch dataset, its test set)
NATS_DATASETS = {"cifar10": ("cifar10-valid", "x-valid", "ori-test", "cifar10", "ori-test"),
                 "cifar100": ("cifar100", "x-valid", "x-test", "cifar100", "x-test"),
                 "ImageNet16-120": ("ImageNet16-120", "x-valid", "x-test", "ImageNet16-120", "x-test")}
#: the hyper-parameter keys of the 12- and 200-epoch results (NATS-Bench; NAS-Bench-201 .pth)
_HP = {"12": ("12", "less"), "200": ("200", "full")}
NATS_COLUMNS = ("index", "arch", "val_acc_12ep", "test_acc_12ep", "test_acc_200ep", "params_m", "flops_m")
_PBZ2 = ".pickle.pbz2"


def _load_pickle(path: Path) -> Any:
    """A pickle, bz2-compressed (NATS-Bench's ``.pickle.pbz2``) or not."""
    with path.open("rb") as f:
        compressed = f.read(3) == b"BZh"
    with (bz2.open(path, "rb") if compressed else path.open("rb")) as f:
        return pickle.load(f)  # noqa: S301  (a file the user downloaded and names)


def _load_benchmark(path: Path) -> Any:
    if path.suffix == ".pth":  # NAS-Bench-201: torch.save of a dict (torch is needed to read it)
        import torch

        return torch.load(path, map_location="cpu", weights_only=False)
    return _load_pickle(path)


def _nats_archs(source: Path) -> Iterator[tuple[int, str, dict]]:
    """``(index, cell string, {hp: ArchResults state dict})`` for every architecture of ``source``."""
    if source.is_dir():  # NATS-Bench archive folder: meta + one file per architecture
        meta_path = source / f"meta{_PBZ2}"
        if not meta_path.is_file():
            raise AlphanasError(f"{source}: no meta{_PBZ2}; not a NATS-Bench topology archive folder "
                                f"(e.g. NATS-tss-v1_0-3ffb9-simple)")
        meta = _load_pickle(meta_path)
        archs = meta.get("meta_archs") if isinstance(meta, dict) else None
        if not isinstance(archs, (list, tuple)):
            raise AlphanasError(f"{meta_path}: no meta_archs list")
        for index, arch in enumerate(archs):
            candidates = [source / f"{index:06d}{_PBZ2}", source / f"{index}{_PBZ2}"]
            found = next((c for c in candidates if c.is_file()), None)
            if found is None:
                raise AlphanasError(f"{source}: no results file for architecture {index} ({candidates[0].name})")
            yield index, arch, _load_pickle(found)
        return
    data = _load_benchmark(source)
    if not isinstance(data, dict) or not {"meta_archs", "arch2infos"} <= set(data):
        raise AlphanasError(f"{source}: not a NAS-Bench-201 / NATS-Bench topology file (no meta_archs and "
                            f"arch2infos)")
    for index in sorted(data["arch2infos"]):
        yield int(index), data["meta_archs"][index], data["arch2infos"][index]


def _results(infos: dict, hp: str, dataset: str) -> list[dict]:
    key = next((k for k in _HP[hp] if k in infos), None)
    if key is None:
        raise KeyError(f"no {hp}-epoch results")
    state = infos[key]
    seeds = state["dataset_seed"].get(dataset)
    if not seeds:
        raise KeyError(f"no {hp}-epoch results on {dataset}")
    return [state["all_results"][(dataset, seed)] for seed in seeds]


def _accuracy(results: list[dict], setname: str) -> float:
    """The mean over seeds of the accuracy on ``setname`` after the last epoch."""
    return statistics.fmean(float(r["eval_acc1es"][f"{setname}@{int(r['epochs']) - 1}"]) for r in results)


def nats_rows(source: Path, dataset: str = "cifar10") -> Iterator[tuple[int, str, float, float, float, float, float]]:
    """The rows (:data:`NATS_COLUMNS`) of ``dataset`` from a NAS-Bench-201 ``.pth``, a NATS-Bench topology
    ``.pickle.pbz2`` or a NATS-Bench archive folder (see the module docstring for the layout)."""
    if dataset not in NATS_DATASETS:
        raise AlphanasError(f"unknown dataset {dataset!r}; the topology benchmark has {', '.join(NATS_DATASETS)}")
    short, valid, test12, full, test200 = NATS_DATASETS[dataset]
    source = Path(source)
    if not source.exists():
        raise AlphanasError(f"{source}: no such file or folder")
    for index, arch, infos in _nats_archs(source):
        try:
            cell = str(Cell.parse(arch))
            less, more = _results(infos, "12", short), _results(infos, "200", full)
            yield (index, cell, _accuracy(less, valid), _accuracy(less, test12), _accuracy(more, test200),
                   float(more[0]["params"]), float(more[0]["flop"]))
        except TableError as exc:
            raise AlphanasError(f"{source}: architecture {index}: {exc}") from None
        except (KeyError, TypeError, ValueError, AttributeError, statistics.StatisticsError) as exc:
            raise AlphanasError(f"{source}: architecture {index}: unexpected layout ({type(exc).__name__}: {exc})"
                                ) from None


def convert_nats(source: Path, dataset: str, out: Path) -> int:
    """Write ``out`` (:data:`NATS_COLUMNS`) from NAS-Bench-201 / NATS-Bench topology results; returns the row count."""
    rows = list(nats_rows(Path(source), dataset))
    if not rows:
        raise AlphanasError(f"{source}: no evaluated architecture")
    with Path(out).open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(NATS_COLUMNS)
        for index, arch, *values in rows:
            w.writerow([index, arch, *(f"{v:.6g}" for v in values)])
    return len(rows)


def _is_hw_nas_bench(path: Path) -> bool:
    """Whether ``path`` is HW-NAS-Bench's pickle rather than a topology benchmark file or folder."""
    if path.is_dir() or path.suffix == ".pth" or path.name.endswith(_PBZ2):
        return False
    try:
        data = _load_pickle(path)
    except (OSError, pickle.UnpicklingError, EOFError, ValueError, AttributeError, ImportError, IndexError):
        return False
    return isinstance(data, dict) and "nasbench201" in data


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
    p.add_argument("source", type=Path, help="NAS-Bench-201-v1_1-096897.pth, NATS-tss-v1_0-3ffb9.pickle.pbz2, a "
                   "NATS-Bench archive folder (NATS-tss-v1_0-3ffb9-simple) or HW-NAS-Bench-v1_0.pickle")
    p.add_argument("--table", type=Path, help="HW-NAS-Bench only: a NAS-Bench-201 CSV table (index and arch columns)")
    p.add_argument("--dataset", default="cifar10", help="cifar10 (default), cifar100 or ImageNet16-120")
    p.add_argument("--out", type=Path, required=True, help="the CSV to write")
    p.add_argument("--force", action="store_true", help="overwrite an existing --out")

    def go() -> int:
        args = p.parse_args(argv)
        if not args.source.exists():
            raise AlphanasError(f"{args.source}: no such file or folder")
        hw = _is_hw_nas_bench(args.source)
        if hw and args.table is None:
            raise AlphanasError(f"{args.source}: an HW-NAS-Bench pickle needs --table (a NAS-Bench-201 CSV with "
                                "the index and arch columns) for the cell strings")
        out = check_output_path(args.out, [args.source, *([args.table] if args.table else [])], args.force)
        if hw:
            count = convert_hw_nas_bench(args.source, args.table, args.dataset, out)
        else:
            count = convert_nats(args.source, args.dataset, out)
        print(f"wrote {out} ({count} cells)")
        return 0

    return run_main(go)


if __name__ == "__main__":
    raise SystemExit(main())


__all__ = ["NATS_COLUMNS", "NATS_DATASETS", "convert_hw_nas_bench", "convert_nats", "main", "nats_rows"]
