"""Training and evaluation of an IR graph on an in-memory image-classification dataset.

    from alphanas.train import train
    result = train(graph, dataset, epochs=15, seed=0)

Modules: :mod:`~alphanas.train.trainer` (the training loop), :mod:`~alphanas.train.config` (options),
:mod:`~alphanas.train.results` (what a run reports), :mod:`~alphanas.train.checkpoint` (save and resume),
:mod:`~alphanas.train.inference` (logits, accuracy, compatibility) and :mod:`~alphanas.train.device`
(torch device and CPU threads), :mod:`~alphanas.train.tasks` (classification, multi-label, regression:
loss and metrics) and :mod:`~alphanas.train.preprocessing` (what a trained model expects, in its metadata).
"""

import importlib
from typing import Any

#: where each public name lives; imported on first use (PEP 562), so that reading a model's preprocessing
#: record (``alphanas inspect``) does not import torch
_HOMES = {name: module for module, names in {
    "config": ['AUGMENTS', 'OPTIMIZERS', 'SCHEDULES', 'TrainConfig', 'resolve_config'],
    "device": ['DEVICE_CHOICES', 'cpu_threads', 'describe', 'resolve_device'],
    "inference": ['check_compatible', 'evaluate', 'predict'],
    "results": ['EpochStats', 'StopReason', 'TrainingInterrupted', 'TrainProgress', 'TrainResult'],
    "tasks": ['TASKS', 'Task', 'get_task'],
    "trainer": ['train'],
}.items() for name in names}


def __getattr__(name: str) -> Any:
    module = _HOMES.get(name)
    if module is None:
        raise AttributeError(f"module 'alphanas.train' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"alphanas.train.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_HOMES])


__all__ = ["AUGMENTS", "DEVICE_CHOICES", "OPTIMIZERS", "SCHEDULES", "TASKS", "EpochStats", "StopReason", "Task",
           "TrainConfig", "TrainProgress", "TrainResult", "TrainingInterrupted", "check_compatible", "cpu_threads",
           "describe", "evaluate", "get_task", "predict", "resolve_config", "resolve_device", "train"]
