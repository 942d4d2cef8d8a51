"""Choice of the torch device for training and evaluation.

``"auto"`` takes CUDA when torch sees a GPU and the CPU otherwise; ``"cpu"`` forces the CPU;
``"cuda"`` (or ``"cuda:N"``) demands a GPU and fails with a clear :class:`AlphanasError` when there is none.
"""

from __future__ import annotations

import torch

from alphanas.errors import AlphanasError

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
            raise AlphanasError(
                f"device {device!r} was asked for but torch sees no CUDA GPU here (torch {torch.__version__}, "
                f"built for CUDA: {torch.version.cuda or 'no'}); use --device cpu or --device auto"
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
    return f"cpu ({torch.get_num_threads()} threads)"


__all__ = ["DEVICE_CHOICES", "describe", "resolve_device"]
