"""An unexpected exception (a bug) is one line naming the exception, the model and the node, with how to
report it (exit status 1); ``--debug`` shows the traceback. A model that fails the ONNX checker on save is a
one-line error too."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

from alphanas.cli import main
from alphanas.errors import InvalidGraphError
from alphanas.ir import save_onnx
from alphanas.ir.graph import Graph, Node


def _buggy_report(graph):
    """Stands for a bug deep in an analysis: it fails while working on a node."""
    for node in graph.nodes:
        if node.op_type == "Conv":
            raise ValueError(f"invalid literal for int() with base 10: {node.name!r}\nsecond line")
    return {}


@pytest.fixture
def buggy_inspect(monkeypatch):
    import alphanas.cli

    monkeypatch.setattr(alphanas.cli, "graph_report", _buggy_report)


def test_unexpected_exception_is_one_line_naming_model_and_node(demo_model, buggy_inspect, capsys):
    assert main(["inspect", str(demo_model)]) == 1
    captured = capsys.readouterr()
    err = captured.err
    assert err.count("\n") == 1 and "Traceback" not in err + captured.out, err
    assert err.startswith("alphanas: internal error: ValueError: invalid literal for int()"), err
    assert f"model {demo_model}" in err and "(Conv)" in err and "node '" in err
    assert "this is a bug in alphanas" in err and "report it" in err and "--debug" in err


def test_debug_shows_the_traceback(demo_model, buggy_inspect):
    with pytest.raises(ValueError, match="invalid literal"):
        main(["--debug", "inspect", str(demo_model)])


def test_real_process_exit_status_and_debug_traceback(demo_model):
    script = textwrap.dedent("""
        import sys
        import alphanas.cli
        from tests.cli.test_internal_errors import _buggy_report
        alphanas.cli.graph_report = _buggy_report
        sys.exit(alphanas.cli.main(sys.argv[1:]))
    """)
    plain = subprocess.run([sys.executable, "-c", script, "inspect", str(demo_model)], capture_output=True, text=True,
                           timeout=120)
    assert plain.returncode == 1 and plain.stderr.count("\n") == 1 and "Traceback" not in plain.stderr, plain.stderr
    debug = subprocess.run([sys.executable, "-c", script, "--debug", "inspect", str(demo_model)], capture_output=True,
                           text=True, timeout=120)
    assert debug.returncode == 1 and "Traceback" in debug.stderr and "ValueError" in debug.stderr


def test_save_onnx_checker_failure_is_a_one_line_error(tmp_path):
    g = Graph("bad")
    x = g.add_input("x", (2,), np.float32)
    y = g.new_value("y", (2,), np.float32)
    g.append_node(Node("NoSuchOp", [x], [y], {}, "mystery", "", onnx_attrs=[]))
    g.outputs = [y]
    with pytest.raises(InvalidGraphError, match="fails the ONNX checker") as info:
        save_onnx(g, tmp_path / "bad.onnx")
    assert "\n" not in str(info.value) and "NoSuchOp" in str(info.value)
    assert not (tmp_path / "bad.onnx").exists()
