"""The NAS-Bench-201 / NATS-Bench topology converter, on small files the test writes in the layout that
``nas_201_api`` and ``nats_bench`` read (the released files are several GB): a ``.pth`` (``less``/``full``),
a ``.pickle.pbz2`` (``'12'``/``'200'``) and an archive folder; expected values computed by hand."""

from __future__ import annotations

import bz2
import csv
import pickle

import pytest

from alphanas.bench.nb201 import Cell, NB201Table
from alphanas.bench.nb201.convert import NATS_COLUMNS, convert_nats, main as convert, nats_rows
from alphanas.errors import AlphanasError

ARCHS = ["|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|",
         "|none~0|+|skip_connect~0|none~1|+|nor_conv_1x1~0|none~1|avg_pool_3x3~2|",
         "|avg_pool_3x3~0|+|nor_conv_1x1~0|nor_conv_1x1~1|+|none~0|skip_connect~1|nor_conv_3x3~2|"]


def results_count(dataset, seed, epochs, evals, params, flop):
    """A ``ResultsCount`` state dict: ``evals`` = {set name: accuracy after the last epoch} (earlier
    epochs 10 points lower, so that reading the wrong epoch shows)."""
    return {"name": dataset, "net_state_dict": None, "train_acc1es": {e: 50.0 for e in range(epochs)},
            "train_acc5es": None, "train_losses": {e: 1.0 for e in range(epochs)}, "train_times": None,
            "arch_config": {"channel": 16, "num_cells": 5, "class_num": 10}, "params": params, "flop": flop,
            "seed": seed, "epochs": epochs, "latency": [0.01], "eval_names": list(evals),
            "eval_acc1es": {f"{n}@{e}": acc - (0 if e == epochs - 1 else 10) for n, acc in evals.items()
                            for e in range(epochs)},
            "eval_times": {}, "eval_losses": {f"{n}@{e}": 1.0 for n in evals for e in range(epochs)}}


def arch_results(index, arch, runs):
    seeds: dict[str, list[int]] = {}
    for dataset, seed in runs:
        seeds.setdefault(dataset, []).append(seed)
    return {"arch_index": index, "arch_str": arch, "all_results": dict(runs),
            "dataset_seed": {d: sorted(s) for d, s in seeds.items()}, "clear_net_done": False}


def infos(index, arch, hp12="12", hp200="200"):
    """Both hyper-parameter settings of one architecture; accuracies depend on the index."""
    b = 10.0 * index
    less = {("cifar10-valid", 777): results_count("cifar10-valid", 777, 12, {"x-valid": 60 + b, "ori-test": 61 + b},
                                                 0.5, 80.0),
            ("cifar10-valid", 888): results_count("cifar10-valid", 888, 12, {"x-valid": 62 + b, "ori-test": 64 + b},
                                                 0.5, 80.0),
            ("cifar100", 777): results_count("cifar100", 777, 12, {"x-valid": 30 + b, "x-test": 31 + b}, 0.6, 80.0)}
    full = {("cifar10", 777): results_count("cifar10", 777, 200, {"ori-test": 90 + b}, 1.5 + index, 100.0 + index),
            ("cifar10", 888): results_count("cifar10", 888, 200, {"ori-test": 91 + b}, 1.5 + index, 100.0 + index),
            ("cifar100", 777): results_count("cifar100", 777, 200, {"x-valid": 70 + b, "x-test": 71 + b},
                                             1.6 + index, 100.0 + index)}
    return {hp12: arch_results(index, arch, less), hp200: arch_results(index, arch, full)}


# the expected CIFAR-10 rows, by hand: validation = mean of the two 12-epoch seeds' x-valid, test 12 = their
# ori-test, test 200 = mean of the two 200-epoch seeds on cifar10's ori-test; params/flops of the 200-epoch run
EXPECTED = [(i, str(Cell.parse(a)), 61 + 10 * i, 62.5 + 10 * i, 90.5 + 10 * i, 1.5 + i, 100.0 + i)
            for i, a in enumerate(ARCHS)]


def _benchmark(hp12="12", hp200="200"):
    return {"meta_archs": ARCHS, "arch2infos": {i: infos(i, a, hp12, hp200) for i, a in enumerate(ARCHS)},
            "evaluated_indexes": set(range(len(ARCHS)))}


def _pbz2(path, obj):
    with bz2.open(path, "wb") as f:
        pickle.dump(obj, f, protocol=4)
    return path


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    import torch

    folder = tmp_path_factory.mktemp("nats")
    pth = folder / "NAS-Bench-201-v1_1-096897.pth"
    torch.save(_benchmark("less", "full"), pth)
    pbz2 = _pbz2(folder / "NATS-tss-v1_0-3ffb9.pickle.pbz2", _benchmark())
    archive = folder / "NATS-tss-v1_0-3ffb9-simple"
    archive.mkdir()
    _pbz2(archive / "meta.pickle.pbz2", {"meta_archs": ARCHS})
    for i, a in enumerate(ARCHS):
        _pbz2(archive / f"{i:06d}.pickle.pbz2", infos(i, a))
    return {"pth": pth, "pbz2": pbz2, "archive": archive}


@pytest.mark.parametrize("kind", ["pth", "pbz2", "archive"])
def test_each_download_format_converts_to_the_hand_computed_rows(sources, kind, tmp_path, capsys):
    rows = list(nats_rows(sources[kind], "cifar10"))
    assert [r[:2] for r in rows] == [e[:2] for e in EXPECTED]
    assert [r[2:] for r in rows] == [pytest.approx(e[2:]) for e in EXPECTED]
    out = tmp_path / "cifar10.csv"
    assert convert([str(sources[kind]), "--out", str(out)]) == 0
    assert f"wrote {out} (3 cells)" in capsys.readouterr().out
    with out.open() as f:
        written = list(csv.DictReader(f))
    assert tuple(written[0]) == NATS_COLUMNS
    assert float(written[2]["test_acc_200ep"]) == pytest.approx(110.5)
    table = NB201Table(out)  # the table reader takes it as it is
    assert table.visible(ARCHS[1])["val_acc"] == pytest.approx(0.71)
    assert table.visible(ARCHS[1])["params"] == pytest.approx(2.5e6)


def test_cifar100_uses_its_own_validation_and_test_sets(sources, tmp_path):
    rows = list(nats_rows(sources["pbz2"], "cifar100"))
    assert [r[2:] for r in rows] == [pytest.approx((30 + 10 * i, 31 + 10 * i, 71 + 10 * i, 1.6 + i, 100.0 + i))
                                     for i in range(3)]


def test_bad_sources_are_one_line_errors(sources, tmp_path, capsys):
    with pytest.raises(AlphanasError, match="unknown dataset 'mnist'"):
        list(nats_rows(sources["pbz2"], "mnist"))
    with pytest.raises(AlphanasError, match="no 12-epoch results on ImageNet16-120"):
        list(nats_rows(sources["pbz2"], "ImageNet16-120"))
    empty = tmp_path / "empty"
    empty.mkdir()
    broken = _pbz2(tmp_path / "broken.pickle.pbz2", {"meta_archs": ARCHS, "arch2infos": {0: {"12": {}}}})
    wrong = _pbz2(tmp_path / "wrong.pickle.pbz2", [1, 2, 3])
    for source, message in [(empty, "no meta.pickle.pbz2"), (broken, "architecture 0: unexpected layout"),
                            (wrong, "not a NAS-Bench-201 / NATS-Bench topology file"),
                            (tmp_path / "missing.pth", "no such file or folder")]:
        assert convert([str(source), "--out", str(tmp_path / "o.csv")]) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err
    with pytest.raises(AlphanasError, match="no evaluated architecture"):
        convert_nats(_pbz2(tmp_path / "none.pickle.pbz2", {"meta_archs": [], "arch2infos": {}}), "cifar10",
                     tmp_path / "n.csv")


def test_without_a_table_the_error_says_where_to_get_one_and_how_to_convert(monkeypatch, tmp_path, capsys):
    from alphanas.bench.nb201 import script

    monkeypatch.setattr(script, "DEFAULT_TABLE", tmp_path / "absent.csv")
    assert script.main(["--strategy", "random", "--runs", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "https://github.com/D-X-Y/NATS-Bench" in err
    assert "python -m alphanas.bench.nb201.convert" in err
