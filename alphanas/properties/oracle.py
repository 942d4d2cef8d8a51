"""Concrete oracles: the properties a (sub)graph really has, measured by running it in torch.

These are the reference the abstract domains are tested against; they never feed the abstract
analysis (which runs no model).

- :func:`concrete_mixing`: the mixing matrices defined in :mod:`alphanas.properties.mixing`, from
  the union of the supports of full autograd Jacobians (float64) at ``samples`` points, each with
  fresh random inputs **and** fresh random weights (never all-ones); ops whose gradient is zero on
  part of their domain (max-type reductions, ReLU, clipping) are measured through smooth
  counterparts with the same "non-zero at some point" support (:func:`smooth_kinks`), so that a few
  samples reach the support of the definition (``smooth=False`` measures the raw ops, which needs
  many more samples; the tests check both agree);
- :func:`concrete_shapes`: output shapes from a forward pass (symbolic dimensions set to ``batch``);
- :func:`concrete_depth`: the depth of the torch program actually executed: the longest-path
  alternation count over the ``torch.fx`` graph of the lowered module, classifying each call by the
  torch function it runs (:data:`TORCH_NONLINEAR`; dropout and dtype casts are neutral).
"""

from __future__ import annotations

import operator

import numpy as np

from alphanas.ir.graph import Graph
from alphanas.ir.opdef import shape_of
from alphanas.properties.mixing import MixingProperty


def _standalone(graph_or_subgraph) -> Graph:
    return graph_or_subgraph if isinstance(graph_or_subgraph, Graph) else graph_or_subgraph.to_graph("subgraph")


def randomize_weights(graph: Graph, rng: np.random.Generator) -> Graph:
    """A copy of ``graph`` with every floating-point weight redrawn (variances positive)."""
    g = graph.copy()
    keep: set[int] = set()
    positive: set[int] = set()
    for n in g.nodes:
        if n.op_type == "BatchNormalization" and len(n.inputs) > 4 and n.inputs[4] is not None:
            positive.add(id(n.inputs[4]))
        if n.op_type == "Pow" and n.inputs[1] is not None:
            keep.add(id(n.inputs[1]))
    for v in g.initializers.values():
        c = v.const
        if c is None or c.dtype.kind != "f" or id(v) in keep:
            continue
        if id(v) in positive:
            v.const = rng.uniform(0.5, 2.0, size=c.shape).astype(c.dtype)
        else:  # scaled like an initialiser so deep subgraphs neither overflow nor vanish
            fan_in = int(np.prod(c.shape[1:])) if c.ndim >= 2 else 1
            v.const = (rng.standard_normal(c.shape) / np.sqrt(max(fan_in, 1))).astype(c.dtype)
    return g


def smooth_kinks(graph: Graph) -> Graph:
    """A copy where ops with a gradient that vanishes on part of their domain get dense-gradient stand-ins.

    The concrete mixing counts a dependency when the derivative is non-zero at *some* point. A max has
    a one-hot gradient (its arg-max) and a ReLU a zero gradient on its negative half, so the union of a
    few sampled Jacobians reaches that support only slowly, and sets that differ only by sampling luck
    would look like tracking (a spurious ONE_TO_ONE or MANY_TO_ONE). The stand-ins have exactly the
    same "some point" support and a gradient that is non-zero everywhere, so one sample measures it:

    - MaxPool, GlobalMaxPool, ReduceMax -> log-mean-exp over the same windows (padding excluded);
    - Relu -> Softplus; Clip and HardSigmoid (flat outside a band) -> Sigmoid.
    """
    g = graph.copy()
    for node in list(g.nodes):
        t, a = node.op_type, node.attrs
        if t in ("Relu", "Clip", "HardSigmoid"):
            i = g.nodes.index(node)
            smooth = g.add_node("Softplus" if t == "Relu" else "Sigmoid", [node.inputs[0]], index=i,
                                name=node.name + ".smooth")
            g.replace_all_uses(node.outputs[0], smooth.outputs[0])
            g.remove_node(node)
            continue
        if t == "MaxPool" and all(d == 1 for d in a["dilations"]):
            rep, attrs = "AveragePool", {k: a[k] for k in ("kernel_shape", "strides", "pads", "ceil_mode")}
            attrs["count_include_pad"] = 0
        elif t == "GlobalMaxPool":
            rep, attrs = "GlobalAveragePool", {}
        elif t == "ReduceMax":
            rep, attrs = "ReduceMean", {"axes": a["axes"], "keepdims": a["keepdims"]}
        else:
            continue
        i = g.nodes.index(node)
        e = g.add_node("Exp", [node.inputs[0]], index=i, name=node.name + ".exp")
        m = g.add_node(rep, [e.outputs[0]], attrs, index=i + 1, name=node.name + ".mean")
        lg = g.add_node("Log", [m.outputs[0]], index=i + 2, name=node.name + ".log")
        g.replace_all_uses(node.outputs[0], lg.outputs[0])
        g.remove_node(node)
    return g


def _inputs(graph: Graph, rng, batch: int, positive: bool):
    import torch

    xs = []
    for v in graph.inputs:
        shape = [d if isinstance(d, int) else batch for d in shape_of(v)]
        a = rng.uniform(0.25, 2.0, size=shape) if positive else rng.standard_normal(shape)
        xs.append(torch.tensor(a, dtype=torch.float64, requires_grad=True))
    return xs


def _module(graph: Graph):
    import torch
    from alphanas.ir.torch_lowering import to_torch

    m = to_torch(graph).double()
    m.eval()
    for p in m.parameters():
        p.requires_grad_(False)
    del torch
    return m


#: derivatives of smaller magnitude count as zero: they are float64 rounding residues of terms that cancel
#: exactly (e.g. a layer norm over an axis of size 1 is constant, yet autograd returns ~1e-15); weights
#: and inputs are drawn at unit scale, so real derivatives of the small test graphs are orders larger
ZERO = 1e-10


def _nonzero(j: np.ndarray) -> np.ndarray:
    return np.abs(j) > ZERO


def jacobian_supports(graph_or_subgraph, samples: int = 6, batch: int = 3, seed: int = 0,
                      positive: bool = False, smooth: bool = True) -> list[list[np.ndarray]]:
    """``supports[i][j]``: boolean array of shape ``out_j.shape + in_i.shape``, True where some sample
    had a non-zero derivative of output ``j`` with respect to input ``i`` (``smooth``: measured
    through :func:`smooth_kinks`)."""
    import torch

    base = _standalone(graph_or_subgraph)
    base = smooth_kinks(base) if smooth else base
    rng = np.random.default_rng(seed)
    sup = None
    for _ in range(samples):
        g = randomize_weights(base, rng)
        m = _module(g)
        xs = _inputs(g, rng, batch, positive)

        def fn(*args, m=m):  # (bound now: a closure would read the loop variable)
            out = m(*args)
            return tuple(out) if isinstance(out, (tuple, list)) else (out,)

        try:
            jac = torch.autograd.functional.jacobian(fn, tuple(xs), vectorize=True)
        except Exception:  # ops without a batching rule
            jac = torch.autograd.functional.jacobian(fn, tuple(xs))
        # jac[j][i] has shape out_j + in_i
        cur = [[_nonzero(jac[j][i].detach().numpy()) for j in range(len(jac))] for i in range(len(xs))]
        sup = cur if sup is None else [[a | b for a, b in zip(ra, rb)] for ra, rb in zip(sup, cur)]
    if sup is None:
        raise ValueError("samples must be at least 1")
    return sup


def mixing_from_support(s: np.ndarray, out_rank: int) -> tuple[tuple[int, ...], ...] | None:
    """The mixing matrix (definition in :mod:`alphanas.properties.mixing`) of one support array."""
    if not s.any():
        return None
    in_shape = s.shape[out_rank:]
    rows = []
    for i, n in enumerate(in_shape):
        other = tuple(out_rank + k for k in range(len(in_shape)) if k != i)
        a = np.asarray(s.any(axis=other) if other else s)  # out_shape + (n_i,): S_i(b)
        counts = a.sum(axis=-1)
        reach = int(counts.max())
        if reach >= n:
            rows.append((3,) * out_rank)
            continue
        lvl = 2 if reach >= 2 else 1
        row = []
        for j in range(out_rank):
            x = np.moveaxis(a, j, 0)  # (p_j, rest..., n_i)
            nonempty = x.any(axis=-1)
            ref_idx = np.argmax(nonempty, axis=0)
            ref = np.take_along_axis(x, ref_idx[None, ..., None], axis=0)
            differ = (x != ref).any(axis=-1) & nonempty
            row.append(lvl if differ.any() else 0)
        rows.append(tuple(row))
    return tuple(rows)


def concrete_mixing(graph_or_subgraph, samples: int = 6, batch: int = 3, seed: int = 0,
                    positive: bool = False, smooth: bool = True) -> MixingProperty:
    """The mixing a (sub)graph really has, from autograd Jacobians (see the module docstring)."""
    g = _standalone(graph_or_subgraph)
    sup = jacobian_supports(g, samples, batch, seed, positive, smooth)
    ranks = [len(shape_of(v)) for v in g.outputs]
    return MixingProperty([[mixing_from_support(sup[i][j], ranks[j]) for j in range(len(ranks))]
                           for i in range(len(g.inputs))])


def concrete_shapes(graph_or_subgraph, batch: int = 3, seed: int = 0) -> list[tuple[int, ...]]:
    """Output shapes from one forward pass with symbolic dimensions set to ``batch``."""
    import torch

    g = _standalone(graph_or_subgraph)
    m = _module(g)
    with torch.no_grad():
        out = m(*_inputs(g, np.random.default_rng(seed), batch, False))
    out = out if isinstance(out, (tuple, list)) else (out,)
    return [tuple(t.shape) for t in out]


def _torch_tables():
    import torch
    import torch.nn.functional as F

    from alphanas.ir.ops import elementwise

    nonlinear = {torch.relu, F.relu, torch.sigmoid, torch.tanh, F.gelu, F.leaky_relu, F.elu, F.softplus, torch.exp,
                 torch.log, torch.sqrt, torch.erf, torch.reciprocal, torch.abs, torch.softmax, torch.clamp, F.silu,
                 elementwise.swish, elementwise._hard_sigmoid}
    neutral_methods = {"to", "contiguous"}
    return nonlinear, neutral_methods


#: documented here, built lazily (torch is imported only by the oracle)
TORCH_NONLINEAR = ("torch.relu/sigmoid/tanh/softmax/clamp/exp/log/sqrt/erf/reciprocal/abs, F.gelu/leaky_relu/elu/softplus/silu, "
                   "pow (exponent != 1), division by a tensor")


def concrete_depth(graph_or_subgraph) -> list[list[int | None]]:
    """``depth[i][j]`` of the executed torch program (see the module docstring)."""
    import torch
    from alphanas.ir.torch_lowering import to_torch
    from torch import nn

    g = _standalone(graph_or_subgraph)
    m = to_torch(g)
    nonlinear, neutral_methods = _torch_tables()
    params = {name for name, _ in m.named_parameters()} | {name for name, _ in m.named_buffers()}
    placeholders = [n for n in m.graph.nodes if n.op == "placeholder"]
    k = len(placeholders)
    state: dict = {}
    for idx, p in enumerate(placeholders):
        state[p] = tuple((-1, -1, 0) if t == idx else None for t in range(k))

    def klass(n) -> int:
        if n.op == "call_module":
            mod = m.get_submodule(n.target)
            return 2 if isinstance(mod, nn.Dropout) else 0
        if n.op == "call_method":
            return 2 if n.target in neutral_methods else 0
        if n.target in nonlinear:
            return 1
        if n.target is torch.pow:
            e = n.args[1]
            return 0 if isinstance(e, (int, float)) and e == 1 else 1
        if n.target is operator.truediv:
            d = n.args[1]
            return 1 if hasattr(d, "op") and not (d.op == "get_attr" and d.target in params) else 0
        return 0

    result_nodes = None
    for n in m.graph.nodes:
        if n.op in ("placeholder", "get_attr"):
            continue
        if n.op == "output":
            result_nodes = n.args[0] if isinstance(n.args[0], (tuple, list)) else (n.args[0],)
            break
        ins = [s for s in (state.get(a) for a in n.all_input_nodes) if s is not None]
        if not ins:
            continue
        joined = tuple(None if all(s[t] is None for s in ins) else
                       tuple(max(s[t][q] for s in ins if s[t] is not None) for q in range(3)) for t in range(k))
        c = klass(n)
        if c == 2:
            state[n] = joined
        elif c == 0:
            state[n] = tuple(None if e is None else (max(e[0], e[1] + 1, e[2] + 1), -1, -1) for e in joined)
        else:
            state[n] = tuple(None if e is None else (-1, max(e[1], e[0] + 1, e[2] + 1), -1) for e in joined)
    if result_nodes is None:
        raise ValueError("the lowered module has no output")
    out = []
    for i in range(k):
        row = []
        for r in result_nodes:
            s = state.get(r)
            e = None if s is None else s[i]
            row.append(None if e is None else max(e))
        out.append(row)
    return out
