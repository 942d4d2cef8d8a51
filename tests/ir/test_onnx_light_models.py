"""The nine real CNNs shipped inside the onnx wheel (``onnx/backend/test/data/light``).

Each is imported, exported, checked with ``onnx.checker`` (full check) and run under onnxruntime
against the original model and against the reference output stored beside it.

About the reference outputs: the light models replace every weight by ``ConstantOfShape`` filled
with 0.02, so every output channel of every layer is identical. The classifiers end in a softmax over
identical logits (exactly 1/1000 each); DenseNet-121 ends in a constant-weight conv whose value is also
input-independent. ``test_reference_output_is_input_independent`` establishes this (zeros, random
inputs and large inputs all reproduce the stored tensor), which is why the stored output can be
compared with any input. Because such models hide most import bugs, ``test_random_weights`` replaces
every ``ConstantOfShape`` weight with a seeded random initializer of the same shape (in the original,
hence in ours; ``alphanas.bench.onnx_parity.randomize_light_weights``) and compares outputs that
do depend on the input.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from alphanas.bench.onnx_parity import LIGHT_NAMES as NAMES
from alphanas.bench.onnx_parity import light_path as _path
from alphanas.bench.onnx_parity import light_reference as _reference
from alphanas.bench.onnx_parity import randomize_light_weights
from alphanas.ir import from_onnx, load_onnx, runtime, to_onnx


def _run(model, feeds) -> np.ndarray:
    return runtime.session(model, "cpu", threads=1).run(None, feeds)[0]


def _close(ours: np.ndarray, theirs: np.ndarray, rel: float = 1e-4) -> None:
    assert ours.shape == theirs.shape
    scale = max(float(np.abs(theirs).max()), 1e-12)
    assert float(np.abs(ours - theirs).max()) <= rel * scale, (float(np.abs(ours - theirs).max()), scale)


@pytest.fixture(scope="module", params=NAMES)
def light(request):
    """(name, original ModelProto, imported Graph, exported ModelProto), built once per module."""
    name = request.param
    original = onnx.load(_path(name))
    graph = load_onnx(_path(name))
    exported = to_onnx(graph, target_opset=21)
    return name, original, graph, exported


def test_import_export_check_and_outputs(light):
    name, original, graph, exported = light
    assert not [n.op_type for n in graph.nodes if n.is_opaque], "every op of the light models is known"
    assert not [n for n in graph.nodes if n.op_type in ("ConstantOfShape", "Dropout", "Identity", "Sum")]
    onnx.checker.check_model(exported, full_check=True)
    assert exported.opset_import[0].version == 21
    feeds = runtime.random_feeds(graph, seed=1)
    ours = _run(exported, feeds)
    _close(ours, _run(original, feeds))
    _close(ours, _reference(name))


def test_reference_output_is_input_independent():
    # The stored reference output was produced from an unstored input; with 0.02-filled weights any
    # input gives it. Checked on a softmax classifier and on DenseNet (no softmax).
    for name in ("squeezenet", "densenet121"):
        model = onnx.load(_path(name))
        g = from_onnx(model)
        (inp,) = g.inputs
        ref = _reference(name)
        for x in (np.zeros(inp.shape, np.float32), runtime.random_feeds(g, seed=3)[inp.name],
                  np.full(inp.shape, 100.0, np.float32)):
            np.testing.assert_allclose(_run(model, {inp.name: x}), ref, rtol=1e-5, atol=1e-7)


def test_random_weights(light):
    name, original, _, _ = light
    model = randomize_light_weights(original, seed=0)
    graph = from_onnx(model, source=name)
    exported = to_onnx(graph)
    # The second input is 10x larger: after global pooling, random-weight networks average an
    # input-dependent part out against a constant one from biases and ReLU means; scaling the input
    # makes the output depend on it clearly.
    feeds = [runtime.random_feeds(graph, seed=1), {k: 10 * v for k, v in runtime.random_feeds(graph, seed=2).items()}]
    assert [v.name for v in graph.outputs] == [o.name for o in model.graph.output]
    ref_sess = runtime.session(model, "cpu", threads=1)
    our_sess = runtime.session(exported, "cpu", threads=1)
    theirs = [ref_sess.run(None, f) for f in feeds]
    # the comparison is meaningful only if the last output (logits, where there is a softmax)
    # depends on the input
    a, b = theirs[0][-1], theirs[1][-1]
    assert float(np.abs(a - b).max()) > 0.1 * float(np.abs(a).max())
    for f, t in zip(feeds, theirs):
        for ours, ref in zip(our_sess.run(None, f), t):
            _close(ours, ref)
