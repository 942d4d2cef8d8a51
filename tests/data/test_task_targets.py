"""The task reaches the data sources: ``npz`` checks and splits regression targets of any shape and
multi-label 0/1 targets (seeded, unstratified), with the right metadata; the other tasks' bad targets
are one line; ``imagefolder`` stays classification-only."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.model_selection import train_test_split

from alphanas.data import dataset_from_arrays, load_dataset
from alphanas.data.checks import check_splits
from alphanas.errors import AlphanasError


def _x(n: int = 100, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, 3, 4)).astype(np.float32)  # sequences [N, T, F]


def test_regression_targets_of_any_shape_split_at_random_by_seed(tmp_path):
    x = _x()
    y = np.arange(100 * 2 * 3, dtype=np.float64).reshape(100, 2, 3)  # sample i's targets start at 6 i
    np.savez(tmp_path / "r.npz", x_train=x, y_train=y)
    ds = load_dataset("npz", root=tmp_path / "r.npz", seed=3, task="regression")
    assert ds.task == "regression" and ds.num_classes == 0 and ds.class_names == []
    assert ds.target_shape == (2, 3) and ds.y_train.dtype == np.float32
    assert "regression targets 2x3" in ds.summary()
    # the split is the documented seeded random one (no classes to stratify by): test first, then validation
    rest, te = (np.sort(a) for a in train_test_split(np.arange(100), test_size=0.15, random_state=3))
    tr, va = (rest[np.sort(a)] for a in train_test_split(np.arange(len(rest)), test_size=0.15 / 0.85, random_state=4))
    for split, idx in (("train", tr), ("val", va), ("test", te)):
        assert (ds.split(split)[1][:, 0, 0] / 6).astype(int).tolist() == idx.tolist()
    again = load_dataset("npz", root=tmp_path / "r.npz", seed=3, task="regression")
    assert np.array_equal(again.y_val, ds.y_val)
    other = load_dataset("npz", root=tmp_path / "r.npz", seed=4, task="regression")
    assert not np.array_equal(other.y_val, ds.y_val)


def test_scalar_regression_targets_and_explicit_splits():
    x = _x(50)
    ds = dataset_from_arrays("mine", {"train": (x[:40], np.linspace(0, 1, 40)), "val": (x[40:], np.zeros(10))},
                             task="regression", seed=0)
    assert ds.target_shape == (1,) and len(ds.y_val) == 10 and len(ds.y_train) + len(ds.y_test) == 40


def test_multilabel_targets_count_labels():
    x = _x(80)
    y = (np.random.default_rng(1).random((80, 4)) < 0.4)  # booleans are 0/1 too
    ds = dataset_from_arrays("ml", {"train": (x, y)}, task="multilabel", seed=0)
    assert ds.num_classes == 4 and ds.target_shape == (4,) and ds.class_names == ["0", "1", "2", "3"]
    assert ds.y_train.dtype == np.float32 and set(np.unique(ds.y_train)) <= {0.0, 1.0}
    assert len(ds.y_train) + len(ds.y_val) + len(ds.y_test) == 80
    assert "4 labels" in ds.summary()


@pytest.mark.parametrize("task, y, match", [
    ("regression", np.array([[1.0], [np.nan], [2.0]]), "y_train[1] holds NaN values (1 value(s) of this split do)"),
    ("regression", np.array([1.0, 2.0, -np.inf]), "y_train[2] holds infinite values"),
    ("regression", np.array(["a", "b", "c"]), "y_train has dtype <U1; regression targets must be numbers"),
    ("multilabel", np.array([[0, 1], [1, 2], [0, 0]]), "y_train[1] holds 2; multilabel targets must be 0 or 1"),
    ("multilabel", np.array([0, 1, 1]), "multilabel targets must be 0/1 per label, shape [N, labels]"),
    ("classification", np.zeros((3, 2)), "labels must be one integer class per sample, shape [N] (for other targets "
                                         "pass task multilabel or regression)"),
])
def test_bad_targets_for_the_task(task, y, match):
    x = np.zeros((3, 2), np.float32)
    with pytest.raises(AlphanasError, match=None) as e:
        check_splits("npz", {"train": (x, y)}, task=task)
    assert match in str(e.value) and "\n" not in str(e.value)


def test_target_shapes_must_agree_across_splits():
    x = np.zeros((4, 2), np.float32)
    with pytest.raises(AlphanasError, match=r"y_val targets have shape \[3\] but y_train targets have \[2\]"):
        check_splits("npz", {"train": (x, np.zeros((4, 2))), "val": (x, np.zeros((4, 3)))}, task="regression")


def test_tasks_other_sources(tmp_path):
    with pytest.raises(AlphanasError, match="dataset 'imagefolder' holds one folder per class, for classification only"):
        load_dataset("imagefolder", root=tmp_path, task="multilabel")
    with pytest.raises(AlphanasError, match="unknown task 'segmentation'"):
        load_dataset("npz", root=tmp_path, task="segmentation")
    # sources of class labels load as before; the trainer checks the labels against the task
    ds = load_dataset("digits", task="regression")
    assert ds.task == "classification" and ds.y_train.dtype == np.int64
