"""Training and evaluation of an IR graph on an in-memory image-classification dataset.

    from alphanas.train import train
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
:class:`alphanas.data.Dataset`. ``task`` (:mod:`alphanas.train.tasks`) chooses the loss and the metrics:
classification (cross-entropy; top-1, top-5), multi-label (binary cross-entropy; mAP) or regression
(MSE; MSE, MAE); its primary metric chooses the best epoch.

**Streaming.** Small data is held on the training device (the fast path). When the train and
validation arrays exceed :data:`STREAMING_BYTES` (or ``streaming=True``), batches are streamed instead
through a ``torch.utils.data.DataLoader`` with worker processes and pinned memory, read from the
arrays (``numpy.memmap`` works: nothing is loaded whole) and augmented on the fly in the workers. The
batch order is the same seeded permutation, so with augmentation off both paths train to identical
weights.
"""

from __future__ import annotations

import math
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from alphanas.errors import AlphanasError
from alphanas.ir.graph import Graph
from alphanas.ir.torch_lowering import write_back
from alphanas.train.checkpoint import CHECKPOINT_FORMAT, atomic_save, cpu_state, fingerprint, load_checkpoint
from alphanas.train.config import TrainConfig, resolve_config
from alphanas.train.device import describe as describe_device
from alphanas.train.device import resolve_device
from alphanas.train.inference import check_compatible
from alphanas.train.precision import autocast, choose_channels_last, deterministic_mode, grad_scaler, resolve_precision
from alphanas.train.results import EpochStats, StopReason, TrainingInterrupted, TrainProgress, TrainResult
from alphanas.train.tasks import get_task
from alphanas.ir.cost import graph_flops
from alphanas.ir.cost import graph_params
from alphanas.ir.torch_lowering import to_torch


def train(graph: Graph, dataset, epochs: int, *, batch_size: int = 128, lr: float | None = None,
          optimizer: str = "sgd", momentum: float = 0.9, weight_decay: float | None = None,
          schedule: str = "cosine", warmup_epochs: float | None = None, label_smoothing: float = 0.0,
          augment: str = "auto", grad_clip: float | None = None, keep: str = "best", seed: int = 0,
          device: str | torch.device = "auto", progress: Callable[[TrainProgress], None] | None = None,
          max_minutes: float | None = None, checkpoint: str | os.PathLike | None = None,
          eval_batch_size: int = 1024, task: str = "classification", streaming: bool | None = None,
          workers: int | None = None, precision: str = "auto", channels_last: str | bool = "auto",
          compile: bool = False, deterministic: bool | None = None) -> TrainResult:
    """Train a copy of ``graph`` on ``dataset`` and return it with its metrics (see the module docstring).

    ``max_minutes`` stops after the batch that exceeds the budget (time of resumed runs included) and
    evaluates the weights reached; ``progress`` is called after every batch and epoch (see
    :func:`alphanas.console.rich_progress`); ``checkpoint`` enables save-every-epoch and resume.

    ``precision`` (``auto``/``fp32``/``bf16``/``fp16``), ``channels_last`` (``auto``/``on``/``off``) and
    ``deterministic`` are described in :mod:`alphanas.train.precision` (``deterministic=None`` follows the
    environment variable ``ALPHANAS_DETERMINISTIC=1``, which the test suite sets); ``compile=True`` runs the lowered
    module through :func:`torch.compile` (its compile time is :attr:`TrainResult.compile_s`).
    :func:`alphanas.console.rich_progress`); ``checkpoint`` enables save-every-epoch and resume;
    ``streaming`` (``None``: by size) and ``workers`` (DataLoader worker processes, default 2) choose the
    data path (see the module docstring).
    """
    config = resolve_config(epochs, batch_size=batch_size, lr=lr, optimizer=optimizer, momentum=momentum,
                            weight_decay=weight_decay, schedule=schedule, warmup_epochs=warmup_epochs,
                            label_smoothing=label_smoothing, augment=augment, grad_clip=grad_clip, keep=keep,
                            seed=seed, dataset=dataset, task=task)
    get_task(config.task).check(dataset)
    check_compatible(graph, dataset, config.task)
    if workers is not None and workers < 0:
        raise AlphanasError(f"{workers} data loader workers: must be >= 0")
    if max_minutes is not None and not max_minutes > 0:
        raise AlphanasError(f"time budget of {max_minutes} minutes: must be positive")
    dev = resolve_device(device)
    config = replace(config, precision=resolve_precision(precision, dev))
    run = _Run(graph, dataset, config, dev, progress, max_minutes, checkpoint, eval_batch_size,
               channels_last=channels_last, compile=compile)
    run.streaming = use_streaming(dataset) if streaming is None else bool(streaming)
    if isinstance(dataset.x_train, dict) and (run.streaming or config.augment != "none"):
        what = "streaming batches" if run.streaming else f"augmentation {config.augment!r}"
        raise AlphanasError(f"dataset {dataset.name!r} has several inputs ({', '.join(dataset.x_train)}); "
                            f"{what} is for single-input data: train it in memory without augmentation")
    run.workers = 2 if workers is None else int(workers)
    fork = [dev.index if dev.index is not None else torch.cuda.current_device()] if dev.type == "cuda" else []
    if deterministic is None:
        deterministic = os.environ.get("ALPHANAS_DETERMINISTIC", "") not in ("", "0")
    with torch.random.fork_rng(devices=fork), deterministic_mode(deterministic):
        torch.manual_seed(config.seed)
        return run.execute()


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


def _flip_crop_np(x: np.ndarray, rng: np.random.Generator, pad: int = 4) -> np.ndarray:
    """:func:`_flip_crop` in numpy, for the DataLoader workers of the streaming path."""
    n, c, h, w = x.shape
    flip = np.asarray(rng.random(n) < 0.5)
    x = np.where(flip.reshape(-1, 1, 1, 1), x[..., ::-1], x)
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oy = rng.integers(0, 2 * pad + 1, size=(n,)).tolist()
    ox = rng.integers(0, 2 * pad + 1, size=(n,)).tolist()
    return np.ascontiguousarray(np.stack([xp[i][:, oy[i]:oy[i] + h, ox[i]:ox[i] + w] for i in range(n)]))


#: above this many bytes of training and validation arrays, :func:`train` streams batches from them
#: through a DataLoader instead of holding them on the device
STREAMING_BYTES = 2 * 2**30


def use_streaming(dataset, limit: int | None = None) -> bool:
    """Whether :func:`train` streams ``dataset`` by default: its train and validation arrays exceed
    ``limit`` bytes (default :data:`STREAMING_BYTES`), or they are memory-mapped files."""
    arrays = [a for x in (dataset.x_train, dataset.x_val) for a in (x.values() if isinstance(x, dict) else [x])]
    if any(isinstance(a, np.memmap) for a in arrays):
        return True
    return sum(int(getattr(a, "nbytes", 0)) for a in arrays) > (STREAMING_BYTES if limit is None else limit)


class BatchReader(torch.utils.data.Dataset):
    """The streaming path's map-style dataset: key ``(epoch, batch, indices)`` -> ``(x, y)`` tensors of that
    batch, read from the arrays in the indices' order and augmented with a generator seeded by ``(seed,
    epoch, batch)`` (the same batch gets the same augmentation whatever worker reads it)."""

    def __init__(self, x: np.ndarray, y: np.ndarray, y_dtype, augment: str = "none", seed: int = 0) -> None:
        self.x, self.y, self.y_dtype, self.augment, self.seed = x, y, y_dtype, augment, seed

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, key):
        epoch, batch, idx = key
        xb = np.ascontiguousarray(self.x[idx], dtype=np.float32)
        if self.augment == "flip_crop":
            xb = _flip_crop_np(xb, np.random.default_rng((self.seed, epoch, batch)))
        return torch.from_numpy(xb), torch.from_numpy(np.ascontiguousarray(self.y[idx], dtype=self.y_dtype))


class _EpochBatches(torch.utils.data.Sampler):
    """Yields the keys of the current epoch's remaining batches (read from the run when iteration starts)."""

    def __init__(self, run: "_Run") -> None:
        self.run = run

    def __len__(self) -> int:
        return self.run.batches - self.run.start_batch

    def __iter__(self):
        r = self.run
        perm = r.perm.numpy()
        for b in range(r.start_batch, r.batches):
            yield (r.epoch, b, perm[b * r.bs:(b + 1) * r.bs])


def _lr_factor(step: int, total: int, warmup: int, schedule: str) -> float:
    if warmup and step < warmup:
        return (step + 1) / warmup
    if schedule == "constant":
        return 1.0
    t = (step - warmup) / max(1, total - warmup)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, t)))


class _SigintFlag:
    """While active (main thread only), the first SIGINT sets a flag; a second one interrupts at once."""

    def __init__(self) -> None:
        self.set = False
        self._old: Any = None

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
    """One call of :func:`train`: the model, optimizer and loop state, advanced batch by batch and epoch by epoch."""

    def __init__(self, graph: Graph, dataset, config: TrainConfig, device: torch.device, progress, max_minutes,
                 checkpoint, eval_batch_size: int, channels_last: str | bool = "auto", compile: bool = False) -> None:
        self.graph, self.dataset, self.config, self.device = graph, dataset, config, device
        self.layout_choice, self.compile = channels_last, compile
        self.channels_last, self.compile_s = False, 0.0
        self.progress = progress
        self.budget = None if max_minutes is None else 60.0 * max_minutes
        self.checkpoint = None if checkpoint is None else Path(checkpoint)
        self.eval_batch_size = eval_batch_size
        self.task = get_task(config.task)
        self.streaming = False
        self.workers = 2
        self.loader: torch.utils.data.DataLoader | None = None

    # data -----------------------------------------------------------------------------------------

    def _layout(self, x: torch.Tensor) -> torch.Tensor:
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    def _tensor(self, a: np.ndarray, dtype) -> torch.Tensor:
        return torch.as_tensor(np.ascontiguousarray(a), dtype=dtype).to(self.device)

    def _inputs(self, x) -> Any:
        """A split's inputs on the device: one float32 tensor, or (data with several named inputs) a dict of
        tensors, float inputs as float32, boolean and integer ones in their own type."""
        if isinstance(x, dict):
            return {k: self._tensor(v, torch.float32 if np.asarray(v).dtype.kind == "f" else None)
                    for k, v in x.items()}
        return self._tensor(x, torch.float32)

    def _feed(self, model: nn.Module, xb) -> Any:
        """``model`` on a batch of inputs: one tensor, or a dict fed to the graph inputs by name."""
        if isinstance(xb, dict):
            return model(*[xb[n] for n in self.input_names])
        return model(xb)

    def _chunk(self, a, i: int, j: int, dtype) -> Any:
        """Rows ``i:j`` of a device tensor (in-memory) or of an array (streaming), on the device."""
        if isinstance(a, dict):
            return {k: v[i:j] for k, v in a.items()}
        if isinstance(a, torch.Tensor):
            return a[i:j]
        return torch.as_tensor(np.ascontiguousarray(a[i:j]), dtype=dtype).to(self.device)

    def _eval(self, model: nn.Module, x, y) -> tuple[dict[str, float], float]:
        """The task's metrics (unprefixed) and the mean loss of ``model`` on a whole split, in eval mode."""
        if len(y) == 0:
            return {m: 0.0 for m in self.task.metrics}, float("nan")
        model.eval()
        loss, outs, ys = 0.0, [], []
        with torch.inference_mode(), autocast(self.device, self.config.precision):
            for i in range(0, len(y), self.eval_batch_size):
                j = i + self.eval_batch_size
                xb = self._chunk(x, i, j, torch.float32)
                out = self._feed(model, xb if isinstance(xb, dict) else self._layout(xb))
                out = out[0] if isinstance(out, tuple) else out
                yb = self._chunk(y, i, j, self.task.target_dtype)
                loss += float(self.task.loss(out, yb, reduction="sum"))
                outs.append(out.float().cpu())
                ys.append(yb.cpu())
        model.train()
        return self.task.evaluate(torch.cat(outs), torch.cat(ys)), loss / len(y)

    # main loop ------------------------------------------------------------------------------------

    def execute(self) -> TrainResult:
        self._prepare_model_and_data()
        self._prepare_optimizer()
        self._start_or_resume()
        self.t0 = time.perf_counter()
        with _SigintFlag() as sigint:
            while self.epoch < self.config.epochs and self.stopped == StopReason.COMPLETED:
                if not self._run_epoch(sigint):
                    break
        return self._finish()

    def _prepare_model_and_data(self) -> None:
        """Lower a copy of the graph to torch; put the train and validation splits on the device; size the batches."""
        self.work = self.graph.copy()
        self.model = to_torch(self.work).to(self.device)
        self.eager = self.model  # the module itself (self.model becomes its compiled wrapper with compile=True)
        self.model.train()
        self.input_names = [v.name for v in self.work.inputs]
        ds, task = self.dataset, self.task
        ydt = task.target_dtype
        # device tensors (in-memory) or the dataset's arrays (streaming)
        self.x_tr: Any
        self.y_tr: Any
        self.x_va: Any
        self.y_va: Any
        if self.streaming:  # stay where they are (memory-mapped files too); batches are read on demand
            self.x_tr, self.y_tr = ds.x_train, task.targets(ds.y_train)
            self.x_va, self.y_va = ds.x_val, task.targets(ds.y_val)
        else:
            self.x_tr, self.y_tr = self._inputs(ds.x_train), self._tensor(task.targets(ds.y_train), ydt)
            self.x_va, self.y_va = self._inputs(ds.x_val), self._tensor(task.targets(ds.y_val), ydt)
        self.n = n = len(self.y_tr)
        if n < 2:
            raise AlphanasError(f"dataset {ds.name!r} has {n} training samples; need at least 2")
        self.bs = bs = min(self.config.batch_size, n)
        # a final batch of one sample would break batch norm in training mode: fold it away
        self.batches = n // bs + (1 if n % bs >= 2 else 0)
        if self.streaming:
            reader = BatchReader(self.x_tr, self.y_tr, np.int64 if ydt == torch.int64 else np.float32,
                                 self.config.augment, self.config.seed)
            w = self.workers
            self.loader = torch.utils.data.DataLoader(
                reader, batch_size=None, sampler=_EpochBatches(self), num_workers=w,
                pin_memory=self.device.type == "cuda", persistent_workers=w > 0, prefetch_factor=4 if w > 0 else None)
        self.scaler = grad_scaler(self.device, self.config.precision)
        self._choose_layout_and_compile()

    def _forward_backward(self, xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        """The training loss of one batch, under the run's precision, with its gradients accumulated."""
        with autocast(self.device, self.config.precision):
            out = self._feed(self.model, xb)
            out = out[0] if isinstance(out, tuple) else out
            loss = self.task.loss(out, yb, self.config.label_smoothing)
        self.scaler.scale(loss).backward()
        return loss

    def _choose_layout_and_compile(self) -> None:
        """Pick the memory layout (measured on the first batch where the rule allows it) and compile the
        module when asked; neither changes the weights or the RNG state."""
        if self.layout_choice == "auto" and self.device.type != "cuda" and not self.compile:
            return
        probe = min(self.bs, self.n)
        multi = isinstance(self.x_tr, dict)  # several inputs: the layout stays as it is
        xb, yb = (self._chunk(self.x_tr, 0, probe, None) if multi else self.x_tr[:probe]), self.y_tr[:probe]
        if not multi and not isinstance(xb, torch.Tensor):  # streaming: the arrays stay where they are
            xb = torch.as_tensor(np.ascontiguousarray(xb), dtype=torch.float32).to(self.device)
            yb = torch.as_tensor(np.ascontiguousarray(yb), dtype=self.task.target_dtype).to(self.device)
        if not multi and (self.layout_choice != "auto" or self.device.type == "cuda"):
            with torch.random.fork_rng(devices=[] if self.device.type != "cuda" else [self.device]):
                self.channels_last = choose_channels_last(self.layout_choice, self.model, self.device,
                                                          self.config.precision, xb,
                                                          lambda x: self._forward_backward(x, yb))
            if self.channels_last:
                self.model.to(memory_format=torch.channels_last)
            self.model.zero_grad(set_to_none=True)
        if self.compile:
            eager = self.model
            self.model = torch.compile(eager)
            t0 = time.perf_counter()
            with torch.random.fork_rng(devices=[] if self.device.type != "cuda" else [self.device]):
                self._forward_backward(xb if isinstance(xb, dict) else self._layout(xb), yb)
            if self.device.type == "cuda":
                torch.cuda.synchronize()
            self.compile_s = time.perf_counter() - t0
            eager.zero_grad(set_to_none=True)

    def _batches(self):
        """``(x, y)`` on the device for the epoch's remaining batches, in the permutation's order."""
        if self.loader is not None:
            for xb, yb in self.loader:
                yield xb.to(self.device, non_blocking=True), yb.to(self.device, non_blocking=True)
            return
        for b in range(self.start_batch, self.batches):
            idx = self.perm[b * self.bs:(b + 1) * self.bs].to(self.device)
            if isinstance(self.x_tr, dict):
                yield {k: v[idx] for k, v in self.x_tr.items()}, self.y_tr[idx]
                continue
            xb, yb = self.x_tr[idx], self.y_tr[idx]
            if self.config.augment == "flip_crop":
                xb = _flip_crop(xb, self.gen)
            yield xb, yb

    def _prepare_optimizer(self) -> None:
        """Optimizer (no weight decay on biases and norms), warm-up + schedule, and the seeded data generator."""
        cfg = self.config
        total_steps = cfg.epochs * self.batches
        warmup_steps = int(round(cfg.warmup_epochs * self.batches))
        decay = [p for p in self.model.parameters() if p.ndim > 1]
        no_decay = [p for p in self.model.parameters() if p.ndim <= 1]
        groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
        self.opt: torch.optim.Optimizer
        if cfg.optimizer == "sgd":
            self.opt = torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.momentum > 0)
        elif cfg.optimizer == "adam":
            self.opt = torch.optim.Adam(groups, lr=cfg.lr)
        else:
            self.opt = torch.optim.AdamW(groups, lr=cfg.lr)
        self.sched = torch.optim.lr_scheduler.LambdaLR(
            self.opt, lambda step: _lr_factor(step, total_steps, warmup_steps, cfg.schedule))
        self.gen = torch.Generator().manual_seed(cfg.seed)

    def _start_or_resume(self) -> None:
        """The loop state of a fresh run, or the one saved in the checkpoint when it exists."""
        # the two data paths draw augmentation differently: a checkpoint resumes on its own path
        path = "streaming" if self.streaming and self.config.augment != "none" else ""
        self.fingerprint = fingerprint(self.graph, self.dataset, self.config, path) if self.checkpoint else ""
        self.history: list[EpochStats] = []
        self.best_score: float | None = None  # the task's primary validation metric at the best epoch
        self.best_epoch = 0
        self.best_state: dict[str, torch.Tensor] | None = None
        self.epoch, self.start_batch = 0, 0
        self.perm: torch.Tensor | None = None  # the epoch's sample order (None between epochs)
        self.sums = [0.0, 0, 0]  # loss sum, correct, seen (of the current epoch)
        self.unvalidated_steps = 0  # optimizer steps since the last end-of-epoch validation
        self.elapsed_before = 0.0
        self.epoch_time_before = 0.0
        self.resumed_from = 0
        self.stopped, self.diverged = StopReason.COMPLETED, False
        if self.checkpoint is not None and self.checkpoint.exists():
            self._restore(load_checkpoint(self.checkpoint, self.fingerprint))

    def _restore(self, st: dict) -> None:
        self.eager.load_state_dict(st["model"])
        self.opt.load_state_dict(st["optimizer"])
        self.sched.load_state_dict(st["scheduler"])
        if st.get("scaler"):
            self.scaler.load_state_dict(st["scaler"])
        self.gen.set_state(st["generator"])
        torch.set_rng_state(st["torch_rng"])
        if self.device.type == "cuda" and st.get("cuda_rng") is not None:
            torch.cuda.set_rng_state(st["cuda_rng"], self.device)
        self.history = [EpochStats(**h) for h in st["history"]]
        self.best_score, self.best_epoch, self.best_state = st["best_acc"], st["best_epoch"], st["best_state"]
        self.epoch, self.start_batch, self.perm = st["epoch"], st["batch"], st["perm"]
        self.sums = list(st["sums"])
        self.unvalidated_steps = int(st["batch"])  # a mid-epoch resume: this epoch's steps are not validated yet
        self.elapsed_before, self.epoch_time_before = st["elapsed"], st["epoch_time"]
        self.resumed_from = self.epoch

    def _elapsed(self) -> float:
        """Seconds of training so far, those of the runs this one resumes included."""
        return self.elapsed_before + time.perf_counter() - self.t0

    def _save(self, epoch: int, batch: int, perm: torch.Tensor | None, epoch_time: float) -> None:
        if self.checkpoint is None:
            return
        dev = self.device
        atomic_save({
            "format": CHECKPOINT_FORMAT, "fingerprint": self.fingerprint, "epoch": epoch, "batch": batch,
            "perm": perm, "model": cpu_state(self.eager), "optimizer": self.opt.state_dict(),
            "scheduler": self.sched.state_dict(), "scaler": self.scaler.state_dict(),
            "generator": self.gen.get_state(), "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state(dev) if dev.type == "cuda" else None,
            "history": [asdict(h) for h in self.history], "best_acc": self.best_score, "best_epoch": self.best_epoch,
            "best_state": self.best_state, "sums": list(self.sums), "elapsed": self._elapsed(), "epoch_time": epoch_time,
        }, self.checkpoint)

    def _report(self, phase: str, epoch: int, batch: int) -> None:
        if self.progress is None:
            return
        sums = self.sums
        last = self.history[-1].val_acc if self.history else None
        self.progress(TrainProgress(phase, epoch + 1, self.config.epochs, batch, self.batches,
                                    sums[0] / sums[2] if sums[2] else float("nan"), self.sched.get_last_lr()[0],
                                    last, self.best_score, self._elapsed(), {"metric": self.task.primary}))

    def _run_epoch(self, sigint: _SigintFlag) -> bool:
        """Train the current epoch (from the saved batch when resuming), then validate it; False: stop now (the
        loss diverged before any batch of this epoch counted)."""
        t_epoch = time.perf_counter() - self.epoch_time_before
        self.epoch_time_before = 0.0
        if self.perm is None:
            self.perm = torch.randperm(self.n, generator=self.gen)
            self.start_batch = 0
            self.sums = [0.0, 0, 0]
        b, partial = self._train_batches(sigint, t_epoch)
        if self.diverged and self.sums[2] == 0:
            return False
        self._end_epoch(b, partial, t_epoch)
        return True

    def _train_batches(self, sigint: _SigintFlag, t_epoch: float) -> tuple[int, bool]:
        """The epoch's batches until its end, divergence or the time budget: ``(batches done, stopped early)``.
        Ctrl-C saves the state and raises :class:`TrainingInterrupted`."""
        partial = False
        b = self.start_batch
        batches = self._batches()
        try:
            for xb, yb in batches:
                if not self._train_step(xb, yb):
                    self.diverged, self.stopped = True, StopReason.DIVERGED
                    break
                b += 1
                self._report("batch", self.epoch, b)
                if sigint.set:
                    raise KeyboardInterrupt
                if self.budget is not None and self._elapsed() > self.budget:
                    self.stopped = StopReason.TIME
                    partial = b < self.batches
                    break
        except KeyboardInterrupt:
            self._save(self.epoch, b, self.perm, time.perf_counter() - t_epoch)
            where = (f"; state saved to {self.checkpoint} (epoch {self.epoch + 1}, batch {b}/{self.batches}): run the "
                     "same command again to resume") if self.checkpoint else " (no checkpoint was set, nothing saved)"
            raise TrainingInterrupted(f"training interrupted{where}") from None
        finally:
            batches.close()
        return b, partial

    def _train_step(self, xb: torch.Tensor, yb: torch.Tensor) -> bool:
        """One optimizer step on a batch; False (no step) when the loss is not finite."""
        cfg, model = self.config, self.model
        self.opt.zero_grad(set_to_none=True)
        with autocast(self.device, cfg.precision):
            out = self._feed(model, xb if isinstance(xb, dict) else self._layout(xb))
            out = out[0] if isinstance(out, tuple) else out
            loss = self.task.loss(out, yb, cfg.label_smoothing)
        lv = float(loss.detach())
        if not math.isfinite(lv):
            self.opt.zero_grad(set_to_none=True)
            return False
        self.scaler.scale(loss).backward()
        if cfg.grad_clip is not None:
            self.scaler.unscale_(self.opt)
            nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        self.scaler.step(self.opt)
        self.scaler.update()
        self.sched.step()
        self.unvalidated_steps += 1
        self.sums[0] += lv * len(yb)
        self.sums[1] += self.task.train_score(out, yb)
        self.sums[2] += len(yb)
        return True

    def _end_epoch(self, b: int, partial: bool, t_epoch: float) -> None:
        """Validate, record the epoch, keep the best weights, report, and checkpoint before the next epoch."""
        sums = self.sums
        val_metrics, val_loss = self._eval(self.model, self.x_va, self.y_va)
        self.unvalidated_steps = 0
        score = val_metrics[self.task.primary]
        self.history.append(EpochStats(
            self.epoch + 1, sums[0] / max(1, sums[2]), sums[1] / max(1, sums[2]), val_loss, score,
            float(self.sched.get_last_lr()[0]), time.perf_counter() - t_epoch, partial or self.diverged,
            val_metrics))
        if self.task.better(score, self.best_score) and not self.diverged:
            self.best_score, self.best_epoch = score, self.epoch + 1
            self.best_state = cpu_state(self.eager) if self.config.keep == "best" else None
        self._report("epoch", self.epoch, b)
        self.epoch += 1
        self.perm = None
        if self.stopped == StopReason.COMPLETED:
            self._save(self.epoch, 0, None, 0.0)

    def _kept_val_metrics(self) -> dict[str, float] | None:
        """The validation metrics of the weights :meth:`_finish` keeps when an end-of-epoch validation already
        measured exactly those weights (the best epoch's saved state, or the last epoch's with no step after
        it), so that the split is not evaluated twice; ``None``: evaluate them."""
        kept = None
        if self.config.keep == "best" and self.best_state is not None:
            kept = next((h for h in self.history if h.epoch == self.best_epoch), None)
        elif self.history and self.unvalidated_steps == 0:
            kept = self.history[-1]
        return dict(kept.val_metrics) if kept is not None and kept.val_metrics else None

    def _finish(self) -> TrainResult:
        """Load the kept weights, write them into the graph copy, and measure validation and test accuracy once."""
        cfg, model, work = self.config, self.model, self.work
        if cfg.keep == "best" and self.best_state is not None:
            self.eager.load_state_dict(self.best_state)
        model.eval()
        write_back(work, self.eager)
        x_te: Any
        y_te: Any
        if self.streaming:
            x_te, y_te = self.dataset.x_test, self.task.targets(self.dataset.y_test)
        else:
            x_te = self._inputs(self.dataset.x_test)
            y_te = self._tensor(self.task.targets(self.dataset.y_test), self.task.target_dtype)
        val_metrics = self._kept_val_metrics()
        if val_metrics is None:
            val_metrics, _ = self._eval(model, self.x_va, self.y_va)
        test_metrics, _ = self._eval(model, x_te, y_te)
        self.loader = None  # ends the persistent workers
        p = self.task.primary
        return TrainResult(graph=work, config=cfg, history=self.history, best_epoch=self.best_epoch,
                           val_acc=val_metrics[p], test_acc=test_metrics[p], task=self.task.name,
                           val_metrics=val_metrics, test_metrics=test_metrics, streamed=self.streaming,
                           diverged=self.diverged, stopped=self.stopped, wall_time=self._elapsed(),
                           device=describe_device(self.device), resumed_from_epoch=self.resumed_from,
                           params=graph_params(work), flops=graph_flops(work), channels_last=self.channels_last,
                           compile_s=self.compile_s)


__all__ = ["STREAMING_BYTES", "BatchReader", "train", "use_streaming"]
