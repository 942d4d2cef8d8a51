"""Choice of the torch device for training and evaluation.

``"auto"`` takes CUDA when torch sees a GPU and the CPU otherwise; ``"cpu"`` forces the CPU;
``"cuda"`` (or ``"cuda:N"``) demands a GPU and fails with a clear :class:`AlphanasError` when there is none.
"""

from __future__ import annotations

import torch

from alphanas.errors import AlphanasError, ParameterError

DEVICE_CHOICES = ("auto", "cpu", "cuda")


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """The ``torch.device`` for a user's choice ``"auto"`` / ``"cpu"`` / ``"cuda"`` / ``"cuda:N"``."""
    if isinstance(device, torch.device):
        device = str(device)
    name = (device or "auto").strip().lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda" or name.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise ParameterError(
                "device",
                f"device {device!r} was asked for but torch sees no CUDA GPU here (torch {torch.__version__}, "
                f"built for CUDA: {torch.version.cuda or 'no'}); use {{device}} cpu or {{device}} auto"
            )
        index = name.partition(":")[2]
        if index:
            if not index.isdigit() or int(index) >= torch.cuda.device_count():
                raise AlphanasError(
                    f"device {device!r}: no such GPU (torch sees {torch.cuda.device_count()}); use cuda:0 .. "
                    f"cuda:{torch.cuda.device_count() - 1}"
                )
        return torch.device(name)
    raise AlphanasError(f"unknown device {device!r}; use one of: auto, cpu, cuda, cuda:N")


def describe(device: torch.device) -> str:
    """A short human-readable name (``cpu (2 threads)``, ``cuda:0 (NVIDIA H100)``)."""
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        return f"cuda:{index} ({torch.cuda.get_device_name(index)})"
    n = torch.get_num_threads()
    return f"cpu ({n} thread{'' if n == 1 else 's'})"


#: below this many multiply-accumulates per training batch, one CPU thread beats several: the work per
#: op is too small to amortise the threads' synchronisation, and extra threads that spin-wait on a
#: busy machine make it many times slower (a 1.5 MMAC/sample CNN on digits: 3 s with 1 thread, 44 s
#: with 2 on a 2-core machine with one other busy process)
SMALL_BATCH_MACS = 2e9


def cpu_threads(graph, batch_size: int, requested: int | None = None) -> int:
    """The torch CPU thread count for training ``graph``: ``requested`` when given (> 0), else 1 for
    small models (see :data:`SMALL_BATCH_MACS`) and every core for the others."""
    import os

    if requested:
        return int(requested)
    from alphanas.ir.cost import graph_macs

    try:
        per_batch = graph_macs(graph) * batch_size
    except Exception:  # a model whose cost cannot be counted (opaque nodes): keep torch's default
        return torch.get_num_threads()
    return 1 if per_batch < SMALL_BATCH_MACS else max(1, os.cpu_count() or 1)


__all__ = ["DEVICE_CHOICES", "SMALL_BATCH_MACS", "cpu_threads", "describe", "resolve_device"]
