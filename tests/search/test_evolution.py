"""The evolution loop: mutations, dedupe, failures, constraints, determinism, strategies, pre-screen.

Most tests use :class:`FakeEvaluator` (a deterministic function of the structure, logging every call
to a file) so that they test the loop, not training; training itself is covered by the evaluator
tests, and one test here trains for real.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import time

import numpy as np
import onnxruntime as ort
import pytest

from alphanas.errors import AlphanasError
from alphanas.ir import zoo
from alphanas.ir.blocks import find_blocks, recorded_blocks
from alphanas.ir.runtime import random_feeds
from alphanas.search import mutations as M
from alphanas.search.evolution import Evolution, front_of
from alphanas.search.objectives import Constraints
from alphanas.search.pareto import dominates
from alphanas.search.store import Store
from alphanas.ir.cost import graph_params
from alphanas.ir.hashing import structural_hash


def tiny_seed():
    """A small residual net with two shape-preserving blocks (fast to verify)."""
    return zoo.build("resnet_small", widths=(4, 8, 8), blocks=(2, 1, 1), num_classes=4)


@dataclass
class FakeEvaluator:
    """Accuracy is a fixed pseudo-random function of the structure; every call is logged to ``log``.

    ``nan_above`` makes candidates with more parameters "diverge"; ``crash_mod`` makes about one
    candidate in ``crash_mod`` (chosen by hash) raise. Picklable, so it also runs in worker processes.
    """

    log: str
    nan_above: float | None = None
    crash_mod: int | None = None

    def evaluate(self, graph, *, seed, parent=None):
        h = structural_hash(graph)
        with open(self.log, "a") as f:
            f.write(h + "\n")
        if self.crash_mod and int(h[8:12], 16) % self.crash_mod == 0:
            raise RuntimeError("boom")
        acc = 0.5 + 0.4 * int(h[:8], 16) / 16**8
        if self.nan_above is not None and graph_params(graph) > self.nan_above:
            acc = math.nan
        return {"val_acc": acc, "test_acc": acc - 0.01, "diverged": float(math.isnan(acc)), "seed": float(seed)}


def calls(ev: FakeEvaluator) -> list[str]:
    p = Path(ev.log)
    return p.read_text().split() if p.exists() else []


def search(tmp_path, name="s", *, trials=8, seed=0, mutator=None, evaluator=None, **kw):
    ev = evaluator or FakeEvaluator(str(tmp_path / f"{name}.calls"))
    store = Store(tmp_path / name)
    evo = Evolution(tiny_seed(), ev, store, trials=trials, seed=seed,
                    mutator=mutator or M.Mutator("random_edit"), **kw)
    return evo.run(), ev, store


# -- mutations ---------------------------------------------------------------------------------------


def test_duplicate_and_delete_block_keep_shapes_metadata_and_outputs_valid():
    g = tiny_seed()
    n_blocks = len(find_blocks(g))
    dup = M.duplicate_block(g, np.random.default_rng(0))
    assert graph_params(dup.graph) > graph_params(g)
    blocks = {b.name: b for b in find_blocks(dup.graph)}
    assert len(blocks) == n_blocks + 1
    new = [name for name in recorded_blocks(dup.graph) if name not in recorded_blocks(g)]
    assert len(new) == 1 and blocks[new[0]].kind == "residual"
    assert all(n.name.startswith(new[0] + ".") for n in blocks[new[0]].nodes)
    # the copy reads the original block's output and feeds what the original fed
    assert len(blocks[new[0]].subgraph.inputs) == 1
    deleted = M.delete_block(dup.graph, np.random.default_rng(1))
    assert len(find_blocks(deleted.graph)) == n_blocks
    assert graph_params(deleted.graph) == graph_params(g)
    for m in (dup, deleted):  # the children run in onnxruntime
        from alphanas.ir.onnx_io import to_onnx

        sess = ort.InferenceSession(to_onnx(m.graph).SerializeToString(), providers=["CPUExecutionProvider"])
        out = sess.run(None, random_feeds(m.graph, batch=2))[0]
        assert out.shape == (2, 4) and np.isfinite(out).all()
    assert graph_params(g) == graph_params(tiny_seed())  # the parent is untouched


def test_duplicate_with_copied_weights_equals_applying_the_block_twice():
    """Weights are copied, so the child computes block(block(x)) where the parent computed block(x)."""
    g = zoo.build("resnet_small", widths=(4, 8, 8), blocks=(1, 1, 1), num_classes=4)
    dup = M.duplicate_block(g, np.random.default_rng(0))
    ref = g.copy()
    sub = [b for b in find_blocks(ref) if b.name == "layer1.0"][0].subgraph
    # parent's block output, fed through the parent's block again, via the parent evaluated on its own output:
    from alphanas.ir.onnx_io import to_onnx
    from alphanas.ir.subgraph import Subgraph

    block_graph = Subgraph(ref, sub.nodes).to_graph("block")
    def run(graph, feeds):
        return ort.InferenceSession(to_onnx(graph).SerializeToString(),
                                    providers=["CPUExecutionProvider"]).run(None, feeds)[0]
    x = np.random.default_rng(0).standard_normal((2, 4, 8, 8)).astype(np.float32)
    once = run(block_graph, {block_graph.inputs[0].name: x})
    twice = run(block_graph, {block_graph.inputs[0].name: once})
    new = [b for b in find_blocks(dup.graph) if b.name == "layer1.1"][0].subgraph
    dup_pair = Subgraph(dup.graph, [*[b for b in find_blocks(dup.graph) if b.name == "layer1.0"][0].nodes,
                                    *new.nodes]).to_graph("pair")
    np.testing.assert_allclose(run(dup_pair, {dup_pair.inputs[0].name: x}), twice, rtol=1e-5, atol=1e-5)


def test_random_edits_are_verified_and_change_the_structure():
    g = tiny_seed()
    seen = set()
    for s in range(6):
        m = M.random_edit(g, np.random.default_rng(s))
        assert m.mutation == "random_edit" and structural_hash(m.graph) != structural_hash(g)
        m.graph.verify()
        seen.add(m.description.split()[0])
    assert len(seen) >= 2  # several kinds of edit occur
    walk = M.random_sample(g, np.random.default_rng(0), max_steps=3)
    assert walk.mutation == "random_sample" and "random step" in walk.description


def test_mutator_validates_strategy_and_probabilities():
    with pytest.raises(AlphanasError, match="unknown strategy"):
        M.Mutator("evolve")
    with pytest.raises(AlphanasError, match="probabilities"):
        M.Mutator("property", {"teleport": 1.0})
    m = M.Mutator("property")
    assert m.probabilities == {"duplicate_block": 0.2, "delete_block": 0.2, "property": 0.6}
    rng = np.random.default_rng(0)
    picks = [m.choose(rng) for _ in range(2000)]
    assert abs(picks.count("property") / 2000 - 0.6) < 0.05


# -- the loop ------------------------------------------------------------------------------------------


def test_a_duplicate_structure_is_never_evaluated_twice(tmp_path):
    # only block duplication and deletion: from the seed they quickly run into known structures
    mut = M.Mutator("property", {"duplicate_block": 1.0, "delete_block": 1.0})
    res, ev, store = search(tmp_path, trials=8, mutator=mut)
    hashes = calls(ev)
    assert res.duplicates > 0  # duplicates did occur ...
    assert len(hashes) == len(set(hashes))  # ... and none was evaluated twice
    evaluated = [c for c in res.candidates if c.status in ("done", "failed") and c.mutation != "none"]
    assert sorted(hashes) == sorted(c.hash for c in evaluated)
    assert len({c.hash for c in store.candidates()}) == store.count()


def test_failed_and_diverged_candidates_are_recorded_and_the_search_goes_on(tmp_path):
    seed_params = graph_params(tiny_seed())
    ev = FakeEvaluator(str(tmp_path / "calls"), nan_above=seed_params, crash_mod=3)
    mut = M.Mutator("random_edit", {"duplicate_block": 1.0, "random_edit": 1.0})
    res, _, store = search(tmp_path, trials=10, mutator=mut, evaluator=ev)
    assert len(res.candidates) == 10  # every trial ran
    failed = [c for c in res.candidates if c.status == "failed"]
    diverged = [c for c in failed if "diverged" in (c.error or "")]
    assert diverged and all(c.metrics["params"] > seed_params for c in diverged)
    assert [c.status for c in res.candidates if c.metrics.get("params", 0) <= seed_params
            and c.mutation != "none"].count("done") >= 1
    crashed = [c for c in failed if "boom" in (c.error or "")]
    assert crashed and all("RuntimeError" in c.error for c in crashed)
    assert len(set(calls(ev))) == len([c for c in res.candidates if c.mutation != "none"])
    assert all(c.status != "failed" for c in res.front)
    # failed candidates are never parents
    bad = {c.id for c in failed}
    assert not [c for c in res.candidates if c.parent_id in bad]


def test_constraints_reject_without_evaluating(tmp_path):
    seed_params = graph_params(tiny_seed())
    mut = M.Mutator("random_edit", {"duplicate_block": 1.0, "random_edit": 1.0})
    res, ev, _ = search(tmp_path, trials=8, mutator=mut, constraints=Constraints(max_params=seed_params))
    rejected = [c for c in res.candidates if c.status == "rejected"]
    assert rejected, "duplicating a block always adds parameters"
    assert all(c.metrics["params"] > seed_params and "constraint: params" in c.error for c in rejected)
    assert not set(calls(ev)) & {c.hash for c in rejected}
    assert all(c.metrics["params"] <= seed_params for c in res.candidates if c.status == "done")


def test_same_seed_same_search_and_front(tmp_path):
    a, _, _ = search(tmp_path, "a", trials=7, seed=3)
    b, _, _ = search(tmp_path, "b", trials=7, seed=3)
    c, _, _ = search(tmp_path, "c", trials=7, seed=4)
    def key(r):
        return [(x.trial, x.hash, x.parent_id, x.mutation, x.status, x.metrics.get("val_acc")) for x in r.candidates]
    assert key(a) == key(b)
    assert [x.id for x in a.front] == [x.id for x in b.front]
    assert key(a) != key(c)


def test_bounded_graph_cache_reloads_from_the_store_and_changes_nothing(tmp_path, monkeypatch):
    from alphanas.search import evolution

    a, _, _ = search(tmp_path, "a", trials=7, seed=3)
    monkeypatch.setattr(evolution, "GRAPH_CACHE", 1)
    b, _, _ = search(tmp_path, "b", trials=7, seed=3)
    def key(r):
        return [(x.trial, x.hash, x.parent_id, x.mutation, x.status, x.metrics.get("val_acc")) for x in r.candidates]
    assert key(a) == key(b)
    assert all(x.graph is None for x in b.candidates)  # the driver keeps no candidate graph beyond the cache


def test_front_is_the_non_dominated_set(tmp_path):
    res, _, _ = search(tmp_path, trials=8)
    done = [c for c in res.candidates if c.status == "done"]
    senses = {"val_acc": "max", "params": "min"}
    for c in done:
        on_front = c in res.front
        assert on_front == (not any(dominates(o.metrics, c.metrics, senses) for o in done if o is not c))
    assert front_of(res.candidates, ["accuracy", "params"]) == res.front


def test_window_limits_what_a_trial_sees(tmp_path):
    from alphanas.search.executors import InProcessExecutor

    res, _, _ = search(tmp_path, trials=8, executor=InProcessExecutor(workers=3))
    trial_of = {c.id: c.trial for c in res.candidates}
    for c in res.candidates[1:]:
        assert trial_of[c.parent_id] == 0 or trial_of[c.parent_id] <= c.trial - 3


def test_random_search_samples_from_the_seed(tmp_path):
    res, _, _ = search(tmp_path, trials=5, mutator=M.Mutator("random", random_steps=2))
    seed_id = res.candidates[0].id
    assert all(c.mutation == "random_sample" and c.parent_id == seed_id for c in res.candidates[1:])


def test_property_guided_strategy_with_real_training(tmp_path):
    """αNAS mutations (property-guided synthesis among them) with actual training on synthetic data."""
    from alphanas.search.evaluators import TrainEvaluator

    ev = TrainEvaluator("synthetic", epochs=1, batch_size=64, device="cpu", dataset_options={"num_classes": 4})
    mut = M.Mutator("property", {"property": 1.0}, budget_s=0.5)
    res, _, store = search(tmp_path, trials=4, mutator=mut, evaluator=ev)
    done = [c for c in res.candidates if c.status == "done"]
    assert len(done) >= 3
    for c in done:
        assert 0.0 <= c.metrics["val_acc"] <= 1.0 and 0.0 <= c.metrics["test_acc"] <= 1.0
        assert store.model_path(c.id, trained=True).is_file()
    props = [c for c in res.candidates if c.mutation == "property"]
    assert props and all(set(c.properties) == {"original", "target", "achieved"} for c in props)


def test_proxy_prescreen_keeps_the_best_scoring_mutant(tmp_path):
    from alphanas.search.proxies import ProxyScreen

    screen = ProxyScreen("synflow", keep=0.5)
    res, _, _ = search(tmp_path, trials=4, screen=screen)
    kids = res.candidates[1:]
    assert all(c.timings.get("screened_out") == 1 and "proxy_synflow" in c.metrics for c in kids)


def test_bad_settings_are_user_errors(tmp_path):
    ev = FakeEvaluator(str(tmp_path / "calls"))
    with pytest.raises(AlphanasError, match="trials"):
        Evolution(tiny_seed(), ev, Store(tmp_path / "a"), trials=0)
    with pytest.raises(AlphanasError, match="selection"):
        Evolution(tiny_seed(), ev, Store(tmp_path / "b"), selection="roulette")
    with pytest.raises(AlphanasError, match="objective"):
        Evolution(tiny_seed(), ev, Store(tmp_path / "c"), objectives="accuracy,beauty")
    Evolution(tiny_seed(), ev, Store(tmp_path / "d"), seed=1)
    with pytest.raises(AlphanasError, match="other settings"):
        Evolution(tiny_seed(), ev, Store(tmp_path / "d"), seed=2)


def test_synthesis_overrunning_its_hard_limit_is_a_failed_mutation_and_the_worker_restarts():
    from alphanas.search.sandbox import SANDBOX

    g = tiny_seed()
    SANDBOX.warm()  # (a search keeps it warm: a stopped worker is started again in the background)
    worker = SANDBOX._proc
    with pytest.raises(M.MutationFailed, match="hard limit"):
        M.property_mutation(g, np.random.default_rng(0), hard_limit_s=0.0)
    assert worker.poll() is not None  # the worker was killed
    ok = M.property_mutation(g, np.random.default_rng(1), budget_s=10.0)  # a fresh worker answers (at its first result)
    assert structural_hash(ok.graph) != structural_hash(g) and SANDBOX._proc.poll() is None


def test_synthesis_worker_over_its_memory_limit_is_stopped(monkeypatch):
    from alphanas.search import sandbox

    box = sandbox.SynthesisSandbox()
    try:
        box._start()  # an idle worker: a read can only end by the memory check or the deadline
        assert sandbox._rss_bytes(box._proc.pid) > 0
        monkeypatch.setattr(sandbox, "MEMORY_LIMIT_BYTES", 1)
        with pytest.raises(sandbox.MemoryLimitExceeded):
            box._read(8, time.monotonic() + 30)
    finally:
        box.close()
    assert box._proc is None


def test_latency_objective_is_measured_and_a_latency_bound_rejects_before_training(tmp_path):
    res, ev, _ = search(tmp_path, "lat", trials=3, objectives="accuracy,latency_ms")
    assert all(c.metrics["latency_ms"] > 0 for c in res.candidates)
    assert res.front and all("latency_ms" in c.metrics for c in res.front)
    res, ev, _ = search(tmp_path, "tight", trials=3, constraints=Constraints(max_latency_ms=1e-6))
    assert [c.status for c in res.candidates] == ["rejected"] * 3  # the seed included: nothing is that fast
    assert all("constraint: latency_ms" in c.error for c in res.candidates) and calls(ev) == []
