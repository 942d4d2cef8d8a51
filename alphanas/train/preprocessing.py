"""What a trained model expects of its input, recorded in the model itself.

A trained or searched ONNX model carries the JSON object :data:`METADATA_KEY` (``alphanas.preprocessing``)
in its ``metadata_props``::

    {"task": "classification", "input_layout": "NCHW", "channels": 1, "image_size": [8, 8],
     "mean": [4.88], "std": [6.02], "normalisation": "x = (raw - mean) / std per channel",
     "embedded": false, "class_names": ["0", "1", ...], "dataset": "digits"}

``mean``/``std`` are per channel, in the units of the raw data. With ``embed=True``
(``alphanas train --embed-preprocessing``) the normalisation becomes two nodes at the input
(``Sub`` then ``Div``), so the model takes raw data and can be deployed alone; ``embedded`` then says so.
"""

from __future__ import annotations

import json

import numpy as np

from alphanas.errors import AlphanasError
from alphanas.ir.graph import Graph

#: the ``metadata_props`` key of the preprocessing record
METADATA_KEY = "alphanas.preprocessing"


def preprocessing_info(dataset, task: str = "classification") -> dict:
    """The preprocessing record (see the module docstring) of a model trained on ``dataset`` for ``task``."""
    from alphanas.train.tasks import get_task

    mean = getattr(dataset, "mean", None)
    std = getattr(dataset, "std", None)
    if isinstance(dataset.x_train, dict):  # one array per model input: each float input's statistics
        inputs = {}
        for name, a in dataset.x_train.items():
            rec: dict = {"input_shape": [int(d) for d in np.shape(a)[1:]], "dtype": str(np.asarray(a).dtype)}
            if isinstance(mean, dict) and name in mean:
                rec.update({"mean": [float(v) for v in np.ravel(mean[name])],
                            "std": [float(v) for v in np.ravel(std[name])],
                            "normalisation": "x = (raw - mean) / std per channel"})
            inputs[name] = rec
        info_: dict = {"task": get_task(task).name, "dataset": getattr(dataset, "name", None), "inputs": inputs}
        names_ = list(getattr(dataset, "class_names", None) or [])
        if names_:
            info_["class_names"] = [str(n) for n in names_]
        info_["embedded"] = False
        return info_
    shape = tuple(int(d) for d in np.shape(dataset.x_train)[1:])
    info: dict = {"task": get_task(task).name, "dataset": getattr(dataset, "name", None),
                  "input_shape": list(shape)}
    if len(shape) == 3:
        info.update({"input_layout": "NCHW", "channels": shape[0], "image_size": list(shape[1:])})
    if mean is not None and std is not None:
        info.update({"mean": [float(v) for v in np.ravel(mean)], "std": [float(v) for v in np.ravel(std)],
                     "normalisation": "x = (raw - mean) / std per channel"})
    names = list(getattr(dataset, "class_names", None) or [])
    if names:
        info["class_names"] = [str(n) for n in names]
    info["embedded"] = False
    return info


def read_preprocessing(graph: Graph) -> dict | None:
    """The preprocessing record of ``graph`` (from its ONNX metadata), ``None`` when it has none."""
    text = graph.metadata.get(METADATA_KEY)
    if text is None:
        return None
    try:
        out = json.loads(text)
    except ValueError:
        raise AlphanasError(f"model {graph.name!r}: its {METADATA_KEY} metadata is not JSON") from None
    return out if isinstance(out, dict) else None


def embed_normalisation(graph: Graph, mean, std) -> Graph:
    """A copy of ``graph`` whose input takes raw data: ``(raw - mean) / std`` (per channel, axis 1) is
    computed by two new nodes in front of the old first layer."""
    g = graph.copy()
    if len(g.inputs) != 1:
        raise AlphanasError(f"model {g.name!r} has {len(g.inputs)} inputs; embedding the normalisation needs one")
    inp = g.inputs[0]
    rank = len(inp.shape or ())
    mean, std = np.asarray(mean, np.float32).ravel(), np.asarray(std, np.float32).ravel()
    if rank < 2 or mean.size != std.size or mean.size == 0:
        raise AlphanasError(f"model {g.name!r}: cannot embed a normalisation of {mean.size} channel(s) into input "
                            f"{inp.name!r} of shape {list(inp.shape or ())}")
    bshape = [1, mean.size] + [1] * (rank - 2)
    users = list(inp.uses)
    m = g.add_initializer("preprocess_mean", mean.reshape(bshape))
    s = g.add_initializer("preprocess_std", std.reshape(bshape))
    sub = g.add_node("Sub", [inp, m], name="preprocess_sub", index=0)
    div = g.add_node("Div", [sub.outputs[0], s], name="preprocess_div", index=1)
    for node, i in users:
        node.set_input(i, div.outputs[0])
    g.outputs = [div.outputs[0] if o is inp else o for o in g.outputs]
    g.verify()
    return g


def attach_preprocessing(graph: Graph, dataset, task: str = "classification", *, embed: bool = False) -> Graph:
    """A copy of ``graph`` recording :func:`preprocessing_info` in its metadata; with ``embed`` the
    normalisation is also put into the graph (:func:`embed_normalisation`) and the record says so."""
    info = preprocessing_info(dataset, task)
    if embed:
        if "inputs" in info:
            raise AlphanasError(f"dataset {getattr(dataset, 'name', '?')!r} has several inputs; embedding the "
                                "normalisation needs one")
        if "mean" not in info:
            raise AlphanasError(f"dataset {getattr(dataset, 'name', '?')!r} records no mean/std to embed")
        g = embed_normalisation(graph, info["mean"], info["std"])
        info["embedded"] = True
        info["normalisation"] = "inside the graph: give raw data"
    else:
        g = graph.copy()
    g.metadata[METADATA_KEY] = json.dumps(info)
    return g


__all__ = ["METADATA_KEY", "attach_preprocessing", "embed_normalisation", "preprocessing_info", "read_preprocessing"]
