"""Per-op *access patterns*: which elements of each operand one output element reads.

This is the op-level half of the mixing analysis (:mod:`alphanas.properties.mixing`). Every op
alphanas knows reads its operands in *product form*: output element ``b`` reads, from operand
``o``, the elements whose coordinate along each operand axis ``k`` lies in a window ``W_k(b)``.
Per operand axis an :data:`Axis` summarises that window exactly:

- ``w``: the largest number of indices a window holds (after clipping to the operand), e.g.
  ``3`` for a 3-tap convolution, ``C/groups`` for the input channels of a grouped convolution,
  the axis size for a reduction, ``1`` for element-wise ops and data movement;
- ``track``: a bit mask of output axes ``j`` along which the (non-empty) window changes;
- ``aff``: ``(j, a, lo, hi)`` when ``W_k(b) ⊆ [a*b_j + lo, a*b_j + hi]`` (``j = -1``: a constant
  window ``[lo, hi]``), else ``None``. Used to bound receptive fields of chains precisely.

A rule is a function ``node -> list (per output) of list (per operand) of pattern``, where a
pattern is ``None`` (the operand is not read: weights, shape inputs), :data:`SAME` (element-wise:
the operand has the output's shape and element ``b`` reads element ``b``) or a tuple of ``Axis``.
Each op definition names its rule (:attr:`OpDef.access <alphanas.ir.opdef.OpDef.access>`, e.g.
``"conv"`` or ``"unary"``): :data:`RULES` maps those names to the rules, :func:`rule_of` resolves an
op's declaration (an op whose access none of them describes may give a function instead).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import numpy as np

from alphanas.ir.opdef import OpDef, normalize_axis, registry

#: stands for a symbolic (batch) dimension: assumed larger than any window over it
BIG = 1 << 40

#: element-wise access (the output element ``b`` reads operand element ``b``)
SAME = "same"
#: marker rule for element-wise unary ops (fast path: the state passes through unchanged)
UNARY = "unary"

Axis = tuple  # (w, track, aff)
#: how one operand is read: ``None`` (not at all), :data:`SAME` or a tuple of :data:`Axis`
Pattern = tuple | str | None


def size(d) -> int:
    return d if isinstance(d, int) else BIG


def const_axis(lo: int = 0, hi: int = 0) -> Axis:
    return (hi - lo + 1, 0, (-1, 0, lo, hi))


def point(j: int, n_in, n_out, offset: int = 0, step: int = 1) -> Axis:
    """Operand axis read at one index ``step * b_j + offset`` of output axis ``j``."""
    if size(n_in) == 1 or size(n_out) == 1:
        return const_axis(offset, offset)
    return (1, 1 << j, (j, step, offset, offset) if step > 0 else None)


def full(n) -> Axis:
    """Operand axis read entirely by every output element."""
    n = size(n)
    return (n, 0, (-1, 0, 0, n - 1))


@lru_cache(maxsize=4096)
def window(j: int, n, out, k: int, stride: int, pad: int, dilation: int) -> Axis:
    """A sliding window of ``k`` taps (``dilation`` apart) moving by ``stride``, left padding ``pad``.

    Exact in O(k + pad / stride): interior positions (the whole window inside the input) read ``k``
    elements starting at distinct offsets, so only the clipped border positions and two interior ones
    need to be looked at."""
    aff = (j, stride, -pad, -pad + (k - 1) * dilation)
    if isinstance(n, str) or isinstance(out, str):
        return (k, 1 << j, aff)
    d, span = dilation, (k - 1) * dilation
    first_inside = -(-pad // stride)  # first position whose window starts inside the input
    last_inside = (n - 1 - span + pad) // stride  # last position whose window ends inside the input
    lo_in, hi_in = max(first_inside, 0), min(last_inside, out - 1)
    if hi_in > lo_in:  # two interior positions: all k taps, at two different offsets (the common case)
        return (k, 1 << j, aff)
    border_end = max(last_inside + 1, 0, min(first_inside, out))
    positions = [*range(0, min(first_inside, out)), *range(lo_in, min(hi_in, lo_in + 1) + 1), *range(border_end, out)]
    keys = set()
    w = 0
    for p in positions:
        lo = p * stride - pad
        t0 = (-lo + d - 1) // d if lo < 0 else 0  # first tap inside the input
        t1 = min(k - 1, (n - 1 - lo) // d) if n - 1 - lo >= 0 else -1
        if t1 < t0:
            continue
        keys.add((lo + t0 * d, t1 - t0))  # the clipped taps: start and count - 1
        w = max(w, t1 - t0 + 1)
    return (w, (1 << j) if len(keys) > 1 else 0, aff)


def broadcast_operand(shape, out_shape) -> tuple | str:
    """Numpy broadcasting of an operand to ``out_shape``."""
    if tuple(shape) == tuple(out_shape):
        return SAME
    q, r = len(out_shape), len(shape)
    return tuple(point(q - r + k, d, out_shape[q - r + k]) if size(d) != 1 or size(out_shape[q - r + k]) == 1
                 else const_axis() for k, d in enumerate(shape))


def _shape(node, i):
    v = node.inputs[i] if i < len(node.inputs) else None
    return None if v is None else v.shape


def _reads(node, i) -> bool:
    v = node.inputs[i] if i < len(node.inputs) else None
    return v is not None and not v.is_const


# -- rules -------------------------------------------------------------------------------------------


def elementwise_nary(node):
    """Broadcasting arithmetic (Add, Sub, Mul, Div, Pow) and the like."""
    out = node.outputs[0].shape
    if all(v is None or v.is_const or v.shape == out for v in node.inputs):
        return [[None if v is None or v.is_const else SAME for v in node.inputs]]
    out = node.outputs[0].shape
    return [[broadcast_operand(v.shape, out) if _reads(node, i) else None for i, v in enumerate(node.inputs)]]


def first_only_elementwise(node):
    """Element-wise in input 0; other inputs (BN statistics, scale) broadcast per channel (axis 1)."""
    out = node.outputs[0].shape
    pats = [SAME]
    for i in range(1, len(node.inputs)):
        if _reads(node, i):
            s = node.inputs[i].shape
            pats.append(tuple(point(1 + k, d, out[1 + k]) for k, d in enumerate(s)))
        else:
            pats.append(None)
    return [pats]


def _normalize(node, reduced: set[int], param_axis_start: int | None):
    x = node.inputs[0].shape
    out = node.outputs[0].shape
    pats: list[Pattern]
    if all(x[k] == 1 for k in reduced):  # normalising single elements gives constants (1, or the bias)
        pats = [None]
    else:
        pats = [tuple(full(d) if k in reduced else point(k, d, out[k]) for k, d in enumerate(x))]
    for i in range(1, len(node.inputs)):
        if not _reads(node, i):
            pats.append(None)
        elif param_axis_start is None:
            pats.append(broadcast_operand(node.inputs[i].shape, out))
        else:
            s = node.inputs[i].shape
            pats.append(tuple(point(param_axis_start + k, d, out[param_axis_start + k]) for k, d in enumerate(s)))
    return [pats]


def softmax(node):
    x = node.inputs[0].shape
    return _normalize(node, {normalize_axis(node.attrs["axis"], len(x))}, None)


def layer_norm(node):
    x = node.inputs[0].shape
    a = normalize_axis(node.attrs["axis"], len(x))
    return _normalize(node, set(range(a, len(x))), None)


def instance_norm(node):
    x = node.inputs[0].shape
    return _normalize(node, set(range(2, len(x))), 1)


def lrn(node):
    x = node.inputs[0].shape
    n = node.attrs["size"]
    lo = (n - 1) // 2
    axes = [point(k, d, d) for k, d in enumerate(x)]
    axes[1] = window(1, x[1], x[1], n, 1, lo, 1)
    return [[tuple(axes)]]


def _windowed(node, channel_axis: Axis, kernel, strides, pads, dilations):
    x = node.inputs[0].shape
    out = node.outputs[0].shape
    n = len(kernel)
    axes = [point(0, x[0], out[0]), channel_axis]
    for s in range(n):
        axes.append(window(2 + s, x[2 + s], out[2 + s], kernel[s], strides[s], pads[s], dilations[s]))
    return tuple(axes)


def conv(node):
    a = node.attrs
    x, w = node.inputs[0].shape, node.inputs[1].shape
    out = node.outputs[0].shape
    g = a["group"]
    cin, cout = size(x[1]), size(out[1])
    if g == 1:
        ch = full(x[1])
    else:
        cin_g, cout_g = cin // g, cout // g
        track = (1 << 1) if cout >= 2 else 0
        aff = (1, cin_g, 0, cin_g - 1) if cout_g == 1 else None
        ch = (cin_g, track, aff) if cin > 1 else const_axis()
    pats = [_windowed(node, ch, a["kernel_shape"], a["strides"], a["pads"], a["dilations"])]
    if _reads(node, 1):  # computed weights: output channel o reads filter o entirely
        pats.append(tuple([point(1, w[0], out[1])] + [full(d) for d in w[1:]]))
    else:
        pats.append(None)
    if len(node.inputs) > 2:
        pats.append((point(1, node.inputs[2].shape[0], out[1]),) if _reads(node, 2) else None)
    return [pats]


def pool(node):
    a = node.attrs
    x = node.inputs[0].shape
    out = node.outputs[0].shape
    return [[_windowed(node, point(1, x[1], out[1]), a["kernel_shape"], a["strides"], a["pads"], a["dilations"])]]


def global_pool(node):
    x = node.inputs[0].shape
    out = node.outputs[0].shape
    return [[tuple([point(0, x[0], out[0]), point(1, x[1], out[1])] + [full(d) for d in x[2:]])]]


def reduce(node):
    x = node.inputs[0].shape
    out = node.outputs[0].shape
    axes = node.opdef.axes(node)
    keep = node.attrs["keepdims"]
    pat, j = [], 0
    for k, d in enumerate(x):
        if k in axes:
            pat.append(full(d))
            j += 1 if keep else 0
        else:
            pat.append(point(j, d, out[j]))
            j += 1
    return [[tuple(pat)]]


def gemm(node):
    a = node.attrs
    out = node.outputs[0].shape
    sa, sb = node.inputs[0].shape, node.inputs[1].shape
    pats = []
    if _reads(node, 0):
        m_ax, k_ax = (1, 0) if a["transA"] else (0, 1)
        axes = [None, None]
        axes[m_ax], axes[k_ax] = point(0, sa[m_ax], out[0]), full(sa[k_ax])
        pats.append(tuple(axes))
    else:
        pats.append(None)
    if _reads(node, 1):
        n_ax, k_ax = (0, 1) if a["transB"] else (1, 0)
        axes = [None, None]
        axes[n_ax], axes[k_ax] = point(1, sb[n_ax], out[1]), full(sb[k_ax])
        pats.append(tuple(axes))
    else:
        pats.append(None)
    if len(node.inputs) > 2:
        pats.append(broadcast_operand(node.inputs[2].shape, out) if _reads(node, 2) else None)
    return [pats]


def matmul(node):
    sa, sb = node.inputs[0].shape, node.inputs[1].shape
    out = node.outputs[0].shape
    ra, rb, q = len(sa), len(sb), len(out)
    qb = q - (ra >= 2) - (rb >= 2)  # batch rank of the output
    m_out, n_out = qb, qb + (1 if ra >= 2 else 0)

    def batch(shape, nb):
        return [point(qb - nb + k, d, out[qb - nb + k]) if size(d) != 1 or size(out[qb - nb + k]) == 1 else const_axis()
                for k, d in enumerate(shape[:nb])]

    pats = []
    if _reads(node, 0):
        if ra == 1:
            pats.append((full(sa[0]),))
        else:
            pats.append(tuple(batch(sa, ra - 2) + [point(m_out, sa[-2], out[m_out]), full(sa[-1])]))
    else:
        pats.append(None)
    if _reads(node, 1):
        if rb == 1:
            pats.append((full(sb[0]),))
        else:
            pats.append(tuple(batch(sb, rb - 2) + [full(sb[-2]), point(n_out, sb[-1], out[n_out])]))
    else:
        pats.append(None)
    return [pats]


def _eval_dim(d, env: int = 3) -> int:
    if isinstance(d, int):
        return d
    total = 1
    for part in str(d).split("*"):
        total *= int(part) if part.strip().lstrip("-").isdigit() else env
    return total


@lru_cache(maxsize=2048)
def reshape_axes(s_in: tuple, s_out: tuple) -> tuple:
    """Access pattern of a row-major reshape from ``s_in`` to ``s_out`` (symbolic dims set to 3)."""
    a = [_eval_dim(d) for d in s_in]
    b = [_eval_dim(d) for d in s_out]
    res: list = [None] * len(a)
    groups, i, j = [], 0, 0
    ok = True
    while i < len(a) or j < len(b):
        gi, gj, pi, pj = [], [], 1, 1
        if i < len(a):
            gi.append(i)
            pi *= a[i]
            i += 1
        if j < len(b):
            gj.append(j)
            pj *= b[j]
            j += 1
        while pi != pj:
            if pi < pj and i < len(a):
                gi.append(i)
                pi *= a[i]
                i += 1
            elif pj < pi and j < len(b):
                gj.append(j)
                pj *= b[j]
                j += 1
            else:
                ok = False
                break
        if not ok:
            break
        groups.append((gi, gj, pi))
    if not ok:  # sizes do not factor: every axis may move along every output axis
        mask = sum(1 << jj for jj, d in enumerate(b) if d > 1)
        return tuple(const_axis() if d == 1 else (1, mask, None) for d in a)
    for gi, gj, prod in groups:
        for k in gi:
            if a[k] == 1:
                res[k] = const_axis()
        live = [k for k in gi if a[k] > 1]
        if not live:
            continue
        if not gj:
            for k in live:
                res[k] = const_axis()
            continue
        live_out = [jj for jj in gj if b[jj] > 1]
        if len(live) == 1 and len(live_out) == 1:  # one axis kept, size-1 axes added or dropped around it
            jj = live_out[0]
            res[live[0]] = (1, 1 << jj, (jj, 1, 0, 0))
            continue
        if prod > 1 << 16:  # too large to enumerate: conservative, still one element read
            mask = sum(1 << jj for jj in gj if b[jj] > 1)
            for k in live:
                res[k] = (1, mask, None)
            continue
        flat = np.arange(prod).reshape([b[jj] for jj in gj])
        coords = np.unravel_index(flat, [a[k] for k in gi])
        for pos, k in enumerate(gi):
            if a[k] == 1:
                continue
            c = coords[pos]
            mask, aff = 0, None
            for q, jj in enumerate(gj):
                if b[jj] > 1 and np.any(np.diff(c, axis=q) != 0):
                    mask |= 1 << jj
            if mask and mask & (mask - 1) == 0:
                jj = mask.bit_length() - 1
                q = gj.index(jj)
                idx = np.arange(b[jj]).reshape([-1 if t == q else 1 for t in range(len(gj))])
                step = int(np.take(c, 1, axis=q).flat[0] - np.take(c, 0, axis=q).flat[0])
                off = int(c.flat[0])
                if step > 0 and np.array_equal(c, np.broadcast_to(step * idx + off, c.shape)):
                    aff = (jj, step, off, off)
            res[k] = (1, mask, aff)
    return tuple(res)


def reshape_like(node):
    """Reshape, Flatten, Squeeze, Unsqueeze: pure re-indexing of the row-major element order."""
    return [[reshape_axes(tuple(node.inputs[0].shape), tuple(node.outputs[0].shape))] + [None] * (len(node.inputs) - 1)]


def transpose(node):
    x = node.inputs[0].shape
    out = node.outputs[0].shape
    perm = node.opdef.perm(node)
    pat = [None] * len(x)
    for j, k in enumerate(perm):
        pat[k] = point(j, x[k], out[j])
    return [[tuple(pat)]]


def concat(node):
    out = node.outputs[0].shape
    axis = normalize_axis(node.attrs["axis"], len(out))
    pats, off = [], 0
    for i, v in enumerate(node.inputs):
        s = v.shape
        if _reads(node, i):
            axes = [point(k, d, out[k]) if k != axis else (point(k, d, out[k], offset=-off) if size(d) > 1
                                                            else const_axis()) for k, d in enumerate(s)]
            pats.append(tuple(axes))
        else:
            pats.append(None)
        off += size(s[axis])
    return [pats]


def split(node):
    x = node.inputs[0].shape
    axis = normalize_axis(node.attrs["axis"], len(x))
    res, off = [], 0
    for v in node.outputs:
        s = v.shape
        axes = [point(k, d, s[k]) for k, d in enumerate(x)]
        axes[axis] = point(axis, x[axis], s[axis], offset=off) if size(s[axis]) > 1 else const_axis(off, off)
        res.append([tuple(axes)])
        off += size(s[axis])
    return res


def slice_(node):
    x = node.inputs[0].shape
    out = node.outputs[0].shape
    sl = node.opdef.slices(node)
    axes = []
    for k, (d, s) in enumerate(zip(x, sl)):
        if s == slice(None) or isinstance(d, str):
            axes.append(point(k, d, out[k]))
            continue
        start, _, step = s.indices(d)
        if size(out[k]) == 1:
            axes.append(const_axis(start, start))
        else:
            axes.append(point(k, d, out[k], offset=start, step=step))
    return [[tuple(axes)]]


def gather(node):
    """Gather: data axis ``axis`` is read at the index the indices tensor holds at the output position."""
    data, idx = node.inputs
    x = data.shape
    out = node.outputs[0].shape
    axis = normalize_axis(node.attrs["axis"], len(x))
    r = len(idx.shape)
    axes = [point(k, d, out[k]) for k, d in enumerate(x[:axis])]
    if idx.is_const:
        ind = np.asarray(idx.const).astype(np.int64) % size(x[axis]) if isinstance(x[axis], int) else np.asarray(idx.const)
        if r == 0:
            axes.append(const_axis(int(ind), int(ind)))
        else:
            track = sum(1 << (axis + q) for q in range(r) if ind.shape[q] > 1 and np.any(np.diff(ind, axis=q) != 0))
            aff = None
            if ind.size == 1:
                aff = (-1, 0, int(ind.flat[0]), int(ind.flat[0]))
            elif r == 1:
                step = int(ind[1] - ind[0])
                if step > 0 and np.array_equal(ind, ind[0] + step * np.arange(ind.size)):
                    aff = (axis, step, int(ind[0]), int(ind[0]))
            axes.append((1, track, aff))
    else:  # computed indices: one element, at a position that may change along every indices axis
        axes.append((1, sum(1 << (axis + q) for q in range(r) if size(idx.shape[q]) > 1), None))
    axes += [point(axis + r + k, d, out[axis + r + k]) for k, d in enumerate(x[axis + 1:])]
    return [[tuple(axes) if _reads(node, 0) else None, None]]


def pad(node):
    x = node.inputs[0].shape
    out = node.outputs[0].shape
    p = node.attrs["pads"]
    r = len(x)
    constant = node.attrs["mode"] == "constant"
    axes = []
    for k, d in enumerate(x):
        if size(d) == 1:
            axes.append(const_axis())
        elif constant:
            axes.append(point(k, d, out[k], offset=-p[k]))
        else:  # reflect / edge / wrap still read one element, at a non-affine index
            axes.append((1, (1 << k) if size(out[k]) > 1 else 0, None))
    del r
    return [[tuple(axes)]]


def opaque(node):
    """Unknown ops: every output element may read every element of every input (the top element)."""
    pats = []
    for i, v in enumerate(node.inputs):
        if not _reads(node, i) or v.shape is None:
            pats.append(None)
        else:
            pats.append(tuple(full(d) for d in v.shape))
    return [pats for _ in node.outputs]


#: access rule name (:attr:`OpDef.access <alphanas.ir.opdef.OpDef.access>`) -> rule (a function, or :data:`UNARY`)
RULES: dict[str, Callable[..., list] | str] = {
    "unary": UNARY, "elementwise": elementwise_nary, "channel_affine": first_only_elementwise,
    "softmax": softmax, "layer_norm": layer_norm, "instance_norm": instance_norm, "lrn": lrn,
    "conv": conv, "gemm": gemm, "matmul": matmul,
    "pool": pool, "global_pool": global_pool, "reduce": reduce,
    "reshape": reshape_like, "transpose": transpose, "concat": concat, "gather": gather, "split": split,
    "slice": slice_, "pad": pad,
    # comparisons and boolean logic: broadcasting reads, but a piecewise-constant output (zero derivative),
    # so autograd cannot confirm the rule cell by cell: sound, not claimed exact
    "logical": elementwise_nary,
    # every output element reads every input element (ops with no finer rule yet, e.g. ConvTranspose, Tile)
    "opaque": opaque,
}

#: Rules whose mixing abstraction for one node equals the concrete mixing (definition in
#: :mod:`alphanas.properties.mixing`): all of :data:`RULES` but ``logical`` and ``opaque``. Condition: the
#: node's operands are distinct values (``x - x`` or ``concat(x, x)`` are joins of two paths:
#: over-approximated). The max-type ops are exact for the "non-zero at some point" support: the raw
#: arg-max gradients of 40 random points reach it. Checked by ``tests/properties`` against autograd
#: Jacobians, per registered op and for random single ops. A rule an op gives as a function is not
#: claimed exact.
EXACT = frozenset(RULES) - {"logical", "opaque"}


def rule_of(opdef: OpDef | None) -> Callable[..., list] | str | None:
    """The access rule an op definition declares (:attr:`OpDef.access`); ``None`` for opaque nodes and
    ops that declare none (every output element then reads every input element: :func:`opaque`)."""
    rule = None if opdef is None else opdef.access
    if isinstance(rule, str):
        try:
            return RULES[rule]
        except KeyError:
            raise ValueError(f"{opdef!r} declares the unknown access rule {rule!r}; choose from {sorted(RULES)} "
                             "or give a function node -> patterns") from None
    return rule


def exact_ops() -> frozenset[str]:
    """The registered op types whose declared rule is in :data:`EXACT`."""
    return frozenset(op for (_, op), d in registry().items() if isinstance(d.access, str) and d.access in EXACT)
