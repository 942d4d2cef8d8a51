"""``csv-images``: square grey images stored one per CSV row (``label,p0,p1,...``), as an alphanas data source.

The folder holds ``train.csv`` and optionally ``val.csv`` and ``test.csv``; missing splits are cut
from the training rows (stratified, seeded) by :func:`alphanas.data.dataset_from_arrays`, which also
checks the data (labels, NaN, shapes) and normalises it with the training statistics.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from alphanas.data import Dataset, dataset_from_arrays
from alphanas.errors import AlphanasError


def _read(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        rows = np.loadtxt(path, delimiter=",", dtype=np.float64, ndmin=2)
    except ValueError as e:
        raise AlphanasError(f"csv-images: {path} is not a numeric CSV ({e})") from None
    pixels = rows.shape[1] - 1
    side = math.isqrt(pixels)
    if side * side != pixels or side == 0:
        raise AlphanasError(f"csv-images: {path} rows hold {pixels} pixels, not a square image")
    return rows[:, 1:].reshape(-1, 1, side, side).astype(np.float32), rows[:, 0].astype(np.int64)


def load_csv_images(root: str | None = None, seed: int = 0, val_fraction: float = 0.15,
                    test_fraction: float = 0.15) -> Dataset:
    """The CSV folder ``root`` as an alphanas :class:`~alphanas.data.Dataset` (``seed`` fixes missing splits)."""
    if root is None:
        raise AlphanasError("csv-images: pass --data-dir DIR holding train.csv (and optionally val.csv, test.csv)")
    folder = Path(root)
    if not (folder / "train.csv").is_file():
        raise AlphanasError(f"csv-images: {folder} has no train.csv")
    arrays = {s: _read(folder / f"{s}.csv") for s in ("train", "val", "test") if (folder / f"{s}.csv").is_file()}
    return dataset_from_arrays("csv-images", arrays, seed=seed, val_fraction=val_fraction,
                               test_fraction=test_fraction)
