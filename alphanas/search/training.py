"""Training and evaluation of an IR graph on an in-memory image-classification dataset.

    from alphanas.search.training import train
    result = train(graph, dataset, epochs=15, seed=0)
    result.test_acc, result.best_epoch, result.graph   # trained copy; the input graph is untouched

The graph is lowered with :meth:`Graph.to_torch`, trained with cross-entropy (SGD/Adam/AdamW, cosine
schedule with linear warm-up, optional label smoothing and flip+crop augmentation), evaluated in
eval mode after every epoch on the *validation* split, and the weights of the best validation epoch
(or the last, with ``keep="last"``) are written back into a copy of the graph. The *test* split is
evaluated once, at the end, and never used to choose anything.

On the CPU a run is deterministic for a seed (shuffling and augmentation draw from a seeded
``torch.Generator``; the global torch RNG, used by dropout, is seeded inside a forked RNG state so the
caller's is untouched). With ``checkpoint=PATH`` the full state is saved atomically after every epoch;
running again with the same arguments resumes where the last run stopped and gives the same result
as an uninterrupted run. Ctrl-C (SIGINT) finishes the current batch, saves, and raises
:class:`TrainingInterrupted`, whose message says how to resume.

``dataset`` is any object with ``name``, ``x_train``/``y_train``/``x_val``/``y_val``/``x_test``/``y_test``
(NCHW float32 / int64 arrays), ``num_classes`` and ``default_augment``, such as
:class:`alphanas.bench.datasets.Dataset`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from alphanas.device import describe as describe_device
from alphanas.device import resolve_device
from alphanas.errors import AlphanasError
from alphanas.fileio import atomic_path
from alphanas.ir.graph import Graph
from alphanas.ir.torch_lowering import write_back

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("cosine", "constant")
AUGMENTS = ("auto", "none", "flip_crop")
_CHECKPOINT_FORMAT = 1


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


@dataclass
class EpochStats:
    epoch: int  # 1-based
    train_loss: float
    train_acc: float
    val_loss: float
    val_acc: float
    lr: float
    seconds: float
    partial: bool = False  # stopped by the time budget before the epoch's last batch


@dataclass
class TrainResult:
    """The trained graph and what happened while training it (accuracies are fractions in [0, 1])."""

    graph: Graph
    config: TrainConfig
    history: list[EpochStats]
    best_epoch: int  # 1-based epoch with the best validation accuracy (0: none finished)
    val_acc: float  # of the returned weights
    test_acc: float  # of the returned weights, measured once at the end
    diverged: bool
    stopped: str  # "completed" | "time" | "diverged"
    wall_time: float  # seconds of training and evaluation, summed over resumed runs
    device: str
    resumed_from_epoch: int = 0  # epochs already done when this call started (from a checkpoint)
    params: int = 0
    flops: int = 0

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


# ---------------------------------------------------------------------------------------------------
# public helpers
# ---------------------------------------------------------------------------------------------------


def check_compatible(graph: Graph, dataset) -> None:
    """Raise :class:`AlphanasError` unless ``graph`` takes ``dataset``'s images and predicts its classes."""
    want = tuple(int(d) for d in dataset.x_train.shape[1:])
    if len(graph.inputs) != 1:
        raise AlphanasError(f"model {graph.name!r} has {len(graph.inputs)} inputs; training needs exactly one "
                            "(the image batch)")
    v = graph.inputs[0]
    shape = tuple(v.shape or ())
    given = "[N, " + ", ".join(map(str, want)) + "]"
    if len(shape) != len(want) + 1 or any(isinstance(d, int) and d != w for d, w in zip(shape[1:], want)):
        raise AlphanasError(
            f"model {graph.name!r} expects input {v.name!r} of shape {list(shape)} but dataset {dataset.name!r} gives "
            f"{given}; use a model built for {want[0]}x{want[1]}x{want[2]} inputs (e.g. --zoo NAME builds one)"
        )
    if isinstance(shape[0], int):
        raise AlphanasError(
            f"model {graph.name!r} has a fixed batch size {shape[0]} in input {v.name!r} {list(shape)}; training needs "
            "a symbolic batch dimension (export the model with a dynamic batch axis)"
        )
    if v.dtype.kind != "f":
        raise AlphanasError(f"model {graph.name!r}: input {v.name!r} is {v.dtype}, not floating point images")
    out = graph.outputs[0]
    oshape = tuple(out.shape or ())
    if len(oshape) != 2 or (isinstance(oshape[1], int) and oshape[1] != dataset.num_classes):
        raise AlphanasError(
            f"model {graph.name!r} outputs {out.name!r} of shape {list(oshape)} but dataset {dataset.name!r} has "
            f"{dataset.num_classes} classes; training needs logits of shape [N, {dataset.num_classes}]"
        )


def predict(model: Graph | nn.Module, x: np.ndarray | torch.Tensor, *, batch_size: int = 1024,
            device: str | torch.device = "auto") -> np.ndarray:
    """Logits of ``model`` (a graph or a lowered module, run in eval mode) for images ``x``, as numpy."""
    dev = resolve_device(device) if not isinstance(device, torch.device) else device
    module = model.to_torch() if isinstance(model, Graph) else model
    module = module.to(dev)
    xt = torch.as_tensor(x)
    outs = []
    was_training = module.training
    module.eval()
    with torch.inference_mode():
        for i in range(0, len(xt), batch_size):
            o = module(xt[i:i + batch_size].to(dev))
            outs.append((o[0] if isinstance(o, tuple) else o).float().cpu())
    module.train(was_training)
    return torch.cat(outs).numpy() if outs else np.zeros((0, 0), np.float32)


def evaluate(model: Graph | nn.Module, x: np.ndarray | torch.Tensor, y: np.ndarray | torch.Tensor, *,
             batch_size: int = 1024, device: str | torch.device = "auto") -> float:
    """Top-1 accuracy (a fraction) of ``model`` on images ``x`` with labels ``y``, in eval mode."""
    if len(y) == 0:
        return 0.0
    logits = predict(model, x, batch_size=batch_size, device=device)
    return float((logits.argmax(axis=1) == np.asarray(y)).mean())


def resolve_config(epochs: int, *, batch_size: int = 128, lr: float | None = None, optimizer: str = "sgd",
                   momentum: float = 0.9, weight_decay: float | None = None, schedule: str = "cosine",
                   warmup_epochs: float | None = None, label_smoothing: float = 0.0, augment: str = "auto",
                   grad_clip: float | None = None, keep: str = "best", seed: int = 0,
                   dataset=None) -> TrainConfig:
    """Validate options and fill in defaults (lr 0.1 for SGD, 1e-3 for Adam/AdamW; weight decay 5e-4
    for SGD, 0 for Adam, 0.05 for AdamW; warm-up min(5, epochs // 10) epochs; ``augment="auto"``
    takes the dataset's ``default_augment``)."""
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
                       grad_clip=None if grad_clip is None else float(grad_clip), keep=keep, seed=int(seed))


def train(graph: Graph, dataset, epochs: int, *, batch_size: int = 128, lr: float | None = None,
          optimizer: str = "sgd", momentum: float = 0.9, weight_decay: float | None = None,
          schedule: str = "cosine", warmup_epochs: float | None = None, label_smoothing: float = 0.0,
          augment: str = "auto", grad_clip: float | None = None, keep: str = "best", seed: int = 0,
          device: str | torch.device = "auto", progress: Callable[[TrainProgress], None] | None = None,
          max_minutes: float | None = None, checkpoint: str | os.PathLike | None = None,
          eval_batch_size: int = 1024) -> TrainResult:
    """Train a copy of ``graph`` on ``dataset`` and return it with its metrics (see the module docstring).

    ``max_minutes`` stops after the batch that exceeds the budget (time of resumed runs included) and
    evaluates the weights reached; ``progress`` is called after every batch and epoch (see
    :func:`rich_progress`); ``checkpoint`` enables save-every-epoch and resume.
    """
    config = resolve_config(epochs, batch_size=batch_size, lr=lr, optimizer=optimizer, momentum=momentum,
                            weight_decay=weight_decay, schedule=schedule, warmup_epochs=warmup_epochs,
                            label_smoothing=label_smoothing, augment=augment, grad_clip=grad_clip, keep=keep,
                            seed=seed, dataset=dataset)
    check_compatible(graph, dataset)
    if max_minutes is not None and not max_minutes > 0:
        raise AlphanasError(f"time budget of {max_minutes} minutes: must be positive")
    dev = resolve_device(device)
    run = _Run(graph, dataset, config, dev, progress, max_minutes, checkpoint, eval_batch_size)
    fork = [dev.index if dev.index is not None else torch.cuda.current_device()] if dev.type == "cuda" else []
    with torch.random.fork_rng(devices=fork):
        torch.manual_seed(config.seed)
        return run.execute()


@contextlib.contextmanager
def rich_progress(console=None, description: str = "training") -> Iterator[Callable[[TrainProgress], None]]:
    """A rich progress bar (epoch, batch, loss, validation accuracy, ETA) as a ``progress`` callback."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    bar = Progress(TextColumn("[bold]{task.description}"), TextColumn("{task.fields[epoch]}"), BarColumn(bar_width=24),
                   TextColumn("{task.fields[status]}"), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                   console=console, transient=False)
    task = None

    def update(p: TrainProgress) -> None:
        nonlocal task
        total = p.epochs * p.batches
        if task is None:  # start lazily: an error before the first batch leaves no empty bar behind
            bar.start()
            task = bar.add_task(description, total=total, status="", epoch="")
        val = "-" if p.val_acc is None else f"{100 * p.val_acc:.1f}%"
        bar.update(task, completed=(p.epoch - 1) * p.batches + p.batch, total=total,
                   epoch=f"epoch {p.epoch}/{p.epochs}",
                   status=f"batch {p.batch}/{p.batches} loss {p.loss:.3f} val {val}")

    try:
        yield update
    finally:
        if task is not None:
            bar.stop()


# ---------------------------------------------------------------------------------------------------
# the training run
# ---------------------------------------------------------------------------------------------------


def _flip_crop(x: torch.Tensor, gen: torch.Generator, pad: int = 4) -> torch.Tensor:
    """Random horizontal flip and random crop after zero padding by ``pad`` (CIFAR-style), per sample."""
    n, _, h, w = x.shape
    flip = torch.rand(n, generator=gen) < 0.5
    oy = torch.randint(0, 2 * pad + 1, (n,), generator=gen)
    ox = torch.randint(0, 2 * pad + 1, (n,), generator=gen)
    flip, oy, ox = flip.to(x.device), oy.to(x.device), ox.to(x.device)
    x = torch.where(flip.view(-1, 1, 1, 1), x.flip(3), x)
    xp = F.pad(x, (pad, pad, pad, pad))
    rows = (oy.view(-1, 1) + torch.arange(h, device=x.device)).view(n, 1, h, 1)
    cols = (ox.view(-1, 1) + torch.arange(w, device=x.device)).view(n, 1, 1, w)
    batch = torch.arange(n, device=x.device).view(n, 1, 1, 1)
    chan = torch.arange(x.shape[1], device=x.device).view(1, -1, 1, 1)
    return xp[batch, chan, rows, cols]


def _lr_factor(step: int, total: int, warmup: int, schedule: str) -> float:
    if warmup and step < warmup:
        return (step + 1) / warmup
    if schedule == "constant":
        return 1.0
    t = (step - warmup) / max(1, total - warmup)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, t)))


def _fingerprint(graph: Graph, dataset, config: TrainConfig) -> str:
    h = hashlib.sha256()
    h.update(graph.structural_hash().encode())
    for name, v in graph.initializers.items():
        h.update(name.encode())
        h.update(np.ascontiguousarray(v.const).tobytes())
    h.update(json.dumps(asdict(config), sort_keys=True).encode())
    h.update(f"{dataset.name}|{dataset.x_train.shape}|{dataset.x_val.shape}|{dataset.x_test.shape}".encode())
    for a in (dataset.y_train, dataset.y_val, dataset.x_train[:256], dataset.x_val[:64]):
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def _atomic_save(obj: Any, path: Path) -> None:
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def _cpu_state(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu", copy=True) for k, v in module.state_dict().items()}


class _SigintFlag:
    """While active (main thread only), the first SIGINT sets a flag; a second one interrupts at once."""

    def __init__(self) -> None:
        self.set = False
        self._old = None

    def __enter__(self) -> "_SigintFlag":
        if threading.current_thread() is threading.main_thread():
            self._old = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        if self.set:
            raise KeyboardInterrupt
        self.set = True

    def __exit__(self, *exc) -> None:
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)


class _Run:
    def __init__(self, graph: Graph, dataset, config: TrainConfig, device: torch.device, progress, max_minutes,
                 checkpoint, eval_batch_size: int) -> None:
        self.graph, self.dataset, self.config, self.device = graph, dataset, config, device
        self.progress = progress
        self.budget = None if max_minutes is None else 60.0 * max_minutes
        self.checkpoint = None if checkpoint is None else Path(checkpoint)
        self.eval_batch_size = eval_batch_size

    # data -----------------------------------------------------------------------------------------

    def _tensor(self, a: np.ndarray, dtype) -> torch.Tensor:
        return torch.as_tensor(np.ascontiguousarray(a), dtype=dtype).to(self.device)

    def _eval(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
        if len(y) == 0:
            return 0.0, float("nan")
        model.eval()
        loss, correct = 0.0, 0
        with torch.inference_mode():
            for i in range(0, len(y), self.eval_batch_size):
                out = model(x[i:i + self.eval_batch_size])
                out = out[0] if isinstance(out, tuple) else out
                yb = y[i:i + self.eval_batch_size]
                loss += float(F.cross_entropy(out.float(), yb, reduction="sum"))
                correct += int((out.argmax(1) == yb).sum())
        model.train()
        return correct / len(y), loss / len(y)

    # main loop ------------------------------------------------------------------------------------

    def execute(self) -> TrainResult:
        cfg, dev = self.config, self.device
        work = self.graph.copy()
        model = work.to_torch().to(dev)
        model.train()
        x_tr, y_tr = self._tensor(self.dataset.x_train, torch.float32), self._tensor(self.dataset.y_train, torch.int64)
        x_va, y_va = self._tensor(self.dataset.x_val, torch.float32), self._tensor(self.dataset.y_val, torch.int64)
        n = len(y_tr)
        if n < 2:
            raise AlphanasError(f"dataset {self.dataset.name!r} has {n} training samples; need at least 2")
        bs = min(cfg.batch_size, n)
        # a final batch of one sample would break batch norm in training mode: fold it away
        batches = n // bs + (1 if n % bs >= 2 else 0)
        total_steps = cfg.epochs * batches
        warmup_steps = int(round(cfg.warmup_epochs * batches))

        decay = [p for p in model.parameters() if p.ndim > 1]
        no_decay = [p for p in model.parameters() if p.ndim <= 1]
        groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
        if cfg.optimizer == "sgd":
            opt = torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.momentum > 0)
        elif cfg.optimizer == "adam":
            opt = torch.optim.Adam(groups, lr=cfg.lr)
        else:
            opt = torch.optim.AdamW(groups, lr=cfg.lr)
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda step: _lr_factor(step, total_steps, warmup_steps, cfg.schedule))
        gen = torch.Generator().manual_seed(cfg.seed)

        fingerprint = _fingerprint(self.graph, self.dataset, cfg) if self.checkpoint else ""
        history: list[EpochStats] = []
        best_acc, best_epoch, best_state = -1.0, 0, None
        start_epoch, start_batch, perm = 0, 0, None
        sums = [0.0, 0, 0]  # loss sum, correct, seen (of the current epoch)
        elapsed_before = 0.0
        epoch_time_before = 0.0
        resumed_from = 0
        if self.checkpoint is not None and self.checkpoint.exists():
            st = self._load_checkpoint(fingerprint)
            model.load_state_dict(st["model"])
            opt.load_state_dict(st["optimizer"])
            sched.load_state_dict(st["scheduler"])
            gen.set_state(st["generator"])
            torch.set_rng_state(st["torch_rng"])
            if dev.type == "cuda" and st.get("cuda_rng") is not None:
                torch.cuda.set_rng_state(st["cuda_rng"], dev)
            history = [EpochStats(**h) for h in st["history"]]
            best_acc, best_epoch, best_state = st["best_acc"], st["best_epoch"], st["best_state"]
            start_epoch, start_batch, perm = st["epoch"], st["batch"], st["perm"]
            sums = list(st["sums"])
            elapsed_before, epoch_time_before = st["elapsed"], st["epoch_time"]
            resumed_from = start_epoch

        t0 = time.perf_counter()

        def elapsed() -> float:
            return elapsed_before + time.perf_counter() - t0

        def save(epoch: int, batch: int, perm_: torch.Tensor | None, epoch_time: float) -> None:
            if self.checkpoint is None:
                return
            _atomic_save({
                "format": _CHECKPOINT_FORMAT, "fingerprint": fingerprint, "epoch": epoch, "batch": batch,
                "perm": perm_, "model": _cpu_state(model), "optimizer": opt.state_dict(),
                "scheduler": sched.state_dict(), "generator": gen.get_state(), "torch_rng": torch.get_rng_state(),
                "cuda_rng": torch.cuda.get_rng_state(dev) if dev.type == "cuda" else None,
                "history": [asdict(h) for h in history], "best_acc": best_acc, "best_epoch": best_epoch,
                "best_state": best_state, "sums": list(sums), "elapsed": elapsed(), "epoch_time": epoch_time,
            }, self.checkpoint)

        def report(phase: str, epoch: int, batch: int) -> None:
            if self.progress is None:
                return
            last = history[-1].val_acc if history else None
            self.progress(TrainProgress(phase, epoch + 1, cfg.epochs, batch, batches,
                                        sums[0] / sums[2] if sums[2] else float("nan"), sched.get_last_lr()[0],
                                        last, best_acc if best_acc >= 0 else None, elapsed()))

        stopped, diverged = "completed", False
        epoch = start_epoch
        with _SigintFlag() as sigint:
            while epoch < cfg.epochs and stopped == "completed":
                t_epoch = time.perf_counter() - epoch_time_before
                epoch_time_before = 0.0
                if perm is None:
                    perm = torch.randperm(n, generator=gen)
                    start_batch = 0
                    sums = [0.0, 0, 0]
                partial = False
                b = start_batch
                try:
                    while b < batches:
                        idx = perm[b * bs:(b + 1) * bs].to(dev)
                        xb, yb = x_tr[idx], y_tr[idx]
                        if cfg.augment == "flip_crop":
                            xb = _flip_crop(xb, gen)
                        out = model(xb)
                        out = out[0] if isinstance(out, tuple) else out
                        loss = F.cross_entropy(out.float(), yb, label_smoothing=cfg.label_smoothing)
                        lv = float(loss.detach())
                        if not math.isfinite(lv):
                            diverged, stopped = True, "diverged"
                            break
                        opt.zero_grad(set_to_none=True)
                        loss.backward()
                        if cfg.grad_clip is not None:
                            nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
                        opt.step()
                        sched.step()
                        sums[0] += lv * len(yb)
                        sums[1] += int((out.detach().argmax(1) == yb).sum())
                        sums[2] += len(yb)
                        b += 1
                        report("batch", epoch, b)
                        if sigint.set:
                            raise KeyboardInterrupt
                        if self.budget is not None and elapsed() > self.budget:
                            stopped = "time"
                            partial = b < batches
                            break
                except KeyboardInterrupt:
                    save(epoch, b, perm, time.perf_counter() - t_epoch)
                    where = (f"; state saved to {self.checkpoint} (epoch {epoch + 1}, batch {b}/{batches}): run the same "
                             "command again to resume") if self.checkpoint else " (no checkpoint was set, nothing saved)"
                    raise TrainingInterrupted(f"training interrupted{where}") from None
                if diverged and sums[2] == 0:
                    break
                val_acc, val_loss = self._eval(model, x_va, y_va)
                history.append(EpochStats(
                    epoch + 1, sums[0] / max(1, sums[2]), sums[1] / max(1, sums[2]), val_loss, val_acc,
                    float(sched.get_last_lr()[0]), time.perf_counter() - t_epoch, partial or diverged))
                if val_acc > best_acc and not diverged:
                    best_acc, best_epoch = val_acc, epoch + 1
                    best_state = _cpu_state(model) if cfg.keep == "best" else None
                report("epoch", epoch, b)
                epoch += 1
                perm = None
                if stopped == "completed":
                    save(epoch, 0, None, 0.0)

        if cfg.keep == "best" and best_state is not None:
            model.load_state_dict(best_state)
        model.eval()
        write_back(work, model)
        x_te, y_te = self._tensor(self.dataset.x_test, torch.float32), self._tensor(self.dataset.y_test, torch.int64)
        val_acc, _ = self._eval(model, x_va, y_va)
        test_acc, _ = self._eval(model, x_te, y_te)
        return TrainResult(graph=work, config=cfg, history=history, best_epoch=best_epoch, val_acc=val_acc,
                           test_acc=test_acc, diverged=diverged, stopped=stopped, wall_time=elapsed(),
                           device=describe_device(dev), resumed_from_epoch=resumed_from,
                           params=work.num_params(), flops=work.flops())

    def _load_checkpoint(self, fingerprint: str) -> dict:
        path = self.checkpoint
        try:
            st = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:
            raise AlphanasError(f"checkpoint {path}: unreadable ({type(e).__name__}); delete it to start over") from None
        if not isinstance(st, dict) or st.get("format") != _CHECKPOINT_FORMAT:
            raise AlphanasError(f"checkpoint {path}: not an alphanas training checkpoint; delete it or choose another path")
        if st.get("fingerprint") != fingerprint:
            raise AlphanasError(
                f"checkpoint {path} belongs to a different run (model, dataset or training options differ); "
                "rerun with the original arguments to resume, or delete the checkpoint to start over"
            )
        return st


__all__ = ["AUGMENTS", "OPTIMIZERS", "SCHEDULES", "EpochStats", "TrainConfig", "TrainProgress", "TrainResult",
           "TrainingInterrupted", "check_compatible", "evaluate", "predict", "resolve_config", "rich_progress", "train"]
