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
hence in ours) and compares outputs that do depend on the input.
"""

from __future__ import annotations

import os

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from alphanas.ir import from_onnx, load_onnx, runtime, to_onnx

LIGHT_DIR = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "light")
NAMES = ["bvlc_alexnet", "densenet121", "inception_v1", "inception_v2", "resnet50", "shufflenet",
         "squeezenet", "vgg19", "zfnet512"]


def _path(name: str) -> str:
    return os.path.join(LIGHT_DIR, f"light_{name}.onnx")


def _reference(name: str) -> np.ndarray:
    return numpy_helper.to_array(onnx.load_tensor(os.path.join(LIGHT_DIR, f"light_{name}_output_0.pb")))


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
    exported = to_onnx(graph)
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


def _randomize(model: onnx.ModelProto, seed: int) -> onnx.ModelProto:
    """Replace every ConstantOfShape weight by a seeded random initializer of the same shape.

    Scales keep the signal alive through 20-120 layers: He initialisation for rank >= 2, small
    offsets (biases, batch-norm means, tensors added after an Unsqueeze) in [-0.05, 0.05], and other
    1-d tensors (batch-norm scales and variances, multipliers) in [0.5, 1.5].
    """
    rng = np.random.default_rng(seed)
    m = onnx.ModelProto()
    m.CopyFrom(model)
    shapes = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    offsets = set()
    for n in m.graph.node:
        if n.op_type in ("Conv", "Gemm") and len(n.input) > 2:
            offsets.add(n.input[2])
        elif n.op_type == "BatchNormalization":
            offsets.update(n.input[2:4])
    offsets |= {n.input[0] for n in m.graph.node if n.op_type == "Unsqueeze"
                and any(c.op_type == "Add" and n.output[0] in c.input for c in m.graph.node)}
    keep = []
    for n in m.graph.node:
        if n.op_type != "ConstantOfShape":
            keep.append(n)
            continue
        shape = tuple(int(d) for d in shapes[n.input[0]])
        if len(shape) >= 2:
            w = rng.standard_normal(shape, dtype=np.float32)
            w *= np.float32(np.sqrt(2.0 / np.prod(shape[1:])))
        elif n.output[0] in offsets:
            w = rng.uniform(-0.05, 0.05, size=shape).astype(np.float32)
        else:
            w = rng.uniform(0.5, 1.5, size=shape).astype(np.float32)
        t = m.graph.initializer.add()
        t.name, t.data_type, t.raw_data = n.output[0], onnx.TensorProto.FLOAT, w.tobytes()
        t.dims.extend(shape)
    del m.graph.node[:]
    m.graph.node.extend(keep)
    # A saturated softmax hides differences: also return the logits that feed a final softmax.
    outputs = {o.name for o in m.graph.output}
    for n in keep:
        if n.op_type == "Softmax" and n.output[0] in outputs:
            m.graph.output.append(onnx.helper.make_tensor_value_info(n.input[0], onnx.TensorProto.FLOAT, None))
    return m


def test_random_weights(light):
    name, original, _, _ = light
    model = _randomize(original, seed=0)
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
