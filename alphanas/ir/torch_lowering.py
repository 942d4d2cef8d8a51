"""Lowering of a :class:`Graph` to a readable ``torch.fx.GraphModule``, and writing weights back.

Each node is lowered by its ``OpDef.lower``; weights become ``nn.Parameter`` (floating point,
more than one element) or buffers, with names derived from the IR names. Ops whose behaviour differs
between training and inference (batch norm, dropout) lower to ``nn`` modules, so ``model.train()``
and ``model.eval()`` work as usual; :func:`to_torch` returns the module in eval mode (inference, as
onnxruntime computes), and a trainer calls ``model.train()`` itself. Element types torch cannot hold
(float8, int4, bfloat16 from numpy, strings) are refused with a one-line error naming the node, the op
and the type. :func:`write_back` copies trained tensors into the IR.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import torch
import torch.fx as fx
from torch import nn

from alphanas.errors import UnsupportedModelError
from alphanas.ir._torch import resolve
from alphanas.ir.graph import Graph, Node, Value


def torch_name(name: str, taken: set[str]) -> str:
    base = re.sub(r"\W", "_", name)
    if not base or base[0].isdigit():
        base = "v_" + base
    out, i = base, 1
    while out in taken:
        out, i = f"{base}_{i}", i + 1
    taken.add(out)
    return out


def to_tensor(array: np.ndarray) -> torch.Tensor:
    a = np.asarray(array)
    if a.dtype == object:
        raise UnsupportedModelError("string tensors cannot be lowered to torch")
    return torch.from_numpy(np.array(a, order="C", copy=True))  # (ascontiguousarray makes 0-d arrays 1-d)


#: numpy element types a lowered module computes with (torch has no exact counterpart for the others:
#: float8, int4/int2, float4, bfloat16 as numpy holds it, strings)
TORCH_DTYPES = frozenset(np.dtype(t) for t in (
    np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64,
    np.float16, np.float32, np.float64, np.complex64, np.complex128))


def check_dtype(v: Value, node: Node | None = None) -> None:
    """Refuse a value whose element type torch cannot compute with (one line naming node, op and type)."""
    if v.dtype is None or np.dtype(v.dtype) in TORCH_DTYPES:
        return
    where = f"node {node.name!r} ({node.op_type})" if node is not None else f"graph input {v.name!r}"
    raise UnsupportedModelError(f"{where}: element type {np.dtype(v.dtype).name} of {v.name!r} has no torch "
                                "lowering; it still runs under onnxruntime")


class LowerCtx:
    """What an ``OpDef.lower`` sees: the fx graph, the node's inputs, and helpers to emit code."""

    def __init__(self, lowering: "_Lowering", node: Node) -> None:
        self._l = lowering
        self.node = node
        self.fx = lowering.fx

    def input(self, i: int) -> fx.Node | None:
        """The fx value of input ``i`` (constants come in as parameters/buffers)."""
        v = self.node.inputs[i] if i < len(self.node.inputs) else None
        return None if v is None else self._l.get(v)

    def const(self, i: int) -> np.ndarray | None:
        v = self.node.inputs[i] if i < len(self.node.inputs) else None
        return None if v is None else v.const

    def call(self, fn, *args, **kwargs) -> fx.Node:
        """Call ``fn`` (a torch function, or a :func:`alphanas.ir._torch.lazy` reference to one)."""
        return self.fx.call_function(resolve(fn), tuple(args), kwargs)

    def method(self, name: str, *args, **kwargs) -> fx.Node:
        return self.fx.call_method(name, tuple(args), kwargs)

    def getitem(self, x: fx.Node, i: int) -> fx.Node:
        import operator

        return self.fx.call_function(operator.getitem, (x, i))

    def module(self, module: nn.Module, *args, params: dict[str, int] | None = None) -> fx.Node:
        """Call ``module`` (registered under the node's name); ``params`` maps its tensor attribute
        names to the node's constant inputs, whose values are copied in and written back later."""
        qual = torch_name(self.node.name, self._l.taken)
        for attr, idx in (params or {}).items():
            v = self.node.inputs[idx]
            if v is None or not v.is_const:
                raise UnsupportedModelError(f"node {self.node.name!r}: input {idx} must be a constant to lower {attr}")
            current = getattr(module, attr)
            t = to_tensor(v.array).to(current.dtype).reshape(current.shape)
            with torch.no_grad():
                current.copy_(t)
            self._l.param_map[f"{qual}.{attr}"] = v.name
        self._l.root.add_module(qual, module)
        return self.fx.call_module(qual, tuple(args))


class _Lowering:
    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.root = nn.Module()
        self.fx = fx.Graph()
        self.env: dict[int, fx.Node] = {}
        self.taken: set[str] = set()
        self.param_map: dict[str, str] = {}

    def get(self, v: Value) -> fx.Node:
        if id(v) not in self.env:
            if not v.is_const:
                raise UnsupportedModelError(f"value {v.name!r} is used before it is defined")
            qual = torch_name(v.name, self.taken)
            t = to_tensor(v.array)
            if t.is_floating_point() and t.numel() > 1:
                self.root.register_parameter(qual, nn.Parameter(t))
            else:
                self.root.register_buffer(qual, t)
            self.param_map[qual] = v.name
            self.env[id(v)] = self.fx.get_attr(qual)
        return self.env[id(v)]

    def run(self) -> fx.GraphModule:
        for v in self.graph.inputs:
            check_dtype(v)
            self.env[id(v)] = self.fx.placeholder(torch_name(v.name, self.taken))
        for node in self.graph.nodes:
            opdef = node.opdef
            if opdef is None and node.op_type == "If" and not node.domain:
                cond = node.inputs[0].name if node.inputs and node.inputs[0] is not None else "?"
                raise UnsupportedModelError(
                    f"node {node.name!r}: op 'If' has a condition ({cond!r}) computed at run time and cannot be "
                    "lowered to torch (an If whose condition is known at import, e.g. from static input shapes, "
                    "is inlined); it still runs under onnxruntime")
            if opdef is None:
                from alphanas.ir.opdef import lookup

                why = ("in a form alphanas does not model (a computed operand, an attribute, output or opset it "
                       "does not support)" if lookup(node.op_type, getattr(node, "domain", "")) is not None
                       else "(no alphanas definition)")
                raise UnsupportedModelError(
                    f"node {node.name!r}: op {node.op_type!r} is opaque {why} and cannot be lowered to torch; "
                    "it still runs under onnxruntime"
                )
            for operand in [*node.inputs, *node.outputs]:
                if operand is not None:
                    check_dtype(operand, node)
            try:
                outs = opdef.lower(node, LowerCtx(self, node))
            except NotImplementedError as e:
                raise UnsupportedModelError(f"node {node.name!r} ({node.op_type}): {e}") from None
            for v, o in zip(node.outputs, outs):
                self.env[id(v)] = o
        outs = [self.get(v) for v in self.graph.outputs]
        self.fx.output(outs[0] if len(outs) == 1 else tuple(outs))
        gm = fx.GraphModule(self.root, self.fx, class_name=re.sub(r"\W", "_", self.graph.name) or "Model")
        # torch qualified name -> IR initializer name (an attribute torch's Module typing does not know)
        gm.alphanas_params = dict(self.param_map)  # type: ignore[assignment]
        return gm


def to_torch(graph: Graph) -> fx.GraphModule:
    """Lower ``graph`` to a ``torch.fx.GraphModule`` (weights copied in with their element types).

    The module is returned in **eval mode**: batch norm uses its running statistics and dropout is the
    identity, so it computes what onnxruntime computes on the graph. Call ``.train()`` to train it.
    Raises :class:`~alphanas.errors.UnsupportedModelError` (one line naming the node and op) for an
    opaque node, an op form or an element type with no torch lowering."""
    return _Lowering(graph).run().eval()


def write_back(graph: Graph, module: nn.Module) -> None:
    """Copy the tensors of a module made by :func:`to_torch` back into ``graph``'s initializers."""
    mapping: dict[str, Any] | None = getattr(module, "alphanas_params", None)
    if mapping is None:
        raise ValueError("module was not produced by alphanas.ir.to_torch")
    state = module.state_dict()
    for qual, ir_name in mapping.items():
        v = graph.initializers.get(ir_name)
        if v is None or qual not in state:
            continue
        arr = state[qual].detach().cpu().numpy()
        v.const = arr.reshape(v.array.shape).astype(v.array.dtype, copy=False)
