"""Test data written to disk the way users bring it: scikit-learn's digits as a folder of 32x32 PNGs
(class sub-folders, the digits split as train/val/test folders, one corrupt file) and as arrays."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits as sk_digits

from alphanas.data.splits import three_way_split

SCALE = 15  # pixel value = digit value (0..16) * 15: exact in uint8, shrinks back exactly with a box filter


def digits_split(seed: int = 0) -> dict[str, np.ndarray]:
    """Indices of the ``digits`` split for ``seed`` (what ``load_dataset("digits", seed=seed)`` uses)."""
    y = sk_digits().target
    tr, va, te = three_way_split(y, 0.15, 0.15, seed)
    return {"train": tr, "val": va, "test": te}


def class_major(idx: np.ndarray) -> np.ndarray:
    """``idx`` in the order an image folder lists them: by class, then by file name (the index)."""
    y = sk_digits().target
    return np.array(sorted(idx, key=lambda i: (y[i], i)))


def write_digits_folder(root: Path, seed: int = 0, corrupt: bool = True) -> Path:
    """``root/{train,val,test}/<digit>/<index>.png``: 32x32 grey PNGs (each 8x8 pixel a 4x4 block)."""
    from PIL import Image

    d = sk_digits()
    for split, idx in digits_split(seed).items():
        for i in idx:
            folder = root / split / str(d.target[i])
            folder.mkdir(parents=True, exist_ok=True)
            img = np.kron(d.images[i].astype(np.uint8) * SCALE, np.ones((4, 4), np.uint8))
            Image.fromarray(img, mode="L").save(folder / f"{i:04d}.png")
    if corrupt:
        (root / "train" / "3" / "9999.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"not really a png" * 4)
    return root


def digits_arrays(seed: int = 0, order: str = "digits") -> dict[str, np.ndarray]:
    """The digits as ``.npz`` arrays: ``order="digits"`` one ``x_train``/``y_train`` pair in the original
    order (the loader splits it as ``digits`` does); ``"folder"`` the three splits in image-folder order."""
    d = sk_digits()
    x, y = d.images.astype(np.float32)[:, None], d.target.astype(np.int64)
    if order == "digits":
        return {"x_train": x, "y_train": y}
    out = {}
    for split, idx in digits_split(seed).items():
        idx = class_major(idx)
        out[f"x_{split}"], out[f"y_{split}"] = x[idx], y[idx]
    return out
