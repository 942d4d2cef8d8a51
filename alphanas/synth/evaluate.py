"""Incremental property evaluation over terms with the properties' abstract domains.

:class:`Evaluator` applies one term constructor to the abstract *info* of its operands (shape,
one state per property domain, FLOPs) by materialising that constructor alone with dummy weights
and running each domain's transfer function over the few nodes it becomes. Results are cached by
(constructor, parameters, operand keys), so evaluating many alternatives that share sub-terms
costs one transfer per distinct (op, operand states) combination. Typed constructors (everything but
``fix``, which refers to one subgraph's original node) are pure functions of their parameters and
operand infos, so their results are memoised process-wide (:data:`_TRANSFERS`): problems on the same
model meet the same (op, operand state) combinations again. Nothing about a problem's target or
answer is cached.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from alphanas.ir import cost
from alphanas.ir.graph import Value
from alphanas.synth import props as P
from alphanas.synth.term import Materializer, Term


#: process-wide memo of typed-constructor transfers: (domains, op, params, operand keys) -> Info | None
_TRANSFERS: dict = {}
_TRANSFERS_MAX = 200_000


@dataclass(frozen=True)
class Info:
    """Abstract value of a term: static shape, dtype, per-domain states, FLOPs of the term, cache key."""

    shape: tuple
    dtype: np.dtype
    states: tuple
    flops: int
    key: object


class Evaluator:
    def __init__(self, fixed, inputs: list[Value], names=("shape", "depth", "mixing")) -> None:
        self.fixed = fixed
        self.inputs = inputs
        self.names = tuple(names)
        self.classes = P.property_classes(self.names)
        self.domains = [c.domain for c in self.classes]
        self._cache: dict = {}
        self.calls = 0

    def input_info(self, i: int) -> Info:
        v = self.inputs[i]
        states = tuple(d.input_state(v, i, len(self.inputs)) for d in self.domains)
        return Info(tuple(v.shape), v.dtype, states, 0, P.freeze((v.shape, states)))

    def apply(self, op: str, params: tuple, kids: list[Info]) -> Info | None:
        """The info of ``op(params)(kids)``, or None when the op does not apply to these operands."""
        if op == "input":
            return self.input_info(params.index)
        if op == "skip":
            return kids[0]
        if op == "fix":
            cache, key = self._cache, (op, params, tuple(k.key for k in kids))
        else:
            cache, key = _TRANSFERS, (self.names, op, params, tuple((k.key, k.dtype.str) for k in kids))
        hit = cache.get(key, False)
        if hit is not False:
            return hit
        self.calls += 1
        info = None
        try:
            info = self._apply(op, params, kids)
        except Exception:  # an op rejecting these operand shapes (or a transfer refusing them)
            info = None
        if len(cache) >= _TRANSFERS_MAX:
            cache.clear()
        cache[key] = info
        return info

    def _apply(self, op, params, kids):
        m = Materializer(self.fixed, None)
        xs = []
        for k in kids:
            v = Value("x", k.shape, k.dtype)
            xs.append(v)
        out = m.apply(op, params, xs)
        st: dict[int, tuple] = {id(v): k.states for v, k in zip(xs, kids)}
        flops = 0
        for node in m.nodes:
            ins = [None if (v is None or v.is_const) else st.get(id(v)) for v in node.inputs]
            outs = [d.transfer(node, [None if s is None else s[j] for s in ins]) for j, d in enumerate(self.domains)]
            st[id(node.outputs[0])] = tuple(o[0] for o in outs)
            flops += cost.node_flops(node)
        if any(not isinstance(d, int) for d in out.shape):
            pass
        states = st[id(out)]
        return Info(tuple(out.shape), out.dtype, states, flops, P.freeze((out.shape, states)))

    def info_of(self, term: Term, memo: dict | None = None) -> Info | None:
        """Evaluate a whole term DAG."""
        memo = {} if memo is None else memo
        if term in memo:
            return memo[term]
        ks = []
        for k in term.kids:
            i = self.info_of(k, memo)
            if i is None:
                return None
            ks.append(i)
        res = self.apply(term.op, term.params, ks)
        memo[term] = res
        return res

    def property_set(self, outputs: list[Info]):
        """The candidate ``PropertySet`` of a subgraph whose boundary outputs have these infos."""
        props = {}
        for j, (name, cls) in enumerate(zip(self.names, self.classes)):
            props[name] = cls.from_states(self.inputs, [o.states[j] for o in outputs])
        return P.make_set(props)

    def distance(self, target, outputs: list[Info]) -> float:
        try:
            return float(target.distance(self.property_set(outputs)))
        except Exception:  # infeasible (e.g. shape distance undefined)
            return float("inf")
