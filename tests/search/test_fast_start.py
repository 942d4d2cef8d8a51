"""A search that trains from its first second: workers forked from one fork server, the first task
trained in the driver while the pool starts (bit for bit the worker's result), and start-up charged in
the time split only where it keeps a training slot idle."""

from __future__ import annotations

import os
import sys
import time

import pytest

from alphanas.errors import ParameterError
from alphanas.search import executors as X
from alphanas.search.evaluators import TrainEvaluator
from alphanas.search.evolution import Warmup, onnx_bytes
from alphanas.search.timesplit import PARTS, split

from .test_evolution import tiny_seed


def _pid_and_time() -> tuple[int, float]:
    return os.getpid(), time.time()


def test_start_method_resolves_per_platform_and_refuses_unknown_names():
    expected = "forkserver" if sys.platform.startswith("linux") else "spawn"
    assert X.start_method("auto") == expected and X.start_method("spawn") == "spawn"
    with pytest.raises(ParameterError, match="start 'fork'"):
        X.start_method("fork")
    with pytest.raises(ParameterError):
        X.make_executor("process", 1, start="threads")


def test_startup_charged_only_where_it_keeps_a_slot_idle_by_hand():
    # 2 slots over [0, 10]: A trains 0..10 (in the driver while the pool starts), B trains 4..10;
    # the pool starts 0..3, the sandbox 1..4 (both start-up); the proposer works 3..4
    s = split([(0, 10), (4, 10)], [(0, 3, "startup"), (1, 4, "startup"), (3, 4, "proposal"), (6, 8, "startup")],
              start=0, end=10, slots=2, trials=2)
    assert s["training_s"] == pytest.approx(8.0)  # (10 + 6) / 2
    # the free half-slot 0..3 is start-up (1.5 s); 3..4 start-up and proposal share it (0.25 s each);
    # start-up 6..8 runs while both slots train: nothing charged
    assert s["startup_s"] == pytest.approx(1.75) and s["proposal_s"] == pytest.approx(0.25)
    assert s["idle_s"] == 0.0 and sum(s[k] for k in PARTS) == pytest.approx(10.0)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the fork server is the Linux default")
def test_forkserver_pool_lends_the_driver_while_starting_with_the_workers_result(tmp_path):
    import torch

    g = tiny_seed()
    ev = TrainEvaluator("synthetic", epochs=1, device="cpu", dataset_options={"num_classes": 4})
    data = onnx_bytes(g)
    before = torch.get_num_threads()
    ex = X.ProcessExecutor(workers=2, gpus=0)
    torch.set_num_threads(ex.threads)  # the driver trains a lent task only with a worker's thread count
    try:
        assert ex.start_method == "forkserver" and not ex.starting
        warmup = Warmup()
        warmup.executor(ex)
        assert ex.starting
        lent = ex.submit(X.evaluate_task, ev, data, 5)  # the pool is still starting: trained in the driver
        assert ex.lent == 1
        deadline = time.time() + 300
        while ex.starting and time.time() < deadline:
            time.sleep(0.05)
        assert not ex.starting and ex.warm_span[1] >= ex.warm_span[0]
        pooled = ex.submit(X.evaluate_task, ev, data, 5)  # the same task in a worker process
        a, b = lent.result(timeout=300), pooled.result(timeout=300)
        assert ex.lent == 1 and a.error is None and b.error is None
        measured = ("_s", "_ms")  # timings differ; every other metric and the trained weights are equal bit for bit
        assert {k: v for k, v in a.metrics.items() if not k.endswith(measured)} == \
            {k: v for k, v in b.metrics.items() if not k.endswith(measured)}
        assert a.trained == b.trained and len(a.metrics) >= 5
        pids = {ex.submit(_pid_and_time).result(timeout=60)[0] for _ in range(4)}
        assert os.getpid() not in pids  # the pool's own tasks run in the workers
        (span,) = warmup.spans()
        assert span == pytest.approx(ex.warm_span)
    finally:
        torch.set_num_threads(before)
        ex.shutdown()


def test_no_lending_without_warm_up_or_with_other_thread_counts():
    import torch

    ex = X.ProcessExecutor(workers=1, gpus=0, start="spawn")
    try:
        assert not ex._lendable()  # not warming: the pool starts at the first task, as before
        ex.warm_span = (time.time(), None)  # as if warming
        before = torch.get_num_threads()
        torch.set_num_threads(ex.threads + 1)
        try:
            assert not ex._lendable()  # a different torch thread count could change the result
        finally:
            torch.set_num_threads(before)
        ex.lend = False
        assert not ex._lendable()
    finally:
        ex.warm_span = (0.0, 0.0)
        ex.shutdown()
