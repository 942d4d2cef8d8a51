"""The bad-input corpus of issue 16: every command given missing, empty, truncated, text and directory
inputs, models with custom-domain ops and symbolic sizes, outputs that exist, are folders or sit where no
file can be created, and nonsense option values. Each case must end with exit status 2 and exactly one
line on stderr (no traceback), write nothing, and leave its inputs as they were.

The inputs are generated here; cases run in-process through ``alphanas.cli.main`` (fast), and the
options are validated before any work, so no case trains or searches. Nothing may reach stdout either
(no table or half a JSON document before the error). Outputs that cannot be created point into
``/proc``, where no one (root included) can create a file.
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
#: 250-odd cases, about 30 s of CPU in all (each well under a second but a few that load the digits data)
pytestmark = pytest.mark.slow


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
    # a custom-domain op in a model that fits the digits data (1x8x8 images, 10 classes)
    wd = numpy_helper.from_array(np.ones((64, 10), np.float32), "Wd")
    g = helper.make_graph([helper.make_node("Flatten", ["X"], ["F"]), helper.make_node("MatMul", ["F", "Wd"], ["L"]),
                           helper.make_node("MyOp", ["L"], ["Z"], domain="com.example")], "custom_digits",
                          [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["N", 1, 8, 8])],
                          [helper.make_tensor_value_info("Z", TensorProto.FLOAT, ["N", 10])], [wd])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid("com.example", 1)]),
              d / "custom_digits.onnx")
    # symbolic height and width
    g = helper.make_graph([helper.make_node("Conv", ["X", "W"], ["Y"], pads=[1, 1, 1, 1])], "dyn",
                          [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["N", 3, "H", "W_"])],
                          [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)], [w])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), d / "dynamic_hw.onnx")
    # a search folder whose database is empty
    (d / "emptysearch").mkdir()
    (d / "emptysearch" / "search.db").write_bytes(b"")
    # random bytes, a cycle, a dangling input, an opset no onnx defines yet
    (d / "garbage.onnx").write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    x = helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, 3])
    y = helper.make_tensor_value_info("Y", TensorProto.FLOAT, [1, 3])
    cyc = helper.make_graph([helper.make_node("Add", ["X", "B"], ["A"], name="a"),
                             helper.make_node("Relu", ["A"], ["B"], name="b"),
                             helper.make_node("Relu", ["A"], ["Y"], name="c")], "cycle", [x], [y])
    onnx.save(helper.make_model(cyc, opset_imports=[helper.make_opsetid("", 13)]), d / "cycle.onnx")
    dang = helper.make_graph([helper.make_node("Add", ["X", "nowhere"], ["Y"])], "dangling", [x], [y])
    onnx.save(helper.make_model(dang, opset_imports=[helper.make_opsetid("", 13)]), d / "dangling.onnx")
    fut = helper.make_graph([helper.make_node("Relu", ["X"], ["Y"])], "future", [x], [y])
    onnx.save(helper.make_model(fut, opset_imports=[helper.make_opsetid("", 999)]), d / "future.onnx")
    # a database that is not SQLite, one of another program, and a search whose every trial failed
    (d / "textdb").mkdir()
    (d / "textdb" / "search.db").write_text("not a database\n")
    import sqlite3

    (d / "foreigndb").mkdir()
    con = sqlite3.connect(d / "foreigndb" / "search.db")
    con.execute("CREATE TABLE other (x INTEGER)")
    con.commit()
    con.close()
    (d / "failedsearch").mkdir()
    con = sqlite3.connect(d / "failedsearch" / "search.db")
    con.execute("CREATE TABLE candidates (id TEXT, status TEXT, error TEXT)")
    con.executemany("INSERT INTO candidates VALUES (?, ?, ?)", [("a", "failed", "CUDA out of memory"),
                                                                ("b", "failed", "CUDA out of memory")])
    con.commit()
    con.close()
    return d


MODELS = ("missing.onnx", "empty.onnx", "truncated.onnx", "text.onnx", "folder.onnx")
#: broken models whose message names the cause (not the file name)
MODELS_WHY = (("garbage.onnx", "garbage.onnx"), ("cycle.onnx", "cycle"), ("dangling.onnx", "nowhere"),
              ("future.onnx", "opset 999"))
TRAIN = ["--dataset", "digits", "--epochs", "1"]



def _model_reading_cases(m: str, why: str, inspect_flag: str) -> list[tuple[str, list[str], str]]:
    """Every model-reading command on the broken model ``m``; the message must name ``why``."""
    return [
        (f"inspect {m}", ["inspect", f"{{d}}/{m}"], why),
        (f"inspect {inspect_flag} {m}", ["inspect", f"{{d}}/{m}", inspect_flag], why),
        (f"rewrite {m}", ["rewrite", f"{{d}}/{m}", "-o", "{d}/out.onnx"], why),
        (f"mutate {m}", ["mutate", f"{{d}}/{m}", "-o", "{d}/out.onnx"], why),
        (f"bench {m}", ["bench", f"{{d}}/{m}", "--repeats", "1", "--warmup", "0"], why),
        (f"train {m}", ["train", f"{{d}}/{m}", *TRAIN, "-o", "{d}/out.onnx"], why),
        (f"search {m}", ["search", f"{{d}}/{m}", "--trials", "1", "--epochs", "1", "--out", "{d}/s"], why),
    ]


CASES: list[tuple[str, list[str], str]] = []
for m in MODELS:
    CASES += _model_reading_cases(m, m, "--properties")
for m, why in MODELS_WHY:
    CASES += _model_reading_cases(m, why, "--json")
for m in MODELS:
    CASES += [(f"inspect --json {m}", ["inspect", f"{{d}}/{m}", "--json"], m),
              (f"bench good + {m}", ["bench", "{d}/good.onnx", f"{{d}}/{m}", "--repeats", "1"], m)]
UNWRITABLE = "/proc/alphanas-out.onnx"  # (no one, root included, can create a file there)
CASES += [
    # outputs in a folder where nothing can be written
    ("rewrite -o unwritable", ["rewrite", "{d}/good.onnx", "-o", UNWRITABLE], "not writable"),
    ("mutate -o unwritable", ["mutate", "{d}/good.onnx", "-o", UNWRITABLE], "not writable"),
    ("train -o unwritable", ["train", "--zoo", "cnn", *TRAIN, "-o", UNWRITABLE], "not writable"),
    ("zoo export -o unwritable", ["zoo", "export", "cnn", "-o", UNWRITABLE], "not writable"),
    ("search --out unwritable", ["search", "--out", "/proc/alphanas-search", "--trials", "1"], "not writable"),
    ("train --checkpoint unwritable", ["train", "--zoo", "cnn", *TRAIN, "-o", "{d}/out.onnx", "--checkpoint",
                                       "/proc/x.ckpt"], "--checkpoint"),
    # outputs that exist, are folders, or are the input
    ("mutate -o existing", ["mutate", "{d}/good.onnx", "-o", "{d}/exists.onnx"], "already exists"),
    ("train -o existing", ["train", "--zoo", "cnn", *TRAIN, "-o", "{d}/exists.onnx"], "already exists"),
    ("zoo export -o existing", ["zoo", "export", "cnn", "-o", "{d}/exists.onnx"], "already exists"),
    ("mutate -o input", ["mutate", "{d}/good.onnx", "-o", "{d}/good.onnx", "--force"], "overwrite the input"),
    ("train -o input", ["train", "{d}/good.onnx", *TRAIN, "-o", "{d}/good.onnx", "--force"], "overwrite the input"),
    ("rewrite without -o", ["rewrite", "{d}/good.onnx"], "-o"),
    ("rewrite without a model", ["rewrite", "-o", "{d}/out.onnx"], "model"),
    ("zoo export -o in a file", ["zoo", "export", "cnn", "-o", "{d}/a_file/out.onnx"], "not a folder"),
    ("search --out existing model file", ["search", "--out", "{d}/good.onnx", "--trials", "1"], "is a file"),
    # --input-shape
    ("inspect --input-shape no colon", ["inspect", "{d}/dynamic_hw.onnx", "--input-shape", "X"], "--input-shape"),
    ("inspect --input-shape letters", ["inspect", "{d}/dynamic_hw.onnx", "--input-shape", "X:a,b,c,d"],
     "--input-shape"),
    ("inspect --input-shape unknown input", ["inspect", "{d}/dynamic_hw.onnx", "--input-shape", "nope:1,3,8,8"],
     "nope"),
    ("inspect --input-shape zero", ["inspect", "{d}/dynamic_hw.onnx", "--input-shape", "X:1,3,0,8"], "--input-shape"),
    ("inspect --input-shape negative", ["inspect", "{d}/dynamic_hw.onnx", "--input-shape", "X:1,3,-8,8"],
     "--input-shape"),
    ("inspect --input-shape wrong rank", ["inspect", "{d}/dynamic_hw.onnx", "--input-shape", "X:1,3"], "rank"),
    ("inspect --input-shape contradicts", ["inspect", "{d}/good.onnx", "--input-shape", "input:1,3,8,8"], "input"),
    ("rewrite --input-shape wrong rank", ["rewrite", "{d}/dynamic_hw.onnx", "-o", "{d}/out.onnx", "--input-shape",
                                          "X:1,3"], "rank"),
    ("mutate --input-shape unknown input", ["mutate", "{d}/good.onnx", "-o", "{d}/out.onnx", "--input-shape",
                                            "nope:1,1,8,8"], "nope"),
    ("bench --input-shape letters", ["bench", "{d}/dynamic_hw.onnx", "--input-shape", "X:a"], "--input-shape"),
    # rewrite options
    ("rewrite --tolerance nan", ["rewrite", "{d}/good.onnx", "-o", "{d}/out.onnx", "--verify", "--tolerance", "nan"],
     "--tolerance"),
    ("rewrite --tolerance x", ["rewrite", "{d}/good.onnx", "-o", "{d}/out.onnx", "--tolerance", "x"], "--tolerance"),
    ("rewrite --max-rounds -1", ["rewrite", "{d}/good.onnx", "-o", "{d}/out.onnx", "--max-rounds", "-1"],
     "--max-rounds"),
    ("rewrite --target-opset 0", ["rewrite", "{d}/good.onnx", "-o", "{d}/out.onnx", "--target-opset", "0"],
     "--target-opset"),
    ("rewrite --target-opset 999", ["rewrite", "{d}/good.onnx", "-o", "{d}/out.onnx", "--target-opset", "999"],
     "999"),
    ("rewrite --plugin missing module", ["rewrite", "{d}/good.onnx", "-o", "{d}/out.onnx", "--plugin",
                                         "no_such_module_xyz"], "no_such_module_xyz"),
    ("rewrite --input-value no colon", ["rewrite", "{d}/good.onnx", "-o", "{d}/out.onnx", "--verify",
                                        "--input-value", "input"], "--input-value"),
    ("rewrite --input-value letters", ["rewrite", "{d}/good.onnx", "-o", "{d}/out.onnx", "--verify",
                                       "--input-value", "input:abc"], "--input-value"),
    ("rewrite --seed x", ["rewrite", "{d}/good.onnx", "-o", "{d}/out.onnx", "--seed", "x"], "--seed"),
    # mutate options
    ("mutate --block unknown", ["mutate", "{d}/good.onnx", "-o", "{d}/out.onnx", "--block", "nope"], "nope"),
    ("mutate --synth unknown", ["mutate", "{d}/good.onnx", "-o", "{d}/out.onnx", "--synth", "nope"], "--synth"),
    ("mutate --budget-ms -5", ["mutate", "{d}/good.onnx", "-o", "{d}/out.onnx", "--budget-ms", "-5"], "--budget-ms"),
    ("mutate --budget-ms nan", ["mutate", "{d}/good.onnx", "-o", "{d}/out.onnx", "--budget-ms", "nan"], "--budget-ms"),
    ("mutate --p -0.1", ["mutate", "{d}/good.onnx", "-o", "{d}/out.onnx", "--p", "-0.1"], "--p"),
    ("mutate --p nan", ["mutate", "{d}/good.onnx", "-o", "{d}/out.onnx", "--p", "nan"], "--p"),
    ("mutate --target-opset 0", ["mutate", "{d}/good.onnx", "-o", "{d}/out.onnx", "--target-opset", "0"],
     "--target-opset"),
    ("mutate --seed x", ["mutate", "{d}/good.onnx", "-o", "{d}/out.onnx", "--seed", "x"], "--seed"),
    ("mutate custom op", ["mutate", "{d}/custom.onnx", "-o", "{d}/out.onnx"], "MyOp"),
    ("mutate custom op (digits)", ["mutate", "{d}/custom_digits.onnx", "-o", "{d}/out.onnx"], "MyOp"),
    ("train custom op (digits)", ["train", "{d}/custom_digits.onnx", *TRAIN, "-o", "{d}/out.onnx"], "MyOp"),
    ("search custom op (digits)", ["search", "{d}/custom_digits.onnx", "--trials", "1", "--out", "{d}/s"], "MyOp"),
    ("bench custom op (digits)", ["bench", "{d}/custom_digits.onnx", "--repeats", "1"], "MyOp"),
    ("rewrite --verify custom op (digits)", ["rewrite", "{d}/custom_digits.onnx", "-o", "{d}/out.onnx", "--verify"],
     "MyOp"),
    # train options
    ("train model and --zoo", ["train", "{d}/good.onnx", "--zoo", "cnn", *TRAIN, "-o", "{d}/out.onnx"], "--zoo"),
    ("train neither model nor --zoo", ["train", *TRAIN, "-o", "{d}/out.onnx"], "--zoo"),
    ("train --zoo unknown", ["train", "--zoo", "nope", *TRAIN, "-o", "{d}/out.onnx"], "nope"),
    ("train --dataset unknown", ["train", "--zoo", "cnn", "--dataset", "nope", "--epochs", "1", "-o", "{d}/out.onnx"],
     "nope"),
    ("train --dataset cifar10 without data", ["train", "--zoo", "cnn", "--dataset", "cifar10", "--epochs", "1",
                                              "--data-dir", "{d}/nowhere", "-o", "{d}/out.onnx"], "nowhere"),
    ("train --dataset imagefolder on a file", ["train", "--zoo", "cnn", "--dataset", "imagefolder", "--data-dir",
                                               "{d}/a_file", "--epochs", "1", "-o", "{d}/out.onnx"], "a_file"),
    ("train --dataset npz on a model", ["train", "--zoo", "cnn", "--dataset", "npz", "--data-dir", "{d}/good.onnx",
                                       "--epochs", "1", "-o", "{d}/out.onnx"], "good.onnx"),
    ("train --image-size 0", ["train", "--zoo", "cnn", "--dataset", "imagefolder", "--data-dir", "{d}/folder.onnx",
                              "--image-size", "0", "--epochs", "1", "-o", "{d}/out.onnx"], "--image-size"),
    ("train --channels 2", ["train", "--zoo", "cnn", *TRAIN, "--channels", "2", "-o", "{d}/out.onnx"], "--channels"),
    ("train --optimizer unknown", ["train", "--zoo", "cnn", *TRAIN, "--optimizer", "nope", "-o", "{d}/out.onnx"],
     "--optimizer"),
    ("train --weight-decay -1", ["train", "--zoo", "cnn", *TRAIN, "--weight-decay", "-1", "-o", "{d}/out.onnx"],
     "--weight-decay"),
    ("train --label-smoothing 1", ["train", "--zoo", "cnn", *TRAIN, "--label-smoothing", "1", "-o", "{d}/out.onnx"],
     "--label-smoothing"),
    ("train --warmup-epochs -1", ["train", "--zoo", "cnn", *TRAIN, "--warmup-epochs", "-1", "-o", "{d}/out.onnx"],
     "--warmup-epochs"),
    ("train --max-minutes 0", ["train", "--zoo", "cnn", *TRAIN, "--max-minutes", "0", "-o", "{d}/out.onnx"],
     "--max-minutes"),
    ("train --checkpoint and --no-checkpoint", ["train", "--zoo", "cnn", *TRAIN, "--checkpoint", "{d}/c.ckpt",
                                                "--no-checkpoint", "-o", "{d}/out.onnx"], "--no-checkpoint"),
    ("train --batch-size 0", ["train", "--zoo", "cnn", *TRAIN, "--batch-size", "0", "-o", "{d}/out.onnx"],
     "--batch-size"),
    ("train --lr 0", ["train", "--zoo", "cnn", *TRAIN, "--lr", "0", "-o", "{d}/out.onnx"], "--lr"),
    ("train --lr x", ["train", "--zoo", "cnn", *TRAIN, "--lr", "x", "-o", "{d}/out.onnx"], "--lr"),
    ("train --epochs x", ["train", "--zoo", "cnn", "--dataset", "digits", "--epochs", "x", "-o", "{d}/out.onnx"],
     "--epochs"),
    ("train --epochs -3", ["train", "--zoo", "cnn", "--dataset", "digits", "--epochs", "-3", "-o", "{d}/out.onnx"],
     "--epochs"),
    ("train --workers -1", ["train", "--zoo", "cnn", *TRAIN, "--workers", "-1", "-o", "{d}/out.onnx"], "--workers"),
    ("train --task unknown", ["train", "--zoo", "cnn", *TRAIN, "--task", "nope", "-o", "{d}/out.onnx"], "--task"),
    ("train --streaming unknown", ["train", "--zoo", "cnn", *TRAIN, "--streaming", "maybe", "-o", "{d}/out.onnx"],
     "--streaming"),
    ("train --device cuda:x", ["train", "--zoo", "cnn", *TRAIN, "--device", "cuda:x", "-o", "{d}/out.onnx"],
     "--device"),
    ("train --threads x", ["train", "--zoo", "cnn", *TRAIN, "--threads", "x", "-o", "{d}/out.onnx"], "--threads"),
    ("train --split-seed x", ["train", "--zoo", "cnn", *TRAIN, "--split-seed", "x", "-o", "{d}/out.onnx"],
     "--split-seed"),
    ("train --precision unknown", ["train", "--zoo", "cnn", *TRAIN, "--precision", "fp8", "-o", "{d}/out.onnx"],
     "--precision"),
    ("train without --dataset", ["train", "--zoo", "cnn", "--epochs", "1", "-o", "{d}/out.onnx"], "--dataset"),
    ("train model of symbolic size", ["train", "{d}/dynamic_hw.onnx", *TRAIN, "-o", "{d}/out.onnx"], "channels"),
    # search options
    ("search --trials 0", ["search", "--trials", "0", "--out", "{d}/s"], "--trials"),
    ("search --epochs 0", ["search", "--epochs", "0", "--out", "{d}/s"], "--epochs"),
    ("search --trials x", ["search", "--trials", "x", "--out", "{d}/s"], "--trials"),
    ("search --objectives unknown", ["search", "--objectives", "accuracy,nope", "--out", "{d}/s"], "nope"),
    ("search --objectives empty", ["search", "--objectives", "", "--out", "{d}/s"], "--objectives"),
    ("search --strategy unknown", ["search", "--strategy", "nope", "--out", "{d}/s"], "--strategy"),
    ("search --selection unknown", ["search", "--selection", "nope", "--out", "{d}/s"], "--selection"),
    ("search --executor unknown", ["search", "--executor", "nope", "--out", "{d}/s"], "--executor"),
    ("search --max-params 0", ["search", "--max-params", "0", "--out", "{d}/s"], "--max-params"),
    ("search --max-flops -1", ["search", "--max-flops", "-1", "--out", "{d}/s"], "--max-flops"),
    ("search --max-latency-ms 0", ["search", "--max-latency-ms", "0", "--out", "{d}/s"], "--max-latency-ms"),
    ("search --proxy-keep 0", ["search", "--proxy-keep", "0", "--out", "{d}/s"], "--proxy-keep"),
    ("search --proxy unknown", ["search", "--proxy", "nope", "--out", "{d}/s"], "--proxy"),
    ("search --constraint garbage", ["search", "--constraint", "garbage", "--out", "{d}/s"], "garbage"),
    ("search --evaluator missing module", ["search", "--evaluator", "no_such_module_xyz:f", "--out", "{d}/s"],
     "no_such_module_xyz"),
    ("search --dataset unknown", ["search", "--dataset", "nope", "--out", "{d}/s"], "nope"),
    ("search --zoo unknown", ["search", "--zoo", "nope", "--out", "{d}/s"], "nope"),
    ("search seed model and --zoo", ["search", "{d}/good.onnx", "--zoo", "cnn", "--out", "{d}/s"], "--zoo"),
    ("search --num-classes 0", ["search", "--num-classes", "0", "--out", "{d}/s"], "--num-classes"),
    ("search --input-size 0", ["search", "--input-size", "0", "--out", "{d}/s"], "--input-size"),
    ("search --in-channels 0", ["search", "--in-channels", "0", "--out", "{d}/s"], "--in-channels"),
    ("search --lr nan", ["search", "--lr", "nan", "--out", "{d}/s"], "--lr"),
    ("search --device cuda:x", ["search", "--device", "cuda:x", "--out", "{d}/s"], "--device"),
    ("search --threads x", ["search", "--threads", "x", "--out", "{d}/s"], "--threads"),
    ("search --workers -2", ["search", "--workers", "-2", "--out", "{d}/s"], "--workers"),
    ("search --focus unknown", ["search", "--focus", "nope", "--out", "{d}/s"], "--focus"),
    ("search on a model of other images", ["search", "{d}/custom.onnx", "--trials", "1", "--out", "{d}/s"], "shape"),
    # report
    ("report text database", ["report", "{d}/textdb"], "search.db"),
    ("report foreign database", ["report", "{d}/foreigndb"], "search.db"),
    ("report only failed trials", ["report", "{d}/failedsearch"], "CUDA out of memory"),
    ("report --port -1", ["report", "{d}/emptysearch", "--port", "-1"], "--port"),
    ("report --port 70000", ["report", "{d}/emptysearch", "--port", "70000"], "--port"),
    ("report --port x", ["report", "{d}/emptysearch", "--port", "x"], "--port"),
    ("report --refresh 0", ["report", "{d}/emptysearch", "--serve", "--refresh", "0"], "--refresh"),
    ("report --refresh nan", ["report", "{d}/emptysearch", "--serve", "--refresh", "nan"], "--refresh"),
    ("report --serve --json", ["report", "{d}/emptysearch", "--serve", "--json"], "--json"),
    ("report --serve on a missing folder", ["report", "{d}/nowhere", "--serve", "--port", "0"], "no such folder"),
    ("report without a folder", ["report"], "dir"),
    # bench
    ("bench --provider unknown", ["bench", "{d}/good.onnx", "--provider", "tpu"], "--provider"),
    ("bench --batch empty", ["bench", "{d}/good.onnx", "--batch", ","], "--batch"),
    ("bench --batch -1", ["bench", "{d}/good.onnx", "--batch", "-1"], "batch"),
    ("bench --batch 1,x", ["bench", "{d}/good.onnx", "--batch", "1,x"], "--batch"),
    ("bench --repeats -1", ["bench", "{d}/good.onnx", "--repeats", "-1"], "--repeats"),
    ("bench --repeats x", ["bench", "{d}/good.onnx", "--repeats", "x"], "--repeats"),
    ("bench --threads x", ["bench", "{d}/good.onnx", "--threads", "x"], "--threads"),
    ("bench without a model", ["bench"], "models"),
    # benchmark and zoo
    ("benchmark without a name", ["benchmark"], "name"),
    ("benchmark startup --runs 0", ["benchmark", "startup", "--runs", "0"], "--runs"),
    ("benchmark startup --runs x", ["benchmark", "startup", "--runs", "x"], "--runs"),
    ("benchmark lowering --bogus", ["benchmark", "lowering", "--bogus"], "--bogus"),
    # the benchmark scripts check their options by the CLI's shared rules (alphanas.options): the bad
    # flag as spelled, its value, and what to give instead
    ("benchmark rewrite --repeats 0", ["benchmark", "rewrite", "--repeats", "0"],
     "--repeats: got 0; give a number of timed runs >= 1"),
    ("benchmark rewrite --warmup -1", ["benchmark", "rewrite", "--warmup", "-1"],
     "--warmup: got -1; give a number of warm-up runs >= 0"),
    ("benchmark properties --repeats 0", ["benchmark", "properties", "--repeats", "0"], "--repeats: got 0"),
    ("benchmark throughput --trials 0", ["benchmark", "throughput", "--trials", "0"],
     "--trials: got 0; give a number of trials >= 1"),
    ("benchmark throughput --device tpu", ["benchmark", "throughput", "--device", "tpu"],
     "--device: got tpu; give auto, cpu, cuda or cuda:N"),
    ("benchmark synthesis --problems 0", ["benchmark", "synthesis", "--problems", "0"],
     "--problems: got 0; give a number of problems >= 1"),
    ("benchmark synthesis --budget-ms 0", ["benchmark", "synthesis", "--budget-ms", "0"], "--budget-ms: got 0.0"),
    ("benchmark streaming --batch-size 0", ["benchmark", "streaming", "--batch-size", "0"],
     "--batch-size: got 0; give a batch size >= 1"),
    ("benchmark streaming --n 1", ["benchmark", "streaming", "--n", "1"], "--n 1"),
    ("benchmark nb201 --runs 0", ["benchmark", "nb201", "--runs", "0"], "--runs: got 0; give a number of runs >= 1"),
    ("benchmark nb201 --initial-pool -1", ["benchmark", "nb201", "--initial-pool", "-1"], "--initial-pool: got -1"),
    ("benchmark nb201 --budgets 10,0", ["benchmark", "nb201", "--budgets", "10,0"],
     "--budgets 10,0: every budget must be at least 1"),
    ("benchmark e2e --warmup 5", ["benchmark", "e2e", "--warmup", "5", "--out", f"{FOLDER_TOKEN}/e2e"],
     "--warmup 5.0: must be at most --epochs (3)"),
    ("zoo without a sub-command", ["zoo"], "list"),
    ("zoo unknown sub-command", ["zoo", "nope"], "nope"),
    ("zoo export --num-classes 0", ["zoo", "export", "cnn", "-o", "{d}/out.onnx", "--num-classes", "0"],
     "--num-classes"),
    ("zoo export --in-channels 0", ["zoo", "export", "cnn", "-o", "{d}/out.onnx", "--in-channels", "0"],
     "--in-channels"),
    ("zoo export --input-size x", ["zoo", "export", "cnn", "-o", "{d}/out.onnx", "--input-size", "x"],
     "--input-size"),
    ("zoo export without -o", ["zoo", "export", "cnn"], "--output"),
    ("unknown command", ["frobnicate"], "frobnicate"),
    ("unknown option", ["inspect", "{d}/good.onnx", "--bogus"], "--bogus"),
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
    ("train on a model of other images", ["train", "{d}/custom.onnx", "--dataset", "digits", "--epochs", "1", "-o",
                                          "{d}/out.onnx"], "channels"),
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
    assert out == "", out  # nothing printed before the error (no table, no half a JSON document)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("alphanas: error: "), err
    assert "Traceback" not in err and "internal error" not in err
    assert expect.split("/")[-1] in lines[0] or expect in lines[0], lines[0]
    assert _snapshot(corpus) == before  # nothing written, inputs untouched
