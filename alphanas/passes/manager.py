"""``PassManager``: run passes in sequence, to a fixed point, with a check after every pass."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from alphanas.errors import AlphanasError, InvalidGraphError
from alphanas.ir.graph import Graph
from alphanas.passes.base import Pass, PassResult


class PassVerificationError(AlphanasError):
    """The graph broke an IR invariant after a pass; the message names the pass."""


class PassFailedError(AlphanasError):
    """A pass raised an unexpected exception (a bug in the pass); the message names the pass."""


class FixedPointError(AlphanasError):
    """The passes still changed the graph in the last of ``max_rounds`` rounds (no fixed point)."""


@dataclass
class PassRecord:
    """One pass application: which pass, in which round, and whether it changed the graph."""

    name: str
    round: int
    modified: bool
    nodes_after: int


@dataclass
class PassManager:
    """Runs ``passes`` in order; with ``fixed_point`` repeats the sequence until a whole round leaves the
    graph unchanged, and raises :class:`FixedPointError` when the last of ``max_rounds`` rounds still
    changed it (passes that undo each other, or a pass that always reports ``modified``). With
    ``verify`` it calls ``graph.verify()`` after each pass and raises :class:`PassVerificationError`
    naming the pass that broke the graph. A pass raising anything but an
    :class:`~alphanas.errors.AlphanasError` becomes a :class:`PassFailedError` naming it.

    ``on_pass`` (optional) is called with each :class:`PassRecord` (e.g. to drive a progress bar).
    """

    passes: Sequence[Pass]
    fixed_point: bool = True
    max_rounds: int = 10
    verify: bool = True
    on_pass: Callable[[PassRecord], None] | None = None
    history: list[PassRecord] = field(default_factory=list)

    def run(self, graph: Graph, *, copy: bool = True) -> PassResult:
        """Apply the passes (to a copy of ``graph`` unless ``copy=False``)."""
        if self.max_rounds < 1:
            raise AlphanasError(f"PassManager: max_rounds must be >= 1, got {self.max_rounds}")
        g = graph.copy() if copy else graph
        self.history = []
        any_change = False
        for rnd in range(1, self.max_rounds + 1):
            changed = False
            for p in self.passes:
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
                rec = PassRecord(p.name, rnd, bool(result.modified), len(g.nodes))
                self.history.append(rec)
                if self.on_pass is not None:
                    self.on_pass(rec)
                changed |= bool(result.modified)
            any_change |= changed
            if not self.fixed_point or not changed:
                break
        else:
            raise FixedPointError(
                f"no fixed point after {self.max_rounds} round(s): "
                f"{', '.join(r.name for r in self.history if r.round == self.max_rounds and r.modified)} "
                "still changed the graph in the last round; raise the round limit (--max-rounds) or drop a pass "
                "that undoes another")
        return PassResult(g, any_change)

    def __call__(self, graph: Graph) -> PassResult:
        return self.run(graph)
