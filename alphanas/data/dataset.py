"""The in-memory dataset: three normalised splits (train, validation, test) and the task their targets are for."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from alphanas.data.inputs import Inputs, is_multi, sample_shapes


@dataclass
class Dataset:
    """Three normalised splits of a dataset (float32 inputs ``[N, ...]`` of any rank, NCHW for images) and
    their targets: int64 class labels ``[N]`` (``task`` classification), 0/1 float32 labels ``[N, C]``
    (multilabel; ``num_classes`` is C) or float32 targets of any shape ``[N, ...]`` (regression;
    ``num_classes`` is 0). For a model with several inputs each ``x_*`` is a dict, input name -> array
    (:mod:`alphanas.data.inputs`; ``mean``/``std`` are then dicts of the float inputs' statistics)."""

    name: str
    x_train: Inputs
    y_train: np.ndarray
    x_val: Inputs
    y_val: np.ndarray
    x_test: Inputs
    y_test: np.ndarray
    num_classes: int
    #: Per-channel mean and std of the raw training images; ``x = (raw - mean) / std``.
    mean: Any
    std: Any
    class_names: list[str] = field(default_factory=list)
    #: The augmentation that suits this data (``"flip_crop"`` for natural images, ``"none"`` otherwise).
    default_augment: str = "none"
    #: Inputs the loader dropped (``--skip-corrupt``: the corrupt image files), for the user to see.
    skipped: list[str] = field(default_factory=list)
    #: What the targets are for: ``"classification"``, ``"multilabel"`` or ``"regression"``.
    task: str = "classification"

    @property
    def input_shape(self) -> tuple[int, ...]:
        """The shape of one sample: ``(channels, height, width)`` for images (of the first input, for data
        with several named inputs: see :attr:`input_shapes`)."""
        return next(iter(sample_shapes(self.x_train).values()))

    @property
    def input_names(self) -> tuple[str, ...]:
        """The names of the model inputs the data is for (empty: one input, whatever its name)."""
        return tuple(self.x_train) if is_multi(self.x_train) else ()

    @property
    def input_shapes(self) -> dict[str, tuple[int, ...]]:
        """Input name -> the shape of one sample (``{"": shape}`` for a single input)."""
        return sample_shapes(self.x_train)

    @property
    def target_shape(self) -> tuple[int, ...]:
        """The shape of one sample's model output: ``(classes,)`` for classification, ``(labels,)`` for
        multilabel, the target's own shape for regression (``(1,)`` for scalar targets)."""
        if self.task == "regression":
            return tuple(int(d) for d in self.y_train.shape[1:]) or (1,)
        if self.task == "multilabel":
            return (int(self.y_train.shape[1]),)
        return (int(self.num_classes),)

    def split(self, which: str) -> tuple[np.ndarray, np.ndarray]:
        """``(x, y)`` of ``"train"``, ``"val"`` or ``"test"``."""
        if which not in ("train", "val", "test"):
            raise ValueError(f"unknown split {which!r}; use train, val or test")
        return getattr(self, f"x_{which}"), getattr(self, f"y_{which}")

    def summary(self) -> str:
        """One line: input shape(s), targets and split sizes."""
        dims = ", ".join(f"{k + ' ' if k else ''}{'x'.join(map(str, v)) or 'scalar'}" for k, v in self.input_shapes.items())
        what = {"regression": f"regression targets {'x'.join(map(str, self.target_shape))}",
                "multilabel": f"{self.num_classes} labels"}.get(self.task, f"{self.num_classes} classes")
        return (f"{self.name}: {dims}, {what}, train {len(self.y_train)} / "
                f"val {len(self.y_val)} / test {len(self.y_test)}")


__all__ = ["Dataset"]
