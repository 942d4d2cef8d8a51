"""The e2e benchmark: the summary's arithmetic and selection rule, and a smoke run of the whole
command on a tiny configuration (JSON keys, numbers consistent with the search store)."""

from __future__ import annotations

import json

import pytest

from alphanas.bench import e2e
from alphanas.cli import main as cli_main
from alphanas.errors import AlphanasError
from alphanas.search.store import Store


def test_summarize_picks_smallest_front_member_within_validation_tolerance():
    seed = {"id": 1, "trial": 0, "val_acc": 0.970, "test_acc": 0.960, "params": 1000.0}
    front = [
        seed,
        {"id": 2, "trial": 1, "val_acc": 0.968, "test_acc": 0.950, "params": 300.0},  # -0.2 val points: allowed
        {"id": 3, "trial": 2, "val_acc": 0.960, "test_acc": 0.962, "params": 40.0},   # -1.0 val points: not allowed
    ]
    s = e2e.summarize(seed, front, tolerance=0.5)
    assert s["best_params"] == 300 and s["best_id"] == 2 and s["selected_by"] == "val_acc"
    assert s["params_reduction"] == pytest.approx(0.7)
    assert s["test_acc_loss_points"] == pytest.approx(1.0)
    assert s["meets_tolerance"] is False  # 1.0 test point lost > 0.5
    # the literal "within 0.5 test points" reading is reported apart (test never steers the choice)
    assert s["front_within_test_tolerance"]["id"] == 3
    assert s["front_within_test_tolerance"]["params_reduction"] == pytest.approx(0.96)
    # nothing smaller within tolerance: the seed itself, zero reduction
    s = e2e.summarize(seed, [seed, front[2]], tolerance=0.5)
    assert s["best_params"] == 1000 and s["params_reduction"] == 0.0 and s["meets_tolerance"] is True
    # a larger tolerance admits the smaller model
    assert e2e.summarize(seed, front, tolerance=1.0)["best_id"] == 3


def test_probabilities_parsing():
    assert e2e.parse_probabilities("delete_block=0.4, property=0.6") == {"delete_block": 0.4, "property": 0.6}
    assert e2e.parse_probabilities("") is None
    with pytest.raises(AlphanasError):
        e2e.parse_probabilities("delete_block")


def test_e2e_smoke_json_matches_the_store(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["e2e", "--out", str(out), "--model", "cnn", "--width", "4", "--dataset", "synthetic", "--trials", "3",
            "--epochs", "1", "--probabilities", "random_edit=1", "--strategy", "random_edit", "--json"]
    assert cli_main(["benchmark", *argv]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(e2e.JSON_KEYS) <= set(data)
    assert data["params_reduction"] == pytest.approx(1 - data["best_params"] / data["seed_params"])
    # the numbers are those of the stored candidates: the seed is trial 0, the reported one is on the store
    with Store(out) as store:
        cands = {c.id: c for c in store.candidates()}
    seed = next(c for c in cands.values() if c.trial == 0)
    assert data["seed_params"] == int(seed.metrics["params"]) and data["seed_test_acc"] == seed.metrics["test_acc"]
    best = cands[data["best_id"]]
    assert data["best_params"] == int(best.metrics["params"]) and data["best_test_acc"] == best.metrics["test_acc"]
    assert best.metrics["val_acc"] >= seed.metrics["val_acc"] - 0.005 - 1e-12
    assert (out / "e2e.png").stat().st_size > 0 and json.loads((out / "e2e.json").read_text())["trials"] == 3
    # the same command again resumes (with other torch threads: a resumable setting): nothing is retrained
    assert cli_main(["benchmark", *argv, "--threads", "2"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert {k: again[k] for k in e2e.JSON_KEYS} == {k: data[k] for k in e2e.JSON_KEYS}
    # a stopped run is summarised without training anything
    assert cli_main(["benchmark", "e2e", "--out", str(out), "--summary-only", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert {k: summary[k] for k in e2e.JSON_KEYS} == {k: data[k] for k in e2e.JSON_KEYS}
    assert summary["settings"]["search"]["dataset"] == "synthetic"
    # another training recipe in the same folder is refused before anything is trained or written: the
    # warm-up (stored with the search since the evaluator's options are) and the learning rate, which
    # would otherwise pre-train a new seed first
    seeds = sorted(p.name for p in out.glob("seed_*.onnx"))
    with Store(out, create=False) as store:
        assert store.config()["train_options"] == {"warmup_epochs": 0.5}
    for flag, value, what in (("--warmup", "0.25", "train_options"), ("--lr", "0.05", "lr: stored 0.02, now 0.05")):
        assert cli_main(["benchmark", *argv, flag, value]) == 2
        err = capsys.readouterr().err
        assert "holds a search with other settings" in err and what in err, err
        assert sorted(p.name for p in out.glob("seed_*.onnx")) == seeds


def test_e2e_user_errors(tmp_path, capsys):
    assert cli_main(["benchmark", "e2e", "--out", str(tmp_path / "x"), "--tolerance", "-1"]) == 2
    assert "tolerance" in capsys.readouterr().err
    assert cli_main(["benchmark", "e2e", "--out", str(tmp_path / "x"), "--threads", "-1"]) == 2
    assert "--threads: got -1" in capsys.readouterr().err
    # every option the CLI's shared rules know is checked before anything is trained or written, with the
    # flag as the user spelled it (--warmup is in epochs here)
    for flag, value, want in (("--trials", "0", "a number of trials >= 1"), ("--workers", "0", "workers >= 1"),
                              ("--proxy-keep", "2", "a fraction in (0, 1]"), ("--lr", "0", "a learning rate > 0"),
                              ("--epochs", "0", "a number of epochs >= 1"), ("--shortlist", "-1", "candidates >= 0"),
                              ("--seed-epochs", "-1", "epochs >= 0"), ("--synth-budget", "0", "positive number of seconds"),
                              ("--retrain-best", "-2", "epochs >= 0"), ("--warmup", "-1", "warm-up epochs >= 0"),
                              ("--device", "tpu", "auto, cpu, cuda or cuda:N")):
        assert cli_main(["benchmark", "e2e", "--out", str(tmp_path / "x"), flag, value]) == 2, flag
        err = capsys.readouterr().err
        assert f"{flag}: got {value}" in err and want in err, err
    assert cli_main(["benchmark", "e2e", "--out", str(tmp_path / "x"), "--warmup", "4"]) == 2
    assert "--warmup 4.0: must be at most --epochs (3)" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
    assert cli_main(["benchmark", "e2e", "--out", str(tmp_path / "none"), "--summary-only"]) == 2
    assert "no search here" in capsys.readouterr().err


def test_seed_file_name_tells_pre_training_recipes_apart(tmp_path):
    parse = lambda *a: e2e.build_parser().parse_args(["--out", str(tmp_path), *a])  # noqa: E731
    # the default recipe keeps the name earlier versions wrote, so their folders resume
    assert e2e.seed_path(parse()).name == "seed_resnet34_trained_e12_s0.onnx"
    assert e2e.seed_path(parse("--lr", "0.02", "--warmup", "0.5")).name == "seed_resnet34_trained_e12_s0.onnx"
    names = {e2e.seed_path(parse(*a)).name for a in
             ((), ("--lr", "0.05"), ("--batch-size", "64"), ("--warmup", "1"), ("--dataset", "synthetic"))}
    assert len(names) == 5  # another learning rate, batch size, warm-up or dataset: another seed file
    assert e2e.seed_path(parse("--lr", "0.05")) == e2e.seed_path(parse("--lr", "0.05"))  # stable
    assert e2e.seed_path(parse("--seed-epochs", "0")).name == "seed_resnet34.onnx"  # not pre-trained: the zoo model
    assert e2e.seed_path(parse("--width", "8", "--seed", "3")).name == "seed_resnet34_w8_trained_e12_s3.onnx"
