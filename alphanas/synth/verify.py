"""Splice a synthesized subgraph into (a copy of) the whole graph and check it end to end.

Checks, in order: IR ``verify``, ``onnx.checker`` (full check), one onnxruntime run with finite
outputs, a torch forward in training mode and one backward step with finite gradients. Any failure
is reported as :class:`~alphanas.synth.problem.SynthesisFailed`, never as a crash.

A :class:`Deadline` bounds the checks in time: before each stage (and before the torch step, whose time
is predicted from the onnxruntime run's) it raises :class:`~alphanas.synth.problem.BudgetExceeded` when
the stage would start after the deadline or is predicted to end past it. A stage that has started is
not interrupted here, so in-process the overrun is at most one stage; the result is then dropped, never
returned unverified. The hard cap is the caller's: ``alphanas mutate`` and the search run the whole
mutation in the synthesis sandbox's worker process (:mod:`alphanas.search.sandbox`), which the parent kills
once the budget plus a small slack is spent. For that, a deadline reports the stage it enters
(``on_stage``), so that the parent can name the stage it stopped.
"""

from __future__ import annotations

import contextlib
import io
import time

import numpy as np

from collections.abc import Callable

from alphanas.errors import AlphanasError
from alphanas.ir.graph import Graph
from alphanas.ir.subgraph import Subgraph
from alphanas.synth.problem import BudgetExceeded, SynthesisFailed

#: the torch forward and backward step is predicted to take this many times the onnxruntime run
#: (forward only, optimised kernels) when deciding whether it fits in what is left of a budget
TORCH_STEP_FACTOR = 3.0


class Deadline:
    """The end of a time budget of ``budget_s`` seconds started at ``start`` (``time.perf_counter``).

    ``stage`` is the stage last entered (:meth:`enter`, or a :meth:`check` that let it start);
    ``on_stage(name)`` is called on each (the sandbox worker tells its parent)."""

    def __init__(self, budget_s: float, start: float | None = None,
                 on_stage: Callable[[str], None] | None = None) -> None:
        self.budget_s = float(budget_s)
        self.start = time.perf_counter() if start is None else start
        self.at = self.start + self.budget_s
        self.on_stage = on_stage
        self.stage = "start"

    def enter(self, stage: str) -> None:
        """Record that ``stage`` starts now (no check)."""
        self.stage = stage
        if self.on_stage is not None:
            self.on_stage(stage)

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def left(self) -> float:
        return self.at - time.perf_counter()

    def check(self, stage: str, needs_s: float = 0.0, what: str = "verification") -> None:
        """Raise :class:`BudgetExceeded` (``what`` exceeded the budget) when ``stage`` cannot start (or,
        taking ``needs_s``, cannot end) before the deadline."""
        left = self.left()
        if left <= 0:
            raise BudgetExceeded(stage, self.elapsed(), self.budget_s, what=what)
        if needs_s > left:
            raise BudgetExceeded(stage, self.elapsed(), self.budget_s,
                                 f"it would take about {needs_s:.2f} s and {left:.2f} s are left", what=what)
        self.enter(stage)


def copy_with_subgraph(graph: Graph, sub: Subgraph) -> tuple[Graph, Subgraph]:
    """A structural copy of ``graph`` and the same subgraph on it (matched by node name)."""
    g2 = graph.copy()
    by_name = {n.name: n for n in g2.nodes}
    return g2, Subgraph(g2, [by_name[n.name] for n in sub.nodes])


def lowering_blocker(graph: Graph) -> str | None:
    """Why ``graph`` cannot be lowered to torch (one line naming the node and op), or None when it can.

    Splice-and-verify ends with a torch step, and a search trains the child in torch: a model that does
    not lower cannot be mutated, so :func:`~alphanas.synth.api.mutate` asks this before it synthesizes.
    """
    from alphanas.errors import one_line
    from alphanas.ir.torch_lowering import to_torch

    try:
        to_torch(graph)
    except Exception as e:  # noqa: BLE001 - every refusal (or lowering bug) blocks the mutation the same way
        return one_line(f"{type(e).__name__}: {e}" if not isinstance(e, AlphanasError) else str(e), 300)
    return None


def feed_length(graph: Graph, seed: int = 0, batch: int = 2, lengths=(32, 64, 128, 256)) -> int | None:
    """The first of ``lengths`` (the size given to the symbolic dimensions after the batch) at which the
    torch lowering of ``graph`` runs forward on random inputs; ``None`` when the graph has no such
    dimension or none of them works. A classifier with dynamic height and width (PP-OCR's direction
    classifier) pools 32 pixels down to nothing in torch, where onnxruntime still answers."""
    import torch
    from alphanas.ir.torch_lowering import to_torch

    from alphanas.ir.runtime import is_dynamic, random_feeds

    if not is_dynamic(graph):
        return None
    try:
        module = to_torch(graph)
    except Exception:  # noqa: BLE001  (does not lower: the checks say why)
        return None
    for n in lengths:
        try:
            feeds = random_feeds(graph, batch=batch, seed=seed, length=n)
            # (torch.fx prints the generated code's traceback to stderr before it raises: a size that does not
            # fit is an expected answer here, not something to show)
            with torch.no_grad(), contextlib.redirect_stderr(io.StringIO()):
                module(*[torch.from_numpy(feeds[v.name]) for v in graph.inputs])
        except Exception:  # noqa: BLE001
            continue
        return n
    return None


def region_inputs(graph: Graph, names: list[str], feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The values the values ``names`` of ``graph`` take when ``graph`` runs on ``feeds`` (one onnxruntime
    run with them as extra outputs; graph inputs are taken from ``feeds``)."""
    from onnx import helper

    from alphanas.ir.onnx_io import to_onnx
    from alphanas.ir.runtime import session

    produced = {v.name: v for n in graph.nodes for v in n.outputs}
    wanted = [name for name in names if name not in feeds]
    proto = to_onnx(graph)
    have = [o.name for o in proto.graph.output]
    extra = [name for name in wanted if name not in have]
    for name in extra:
        dtype = helper.np_dtype_to_tensor_dtype(np.dtype(produced[name].dtype))
        proto.graph.output.append(helper.make_tensor_value_info(name, dtype, None))
    outs = session(proto.SerializeToString(), "cpu").run(None, feeds)
    got = dict(zip(have + extra, outs))
    return {name: feeds[name] if name in feeds else got[name] for name in names}


def check_region(graph: Graph, region: Graph, seed: int = 0, batch: int = 2, deadline: Deadline | None = None,
                 length: int | None = None, feeds: dict[str, np.ndarray] | None = None) -> None:
    """:func:`check_graph` on ``region`` (a fragment of ``graph`` whose inputs are values of ``graph``, by
    name) fed the values the whole graph gives those inputs on random inputs (``feeds`` when given),
    not independent random inputs: two region inputs whose shapes share a symbolic size (``n`` and
    ``Max(m, n)``) must get sizes the whole model would give them together."""
    from alphanas.ir.runtime import random_feeds

    stage = "whole-graph onnxruntime run for the region's inputs"
    if deadline is not None:
        deadline.check(stage)
    try:
        whole = feeds if feeds is not None else random_feeds(graph, batch=batch, seed=seed, length=length)
        values = region_inputs(graph, [v.name for v in region.inputs], whole)
    except Exception as e:  # noqa: BLE001
        raise SynthesisFailed(f"splice-and-verify failed at {stage}: {type(e).__name__}: {str(e)[:300]}") from e
    check_graph(region, seed=seed, batch=batch, deadline=deadline, feeds=values)


def check_graph(graph: Graph, seed: int = 0, batch: int = 2, deadline: Deadline | None = None,
                length: int | None = None, feeds: dict[str, np.ndarray] | None = None) -> None:
    """Run every check on a whole graph; raises SynthesisFailed naming the failed check (and
    :class:`~alphanas.synth.problem.BudgetExceeded` when ``deadline`` cuts it: see the module docstring).
    ``length``: the size of the symbolic dimensions after the batch in the random inputs (default: the
    runtime's, 32; :func:`feed_length` finds one the original model takes); ``feeds``: the inputs to use
    instead of random ones (:func:`check_region`)."""
    import onnx
    import torch
    from alphanas.ir.torch_lowering import to_torch

    from alphanas.ir.onnx_io import to_onnx
    from alphanas.ir.runtime import random_feeds, session

    def at(name: str, needs_s: float = 0.0) -> str:
        if deadline is not None:
            deadline.check(name, needs_s)
        return name

    stage = at("IR verify")
    try:
        graph.verify()
        stage = at("ONNX export")
        model = to_onnx(graph).SerializeToString()  # serialised once for both the checker and the session
        stage = at("ONNX checker")
        onnx.checker.check_model(model, full_check=True)
        stage = at("onnxruntime run")
        if feeds is None:
            feeds = random_feeds(graph, batch=batch, seed=seed, length=length)
        sess = session(model, "cpu")
        t_ort = time.perf_counter()  # (the run alone: creating the session has no counterpart in torch)
        outs = sess.run(None, feeds)
        t_ort = time.perf_counter() - t_ort
        if not all(np.isfinite(o).all() for o in outs if o.dtype.kind == "f"):
            raise ValueError("non-finite output")
        stage = at("torch forward/backward", TORCH_STEP_FACTOR * t_ort)
        module = to_torch(graph)
        module.train()
        # float inputs take gradients too, so that a region without weights is still checked backward
        args = [torch.from_numpy(feeds[v.name]) for v in graph.inputs]
        args = [a.requires_grad_(True) if torch.is_floating_point(a) else a for a in args]
        with contextlib.redirect_stderr(io.StringIO()):  # (torch.fx would print a traceback before raising)
            res = module(*args)
        res = res if isinstance(res, (tuple, list)) else [res]
        loss = sum(r.float().mean() for r in res if torch.is_floating_point(r))
        loss.backward()
        for p in module.parameters():
            if p.grad is not None and not torch.isfinite(p.grad).all():
                raise ValueError("non-finite gradient")
    except SynthesisFailed:
        raise
    except Exception as e:  # every check failure is a synthesis failure, never a crash
        raise SynthesisFailed(f"splice-and-verify failed at {stage}: {type(e).__name__}: {str(e)[:300]}") from e
