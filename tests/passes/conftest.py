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
