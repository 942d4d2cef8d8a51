"""The time budget bounds the whole mutation, verification included (issue 12, item 3).

A mutation on a model whose verification is slow (the zoo ResNet-18 at 224x224: 54 GFLOPs, so the
replaced region is verified in context) must stop at its deadline with "verification exceeded the
budget" rather than run on, and it never returns an unverified graph. The tests assert on the reported
outcome (the exception's stage, elapsed and budget fields, the result's timings), not on wall-clock
thresholds.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from alphanas import zoo
from alphanas.ir.cost import graph_flops
from alphanas.synth import api
from alphanas.synth.problem import BudgetExceeded, SynthesisFailed
from alphanas.synth.verify import Deadline, check_graph


@pytest.fixture(scope="module")
def resnet224():
    return zoo.build("resnet18", input_size=224, in_channels=3, num_classes=10)


@pytest.fixture(scope="module")
def spliced(resnet224):
    """A real spliced (unverified) result on the ResNet: seeded draw, synthesis with a generous budget."""
    for seed in (3, 4, 2, 5):
        rng = np.random.default_rng(seed)
        problem, _ = api.make_problem(resnet224, rng, seed=seed, budget_s=10.0)
        try:
            return problem, api.synthesize(problem, "egraph", verify=False)
        except SynthesisFailed:
            continue
    pytest.skip("no seed synthesized a result")


def test_verification_is_cut_at_the_deadline(spliced):
    problem, res = spliced
    assert graph_flops(res.graph) > api.REGION_VERIFY_FLOPS  # the slow path: region verified in context
    deadline = Deadline(0.01)
    with pytest.raises(BudgetExceeded) as info:
        api._verify_result(res.graph, res, problem.seed, deadline)
    e = info.value
    assert "verification exceeded the budget" in str(e) and e.budget_s == 0.01
    assert e.stage in ("whole-graph IR verify", "whole-graph ONNX checker", "IR verify", "ONNX export",
                       "ONNX checker", "onnxruntime run", "torch forward/backward")
    assert e.elapsed_s >= e.budget_s  # cut because the deadline had passed, at the start of a stage


def test_a_spent_budget_cuts_before_any_check(spliced):
    problem, res = spliced
    deadline = Deadline(1.0, start=time.perf_counter() - 2.0)  # synthesis already used it all
    with pytest.raises(BudgetExceeded) as info:
        api._verify_result(res.graph, res, problem.seed, deadline)
    assert info.value.stage == "whole-graph IR verify" and info.value.elapsed_s >= 2.0


def test_the_torch_step_is_predicted_before_it_starts():
    """A stage predicted to end after the deadline is not started (the torch step: 3x the onnxruntime run)."""
    deadline = Deadline(10.0)
    deadline.check("anything", needs_s=1.0)  # fits
    with pytest.raises(BudgetExceeded, match="it would take about 20.00 s") as info:
        deadline.check("torch forward/backward", needs_s=20.0)
    assert info.value.stage == "torch forward/backward"


def test_mutate_with_a_tiny_budget_says_budget_exceeded_and_returns_nothing(resnet224):
    # 1 ms: the lowering check of the 11M-parameter model alone takes longer (it builds the torch module), so
    # the mutation stops before it synthesizes anything, naming the budget
    with pytest.raises(BudgetExceeded, match="exceeded the budget") as info:
        api.mutate(resnet224, seed=3, budget_s=0.001)
    assert info.value.budget_s == 0.001 and info.value.stage == "synthesis"
    assert info.value.elapsed_s >= info.value.budget_s


def test_a_mutation_within_its_budget_reports_its_timings():
    g = zoo.build("cnn")
    res = api.mutate(g, seed=1, budget_s=30.0)
    assert res.budget_s == 30.0 and res.elapsed_ms is not None
    assert res.elapsed_ms >= res.synth_ms and res.elapsed_ms >= res.verify_ms
    check_graph(res.graph)  # verified (and still passes the checks)
