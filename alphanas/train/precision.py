"""Numeric precision, memory layout and determinism of a training run.

* **Precision** (``precision=``): ``fp32`` trains in float32; ``bf16`` and ``fp16`` run the forward
  pass and the loss under :func:`torch.autocast` with that dtype (weights and optimizer state stay
  float32); ``fp16`` also scales the loss with a :class:`torch.amp.GradScaler`, whose range bf16
  does not need. ``auto`` picks ``bf16`` on a CUDA device that supports it and ``fp32`` everywhere
  else: on the CPU, autocast to bf16 is slower than fp32 for the small models of a search unless the
  processor has AMX/AVX-512-BF16 (measure with ``alphanas benchmark throughput``).
* **Memory layout** (``channels_last=``): ``auto`` uses channels-last (NHWC) only on CUDA, only at
  reduced precision, only for models with 2-D convolutions, and only when a short measurement on the
  first batches says it is faster (tensor cores favour NHWC for convolutions; depthwise-heavy and
  attention models often lose, so the choice is measured per model, never assumed). On the CPU the
  default layout is kept.
* **Determinism** (:func:`deterministic_mode`): on the CPU a seeded run is already deterministic. On
  CUDA, cuDNN autotuning and atomics-based kernels make runs differ in the last bits; the
  deterministic mode sets ``torch.use_deterministic_algorithms(True)``, turns cuDNN benchmarking off
  and its deterministic flag on, and sets ``CUBLAS_WORKSPACE_CONFIG=:4096:8`` (which cuBLAS reads when
  it is first used). Ops without a deterministic CUDA kernel then raise instead of silently varying.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator

import torch
from torch import nn

from alphanas.errors import AlphanasError

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
LAYOUTS = ("auto", "on", "off")

_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def resolve_precision(choice: str, device: torch.device) -> str:
    """The concrete precision (``fp32``/``bf16``/``fp16``) for the user's ``choice`` on ``device``."""
    choice = (choice or "auto").lower()
    if choice not in PRECISIONS:
        raise AlphanasError(f"unknown precision {choice!r}; use one of {', '.join(PRECISIONS)}")
    if choice != "auto":
        return choice
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return "bf16"
    return "fp32"


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """The autocast context of ``precision`` (a no-op for fp32)."""
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=_DTYPES[precision])


def grad_scaler(device: torch.device, precision: str) -> torch.amp.GradScaler:
    """The loss scaler: enabled for fp16 only (bf16 has float32's exponent range)."""
    return torch.amp.GradScaler(device.type, enabled=precision == "fp16")


def has_conv2d(model: nn.Module) -> bool:
    """Whether the lowered module runs a 2-D convolution (the case channels-last can speed up)."""
    return any(isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)) for m in model.modules()) or any(
        "conv2d" in type(m).__name__.lower() for m in model.modules())


def measure_step(model: nn.Module, step, repeats: int = 3) -> float:
    """Median seconds of ``step()`` (one forward and backward pass) after one warm-up call; CUDA synchronised."""
    times = []
    for i in range(repeats + 1):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        step()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        if i:
            times.append(time.perf_counter() - t0)
    model.zero_grad(set_to_none=True)
    return sorted(times)[len(times) // 2]


def choose_channels_last(choice: str | bool, model: nn.Module, device: torch.device, precision: str,
                         x: torch.Tensor, step_fn) -> bool:
    """Decide the memory layout (see the module docstring). ``step_fn(x)`` runs one forward and backward
    pass without an optimizer step; it is timed in both layouts only when ``choice`` is ``auto`` and the
    rule allows channels-last at all."""
    if isinstance(choice, bool):
        return choice
    choice = (choice or "auto").lower()
    if choice not in LAYOUTS:
        raise AlphanasError(f"unknown channels-last choice {choice!r}; use one of {', '.join(LAYOUTS)}")
    if choice != "auto":
        return choice == "on"
    if device.type != "cuda" or precision == "fp32" or x.dim() != 4 or not has_conv2d(model):
        return False
    plain = measure_step(model, lambda: step_fn(x))
    model.to(memory_format=torch.channels_last)
    nhwc = measure_step(model, lambda: step_fn(x.contiguous(memory_format=torch.channels_last)))
    keep = nhwc < 0.95 * plain
    if not keep:
        model.to(memory_format=torch.contiguous_format)
    return keep


@contextlib.contextmanager
def deterministic_mode(enabled: bool = True) -> Iterator[None]:
    """Deterministic kernels for the duration of the block (see the module docstring); restores the
    previous settings afterwards. A no-op when ``enabled`` is false."""
    if not enabled:
        yield
        return
    old = (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled(),
           torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark, os.environ.get("CUBLAS_WORKSPACE_CONFIG"))
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(old[0], warn_only=old[1])
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = old[2], old[3]
        if old[4] is None:
            os.environ.pop("CUBLAS_WORKSPACE_CONFIG", None)


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` says the device (or the host, for CPU training) ran out of memory."""
    if isinstance(exc, torch.OutOfMemoryError):
        return True
    text = str(exc).lower()
    return isinstance(exc, (RuntimeError, MemoryError)) and (
        "out of memory" in text or "not enough memory" in text or isinstance(exc, MemoryError))


def release_memory() -> None:
    """Give cached device memory back after an out-of-memory error."""
    import gc

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


__all__ = ["LAYOUTS", "PRECISIONS", "autocast", "choose_channels_last", "deterministic_mode", "grad_scaler",
           "is_out_of_memory", "release_memory", "resolve_precision"]
