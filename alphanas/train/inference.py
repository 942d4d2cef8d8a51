"""Running a graph on a dataset's inputs: the compatibility check (input and output against the data and
the task's targets), logits and top-1 accuracy."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from alphanas.errors import AlphanasError
from alphanas.ir.graph import Graph
from alphanas.train.device import resolve_device
from alphanas.ir.torch_lowering import to_torch


_IMAGE_DIMS = ("channels", "height", "width")


def _fix_hint(dataset, dim: int, model_size) -> str:
    """What to pass so that sample dimension ``dim`` (0-based, batch excluded) of ``dataset`` fits ``model_size``."""
    ndim = len(dataset.x_train.shape) - 1
    if getattr(dataset, "name", "") == "imagefolder" and ndim == 3 and isinstance(model_size, int):
        if dim == 0 and model_size in (1, 3):
            return f"pass --channels {model_size}"
        if dim in (1, 2):
            return f"pass --image-size {model_size}"
    want = "x".join(str(int(d)) for d in dataset.x_train.shape[1:])
    return f"use a model built for {want} inputs (e.g. --zoo NAME builds one for the data)"


def check_compatible(graph: Graph, dataset, task=None) -> None:
    """Raise :class:`AlphanasError` unless ``graph`` takes ``dataset``'s inputs and predicts its classes
    (or, for another ``task`` of :mod:`alphanas.train.tasks`, its labels or targets); the message names the
    dimension that does not fit and what to pass."""
    from alphanas.train.tasks import get_task

    task = get_task(task)
    if isinstance(dataset.x_train, dict):
        _check_outputs(graph, dataset, task, _check_named_inputs(graph, dataset))
        return
    want = tuple(int(d) for d in dataset.x_train.shape[1:])
    if len(graph.inputs) != 1:
        raise AlphanasError(f"model {graph.name!r} has {len(graph.inputs)} inputs; training needs exactly one "
                            "(the input batch)")
    v = graph.inputs[0]
    shape = tuple(v.shape or ())
    given = "[N, " + ", ".join(map(str, want)) + "]"
    if len(shape) != len(want) + 1:
        raise AlphanasError(
            f"model {graph.name!r} expects input {v.name!r} of rank {len(shape)} {list(shape)} but dataset "
            f"{dataset.name!r} gives rank {len(want) + 1} {given}; {_fix_hint(dataset, -1, None)}")
    for i, (d, w) in enumerate(zip(shape[1:], want)):
        if isinstance(d, int) and d != w:
            what = f" ({_IMAGE_DIMS[i]})" if len(want) == 3 else ""
            raise AlphanasError(
                f"model {graph.name!r} expects input {v.name!r} of shape {list(shape)} but dataset {dataset.name!r} "
                f"gives {given}: dimension {i + 1}{what} is {d} in the model and {w} in the data; "
                f"{_fix_hint(dataset, i, d)}")
    if isinstance(shape[0], int):
        raise AlphanasError(
            f"model {graph.name!r} has a fixed batch size {shape[0]} in input {v.name!r} {list(shape)}; training needs "
            "a symbolic batch dimension (export the model with a dynamic batch axis)"
        )
    if v.dtype.kind != "f":
        raise AlphanasError(f"model {graph.name!r}: input {v.name!r} is {v.dtype}, not floating point")
    _check_outputs(graph, dataset, task, {d: w for d, w in zip(shape[1:], want) if isinstance(d, str)})


def _check_named_inputs(graph: Graph, dataset) -> dict[str, int]:
    """Check data with one array per model input (``x_<split>__<input>``): the same input names, each
    array's rank, static sizes and kind of element (float, bool, integer) as its input, a symbolic batch;
    returns the binding of the inputs' symbolic sizes to the data's."""
    arrays = dataset.x_train
    names = [v.name for v in graph.inputs]
    if sorted(names) != sorted(arrays):
        missing = [n for n in names if n not in arrays]
        extra = [n for n in arrays if n not in names]
        what = (f"no array x_train__{missing[0]} for its input {missing[0]!r}" if missing
                else f"an array x_train__{extra[0]} for no input of the model")
        raise AlphanasError(f"model {graph.name!r} has inputs ({', '.join(names)}) but dataset {dataset.name!r} has "
                            f"{what}; give one array x_<split>__<input> per model input")
    binding: dict[str, int] = {}
    source: dict[str, str] = {}  # size name -> the input that bound it
    for v in graph.inputs:
        a = arrays[v.name]
        want = tuple(int(d) for d in a.shape[1:])
        shape = tuple(v.shape or ())
        given = "[N, " + ", ".join(map(str, want)) + "]"
        if len(shape) != len(want) + 1:
            raise AlphanasError(f"model {graph.name!r} expects input {v.name!r} of rank {len(shape)} {list(shape)} but "
                                f"dataset {dataset.name!r} gives x_train__{v.name} of rank {len(want) + 1} {given}")
        for i, (d, w) in enumerate(zip(shape[1:], want)):
            if isinstance(d, int) and d != w:
                raise AlphanasError(f"model {graph.name!r} expects input {v.name!r} of shape {list(shape)} but dataset "
                                    f"{dataset.name!r} gives x_train__{v.name} {given}: dimension {i + 1} is {d} in "
                                    f"the model and {w} in the data")
            if isinstance(d, str):
                if binding.get(d, w) != w:
                    raise AlphanasError(f"model {graph.name!r}: size {d!r} is {binding[d]} in x_train__{source[d]} "
                                        f"and {w} in x_train__{v.name}; the inputs' data must agree on it")
                binding[d] = w
                source.setdefault(d, v.name)
        if isinstance(shape[0], int):
            raise AlphanasError(f"model {graph.name!r} has a fixed batch size {shape[0]} in input {v.name!r} "
                                f"{list(shape)}; training needs a symbolic batch dimension (export the model with a "
                                "dynamic batch axis)")
        kind = v.dtype.kind if v.dtype.kind in "fb" else "i"
        have = a.dtype.kind if a.dtype.kind in "fb" else "i"
        if kind != have:
            words = {"f": "floating point", "b": "boolean", "i": "integer"}
            raise AlphanasError(f"model {graph.name!r}: input {v.name!r} is {v.dtype} but dataset {dataset.name!r} "
                                f"gives x_train__{v.name} as {a.dtype}; give {words[kind]} data for it")
    return binding


def _check_outputs(graph: Graph, dataset, task, binding: dict[str, int]) -> None:
    """The model's one output has the shape ``task`` trains for ``dataset``, the inputs' symbolic sizes
    bound to the data's (``binding``)."""
    out = graph.outputs[0]
    oshape = tuple(out.shape or ())
    target = task.output_shape(dataset)
    if len(oshape) == len(target) + 1:  # bind the input's symbolic sizes to the data's to size the output
        from alphanas.ir.symbolic import evaluate_shape

        try:
            oshape = (oshape[0], *evaluate_shape(oshape[1:], binding))
        except Exception:  # an expression sympy cannot bind: compare the static sizes only
            pass
    what = {"classification": "classes", "multilabel": "labels"}.get(task.name, "regression targets")
    if len(target) == 1 and (task.name != "regression" or len(oshape) <= 2):  # [N, width]
        width = target[0]
        if len(oshape) != 2 or (isinstance(oshape[1], int) and oshape[1] != width):
            dim = (f"dimension 1 is {oshape[1]} in the model and {width} in the data"
                   if len(oshape) == 2 else f"rank {len(oshape)} instead of 2")
            raise AlphanasError(
                f"model {graph.name!r} outputs {out.name!r} of shape {list(oshape)} but dataset {dataset.name!r} has "
                f"{width} {what} ({dim}); training needs outputs of shape [N, {width}]: "
                f"use a model with {width} outputs (a zoo model built for the data has them)"
            )
        return
    need = "[N, " + ", ".join(map(str, target)) + "]"
    if len(oshape) != len(target) + 1:
        raise AlphanasError(
            f"model {graph.name!r} outputs {out.name!r} of rank {len(oshape)} {list(oshape)} but dataset "
            f"{dataset.name!r} has {what} of rank {len(target) + 1} {need}; give targets y of the model's output "
            "shape (one per sample) or a model whose output has the targets' shape")
    for i, (d, t) in enumerate(zip(oshape[1:], target)):
        if isinstance(d, int) and d != t:
            fixed = [str(x) if isinstance(x, int) else str(y) for x, y in zip(oshape[1:], target)]
            raise AlphanasError(
                f"model {graph.name!r} outputs {out.name!r} of shape {list(oshape)} but dataset {dataset.name!r} has "
                f"{what} {need}: dimension {i + 1} is {d} in the model and {t} in the data; give targets y of "
                f"shape [N, {', '.join(fixed)}] or a model whose output is {need}")


def sample_input_shapes(graph: Graph, dataset) -> dict[str, tuple] | None:
    """``{input: (None, *sample shape)}`` (for :func:`~alphanas.ir.onnx_io.load_onnx`'s ``input_shapes``)
    when ``graph`` does not lower to torch as it is and its one input has symbolic sizes besides the
    batch (a sequence length, an image height) and the rank of ``dataset``'s samples, which fit its
    static sizes: training sees the data's sizes only, and static sizes let shape computations (a
    ``Resize`` over a symbolic axis) lower. ``None`` when the model lowers with its symbolic sizes (they
    are kept, so the trained model still takes any size), when there is nothing to bind, or when the
    input does not fit (:func:`check_compatible` says which dimension)."""
    if dataset is not None and isinstance(dataset.x_train, dict):
        return _sample_shapes_named(graph, dataset.x_train)
    if dataset is None or len(graph.inputs) != 1:
        return None
    v = graph.inputs[0]
    want = tuple(int(d) for d in dataset.x_train.shape[1:])
    shape = tuple(v.shape or ())
    if len(shape) != len(want) + 1 or all(isinstance(d, int) for d in shape[1:]):
        return None
    if any(isinstance(d, int) and d != w for d, w in zip(shape[1:], want)):
        return None
    try:
        to_torch(graph)
        return None
    except Exception:  # noqa: BLE001 - any refusal: try again at the data's sizes (check_compatible and the
        pass  # lowering report what still does not fit)
    return {v.name: (None, *want)}


def _sample_shapes_named(graph: Graph, arrays: dict) -> dict[str, tuple] | None:
    """:func:`sample_input_shapes` for data with one array per input (``arrays``: input name -> array)."""
    if {v.name for v in graph.inputs} != set(arrays):
        return None
    bound = {}
    for v in graph.inputs:
        want = tuple(int(d) for d in arrays[v.name].shape[1:])
        shape = tuple(v.shape or ())
        if len(shape) != len(want) + 1 or any(isinstance(d, int) and d != w for d, w in zip(shape[1:], want)):
            return None
        bound[v.name] = (None, *want)
    if all(isinstance(d, int) for v in graph.inputs for d in (v.shape or ())[1:]):
        return None
    try:
        to_torch(graph)
        return None
    except Exception:  # noqa: BLE001 - as for one input: try again at the data's sizes
        pass
    return bound


def predict(model: Graph | nn.Module, x: np.ndarray | torch.Tensor, *, batch_size: int = 1024,
            device: str | torch.device = "auto") -> np.ndarray:
    """Logits of ``model`` (a graph or a lowered module, run in eval mode) for images ``x``, as numpy."""
    dev = resolve_device(device) if not isinstance(device, torch.device) else device
    module = to_torch(model) if isinstance(model, Graph) else model
    module = module.to(dev)
    xt = torch.as_tensor(x)
    outs = []
    was_training = module.training
    module.eval()
    with torch.inference_mode():
        for i in range(0, len(xt), batch_size):
            o = module(xt[i:i + batch_size].to(dev))
            outs.append((o[0] if isinstance(o, tuple) else o).float().cpu())
    module.train(was_training)
    return torch.cat(outs).numpy() if outs else np.zeros((0, 0), np.float32)


def evaluate(model: Graph | nn.Module, x: np.ndarray | torch.Tensor, y: np.ndarray | torch.Tensor, *,
             batch_size: int = 1024, device: str | torch.device = "auto") -> float:
    """Top-1 accuracy (a fraction) of ``model`` on images ``x`` with labels ``y``, in eval mode."""
    if len(y) == 0:
        return 0.0
    logits = predict(model, x, batch_size=batch_size, device=device)
    return float((logits.argmax(axis=1) == np.asarray(y)).mean())


__all__ = ["check_compatible", "evaluate", "predict"]
