"""Reading models without the onnx package (``alphanas.ir.onnx_proto``) gives what onnx itself gives:
tensors against ``onnx.numpy_helper.to_array``, attributes against ``onnx.helper.get_attribute_value``,
and whole imports against an import in a process where onnx was imported first."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from alphanas.ir import onnx_proto

LIGHT = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light"

ARRAYS = [np.arange(12, dtype=t).reshape(3, 4) for t in (np.float32, np.float64, np.int64, np.int32, np.int8,
                                                          np.uint8, np.int16, np.uint16, np.uint32, np.uint64,
                                                          np.float16)]
ARRAYS += [np.array([True, False, True]), np.zeros((0, 3), np.float32), np.array(3.5, np.float32)]


@pytest.mark.parametrize("a", ARRAYS, ids=lambda a: f"{a.dtype}{list(a.shape)}")
def test_tensors_read_as_numpy_helper_reads_them(a):
    raw = numpy_helper.from_array(a, "t")
    for t in (raw, helper.make_tensor("t", helper.np_dtype_to_tensor_dtype(a.dtype), a.shape, a.reshape(-1).tolist())):
        got, want = onnx_proto.to_array(t), numpy_helper.to_array(t)
        assert got.dtype == want.dtype and got.shape == want.shape and np.array_equal(got, want)


def test_malformed_and_exotic_tensors_fail_or_convert_as_onnx_does():
    strings = helper.make_tensor("s", TensorProto.STRING, [2], [b"a", b"b"])
    assert onnx_proto.to_array(strings).tolist() == ["a", "b"]
    short = TensorProto(name="x", data_type=TensorProto.FLOAT, dims=[4], raw_data=np.zeros(3, np.float32).tobytes())
    with pytest.raises(ValueError) as ours:
        onnx_proto.to_array(short)
    with pytest.raises(ValueError) as theirs:
        numpy_helper.to_array(short)
    assert str(ours.value) == str(theirs.value)
    with pytest.raises(TypeError):
        onnx_proto.to_array(TensorProto(name="u", dims=[1]))


def test_attributes_read_as_onnx_reads_them():
    g = helper.make_graph([], "g", [], [])
    t = numpy_helper.from_array(np.ones(2, np.float32), "t")
    made = [helper.make_attribute(k, v) for k, v in {
        "f": 1.5, "i": 3, "s": "text", "t": t, "g": g, "floats": [1.0, 2.0], "ints": [1, -2], "strings": ["a", "b"],
        "tensors": [t, t], "graphs": [g], "empty_ints": []}.items() if k != "empty_ints"]
    made.append(helper.make_attribute("tp", helper.make_tensor_type_proto(TensorProto.FLOAT, [1])))
    made.append(helper.make_attribute("empty", [], attr_type=onnx.AttributeProto.INTS))
    light = [a for path in sorted(LIGHT.glob("*.onnx")) for n in onnx.load(str(path)).graph.node for a in n.attribute]
    for a in made + light:
        assert onnx_proto.attribute_value(a) == helper.get_attribute_value(a), a.name
    assert len(light) > 100


_PROBE = """
import sys
from alphanas.ir import load_onnx
from alphanas.ir.cost import summary
g = load_onnx(sys.argv[1])
print(repr((summary(g), [(n.op_type, n.outputs[0].shape, n.is_opaque) for n in g.nodes])))
print('onnx' in sys.modules)
"""


@pytest.mark.parametrize("name", ["light_squeezenet", "light_resnet50"])
def test_a_model_reads_the_same_without_the_onnx_package(name):
    from alphanas.ir import load_onnx
    from alphanas.ir.cost import summary

    path = LIGHT / f"{name}.onnx"
    out = subprocess.run([sys.executable, "-c", _PROBE, str(path)], capture_output=True, text=True, check=True).stdout
    result, onnx_imported = out.strip().splitlines()
    g = load_onnx(path)  # here onnx is imported: the classes come from the package itself
    assert result == repr((summary(g), [(n.op_type, n.outputs[0].shape, n.is_opaque) for n in g.nodes]))
    assert onnx_imported == "False"


def test_a_later_import_of_onnx_shares_the_message_classes():
    code = ("from alphanas.ir.onnx_proto import pb, onnx_package\nm = pb().ModelProto\nimport onnx\n"
            "assert onnx.ModelProto is m and onnx_package().onnx_ml_pb2 is pb()\n"
            "onnx.checker.check_model(onnx.helper.make_model(onnx.helper.make_graph([], 'g', [], [])))\nprint('ok')")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "ok"
