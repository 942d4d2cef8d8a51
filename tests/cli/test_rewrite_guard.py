"""``rewrite`` never writes a broken model: a pass whose result fails the ONNX checker, onnxruntime or (with
``--verify``) equivalence is undone and named; constant folding leaves alone a node it cannot fold faithfully;
weights kept in external data stay there."""

from __future__ import annotations

import textwrap

import numpy as np
import onnx
import pytest

from alphanas.cli import main
from alphanas.ir import load_onnx, save_onnx, to_onnx
from alphanas.ir.graph import Graph, Node
from alphanas.ir.runtime import session
from alphanas.passes import PassManager, get_pass
from alphanas.passes.constfold import ConstantFolding
from alphanas.passes.equivalence import compare, rewrite_guard
from tests.passes.conftest import demo_graph

#: How each breaking pass replaces the model's Sigmoid: (op type, domain); the IR accepts all three.
BREAKS = {"checker": ("NoSuchOp", ""), "onnxruntime": ("Nope", "test.broken"), "numbers": ("Tanh", "")}

BREAKING_PLUGIN = textwrap.dedent('''
    from alphanas.ir.graph import Node
    from alphanas.passes import Pass, PassResult

    def _replace_sigmoid(graph, op_type, domain):
        for node in list(graph.nodes):
            if node.op_type == "Sigmoid":
                x, y = node.inputs[0], node.outputs[0]
                out = graph.new_value("broken", x.shape, x.dtype)
                new = Node(op_type, [x], [out], {}, graph.unique_node_name("broken"), domain, onnx_attrs=[])
                graph.insert_nodes(graph.nodes.index(node), [new])
                graph.replace_all_uses(y, out)
                name = y.name
                graph.remove_node(node)
                graph.rename_value(y, graph.unique_name(name + "_dead"))
                graph.rename_value(out, name)
                return True
        return False
''') + "".join(textwrap.dedent(f'''

    class Break_{how}(Pass):
        """Deliberately wrong: its result fails {how}."""
        name = "test-break-{how}"

        def run(self, graph):
            return PassResult(graph, _replace_sigmoid(graph, {op!r}, {domain!r}))
''') for how, (op, domain) in BREAKS.items())


@pytest.fixture
def breaking(tmp_path, monkeypatch, clean_registry):
    """The module name of the breaking plug-in (importable, registered by ``--plugin``)."""
    (tmp_path / "breaking_passes.py").write_text(BREAKING_PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    from alphanas.passes import load_plugin

    load_plugin("breaking_passes")
    return "breaking_passes"


def _writable(path) -> None:
    """The model at ``path`` passes the full ONNX check and loads and runs in onnxruntime."""
    onnx.checker.check_model(str(path), full_check=True)
    sess = session(str(path), "cpu")
    sess.run(None, {"x": np.zeros((2, 3, 8, 8), np.float32)})


@pytest.mark.parametrize("how", sorted(BREAKS))
def test_guard_undoes_and_names_a_breaking_pass(how, breaking):
    graph = demo_graph()
    pm = PassManager([get_pass(f"test-break-{how}"), get_pass("reshape-chain"), get_pass("dce")],
                     guard=rewrite_guard(graph, verify=True))
    result = pm.run(graph)
    reason = pm.refused[f"test-break-{how}"]
    assert {"checker": "fails the ONNX checker", "onnxruntime": "fails in onnxruntime",
            "numbers": "differs"}[how] in reason, reason
    ops = [n.op_type for n in result.graph.nodes]
    assert "Sigmoid" in ops and "Transpose" not in ops  # undone, and the other passes still ran
    assert compare(graph, result.graph).ok
    assert any(r.refused for r in pm.history) and not any(r.modified for r in pm.history if r.refused)


@pytest.mark.parametrize("how", ["checker", "onnxruntime"])
def test_guard_without_verify_still_refuses_an_unloadable_model(how, breaking):
    pm = PassManager([get_pass(f"test-break-{how}")], guard=rewrite_guard(demo_graph(), verify=False))
    assert not pm.run(demo_graph()).modified and f"test-break-{how}" in pm.refused


def test_default_pipeline_refuses_a_broken_builtin_and_writes_a_good_model(demo_model, breaking, tmp_path, capsys,
                                                                           monkeypatch):
    """A built-in pass gone wrong (here cse replaced by one that breaks the model) is undone and named; the
    rest of the pipeline runs and the model written passes the checker and onnxruntime."""
    from alphanas.passes import registry

    broken = registry._PASSES["test-break-onnxruntime"]
    monkeypatch.setitem(registry._PASSES, "cse", type("BrokenCse", (broken,), {"name": "cse"}))
    out = tmp_path / "out.onnx"
    assert main(["rewrite", str(demo_model), "-o", str(out), "--verify"]) == 0
    text = capsys.readouterr().out
    assert "pass 'cse' refused (its result was undone): fails in onnxruntime" in text
    assert "verified with onnxruntime" in text
    _writable(out)
    got = load_onnx(out)
    assert "Sigmoid" in [n.op_type for n in got.nodes] and "BatchNormalization" not in [n.op_type for n in got.nodes]


@pytest.mark.parametrize("how,verify", [("checker", False), ("onnxruntime", False), ("numbers", True)])
def test_named_breaking_pass_is_an_error_and_nothing_is_written(how, verify, demo_model, breaking, tmp_path, capsys):
    out = tmp_path / "out.onnx"
    argv = ["rewrite", str(demo_model), "-o", str(out), "--plugin", breaking, "--pass", f"test-break-{how}"]
    assert main(argv + (["--verify"] if verify else [])) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"pass 'test-break-{how}'" in err, err
    assert ("verification failed" if verify else "the rewrite is refused") in err
    assert not out.exists()


def _fold_graph(op_type: str, domain: str, out_dtype) -> Graph:
    """y = x + op(c) with ``op`` an opaque node over a constant whose output is declared ``out_dtype``."""
    g = Graph("fold")
    x = g.add_input("x", (2,), np.float32)
    c = g.add_initializer("c", np.array([1.0, -2.0], np.float32))
    folded = g.new_value("odd", (2,), out_dtype)
    g.append_node(Node(op_type, [c], [folded], {}, "odd", domain, onnx_attrs=[]))
    g.outputs = [g.add_node("Add", [x, folded]).outputs[0]]
    return g


@pytest.mark.parametrize("op_type,domain,dtype,reason", [
    ("Nope", "test.custom", np.float32, "evaluation failed"),  # no evaluator knows the op
    ("Neg", "", np.int64, "evaluates to float32, the graph declares int64"),  # a folded value of the wrong type
])
def test_const_fold_leaves_a_node_it_cannot_fold_faithfully(op_type, domain, dtype, reason):
    graph = _fold_graph(op_type, domain, dtype)
    fold = ConstantFolding()
    assert not fold.run(graph).modified
    assert reason in fold.refused_nodes["odd"]
    assert [n.op_type for n in graph.nodes] == [op_type, "Add"]


def test_rewrite_names_the_node_const_fold_left(tmp_path, capsys):
    model = tmp_path / "custom.onnx"
    save_onnx(_fold_graph("Nope", "test.custom", np.float32), model)
    assert main(["rewrite", str(model), "-o", str(tmp_path / "out.onnx")]) == 0
    assert "const-fold left node 'odd' as it was: evaluation failed" in capsys.readouterr().out


def _conv_model() -> onnx.ModelProto:
    """x -> Conv(16 filters, 1.7 KB of weights) -> Relu -> Relu (one Relu for the pipeline to remove)."""
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.random.default_rng(0).standard_normal((16, 3, 3, 3)).astype(np.float32), "w")
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"]), helper.make_node("Relu", ["c"], ["r"]),
             helper.make_node("Relu", ["r"], ["y"])]
    graph = helper.make_graph(nodes, "conv", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 16, 6, 6])], [w])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_external_data_stays_external(tmp_path, capsys):
    source = tmp_path / "ext" / "model.onnx"
    source.parent.mkdir()
    onnx.save_model(_conv_model(), str(source), save_as_external_data=True, all_tensors_to_one_file=True,
                    location="model.weights", size_threshold=0)
    out = tmp_path / "out" / "rewritten.onnx"
    assert main(["rewrite", str(source), "-o", str(out), "--verify"]) == 0
    assert (out.parent / "rewritten.onnx.data").stat().st_size > 0
    written = onnx.load(str(out), load_external_data=False)
    big = [t for t in written.graph.initializer if np.prod(t.dims) * 4 >= 1024]
    assert big and all(t.data_location == onnx.TensorProto.EXTERNAL for t in big)
    _writable(out)
    assert to_onnx(load_onnx(out)).graph.initializer  # and it reads back, weights included
    # a model with its weights inside stays a single file
    onnx.save_model(_conv_model(), str(tmp_path / "inline.onnx"))
    assert main(["rewrite", str(tmp_path / "inline.onnx"), "-o", str(tmp_path / "single.onnx")]) == 0
    assert not (tmp_path / "single.onnx.data").exists()
