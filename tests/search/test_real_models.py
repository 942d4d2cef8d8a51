"""Search on real models (issue 12): PyTorch-exported models lower, analyse, mutate and seed a search.

Models: the fidelity issue's exports (transformer encoder, LSTM, GRU, detection head, masked attention,
U-Net) and the image classifiers of the issue (three-convolution CNN, MobileNetV3-like, ConvNeXt-like),
all written by the legacy exporter with dynamic axes (tests/models/exported.py). A model either lowers
to torch and then matches onnxruntime, mutates and seeds a search, or is refused with one clear line.
"""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest

from alphanas.cli import main
from alphanas.errors import AlphanasError, UnsupportedModelError
from alphanas.ir.onnx_io import load_onnx, to_onnx
from alphanas.ir.runtime import random_feeds, session
from alphanas.synth.api import mutate
from alphanas.synth.problem import SynthesisFailed
from alphanas.synth.verify import lowering_blocker

MODELS = ("transformer", "lstm", "gru", "detection_head", "masked_attention", "unet", "cnn3", "mobilenetv3", "convnext")
#: the image classifiers a search can start from
CLASSIFIERS = ("cnn3", "mobilenetv3", "convnext")


@pytest.fixture(scope="module")
def model_path(exported_model):
    return lambda name: exported_model(name, "legacy")


@pytest.fixture(scope="module")
def blockers(model_path):
    """Model name -> why it does not lower to torch (None when it lowers), computed once."""
    cache: dict[str, str | None] = {}

    def get(name: str) -> str | None:
        if name not in cache:
            cache[name] = lowering_blocker(load_onnx(model_path(name)))
        return cache[name]

    return get


@pytest.mark.parametrize("name", MODELS)
def test_to_torch_matches_onnxruntime_in_eval_mode(name, model_path, blockers):
    from alphanas.ir.torch_lowering import to_torch
    from tests.models.exported import assert_lowered_matches

    graph = load_onnx(model_path(name))
    blocker = blockers(name)
    if blocker is not None:  # refused: one line naming the node
        assert "\n" not in blocker and "node" in blocker
        with pytest.raises(UnsupportedModelError):
            to_torch(graph)
        return
    feeds = random_feeds(graph, batch=2, seed=3)
    ref = session(to_onnx(graph).SerializeToString(), "cpu").run(None, feeds)
    assert_lowered_matches(to_torch(graph).eval(), graph, feeds, ref)


@pytest.mark.parametrize("name", MODELS)
def test_to_torch_at_the_data_sizes_matches_the_export(name, model_path):
    """Every model lowers once its sample sizes are those of the data (as ``train`` and ``search`` load it:
    the batch stays symbolic), including those whose symbolic form is refused above (the transformer's
    computed ``Reshape``, the detection head's ``Resize``); the module is in eval mode and matches
    onnxruntime on the original export within 1e-4 of the output scale."""
    from alphanas.ir.torch_lowering import to_torch
    from tests.models.exported import SPECS, assert_lowered_matches

    spec = SPECS[name]
    binding = spec.check_sizes("legacy")[0]
    shapes = {n: (None, *spec.shape(n, binding)[1:]) for n in spec.inputs}
    graph = load_onnx(model_path(name), input_shapes=shapes)
    feeds = spec.feeds(binding, seed=5)
    assert_lowered_matches(to_torch(graph), graph, feeds, session(model_path(name).read_bytes(), "cpu").run(None, feeds))


@pytest.mark.parametrize("name", MODELS)
def test_inspect_properties_succeeds(name, model_path, capsys):
    assert main(["inspect", "--properties", "--json", str(model_path(name))]) == 0
    report = json.loads(capsys.readouterr().out)
    props = report["properties"]["model"]["properties"]
    cost = props.get("cost")
    if cost is not None:  # unknown (symbolic) counts are None, never negative
        assert all(v is None or v >= 0 for v in cost.values() if not isinstance(v, dict))


@pytest.mark.parametrize("name", MODELS)
def test_mutate_two_of_three_seeds_verified(name, model_path, blockers):
    graph = load_onnx(model_path(name))
    if blockers(name) is not None:
        # the whole model does not lower (an LSTM, a computed Reshape): refused only when asked to be whole;
        # by default the rest is mutated, the region run in torch and the whole model in onnxruntime
        with pytest.raises(UnsupportedModelError, match="does not lower to torch"):
            mutate(graph, seed=1, budget_s=0.5, partial=False)
    ok = 0
    for seed in (1, 2, 3):
        try:
            res = mutate(graph, seed=seed, budget_s=2.0)
        except SynthesisFailed as e:
            assert "splicing failed" not in str(e) and "materialising" not in str(e)
            continue
        onnx.checker.check_model(to_onnx(res.graph), full_check=True)  # verified, and still a valid model
        assert res.not_lowered == blockers(name)
        if res.not_lowered is not None:  # onnxruntime runs the child on inputs the original takes
            original = session(to_onnx(graph).SerializeToString(), "cpu")
            for length in range(2, 40):  # (an export may have traced its example's sequence length)
                feeds = random_feeds(graph, batch=2, seed=seed, length=length)
                try:
                    original.run(None, feeds)
                    break
                except Exception:  # noqa: BLE001
                    continue
            outs = session(to_onnx(res.graph).SerializeToString(), "cpu").run(None, feeds)
            assert all(np.isfinite(o).all() for o in outs if o.dtype.kind == "f")
        ok += 1
    assert ok >= 2


def test_mutating_a_mutant_keeps_weight_names_apart(model_path):
    """The issue's splice bug: a synthesized weight named like one of the parent's (``syn_w_1``, from an
    earlier mutation) was skipped, leaving a convolution whose weight has no producer."""
    graph = load_onnx(model_path("cnn3"))
    done = 0
    for seed in range(1, 9):
        try:
            graph = mutate(graph, seed=seed, budget_s=2.0).graph
            done += 1
        except SynthesisFailed as e:
            assert "splicing failed" not in str(e)
    assert done >= 4
    graph.verify()
    assert sum(n.startswith("syn_") for n in graph.initializers) >= 1


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_three_trial_search_from_the_model(name, model_path, blockers, tmp_path, capsys):
    """A 3-trial search seeded by the exported model on a dataset that fits it (the synthetic dataset
    sized for it, the head re-targeted by --num-classes); no mutation attempt fails."""
    args = {"cnn3": ["--dataset", "digits"],
            "mobilenetv3": ["--dataset", "synthetic", "--in-channels", "3", "--input-size", "16", "--num-classes", "3"],
            "convnext": ["--dataset", "synthetic", "--in-channels", "3", "--input-size", "16", "--num-classes", "3"]}
    argv = ["search", str(model_path(name)), *args[name], "--trials", "3", "--epochs", "1", "--batch-size", "64",
            "--out", str(tmp_path / "s"), "--json"]
    if blockers(name) is not None:
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert "does not lower to torch" in err and len(err.splitlines()) == 1
        return
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["evaluations"] == 3 and out["counts"].get("done") == 3
    assert out["mutation_failures"] == 0


def test_search_says_what_to_change(model_path, capsys):
    path = str(model_path("convnext"))  # 3x16x16 images, 10 classes
    assert main(["search", path, "--dataset", "digits", "--trials", "1", "--epochs", "1", "--out", "unused"]) == 2
    err = capsys.readouterr().err
    assert "--dataset synthetic --in-channels 3 --input-size 16" in err and len(err.strip().splitlines()) == 1
    assert main(["search", str(model_path("cnn3")), "--dataset", "synthetic", "--trials", "1", "--epochs", "1",
                 "--out", "unused"]) == 2
    assert "use --num-classes 4" in capsys.readouterr().err
    assert main(["search", path, "--dataset", "digits", "--input-size", "16", "--trials", "1", "--epochs", "1",
                 "--out", "unused"]) == 2
    assert "--input-size: dataset 'digits' has fixed images" in capsys.readouterr().err


def test_retarget_head_keeps_the_other_weights(model_path):
    from alphanas.search.seeding import retarget_head

    before = load_onnx(model_path("cnn3"))
    after = load_onnx(model_path("cnn3"))
    desc = retarget_head(after, 4, seed=1)
    assert "10 -> 4 classes" in desc and after.outputs[0].shape[1] == 4
    head = {n.inputs[i].name for n in after.nodes if n.op_type == "Gemm" for i in (1, 2)}
    kept = [k for k in before.initializers if k in after.initializers and k not in head]
    assert kept and all(np.array_equal(before.initializers[k].const, after.initializers[k].const) for k in kept)
    feeds = random_feeds(after, batch=3, seed=0)
    (y,) = session(to_onnx(after).SerializeToString(), "cpu").run(None, feeds)
    assert y.shape == (3, 4)
    with pytest.raises(AlphanasError, match="at least 2"):
        retarget_head(after, 1)


def test_inapplicable_kinds_are_not_drawn(model_path):
    from alphanas.search.mutations import Mutator

    graph = load_onnx(model_path("cnn3"))  # no block with equal input and output shapes
    m = Mutator(budget_s=0.5)
    skip = m.inapplicable(graph)
    assert set(skip) == {"duplicate_block", "delete_block"}
    rng = np.random.default_rng(0)
    assert {m.choose(rng, skip) for _ in range(50)} == {"property"}


def test_nothing_eligible_says_what_was_considered():
    from alphanas.ir.builder import GraphBuilder
    from alphanas.synth.select import random_subgraph

    b = GraphBuilder("ints")
    x = b.input("x", ("N", 4), np.int64)
    graph = b.build(b.single_op("Neg", x))
    with pytest.raises(AlphanasError, match=r"considered 1 node\(s\), ineligible: 1 not float"):
        random_subgraph(graph, np.random.default_rng(0))


def test_blocks_of_published_architectures(model_path):
    """Inverted residuals, squeeze-and-excite gates, ConvNeXt and attention residuals and the U-Net's
    concatenation are found as blocks, and a mutation can be confined to each of them."""
    from alphanas.ir.blocks import find_blocks

    kinds = {name: [b.kind for b in find_blocks(load_onnx(model_path(name)))]
             for name in ("mobilenetv3", "convnext", "transformer", "unet")}
    assert kinds["mobilenetv3"].count("residual") == 2 and "gate" in kinds["mobilenetv3"]
    assert kinds["convnext"].count("residual") == 2
    assert "residual" in kinds["transformer"]
    assert "concat" in kinds["unet"]


def test_region_verification_above_the_flop_threshold(model_path, monkeypatch):
    """Above REGION_VERIFY_FLOPS the new region is verified end to end in context, the whole model by
    the IR and ONNX checks; the child is still a valid model that onnxruntime runs."""
    from alphanas.synth import api

    monkeypatch.setattr(api, "REGION_VERIFY_FLOPS", 0)
    graph = load_onnx(model_path("cnn3"))
    res = mutate(graph, seed=1, budget_s=2.0)
    feeds = random_feeds(res.graph, batch=2, seed=0)
    (y,) = session(to_onnx(res.graph).SerializeToString(), "cpu").run(None, feeds)
    assert y.shape == (2, 10) and np.isfinite(y).all()


def test_mutate_cli_mutates_the_rest_of_a_model_that_does_not_lower(model_path, blockers, tmp_path, capsys):
    refused = [n for n in MODELS if blockers(n) is not None]
    if not refused:
        pytest.skip("every exported model lowers to torch")
    for seed in (1, 2, 3):
        rc = main(["mutate", str(model_path(refused[0])), "-o", str(tmp_path / "c.onnx"), "--seed", str(seed),
                   "--force"])
        out, err = capsys.readouterr()
        if rc == 0:
            assert "does not lower to torch" in out and (tmp_path / "c.onnx").is_file()
            return
        assert rc == 1 and len(err.strip().splitlines()) == 1  # a synthesis that found nothing: one line
    pytest.fail("no seed of 1..3 mutated the model")


def test_mixing_reach_of_an_empty_or_unknown_axis_is_conservative():
    """``max() arg is an empty sequence`` on an output axis of size 0: the window's size is returned."""
    from alphanas.properties.mixing import _clipped_reach

    assert _clipped_reach((0, 1, -1, 1), 5, (0,)) == 3
    assert _clipped_reach((0, 1, -1, 1), 5, ("H",)) == 3
    assert _clipped_reach((0, 1, -1, 1), 5, (5,)) == 3
