"""The e-graph synthesizer: egglog mutation rulesets + a property-aware Pareto extractor.

1. The subgraph becomes terms (:mod:`alphanas.synth.term`) and the terms egglog constructors of the
   typed op language (:mod:`alphanas.synth.lang`); every boundary output is a root, shared sub-terms
   are shared e-classes.
2. The vocabulary's mutation rulesets (:mod:`alphanas.synth.rules`) run for a few rounds (each:
   shape analysis to saturation, width push-down, then one application of every mutation family),
   stopped early by the e-node budget. Every e-class then holds interface-compatible alternatives.
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
from egglog import EGraph, bindings

from alphanas.synth import props as P
from alphanas.synth.accept import Acceptance
from alphanas.synth.evaluate import Evaluator, Info
from alphanas.synth.lang import PARAMS, SHAPE_FUNCTIONS, SIGNATURES, sexpr
from alphanas.synth.problem import EGraphStats
from alphanas.synth.rules import Program, layout, program
from alphanas.synth.term import Term, encode, tree_size as term_size


@dataclass
class ENode:
    """One e-node of the exported e-graph: a term op with its named parameters over operand e-classes."""

    op: str
    params: tuple  # the op's parameter NamedTuple (plain tuples are converted)
    kids: tuple  # e-class ids
    cls: str
    prio: float = 0.0

    def __post_init__(self) -> None:
        if self.op in PARAMS and not hasattr(self.params, "_fields"):
            self.params = PARAMS[self.op](*self.params)


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


@dataclass
class _Compiled:
    """A vocabulary's program loaded into an egglog e-graph, and its schedules as parsed commands.

    egglog-python writes the program from the typed declarations and rulesets once; problems then
    run inside ``(push)``/``(pop)`` on this e-graph, one egglog call per mutation round, without the
    per-call cost of the high-level API.
    """

    egraph: bindings.EGraph
    rounds: dict[bool, list]  # last round? -> the run-schedule command of a mutation round
    analysis: list  # the run-schedule command of the analyses alone


_COMPILED: dict[tuple, _Compiled] = {}


def _compile(prog: Program) -> _Compiled:
    """Have egglog-python write the program (declarations, facts, rulesets, schedules) by running it on
    an empty, recording e-graph; load the declarations into a fresh egglog e-graph, parse the schedules."""
    recorder = EGraph(save_egglog_string=True)
    for sig in SIGNATURES.values():  # declares every constructor (egglog-python declares on first use)
        recorder.function_size(sig.constructor)
    if prog.facts:
        recorder.register(*prog.facts)
    declarations, schedules, seen = [], [], 0
    for sched in (prog.round(last=False), prog.round(last=True), prog.analysis):
        recorder.run(sched)  # declares what the schedule uses, then runs it (on nothing)
        text = recorder.as_egglog_string
        cut = text.rindex("(run-schedule")
        declarations.append(text[seen:cut])
        schedules.append(text[cut:])
        seen = len(text)
    eg = bindings.EGraph()
    eg.run_program(*eg.parse_program("".join(declarations)))
    first, last, analysis = (eg.parse_program(text) for text in schedules)
    return _Compiled(eg, {False: first, True: last}, analysis)


def _compiled(vocab) -> _Compiled:
    """The compiled program of a vocabulary (cached per families and activations)."""
    key = (tuple(vocab.families), tuple(vocab.acts))
    if key not in _COMPILED:
        _COMPILED[key] = _compile(program(vocab.families, vocab.acts))
    return _COMPILED[key]


def _terms_program(enc, shapes: dict[Term, tuple]) -> tuple[list[str], int]:
    """egglog commands that bind the encoded terms (shared sub-terms once, operands first) and set the
    known shapes of inputs and fixed nodes; and the number of terms."""
    names: dict[Term, str] = {}
    text: list[str] = []

    def visit(t: Term) -> None:
        if t in names:
            return
        for kid in t.kids:
            visit(kid)
        name = f"$t{len(names)}"
        text.append(f"(let {name} {sexpr(t, names)})")
        names[t] = name
        if t.op in ("input", "fix") and t in shapes:
            text.extend(f"(set ({fn} {name}) {v})" for fn, v in zip(SHAPE_FUNCTIONS, layout(shapes[t])))

    for r in enc.roots:
        visit(r)
    return text, len(names)


def build_egraph(enc, vocab, shapes: dict[Term, tuple], *, iterations: int, max_enodes: int, deadline: float):
    """Run the rulesets on the encoded subgraph inside ``(push)``; returns (e-graph, iterations, e-nodes).

    One egglog call per mutation round (each: the analyses, one application of every family, and
    after the last round the analyses again), the first together with the terms; the e-node budget is
    checked between rounds. The caller must ``pop(eg)`` when done with the e-graph.
    """
    comp = _compiled(vocab)
    eg = comp.egraph
    text, size = _terms_program(enc, shapes)
    pending = eg.parse_program("\n".join(["(push)", *text]))
    done, closed = 0, False
    try:
        while done < iterations and size <= max_enodes and time.perf_counter() < deadline:
            closed = done + 1 == iterations
            eg.run_program(*pending, *comp.rounds[closed])
            pending = []
            done += 1
            size = enode_count(eg)
        if not closed:
            eg.run_program(*pending, *comp.analysis)
            size = enode_count(eg)
    except Exception:
        pop(eg)
        raise
    return eg, done, size


def pop(eg: bindings.EGraph) -> None:
    """Drop the problem's terms and rewrites: the e-graph holds its vocabulary's program again."""
    eg.run_program(*eg.parse_program("(pop)"))


def enode_count(eg: bindings.EGraph) -> int:
    """E-nodes in the e-graph: rows of the :class:`~alphanas.synth.lang.NetTerm` constructor tables."""
    out = eg.run_program(*eg.parse_program("(print-size)"))
    return sum(n for name, n in out[0].sizes if name in SIGNATURES)


def export(eg: bindings.EGraph, enc) -> EGraphExport:
    """Read the e-graph's constructor tables (egglog's frozen view, canonical after the last rebuild)
    into :class:`ENode` lists, one row per e-node read by its :data:`~alphanas.synth.lang.SIGNATURES`
    entry, and locate the original terms."""
    frozen = eg.freeze().functions
    nodes: list[ENode] = []
    classes: dict[str, list[int]] = {}
    by_sig: dict[tuple, int] = {}
    decode = {"i": eg.value_to_i64, "s": eg.value_to_string}
    for name, sig in SIGNATURES.items():
        fn = frozen.get(name)
        if fn is None:
            continue
        make_params = PARAMS[sig.op]._make  # type: ignore[attr-defined]
        for row in fn.rows:
            if row.subsumed:
                continue
            kids, params = [], []
            for kind, val in zip(sig.kinds, row.inputs):
                if kind == "T":
                    kids.append(str(val))
                else:
                    params.append(decode[kind](val))
            en = ENode(sig.op, make_params(params), tuple(kids), str(row.output))
            classes.setdefault(en.cls, []).append(len(nodes))
            by_sig[(sig.op, en.params, en.kids)] = len(nodes)
            nodes.append(en)
    ex = EGraphExport(nodes, classes)

    def locate(t: Term) -> str:
        if t in ex.term_class:
            return ex.term_class[t]
        kids = tuple(locate(k) for k in t.kids)
        idx = by_sig[(t.op, t.params, kids)]
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


class _Dominance:
    """The lattice order between entries' property states, per domain (memoised process-wide)."""

    def __init__(self, ev: Evaluator) -> None:
        if sum(map(len, _JOINED.values())) > _JOINED_MAX:
            _JOINED.clear()
            _IDENTS.clear()
        self.domains = ev.domains
        #: the domains an entry is compared in (shape is a class invariant, not a preference)
        self.compared = [j for j, n in enumerate(ev.names) if n != "shape"]
        self.joined = _JOINED.setdefault(ev.names, {})
        self.idents = _IDENTS

    def ident(self, info: Info) -> int:
        """A number for the property state of ``info`` (equal states, equal numbers)."""
        return self.idents.setdefault(info.key, len(self.idents))

    def ge_in(self, a: Entry, b: Entry, j: int) -> bool:
        """a's state in domain j is at least as strong as b's (join(a, b) == a)."""
        key = (a.ident, b.ident, j)
        r = self.joined.get(key)
        if r is None:
            try:
                r = P.freeze(self.domains[j].join(a.info.states[j], b.info.states[j])) == P.freeze(a.info.states[j])
            except Exception:
                r = False
            self.joined[key] = r
        return r

    def ge(self, a: Entry, b: Entry) -> bool:
        return all(self.ge_in(a, b, j) for j in self.compared)


@dataclass
class _Pruning:
    """Which entries of one class survive: the original, and a Pareto front of at most ``k`` changed ones."""

    order: _Dominance
    k: int
    pick: str
    champions: bool

    def __call__(self, cands: list[Entry]) -> list[Entry]:
        uniq = self.one_per_state(cands)
        keep = [e for e in uniq if not e.changed][:1]
        if self.pick != "cheapest":  # "random": equally strong alternatives compete by seeded priority, not cost
            uniq.sort(key=lambda e: e.prio)
        front = self.skyline(uniq)
        if len(front) > self.k:
            front = self.truncation_order(front)
        return keep + front[:self.k]

    def one_per_state(self, cands: list[Entry]) -> list[Entry]:
        """One entry per (property state, changed): the cheapest, or ("random") a seeded pick; by cost."""
        best: dict = {}
        for e in cands:
            key = (e.ident, e.changed)
            o = best.get(key)
            by_cost = self.pick == "cheapest" or not e.changed
            if o is None or ((e.cost, e.prio) < (o.cost, o.prio) if by_cost else e.prio < o.prio):
                best[key] = e
        return sorted(best.values(), key=lambda e: (e.cost, e.prio))

    def skyline(self, uniq: list[Entry]) -> list[Entry]:
        """Changed entries that no earlier kept one is as strong as."""
        front: list[Entry] = []
        for e in uniq:
            if e.changed and not any(self.order.ge(o, e) for o in front):
                front.append(e)
        return front

    def truncation_order(self, front: list[Entry]) -> list[Entry]:
        """The front in the order it is cut at ``k``: with ``champions``, first the cheapest champions of
        each property lattice (an entry no other beats in that lattice alone), so that truncation never
        loses the only way to satisfy one property; then by cost ("cheapest") or seeded priority ("random")."""
        order = (lambda e: (e.cost, e.prio)) if self.pick == "cheapest" else (lambda e: e.prio)
        if not self.champions:
            return sorted(front, key=order)
        ge_in = self.order.ge_in
        chosen: list[Entry] = []
        per = max(1, self.k // (len(self.order.compared) + 1))
        for j in self.order.compared:
            champs = [e for e in front if not any(o is not e and ge_in(o, e, j) and not ge_in(e, o, j) for o in front)]
            chosen += [e for e in sorted(champs, key=lambda e: (e.cost, e.prio)) if e not in chosen][:per]
        return chosen + [e for e in sorted(front, key=order) if e not in chosen]


def _post_order(roots: list[str], by_class: dict[str, list[int]], nodes: list[ENode]) -> list[str]:
    """The classes reachable from ``roots``, operands before users (cycles broken where first met)."""
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
    return order


class _Extractor:
    """The state of one extraction: per class its current entries (``pools``) and its output shape."""

    def __init__(self, ex: EGraphExport, ev: Evaluator, class_shapes: dict[str, tuple], prune: _Pruning,
                 max_combos: int, max_size: int) -> None:
        self.ex, self.ev, self.nodes = ex, ev, ex.nodes
        self.order = prune.order
        self.prune = prune
        self.max_combos, self.max_size = max_combos, max_size
        self.pools: dict[str, list[Entry]] = {c: [] for c in ex.classes}
        self.shapes = dict(class_shapes)
        self.by_class = {c: [i for i in ids if self.nodes[i].op != "widen"] for c, ids in ex.classes.items()}

    def entry(self, c: str, i: int, combo: tuple, orig: bool) -> Entry | None:
        """The entry of e-node ``i`` (of class ``c``) over operand entries ``combo``, or None when unusable."""
        n = self.nodes[i]
        if n.op in ("act", "norm") and _head(self.nodes, combo[0]) == n.op:
            return None  # no activation of an activation, no norm of a norm
        info = self.ev.apply(n.op, n.params, [e.info for e in combo])
        if info is None:
            return None
        want = self.shapes.get(c)
        if want is None:
            self.shapes[c] = want = info.shape
        if info.shape != want:
            return None  # the class's shape invariant: such an alternative is unusable
        size = (n.op not in ("skip", "input")) + sum(e.size for e in combo)
        if size > self.max_size:
            return None  # bounded growth (αNAS: chains within ±2 ops)
        changed = not orig or any(e.changed for e in combo)
        own = 0 if n.op == "skip" else info.flops  # a skip's info is its operand's
        cost = own + sum(e.cost for e in combo)
        prio = n.prio + 1e-3 * sum(e.prio for e in combo)
        return Entry(info, cost, changed, i, combo, prio, self.order.ident(info), size)

    def candidates(self, c: str) -> list[Entry]:
        """The class's current entries and those of each of its e-nodes over its operands' entries."""
        cands = list(self.pools[c])
        for i in self.by_class[c]:
            kid_pools = [self.pools.get(kc, []) for kc in self.nodes[i].kids]
            if any(not p for p in kid_pools):
                continue
            orig = self.ex.original.get(c) == i
            for combo in itertools.islice(itertools.product(*kid_pools), self.max_combos):
                e = self.entry(c, i, combo, orig)
                if e is not None:
                    cands.append(e)
        return cands

    def update(self, c: str) -> bool:
        """Recompute class ``c``'s entries; whether they changed."""
        pruned = self.prune(self.candidates(c))
        sig = lambda es: {(e.info.key, e.changed, e.cost) for e in es}  # noqa: E731
        if sig(pruned) != sig(self.pools[c]):
            self.pools[c] = pruned
            return True
        return False

    def run(self, roots: list[str], max_passes: int, deadline: float) -> int:
        """Gauss-Seidel passes to a fixed point (or ``max_passes``/the deadline); returns the passes run."""
        order = _post_order(roots, self.by_class, self.nodes)
        version = {c: 0 for c in order}
        last: dict[str, tuple | None] = {c: None for c in order}
        passes = 0
        while passes < max_passes and time.perf_counter() < deadline:
            passes += 1
            moved = False
            for c in order:
                kv = tuple(version.get(kc, 0) for i in self.by_class[c] for kc in self.nodes[i].kids)
                if last[c] == kv:
                    continue  # no operand class changed since the last visit
                last[c] = kv
                if self.update(c):
                    version[c] += 1
                    moved = True
                if time.perf_counter() > deadline:
                    break
            if not moved:
                break
        return passes


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
    prune = _Pruning(_Dominance(ev), k, pick, champions)
    state = _Extractor(ex, ev, class_shapes, prune, max_combos, max_size)
    passes = state.run(roots, max_passes, deadline)
    return Extraction([state.pools.get(r, []) for r in roots], passes, ev.calls)


def _head(nodes: list[ENode], e: Entry) -> str:
    """The op of an entry's term, looking through skips."""
    while nodes[e.enode].op == "skip":
        e = e.kids[0]
    return nodes[e.enode].op


def _value_shapes(problem, enc) -> dict[int, tuple]:
    """id(term value) -> static shape, for the subgraph's inputs and node outputs that have one."""
    val_by_id = {id(v): v for v in enc.inputs}
    for n in problem.subgraph.nodes:
        for v in n.outputs:
            val_by_id[id(v)] = v
    return {vid: val_by_id[vid] for vid in enc.value_terms if vid in val_by_id}


def synthesize_egraph(problem):
    """Run the e-graph synthesizer; returns (encoding, export, chosen root entries, evaluator, stats).

    Raises :class:`~alphanas.synth.problem.SynthesisFailed` when nothing satisfies the target.
    """
    from alphanas.synth.problem import SynthesisFailed

    deadline = time.perf_counter() + problem.budget_s
    rng = np.random.default_rng(problem.seed)
    enc = encode(problem.subgraph)
    values = _value_shapes(problem, enc)
    vt = enc.value_terms
    shapes = {vt[vid]: tuple(v.shape) for vid, v in values.items()
              if v.shape is not None and all(isinstance(d, int) for d in v.shape)}
    eg, iters, _ = build_egraph(enc, problem.vocabulary, shapes, iterations=3, max_enodes=problem.max_enodes,
                                deadline=deadline)
    try:
        ex = export(eg, enc)
    finally:
        pop(eg)
    for n in ex.nodes:
        n.prio = float(rng.random())
    class_shapes = {ex.term_class[vt[vid]]: tuple(v.shape) for vid, v in values.items() if vt[vid] in ex.term_class}
    ev = Evaluator(enc.fixed, enc.inputs, problem.names)
    roots = [ex.term_class[r] for r in enc.roots]
    max_size = sum(term_size(r) for r in enc.roots) + MAX_GROWTH
    accept = Acceptance(problem, enc)
    stats = EGraphStats(enodes=len(ex.nodes), eclasses=len(ex.classes), iterations=iters)
    best = float("inf")  # over every root alternative evaluated, the original included
    reason = "no changed alternative satisfies the target"
    for k, combos, champions in STAGES:
        res = extract(ex, ev, roots, class_shapes, k=k, max_combos=combos, pick=problem.pick, deadline=deadline,
                      max_size=max_size, champions=champions)
        stats.passes, stats.evaluations, stats.pareto_k = res.passes, res.evaluations, k
        sat, best = _satisfying(res.roots, ev, problem.target, best)
        if problem.pick == "cheapest":
            sat.sort(key=lambda c: (sum(e.cost for e in c), sum(e.prio for e in c)))
        else:
            sat = [sat[int(i)] for i in rng.permutation(len(sat))]
        memo: dict = {}
        for combo in sat:
            if accept([entry_term(ex.nodes, e, memo) for e in combo]):
                stats.satisfying = len(sat)
                return enc, ex, list(combo), ev, stats
        if sat:
            reason, best = f"{len(sat)} satisfying alternative(s), all refused: {accept.reason}", 0.0
        if time.perf_counter() > deadline:
            break
    raise SynthesisFailed(f"e-graph: {reason}", best)


def _satisfying(root_pools: list[list[Entry]], ev: Evaluator, target, best: float) -> tuple[list[tuple], float]:
    """The combinations of root entries (at most 256 tried) that differ from the original and satisfy
    the target; and the best distance seen so far, updated."""
    sat: list[tuple] = []
    for combo in itertools.islice(itertools.product(*root_pools), 256):
        d = ev.distance(target, [e.info for e in combo])
        changed = any(e.changed for e in combo)
        best = min(best, d) if d > 0 or changed else best
        if d == 0 and changed:
            sat.append(combo)
    return sat, best


def entry_term(ex_nodes: list[ENode], e: Entry, memo: dict | None = None) -> Term:
    """The term an entry stands for (shared entries give shared sub-terms)."""
    memo = {} if memo is None else memo
    if id(e) in memo:
        return memo[id(e)]
    n = ex_nodes[e.enode]
    t = Term(n.op, n.params, tuple(entry_term(ex_nodes, k, memo) for k in e.kids))
    memo[id(e)] = t
    return t
