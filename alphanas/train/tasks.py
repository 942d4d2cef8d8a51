"""Learning tasks: what the targets are, the training loss, and the metrics a run reports.

=================  =========================================  ==========================  ============
task               targets ``y``                              loss                        metrics
=================  =========================================  ==========================  ============
``classification`` int64 class indices ``[N]``                cross-entropy               ``acc`` (top-1), ``top5``
``multilabel``     0/1 floats ``[N, C]``                      binary cross-entropy        ``map``, ``bce``
``regression``     floats ``[N, ...]`` (``[N]`` is ``[N, 1]``)  mean squared error          ``mse``, ``mae``
=================  =========================================  ==========================  ============

Every metric declares its direction (:data:`METRIC_SENSES`: ``max`` or ``min``); a task's *primary*
metric (the first) chooses the best validation epoch. A run reports each metric on the validation
and the test split as ``val_<metric>`` and ``test_<metric>``; search objectives can name any of them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from alphanas.errors import AlphanasError, ParameterError

#: metric name -> "max" | "min" (``val_`` / ``test_`` prefixes take the same sense)
METRIC_SENSES: dict[str, str] = {"acc": "max", "top5": "max", "map": "max", "bce": "min", "mse": "min",
                                 "mae": "min", "loss": "min"}


def metric_sense(key: str) -> str | None:
    """The declared sense of a reported metric key (``val_mse`` -> ``min``), ``None`` when it is not a task metric."""
    for prefix in ("val_", "test_", "train_", ""):
        if key.startswith(prefix) and key[len(prefix):] in METRIC_SENSES:
            return METRIC_SENSES[key[len(prefix):]]
    return None


def average_precision(scores: np.ndarray, targets: np.ndarray) -> float:
    """Mean over labels (with at least one positive) of the average precision of ``scores`` ranking ``targets``
    (the area under the precision-recall curve as scikit-learn's ``average_precision_score`` computes it)."""
    scores, targets = np.asarray(scores, np.float64), np.asarray(targets) > 0.5
    aps = []
    for j in range(scores.shape[1]):
        t = targets[:, j]
        if not t.any():
            continue
        order = np.argsort(-scores[:, j], kind="stable")
        s, t = scores[order, j], t[order]
        # ties share one threshold: evaluate precision/recall at the last index of each distinct score
        last = np.r_[np.nonzero(np.diff(s))[0], len(s) - 1]
        tp = np.cumsum(t)[last]
        precision = tp / (last + 1)
        recall = tp / t.sum()
        aps.append(float(np.sum(np.diff(np.r_[0.0, recall]) * precision)))
    return float(np.mean(aps)) if aps else float("nan")


@dataclass(frozen=True)
class Task:
    """One learning task (see the module docstring); ``metrics[0]`` is the primary metric."""

    name: str
    metrics: tuple[str, ...]
    description: str

    @property
    def primary(self) -> str:
        return self.metrics[0]

    @property
    def sense(self) -> str:
        """Direction of the primary metric."""
        return METRIC_SENSES[self.primary]

    def better(self, a: float, b: float | None) -> bool:
        """True when primary score ``a`` beats ``b`` (``None``: nothing yet)."""
        if not np.isfinite(a):
            return False
        return b is None or (a > b if self.sense == "max" else a < b)

    # targets ------------------------------------------------------------------------------------

    @property
    def target_dtype(self) -> torch.dtype:
        return torch.int64 if self.name == "classification" else torch.float32

    def targets(self, y: np.ndarray) -> np.ndarray:
        """``y`` in this task's layout (regression ``[N]`` becomes ``[N, 1]``)."""
        y = np.asarray(y)
        if self.name == "regression" and y.ndim == 1:
            y = y.reshape(-1, 1)
        return y

    def output_shape(self, dataset) -> tuple[int, ...]:
        """The shape of one sample's model output this task needs for ``dataset`` (batch excluded):
        ``(classes,)``, ``(labels,)`` or the regression target's own shape (any rank)."""
        if self.name == "classification":
            return (int(dataset.num_classes),)
        y = self.targets(dataset.y_train)
        if self.name == "multilabel" and y.ndim != 2:
            raise AlphanasError(f"task multilabel: targets of dataset {dataset.name!r} have shape {list(y.shape)}; "
                                "multilabel needs 0/1 targets [N, labels]")
        return tuple(int(d) for d in y.shape[1:])

    def outputs(self, dataset) -> int:
        """The width of the model output ``[N, width]`` this task needs for ``dataset`` (what a zoo model is
        built with); regression targets of higher rank have no single width and are refused."""
        shape = self.output_shape(dataset)
        if len(shape) != 1:
            raise AlphanasError(f"task {self.name}: targets of dataset {dataset.name!r} have shape "
                                f"[N, {', '.join(map(str, shape))}] but zoo models predict [N, width]; pass a model "
                                "file whose output has the targets' shape")
        return int(shape[0])

    def check(self, dataset) -> None:
        """Raise :class:`AlphanasError` unless ``dataset``'s targets suit this task."""
        y = np.asarray(dataset.y_train)
        if self.name == "classification":
            if y.ndim != 1 or y.dtype.kind not in "iu":
                raise ParameterError("task", f"task classification needs integer class labels [N]; dataset "
                                     f"{dataset.name!r} has {y.dtype} targets of shape {list(y.shape)} (use {{task}} "
                                     "multilabel or regression)")
        elif self.name == "multilabel":
            if y.ndim != 2 or not np.isin(y, (0, 1)).all():
                raise AlphanasError(f"task multilabel needs 0/1 targets [N, labels]; dataset {dataset.name!r} has "
                                    f"targets of shape {list(y.shape)}")
        elif y.dtype.kind not in "fiu":
            raise AlphanasError(f"task regression needs numeric targets; dataset {dataset.name!r} has {y.dtype}")
        if self.name != "classification":
            for split in ("train", "val", "test"):
                t = np.asarray(getattr(dataset, f"y_{split}"))
                if t.dtype.kind == "f" and not np.isfinite(t).all():
                    raise AlphanasError(f"task {self.name}: y_{split} of dataset {dataset.name!r} holds NaN or "
                                        "infinite values; remove or impute them")
        self.output_shape(dataset)

    # loss and metrics ---------------------------------------------------------------------------

    def loss(self, out: torch.Tensor, y: torch.Tensor, label_smoothing: float = 0.0,
             reduction: str = "mean") -> torch.Tensor:
        """The training loss of logits/predictions ``out`` against targets ``y``."""
        out = out.float()
        if self.name == "classification":
            return F.cross_entropy(out, y, label_smoothing=label_smoothing, reduction=reduction)
        if self.name == "multilabel":
            per = F.binary_cross_entropy_with_logits(out, y, reduction="none").mean(1)
        else:
            per = F.mse_loss(out, y.view_as(out), reduction="none").flatten(1).mean(1)
        return per.mean() if reduction == "mean" else per.sum()

    def train_score(self, out: torch.Tensor, y: torch.Tensor) -> float:
        """A running training score summed over the batch: correct top-1 (classification), mean per-label
        correctness (multi-label), squared error per sample (regression)."""
        out = out.detach().float()
        if self.name == "classification":
            return float((out.argmax(1) == y).sum())
        if self.name == "multilabel":
            return float(((out > 0) == (y > 0.5)).float().mean(1).sum())
        return float(((out - y.view_as(out)) ** 2).flatten(1).mean(1).sum())

    def evaluate(self, out: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
        """Every metric of this task for outputs ``out`` and targets ``y`` of one whole split (no prefix)."""
        if len(y) == 0:
            return {m: float("nan") for m in self.metrics}
        out = out.detach().float().cpu()
        y = y.detach().cpu()
        if self.name == "classification":
            k = min(5, out.shape[1])
            top = out.topk(k, dim=1).indices
            n = len(y)
            return {"acc": int((top[:, 0] == y).sum()) / n, "top5": int((top == y.view(-1, 1)).any(1).sum()) / n}
        if self.name == "multilabel":
            return {"map": average_precision(out.numpy(), y.numpy()),
                    "bce": float(F.binary_cross_entropy_with_logits(out, y.float()))}
        err = out - y.view_as(out).float()
        return {"mse": float((err ** 2).mean()), "mae": float(err.abs().mean())}


TASKS: dict[str, Task] = {
    "classification": Task("classification", ("acc", "top5"), "single-label classification, cross-entropy"),
    "multilabel": Task("multilabel", ("map", "bce"), "multi-label classification, binary cross-entropy per label"),
    "regression": Task("regression", ("mse", "mae"), "regression, mean squared error"),
}


def get_task(task: str | Task | None) -> Task:
    """The :class:`Task` named ``task`` (``None``: classification)."""
    if isinstance(task, Task):
        return task
    key = (task or "classification").strip().lower().replace("-", "").replace("_", "")
    key = {"multilabelclassification": "multilabel", "classify": "classification"}.get(key, key)
    if key not in TASKS:
        raise AlphanasError(f"unknown task {task!r}; use one of {', '.join(TASKS)}")
    return TASKS[key]


__all__ = ["METRIC_SENSES", "TASKS", "Task", "average_precision", "get_task", "metric_sense"]
