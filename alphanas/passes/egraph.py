"""Equality-saturation optimizer on egglog.

The data-movement and affine parts of a graph (Transpose, Reshape-like ops, Add/Sub/Mul/Div, constant
Pad, Conv, BatchNormalization) are encoded as one egglog term per value; every other node cuts the
graph: its outputs become leaves and its inputs become roots. Algebraic rulesets then add equal
alternatives to each e-class:

* ``transpose(transpose(x, p), q) = transpose(x, p∘q)``; an identity permutation is a ``skip``;
* ``reshape(reshape(x, s), t) = reshape(x, t)``; a reshape to the input's own shape is a ``skip``;
* ``x * 1``, ``1 * x``, ``x / 1``, ``x + 0``, ``0 + x``, ``x - 0`` (when broadcasting does not
  change the shape) are ``skip(x)``;
* ``pad(pad(x, p, v), q, v) = pad(x, p + q, v)``; an all-zero pad is a ``skip``; a zero constant pad
  of the spatial axes in front of a Conv merges into the Conv's ``pads``;
* ``bn(conv(x, W, b)) = conv_bn(x, W, b, bn)`` (materialised by folding the BN into W and b).

Removing a node never unions a term with its own input (that collapses the e-graph): it unions it
with an explicit ``skip(x)`` node, which costs nothing and is dropped when the graph is rebuilt.
Shapes are e-class invariants (an egglog function without merge). Extraction minimises a cost model
of FLOPs plus ``node_weight`` per node, counting shared subterms once (greedy DAG extraction), and the
graph is rebuilt only when the extracted cost is lower than the current one.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from egglog import (
    EGraph,
    Expr,
    String,
    StringLike,
    Vec,
    eq,
    f64,
    f64Like,
    function,
    greedy_dag_cost_model,
    i64,
    i64Like,
    relation,
    rewrite,
    rule,
    ruleset,
    union,
    var,
)
from egglog.deconstruct import get_callable_args, get_callable_fn

from alphanas.ir.graph import Graph, Node, Value
from alphanas.passes.base import Pass, PassResult
from alphanas.passes.bnfold import fold_affine
from alphanas.passes.registry import register_pass
from alphanas.passes.reshape import RESHAPE_LIKE, reshape_target
from alphanas.passes.util import forward

MAX_RANK = 6


class TensorTerm(Expr):
    """A tensor-valued term of the optimizer's e-graph (``n`` is the element count at batch 1)."""

    @classmethod
    def leaf(cls, index: i64Like) -> TensorTerm: ...

    @classmethod
    def none(cls) -> TensorTerm: ...

    @classmethod
    def skip(cls, x: TensorTerm) -> TensorTerm: ...

    @classmethod
    def transpose(cls, x: TensorTerm, perm: Vec[i64], n: i64Like) -> TensorTerm: ...

    @classmethod
    def reshape(cls, x: TensorTerm, target: Vec[i64], n: i64Like) -> TensorTerm: ...

    @classmethod
    def binary(cls, op: StringLike, x: TensorTerm, y: TensorTerm, n: i64Like) -> TensorTerm: ...

    @classmethod
    def pad(cls, x: TensorTerm, pads: Vec[i64], value: f64Like, n: i64Like) -> TensorTerm: ...

    @classmethod
    def conv(cls, x: TensorTerm, w: TensorTerm, b: TensorTerm, key: i64Like, pads: Vec[i64], n: i64Like) -> TensorTerm: ...

    @classmethod
    def bn(cls, x: TensorTerm, key: i64Like, n: i64Like) -> TensorTerm: ...

    @classmethod
    def pair(cls, a: TensorTerm, b: TensorTerm) -> TensorTerm:
        """Groups the roots so that one extraction covers them all (and shares their subterms)."""

    @classmethod
    def conv_bn(cls, x: TensorTerm, w: TensorTerm, b: TensorTerm, key: i64Like, pads: Vec[i64], bn_key: i64Like,
                n: i64Like) -> TensorTerm: ...


T = TensorTerm


@function
def shape_of(t: TensorTerm) -> Vec[i64]: ...


#: Facts about constant leaves: every element is one / zero; the leaf is a constant (a weight).
all_ones = relation("all_ones", TensorTerm)
all_zeros = relation("all_zeros", TensorTerm)
constant = relation("constant", TensorTerm)


#: the cost of a term that cannot be rebuilt: above any real graph's, so extraction avoids it
UNBUILDABLE = 10**15


def _vec(xs) -> Vec[i64]:
    return Vec[i64](*(i64(int(v)) for v in xs)) if len(xs) else Vec[i64].empty()


def algebra_rules():
    """The algebraic ruleset (see the module docstring)."""
    x, y, w, b, c, t = (var(s, T) for s in ("x", "y", "w", "b", "c", "t"))
    p, q, s1, s2, cp = (var(s, Vec[i64]) for s in ("p", "q", "s1", "s2", "cp"))
    n, m, k, bk = (var(s, i64) for s in ("n", "m", "k", "bk"))
    v = var("v", f64)
    rules = []
    for r in range(1, MAX_RANK + 1):
        rules.append(rule(eq(t).to(T.transpose(T.transpose(x, p, m), q, n)), eq(q.length()).to(i64(r)))
                     .then(union(t).with_(T.transpose(x, Vec[i64](*(p[q[i]] for i in range(r))), n))))
        rules.append(rewrite(T.transpose(x, _vec(range(r)), n)).to(T.skip(x)))
    rules.append(rewrite(T.reshape(T.reshape(x, s1, m), s2, n)).to(T.reshape(x, s2, n)))
    rules.append(rule(eq(t).to(T.reshape(x, s1, n)), eq(shape_of(x)).to(s1)).then(union(t).with_(T.skip(x))))
    for op, neutral, sides in (("Mul", all_ones, (0, 1)), ("Div", all_ones, (1,)), ("Add", all_zeros, (0, 1)),
                               ("Sub", all_zeros, (1,))):
        for side in sides:
            term = T.binary(op, x, c, n) if side == 1 else T.binary(op, c, x, n)
            rules.append(rule(eq(t).to(term), neutral(c), eq(shape_of(t)).to(shape_of(x)))
                         .then(union(t).with_(T.skip(x))))
    for length in range(2, 2 * MAX_RANK + 1, 2):
        rules.append(rule(eq(t).to(T.pad(T.pad(x, p, v, m), q, v, n)), eq(p.length()).to(i64(length)))
                     .then(union(t).with_(T.pad(x, Vec[i64](*(p[i] + q[i] for i in range(length))), v, n))))
        rules.append(rewrite(T.pad(x, _vec([0] * length), v, n)).to(T.skip(x)))
    for r in range(3, 6):
        sp = r - 2
        new = Vec[i64](*([cp[i] + p[2 + i] for i in range(sp)] + [cp[sp + i] + p[r + 2 + i] for i in range(sp)]))
        rules.append(rule(eq(t).to(T.conv(T.pad(x, p, f64(0.0), m), w, b, k, cp, n)), eq(p.length()).to(i64(2 * r)),
                          eq(p[0]).to(i64(0)), eq(p[1]).to(i64(0)), eq(p[r]).to(i64(0)), eq(p[r + 1]).to(i64(0)))
                     .then(union(t).with_(T.conv(x, w, b, k, new, n))))
    rules.append(rule(eq(t).to(T.bn(T.conv(x, w, b, k, cp, m), bk, n)), constant(w), constant(b))
                 .then(union(t).with_(T.conv_bn(x, w, b, k, cp, bk, n))))
    rules.append(rule(eq(t).to(T.bn(T.conv(x, w, T.none(), k, cp, m), bk, n)), constant(w))
                 .then(union(t).with_(T.conv_bn(x, w, T.none(), k, cp, bk, n))))
    # Look through skips so that the rules above see the real producer.
    rules += [
        rewrite(T.transpose(T.skip(x), p, n)).to(T.transpose(x, p, n)),
        rewrite(T.reshape(T.skip(x), p, n)).to(T.reshape(x, p, n)),
        rewrite(T.pad(T.skip(x), p, v, n)).to(T.pad(x, p, v, n)),
        rewrite(T.bn(T.skip(x), k, n)).to(T.bn(x, k, n)),
        rewrite(T.conv(T.skip(x), w, b, k, p, n)).to(T.conv(x, w, b, k, p, n)),
        rewrite(T.skip(T.skip(x))).to(T.skip(x)),
    ]
    opv = var("op", String)
    rules += [rewrite(T.binary(opv, T.skip(x), y, n)).to(T.binary(opv, x, y, n)),
              rewrite(T.binary(opv, y, T.skip(x), n)).to(T.binary(opv, y, x, n))]
    return ruleset(*rules, name="alphanas-algebra")


_RULES = None


def _rules():
    global _RULES
    if _RULES is None:
        _RULES = algebra_rules()
    return _RULES


def _ints(vec) -> list[int]:
    return [int(e.value) for e in vec.value]


class _Codec:
    """Encodes a graph into terms and rebuilds graph values from extracted terms."""

    def __init__(self, graph: Graph, node_weight: int) -> None:
        self.graph = graph
        self.node_weight = node_weight
        self.leaves: list[Value] = []
        self.leaf_index: dict[int, int] = {}
        self.terms: dict[int, Any] = {}  # id(value) -> term
        self.original: dict[Any, Value] = {}  # typed expr of an encoded term -> its value
        self.convs: list[Node] = []
        self.bns: list[Node] = []
        self.facts: list = []
        self.encoded_nodes: set[int] = set()

    # -- encoding ----------------------------------------------------------------------------------

    @staticmethod
    def shape_vec(v: Value) -> list[int] | None:
        if v.shape is None or sum(not isinstance(d, int) for d in v.shape) > 1:
            return None
        return [d if isinstance(d, int) else -1 for d in v.shape]

    def leaf(self, v: Value):
        if id(v) not in self.leaf_index:
            i = len(self.leaves)
            self.leaves.append(v)
            self.leaf_index[id(v)] = i
            term = T.leaf(i)
            if v.is_const and v.array.dtype.kind == "f":
                self.facts.append(constant(term))
                if np.all(v.array == 1):
                    self.facts.append(all_ones(term))
                elif np.all(v.array == 0):
                    self.facts.append(all_zeros(term))
            self._shape_fact(term, v)
            self.original[key(term)] = v
        return T.leaf(self.leaf_index[id(v)])

    def _shape_fact(self, term, v: Value) -> None:
        from egglog import set_

        sv = self.shape_vec(v)
        if sv is not None:
            self.facts.append(set_(shape_of(term)).to(_vec(sv)))

    def term(self, v: Value | None):
        if v is None:
            return T.none()
        t = self.terms.get(id(v))
        return self.leaf(v) if t is None else t

    def encode(self) -> list[Value]:
        """Encode every node that can be; returns the root values (encoded, used outside the encoding)."""
        for node in self.graph.nodes:
            t = self.encode_node(node)
            if t is None:
                continue
            out = node.outputs[0]
            self.terms[id(out)] = t
            self.encoded_nodes.add(id(node))
            self._shape_fact(t, out)
            self.original[key(t)] = out
        roots = []
        for node in self.graph.nodes:
            if id(node) not in self.encoded_nodes:
                continue
            out = node.outputs[0]
            if self.graph.is_output(out) or any(id(u) not in self.encoded_nodes for u, _ in out.uses):
                roots.append(out)
        return roots

    def encode_node(self, node: Node):
        if node.domain != "" or node.is_opaque or len(node.outputs) != 1 or node.outputs[0].shape is None:
            return None
        out = node.outputs[0]
        n = out.numel()
        op = node.op_type
        if op == "Transpose":
            return T.transpose(self.term(node.inputs[0]), _vec(node.opdef.perm(node)), n)
        if op in RESHAPE_LIKE:
            target = reshape_target(out.shape)
            return None if target is None else T.reshape(self.term(node.inputs[0]), _vec(target), n)
        if op in ("Add", "Sub", "Mul", "Div"):
            return T.binary(op, self.term(node.inputs[0]), self.term(node.inputs[1]), n)
        if op == "Pad":
            pads = node.attrs["pads"]
            if node.attrs["mode"] != "constant" or min(pads) < 0:
                return None
            return T.pad(self.term(node.inputs[0]), _vec(pads), f64(float(node.attrs["value"])), n)
        if op == "Conv":
            self.convs.append(node)
            b = node.inputs[2] if len(node.inputs) > 2 else None
            return T.conv(self.term(node.inputs[0]), self.term(node.inputs[1]), self.term(b), len(self.convs) - 1,
                          _vec(node.attrs["pads"]), n)
        if op == "BatchNormalization" and all(v is not None and v.is_const for v in node.inputs[1:]):
            self.bns.append(node)
            return T.bn(self.term(node.inputs[0]), len(self.bns) - 1, n)
        return None

    # -- cost --------------------------------------------------------------------------------------

    def self_cost(self, expr) -> int:
        """FLOPs of one term's root node plus ``node_weight`` (skips, leaves and ``none`` are free)."""
        fn = get_callable_fn(expr)
        if fn in (T.leaf, T.none, T.skip, T.pair):
            return 0
        args = _args(expr, fn)
        n = int(args[-1].value)
        if fn == T.transpose:
            flops = n
        elif fn == T.reshape:
            flops = 0
        elif fn == T.binary or fn == T.pad:
            flops = n
        elif fn == T.bn:
            flops = 2 * n
        else:  # conv, conv_bn: MACs per output element are fixed by the weight shape
            conv = self.conv_at(args[3])
            if conv is None:  # a key this graph never encoded (see ``consistent``): never the cheapest
                return UNBUILDABLE
            w = conv.input(1)
            per_out = math.prod(w.dim(i) for i in range(1, w.rank)) if w.shape is not None else 1
            flops = n * (2 * per_out + 1)
        return flops + self.node_weight

    def conv_at(self, key_arg) -> Node | None:
        """The convolution a term's key names, or None when the key is not one this codec made."""
        k = int(key_arg.value)
        return self.convs[k] if 0 <= k < len(self.convs) else None

    def bn_at(self, key_arg) -> Node | None:
        """The batch norm a ``conv_bn`` term's BN key names, or None when the key is not one this codec made."""
        k = int(key_arg.value)
        return self.bns[k] if 0 <= k < len(self.bns) else None

    def cost_model(self, egraph, expr, children_costs):
        if not isinstance(expr, TensorTerm):
            return 0
        return self.self_cost(expr) + sum(c for c in children_costs if isinstance(c, int))

    def dag_cost(self, exprs) -> int:
        return sum(self.self_cost(e) for e in _subterms(exprs))

    # -- rebuilding --------------------------------------------------------------------------------

    def consistent(self, exprs) -> bool:
        """Whether every conv in the extracted terms still reads the weight of the conv its key names
        (and a folded BN has that conv's channel count). Such mismatches came from registering the terms
        through egglog-python's ``let`` bindings (see :func:`add_terms`, which fixed it); the check stays
        as a guard, since rebuilding a mismatched term would give a wrong graph: such an extraction is
        refused (the pass changes nothing)."""
        for e in _subterms(exprs):
            fn = get_callable_fn(e)
            if fn in (T.conv, T.conv_bn):
                args = _args(e, fn)
                w = self.original.get(key(args[1]))
                src = self.conv_at(args[3])
                if src is None or (w is not None and w is not src.input(1)):
                    return False
                if fn == T.conv_bn:
                    bn = self.bn_at(args[5])
                    if bn is None or bn.input(1).shape != (src.input(1).dims[0],):
                        return False
        return True

    def build(self, expr, memo: dict) -> Value | None:
        k = key(expr)
        if k in self.original:
            return self.original[k]
        if k in memo:
            return memo[k]
        fn = get_callable_fn(expr)
        args = _args(expr, fn)
        g = self.graph
        if fn == T.none:
            return None
        if fn == T.skip:
            out = self.build(args[0], memo)
        elif fn == T.transpose:
            out = g.add_node("Transpose", [self.build(args[0], memo)], {"perm": _ints(args[1])}).outputs[0]
        elif fn == T.reshape:
            out = g.add_node("Reshape", [self.build(args[0], memo)], {"shape": _ints(args[1])}).outputs[0]
        elif fn == T.binary:
            out = g.add_node(args[0].value, [self.build(args[1], memo), self.build(args[2], memo)]).outputs[0]
        elif fn == T.pad:
            out = g.add_node("Pad", [self.build(args[0], memo)],
                             {"pads": _ints(args[1]), "mode": "constant", "value": float(args[2].value)}).outputs[0]
        elif fn in (T.conv, T.conv_bn):
            src = self.convs[int(args[3].value)]
            ins = [self.build(args[0], memo), self.build(args[1], memo)]
            bias = self.build(args[2], memo)
            if bias is not None:
                ins.append(bias)
            attrs = {**src.attrs, "pads": _ints(args[4])}
            node = g.add_node("Conv", ins, attrs, name=src.name)
            if fn == T.conv_bn:
                bn = self.bns[int(args[5].value)]
                gamma, beta, mean, var_ = (bn.input(i).array.astype(np.float64) for i in range(1, 5))
                s = gamma / np.sqrt(var_ + bn.attrs["epsilon"])
                fold_affine(g, node, s, beta - mean * s)
            out = node.outputs[0]
        elif fn == T.bn:
            src = self.bns[int(args[1].value)]
            out = g.add_node("BatchNormalization", [self.build(args[0], memo), *src.inputs[1:]], src.attrs,
                             name=src.name).outputs[0]
        else:  # pragma: no cover - every constructor is handled above
            raise AssertionError(f"unknown term {expr}")
        memo[k] = out
        return out


def _pair_up(terms: list):
    """A balanced tree of ``pair`` nodes over ``terms`` (a single term stays as it is)."""
    if len(terms) == 1:
        return terms[0]
    mid = len(terms) // 2
    return T.pair(_pair_up(terms[:mid]), _pair_up(terms[mid:]))


def _unpair(term, count: int) -> list:
    if count == 1:
        return [term]
    a, b = _args(term, T.pair)
    mid = count // 2
    return _unpair(a, mid) + _unpair(b, count - mid)


def key(expr):
    return expr.__egg_typed_expr__


def _args(expr, fn) -> tuple[Any, ...]:
    """The arguments of ``expr``, a call of ``fn`` (egglog's deconstruction is dynamically typed)."""
    args = get_callable_args(expr, fn)
    assert args is not None, f"{expr} is not a call of {fn}"
    return tuple(args)


def add_terms(egraph: EGraph, term: TensorTerm) -> None:
    """Add ``term`` (and every subterm) to ``egraph`` exactly as written.

    ``egraph.register(term)`` would not: egglog-python first turns every subexpression with several
    parents into a global ``let`` binding, primitives included, and in our encoding the same small
    integers are shared by unrelated terms (leaf ``7``, conv key ``7``, BN key ``7``, element counts).
    With egglog 13 such a registration sometimes (depending on the hash seed and the run) added a term
    whose integer argument was another binding's value, e.g. ``conv(x7, w7, none, 1, ...)`` beside the
    real ``conv(x7, w7, none, 7, ...)``: a convolution keyed as another, which extraction then picked
    (refused by ``_Codec.consistent``, so the pass folded nothing). A ``union`` of the term with itself is
    translated without ``let`` bindings; afterwards every subterm's translation is cached, so the
    ``register`` inside ``extract`` and the facts only refer to terms already added.
    """
    egraph.register(union(term).with_(term))


def _subterms(exprs):
    """Every distinct tensor subterm of ``exprs`` once (shared subterms are one DAG node)."""
    seen: set = set()
    stack = list(exprs)
    while stack:
        e = stack.pop()
        k = key(e)
        if k in seen:
            continue
        seen.add(k)
        yield e
        stack += [a for a in get_callable_args(e, get_callable_fn(e)) or () if isinstance(a, TensorTerm)]


@register_pass
class EGraphOptimizer(Pass):
    """Equality saturation (egglog) with algebraic rules; extraction by FLOPs + node count."""

    name = "egraph"

    def __init__(self, node_weight: int = 10_000, max_iterations: int = 30) -> None:
        self.node_weight = node_weight
        self.max_iterations = max_iterations

    def run(self, graph: Graph) -> PassResult:
        codec = _Codec(graph, self.node_weight)
        roots = codec.encode()
        if not roots:
            return PassResult(graph, False)
        root_terms = [codec.terms[id(v)] for v in roots]
        all_roots = _pair_up(root_terms)
        egraph = EGraph()
        add_terms(egraph, all_roots)
        egraph.register(*codec.facts)
        egraph.run(self.max_iterations, ruleset=_rules())
        model = greedy_dag_cost_model(codec.cost_model)
        extracted = _unpair(egraph.extract(all_roots, cost_model=model), len(root_terms))
        if codec.dag_cost(extracted) >= codec.dag_cost(root_terms) or not codec.consistent(extracted):
            return PassResult(graph, False)
        memo: dict = {}
        changed = False
        for v, e in zip(roots, extracted):
            new = codec.build(e, memo)
            if new is not None and new is not v:
                changed |= forward(graph, v, new)
        if not changed:
            return PassResult(graph, False)
        graph.toposort()
        graph.eliminate_dead_nodes()
        return PassResult(graph, True)
