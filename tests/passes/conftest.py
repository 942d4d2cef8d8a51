"""Shared model loaders for the pass tests (cached per worker: the light models are large)."""

from __future__ import annotations

import functools
import os

import onnx
import pytest

LIGHT_DIR = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "light")
LIGHT_MODELS = sorted(f[: -len(".onnx")] for f in os.listdir(LIGHT_DIR) if f.endswith(".onnx"))


@functools.lru_cache(maxsize=None)
def light_model(name: str):
    """A light model with random weights (the shipped ones are constant-filled, which hides bugs)."""
    from alphanas.ir import load_onnx
    from alphanas.passes.equivalence import randomize_weights

    return randomize_weights(load_onnx(os.path.join(LIGHT_DIR, name + ".onnx")), seed=0)


@functools.lru_cache(maxsize=None)
def zoo_model(name: str):
    from alphanas import zoo
    from alphanas.passes.equivalence import randomize_weights

    return randomize_weights(zoo.build(name, input_size=16, in_channels=3, num_classes=7, seed=0), seed=1)


@pytest.fixture(scope="session")
def light_path():
    return lambda name: os.path.join(LIGHT_DIR, name + ".onnx")


def demo_graph():
    """A small model the default pipeline and the example plug-in have work on: a transpose pair, Conv+BN,
    Neg(Neg(x)), Relu(Relu(x)) (random BN statistics so the fold is not trivially the identity)."""
    from alphanas.ir.builder import GraphBuilder
    from alphanas.passes.equivalence import randomize_weights

    b = GraphBuilder("demo", seed=0)
    x = b.input("x", ("N", 3, 8, 8))
    y = b.transpose(b.transpose(x, [0, 2, 3, 1], name="to_nhwc"), [0, 3, 1, 2], name="to_nchw")
    y = b.batchnorm(b.conv(y, 4, kernel=3))
    y = b.op("Neg", b.op("Neg", y, name="neg1"), name="neg2")
    y = b.relu(b.relu(y, name="relu1"), name="relu2")
    return randomize_weights(b.build(b.sigmoid(b.global_avgpool(y))), seed=0)


@pytest.fixture
def demo_model(tmp_path):
    """Path of :func:`demo_graph` saved as ONNX."""
    from alphanas.ir import save_onnx

    path = tmp_path / "demo.onnx"
    save_onnx(demo_graph(), path)
    return path


@pytest.fixture
def clean_registry(monkeypatch):
    """Passes registered by a test (or a ``--plugin`` it loads) disappear after it."""
    from alphanas.passes import registry

    registry.available()
    monkeypatch.setattr(registry, "_PASSES", dict(registry._PASSES))
    monkeypatch.setattr(registry, "_ORIGIN", dict(registry._ORIGIN))
