"""Cost-directed mutation (``focus`` and ``pick="cheapest"``): where a mutation acts follows the
parameters, the cheapest pick never returns more FLOPs than the random pick of the same seed, its
FLOPs are those of the materialised subgraph, and the e2e benchmark's pre-trained seed is made once
and is what trial 0 starts from."""

from __future__ import annotations

import json
import re
import sqlite3

import numpy as np
import pytest

from alphanas.cli import main as cli_main
from alphanas.errors import AlphanasError
from alphanas.ir import zoo
from alphanas.ir.blocks import find_blocks
from alphanas.ir.cost import graph_flops, node_params
from alphanas.search import mutations as M
from alphanas.search.store import Store
from alphanas.synth import mutate, synthesize
from alphanas.synth.select import random_subgraph
from tests.synth.test_synthesize import chain_problem


@pytest.fixture(scope="module")
def resnet34():
    return zoo.build("resnet34", input_size=8, in_channels=1, num_classes=10, seed=0)


def test_focus_params_draws_blocks_in_proportion_to_their_parameters(resnet34):
    # shape-preserving ResNet-34 blocks, by hand: two bias-free 3x3 convs c->c plus two BNs (trainable
    # scale and bias: 2c each; running statistics are not parameters); 3 at c=64, 3 at 128, 5 at 256, 2 at 512
    def basic(c):
        return 2 * 9 * c * c + 2 * 2 * c

    total = 3 * basic(64) + 3 * basic(128) + 5 * basic(256) + 2 * basic(512)
    expected_layer4 = 2 * basic(512) / total  # 0.574; uniform would be 2/13 = 0.154
    blocks = M.shape_preserving_blocks(resnet34)
    assert len(blocks) == 13
    assert sum(M.block_cost(b, "params") for b in blocks) == total
    rng = np.random.default_rng(0)
    draws = [M.choose_block(blocks, rng, "params").name for _ in range(600)]
    share = sum(d.startswith("layer4") for d in draws) / len(draws)
    assert abs(share - expected_layer4) < 0.06
    uniform = [M.choose_block(blocks, rng).name for _ in range(600)]
    assert abs(sum(d.startswith("layer4") for d in uniform) / 600 - 2 / 13) < 0.05


def test_focus_params_starts_subgraphs_at_convolutions(resnet34):
    block = next(b for b in find_blocks(resnet34) if b.name == "layer3.1")
    nodes = list(block.subgraph.nodes)
    conv_params = sum(node_params(n) for n in nodes if n.op_type == "Conv")
    assert conv_params == 2 * 9 * 256 * 256
    rng = np.random.default_rng(1)
    with_conv = [any(n.op_type == "Conv" for n in random_subgraph(resnet34, rng, within=nodes, focus="params").nodes)
                 for _ in range(200)]
    uniform = [any(n.op_type == "Conv" for n in random_subgraph(resnet34, rng, within=nodes).nodes)
               for _ in range(200)]
    # a start at a conv always contains it; a uniform start lands on a conv 2 times in 7
    assert sum(with_conv) / 200 > 0.97
    assert sum(uniform) / 200 < 0.8


@pytest.mark.parametrize("seed", range(4))
def test_progressive_cheapest_is_never_costlier_than_the_random_pick_of_the_same_seed(seed):
    # with one seed both runs make the same choices until the first accepted result, which is what
    # pick="random" returns and the first entry of the pool pick="cheapest" chooses from. Both stop early
    # (random at its first result, cheapest at its 8th, within 0.3 s here); the budget is generous only so
    # that a loaded machine cannot turn a wall-clock limit into a failure
    rand = synthesize(chain_problem(seed=seed, budget_s=30.0), "progressive", verify=False)
    cheap = synthesize(chain_problem(seed=seed, budget_s=30.0, pick="cheapest"), "progressive", verify=False)
    assert cheap.distance == 0
    assert graph_flops(cheap.new) <= graph_flops(rand.new)
    # the FLOPs the synthesizer ranked by are those of the materialised subgraph (IR cost model)
    assert cheap.stats.flops == graph_flops(cheap.new)
    assert cheap.stats.satisfying >= 1


def test_cheapest_mutation_of_a_resnet34_stage4_block_shrinks_it(resnet34):
    from alphanas.ir.cost import graph_params

    before = graph_params(resnet34)
    res = mutate(resnet34, seed=11, synthesizer="progressive", block="layer4.1", budget_s=30.0, pick="cheapest",
                 focus="params")
    assert graph_params(res.graph) < before
    assert graph_flops(res.new) < graph_flops(res.old)


def test_reinitialized_weights_are_fresh_he_normal_with_reset_norms(resnet34):
    from alphanas.search.evaluators import reinitialize_weights

    trained = resnet34.copy()  # stand-in for trained weights: every 1-D tensor moved away from its init
    for v in trained.initializers.values():
        if v.const.ndim == 1:
            v.const = np.full(v.const.shape, 5.0, v.const.dtype)
    g = reinitialize_weights(trained, seed=3)
    assert [n.name for n in g.nodes] == [n.name for n in resnet34.nodes]
    conv = next(n for n in g.nodes if n.name == "layer4.1.conv1")
    w = conv.inputs[1].const
    assert w.shape == (512, 512, 3, 3) and abs(w.std() / np.sqrt(2 / (512 * 9)) - 1) < 0.02
    assert not np.array_equal(w, next(n for n in resnet34.nodes if n.name == "layer4.1.conv1").inputs[1].const)
    bn = next(n for n in g.nodes if n.op_type == "BatchNormalization")
    scale, bias, mean, var = (bn.inputs[i].const for i in (1, 2, 3, 4))
    assert (scale == 1).all() and (bias == 0).all() and (mean == 0).all() and (var == 1).all()
    fc = next(n for n in g.nodes if n.op_type == "Gemm")
    assert (fc.inputs[2].const == 0).all()
    # the original is untouched, and the same seed gives the same weights
    assert not np.array_equal(resnet34.initializers[conv.inputs[1].name].const, w)
    again = reinitialize_weights(trained, seed=3)
    assert all(np.array_equal(again.initializers[k].const, v.const) for k, v in g.initializers.items())


def test_bad_pick_or_focus_is_a_user_error(resnet34):
    with pytest.raises(AlphanasError, match="unknown pick"):
        M.Mutator("property", pick="smallest")
    with pytest.raises(AlphanasError, match="unknown focus"):
        M.Mutator("property", focus="latency")
    with pytest.raises(AlphanasError, match="unknown focus"):
        mutate(resnet34, seed=0, focus="bytes")


def test_e2e_pretrains_the_seed_once_and_trial_0_starts_from_it(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["benchmark", "e2e", "--out", str(out), "--model", "cnn", "--width", "4", "--dataset", "synthetic",
            "--trials", "2", "--epochs", "1", "--seed-epochs", "2", "--strategy", "random_edit",
            "--probabilities", "random_edit=1", "--json"]
    assert cli_main(argv) == 0
    data = json.loads(capsys.readouterr().out)
    seeds = sorted(out.glob("seed_*.onnx"))
    # not the default recipe (dataset synthetic): the name carries the recipe's digest
    assert len(seeds) == 1 and re.fullmatch(r"seed_cnn_w4_trained_e2_s0_r[0-9a-f]{8}\.onnx", seeds[0].name)
    stamp = seeds[0].stat().st_mtime_ns
    with Store(out) as store:
        config = store.config()
        seed = next(c for c in store.candidates() if c.trial == 0)
    assert config["seed_model"] == str(seeds[0].resolve()) and config.get("pick") == "cheapest"
    assert data["seed_params"] == int(seed.metrics["params"])
    # the stored seed model carries the pre-trained weights, not the zoo's initial ones
    from alphanas.ir import load_onnx

    from alphanas.search.evaluators import cached_dataset

    ds = cached_dataset("synthetic")
    c, h, _ = ds.input_shape
    fresh = zoo.build("cnn", input_size=h, in_channels=c, num_classes=ds.num_classes, seed=0, width=4)
    trained = load_onnx(seeds[0])
    assert any(not np.array_equal(trained.initializers[k].const, v.const) for k, v in fresh.initializers.items()
               if k in trained.initializers)
    # the same command again reuses the file and the store
    assert cli_main(argv) == 0
    again = json.loads(capsys.readouterr().out)
    assert seeds[0].stat().st_mtime_ns == stamp and again["seed_test_acc"] == data["seed_test_acc"]
    # the control retrains the reported architecture from fresh weights (when it is not the seed)
    assert cli_main(argv[:-1] + ["--retrain-best", "1", "--tolerance", "100", "--json"]) == 0
    control = json.loads(capsys.readouterr().out)
    if control["best_id"] != seed.id:
        r = control["retrained_from_scratch"]
        assert r["id"] == control["best_id"] and r["epochs"] == 1 and 0 <= r["test_acc"] <= 1
        assert (out / f"retrain_{r['id']}_e1_s0.json").is_file()
    # a folder made before seed names carried their recipe (the seed file without the digest, the store
    # pointing at it) resumes with that file: nothing is pre-trained again
    legacy = out / "seed_cnn_w4_trained_e2_s0.onnx"
    seeds[0].rename(legacy)
    with sqlite3.connect(out / "search.db") as db:
        db.execute("UPDATE config SET value=? WHERE key='seed_model'", (json.dumps(str(legacy.resolve())),))
    db.close()
    assert cli_main(argv) == 0
    assert json.loads(capsys.readouterr().out)["seed_test_acc"] == data["seed_test_acc"]
    assert sorted(out.glob("seed_*.onnx")) == [legacy] and legacy.stat().st_mtime_ns == stamp
    assert cli_main(["benchmark", "e2e", "--out", str(tmp_path / "x"), "--seed-epochs", "-1"]) == 2
