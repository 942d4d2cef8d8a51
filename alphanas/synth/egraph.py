"""The e-graph synthesizer: egglog mutation rulesets + a property-aware Pareto extractor.

1. The subgraph becomes egglog terms (:mod:`alphanas.synth.term`, :mod:`alphanas.synth.rules`);
   every boundary output is a root, shared sub-terms are shared e-classes.
2. Mutation rulesets run for a few iterations (each: shape analysis to saturation, width push-down
   to saturation, then one application of every mutation family), stopped early by the e-node
   budget. Every e-class then holds interface-compatible alternatives.
3. The e-graph is exported (egglog's frozen tables) and :func:`extract` runs a dynamic
   program to a fixed point (cycles are fine): per e-class a small Pareto set of entries
   (property states, FLOPs, "differs from the original"), computed bottom-up with the properties'
   transfer functions (:class:`~alphanas.synth.evaluate.Evaluator`). An entry dominates another
   when its states are at least as strong in every lattice (join(a, b) == a), its cost is no
   higher, and it has the same "changed" flag.
4. At the roots, entries that differ from the original and satisfy the target are kept; one is
   returned: the cheapest, or a seeded random pick for diversity.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field

import numpy as np
from egglog import bindings

from alphanas.synth import props as P
from alphanas.synth.accept import Acceptance
from alphanas.synth.evaluate import Evaluator, Info
from alphanas.synth.rules import layout, program, sexpr
from alphanas.synth.term import Term, encode, tree_size as term_size

#: egglog constructor -> (term op, argument kinds: "T" term, "i" int, "s" string)
SIGNATURES = {
    "In": ("in", "i"), "Conv": ("conv", "Tiiiii"), "Dense": ("dense", "Tii"), "Act": ("act", "Ts"),
    "Norm": ("norm", "Ts"), "Pool": ("pool", "Tsii"), "GPool": ("gpool", "Ts"), "Add": ("add", "TT"),
    "Mul": ("mul", "TT"), "Skip": ("skip", "T"), "Fix0": ("fix", "i"), "Fix1": ("fix", "iT"),
    "Fix2": ("fix", "iTT"), "Fix3": ("fix", "iTTT"), "Widen": ("widen", "Tii"),
}


@dataclass
class ENode:
    op: str
    params: tuple
    kids: tuple  # e-class ids
    cls: str
    prio: float = 0.0


@dataclass
class EGraphExport:
    """The exported e-graph: e-nodes by class, plus which e-node is the original term of a class."""

    nodes: list[ENode]
    classes: dict[str, list[int]]
    original: dict[str, int] = field(default_factory=dict)  # class -> index of the original e-node
    term_class: dict = field(default_factory=dict)  # original term -> class


#: how many ops a result may have beyond the original (αNAS: ±2 per chain)
MAX_GROWTH = 4
#: extraction stages, (Pareto entries per class, operand combinations per e-node, keep lattice champions):
#: small Pareto sets answer most problems at a fraction of the cost; the full sets run only when they find nothing.
STAGES = ((2, 4, False), (12, 24, True))

_BASES: dict[str, object] = {}


def _base(text: str):
    """An egglog EGraph with the declarations and rules loaded (cached; problems run inside push/pop)."""
    eg = _BASES.get(text)
    if eg is None:
        eg = bindings.EGraph()
        eg.run_program(*eg.parse_program(text))
        _BASES[text] = eg
    return eg


def build_egraph(enc, vocab, shapes: dict[Term, tuple], *, iterations: int, max_enodes: int, deadline: float):
    """Run the rulesets on the encoded subgraph inside ``(push)``; returns (EGraph, iterations, e-nodes).

    The caller must ``pop(eg)`` when done with the e-graph.
    """
    eg = _base(program(vocab.families, vocab.acts))
    text = ["(push)"]
    names: dict[Term, str] = {}
    order: list[Term] = []

    def visit(t: Term) -> None:
        if t in names:
            return
        for k in t[2]:
            visit(k)
        names[t] = f"$t{len(names)}"
        order.append(t)

    for r in enc.roots:
        visit(r)
    local: dict[Term, str] = {}
    for t in order:
        text.append(f"(let {names[t]} {sexpr(t, local)})")
        local[t] = names[t]
        if t[0] in ("in", "fix") and t in shapes:
            rk, f, s = layout(shapes[t])
            text.append(f"(set (Rk {names[t]}) {rk}) (set (F {names[t]}) {f}) (set (S {names[t]}) {s})")
    # one egglog call per mutation round (the analyses that follow a round ride along with it),
    # the first round together with the terms; the e-node budget is checked between rounds
    analysis = "(saturate (run shape)) (repeat 6 (run width_push) (saturate (run shape)))"
    done, size, closed = 0, len(order), False
    try:
        while done < iterations and size <= max_enodes and time.perf_counter() < deadline:
            last = done + 1 == iterations
            text.append(f"(run-schedule {analysis} (run mutate){' ' + analysis if last else ''})")
            eg.run_program(*eg.parse_program("\n".join(text)))
            text, closed = [], last
            done += 1
            size = _size(eg)
        if not closed:
            text.append(f"(run-schedule {analysis})")
            eg.run_program(*eg.parse_program("\n".join(text)))
            size = _size(eg)
    except Exception:
        pop(eg)
        raise
    return eg, done, size


def pop(eg) -> None:
    eg.run_program(*eg.parse_program("(pop)"))


def _size(eg) -> int:
    out = eg.run_program(*eg.parse_program("(print-size)"))
    return sum(n for name, n in out[0].sizes if name[0].isupper() and name not in ("Rk", "F", "S", "ActKind"))


def export(eg, enc) -> EGraphExport:
    """Read the e-graph's constructor tables (egglog's frozen view, canonical after the last rebuild)
    into :class:`ENode` lists and locate the original terms."""
    frozen = eg.freeze().functions
    nodes: list[ENode] = []
    classes: dict[str, list[int]] = {}
    by_sig: dict[tuple, int] = {}
    for name, (op, kinds) in SIGNATURES.items():
        fn = frozen.get(name)
        if fn is None:
            continue
        for row in fn.rows:
            if row.subsumed:
                continue
            kids, params = [], []
            for kind, val in zip(kinds, row.inputs):
                if kind == "T":
                    kids.append(str(val))
                elif kind == "i":
                    params.append(eg.value_to_i64(val))
                else:
                    params.append(eg.value_to_string(val))
            en = ENode(op, tuple(params), tuple(kids), str(row.output))
            classes.setdefault(en.cls, []).append(len(nodes))
            by_sig[(op, en.params, en.kids)] = len(nodes)
            nodes.append(en)
    ex = EGraphExport(nodes, classes)

    def locate(t: Term) -> str:
        if t in ex.term_class:
            return ex.term_class[t]
        kids = tuple(locate(k) for k in t[2])
        idx = by_sig[(t[0], t[1], kids)]
        cls = nodes[idx].cls
        ex.term_class[t] = cls
        ex.original.setdefault(cls, idx)
        return cls

    for r in enc.roots:
        locate(r)
    return ex


class Entry:
    """One extracted alternative of an e-class: its info, cost, whether it differs, and how it is built.

    ``ident`` numbers distinct property states (for cheap dominance caching); ``size`` counts the ops
    of the term (as a tree).
    """

    __slots__ = ("info", "cost", "changed", "enode", "kids", "prio", "ident", "size")

    def __init__(self, info: Info, cost: int, changed: bool, enode: int, kids: tuple, prio: float,
                 ident: int = 0, size: int = 0) -> None:
        self.info, self.cost, self.changed, self.enode, self.kids, self.prio = info, cost, changed, enode, kids, prio
        self.ident, self.size = ident, size


@dataclass
class Extraction:
    roots: list[list[Entry]]  # per root class, its Pareto entries
    passes: int
    evaluations: int


#: process-wide memo of the lattice order between property states (pure in the states): state key ->
#: number, and per property-name tuple (number a, number b, domain index) -> join(a, b) == a
_IDENTS: dict = {}
_JOINED: dict = {}
_JOINED_MAX = 500_000


def extract(ex: EGraphExport, ev: Evaluator, roots: list[str], class_shapes: dict[str, tuple], *,
            k: int = 12, pick: str = "random", max_passes: int = 12, deadline: float = float("inf"),
            max_combos: int = 24, max_size: int = 1 << 30, champions: bool = True) -> Extraction:
    """Fixed-point Pareto dynamic program over the exported e-graph (handles cycles and sharing).

    Classes are visited in post-order from the roots (Gauss-Seidel: a class sees its operands' latest
    entries in the same pass); a class is recomputed only when an operand class changed. Per class
    it keeps the cheapest unchanged entry (the original) and up to ``k`` changed entries of the
    Pareto front over (states, FLOPs), strongest states first. Terms of more than ``max_size`` ops
    are not built (the e-graph's cycles, e.g. "insert an activation", would otherwise stack ops).
    ``champions=False`` truncates the front by ``pick`` order alone (cheaper, for a first small pass).
    """
    domains = ev.domains
    dom_idx = [j for j, n in enumerate(ev.names) if n != "shape"]
    pools: dict[str, list[Entry]] = {c: [] for c in ex.classes}
    shapes = dict(class_shapes)
    nodes = ex.nodes
    by_class = {c: [i for i in ids if nodes[i].op != "widen"] for c, ids in ex.classes.items()}
    if sum(map(len, _JOINED.values())) > _JOINED_MAX:
        _JOINED.clear()
        _IDENTS.clear()
    joined = _JOINED.setdefault(ev.names, {})
    idents = _IDENTS

    def ge_in(a: Entry, b: Entry, j: int) -> bool:
        """a's state in domain j is at least as strong as b's (join(a, b) == a)."""
        key = (a.ident, b.ident, j)
        r = joined.get(key)
        if r is None:
            try:
                r = P.freeze(domains[j].join(a.info.states[j], b.info.states[j])) == P.freeze(a.info.states[j])
            except Exception:
                r = False
            joined[key] = r
        return r

    def ge(a: Entry, b: Entry) -> bool:
        return all(ge_in(a, b, j) for j in dom_idx)

    def prune(cands: list[Entry]) -> list[Entry]:
        best: dict = {}  # one entry per property state: the cheapest, or ("random") a seeded pick
        for e in cands:
            key = (e.ident, e.changed)
            o = best.get(key)
            by_cost = pick == "cheapest" or not e.changed
            if o is None or ((e.cost, e.prio) < (o.cost, o.prio) if by_cost else e.prio < o.prio):
                best[key] = e
        uniq = sorted(best.values(), key=lambda e: (e.cost, e.prio))
        keep = [e for e in uniq if not e.changed][:1]
        if pick != "cheapest":  # "random": equally strong alternatives compete by seeded priority, not cost
            uniq.sort(key=lambda e: e.prio)
        front: list[Entry] = []  # skyline: an entry survives unless an earlier kept one is as strong
        for e in uniq:
            if e.changed and not any(ge(o, e) for o in front):
                front.append(e)
        if len(front) > k and not champions:
            front.sort(key=(lambda e: (e.cost, e.prio)) if pick == "cheapest" else (lambda e: e.prio))
        elif len(front) > k:
            # keep the cheapest champions of each property lattice (an entry no other beats in that
            # lattice alone), so that truncation never loses the only way to satisfy one property;
            # fill up by cost ("cheapest") or by the seeded priority ("random")
            order = (lambda e: (e.cost, e.prio)) if pick == "cheapest" else (lambda e: e.prio)
            chosen: list[Entry] = []
            per = max(1, k // (len(dom_idx) + 1))
            for j in dom_idx:
                champs = [e for e in front if not any(o is not e and ge_in(o, e, j) and not ge_in(e, o, j)
                                                      for o in front)]
                chosen += [e for e in sorted(champs, key=lambda e: (e.cost, e.prio)) if e not in chosen][:per]
            chosen += [e for e in sorted(front, key=order) if e not in chosen]
            front = chosen
        return keep + front[:k]

    # post-order of classes from the roots
    order: list[str] = []
    seen: set[str] = set()
    for r in roots:
        stack = [(r, False)]
        while stack:
            c, done = stack.pop()
            if done:
                order.append(c)
                continue
            if c in seen:
                continue
            seen.add(c)
            stack.append((c, True))
            for i in by_class.get(c, ()):
                for kc in nodes[i].kids:
                    if kc not in seen:
                        stack.append((kc, False))
    version = {c: 0 for c in order}
    last: dict[str, tuple | None] = {c: None for c in order}
    passes = 0
    while passes < max_passes and time.perf_counter() < deadline:
        passes += 1
        moved = False
        for c in order:
            kv = tuple(version.get(kc, 0) for i in by_class[c] for kc in nodes[i].kids)
            if last[c] == kv:
                continue
            last[c] = kv
            cands = list(pools[c])
            for i in by_class[c]:
                n = nodes[i]
                kid_pools = [pools.get(kc, []) for kc in n.kids]
                if any(not p for p in kid_pools):
                    continue
                orig = ex.original.get(c) == i
                for combo in itertools.islice(itertools.product(*kid_pools), max_combos):
                    if n.op in ("act", "norm") and _head(nodes, combo[0]) == n.op:
                        continue  # no activation of an activation, no norm of a norm
                    info = ev.apply(n.op, n.params, [e.info for e in combo])
                    if info is None:
                        continue
                    want = shapes.get(c)
                    if want is None:
                        shapes[c] = want = info.shape
                    if info.shape != want:
                        continue  # the class's shape invariant: such an alternative is unusable
                    size = (n.op not in ("skip", "in")) + sum(e.size for e in combo)
                    if size > max_size:
                        continue  # bounded growth (αNAS: chains within ±2 ops)
                    changed = not orig or any(e.changed for e in combo)
                    own = 0 if n.op == "skip" else info.flops  # a skip's info is its operand's
                    cost = own + sum(e.cost for e in combo)
                    prio = n.prio + 1e-3 * sum(e.prio for e in combo)
                    ident = idents.setdefault(info.key, len(idents))
                    cands.append(Entry(info, cost, changed, i, combo, prio, ident, size))
            pruned = prune(cands)
            sig = lambda es: {(e.info.key, e.changed, e.cost) for e in es}  # noqa: E731
            if sig(pruned) != sig(pools[c]):
                pools[c] = pruned
                version[c] += 1
                moved = True
            if time.perf_counter() > deadline:
                break
        if not moved:
            break
    return Extraction([pools.get(r, []) for r in roots], passes, ev.calls)


def _head(nodes: list[ENode], e: Entry) -> str:
    """The op of an entry's term, looking through skips."""
    while nodes[e.enode].op == "skip":
        e = e.kids[0]
    return nodes[e.enode].op


def synthesize_egraph(problem):
    """Run the e-graph synthesizer; returns (encoding, export, chosen root entries, evaluator, stats).

    Raises :class:`~alphanas.synth.problem.SynthesisFailed` when nothing satisfies the target.
    """
    from alphanas.synth.problem import SynthesisFailed

    t0 = time.perf_counter()
    deadline = t0 + problem.budget_s
    rng = np.random.default_rng(problem.seed)
    enc = encode(problem.subgraph)
    shapes = {}
    vt = enc.value_terms
    val_by_id = {id(v): v for v in enc.inputs}
    for n in problem.subgraph.nodes:
        for v in n.outputs:
            val_by_id[id(v)] = v
    for vid, t in vt.items():
        v = val_by_id.get(vid)
        if v is not None and v.shape is not None and all(isinstance(d, int) for d in v.shape):
            shapes[t] = tuple(v.shape)
    eg, iters, size = build_egraph(enc, problem.vocabulary, shapes, iterations=3, max_enodes=problem.max_enodes,
                                   deadline=deadline)
    try:
        ex = export(eg, enc)
    finally:
        pop(eg)
    for n in ex.nodes:
        n.prio = float(rng.random())
    class_shapes = {}
    for vid, t in vt.items():
        v = val_by_id.get(vid)
        if v is not None and t in ex.term_class:
            class_shapes[ex.term_class[t]] = tuple(v.shape)
    ev = Evaluator(enc.fixed, enc.inputs, problem.names)
    roots = [ex.term_class[r] for r in enc.roots]
    max_size = sum(term_size(r) for r in enc.roots) + MAX_GROWTH
    accept = Acceptance(problem, enc)
    stats = {"enodes": len(ex.nodes), "eclasses": len(ex.classes), "iterations": iters}
    best = float("inf")  # over every root alternative evaluated, the original included
    reason = "no changed alternative satisfies the target"
    for k, combos, champions in STAGES:
        res = extract(ex, ev, roots, class_shapes, k=k, max_combos=combos, pick=problem.pick, deadline=deadline,
                      max_size=max_size, champions=champions)
        stats.update(passes=res.passes, evaluations=res.evaluations, pareto_k=k)
        sat: list[tuple] = []
        for combo in itertools.islice(itertools.product(*res.roots), 256):
            d = ev.distance(problem.target, [e.info for e in combo])
            best = min(best, d) if d > 0 or any(e.changed for e in combo) else best
            if d == 0 and any(e.changed for e in combo):
                sat.append(combo)
        if problem.pick == "cheapest":
            sat.sort(key=lambda c: (sum(e.cost for e in c), sum(e.prio for e in c)))
        else:
            sat = [sat[int(i)] for i in rng.permutation(len(sat))]
        memo: dict = {}
        for combo in sat:
            if accept([entry_term(ex.nodes, e, memo) for e in combo]):
                stats["satisfying"] = len(sat)
                return enc, ex, list(combo), ev, stats
        if sat:
            reason, best = f"{len(sat)} satisfying alternative(s), all refused: {accept.reason}", 0.0
        if time.perf_counter() > deadline:
            break
    raise SynthesisFailed(f"e-graph: {reason}", best)


def entry_term(ex_nodes: list[ENode], e: Entry, memo: dict | None = None) -> Term:
    """The term an entry stands for (shared entries give shared sub-terms)."""
    memo = {} if memo is None else memo
    if id(e) in memo:
        return memo[id(e)]
    n = ex_nodes[e.enode]
    t = (n.op, n.params, tuple(entry_term(ex_nodes, k, memo) for k in e.kids))
    memo[id(e)] = t
    return t
