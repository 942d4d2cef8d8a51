"""Isomorphism-invariant structural hash of a graph (names ignored, weights by shape only)."""

from __future__ import annotations

import hashlib
import json

from alphanas.ir.graph import Graph

#: Ops whose inputs can be swapped without changing the result.
COMMUTATIVE = {"Add", "Mul", "Max", "Min", "Sum"}


def _h(*parts) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=repr).encode()).hexdigest()[:32]


def structural_hash(graph: Graph, *, with_weights: bool = False) -> str:
    """A Merkle hash over the DAG: each value hashes its producer's op, attributes and input hashes.

    Two graphs that differ only by value/node names or node order hash equal; commutative inputs
    are sorted. Weights contribute their shape and dtype (their values only with ``with_weights``).
    """
    hv: dict[int, str] = {}
    for i, v in enumerate(graph.inputs):
        hv[id(v)] = _h("input", i, list(v.shape or ()), str(v.dtype))
    for v in graph.initializers.values():
        hv[id(v)] = _h("const", list(v.dims), str(v.dtype), v.array.tobytes().hex() if with_weights else None)
    for node in graph.nodes:
        ins = ["-" if v is None else hv.get(id(v)) or _h("const", list(v.shape or ()), str(v.dtype)) for v in node.inputs]
        while ins and ins[-1] == "-":  # an absent trailing optional input is the same as none
            ins.pop()
        if node.op_type in COMMUTATIVE:
            ins = sorted(ins)
        attrs = node.attrs if node.onnx_attrs is None else [a.SerializeToString().hex() for a in node.onnx_attrs]
        nh = _h(node.domain, node.op_type, attrs, ins)
        for j, v in enumerate(node.outputs):
            hv[id(v)] = _h(nh, j)
    return _h("graph", [hv[id(v)] for v in graph.outputs])
