"""Op definitions: one :class:`OpDef` per op type, registered in one place.

An ``OpDef`` carries everything alphanas knows about an op: its attributes and defaults, its shape
function, its parameter and FLOP counts, the groups it belongs to (:class:`OpGroup`), how its
constant inputs are initialised, its access (mixing) rule, how the synthesizer names it, how it
reads from and writes to ONNX, and how it lowers to torch. Adding an op means writing one subclass
and decorating it with :func:`register`; nodes whose op type is not registered import as *opaque*
nodes and are carried through unchanged.

Code outside ``alphanas.ir.ops`` asks an op what it is (``OpGroup.ACTIVATION in opdef.groups``,
:func:`ops_in`, ``isinstance(node.opdef, Conv)``) instead of listing op type strings.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from alphanas.errors import InvalidGraphError
from alphanas.ir import symbolic

if TYPE_CHECKING:
    from alphanas.ir.graph import Node, Value


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()

_REGISTRY: dict[tuple[str, str], "OpDef"] = {}


class OpGroup(enum.Enum):
    """Groups of op types that analyses and search code ask about (as tinygrad's ``GroupOp``).

    An op declares its groups in :attr:`OpDef.groups`; :func:`ops_in` lists the registered op types of
    a group."""

    #: output element ``b`` reads element ``b`` of every operand (numpy broadcasting)
    ELEMENTWISE = "elementwise"
    #: element-wise with one data input (activations, ``Exp``, ``Neg``, ``Identity``, ``Cast``, ...)
    UNARY = "unary"
    #: broadcasting arithmetic of two operands (``Add``, ``Sub``, ``Mul``, ``Div``, ``Pow``)
    ARITHMETIC = "arithmetic"
    #: activation functions (``Relu``, ``Gelu``, ``Clip`` as ReLU6, ...): the synthesizer's ``act`` kinds
    ACTIVATION = "activation"
    #: non-linear in its data inputs, as the depth property counts ops (αNAS: norms, pools and max count
    #: as linear); :meth:`OpDef.is_nonlinear` refines it per node
    NONLINEAR = "nonlinear"
    #: normalisations (batch, layer, instance, local response)
    NORM = "norm"
    #: windowed pooling (``MaxPool``, ``AveragePool``)
    POOL = "pool"
    #: pooling over all spatial positions
    GLOBAL_POOL = "global_pool"
    #: reductions over static axes
    REDUCE = "reduce"
    #: convolutions
    CONV = "conv"
    #: matrix products with a weight operand (``Gemm``, ``MatMul``)
    DENSE = "dense"
    #: data movement only: no arithmetic, no FLOPs
    SHAPE = "shape"
    #: the identity at inference (``Identity``, ``Dropout``, ``Cast``): neutral for the depth property
    HELPER = "helper"


class WeightRole(enum.Enum):
    """How a constant input enters an op's computation (:meth:`OpDef.weight_role`)."""

    #: multiplied into the data and summed over a fan-in: a convolution kernel, a weight matrix
    KERNEL = "kernel"
    #: a multiplicative factor or a variance: positive, about 1 (norm scales, ``Mul``/``Div`` operands)
    SCALE = "scale"
    #: anything else: biases, means, additive constants, tables
    OFFSET = "offset"


#: An access (mixing) rule: the name of a rule in ``alphanas.properties.access.RULES``, or a function
#: ``node -> patterns`` for an access pattern none of them describes (see that module).
AccessRule = str | Callable[["Node"], list]


class OpDef:
    """Base class of op definitions. Subclasses set the class attributes and override methods."""

    op_type: ClassVar[str] = ""
    domain: ClassVar[str] = ""
    #: attribute name -> default (``REQUIRED`` when it has none)
    attributes: ClassVar[dict[str, Any]] = {}
    #: inclusive bounds on the number of inputs
    min_inputs: ClassVar[int] = 1
    max_inputs: ClassVar[int] = 1
    #: input indices holding trainable weights (counted as parameters when constant)
    weight_inputs: ClassVar[tuple[int, ...]] = ()
    #: the groups this op belongs to (:class:`OpGroup`)
    groups: ClassVar[frozenset[OpGroup]] = frozenset()
    #: the access (mixing) rule, interpreted by :mod:`alphanas.properties.access`; ``None``: every output
    #: element may read every input element (sound for any op, as for opaque nodes)
    access: ClassVar[AccessRule | None] = None
    #: how the synthesizer names this op: synthesis kind -> the attributes a node of that kind has (and is
    #: built with). The term the kind belongs to follows from the groups (``ACTIVATION``: ``act``,
    #: ``NORM``: ``norm``, ``POOL``: ``pool``, ``GLOBAL_POOL``: ``gpool``); see :func:`synthesis_kinds`.
    synth_kinds: ClassVar[dict[str, dict[str, Any]]] = {}
    #: where this op's kinds come in the synthesizer's default vocabulary (lower first; ties keep the
    #: registration order)
    synth_order: ClassVar[int] = 100

    # -- attributes --------------------------------------------------------------------------------

    def num_outputs(self, attrs: dict[str, Any]) -> int:
        return 1

    def complete_attrs(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """Fill defaults and reject unknown attributes."""
        unknown = set(attrs) - set(self.attributes)
        if unknown:
            raise InvalidGraphError(f"{self.op_type}: unknown attribute(s) {sorted(unknown)}")
        out = {}
        for k, default in self.attributes.items():
            if k in attrs:
                out[k] = _canonical_value(attrs[k])
            elif default is REQUIRED:
                raise InvalidGraphError(f"{self.op_type}: attribute {k!r} is required")
            else:
                out[k] = _canonical_value(default)
        return out

    def check(self, node: "Node") -> None:
        n = len(node.inputs)
        if not self.min_inputs <= n <= self.max_inputs:
            raise InvalidGraphError(
                f"node {node.name!r} ({self.op_type}) has {n} inputs; expected "
                f"{self.min_inputs}..{self.max_inputs}"
            )
        for i in range(self.min_inputs):
            if node.inputs[i] is None:
                raise InvalidGraphError(f"node {node.name!r} ({self.op_type}): input {i} is required")

    # -- shapes and cost ---------------------------------------------------------------------------

    def infer(self, node: "Node") -> list[tuple[tuple, Any]]:
        """Output (shape, dtype) pairs. Default: same as the first input (element-wise ops)."""
        x = operand(node, 0)
        return [(shape_of(x), x.dtype)]

    def param_inputs(self, node: "Node") -> list[int]:
        """Indices of the constant inputs that are trainable parameters of this node."""
        return [i for i in self.weight_inputs if const_input(node, i) is not None]

    def params(self, node: "Node") -> int:
        """Trainable parameters read by this node (shared weights are counted per graph by ``cost``)."""
        return sum(int(weight(node, i).size) for i in self.param_inputs(node))

    def macs(self, node: "Node") -> int:
        """Multiply-accumulates of one forward pass at batch size 1."""
        return 0

    def flops(self, node: "Node") -> int:
        """Floating-point operations at batch size 1 (2 per MAC, else one per output element)."""
        macs = self.macs(node)
        if macs:
            return 2 * macs
        if OpGroup.SHAPE in self.groups:
            return 0
        return sum(v.numel() for v in node.outputs if v.shape is not None)

    # -- what the op is --------------------------------------------------------------------------

    def is_nonlinear(self, node: "Node") -> bool:
        """Whether ``node`` counts as non-linear in its data inputs for the depth property (default: the
        op is in :attr:`OpGroup.NONLINEAR`). Override where it depends on the node (``Pow``, ``Div``)."""
        return OpGroup.NONLINEAR in self.groups

    def weight_role(self, node: "Node", index: int) -> WeightRole:
        """How the constant input ``index`` of ``node`` enters the computation (default: an offset)."""
        return WeightRole.OFFSET

    # -- initialisation --------------------------------------------------------------------------

    def init_inputs(self, node: "Node") -> list[int]:
        """The constant inputs a fresh initialisation replaces: the parameters (and running statistics)."""
        return self.param_inputs(node)

    def fan_in(self, node: "Node", index: int) -> int:
        """Fan-in of the weight at input ``index`` for He initialisation: the product of its axes after the
        first (output-major kernels). Override for other layouts."""
        return int(np.prod(weight(node, index).shape[1:]))

    def init_weight(self, node: "Node", index: int, rng: np.random.Generator) -> np.ndarray:
        """A fresh value (float64, the input's shape) for constant input ``index`` of ``node``, for training
        from scratch: He-normal (:meth:`fan_in`) for a matrix or kernel, zeros for a vector or scalar."""
        shape = weight(node, index).shape
        if len(shape) >= 2:
            return rng.normal(0.0, math.sqrt(2.0 / max(1, self.fan_in(node, index))), size=shape)
        return np.zeros(shape)

    # -- ONNX --------------------------------------------------------------------------------------

    def from_onnx(self, imp, inputs: list, attrs: dict[str, Any], opset: int, outputs: list[str]) -> None:
        """Add the canonical node(s) for an ONNX node to the importer. Override for legacy forms."""
        imp.add(self.op_type, inputs, attrs, outputs, domain=self.domain)

    def to_onnx(self, node: "Node", exp) -> None:
        """Write ``node`` as ONNX node(s) of the export opset. Override where inputs became attrs."""
        exp.node(node, self.op_type, [exp.name(v) for v in node.inputs], node.attrs, domain=self.domain)

    # -- torch -------------------------------------------------------------------------------------

    def lower(self, node: "Node", ctx) -> list:
        """Emit torch.fx nodes computing ``node``'s outputs; returns one fx node per output."""
        raise NotImplementedError(f"{self.op_type} has no torch lowering")

    def __repr__(self) -> str:
        return f"<OpDef {self.domain + '::' if self.domain else ''}{self.op_type}>"


def _canonical_value(v: Any) -> Any:
    """ONNX stores float attributes as float32: round them so that a round trip changes nothing."""
    if isinstance(v, float):
        return float(np.float32(v))
    if isinstance(v, (list, tuple)):
        return [_canonical_value(x) for x in v]
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return float(np.float32(v))
    return v


def register(cls: type[OpDef]) -> type[OpDef]:
    """Class decorator: instantiate and register an op definition (one per (domain, op_type))."""
    inst = cls()
    key = (cls.domain, cls.op_type)
    if key in _REGISTRY:
        raise ValueError(f"op {cls.op_type!r} (domain {cls.domain!r}) is registered twice")
    _REGISTRY[key] = inst
    _registry_changed()
    return cls


def unregister(op_type: str, domain: str = "") -> None:
    """Remove a registered op definition (nodes of that type import as opaque again). For tests and
    plug-ins that register an op for a while."""
    _ensure_loaded()
    if _REGISTRY.pop((domain, op_type), None) is None:
        raise KeyError(f"op {op_type!r} (domain {domain!r}) is not registered")
    _registry_changed()


def lookup(op_type: str, domain: str = "") -> OpDef | None:
    _ensure_loaded()
    if domain == "ai.onnx":
        domain = ""
    return _REGISTRY.get((domain, op_type))


def registry() -> dict[tuple[str, str], OpDef]:
    """All registered op definitions keyed by (domain, op_type), in registration order."""
    _ensure_loaded()
    return dict(_REGISTRY)


#: answers derived from the registry, dropped whenever it changes
_DERIVED: dict[Any, Any] = {}
_LISTENERS: list[Callable[[], None]] = []


def on_registry_change(callback: Callable[[], None]) -> None:
    """Call ``callback`` whenever an op is registered or unregistered (to drop caches keyed by op type)."""
    _LISTENERS.append(callback)


def _registry_changed() -> None:
    _DERIVED.clear()
    for callback in _LISTENERS:
        callback()


def ops_in(group: OpGroup) -> frozenset[str]:
    """The registered op types (default domain) of ``group``."""
    key = ("ops_in", group)
    if key not in _DERIVED:
        _DERIVED[key] = frozenset(op for (dom, op), d in registry().items() if dom == "" and group in d.groups)
    return _DERIVED[key]


def synthesis_kinds(group: OpGroup) -> dict[str, tuple[OpDef, dict[str, Any]]]:
    """Synthesis kind -> (op definition, the kind's attributes) for the registered ops (default domain) of
    ``group`` (:attr:`OpDef.synth_kinds`), ordered as the synthesizer's default vocabulary lists them
    (:attr:`OpDef.synth_order`, then registration order)."""
    key = ("synthesis_kinds", group)
    if key not in _DERIVED:
        defs = [d for (dom, _), d in registry().items() if dom == "" and group in d.groups and d.synth_kinds]
        out: dict[str, tuple[OpDef, dict[str, Any]]] = {}
        for d in sorted(defs, key=lambda d: d.synth_order):  # (a stable sort keeps the registration order)
            for kind, attrs in d.synth_kinds.items():
                if kind in out:
                    raise ValueError(f"synthesis kind {kind!r} is declared by {out[kind][0]!r} and {d!r}")
                out[kind] = (d, dict(attrs))
        _DERIVED[key] = out
    return _DERIVED[key]


_loaded = False


def _ensure_loaded() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        import alphanas.ir.ops  # noqa: F401  (registers the built-in ops)


# -- helpers shared by op definitions ----------------------------------------------------------------


def broadcast_shapes(*shapes: tuple) -> tuple:
    """Numpy broadcasting over shapes that may contain symbolic (str) dimensions.

    A static size other than 1 wins over symbols (a valid model broadcasts them to it); equal symbols
    stay; different symbols give their maximum (one of them is 1 at run time, or both are equal)."""
    rank = max(len(s) for s in shapes)
    out: list[int | str] = []
    for i in range(rank):
        dims = [s[i - rank + len(s)] for s in shapes if i - rank + len(s) >= 0]
        sym = list(dict.fromkeys(d for d in dims if isinstance(d, str)))
        ints = {d for d in dims if isinstance(d, int) and d != 1}
        if len(ints) > 1:
            raise ValueError(f"shapes {list(map(list, shapes))} do not broadcast")
        if ints:
            out.append(ints.pop())
        elif len(sym) == 1:
            out.append(sym[0])
        elif sym:
            out.append(symbolic.maximum(*sym))
        else:
            out.append(1)
    return tuple(out)


def dim_product(dims) -> int | str:
    """Product of dimensions; a symbolic expression (``"4*height*width"``) if any dimension is symbolic."""
    dims = list(dims)
    if all(isinstance(d, int) for d in dims):
        return int(np.prod(dims, dtype=np.int64))
    return symbolic.mul(*dims)


def dim_sum(dims) -> int | str:
    """Sum of dimensions; a symbolic expression (e.g. ``"2*N + 3"``) if any dimension is symbolic."""
    dims = list(dims)
    if all(isinstance(d, int) for d in dims):
        return sum(dims)
    return symbolic.add(*dims)


def normalize_axis(axis: int, rank: int) -> int:
    if not -rank <= axis < rank:
        raise ValueError(f"axis {axis} out of range for rank {rank}")
    return axis % rank


def const_input(node: "Node", i: int) -> np.ndarray | None:
    """The constant value of input ``i`` of ``node``; ``None`` when it is absent or computed."""
    v = node.inputs[i] if i < len(node.inputs) else None
    return None if v is None else v.const


def operand(node: "Node", i: int) -> "Value":
    """Input ``i`` of ``node``, one the op requires."""
    v = node.inputs[i] if i < len(node.inputs) else None
    if v is None:
        raise InvalidGraphError(f"node {node.name!r} ({node.op_type}): input {i} is required")
    return v


def shape_of(v: "Value") -> tuple:
    """The shape of ``v``, which must be known (values are inferred in node order)."""
    if v.shape is None:
        raise InvalidGraphError(f"value {v.name!r} has no known shape")
    return v.shape


def weight(node: "Node", i: int) -> np.ndarray:
    """The constant value of input ``i`` of ``node``, which must be a constant."""
    c = operand(node, i).const
    if c is None:
        raise InvalidGraphError(f"node {node.name!r} ({node.op_type}): input {i} is not a constant")
    return c
