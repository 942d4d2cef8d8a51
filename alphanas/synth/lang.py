"""The synthesis op language: one typed egglog declaration per op, and everything derived from it.

:class:`NetTerm` declares every op the synthesizers build, once, with named and typed arguments
(egglog-python constructors): tensor operands are ``NetTerm``, parameters are ``i64`` or ``String``.
From these declarations, at import, come

* :data:`SIGNATURES`: egglog constructor name -> :class:`OpSignature` (the term op, its operand
  count, its parameter names and kinds), which the e-graph export reads rows with;
* :data:`PARAMS`: term op -> a ``NamedTuple`` class of its parameters (``ConvParams(cout, kernel,
  stride, groups, bias)``), so terms carry named parameters and nothing indexes them by position.

The term op of a constructor is its method name without a trailing arity digit: ``fix0`` … ``fix3``
are one op ``fix`` (the original node ``fixed[index]`` over 0–3 tensor operands; egglog constructors
have a fixed arity). ``widen`` is a virtual op of the e-graph only (see :mod:`alphanas.synth.rules`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from egglog import Expr, StringLike, function, i64, i64Like, method
from egglog.runtime import resolve_callable


class NetTerm(Expr):
    """A tensor-valued term of the synthesis e-graph; the egglog names are the constructor names."""

    @method(egg_fn="In")
    @classmethod
    def input(cls, index: i64Like) -> NetTerm:
        """Subgraph input ``index``."""

    @method(egg_fn="Conv")
    @classmethod
    def conv(cls, x: NetTerm, cout: i64Like, kernel: i64Like, stride: i64Like, groups: i64Like,
             bias: i64Like) -> NetTerm:
        """2-D convolution, square odd kernel, "same" padding (kernel-1)/2; ``bias`` is 0 or 1."""

    @method(egg_fn="Dense")
    @classmethod
    def dense(cls, x: NetTerm, cout: i64Like, bias: i64Like) -> NetTerm:
        """Dense layer on the last axis (Gemm at rank 2, MatMul + Add above)."""

    @method(egg_fn="Act")
    @classmethod
    def act(cls, x: NetTerm, kind: StringLike) -> NetTerm:
        """An activation (a key of :data:`~alphanas.synth.term.ACT_OPS`)."""

    @method(egg_fn="Norm")
    @classmethod
    def norm(cls, x: NetTerm, kind: StringLike) -> NetTerm:
        """A normalisation (a key of :data:`~alphanas.synth.term.NORM_OPS`)."""

    @method(egg_fn="Pool")
    @classmethod
    def pool(cls, x: NetTerm, kind: StringLike, kernel: i64Like, stride: i64Like) -> NetTerm:
        """Max/average pooling; pads (kernel-1)/2 for odd kernels, 0 for even ones."""

    @method(egg_fn="GPool")
    @classmethod
    def gpool(cls, x: NetTerm, kind: StringLike) -> NetTerm:
        """Global average/max pooling."""

    @method(egg_fn="Add")
    @classmethod
    def add(cls, a: NetTerm, b: NetTerm) -> NetTerm:
        """Elementwise sum of two non-constant operands."""

    @method(egg_fn="Mul")
    @classmethod
    def mul(cls, a: NetTerm, b: NetTerm) -> NetTerm:
        """Elementwise product of two non-constant operands."""

    @method(egg_fn="Skip")
    @classmethod
    def skip(cls, x: NetTerm) -> NetTerm:
        """Nothing: the operand itself (what a rule that removes an op unions the op with)."""

    @method(egg_fn="Fix0")
    @classmethod
    def fix0(cls, index: i64Like) -> NetTerm:
        """The original node ``fixed[index]``, without tensor operands."""

    @method(egg_fn="Fix1")
    @classmethod
    def fix1(cls, index: i64Like, a: NetTerm) -> NetTerm:
        """The original node ``fixed[index]`` over one tensor operand."""

    @method(egg_fn="Fix2")
    @classmethod
    def fix2(cls, index: i64Like, a: NetTerm, b: NetTerm) -> NetTerm:
        """The original node ``fixed[index]`` over two tensor operands."""

    @method(egg_fn="Fix3")
    @classmethod
    def fix3(cls, index: i64Like, a: NetTerm, b: NetTerm, c: NetTerm) -> NetTerm:
        """The original node ``fixed[index]`` over three tensor operands."""

    @method(egg_fn="Widen")
    @classmethod
    def widen(cls, x: NetTerm, num: i64Like, den: i64Like) -> NetTerm:
        """Virtual: ``x`` with its feature axis scaled by num/den, pushed down until a layer absorbs it."""


# The shape analysis: egglog functions without merge, so two shapes in one e-class fail loudly.
@function(egg_fn="Rk")
def rank(t: NetTerm) -> i64:
    """Rank of the term's tensor."""


@function(egg_fn="F")
def features(t: NetTerm) -> i64:
    """Feature-axis size: channels of NCHW, the last axis otherwise (-1: not static)."""


@function(egg_fn="S")
def spatial(t: NetTerm) -> i64:
    """Spatial size of NCHW (square only), token count of rank 3, 1 at rank 2 (-1: n/a)."""


#: the maximum tensor operand count of ``fix`` (egglog constructors ``fix0`` … ``fix3``)
MAX_FIX_OPERANDS = 3


class OpSignature(NamedTuple):
    """One egglog constructor as the synthesis terms see it."""

    op: str  # term op
    egg: str  # the egglog constructor name
    constructor: Callable  # the typed constructor (``NetTerm.conv``)
    args: tuple[str, ...]  # every argument name, in declaration order
    kinds: tuple[str, ...]  # per argument: "T" operand, "i" integer, "s" string
    params: tuple[str, ...]  # the parameter names (non-operand arguments), in order


_KIND = {"NetTerm": "T", "i64": "i", "String": "s"}


def egg_name(fn: Callable) -> str:
    """The egglog name of a typed function or constructor."""
    ref, decls = resolve_callable(fn)
    return decls.get_callable_decl(ref).egg_name


def _signatures() -> dict[str, OpSignature]:
    """The signature of every :class:`NetTerm` constructor, in declaration order."""
    ref, decls = resolve_callable(NetTerm.input)
    out = {}
    for name in decls.get_class_decl(ref.ident).class_methods:
        ctor = getattr(NetTerm, name)
        decl = decls.get_callable_decl(resolve_callable(ctor)[0])
        kinds = tuple(_KIND[t.ident.name] for t in decl.signature.arg_types)
        args = tuple(decl.signature.arg_names)
        params = tuple(a for a, k in zip(args, kinds) if k != "T")
        out[decl.egg_name] = OpSignature(name.rstrip("0123456789"), decl.egg_name, ctor, args, kinds, params)
    return out


#: egglog constructor name -> its signature (derived from :class:`NetTerm`)
SIGNATURES: dict[str, OpSignature] = _signatures()
#: term op -> the NamedTuple class of its parameters
PARAMS: dict[str, type] = {
    s.op: NamedTuple(f"{s.op.capitalize()}Params", [(p, int if k == "i" else str)  # type: ignore[misc]
                                                     for p, k in zip(s.args, s.kinds) if k != "T"])
    for s in SIGNATURES.values()
}
#: term op -> the egglog constructor names that build it (``fix``: by operand count)
CONSTRUCTORS: dict[str, dict[int, OpSignature]] = {}
for _sig in SIGNATURES.values():
    CONSTRUCTORS.setdefault(_sig.op, {})[_sig.kinds.count("T")] = _sig

#: the egglog names of the shape analysis (rank, features, spatial), in that order
SHAPE_FUNCTIONS: tuple[str, str, str] = (egg_name(rank), egg_name(features), egg_name(spatial))


def sexpr(term, names: dict) -> str:
    """The egglog s-expression of one term whose operands are bound to the egglog names ``names[kid]``
    (read off its :data:`SIGNATURES` entry: operands in place, integers and quoted strings as literals)."""
    sig = CONSTRUCTORS[term.op].get(len(term.kids))
    if sig is None:
        raise ValueError(f"{term.op} over {len(term.kids)} tensor inputs has no e-graph constructor "
                         f"(at most {MAX_FIX_OPERANDS})")
    kids = iter(term.kids)
    args = []
    for name, kind in zip(sig.args, sig.kinds):
        if kind == "T":
            args.append(names[next(kids)])
        elif kind == "i":
            args.append(str(int(getattr(term.params, name))))
        else:
            args.append('"' + str(getattr(term.params, name)).replace('"', '\\"') + '"')
    return f"({sig.egg} {' '.join(args)})"
