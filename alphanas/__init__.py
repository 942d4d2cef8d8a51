"""alphanas: neural architecture search by property-guided program synthesis (αNAS), on ONNX models.

The IR names below are loaded on first use (PEP 562): ``import alphanas`` alone does not import
onnx or torch.
"""

import importlib
from typing import TYPE_CHECKING, Any

from alphanas.errors import AlphanasError

if TYPE_CHECKING:
    from alphanas import zoo
    from alphanas.ir import Graph, GraphBuilder, Node, Subgraph, Value, load_onnx, save_onnx, to_torch

__version__ = "0.1.0"
__all__ = ["AlphanasError", "Graph", "GraphBuilder", "Node", "Subgraph", "Value", "load_onnx", "save_onnx", "to_torch", "zoo"]


def __getattr__(name: str) -> Any:
    if name == "zoo":
        value = importlib.import_module("alphanas.zoo")
    elif name in __all__:
        value = getattr(importlib.import_module("alphanas.ir"), name)
    else:
        raise AttributeError(f"module 'alphanas' has no attribute {name!r}")
    globals()[name] = value
    return value
