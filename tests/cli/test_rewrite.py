"""``alphanas rewrite``: the default pipeline, named passes, --verify, and every user error (exit 2, one
line, input bytes unchanged, nothing written)."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
import textwrap

import pytest

from alphanas.cli import main
from alphanas.ir import load_onnx
from alphanas.passes.equivalence import compare
from tests.passes.conftest import demo_graph

#: A plug-in whose pass changes what the model computes (Sigmoid -> Tanh), and one whose pass crashes.
BAD_PLUGIN = textwrap.dedent('''
    from alphanas.passes import Pass, PassResult

    class SigmoidToTanh(Pass):
        """Deliberately wrong: replaces Sigmoid by Tanh."""
        name = "test-sigmoid-to-tanh"
        preserves_semantics = False

        def run(self, graph):
            changed = False
            for node in list(graph.nodes):
                if node.op_type == "Sigmoid":
                    new = graph.add_node("Tanh", [node.inputs[0]], index=graph.nodes.index(node))
                    graph.replace_all_uses(node.outputs[0], new.outputs[0])
                    graph.remove_node(node)
                    changed = True
            return PassResult(graph, changed)

    class Crash(Pass):
        """Deliberately broken."""
        name = "test-crash-cli"

        def run(self, graph):
            raise ZeroDivisionError("plug-in bug")
''')


def sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_default_pipeline_table_and_verify(demo_model, tmp_path, capsys):
    out = tmp_path / "out.onnx"
    before = sha(demo_model)
    assert main(["rewrite", str(demo_model), "-o", str(out), "--verify"]) == 0
    text = capsys.readouterr().out
    assert sha(demo_model) == before
    # the table: the BatchNormalization and the transpose pair go, so the node total drops from 10 to 7
    for row in (r"BatchNormalization\s+│\s+1\s+│\s+0\s+│\s+-1", r"Transpose\s+│\s+2\s+│\s+0\s+│\s+-2",
                r"nodes\s+│\s+10\s+│\s+7\s+│\s+-3"):
        assert re.search(row, text), row
    assert "verified with onnxruntime" in text and f"wrote {out}" in text
    got = load_onnx(out)
    assert sorted(n.op_type for n in got.nodes) == ["Conv", "GlobalAveragePool", "Neg", "Neg", "Relu", "Relu",
                                                     "Sigmoid"]
    assert compare(demo_graph(), got, batch=2).ok


def test_named_passes_run_in_order(demo_model, tmp_path, capsys):
    out = tmp_path / "out.onnx"
    assert main(["rewrite", str(demo_model), "-o", str(out), "--pass", "dce", "--pass", "reshape-chain"]) == 0
    out_text = capsys.readouterr().out  # per pass, in the order run, what it changed (with counts)
    assert "passes (2 rounds):\n  dce: no change\n  reshape-chain: 2 nodes removed (1 round)" in out_text
    ops = [n.op_type for n in load_onnx(out).nodes]
    assert "Transpose" not in ops and ops.count("BatchNormalization") == 1


def test_list_shows_the_passes(capsys):
    assert main(["rewrite", "--list"]) == 0
    text = capsys.readouterr().out
    for name in ("dce", "identity-elim", "const-fold", "bn-fold", "cse", "reshape-chain", "egraph"):
        assert name in text


@pytest.fixture
def bad_plugin(tmp_path, monkeypatch, clean_registry):
    (tmp_path / "bad_passes_for_cli.py").write_text(BAD_PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    return "bad_passes_for_cli"


def run_failing(capsys, argv, message):
    assert main(argv) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("alphanas: error:"), captured.err
    assert message in lines[0], lines[0]
    assert "Traceback" not in captured.err + captured.out


@pytest.mark.parametrize("case,message", [
    ("missing", "no such file"),
    ("not-onnx", "not a readable ONNX model"),
    ("bad-pass", "unknown pass 'no-such-pass'"),
    ("bad-plugin", "--plugin no_such_module_xyz: cannot import it"),
    ("verify-fails", "verification failed"),
    ("crashing-pass", "pass 'test-crash-cli' (round 1) failed on graph 'demo': ZeroDivisionError: plug-in bug"),
    ("no-fixed-point", "no fixed point after 1 round(s)"),
    ("output-is-input", "would overwrite the input"),
    ("output-exists", "already exists; pass --force"),
    ("no-output", "give an input model and -o"),
])
def test_user_errors_exit_2_and_touch_nothing(case, message, demo_model, bad_plugin, tmp_path, capsys):
    model, out = demo_model, tmp_path / "out.onnx"
    extra: list[str] = []
    if case == "missing":
        model = tmp_path / "missing.onnx"
    elif case == "not-onnx":
        model = tmp_path / "notes.onnx"
        model.write_bytes(b"these are notes, not a model\n")
    elif case == "bad-pass":
        extra = ["--pass", "no-such-pass"]
    elif case == "bad-plugin":
        extra = ["--plugin", "no_such_module_xyz"]
    elif case == "verify-fails":
        extra = ["--plugin", bad_plugin, "--pass", "test-sigmoid-to-tanh", "--verify"]
    elif case == "crashing-pass":
        extra = ["--plugin", bad_plugin, "--pass", "test-crash-cli"]
    elif case == "no-fixed-point":
        extra = ["--max-rounds", "1"]
    elif case == "output-is-input":
        out, extra = demo_model, ["--force"]
    elif case == "output-exists":
        out.write_bytes(b"precious")
    before = sha(model) if model.exists() else None
    argv = ["rewrite", str(model), *([] if case == "no-output" else ["-o", str(out)]), *extra]
    run_failing(capsys, argv, message)
    if before is not None:
        assert sha(model) == before, "the input file changed"
    if case == "output-exists":
        assert out.read_bytes() == b"precious"
    elif case != "output-is-input":
        assert not out.exists(), "an output was written despite the error"
    assert not list(tmp_path.glob(".*.tmp")), "a temporary file was left behind"


def test_wrong_pass_without_verify_is_written(demo_model, bad_plugin, tmp_path, capsys):
    """Without --verify the user asked for the rewrite as it is; with it the same rewrite is refused above."""
    out = tmp_path / "out.onnx"
    assert main(["rewrite", str(demo_model), "-o", str(out), "--plugin", bad_plugin,
                 "--pass", "test-sigmoid-to-tanh"]) == 0
    assert "Tanh" in [n.op_type for n in load_onnx(out).nodes]


def test_real_process_exit_status(tmp_path):
    r = subprocess.run([sys.executable, "-m", "alphanas.cli", "rewrite", str(tmp_path / "nope.onnx"), "-o",
                        str(tmp_path / "o.onnx")], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "no such file" in r.stderr
