"""Fuzz test: corrupted models (fields dropped, wrong types, cycles, huge or negative dimensions, mismatched
opsets, broken subgraphs, truncated bytes) never make ``inspect``, ``rewrite`` or ``mutate`` print a traceback:
the exit status is 0, 1 or 2 and an error is one line on stderr."""

from __future__ import annotations

import contextlib
import io

import onnx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alphanas.cli import main
from alphanas.ir import save_onnx, zoo
from tests.cli.corrupt import CORRUPTIONS, corrupt
from tests.ir.test_feeds import attention_mask_model, strided_convnet
from tests.passes.conftest import demo_graph


@pytest.fixture(scope="module")
def bases(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz")
    save_onnx(demo_graph(), folder / "demo.onnx")
    save_onnx(zoo.build("cnn", input_size=8, in_channels=1, num_classes=10, width=8), folder / "cnn.onnx")
    # and two with symbolic dimensions: a masked softmax over an embedding, a strided conv net
    return folder, [onnx.load(str(folder / "demo.onnx")), onnx.load(str(folder / "cnn.onnx")),
                    attention_mask_model(), strided_convnet()]


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = main(argv)
        except SystemExit as e:  # argparse
            rc = e.code if isinstance(e.code, int) else 2
    return rc, out.getvalue(), err.getvalue()


def commands(model: str, out: str) -> dict[str, list[str]]:
    return {"inspect": ["inspect", model],
            "rewrite": ["rewrite", model, "-o", out, "--verify", "--force"],
            "mutate": ["mutate", model, "-o", out, "--budget-ms", "50", "--force"]}


# derandomized: the same examples in every run (a failure reproduces); bounded to a few tens of seconds
@settings(max_examples=100, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(base=st.integers(0, 3), names=st.lists(st.sampled_from(sorted(CORRUPTIONS)), min_size=1, max_size=2),
       seed=st.integers(0, 2**16), truncate=st.one_of(st.none(), st.none(), st.floats(0.05, 0.95)))
def test_corrupted_models_never_give_a_traceback(bases, base, names, seed, truncate):
    folder, models = bases
    path = folder / "corrupt.onnx"
    path.write_bytes(corrupt(models[base], names, seed, truncate))
    for name, argv in commands(str(path), str(folder / "out.onnx")).items():
        rc, out, err = run_cli(argv)
        assert "Traceback" not in out + err, (name, names, seed, truncate, err)
        assert rc in (0, 1, 2), (name, names, seed, truncate, rc, err)
        if rc:
            assert err.count("\n") == 1 and err.startswith("alphanas: "), (name, names, seed, truncate, err)


def test_the_corruptions_break_models(bases):
    """The corruptions do break things: most corrupted models are refused."""
    folder, models = bases
    path = folder / "check.onnx"
    statuses = []
    for seed in range(12):
        path.write_bytes(corrupt(models[seed % 4], [sorted(CORRUPTIONS)[seed % len(CORRUPTIONS)]], seed))
        statuses.append(run_cli(["inspect", str(path)])[0])
    assert statuses.count(0) < len(statuses) and 2 in statuses
