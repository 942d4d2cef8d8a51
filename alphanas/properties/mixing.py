"""The mixing property: how each input axis reaches each output axis (αNAS's "linear" property).

**Concrete semantics** (what :func:`alphanas.properties.oracle.concrete_mixing` measures). Let ``f``
map an input ``x`` (axes ``i``, sizes ``n_i``) to an output ``y`` (axes ``j``). Output element ``b``
*depends on* input element ``a`` when ``∂y_b/∂x_a`` is non-zero at some point (some input and some
weights); the oracle takes the union of the Jacobians' supports over several random inputs *and*
random weights, so a zero that only happens at one point (a ReLU in its flat part, an unlucky
weight) does not count. ``S_i(b)`` is the set of indices along input axis ``i`` of the elements
``b`` depends on. Then, for input axis ``i`` and output axis ``j``:

- ``ALL_TO_ONE``: some output element depends on *every* index along ``i`` (``|S_i(b)| = n_i``);
- otherwise, if ``i`` *moves with* ``j`` — two output elements differing only in their ``j``
  coordinate have different non-empty ``S_i`` —: ``MANY_TO_ONE`` when some output element depends
  on two or more indices along ``i``, else ``ONE_TO_ONE``;
- otherwise ``NONE``.

So a 3×3 convolution maps H→H and W→W many-to-one, H→W to NONE, and the input channels all-to-one
onto every output axis; a depthwise one maps C→C one-to-one; a global pool maps H and W all-to-one.
An axis of size 1 that the output depends on is all-to-one. Symbolic (batch) dimensions are assumed
larger than any window over them.

**Abstraction.** Per (analysed input, value) and input axis ``i`` the state keeps ``(reach, track,
aff)``: an upper bound on ``max_b |S_i(b)|``, a bit mask of the value's axes along which ``S_i`` may
move, and optionally an affine receptive-field bound ``S_i(m) ⊆ [c*m_k + lo, c*m_k + hi]``. An op's
access pattern (:mod:`alphanas.properties.access`) composes with it: through operand windows of
sizes ``w_k`` the reach becomes ``reach * Π_{k tracked} w_k`` (and at most the length of the
composed affine interval, and at most ``n_i``), the mask becomes ``OR_{k tracked} track_k``; the
operands of a join (Add, Concat, Mul, MatMul, ...) add their reaches, OR their masks and take the
hull of compatible intervals. The lattice value is read off as in the definition, with ``reach >=
n_i`` giving ALL_TO_ONE. Receptive-field intervals are clipped to the input's borders when that decides
between MANY_TO_ONE and ALL_TO_ONE, and an axis that has become all-to-one is kept in one canonical
form (which lets the states of deep layers repeat, so compositions are memoised). Every step only
over-approximates, so the abstract value is >= the concrete one in every cell; for one op of the types
with an exact rule (:data:`alphanas.properties.access.EXACT`) it is equal.
"""

from __future__ import annotations

from enum import IntEnum
from typing import ClassVar

import numpy as np

from alphanas.ir.opdef import on_registry_change
from alphanas.properties import access
from alphanas.properties.access import SAME, UNARY
from alphanas.properties.base import Domain, Property


class Mixing(IntEnum):
    NONE = 0
    ONE_TO_ONE = 1
    MANY_TO_ONE = 2
    ALL_TO_ONE = 3


_SYMBOL = {0: ".", 1: "1", 2: "M", 3: "A"}


def _clipped_reach(aff, cap: int, out_shape) -> int:
    """Largest ``|[a*m + lo, a*m + hi] ∩ [0, cap)|`` over the positions ``m`` of output axis ``aff[0]``."""
    j, a, lo, hi = aff
    m = out_shape[j] if j >= 0 and out_shape is not None and j < len(out_shape) else None
    if j < 0:
        return min(hi, cap - 1) - max(lo, 0) + 1
    if not isinstance(m, int) or m < 1:  # unknown (or empty) output axis: the window, conservatively
        return hi - lo + 1
    q0, q1 = max(0, -((hi - cap + 1) // a)), min(m - 1, (-lo) // a)  # positions whose window covers everything
    if q0 <= q1:
        return cap
    return max(min(a * q + hi, cap - 1) - max(a * q + lo, 0) + 1 for q in range(m))


def _through(entry, pat, out_shape=None):
    """Compose an input's state ``entry = (caps, axes)`` with one operand access pattern (``out_shape``: the
    shape of the value produced, used to clip receptive fields at the input's borders)."""
    caps, axes = entry
    new = []
    for ax, cap in zip(axes, caps):
        r, t, aff = ax
        if r == cap and not t and aff is not None and aff[0] < 0 and aff[2] == 0 and aff[3] == cap - 1:
            new.append(ax)  # the canonical all-to-one value (below) stays the same through every op: a shortcut
            continue
        cnt, tr, k = r, 0, 0
        while t:
            if t & 1:
                w, tk, _ = pat[k]
                cnt *= w
                tr |= tk
            t >>= 1
            k += 1
        naff = None
        if aff is not None:
            kk, c, lo, hi = aff
            if kk < 0:
                naff = aff
            else:
                g = pat[kk][2]
                if g is not None:
                    j, a, glo, ghi = g
                    if j < 0 or a == 0 or c == 0:
                        naff = (-1, 0, c * glo + lo, c * ghi + hi)
                    else:
                        naff = (j, c * a, c * glo + lo, c * ghi + hi)
            if naff is not None and naff[3] - naff[2] + 1 < cnt:
                cnt = naff[3] - naff[2] + 1
            if naff is not None and cnt >= cap:  # only decides ALL_TO_ONE or not: worth the exact clipping
                cnt = min(cnt, _clipped_reach(naff, cap, out_shape))
        if cnt >= cap:
            # every output element may read the whole axis, and any later step keeps it so: one canonical
            # value (the bound [0, cap) carries the same information), which lets states of deep layers repeat
            new.append((cap, 0, (-1, 0, 0, cap - 1)))
        else:
            new.append((cnt, tr, naff))
    return (caps, tuple(new))


_THROUGH_CACHE: dict = {}


def _through_cached(entry, pat, out_shape):
    key = (entry, pat, out_shape)
    hit = _THROUGH_CACHE.get(key)
    if hit is None:
        if len(_THROUGH_CACHE) > 100000:
            _THROUGH_CACHE.clear()
        hit = _THROUGH_CACHE[key] = _through(entry, pat, out_shape)
    return hit


def _join(e1, e2):
    if e1 is None:
        return e2
    if e2 is None:
        return e1
    if e1[0] is None or e2[0] is None:
        return UNKNOWN_ENTRY
    caps = e1[0]
    new = []
    for (r1, t1, a1), (r2, t2, a2), cap in zip(e1[1], e2[1], caps):
        r = r1 + r2
        aff = None
        if a1 is not None and a2 is not None and a1[0] == a2[0] and a1[1] == a2[1]:
            aff = (a1[0], a1[1], min(a1[2], a2[2]), max(a1[3], a2[3]))
            r = min(r, aff[3] - aff[2] + 1)
        new.append((min(r, cap), t1 | t2, aff))
    return (caps, tuple(new))


_RULE_CACHE: dict = {}  # (both dropped when the op registry changes)
_PATTERN_CACHE: dict = {}
on_registry_change(_RULE_CACHE.clear)
on_registry_change(_PATTERN_CACHE.clear)


def rule_for(node):
    """The access rule of ``node``'s op (:func:`alphanas.properties.access.rule_of`), ``None`` for opaque ops."""
    key = (node.domain, node.op_type, node.onnx_attrs is None)  # (an op kept opaque for its attributes: no opdef)
    try:
        return _RULE_CACHE[key]
    except KeyError:
        rule = _RULE_CACHE[key] = access.rule_of(node.opdef)
        return rule


def _hashable(v):
    t = type(v)
    if t is list or t is tuple:
        return tuple(_hashable(x) for x in v)
    if t is dict:
        return tuple(sorted((k, _hashable(x)) for k, x in v.items()))
    if t is np.ndarray:
        return (v.dtype.str, v.shape, v.tobytes())
    return v


#: rules that read the values of constant operands (not only their shapes): their key includes the values
_VALUE_RULES = {access.gather}


def _structure_key(node, rule):
    """What a rule's result depends on: op, operand shapes and const-ness, output shapes, attributes (and
    the values of small constant operands for :data:`_VALUE_RULES`); ``None`` when not cacheable. The key
    may still be unhashable (nested lists among the attributes): :func:`patterns` then asks
    :func:`_hashable_key`."""
    if rule in _VALUE_RULES:
        consts = [v.const for v in node.inputs if v is not None and v.const is not None]
        if any(c.size > 4096 for c in consts):
            return None
        extra = tuple([_hashable(c) for c in consts])
    else:
        extra = ()
    attrs = node.attrs
    return (node.domain, node.op_type, tuple([None if v is None else (v.shape, v.const is None) for v in node.inputs]),
            tuple([v.shape for v in node.outputs]), tuple(attrs),
            tuple([tuple(v) if type(v) is list else v for v in attrs.values()]), extra)


def _hashable_key(key, node):
    """``key`` with the attributes made hashable (nested lists, dicts, arrays), or ``None``."""
    key = key[:4] + (_hashable(node.attrs), key[6])
    try:
        hash(key)
    except TypeError:
        return None
    return key


def patterns(node) -> list:
    """The access patterns of ``node`` (per output, per operand).

    Memoised by structure (:func:`_structure_key`): the repeated layers of a network (same op, shapes and
    attributes) share one computation."""
    return _patterns(node, rule_for(node))


def _patterns(node, rule) -> list:
    if rule is None:
        return access.opaque(node)
    if rule is UNARY:
        return [[SAME] + [None] * (len(node.inputs) - 1)] * len(node.outputs)
    if rule is access.elementwise_nary or rule is access.first_only_elementwise:
        out = node.outputs[0].shape
        nary = rule is access.elementwise_nary
        for i, v in enumerate(node.inputs):
            if v is not None and v.const is None and (v.shape != out or not (i == 0 or nary)):
                break
        else:
            return [[None if v is None or v.const is not None else SAME for v in node.inputs]]
    key = _structure_key(node, rule)
    if key is None:
        return rule(node)
    try:
        pats = _PATTERN_CACHE.get(key)
    except TypeError:  # unhashable attributes
        key = _hashable_key(key, node)
        if key is None:
            return rule(node)
        pats = _PATTERN_CACHE.get(key)
    if pats is None:
        pats = rule(node)
        if len(_PATTERN_CACHE) > 100000:
            _PATTERN_CACHE.clear()
        _PATTERN_CACHE[key] = pats
    return pats


#: the entry of an analysed input of unknown rank: the value depends on it, how is unknown (its matrix is ``?``)
UNKNOWN_ENTRY = (None, ())

#: a mixing matrix that is not known (an input or output of unknown rank): conservatively all-to-one
UNKNOWN = "?"


def _top(entry):
    """The top state of ``entry``: every axis of the input all-to-one (sound for any op that reads it)."""
    caps = entry[0]
    if caps is None:
        return UNKNOWN_ENTRY
    return (caps, tuple((c, 0, (-1, 0, 0, c - 1)) for c in caps))


def _conservative(node, in_states) -> list:
    """States of ``node``'s outputs when a shape is unknown (an operand or output of unknown rank or shape):
    every output depends on every analysed input some operand depends on, every input axis all-to-one."""
    live = [s[1] for s in in_states if s is not None]
    if not live:
        return [None] * len(node.outputs)
    state: list = []
    for g in range(len(live[0])):
        es = [s[g] for s in live if s[g] is not None]
        if not es:
            state.append(None)
        elif any(e[0] is None for e in es):
            state.append(UNKNOWN_ENTRY)
        else:
            state.append(_top(es[0]))
    st = tuple(state)
    return [(None if v.shape is None else len(v.shape), st) for v in node.outputs]


class MixingDomain(Domain):
    """State of a value: ``(rank of the value, entries)``, one entry per analysed input: ``None``
    (independent of it) or ``(caps, axes)`` with ``caps`` the input's axis sizes and ``axes`` one
    ``(reach, track, aff)`` per input axis.

    Unknown shapes (an op alphanas keeps opaque whose output shape it cannot infer, a reshape to a
    computed shape, ...) are not refused: a value of unknown shape has rank ``None``, and a node with
    an operand or output of unknown shape gets the top state (:func:`_conservative`: it depends on
    everything its operands depend on, every input axis all-to-one). An analysed input of unknown rank
    has the entry :data:`UNKNOWN_ENTRY`. Both over-approximate, so the result stays sound."""

    name = "mixing"

    def input_state(self, value, index, num_inputs):
        shape = value.shape
        if shape is None:
            return (None, tuple(UNKNOWN_ENTRY if g == index else None for g in range(num_inputs)))
        caps = tuple(access.size(d) for d in shape)
        axes = tuple((1, (1 << i) if c > 1 else 0, (i, 1, 0, 0)) for i, c in enumerate(caps))
        return (len(shape), tuple((caps, axes) if g == index else None for g in range(num_inputs)))

    def join(self, a, b):
        return (a[0], tuple(_join(x, y) for x, y in zip(a[1], b[1])))

    def transfer(self, node, in_states):
        outs = node.outputs
        for s, v in zip(in_states, node.inputs):
            if s is not None and (s[0] is None or v.shape is None or any(e is not None and e[0] is None for e in s[1])):
                return _conservative(node, in_states)
        for v in outs:
            if v.shape is None:
                return _conservative(node, in_states)
        rule = rule_for(node)
        if rule is UNARY or rule is access.first_only_elementwise:  # element-wise in input 0, same shape
            if len(in_states) == 1 or not any(in_states[1:]):  # (states are non-empty tuples)
                return [in_states[0]] * len(outs)
        live = [(o, s[1]) for o, s in enumerate(in_states) if s is not None]
        if not live:
            return [None] * len(outs)
        results = []
        if len(live) == 1:  # one operand depends on the analysed inputs (convolutions, pools, reshapes, ...)
            o, entries = live[0]
            for v, pats in zip(outs, _patterns(node, rule)):
                p = pats[o] if o < len(pats) else None
                shape = v.shape
                if p is None:
                    state = (None,) * len(entries)
                elif p is SAME:
                    state = entries
                else:
                    state = tuple([None if e is None else _through_cached(e, p, shape) for e in entries])
                results.append((len(shape), state))
            return results
        num = len(live[0][1])
        for v, pats in zip(outs, _patterns(node, rule)):
            state = []
            for g in range(num):
                acc = None
                for o, s in live:
                    e = s[g]
                    p = pats[o] if o < len(pats) else None
                    if e is None or p is None:
                        continue
                    contrib = e if p is SAME else _through_cached(e, p, v.shape)
                    acc = contrib if acc is None else _join(acc, contrib)
                state.append(acc)
            results.append((len(v.shape), tuple(state)))
        return results


def lattice(entry, out_rank: int | None) -> tuple[tuple[int, ...], ...] | str:
    """The [input rank x output rank] matrix of :class:`Mixing` values of one state entry, or
    :data:`UNKNOWN` when the input's or the output's rank is unknown."""
    caps, axes = entry
    if caps is None or out_rank is None:
        return UNKNOWN
    rows = []
    for (r, t, _), cap in zip(axes, caps):
        if r >= cap:
            rows.append((3,) * out_rank)
        else:
            lvl = 2 if r >= 2 else 1
            rows.append(tuple(lvl if (t >> j) & 1 else 0 for j in range(out_rank)))
    return tuple(rows)


class MixingProperty(Property):
    """``matrices[i][j]``: the [rank(input i) x rank(output j)] mixing matrix, ``None`` when output
    ``j`` does not depend on input ``i`` (or the requirement was deleted by mutation), or
    :data:`UNKNOWN` (``"?"``) when it depends on it but the rank of the input or the output is unknown
    (conservatively: every cell all-to-one).

    Satisfied when the candidate mixes at least as much in every cell. Distance (αNAS): mean over
    the target pairs with a non-zero cell of (cells where the candidate is weaker / non-zero target
    cells); a pair the candidate lacks, or whose matrix has another size, is all NONE. An unknown
    target matrix asks only that the candidate connects the pair (1 when it does not); an unknown
    candidate matrix satisfies a known target (it may mix everything).
    """

    name: ClassVar[str] = "mixing"
    domain: ClassVar[Domain] = MixingDomain()

    def __init__(self, matrices) -> None:
        self.matrices = tuple(tuple(None if m is None else UNKNOWN if isinstance(m, str)
                                    else tuple(tuple(int(x) for x in row) for row in m) for m in r)
                              for r in matrices)

    @classmethod
    def from_states(cls, graph_inputs, output_states):
        rows = []
        for i in range(len(graph_inputs)):
            row = []
            for s in output_states:
                e = None if s is None else s[1][i]
                row.append(None if e is None else lattice(e, s[0]))
            rows.append(row)
        return cls(rows)

    def matrix(self, i: int, j: int) -> np.ndarray | None:
        """The matrix of pair ``(i, j)`` as an array; ``None`` when independent or unknown (``"?"``)."""
        m = self.matrices[i][j]
        return None if m is None or isinstance(m, str) else np.array(m, dtype=np.int8).reshape(len(m), -1)

    def pairs(self):
        for i, row in enumerate(self.matrices):
            for j, m in enumerate(row):
                if m is not None:
                    yield i, j, m

    def distance(self, candidate: "MixingProperty") -> float:
        total, count = 0.0, 0
        for i, j, m in self.pairs():
            try:
                cm = candidate.matrices[i][j]
            except IndexError:
                cm = None
            if isinstance(m, str):  # unknown target: only the connection is required
                count += 1
                total += 1.0 if cm is None else 0.0
                continue
            t = np.array(m, dtype=np.int8).reshape(len(m), -1)
            nz = int(np.count_nonzero(t))
            if not nz:
                continue
            count += 1
            if isinstance(cm, str):  # unknown candidate: may mix everything
                continue
            c = None if cm is None else np.array(cm, dtype=np.int8).reshape(len(cm), -1)
            if c is None or c.shape != t.shape:
                total += 1.0
            else:
                total += int(np.count_nonzero(t > c)) / nz
        return total / count if count else 0.0

    def mutate(self, rng: np.random.Generator, p: float) -> "MixingProperty":
        """Delete each (input, output) requirement with probability ``p`` (αNAS): only relaxes."""
        rows = [[None if m is None or rng.random() < p else m for m in r] for r in self.matrices]
        return MixingProperty(rows)

    def to_json(self) -> dict:
        return {"matrices": [[m if m is None or isinstance(m, str) else [list(row) for row in m] for m in r]
                             for r in self.matrices]}

    @classmethod
    def from_json(cls, d: dict) -> "MixingProperty":
        return cls(d["matrices"])

    def describe(self) -> str:
        lines = ["mixing (rows: input axes, columns: output axes; . none, 1 one-to-one, M many-to-one, A all-to-one)"]
        for i, j, m in self.pairs():
            text = m if isinstance(m, str) else " | ".join("".join(_SYMBOL[x] for x in row) for row in m)
            lines.append(f"  in{i}->out{j}: " + text)
        return "\n".join(lines)
