"""ONNX import and export.

Import reads every opset the installed ``onnx`` knows (:data:`MAX_IMPORT_OPSET`) and every domain. From
opset :data:`MIN_CANONICAL_OPSET` on, known ops are normalised into the canonical IR whatever their
opset (static attributes instead of constant inputs, ``Sum`` as a chain of ``Add``,
``Constant``/``ConstantOfShape`` and other constant sub-expressions folded to initializers,
``Identity``/``Dropout`` removed, initializers listed as graph inputs dropped from the inputs): each
:class:`OpDef`'s ``from_onnx`` reads the node at its opset. Everything else (other domains, ops without
an ``OpDef``, forms the IR has no canonical form for, older opsets) becomes an opaque node carried
with its attributes, subgraphs, domain and types exactly as given; the values its subgraphs read from
the outer scope are tracked as hidden inputs so that they stay alive and named. Optional, sequence and
map typed values pass through with their ``TypeProto``.

Export keeps the model's own opset imports (a graph built in code gets :data:`EXPORT_OPSET`); each
``OpDef.to_onnx`` emits its node in the form valid at the export opset (``exporter.opset``).
``target_opset=N`` asks for another default-domain opset: a graph of canonical nodes only is emitted
directly at ``N``, one with opaque nodes is emitted at its own opset and converted with
``onnx.version_converter``. Model-local functions, metadata, doc strings, producer fields and value
names are kept. Models whose weights exceed protobuf's 2 GB limit are saved with external data.
"""

from __future__ import annotations

import functools
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from alphanas.errors import AlphanasError, InvalidGraphError, UnsupportedModelError, one_line
from alphanas.fileio import atomic_path
from alphanas.ir import shape_values, symbolic
from alphanas.ir.graph import Cycle, Graph, Node, Value, topological_order
from alphanas.ir.input_shapes import InputShapes, overwrite_input_shapes
from alphanas.ir.onnx_proto import _LazyModule, attribute_value, helper, load_model, np_dtype, numpy_helper, pb, \
    to_array, uses_external_data
from alphanas.ir.opdef import lookup

if TYPE_CHECKING:
    import onnx
    from onnx import version_converter
else:  # the onnx package is imported on first use: reading a model needs only its protobuf classes
    onnx = _LazyModule("onnx")
    version_converter = _LazyModule("onnx.version_converter")

#: the default-domain opset of graphs that do not come from an ONNX model (built in code)
EXPORT_OPSET = 21
#: the oldest default-domain opset read (older models import with every node opaque)
MIN_IMPORT_OPSET = 1
#: ``MAX_IMPORT_OPSET``, the newest opset read, is the newest the installed onnx package defines (a
#: module attribute computed on first use); every supported onnx (>= 1.16) defines at least this one:
_ALWAYS_DEFINED_OPSET = 21


def _max_import_opset() -> int:
    return int(onnx.defs.onnx_opset_version())


def __getattr__(name: str) -> Any:  # PEP 562: what needs the onnx package, made on first use
    if name == "MAX_IMPORT_OPSET":
        return _max_import_opset()
    if name in ("ExportValidationError", "ExportInferenceError"):
        return _export_errors()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
#: from this default-domain opset on, known ops are put in canonical form (before it they stay opaque:
#: legacy broadcast attributes, ``consumed_inputs``)
MIN_CANONICAL_OPSET = 7
#: the attribute of an opaque node that lists the outer-scope names its subgraphs read, in the order of
#: the hidden inputs appended after its ONNX inputs
CAPTURED = "__onnx_captured__"
#: the model fields kept in ``Graph.model_info`` and written back on export
_MODEL_FIELDS = ("ir_version", "producer_name", "producer_version", "domain", "model_version", "doc_string")
ALPHANAS_DOMAIN = "alphanas"
_PROTOBUF_LIMIT = 2**31 - 1
#: Constant sub-expressions larger than this many elements are not folded at import.
_FOLD_LIMIT = 1 << 24


class NotCanonical(Exception):
    """Raised by ``OpDef.from_onnx`` when a node cannot be put in canonical form (it stays opaque)."""


# ---------------------------------------------------------------------------------------------------
# import
# ---------------------------------------------------------------------------------------------------


def load_onnx(path: str | os.PathLike, *, keep_dropout: bool = False, input_shapes: InputShapes | None = None) -> Graph:
    """Read an ONNX file (external data included) into a :class:`Graph`; ``input_shapes`` (input name
    -> static dims) fixes the shapes of those inputs first (:func:`~alphanas.ir.input_shapes.overwrite_input_shapes`)."""
    p = Path(path)
    if not p.exists():
        raise AlphanasError(f"{p}: no such file; give the path of an .onnx model")
    if p.is_dir():
        raise AlphanasError(f"{p}: is a directory, not an .onnx model file")
    try:
        model = load_model(p)
        external = any(uses_external_data(t) for t in model.graph.initializer)
        if external:
            onnx.load_external_data_for_model(model, str(p.parent))
    except Exception as e:  # protobuf DecodeError, truncated file, missing external data
        raise AlphanasError(
            f"{p}: not a readable ONNX model ({type(e).__name__}: {str(e).strip() or 'decode error'}); "
            "check that the file is complete and was saved by onnx"
        ) from None
    if not model.graph.node and not model.graph.output:
        raise AlphanasError(f"{p}: not an ONNX model (no graph found); check the file is an .onnx model")
    if input_shapes:
        model = overwrite_input_shapes(model, input_shapes, source=str(p))
    graph = from_onnx(model, source=str(p), keep_dropout=keep_dropout)
    graph.model_info["external_data"] = external  # save_onnx keeps the weights in a side file too
    return graph


def from_onnx(model: onnx.ModelProto, *, source: str = "<model>", keep_dropout: bool = False) -> Graph:
    """Convert an in-memory ``ModelProto`` to a :class:`Graph`."""
    return _Importer(model, source, keep_dropout).run()


def _dims(type_proto: onnx.TypeProto, owner: str) -> tuple | None:
    """The shape of a tensor type; an unnamed, negative or unknown (``?``) dimension is a fresh unknown of
    ``owner`` (the value's name) and axis: two such dimensions never share a symbol."""
    if not type_proto.HasField("tensor_type") or not type_proto.tensor_type.HasField("shape"):
        return None
    out: list[int | str] = []
    for i, d in enumerate(type_proto.tensor_type.shape.dim):
        if d.HasField("dim_value") and d.dim_value >= 0:
            out.append(int(d.dim_value))
        elif _named_dim(d.dim_param):
            out.append(d.dim_param)
        else:
            out.append(symbolic.fresh(owner, i))
    return tuple(out)


def _named_dim(param: str) -> bool:
    """Whether a ``dim_param`` names a size (not empty, not ``?``/``unk``-style unknown, not a number)."""
    p = param.strip()
    return bool(p) and not p.startswith("?") and not p.lstrip("-").isdigit()


def _tensor_array(t: onnx.TensorProto, where: str) -> np.ndarray:
    """The numpy value of ``t``; a malformed tensor (data that does not fit its dims, an undefined element
    type) is a one-line :class:`InvalidGraphError` naming ``where`` instead of numpy's exception."""
    try:
        return to_array(t)
    except Exception as e:  # ValueError (reshape), TypeError (UNDEFINED type), KeyError, ...
        raise InvalidGraphError(f"{where} is malformed and cannot be read: {type(e).__name__}: "
                                f"{one_line(e, 200)}") from None


def _np_dtype(elem_type: int) -> np.dtype:
    if elem_type == 0:
        return np.dtype(np.float32)
    try:
        return np_dtype(elem_type)
    except Exception:  # an element type this onnx has no numpy type for: the TypeProto is kept
        return np.dtype(object)


def _typed_value(name: str, type_proto: onnx.TypeProto | None) -> Value:
    """A value of ONNX type ``type_proto``: a tensor with its shape and dtype, or (optional, sequence, map,
    sparse, or a tensor of unknown rank or element type) a value that keeps the ``TypeProto`` itself."""
    if type_proto is None or type_proto.WhichOneof("value") is None:
        return Value(name)
    if type_proto.HasField("tensor_type") and type_proto.tensor_type.elem_type:
        shape = _dims(type_proto, name)
        v = Value(name, shape, _np_dtype(type_proto.tensor_type.elem_type))
        if shape is not None and v.dtype != np.dtype(object):
            return v
    else:
        v = Value(name, None, np.dtype(object))
    v.onnx_type = pb().TypeProto()
    v.onnx_type.CopyFrom(type_proto)
    return v


class _Importer:
    def __init__(self, model: onnx.ModelProto, source: str, keep_dropout: bool) -> None:
        self.model = model
        self.source = source
        self.keep_dropout = keep_dropout
        self.graph = Graph(model.graph.name or Path(source).stem or "graph")
        self.values: dict[str, Value] = {}
        self.opset = self._opset()
        self._inferred: dict[str, onnx.TypeProto] | None = None
        self.consumers: dict[str, int] = {}
        self.output_names = {o.name for o in model.graph.output}
        #: id(Value) -> (the value, kept alive so that its id stays unique; its shape vector: an object
        #: array of ints and symbolic dimensions computed from symbolic shapes)
        self.shape_vectors: dict[int, tuple[Value, np.ndarray]] = {}
        self._bound: set[str] = set()
        # Reserve every ONNX value name so that helper values never take one of them.
        reserved = [x for n in model.graph.node for x in n.output if x]
        reserved += [t.name for t in model.graph.initializer] + [i.name for i in model.graph.input]
        for name in reserved:
            self.graph.claim_name(name)

    def _opset(self) -> int:
        """The default-domain opset (0 when the model imports none, e.g. an ``ai.onnx.ml``-only model)."""
        versions = {o.domain or "": o.version for o in self.model.opset_import}
        v = versions.get("", versions.get("ai.onnx", 0))
        if v > _ALWAYS_DEFINED_OPSET and v > (newest := _max_import_opset()):
            raise UnsupportedModelError(
                f"{self.source}: opset {v} is newer than the installed onnx package defines (opsets up to "
                f"{newest}); upgrade onnx or export the model at opset {newest} or lower"
            )
        return v

    # -- API used by OpDef.from_onnx ---------------------------------------------------------------

    def const(self, v: Value | None) -> np.ndarray | None:
        return None if v is None else v.const

    def constant(self, name: str, array: np.ndarray) -> Value:
        v = Value(self._bind(name), const=np.asarray(array))
        self.graph.initializers[v.name] = v
        return v

    def shape_vector(self, v: Value | None) -> list | None:
        """The entries (ints and symbolic dimensions) of a non-constant value computed from shapes
        (see :mod:`alphanas.ir.shape_values`), or ``None``."""
        entry = None if v is None else self.shape_vectors.get(id(v))
        return None if entry is None else list(entry[1].reshape(-1))

    def alias(self, name: str, value: Value) -> None:
        self.values[name] = value

    def add(self, op_type: str, inputs: list, attrs: dict[str, Any], outputs: list[str] | int, domain: str = "") -> list[Value]:
        """Add a canonical node; ``outputs`` are ONNX names to bind (or a count for fresh values)."""
        names = outputs if isinstance(outputs, list) else [""] * outputs
        opdef = lookup(op_type, domain)
        n_out = opdef.num_outputs(attrs) if opdef is not None else len(names)
        if len(names) > n_out:
            extra = [x for x in names[n_out:] if x and self.consumers.get(x, 0)]
            if extra:
                raise NotCanonical(f"optional outputs {extra} are used")
            names = names[:n_out]
        node = self.graph.add_node(op_type, inputs, attrs, num_outputs=n_out, name=self._node_name, domain=domain)
        for v, onnx_name in zip(node.outputs, names):
            if onnx_name:
                self._rename(v, onnx_name)
                self.values[onnx_name] = v
        return node.outputs

    # -- driver ------------------------------------------------------------------------------------

    def run(self) -> Graph:
        g = self.model.graph
        for vi in g.node:
            for name in vi.input:
                self.consumers[name] = self.consumers.get(name, 0) + 1
        for o in g.output:
            self.consumers[o.name] = self.consumers.get(o.name, 0) + 1
        init_names = set()
        for t in g.initializer:
            v = Value(self._bind(t.name), const=_tensor_array(t, f"initializer {t.name!r}"))
            self.graph.initializers[v.name] = v
            self.values[t.name] = v
            init_names.add(t.name)
        for t in g.sparse_initializer:
            raise UnsupportedModelError(f"{self.source}: sparse initializer {t.values.name!r} is not supported")
        for inp in g.input:
            if inp.name in init_names:
                continue  # legacy: initializers listed as graph inputs
            v = _typed_value(self._bind(inp.name), inp.type)
            self.graph.inputs.append(v)
            self.values[inp.name] = v
        for proto in self._sorted_nodes():
            self._import_node(proto)
        for o in g.output:
            if o.name not in self.values:
                raise InvalidGraphError(f"{self.source}: graph output {o.name!r} is not produced by any node")
            v = self.values[o.name]
            if v.onnx_type is None and v.shape is None and not v.is_const and o.type.WhichOneof("value") is not None:
                v.onnx_type = o.type  # an output of an opaque node ONNX could not infer: keep the declared type
            self.graph.outputs.append(v)
        for p in self.model.metadata_props:
            self.graph.metadata[p.key] = p.value
        self.graph.functions = list(self.model.functions)
        self.graph.domain_versions = {("" if o.domain == "ai.onnx" else o.domain): o.version
                                      for o in self.model.opset_import if o.domain != ALPHANAS_DOMAIN}
        self.graph.model_info = {k: getattr(self.model, k) for k in _MODEL_FIELDS}
        self.graph.doc_string = g.doc_string
        self.graph.eliminate_dead_nodes()
        self.graph.toposort()
        self.graph.verify()
        return self.graph

    @property
    def inferred(self) -> dict[str, onnx.TypeProto]:
        """The types ONNX shape inference gives the values (read for opaque nodes only: computed on the
        first one)."""
        if self._inferred is None:
            self._inferred = {}
            self._infer_shapes()
        return self._inferred

    def _infer_shapes(self) -> None:
        """ONNX shape inference (for opaque nodes) on a copy without the large weights.

        Serialising the weights into the shape inferencer and back costs seconds on big models and
        fails beyond 2 GB; only their type and shape matter, so large ones become typed inputs.
        """
        src = self.model.graph
        g = onnx.GraphProto(name=src.name)
        g.node.extend(src.node)
        g.input.extend(src.input)
        g.output.extend(src.output)
        g.value_info.extend(src.value_info)
        listed = {i.name for i in src.input}
        for t in src.initializer:
            if np.prod(t.dims, dtype=np.int64) <= 4096 and t.data_location != onnx.TensorProto.EXTERNAL:
                g.initializer.append(t)
            elif t.name not in listed:
                g.input.append(helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)))
        light = helper.make_model(g, opset_imports=list(self.model.opset_import), functions=list(self.model.functions))
        light.ir_version = self.model.ir_version
        try:
            inferred = onnx.shape_inference.infer_shapes(light, strict_mode=False)
        except Exception:
            return
        for vi in list(inferred.graph.value_info) + list(inferred.graph.output):
            self._inferred[vi.name] = vi.type  # type: ignore[index]
        for vi in _subgraph_value_infos(inferred.graph):  # (for the branches of an If inlined at import)
            self._inferred.setdefault(vi.name, vi.type)  # type: ignore[union-attr]

    def _sorted_nodes(self) -> list[onnx.NodeProto]:
        g = self.model.graph
        producers: dict[str, int] = {}
        for i, n in enumerate(g.node):
            for o in n.output:
                if o:
                    producers[o] = i
        known = set(self.values)
        edges: list[tuple[int, int]] = []
        for i, n in enumerate(g.node):
            for name in list(n.input) + _subgraph_inputs(n):
                if not name:
                    continue
                if name in producers:
                    edges.append((producers[name], i))
                elif name not in known:
                    if name in _subgraph_inputs(n):
                        continue
                    raise InvalidGraphError(
                        f"{self.source}: node {n.name or n.op_type!r} ({n.op_type}) reads {name!r}, which is "
                        "not produced by any node, not a graph input and not an initializer (dangling input)"
                    )
        order = topological_order(len(g.node), edges)
        if isinstance(order, Cycle):
            names = " -> ".join(g.node[a].name or g.node[a].op_type for a in order.nodes)
            raise InvalidGraphError(f"{self.source}: the graph has a cycle: {names}")
        return [g.node[i] for i in order]

    @property
    def _node_name(self) -> str:
        return self._current.name or self._current.op_type.lower()

    def _bind(self, name: str) -> str:
        """The IR name for ONNX value ``name``: itself, unless already bound (then made unique)."""
        if name and name not in self._bound:
            self._bound.add(name)
            self.graph.claim_name(name)
            return name
        return self.graph.unique_name(name or "v")

    def _rename(self, v: Value, name: str) -> None:
        if v.name != name:
            self.graph.release_name(v.name)
            self.graph.rename_value(v, self._bind(name))

    def _import_node(self, proto: onnx.NodeProto) -> None:
        self._current = proto
        inputs = [self.values[name] if name else None for name in proto.input]
        attrs = {a.name: attribute_value(a) for a in proto.attribute}
        attrs = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in attrs.items()}
        domain = proto.domain if proto.domain != "ai.onnx" else ""
        self._convert_node(proto, inputs, attrs, domain)
        if domain == "" and proto.op_type != "If" and proto.output and proto.output[0] in self.values:
            self._track_shape_vector(proto.op_type, inputs, attrs, proto.output[0])

    def _known(self, v: Value | None) -> np.ndarray | None:
        if v is None:
            return None
        if id(v) in self.shape_vectors:
            return self.shape_vectors[id(v)][1]
        if v.is_const and v.array.size <= shape_values.MAX_ELEMENTS and v.array.dtype.kind in "iub":
            return np.asarray(v.array).astype(object)
        return None

    def _track_shape_vector(self, op: str, inputs: list, attrs: dict, name: str) -> None:
        """Record the symbolic value of output ``name`` when it is a shape computation over symbolic
        dimensions; one that no longer depends on a symbol becomes a constant (and folds further)."""
        out = self.values[name]
        if out.is_const:
            return
        if op == "Shape":
            x = inputs[0]
            if x is not None and x.shape is not None:
                self.shape_vectors[id(out)] = (out, np.array(x.shape, dtype=object)[attrs.get("start", 0):attrs.get("end")])
            return
        known = [self._known(v) for v in inputs]
        if not any(id(v) in self.shape_vectors for v in inputs if v is not None):
            return
        if any(k is None for k, v in zip(known, inputs) if v is not None):
            return
        result = shape_values.evaluate(op, known, attrs, self.opset)
        if result is None:
            return
        graph_output = any(o.name == name for o in self.model.graph.output)
        if shape_values.has_symbols(result) or out.dtype.kind not in "iub" or graph_output:
            self.shape_vectors[id(out)] = (out, result)
        else:  # e.g. the static head size d // heads of x.shape with a symbolic batch
            self.values[name] = self.constant(name, np.array(result.tolist(), dtype=out.dtype))

    def _convert_node(self, proto: onnx.NodeProto, inputs: list, attrs: dict, domain: str) -> None:
        outputs = list(proto.output)
        op = proto.op_type
        canonical = domain != "" or self.opset >= MIN_CANONICAL_OPSET
        if domain == "":
            if op == "Constant" and len(proto.attribute) == 1 and proto.attribute[0].name != "sparse_value":
                self.values[outputs[0]] = self.constant(outputs[0], _constant_value(proto))
                return
            # (a graph output keeps its name: there the node stays, and identity-elim renames where it can)
            passthrough = outputs[0] not in self.output_names
            if op == "Identity" and passthrough and inputs and inputs[0] is not None and inputs[0].onnx_type is None:
                self.alias(outputs[0], inputs[0])
                return
            if op == "Dropout" and not self.keep_dropout and canonical and _inference_dropout(inputs):
                if all(not self.consumers.get(o, 0) and o not in self.output_names for o in outputs[1:]):
                    if passthrough:
                        self.alias(outputs[0], inputs[0])
                    else:  # the graph output keeps its name through an Identity (which lowers)
                        self.add("Identity", inputs[:1], {}, [outputs[0]])
                    return
            if op == "Sum" and canonical and len(inputs) > 1 and all(v is not None and v.shape is not None for v in inputs):
                acc = inputs[0]
                for i, x in enumerate(inputs[1:]):
                    last = i == len(inputs) - 2
                    acc = self.add("Add", [acc, x], {}, [outputs[0]] if last else 1)[0]
                if len(inputs) == 1:
                    self.alias(outputs[0], acc)
                return
            if op == "If" and canonical and self._inline_if(proto, inputs, outputs):
                return
            if self._fold(proto, inputs, attrs, outputs):
                return
        opdef = lookup(op, domain) if canonical else None
        if opdef is None and domain == ALPHANAS_DOMAIN:
            opdef = lookup(op)  # our own export: ops newer than the export opset are model-local functions
        if opdef is not None and any(v is not None and (v.shape is None or v.onnx_type is not None) for v in inputs):
            # An input of unknown shape (after an opaque op ONNX cannot infer) or not a plain tensor: our
            # shape function has nothing to work on, so the node stays opaque, with whatever ONNX inferred.
            opdef = None
        if opdef is not None and any(a.type in _SUBGRAPH_KINDS for a in proto.attribute):
            opdef = None
        if opdef is not None:
            mark = (len(self.graph.nodes), dict(self.values), dict(self.graph.initializers), set(self._bound))
            try:
                opdef.from_onnx(self, inputs, attrs, self.opset, outputs)
                return
            except (NotCanonical, AlphanasError, ValueError, TypeError, KeyError, IndexError, AttributeError):
                # no canonical form for this node (a dynamic operand, an attribute the IR does not model,
                # shapes our shape function rejects): it stays opaque, exactly as given
                self.graph.remove_nodes_from(mark[0])
                self.values = mark[1]
                self.graph.initializers = mark[2]
                self._bound = mark[3]
        self._add_opaque(proto, inputs, outputs, domain)

    def _inline_if(self, proto: onnx.NodeProto, inputs: list, outputs: list[str]) -> bool:
        """Replace an ``If`` whose condition is known at import (a constant, or a shape computation
        :mod:`~alphanas.ir.shape_values` evaluates to a number) by the nodes of the branch it takes; its
        outputs become the branch's outputs (a graph output keeps its name). ``False`` (the node stays opaque)
        when the condition is computed at run time or the branch cannot be imported."""
        cond = self._known(inputs[0] if inputs else None)
        if cond is None or cond.size != 1 or shape_values.has_symbols(cond):
            return False
        taken = "then_branch" if bool(cond.reshape(-1)[0]) else "else_branch"
        branch = next((a.g for a in proto.attribute if a.name == taken and a.type == onnx.AttributeProto.GRAPH), None)
        if branch is None or len(branch.output) != len(outputs) or len(branch.input):
            return False
        mark = (len(self.graph.nodes), dict(self.values), dict(self.graph.initializers), set(self._bound),
                dict(self.consumers), None if self._inferred is None else dict(self._inferred))
        current = self._current
        try:
            for t in branch.initializer:
                self.values[t.name] = self.constant(t.name, _tensor_array(t, f"initializer {t.name!r} of {proto.name!r}"))
            for n in branch.node:
                for name in list(n.input) + _subgraph_inputs(n):
                    self.consumers[name] = self.consumers.get(name, 0) + 1
            for o in branch.output:
                self.consumers[o.name] = self.consumers.get(o.name, 0) + 1
            for vi in branch.value_info:
                self.inferred.setdefault(vi.name, vi.type)
            local = {o for n in branch.node for o in n.output if o}
            renamed: set[int] = set()
            for n in branch.node:
                self._import_node(n)
            for name, o in zip(outputs, branch.output):
                if not name:
                    continue
                v = self.values[o.name]
                if name not in self.output_names:
                    self.values[name] = v
                elif o.name in local and not v.is_const and id(v) not in renamed and v.onnx_type is None:
                    self._rename(v, name)  # the graph output keeps the If's output name
                    self.values[name] = v
                    renamed.add(id(v))
                else:
                    self.add("Identity", [v], {}, [name])
            return True
        except Exception:  # (any failure: the If stays opaque, exactly as given)
            self.graph.remove_nodes_from(mark[0])
            self.values, self.graph.initializers, self._bound = mark[1], mark[2], mark[3]
            self.consumers, self._inferred = mark[4], mark[5]
            return False
        finally:
            self._current = current

    def _add_opaque(self, proto: onnx.NodeProto, inputs: list, outputs: list[str], domain: str) -> None:
        outs = []
        for name in outputs:
            base = self._bind(name) if name else self.graph.unique_name(f"{proto.op_type.lower()}_out")
            outs.append(_typed_value(base, self.inferred.get(name)))
        attrs: dict[str, Any] = {}
        captured = [x for x in dict.fromkeys(_subgraph_inputs(proto)) if x in self.values]
        if captured:
            # values the subgraphs read from the outer scope: hidden inputs, so that they stay alive
            attrs[CAPTURED] = captured
        node = Node(proto.op_type, list(inputs) + [self.values[x] for x in captured], outs, attrs,
                    self.graph.unique_node_name(proto.name or proto.op_type.lower()), domain,
                    onnx_attrs=list(proto.attribute))
        self.graph.append_node(node)
        for name, v in zip(outputs, outs):
            if name:
                self.values[name] = v

    def _fold(self, proto: onnx.NodeProto, inputs: list, attrs: dict, outputs: list[str]) -> bool:
        """Fold a node whose inputs are all constant (or only read static shapes) into initializers."""
        op = proto.op_type
        if op in _NONDETERMINISTIC or any(a.type in _SUBGRAPH_KINDS for a in proto.attribute):
            return False
        if any(v is not None and v.onnx_type is not None for v in inputs):
            return False
        if op == "Shape":
            x = inputs[0]
            if x is None or not x.static_shape:
                return False
            shape = np.array(x.shape, dtype=np.int64)
            start, end = attrs.get("start", 0), attrs.get("end", None)
            self.values[outputs[0]] = self.constant(outputs[0], shape[start:end])
            return True
        if op == "Size" and inputs[0] is not None and inputs[0].static_shape:
            self.values[outputs[0]] = self.constant(outputs[0], np.array(inputs[0].numel(), dtype=np.int64))
            return True
        present = [v for v in inputs if v is not None]
        if not present or any(not v.is_const for v in present):
            return False
        if op == "ConstantOfShape":
            dims = [int(d) for d in inputs[0].array]
            value = attrs.get("value")
            fill = (_tensor_array(value, f"the value of ConstantOfShape {outputs[0]!r}").reshape(-1)[0]
                    if value is not None else np.float32(0))
            self.values[outputs[0]] = self.constant(outputs[0], np.full(dims, fill, dtype=np.asarray(fill).dtype))
            return True
        if sum(v.array.size for v in present) > _FOLD_LIMIT:
            return False
        from onnx.reference import ReferenceEvaluator

        sub = helper.make_graph(
            [proto], "fold",
            [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(v.dtype), v.shape)
             for n, v in zip(proto.input, inputs) if v is not None and n],
            [helper.make_tensor_value_info(o, onnx.TensorProto.UNDEFINED, None) for o in outputs if o],
        )
        m = helper.make_model(sub, opset_imports=list(self.model.opset_import))
        try:
            results = ReferenceEvaluator(m).run(None, {n: v.const for n, v in zip(proto.input, inputs) if v is not None and n})
        except Exception:
            return False
        if any(not isinstance(r, (np.ndarray, np.generic)) for r in results):
            return False  # a sequence, map or optional: not a tensor initializer
        for o, r in zip([o for o in outputs if o], results):
            self.values[o] = self.constant(o, np.asarray(r))
        return True


_SUBGRAPH_KINDS = (pb().AttributeProto.GRAPH, pb().AttributeProto.GRAPHS)


def _inference_dropout(inputs: list) -> bool:
    """Whether a ``Dropout`` is the identity: no ``training_mode`` input, or a constant false one."""
    mode = inputs[2] if len(inputs) > 2 else None
    return mode is None or (mode.is_const and not bool(np.asarray(mode.const).any()))


_NONDETERMINISTIC = {"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial", "Bernoulli",
                     "Dropout"}


def _subgraph_value_infos(g: onnx.GraphProto) -> list:
    """The value infos and outputs of every subgraph (If/Loop/Scan bodies) nested in ``g``."""
    out: list = []
    for n in g.node:
        for a in n.attribute:
            graphs = ([a.g] if a.type == onnx.AttributeProto.GRAPH
                      else list(a.graphs) if a.type == onnx.AttributeProto.GRAPHS else [])
            for sg in graphs:
                out += list(sg.value_info) + list(sg.output) + _subgraph_value_infos(sg)
    return out


def _subgraph_inputs(n: onnx.NodeProto) -> list[str]:
    """Outer-scope names read by the subgraphs (If/Loop/Scan bodies) of a node."""
    names: list[str] = []
    for a in n.attribute:
        graphs = [a.g] if a.type == _SUBGRAPH_KINDS[0] else list(a.graphs) if a.type == _SUBGRAPH_KINDS[1] else []
        for sg in graphs:
            local = {i.name for i in sg.input} | {t.name for t in sg.initializer}
            for sn in sg.node:
                local |= set(sn.output)
            for sn in sg.node:
                names += [x for x in list(sn.input) + _subgraph_inputs(sn) if x and x not in local]
    return names


def _constant_value(proto: onnx.NodeProto) -> np.ndarray:
    a = proto.attribute[0]
    if a.name == "value":
        return _tensor_array(a.t, f"the value of Constant node {proto.name or proto.output[0]!r}")
    v = attribute_value(a)
    dtypes = {"value_float": np.float32, "value_floats": np.float32, "value_int": np.int64, "value_ints": np.int64}
    if a.name in dtypes:
        return np.array(v, dtype=dtypes[a.name])
    if a.name in ("value_string", "value_strings"):
        return np.array(v, dtype=object)
    raise UnsupportedModelError(f"Constant node {proto.name!r}: attribute {a.name!r} is not supported")


# ---------------------------------------------------------------------------------------------------
# export
# ---------------------------------------------------------------------------------------------------


class _Exporter:
    """Writes a :class:`Graph` as a ``ModelProto`` whose default-domain opset is :attr:`opset`; each
    ``OpDef.to_onnx`` reads ``exporter.opset`` to emit the form valid there."""

    def __init__(self, graph: Graph, opset: int) -> None:
        self.graph = graph
        self.opset = opset
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.functions: dict[tuple[str, str], onnx.FunctionProto] = {}
        self.extra_domains: dict[str, int] = {}
        self._taken = {v.name for v in graph.values()} | {n.name for n in graph.nodes}
        self._n = 0

    def name(self, v: Value | None) -> str:
        return "" if v is None else v.name

    def fresh(self, base: str) -> str:
        while True:
            self._n += 1
            name = f"{base}__{self._n}"
            if name not in self._taken:
                self._taken.add(name)
                return name

    def const(self, array: np.ndarray, base: str) -> str:
        name = self.fresh(base)
        self.initializers.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def node(self, node: Node, op_type: str, inputs: list[str], attrs: dict[str, Any], domain: str = "",
             outputs: list[str] | None = None, name: str | None = None) -> None:
        attrs = {k: v for k, v in attrs.items() if v is not None}
        if outputs is None:
            outputs = [v.name for v in node.outputs]
        while inputs and inputs[-1] == "":
            inputs = inputs[:-1]
        self.nodes.append(helper.make_node(op_type, inputs, outputs, name=name or node.name, domain=domain or None, **attrs))
        if domain:
            self.extra_domains[domain] = 1

    def function(self, proto: onnx.FunctionProto) -> None:
        if (proto.domain, proto.name) not in self.functions:
            proto = _function_at_opset(proto, self.opset)
        self.functions.setdefault((proto.domain, proto.name), proto)
        self.extra_domains.setdefault(proto.domain, self.graph.domain_versions.get(proto.domain, 1))

    def opaque(self, n: Node) -> None:
        """Write an opaque node as imported; outer-scope values its subgraphs read keep their names."""
        captured = n.attrs.get(CAPTURED, [])
        explicit = n.inputs[:len(n.inputs) - len(captured)]
        for onnx_name, v in zip(captured, n.inputs[len(explicit):]):
            if v is not None and v.name != onnx_name:  # renamed since import: the subgraph reads the old name
                self.nodes.append(helper.make_node("Identity", [v.name], [onnx_name], name=self.fresh(f"{n.name}_capture")))
        p = helper.make_node(n.op_type, [self.name(v) for v in explicit], [v.name for v in n.outputs],
                             name=n.name, domain=n.domain or None)
        p.attribute.extend(n.onnx_attrs or [])
        self.nodes.append(p)
        if n.domain:
            self.extra_domains.setdefault(n.domain, self.graph.domain_versions.get(n.domain, 1))

    def run(self) -> onnx.ModelProto:
        g = self.graph
        if self.opset < MIN_CANONICAL_OPSET and any(not n.is_opaque for n in g.nodes):
            raise UnsupportedModelError(f"graph {g.name!r}: alphanas writes its ops at opset {MIN_CANONICAL_OPSET} or "
                                        f"newer, not at opset {self.opset}")
        for n in g.nodes:
            opdef = n.opdef
            if opdef is None:
                self.opaque(n)
            else:
                opdef.to_onnx(n, self)
        for f in g.functions:
            self.function(f)
            for o in f.opset_import:
                if o.domain not in ("", "ai.onnx"):
                    self.extra_domains.setdefault(o.domain, o.version)
        output_names = {v.name for v in g.outputs}
        # (the outputs of opaque nodes are left to onnxruntime's own inference: what ONNX inferred for
        # them at import can be looser than the truth, e.g. an If whose branches differ in rank)
        exportable = symbolic.input_symbols(v.shape for v in g.inputs if v.shape is not None)
        value_info = [_value_info(v, exportable) for n in g.nodes if not n.is_opaque for v in n.outputs
                      if (v.shape is not None or v.onnx_type is not None) and v.name not in output_names]
        gp = helper.make_graph(self.nodes, g.name, [_value_info(v) for v in g.inputs],
                               [_value_info(v, exportable) for v in g.outputs], [], doc_string=g.doc_string or None,
                               value_info=value_info)
        domains = {d: version for d, version in g.domain_versions.items() if d}
        for d, version in self.extra_domains.items():
            domains.setdefault(d, version)
        default_used = "" in g.domain_versions or not domains or any(p.domain in ("", "ai.onnx") for p in self.nodes)
        opsets = [helper.make_opsetid("", self.opset)] if default_used else []
        opsets += [helper.make_opsetid(d, version) for d, version in sorted(domains.items())]
        info = g.model_info
        model = helper.make_model(gp, opset_imports=opsets, functions=list(self.functions.values()))
        model.producer_name = info.get("producer_name") or "alphanas"
        for key in ("producer_version", "domain", "model_version", "doc_string"):
            if info.get(key):
                setattr(model, key, info[key])
        # Weights go straight into the model: make_graph/make_model would copy every tensor twice.
        for v in g.initializers.values():
            _fill_tensor(model.graph.initializer.add(), np.asarray(v.const), v.name)
        model.graph.initializer.extend(self.initializers)
        model.ir_version = max(int(info.get("ir_version") or 0), _min_ir_version(opsets))
        for k, text in g.metadata.items():
            model.metadata_props.add(key=k, value=text)
        return model


def _min_ir_version(opsets: list[onnx.OperatorSetIdProto]) -> int:
    """The oldest IR version that can hold ``opsets`` (at least 7, so that initializers need not be inputs)."""
    try:
        return max(7, helper.find_min_ir_version_for(opsets, ignore_unknown=True))
    except Exception:
        return 10


def _function_at_opset(f: onnx.FunctionProto, opset: int) -> onnx.FunctionProto:
    """``f`` with its body converted to default-domain ``opset`` (a model-local function must import the
    same default-domain opset as the model that holds it)."""
    versions = {o.domain or "": o.version for o in f.opset_import}
    version = versions.get("", versions.get("ai.onnx"))
    if version is None or version == opset:
        return f
    untyped = lambda names: [helper.make_tensor_value_info(n, onnx.TensorProto.UNDEFINED, None) for n in names]  # noqa: E731
    wrapper = helper.make_model(helper.make_graph(list(f.node), f.name, untyped(f.input), untyped(f.output)),
                                opset_imports=list(f.opset_import))
    try:
        converted = version_converter.convert_version(wrapper, opset)
    except Exception as e:
        raise UnsupportedModelError(
            f"model-local function {f.domain}::{f.name} uses opset {version} and could not be converted to "
            f"opset {opset} for export ({type(e).__name__}: {e})"
        ) from None
    nodes = list(converted.graph.node)
    # the converter drops references to the function's attributes (``ref_attr_name``): put them back
    # where the node is recognisably the same, and refuse rather than export a different function
    for i, node in enumerate(f.node):
        refs = {a.name: a.ref_attr_name for a in node.attribute if a.ref_attr_name}
        if not refs:
            continue
        same = len(nodes) == len(f.node) and nodes[i].op_type == node.op_type
        attrs = {a.name: a for a in nodes[i].attribute} if same else {}
        if not set(refs) <= set(attrs):
            raise UnsupportedModelError(
                f"model-local function {f.domain}::{f.name} uses opset {version} and refers to its attributes; "
                f"it cannot be converted to opset {opset} for export")
        for name, ref in refs.items():
            attrs[name].ref_attr_name = ref
    out = onnx.FunctionProto()
    out.CopyFrom(f)
    del out.node[:]
    out.node.extend(nodes)
    del out.opset_import[:]
    out.opset_import.extend(o for o in converted.opset_import)
    return out


def _fill_tensor(t: onnx.TensorProto, a: np.ndarray, name: str) -> None:
    """Write ``a`` into ``t`` with a single copy of its bytes (numpy_helper.from_array makes more)."""
    if a.dtype.kind in "fiub" and a.dtype.byteorder in "=|<" and np.little_endian and a.dtype.itemsize * 8 == \
            _ELEMENT_BITS.get(a.dtype, -1):
        t.name = name
        t.data_type = helper.np_dtype_to_tensor_dtype(a.dtype)
        t.dims.extend(a.shape)
        t.raw_data = np.ascontiguousarray(a).tobytes()
    else:
        t.CopyFrom(numpy_helper.from_array(a, name))


#: numpy dtypes stored one element per ``itemsize`` bytes in ONNX raw data (4-bit types are packed)
_ELEMENT_BITS = {np.dtype(t): np.dtype(t).itemsize * 8 for t in
                 (np.float16, np.float32, np.float64, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16,
                  np.uint32, np.uint64, np.bool_)}


def _value_info(v: Value, symbols: set[str] | None = None) -> onnx.ValueInfoProto:
    """``v``'s type; with ``symbols``, a symbolic dimension is written only where it is an expression over
    those (the graph inputs' symbols), else left unknown (see :func:`symbolic.is_exportable`); unknowns
    (``?...``) are never written. A value with a non-tensor or unusual ONNX type keeps that type."""
    if v.onnx_type is not None and (v.shape is None or not v.onnx_type.HasField("tensor_type")
                                    or v.dtype == np.dtype(object) and v.onnx_type.tensor_type.elem_type != 8):
        return helper.make_value_info(v.name, v.onnx_type)
    keep = lambda d: not symbolic.is_unknown(d) if symbols is None else symbolic.is_exportable(d, symbols)  # noqa: E731
    shape = None if v.shape is None else [d if isinstance(d, int) else (str(d) if keep(d) else None) for d in v.shape]
    return helper.make_tensor_value_info(v.name, helper.np_dtype_to_tensor_dtype(v.dtype), shape)


def graph_opset(graph: Graph) -> int:
    """The default-domain opset ``graph`` is written at by default: its model's own, else :data:`EXPORT_OPSET`."""
    return graph.domain_versions.get("") or EXPORT_OPSET


def to_onnx(graph: Graph, *, target_opset: int | None = None) -> onnx.ModelProto:
    """Convert a :class:`Graph` to an ONNX ``ModelProto`` at its own opsets, or at default-domain opset
    ``target_opset`` (opaque nodes are converted with ``onnx.version_converter``)."""
    own = graph_opset(graph)
    if target_opset is None or target_opset == own:
        return _Exporter(graph, own).run()
    if not MIN_CANONICAL_OPSET <= target_opset <= (MAX_IMPORT_OPSET := _max_import_opset()):
        raise UnsupportedModelError(f"target opset {target_opset} is outside the opsets alphanas writes "
                                    f"({MIN_CANONICAL_OPSET} to {MAX_IMPORT_OPSET})")
    if not any(n.is_opaque and n.domain in ("", "ai.onnx") for n in graph.nodes) and not graph.functions:
        return _Exporter(graph, target_opset).run()
    model = _Exporter(graph, own).run()
    try:
        converted = version_converter.convert_version(model, target_opset)
    except Exception as e:
        raise UnsupportedModelError(
            f"graph {graph.name!r}: onnx.version_converter cannot convert it from opset {own} to opset "
            f"{target_opset} ({type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else 'no reason given'})"
        ) from None
    return converted


#: Weight bytes above which :func:`save_onnx` switches to external data (protobuf's 2 GB limit, less
#: room for the graph itself).
EXTERNAL_DATA_THRESHOLD = _PROTOBUF_LIMIT - (64 << 20)


def save_onnx(graph: Graph, path: str | os.PathLike, *, external_data: bool | None = None, check: bool = True,
              external_data_threshold: int = EXTERNAL_DATA_THRESHOLD, target_opset: int | None = None) -> None:
    """Write ``graph`` to ``path`` atomically (temp file + rename).

    ``external_data=None`` stores the weights in a side file ``<name>.data`` (beside ``path``) when the
    graph was loaded from a model with external data, or when they exceed ``external_data_threshold``
    bytes (default: protobuf's 2 GB limit); ``True``
    forces it, ``False`` forbids it. Tensors under 1 KiB stay inside the model file. ``target_opset``: as
    in :func:`to_onnx`.
    """
    model = to_onnx(graph, target_opset=target_opset)
    weight_bytes = sum(v.array.nbytes for v in graph.initializers.values())
    if external_data is None:
        external_data = weight_bytes > external_data_threshold or bool(graph.model_info.get("external_data"))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not external_data:
        if check:
            _check(model, path)
        with atomic_path(path) as tmp:
            onnx.save_model(model, tmp)
        return
    # External data: write and check both files in a private folder beside ``path`` (the model
    # names its data file relative to itself), then move the data file, and last the model, in.
    location = path.name + ".data"
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        onnx.save_model(model, str(staging / path.name), save_as_external_data=True, all_tensors_to_one_file=True,
                        location=location, size_threshold=1024)
        if check:
            _check(str(staging / path.name), path)
        if (staging / location).exists():
            os.replace(staging / location, path.parent / location)
        os.replace(staging / path.name, path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


@functools.cache
def _export_errors() -> dict[str, type]:
    """``ExportValidationError`` (the exported model fails ``onnx.checker``) and ``ExportInferenceError``
    (it fails the checker's shape inference): one-line user errors that are also onnx's own error
    classes (made on first use, as they subclass classes of the onnx package)."""
    validation = type("ExportValidationError", (InvalidGraphError, onnx.checker.ValidationError),
                      {"__module__": __name__, "__doc__": "The exported model fails ``onnx.checker``: a one-line "
                       "user error that is also onnx's own error class."})
    inference = type("ExportInferenceError", (InvalidGraphError, onnx.shape_inference.InferenceError),
                     {"__module__": __name__, "__doc__": "The exported model fails the checker's shape inference "
                      "(also onnx's own error class)."})
    return {"ExportValidationError": validation, "ExportInferenceError": inference}


def _check(model: onnx.ModelProto | str, path: Path) -> None:
    """``onnx.checker`` (full check), its failures as one-line :class:`InvalidGraphError`s."""
    try:
        onnx.checker.check_model(model, full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as e:
        first = next((line.strip() for line in str(e).splitlines() if line.strip()), type(e).__name__)
        kind = _export_errors()["ExportInferenceError" if isinstance(e, onnx.shape_inference.InferenceError)
                                else "ExportValidationError"]
        raise kind(f"{path}: not written, the exported model fails the ONNX checker ({first})") from None
