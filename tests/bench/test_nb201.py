"""NAS-Bench-201: cells as IR graphs (vs a hand-written torch cell and onnxruntime), isomorphism
hashing, fragment properties by hand, property-guided mutation, the table protocol, the three
searches and the benchmark command. A generated table with the real columns stands in for the real
one; one test uses the real table when ``../shared/data/nb201/cifar10.csv`` exists."""

import csv
import hashlib
import itertools
import json
import random
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from alphanas.bench import nb201 as bench
from alphanas.bench.nb201 import (EDGES, OPS, Cell, NB201Table, PropertySearchConfig, TableError,
                                   TabularEvaluator, best_by_validation, cell_from_graph, cell_graph, cell_hash,
                                   cell_signature,
                                   fragment_properties, property_mutation, random_edge_mutation, run_search)
from alphanas.ir.graph import Graph
from alphanas.ir.runtime import run as ort_run

EXAMPLE = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"


def _noise(arch: str, salt: str) -> float:
    return int(hashlib.sha256((salt + arch).encode()).hexdigest()[:8], 16) / 0xFFFFFFFF


def write_table(path: Path, drop: tuple[str, ...] = ()) -> Path:
    """All 15,625 cells with the real columns: accuracy grows with convolutions, plus hashed noise."""
    columns = [c for c in ("index", "arch", "val_acc_12ep", "test_acc_12ep", "test_acc_200ep", "params_m", "flops_m")
               if c not in drop]
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(columns)
        for index, ops in enumerate(itertools.product(OPS, repeat=len(EDGES))):
            arch = str(Cell(ops))
            score = 4 * ops.count("nor_conv_3x3") + 2 * ops.count("nor_conv_1x1") + ops.count("skip_connect")
            row = {"index": index, "arch": arch, "val_acc_12ep": 50 + score + 3 * _noise(arch, "v"),
                   "test_acc_12ep": 55 + score, "test_acc_200ep": 60 + score + 3 * _noise(arch, "t"),
                   "params_m": 0.1 * score, "flops_m": 10.0 * score}
            w.writerow([row[c] for c in columns])
    return path


@pytest.fixture(scope="module")
def table_path(tmp_path_factory):
    return write_table(tmp_path_factory.mktemp("nb201") / "synthetic.csv")


@pytest.fixture(scope="module")
def table(table_path):
    return NB201Table(table_path)


# -- cells ------------------------------------------------------------------------------------------


def test_cell_string_round_trip_and_errors():
    cell = Cell.parse(EXAMPLE)
    assert str(cell) == EXAMPLE
    assert cell.op(2, 1) == "avg_pool_3x3" and cell.op(3, 0) == "skip_connect"
    assert cell.ops == ("nor_conv_3x3", "nor_conv_3x3", "avg_pool_3x3", "skip_connect", "nor_conv_3x3", "skip_connect")
    for bad in ("", "|nor_conv_3x3~0|", EXAMPLE.replace("avg_pool_3x3", "max_pool"), EXAMPLE.replace("~2|", "|"),
                "|a~0|+|b~0|c~1|+|d~0|e~1|"):
        with pytest.raises(TableError):
            Cell.parse(bad)


def _torch_cell(cell: Cell, graph, x: torch.Tensor) -> torch.Tensor:
    """NAS-Bench-201's cell written directly in torch with the graph's weights (inference BN)."""
    w = {k: torch.from_numpy(v) for k, v in graph.weights.items()}
    nodes = [x]  # None: a node whose value the graph dropped (it cannot reach the output)
    for j in range(1, 4):
        total = torch.zeros_like(x)
        for i in range(j):
            op, h = cell.op(j, i), nodes[i]
            prefix = f"n{j}.e{i}.{op}"
            if op == "none" or (h is not None and not h.any()):  # zero edge, or any op of a zero node
                continue
            if h is None:
                total = None
                break
            if op == "skip_connect":
                total = total + h
            elif op == "avg_pool_3x3":
                total = total + F.avg_pool2d(h, 3, 1, 1, count_include_pad=False)
            elif f"{prefix}.conv.weight" not in w:
                total = None
                break
            else:
                y = F.conv2d(F.relu(h), w[f"{prefix}.conv.weight"], padding=1 if op.endswith("3x3") else 0)
                total = total + F.batch_norm(y, w[f"{prefix}.bn.running_mean"], w[f"{prefix}.bn.running_var"],
                                             w[f"{prefix}.bn.weight"], w[f"{prefix}.bn.bias"], eps=1e-5)
        nodes.append(total)
    assert nodes[3] is not None, "the graph dropped a node the output needs"
    return nodes[3]


@pytest.mark.parametrize("arch", [
    EXAMPLE,
    "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|",
    "|none~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|none~0|avg_pool_3x3~1|nor_conv_1x1~2|",  # node 1 is zero
    "|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|nor_conv_3x3~2|",  # the output is zero
])
def test_cell_graph_matches_torch_cell_under_onnxruntime(arch):
    cell = Cell.parse(arch)
    graph = cell_graph(cell, channels=4, size=8, seed=3)
    assert cell_from_graph(graph) == cell
    x = np.random.default_rng(0).standard_normal((2, 4, 8, 8)).astype(np.float32)
    (got,) = ort_run(graph, {"x": x}, provider="cpu")
    expected = _torch_cell(cell, graph, torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_cell_graph_counts_params_by_hand():
    # conv 3x3: 16*16*9 weights, conv 1x1: 16*16, each with a BN of 2*16 parameters (running stats are buffers)
    cell = Cell.parse(EXAMPLE)
    convs3, convs1 = cell.ops.count("nor_conv_3x3"), cell.ops.count("nor_conv_1x1")
    graph = cell_graph(cell)
    assert sum(n.op_type == "Conv" for n in graph.nodes) == convs3 + convs1
    assert sum(n.op_type == "AveragePool" for n in graph.nodes) == 1
    conv_weights = sum(v.size for k, v in graph.weights.items() if k.endswith("conv.weight"))
    assert conv_weights == convs3 * 16 * 16 * 9 + convs1 * 16 * 16


def test_isomorphic_and_dead_edge_cells_hash_equal():
    skip_only = Cell.parse("|none~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|")
    same = [
        "|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|",  # node 1 feeds nothing
        "|avg_pool_3x3~0|+|none~0|skip_connect~1|+|skip_connect~0|none~1|none~2|",  # nodes 1, 2 feed nothing
        "|none~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|avg_pool_3x3~2|",  # node 1 zero, so node 2 too
    ]
    for arch in same:
        assert cell_hash(Cell.parse(arch)) == cell_hash(skip_only), arch
    # nodes 1 and 2 swapped (both read only the input; node 3 sums them): the same computation
    a = Cell.parse("|nor_conv_3x3~0|+|avg_pool_3x3~0|none~1|+|none~0|skip_connect~1|skip_connect~2|")
    b = Cell.parse("|avg_pool_3x3~0|+|nor_conv_3x3~0|none~1|+|none~0|skip_connect~1|skip_connect~2|")
    assert cell_hash(a) == cell_hash(b)
    # reading node 1 = skip(x) is reading x
    assert cell_hash(Cell.parse("|skip_connect~0|+|none~0|nor_conv_3x3~1|+|none~0|none~1|skip_connect~2|")) == \
        cell_hash(Cell.parse("|skip_connect~0|+|nor_conv_3x3~0|none~1|+|none~0|none~1|skip_connect~2|"))
    different = {str(c): cell_hash(c) for c in (skip_only, a, Cell.parse(EXAMPLE),
                                                 Cell.parse(EXAMPLE.replace("nor_conv_3x3~1", "nor_conv_1x1~1")))}
    assert len(set(different.values())) == 4


# -- properties and mutation ------------------------------------------------------------------------


def test_fragment_properties_by_hand():
    depth = {op: fragment_properties((op,))["depth"].depths[0][0] for op in OPS}
    # the edge op then the node's Add (linear): ReLU | Conv BN Add = 2 runs; Identity is neutral
    assert depth == {"none": None, "skip_connect": 1, "avg_pool_3x3": 1, "nor_conv_1x1": 2, "nor_conv_3x3": 2}
    mixing = {op: fragment_properties((op,))["mixing"].matrices[0][0] for op in OPS}
    assert mixing["none"] is None
    n, c, h, w = mixing["nor_conv_3x3"]  # rows: input axes N, C, H, W; columns: output axes
    assert c == (3, 3, 3, 3)  # channels all-to-one onto every output axis
    assert h == (0, 0, 2, 0) and w == (0, 0, 0, 2)  # 3x3 window: many-to-one along H and W
    assert mixing["nor_conv_1x1"][2] == (0, 0, 1, 0)  # 1x1: one-to-one spatially
    assert mixing["avg_pool_3x3"][1] == (0, 1, 0, 0) and mixing["avg_pool_3x3"][2] == (0, 0, 2, 0)
    assert mixing["skip_connect"] == ((1, 0, 0, 0), (0, 1, 0, 0), (0, 0, 1, 0), (0, 0, 0, 1))
    # which ops satisfy each op's own (unmutated) properties: the stronger-or-equal ones
    satisfied = {op: {o for o in OPS if fragment_properties((op,)).satisfied_by(fragment_properties((o,)))}
                 for op in OPS}
    assert satisfied == {
        "none": set(OPS),
        "skip_connect": {"skip_connect", "avg_pool_3x3", "nor_conv_1x1", "nor_conv_3x3"},
        "avg_pool_3x3": {"avg_pool_3x3", "nor_conv_3x3"},
        "nor_conv_1x1": {"nor_conv_1x1", "nor_conv_3x3"},
        "nor_conv_3x3": {"nor_conv_3x3"},
    }


def _mutate(cell, seed, **kw):
    return property_mutation(cell, random.Random(seed), np.random.default_rng(seed), **kw)


def test_property_mutation_unchanged_target_synthesizes_least_stronger_op():
    skips = Cell(("skip_connect",) * 6)
    for seed in range(20):
        child, what = _mutate(skips, seed, p_depth=0.0, p_mixing=0.0, max_edges=1)
        changed = [k for k in range(6) if child.ops[k] != skips.ops[k]]
        assert len(changed) == 1
        # skip's properties hold for pool, conv1x1 and conv3x3; the least over-satisfying is the pool
        assert child.ops[changed[0]] == "avg_pool_3x3"
        assert "skip_connect => avg_pool_3x3" in what
    # a conv3x3 edge cannot change unless the target is relaxed
    convs = Cell(("nor_conv_3x3",) * 6)
    assert _mutate(convs, 0, p_depth=0.0, p_mixing=0.0, max_edges=1) is None
    relaxed = [_mutate(convs, s, relax=True, max_edges=1)[0] for s in range(40)]
    assert all(sum(op != "nor_conv_3x3" for op in c.ops) == 1 for c in relaxed)
    # relaxed: a random edit, any of the four other ops
    assert {op for c in relaxed for op in c.ops} == set(OPS)


def test_property_mutation_deterministic_and_respects_accept():
    cell = Cell.parse(EXAMPLE)
    a = [_mutate(cell, s) for s in range(30)]
    assert a == [_mutate(cell, s) for s in range(30)]
    assert len({r[0] for r in a if r}) > 3
    for s in range(30):
        result = _mutate(cell, s, accept=lambda c: "none" not in c.ops)
        assert result is None or "none" not in result[0].ops
        if result:  # edges change only into one node
            changed = {EDGES[k][0] for k in range(6) if result[0].ops[k] != cell.ops[k]}
            assert len(changed) == 1


def test_random_edge_mutation_changes_exactly_one_edge():
    rng = random.Random(0)
    cell = Cell.parse(EXAMPLE)
    for _ in range(50):
        child, _ = random_edge_mutation(cell, rng)
        assert sum(a != b for a, b in zip(child.ops, cell.ops)) == 1


# -- table, evaluator, searches ---------------------------------------------------------------------


def test_table_exposes_only_allowed_columns_and_counts_distinct(table):
    assert len(table) == 5 ** 6
    log = table.queries()
    seen = log.query(EXAMPLE)
    assert set(seen) == {"val_acc", "params", "flops"}
    assert 0.5 < seen["val_acc"] < 1.0
    assert seen["params"] == pytest.approx(0.1 * (3 * 4 + 2 * 1) * 1e6)  # 3 conv3x3, 2 skips
    log.query(Cell.parse(EXAMPLE))
    log.query("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|")
    assert len(log) == 2 and log.order[0] == EXAMPLE
    assert 74 <= table.test_acc_200ep(EXAMPLE) <= 77


def test_table_errors(tmp_path):
    with pytest.raises(TableError, match="not found"):
        NB201Table(tmp_path / "missing.csv")
    with pytest.raises(TableError, match="val_acc_12ep"):
        NB201Table(write_table(tmp_path / "t.csv", drop=("val_acc_12ep",)))
    bad = tmp_path / "bad.csv"
    bad.write_text("arch,val_acc_12ep,test_acc_200ep,params_m,flops_m\n|x~0|,1,2,3,4\n")
    with pytest.raises(TableError, match="cell string"):
        NB201Table(bad)


def test_tabular_evaluator_protocol(table):
    ev = TabularEvaluator(table)
    metrics = ev.evaluate(cell_graph(Cell.parse(EXAMPLE)), seed=0)
    assert metrics["val_acc"] == pytest.approx(table.visible(EXAMPLE)["val_acc"])
    assert metrics["test_acc"] == pytest.approx(table.test_acc_200ep(EXAMPLE) / 100)
    assert metrics["diverged"] == 0 and metrics["train_s"] == 0
    assert len(ev.log) == 1
    with pytest.raises(TableError):
        ev.evaluate(Graph("not_a_cell"), seed=0)


@pytest.mark.parametrize("strategy", ["property", "rea", "random"])
def test_searches_respect_budget_protocol_and_seed(table, strategy, monkeypatch):
    monkeypatch.setattr(NB201Table, "test_acc_200ep", lambda *a: pytest.fail("a search read a test accuracy"))
    cands = run_search(table, strategy, 60, seed=5)
    assert cands == run_search(table, strategy, 60, seed=5)
    assert cands != run_search(table, strategy, 60, seed=6)
    keys = [c.key for c in cands]
    assert len(set(keys)) == 60 and keys[-1] not in keys[:-1]
    for c in cands:
        assert set(c.metrics) == {"val_acc", "params", "flops"}
    if strategy == "property":
        assert len(keys) == 60  # never a re-query ...
        assert len({c.hash for c in cands}) == 60  # ... nor an isomorphic cell
        assert {c.mutation for c in cands[:10]} == {"random_sample"}
        assert "property" in {c.mutation for c in cands[10:]}
        # property-diverse start: ten different whole-cell (depth, mixing) classes
        assert len({cell_signature(Cell.parse(c.key)) for c in cands[:10]}) == 10
        # aging: every parent is among the 15 newest evaluations
        assert all(pos - 15 <= c.parent_id < pos for pos, c in enumerate(cands) if c.parent_id is not None)
    if strategy == "rea":
        # aging: every parent is among the 10 evaluations before its child
        for pos, c in enumerate(cands):
            if c.parent_id is not None:
                assert pos - 10 <= c.parent_id < pos
                assert sum(a != b for a, b in zip(Cell.parse(c.key).ops, Cell.parse(cands[c.parent_id].key).ops)) == 1


def test_unguided_ablation_makes_random_edits(table):
    cands = run_search(table, "property", 30, seed=1, config=PropertySearchConfig(guided=False, initial_pool=0))
    assert {c.mutation for c in cands[10:]} == {"random_edit"}


def test_evolution_beats_random_search_on_structured_table(table):
    budgets = [50]
    best = {}
    for strategy in ("property", "random"):
        vals = []
        for seed in range(4):
            pick = best_by_validation(run_search(table, strategy, 50, seed), budgets)[50]
            vals.append(table.visible(pick)["val_acc"])
        best[strategy] = np.mean(vals)
    assert best["property"] > best["random"]


def test_best_by_validation_hand_example():
    from alphanas.search.candidate import Candidate

    def cand(key, acc):
        return Candidate(graph=None, hash=key, key=key, metrics={"val_acc": acc}, status="done")

    cands = [cand("a", 0.5), cand("b", 0.7), cand("b", 0.7), cand("c", 0.6), cand("d", 0.7), cand("e", 0.9)]
    assert best_by_validation(cands, [1, 2, 3, 4, 5, 9]) == {1: "a", 2: "b", 3: "b", 4: "b", 5: "e", 9: "e"}


# -- the benchmark command --------------------------------------------------------------------------


def test_benchmark_json_all_strategies_and_plot(table_path, tmp_path, capsys):
    plot = tmp_path / "nb201.png"
    assert bench.main(["--table", str(table_path), "--strategy", "all", "--runs", "2", "--budget", "30",
                       "--json", "--plot", str(plot)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [o["strategy"] for o in out] == ["property", "surrogate", "generative", "rea", "random"]
    for o in out:
        assert o["runs"] == 2 and list(o["budgets"]) == ["25", "30"]
        assert set(o["budgets"]["25"]) == {"mean", "std", "sem"}
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the same seed gives the same numbers; a single strategy prints one object
    assert bench.main(["--table", str(table_path), "--strategy", "rea", "--runs", "2", "--budget", "30", "--json"]) == 0
    single = json.loads(capsys.readouterr().out)
    assert single == out[3]
    # an existing plot is not overwritten without --force
    assert bench.main(["--table", str(table_path), "--strategy", "random", "--runs", "1", "--budget", "5",
                       "--plot", str(plot)]) == 2
    assert "already exists" in capsys.readouterr().err


def test_benchmark_table_output_and_user_errors(table_path, tmp_path, capsys):
    from alphanas.cli import main as cli_main

    assert cli_main(["benchmark", "nb201", "--table", str(table_path), "--strategy", "random", "--runs", "3",
                     "--budget", "10"]) == 0
    assert "random search" in capsys.readouterr().out
    assert bench.main(["--table", str(tmp_path / "nope.csv")]) == 2
    assert "not found" in capsys.readouterr().err
    assert bench.main(["--table", str(table_path), "--runs", "0"]) == 2


REAL = bench.DEFAULT_TABLE


@pytest.mark.skipif(not REAL.is_file(), reason="the shared NAS-Bench-201 table is not beside this checkout")
def test_real_table_protocol():
    table = NB201Table(REAL)
    assert len(table) == 15625
    assert table.optimum() == pytest.approx(94.37, abs=0.01)  # the README's optimum
    assert table.test_acc_200ep(EXAMPLE) == pytest.approx(93.66)
    cands = run_search(table, "property", 40, seed=0)
    best = best_by_validation(cands, [40])[40]
    assert table.visible(best)["val_acc"] == max(c.metrics["val_acc"] for c in cands)
