"""The alphanas IR: :class:`Value`, :class:`Node` and :class:`Graph`, with tracked use-def.

A ``Graph`` keeps its nodes in topological order. Every ``Value`` knows its producer (a node, or
``None`` for graph inputs and constants) and its uses ``(node, input_index)``, so rewiring a value is
O(uses). Weights are constant values (``Value.const`` is a numpy array) held by name in
``Graph.initializers``.

Shapes are tuples whose entries are ints or strings; a string is a symbolic dimension (usually the
batch, ``"N"``).
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from alphanas.errors import InvalidGraphError
from alphanas.ir.opdef import lookup as _lookup_opdef

if TYPE_CHECKING:
    from alphanas.ir.subgraph import Subgraph

Dim = int | str
Shape = tuple[Dim, ...]


@functools.lru_cache(maxsize=8192)
def _element_count(shape, batch: int) -> int:
    # memoised: cost counts and peak-memory estimates ask for the same few shapes again and again
    return math.prod(d if isinstance(d, int) else batch for d in shape)


class Value:
    """A tensor in the graph: its name, shape, dtype, producer and uses."""

    __slots__ = ("name", "shape", "dtype", "producer", "index", "uses", "const", "onnx_type")

    def __init__(
        self,
        name: str,
        shape: Shape | None = None,
        dtype: Any = np.float32,
        const: np.ndarray | None = None,
    ) -> None:
        self.name = name
        self.const = const
        if const is not None:
            shape = tuple(const.shape)
            dtype = const.dtype
        self.shape: Shape | None = tuple(shape) if shape is not None else None
        self.dtype = np.dtype(dtype)
        self.producer: Node | None = None
        self.index = 0
        self.uses: list[tuple[Node, int]] = []
        #: the ONNX ``TypeProto`` as imported, for values the IR does not model as a dense tensor (optional,
        #: sequence, map, sparse) or whose element type has no numpy equivalent; ``None`` otherwise
        self.onnx_type: Any = None

    @property
    def is_const(self) -> bool:
        return self.const is not None

    @property
    def array(self) -> np.ndarray:
        """The constant's array (only for a constant: check :attr:`is_const` first)."""
        assert self.const is not None, f"value {self.name!r} is not a constant"
        return self.const

    @property
    def dims(self) -> Shape:
        """The shape (only for a value whose shape is known)."""
        assert self.shape is not None, f"value {self.name!r} has no shape"
        return self.shape

    def dim(self, axis: int) -> int:
        """The static size of ``axis`` (an int; a symbolic dimension there is an error)."""
        d = self.dims[axis]
        assert isinstance(d, int), f"value {self.name!r}: dimension {axis} is symbolic ({d!r})"
        return d

    @property
    def rank(self) -> int:
        assert self.shape is not None, f"value {self.name!r} has no shape"
        return len(self.shape)

    @property
    def static_shape(self) -> bool:
        return self.shape is not None and all(isinstance(d, int) for d in self.shape)

    def numel(self, batch: int = 1) -> int:
        """Element count, with symbolic dimensions taken as ``batch``."""
        assert self.shape is not None, f"value {self.name!r} has no shape"
        try:
            return _element_count(self.shape, batch)
        except TypeError:  # an unhashable (list) shape
            return _element_count.__wrapped__(self.shape, batch)

    def users(self) -> list[Node]:
        seen: dict[int, Node] = {}
        for node, _ in self.uses:
            seen.setdefault(id(node), node)
        return list(seen.values())

    def __repr__(self) -> str:
        kind = "const " if self.is_const else ""
        return f"%{self.name}: {kind}{self.dtype}{list(self.shape) if self.shape is not None else '?'}"


class Node:
    """One op application. ``attrs`` are the canonical (static) attributes of the op."""

    __slots__ = ("op_type", "domain", "name", "attrs", "inputs", "outputs", "onnx_attrs")

    def __init__(
        self,
        op_type: str,
        inputs: Sequence[Value | None],
        outputs: Sequence[Value],
        attrs: dict[str, Any] | None = None,
        name: str = "",
        domain: str = "",
        onnx_attrs: list | None = None,
    ) -> None:
        self.op_type = op_type
        self.domain = domain
        self.name = name
        self.attrs = dict(attrs or {})
        self.inputs: list[Value | None] = []
        self.outputs: list[Value] = []
        # Raw ONNX AttributeProtos of an opaque node, written back unchanged on export.
        self.onnx_attrs = onnx_attrs
        for v in inputs:
            self._append_input(v)
        for i, v in enumerate(outputs):
            if v.producer is not None:
                raise InvalidGraphError(
                    f"value {v.name!r} is already produced by node {v.producer.name!r}; "
                    f"node {name!r} cannot produce it too"
                )
            v.producer, v.index = self, i
            self.outputs.append(v)

    def _append_input(self, v: Value | None) -> None:
        if v is not None:
            v.uses.append((self, len(self.inputs)))
        self.inputs.append(v)

    @property
    def opdef(self):
        """The registered :class:`OpDef`, or ``None`` for an opaque node.

        A node imported as opaque (it carries raw ``onnx_attrs``) stays opaque even when its op type
        is registered: its attributes had no canonical form (e.g. ``BatchNormalization(spatial=0)``).
        """
        # (a module-level import: a function-level one costs more than the lookup, and analyses ask per node)
        if self.onnx_attrs is not None:
            return None
        return _lookup_opdef(self.op_type, self.domain)

    @property
    def is_opaque(self) -> bool:
        return self.opdef is None

    def set_input(self, index: int, value: Value | None) -> None:
        old = self.inputs[index]
        if old is not None:
            old.uses.remove((self, index))
        if value is not None:
            value.uses.append((self, index))
        self.inputs[index] = value

    def detach(self) -> None:
        """Drop this node's input uses and free its outputs (used when removing it)."""
        for i, v in enumerate(self.inputs):
            if v is not None:
                v.uses.remove((self, i))
        self.inputs = [None] * len(self.inputs)
        for v in self.outputs:
            v.producer = None

    def input(self, index: int) -> Value:
        """Input ``index``, which must be present (not an omitted optional input)."""
        v = self.inputs[index]
        assert v is not None, f"node {self.name!r}: input {index} is absent"
        return v

    def attr(self, key: str, default: Any = None) -> Any:
        return self.attrs.get(key, default)

    def input_shape(self, i: int = 0) -> Shape:
        v = self.inputs[i]
        assert v is not None and v.shape is not None
        return v.shape

    def output_shape(self, i: int = 0) -> Shape:
        s = self.outputs[i].shape
        assert s is not None
        return s

    def __repr__(self) -> str:
        ins = ", ".join("None" if v is None else "%" + v.name for v in self.inputs)
        outs = ", ".join("%" + v.name for v in self.outputs)
        attrs = "".join(f", {k}={v!r}" for k, v in self.attrs.items())
        return f"{outs} = {self.op_type}({ins}{attrs})  # {self.name}"


class Graph:
    """A computation graph: inputs, outputs, nodes in topological order, and constant weights."""

    def __init__(self, name: str = "graph") -> None:
        self.name = name
        self.inputs: list[Value] = []
        self.outputs: list[Value] = []
        self.nodes: list[Node] = []
        self.initializers: dict[str, Value] = {}
        self.doc_string = ""
        self.metadata: dict[str, str] = {}
        #: ONNX model-local functions and custom-domain opset versions used by opaque nodes, kept so
        #: that such nodes round-trip.
        self.functions: list = []
        self.domain_versions: dict[str, int] = {}
        #: model-level ONNX fields kept for export (ir_version, producer, model doc string, ...), see onnx_io
        self.model_info: dict[str, Any] = {}
        self._counter = itertools.count()
        self._names: set[str] = set()
        self._node_names: set[str] = set()

    # -- naming ------------------------------------------------------------------------------------
    #
    # The graph is the one authority on names: value names and node names are two namespaces, each a
    # set of names ever taken in this graph. Every way of creating, inserting or renaming goes through
    # the methods below, so a generated name never clashes with one already in use. A name stays taken
    # after its value or node goes (unless released), so generated names depend only on the history.

    def unique_name(self, base: str) -> str:
        """A value name not yet taken in this graph, derived from ``base``; it is taken from now on."""
        base = base or "v"
        name = base
        while name in self._names:
            name = f"{base}_{next(self._counter)}"
        self._names.add(name)
        return name

    def unique_node_name(self, base: str) -> str:
        """A node name not yet taken (node names and value names are separate namespaces)."""
        base = base or "node"
        name = base
        while name in self._node_names:
            name = f"{base}_{next(self._counter)}"
        self._node_names.add(name)
        return name

    def claim_name(self, name: str) -> None:
        """Mark value name ``name`` as taken (e.g. reserve the names of a model being imported)."""
        self._names.add(name)

    def release_name(self, name: str) -> None:
        """Make value name ``name`` available again (its value is gone or about to be renamed)."""
        self._names.discard(name)

    def has_name(self, name: str) -> bool:
        """Whether value name ``name`` is taken."""
        return name in self._names

    def rename_value(self, value: Value, name: str) -> None:
        """Give ``value`` the name ``name`` (taken from now on). The old name stays taken: call
        :meth:`release_name` first to free it."""
        value.name = name
        self._names.add(name)

    # -- insertion and removal ---------------------------------------------------------------------

    def insert_nodes(self, index: int, nodes: Sequence[Node]) -> None:
        """Insert constructed ``nodes`` (in order) before position ``index``; their node names and output
        names become taken. The caller keeps the node list topologically ordered."""
        for n in nodes:
            self._node_names.add(n.name)
            for v in n.outputs:
                self._names.add(v.name)
        self.nodes[index:index] = list(nodes)

    def append_node(self, node: Node) -> None:
        """Append a constructed ``node`` (see :meth:`insert_nodes`)."""
        self.insert_nodes(len(self.nodes), [node])

    def add_initializer_value(self, value: Value) -> None:
        """Add the constant ``value`` as a weight under its own name (which becomes taken)."""
        assert value.const is not None, f"value {value.name!r} is not a constant"
        self._names.add(value.name)
        self.initializers[value.name] = value

    def remove_nodes_from(self, index: int) -> None:
        """Detach and drop every node from position ``index`` on (undoes appends; names stay taken)."""
        for n in self.nodes[index:]:
            n.detach()
        del self.nodes[index:]

    # -- construction ------------------------------------------------------------------------------

    def add_input(self, name: str, shape: Shape, dtype: Any = np.float32) -> Value:
        v = Value(self.unique_name(name), shape, dtype)
        self.inputs.append(v)
        return v

    def add_initializer(self, name: str, array: np.ndarray) -> Value:
        v = Value(self.unique_name(name), const=np.asarray(array))
        self.initializers[v.name] = v
        return v

    def new_value(self, name: str, shape: Shape | None = None, dtype: Any = np.float32) -> Value:
        return Value(self.unique_name(name), shape, dtype)

    def add_node(
        self,
        op_type: str,
        inputs: Sequence[Value | None],
        attrs: dict[str, Any] | None = None,
        *,
        num_outputs: int | None = None,
        name: str | None = None,
        domain: str = "",
        infer: bool = True,
        index: int | None = None,
    ) -> Node:
        """Append (or insert at ``index``) a node; its outputs get shapes from the op's shape function."""
        opdef = _lookup_opdef(op_type, domain)
        if num_outputs is None:
            num_outputs = opdef.num_outputs(attrs or {}) if opdef is not None else 1
        node_name = self.unique_node_name(name or op_type.lower())
        outs = [self.new_value(f"{node_name}_out{i}" if num_outputs > 1 else node_name) for i in range(num_outputs)]
        node = Node(op_type, inputs, outs, attrs, node_name, domain)
        if opdef is not None:
            node.attrs = opdef.complete_attrs(node.attrs)
        self.insert_nodes(len(self.nodes) if index is None else index, [node])
        if infer and opdef is not None:
            self.infer_node(node)
        return node

    def infer_node(self, node: Node) -> None:
        """Recompute the output shapes and dtypes of ``node`` from its inputs."""
        opdef = node.opdef
        if opdef is None:
            return
        try:
            results = opdef.infer(node)
        except InvalidGraphError:
            raise
        except Exception as e:  # a shape function rejecting its inputs
            shapes = [None if v is None else v.shape for v in node.inputs]
            raise InvalidGraphError(
                f"node {node.name!r} ({node.op_type}): cannot infer output shape from input shapes "
                f"{shapes} and attributes {node.attrs}: {e}"
            ) from e
        for v, (shape, dtype) in zip(node.outputs, results):
            v.shape = tuple(shape)
            v.dtype = np.dtype(dtype)

    def infer_shapes(self) -> None:
        for node in self.nodes:
            self.infer_node(node)

    def remove_node(self, node: Node) -> None:
        for v in node.outputs:
            if v.uses:
                raise InvalidGraphError(
                    f"cannot remove node {node.name!r}: its output {v.name!r} is still used by "
                    f"{[n.name for n in v.users()]}"
                )
        node.detach()
        self.nodes.remove(node)

    # -- queries -----------------------------------------------------------------------------------

    @property
    def weights(self) -> dict[str, np.ndarray]:
        """Named weights: every constant value as a numpy array."""
        return {name: v.array for name, v in self.initializers.items()}

    def values(self) -> Iterable[Value]:
        yield from self.inputs
        yield from self.initializers.values()
        for n in self.nodes:
            yield from n.outputs

    def value(self, name: str) -> Value:
        for v in self.values():
            if v.name == name:
                return v
        raise KeyError(name)

    def node(self, name: str) -> Node:
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(name)

    def is_output(self, v: Value) -> bool:
        return any(o is v for o in self.outputs)

    def const_value(self, v: Value | None) -> np.ndarray | None:
        return None if v is None else v.const

    # -- rewiring ----------------------------------------------------------------------------------

    def replace_all_uses(self, old: Value, new: Value) -> None:
        """Make every user of ``old`` (and the graph outputs) use ``new`` instead."""
        for node, i in list(old.uses):
            node.set_input(i, new)
        self.outputs = [new if o is old else o for o in self.outputs]

    def eliminate_dead_nodes(self) -> int:
        """Remove nodes none of whose outputs reach a graph output; returns how many went."""
        live: set[int] = set()
        outputs = {id(v) for v in self.outputs}
        removed = 0
        for node in reversed(self.nodes):
            if any(id(v) in outputs or any(id(u) in live for u, _ in v.uses) for v in node.outputs):
                live.add(id(node))
        for node in list(self.nodes):
            if id(node) not in live:
                node.detach()
                removed += 1
        self.nodes = [n for n in self.nodes if id(n) in live]
        self.prune_initializers()
        return removed

    def prune_initializers(self) -> None:
        outs = {id(v) for v in self.outputs}
        self.initializers = {k: v for k, v in self.initializers.items() if v.uses or id(v) in outs}

    def toposort(self) -> None:
        """Reorder nodes topologically (stable: keeps the current order where it is valid)."""
        index = {id(n): i for i, n in enumerate(self.nodes)}
        edges = [(index[id(v.producer)], i) for i, n in enumerate(self.nodes) for v in n.inputs
                 if v is not None and v.producer is not None and id(v.producer) in index]
        order = topological_order(len(self.nodes), edges)
        if isinstance(order, Cycle):
            names = " -> ".join(self.nodes[a].name for a in order.nodes)
            raise InvalidGraphError(f"graph {self.name!r} has a cycle: {names}")
        self.nodes = [self.nodes[i] for i in order]

    def replace(self, subgraph: Subgraph, new_nodes: Sequence[Node], output_map: dict[Value, Value] | None = None) -> None:
        """Replace ``subgraph`` by ``new_nodes``.

        ``new_nodes`` read the subgraph's input values (or graph values/constants) and are not yet
        in the graph. ``output_map`` maps each boundary output of the subgraph to the new value that
        takes its place (by default, the i-th output of the subgraph maps to the i-th output of the
        last new node). Uses are rewired, the old nodes dropped if dead, and the graph verified.
        """
        if output_map is None:
            last = list(new_nodes[-1].outputs)
            if len(last) < len(subgraph.outputs):
                raise InvalidGraphError(
                    f"replacement produces {len(last)} outputs for a subgraph with {len(subgraph.outputs)}"
                )
            output_map = dict(zip(subgraph.outputs, last))
        for n in new_nodes:
            n.name = self.unique_node_name(n.name or n.op_type.lower())
            for v in n.outputs:
                if v.name in self._names:
                    v.name = self.unique_name(v.name)
                else:
                    self.claim_name(v.name)
            for c in n.inputs:
                # identity, not name: a new weight may share its name with one already in the graph
                # (a synthesizer names its weights afresh for every mutation of a mutant)
                if c is not None and c.is_const and c.producer is None and self.initializers.get(c.name) is not c:
                    if c.name in self._names:
                        c.name = self.unique_name(c.name)
                    self.add_initializer_value(c)
        position = min((self.nodes.index(n) for n in subgraph.nodes), default=len(self.nodes))
        self.insert_nodes(position, new_nodes)
        for old, new in output_map.items():
            if old.shape is not None and new.shape is not None and not _shapes_compatible(old.shape, new.shape):
                raise InvalidGraphError(
                    f"replacement output {new.name!r} has shape {list(new.shape)} but replaces "
                    f"{old.name!r} of shape {list(old.shape)}"
                )
            self.replace_all_uses(old, new)
        old_ids = {id(n) for n in subgraph.nodes}
        for n in reversed(list(subgraph.nodes)):
            if all(not v.uses and not self.is_output(v) for v in n.outputs):
                n.detach()
        self.nodes = [n for n in self.nodes if id(n) not in old_ids or any(v.uses or self.is_output(v) for v in n.outputs)]
        self.prune_initializers()
        self.toposort()
        self.verify()

    # -- checks ------------------------------------------------------------------------------------

    def verify(self) -> None:
        """Check IR invariants; raise :class:`InvalidGraphError` naming the offending node."""
        defined: set[int] = {id(v) for v in self.inputs}
        defined |= {id(v) for v in self.initializers.values()}
        names: dict[str, str] = {}
        for v in itertools.chain(self.inputs, self.initializers.values()):
            if v.name in names:
                raise InvalidGraphError(f"graph {self.name!r}: value name {v.name!r} is defined twice")
            names[v.name] = "graph"
        for node in self.nodes:
            for i, inp in enumerate(node.inputs):
                if inp is None:
                    continue
                if id(inp) not in defined:
                    where = ("is defined later (nodes out of topological order)" if inp.producer is not None
                             else "has no producer (dangling input)")
                    raise InvalidGraphError(
                        f"node {node.name!r} ({node.op_type}) input {i} {inp.name!r} {where}"
                    )
                if (node, i) not in inp.uses:
                    raise InvalidGraphError(f"node {node.name!r}: use-def of input {inp.name!r} is out of date")
            for j, v in enumerate(node.outputs):
                if v.producer is not node or v.index != j:
                    raise InvalidGraphError(f"node {node.name!r}: output {v.name!r} has a wrong producer link")
                if v.name in names:
                    raise InvalidGraphError(
                        f"node {node.name!r}: output name {v.name!r} is already defined by {names[v.name]!r}"
                    )
                names[v.name] = node.name
                defined.add(id(v))
            opdef = node.opdef
            if opdef is not None:
                opdef.check(node)
        for v in self.outputs:
            if id(v) not in defined:
                raise InvalidGraphError(f"graph output {v.name!r} is not produced by any node")

    # -- copying and hashing -----------------------------------------------------------------------

    def copy(self) -> "Graph":
        """A deep copy of the structure; weight arrays are shared (treat them as immutable)."""
        g = Graph(self.name)
        g.doc_string, g.metadata = self.doc_string, dict(self.metadata)
        g.functions, g.domain_versions = list(self.functions), dict(self.domain_versions)
        g.model_info = dict(self.model_info)
        vmap: dict[int, Value] = {}

        def clone(v: Value) -> Value:
            if id(v) not in vmap:
                nv = Value(v.name, v.shape, v.dtype, v.const)
                nv.onnx_type = v.onnx_type
                vmap[id(v)] = nv
                g.claim_name(v.name)
            return vmap[id(v)]

        g.inputs = [clone(v) for v in self.inputs]
        g.initializers = {k: clone(v) for k, v in self.initializers.items()}
        for n in self.nodes:
            nn_ = Node(n.op_type, [None if v is None else clone(v) for v in n.inputs],
                       [clone(v) for v in n.outputs], n.attrs, n.name, n.domain, n.onnx_attrs)
            g.append_node(nn_)
        g.outputs = [clone(v) for v in self.outputs]
        return g

    def summary(self) -> str:
        lines = [f"graph {self.name}("]
        lines += [f"  {v!r}," for v in self.inputs]
        lines.append(") {")
        lines += [f"  {n!r}" for n in self.nodes]
        lines.append("  return " + ", ".join("%" + v.name for v in self.outputs))
        lines.append("}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<Graph {self.name!r}: {len(self.nodes)} nodes, {len(self.initializers)} weights>"


def _shapes_compatible(a: Shape, b: Shape) -> bool:
    return len(a) == len(b) and all(x == y or isinstance(x, str) or isinstance(y, str) for x, y in zip(a, b))


class Cycle:
    """What :func:`topological_order` returns for a cyclic graph: the ``nodes`` of one cycle, in order."""

    def __init__(self, nodes: list[int]) -> None:
        self.nodes = nodes


def topological_order(count: int, edges: Iterable[tuple[int, int]]) -> list[int] | Cycle:
    """The nodes ``0 .. count-1`` in topological order under ``edges`` (``(a, b)``: ``a`` before ``b``),
    the smallest ready node first (so an order that is already valid is kept), or a :class:`Cycle`.

    This is networkx's ``lexicographical_topological_sort`` with integer nodes, without importing
    networkx (a fifth of a second) on the path that reads a model.
    """
    import heapq

    succ: list[list[int]] = [[] for _ in range(count)]
    indegree = [0] * count
    for a, b in set(edges):
        succ[a].append(b)
        indegree[b] += 1
    ready = [i for i in range(count) if indegree[i] == 0]
    heapq.heapify(ready)
    order: list[int] = []
    while ready:
        i = heapq.heappop(ready)
        order.append(i)
        for j in succ[i]:
            indegree[j] -= 1
            if indegree[j] == 0:
                heapq.heappush(ready, j)
    if len(order) == count:
        return order
    # a cycle among the nodes left: walk back along their remaining in-edges until a node repeats
    left = {i for i in range(count) if indegree[i] > 0}
    pred = {b: a for a, b in set(edges) if a in left and b in left}
    path, seen = [next(iter(sorted(left)))], set()
    while path[-1] not in seen:
        seen.add(path[-1])
        path.append(pred[path[-1]])
    cycle = path[path.index(path[-1]):-1]
    return Cycle(cycle[::-1])
