"""Fixing a model's input shapes (as onnxsim's ``--overwrite-input-shape``).

``images:1,3,320,320`` gives the input ``images`` that static shape; the model is then imported as if
it had been exported at that size: every shape becomes static, and cost counts are exact. The shape
is set on the ONNX model before import (:func:`overwrite_input_shapes`), so that ONNX's own shape
inference and the ops' shape functions see it, and the symbols it binds are replaced everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from alphanas.errors import AlphanasError, ParameterError
from alphanas.ir.onnx_proto import _LazyModule, pb

if TYPE_CHECKING:
    import onnx
else:  # (imported on first use: reading a model needs only the protobuf classes, see onnx_proto)
    onnx = _LazyModule("onnx")

#: input name -> dims; a ``None`` dim keeps the model's own (e.g. a symbolic batch)
InputShapes = Mapping[str, Sequence["int | None"]]


def parse_input_shape(text: str) -> tuple[str, tuple[int, ...]]:
    """``"NAME:D1,D2,..."`` -> (name, dims). The name may itself contain ``:`` (the last one splits)."""
    name, sep, dims = text.rpartition(":")
    if not sep or not name:
        raise ParameterError("input_shapes", f"{{input_shapes}} {text!r}: write NAME:DIMS, e.g. images:1,3,320,320")
    try:
        shape = tuple(int(d) for d in dims.split(","))
    except ValueError:
        raise ParameterError("input_shapes", f"{{input_shapes}} {text!r}: the dimensions must be integers separated "
                             "by commas, e.g. images:1,3,320,320") from None
    if any(d <= 0 for d in shape):
        raise ParameterError("input_shapes", f"{{input_shapes}} {text!r}: every dimension must be positive")
    return name, shape


def parse_input_shapes(texts: Sequence[str] | None) -> dict[str, tuple[int, ...]]:
    """Several ``NAME:DIMS`` (each name at most once)."""
    out: dict[str, tuple[int, ...]] = {}
    for text in texts or ():
        name, shape = parse_input_shape(text)
        if name in out:
            raise ParameterError("input_shapes", f"{{input_shapes}}: {name!r} is given twice")
        out[name] = shape
    return out


def overwrite_input_shapes(model: onnx.ModelProto, shapes: InputShapes, source: str = "<model>") -> onnx.ModelProto:
    """A copy of ``model`` whose inputs have the static ``shapes`` (name -> dims).

    Each given shape must have the input's rank and agree with its static dimensions; a ``None``
    dimension keeps the model's (``(None, 3, 32, 32)`` binds the image size and leaves a symbolic batch
    symbolic). The symbols it binds are replaced in the outputs' declared shapes; the other
    intermediate shapes (``value_info``) are dropped, to be inferred again at the new size."""
    inputs = {i.name: i for i in model.graph.input}
    initializers = {t.name for t in model.graph.initializer}
    binding: dict[str, int] = {}
    for name, dims in shapes.items():
        if name not in inputs or name in initializers:
            names = ", ".join(n for n in inputs if n not in initializers) or "none"
            raise AlphanasError(f"{source}: the input shapes name {name!r}, which is not an input of the model "
                                f"(inputs: {names})")
        tt = inputs[name].type.tensor_type
        if not inputs[name].type.HasField("tensor_type"):
            raise AlphanasError(f"{source}: input {name!r} is not a tensor; it has no shape to set")
        old = list(tt.shape.dim) if tt.HasField("shape") else None
        if old is not None and len(old) != len(dims):
            raise AlphanasError(f"{source}: input {name!r} has rank {len(old)}, but the shape given "
                                f"{list(dims)} has rank {len(dims)}")
        if old is None and any(new is None for new in dims):
            raise AlphanasError(f"{source}: input {name!r} has no declared shape to keep dimensions of")
        for d, new in zip(old or (), dims):
            if new is None:
                continue
            if d.HasField("dim_value") and d.dim_value != new:
                raise AlphanasError(f"{source}: input {name!r} has the static dimension {d.dim_value} "
                                    f"where the shape given has {new}")
            if d.dim_param:
                if binding.setdefault(d.dim_param, new) != new:
                    raise AlphanasError(f"{source}: the input shapes give the symbol {d.dim_param!r} two sizes "
                                        f"({binding[d.dim_param]} and {new})")
    out = pb().ModelProto()
    out.CopyFrom(model)
    for vi in out.graph.input:
        if vi.name in shapes and any(d is None for d in shapes[vi.name]):
            for d, new in zip(vi.type.tensor_type.shape.dim, shapes[vi.name]):
                if new is not None:
                    d.dim_value = int(new)
        elif vi.name in shapes:
            _set_dims(vi, [int(d) for d in shapes[vi.name] if d is not None])
        else:
            _bind_dims(vi, binding)
    for vi in out.graph.output:
        _bind_dims(vi, binding, clear_others=True)
    del out.graph.value_info[:]
    return out


def _set_dims(vi: onnx.ValueInfoProto, dims: Sequence[int]) -> None:
    shape = vi.type.tensor_type.shape
    del shape.dim[:]
    for d in dims:
        shape.dim.add().dim_value = int(d)


def _bind_dims(vi: onnx.ValueInfoProto, binding: Mapping[str, int], clear_others: bool = False) -> None:
    """Set the dimensions named by ``binding``; with ``clear_others``, forget the other symbolic ones
    (an output's ``floor(height/2)`` is a size the new shapes determine, to be inferred again)."""
    if not vi.type.HasField("tensor_type") or not vi.type.tensor_type.HasField("shape"):
        return
    for d in vi.type.tensor_type.shape.dim:
        if d.dim_param in binding:
            d.dim_value = binding[d.dim_param]
        elif d.dim_param and clear_others:
            d.ClearField("dim_param")


def with_input_shapes(model: Any, shapes: InputShapes, source: str = "<model>") -> Any:
    """:func:`overwrite_input_shapes` for a model given as serialized bytes, a ``ModelProto`` or an IR
    ``Graph`` (the result is of the same kind, a ``Graph`` becoming a ``ModelProto``)."""
    if isinstance(model, (bytes, bytearray)):
        return overwrite_input_shapes(onnx.load_from_string(bytes(model)), shapes, source).SerializeToString()
    if isinstance(model, pb().ModelProto):
        return overwrite_input_shapes(model, shapes, source)
    from alphanas.ir.onnx_io import to_onnx

    return overwrite_input_shapes(to_onnx(model), shapes, source)
