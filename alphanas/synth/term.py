"""The synthesis term language: a subgraph as a DAG of typed terms, and back to IR nodes.

A :class:`Term` is a hash-consable ``(op, params, kids)`` with named parameters: the ops and their
parameters are declared once, as typed egglog constructors (:class:`~alphanas.synth.lang.NetTerm`),
and ``params`` is that op's parameter ``NamedTuple`` (``t.params.stride``). Ops whose parameters
synthesis may change have typed constructors; everything else is kept verbatim as ``fix`` (the
original node ``fixed[index]``, with its attributes and constant inputs):

=========  ===================================  ====================================================
op         params                               materialises as
=========  ===================================  ====================================================
``input``  (index)                              subgraph input ``index``
``conv``   (cout, kernel, stride, groups, bias)  2-D Conv, square odd kernel, "same" padding (k-1)/2
``dense``  (cout, bias)                         Gemm (rank 2) or MatMul + Add (higher rank), last axis
``act``    (kind)                               Relu, Gelu, Swish, Sigmoid, Tanh, Clip(0, 6) ("relu6")
``norm``   (kind)                               BatchNormalization ("bn"), LayerNormalization on the
                                                last axis ("ln"), InstanceNormalization ("in")
``pool``   (kind, kernel, stride)               MaxPool/AveragePool, pads (k-1)/2 for odd k, 0 for even
``gpool``  (kind)                               GlobalAveragePool / GlobalMaxPool
``add``    ()                                   Add (two non-constant operands)
``mul``    ()                                   Mul (two non-constant operands)
``skip``   ()                                   nothing: the operand itself
``fix``    (index)                              the original node ``fixed[index]``
=========  ===================================  ====================================================

New weights are initialised from a numpy generator the way :class:`~alphanas.ir.GraphBuilder`
does (He-normal convolutions, torch's uniform rule for dense layers, identity norms).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from alphanas.ir.graph import Node, Value
from alphanas.ir.opdef import OpGroup, lookup, synthesis_kinds
from alphanas.ir.subgraph import Subgraph
from alphanas.synth.lang import PARAMS


class _KindTable(Mapping[str, str]):
    """Synthesis kind -> op type for the registered ops of one group (:func:`alphanas.ir.opdef.synthesis_kinds`),
    read from the registry at each use, so that an op registered later is a kind too."""

    def __init__(self, group: OpGroup) -> None:
        self.group = group

    def _table(self) -> dict[str, str]:
        return {kind: opdef.op_type for kind, (opdef, _) in synthesis_kinds(self.group).items()}

    def __getitem__(self, kind: str) -> str:
        return self._table()[kind]

    def __iter__(self) -> Iterator[str]:
        return iter(self._table())

    def __len__(self) -> int:
        return len(self._table())

    def __repr__(self) -> str:
        return repr(self._table())


ACT_OPS = _KindTable(OpGroup.ACTIVATION)
NORM_OPS = _KindTable(OpGroup.NORM)
POOL_OPS = _KindTable(OpGroup.POOL)
GPOOL_OPS = _KindTable(OpGroup.GLOBAL_POOL)
#: Ops that read one tensor and have synthesizable parameters (the progressive synthesizer's chains).
UNARY = ("conv", "dense", "act", "norm", "pool", "gpool")


class Term(NamedTuple):
    """One op over operand terms; ``params`` is the op's parameter ``NamedTuple`` (:data:`~alphanas.synth.lang.PARAMS`)."""

    op: str
    params: tuple
    kids: tuple[Term, ...]

    @classmethod
    def of(cls, op: str, *kids: Term, **params) -> Term:
        """``Term.of("conv", x, cout=8, kernel=3, stride=1, groups=1, bias=0)``."""
        return cls(op, PARAMS[op](**params), kids)

    def with_params(self, **changes) -> Term:
        """The same op over the same operands with some parameters changed."""
        return Term(self.op, self.params._replace(**changes), self.kids)  # type: ignore[attr-defined]


def T(op: str, params=(), *kids: Term) -> Term:
    """A term from positional parameters (in the op's declaration order)."""
    return Term(op, PARAMS[op](*params), kids)


@dataclass
class Encoding:
    """A subgraph as terms: one root per boundary output, the fixed nodes, and the input values."""

    roots: list[Term]
    fixed: list[Node]
    inputs: list[Value]
    value_terms: dict[int, Term] = field(default_factory=dict)


def _act_kind(node: Node) -> str | None:
    """The activation kind ``node`` is (its op's :attr:`~alphanas.ir.opdef.OpDef.synth_kinds` whose
    attributes it has), or None."""
    opdef = node.opdef
    if opdef is None or OpGroup.ACTIVATION not in opdef.groups or len(node.inputs) != 1:
        return None
    for kind, attrs in opdef.synth_kinds.items():
        if all(node.attrs.get(k) == v for k, v in attrs.items()):
            return kind
    return None


def _same_pad(k: int) -> int:
    return (k - 1) // 2 if k % 2 else 0


def _typed(node: Node, kids: list[Term], const: list) -> Term | None:
    """The typed term of ``node`` (kids: terms of its non-constant inputs), or None to keep it fixed."""
    op, a = node.op_type, node.attrs
    x = node.inputs[0]
    if x is None or x.shape is None or node.outputs[0].shape is None or len(node.outputs) != 1:
        return None
    rank = len(x.shape)
    if op == "Conv" and rank == 4 and len(kids) == 1 and node.inputs[1].is_const:
        k = a["kernel_shape"]
        if (len(k) == 2 and k[0] == k[1] and k[0] % 2 == 1 and a["dilations"] == [1, 1]
                and a["strides"][0] == a["strides"][1] and all(p == (k[0] - 1) // 2 for p in a["pads"])):
            bias = int(len(node.inputs) > 2 and node.inputs[2] is not None)
            return Term.of("conv", kids[0], cout=int(node.inputs[1].shape[0]), kernel=k[0], stride=a["strides"][0],
                           groups=a["group"], bias=bias)
        return None
    if op == "Gemm" and len(kids) == 1 and rank == 2 and node.inputs[1].is_const and not a["transA"] \
            and a["alpha"] == 1.0 and a["beta"] == 1.0:
        w = node.inputs[1].shape
        c = w[0] if a["transB"] else w[1]
        bias = node.inputs[2] if len(node.inputs) > 2 else None
        if bias is not None and (not bias.is_const or tuple(bias.shape) != (c,)):
            return None
        return Term.of("dense", kids[0], cout=int(c), bias=int(bias is not None))
    if op == "MatMul" and len(kids) == 1 and node.inputs[0] is x and node.inputs[1].is_const \
            and len(node.inputs[1].shape) == 2 and rank >= 2:
        return Term.of("dense", kids[0], cout=int(node.inputs[1].shape[1]), bias=0)
    kind = _act_kind(node)
    if kind is not None:
        return Term.of("act", kids[0], kind=kind)
    if op == "BatchNormalization" and rank >= 2:
        return Term.of("norm", kids[0], kind="bn")
    if op == "LayerNormalization" and a["axis"] in (-1, rank - 1) and len(kids) == 1 and node.inputs[1].is_const:
        return Term.of("norm", kids[0], kind="ln")
    if op == "InstanceNormalization" and rank == 4:
        return Term.of("norm", kids[0], kind="in")
    if op in ("MaxPool", "AveragePool") and rank == 4:
        k = a["kernel_shape"]
        if (len(k) == 2 and k[0] == k[1] and a["strides"][0] == a["strides"][1] and a["dilations"] == [1, 1]
                and not a["ceil_mode"] and all(p == _same_pad(k[0]) for p in a["pads"])
                and (k[0] % 2 == 1 or k[0] == a["strides"][0])
                and (op == "MaxPool" or not a.get("count_include_pad", 0))):
            return Term.of("pool", kids[0], kind="max" if op == "MaxPool" else "avg", kernel=k[0],
                           stride=a["strides"][0])
        return None
    if op in ("GlobalAveragePool", "GlobalMaxPool") and rank == 4:
        return Term.of("gpool", kids[0], kind="avg" if op == "GlobalAveragePool" else "max")
    if op in ("Add", "Mul") and len(kids) == 2 and x.shape is not None and node.inputs[1].shape is not None:
        return Term.of(op.lower(), *kids)
    if op in ("Identity",):
        return Term.of("skip", kids[0])
    return None


def encode(sub: Subgraph) -> Encoding:
    """Terms for ``sub``'s boundary outputs. Nodes with several outputs must not be in ``sub``."""
    enc = Encoding(roots=[], fixed=[], inputs=list(sub.inputs))
    vt = enc.value_terms
    for i, v in enumerate(sub.inputs):
        vt[id(v)] = Term.of("input", index=i)
    for node in sub.nodes:
        if len(node.outputs) != 1:
            raise ValueError(f"node {node.name!r} has {len(node.outputs)} outputs; synthesis needs single-output nodes")
        kids = [vt[id(v)] for v in node.inputs if v is not None and not v.is_const]
        term = _typed(node, kids, [v for v in node.inputs if v is not None and v.is_const])
        # MatMul (dense without bias) + Add(bias) -> dense with bias
        if (term is None and node.op_type == "Add" and len(kids) == 1 and kids[0].op == "dense"
                and kids[0].params.bias == 0):
            src = next(v for v in node.inputs if not v.is_const)
            bias = next(v for v in node.inputs if v.is_const)
            if tuple(bias.shape) == (kids[0].params.cout,) and len(src.uses) == 1 and node.inputs[0] is src:
                term = kids[0].with_params(bias=1)
        if term is None:
            enc.fixed.append(node)
            term = Term.of("fix", *kids, index=len(enc.fixed) - 1)
        vt[id(node.outputs[0])] = term
    enc.roots = [vt[id(v)] for v in sub.outputs]
    return enc


# ---------------------------------------------------------------------------------------------------
# materialisation
# ---------------------------------------------------------------------------------------------------


class Materializer:
    """Builds IR nodes for terms. With ``rng=None`` weights are zero-cost dummies (shape only)."""

    def __init__(self, fixed: list[Node], rng: np.random.Generator | None = None, prefix: str = "syn") -> None:
        self.fixed = fixed
        self.rng = rng
        self.prefix = prefix
        self.nodes: list[Node] = []
        self._n = 0

    def _name(self, base: str) -> str:
        self._n += 1
        return f"{self.prefix}_{base}_{self._n}"

    def _w(self, base: str, shape, init: str, fan_in: int = 1) -> Value:
        shape = tuple(int(s) for s in shape)
        if self.rng is None:
            arr = np.broadcast_to(np.float32(0), shape)
        elif init == "he":
            arr = self.rng.normal(0.0, math.sqrt(2.0 / max(1, fan_in)), size=shape).astype(np.float32)
        elif init == "uniform":
            bound = 1.0 / math.sqrt(max(1, fan_in))
            arr = self.rng.uniform(-bound, bound, size=shape).astype(np.float32)
        elif init == "ones":
            arr = np.ones(shape, np.float32)
        else:
            arr = np.zeros(shape, np.float32)
        return Value(self._name(base), const=arr)

    def node(self, op_type: str, inputs: list, attrs: dict | None = None) -> Value:
        opdef = lookup(op_type)
        name = self._name(op_type.lower())
        out = Value(name)
        node = Node(op_type, inputs, [out], opdef.complete_attrs(dict(attrs or {})), name)
        ((shape, dtype),) = opdef.infer(node)
        out.shape, out.dtype = tuple(shape), np.dtype(dtype)
        self.nodes.append(node)
        return out

    def apply(self, op: str, params: tuple, kids: list[Value]) -> Value:
        """Materialise one term constructor (``params``: its named parameters) over materialised operands."""
        if op == "skip":
            return kids[0]
        if op == "fix":
            orig = self.fixed[params.index]
            it = iter(kids)
            ins = [None if v is None else (v if v.is_const else next(it)) for v in orig.inputs]
            opdef = orig.opdef
            out = Value(self._name(orig.op_type.lower()))
            node = Node(orig.op_type, ins, [out], dict(orig.attrs), out.name, orig.domain, orig.onnx_attrs)
            if opdef is not None:
                ((shape, dtype),) = opdef.infer(node)
            else:
                shape, dtype = orig.outputs[0].shape, orig.outputs[0].dtype
            out.shape, out.dtype = tuple(shape), np.dtype(dtype)
            self.nodes.append(node)
            return out
        x = kids[0]
        if op == "conv":
            cout, k, s, g, b = params.cout, params.kernel, params.stride, params.groups, params.bias
            cin = x.shape[1]
            if not isinstance(cin, int) or cin % g or cout % g or len(x.shape) != 4:
                raise ValueError("bad conv groups")
            w = self._w("w", (cout, cin // g, k, k), "he", cin // g * k * k)
            bias = self._w("b", (cout,), "zeros") if b else None
            p = (k - 1) // 2
            return self.node("Conv", [x, w, bias], {"kernel_shape": [k, k], "strides": [s, s], "pads": [p] * 4,
                                                    "dilations": [1, 1], "group": g})
        if op == "dense":
            cout, b = params.cout, params.bias
            cin = x.shape[-1]
            if len(x.shape) == 2:
                w = self._w("w", (cout, cin), "uniform", cin)
                bias = self._w("b", (cout,), "uniform", cin) if b else None
                return self.node("Gemm", [x, w, bias], {"transB": 1})
            w = self._w("w", (cin, cout), "uniform", cin)
            y = self.node("MatMul", [x, w])
            return self.node("Add", [y, self._w("b", (cout,), "uniform", cin)]) if b else y
        if op == "act":
            opdef, attrs = synthesis_kinds(OpGroup.ACTIVATION)[params.kind]
            return self.node(opdef.op_type, [x], dict(attrs))
        if op == "norm":
            kind = params.kind
            if kind == "bn":
                c = x.shape[1]
                return self.node("BatchNormalization", [x, self._w("g", (c,), "ones"), self._w("b", (c,), "zeros"),
                                                        self._w("m", (c,), "zeros"), self._w("v", (c,), "ones")])
            if kind == "in":
                c = x.shape[1]
                if tuple(x.shape[2:]) == (1, 1):  # torch refuses to train it: one element per channel
                    raise ValueError("instance norm needs more than one spatial element")
                return self.node("InstanceNormalization", [x, self._w("g", (c,), "ones"), self._w("b", (c,), "zeros")])
            d = x.shape[-1]
            return self.node("LayerNormalization", [x, self._w("g", (d,), "ones"), self._w("b", (d,), "zeros")],
                             {"axis": -1})
        if op == "pool":
            k, s = params.kernel, params.stride
            p = _same_pad(k)
            return self.node(POOL_OPS[params.kind], [x], {"kernel_shape": [k, k], "strides": [s, s], "pads": [p] * 4})
        if op == "gpool":
            return self.node(GPOOL_OPS[params.kind], [x])
        if op in ("add", "mul"):
            return self.node(op.capitalize(), [kids[0], kids[1]])
        raise ValueError(f"cannot materialise term op {op!r}")

    def build(self, term: Term, inputs: list[Value], memo: dict | None = None) -> Value:
        """Materialise a whole term DAG (shared sub-terms once)."""
        memo = {} if memo is None else memo
        if term in memo:
            return memo[term]
        if term.op == "input":
            val = inputs[term.params.index]
        else:
            val = self.apply(term.op, term.params, [self.build(k, inputs, memo) for k in term.kids])
        memo[term] = val
        return val


def term_size(term: Term, seen: set | None = None) -> int:
    """Distinct ops of a term DAG (shared sub-terms once), ``skip`` and inputs excluded."""
    seen = set() if seen is None else seen
    if term in seen or term.op == "input":
        return 0
    seen.add(term)
    return (term.op != "skip") + sum(term_size(k, seen) for k in term.kids)


def tree_size(term: Term) -> int:
    """Ops of a term counted as a tree (shared sub-terms once per use), ``skip`` and inputs excluded."""
    return (term.op not in ("skip", "input")) + sum(tree_size(k) for k in term.kids)


def describe(term: Term) -> str:
    """A compact one-line rendering, e.g. ``conv[64,k3,s1,g1](relu(in0))``."""
    op, p = term.op, term.params
    if op == "input":
        return f"in{p.index}"
    inner = ", ".join(describe(k) for k in term.kids)
    if op in ("act", "norm"):
        return f"{p.kind}({inner})"
    if op == "conv":
        return f"conv[{p.cout},k{p.kernel},s{p.stride}" + (f",g{p.groups}" if p.groups > 1 else "") + f"]({inner})"
    if op == "dense":
        return f"dense[{p.cout}]({inner})"
    if op == "pool":
        return f"{p.kind}pool[k{p.kernel},s{p.stride}]({inner})"
    if op == "gpool":
        return f"g{p.kind}pool({inner})"
    if op == "fix":
        return f"fix{p.index}({inner})"
    return f"{op}({inner})"
