"""The depth property: alternations of linear and non-linear ops on the longest path (αNAS §2.2).

For an (input, output) pair, a path's depth is the number of maximal runs of ops of the same class
(linear or non-linear) on it; neutral ops (identity, dropout, cast) belong to no run. The depth of
the pair is the maximum over all paths; an output that does not depend on the input has no depth
(``None``). Example: conv, conv, relu, pool, conv, relu, pool, flatten, dense, relu, dense has
runs L N L N L N L, so depth 7 (the CifarNet value of αNAS).

Classification (from the op definition: its groups and :meth:`OpDef.is_nonlinear`):

- non-linear: group ``NONLINEAR`` (activations including ``Clip`` as ReLU6, element-wise functions such
  as ``Exp``, softmax), ``Pow`` unless the exponent is the constant 1 and ``Div`` by a computed
  (non-constant) divisor;
- linear: everything else — as αNAS, batch, layer and group norms, max-pooling, ``Add`` and ``Mul``
  count as linear even where they are not;
- neutral: group ``HELPER`` (``Identity``, ``Dropout``, ``Cast``). αNAS counts dropout as linear;
  here it is neutral because it is the identity at inference and imports may drop it;
- opaque (unregistered) ops count as non-linear (most are activations such as HardSwish or Mish).

State: per analysed input, ``(runs ending linear, runs ending non-linear, 0 if the value *is* the
input)`` with ``-1`` for "no such path", or ``None`` when the value does not depend on the input.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from alphanas.ir.graph import Node
from alphanas.ir.opdef import OpDef, OpGroup, on_registry_change
from alphanas.properties.base import Domain, Property

LINEAR, NONLINEAR, NEUTRAL = 0, 1, 2

_PER_NODE = -1  # the op overrides ``is_nonlinear``: ask it for each node

#: (domain, op type, whether registered ops apply) -> class or _PER_NODE; dropped when the op registry changes
_CLASS_CACHE: dict[tuple[str, str, bool], int] = {}
on_registry_change(_CLASS_CACHE.clear)


def _op_class(opdef: OpDef | None) -> int:
    if opdef is None:
        return NONLINEAR
    if OpGroup.HELPER in opdef.groups:
        return NEUTRAL
    if type(opdef).is_nonlinear is not OpDef.is_nonlinear:
        return _PER_NODE
    return NONLINEAR if OpGroup.NONLINEAR in opdef.groups else LINEAR  # (what the default is_nonlinear answers)


def depth_class(node: Node) -> int:
    """LINEAR, NONLINEAR or NEUTRAL for ``node`` (see the module docstring)."""
    key = (node.domain, node.op_type, node.onnx_attrs is None)  # (an op kept opaque for its attributes: no opdef)
    c = _CLASS_CACHE.get(key)
    if c is None:
        c = _CLASS_CACHE[key] = _op_class(node.opdef)
    if c == _PER_NODE:
        return NONLINEAR if node.opdef.is_nonlinear(node) else LINEAR
    return c


def _join_entry(a, b):
    if a is None:
        return b
    if b is None:
        return a
    return (max(a[0], b[0]), max(a[1], b[1]), max(a[2], b[2]))


class DepthDomain(Domain):
    name = "depth"

    def input_state(self, value, index, num_inputs):
        return tuple((-1, -1, 0) if i == index else None for i in range(num_inputs))

    def join(self, a, b):
        return tuple(_join_entry(x, y) for x, y in zip(a, b))

    def transfer(self, node, in_states):
        joined = None
        for s in in_states:
            if s is not None:
                joined = s if joined is None else self.join(joined, s)
        n_out = len(node.outputs)
        if joined is None:
            return [None] * n_out
        c = depth_class(node)
        if c == LINEAR:
            out = tuple([None if e is None else (max(e[0], e[1] + 1, e[2] + 1), -1, -1) for e in joined])
        elif c == NONLINEAR:
            out = tuple([None if e is None else (-1, max(e[1], e[0] + 1, e[2] + 1), -1) for e in joined])
        else:
            out = joined
        return [out] * n_out


class DepthProperty(Property):
    """``depths[i][j]``: depth from input ``i`` to output ``j`` (``None``: not connected).

    Satisfied when the candidate is at least as deep for every pair. Distance (αNAS): mean over the
    connected target pairs of ``max(0, target - candidate) / max(target, 1)``, a pair the candidate
    does not connect counting 1.
    """

    name: ClassVar[str] = "depth"
    domain: ClassVar[Domain] = DepthDomain()

    def __init__(self, depths, delta_max: int = 2) -> None:
        self.depths: tuple[tuple[int | None, ...], ...] = tuple(tuple(row) for row in depths)
        self.delta_max = int(delta_max)

    @classmethod
    def from_states(cls, graph_inputs, output_states):
        rows = []
        for i in range(len(graph_inputs)):
            row = []
            for s in output_states:
                e = None if s is None else s[i]
                row.append(None if e is None else max(e))
            rows.append(row)
        return cls(rows)

    def pairs(self):
        for i, row in enumerate(self.depths):
            for j, d in enumerate(row):
                if d is not None:
                    yield i, j, d

    def distance(self, candidate: "DepthProperty") -> float:
        total, count = 0.0, 0
        for i, j, d in self.pairs():
            count += 1
            try:
                c = candidate.depths[i][j]
            except IndexError:
                c = None
            total += 1.0 if c is None else max(0, d - c) / max(d, 1)
        return total / count if count else 0.0

    def mutate(self, rng: np.random.Generator, p: float) -> "DepthProperty":
        """Each pair moves by ``±delta`` where ``delta`` counts consecutive Bernoulli(p) successes, at most
        ``delta_max`` (αNAS), and never below 0."""
        rows = []
        for row in self.depths:
            new: list[int | None] = []
            for d in row:
                if d is None:
                    new.append(None)
                    continue
                delta = 0
                while delta < self.delta_max and rng.random() < p:
                    delta += 1
                sign = 1 if rng.random() < 0.5 else -1
                new.append(max(0, d + sign * delta))
            rows.append(new)
        return DepthProperty(rows, self.delta_max)

    def to_json(self) -> dict:
        return {"depths": [list(r) for r in self.depths], "delta_max": self.delta_max}

    @classmethod
    def from_json(cls, d: dict) -> "DepthProperty":
        return cls(d["depths"], d.get("delta_max", 2))

    def describe(self) -> str:
        parts = [f"in{i}->out{j}: {d}" for i, j, d in self.pairs()]
        return "depth " + (", ".join(parts) if parts else "(no connected pairs)")
