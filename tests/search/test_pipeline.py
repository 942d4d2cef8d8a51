"""The pipelined search: the time split, determinism with fixed generations, interrupt and resume,
pipelining off and on with real training, the warm sandbox, and the per-device executors (mocked GPUs)."""

from __future__ import annotations

import json
import math
import os
import sys
import time
import types

import onnx
import pytest

from alphanas.errors import ParameterError
from alphanas.search import executors as X
from alphanas.search import mutations as M
from alphanas.search.evolution import TIME_SPLIT_FILE, Evolution, SearchEvent
from alphanas.search.executors import InProcessExecutor
from alphanas.search.store import Store
from alphanas.search.timesplit import PARTS, split

from .test_evolution import FakeEvaluator, calls, tiny_seed

# -- the time split ----------------------------------------------------------------------------------


def test_split_charges_idle_slots_to_the_work_in_progress_by_hand():
    # 2 slots over [0, 10]: evaluation A runs 0..6, B runs 2..10 (submitted at 1: worker start-up 1..2);
    # the proposer works 0..4 (a quarter of it verification), storage 6..7, nothing 7..10 but B.
    s = split([(0, 6), (2, 10)], [(0, 4, {"proposal": 0.75, "verification": 0.25}), (6, 7, {"storage": 1.0})],
              start=0, end=10, slots=2, trials=4, queued=[(1, 2)])
    # training: 0..2 one slot, 2..6 two, 6..10 one -> (2 + 8 + 4) / 2 = 7 s
    assert s["training_s"] == pytest.approx(7.0)
    # free half-slots: 0..1 proposal (0.5 s), 1..2 start-up (0.5 s), 6..7 storage (0.5 s), 7..10 idle (1.5 s)
    assert s["startup_s"] == pytest.approx(0.5)
    assert s["proposal_s"] == pytest.approx(0.375) and s["verification_s"] == pytest.approx(0.125)
    assert s["storage_s"] == pytest.approx(0.5) and s["idle_s"] == pytest.approx(1.5)
    assert sum(s[k] for k in PARTS) == pytest.approx(s["wall_s"]) == pytest.approx(10.0)
    assert s["busy_fraction"] == pytest.approx(0.7) and s["any_busy_fraction"] == pytest.approx(1.0)
    assert s["overhead_per_trial_s"] == pytest.approx(3.0 / 4) and s["trials_per_min"] == pytest.approx(24.0)
    # the steady state starts when both slots have begun an evaluation (t = 2): 6 of 8 s training,
    # (8 - 6) s outside training over the 2 evaluations that ended after t = 2
    assert s["startup_end_s"] == 2.0 and s["steady_wall_s"] == pytest.approx(8.0)
    assert s["steady_busy_fraction"] == pytest.approx(0.75) and s["steady_overhead_per_trial_s"] == pytest.approx(1.0)


def test_split_clips_to_the_range_and_shares_concurrent_activities():
    s = split([(-5, 1)], [(0, 2, "proposal"), (1, 3, {"storage": 1.0})], start=0, end=4, slots=1, trials=1)
    # 0..1 training; 1..2 proposal and storage share; 2..3 storage; 3..4 idle
    assert (s["training_s"], s["proposal_s"], s["storage_s"], s["idle_s"]) == pytest.approx((1, 0.5, 1.5, 1))


# -- determinism with fixed generations ----------------------------------------------------------------


def _search(tmp_path, name, *, trials=9, seed=2, executor=None, on_event=None, evaluator=None, **kw):
    ev = evaluator or FakeEvaluator(str(tmp_path / f"{name}.calls"))
    store = Store(tmp_path / name)
    evo = Evolution(tiny_seed(), ev, store, trials=trials, seed=seed, mutator=M.Mutator("random_edit"),
                    executor=executor, on_event=on_event, **kw)
    try:
        return evo.run(), ev, evo
    finally:
        store.close()


def _key(result):
    trial = {c.id: c.trial for c in result.candidates}
    return [(c.trial, c.hash, trial.get(c.parent_id), c.mutation, c.status, c.metrics.get("val_acc"))
            for c in result.candidates]


def test_fixed_generations_give_the_same_search_whatever_the_workers(tmp_path):
    a, _, evo = _search(tmp_path, "a", pipeline=True, generation=3)
    b, _, _ = _search(tmp_path, "b", pipeline=True, generation=3, executor=InProcessExecutor(workers=2))
    c, _, _ = _search(tmp_path, "c", pipeline=True, generation=3, seed=3)
    assert _key(a) == _key(b) and _key(a) != _key(c)
    assert [x.status for x in a.candidates] == ["done"] * 9
    # every parent comes from a generation at least two before its child's (or is the seed)
    trial = {x.id: x.trial for x in a.candidates}
    for x in a.candidates[1:]:
        p = trial[x.parent_id]
        assert p == 0 or evo.generation_of(p) <= evo.generation_of(x.trial) - 2
    assert any(trial[x.parent_id] != 0 for x in a.candidates[1:])  # parents beyond the seed were chosen


def test_generation_needs_the_pipeline_and_a_non_negative_size(tmp_path):
    ev = FakeEvaluator(str(tmp_path / "x.calls"))
    with pytest.raises(ParameterError, match="pipeline"):
        Evolution(tiny_seed(), ev, Store(tmp_path / "a"), generation=2)
    with pytest.raises(ParameterError, match="non-negative"):
        Evolution(tiny_seed(), ev, Store(tmp_path / "b"), pipeline=True, generation=-1)


def test_interrupt_then_resume_loses_no_finished_candidate(tmp_path):
    straight, _, _ = _search(tmp_path, "straight", pipeline=True, generation=2)

    seen = []

    def stop_after_four(kind, cand, state):
        if kind == SearchEvent.FINISHED:
            seen.append(cand.trial)
            if len(seen) == 4:
                raise KeyboardInterrupt

    ev = FakeEvaluator(str(tmp_path / "resumed.calls"))
    with pytest.raises(KeyboardInterrupt):
        _search(tmp_path, "resumed", pipeline=True, generation=2, on_event=stop_after_four, evaluator=ev)
    with Store(tmp_path / "resumed", create=False) as st:
        before = {c.id: (c.hash, c.status, dict(c.metrics)) for c in st.candidates() if c.final}
    assert len(before) == 4
    evaluated_before = calls(ev)
    resumed, _, _ = _search(tmp_path, "resumed", pipeline=True, generation=2, evaluator=ev)
    after = {c.id: (c.hash, c.status, dict(c.metrics)) for c in resumed.candidates}
    assert all(after[i] == v for i, v in before.items())  # kept as they were
    assert len(resumed.candidates) == 9 and all(c.final for c in resumed.candidates)
    assert _key(resumed) == _key(straight)  # and the same search as without the interruption
    finished_hashes = {h for h, _, _ in before.values()}
    again = calls(ev)[len(evaluated_before):]
    assert not finished_hashes & set(again)  # no finished candidate was trained twice
    assert len(set(calls(ev))) == 9


def test_asynchronous_mode_completes_and_resumes(tmp_path):
    def stop(kind, cand, state):
        if kind == SearchEvent.FINISHED and state.finished == 3:
            raise KeyboardInterrupt

    ev = FakeEvaluator(str(tmp_path / "a.calls"))
    with pytest.raises(KeyboardInterrupt):
        _search(tmp_path, "a", trials=7, pipeline=True, generation=0, on_event=stop, evaluator=ev)
    res, _, _ = _search(tmp_path, "a", trials=7, pipeline=True, generation=0, evaluator=ev)
    assert len(res.candidates) == 7 and all(c.status == "done" for c in res.candidates)
    assert len(calls(ev)) == len(set(calls(ev))) == 7
    assert res.time_split["population"] == "async"


# -- the time split of real searches ---------------------------------------------------------------------


@pytest.mark.parametrize("pipeline", [False, True])
def test_time_split_sums_to_the_wall_time_and_is_kept(tmp_path, pipeline):
    res, _, _ = _search(tmp_path, "s", trials=5, pipeline=pipeline, executor=InProcessExecutor(workers=2))
    s = res.time_split
    assert s["pipeline"] is pipeline and s["trials"] == 5 and s["slots"] == 2
    assert all(s[k] >= 0 for k in PARTS)
    assert sum(s[k] for k in PARTS) == pytest.approx(s["wall_s"], rel=1e-3, abs=1e-3)
    assert s["wall_s"] <= res.wall_s + 0.05 and s["wall_s"] > 0.5 * res.wall_s
    assert s["proposal_s"] + s["verification_s"] > 0 and s["storage_s"] > 0
    assert math.isclose(s["busy_fraction"], s["training_s"] / s["wall_s"], rel_tol=1e-3)
    assert json.loads((tmp_path / "s" / TIME_SPLIT_FILE).read_text())["wall_s"] == s["wall_s"]


def test_pipeline_off_and_on_give_valid_searches_with_real_training(tmp_path):
    from alphanas.ir.onnx_io import from_onnx
    from alphanas.search.run import SearchConfig, run_search
    from alphanas.synth.verify import check_graph

    for name, on in (("off", False), ("on", True)):
        res = run_search(SearchConfig(trials=3, epochs=1, out=str(tmp_path / name), pipeline=on,
                                      strategy="random_edit"))
        assert [c.status for c in res.candidates] == ["done"] * 3
        assert all(0 <= c.metrics["val_acc"] <= 1 for c in res.candidates)
        assert res.time_split["pipeline"] is on and res.time_split["training_s"] > 0
        with Store(tmp_path / name, create=False) as st:
            for c in res.candidates:  # every trained candidate is a valid model that passes the checks
                check_graph(from_onnx(onnx.load(str(st.model_path(c.id))), source="candidate"))
                assert st.model_path(c.id, trained=True).is_file()


def test_pipelined_search_warms_the_sandbox_once(tmp_path):
    from alphanas.search.sandbox import SANDBOX

    SANDBOX.close()
    starts = SANDBOX.starts
    ev = FakeEvaluator(str(tmp_path / "p.calls"))
    store = Store(tmp_path / "p")
    evo = Evolution(tiny_seed(), ev, store, trials=4, seed=1, pipeline=True, generation=2,
                    mutator=M.Mutator("property", probabilities={"property": 1.0}))
    res = evo.run()
    store.close()
    assert SANDBOX.starts == starts + 1 and SANDBOX.running  # started once, kept warm
    assert any(c.mutation == "property" for c in res.candidates)


# -- executors: several candidates per device, one pool per GPU, Ray GPU fractions (mocked devices) --------


def _device_of_worker(pause: float) -> str:
    time.sleep(pause)
    return os.environ.get("CUDA_VISIBLE_DEVICES", "")


def test_process_executor_makes_one_pool_per_gpu_with_per_device_workers(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "device_count", lambda: 3)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    ex = X.make_executor("process", None, per_device=2)
    try:
        assert ex.workers == 6 and ex.devices == ["0", "1", "2"] and ex.threads >= 1
    finally:
        ex.shutdown()
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "4,6,7")
    ex = X.ProcessExecutor(workers=4)  # given workers are spread over the GPUs
    try:
        assert ex.workers == 4 and ex.devices == ["4", "6", "7"] and [n for n, _ in ex._layout] == [2, 1, 1]
    finally:
        ex.shutdown()
    ex = X.make_executor("process", None, per_device=2, device="cpu")  # training on the CPU: no GPU pools
    try:
        assert ex.workers == 2 and ex.devices == [None]
    finally:
        ex.shutdown()
    with pytest.raises(ParameterError, match="process or ray"):
        X.make_executor("local", 1, per_device=2)


@pytest.mark.slow
def test_each_gpu_pool_worker_sees_only_its_device(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    ex = X.ProcessExecutor(per_device=1)
    try:
        futs = [ex.submit(_device_of_worker, 1.0) for _ in range(2)]  # both in flight: one per pool
        assert sorted(f.result(timeout=300) for f in futs) == ["0", "1"]
    finally:
        ex.shutdown()


def test_ray_executor_asks_for_a_gpu_fraction_per_candidate(monkeypatch):
    asked = {}

    def remote(**opts):
        asked.update(opts)
        return lambda fn: fn

    fake = types.SimpleNamespace(is_initialized=lambda: True, cluster_resources=lambda: {"GPU": 2.0, "CPU": 16.0},
                                 remote=remote, shutdown=lambda: None)
    monkeypatch.setitem(sys.modules, "ray", fake)
    ex = X.RayExecutor(per_device=4)
    assert ex.gpus_per_task == 0.25 and asked["num_gpus"] == 0.25 and ex.workers == 8
    ex = X.RayExecutor(workers=3)  # no per-device: the GPUs shared by the workers, at most one each
    assert ex.gpus_per_task == pytest.approx(2 / 3)
    fake.cluster_resources = lambda: {"CPU": 4.0}
    ex = X.RayExecutor(per_device=2)
    assert ex.gpus_per_task == 0.0 and ex.workers == 2  # no GPU: CPU tasks


def test_cli_refuses_bad_pipeline_options_in_one_line(tmp_path, capsys):
    from alphanas.cli import main

    for args, msg in ((["--pipeline", "off", "--generation", "2"], "--generation sets how a pipelined search"),
                      (["--generation", "-1"], "--generation -1: must be a non-negative integer"),
                      (["--per-device", "2"], "--per-device trains several candidates at once")):
        assert main(["search", *args, "--trials", "2", "--out", str(tmp_path / "x")]) == 2
        err = capsys.readouterr().err
        assert err.strip().count("\n") == 0 and msg in err and "Traceback" not in err
        assert not (tmp_path / "x").exists()
