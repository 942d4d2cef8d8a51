"""Executors: the worker task, the process pool and a local Ray instance give the in-process results."""

from __future__ import annotations

import pytest

from alphanas.errors import AlphanasError
from alphanas.search.evaluators import TrainEvaluator
from alphanas.search.evolution import Evolution, onnx_bytes
from alphanas.search.executors import InProcessExecutor, ProcessExecutor, evaluate_task, make_executor
from alphanas.search.mutations import Mutator
from alphanas.search.store import Store
from tests.search.test_evolution import FakeEvaluator, calls, tiny_seed
from alphanas.ir.hashing import structural_hash


def _run(tmp_path, name, executor, evaluator, trials=6):
    store = Store(tmp_path / name)
    try:
        res = Evolution(tiny_seed(), evaluator, store, trials=trials, seed=11, mutator=Mutator("random_edit"),
                        executor=executor).run()
    finally:
        executor.shutdown()
    return [(c.trial, c.hash, c.parent_id, c.mutation, c.status,
             *(c.metrics.get(k) for k in ("val_acc", "test_acc", "params"))) for c in res.candidates], res


def test_evaluate_task_returns_metrics_and_trained_weights_and_turns_crashes_into_errors(tmp_path):
    g = tiny_seed()
    ev = TrainEvaluator("synthetic", epochs=1, device="cpu", dataset_options={"num_classes": 4})
    out = evaluate_task(ev, onnx_bytes(g), 3)
    assert out.error is None and 0 <= out.metrics["val_acc"] <= 1 and out.trained
    from alphanas.search.evolution import graph_from_bytes

    trained = graph_from_bytes(out.trained)
    assert structural_hash(trained) == structural_hash(g)
    assert any((a.const != b.const).any() for a, b in zip(trained.initializers.values(), g.initializers.values()))
    crash = FakeEvaluator(str(tmp_path / "c"), crash_mod=1)
    bad = evaluate_task(crash, onnx_bytes(g), 0)
    assert bad.metrics == {} and bad.error.startswith("RuntimeError: boom")
    assert evaluate_task(crash, b"not onnx", 0).error


def test_process_pool_gives_the_in_process_results(tmp_path):
    ev = FakeEvaluator(str(tmp_path / "calls"))
    local, _ = _run(tmp_path, "local", InProcessExecutor(workers=2), ev)
    pool, _ = _run(tmp_path, "pool", ProcessExecutor(workers=2), ev)
    assert local == pool
    assert len(calls(ev)) == 2 * len(set(calls(ev)))  # each run evaluated each candidate once


def test_make_executor_checks_its_options():
    with pytest.raises(AlphanasError, match="unknown executor"):
        make_executor("slurm")
    with pytest.raises(AlphanasError, match="address is for executor ray"):
        make_executor("local", address="10.0.0.1:6379")
    assert make_executor("local", 3).workers == 3


def test_ray_gives_the_local_results_with_real_training(tmp_path):
    pytest.importorskip("ray")
    from alphanas.search.executors import RayExecutor

    ev = TrainEvaluator("synthetic", epochs=1, batch_size=64, device="cpu", dataset_options={"num_classes": 4})
    local, res_local = _run(tmp_path, "local", InProcessExecutor(workers=2), ev, trials=5)
    ray_exec = RayExecutor(workers=2)
    assert ray_exec.ray.is_initialized()
    remote, res_ray = _run(tmp_path, "ray", ray_exec, ev, trials=5)
    assert not ray_exec.ray.is_initialized()  # the executor shut down the instance it started
    assert remote == local
    assert [c.hash for c in res_ray.front] == [c.hash for c in res_local.front]
    assert all(c.status == "done" for c in res_ray.candidates)
    store = Store(tmp_path / "ray", create=False)
    assert all(store.model_path(c.id, trained=True).is_file() for c in store.candidates())  # the driver wrote them
