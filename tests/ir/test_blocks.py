"""Block detection: recorded zoo blocks, structural fork/join regions on imported ONNX models."""

from __future__ import annotations

import json
import os
from collections import Counter

import onnx
import pytest

import alphanas
from alphanas.ir.blocks import BLOCKS_KEY, KINDS_KEY, find_blocks
from alphanas.ir.builder import GraphBuilder
from alphanas.ir.onnx_io import from_onnx, to_onnx

LIGHT = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "light")


def _light(name):
    return alphanas.load_onnx(os.path.join(LIGHT, f"light_{name}.onnx"))


def _assert_partition(graph, blocks):
    """Blocks are disjoint, cover every node, and come in topological order."""
    ids = [id(n) for b in blocks for n in b.nodes]
    assert len(ids) == len(set(ids)) == len(graph.nodes)
    order = {id(n): i for i, n in enumerate(graph.nodes)}
    firsts = [min(order[id(n)] for n in b.nodes) for b in blocks]
    assert firsts == sorted(firsts)


# -- imported models (structural detection) --------------------------------------------------------

# Hand counts: ResNet-50 has 3+4+6+3 bottleneck blocks; GoogLeNet 9 inception modules (3a-5b);
# SqueezeNet 8 fire modules; DenseNet-121 6+12+24+16 dense layers (each ends in a Concat in this
# export, so each is one region) with stem, 3 transitions and head as chains.
LIGHT_COUNTS = {
    "resnet50": {"residual": 16, "chain": 17},
    "inception_v1": {"concat": 9, "chain": 4},
    "squeezenet": {"concat": 8, "chain": 9},
    "densenet121": {"concat": 58, "chain": 5},
}


@pytest.mark.parametrize("name", sorted(LIGHT_COUNTS))
def test_light_models_structural_blocks(name):
    g = _light(name)
    assert BLOCKS_KEY not in g.metadata
    blocks = find_blocks(g)
    _assert_partition(g, blocks)
    assert Counter(b.kind for b in blocks) == LIGHT_COUNTS[name]
    assert all(b.origin == "structure" for b in blocks)
    for b in blocks:
        if b.kind == "chain":
            continue
        join = b.nodes[-1]
        assert join.op_type == {"residual": "Add", "concat": "Concat"}[b.kind]
        # a fork/join region is entered through one value and left through the join's output
        assert len(b.subgraph.inputs) == 1 and b.subgraph.outputs == [join.outputs[0]]


def test_resnet50_bottleneck_shapes():
    blocks = [b for b in find_blocks(_light("resnet50")) if b.kind == "residual"]
    convs = [sum(n.op_type == "Conv" for n in b.nodes) for b in blocks]
    # 3 convolutions per bottleneck, plus the projection shortcut in the first block of each stage
    assert convs == [4, 3, 3, 4, 3, 3, 3, 4, 3, 3, 3, 3, 3, 4, 3, 3]


def test_inception_and_fire_modules():
    mods = [b for b in find_blocks(_light("inception_v1")) if b.kind == "concat"]
    assert [len(b.nodes) for b in mods] == [14] * 9  # 4 branches: 2 + 4 + 4 + 3 nodes, and the Concat
    assert all(len(b.nodes[-1].inputs) == 4 for b in mods)
    fires = [b for b in find_blocks(_light("squeezenet")) if b.kind == "concat"]
    assert [sorted(n.op_type for n in b.nodes) for b in fires] == [["Concat", "Conv", "Conv", "Relu", "Relu"]] * 8


def test_outermost_region_per_join_torchvision_style_dense_block():
    """Every dense layer reads all earlier features: one region for the whole dense block."""
    b = GraphBuilder("dense", seed=0)
    x = b.input("x", ("N", 3, 8, 8))
    feats = [b.conv(x, 8, 3, name="stem")]
    for i in range(3):
        inp = feats[0] if len(feats) == 1 else b.concat(feats, name=f"cat{i}")
        feats.append(b.relu(b.conv(inp, 4, 3, name=f"layer{i}.conv"), name=f"layer{i}.relu"))
    out = b.concat(feats, name="cat_final")
    g = b.build(b.dense(b.flatten(b.global_avgpool(out)), 2))
    blocks = find_blocks(g)
    _assert_partition(g, blocks)
    assert [b.kind for b in blocks] == ["chain", "concat", "chain"]
    assert blocks[1].nodes[-1].name == "cat_final" and len(blocks[1].nodes) == 2 * 3 + 2 + 1


# -- zoo models (recorded blocks) --------------------------------------------------------------------

# name -> (recorded kinds, structural kinds when the metadata is ignored), counted by hand
ZOO_COUNTS = {
    "cnn": ({"conv": 2, "head": 1}, {"chain": 1}),
    "resnet_small": ({"stem": 1, "residual": 3, "head": 1}, {"residual": 3, "chain": 4}),
    "resnet18": ({"stem": 1, "residual": 8, "head": 1}, {"residual": 8, "chain": 9}),
    "resnet34": ({"stem": 1, "residual": 16, "head": 1}, {"residual": 16, "chain": 17}),
    # 17 inverted residuals; 10 have a skip (all but the first of each of the 7 stages)
    "mobilenetv2": ({"stem": 1, "mbconv": 17, "head": 1}, {"residual": 10, "chain": 6}),
    # 16 MBConvs, all with squeeze-excite; 9 have a skip and hold their SE gate inside
    "efficientnet_b0": ({"stem": 1, "mbconv": 16, "head": 1}, {"residual": 9, "gate": 7, "chain": 13}),
    "vit_ti16": ({"stem": 1, "attention": 12, "mlp": 12, "head": 1}, {"residual": 24, "chain": 2}),
}


@pytest.mark.parametrize("name", sorted(ZOO_COUNTS))
def test_zoo_recorded_and_structural_blocks(name):
    g = alphanas.zoo.build(name, input_size=32, in_channels=3, num_classes=10)
    recorded, structural = ZOO_COUNTS[name]
    blocks = find_blocks(g)
    _assert_partition(g, blocks)
    assert Counter(b.kind for b in blocks) == recorded
    assert all(b.origin == "metadata" for b in blocks)
    detected = find_blocks(g, use_metadata=False)
    _assert_partition(g, detected)
    assert Counter(b.kind for b in detected) == structural


def test_structural_regions_agree_with_recorded_blocks():
    g = alphanas.zoo.build("resnet18")
    recorded = {b.name: {n.name for n in b.nodes} for b in find_blocks(g) if b.kind == "residual"}
    detected = [{n.name for n in b.nodes} for b in find_blocks(g, use_metadata=False) if b.kind == "residual"]
    # the detected region ends at the Add; the recorded block also holds the ReLU after it
    assert detected == [nodes - {f"{name}.relu2"} for name, nodes in recorded.items()]
    v = alphanas.zoo.build("vit_ti16", input_size=8, in_channels=1, depth=2)
    recorded = [[n.name for n in b.nodes] for b in find_blocks(v) if b.kind in ("attention", "mlp")]
    detected = [[n.name for n in b.nodes] for b in find_blocks(v, use_metadata=False) if b.kind == "residual"]
    assert recorded == detected


@pytest.mark.parametrize("name", ["mobilenetv2", "vit_ti16"])
def test_recorded_blocks_survive_onnx_round_trip(name):
    g = alphanas.zoo.build(name, input_size=8, in_channels=1, num_classes=10)
    model = to_onnx(g)
    assert {p.key for p in model.metadata_props} >= {BLOCKS_KEY, KINDS_KEY}
    back = from_onnx(model)
    assert back.metadata[BLOCKS_KEY] == g.metadata[BLOCKS_KEY]
    before = {b.name: (b.kind, [n.name for n in b.nodes]) for b in find_blocks(g)}
    after = {b.name: (b.kind, [n.name for n in b.nodes]) for b in find_blocks(back)}
    _assert_partition(back, find_blocks(back))
    if name == "mobilenetv2":
        # import drops Dropout; its name stays in the metadata and is ignored
        assert "dropout" in json.loads(back.metadata[BLOCKS_KEY])["head"]
        before["head"][1].remove("dropout")
    assert after == before


def test_unrecorded_nodes_fall_back_to_structure():
    g = alphanas.zoo.build("resnet18")
    recorded = json.loads(g.metadata[BLOCKS_KEY])
    dropped = recorded.pop("layer2.1")
    recorded["stem"].append("no_such_node")  # names that no longer exist are ignored
    g.metadata[BLOCKS_KEY] = json.dumps(recorded)
    blocks = find_blocks(g)
    _assert_partition(g, blocks)
    assert "layer2.1" not in {b.name for b in blocks}
    [region] = [b for b in blocks if b.origin == "structure" and b.kind == "residual"]
    [relu] = [b for b in blocks if b.origin == "structure" and b.kind == "chain"]
    assert [n.name for n in region.nodes] + [n.name for n in relu.nodes] == dropped
    assert [n.name for n in next(b for b in blocks if b.name == "stem").nodes] == ["conv1", "bn1", "relu"]


def test_malformed_metadata_warns_and_detects():
    g = alphanas.zoo.build("resnet_small")
    g.metadata[BLOCKS_KEY] = "{not json"
    with pytest.warns(UserWarning, match="malformed"):
        blocks = find_blocks(g)
    assert Counter(b.kind for b in blocks) == {"residual": 3, "chain": 4}


def _insert_relu_after(g, node_name, new_name):
    """Put a new Relu between ``node_name`` and all its users (like an insert-activation mutation)."""
    old = g.node(node_name).outputs[0]
    uses = list(old.uses)
    new = g.add_node("Relu", [old], name=new_name, index=g.nodes.index(g.node(node_name)) + 1).outputs[0]
    for user, i in uses:
        user.set_input(i, new)
    g.verify()


def test_nodes_added_inside_a_recorded_block_join_it():
    g = alphanas.zoo.build("resnet_small")
    _insert_relu_after(g, "layer2.0.bn2", "inside")  # inside layer2.0: its only neighbour block
    _insert_relu_after(g, "relu", "between")  # between the stem and layer1.0: stays a chain of its own
    blocks = {b.name: b for b in find_blocks(g)}
    _assert_partition(g, list(blocks.values()))
    assert "inside" in {n.name for n in blocks["layer2.0"].nodes}
    [chain] = [b for b in blocks.values() if b.origin == "structure"]
    assert chain.kind == "chain" and [n.name for n in chain.nodes] == ["between"]
