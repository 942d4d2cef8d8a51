"""The new region's check feeds it the values the whole model gives its inputs (issue 12; magika seed 2).

Two region inputs whose shapes share a symbolic size under different names (``n`` and ``Max(m, n)``)
used to get independent random sizes (the leading one the batch, the other the default length), sizes the
whole model never gives them together, so onnxruntime refused a broadcast the model itself performs: a
false verification failure. The oracle is onnxruntime running the whole model.
"""

from __future__ import annotations

import types

import onnx
import pytest
from onnx import TensorProto, helper

from alphanas.ir.onnx_io import from_onnx
from alphanas.ir.subgraph import Subgraph
from alphanas.synth import api
from alphanas.synth.problem import SynthesisFailed
from alphanas.synth.verify import Deadline, check_graph, check_region


@pytest.fixture(scope="module")
def shared_size():
    """``y = (a + b) * transpose(transpose(a))`` with ``a: [n, 4]``, ``b: [m, 4]``; the region {second
    transpose, mul} has inputs ``t: [4, n]`` and ``s: [Max(m, n), 4]``."""
    a = helper.make_tensor_value_info("a", TensorProto.FLOAT, ["n", 4])
    b = helper.make_tensor_value_info("b", TensorProto.FLOAT, ["m", 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    nodes = [helper.make_node("Add", ["a", "b"], ["s"], name="add"),
             helper.make_node("Transpose", ["a"], ["t"], perm=[1, 0], name="t1"),
             helper.make_node("Transpose", ["t"], ["u"], perm=[1, 0], name="t2"),
             helper.make_node("Mul", ["s", "u"], ["y"], name="mul")]
    model = helper.make_model(helper.make_graph(nodes, "shared", [a, b], [y]),
                              opset_imports=[helper.make_opsetid("", 17)])
    graph = from_onnx(onnx.load_from_string(model.SerializeToString()))
    region = Subgraph(graph, [n for n in graph.nodes if n.name in ("t2", "mul")]).to_graph("region")
    shapes = {v.name: tuple(v.shape) for v in region.inputs}
    assert shapes == {"t": (4, "n"), "s": ("Max(m, n)", 4)}  # one size, two names
    return graph, region


def test_independent_random_inputs_give_the_region_sizes_the_model_never_gives_it(shared_size):
    graph, region = shared_size
    check_graph(graph)  # the whole model runs
    with pytest.raises(SynthesisFailed, match="onnxruntime run"):  # (what the region check used to do)
        check_graph(region)


def test_the_region_check_takes_its_inputs_from_a_whole_model_run(shared_size):
    graph, region = shared_size
    check_region(graph, region, seed=2)
    check_region(graph, region, seed=2, deadline=Deadline(60.0))


def test_mutation_verification_of_a_model_that_does_not_lower_checks_the_region_in_context(shared_size):
    # the path of a model that does not lower as a whole (magika): whole-model onnxruntime run, then the region
    graph, region = shared_size
    res = types.SimpleNamespace(graph=graph, new=region)
    api._verify_partial(graph, res, seed=2, deadline=Deadline(60.0))
