"""A user's model as the seed of a search: does it fit the dataset and the task, and re-targeting its
classifier head.

:func:`check_seed_fits` says exactly what to change when a seed model does not take the dataset's
inputs or predict its classes, labels or regression targets (``--in-channels``/``--input-size`` with
the synthetic dataset, another dataset, or ``--num-classes``). :func:`retarget_head` gives the
classifier's last linear layer (``Gemm``, or ``MatMul`` followed by ``Add``, or a 1x1 ``Conv`` before a
flatten) a fresh, seeded weight and bias
for another number of classes; every other weight is kept as the seed's initialisation.
"""

from __future__ import annotations

import math

import numpy as np

from alphanas.errors import AlphanasError, ParameterError, UnsupportedModelError
from alphanas.ir.graph import Graph, Node, Value

#: image shapes (channels, height, width) of the built-in datasets with fixed images
FIXED_IMAGES = {"digits": (1, 8, 8), "cifar10": (3, 32, 32)}
#: ops between the classifier's last linear layer and the output that keep the class axis
_PASS_THROUGH = ("Identity", "Softmax", "LogSoftmax", "Flatten", "Reshape", "Squeeze", "Dropout")


def _image_advice(want: tuple, c: int, h: int | None, w: int | None) -> str:
    """What to change so that a dataset gives images of shape (c, h, w) (``None``: any size)."""
    fits = [n for n, (dc, dh, dw) in FIXED_IMAGES.items()
            if dc == c and (h is None or h == dh) and (w is None or w == dw)]
    opts = [f"--in-channels {c}"]
    if h is not None and h == w:
        opts.append(f"--input-size {h}")
    synthetic = f"--dataset synthetic {' '.join(opts)}" if h is None or h == w else ""
    choices = [f"--dataset {n}" for n in fits] + ([synthetic] if synthetic else [])
    if not choices:
        return (f"no built-in dataset gives {c}x{h}x{w} images; export the model for the dataset's "
                f"{want[0]}x{want[1]}x{want[2]} images")
    return "use " + " or ".join(choices)


def check_seed_fits(graph: Graph, dataset, task=None) -> None:
    """Raise :class:`~alphanas.errors.AlphanasError` naming exactly what to change unless ``graph`` takes
    ``dataset``'s input batch (one float input ``[N, ...]`` with a symbolic batch: images ``[N, C, H, W]``,
    sequences, tables) and returns what ``task`` trains (:mod:`alphanas.train.tasks`): logits
    ``[N, classes]`` or ``[N, labels]``, or the regression targets' shape ``[N, ...]``; and lowers to
    torch (a search trains every candidate in torch). A model with several inputs takes data with one
    array per input, named after it (``x_train__<input>``; :mod:`alphanas.data.inputs`)."""
    from alphanas.train import check_compatible
    from alphanas.train.tasks import get_task

    task = get_task(task)
    name = getattr(dataset, "name", "the dataset")
    if isinstance(dataset.x_train, dict) or len(graph.inputs) != 1:
        _check_named_inputs_fit(graph, dataset, task)
        return
    want = tuple(int(d) for d in dataset.input_shape)
    given = f"[N, {', '.join(map(str, want))}]"
    v = graph.inputs[0]
    shape = tuple(v.shape or ())
    if len(want) == 3 and len(shape) != len(want) + 1:
        raise ParameterError("dataset", f"model {graph.name!r} expects input {v.name!r} of shape {list(shape)} "
                             f"(rank {len(shape)}) but dataset {name!r} gives images {given}; give data of the model's "
                             "input shape (e.g. {dataset} npz) or a model of rank 4 for the images")
    if len(want) == 3:
        c, h, w = (d if isinstance(d, int) else None for d in shape[1:])
        if (c is not None and c != want[0]) or (h is not None and h != want[1]) or (w is not None and w != want[2]):
            if c is None:
                c = want[0]
            raise AlphanasError(f"model {graph.name!r} expects input {v.name!r} of shape {list(shape)} but dataset "
                                f"{name!r} gives {given}: {_image_advice(want, c, h, w)}")
    out = graph.outputs[0]
    oshape = tuple(out.shape or ())
    if len(graph.outputs) != 1:
        raise AlphanasError(f"model {graph.name!r} has {len(graph.outputs)} outputs "
                            f"({', '.join(repr(o.name) for o in graph.outputs)}); a search trains models with one output")
    if task.name != "regression":
        what = "classes" if task.name == "classification" else "labels"
        if len(oshape) != 2:
            raise ParameterError("task", f"model {graph.name!r} outputs {out.name!r} of shape {list(oshape)}; task "
                                 f"{task.name} trains one output of logits [N, {what}] (for other outputs use {{task}} "
                                 "regression with targets of the output's shape)")
        width = task.outputs(dataset)
        if isinstance(oshape[1], int) and oshape[1] != width:
            raise ParameterError("num_classes", f"model {graph.name!r} predicts {oshape[1]} {what} but dataset "
                                 f"{name!r} has {width}: use {{num_classes}} {width} to re-target its "
                                 "classifier head (the other weights are kept)")
    check_compatible(graph, dataset, task)  # every input and output dimension, batch and dtype
    _check_lowers(graph)


def _check_lowers(graph: Graph) -> None:
    from alphanas.synth.verify import lowering_blocker

    blocker = lowering_blocker(graph)
    if blocker is not None:
        raise UnsupportedModelError(f"model {graph.name!r} cannot be searched: it does not lower to torch, which "
                                    f"training needs ({blocker})")


def _check_named_inputs_fit(graph: Graph, dataset, task) -> None:
    """:func:`check_seed_fits` for a model with several inputs, or data with one array per input
    (``x_<split>__<input>``, :mod:`alphanas.data.inputs`)."""
    from alphanas.train import check_compatible

    names = ", ".join(v.name for v in graph.inputs)
    if not isinstance(dataset.x_train, dict):
        arrays = ", ".join(f"x_train__{v.name}" for v in graph.inputs)
        raise AlphanasError(f"model {graph.name!r} has {len(graph.inputs)} inputs ({names}) but dataset "
                            f"{getattr(dataset, 'name', '?')!r} gives one input array; give one array per input, "
                            f"named x_<split>__<input> ({arrays}), in an .npz")
    if len(graph.outputs) != 1:
        raise AlphanasError(f"model {graph.name!r} has {len(graph.outputs)} outputs "
                            f"({', '.join(repr(o.name) for o in graph.outputs)}); a search trains models with one output")
    check_compatible(graph, dataset, task)
    _check_lowers(graph)


def _const(v: Value | None) -> bool:
    return v is not None and v.is_const and v.producer is None


def find_head(graph: Graph) -> tuple[Node, Node | None]:
    """The classifier's last linear layer feeding the (single) output: ``(Gemm, None)``,
    ``(MatMul, Add)`` or ``(Conv 1x1, None)``, through the ops of :data:`_PASS_THROUGH`."""
    if len(graph.outputs) != 1:
        raise ParameterError("num_classes", f"model {graph.name!r} has {len(graph.outputs)} outputs; "
                             "{num_classes} re-targets a classifier with one output")
    v: Value | None = graph.outputs[0]
    add: Node | None = None
    for _ in range(16):
        n = None if v is None else v.producer
        if n is None:
            break
        if n.op_type == "Gemm" and _const(n.inputs[1]):
            return n, None
        if n.op_type == "Conv" and _const(n.inputs[1]) and all(k == 1 for k in n.attrs.get("kernel_shape", [])) \
                and n.attrs.get("group", 1) == 1:
            return n, None
        if n.op_type == "Add" and add is None:
            bias = [i for i, x in enumerate(n.inputs) if _const(x)]
            if len(bias) == 1:
                add, v = n, n.inputs[1 - bias[0]]
                continue
        if n.op_type == "MatMul" and _const(n.inputs[1]) and n.inputs[1].const.ndim == 2:
            return n, add
        if n.op_type in _PASS_THROUGH:
            v = n.inputs[0]
            continue
        break
    raise ParameterError("num_classes", f"model {graph.name!r}: no classifier head found before output {graph.outputs[0].name!r} "
                        "(a Gemm, a MatMul with a constant weight and bias, or a 1x1 Conv); {{num_classes}} cannot "
                        "re-target it: export the model with the dataset's number of classes")


def retarget_head(graph: Graph, num_classes: int, seed: int = 0) -> str:
    """Give ``graph``'s classifier head (:func:`find_head`) ``num_classes`` outputs, in place: a fresh
    weight drawn like torch's ``nn.Linear`` (uniform in ±1/sqrt(fan_in), seeded by ``seed``) and a zero
    bias; every other weight is kept. Returns a description."""
    if not isinstance(num_classes, int) or num_classes < 2:
        raise ParameterError("num_classes", f"{{num_classes}} {num_classes}: need at least 2 classes")
    node, add = find_head(graph)
    rng = np.random.default_rng([seed, 12])
    w = node.inputs[1].const
    if node.op_type == "Gemm":
        trans_b = bool(node.attrs.get("transB", 0))
        fan_in = w.shape[1] if trans_b else w.shape[0]
        shape = (num_classes, fan_in) if trans_b else (fan_in, num_classes)
        old = w.shape[0] if trans_b else w.shape[1]
    elif node.op_type == "MatMul":
        fan_in, old = w.shape
        shape = (fan_in, num_classes)
    else:  # 1x1 Conv
        old, fan_in = w.shape[0], int(np.prod(w.shape[1:]))
        shape = (num_classes, *w.shape[1:])
    bound = 1.0 / math.sqrt(max(1, fan_in))
    _set(graph, node, 1, rng.uniform(-bound, bound, size=shape).astype(w.dtype))
    bias_node, index = (add, [i for i, x in enumerate(add.inputs) if _const(x)][0]) if add is not None else (node, 2)
    if len(bias_node.inputs) > index and _const(bias_node.inputs[index]):
        b = bias_node.inputs[index].const
        if b.size > 1:
            _set(graph, bias_node, index, np.zeros(num_classes, b.dtype))
    _reshape_output(graph, num_classes)
    try:
        graph.infer_shapes()
        graph.verify()
    except AlphanasError as e:
        raise AlphanasError(f"model {graph.name!r}: re-targeting the head {node.name!r} to {num_classes} classes "
                            f"failed: {e}") from None
    return f"classifier head {node.name!r} ({node.op_type}): {old} -> {num_classes} classes"


def _set(graph: Graph, node: Node, index: int, array: np.ndarray) -> None:
    old = node.inputs[index]
    node.set_input(index, graph.add_initializer(old.name if old is not None else node.name + ".w", array))
    graph.prune_initializers()


def _reshape_output(graph: Graph, num_classes: int) -> None:
    """Clear the class axis of the values after the head, so that shape inference recomputes them."""
    out = graph.outputs[0]
    if out.shape is not None and len(out.shape) == 2:
        out.shape = (out.shape[0], num_classes)
