"""The bad-input corpus of issue 16: every command given missing, empty, truncated, text and directory
inputs, models with custom-domain ops and symbolic sizes, outputs that exist, are folders or sit where no
file can be created, and nonsense option values. Each case must end with exit status 2 and exactly one
line on stderr (no traceback), write nothing, and leave its inputs as they were.

The inputs are generated here; cases run in-process through ``alphanas.cli.main`` (fast), and the
options are validated before any work, so no case trains or searches.
"""

from __future__ import annotations

import hashlib
import os

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from alphanas.cli import main

FOLDER_TOKEN = "{d}"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """The generated inputs, in one folder."""
    from alphanas import zoo
    from alphanas.ir import save_onnx

    d = tmp_path_factory.mktemp("corpus")
    save_onnx(zoo.build("cnn", input_size=8, in_channels=1, num_classes=10), d / "good.onnx")
    good = (d / "good.onnx").read_bytes()
    (d / "empty.onnx").write_bytes(b"")
    (d / "truncated.onnx").write_bytes(good[: len(good) // 2])
    (d / "text.onnx").write_text("this is not a model\n")
    (d / "folder.onnx").mkdir()
    (d / "exists.onnx").write_bytes(b"keep me")
    (d / "a_file").write_text("x")
    # a custom-domain op reading its own weights
    w = numpy_helper.from_array(np.ones((3, 3, 3, 3), np.float32), "W")
    c = numpy_helper.from_array(np.ones((90,), np.float32), "C")
    g = helper.make_graph([helper.make_node("Conv", ["X", "W"], ["Y"], pads=[1, 1, 1, 1]),
                           helper.make_node("MyOp", ["Y", "C"], ["Z"], domain="com.example")], "custom",
                          [helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, 3, 8, 8])],
                          [helper.make_tensor_value_info("Z", TensorProto.FLOAT, None)], [w, c])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid("com.example", 1)]),
              d / "custom.onnx")
    # symbolic height and width
    g = helper.make_graph([helper.make_node("Conv", ["X", "W"], ["Y"], pads=[1, 1, 1, 1])], "dyn",
                          [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["N", 3, "H", "W_"])],
                          [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)], [w])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), d / "dynamic_hw.onnx")
    # a search folder whose database is empty
    (d / "emptysearch").mkdir()
    (d / "emptysearch" / "search.db").write_bytes(b"")
    return d


MODELS = ("missing.onnx", "empty.onnx", "truncated.onnx", "text.onnx", "folder.onnx")

CASES: list[tuple[str, list[str], str]] = []
for m in MODELS:  # every model-reading command on every broken model
    CASES += [
        (f"inspect {m}", ["inspect", f"{{d}}/{m}"], m),
        (f"inspect --properties {m}", ["inspect", f"{{d}}/{m}", "--properties"], m),
        (f"rewrite {m}", ["rewrite", f"{{d}}/{m}", "-o", "{d}/out.onnx"], m),
        (f"mutate {m}", ["mutate", f"{{d}}/{m}", "-o", "{d}/out.onnx"], m),
        (f"bench {m}", ["bench", f"{{d}}/{m}", "--repeats", "1", "--warmup", "0"], m),
        (f"train {m}", ["train", f"{{d}}/{m}", "--dataset", "digits", "--epochs", "1", "-o", "{d}/out.onnx"], m),
        (f"search {m}", ["search", f"{{d}}/{m}", "--trials", "1", "--epochs", "1", "--out", "{d}/s"], m),
    ]
CASES += [
    # outputs: existing file, a folder, inside a file, in a folder that does not exist, the input itself
    ("rewrite -o existing", ["rewrite", "{d}/good.onnx", "-o", "{d}/exists.onnx"], "already exists"),
    ("rewrite -o folder", ["rewrite", "{d}/good.onnx", "-o", "{d}/folder.onnx"], "is a directory"),
    ("mutate -o folder", ["mutate", "{d}/good.onnx", "-o", "{d}/folder.onnx"], "is a directory"),
    ("train -o folder", ["train", "--zoo", "cnn", "--dataset", "digits", "--epochs", "1", "-o", "{d}/folder.onnx"],
     "is a directory"),
    ("zoo export -o folder", ["zoo", "export", "cnn", "-o", "{d}/folder.onnx"], "is a directory"),
    ("rewrite -o in a file", ["rewrite", "{d}/good.onnx", "-o", "{d}/a_file/out.onnx"], "not a folder"),
    ("mutate -o below a file", ["mutate", "{d}/good.onnx", "-o", "{d}/a_file/sub/out.onnx"], "not a folder"),
    ("train -o in a file", ["train", "--zoo", "cnn", "--dataset", "digits", "--epochs", "1", "-o",
                            "{d}/a_file/out.onnx"], "not a folder"),
    ("rewrite -o input", ["rewrite", "{d}/good.onnx", "-o", "{d}/good.onnx", "--force"], "overwrite the input"),
    ("search --out a file", ["search", "--out", "{d}/a_file", "--trials", "1"], "is a file"),
    ("search --out inside a file", ["search", "--out", "{d}/a_file/s", "--trials", "1"], "not a folder"),
    # report on what is not a search
    ("report missing", ["report", "{d}/nowhere"], "no such folder"),
    ("report file", ["report", "{d}/good.onnx"], "is a file"),
    ("report folder without a search", ["report", "{d}/folder.onnx"], "not a search folder"),
    ("report empty database", ["report", "{d}/emptysearch"], "is empty"),
    # nonsense option values
    ("train --threads -1", ["train", "--zoo", "cnn", "--dataset", "digits", "--epochs", "1", "--threads", "-1", "-o",
                            "{d}/out.onnx"], "--threads"),
    ("search --threads -1", ["search", "--threads", "-1", "--out", "{d}/s"], "--threads"),
    ("bench --threads -1", ["bench", "{d}/good.onnx", "--threads", "-1"], "--threads"),
    ("rewrite --tolerance -1", ["rewrite", "{d}/good.onnx", "-o", "{d}/out.onnx", "--verify", "--tolerance", "-1"],
     "--tolerance"),
    ("search --lr -1", ["search", "--lr", "-1", "--out", "{d}/s"], "--lr"),
    ("search --batch-size 0", ["search", "--batch-size", "0", "--out", "{d}/s"], "--batch-size"),
    ("search --device tpu", ["search", "--device", "tpu", "--out", "{d}/s"], "--device"),
    ("train --device tpu", ["train", "--zoo", "cnn", "--dataset", "digits", "--epochs", "1", "--device", "tpu", "-o",
                            "{d}/out.onnx"], "--device"),
    ("train --epochs 0", ["train", "--zoo", "cnn", "--dataset", "digits", "--epochs", "0", "-o", "{d}/out.onnx"],
     "--epochs"),
    ("train --lr nan", ["train", "--zoo", "cnn", "--dataset", "digits", "--epochs", "1", "--lr", "nan", "-o",
                        "{d}/out.onnx"], "--lr"),
    ("search --workers 0", ["search", "--workers", "0", "--out", "{d}/s"], "--workers"),
    ("search --proxy-keep 2", ["search", "--proxy-keep", "2", "--out", "{d}/s"], "--proxy-keep"),
    ("bench --repeats 0", ["bench", "{d}/good.onnx", "--repeats", "0"], "--repeats"),
    ("bench --warmup -1", ["bench", "{d}/good.onnx", "--warmup", "-1"], "--warmup"),
    ("bench --batch 0", ["bench", "{d}/good.onnx", "--batch", "0"], "batch"),
    ("bench --batch x", ["bench", "{d}/good.onnx", "--batch", "x"], "--batch"),
    ("mutate --p 2", ["mutate", "{d}/good.onnx", "-o", "{d}/out.onnx", "--p", "2"], "--p"),
    ("mutate --budget-ms 0", ["mutate", "{d}/good.onnx", "-o", "{d}/out.onnx", "--budget-ms", "0"], "--budget-ms"),
    ("rewrite --max-rounds 0", ["rewrite", "{d}/good.onnx", "-o", "{d}/out.onnx", "--max-rounds", "0"],
     "--max-rounds"),
    ("rewrite unknown pass", ["rewrite", "{d}/good.onnx", "-o", "{d}/out.onnx", "--pass", "nope"], "nope"),
    ("zoo export unknown", ["zoo", "export", "nope", "-o", "{d}/out.onnx"], "nope"),
    ("zoo export --input-size 0", ["zoo", "export", "cnn", "-o", "{d}/out.onnx", "--input-size", "0"],
     "--input-size"),
    ("benchmark unknown", ["benchmark", "nope"], "nope"),
    # custom-domain ops and symbolic sizes
    # (inspect --properties on a custom op is no longer refused: a sound conservative result, issue 12;
    # tests/properties/test_unknown_shapes.py)
    ("rewrite --verify custom op", ["rewrite", "{d}/custom.onnx", "-o", "{d}/out.onnx", "--verify"], "MyOp"),
    ("bench custom op", ["bench", "{d}/custom.onnx", "--repeats", "1"], "MyOp"),
    ("bench symbolic height and width", ["bench", "{d}/dynamic_hw.onnx", "--repeats", "1"], "--input-shape"),
    ("bench bad --input-shape", ["bench", "{d}/dynamic_hw.onnx", "--input-shape", "X:1,3"], "rank"),
    ("train on a custom op", ["train", "{d}/custom.onnx", "--dataset", "digits", "--epochs", "1", "-o",
                              "{d}/out.onnx"], ""),
]


def _snapshot(d) -> dict[str, str]:
    out = {}
    for root, dirs, files in os.walk(d):
        for name in dirs + files:
            p = os.path.join(root, name)
            out[os.path.relpath(p, d)] = "dir" if os.path.isdir(p) else hashlib.sha256(open(p, "rb").read()).hexdigest()
    return out


@pytest.mark.parametrize("argv, expect", [(argv, expect) for _, argv, expect in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_one_clear_line_and_writes_nothing(corpus, capsys, argv, expect):
    before = _snapshot(corpus)
    argv = [a.replace(FOLDER_TOKEN, str(corpus)) for a in argv]
    try:
        status = main(argv)
    except SystemExit as e:  # argparse's own errors
        status = e.code
    out, err = capsys.readouterr()
    assert status == 2, (status, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("alphanas: error: "), err
    assert "Traceback" not in err and "internal error" not in err
    assert expect.split("/")[-1] in lines[0] or expect in lines[0], lines[0]
    assert _snapshot(corpus) == before  # nothing written, inputs untouched
