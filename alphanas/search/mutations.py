"""The search's mutations: duplicate or delete a block, property-guided synthesis, and the baselines.

Every mutation takes a graph (never modified) and a ``numpy`` generator and returns a :class:`Mutant`
whose graph passed the same end-to-end checks as a synthesized one (IR verify, ONNX checker, one
onnxruntime run, a torch forward and backward: :func:`alphanas.synth.verify.check_graph`), or raises
:class:`MutationFailed`. Block metadata (``alphanas.blocks``) is kept up to date, so block names stay
stable along a lineage.

- :func:`duplicate_block`: a copy of a shape-preserving block (one input, one output of the same
  shape) is inserted right after it; fresh node and weight names, weights copied.
- :func:`delete_block`: a shape-preserving (residual) block is bypassed and removed.
- :func:`property_mutation`: αNAS's mutation of a random block through
  :func:`alphanas.synth.mutate` (select a subgraph, infer and mutate its properties, synthesize,
  splice, verify), run in a worker process that is stopped after a hard time limit.
- :func:`random_edit`: a Primer-style random edit with no properties (swap an activation, change a
  convolution's kernel or a hidden width, insert or delete a node); the baseline "random mutation".
- :func:`random_sample`: a random walk of 1..``max_steps`` property-free mutations from the seed;
  the random-search baseline samples every candidate this way.

:class:`Mutator` holds a strategy's settings (picklable) and draws one mutation per call with the
strategy's probabilities (αNAS: duplicate 0.2, delete 0.2, property-guided 0.6).
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from alphanas.errors import AlphanasError
from alphanas.ir.blocks import Block, find_blocks, record_blocks
from alphanas.ir.graph import Graph, Node, Value
from alphanas.ir.ops.elementwise import Elu, Gelu, LeakyRelu, Relu, Sigmoid, Swish, Tanh
from alphanas.ir.ops.linear import Conv
from alphanas.ir.ops.norm import BatchNormalization

STRATEGIES = ("property", "random_edit", "random")
#: default mutation probabilities per strategy ("random" samples from the seed: see random_sample)
DEFAULT_PROBABILITIES: dict[str, dict[str, float]] = {
    "property": {"duplicate_block": 0.2, "delete_block": 0.2, "property": 0.6},
    "random_edit": {"duplicate_block": 0.2, "delete_block": 0.2, "random_edit": 0.6},
    "random": {"random_sample": 1.0},
}
#: The random edit's vocabulary (a search-space choice, like a synthesis vocabulary; the seeded edits
#: depend on its order): the activations it swaps between, and the ops a width change passes through
#: and a deletion may remove (per-channel ops of one input: batch norm and these activations).
ACTIVATIONS = tuple(op.op_type for op in (Relu, Gelu, Swish, Tanh, Sigmoid, Elu, LeakyRelu))
_PASS_THROUGH = (BatchNormalization.op_type, *ACTIVATIONS)


class MutationFailed(Exception):
    """This mutation does not apply to this graph or its result failed verification (not fatal)."""


@dataclass
class Mutant:
    """A verified child graph and what was done to get it."""

    graph: Graph
    mutation: str
    description: str
    properties: dict | None = None
    timings: dict[str, float] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------------


#: seconds spent in :func:`_verify` by this thread (read by :meth:`Mutator.apply` for the time split)
_VERIFY_CLOCK = threading.local()


def _verify(graph: Graph, seed: int) -> None:
    from alphanas.synth.problem import SynthesisFailed
    from alphanas.synth.verify import check_graph

    t0 = time.perf_counter()
    try:
        check_graph(graph, seed=seed)
    except SynthesisFailed as e:
        raise MutationFailed(str(e)) from None
    finally:
        _VERIFY_CLOCK.seconds = getattr(_VERIFY_CLOCK, "seconds", 0.0) + time.perf_counter() - t0


def _record(graph: Graph, blocks: list[Block], extra: dict[str, tuple[str, list[str]]] | None = None,
            drop: str | None = None) -> None:
    """Write ``blocks`` (plus ``extra``, minus ``drop``) into the graph's block metadata."""
    live = {n.name for n in graph.nodes}
    table = {b.name: (b.kind, [n.name for n in b.nodes if n.name in live]) for b in blocks if b.name != drop}
    table.update(extra or {})
    record_blocks(graph, {k: v for k, v in table.items() if v[1]})


def shape_preserving_blocks(graph: Graph, blocks: list[Block] | None = None) -> list[Block]:
    """Blocks with one tensor input and one output of the same shape that is not a graph output."""
    out = []
    for b in find_blocks(graph) if blocks is None else blocks:
        sub = b.subgraph
        if len(sub.inputs) != 1 or len(sub.outputs) != 1:
            continue
        x, y = sub.inputs[0], sub.outputs[0]
        if x.shape is None or y.shape is None or tuple(x.shape) != tuple(y.shape) or graph.is_output(y):
            continue
        if any(n.is_opaque for n in sub.nodes):
            continue
        out.append(b)
    return out


def _next_block_name(name: str, taken: set[str]) -> str:
    """``layer1.0`` -> ``layer1.1`` (first free index); other names get ``_dup``, ``_dup2``, ..."""
    m = re.match(r"^(.*?)(\d+)$", name)
    if m:
        i = int(m.group(2)) + 1
        while f"{m.group(1)}{i}" in taken:
            i += 1
        return f"{m.group(1)}{i}"
    k, cand = 1, f"{name}_dup"
    while cand in taken:
        k += 1
        cand = f"{name}_dup{k}"
    return cand


def _rename(old: str, block: str, new_block: str) -> str:
    return new_block + old[len(block):] if old.startswith(block) else f"{new_block}.{old}"


def _seed_of(rng: np.random.Generator) -> int:
    return int(rng.integers(0, 2**31 - 1))


# ---------------------------------------------------------------------------------------------------
# block mutations
# ---------------------------------------------------------------------------------------------------


def block_cost(block: Block, focus: str) -> int:
    """The parameters or FLOPs (``focus``) of a block's nodes."""
    from alphanas.ir.cost import node_cost

    return sum(node_cost(n, focus) for n in block.nodes)


def choose_block(blocks: list[Block], rng: np.random.Generator, focus: str | None = None) -> Block:
    """A block drawn uniformly (``focus=None``, αNAS) or in proportion to its parameters or FLOPs
    (plus a 1% share of the mean, so that blocks without cost stay reachable)."""
    if focus is None:
        return blocks[int(rng.integers(len(blocks)))]
    from alphanas.synth.select import weighted_index

    costs = [block_cost(b, focus) for b in blocks]
    floor = 0.01 * sum(costs) / len(costs) if sum(costs) > 0 else 1.0
    return blocks[weighted_index(rng, [c + floor for c in costs])]


def _pick_block(graph: Graph, rng: np.random.Generator, what: str,
                focus: str | None = None) -> tuple[Graph, list[Block], Block]:
    """A copy of ``graph``, its blocks, and a random shape-preserving block of the copy."""
    g = graph.copy()
    blocks = find_blocks(g)
    choices = shape_preserving_blocks(g, blocks)
    if not choices:
        raise MutationFailed(f"{what}: no block with equal input and output shapes")
    return g, blocks, choose_block(choices, rng, focus)


def duplicate_block(graph: Graph, rng: np.random.Generator) -> Mutant:
    """Insert a copy of a random shape-preserving block right after it (weights copied)."""
    g, blocks, block = _pick_block(graph, rng, "duplicate_block")
    taken = {b.name for b in blocks}
    new_name = _next_block_name(block.name, taken)
    sub = block.subgraph
    x_in, x_out = sub.inputs[0], sub.outputs[0]
    vmap: dict[int, Value] = {id(x_in): x_out}
    new_nodes: list[Node] = []
    for n in sub.nodes:
        ins: list[Value | None] = []
        for v in n.inputs:
            if v is None:
                ins.append(None)
            elif id(v) in vmap:
                ins.append(vmap[id(v)])
            elif v.is_const and v.name in g.initializers:
                nv = g.add_initializer(_rename(v.name, block.name, new_name), v.const)
                vmap[id(v)] = nv
                ins.append(nv)
            else:
                ins.append(v)
        outs = [g.new_value(_rename(v.name, block.name, new_name), v.shape, v.dtype) for v in n.outputs]
        node = Node(n.op_type, ins, outs, n.attrs, g.unique_node_name(_rename(n.name, block.name, new_name)),
                    n.domain, n.onnx_attrs)
        vmap.update({id(a): b for a, b in zip(n.outputs, outs)})
        new_nodes.append(node)
    new_out = vmap[id(x_out)]
    new_ids = {id(n) for n in new_nodes}
    for user, i in list(x_out.uses):
        if id(user) not in new_ids and id(user) not in {id(n) for n in sub.nodes}:
            user.set_input(i, new_out)
    g.outputs = [new_out if o is x_out else o for o in g.outputs]
    at = max(g.nodes.index(n) for n in sub.nodes) + 1
    g.insert_nodes(at, new_nodes)
    g.verify()
    _record(g, blocks, {new_name: (block.kind, [n.name for n in new_nodes])})
    _verify(g, _seed_of(rng))
    return Mutant(g, "duplicate_block", f"duplicate block {block.name} ({block.kind}, {len(sub.nodes)} nodes) "
                  f"as {new_name}")


def delete_block(graph: Graph, rng: np.random.Generator, focus: str | None = None) -> Mutant:
    """Bypass and remove a random shape-preserving (residual) block (drawn in proportion to its
    parameters or FLOPs with ``focus``)."""
    g, blocks, block = _pick_block(graph, rng, "delete_block", focus)
    x_in, x_out = block.subgraph.inputs[0], block.subgraph.outputs[0]
    g.replace_all_uses(x_out, x_in)
    g.eliminate_dead_nodes()
    if any(g.is_output(v) for v in g.inputs):
        raise MutationFailed(f"delete_block: removing {block.name} would leave an input as an output")
    g.verify()
    _record(g, blocks, drop=block.name)
    _verify(g, _seed_of(rng))
    return Mutant(g, "delete_block", f"delete block {block.name} ({block.kind}, {len(block.nodes)} nodes)")


# ---------------------------------------------------------------------------------------------------
# property-guided mutation
# ---------------------------------------------------------------------------------------------------


def property_mutation(graph: Graph, rng: np.random.Generator, *, synthesizer: str = "egraph", p: float = 0.5,
                      budget_s: float = 5.0, properties=("shape", "depth", "mixing"), vocabulary=None,
                      hard_limit_s: float | None = None, pick: str = "random", focus: str | None = None) -> Mutant:
    """αNAS's mutation of a random block: :func:`alphanas.synth.mutate` restricted to that block, run in
    the :class:`~alphanas.search.sandbox.SynthesisSandbox` and stopped after ``hard_limit_s`` (default
    ``4 * budget_s + 20``, start-up included) or once ``budget_s`` plus
    :data:`~alphanas.search.sandbox.BUDGET_SLACK_S` have passed since the mutation's clock started,
    whichever comes first (the budget is a hard cap: "the mutation exceeded the budget"). ``focus`` draws
    the block (and the subgraph's start node) in proportion to its parameters or FLOPs;
    ``pick="cheapest"`` asks the synthesizer for its fewest-FLOPs result."""
    import onnx

    from alphanas.ir.onnx_io import from_onnx, to_onnx
    from alphanas.search.sandbox import SANDBOX

    from alphanas.synth.select import eligible

    blocks = [b for b in find_blocks(graph) if any(eligible(n) for n in b.nodes)]
    block = choose_block(blocks, rng, focus) if blocks else None
    limit = hard_limit_s if hard_limit_s is not None else 4 * budget_s + 20
    out = SANDBOX.call(limit, to_onnx(graph).SerializeToString(), _seed_of(rng), synthesizer,
                       None if block is None else block.name, p, budget_s, tuple(properties), vocabulary, pick, focus,
                       budget_s=budget_s)
    if out["error"]:
        raise MutationFailed(f"property: {out['error']}")
    g = from_onnx(onnx.load_from_string(out["model"]), source="child")
    _record(g, find_blocks(g))
    where = f" in block {block.name}" if block is not None else ""
    return Mutant(g, "property", f"{out['description']}{where}", out["properties"], out["timings"])


# ---------------------------------------------------------------------------------------------------
# Primer-style random edits (no properties)
# ---------------------------------------------------------------------------------------------------


def _he(rng: np.random.Generator, shape: tuple[int, ...], fan_in: int) -> np.ndarray:
    return rng.normal(0.0, math.sqrt(2.0 / max(1, fan_in)), size=shape).astype(np.float32)


def _conv2d(n: Node) -> bool:
    return (isinstance(n.opdef, Conv) and len(n.attrs.get("kernel_shape", [])) == 2 and n.attrs.get("group", 1) == 1
            and all(d == 1 for d in n.attrs.get("dilations", [1, 1])) and n.inputs[1] is not None
            and n.inputs[1].is_const)


def _set_const(g: Graph, node: Node, index: int, array: np.ndarray) -> None:
    """Give ``node`` a fresh weight at input ``index`` (old one dropped when unused)."""
    old = node.inputs[index]
    new = g.add_initializer(old.name if old is not None else f"{node.name}.w", array)
    node.set_input(index, new)


def _swap_activation(g: Graph, rng: np.random.Generator) -> str:
    acts = [n for n in g.nodes if n.op_type in ACTIVATIONS]
    if not acts:
        raise MutationFailed("random_edit: no activation to swap")
    n = acts[int(rng.integers(len(acts)))]
    new_op = [a for a in ACTIVATIONS if a != n.op_type][int(rng.integers(len(ACTIVATIONS) - 1))]
    idx = g.nodes.index(n)
    new = g.add_node(new_op, [n.inputs[0]], {}, name=n.name + "." + new_op.lower(), index=idx)
    g.replace_all_uses(n.outputs[0], new.outputs[0])
    g.remove_node(n)
    return f"swap activation {n.name}: {n.op_type} -> {new_op}"


def _change_kernel(g: Graph, rng: np.random.Generator) -> str:
    convs = [n for n in g.nodes if _conv2d(n) and all(k % 2 == 1 for k in n.attrs["kernel_shape"])]
    if not convs:
        raise MutationFailed("random_edit: no 2-D convolution to edit")
    n = convs[int(rng.integers(len(convs)))]
    k_old = n.attrs["kernel_shape"][0]
    k = [x for x in (1, 3, 5) if x != k_old][int(rng.integers(2))]
    w = n.inputs[1].const
    n.attrs = dict(n.attrs, kernel_shape=[k, k], pads=[k // 2] * 4)
    _set_const(g, n, 1, _he(rng, (w.shape[0], w.shape[1], k, k), w.shape[1] * k * k))
    return f"kernel of {n.name}: {k_old}x{k_old} -> {k}x{k}"


def _change_width(g: Graph, rng: np.random.Generator) -> str:
    """Scale the output channels of a conv whose result reaches exactly one conv through BN/activations."""
    pairs = []
    for n in g.nodes:
        if not _conv2d(n):
            continue
        chain, v = [], n.outputs[0]
        while not g.is_output(v) and len(v.uses) == 1:
            user, i = v.uses[0]
            if user.op_type in _PASS_THROUGH and i == 0:
                chain.append(user)
                v = user.outputs[0]
                continue
            if _conv2d(user) and i == 0:
                pairs.append((n, chain, user))
            break
    if not pairs:
        raise MutationFailed("random_edit: no conv -> conv pair whose hidden width can change")
    c1, chain, c2 = pairs[int(rng.integers(len(pairs)))]
    old = c1.inputs[1].const.shape[0]
    new = old * 2 if (rng.random() < 0.5 or old < 2) else max(1, old // 2)
    w1 = c1.inputs[1].const
    _set_const(g, c1, 1, _he(rng, (new, *w1.shape[1:]), int(np.prod(w1.shape[1:]))))
    if len(c1.inputs) > 2 and c1.inputs[2] is not None:
        _set_const(g, c1, 2, np.zeros(new, np.float32))
    for bn in (m for m in chain if isinstance(m.opdef, BatchNormalization)):
        for i, fill in ((1, 1.0), (2, 0.0), (3, 0.0), (4, 1.0)):
            _set_const(g, bn, i, np.full(new, fill, np.float32))
    w2 = c2.inputs[1].const
    _set_const(g, c2, 1, _he(rng, (w2.shape[0], new, *w2.shape[2:]), new * int(np.prod(w2.shape[2:]))))
    return f"width of {c1.name}: {old} -> {new} channels"


def _insert_node(g: Graph, rng: np.random.Generator) -> str:
    sites = [n for n in g.nodes if n.outputs[0].shape is not None and len(n.outputs[0].shape) == 4
             and isinstance(n.outputs[0].shape[1], int) and not n.is_opaque and len(n.outputs) == 1]
    if not sites:
        raise MutationFailed("random_edit: no 4-D value to insert a node after")
    site = sites[int(rng.integers(len(sites)))]
    x = site.outputs[0]
    c = int(x.shape[1])
    kind = (Relu.op_type, BatchNormalization.op_type, "Conv1x1", "DepthwiseConv3x3")[int(rng.integers(4))]
    idx = g.nodes.index(site) + 1
    base = f"{site.name}.ins_{kind.lower()}"
    users = list(x.uses)
    if kind == Relu.op_type:
        node = g.add_node(Relu.op_type, [x], {}, name=base, index=idx)
    elif kind == BatchNormalization.op_type:
        ws = [g.add_initializer(f"{base}.{s}", np.full(c, f, np.float32))
              for s, f in (("weight", 1.0), ("bias", 0.0), ("running_mean", 0.0), ("running_var", 1.0))]
        node = g.add_node(BatchNormalization.op_type, [x, *ws], {"epsilon": 1e-5}, name=base, index=idx)
    else:
        k, groups = (1, 1) if kind == "Conv1x1" else (3, c)
        w = g.add_initializer(f"{base}.weight", _he(rng, (c, c // groups, k, k), c // groups * k * k))
        node = g.add_node(Conv.op_type, [x, w], {"kernel_shape": [k, k], "strides": [1, 1], "pads": [k // 2] * 4,
                                           "dilations": [1, 1], "group": groups}, name=base, index=idx)
    for user, i in users:
        user.set_input(i, node.outputs[0])
    g.outputs = [node.outputs[0] if o is x else o for o in g.outputs]
    return f"insert {kind} after {site.name}"


def _delete_node(g: Graph, rng: np.random.Generator) -> str:
    def removable(n: Node) -> bool:
        if n.is_opaque or len(n.outputs) != 1 or n.inputs[0] is None or n.inputs[0].is_const:
            return False
        if n.outputs[0].shape is None or n.inputs[0].shape != n.outputs[0].shape:
            return False
        if g.is_output(n.outputs[0]) and n.inputs[0] in g.inputs:
            return False
        if n.op_type in _PASS_THROUGH:
            return True
        return _conv2d(n) and all(s == 1 for s in n.attrs.get("strides", [1, 1]))

    nodes = [n for n in g.nodes if removable(n)]
    if not nodes:
        raise MutationFailed("random_edit: no shape-preserving node to delete")
    n = nodes[int(rng.integers(len(nodes)))]
    g.replace_all_uses(n.outputs[0], n.inputs[0])
    g.eliminate_dead_nodes()
    return f"delete {n.op_type} {n.name}"


#: the random edits, by name
EDITS: dict[str, Callable[[Graph, np.random.Generator], str]] = {
    "swap_activation": _swap_activation,
    "change_kernel": _change_kernel,
    "change_width": _change_width,
    "insert_node": _insert_node,
    "delete_node": _delete_node,
}


def random_edit(graph: Graph, rng: np.random.Generator) -> Mutant:
    """One Primer-style random edit (no properties); the child is verified like a synthesized one."""
    g = graph.copy()
    blocks = find_blocks(g)
    names = list(EDITS)
    errors = []
    for i in rng.permutation(len(names)):
        try:
            desc = EDITS[names[i]](g, rng)
            break
        except MutationFailed as e:
            errors.append(str(e))
    else:
        raise MutationFailed("; ".join(errors))
    try:
        g.infer_shapes()
        g.prune_initializers()
        g.toposort()
        g.verify()
    except AlphanasError as e:
        raise MutationFailed(f"random_edit ({desc}): {e}") from None
    _record(g, blocks)
    _verify(g, _seed_of(rng))
    return Mutant(g, "random_edit", desc)


_PROPERTY_FREE = (duplicate_block, delete_block, random_edit)


def random_sample(seed_graph: Graph, rng: np.random.Generator, max_steps: int = 4) -> Mutant:
    """A random walk of 1..``max_steps`` property-free mutations (duplicate, delete, random edit)
    from ``seed_graph``; steps that do not apply are skipped (at least one must succeed)."""
    steps = int(rng.integers(1, max_steps + 1))
    g, done = seed_graph, []
    for _ in range(4 * steps):
        if len(done) == steps:
            break
        fn = _PROPERTY_FREE[int(rng.integers(len(_PROPERTY_FREE)))]
        try:
            m = fn(g, rng)
        except MutationFailed:
            continue
        g = m.graph
        done.append(m.description)
    if not done:
        raise MutationFailed("random_sample: no step of the random walk applied")
    return Mutant(g, "random_sample", f"{len(done)} random step(s): " + "; ".join(done))


# ---------------------------------------------------------------------------------------------------
# strategy
# ---------------------------------------------------------------------------------------------------


@dataclass
class Mutator:
    """A strategy's mutation settings; :meth:`propose` draws and applies one mutation.

    ``strategy``: ``property`` (αNAS), ``random_edit`` (the same loop with Primer-style edits instead
    of property-guided synthesis) or ``random`` (random search: every child is a random walk from the
    seed). ``probabilities`` overrides the strategy's defaults (keys: ``duplicate_block``,
    ``delete_block``, ``property``, ``random_edit``; normalised to sum 1).

    Cost direction (off by default, as in αNAS): ``focus="params"`` or ``"flops"`` draws the block to
    delete or to re-synthesize, and the subgraph's start node, in proportion to that cost, and
    ``pick="cheapest"`` makes the synthesizer return the fewest-FLOPs subgraph satisfying the mutated
    properties. Both only change *where* and *which* satisfying program: every child still satisfies
    its target properties and passes the same checks.
    """

    strategy: str = "property"
    probabilities: dict[str, float] | None = None
    synthesizer: str = "egraph"
    p: float = 0.5
    budget_s: float = 5.0
    properties: tuple[str, ...] = ("shape", "depth", "mixing")
    vocabulary: Any = None
    random_steps: int = 4
    pick: str = "random"
    focus: str | None = None
    hard_limit_s: float | None = None  # property-guided synthesis is stopped after this (default 4·budget + 20 s)

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise AlphanasError(f"unknown strategy {self.strategy!r}; choose from {', '.join(STRATEGIES)}")
        probs = dict(self.probabilities or DEFAULT_PROBABILITIES[self.strategy])
        allowed = {"duplicate_block", "delete_block", "property", "random_edit", "random_sample"}
        bad = sorted(set(probs) - allowed)
        if bad or any(not (v >= 0 and math.isfinite(v)) for v in probs.values()) or sum(probs.values()) <= 0:
            raise AlphanasError(f"mutation probabilities {probs}: use non-negative weights of {', '.join(sorted(allowed))}")
        from alphanas.synth.api import check_pick_focus

        check_pick_focus(self.pick, self.focus)
        total = sum(probs.values())
        self.probabilities = {k: v / total for k, v in probs.items() if v > 0}

    def choose(self, rng: np.random.Generator, exclude: Any = ()) -> str:
        """A mutation name drawn with the strategy's probabilities, renormalised without ``exclude``."""
        names = [n for n in self.probabilities if n not in exclude]
        if not names:
            raise MutationFailed("no mutation kind applies")
        weights = np.array([self.probabilities[n] for n in names])
        return names[int(rng.choice(len(names), p=weights / weights.sum()))]

    def inapplicable(self, parent: Graph) -> dict[str, str]:
        """The strategy's mutation kinds that cannot apply to ``parent``, with why (they are not drawn):
        block duplication and deletion without a block whose input and output shapes are equal, and
        property-guided mutation without a node synthesis may replace."""
        out: dict[str, str] = {}
        names = set(self.probabilities or ())
        if names & {"duplicate_block", "delete_block"} and not shape_preserving_blocks(parent):
            for n in names & {"duplicate_block", "delete_block"}:
                out[n] = "no block with equal input and output shapes"
        if "property" in names:
            from alphanas.synth.select import eligible, ineligibility_summary

            if not any(eligible(n) for n in parent.nodes):
                out["property"] = f"no node synthesis can replace ({ineligibility_summary(parent.nodes)})"
        return out

    def apply(self, name: str, parent: Graph, seed_graph: Graph, rng: np.random.Generator) -> Mutant:
        """Apply mutation ``name`` (raises :class:`MutationFailed`)."""
        t0 = time.perf_counter()
        _VERIFY_CLOCK.seconds = 0.0
        if name == "duplicate_block":
            m = duplicate_block(parent, rng)
        elif name == "delete_block":
            m = delete_block(parent, rng, self.focus)
        elif name == "random_edit":
            m = random_edit(parent, rng)
        elif name == "random_sample":
            m = random_sample(seed_graph, rng, self.random_steps)
        else:
            m = property_mutation(parent, rng, synthesizer=self.synthesizer, p=self.p, budget_s=self.budget_s,
                                  properties=self.properties, vocabulary=self.vocabulary,
                                  hard_limit_s=self.hard_limit_s, pick=self.pick, focus=self.focus)
        m.timings["mutate_s"] = time.perf_counter() - t0
        # splice-and-verify time: in this process (block mutations, random edits), or the sandbox's
        m.timings["verify_s"] = float(getattr(_VERIFY_CLOCK, "seconds", 0.0)) + m.timings.get("verify_ms", 0.0) / 1000.0
        return m

    def propose(self, parent: Graph, seed_graph: Graph, rng: np.random.Generator) -> Mutant:
        """One mutation drawn with the strategy's probabilities among the kinds that can apply to
        ``parent`` (raises :class:`MutationFailed`, naming why each kind cannot apply when none can)."""
        skip = self.inapplicable(parent) if self.strategy != "random" else {}
        if skip and all(n in skip for n in self.probabilities or ()):
            raise MutationFailed("no mutation kind applies: " + "; ".join(f"{k}: {v}" for k, v in sorted(skip.items())))
        return self.apply(self.choose(rng, skip), parent, seed_graph, rng)
