"""Bring your own data through the CLI: digits written as an image folder (32x32 PNGs, one corrupt file)
and as ``.npz`` arrays train and search to the same accuracies as the in-memory digits path; every
bad-data case exits 2 with one line and writes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from alphanas import zoo
from alphanas.cli import main
from alphanas.ir import save_onnx
from alphanas.search.store import Store
from tests.data.byod import digits_arrays, write_digits_folder

TRAIN = ["train", "--epochs", "1", "--device", "cpu", "--json"]
SEARCH = ["search", "--trials", "5", "--epochs", "1", "--strategy", "random_edit", "--device", "cpu",
          "--json"]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> dict[str, list[str]]:
    """``--dataset`` arguments of the same digits: in memory, npz (digits order), image folder, npz (folder order)."""
    root = tmp_path_factory.mktemp("byod")
    write_digits_folder(root / "img")
    np.savez(root / "digits.npz", **digits_arrays())
    np.savez(root / "folder.npz", **digits_arrays(order="folder"))
    return {"digits": ["--dataset", "digits"],
            "npz": ["--dataset", "npz", "--data-dir", str(root / "digits.npz")],
            "imagefolder": ["--dataset", "imagefolder", "--data-dir", str(root / "img"), "--image-size", "8",
                            "--skip-corrupt"],
            "npz-folder-order": ["--dataset", "npz", "--data-dir", str(root / "folder.npz")]}


def _run(capsys, argv) -> tuple[int, dict | None, str]:
    try:
        rc = main(argv)
    except SystemExit as e:  # argparse
        rc = int(e.code)
    cap = capsys.readouterr()
    return rc, (json.loads(cap.out) if rc == 0 and "--json" in argv else None), cap.err


def test_train_on_image_folder_and_npz_matches_in_memory_digits(data, tmp_path, capsys):
    reps, errs = {}, {}
    for name, args in data.items():
        out = tmp_path / f"{name}.onnx"
        rc, rep, err = _run(capsys, [*TRAIN, "--zoo", "cnn", *args, "-o", str(out)])
        assert rc == 0, err
        reps[name], errs[name] = rep, err
        assert out.is_file() and (tmp_path / f"{name}.classes.txt").read_text().split() == [str(i) for i in range(10)]
    assert "skipped 1 corrupt image(s)" in errs["imagefolder"] and "skipped" not in errs["npz"]
    # npz in the digits' order is the digits path exactly (same split, same seed)
    assert (reps["npz"]["val_acc"], reps["npz"]["test_acc"]) == (reps["digits"]["val_acc"], reps["digits"]["test_acc"])
    # the image folder (32x32 PNGs shrunk back to 8x8) is the same split; its files come class by class, so its
    # in-memory twin is the same arrays in that order: equal accuracies (up to the x15 pixel scale's rounding)
    assert reps["imagefolder"]["skipped"][0].endswith("9999.png") and len(reps["imagefolder"]["skipped"]) == 1
    for key in ("val_acc", "test_acc"):
        assert reps["imagefolder"][key] == pytest.approx(reps["npz-folder-order"][key], abs=1 / 270 + 1e-9)
    assert reps["digits"]["test_acc"] > 0.3 and reps["imagefolder"]["test_acc"] > 0.3  # chance: 0.1


def _accuracies(out: Path) -> list[tuple]:
    with Store(out, create=False) as st:
        return [(c.mutation, c.metrics.get("val_acc"), c.metrics.get("test_acc")) for c in st.candidates()]


@pytest.mark.slow
@pytest.mark.parametrize("source, reference", [("npz", "digits"), ("imagefolder", "npz-folder-order")])
def test_five_trial_search_on_own_data_matches_in_memory_digits(data, tmp_path, capsys, source, reference):
    got = {}
    for name in (source, reference):
        rc, _, err = _run(capsys, [*SEARCH, "--zoo", "cnn", *data[name], "--out", str(tmp_path / name)])
        assert rc == 0, err
        got[name] = _accuracies(tmp_path / name)
        assert len(got[name]) == 5
    assert (tmp_path / source / "classes.txt").read_text().split() == [str(i) for i in range(10)]
    if source == "imagefolder":  # --skip-corrupt counts and lists what it skipped
        assert (tmp_path / source / "skipped.txt").read_text().strip().endswith("9999.png")
    for a, b in zip(got[source], got[reference]):
        assert a[0] == b[0]  # the same mutations
        if source == "npz":
            assert a == b
        else:
            assert a[1] == pytest.approx(b[1], abs=1 / 270 + 1e-9) and a[2] == pytest.approx(b[2], abs=1 / 270 + 1e-9)


# ---------------------------------------------------------------------------------------------------
# bad data: exit 2, one line, nothing written
# ---------------------------------------------------------------------------------------------------


def _refused(capsys, tmp_path, argv, match: str, command: str = "train") -> None:
    out = tmp_path / "out"
    target = ["-o", str(out / "m.onnx")] if command == "train" else ["--out", str(out)]
    before = sorted(p.name for p in tmp_path.iterdir())
    base = TRAIN if command == "train" else SEARCH
    if not argv or not argv[0].endswith(".onnx"):
        base = [*base, "--zoo", "cnn"]
    rc, _, err = _run(capsys, [*base, *argv, *target])
    assert rc == 2, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert match in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written


@pytest.fixture
def bad(tmp_path) -> Path:
    d = tmp_path / "data"
    d.mkdir()
    return d


def test_cli_corrupt_image(data, tmp_path, capsys):
    args = [a for a in data["imagefolder"] if a != "--skip-corrupt"]
    _refused(capsys, tmp_path, args, "9999.png is not a readable image")
    _refused(capsys, tmp_path, args, "9999.png is not a readable image", command="search")


def test_cli_empty_class_folder(bad, tmp_path, capsys):
    from PIL import Image

    for c in ("a", "b"):
        (bad / c).mkdir()
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(bad / "a" / "0.png")
    _refused(capsys, tmp_path, ["--dataset", "imagefolder", "--data-dir", str(bad)], "class folder")


def _npz(bad: Path, **arrays) -> list[str]:
    np.savez(bad / "d.npz", **arrays)
    return ["--dataset", "npz", "--data-dir", str(bad / "d.npz")]


def test_cli_labels_out_of_range(bad, tmp_path, capsys):
    x = np.zeros((60, 1, 8, 8), np.float32)
    _refused(capsys, tmp_path, _npz(bad, x_train=x, y_train=np.arange(60) % 4, x_test=x[:5],
                                    y_test=np.array([0, 1, 2, 3, -2])), "y_test holds label -2")


def test_cli_shapes_disagree(bad, tmp_path, capsys):
    x = np.zeros((60, 1, 8, 8), np.float32)
    _refused(capsys, tmp_path, _npz(bad, x_train=x, y_train=np.arange(60) % 4, x_val=np.zeros((6, 1, 8, 7)),
                                    y_val=np.arange(6) % 4), "x_val samples have shape [1, 8, 7]")


def test_cli_nan(bad, tmp_path, capsys):
    x = np.zeros((60, 1, 8, 8), np.float32)
    x[3, 0, 2, 2] = np.nan
    _refused(capsys, tmp_path, _npz(bad, x_train=x, y_train=np.arange(60) % 4), "x_train[3] holds NaN values")


def test_cli_model_input_does_not_fit(data, bad, tmp_path, capsys):
    model = bad / "rgb32.onnx"
    save_onnx(zoo.build("cnn", input_size=32, in_channels=1, num_classes=10), model)
    folder = data["imagefolder"][:4] + ["--skip-corrupt"]  # the 32x32 folder, not resized
    _refused(capsys, tmp_path, [str(model), *data["imagefolder"]],
             "dimension 2 (height) is 32 in the model and 8 in the data; pass --image-size 32")
    save_onnx(zoo.build("cnn", input_size=32, in_channels=3, num_classes=10), model)
    _refused(capsys, tmp_path, [str(model), *folder],
             "dimension 1 (channels) is 3 in the model and 1 in the data; pass --channels 3")


def test_cli_model_output_does_not_fit(data, bad, tmp_path, capsys):
    model = bad / "four.onnx"
    save_onnx(zoo.build("cnn", input_size=8, in_channels=1, num_classes=4), model)
    _refused(capsys, tmp_path, [str(model), *data["npz"]], "dimension 1 is 4 in the model and 10 in the data")


def test_cli_option_of_another_source(data, tmp_path, capsys):
    _refused(capsys, tmp_path, [*data["npz"], "--image-size", "8"], "unknown option(s) --image-size")


def test_cli_trains_on_the_dataset_plugin_example(data, tmp_path, capsys, monkeypatch):
    import sys

    from sklearn.datasets import load_digits as sk_digits

    from tests.plugin_util import fake_distribution

    example = Path(__file__).resolve().parents[2] / "examples" / "alphanas-dataset-example"
    site = tmp_path / "site"
    site.mkdir()
    fake_distribution(site, "alphanas-dataset-example",
                      "[alphanas.datasets]\ncsv-images = alphanas_dataset_example:load_csv_images\n")
    monkeypatch.syspath_prepend(str(example))
    monkeypatch.syspath_prepend(str(site))
    d = sk_digits()
    (tmp_path / "csv").mkdir()
    np.savetxt(tmp_path / "csv" / "train.csv", np.column_stack([d.target, d.images.reshape(len(d.target), -1)]),
               fmt="%d", delimiter=",")
    reps = {}
    for name, args in (("csv", ["--dataset", "csv-images", "--data-dir", str(tmp_path / "csv")]),
                       ("digits", data["digits"])):
        rc, reps[name], err = _run(capsys, [*TRAIN, "--zoo", "cnn", *args, "-o", str(tmp_path / f"{name}.onnx")])
        assert rc == 0, err
    assert reps["csv"]["test_acc"] == reps["digits"]["test_acc"]  # the same rows, split as digits
    sys.modules.pop("alphanas_dataset_example", None)
