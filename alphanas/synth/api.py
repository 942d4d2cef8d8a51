"""The public entry points: :func:`synthesize` (one problem) and :func:`mutate` (one αNAS mutation).

``mutate`` = select a random subgraph (optionally inside a block), infer its properties, mutate them
as αNAS does (shape never relaxed), synthesize a different subgraph satisfying the target, splice it
into a copy of the graph and verify that copy end to end.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from alphanas.ir.graph import Graph
from alphanas.synth import props as P
from alphanas.synth.problem import BudgetExceeded, SynthesisFailed, SynthesisProblem, SynthesisResult, Vocabulary
from alphanas.synth.select import block_nodes, random_subgraph
from alphanas.synth.term import Materializer, describe, encode
from alphanas.ir.subgraph import fragment
from alphanas.synth.verify import Deadline, check_graph, check_region, copy_with_subgraph, feed_length
from alphanas.ir.hashing import structural_hash

#: synthesizer names: the e-graph synthesizer (default); αNAS's progressive synthesizer, scoring every
#: candidate by a full property inference as αNAS does; the same with the memoised term evaluator.
SYNTHESIZERS = ("egraph", "progressive", "progressive-cached")
#: how a synthesizer chooses among satisfying results: seeded random (diversity) or fewest FLOPs
PICKS = ("random", "cheapest")
#: where a mutation's subgraph starts: uniformly (None, αNAS) or in proportion to a node's cost
FOCUSES = (None, "params", "flops")


def check_pick_focus(pick: str, focus: str | None) -> None:
    """Raise :class:`~alphanas.errors.AlphanasError` for a ``pick`` or ``focus`` not in :data:`PICKS` /
    :data:`FOCUSES`."""
    from alphanas.errors import AlphanasError

    if pick not in PICKS:
        raise AlphanasError(f"unknown pick {pick!r}; choose from {', '.join(PICKS)}")
    if focus not in FOCUSES:
        raise AlphanasError(f"unknown focus {focus!r}; choose from none, {', '.join(f for f in FOCUSES if f)}")


@dataclass
class MutationResult:
    """One property-guided mutation: the verified new graph, the replaced and the new subgraph, the
    target and achieved properties, a description, and timings (synthesis and verification apart)."""

    graph: Graph
    old: Graph
    new: Graph
    target: Any
    achieved: Any
    description: str
    synth_ms: float
    verify_ms: float
    original: Any = None  # the properties of the old subgraph, before mutation
    draws: int = 1  # subgraph and target draws it took (a synthesis that found nothing is followed by another)
    budget_s: float | None = None  # the time budget of the whole mutation (see mutate)
    elapsed_ms: float | None = None  # what the whole mutation took: lowering check, draws, synthesis, verification
    not_lowered: str | None = None  # why the whole model does not lower to torch (only the region was run in torch)


def _terms(problem: SynthesisProblem, synthesizer: str):
    """(encoding, list of root terms, stats) from the chosen synthesizer."""
    if synthesizer == "egraph":
        from alphanas.synth.egraph import entry_term, synthesize_egraph

        enc, ex, chosen, ev, stats = synthesize_egraph(problem)
        memo: dict = {}
        return enc, [entry_term(ex.nodes, e, memo) for e in chosen], stats
    if synthesizer in ("progressive", "progressive-cached"):
        from alphanas.synth.progressive import synthesize_progressive

        return synthesize_progressive(problem, cached=synthesizer == "progressive-cached")
    from alphanas.errors import AlphanasError

    raise AlphanasError(f"unknown synthesizer {synthesizer!r}; choose from {', '.join(SYNTHESIZERS)}")


def synthesize(problem: SynthesisProblem, synthesizer: str = "egraph", *, verify: bool = True) -> SynthesisResult:
    """Solve one synthesis problem; the result is spliced into a copy of the graph and verified.

    ``result.graph`` is that whole graph. Raises :class:`SynthesisFailed`. ``verify=False`` skips only
    the end-to-end checks (the caller then runs :func:`~alphanas.synth.verify.check_graph` on
    ``result.graph`` itself, e.g. to time it apart).
    """
    t0 = time.perf_counter()
    enc, roots, stats = _terms(problem, synthesizer)
    synth_ms = (time.perf_counter() - t0) * 1e3
    t1 = time.perf_counter()
    g2, sub2 = copy_with_subgraph(problem.graph, problem.subgraph)
    enc2 = encode(sub2)
    m = Materializer(enc2.fixed, np.random.default_rng([problem.seed, 7]), prefix="syn")
    memo: dict = {}
    try:
        outs = [m.build(r, sub2.inputs, memo) for r in roots]
    except Exception as e:
        raise SynthesisFailed(f"{synthesizer}: materialising the result failed: {e}") from e
    new_frag = fragment("new", sub2.inputs, m.nodes, outs)
    old_frag = sub2.to_graph("old")
    if structural_hash(new_frag) == structural_hash(old_frag):
        raise SynthesisFailed(f"{synthesizer}: the result is structurally identical to the original subgraph", 0.0)
    try:
        achieved = P.infer(new_frag, problem.names)
        dist = float(problem.target.distance(achieved))
    except Exception as e:
        raise SynthesisFailed(f"{synthesizer}: property inference on the result failed: {e}") from e
    if dist != 0:
        raise SynthesisFailed(f"{synthesizer}: the materialised result does not satisfy the target", dist)
    try:
        g2.replace(sub2, m.nodes, dict(zip(sub2.outputs, outs)))
    except Exception as e:
        raise SynthesisFailed(f"{synthesizer}: splicing failed: {e}") from e
    if verify:
        check_graph(g2, seed=problem.seed)
    verify_ms = (time.perf_counter() - t1) * 1e3
    desc = "; ".join(describe(r) for r in roots)
    return SynthesisResult(nodes=m.nodes, output_map=dict(zip(sub2.outputs, outs)), achieved=achieved,
                           distance=dist, synth_ms=synth_ms, description=desc, synthesizer=synthesizer,
                           graph=g2, new=new_frag, old=old_frag, verify_ms=verify_ms, stats=stats)


def make_problem(graph: Graph, rng: np.random.Generator, *, seed: int, block: str | None = None, p: float = 0.5,
                 budget_s: float = 1.0, properties=("shape", "depth", "mixing"), vocabulary=None,
                 pick: str = "random", focus: str | None = None) -> tuple[SynthesisProblem, Any]:
    """Select a subgraph and mutate its properties as αNAS does; returns (problem, original properties).

    ``focus`` (``"params"``/``"flops"``) starts the subgraph at a node drawn in proportion to that cost
    (:func:`~alphanas.synth.select.random_subgraph`); ``pick`` is the problem's ``random``/``cheapest``.
    """
    check_pick_focus(pick, focus)
    within = block_nodes(graph, block, rng)
    sub = random_subgraph(graph, rng, within=within, focus=focus)
    names = tuple(properties)
    original = P.infer(sub.to_graph("old"), names)
    target = original.mutate(rng, {n: (0.0 if n == "shape" else p) for n in names})
    problem = SynthesisProblem(graph=graph, subgraph=sub, target=target, names=names,
                               vocabulary=vocabulary or Vocabulary(), budget_s=budget_s, seed=seed, pick=pick)
    return problem, original


#: a mutation draws a new subgraph and target after a synthesis that finds nothing, up to this many
#: times, while its time budget lasts (αNAS draws again too: one mutation is one verified child)
MAX_DRAWS = 4
#: the share of a mutation's budget kept for splice-and-verify: a synthesis gets what is left of the
#: budget less this share (at least 5 % of the budget)
VERIFY_SHARE = 0.3
#: above this many FLOPs (batch 1) the end-to-end checks run the replaced region in context (the new
#: subgraph with its boundary as inputs) after the whole graph's IR and ONNX checks, instead of an
#: onnxruntime session and a torch step on the whole model: verification stays within the budget
REGION_VERIFY_FLOPS = 2e8


def _verify_result(graph: Graph, res: SynthesisResult, seed: int, deadline: Deadline | None = None,
                   length: int | None = None) -> None:
    """End-to-end checks of a spliced result: the whole graph, or above :data:`REGION_VERIFY_FLOPS`
    the whole graph's IR and ONNX checks plus a full check of the new region (fed, when it has several
    inputs of symbolic size, the values a whole-model onnxruntime run gives them); ``deadline`` cuts them
    (:class:`~alphanas.synth.problem.BudgetExceeded`) when they would end after it."""
    from alphanas.ir.cost import graph_flops

    if graph_flops(graph) <= REGION_VERIFY_FLOPS:
        check_graph(graph, seed=seed, deadline=deadline, length=length)
        return
    import onnx

    from alphanas.ir.onnx_io import to_onnx

    try:
        if deadline is not None:
            deadline.check("whole-graph IR verify")
        graph.verify()
        if deadline is not None:
            deadline.check("whole-graph ONNX checker")
        onnx.checker.check_model(to_onnx(graph).SerializeToString(), full_check=True)
    except BudgetExceeded:
        raise
    except Exception as e:  # noqa: BLE001
        raise SynthesisFailed(f"splice-and-verify failed at whole-graph checks: {type(e).__name__}: {str(e)[:300]}") from e
    from alphanas.ir.runtime import is_dynamic

    if len(res.new.inputs) > 1 and is_dynamic(res.new):  # inputs whose symbolic sizes must agree: the whole
        check_region(graph, res.new, seed=seed, deadline=deadline, length=length)  # model's values
    else:
        check_graph(res.new, seed=seed, deadline=deadline)


#: sizes of the dimensions after the batch tried, in turn, for the whole-model onnxruntime run of a model
#: that does not lower to torch (the first the original runs at is used; none: that run is left out)
PARTIAL_LENGTHS = (32, 256, 1024)


def _verify_partial(original: Graph, res: SynthesisResult, seed: int, deadline: Deadline) -> None:
    """Checks of a result spliced into a model that does not lower to torch (an LSTM, an ``If``): the whole
    graph's IR and ONNX checks and an onnxruntime run with finite outputs (on inputs the original model
    takes, at the first of :data:`PARTIAL_LENGTHS` it runs at; when it runs at none, e.g. an export that
    traced its example's sequence length, this run is left out), and the full check of the new region,
    torch step included, on the values the whole model gives the region's inputs."""
    import onnx

    from alphanas.ir.onnx_io import to_onnx
    from alphanas.ir.runtime import random_feeds, session

    graph = res.graph
    stage = "whole-graph IR verify"
    try:
        deadline.check(stage)
        graph.verify()
        stage = "whole-graph ONNX checker"
        deadline.check(stage)
        model = to_onnx(graph).SerializeToString()
        onnx.checker.check_model(model, full_check=True)
        stage = "whole-graph onnxruntime run"
        deadline.check(stage)
        feeds = None
        ref = session(to_onnx(original).SerializeToString(), "cpu")
        for length in PARTIAL_LENGTHS:  # the first size the original runs at (Silero VAD needs > 64 samples)
            try:
                feeds = random_feeds(original, batch=2, seed=seed, length=length, states_follow_batch=True)
                ref.run(None, feeds)
                break
            except Exception:  # noqa: BLE001  (an input of unknown shape, or a size the model does not take)
                feeds = None
        outs = [] if feeds is None else session(model, "cpu").run(None, feeds)
        if not all(np.isfinite(o).all() for o in outs if o.dtype.kind == "f"):
            raise ValueError("non-finite output")
    except BudgetExceeded:
        raise
    except Exception as e:  # noqa: BLE001
        raise SynthesisFailed(f"splice-and-verify failed at {stage}: {type(e).__name__}: {str(e)[:300]}") from e
    if feeds is None:  # (the whole model runs at no size we found: the region on random inputs)
        check_graph(res.new, seed=seed, deadline=deadline)
    else:  # the region fed the values the whole model gives its inputs (sizes that agree)
        check_region(graph, res.new, seed=seed, deadline=deadline, feeds=feeds)


def mutate(graph: Graph, *, seed: int, synthesizer: str = "egraph", block: str | None = None, p: float = 0.5,
           budget_s: float = 1.0, properties=("shape", "depth", "mixing"), vocabulary=None, pick: str = "random",
           focus: str | None = None, partial: bool = True,
           on_stage: Callable[[str], None] | None = None) -> MutationResult:
    """One property-guided mutation of ``graph`` (which is not modified). Raises :class:`SynthesisFailed`.

    ``pick="cheapest"`` returns the satisfying subgraph with the fewest FLOPs the synthesizer finds
    (instead of a seeded random one); ``focus`` draws the subgraph where the parameters or FLOPs are
    (see :func:`make_problem`). Both default to αNAS's behaviour.

    A graph that does not lower to torch (an LSTM, an ``If``: checked first) is still mutated in the
    rest with ``partial`` (the default): a drawn subgraph must lower before anything is synthesized for
    it (a fresh draw otherwise), and the result is verified by the whole graph's IR, ONNX and
    onnxruntime checks and the new region's full check, torch step included (such a model cannot be
    trained by alphanas); without ``partial`` it is refused
    (:class:`~alphanas.errors.UnsupportedModelError` naming the node). ``budget_s`` bounds the whole
    mutation, verification included: the clock starts once torch, onnx and onnxruntime are imported
    and the e-graph program compiled (one-time costs of the process) and covers the lowering check,
    every draw, synthesis, splicing and verification. A synthesis that finds nothing is followed by a fresh draw (subgraph and
    target, up to :data:`MAX_DRAWS`) only while the budget lasts, each synthesis gets what is left of it
    less :data:`VERIFY_SHARE` of the budget, and large models verify the replaced region in context
    (:data:`REGION_VERIFY_FLOPS`). Verification that would end after the budget is cut before its next
    stage (:class:`~alphanas.synth.verify.Deadline`) and the mutation fails with
    :class:`~alphanas.synth.problem.BudgetExceeded` ("verification exceeded the budget"): an unverified
    graph is never returned. In this process the overrun is at most the one check that was running; the
    hard cap (a kill at the budget plus a small slack, whatever the stage) is
    :meth:`alphanas.search.sandbox.SynthesisSandbox.mutate`, which runs this function in its worker
    process (``alphanas mutate`` and the search do). ``on_stage(name)`` is told each stage the mutation
    enters, the first one when the budget's clock starts (after the one-time costs above); the worker
    forwards them to its parent.
    """
    from alphanas.errors import AlphanasError, UnsupportedModelError
    from alphanas.synth.verify import lowering_blocker

    if synthesizer not in SYNTHESIZERS:
        raise AlphanasError(f"unknown synthesizer {synthesizer!r}; choose from {', '.join(SYNTHESIZERS)}")
    import torch.fx  # noqa: F401  (imported before the clock starts: a one-time cost of the process)
    import onnx  # noqa: F401  (so are the ONNX and onnxruntime imports of the verification, ~1 s together)
    import onnxruntime  # noqa: F401

    if synthesizer == "egraph":  # so is compiling the egglog program of a vocabulary (cached per process)
        from alphanas.synth.egraph import _compiled

        _compiled(vocabulary or Vocabulary())
    deadline = Deadline(budget_s, on_stage=on_stage)
    t0 = deadline.start
    deadline.enter("lowering check")
    blocker = lowering_blocker(graph)
    if blocker is not None and not partial:
        raise UnsupportedModelError(f"graph {graph.name!r} cannot be mutated: it does not lower to torch, which "
                                    f"splice-and-verify and training need ({blocker})")
    # inputs the original takes in torch (a dynamic model may pool the default size down to nothing)
    if blocker is None:
        deadline.enter("input size probe")
    length = feed_length(graph, seed=seed) if blocker is None else None
    deadline.check("synthesis", what="the mutation")  # (the lowering check of a large model can spend it)
    rng = np.random.default_rng(seed)
    errors: list[SynthesisFailed] = []
    for draw in range(MAX_DRAWS):
        left = budget_s - (time.perf_counter() - t0)
        if draw and left < 0.2 * budget_s:
            break
        problem, original = make_problem(graph, rng, seed=seed + 7919 * draw, block=block, p=p,
                                         budget_s=max(left - VERIFY_SHARE * budget_s, 0.05 * budget_s),
                                         properties=properties,
                                         vocabulary=vocabulary, pick=pick, focus=focus)
        if blocker is not None:  # the model does not lower: the region must, before anything is synthesized
            deadline.enter("region lowering check")
            region_blocker = lowering_blocker(problem.subgraph.to_graph("old"))
            if region_blocker is not None:
                errors.append(SynthesisFailed(f"the chosen subgraph does not lower to torch ({region_blocker})"))
                continue
        deadline.enter("synthesis")
        try:
            res = synthesize(problem, synthesizer, verify=False)
        except SynthesisFailed as e:
            errors.append(e)
            if "splicing failed" in str(e) or "materialising" in str(e):
                raise  # an invalid result is a bug to see, not a reason to draw again
            continue
        t1 = time.perf_counter()
        if blocker is None:
            _verify_result(res.graph, res, problem.seed, deadline, length)
        else:
            _verify_partial(graph, res, problem.seed, deadline)
        verify_ms = res.verify_ms + (time.perf_counter() - t1) * 1e3
        return MutationResult(graph=res.graph, old=res.old, new=res.new, target=problem.target,
                              achieved=res.achieved, description=res.description, synth_ms=res.synth_ms,
                              verify_ms=verify_ms, original=original, draws=draw + 1, budget_s=budget_s,
                              elapsed_ms=deadline.elapsed() * 1e3, not_lowered=blocker)
    if not errors:
        raise SynthesisFailed("no time left for a synthesis")
    if len(errors) == 1:
        raise errors[0]
    last = errors[-1]
    raise SynthesisFailed(f"{last.reason} ({len(errors)} draw(s) in {time.perf_counter() - t0:.1f} s)",
                          last.best_distance)
