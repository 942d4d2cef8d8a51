"""Data sources on files written here: image folders (PNG/JPEG/BMP/WebP), npz/npy arrays, MNIST IDX,
CIFAR-100 pickles, the ``alphanas.datasets`` plug-in group (the example package), and every bad-data case."""

from __future__ import annotations

import gzip
import pickle
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_digits as sk_digits

from alphanas.data import ImageFolder, load_dataset, names, read_idx
from alphanas.errors import AlphanasError
from tests.data.byod import SCALE, class_major, digits_arrays, digits_split, write_digits_folder
from tests.plugin_util import fake_distribution

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "alphanas-dataset-example"


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return write_digits_folder(tmp_path_factory.mktemp("img") / "digits")


def _raw(ds, split: str) -> np.ndarray:
    x = getattr(ds, f"x_{split}")
    shape = [1, -1] + [1] * (x.ndim - 2)
    return x * ds.std.reshape(shape) + ds.mean.reshape(shape)


# ---------------------------------------------------------------------------------------------------
# imagefolder
# ---------------------------------------------------------------------------------------------------


def test_imagefolder_is_the_digits_split_resized_back_with_corrupt_file_listed(folder):
    ds = load_dataset("imagefolder", root=folder, image_size=8, skip_corrupt=True)
    assert ds.skipped == [str(folder / "train" / "3" / "9999.png")]
    assert ds.class_names == [str(i) for i in range(10)] and ds.num_classes == 10 and ds.input_shape == (1, 8, 8)
    d = sk_digits()
    for split, idx in digits_split(0).items():
        idx = class_major(idx)  # folder order: class, then file name
        assert np.array_equal(getattr(ds, f"y_{split}"), d.target[idx])
        # the box filter undoes the 4x4 blocks exactly: the pixels are the digits' values times SCALE
        assert np.allclose(_raw(ds, split), d.images[idx][:, None] * SCALE, atol=1e-3)
    full = load_dataset("imagefolder", root=folder, skip_corrupt=True, channels=3)
    assert full.input_shape == (3, 32, 32)
    raw = _raw(full, "test")
    assert np.allclose(raw[:, 0], raw[:, 1]) and np.allclose(raw[:, 0], raw[:, 2])  # grey as RGB
    # lazy access decodes one image at a time, the same pixels
    lazy = ImageFolder.scan(folder, image_size=8)
    img, label = lazy[0]
    assert img.dtype == np.uint8 and img.shape == (1, 8, 8) and label == 0 and len(lazy) == 1798


def test_imagefolder_without_split_folders_splits_stratified_by_seed(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    fmts = {"a": ".png", "b": ".jpg", "c": ".bmp", "d": ".webp"}
    for k, (cls, ext) in enumerate(fmts.items()):
        (tmp_path / cls).mkdir()
        for i in range(20):
            img = np.full((6, 10, 3), 40 * k, np.uint8) + rng.integers(0, 10, (6, 10, 3), dtype=np.uint8)
            Image.fromarray(img).save(tmp_path / cls / f"{i}{ext}", **({"quality": 95} if ext == ".jpg" else {}))
    a = load_dataset("imagefolder", root=tmp_path, seed=1)
    b = load_dataset("imagefolder", root=tmp_path, seed=2)
    assert a.input_shape == (3, 6, 10) and a.class_names == ["a", "b", "c", "d"]
    assert (len(a.y_train), len(a.y_val), len(a.y_test)) == (56, 12, 12)
    assert np.array_equal(np.bincount(a.y_test), [3, 3, 3, 3])  # stratified
    assert not np.array_equal(a.x_test, b.x_test)
    # every format decodes to its class's level (JPEG within its loss)
    for k in range(4):
        assert np.allclose(_raw(a, "train")[a.y_train == k].mean(), 40 * k + 4.5, atol=2.0)
    grey = load_dataset("imagefolder", root=tmp_path, seed=1, channels=1, image_size=4)
    assert grey.input_shape == (1, 4, 4)


# ---------------------------------------------------------------------------------------------------
# npz / npy
# ---------------------------------------------------------------------------------------------------


def test_npz_in_digits_order_is_exactly_the_digits_dataset(tmp_path):
    np.savez(tmp_path / "d.npz", **digits_arrays())
    for seed in (0, 3):
        a, b = load_dataset("npz", root=tmp_path / "d.npz", seed=seed), load_dataset("digits", seed=seed)
        for s in ("train", "val", "test"):
            assert np.array_equal(getattr(a, f"x_{s}"), getattr(b, f"x_{s}"))
            assert np.array_equal(getattr(a, f"y_{s}"), getattr(b, f"y_{s}"))


def test_npy_folder_explicit_splits_and_any_rank(tmp_path):
    arrays = digits_arrays(order="folder")
    for k, v in arrays.items():
        np.save(tmp_path / f"{k}.npy", v)
    ds = load_dataset("npz", root=tmp_path)
    assert np.array_equal(ds.y_val, arrays["y_val"]) and np.allclose(_raw(ds, "test"), arrays["x_test"], atol=1e-4)
    # tabular features [N, F]: normalised per feature; only x_val given: the test split is cut from train
    rng = np.random.default_rng(0)
    x, y = rng.normal(5, 2, (200, 7)), np.arange(200) % 4
    np.savez(tmp_path / "t.npz", x_train=x, y_train=y, x_val=x[:40], y_val=y[:40])
    t = load_dataset("npz", root=tmp_path / "t.npz", seed=0, test_fraction=0.25)
    assert t.input_shape == (7,) and t.mean.shape == (7,) and (len(t.y_train), len(t.y_test)) == (150, 50)
    assert np.allclose(t.x_train.mean(axis=0), 0, atol=1e-5)
    # sequences [N, C, T]
    np.savez(tmp_path / "s.npz", x_train=rng.normal(size=(60, 2, 16)), y_train=np.arange(60) % 3)
    assert load_dataset("npz", root=tmp_path / "s.npz").input_shape == (2, 16)


# ---------------------------------------------------------------------------------------------------
# MNIST / Fashion-MNIST IDX, CIFAR-100
# ---------------------------------------------------------------------------------------------------


def _idx(array: np.ndarray) -> bytes:
    head = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return head + array.astype(np.uint8).tobytes()


@pytest.mark.parametrize("name, gz", [("mnist", True), ("fashion-mnist", False)])
def test_mnist_idx_folders(tmp_path, name, gz):
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 256, (100, 28, 28)), np.arange(100) % 10
    xt, yt = rng.integers(0, 256, (30, 28, 28)), np.arange(30) % 10
    for stem, a in (("train-images-idx3-ubyte", x), ("train-labels-idx1-ubyte", y),
                    ("t10k-images-idx3-ubyte", xt), ("t10k-labels-idx1-ubyte", yt)):
        data = _idx(a)
        (tmp_path / (stem + (".gz" if gz else ""))).write_bytes(gzip.compress(data) if gz else data)
    assert np.array_equal(read_idx(next(tmp_path.glob("t10k-images*"))), xt)
    ds = load_dataset(name, root=tmp_path, val_size=20)
    assert ds.input_shape == (1, 28, 28) and (len(ds.y_train), len(ds.y_val), len(ds.y_test)) == (80, 20, 30)
    assert np.array_equal(ds.y_test, yt) and np.allclose(_raw(ds, "test")[:, 0], xt, atol=1e-3)
    assert ds.class_names[9] == ("Ankle boot" if name == "fashion-mnist" else "9")
    (tmp_path / next(tmp_path.glob("t10k-labels*")).name).write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x1e" + b"\x01")
    with pytest.raises(AlphanasError, match="truncated or corrupt"):
        load_dataset(name, root=tmp_path, val_size=20)


def test_cifar100_python_folder(tmp_path):
    rng = np.random.default_rng(0)
    root = tmp_path / "cifar-100-python"
    root.mkdir()
    fine = [f"c{i}" for i in range(100)]
    for split, n in (("train", 400), ("test", 100)):
        d = {b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8), b"fine_labels": list(np.arange(n) % 100),
             b"coarse_labels": list(np.arange(n) % 20)}
        (root / split).write_bytes(pickle.dumps(d, protocol=2))
    (root / "meta").write_bytes(pickle.dumps({b"fine_label_names": [n.encode() for n in fine],
                                              b"coarse_label_names": [f"s{i}".encode() for i in range(20)]}))
    ds = load_dataset("cifar100", root=tmp_path, val_size=100)
    assert ds.num_classes == 100 and ds.class_names == fine and ds.input_shape == (3, 32, 32)
    assert (len(ds.y_train), len(ds.y_val), len(ds.y_test)) == (300, 100, 100) and ds.default_augment == "flip_crop"
    assert load_dataset("cifar100", root=tmp_path, val_size=100, labels="coarse").num_classes == 20


# ---------------------------------------------------------------------------------------------------
# plug-ins: the example package through the alphanas.datasets entry-point group
# ---------------------------------------------------------------------------------------------------


def test_dataset_plugin_example_through_entry_point(tmp_path, monkeypatch):
    site = tmp_path / "site"
    site.mkdir()
    fake_distribution(site, "alphanas-dataset-example",
                      "[alphanas.datasets]\ncsv-images = alphanas_dataset_example:load_csv_images\n")
    monkeypatch.syspath_prepend(str(EXAMPLE))
    monkeypatch.syspath_prepend(str(site))
    assert "csv-images" in names()
    d = sk_digits()
    rows = np.column_stack([d.target, d.images.reshape(len(d.target), -1)])
    (tmp_path / "csv").mkdir()
    np.savetxt(tmp_path / "csv" / "train.csv", rows, fmt="%d", delimiter=",")
    ds = load_dataset("csv-images", root=tmp_path / "csv", seed=0)
    want = load_dataset("digits", seed=0)  # same rows, same split procedure
    assert ds.name == "csv-images" and np.array_equal(ds.x_test, want.x_test) and np.array_equal(ds.y_train, want.y_train)
    sys.modules.pop("alphanas_dataset_example", None)


# ---------------------------------------------------------------------------------------------------
# bad data: one clear error each
# ---------------------------------------------------------------------------------------------------


def test_bad_corrupt_image(folder):
    with pytest.raises(AlphanasError, match=r"9999.png is not a readable image .*pass skip_corrupt"):
        load_dataset("imagefolder", root=folder, image_size=8)


def test_bad_every_image_corrupt(tmp_path):
    for c in ("a", "b"):
        (tmp_path / c).mkdir()
        (tmp_path / c / "x.png").write_bytes(b"junk")
    with pytest.raises(AlphanasError, match=r"no image under .* is readable \(the first, .*x.png: "):
        load_dataset("imagefolder", root=tmp_path, skip_corrupt=True)


def test_bad_empty_class_folder(tmp_path):
    from PIL import Image

    for c in ("cat", "dog"):
        (tmp_path / c).mkdir()
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(tmp_path / "cat" / "a.png")
    with pytest.raises(AlphanasError, match=r"class folder .*dog is empty"):
        load_dataset("imagefolder", root=tmp_path)


def test_bad_image_sizes_differ_without_image_size(tmp_path):
    from PIL import Image

    for c, side in (("a", 4), ("b", 5)):
        (tmp_path / c).mkdir()
        for i in range(3):
            Image.fromarray(np.zeros((side, side), np.uint8)).save(tmp_path / c / f"{i}.png")
    with pytest.raises(AlphanasError, match=r"is 5x5 but the first image is 4x4; pass image_size N"):
        load_dataset("imagefolder", root=tmp_path)


def _npz(tmp_path, **arrays) -> Path:
    np.savez(tmp_path / "bad.npz", **arrays)
    return tmp_path / "bad.npz"


def test_bad_labels_out_of_range(tmp_path):
    x, y = np.zeros((40, 3), np.float32), np.arange(40) % 4
    with pytest.raises(AlphanasError, match=r"y_val holds label 7 but there are 4 classes; labels must lie in 0..3"):
        load_dataset("npz", root=_npz(tmp_path, x_train=x, y_train=y, x_val=x[:4], y_val=np.array([0, 1, 2, 7])),
                     num_classes=4)
    with pytest.raises(AlphanasError, match=r"y_train holds label -1"):
        load_dataset("npz", root=_npz(tmp_path, x_train=x, y_train=y - 1))


def test_bad_shapes_disagree(tmp_path):
    x, y = np.zeros((40, 3), np.float32), np.arange(40) % 4
    with pytest.raises(AlphanasError, match=r"x_train has 40 samples but y_train has 39 labels"):
        load_dataset("npz", root=_npz(tmp_path, x_train=x, y_train=y[:39]))
    with pytest.raises(AlphanasError, match=r"x_test samples have shape \[4\] but x_train samples have \[3\]"):
        load_dataset("npz", root=_npz(tmp_path, x_train=x, y_train=y, x_test=np.zeros((8, 4)), y_test=y[:8]))


@pytest.mark.parametrize("value, word", [(np.nan, "NaN"), (np.inf, "infinite")])
def test_bad_nan_or_inf(tmp_path, value, word):
    x, y = np.zeros((40, 3), np.float32), np.arange(40) % 4
    x[17, 1] = value
    with pytest.raises(AlphanasError, match=rf"x_train\[17\] holds {word} values"):
        load_dataset("npz", root=_npz(tmp_path, x_train=x, y_train=y))


def test_bad_npz_files(tmp_path):
    (tmp_path / "junk.npz").write_bytes(b"PK\x03\x04 garbage")
    with pytest.raises(AlphanasError, match="not a readable .npz archive"):
        load_dataset("npz", root=tmp_path / "junk.npz")
    with pytest.raises(AlphanasError, match="has x_val but not y_val"):
        load_dataset("npz", root=_npz(tmp_path, x_train=np.zeros((8, 2)), y_train=np.arange(8) % 2, x_val=np.zeros(2)))
