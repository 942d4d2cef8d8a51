"""Training checkpoints: the run's fingerprint, atomic saving and checked loading."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from alphanas.errors import AlphanasError
from alphanas.fileio import atomic_path
from alphanas.ir.graph import Graph
from alphanas.train.config import TrainConfig
from alphanas.ir.hashing import structural_hash

#: Version of the checkpoint layout; a checkpoint of another version is refused.
CHECKPOINT_FORMAT = 1


def fingerprint(graph: Graph, dataset, config: TrainConfig, extra: str = "") -> str:
    """A digest of what determines a run (graph, weights, options, data, and ``extra``: e.g. the data path
    when it changes the augmentation): a checkpoint resumes only its own run."""
    h = hashlib.sha256()
    h.update(extra.encode())
    h.update(structural_hash(graph).encode())
    for name, v in graph.initializers.items():
        h.update(name.encode())
        h.update(np.ascontiguousarray(v.const).tobytes())
    h.update(json.dumps(asdict(config), sort_keys=True).encode())
    if isinstance(dataset.x_train, dict):  # one array per model input
        for name in dataset.x_train:
            xs = [dataset.x_train[name], dataset.x_val[name], dataset.x_test[name]]
            h.update(f"{name}|{'|'.join(str(x.shape) for x in xs)}".encode())
            h.update(np.ascontiguousarray(xs[0][:256]).tobytes() + np.ascontiguousarray(xs[1][:64]).tobytes())
        h.update(f"{dataset.name}".encode() + np.ascontiguousarray(dataset.y_train).tobytes()
                 + np.ascontiguousarray(dataset.y_val).tobytes())
        return h.hexdigest()
    h.update(f"{dataset.name}|{dataset.x_train.shape}|{dataset.x_val.shape}|{dataset.x_test.shape}".encode())
    for a in (dataset.y_train, dataset.y_val, dataset.x_train[:256], dataset.x_val[:64]):
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def atomic_save(obj: Any, path: Path) -> None:
    """``torch.save`` to a temporary file renamed over ``path``: a crash never leaves half a checkpoint."""
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def cpu_state(module: nn.Module) -> dict[str, torch.Tensor]:
    """A CPU copy of the module's state dict (what checkpoints and the best epoch keep)."""
    return {k: v.detach().to("cpu", copy=True) for k, v in module.state_dict().items()}


def load_checkpoint(path: Path, expected_fingerprint: str) -> dict:
    """The saved state at ``path``, refused unless it is a training checkpoint of the run with ``expected_fingerprint``."""
    try:
        st = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise AlphanasError(f"checkpoint {path}: unreadable ({type(e).__name__}); delete it to start over") from None
    if not isinstance(st, dict) or st.get("format") != CHECKPOINT_FORMAT:
        raise AlphanasError(f"checkpoint {path}: not an alphanas training checkpoint; delete it or choose another path")
    if st.get("fingerprint") != expected_fingerprint:
        raise AlphanasError(
            f"checkpoint {path} belongs to a different run (model, dataset or training options differ); "
            "rerun with the original arguments to resume, or delete the checkpoint to start over"
        )
    return st


__all__ = ["CHECKPOINT_FORMAT", "atomic_save", "cpu_state", "fingerprint", "load_checkpoint"]
