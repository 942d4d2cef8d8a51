"""``PropertySet``: several properties of one (sub)graph, inferred in one analysis pass."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

import numpy as np

from alphanas.properties.base import Property, forward
from alphanas.properties.registry import registry

DEFAULT = ("shape", "depth", "mixing")


class PropertySet(Mapping):
    """An immutable mapping ``name -> Property``; total distance is the sum of the members'."""

    def __init__(self, props: Mapping[str, Property] | Sequence[Property]) -> None:
        items = props.items() if isinstance(props, Mapping) else ((p.name, p) for p in props)
        self._props: dict[str, Property] = dict(items)

    @classmethod
    def infer(cls, graph_or_subgraph, names: Sequence[str] = DEFAULT) -> "PropertySet":
        """Infer ``names`` (registered property names) with one forward pass over the nodes."""
        reg = registry()
        unknown = [n for n in names if n not in reg]
        if unknown:
            from alphanas.errors import AlphanasError

            raise AlphanasError(f"unknown propert{'y' if len(unknown) == 1 else 'ies'} {', '.join(unknown)}; "
                                f"available: {', '.join(sorted(reg))}")
        classes = [reg[n] for n in names]
        with_domain = [(c, c.domain) for c in classes if c.domain is not None]
        envs = forward(graph_or_subgraph, [d for _, d in with_domain]) if with_domain else []
        inputs, outputs = list(graph_or_subgraph.inputs), list(graph_or_subgraph.outputs)
        props: dict[str, Property] = {}
        for env, (c, _) in zip(envs, with_domain):
            props[c.name] = c.from_states(inputs, [env.get(v) for v in outputs])
        for c in classes:
            if c.domain is None:
                props[c.name] = c.infer(graph_or_subgraph)
        return cls({n: props[n] for n in names})

    def __getitem__(self, name: str) -> Property:
        return self._props[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._props)

    def __len__(self) -> int:
        return len(self._props)

    def distance(self, candidate: "PropertySet") -> float:
        """Sum of the members' distances (a member the candidate lacks is inferred as unsatisfied: inf)."""
        total = 0.0
        for name, p in self._props.items():
            if name not in candidate:
                return float("inf")
            total += p.distance(candidate[name])
        return total

    def satisfied_by(self, candidate: "PropertySet") -> bool:
        return all(name in candidate and p.satisfied_by(candidate[name]) for name, p in self._props.items())

    def mutate(self, rng: np.random.Generator, p: float | Mapping[str, float]) -> "PropertySet":
        """Mutate every member (in name order of this set) with its ``p`` (a float applies to all)."""
        out = {}
        for name, prop in self._props.items():
            pp = p.get(name, 0.0) if isinstance(p, Mapping) else p
            out[name] = prop.mutate(rng, pp)
        return PropertySet(out)

    def to_json(self) -> dict:
        return {name: p.to_json() for name, p in self._props.items()}

    @classmethod
    def from_json(cls, d: Mapping) -> "PropertySet":
        reg = registry()
        return cls({name: reg[name].from_json(v) for name, v in d.items()})

    def describe(self) -> str:
        return "\n".join(p.describe() for p in self._props.values())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PropertySet) and self._props == other._props

    def __hash__(self) -> int:
        return hash(tuple(sorted((k, hash(v)) for k, v in self._props.items())))

    def __repr__(self) -> str:
        return f"PropertySet({', '.join(self._props)})"
