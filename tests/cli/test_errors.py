"""Bad input to the ``alphanas`` command: one clear line on stderr, exit status 2, never a traceback,
nothing written; ``inspect`` on a model with opaque (unknown) ops; onnxruntime missing.

Each bad file is real: a truncated copy of a valid model, a text file, and ONNX models that are
well-formed protobuf but break a rule (old or future opset, a cycle, an input nobody produces).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import onnx
import pytest
from onnx import TensorProto, helper

from alphanas import zoo
from alphanas.cli import main
from alphanas.ir import save_onnx
from tests.ir.test_onnx_io import custom_model


def _tiny(nodes, opset: int) -> onnx.ModelProto:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, 8, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 1, 8, 8])
    m = helper.make_model(helper.make_graph(nodes, "tiny", [x], [y]), opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return m


#: name -> (how to make the file in a folder, what the message must say)
BAD_FILES = {
    "missing": (lambda d: None, "no such file"),
    "truncated": (lambda d: (d / "bad.onnx").write_bytes((d / "good.onnx").read_bytes()[:5000]),
                  "not a readable ONNX model"),
    "not_onnx": (lambda d: (d / "bad.onnx").write_text("name,accuracy\ncnn,0.97\n"), "not a readable ONNX model"),
    "empty": (lambda d: (d / "bad.onnx").write_bytes(b""), "not an ONNX model"),
    # (old opsets are read since issue 11: a model at opset 7 is no longer an error)
    "opset99": (lambda d: onnx.save_model(_tiny([helper.make_node("Relu", ["x"], ["y"])], 99), str(d / "bad.onnx")),
                "opset 99 is newer than the installed onnx package defines"),
    "cycle": (lambda d: onnx.save_model(_tiny([helper.make_node("Add", ["x", "b"], ["a"], name="add"),
                                               helper.make_node("Relu", ["a"], ["b"], name="relu"),
                                               helper.make_node("Relu", ["a"], ["y"], name="out")], 17),
                                        str(d / "bad.onnx")),
              "the graph has a cycle: "),
    "dangling": (lambda d: onnx.save_model(_tiny([helper.make_node("Add", ["x", "ghost"], ["y"], name="add")], 17),
                                           str(d / "bad.onnx")),
                 "node 'add' (Add) reads 'ghost', which is not produced by any node"),
}


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    d = tmp_path_factory.mktemp("bad")
    save_onnx(zoo.build("cnn", input_size=8, in_channels=1, num_classes=10, width=8), d / "good.onnx")
    return d


def _bad_file(folder, tmp_path, case: str):
    make, message = BAD_FILES[case]
    (folder / "bad.onnx").unlink(missing_ok=True)
    make(folder)
    target = tmp_path / "bad.onnx"
    if (folder / "bad.onnx").exists():
        target.write_bytes((folder / "bad.onnx").read_bytes())
    return target, message


def _one_clean_line(err: str, message: str) -> None:
    assert err.startswith("alphanas: error: ") and message in err, err
    assert err.count("\n") == 1 and "Traceback" not in err, err


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_inspect_bad_input(folder, tmp_path, capsys, case):
    path, message = _bad_file(folder, tmp_path, case)
    rc = main(["inspect", str(path)])
    cap = capsys.readouterr()
    assert rc == 2 and cap.out == ""
    _one_clean_line(cap.err, message)
    assert str(path) in cap.err  # the message says which file


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_train_bad_input(folder, tmp_path, capsys, case):
    path, message = _bad_file(folder, tmp_path, case)
    before = sorted(p.name for p in tmp_path.iterdir())
    rc = main(["train", str(path), "--dataset", "digits", "--epochs", "1", "-o", str(tmp_path / "out.onnx")])
    cap = capsys.readouterr()
    assert rc == 2
    _one_clean_line(cap.err, message)
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written (no output, no checkpoint)


def test_cycle_message_names_the_nodes(folder, tmp_path, capsys):
    path, _ = _bad_file(folder, tmp_path, "cycle")
    assert main(["inspect", str(path)]) == 2
    err = capsys.readouterr().err
    assert "add -> relu" in err or "relu -> add" in err


def test_real_process(folder, tmp_path):
    path, message = _bad_file(folder, tmp_path, "truncated")
    p = subprocess.run([sys.executable, "-m", "alphanas.cli", "inspect", str(path)], capture_output=True, text=True)
    assert p.returncode == 2 and p.stdout == ""
    _one_clean_line(p.stderr, message)


def test_inspect_reports_opaque_nodes(tmp_path, capsys):
    path = tmp_path / "custom.onnx"
    onnx.save_model(custom_model(with_function=False), str(path))
    assert main(["inspect", str(path), "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    # Shift is unknown; Tanh reads a value of unknown shape, so it is kept opaque as well
    assert rep["ops"] == {"Relu": 1, "Shift": 1, "Tanh": 1}
    assert rep["opaque_ops"] == {"Shift": 1, "Tanh": 1}
    assert [(r["op"], r["opaque"]) for r in rep["nodes_table"]] == [("Relu", False), ("Shift", True), ("Tanh", True)]
    assert main(["inspect", str(path)]) == 0
    out = capsys.readouterr().out
    assert "Shift (opaque)" in out and "opaque nodes" in out and "Shift x1" in out


def test_without_onnxruntime_a_clear_message(folder):
    """Simulates a machine without onnxruntime: the IR, torch and inspect work; running under
    onnxruntime says which extra to install (exit status 2 from the command)."""
    script = textwrap.dedent(f"""
        import sys
        sys.modules["onnxruntime"] = None  # import onnxruntime now raises ImportError
        import alphanas
        from alphanas.cli import main
        from alphanas.errors import MissingDependencyError
        from alphanas.ir import runtime, to_torch
        g = alphanas.load_onnx({str(folder / "good.onnx")!r})
        to_torch(g)
        assert main(["inspect", {str(folder / "good.onnx")!r}, "--json"]) == 0
        try:
            runtime.session(g)
        except MissingDependencyError as e:
            print("MESSAGE", e)
        sys.exit(main(["bench", {str(folder / "good.onnx")!r}, "--repeats", "1"]))
    """)
    p = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert p.returncode == 2, p.stderr
    assert "MESSAGE onnxruntime is not installed" in p.stdout and "alphanas[cpu]" in p.stdout
    _one_clean_line(p.stderr, "onnxruntime is not installed; install one of: pip install 'alphanas[cpu]'")
