"""Zero-cost proxies: score an untrained candidate in one forward/backward pass, to pre-screen a search.

* :func:`synflow` (Tanaka et al., "Pruning neural networks without any data by iteratively conserving
  synaptic flow", NeurIPS 2020; used for NAS by Abdelfattah et al., "Zero-Cost Proxies for Lightweight
  NAS", ICLR 2021): replace every parameter θ by |θ|, feed an all-ones input, in double precision,
  take R = sum of the outputs and score ``sum |θ ⊙ ∂R/∂θ|`` over all parameters. No data needed.
  Batch norm runs in inference form with running mean 0 and variance 1 (its state at initialisation),
  so it is the per-channel affine map |γ|·x/sqrt(1+ε) + |β| and the network stays sign-free, as synflow
  requires.
* :func:`grad_norm` (Abdelfattah et al. 2021): the sum, over weight tensors (convolution and dense
  kernels, i.e. parameters with two or more dimensions), of the L2 norm of the gradient of the
  training loss on one labelled batch (cross-entropy; the task's loss for multilabel or regression
  targets), in training mode.

:class:`ProxyScreen` ranks a batch of candidates by one proxy and keeps the top fraction (higher is
better for both proxies); the search loop uses it as an optional pre-screen before training.
The graph passed in is never modified (it is lowered to a fresh torch module with
:meth:`Graph.to_torch`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from alphanas.errors import AlphanasError
from alphanas.ir.graph import Graph
from alphanas.ir.torch_lowering import to_torch

__all__ = ["PROXIES", "ProxyScreen", "grad_norm", "input_shape", "proxy_batch", "score", "synflow"]


def _logits(out):
    return out[0] if isinstance(out, tuple) else out


def input_shape(graph: Graph) -> tuple[int, ...]:
    """The per-sample input shape of a single-input graph (the batch dimension dropped)."""
    if len(graph.inputs) != 1:
        raise AlphanasError(f"model {graph.name!r} has {len(graph.inputs)} inputs; proxies need exactly one")
    shape = tuple(graph.inputs[0].shape or ())
    rest = shape[1:]
    if not rest or not all(isinstance(d, int) and d > 0 for d in rest):
        raise AlphanasError(f"model {graph.name!r}: input shape {list(shape)} must be [N, fixed dims...]")
    return tuple(int(d) for d in rest)


def synflow(graph: Graph) -> float:
    """Synaptic-flow score of ``graph`` (see the module docstring); data-free and deterministic."""
    model = to_torch(graph).double()
    model.eval()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                if m.running_mean is not None:
                    m.running_mean.zero_()
                    m.running_var.fill_(1.0)
        for p in model.parameters():
            p.abs_()
    model.zero_grad(set_to_none=True)
    x = torch.ones((1, *input_shape(graph)), dtype=torch.float64)
    r = _logits(model(x)).sum()
    r.backward()
    total = 0.0
    for p in model.parameters():
        if p.grad is not None:
            total += float((p.detach() * p.grad).abs().sum())
    return total


def grad_norm(graph: Graph, batch: tuple[np.ndarray, np.ndarray] | tuple[torch.Tensor, torch.Tensor],
              task: str | None = None) -> float:
    """Sum of the L2 norms of the weight gradients (tensors with ndim >= 2) of the training loss of
    ``task`` (:mod:`alphanas.train.tasks`; default classification: cross-entropy) of ``graph`` on
    ``batch = (inputs, targets)``, in training mode (batch norm uses batch statistics)."""
    from alphanas.train.tasks import get_task

    task_ = get_task(task)
    x, y = batch
    model = to_torch(graph)
    model.train()
    model.zero_grad(set_to_none=True)
    xt = torch.as_tensor(np.asarray(x), dtype=torch.float32)
    yt = torch.as_tensor(task_.targets(np.asarray(y)), dtype=task_.target_dtype)
    loss = task_.loss(_logits(model(xt)).float(), yt)
    loss.backward()
    total = 0.0
    for p in model.parameters():
        if p.ndim >= 2 and p.grad is not None:
            total += float(p.grad.norm())
    return total


def proxy_batch(dataset, size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A seeded random batch of ``size`` training samples from ``dataset``."""
    n = len(dataset.y_train)
    idx = np.sort(np.random.default_rng(seed).choice(n, size=min(size, n), replace=False))
    return dataset.x_train[idx], dataset.y_train[idx]


PROXIES = ("synflow", "grad_norm")


def score(name: str, graph: Graph, batch=None, task: str | None = None) -> float:
    """The proxy ``name`` of ``graph`` (``batch`` and ``task`` are used by ``grad_norm`` only); NaN/inf
    become -inf."""
    if name == "synflow":
        s = synflow(graph)
    elif name in ("grad_norm", "grad-norm", "gradnorm"):
        if batch is None:
            raise AlphanasError("the grad_norm proxy needs a batch of data")
        s = grad_norm(graph, batch, task)
    else:
        raise AlphanasError(f"unknown proxy {name!r}; choose from {', '.join(PROXIES)}")
    return s if math.isfinite(s) else -math.inf


@dataclass
class ProxyScreen:
    """Rank candidates by a zero-cost proxy and keep the best fraction ``keep`` (at least one).

    ``grad_norm`` draws its batch (``batch_size`` samples, seeded) from ``dataset_name`` via the
    per-process dataset cache of :mod:`alphanas.search.evaluators`. Ties keep the earlier candidate,
    so the result depends only on the candidates, the proxy and the seed. A candidate whose proxy
    cannot be computed (lowering error) scores -inf.
    """

    proxy: str = "synflow"
    keep: float = 0.5
    batch_size: int = 64
    dataset_name: str = "digits"
    data_root: str | None = None
    dataset_seed: int = 0
    dataset_options: dict = field(default_factory=dict)
    task: str = "classification"  # the loss grad_norm differentiates (alphanas.train.tasks)

    def __post_init__(self) -> None:
        if self.proxy not in PROXIES:
            raise AlphanasError(f"unknown proxy {self.proxy!r}; choose from {', '.join(PROXIES)}")
        if not 0.0 < self.keep <= 1.0:
            raise AlphanasError(f"proxy keep fraction {self.keep}: must be in (0, 1]")

    def _batch(self, seed: int):
        if self.proxy != "grad_norm":
            return None
        from alphanas.search.evaluators import cached_dataset

        ds = cached_dataset(self.dataset_name, self.data_root, self.dataset_seed, self.dataset_options)
        return proxy_batch(ds, self.batch_size, seed)

    def scores(self, graphs: list[Graph], *, seed: int = 0) -> list[float]:
        """The proxy score of every graph (same batch for all of them)."""
        batch = self._batch(seed)
        out = []
        for g in graphs:
            try:
                out.append(score(self.proxy, g, batch, self.task))
            except (AlphanasError, RuntimeError, ValueError):
                out.append(-math.inf)
        return out

    def rank(self, graphs: list[Graph], *, seed: int = 0) -> list[int]:
        """Indices of ``graphs`` from best to worst proxy score (stable: ties keep input order)."""
        s = self.scores(graphs, seed=seed)
        return sorted(range(len(graphs)), key=lambda i: (-s[i], i))

    def select(self, graphs: list[Graph], *, seed: int = 0) -> list[int]:
        """Indices (in input order) of the ``ceil(keep * n)`` best candidates."""
        if not graphs:
            return []
        n_keep = max(1, math.ceil(self.keep * len(graphs) - 1e-9))
        return sorted(self.rank(graphs, seed=seed)[:n_keep])
