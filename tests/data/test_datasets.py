"""Datasets: digits split/normalisation, the CIFAR-10 python-format reader (on generated pickles), synthetic data."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn.datasets import load_digits as sk_digits
from sklearn.linear_model import LogisticRegression

from alphanas.data import CIFAR10_ENV, load_dataset
from alphanas.errors import AlphanasError


def _raw(x: np.ndarray, ds) -> np.ndarray:
    return x * ds.std.reshape(1, -1, 1, 1) + ds.mean.reshape(1, -1, 1, 1)


# ---------------------------------------------------------------------------------------------------
# digits
# ---------------------------------------------------------------------------------------------------


def test_digits_split_is_stratified_disjoint_and_complete():
    ds = load_dataset("digits", seed=0)
    d = sk_digits()
    assert ds.input_shape == (1, 8, 8) and ds.num_classes == 10
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int64
    sizes = (len(ds.y_train), len(ds.y_val), len(ds.y_test))
    assert sum(sizes) == len(d.target) == 1797
    assert sizes == (1257, 270, 270)  # 70 / 15 / 15
    for y in (ds.y_val, ds.y_test):  # stratified: each class within one sample of its share
        expected = np.bincount(d.target) * len(y) / len(d.target)
        assert np.all(np.abs(np.bincount(y, minlength=10) - expected) <= 1.0)
    # de-normalised images are the original integer pixels, and the three splits partition the set
    raw = {s: np.rint(_raw(getattr(ds, f"x_{s}"), ds)).astype(int) for s in ("train", "val", "test")}
    for s, r in raw.items():
        assert np.allclose(_raw(getattr(ds, f"x_{s}"), ds), r, atol=1e-4)
    got = sorted((tuple(img.ravel()), int(lab)) for s in raw for img, lab in zip(raw[s], getattr(ds, f"y_{s}")))
    want = sorted((tuple(img.astype(int).ravel()), int(lab)) for img, lab in zip(d.images, d.target))
    assert got == want


def test_digits_normalised_with_training_statistics():
    ds = load_dataset("digits", seed=3)
    raw_train = _raw(ds.x_train, ds)
    assert ds.mean[0] == pytest.approx(raw_train.mean(), abs=1e-4)
    assert ds.std[0] == pytest.approx(raw_train.std(), rel=1e-4)
    assert abs(float(ds.x_train.mean())) < 1e-4 and float(ds.x_train.std()) == pytest.approx(1.0, abs=1e-4)
    assert abs(float(ds.x_test.mean())) > 1e-4  # test data is not normalised with its own statistics


def test_digits_split_depends_on_seed_only():
    a, b, c = load_dataset("digits", seed=1), load_dataset("digits", seed=1), load_dataset("digits", seed=2)
    assert np.array_equal(a.x_test, b.x_test) and np.array_equal(a.y_train, b.y_train)
    assert not np.array_equal(a.y_test, c.y_test) or not np.array_equal(a.x_test, c.x_test)


# ---------------------------------------------------------------------------------------------------
# CIFAR-10 reader
# ---------------------------------------------------------------------------------------------------

NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def _image(uid: int, rng) -> np.ndarray:
    """A CIFAR row (R plane, G plane, B plane, each row-major 32x32) with the id in R[0, 0]."""
    img = rng.integers(0, 256, size=(3, 32, 32), dtype=np.uint8)
    img[0, 0, 0] = uid
    return img


def _write_cifar(folder, per_batch: int = 20, n_test: int = 20, seed: int = 0):
    """A miniature CIFAR-10 python folder, pickled the way the original (Python 2 cPickle) files are."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    images, labels = [], []
    uid = 0
    for b in range(1, 6):
        imgs = np.stack([_image(uid + i, rng) for i in range(per_batch)])
        labs = [int(x) for x in np.arange(uid, uid + per_batch) % 10]
        uid += per_batch
        images.append(imgs)
        labels += labs
        d = {b"batch_label": f"training batch {b} of 5".encode(), b"labels": labs,
             b"data": imgs.reshape(per_batch, 3072), b"filenames": [f"img{i}.png".encode() for i in range(per_batch)]}
        with open(folder / f"data_batch_{b}", "wb") as f:
            pickle.dump(d, f, protocol=2)
    test_imgs = np.stack([_image(200 + i, rng) for i in range(n_test)])
    test_labels = [int(x) for x in (np.arange(n_test) * 7 + 3) % 10]  # an order unlike the training batches
    with open(folder / "test_batch", "wb") as f:
        pickle.dump({b"batch_label": b"testing batch 1 of 1", b"labels": test_labels,
                     b"data": test_imgs.reshape(n_test, 3072), b"filenames": []}, f, protocol=2)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({b"label_names": [n.encode() for n in NAMES], b"num_cases_per_batch": per_batch,
                     b"num_vis": 3072}, f, protocol=2)
    return np.concatenate(images), np.array(labels), test_imgs, np.array(test_labels)


def test_cifar10_reader_shapes_order_and_normalisation(tmp_path):
    train_imgs, train_labels, test_imgs, test_labels = _write_cifar(tmp_path / "cifar-10-batches-py")
    ds = load_dataset("cifar10", root=tmp_path, seed=0, val_size=20)  # parent folder of cifar-10-batches-py
    assert ds.class_names == NAMES and ds.num_classes == 10 and ds.default_augment == "flip_crop"
    assert ds.x_train.shape == (80, 3, 32, 32) and ds.x_val.shape == (20, 3, 32, 32)
    assert ds.x_test.shape == (20, 3, 32, 32) and ds.x_train.dtype == np.float32
    # test split keeps the file's order and pixel layout (channel planes, row-major)
    assert np.array_equal(ds.y_test, test_labels)
    assert np.allclose(_raw(ds.x_test, ds), test_imgs, atol=1e-3)
    # train + validation are exactly the 100 training images, each with its own label
    raw = np.rint(_raw(np.concatenate([ds.x_train, ds.x_val]), ds)).astype(np.int64)
    uids = raw[:, 0, 0, 0]
    assert sorted(uids) == list(range(100))
    assert np.array_equal(np.concatenate([ds.y_train, ds.y_val]), train_labels[uids])
    assert np.array_equal(raw, train_imgs[uids].astype(np.int64))
    assert np.array_equal(np.bincount(ds.y_val, minlength=10), np.full(10, 2))  # stratified
    # per-channel statistics of the training split only
    tr = train_imgs[np.rint(_raw(ds.x_train, ds))[:, 0, 0, 0].astype(int)].astype(np.float64)
    assert np.allclose(ds.mean, tr.mean(axis=(0, 2, 3)), rtol=1e-5)
    assert np.allclose(ds.std, tr.std(axis=(0, 2, 3)), rtol=1e-5)


def test_cifar10_root_from_environment_and_train_limit(tmp_path, monkeypatch):
    _write_cifar(tmp_path / "c10")
    monkeypatch.setenv(CIFAR10_ENV, str(tmp_path / "c10"))
    ds = load_dataset("cifar10", val_size=10, train_limit=30)
    assert len(ds.y_train) == 30 and len(ds.y_val) == 10 and len(ds.y_test) == 20


def test_cifar10_missing_folder_and_files_are_user_errors(tmp_path, monkeypatch):
    monkeypatch.delenv(CIFAR10_ENV, raising=False)
    with pytest.raises(AlphanasError, match="root=DIR"):
        load_dataset("cifar10")
    with pytest.raises(AlphanasError, match="does not exist.*data_batch_1"):
        load_dataset("cifar10", root=tmp_path / "nowhere")
    (tmp_path / "partial").mkdir()
    (tmp_path / "partial" / "data_batch_1").write_bytes(b"x")
    with pytest.raises(AlphanasError, match="lacks data_batch_2, .*test_batch, batches.meta"):
        load_dataset("cifar10", root=tmp_path / "partial")


def test_cifar10_corrupt_batch_is_user_error(tmp_path):
    _write_cifar(tmp_path)
    (tmp_path / "data_batch_3").write_bytes(b"not a pickle")
    with pytest.raises(AlphanasError, match="data_batch_3"):
        load_dataset("cifar10", root=tmp_path, val_size=10)


# ---------------------------------------------------------------------------------------------------
# synthetic, unknown names
# ---------------------------------------------------------------------------------------------------


def test_synthetic_is_seeded_and_learnable():
    a = load_dataset("synthetic", seed=5, num_classes=3, input_shape=(2, 6, 6), n_train=300, n_val=90, n_test=90)
    b = load_dataset("synthetic", seed=5, num_classes=3, input_shape=(2, 6, 6), n_train=300, n_val=90, n_test=90)
    c = load_dataset("synthetic", seed=6, num_classes=3, input_shape=(2, 6, 6), n_train=300, n_val=90, n_test=90)
    assert a.x_train.shape == (300, 2, 6, 6) and a.num_classes == 3 and a.input_shape == (2, 6, 6)
    assert np.array_equal(a.x_train, b.x_train) and not np.array_equal(a.x_train, c.x_train)
    assert np.array_equal(np.bincount(a.y_train), [100, 100, 100])
    # a linear classifier beats chance (1/3) by far: the classes carry signal
    clf = LogisticRegression(max_iter=2000).fit(a.x_train.reshape(300, -1), a.y_train)
    acc = clf.score(a.x_val.reshape(90, -1), a.y_val)
    assert 0.6 < acc


def test_unknown_dataset_and_options():
    with pytest.raises(AlphanasError, match="unknown dataset 'imagenet'; available: cifar10, cifar100, digits, "
                                            "fashion-mnist, imagefolder, mnist, npz, synthetic"):
        load_dataset("imagenet")
    with pytest.raises(AlphanasError, match="unknown option"):
        load_dataset("digits", colour=True)
    with pytest.raises(AlphanasError, match="reads no folder"):
        load_dataset("digits", root="/tmp")
    with pytest.raises(AlphanasError, match="fraction"):
        load_dataset("digits", val_fraction=1.5)
