"""The Property protocol: seeded mutation is deterministic, distance is 0 exactly when satisfied (checked
against independent satisfaction predicates), JSON round trips, entry-point plug-ins reach the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from alphanas.cli import main
from alphanas.ir import save_onnx
from alphanas.properties import CostProperty, DepthProperty, MixingProperty, PropertySet, ShapeProperty
from tests.plugin_util import fake_distribution
from tests.properties.cases import zoo_graph

_SETTINGS = dict(derandomize=True, deadline=None, database=None)


def _block_props():
    from alphanas.ir.blocks import find_blocks

    g = zoo_graph("resnet_small")
    block = next(b for b in find_blocks(g) if b.kind == "residual")
    return PropertySet.infer(block.subgraph, ("shape", "depth", "mixing", "cost"))


def test_mutate_is_deterministic_per_seed():
    props = _block_props()
    runs = [props.mutate(np.random.default_rng(seed), 0.5) for seed in (1, 1, 2, 3, 4, 5)]
    assert runs[0] == runs[1]
    assert runs[0].to_json() == runs[1].to_json()
    assert len({json.dumps(r.to_json(), sort_keys=True) for r in runs}) > 2  # other seeds: other mutations
    assert props.mutate(np.random.default_rng(0), 0.0) == PropertySet({**props, "cost": props["cost"]})


def test_mutation_semantics():
    props = _block_props()
    for seed in range(20):
        m = props.mutate(np.random.default_rng(seed), 0.8)
        assert m["mixing"].satisfied_by(props["mixing"])  # mixing mutation only deletes requirements
        for (_, _, d0), (_, _, d1) in zip(props["depth"].pairs(), m["depth"].pairs()):
            assert abs(d0 - d1) <= 2 and d1 >= 0
    assert props.satisfied_by(props) and props.distance(props) == 0


# -- distance == 0 exactly when satisfied, against predicates written here --------------------------

cells = st.integers(0, 3)


@st.composite
def mixing_pair(draw):
    n_in, n_out = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    ranks_in = [draw(st.integers(1, 3)) for _ in range(n_in)]
    ranks_out = [draw(st.integers(1, 3)) for _ in range(n_out)]

    def prop():
        return MixingProperty([[draw(st.none() | st.lists(st.lists(cells, min_size=ro, max_size=ro),
                                                          min_size=ri, max_size=ri))
                                for ro in ranks_out] for ri in ranks_in])

    return prop(), prop()


def mixing_satisfied(t: MixingProperty, c: MixingProperty) -> bool:
    for i, row in enumerate(t.matrices):
        for j, m in enumerate(row):
            if m is None:
                continue
            cm = c.matrices[i][j]
            cand = np.zeros_like(np.array(m)) if cm is None else np.array(cm)
            if (np.array(m) > cand).any():
                return False
    return True


@settings(max_examples=150, **_SETTINGS)
@given(mixing_pair())
def test_mixing_distance_zero_iff_satisfied(pair):
    t, c = pair
    d = t.distance(c)
    assert d >= 0
    assert (d == 0) == mixing_satisfied(t, c) == t.satisfied_by(c)


depth_cell = st.none() | st.integers(0, 9)


@settings(max_examples=150, **_SETTINGS)
@given(st.integers(1, 3), st.integers(1, 3), st.data())
def test_depth_distance_zero_iff_satisfied(n_in, n_out, data):
    grid = st.lists(st.lists(depth_cell, min_size=n_out, max_size=n_out), min_size=n_in, max_size=n_in)
    t, c = DepthProperty(data.draw(grid)), DepthProperty(data.draw(grid))
    expected = all(td is None or (cd is not None and cd >= td)
                   for tr, cr in zip(t.depths, c.depths) for td, cd in zip(tr, cr))
    d = t.distance(c)
    assert d >= 0 and (d == 0) == expected == t.satisfied_by(c)


dims = st.sampled_from(["N", 1, 2, 3, 4, 6, 8])


@settings(max_examples=150, **_SETTINGS)
@given(st.lists(dims, min_size=2, max_size=4), st.data())
def test_shape_distance_zero_iff_satisfied(shape, data):
    other = data.draw(st.lists(dims, min_size=len(shape) - 1, max_size=len(shape) + 1))
    t = ShapeProperty([("N", 3, 8, 8)], [tuple(shape), data.draw(st.none() | st.just(tuple(shape)))])
    c = ShapeProperty([("N", 3, 8, 8)], [tuple(other), tuple(shape)])
    d = t.distance(c)
    expected = tuple(other) == tuple(shape)  # exact shapes are required (ShapeProperty ships p = 0)
    assert d >= 0 and (d == 0) == expected == t.satisfied_by(c)


@settings(max_examples=100, **_SETTINGS)
@given(st.lists(st.none() | st.integers(0, 10**6), min_size=4, max_size=4),
       st.lists(st.none() | st.integers(0, 10**6), min_size=4, max_size=4))
def test_cost_distance_zero_iff_within_budget(budget, counts):
    t, c = CostProperty(*budget), CostProperty(*counts)
    expected = all(b is None or x is None or x <= b for b, x in zip(budget, counts))
    d = t.distance(c)
    assert d >= 0 and (d == 0) == expected == t.satisfied_by(c)


def test_json_round_trip():
    props = _block_props()
    back = PropertySet.from_json(json.loads(json.dumps(props.to_json())))
    assert back == props


# -- plug-ins -------------------------------------------------------------------------------------------

PLUGIN = '''
from alphanas.properties import Property


class NodeCountProperty(Property):
    """Number of nodes, as a budget (a plug-in property without an abstract domain)."""

    name = "nodecount"
    domain = None

    def __init__(self, count):
        self.count = count

    @classmethod
    def infer(cls, graph):
        return cls(len(graph.nodes))

    def distance(self, candidate):
        return max(0, candidate.count - self.count) / max(self.count, 1)

    def mutate(self, rng, p):
        return NodeCountProperty(self.count + int(rng.integers(-1, 2)))

    def to_json(self):
        return {"count": self.count}

    @classmethod
    def from_json(cls, d):
        return cls(d["count"])

    def describe(self):
        return f"nodecount {self.count}"
'''


def test_entry_point_plugin_appears_in_cli(tmp_path):
    """A package declaring ``[alphanas.properties] nodecount = ...`` (a dist-info on sys.path, as pip installs
    it) is inferred by ``inspect --properties`` for the model and every block, in a fresh interpreter."""
    site = tmp_path / "site"
    (site / "nodecount_plugin").mkdir(parents=True)
    (site / "nodecount_plugin" / "__init__.py").write_text(PLUGIN)
    fake_distribution(site, "nodecount-plugin", "[alphanas.properties]\nnodecount = nodecount_plugin:NodeCountProperty\n",
                      version="0.1")
    model = tmp_path / "m.onnx"
    save_onnx(zoo_graph("resnet_small"), model)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.getcwd()])}
    out = subprocess.run([sys.executable, "-m", "alphanas.cli", "inspect", str(model), "--properties", "--json"],
                         capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    rep = json.loads(out.stdout)["properties"]
    assert "nodecount" in rep["properties"]
    assert rep["model"]["properties"]["nodecount"] == {"count": 31}
    assert sum(b["properties"]["nodecount"]["count"] for b in rep["blocks"]) == 31
    text = subprocess.run([sys.executable, "-m", "alphanas.cli", "inspect", str(model), "--properties"],
                          capture_output=True, text=True, env={**env, "COLUMNS": "200"}, timeout=120)
    assert text.returncode == 0, text.stderr
    assert "nodecount 31" in text.stdout
    # without the package the property is unknown
    plain = subprocess.run([sys.executable, "-m", "alphanas.cli", "inspect", str(model), "--properties", "--json"],
                           capture_output=True, text=True, env={**os.environ, "PYTHONPATH": os.getcwd()}, timeout=120)
    assert "nodecount" not in json.loads(plain.stdout)["properties"]["properties"]


def test_inspect_properties_json_and_text(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # rich folds long cells on narrow terminals
    model = tmp_path / "m.onnx"
    g = zoo_graph("resnet_small")
    save_onnx(g, model)
    assert main(["inspect", str(model), "--properties", "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)["properties"]
    assert rep["properties"][:4] == ["shape", "depth", "mixing", "cost"]
    whole = rep["model"]["properties"]
    expected = PropertySet.infer(g, ("shape", "depth", "mixing", "cost"))
    assert PropertySet.from_json({k: whole[k] for k in expected}) == expected
    kinds = [b["kind"] for b in rep["blocks"]]
    assert kinds.count("residual") == 3 and sum(b["nodes"] for b in rep["blocks"]) == len(g.nodes)
    for b in rep["blocks"]:
        assert set(b) >= {"name", "kind", "nodes", "inputs", "outputs", "properties"}
        assert len(b["properties"]["mixing"]["matrices"]) == len(b["inputs"])
    assert main(["inspect", str(model), "--properties"]) == 0
    text = capsys.readouterr().out
    assert "whole model" in text and "blocks (5)" in text and "1...|AAAA|..M.|...M" in text
    assert main(["inspect", str(model)]) == 0
    assert "whole model" not in capsys.readouterr().out  # only with --properties
