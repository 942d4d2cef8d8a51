"""A subgraph: a set of nodes of a graph with its input/output boundary."""

from __future__ import annotations

from collections.abc import Iterable

from alphanas.ir.graph import Graph, Node, Value


class Subgraph:
    """A view on ``graph``: ``nodes`` (topological order), ``inputs`` (non-constant values read from
    outside) and ``outputs`` (values produced inside and read outside or returned by the graph)."""

    def __init__(self, graph: Graph, nodes: Iterable[Node]) -> None:
        chosen = {id(n) for n in nodes}
        self.graph = graph
        self.nodes: list[Node] = [n for n in graph.nodes if id(n) in chosen]
        if len(self.nodes) != len(chosen):
            raise ValueError("subgraph nodes must belong to the graph")
        produced = {id(v) for n in self.nodes for v in n.outputs}
        inputs: dict[int, Value] = {}
        for n in self.nodes:
            for v in n.inputs:
                if v is not None and id(v) not in produced and not v.is_const:
                    inputs.setdefault(id(v), v)
        self.inputs: list[Value] = list(inputs.values())
        self.outputs: list[Value] = [
            v for n in self.nodes for v in n.outputs
            if graph.is_output(v) or any(id(u) not in chosen for u, _ in v.uses)
        ]

    @classmethod
    def between(cls, graph: Graph, inputs: Iterable[Value], outputs: Iterable[Value]) -> "Subgraph":
        """The nodes on paths from ``inputs`` to ``outputs`` (all ancestors of the outputs that are
        reachable without crossing the inputs)."""
        stop = {id(v) for v in inputs}
        keep: dict[int, Node] = {}
        stack = [v for v in outputs]
        while stack:
            v = stack.pop()
            if id(v) in stop or v.producer is None or id(v.producer) in keep:
                continue
            keep[id(v.producer)] = v.producer
            stack.extend(x for x in v.producer.inputs if x is not None)
        return cls(graph, keep.values())

    def to_graph(self, name: str = "subgraph") -> Graph:
        """A standalone copy: subgraph inputs become graph inputs, boundary outputs graph outputs."""
        return fragment(name, self.inputs, self.nodes, self.outputs)

    def __len__(self) -> int:
        return len(self.nodes)

    def __repr__(self) -> str:
        return (f"<Subgraph {len(self.nodes)} nodes, inputs={[v.name for v in self.inputs]}, "
                f"outputs={[v.name for v in self.outputs]}>")


def fragment(name: str, inputs: list[Value], nodes: Iterable[Node], outputs: list[Value]) -> Graph:
    """A standalone copy of ``nodes`` with an explicit boundary.

    Unlike a :class:`Subgraph`, the boundary is given, so a fragment made only of pass-throughs still
    has its inputs and outputs: an output that is also an input (or repeats an earlier output) gets an
    ``Identity`` so that the graph stays valid.
    """
    g = Graph(name)
    vmap: dict[int, Value] = {}

    def clone(v: Value) -> Value:
        if id(v) not in vmap:
            nv = Value(g.unique_name(v.name), v.shape, v.dtype, v.const)
            vmap[id(v)] = nv
            if v.is_const:
                g.add_initializer_value(nv)
        return vmap[id(v)]

    g.inputs = [clone(v) for v in inputs]
    for n in nodes:
        ins = [None if v is None else clone(v) for v in n.inputs]
        g.append_node(Node(n.op_type, ins, [clone(v) for v in n.outputs], n.attrs, g.unique_node_name(n.name),
                           n.domain, n.onnx_attrs))
    outs: list[Value] = []
    for v in outputs:
        c = clone(v)
        if any(c is o for o in outs) or any(c is i for i in g.inputs):
            ident = Value(g.unique_name(v.name + "_id"), v.shape, v.dtype)
            g.append_node(Node("Identity", [c], [ident], {}, g.unique_node_name("identity")))
            c = ident
        outs.append(c)
    g.outputs = outs
    return g
