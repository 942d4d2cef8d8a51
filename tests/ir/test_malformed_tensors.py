"""Malformed tensors in a model are one-line user errors naming the tensor, not numpy exceptions."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from alphanas.errors import InvalidGraphError
from alphanas.ir import from_onnx


def _model(initializer: onnx.TensorProto) -> onnx.ModelProto:
    node = helper.make_node("Add", ["x", initializer.name], ["y"])
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])], [initializer])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_initializer_whose_data_does_not_fit_its_dims():
    t = helper.make_tensor("w", TensorProto.FLOAT, [2], np.array([1.0, 2.0], np.float32))
    t.dims[:] = [3]  # two floats of data for three elements
    with pytest.raises(InvalidGraphError, match=r"initializer 'w' is malformed and cannot be read: ValueError"):
        from_onnx(_model(t))


def test_initializer_with_an_undefined_element_type():
    t = helper.make_tensor("w", TensorProto.FLOAT, [2], np.array([1.0, 2.0], np.float32))
    t.data_type = TensorProto.UNDEFINED
    with pytest.raises(InvalidGraphError, match=r"initializer 'w' is malformed and cannot be read"):
        from_onnx(_model(t))


def test_a_well_formed_initializer_still_loads():
    t = helper.make_tensor("w", TensorProto.FLOAT, [2], np.array([1.0, 2.0], np.float32))
    g = from_onnx(_model(t))
    assert np.array_equal(g.initializers["w"].array, [1.0, 2.0])
