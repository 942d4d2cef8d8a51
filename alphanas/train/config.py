"""Training options: :class:`TrainConfig` (everything that determines a run's result) and their validation."""

from __future__ import annotations

import math
from dataclasses import dataclass

from alphanas.errors import AlphanasError

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("cosine", "constant")
AUGMENTS = ("auto", "none", "flip_crop")


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a training run's result (device and time budget aside)."""

    epochs: int
    batch_size: int = 128
    lr: float = 0.1
    optimizer: str = "sgd"
    momentum: float = 0.9
    weight_decay: float = 5e-4
    schedule: str = "cosine"
    warmup_epochs: float = 0.0
    label_smoothing: float = 0.0
    augment: str = "none"
    grad_clip: float | None = None
    keep: str = "best"
    seed: int = 0
    precision: str = "fp32"  # resolved: fp32, bf16 or fp16 (see alphanas.train.precision)
    task: str = "classification"



def resolve_config(epochs: int, *, batch_size: int = 128, lr: float | None = None, optimizer: str = "sgd",
                   momentum: float = 0.9, weight_decay: float | None = None, schedule: str = "cosine",
                   warmup_epochs: float | None = None, label_smoothing: float = 0.0, augment: str = "auto",
                   grad_clip: float | None = None, keep: str = "best", seed: int = 0,
                   dataset=None, task: str = "classification") -> TrainConfig:
    """Validate options and fill in defaults (lr 0.1 for SGD, 1e-3 for Adam/AdamW; weight decay 5e-4
    for SGD, 0 for Adam, 0.05 for AdamW; warm-up min(5, epochs // 10) epochs; ``augment="auto"``
    takes the dataset's ``default_augment``); ``task`` is a name of :data:`alphanas.train.tasks.TASKS`."""
    from alphanas.train.tasks import get_task

    task = get_task(task).name
    if label_smoothing and task != "classification":
        raise AlphanasError(f"label smoothing applies to classification, not to task {task}")
    optimizer = optimizer.lower()
    if optimizer not in OPTIMIZERS:
        raise AlphanasError(f"unknown optimizer {optimizer!r}; use one of {', '.join(OPTIMIZERS)}")
    if schedule not in SCHEDULES:
        raise AlphanasError(f"unknown schedule {schedule!r}; use one of {', '.join(SCHEDULES)}")
    if augment not in AUGMENTS:
        raise AlphanasError(f"unknown augmentation {augment!r}; use one of {', '.join(AUGMENTS)}")
    if keep not in ("best", "last"):
        raise AlphanasError(f"keep={keep!r}: use 'best' (best validation epoch) or 'last'")
    if not isinstance(epochs, int) or epochs < 1:
        raise AlphanasError(f"epochs={epochs}: must be a positive integer")
    if batch_size < 1:
        raise AlphanasError(f"batch size {batch_size}: must be positive")
    if lr is None:
        lr = 0.1 if optimizer == "sgd" else 1e-3
    if not lr > 0 or not math.isfinite(lr):
        raise AlphanasError(f"learning rate {lr}: must be a positive number")
    if weight_decay is None:
        weight_decay = {"sgd": 5e-4, "adam": 0.0, "adamw": 0.05}[optimizer]
    if weight_decay < 0:
        raise AlphanasError(f"weight decay {weight_decay}: must be >= 0")
    if not 0.0 <= label_smoothing < 1.0:
        raise AlphanasError(f"label smoothing {label_smoothing}: must be in [0, 1)")
    if warmup_epochs is None:
        warmup_epochs = float(min(5, epochs // 10))
    if not 0 <= warmup_epochs <= epochs:
        raise AlphanasError(f"warm-up of {warmup_epochs} epochs: must be between 0 and the {epochs} epochs")
    if augment == "auto":
        augment = getattr(dataset, "default_augment", "none") if dataset is not None else "none"
    if augment == "flip_crop" and dataset is not None and len(dataset.x_train.shape) != 4:
        raise AlphanasError("flip_crop augmentation needs NCHW images")
    return TrainConfig(epochs=epochs, batch_size=int(batch_size), lr=float(lr), optimizer=optimizer,
                       momentum=float(momentum), weight_decay=float(weight_decay), schedule=schedule,
                       warmup_epochs=float(warmup_epochs), label_smoothing=float(label_smoothing), augment=augment,
                       grad_clip=None if grad_clip is None else float(grad_clip), keep=keep, seed=int(seed), task=task)


__all__ = ["AUGMENTS", "OPTIMIZERS", "SCHEDULES", "TrainConfig", "resolve_config"]
