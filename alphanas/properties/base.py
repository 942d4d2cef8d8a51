"""The abstract-interpretation framework: :class:`Domain`, :func:`analyze`, :class:`Property`.

A *domain* is the per-value state of one analysis (shape, depth, mixing, ...). :func:`analyze` walks
the nodes of a graph or subgraph once, in topological order, and asks each domain's ``transfer``
for the states of a node's outputs from the states of its inputs. A state describes a value with
respect to **all** inputs of the analysed (sub)graph at once (domains keep one entry per input), so
one pass gives the results for every (input, output) pair.

A *property* is an immutable, comparable value built from the states at the outputs
(:meth:`Property.from_states`). It knows how far a candidate is from satisfying it
(:meth:`Property.distance`, 0 exactly when satisfied) and how to relax or tighten itself
(:meth:`Property.mutate`). Properties are registered by name; third-party properties plug in
through the entry-point group ``alphanas.properties`` (see :func:`registry`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

if TYPE_CHECKING:
    from typing_extensions import Self

    from alphanas.ir.graph import Graph, Node, Value
    from alphanas.ir.subgraph import Subgraph

State = Any


class Domain:
    """One abstract domain: the state of graph inputs, per-node transfer functions, and join."""

    name: str = ""

    def input_state(self, value: "Value", index: int, num_inputs: int) -> State:
        """State of input ``index`` (of ``num_inputs``) of the analysed (sub)graph."""
        raise NotImplementedError

    def transfer(self, node: "Node", in_states: list[State | None]) -> list[State]:
        """States of ``node``'s outputs; ``in_states[i]`` is ``None`` for a constant (weight) input."""
        raise NotImplementedError

    def join(self, a: State, b: State) -> State:
        """Least upper bound of two states of the same value."""
        raise NotImplementedError


def analyze(graph: "Graph | Subgraph", domains: Sequence[Domain]) -> dict[int, list[State]]:
    """Forward analysis of ``graph`` (a :class:`Graph` or :class:`Subgraph`) in every domain.

    Returns ``{id(value): [state per domain]}`` for the inputs and every value a node produces.
    Values read from outside the (sub)graph that are not among its inputs (constants, weights) have
    state ``None``.
    """
    envs = forward(graph, domains)
    values = list(graph.inputs) + [v for node in graph.nodes for v in node.outputs]
    return {id(v): [env[v] for env in envs] for v in values}


def forward(graph: "Graph | Subgraph", domains: Sequence[Domain]) -> list[dict["Value", State]]:
    """The states of :func:`analyze` as one ``{value: state}`` map per domain (what the properties read;
    no per-value lists to build). A value not in a map (a constant, a weight) has state ``None``."""
    inputs = graph.inputs
    n = len(inputs)
    envs: list[dict] = [{v: d.input_state(v, i, n) for i, v in enumerate(inputs)} for d in domains]
    steps = [(d.transfer, env.get, env.__setitem__, env.update) for d, env in zip(domains, envs)]
    # Values are hashed by identity, so they key the maps directly; ``get(None)`` is None for absent operands.
    for node in graph.nodes:
        ins = node.inputs
        outs = node.outputs
        if len(outs) == 1:
            out = outs[0]
            for transfer, get, put, _ in steps:
                put(out, transfer(node, list(map(get, ins)))[0])
        else:
            for transfer, get, _, update in steps:
                update(zip(outs, transfer(node, list(map(get, ins)))))
    return envs


def _boundary(graph: "Graph | Subgraph") -> tuple[list["Value"], list["Value"]]:
    return list(graph.inputs), list(graph.outputs)


class Property:
    """An abstract program property of a (sub)graph, with values per (input, output) pair.

    Instances are immutable and compare by value. Subclasses set ``name`` and ``domain`` and
    implement :meth:`from_states`, :meth:`distance`, :meth:`mutate`, :meth:`to_json`,
    :meth:`from_json` and :meth:`describe`.
    """

    name: ClassVar[str] = ""
    domain: ClassVar[Domain | None] = None

    @classmethod
    def infer(cls, graph: "Graph | Subgraph") -> "Property":
        """The property of ``graph`` (pairs: its inputs x its outputs)."""
        if cls.domain is None:
            raise NotImplementedError(f"{cls.__name__} has no domain: it must override infer")
        env = forward(graph, [cls.domain])[0]
        inputs, outputs = _boundary(graph)
        return cls.from_states(inputs, [env.get(v) for v in outputs])

    @classmethod
    def from_states(cls, graph_inputs: list["Value"], output_states: list[State]) -> "Property":
        raise NotImplementedError

    def distance(self, candidate: Self) -> float:
        """How far ``candidate`` is from satisfying this property: >= 0, and 0 exactly when satisfied."""
        raise NotImplementedError

    def satisfied_by(self, candidate: "Property") -> bool:
        return self.distance(candidate) == 0

    def mutate(self, rng: np.random.Generator, p: float) -> "Property":
        """A relaxed or tightened copy; every random choice comes from ``rng``."""
        raise NotImplementedError

    def to_json(self) -> dict:
        raise NotImplementedError

    @classmethod
    def from_json(cls, d: dict) -> "Property":
        raise NotImplementedError

    def describe(self) -> str:
        """A few human-readable lines."""
        raise NotImplementedError

    # value semantics
    def _key(self) -> Any:
        return self.to_json()

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash((type(self).__name__, repr(self._key())))

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.describe()!r}>"
