"""The example plug-in package (examples/alphanas-plugin-example), installed for real with pip (no
network), is discovered through its ``alphanas.passes`` entry points and runs from the CLI."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from alphanas.ir import load_onnx

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "alphanas-plugin-example"


def alphanas(args, pythonpath) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(p) for p in pythonpath] + [str(ROOT)]),
           "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "alphanas.cli", *args], capture_output=True, text=True, env=env,
                          timeout=300)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The example installed with pip into a fresh folder (built from a copy: pip builds in the tree)."""
    base = tmp_path_factory.mktemp("plugin")
    src = base / "src"
    shutil.copytree(EXAMPLE, src, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    target = base / "site"
    r = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                        "--no-index", "--disable-pip-version-check", "--target", str(target), str(src)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert (target / "alphanas_plugin_example").is_dir()
    return target


def ops(path) -> list[str]:
    return [n.op_type for n in load_onnx(path).nodes]


def test_entry_points_are_discovered_and_run(installed, demo_model, tmp_path):
    listing = alphanas(["rewrite", "--list"], [installed])
    assert listing.returncode == 0, listing.stderr
    for name, cls in (("double-neg", "DoubleNegation"), ("relu-idempotent", "ReluIdempotence")):
        line = next(ln for ln in listing.stdout.splitlines() if f" {name} " in ln)
        assert f"entry point alphanas_plugin_example:{cls}" in line

    out = tmp_path / "out.onnx"
    r = alphanas(["rewrite", str(demo_model), "-o", str(out), "--pass", "double-neg", "--pass", "relu-idempotent",
                  "--verify"], [installed])
    assert r.returncode == 0, r.stderr
    effects = {line.split(": ")[0].strip(): line for line in r.stdout.splitlines() if ": " in line}
    assert "no change" not in effects["double-neg"] and "no change" not in effects["relu-idempotent"]
    assert "verified with onnxruntime" in r.stdout
    before, after = ops(demo_model), ops(out)
    assert before.count("Neg") == 2 and before.count("Relu") == 2
    assert after.count("Neg") == 0 and after.count("Relu") == 1 and len(after) == len(before) - 3


def test_not_installed_means_unknown_until_plugin_flag(demo_model, tmp_path):
    from importlib import metadata

    if any(ep.value.startswith("alphanas_plugin_example") for ep in metadata.entry_points(group="alphanas.passes")):
        pytest.skip("the example plug-in is installed in this environment")
    out = tmp_path / "out.onnx"
    r = alphanas(["rewrite", str(demo_model), "-o", str(out), "--pass", "double-neg"], [])
    assert r.returncode == 2 and "unknown pass 'double-neg'" in r.stderr and not out.exists()
    r = alphanas(["rewrite", str(demo_model), "-o", str(out), "--plugin", "alphanas_plugin_example",
                  "--pass", "double-neg"], [EXAMPLE])
    assert r.returncode == 0, r.stderr
    assert ops(out).count("Neg") == 0
