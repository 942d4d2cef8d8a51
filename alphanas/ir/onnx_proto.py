"""Reading ONNX models without importing the ``onnx`` package.

``import onnx`` costs 0.7-1 s (most of it in ``ml_dtypes``, which ``onnx.helper`` imports), more than
everything else ``alphanas inspect`` does. Reading a model needs only the protobuf classes and a few
conversions, so this module loads onnx's generated ``onnx_ml_pb2`` module by itself (registered under its
own name, ``onnx.onnx_ml_pb2``: a later ``import onnx`` reuses it, so the message classes are the same
objects either way) and converts the common tensors with ``np.frombuffer``. Everything uncommon (text
formats, external data, exotic element types, shape inference, checking, writing) goes through the real
package, imported on first use (:func:`onnx_package`), so behaviour is the same as with onnx itself.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np


@functools.cache
def pb() -> ModuleType:
    """onnx's generated protobuf module (``ModelProto``, ``TensorProto``, ...), without ``import onnx``."""
    if "onnx" in sys.modules:
        return importlib.import_module("onnx.onnx_ml_pb2")
    if "onnx.onnx_ml_pb2" in sys.modules:
        return sys.modules["onnx.onnx_ml_pb2"]
    spec = importlib.util.find_spec("onnx")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    path = Path(locations[0]) / "onnx_ml_pb2.py" if locations else None
    if path is None or not path.is_file():
        return importlib.import_module("onnx.onnx_ml_pb2")
    sub = importlib.util.spec_from_file_location("onnx.onnx_ml_pb2", path)
    assert sub is not None and sub.loader is not None
    module = importlib.util.module_from_spec(sub)
    sys.modules["onnx.onnx_ml_pb2"] = module
    try:
        sub.loader.exec_module(module)
    except BaseException:
        del sys.modules["onnx.onnx_ml_pb2"]
        raise
    return module


def onnx_package() -> ModuleType:
    """The ``onnx`` package (imported now if it was not), with its ``onnx_ml_pb2`` attribute set also when
    :func:`pb` loaded that module first."""
    import onnx

    if not hasattr(onnx, "onnx_ml_pb2") and "onnx.onnx_ml_pb2" in sys.modules:
        onnx.onnx_ml_pb2 = sys.modules["onnx.onnx_ml_pb2"]
    return onnx


class _LazyModule:
    """An onnx sub-module imported on its first attribute access (``helper``, ``numpy_helper``)."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        onnx_package()
        return getattr(importlib.import_module(self._name), attr)


#: ``onnx.helper`` and ``onnx.numpy_helper``, imported when first used
helper: Any = _LazyModule("onnx.helper")
numpy_helper: Any = _LazyModule("onnx.numpy_helper")

#: the file suffixes ``onnx.load`` reads as binary protobuf (others may name a text format)
_BINARY_SUFFIXES = {".onnx", ".pb", ""}


def load_model(path: str | Path) -> Any:
    """``onnx.load(path, load_external_data=False)``: the ``ModelProto`` of a binary ``.onnx`` file
    (the same checks and errors as onnx's protobuf reader; other suffixes go through onnx)."""
    p = Path(path)
    if p.suffix.lower() not in _BINARY_SUFFIXES:
        return onnx_package().load(str(p), load_external_data=False)
    data = p.read_bytes()
    model = pb().ModelProto()
    decoded = model.ParseFromString(data)
    if decoded is not None and decoded != len(data):
        from google.protobuf.message import DecodeError

        raise DecodeError(f"Protobuf decoding consumed too few bytes: {decoded} out of {len(data)}")
    return model


def uses_external_data(t: Any) -> bool:
    """``onnx.external_data_helper.uses_external_data``."""
    return t.HasField("data_location") and t.data_location == pb().TensorProto.EXTERNAL


#: element type -> numpy dtype for the types numpy holds natively (the others go through onnx)
_NP_DTYPES = {1: np.float32, 2: np.uint8, 3: np.int8, 4: np.uint16, 5: np.int16, 6: np.int32, 7: np.int64,
              9: np.bool_, 10: np.float16, 11: np.float64, 12: np.uint32, 13: np.uint64}
#: element type -> the repeated field holding its values when there is no ``raw_data`` (the types whose
#: values numpy converts directly)
_FIELDS = {1: "float_data", 6: "int32_data", 7: "int64_data", 11: "double_data", 13: "uint64_data"}


def np_dtype(elem_type: int) -> np.dtype:
    """``onnx.helper.tensor_dtype_to_np_dtype``."""
    dt = _NP_DTYPES.get(elem_type)
    return np.dtype(dt) if dt is not None else np.dtype(helper.tensor_dtype_to_np_dtype(elem_type))


def to_array(t: Any) -> np.ndarray:
    """``onnx.numpy_helper.to_array`` (the same values and errors): common element types from
    ``raw_data`` or their typed field directly, everything else through onnx."""
    dt = _NP_DTYPES.get(t.data_type)
    if dt is None or sys.byteorder != "little" or t.HasField("segment") or uses_external_data(t):
        return numpy_helper.to_array(t)
    if t.HasField("raw_data"):
        return np.frombuffer(t.raw_data, dtype=dt).reshape(t.dims)
    field = _FIELDS.get(t.data_type)
    if field is None:
        return numpy_helper.to_array(t)
    return np.asarray(getattr(t, field), dtype=dt).reshape(t.dims)


def attribute_value(a: Any) -> Any:
    """``onnx.helper.get_attribute_value``."""
    A = pb().AttributeProto
    if a.ref_attr_name:
        return helper.get_attribute_value(a)  # (raises onnx's own error)
    kind = a.type
    simple = {A.FLOAT: "f", A.INT: "i", A.STRING: "s", A.TENSOR: "t", A.SPARSE_TENSOR: "sparse_tensor", A.GRAPH: "g",
              A.TYPE_PROTO: "tp"}
    if kind in simple:
        return getattr(a, simple[kind])
    repeated = {A.FLOATS: "floats", A.INTS: "ints", A.STRINGS: "strings", A.TENSORS: "tensors",
                A.SPARSE_TENSORS: "sparse_tensors", A.GRAPHS: "graphs", A.TYPE_PROTOS: "type_protos"}
    if kind in repeated:
        return list(getattr(a, repeated[kind]))
    return helper.get_attribute_value(a)
