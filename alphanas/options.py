"""Command-line options shared by the ``alphanas`` command and the benchmark scripts
(``python -m alphanas.bench.NAME``): how library parameters are spelled as flags (:data:`FLAGS`) and the
rule every numeric or enumerated option is checked against before any work starts (:data:`OPTION_RULES`,
:func:`validate_options`), so the same bad value gets the same one-line error everywhere."""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable

from alphanas.errors import AlphanasError

#: The command-line spelling of library parameters that errors name (:class:`~alphanas.errors.ParameterError`).
FLAGS = {"trials": "--trials", "epochs": "--epochs", "workers": "--workers", "loader_workers": "--workers",
         "objectives": "--objectives",
         "address": "--address", "executor": "--executor", "device": "--device", "root": "--data-dir", "zoo": "--zoo",
         "plugin": "--plugin", "pass": "--pass", "max_rounds": "--max-rounds", "provider": "--provider",
         "batches": "--batch", "input_shapes": "--input-shape", "input_values": "--input-value",
         "image_size": "--image-size", "channels": "--channels", "skip_corrupt": "--skip-corrupt",
         "split_seed": "--split-seed", "constraint": "--constraint", "task": "--task", "evaluator": "--evaluator"}
FLAGS.update({"num_classes": "--num-classes", "input_size": "--input-size", "in_channels": "--in-channels",
              "dataset": "--dataset"})
FLAGS.update({"pipeline": "--pipeline", "generation": "--generation", "per_device": "--per-device"})
FLAGS.update({"proxy": "--proxy", "strategy": "--strategy"})
FLAGS.update({"estimate": "--estimate"})


def _device_ok(v: str) -> bool:
    return re.fullmatch(r"auto|cpu|cuda(:\d+)?", v.strip().lower()) is not None


#: Every numeric or enumerated option's rule, checked before any work starts (:func:`validate_options`):
#: argparse ``dest`` -> (accepts the value, what to give instead). ``None`` (an option left at its
#: default) is always accepted.
OPTION_RULES: dict[str, tuple[Callable[[object], bool], str]] = {
    "threads": (lambda v: v >= 0, "a number of threads >= 0 (0: the default)"),
    "tolerance": (lambda v: v >= 0, "a tolerance >= 0"),
    "lr": (lambda v: v > 0, "a learning rate > 0"),
    "batch_size": (lambda v: v >= 1, "a batch size >= 1"),
    "epochs": (lambda v: v >= 1, "a number of epochs >= 1"),
    "trials": (lambda v: v >= 1, "a number of trials >= 1"),
    "workers": (lambda v: v >= 1, "a number of workers >= 1"),
    "loader_workers": (lambda v: v >= 0, "a number of DataLoader workers >= 0"),
    "device": (_device_ok, "auto, cpu, cuda or cuda:N"),
    "warmup": (lambda v: v >= 0, "a number of warm-up runs >= 0"),
    "repeats": (lambda v: v >= 1, "a number of timed runs >= 1"),
    "weight_decay": (lambda v: v >= 0, "a weight decay >= 0"),
    "label_smoothing": (lambda v: 0 <= v < 1, "a label smoothing in [0, 1)"),
    "warmup_epochs": (lambda v: v >= 0, "a number of warm-up epochs >= 0"),
    "max_minutes": (lambda v: v > 0, "a time limit > 0 minutes"),
    "max_params": (lambda v: v > 0, "a parameter limit > 0"),
    "max_flops": (lambda v: v > 0, "a FLOPs limit > 0"),
    "max_latency_ms": (lambda v: v > 0, "a latency limit > 0 ms"),
    "proxy_keep": (lambda v: 0 < v <= 1, "a fraction in (0, 1]"),
    "max_rounds": (lambda v: v >= 1, "a number of rounds >= 1"),
    "budget_ms": (lambda v: v > 0, "a positive time budget in milliseconds"),
    "p": (lambda v: 0 <= v <= 1, "a probability between 0 and 1"),
    "input_size": (lambda v: v >= 1, "an input size >= 1"),
    "in_channels": (lambda v: v >= 1, "a number of channels >= 1"),
    "num_classes": (lambda v: v >= 1, "a number of classes >= 1"),
    "target_opset": (lambda v: v >= 1, "an opset version >= 1"),
    "shortlist": (lambda v: v >= 0, "a number of candidates >= 0"),
    "seed_epochs": (lambda v: v >= 0, "a number of epochs >= 0 (0: not pre-trained)"),
    "retrain_best": (lambda v: v >= 0, "a number of epochs >= 0 (0: skip)"),
    "synth_budget": (lambda v: v > 0, "a positive number of seconds"),
    "problems": (lambda v: v >= 1, "a number of problems >= 1"),
    "runs": (lambda v: v >= 1, "a number of runs >= 1"),
    "budget": (lambda v: v >= 1, "a number of queries >= 1"),
    "population": (lambda v: v >= 1, "a population size >= 1"),
    "sample": (lambda v: v >= 1, "a sample size >= 1"),
    "initial_pool": (lambda v: v >= 0, "a number of cells >= 0"),
}


def validate_options(args: argparse.Namespace, flags: dict[str, str] | None = None) -> None:
    """Check every option of :data:`OPTION_RULES` that ``args`` holds; the first bad one raises an
    :class:`AlphanasError` naming the option (one line, exit status 2), before the command does anything.
    ``flags`` spells the flag of a destination where it is not ``--dest-with-dashes`` (beside :data:`FLAGS`),
    for the benchmark scripts' own parsers."""
    spelled = {**FLAGS, **(flags or {})}
    for dest, (ok, want) in OPTION_RULES.items():
        value = getattr(args, dest, None)
        if value is None:
            continue
        try:
            good = ok(value)
        except TypeError:
            good = False
        if not good or (isinstance(value, float) and value != value):
            flag = spelled.get(dest, "--" + dest.replace("_", "-"))
            raise AlphanasError(f"{flag}: got {value}; give {want}")
