"""The in-memory image-classification dataset: three normalised splits (train, validation, test)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Dataset:
    """Three normalised splits of a classification dataset (float32 inputs ``[N, ...]`` of any rank, NCHW
    for images; int64 labels)."""

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

    @property
    def input_shape(self) -> tuple[int, ...]:
        """The shape of one sample: ``(channels, height, width)`` for images."""
        return tuple(int(d) for d in self.x_train.shape[1:])

    def split(self, which: str) -> tuple[np.ndarray, np.ndarray]:
        """``(x, y)`` of ``"train"``, ``"val"`` or ``"test"``."""
        if which not in ("train", "val", "test"):
            raise ValueError(f"unknown split {which!r}; use train, val or test")
        return getattr(self, f"x_{which}"), getattr(self, f"y_{which}")

    def summary(self) -> str:
        dims = "x".join(map(str, self.input_shape)) or "scalar"
        return (f"{self.name}: {dims}, {self.num_classes} classes, train {len(self.y_train)} / "
                f"val {len(self.y_val)} / test {len(self.y_test)}")


__all__ = ["Dataset"]
