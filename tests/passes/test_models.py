"""Every built-in pass, and the default pipeline, keep outputs equal (onnxruntime, <= 1e-4 relative)
on the nine onnx light models and on every zoo model (with random weights)."""

from __future__ import annotations

import functools

import pytest

from alphanas import zoo
from alphanas.passes import available, default_pipeline, get_pass
from alphanas.passes.equivalence import compare, reference_outputs
from alphanas.ir.runtime import random_feeds
from tests.passes.conftest import LIGHT_MODELS, light_model, zoo_model
from alphanas.ir.hashing import structural_hash

BUILTIN = [n for n, cls in available().items() if cls.__module__.startswith("alphanas.passes.")]
CASES = BUILTIN + ["default-pipeline"]


def test_light_models_are_all_there():
    assert len(LIGHT_MODELS) == 9


@functools.lru_cache(maxsize=None)
def _reference(kind: str, name: str):
    g = light_model(name) if kind == "light" else zoo_model(name)
    return reference_outputs(g, [random_feeds(g, batch=2, seed=0)])


def _check(kind: str, name: str, case: str) -> None:
    g = light_model(name) if kind == "light" else zoo_model(name)
    before_hash = structural_hash(g)
    if case == "default-pipeline":
        result = default_pipeline().run(g)  # a copy, verified after each pass
    else:
        work = g.copy()
        result = get_pass(case)(work)
        result.graph.verify()
    assert structural_hash(g) == before_hash, "the pass mutated its input through shared state"
    out = result.graph
    if not result.modified:
        assert structural_hash(out) == before_hash, f"{case} changed the graph but reported modified=False"
        return
    eq = compare(g, out, batch=2, seed=0, reference=_reference(kind, name))
    assert eq.ok, f"{case} on {name}: {eq.message}"


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("name", LIGHT_MODELS)
def test_light_model(name, case):
    _check("light", name, case)


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("name", zoo.names())
def test_zoo_model(name, case):
    _check("zoo", name, case)


# hand counts of the BatchNormalization nodes that cannot fold: none where every BN follows a
# single-use Conv; DenseNet-121 is pre-activation, 121 BNs of which only the stem's and the second of
# each of its 58 dense layers follow a Conv, so 121 - 59 = 62 stay
@pytest.mark.parametrize("name,left", [("light_resnet50", 0), ("light_inception_v2", 0), ("light_densenet121", 62),
                                       ("light_shufflenet", 0)])
def test_pipeline_folds_batch_norms(name, left):
    g = light_model(name)
    out = default_pipeline().run(g).graph
    assert sum(n.op_type == "BatchNormalization" for n in g.nodes) > left
    assert sum(n.op_type == "BatchNormalization" for n in out.nodes) == left
    assert len(out.nodes) < len(g.nodes)
