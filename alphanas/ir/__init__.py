"""The alphanas IR: graphs, op definitions, ONNX import/export, torch lowering, builder, zoo.

The names below are imported on first use (PEP 562): reading a model does not import torch, which only
the lowering (:func:`to_torch`, :func:`write_back`) needs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

#: public name -> the submodule that defines it
_LAZY = {
    "GraphBuilder": "builder", "Graph": "graph", "Node": "graph", "Value": "graph",
    "overwrite_input_shapes": "input_shapes", "parse_input_shapes": "input_shapes", "EXPORT_OPSET": "onnx_io",
    "from_onnx": "onnx_io", "load_onnx": "onnx_io", "save_onnx": "onnx_io", "to_onnx": "onnx_io", "OpDef": "opdef",
    "lookup": "opdef", "register": "opdef", "registry": "opdef", "Subgraph": "subgraph", "to_torch": "torch_lowering",
    "write_back": "torch_lowering",
}

__all__ = [
    "EXPORT_OPSET", "Graph", "GraphBuilder", "Node", "OpDef", "Subgraph", "Value", "from_onnx", "load_onnx",
    "lookup", "overwrite_input_shapes", "parse_input_shapes", "register", "registry", "save_onnx", "to_onnx",
    "to_torch", "write_back",
]

if TYPE_CHECKING:
    from alphanas.ir.builder import GraphBuilder
    from alphanas.ir.graph import Graph, Node, Value
    from alphanas.ir.input_shapes import overwrite_input_shapes, parse_input_shapes
    from alphanas.ir.onnx_io import EXPORT_OPSET, from_onnx, load_onnx, save_onnx, to_onnx
    from alphanas.ir.opdef import OpDef, lookup, register, registry
    from alphanas.ir.subgraph import Subgraph
    from alphanas.ir.torch_lowering import to_torch, write_back


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(f"alphanas.ir.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'alphanas.ir' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
