"""A user evaluator for ``alphanas search``: regression, not classification.

The task: find the centre ``(x, y)`` of a bright Gaussian blob in a noisy 1x8x8 image (both
coordinates scaled to [-1, 1]). The data is generated here (seeded), the candidate trains with Adam
on the mean squared error for the search's epoch budget, and the evaluator reports its own metrics:

* ``r2``: the coefficient of determination on the validation images (1 is perfect; maximise it),
* ``rmse``: root mean squared error of the coordinates on the validation images (minimise),
* ``onnx_kb``: the size of the candidate's ONNX file, read from ``onnx_path``.

Search with it::

    alphanas zoo export resnet_small --input-size 8 --in-channels 1 --num-classes 2 -o seed.onnx
    PYTHONPATH=examples/alphanas-evaluator-example alphanas search seed.onnx \\
        --evaluator alphanas_evaluator_example:evaluate --objectives r2:max,params --trials 5 --epochs 3

(installed with pip, ``--evaluator blob-regression`` names the entry point instead).
"""

from __future__ import annotations

import os

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["blob_data", "evaluate"]


def blob_data(n: int, seed: int, size: int = 8, noise: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """``n`` images ``[n, 1, size, size]`` with one Gaussian blob each, and its centre ``[n, 2]`` in [-1, 1]."""
    rng = np.random.default_rng(seed)
    centre = rng.uniform(0.5, size - 1.5, (n, 2))
    yy, xx = np.mgrid[0:size, 0:size]
    d2 = (xx[None] - centre[:, 0, None, None]) ** 2 + (yy[None] - centre[:, 1, None, None]) ** 2
    x = np.exp(-d2 / 2.0) + noise * rng.standard_normal((n, size, size))
    target = 2.0 * (centre - 0.5) / (size - 2.0) - 1.0
    return x[:, None].astype(np.float32), target.astype(np.float32)


def evaluate(model: torch.nn.Module, *, onnx_path: str, device: torch.device, epochs: int,
             parent_weights: dict | None = None, seed: int = 0, n_train: int = 768, n_val: int = 256,
             batch_size: int = 64) -> dict[str, float]:
    """Train ``model`` (in place) for ``epochs`` on blob regression and return its validation metrics."""
    x_tr, y_tr = (torch.as_tensor(a, device=device) for a in blob_data(n_train, seed=1))
    x_va, y_va = (torch.as_tensor(a, device=device) for a in blob_data(n_val, seed=2))
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(epochs):
        perm = torch.randperm(n_train, generator=gen).to(device)
        for i in range(0, n_train - 1, batch_size):
            idx = perm[i:i + batch_size]
            if len(idx) < 2:
                continue
            loss = F.mse_loss(model(x_tr[idx]), y_tr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        pred = model(x_va)
    mse = float(((pred - y_va) ** 2).mean())
    var = float(((y_va - y_va.mean(0)) ** 2).mean())
    return {"r2": 1.0 - mse / var, "rmse": mse ** 0.5, "onnx_kb": os.path.getsize(onnx_path) / 1024.0}
