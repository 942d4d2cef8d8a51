"""The pass protocol: :class:`Pass` and :class:`PassResult`.

A pass transforms an :class:`~alphanas.ir.Graph` and says whether it changed anything. It declares how
(as onnx-ir's ``InPlacePass`` / ``FunctionalPass``): an *in-place* pass (``in_place = True``, the
default) mutates the graph it is given and returns that same object; a *functional* pass
(``in_place = False``) leaves its input untouched and returns a new graph. A
:class:`~alphanas.passes.PassManager` relies on the declaration to copy only when needed.
Semantics-preserving passes (``preserves_semantics = True``) must keep every graph output equal
(up to float rounding) for every input; the test suite checks each one against onnxruntime.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from alphanas.errors import AlphanasError
from alphanas.ir.graph import Graph


class PassConditionError(AlphanasError):
    """A pass's precondition or postcondition does not hold; the message names the pass."""


@dataclass
class PassResult:
    """The graph after a pass and whether the pass modified it."""

    graph: Graph
    modified: bool


class Pass:
    """Base class of graph passes.

    Subclasses set :attr:`name` (the registry and ``--pass`` name), a one-line docstring, and override
    :meth:`run`. :meth:`precondition` and :meth:`postcondition` are optional checks: return ``None``
    when they hold, or a message saying what is wrong. :meth:`__call__` runs the three in order.
    """

    name: ClassVar[str] = ""
    #: Whether outputs stay equal for all inputs (checked against onnxruntime in tests).
    preserves_semantics: ClassVar[bool] = True
    #: ``True``: mutates its input and returns the same graph object; ``False``: never mutates its input
    #: and returns a new graph (or the input itself when it changed nothing).
    in_place: bool = True

    def run(self, graph: Graph) -> PassResult:
        raise NotImplementedError

    def precondition(self, graph: Graph) -> str | None:
        return None

    def postcondition(self, graph: Graph) -> str | None:
        return None

    def __call__(self, graph: Graph) -> PassResult:
        problem = self.precondition(graph)
        if problem:
            raise PassConditionError(f"pass {self.name!r}: precondition failed on graph {graph.name!r}: {problem}")
        result = self.run(graph)
        if not isinstance(result, PassResult):
            return result  # the caller (PassManager) names the pass that returned something else
        if self.in_place and result.graph is not graph:
            raise PassConditionError(f"pass {self.name!r} declares in_place = True but returned a different graph "
                                     f"object than it was given (graph {graph.name!r}); declare in_place = False")
        problem = self.postcondition(result.graph)
        if problem:
            raise PassConditionError(f"pass {self.name!r}: postcondition failed on graph {graph.name!r}: {problem}")
        return result

    @classmethod
    def description(cls) -> str:
        return (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""

    def __repr__(self) -> str:
        return f"<Pass {self.name}>"
