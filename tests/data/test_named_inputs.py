"""Data for models with several inputs (alphanas.data.inputs): ``x_<split>__<input>`` arrays in an ``.npz``
or a folder of ``.npy`` files; the rows of every input stay paired through the splits; float inputs are
standardised each with its own training statistics, masks kept; bad data is one line naming the array."""

from __future__ import annotations

import numpy as np
import pytest

from alphanas.data import load_dataset, load_npz
from alphanas.errors import AlphanasError


def _arrays(n: int = 40, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = (3.0 + 2.0 * rng.standard_normal((n, 5, 8))).astype(np.float32)
    x[:, 0, 0] = np.arange(n)  # the row's identity, to check the pairing after the split
    mask = rng.random((n, 5)) < 0.5
    mask[:, 0] = np.arange(n) % 2 == 0  # paired with x's row number
    y = np.arange(n, dtype=np.float32)[:, None] * np.ones((1, 3), np.float32)
    return {"x_train__x": x, "x_train__mask": mask, "y_train": y}


def test_named_inputs_load_paired_and_normalised(tmp_path):
    arrays = _arrays()
    np.savez(tmp_path / "d.npz", **arrays)
    ds = load_npz(tmp_path / "d.npz", task="regression", seed=3)
    assert ds.input_names == ("mask", "x") and ds.input_shapes == {"mask": (5,), "x": (5, 8)}
    assert len(ds.y_train) + len(ds.y_val) + len(ds.y_test) == 40
    for split in ("train", "val", "test"):
        x, y = ds.split(split)
        assert set(x) == {"x", "mask"} and x["mask"].dtype == np.bool_ and x["x"].dtype == np.float32
        rows = y[:, 0].astype(int)  # the original row of each sample
        np.testing.assert_array_equal(x["mask"], arrays["x_train__mask"][rows])  # masks kept as they are
        raw = x["x"] * ds.std["x"].reshape(1, -1, 1) + ds.mean["x"].reshape(1, -1, 1)
        np.testing.assert_allclose(raw, arrays["x_train__x"][rows], rtol=1e-5, atol=1e-4)
    # the float input standardised with its own training statistics (per channel: axis 1), as one input is
    single = load_npz(_single(tmp_path, arrays["x_train__x"], arrays["y_train"]), task="regression", seed=3)
    np.testing.assert_array_equal(ds.x_train["x"], single.x_train)
    np.testing.assert_array_equal(ds.mean["x"], single.mean)
    assert "mask 5, x 5x8" in ds.summary()


def _single(tmp_path, x, y):
    path = tmp_path / "single.npz"
    np.savez(path, x_train=x, y_train=y)
    return path


def test_folder_of_npy_files_and_explicit_splits(tmp_path):
    arrays = _arrays()
    for k, v in arrays.items():
        np.save(tmp_path / f"{k}.npy", v[:30])
        np.save(tmp_path / f"{k.replace('train', 'val')}.npy", v[30:])
    ds = load_dataset("npz", root=tmp_path, task="regression")
    assert len(ds.y_val) == 10 and ds.input_names == ("mask", "x")
    np.testing.assert_array_equal(ds.x_val["mask"], arrays["x_train__mask"][30:])


@pytest.mark.parametrize("change,message", [
    (lambda a: a.update(x_train__mask=a["x_train__mask"][:39]),
     "npz: x_train__x has 40 samples but x_train__mask has 39; every input of a split needs the same number of "
     "samples N"),
    (lambda a: a.update(x_val__x=a["x_train__x"][:5], y_val=a["y_train"][:5]),
     "npz: the val split has inputs x_val__x but the train split has x_train__mask, x_train__x; every split needs "
     "the same inputs"),
    (lambda a: a.update(x_train=a["x_train__x"]), "has both x_train and x_train__mask, x_train__x"),
    (lambda a: a.update(y_train=a["y_train"][:39]), "npz: x_train__mask has 40 samples but y_train has 39 labels"),
    (lambda a: a["x_train__x"].__setitem__((3, 1, 1), np.nan), "npz: x_train__x[3] holds NaN values"),
    (lambda a: a.update(x_train__=a["x_train__x"]), "has an array x_train__ with no input name"),
])
def test_bad_named_inputs_are_one_line(tmp_path, change, message):
    arrays = _arrays()
    change(arrays)
    np.savez(tmp_path / "d.npz", **arrays)
    with pytest.raises(AlphanasError) as e:
        load_npz(tmp_path / "d.npz", task="regression")
    text = str(e.value)
    assert message in text and "\n" not in text, text
