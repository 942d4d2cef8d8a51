"""Evaluators: metrics against onnxruntime, determinism, weight inheritance, divergence, pickling and
process pools, latency."""

from __future__ import annotations

import math
import multiprocessing
import pickle
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest

from alphanas.ir import zoo
from alphanas.ir.builder import GraphBuilder
from alphanas.ir.runtime import run as ort_run
from alphanas.ir.cost import graph_flops, graph_params
from alphanas.search.evaluators import (CombinedEvaluator, Evaluator, LatencyEvaluator, TrainEvaluator,
                                        cached_dataset, clear_dataset_cache, inherit_weights)

SYN = {"num_classes": 4}


def cnn(width: int = 8, seed: int = 0):
    return zoo.build("cnn", width=width, num_classes=4, seed=seed)


def evaluator(**kw) -> TrainEvaluator:
    kw.setdefault("epochs", 1)
    return TrainEvaluator("synthetic", batch_size=32, device="cpu", dataset_options=SYN, **kw)


def ort_accuracy(graph, x, y) -> float:
    logits = ort_run(graph, {graph.inputs[0].name: x}, provider="cpu")[0]
    return float((logits.argmax(axis=1) == y).mean())


def test_train_evaluator_metrics_match_onnxruntime_and_cost():
    ev = evaluator(epochs=3)
    assert isinstance(ev, Evaluator)
    g = cnn()
    out = ev.run(g, seed=0)
    m = out.metrics
    assert set(m) >= {"val_acc", "test_acc", "params", "flops", "train_s", "diverged", "inherited_frac"}
    ds = ev.dataset()
    # accuracies are fractions of the returned (best-validation) weights, checked by an independent runtime
    assert m["val_acc"] == pytest.approx(ort_accuracy(out.graph, ds.x_val, ds.y_val), abs=1.5 / len(ds.y_val))
    assert m["test_acc"] == pytest.approx(ort_accuracy(out.graph, ds.x_test, ds.y_test), abs=1.5 / len(ds.y_test))
    assert m["val_acc"] > 0.5  # learnable data: well above the 0.25 of chance after 3 epochs
    assert m["params"] == graph_params(g) and m["flops"] == graph_flops(g)
    assert m["diverged"] == 0.0 and m["train_s"] > 0 and m["inherited_frac"] == 0.0
    # the input graph is untouched
    assert all(np.array_equal(a, b) for a, b in zip(g.weights.values(), cnn().weights.values()))


def test_train_evaluator_is_deterministic_per_seed():
    ev = evaluator()
    a, b = ev.evaluate(cnn(), seed=3), ev.evaluate(cnn(), seed=3)
    a.pop("train_s"), b.pop("train_s")
    assert a == b


def small_net(hidden: int, seed: int):
    """conv(c1)-BN-ReLU-conv(c2, hidden)-BN-ReLU-pool-dense(head): same names for every ``hidden``."""
    b = GraphBuilder("net", seed=seed)
    x = b.input("input", ("N", 1, 8, 8))
    y = b.relu(b.batchnorm(b.conv(x, 8, 3, bias=False, name="c1"), name="bn1"))
    y = b.relu(b.batchnorm(b.conv(y, hidden, 3, bias=False, name="c2"), name="bn2"))
    return b.build(b.dense(b.flatten(b.global_avgpool(y)), 4, name="head"))


def test_inherit_copies_exactly_the_unchanged_weights():
    parent = evaluator().run(small_net(8, seed=0), seed=0).graph  # trained weights
    child = small_net(12, seed=7)  # c2, bn2 and the head's kernel change shape; c1, bn1, head bias do not
    fresh = {k: v.copy() for k, v in child.weights.items()}
    inherited, total = inherit_weights(child, parent)
    expected, kept = 0, []
    for name, arr in child.weights.items():
        if parent.weights[name].shape == fresh[name].shape:
            assert np.array_equal(arr, parent.weights[name]), name
            expected += arr.size
        else:
            assert np.array_equal(arr, fresh[name]), name
            kept.append(name)
    assert sorted(kept) == ["bn2.bias", "bn2.running_mean", "bn2.running_var", "bn2.weight", "c2.weight",
                            "head.weight"]
    assert inherited == expected == 8 * 9 + 4 * 8 + 4
    assert total == sum(a.size for a in child.weights.values())

    m = evaluator(inherit=True).evaluate(small_net(12, seed=7), seed=0, parent=parent)
    assert m["inherited_frac"] == pytest.approx(inherited / total)
    # same architecture: everything is inherited
    assert evaluator(inherit=True).evaluate(small_net(8, seed=7), seed=0, parent=parent)["inherited_frac"] == 1.0
    # without the flag nothing is inherited even when a parent is given
    assert evaluator().evaluate(small_net(8, seed=7), seed=0, parent=parent)["inherited_frac"] == 0.0


def test_inherited_start_differs_from_scratch_start():
    parent = evaluator(epochs=2).run(cnn(), seed=0).graph
    child = cnn(seed=5)
    scratch = evaluator().run(child, seed=1)
    warm = evaluator(inherit=True).run(child, seed=1, parent=parent)
    # starting from trained weights beats (or ties) a fresh start after one epoch on learnable data
    assert warm.metrics["val_acc"] >= scratch.metrics["val_acc"]
    assert not all(np.array_equal(a, b) for a, b in zip(warm.graph.weights.values(), scratch.graph.weights.values()))


def test_divergence_is_reported():
    b = GraphBuilder("plain", seed=0)  # no batch norm, which would keep a huge step size finite
    x = b.input("input", ("N", 1, 8, 8))
    g = b.build(b.dense(b.flatten(b.global_avgpool(b.relu(b.conv(x, 8, 3)))), 4, name="head"))
    assert evaluator(epochs=2).evaluate(g, seed=0)["diverged"] == 0.0
    assert evaluator(epochs=2, lr=1e12).evaluate(g, seed=0)["diverged"] == 1.0


def _evaluate_in_worker(args):
    ev, graph, seed = args
    return ev.evaluate(graph, seed=seed)


def test_dataset_cache_loads_once_until_cleared():
    first = cached_dataset("synthetic", None, 0, SYN)
    assert cached_dataset("synthetic", None, 0, dict(SYN)) is first  # same arguments: the same object
    assert cached_dataset("synthetic", None, 1, SYN) is not first  # another seed: another split
    clear_dataset_cache()
    again = cached_dataset("synthetic", None, 0, SYN)
    assert again is not first and np.array_equal(again.y_val, first.y_val)  # loaded again, same data


def test_pickle_round_trip_and_two_worker_process_pool():
    ev = evaluator()
    cached_dataset(ev.dataset_name, None, 0, SYN)  # a loaded cache must not travel with the evaluator
    blob = pickle.dumps(ev)
    assert len(blob) < 2000
    again = pickle.loads(blob)
    assert again == ev
    graphs = [cnn(width=4), cnn(width=6)]
    local = [ev.evaluate(g, seed=i) for i, g in enumerate(graphs)]
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        remote = list(pool.map(_evaluate_in_worker, [(ev, g, i) for i, g in enumerate(graphs)]))
    for a, b in zip(local, remote):
        ds = ev.dataset()
        assert a["params"] == b["params"] and a["flops"] == b["flops"] and a["diverged"] == b["diverged"]
        assert a["val_acc"] == pytest.approx(b["val_acc"], abs=1.5 / len(ds.y_val))
        assert a["test_acc"] == pytest.approx(b["test_acc"], abs=1.5 / len(ds.y_test))


def test_latency_and_combined_evaluators():
    lat = LatencyEvaluator(provider="cpu", repeats=5, warmup=1)
    m = lat.evaluate(cnn(), seed=0)
    assert m["latency_ms"] > 0 and math.isfinite(m["latency_ms"]) and m["latency_p90_ms"] >= m["latency_ms"]
    both = CombinedEvaluator([evaluator(), lat])
    pickle.loads(pickle.dumps(both))
    m = both.evaluate(cnn(), seed=0)
    assert {"val_acc", "params", "latency_ms"} <= set(m)
