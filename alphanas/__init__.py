"""alphanas: neural architecture search by property-guided program synthesis (αNAS), on ONNX models.

The names below are imported on first use (PEP 562), so that ``import alphanas`` and the command line's
``--help`` start at once; ``from alphanas import Graph`` works as usual.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: public name -> the module that defines it
_LAZY = {"AlphanasError": "alphanas.errors", "Graph": "alphanas.ir", "GraphBuilder": "alphanas.ir", "Node": "alphanas.ir",
         "Subgraph": "alphanas.ir", "Value": "alphanas.ir", "load_onnx": "alphanas.ir", "save_onnx": "alphanas.ir",
         "to_torch": "alphanas.ir"}

__all__ = ["AlphanasError", "Graph", "GraphBuilder", "Node", "Subgraph", "Value", "load_onnx", "save_onnx", "to_torch", "zoo"]

if TYPE_CHECKING:
    from alphanas import zoo
    from alphanas.errors import AlphanasError
    from alphanas.ir import Graph, GraphBuilder, Node, Subgraph, Value, load_onnx, save_onnx, to_torch


def __getattr__(name: str) -> Any:
    if name == "zoo":
        return importlib.import_module("alphanas.zoo")
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'alphanas' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
