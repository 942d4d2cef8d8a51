"""The alphanas IR: graphs, op definitions, ONNX import/export, torch lowering, builder, zoo."""

from alphanas.ir.builder import GraphBuilder
from alphanas.ir.graph import Graph, Node, Value
from alphanas.ir.input_shapes import overwrite_input_shapes, parse_input_shapes
from alphanas.ir.onnx_io import EXPORT_OPSET, from_onnx, load_onnx, save_onnx, to_onnx
from alphanas.ir.opdef import OpDef, lookup, register, registry
from alphanas.ir.subgraph import Subgraph
from alphanas.ir.torch_lowering import to_torch, write_back

__all__ = [
    "EXPORT_OPSET", "Graph", "GraphBuilder", "Node", "OpDef", "Subgraph", "Value", "from_onnx", "load_onnx",
    "lookup", "overwrite_input_shapes", "parse_input_shapes", "register", "registry", "save_onnx", "to_onnx",
    "to_torch", "write_back",
]
