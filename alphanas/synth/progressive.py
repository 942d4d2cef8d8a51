"""The progressive synthesizer of αNAS (reference §3.1–3.5), with a time budget and backtracking.

The subgraph's *skeleton* is kept: inputs, binary ops (``add``, ``mul``), fixed (untyped) nodes and
every value used more than once. Every *chain* of unary ops between skeleton values (including the
empty chain on an edge into a binary or fixed node, where ops may be inserted) is re-synthesized op by
op, as αNAS's ``ProgressiveSequentialSynthesizer`` does:

* a chain of ``n`` ops becomes ``n-2 … n+2`` ops (never fewer than 0);
* at each step every candidate op of the TEST grid is appended, the whole subgraph (other chains as
  they currently are) is evaluated with the properties' abstract domains, and its distance ``d`` to the
  target is computed; candidates whose evaluation fails (wrong shapes) are dropped;
* WEIGHTED choice: ``w = 1 / (d + 0.1)^2``; an op *type* is drawn ∝ its best ``w``, then a candidate
  of that type ∝ ``w``;
* it stops when the distance is 0 and the chain has more than ``min_len`` ops (with probability 0.8
  while two more ops would still fit, always otherwise), or at ``max_len``;
* the last convolution/dense layer of a chain always gets the chain's required output features
  (αNAS's ``adjust_features``); the TEST grid also offers ×2, ×4, ÷2, ÷4 hidden widths;
* afterwards kwargs are randomised from the FULL grid key by key in random order, keeping the first
  value for which the whole subgraph still satisfies the target (kernel 1 and groups 1 are kept with
  probability 0.5);
* with probability 0.2 a chain into a binary op is dropped (the binary op becomes its other operand),
  when that still satisfies the target (αNAS's ``p_drop_branch``).

Beyond the research code: a wall-clock budget, restarts with fresh random choices until the budget
runs out (backtracking instead of a wasted trial), ``pick="cheapest"`` (up to :data:`CHEAPEST_POOL`
satisfying results are collected within the budget and the one with the fewest FLOPs is returned, for
searches that minimise cost), multi-input/multi-output subgraphs, and an explicit
:class:`~alphanas.synth.problem.SynthesisFailed` carrying the best distance reached. A result that is
identical to the original subgraph (ignoring ``skip`` nodes) is never returned.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from alphanas.ir.subgraph import fragment
from alphanas.synth import props as P
from alphanas.synth.accept import Acceptance
from alphanas.synth.evaluate import Evaluator
from alphanas.synth.problem import ProgressiveStats, SynthesisFailed
from alphanas.synth.lang import PARAMS
from alphanas.synth.term import UNARY, Materializer, Term, encode

EPS, EXP = 0.1, 2.0  # weighting 1 / (d + EPS)^EXP
MAX_DELTA = MIN_DELTA = 2
P_CONTINUE = 0.2  # probability of continuing a satisfied chain while two more ops would fit
P_DROP_BRANCH = 0.2
KEEP_DEFAULT = 0.5  # kernel 1 / groups 1 kept with this probability when randomising
CHEAPEST_POOL = 8  # pick="cheapest": satisfying results collected (within the budget) to choose the cheapest from



class Op(NamedTuple):
    """A unary term constructor without its operand: the op and its parameter NamedTuple."""

    op: str
    params: tuple

    @classmethod
    def of(cls, op: str, **params) -> Op:
        return cls(op, PARAMS[op](**params))


@dataclass
class Chain:
    """A maximal sequence of unary ops: ``start`` (a skeleton term) -> ops -> ``top``.

    ``top`` is None for an empty chain on the edge ``edge = (parent term, operand index)``.
    """

    start: Term
    ops: list[Op]
    top: Term | None = None
    edge: tuple | None = None
    into_binary: bool = False
    out_shape: tuple | None = None


@dataclass
class Decomposition:
    roots: list[Term]
    chains: list[Chain] = field(default_factory=list)
    top_of: dict = field(default_factory=dict)  # chain top term -> chain index
    edge_of: dict = field(default_factory=dict)  # (parent term, operand index) -> chain index


def decompose(roots: list[Term]) -> Decomposition:
    """Split a term DAG into skeleton terms and the chains between them."""
    users: dict[Term, int] = {}
    seen: set[Term] = set()

    def count(t: Term) -> None:
        if t in seen:
            return
        seen.add(t)
        for k in t.kids:
            users[k] = users.get(k, 0) + 1
            count(k)

    for r in roots:
        users[r] = users.get(r, 0) + 1
        count(r)

    def junction(t: Term) -> bool:
        return t.op not in UNARY and t.op != "skip" or users.get(t, 0) > 1

    dec = Decomposition(list(roots))
    done: set[Term] = set()

    def chain_from(top: Term) -> Term:
        """Record the chain ending at unary ``top``; returns the skeleton term it starts from."""
        ops: list[Op] = []
        t = top
        while True:
            if t.op != "skip":
                ops.append(Op(t.op, t.params))
            t = t.kids[0]
            if junction(t) or t.op not in UNARY and t.op != "skip":
                break
        dec.top_of[top] = len(dec.chains)
        dec.chains.append(Chain(start=t, ops=ops[::-1], top=top))
        return t

    def walk(t: Term) -> None:
        if t in done:
            return
        done.add(t)
        if t.op in UNARY or t.op == "skip":
            walk(chain_from(t))
            return
        for i, k in enumerate(t.kids):
            if (k.op in UNARY or k.op == "skip") and not junction(k):
                walk(k)
                dec.chains[dec.top_of[k]].into_binary = t.op in ("add", "mul")
            else:
                dec.edge_of[(t, i)] = len(dec.chains)
                dec.chains.append(Chain(start=k, ops=[], edge=(t, i), into_binary=t.op in ("add", "mul")))
                walk(k)

    for r in roots:
        walk(r)
    return dec


def chain_term(start: Term, ops: list[Op]) -> Term:
    t = start
    for op, params in ops:
        t = Term(op, params, (t,))
    return t


class Rebuilder:
    """Rebuilds the whole term DAG with the current ops of every chain (and dropped branches)."""

    def __init__(self, dec: Decomposition) -> None:
        self.dec = dec
        self.ops: list[list[Op]] = [list(c.ops) for c in dec.chains]
        self.dropped: dict[Term, int] = {}  # binary term -> index of the operand that replaces it

    def roots(self) -> list[Term]:
        memo: dict[Term, Term] = {}
        return [self._build(r, memo) for r in self.dec.roots]

    def _build(self, t: Term, memo: dict) -> Term:
        if t in memo:
            return memo[t]
        ci = self.dec.top_of.get(t)
        if ci is not None:
            res = chain_term(self._build(self.dec.chains[ci].start, memo), self.ops[ci])
        elif t.op == "input":
            res = t
        else:
            kids = []
            for i, k in enumerate(t.kids):
                kt = self._build(k, memo)
                ei = self.dec.edge_of.get((t, i))
                kids.append(chain_term(kt, self.ops[ei]) if ei is not None else kt)
            if t in self.dropped:
                res = Term.of("skip", kids[self.dropped[t]])
            else:
                res = Term(t.op, t.params, tuple(kids))
        memo[t] = res
        return res


def _features_axis(shape: tuple) -> int:
    return 1 if len(shape) == 4 else len(shape) - 1


class Progressive:
    """One progressive synthesis run (state shared by the chains of one problem)."""

    def __init__(self, problem, enc, ev: Evaluator, rng: np.random.Generator, deadline: float,
                 cached: bool = False) -> None:
        self.problem, self.enc, self.ev, self.rng, self.deadline = problem, enc, ev, rng, deadline
        self.cached = cached
        self.vocab = problem.vocabulary
        self.best = float("inf")
        self.evaluations = 0

    # -- evaluation -------------------------------------------------------------------------------
    def distance(self, rb: Rebuilder) -> float:
        """Distance of the whole subgraph (current chains) to the target; inf when it does not type-check."""
        self.evaluations += 1
        d = self._cached(rb.roots()) if self.cached else self._full(rb.roots())
        self.best = min(self.best, d)
        return d

    def _cached(self, roots: list[Term]) -> float:
        memo: dict = {}
        infos = [self.ev.info_of(r, memo) for r in roots]
        if any(i is None for i in infos):
            return float("inf")
        return self.ev.distance(self.problem.target, infos)

    def _full(self, roots: list[Term]) -> float:
        """αNAS's way: materialise the candidate subgraph and infer all its properties from scratch."""
        try:
            m = Materializer(self.enc.fixed, None, prefix="cand")
            memo: dict = {}
            outs = [m.build(r, self.enc.inputs, memo) for r in roots]
            cand = P.infer(fragment("cand", self.enc.inputs, m.nodes, outs), self.problem.names)
            return float(self.problem.target.distance(cand))
        except Exception:  # an op rejecting its operand shapes, or an undefined (infeasible) distance
            return float("inf")

    # -- grids ------------------------------------------------------------------------------------
    def _grid(self, chain: Chain, in_shape: tuple, full: bool) -> list[Op]:
        """Candidate ops (TEST grid, or FULL grid values for randomisation) for a chain on ``in_shape``."""
        v = self.vocab
        rank = len(in_shape)
        f = in_shape[_features_axis(in_shape)]
        orig_strides = {p.stride for op, p in chain.ops if op in ("conv", "pool")} | {1}
        widths = {f} | {f * n // d for n, d in v.widths if (f * n) % d == 0 and f * n // d > 0}
        widths |= {p.cout for op, p in chain.ops if op in ("conv", "dense")}
        if chain.out_shape is not None:
            widths.add(chain.out_shape[_features_axis(chain.out_shape)])
        ops: list[Op] = []
        if rank == 4:
            kernels = sorted(set(v.kernels) if full else {1, 3} & set(v.kernels) or set(v.kernels[:1]))
            for c in sorted(widths):
                for k in kernels:
                    for s in sorted(orig_strides):
                        ops.append(Op.of("conv", cout=c, kernel=k, stride=s, groups=1, bias=0))
            for kind in ("max", "avg"):
                for s in sorted(orig_strides):
                    ops.append(Op.of("pool", kind=kind, kernel=3, stride=s))
                    if s > 1:
                        ops.append(Op.of("pool", kind=kind, kernel=s, stride=s))
        else:
            for c in sorted(widths):
                ops.append(Op.of("dense", cout=c, bias=1))
        ops += [Op.of("act", kind=a) for a in v.acts]
        norms = [n for n in v.norms if (n in ("bn", "in") and rank == 4) or (n == "ln" and rank == 3)
                 or (n == "bn" and rank == 2)]
        ops += [Op.of("norm", kind=n) for n in norms]
        fam = set(v.families)
        return [o for o in ops if self._allowed(o, fam)]

    @staticmethod
    def _allowed(op: Op, fam: set) -> bool:
        if op.op == "pool":
            return "pool" in fam
        if op.op == "norm":
            return "norm_insdel" in fam or "norm_swap" in fam
        if op.op == "act":
            return "act_insdel" in fam or "act_swap" in fam
        return True

    @staticmethod
    def adjust(ops: list[Op], out_features: int | None) -> list[Op]:
        """αNAS's adjust_features: the last conv/dense produces the chain's required output features."""
        if out_features is None:
            return ops
        for j in range(len(ops) - 1, -1, -1):
            op, p = ops[j]
            if op in ("conv", "dense"):
                return ops[:j] + [Op(op, p._replace(cout=out_features))] + ops[j + 1:]
        return ops

    # -- one chain --------------------------------------------------------------------------------
    def synth_chain(self, rb: Rebuilder, ci: int) -> float:
        chain = self.dec.chains[ci]
        in_info = self.ev.info_of(rb._build(chain.start, {}), {})
        if in_info is None:
            return float("inf")
        cands = self._grid(chain, in_info.shape, full=False)
        out_f = None if chain.out_shape is None else chain.out_shape[_features_axis(chain.out_shape)]
        n = len(chain.ops)
        max_len, min_len = n + MAX_DELTA, max(0, n - MIN_DELTA)
        ops: list[Op] = []
        last = None
        rb.ops[ci] = []
        while True:
            if len(ops) > min_len and last == 0:
                if len(ops) <= max_len - 2:
                    if self.rng.random() > P_CONTINUE:
                        break
                else:
                    break
            if len(ops) >= max_len or time.perf_counter() > self.deadline:
                break
            scored: list[tuple[Op, float]] = []
            for op in cands:
                rb.ops[ci] = self.adjust(ops + [op], out_f)
                d = self.distance(rb)
                if np.isfinite(d):
                    scored.append((op, d))
            if not scored:
                break
            w = np.array([1.0 / (d + EPS) ** EXP for _, d in scored])
            types = sorted({op.op for op, _ in scored})
            tw = np.array([max(wi for (op, _), wi in zip(scored, w) if op.op == ty) for ty in types])
            ty = types[int(self.rng.choice(len(types), p=tw / tw.sum()))]
            idx = [j for j, (op, _) in enumerate(scored) if op.op == ty]
            ww = w[idx]
            j = idx[int(self.rng.choice(len(idx), p=ww / ww.sum()))]
            ops.append(scored[j][0])
            last = scored[j][1]
        rb.ops[ci] = self.adjust(ops, out_f)
        return self.distance(rb)

    def randomize(self, rb: Rebuilder, ci: int) -> None:
        """Two-stage kwargs: FULL-grid values key by key in random order, first one that still satisfies."""
        ops = rb.ops[ci]
        for j in range(len(ops)):
            op, p = rb.ops[ci][j]
            if op == "conv":
                k, g = p.kernel, p.groups
                keys = {"k": [x for x in self.vocab.kernels if x != k], "g": [x for x in (2, 4, 16, 64) if x != g]}
                if "group" not in self.vocab.families and "sepconv" not in self.vocab.families:
                    keys.pop("g")
                for key in self.rng.permutation(sorted(keys)):
                    cur = k if key == "k" else g
                    if cur == 1 and self.rng.random() < KEEP_DEFAULT:
                        continue
                    vals = list(keys[key])
                    if key == "g":
                        # depthwise is possible: groups = input features
                        vals.append(-1)
                    for val in self.rng.permutation(vals):
                        trial = rb.ops[ci][j].params
                        if key == "k":
                            trial = trial._replace(kernel=int(val))
                        else:
                            in_info = self.ev.info_of(chain_term(rb._build(self.dec.chains[ci].start, {}),
                                                                 rb.ops[ci][:j]), {})
                            if in_info is None:
                                continue
                            gv = in_info.shape[1] if val == -1 else int(val)
                            if gv <= 1 or in_info.shape[1] % gv or trial.cout % gv:
                                continue
                            trial = trial._replace(groups=gv)
                        saved = rb.ops[ci][j]
                        rb.ops[ci][j] = Op("conv", trial)
                        if self.distance(rb) == 0:
                            break
                        rb.ops[ci][j] = saved
            elif op == "pool" and p.stride == 1:
                for kk in self.rng.permutation([x for x in (3, 5) if x != p.kernel]):
                    saved = rb.ops[ci][j]
                    rb.ops[ci][j] = Op.of("pool", kind=p.kind, kernel=int(kk), stride=1)
                    if self.distance(rb) == 0:
                        break
                    rb.ops[ci][j] = saved

    # -- the whole subgraph ------------------------------------------------------------------------
    def attempt(self, dec: Decomposition) -> list[Term] | None:
        self.dec = dec
        rb = Rebuilder(dec)
        order = [int(i) for i in self.rng.permutation(len(dec.chains))]
        for ci in order:
            if time.perf_counter() > self.deadline:
                return None
            chain = dec.chains[ci]
            if chain.into_binary and self.rng.random() < P_DROP_BRANCH:
                parent = chain.edge[0] if chain.edge else self._parent_of(dec, chain.top)
                if parent is not None and parent.op in ("add", "mul"):
                    self._drop(rb, parent, chain)
                    if self.distance(rb) == 0:
                        continue
                    rb.dropped.pop(parent, None)
            self.synth_chain(rb, ci)
        if self.distance(rb) != 0:
            return None
        for ci in order:
            self.randomize(rb, ci)
        return rb.roots()

    @staticmethod
    def _parent_of(dec: Decomposition, top: Term) -> Term | None:
        for t in _all_terms(dec.roots):
            if top in t.kids:
                return t
        return None

    @staticmethod
    def _drop(rb: Rebuilder, parent: Term, chain: Chain) -> None:
        """Replace binary ``parent`` by its operand that is not ``chain``."""
        idx = chain.edge[1] if chain.edge else parent.kids.index(chain.top)
        rb.dropped[parent] = 1 - idx


def _all_terms(roots: list[Term]) -> list[Term]:
    out, seen, stack = [], set(), list(roots)
    while stack:
        t = stack.pop()
        if t in seen:
            continue
        seen.add(t)
        out.append(t)
        stack.extend(t.kids)
    return out


def term_flops(ev: Evaluator, roots: list[Term]) -> int:
    """FLOPs of a term DAG (each distinct sub-term counted once)."""
    memo: dict = {}
    total = 0
    for t in _all_terms(roots):
        info = ev.info_of(t, memo)
        total += 0 if info is None or t.op in ("input", "skip") else int(info.flops)
    return total


def synthesize_progressive(problem, cached: bool = False):
    """Run the progressive synthesizer; returns (encoding, root terms, stats).

    As in αNAS every candidate is scored by inferring the properties of the whole candidate subgraph
    from scratch; ``cached=True`` scores with the incremental, memoised term evaluator of the e-graph
    synthesizer instead (same choices given the same distances, much less work per candidate).

    Raises :class:`~alphanas.synth.problem.SynthesisFailed` (with the best distance reached) when no
    satisfying subgraph different from the original is found within ``problem.budget_s``.
    """
    t0 = time.perf_counter()
    deadline = t0 + problem.budget_s
    rng = np.random.default_rng([problem.seed, 11])
    enc = encode(problem.subgraph)
    ev = Evaluator(enc.fixed, enc.inputs, problem.names)
    accept = Acceptance(problem, enc)
    prog = Progressive(problem, enc, ev, rng, deadline, cached)
    attempts = 0
    found: list[tuple[int, int, list[Term]]] = []  # pick="cheapest": (FLOPs, order, roots) of accepted results
    while time.perf_counter() < deadline and len(found) < CHEAPEST_POOL:
        attempts += 1
        roots = list(enc.roots)
        dec = decompose(roots)
        for c in dec.chains:
            top = c.top if c.top is not None else c.start
            info = ev.info_of(top, {})
            c.out_shape = None if info is None else info.shape
        if not dec.chains:
            raise SynthesisFailed("progressive: the subgraph has no chain of unary ops to re-synthesize")
        result = prog.attempt(dec)
        if result is not None and accept(result):
            if problem.pick != "cheapest":
                return enc, result, ProgressiveStats(attempts, prog.evaluations, len(dec.chains))
            found.append((term_flops(ev, result), len(found), result))
            continue
        if result is not None:
            prog.best = min(prog.best, 0.0)
    if found:
        flops, _, result = min(found, key=lambda f: f[:2])
        return enc, result, ProgressiveStats(attempts, prog.evaluations, len(dec.chains), satisfying=len(found),
                                             flops=flops)
    why = f"; last refused: {accept.reason}" if accept.reason else ""
    raise SynthesisFailed(f"progressive: nothing satisfying and different within {problem.budget_s:g} s "
                          f"({attempts} attempt(s){why})", prog.best)
