"""Training and evaluation of an IR graph on an in-memory image-classification dataset.

    from alphanas.train import train
    result = train(graph, dataset, epochs=15, seed=0)

Modules: :mod:`~alphanas.train.trainer` (the training loop), :mod:`~alphanas.train.config` (options),
:mod:`~alphanas.train.results` (what a run reports), :mod:`~alphanas.train.checkpoint` (save and resume),
:mod:`~alphanas.train.inference` (logits, accuracy, compatibility) and :mod:`~alphanas.train.device`
(torch device and CPU threads), :mod:`~alphanas.train.tasks` (classification, multi-label, regression:
loss and metrics) and :mod:`~alphanas.train.preprocessing` (what a trained model expects, in its metadata).
"""

from alphanas.train.config import AUGMENTS, OPTIMIZERS, SCHEDULES, TrainConfig, resolve_config
from alphanas.train.device import DEVICE_CHOICES, cpu_threads, describe, resolve_device
from alphanas.train.inference import check_compatible, evaluate, predict
from alphanas.train.results import EpochStats, StopReason, TrainingInterrupted, TrainProgress, TrainResult
from alphanas.train.tasks import TASKS, Task, get_task
from alphanas.train.trainer import train

__all__ = ["AUGMENTS", "DEVICE_CHOICES", "OPTIMIZERS", "SCHEDULES", "TASKS", "EpochStats", "StopReason", "Task",
           "TrainConfig", "TrainProgress", "TrainResult", "TrainingInterrupted", "check_compatible", "cpu_threads",
           "describe", "evaluate", "get_task", "predict", "resolve_config", "resolve_device", "train"]
