"""``alphanas mutate``: the output loads, passes the ONNX checker and runs under onnxruntime; the input is
never touched; user errors exit with status 2 and one line."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import onnx
import pytest

from alphanas.cli import main
from alphanas.ir import save_onnx, zoo
from alphanas.ir.runtime import random_feeds, session


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    path = tmp_path_factory.mktemp("m") / "rs.onnx"
    save_onnx(zoo.build("resnet_small"), path)
    return path


def digest(p):
    return hashlib.sha256(p.read_bytes()).hexdigest()


@pytest.mark.parametrize("synth", ["egraph", "progressive"])
def test_mutate_writes_a_valid_different_model(model, tmp_path, capsys, synth):
    before = digest(model)
    out = tmp_path / "out.onnx"
    assert main(["mutate", str(model), "-o", str(out), "--seed", "2", "--synth", synth, "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert digest(model) == before
    proto = onnx.load(str(out))
    onnx.checker.check_model(proto, full_check=True)
    from alphanas.ir import load_onnx

    g = load_onnx(out)
    (y,) = session(proto, "cpu").run(None, random_feeds(g, batch=2))
    assert y.shape == (2, 10) and np.isfinite(y).all()
    assert rep["old"] and rep["new"] and rep["old"] != rep["new"]
    assert set(rep["target"]) == {"shape", "depth", "mixing"}
    assert rep["before"]["params"] > 0 and rep["after"]["params"] > 0
    assert rep["after"]["nodes"] == len(g.nodes)


def test_mutate_human_output(model, tmp_path, capsys):
    out = tmp_path / "o.onnx"
    assert main(["mutate", str(model), "-o", str(out), "--seed", "0"]) == 0
    text = capsys.readouterr().out
    for word in ("old subgraph", "new subgraph", "target", "achieved", "params", "flops", "wrote"):
        assert word in text


def test_mutate_user_errors(model, tmp_path, capsys):
    out = tmp_path / "o.onnx"
    assert main(["mutate", str(tmp_path / "missing.onnx"), "-o", str(out)]) == 2
    assert main(["mutate", str(model), "-o", str(model)]) == 2  # never over the input
    assert main(["mutate", str(model), "-o", str(out), "--block", "no_such_block"]) == 2
    assert main(["mutate", str(model), "-o", str(out), "--budget-ms", "0"]) == 2
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    assert main(["mutate", str(bad), "-o", str(out)]) == 2
    out.write_bytes(b"keep")
    assert main(["mutate", str(model), "-o", str(out)]) == 2  # exists, no --force
    assert out.read_bytes() == b"keep"
    with pytest.raises(SystemExit) as e:
        main(["mutate", str(model), "-o", str(out), "--synth", "magic"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert all(line.startswith("alphanas: error:") for line in err.strip().splitlines())
