"""A real search store for the report tests, written through :class:`Store` (no training: the metrics are
chosen so the front, the seed, a lineage and an outlier are known by hand), and the system Chromium."""

from __future__ import annotations

import os
import shutil

import onnx
import pytest
from onnx import TensorProto, helper

from alphanas.search.candidate import Candidate
from alphanas.search.store import Store

OBJECTIVES = ["accuracy", "params", "flops"]


def _model(width: int) -> bytes:
    """A small runnable ONNX model (one Relu over a (1, width) input)."""
    g = helper.make_graph([helper.make_node("Relu", ["input"], ["output"])], f"m{width}",
                          [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, width])],
                          [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, width])])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def metrics_of(i: int) -> dict[str, float]:
    """Candidate ``i``'s metrics: accuracy rises with size, with a zig-zag that puts some off the front;
    candidate 7 is a far-off outlier (5 % accuracy, tiny)."""
    if i == 7:
        return {"val_acc": 0.05, "test_acc": 0.04, "params": 150.0, "flops": 900.0, "latency_ms": 0.01}
    params = 10_000.0 * (1.35 ** i)
    return {"val_acc": 0.80 + 0.004 * i - (0.02 if i % 3 == 1 else 0.0), "test_acc": 0.79 + 0.003 * i,
            "params": round(params), "flops": round(params * (40 + 7 * (i % 4))), "latency_ms": 0.2 + 0.011 * i}


def build_store(out) -> list[int]:
    """Write the search store in ``out``: 16 done candidates (the seed first, each the child of an earlier
    one), one failed, one pending; returns the done ids."""
    muts = ["duplicate_block", "delete_block", "property"]
    ids: list[int] = []
    with Store(out, config={"objectives": OBJECTIVES, "dataset": "synthetic", "seed": 0, "strategy": "property"}) as st:
        for i in range(18):
            parent = None if i == 0 else ids[(i * 5) % len(ids)] if i % 2 else ids[-1]
            c = Candidate(graph=None, hash=f"h{i}", parent_id=parent, mutation="seed" if i == 0 else muts[i % 3],
                          description="" if i == 0 else f"change number {i}", trial=i)
            st.add(c, model=_model(4 + i))
            if i == 16:
                c.status, c.error = "failed", "diverged: loss nan at epoch 1"
            elif i == 17:
                continue  # pending
            else:
                c.status, c.metrics = "done", metrics_of(i)
                ids.append(c.id)
            st.update(c)
    onnx.checker.check_model(onnx.load_from_string(_model(4)))
    return ids


@pytest.fixture()
def search_dir(tmp_path):
    out = tmp_path / "run"
    build_store(out)
    return out


def chromium_path() -> str | None:
    """The system Chromium, or None; in CI (env CI set) its absence fails instead of skipping."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    if os.environ.get("CI"):
        pytest.fail("CI: no system Chromium (.ci/run installs it with apt)")
    pytest.skip("no system Chromium (apt-get install chromium); the test runs in CI")
    return None


@pytest.fixture(scope="module")
def browser():
    exe = chromium_path()
    sync_api = pytest.importorskip("playwright.sync_api") if not os.environ.get("CI") else __import__(
        "playwright.sync_api", fromlist=["sync_playwright"])
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=["--no-sandbox"])
        yield b
        b.close()
