"""Op definitions: one :class:`OpDef` per op type, registered in one place.

An ``OpDef`` carries everything alphanas knows about an op: its attributes and defaults, its shape
function, its parameter and FLOP counts, how it reads from and writes to ONNX, and how it lowers to
torch. Adding an op means writing one subclass and decorating it with :func:`register`; nodes whose
op type is not registered import as *opaque* nodes and are carried through unchanged.

Other packages attach their own per-op knowledge (e.g. property transfer functions) to
``OpDef.extras`` rather than editing this module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from alphanas.errors import InvalidGraphError

if TYPE_CHECKING:
    from alphanas.ir.graph import Node


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()

_REGISTRY: dict[tuple[str, str], "OpDef"] = {}

#: Categories used by analyses. ``linear`` ops are linear in their (non-weight) inputs for the depth
#: property; ``nonlinear`` ones are activations; ``shape`` ops only move data.
CATEGORIES = ("linear", "nonlinear", "norm", "pool", "shape", "helper", "reduce")


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
    category: ClassVar[str] = "linear"

    def __init__(self) -> None:
        self.extras: dict[str, Any] = {}

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
        x = node.inputs[0]
        return [(x.shape, x.dtype)]

    def param_inputs(self, node: "Node") -> list[int]:
        """Indices of the constant inputs that are trainable parameters of this node."""
        return [i for i in self.weight_inputs
                if i < len(node.inputs) and node.inputs[i] is not None and node.inputs[i].is_const]

    def params(self, node: "Node") -> int:
        """Trainable parameters read by this node (shared weights are counted per graph by ``cost``)."""
        return sum(int(node.inputs[i].const.size) for i in self.param_inputs(node))

    def macs(self, node: "Node") -> int:
        """Multiply-accumulates of one forward pass at batch size 1."""
        return 0

    def flops(self, node: "Node") -> int:
        """Floating-point operations at batch size 1 (2 per MAC, else one per output element)."""
        macs = self.macs(node)
        if macs:
            return 2 * macs
        return sum(v.numel() for v in node.outputs if v.shape is not None) if self.category != "shape" else 0

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
    return cls


def lookup(op_type: str, domain: str = "") -> OpDef | None:
    _ensure_loaded()
    if domain == "ai.onnx":
        domain = ""
    return _REGISTRY.get((domain, op_type))


def registry() -> dict[tuple[str, str], OpDef]:
    """All registered op definitions keyed by (domain, op_type)."""
    _ensure_loaded()
    return dict(_REGISTRY)


_loaded = False


def _ensure_loaded() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        import alphanas.ir.ops  # noqa: F401  (registers the built-in ops)


# -- helpers shared by op definitions ----------------------------------------------------------------


def broadcast_shapes(*shapes: tuple) -> tuple:
    """Numpy broadcasting over shapes that may contain symbolic (str) dimensions."""
    rank = max(len(s) for s in shapes)
    out = []
    for i in range(rank):
        dims = [s[i - rank + len(s)] for s in shapes if i - rank + len(s) >= 0]
        sym = [d for d in dims if isinstance(d, str)]
        ints = {d for d in dims if isinstance(d, int) and d != 1}
        if len(ints) > 1:
            raise ValueError(f"shapes {list(map(list, shapes))} do not broadcast")
        if ints:
            out.append(ints.pop())
        elif sym:
            out.append(sym[0])
        else:
            out.append(1)
    return tuple(out)


def dim_product(dims) -> int | str:
    """Product of dimensions; symbolic if any dimension is symbolic."""
    ints = int(np.prod([d for d in dims if isinstance(d, int)], dtype=np.int64))
    syms = [d for d in dims if isinstance(d, str)]
    if not syms:
        return ints
    expr = "*".join(syms)
    return expr if ints == 1 else f"{expr}*{ints}"


def dim_sum(dims) -> int | str:
    """Sum of dimensions; symbolic (e.g. ``"N+N+3"``) if any dimension is symbolic."""
    total = sum(d for d in dims if isinstance(d, int))
    syms = [d for d in dims if isinstance(d, str)]
    if not syms:
        return total
    return "+".join(syms + ([str(total)] if total else []))


def normalize_axis(axis: int, rank: int) -> int:
    if not -rank <= axis < rank:
        raise ValueError(f"axis {axis} out of range for rank {rank}")
    return axis % rank


def const_input(node: "Node", i: int) -> np.ndarray | None:
    v = node.inputs[i] if i < len(node.inputs) else None
    return None if v is None else v.const
