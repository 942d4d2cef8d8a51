"""``PassManager``: run passes in sequence, to a fixed point, with a check after every pass.

A manager is itself a :class:`~alphanas.passes.Pass`, so managers nest: a manager can be one step of
another, which then sees one step that reports ``modified`` when any of its inner passes changed the graph
(the inner manager runs to its own fixed point within each outer round).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

from alphanas.errors import AlphanasError, InvalidGraphError, ParameterError
from alphanas.ir.cost import graph_params
from alphanas.ir.graph import Graph
from alphanas.passes.base import Pass, PassResult


class PassVerificationError(AlphanasError):
    """The graph broke an IR invariant after a pass; the message names the pass."""


class PassFailedError(AlphanasError):
    """A pass raised an unexpected exception (a bug in the pass); the message names the pass."""


class FixedPointError(ParameterError):
    """The passes still changed the graph in the last of ``max_rounds`` rounds (no fixed point)."""


@dataclass
class PassRecord:
    """One pass application: which pass, in which round, and whether it changed the graph."""

    name: str
    round: int
    modified: bool
    nodes_after: int
    #: Why the ``guard`` refused this pass's result (the graph was left as it was before the pass), or ``None``.
    refused: str | None = None
    #: Nodes before the pass, and parameter elements (:func:`~alphanas.ir.cost.graph_params`) before and after
    #: it: what the pass removed, folded or merged.
    nodes_before: int = 0
    params_before: int = 0
    params_after: int = 0


@dataclass
class PassManager(Pass):
    """Runs ``passes`` in order; with ``fixed_point`` repeats the sequence until a whole round leaves the
    graph unchanged, and raises :class:`FixedPointError` when the last of ``max_rounds`` rounds still
    changed it (passes that undo each other, or a pass that always reports ``modified``). With
    ``verify`` it calls ``graph.verify()`` after each pass and raises :class:`PassVerificationError`
    naming the pass that broke the graph. A pass raising anything but an
    :class:`~alphanas.errors.AlphanasError` becomes a :class:`PassFailedError` naming it.

    ``on_pass`` (optional) is called with each :class:`PassRecord` (e.g. to drive a progress bar).

    ``guard`` (optional) checks every graph a pass changed: it returns ``None`` when the graph is
    acceptable, or why not (e.g. :func:`~alphanas.passes.equivalence.rewrite_guard`: the ONNX checker,
    onnxruntime, equal outputs). A refused pass is undone, recorded in :attr:`refused` with the reason,
    and not run again; the other passes go on.

    Copies follow the passes' declarations: an in-place step mutates the manager's working graph, a
    functional step returns a new one. :meth:`run` copies the caller's graph once, and only when a step
    works in place. As a step of another manager (``manager(graph)``) a manager is itself in place when all
    its steps are (it then works on the graph it is given), and functional otherwise.
    """

    name: ClassVar[str] = "pass-manager"

    passes: Sequence[Pass]
    fixed_point: bool = True
    max_rounds: int = 10
    verify: bool = True
    on_pass: Callable[[PassRecord], None] | None = None
    guard: Callable[[Graph], str | None] | None = None
    history: list[PassRecord] = field(default_factory=list)
    #: Pass name -> why ``guard`` refused its result (filled by :meth:`run`).
    refused: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.in_place = all(p.in_place for p in self.passes)

    def run(self, graph: Graph, *, copy: bool = True) -> PassResult:
        """Apply the passes. ``graph`` is left untouched unless ``copy=False`` (then in-place steps mutate it);
        it is copied only when some step works in place (functional steps never mutate their input)."""
        if self.max_rounds < 1:
            raise AlphanasError(f"PassManager: max_rounds must be >= 1, got {self.max_rounds}")
        g = graph.copy() if copy and any(p.in_place for p in self.passes) else graph
        self.history = []
        self.refused = {}
        any_change = False
        for rnd in range(1, self.max_rounds + 1):
            changed = False
            for p in self.passes:
                if p.name in self.refused:
                    continue
                before = g.copy() if self.guard is not None and p.in_place else g
                nodes_before, params_before = len(g.nodes), graph_params(g)
                try:
                    result = p(g)
                except AlphanasError:
                    raise
                except Exception as e:
                    raise PassFailedError(f"pass {p.name!r} (round {rnd}) failed on graph {g.name!r}: "
                                          f"{type(e).__name__}: {e}") from e
                if not isinstance(result, PassResult):
                    raise PassFailedError(f"pass {p.name!r} returned {type(result).__name__}, not a PassResult")
                g = result.graph
                if self.verify:
                    try:
                        g.verify()
                    except InvalidGraphError as e:
                        raise PassVerificationError(f"pass {p.name!r} (round {rnd}) left an invalid graph: {e}") from e
                problem = self.guard(g) if self.guard is not None and result.modified else None
                if problem is not None:
                    g = before
                    self.refused[p.name] = problem
                rec = PassRecord(p.name, rnd, bool(result.modified) and problem is None, len(g.nodes), problem,
                                 nodes_before, params_before, graph_params(g) if result.modified else params_before)
                self.history.append(rec)
                if self.on_pass is not None:
                    self.on_pass(rec)
                changed |= rec.modified
            any_change |= changed
            if not self.fixed_point or not changed:
                break
        else:
            raise FixedPointError(
                "max_rounds",
                f"no fixed point after {self.max_rounds} round(s): "
                f"{', '.join(r.name for r in self.history if r.round == self.max_rounds and r.modified)} "
                "still changed the graph in the last round; raise the round limit ({max_rounds}) or drop a pass "
                "that undoes another")
        return PassResult(g, any_change)

    def __call__(self, graph: Graph) -> PassResult:
        """Run as one step of another manager: in place when every step is, else leaving ``graph`` untouched."""
        self.in_place = all(p.in_place for p in self.passes)
        return self.run(graph, copy=not self.in_place)

    def __repr__(self) -> str:
        return f"<PassManager [{', '.join(repr(p) for p in self.passes)}]>"
