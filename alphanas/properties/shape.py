"""The shape property: exact input and output shapes, with a symbolic batch (αNAS §2.1).

The abstract state of a value is its shape. The transfer function is the op's own shape function
(``OpDef.infer``), so abstract and concrete shapes coincide; when the states equal the shapes the IR
already holds, the stored output shapes are reused.

Distance (target ``self``, candidate ``c``):

- **infeasible** (``math.inf``, never an exception): the input shapes differ; a required output is
  missing; its rank differs; its batch (first) dimension differs; or its spatial dimensions are not
  all an integer multiple of the target's by the *same* factor (checked unless every target spatial
  dimension is 1, which a global pool can reach). There is no up-sampling, so a candidate that
  already down-sampled too much, or by an uneven factor, can never be completed: the synthesizer
  prunes it. Spatial axes: ``2..`` for tensors of rank >= 4 (NCHW), axis 1 for rank-3 tensors
  (tokens ``N, T, D``), none for rank <= 2;
- otherwise the mean over required outputs of (mismatched dimensions / rank); extra candidate
  outputs are allowed.

Mutation deletes each required output shape with probability ``p`` (αNAS ships ``p = 0``).
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np

from alphanas.ir.graph import Node, Value
from alphanas.properties.base import Domain, Property


def spatial_axes(rank: int) -> range:
    """Axes treated as spatial by the shape distance (see the module docstring)."""
    if rank >= 4:
        return range(2, rank)
    if rank == 3:
        return range(1, 2)
    return range(0)


class ShapeDomain(Domain):
    name = "shape"

    def input_state(self, value, index, num_inputs):
        return value.shape

    def join(self, a, b):
        if a != b:
            raise ValueError(f"shapes {a} and {b} of one value differ")
        return a

    def transfer(self, node, in_states):
        ins = node.inputs
        for s, v in zip(in_states, ins):
            if s is not None and (v is None or (s is not v.shape and s != v.shape)):
                break
        else:  # the input shapes are the stored ones: so are the output shapes
            return [v.shape for v in node.outputs]
        opdef = node.opdef
        if opdef is None:
            raise ValueError(f"node {node.name!r}: opaque op {node.op_type} has no shape function for new input shapes")
        proxies = [None if v is None else (v if s is None else Value(v.name, s, v.dtype)) for v, s in zip(ins, in_states)]
        tmp = Node(node.op_type, proxies, [Value(o.name) for o in node.outputs], node.attrs, node.name, node.domain)
        tmp.attrs = dict(node.attrs)
        shapes = [tuple(shape) for shape, _ in opdef.infer(tmp)]
        for i, v in enumerate(proxies):  # undo the use-def links the temporary node added
            if v is not None:
                v.uses.remove((tmp, i))
        return shapes


def _shape(s):
    return None if s is None else tuple(s)


class ShapeProperty(Property):
    """``inputs``: input shapes (``None``: unknown, an opaque op's output); ``outputs``: required output shapes
    (``None`` = not required, which is also what an output of unknown shape gives: no requirement)."""

    name: ClassVar[str] = "shape"
    domain: ClassVar[Domain] = ShapeDomain()

    def __init__(self, inputs, outputs) -> None:
        self.inputs = tuple(_shape(s) for s in inputs)
        self.outputs = tuple(_shape(s) for s in outputs)

    @classmethod
    def from_states(cls, graph_inputs, output_states):
        return cls([v.shape for v in graph_inputs], output_states)

    def feasible(self, candidate: "ShapeProperty") -> bool:
        return self.distance(candidate) != math.inf

    def distance(self, candidate: "ShapeProperty") -> float:
        if len(self.inputs) != len(candidate.inputs) or any(a != b for a, b in zip(self.inputs, candidate.inputs)):
            return math.inf
        required = [(j, s) for j, s in enumerate(self.outputs) if s is not None]
        if not required:
            return 0.0
        total = 0.0
        for j, t in required:
            c = candidate.outputs[j] if j < len(candidate.outputs) else None
            if c is None or len(c) != len(t):
                return math.inf
            if t and c[0] != t[0]:
                return math.inf
            sp = spatial_axes(len(t))
            if any(t[a] != 1 for a in sp):
                factor = None
                for a in sp:
                    ta, ca = t[a], c[a]
                    if isinstance(ta, str) or isinstance(ca, str):
                        if ta != ca:
                            return math.inf
                        f = 1
                    else:
                        if ca % ta:
                            return math.inf
                        f = ca // ta
                    if factor is not None and f != factor:
                        return math.inf
                    factor = f
            total += sum(a != b for a, b in zip(c, t)) / max(len(t), 1)
        return total / len(required)

    def mutate(self, rng: np.random.Generator, p: float) -> "ShapeProperty":
        outs = [None if s is None or rng.random() < p else s for s in self.outputs]
        return ShapeProperty(self.inputs, outs)

    def to_json(self) -> dict:
        return {"inputs": [None if s is None else list(s) for s in self.inputs],
                "outputs": [None if s is None else list(s) for s in self.outputs]}

    @classmethod
    def from_json(cls, d: dict) -> "ShapeProperty":
        return cls(d["inputs"], d["outputs"])

    def describe(self) -> str:
        fmt = lambda s, none: none if s is None else "[" + ", ".join(map(str, s)) + "]"  # noqa: E731
        return (f"shape {' '.join(fmt(s, '?') for s in self.inputs)} -> "
                f"{' '.join(fmt(s, 'any') for s in self.outputs)}")
