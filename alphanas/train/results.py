"""What a training run reports: per-epoch statistics, the result, progress updates, and the interruption."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from alphanas.ir.graph import Graph
from alphanas.strenum import StrEnum
from alphanas.train.config import TrainConfig


class StopReason(StrEnum):
    """Why a training run ended (a ``str``: JSON and messages show the plain value)."""

    COMPLETED = "completed"  # every epoch ran
    TIME = "time"  # the time budget ran out
    DIVERGED = "diverged"  # the loss became NaN or infinite


@dataclass
class EpochStats:
    """One epoch of a run: mean training loss and accuracy, validation loss and accuracy, learning rate, seconds."""

    epoch: int  # 1-based
    train_loss: float
    train_acc: float
    val_loss: float
    val_acc: float
    lr: float
    seconds: float
    partial: bool = False  # stopped by the time budget before the epoch's last batch
    val_metrics: dict[str, float] = field(default_factory=dict)  # every metric of the task (val_acc: the primary)


@dataclass
class TrainResult:
    """The trained graph and what happened while training it (accuracies are fractions in [0, 1]).

    ``val_acc`` and ``test_acc`` hold the task's primary metric (top-1 accuracy for classification, mAP for
    multi-label, MSE for regression); ``val_metrics`` and ``test_metrics`` hold every metric of the task."""

    graph: Graph
    config: TrainConfig
    history: list[EpochStats]
    best_epoch: int  # 1-based epoch with the best validation accuracy (0: none finished)
    val_acc: float  # of the returned weights
    test_acc: float  # of the returned weights, measured once at the end
    diverged: bool
    stopped: StopReason
    wall_time: float  # seconds of training and evaluation, summed over resumed runs
    device: str
    resumed_from_epoch: int = 0  # epochs already done when this call started (from a checkpoint)
    params: int = 0
    flops: int = 0
    channels_last: bool = False  # the memory layout the run trained in
    compile_s: float = 0.0  # seconds torch.compile took (its first forward and backward pass), 0 without --compile
    task: str = "classification"
    val_metrics: dict[str, float] = field(default_factory=dict)
    test_metrics: dict[str, float] = field(default_factory=dict)
    streamed: bool = False  # batches came through the DataLoader path

    def metrics(self) -> dict[str, float]:
        """Every metric with its split prefix: ``val_acc``, ``val_top5``, ``test_mse``, ..."""
        return {**{f"val_{k}": v for k, v in self.val_metrics.items()},
                **{f"test_{k}": v for k, v in self.test_metrics.items()}}

    @property
    def train_loss(self) -> list[float]:
        """Mean training loss per epoch."""
        return [h.train_loss for h in self.history]

    @property
    def val_accs(self) -> list[float]:
        """Validation accuracy after every epoch."""
        return [h.val_acc for h in self.history]

    @property
    def epochs_completed(self) -> int:
        return sum(1 for h in self.history if not h.partial)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (no graph), for JSON."""
        return {
            "config": asdict(self.config), "history": [asdict(h) for h in self.history],
            "best_epoch": self.best_epoch, "val_acc": self.val_acc, "test_acc": self.test_acc,
            "diverged": self.diverged, "stopped": self.stopped, "wall_time": self.wall_time,
            "device": self.device, "resumed_from_epoch": self.resumed_from_epoch,
            "epochs_completed": self.epochs_completed, "params": self.params, "flops": self.flops,
            "channels_last": self.channels_last, "compile_s": self.compile_s,
            "task": self.task, "metrics": self.metrics(), "streamed": self.streamed,
        }


@dataclass
class TrainProgress:
    """What a progress callback receives after every batch (``phase="batch"``) and epoch (``"epoch"``)."""

    phase: str
    epoch: int  # 1-based
    epochs: int
    batch: int  # batches done in this epoch
    batches: int
    loss: float  # running mean training loss of this epoch
    lr: float
    val_acc: float | None  # latest validation accuracy
    best_val_acc: float | None
    elapsed: float
    extra: dict = field(default_factory=dict)


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C during :func:`train`; the message says where the state was saved and how to resume."""


__all__ = ["EpochStats", "StopReason", "TrainProgress", "TrainResult", "TrainingInterrupted"]
