"""User evaluators: the worked example (blob regression, its own R^2 as an objective) runs a 5-trial search
whose report plots R^2; the function receives the module, ONNX path, device, epochs and the parent's weights;
entry points resolve by name; bad names and objectives the task cannot report are one-line errors (exit 2)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import onnx
import pytest

from alphanas import zoo
from alphanas.cli import main
from alphanas.errors import AlphanasError
from alphanas.ir import save_onnx
from alphanas.search.evaluators import PluginEvaluator, resolve_evaluator
from alphanas.search.report import write_report
from tests.plugin_util import fake_distribution

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "alphanas-evaluator-example"


@pytest.fixture
def seed_file(tmp_path):
    path = tmp_path / "seed.onnx"
    save_onnx(zoo.build("resnet_small", input_size=8, in_channels=1, num_classes=2, seed=0), path)
    return path


def test_example_evaluator_searches_with_its_own_metric(seed_file, tmp_path, monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(EXAMPLE))
    out = tmp_path / "run"
    rc = main(["search", str(seed_file), "--evaluator", "alphanas_evaluator_example:evaluate", "--objectives",
               "r2:max,params", "--trials", "5", "--epochs", "2", "--out", str(out), "--device", "cpu",
               "--constraint", "rmse<=10", "--json"])
    assert rc == 0
    res = json.loads(capsys.readouterr().out)
    assert res["counts"] == {"done": 5}
    for c in res["front"]:
        assert {"r2", "rmse", "onnx_kb", "params", "flops"} <= set(c["metrics"])
    rep = write_report(out)
    assert rep.objectives == ["r2:max", "params"] and rep.axes == ("params", "r2")
    assert (out / "pareto.png").stat().st_size > 0
    md = (out / "report.md").read_text()
    assert "| r2 |" in md.splitlines()[md.splitlines().index("## Pareto front " + f"({len(rep.front)})") + 4]
    # the front is Pareto-optimal on R^2 (max) and parameters (min), and R^2 is what the example computes
    r2 = [c.metrics["r2"] for c in rep.front]
    assert r2 == sorted(r2, reverse=True) and max(r2) > 0.5
    # the trained weights the evaluator left in the module are the stored model
    model = onnx.load(str(rep.models[0]))
    assert len(model.graph.initializer) > 0


RECORDER = '''
import json, os
import numpy as np
import torch

def evaluate(model, *, onnx_path, device, epochs, parent_weights, seed):
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)  # "training": visible in the stored weights
    rec = {"module": isinstance(model, torch.nn.Module), "onnx": os.path.isfile(onnx_path), "device": str(device),
           "epochs": epochs, "parent": None if parent_weights is None else len(parent_weights),
           "parent_arrays": parent_weights is None or all(isinstance(v, np.ndarray) for v in parent_weights.values())}
    with open(os.environ["RECORD_TO"], "a") as f:
        f.write(json.dumps(rec) + "\\n")
    return {"score": float(sum(p.numel() for p in model.parameters()))}
'''


def test_function_receives_module_onnx_device_epochs_and_parent_weights(seed_file, tmp_path, monkeypatch):
    (tmp_path / "recorder_mod.py").write_text(RECORDER)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("RECORD_TO", str(tmp_path / "calls.jsonl"))
    rc = main(["search", str(seed_file), "--evaluator", "recorder_mod:evaluate", "--objectives", "score:min,params",
               "--trials", "3", "--epochs", "4", "--out", str(tmp_path / "run"), "--device", "cpu", "--inherit",
               "--json"])
    assert rc == 0
    calls = [json.loads(line) for line in (tmp_path / "calls.jsonl").read_text().splitlines()]
    assert len(calls) == 3 and all(c["module"] and c["onnx"] and c["epochs"] == 4 and c["device"] == "cpu"
                                   and c["parent_arrays"] for c in calls)
    assert calls[0]["parent"] is None and all(c["parent"] for c in calls[1:])  # the seed has no parent
    ev = PluginEvaluator("recorder_mod:evaluate", epochs=1, device="cpu")
    g = zoo.build("resnet_small", input_size=8, in_channels=1, num_classes=2, seed=0)
    out = ev.run(g, seed=0)
    name = next(k for k, v in g.initializers.items() if v.const.dtype.kind == "f" and v.const.ndim > 1)
    assert (out.graph.initializers[name].const == g.initializers[name].const + 1.0).all()  # written back


def test_entry_point_and_bad_names(tmp_path, monkeypatch, capsys, seed_file):
    monkeypatch.syspath_prepend(str(EXAMPLE))
    fake_distribution(tmp_path, "blob-example", textwrap.dedent("""
        [alphanas.evaluators]
        blob-regression = alphanas_evaluator_example:evaluate
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    import alphanas_evaluator_example

    assert resolve_evaluator("blob-regression") is alphanas_evaluator_example.evaluate
    for spec, msg in (("nope", "entry point"), ("no_such_module_x:f", "does not import"),
                      ("alphanas_evaluator_example:missing", "has no 'missing'")):
        with pytest.raises(AlphanasError, match=msg):
            resolve_evaluator(spec)
    capsys.readouterr()
    for argv in (["--evaluator", "no_such_module_x:f"], ["--task", "regression", "--objectives", "accuracy"],
                 ["--objectives", "r2"], ["--constraint", "r2=1"]):
        rc = main(["search", str(seed_file), "--trials", "2", "--out", str(tmp_path / "bad"), *argv])
        err = capsys.readouterr().err
        assert rc == 2 and err.count("\n") == 1 and err.startswith("alphanas: "), (argv, err)
        assert not (tmp_path / "bad").exists()


def test_an_objective_the_evaluator_does_not_report_stops_the_search_at_the_seed(seed_file, tmp_path, monkeypatch,
                                                                                capsys):
    """A plug-in's metrics are known only once it runs: the seed (trial 0) is checked, and when it reports no
    metric an objective names, the search stops there in one line (not every candidate failing the same way)."""
    from alphanas.search.run import SearchConfig, run_search

    (tmp_path / "recorder_mod.py").write_text(RECORDER)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("RECORD_TO", str(tmp_path / "calls.jsonl"))
    with pytest.raises(AlphanasError) as e:
        run_search(SearchConfig(seed_model=str(seed_file), evaluator="recorder_mod:evaluate", trials=4, epochs=1,
                                out=str(tmp_path / "run"), device="cpu"))  # default objectives: accuracy, params
    assert str(e.value) == ("evaluator recorder_mod:evaluate: the seed (trial 0) reported no val_acc, which objectives "
                            "names; it reported score (and params, flops): name those in objectives")
    assert len((tmp_path / "calls.jsonl").read_text().splitlines()) < 4  # stopped, not every trial evaluated
    rc = main(["search", str(seed_file), "--evaluator", "recorder_mod:evaluate", "--objectives", "iou:max,params",
               "--trials", "4", "--epochs", "1", "--out", str(tmp_path / "run2"), "--device", "cpu"])
    err = capsys.readouterr().err.strip().splitlines()  # (the progress bar's last state, then the error)
    assert rc == 2 and err[-1].startswith("alphanas: error: evaluator") and "Traceback" not in "".join(err), err
    assert "the seed (trial 0) reported no iou, which --objectives names; it reported score" in err[-1]
