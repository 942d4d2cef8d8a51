"""Einstein summation (``Einsum``): products and contractions spelled as an equation, as attention and
bilinear layers exported from PyTorch use it."""

from __future__ import annotations

import math

import numpy as np
from alphanas.ir._torch import torch

from alphanas.ir.opdef import OpDef, OpGroup, broadcast_shapes, register


def parse(equation: str, shapes: list[tuple]) -> tuple[list[str], str, dict[str, object], tuple]:
    """(input terms, output term, letter -> size, ellipsis shape) of ``equation`` over ``shapes``; the
    implicit output (no ``->``) is the ellipsis then the letters seen once, in alphabetical order."""
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(shapes):
        raise ValueError(f"equation {equation!r} has {len(terms)} operands, the node {len(shapes)}")
    sizes: dict[str, object] = {}
    ellipses = []
    for term, shape in zip(terms, shapes):
        letters = term.replace("...", "")
        n_ell = len(shape) - len(letters)
        if n_ell < 0 or (n_ell and "..." not in term):
            raise ValueError(f"term {term!r} does not match rank {len(shape)}")
        head = term.index("...") if "..." in term else len(term)
        ellipses.append(tuple(shape[head:head + n_ell]))
        dims = list(shape[:head]) + list(shape[head + n_ell:])
        for c, d in zip(letters, dims):
            if c in sizes and sizes[c] != d and d != 1:
                if sizes[c] == 1:
                    sizes[c] = d
                elif isinstance(d, int) and isinstance(sizes[c], int):
                    raise ValueError(f"letter {c!r} has sizes {sizes[c]} and {d}")
            else:
                sizes.setdefault(c, d)
    ell = broadcast_shapes(*ellipses) if any(ellipses) else ()
    if not arrow:
        counts = {c: lhs.count(c) for c in set(lhs.replace("...", "").replace(",", ""))}
        rhs = ("..." if "..." in lhs else "") + "".join(sorted(c for c, n in counts.items() if n == 1))
    return terms, rhs, sizes, tuple(ell)


@register
class Einsum(OpDef):
    """``torch.einsum`` of the inputs; constant float operands are trainable (a bilinear weight)."""

    op_type = "Einsum"
    attributes = {"equation": None}
    min_inputs, max_inputs = 1, 1 << 10
    groups = frozenset({OpGroup.NONLINEAR})  # (a product of data operands; linear in each one alone)
    access = "opaque"

    def param_inputs(self, node):
        return [i for i, v in enumerate(node.inputs) if v is not None and v.is_const and v.const.dtype.kind == "f"]

    def is_nonlinear(self, node):
        return sum(1 for v in node.inputs if v is not None and not v.is_const) > 1

    def infer(self, node):
        _, rhs, sizes, ell = parse(node.attrs["equation"], [tuple(v.shape) for v in node.inputs])
        head = rhs.index("...") if "..." in rhs else len(rhs)
        letters = rhs.replace("...", "")
        out = [sizes[c] for c in letters[:head]] + list(ell if "..." in rhs else ()) + [sizes[c] for c in letters[head:]]
        return [(tuple(out), node.inputs[0].dtype)]

    def macs(self, node):
        terms, rhs, sizes, ell = parse(node.attrs["equation"], [tuple(v.shape) for v in node.inputs])
        dims = list(sizes.values()) + list(ell)
        if len(node.inputs) < 2 or not all(isinstance(d, int) for d in dims):
            return 0
        return int(math.prod(dims))

    def lower(self, node, ctx):
        dtype = node.outputs[0].dtype
        ins = [ctx.input(i) for i in range(len(node.inputs))]
        if dtype is not None and np.dtype(dtype).kind in "iu":  # (torch's einsum has no integer kernels on CPU)
            return [ctx.call(int_einsum, node.attrs["equation"], *ins)]
        return [ctx.call(torch.einsum, node.attrs["equation"], *ins)]


def int_einsum(equation: str, *xs):
    """Einsum of integer operands, computed in float64 and rounded back (exact below 2**53)."""
    out = torch.einsum(equation, *[x.to(torch.float64) for x in xs])
    return torch.round(out).to(xs[0].dtype)
