"""The in-memory dataset: three normalised splits (train, validation, test) and the task their targets are for."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Dataset:
    """Three normalised splits of a dataset (float32 inputs ``[N, ...]`` of any rank, NCHW for images) and
    their targets: int64 class labels ``[N]`` (``task`` classification), 0/1 float32 labels ``[N, C]``
    (multilabel; ``num_classes`` is C) or float32 targets of any shape ``[N, ...]`` (regression;
    ``num_classes`` is 0)."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    num_classes: int
    #: Per-channel mean and std of the raw training images; ``x = (raw - mean) / std``.
    mean: np.ndarray
    std: np.ndarray
    class_names: list[str] = field(default_factory=list)
    #: The augmentation that suits this data (``"flip_crop"`` for natural images, ``"none"`` otherwise).
    default_augment: str = "none"
    #: Inputs the loader dropped (``--skip-corrupt``: the corrupt image files), for the user to see.
    skipped: list[str] = field(default_factory=list)
    #: What the targets are for: ``"classification"``, ``"multilabel"`` or ``"regression"``.
    task: str = "classification"

    @property
    def input_shape(self) -> tuple[int, ...]:
        """The shape of one sample: ``(channels, height, width)`` for images."""
        return tuple(int(d) for d in self.x_train.shape[1:])

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
        dims = "x".join(map(str, self.input_shape)) or "scalar"
        what = {"regression": f"regression targets {'x'.join(map(str, self.target_shape))}",
                "multilabel": f"{self.num_classes} labels"}.get(self.task, f"{self.num_classes} classes")
        return (f"{self.name}: {dims}, {what}, train {len(self.y_train)} / "
                f"val {len(self.y_val)} / test {len(self.y_test)}")


__all__ = ["Dataset"]
