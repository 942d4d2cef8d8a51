"""alphanas: neural architecture search by property-guided program synthesis (αNAS), on ONNX models."""

from alphanas.errors import AlphanasError
from alphanas.ir import Graph, GraphBuilder, Node, Subgraph, Value, load_onnx, save_onnx, to_torch
from alphanas import zoo

__version__ = "0.1.0"
__all__ = ["AlphanasError", "Graph", "GraphBuilder", "Node", "Subgraph", "Value", "load_onnx", "save_onnx", "to_torch", "zoo"]
