"""The interface-preserving mutation rulesets of the e-graph synthesizer, as egglog-python rules.

Every e-class holds alternatives with the same output shape. The shape is an e-class analysis
(:data:`shape`): :func:`~alphanas.synth.lang.rank`, :func:`~alphanas.synth.lang.features` (channels
of NCHW, last axis otherwise) and :func:`~alphanas.synth.lang.spatial` (spatial/token size), egglog
functions without merge, so a rule that would put two shapes into one class makes egglog fail loudly
instead of corrupting the search. Rules that remove an op union it with an explicit ``skip`` node,
never with its own operand (which would collapse the e-graph).

``widen(x, n, d)`` is a virtual term, "``x`` with its feature axis scaled by n/d": :data:`width_push`
pushes it down through activations, norms, pools, residual adds and multiplies until a convolution or
dense layer absorbs it; a consumer convolution/dense may read ``widen`` of its operand (hidden width
×¼ ×½ ×2 ×4).

Each rule family is one named ruleset (:data:`FAMILY_RULESETS`); a vocabulary's families are combined
into the ``mutate`` ruleset of a :class:`Program`, which also holds the schedules the synthesizer runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from egglog import (
    Ruleset,
    Schedule,
    String,
    eq,
    i64,
    ne,
    relation,
    rule,
    ruleset,
    run,
    set_,
    union,
    unstable_combine_rulesets,
    var,
)
from egglog.egraph import UnstableCombinedRuleset

from alphanas.synth.lang import NetTerm as N
from alphanas.synth.lang import features as F
from alphanas.synth.lang import rank as Rk
from alphanas.synth.lang import spatial as S

#: rule families, in the order the scheduler runs them; a vocabulary may restrict the set.
FAMILIES = ("kernel", "sepconv", "group", "width", "act_swap", "norm_swap", "act_insdel", "norm_insdel",
            "pool", "lowrank", "residual", "branch")

#: the activation kinds of the vocabulary (facts registered per e-graph), for the one ``act_swap`` rule
act_kind = relation("ActKind", String)

# pattern variables: t the matched term, w a widening, x/y/a_/b_ operands; c output features, k kernel,
# s stride, g groups, bias, fx/fy/h operand features, n/d a width factor n/d, i a fixed node's index,
# r/f/sx and ra, fa, sa, ... bound ranks, features and spatial sizes; kd/ak/bk op kinds
t, w, x, y, a_, b_ = (var(name, N) for name in ("t", "w", "x", "y", "a", "b"))
c, k, s, g, bias, b0, fx, fy, h, n, d, i, r, f = (
    var(name, i64) for name in ("c", "k", "s", "g", "bias", "b0", "fx", "fy", "h", "n", "d", "i", "r", "f"))
sx, ra, rb, fa, fb, sa, sb = (var(name, i64) for name in ("sx", "ra", "rb", "fa", "fb", "sa", "sb"))
kd, ak, bk = (var(name, String) for name in ("kd", "ak", "bk"))


def _layout_of(operand):
    """Bind the operand's rank, features and spatial size to ``r``, ``f``, ``sx``."""
    return eq(r).to(Rk(operand)), eq(f).to(F(operand)), eq(sx).to(S(operand))


def _same_layout(node):
    """Set the node's rank, features and spatial size to ``r``, ``f``, ``sx`` (its operand's, bound above)."""
    return set_(Rk(node)).to(r), set_(F(node)).to(f), set_(S(node)).to(sx)


shape = ruleset(
    rule(eq(t).to(N.conv(x, c, k, s, g, bias)), eq(sx).to(S(x))).then(
        set_(Rk(t)).to(i64(4)), set_(F(t)).to(c), set_(S(t)).to((sx + 2 * ((k - 1) / 2) - k) / s + 1)),
    rule(eq(t).to(N.dense(x, c, bias)), eq(r).to(Rk(x)), eq(sx).to(S(x))).then(
        set_(Rk(t)).to(r), set_(F(t)).to(c), set_(S(t)).to(sx)),
    rule(eq(t).to(N.act(x, kd)), *_layout_of(x)).then(*_same_layout(t)),
    rule(eq(t).to(N.norm(x, kd)), *_layout_of(x)).then(*_same_layout(t)),
    rule(eq(t).to(N.skip(x)), *_layout_of(x)).then(*_same_layout(t)),
    rule(eq(t).to(N.pool(x, kd, k, s)), *_layout_of(x)).then(
        set_(Rk(t)).to(r), set_(F(t)).to(f), set_(S(t)).to((sx + 2 * ((k % 2) * ((k - 1) / 2)) - k) / s + 1)),
    rule(eq(t).to(N.gpool(x, kd)), eq(r).to(Rk(x)), eq(f).to(F(x))).then(
        set_(Rk(t)).to(r), set_(F(t)).to(f), set_(S(t)).to(i64(1))),
    *(rule(eq(t).to(op(a_, b_)), eq(ra).to(Rk(a_)), eq(rb).to(Rk(b_)), eq(fa).to(F(a_)), eq(fb).to(F(b_)),
           eq(sa).to(S(a_)), eq(sb).to(S(b_))).then(
        set_(Rk(t)).to(ra.max(rb)), set_(F(t)).to(fa.max(fb)), set_(S(t)).to(sa.max(sb)))
      for op in (N.add, N.mul)),
    rule(eq(t).to(N.widen(x, n, d)), *_layout_of(x)).then(
        set_(Rk(t)).to(r), set_(F(t)).to((f * n) / d), set_(S(t)).to(sx)),
    name="shape",
)

# conv kernel size k -> k' (same-padding odd kernels keep the output size)
kernel = ruleset(
    rule(eq(t).to(N.conv(x, c, k, s, g, bias)), ne(k).to(i64(1))).then(union(t).with_(N.conv(x, c, 1, s, g, bias))),
    rule(eq(t).to(N.conv(x, c, k, s, g, bias)), ne(k).to(i64(3)), S(x) >= 3).then(
        union(t).with_(N.conv(x, c, 3, s, g, bias))),
    rule(eq(t).to(N.conv(x, c, k, s, g, bias)), ne(k).to(i64(5)), S(x) >= 5).then(
        union(t).with_(N.conv(x, c, 5, s, g, bias))),
    name="kernel",
)

# k x k conv <-> depthwise k x k + pointwise 1 x 1
sepconv = ruleset(
    rule(eq(t).to(N.conv(x, c, k, s, 1, bias)), k > 1, eq(fx).to(F(x)), fx > 1).then(
        union(t).with_(N.conv(N.conv(x, fx, k, s, fx, 0), c, 1, 1, 1, bias))),
    rule(eq(t).to(N.conv(N.conv(x, fx, k, s, fx, b0), c, 1, 1, 1, bias)), eq(fx).to(F(x)), k > 1).then(
        union(t).with_(N.conv(x, c, k, s, 1, bias))),
    name="sepconv",
)

# dense conv <-> grouped conv (2 or 4 groups)
group = ruleset(
    *(rule(eq(t).to(N.conv(x, c, k, s, 1, bias)), eq(fx).to(F(x)), eq(i64(0)).to(fx % groups),
           eq(i64(0)).to(c % groups), fx > groups).then(union(t).with_(N.conv(x, c, k, s, groups, bias)))
      for groups in (2, 4)),
    rule(eq(t).to(N.conv(x, c, k, s, g, bias)), g > 1, eq(fx).to(F(x)), ne(g).to(fx)).then(
        union(t).with_(N.conv(x, c, k, s, 1, bias))),
    name="group",
)

# a consumer conv/dense reads its operand widened by x1/4, x1/2, x2, x4 ...
width = ruleset(
    *(rule(eq(t).to(N.conv(y, c, k, s, 1, bias)), eq(h).to(F(y)), eq(i64(0)).to(h % factor), h <= limit).then(
        union(t).with_(N.conv(N.widen(y, factor, 1), c, k, s, 1, bias)),
        union(t).with_(N.conv(N.widen(y, 1, factor), c, k, s, 1, bias)))
      for factor, limit in ((2, 2048), (4, 1024))),
    *(rule(eq(t).to(N.dense(y, c, bias)), eq(h).to(F(y)), eq(i64(0)).to(h % factor), h <= limit).then(
        union(t).with_(N.dense(N.widen(y, factor, 1), c, bias)),
        union(t).with_(N.dense(N.widen(y, 1, factor), c, bias)))
      for factor, limit in ((2, 2048), (4, 1024))),
    name="width",
)

# ... and the widening is pushed down until a conv/dense absorbs it (run as an analysis, not a mutation)
width_push = ruleset(
    rule(eq(w).to(N.widen(x, n, d)), eq(x).to(N.conv(y, c, k, s, g, bias)), eq(fy).to(F(y)), ne(g).to(fy),
         eq(i64(0)).to((c * n) % d), eq(i64(0)).to(((c * n) / d) % g)).then(
        union(w).with_(N.conv(y, (c * n) / d, k, s, g, bias))),
    rule(eq(w).to(N.widen(x, n, d)), eq(x).to(N.conv(y, c, k, s, c, bias)), eq(c).to(F(y)), c > 1,
         eq(i64(0)).to((c * n) % d)).then(
        union(w).with_(N.conv(N.widen(y, n, d), (c * n) / d, k, s, (c * n) / d, bias))),
    rule(eq(w).to(N.widen(x, n, d)), eq(x).to(N.dense(y, c, bias)), eq(i64(0)).to((c * n) % d)).then(
        union(w).with_(N.dense(y, (c * n) / d, bias))),
    rule(eq(w).to(N.widen(x, n, d)), eq(x).to(N.act(y, kd))).then(union(w).with_(N.act(N.widen(y, n, d), kd))),
    rule(eq(w).to(N.widen(x, n, d)), eq(x).to(N.norm(y, kd))).then(union(w).with_(N.norm(N.widen(y, n, d), kd))),
    rule(eq(w).to(N.widen(x, n, d)), eq(x).to(N.skip(y))).then(union(w).with_(N.skip(N.widen(y, n, d)))),
    rule(eq(w).to(N.widen(x, n, d)), eq(x).to(N.pool(y, kd, k, s))).then(
        union(w).with_(N.pool(N.widen(y, n, d), kd, k, s))),
    rule(eq(w).to(N.widen(x, n, d)), eq(x).to(N.gpool(y, kd))).then(union(w).with_(N.gpool(N.widen(y, n, d), kd))),
    *(rule(eq(w).to(N.widen(x, n, d)), eq(x).to(op(a_, b_)), eq(F(a_)).to(F(b_))).then(
        union(w).with_(op(N.widen(a_, n, d), N.widen(b_, n, d))))
      for op in (N.add, N.mul)),
    name="width_push",
)

# one rule over a relation of the vocabulary's activations, not |acts|² rules
act_swap = ruleset(
    rule(eq(t).to(N.act(x, ak)), act_kind(ak), act_kind(bk), ne(ak).to(bk)).then(union(t).with_(N.act(x, bk))),
    name="act_swap",
)

norm_swap = ruleset(
    rule(eq(t).to(N.norm(x, "bn")), eq(i64(4)).to(Rk(x)), S(x) > 1).then(union(t).with_(N.norm(x, "in"))),
    rule(eq(t).to(N.norm(x, "in"))).then(union(t).with_(N.norm(x, "bn"))),
    rule(eq(t).to(N.norm(x, "bn")), eq(i64(2)).to(Rk(x))).then(union(t).with_(N.norm(x, "ln"))),
    rule(eq(t).to(N.norm(x, "ln")), eq(i64(2)).to(Rk(x))).then(union(t).with_(N.norm(x, "bn"))),
    name="norm_swap",
)


def act_insdel(act: str) -> Ruleset:
    """Remove an activation, or insert activation ``act`` after any op (the vocabulary's first)."""
    def insert(pattern):
        return rule(eq(t).to(pattern)).then(union(t).with_(N.act(N.skip(t), act)))

    return ruleset(
        rule(eq(t).to(N.act(x, kd))).then(union(t).with_(N.skip(x))),
        insert(N.conv(x, c, k, s, g, bias)), insert(N.dense(x, c, bias)), insert(N.norm(x, kd)),
        insert(N.pool(x, kd, k, s)), insert(N.add(x, y)), insert(N.fix1(i, x)), insert(N.fix2(i, x, y)),
        insert(N.mul(x, y)), insert(N.gpool(x, kd)), insert(N.input(i)),
        name=f"act_insdel_{act}",
    )


def _insert_norm(pattern, kind: str, *facts):
    return rule(eq(t).to(pattern), *facts).then(union(t).with_(N.norm(N.skip(t), kind)))


norm_insdel = ruleset(
    rule(eq(t).to(N.norm(x, kd))).then(union(t).with_(N.skip(x))),
    _insert_norm(N.conv(x, c, k, s, g, bias), "bn"),
    _insert_norm(N.dense(x, c, bias), "ln", eq(i64(3)).to(Rk(x))),
    _insert_norm(N.dense(x, c, bias), "bn", eq(i64(2)).to(Rk(x))),
    _insert_norm(N.fix1(i, x), "ln", eq(i64(3)).to(Rk(t))),
    _insert_norm(N.act(x, kd), "bn", eq(i64(4)).to(Rk(t))),
    _insert_norm(N.act(x, kd), "ln", eq(i64(3)).to(Rk(t))),
    _insert_norm(N.act(x, kd), "bn", eq(i64(2)).to(Rk(t))),
    _insert_norm(N.input(i), "bn", eq(i64(4)).to(Rk(t))),
    _insert_norm(N.input(i), "ln", eq(i64(3)).to(Rk(t))),
    name="norm_insdel",
)

pool = ruleset(
    rule(eq(t).to(N.pool(x, "max", k, s))).then(union(t).with_(N.pool(x, "avg", k, s))),
    rule(eq(t).to(N.pool(x, "avg", k, s))).then(union(t).with_(N.pool(x, "max", k, s))),
    rule(eq(t).to(N.pool(x, kd, k, 1))).then(union(t).with_(N.skip(x))),
    rule(eq(t).to(N.pool(x, kd, 2, 2)), eq(sx).to(S(x)), eq(S(t)).to((sx + 2 - 3) / 2 + 1)).then(
        union(t).with_(N.pool(x, kd, 3, 2))),
    rule(eq(t).to(N.pool(x, kd, 3, 2)), eq(sx).to(S(x)), eq(S(t)).to((sx - 2) / 2 + 1)).then(
        union(t).with_(N.pool(x, kd, 2, 2))),
    rule(eq(t).to(N.act(x, ak)), eq(i64(4)).to(Rk(x)), S(x) >= 3).then(union(t).with_(N.pool(N.skip(t), "max", 3, 1))),
    rule(eq(t).to(N.gpool(x, "avg"))).then(union(t).with_(N.gpool(x, "max"))),
    rule(eq(t).to(N.gpool(x, "max"))).then(union(t).with_(N.gpool(x, "avg"))),
    name="pool",
)

# low-rank factorisation of dense layers and 1x1 convolutions (rank = min(in, out) / 4)
lowrank = ruleset(
    rule(eq(t).to(N.dense(x, c, bias)), eq(fx).to(F(x)), fx.min(c) >= 8).then(
        union(t).with_(N.dense(N.dense(x, fx.min(c) / 4, 0), c, bias))),
    rule(eq(t).to(N.conv(x, c, 1, s, 1, bias)), eq(fx).to(F(x)), fx.min(c) >= 8).then(
        union(t).with_(N.conv(N.conv(x, fx.min(c) / 4, 1, 1, 1, 0), c, 1, s, 1, bias))),
    name="lowrank",
)


def _same_shape(u, v):
    return eq(Rk(u)).to(Rk(v)), eq(F(u)).to(F(v)), eq(S(u)).to(S(v))


# add a residual branch around a shape-preserving op, or drop one branch of a residual add
residual = ruleset(
    rule(eq(t).to(N.conv(x, c, k, s, g, bias)), *_same_shape(t, x)).then(union(t).with_(N.add(N.skip(t), x))),
    rule(eq(t).to(N.dense(x, c, bias)), *_same_shape(t, x)).then(union(t).with_(N.add(N.skip(t), x))),
    rule(eq(t).to(N.add(a_, b_)), *_same_shape(t, a_)).then(union(t).with_(N.skip(a_))),
    rule(eq(t).to(N.add(a_, b_)), *_same_shape(t, b_)).then(union(t).with_(N.skip(b_))),
    name="residual",
)

# drop the gate of a multiply (squeeze-excite): x * g -> x
branch = ruleset(
    rule(eq(t).to(N.mul(a_, b_)), *_same_shape(t, a_)).then(union(t).with_(N.skip(a_))),
    rule(eq(t).to(N.mul(a_, b_)), *_same_shape(t, b_)).then(union(t).with_(N.skip(b_))),
    name="branch",
)

#: family -> its mutation ruleset, given the vocabulary's activations
FAMILY_RULESETS: dict[str, Callable[[tuple[str, ...]], Ruleset]] = {
    "kernel": lambda acts: kernel, "sepconv": lambda acts: sepconv, "group": lambda acts: group,
    "width": lambda acts: width, "act_swap": lambda acts: act_swap, "norm_swap": lambda acts: norm_swap,
    "act_insdel": lambda acts: act_insdel(acts[0] if acts else "relu"), "norm_insdel": lambda acts: norm_insdel,
    "pool": lambda acts: pool, "lowrank": lambda acts: lowrank, "residual": lambda acts: residual,
    "branch": lambda acts: branch,
}

#: an empty push-down ruleset, for vocabularies without the ``width`` family
no_width_push = ruleset(name="no_width_push")


@dataclass(frozen=True)
class Program:
    """The rulesets of one vocabulary and the schedules the e-graph synthesizer runs them with."""

    mutate: UnstableCombinedRuleset
    push: Ruleset
    facts: tuple  # the vocabulary's ``act_kind`` facts

    @property
    def analysis(self) -> Schedule:
        """Shape analysis to saturation, then widening push-down interleaved with it (bounded)."""
        return shape.saturate() + (run(self.push) + shape.saturate()) * 6

    def round(self, *, last: bool) -> Schedule:
        """One mutation round: the analysis, one application of every family, and (last) the analysis again."""
        sched = self.analysis + run(self.mutate)
        return sched + self.analysis if last else sched


def program(families, acts: tuple[str, ...]) -> Program:
    """The mutation rulesets of ``families`` (in :data:`FAMILIES` order as given) for activations ``acts``."""
    chosen = [FAMILY_RULESETS[fam](acts) for fam in families]
    mutate = unstable_combine_rulesets(*chosen, name="mutate") if chosen else unstable_combine_rulesets(
        ruleset(name="no_mutation"), name="mutate")
    facts = tuple(act_kind(a) for a in acts) if "act_swap" in families else ()
    return Program(mutate, width_push if "width" in families else no_width_push, facts)


def layout(shape_) -> tuple[int, int, int]:
    """(rank, features, spatial) of a static shape, as the e-graph's shape analysis sees it (-1: n/a)."""
    rk = len(shape_)
    ints = [dim if isinstance(dim, int) else -1 for dim in shape_]
    if rk == 4:
        return 4, ints[1], ints[2] if ints[2] == ints[3] else -1
    if rk == 3:
        return 3, ints[2], ints[1]
    if rk == 2:
        return 2, ints[1], 1
    return rk, ints[-1] if rk else -1, -1
