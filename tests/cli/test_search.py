"""`alphanas search` and `alphanas report`: files written, the front's models run, user errors exit 2."""

from __future__ import annotations

import json

import numpy as np
import onnxruntime as ort
import pytest

from alphanas.cli import main
from alphanas.search.store import Store

BASE = ["search", "--zoo", "resnet_small", "--dataset", "synthetic", "--trials", "4", "--epochs", "1",
        "--strategy", "random_edit"]


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "run"
    assert main([*BASE, "--out", str(out), "--max-params", "1e6", "--json"]) == 0
    return out


def test_search_writes_store_models_and_report(searched, capsys):
    with Store(searched, create=False) as st:
        cands = st.candidates()
        cfg = st.config()
    assert len(cands) == 4 and cands[0].mutation == "seed"
    assert cfg["dataset"] == "synthetic" and cfg["objectives"] == ["accuracy", "params"]
    for c in cands:
        assert (searched / "models" / f"{c.id}.onnx").is_file()
    assert (searched / "pareto.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = (searched / "report.md").read_text()
    assert "## Pareto front" in md and md.count("| random_edit |") + md.count("| seed |") >= 4
    page = (searched / "report.html").read_text()  # the interactive page: its data inlined as JSON
    assert "id='report-data'" in page and '"mutation":"seed"' in page


def test_report_writes_the_front_as_runnable_onnx(searched, capsys):
    capsys.readouterr()
    assert main(["report", str(searched)]) == 0
    assert "front of" in capsys.readouterr().out
    models = sorted((searched / "front").glob("*.onnx"))
    with Store(searched, create=False) as st:
        done = {c.id: c for c in st.candidates("done")}
    assert models and all(int(p.stem) in done for p in models)
    x = np.random.default_rng(0).standard_normal((3, 1, 8, 8)).astype(np.float32)
    for p in models:
        out = ort.InferenceSession(str(p), providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]
        assert out.shape == (3, 4) and np.isfinite(out).all()


def test_rerun_resumes_and_other_settings_exit_2(searched, capsys):
    capsys.readouterr()
    assert main([*BASE, "--out", str(searched), "--max-params", "1e6", "--json"]) == 0  # finished: nothing to do
    rep = json.loads(capsys.readouterr().out)
    assert sum(rep["counts"].values()) == 4 and rep["evaluations"] == 0  # nothing trained again
    assert rep["time_split"]["trials"] == 0 and rep["time_split"]["pipeline"] is True  # this run's time split
    split = json.loads((searched / "time_split.json").read_text())
    assert {"training_s", "proposal_s", "verification_s", "storage_s", "idle_s", "wall_s"} <= set(split)
    with Store(searched, create=False) as st:
        assert st.count() == 4
    assert main([*BASE, "--out", str(searched), "--epochs", "2"]) == 2
    assert "other settings" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["search", "missing.onnx", "--out", "{tmp}/a"], "no such file"),
    (["search", "--objectives", "accuracy,beauty", "--out", "{tmp}/b"], "unknown objective"),
    (["search", "--dataset", "imagenet", "--out", "{tmp}/c"], "unknown dataset"),
    (["search", "--trials", "0", "--out", "{tmp}/d"], "--trials"),
    (["search", "--max-params", "-5", "--out", "{tmp}/e"], "--max-params: got -5.0; give a parameter limit > 0"),
    (["search", "--address", "1.2.3.4:6379", "--out", "{tmp}/f"], "--address is for --executor ray"),
    (["report", "{tmp}/nowhere"], "no such folder"),
    (["report", "{tmp}"], "not a search folder"),
])
def test_user_errors_exit_2(tmp_path, capsys, argv, message):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1  # the message alone: no progress bar drawn before it


def test_incompatible_seed_is_one_line_without_a_progress_bar(tmp_path, capsys):
    from alphanas.ir import zoo
    from alphanas.ir.onnx_io import save_onnx

    save_onnx(zoo.build("resnet_small", input_size=16, in_channels=1, num_classes=10), tmp_path / "r16.onnx")
    assert main(["search", str(tmp_path / "r16.onnx"), "--out", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err
    assert "expects input" in err and len(err.strip().splitlines()) == 1


def test_report_of_a_search_without_a_trained_candidate_exits_2(tmp_path, capsys):
    from alphanas.search.candidate import Candidate

    Store(tmp_path, {"objectives": ["accuracy", "params"]}).add(Candidate(None, "h", trial=0, status="failed"))
    assert main(["report", str(tmp_path)]) == 2
    assert "no trained candidate" in capsys.readouterr().err
