"""Synthesis end to end: budgets that run out, unsatisfiable targets, determinism, multi-context
problems, and splice-and-verify over a seeded sample of the benchmark corpus."""

from __future__ import annotations

import os

import numpy as np
import pytest

from alphanas.bench.synthesis import LIGHT, corpus
from alphanas.errors import AlphanasError
from alphanas.ir import zoo
from alphanas.ir.builder import GraphBuilder
from alphanas.ir.subgraph import Subgraph
from alphanas.properties.depth import DepthProperty
from alphanas.synth import SYNTHESIZERS, SynthesisFailed, SynthesisProblem, Vocabulary, mutate, synthesize
from alphanas.synth import props as P
from alphanas.synth.problem import EGraphStats, ProgressiveStats
from alphanas.synth.verify import check_graph
from alphanas.ir.hashing import structural_hash

SYNTHS = ("egraph", "progressive")


def chain_problem(depth_target=None, **kw):
    """conv3x3 -> bn -> relu on 8 channels at 6x6, as a synthesis problem (target: its own properties,
    optionally with another depth)."""
    b = GraphBuilder("t", seed=0)
    x = b.input("x", ("N", 8, 6, 6))
    y = b.relu(b.batchnorm(b.conv(x, 8, name="c"), name="bn"), name="r")
    g = b.build(b.conv(y, 4, kernel=1, name="head"))
    sub = Subgraph(g, [n for n in g.nodes if n.name in ("c", "bn", "r")])
    target = P.infer(sub.to_graph("o"), ("shape", "depth", "mixing"))
    if depth_target is not None:
        target = P.make_set({**dict(target), "depth": DepthProperty([[depth_target]])})
    return SynthesisProblem(graph=g, subgraph=sub, target=target, **kw)


@pytest.mark.parametrize("synth", SYNTHS)
def test_solves_and_verifies(synth):
    res = synthesize(chain_problem(seed=1), synth)
    assert res.distance == 0
    check_graph(res.graph)  # synthesize already did; the returned graph is the checked one
    assert structural_hash(res.new) != structural_hash(res.old)


def test_result_fields_and_stats():
    problem = chain_problem(seed=1)
    res = synthesize(problem, "egraph")
    assert isinstance(res.stats, EGraphStats)
    assert res.stats.eclasses <= res.stats.enodes and res.stats.iterations == 3 and res.stats.satisfying >= 1
    assert sorted(n.name for n in res.old.nodes) == ["bn", "c", "r"]
    assert len(res.new.nodes) == len(res.nodes)
    assert {n.name for n in res.nodes} <= {n.name for n in res.graph.nodes}
    assert res.graph is not problem.graph and res.verify_ms > 0
    res = synthesize(chain_problem(seed=1), "progressive")
    assert isinstance(res.stats, ProgressiveStats)
    assert res.stats.attempts >= 1 and res.stats.chains >= 1 and res.stats.flops is None


@pytest.mark.parametrize("synth", SYNTHS)
def test_unsatisfiable_target_fails_with_best_distance(synth):
    with pytest.raises(SynthesisFailed) as err:
        synthesize(chain_problem(depth_target=40, budget_s=0.5), synth)
    assert 0 < err.value.best_distance < float("inf")
    assert "best distance" in str(err.value)


@pytest.mark.parametrize("synth", SYNTHS)
def test_time_budget_runs_out(synth):
    with pytest.raises(SynthesisFailed) as err:
        synthesize(chain_problem(depth_target=5, budget_s=1e-6), synth)
    assert err.value.best_distance > 0


def test_enode_budget_runs_out():
    # the encoded subgraph alone exceeds a 1-e-node budget: no rewriting round runs, the best distance
    # is the original's; with the default budget the same problem is solved
    with pytest.raises(SynthesisFailed) as err:
        synthesize(chain_problem(depth_target=6, max_enodes=1, seed=0), "egraph")
    assert 0 < err.value.best_distance < float("inf")
    res = synthesize(chain_problem(depth_target=6, seed=0), "egraph")
    assert res.distance == 0


def test_vocabulary_restricts_synthesis():
    voc = Vocabulary(acts=("relu", "tanh"), norms=("bn",), families=("act_swap",))
    for synth in SYNTHS:
        res = synthesize(chain_problem(seed=0, vocabulary=voc), synth)
        ops = {n.op_type for n in res.new.nodes}
        assert ops <= {"Conv", "BatchNormalization", "Relu", "Tanh"}, ops
    with pytest.raises(AlphanasError):
        Vocabulary(acts=("nope",))


def test_contexts_must_all_fit():
    # a context with a different spatial size is fine for a same-padding chain; one whose output shape
    # cannot be produced is refused
    ok = chain_problem(seed=0, contexts=[([(2, 8, 12, 12)], [(2, 8, 12, 12)])])
    assert synthesize(ok, "egraph").distance == 0
    bad = chain_problem(seed=0, contexts=[([(2, 8, 12, 12)], [(2, 8, 5, 5)])], budget_s=0.3)
    for synth in SYNTHS:
        with pytest.raises(SynthesisFailed, match="context"):
            synthesize(bad, synth)


@pytest.mark.parametrize("synth", SYNTHS)
def test_same_seed_same_result(synth):
    g = zoo.build("resnet_small")
    a = mutate(g, seed=5, synthesizer=synth)
    b = mutate(g, seed=5, synthesizer=synth)
    assert a.description == b.description
    assert structural_hash(a.graph) == structural_hash(b.graph)
    for wa, wb in zip(sorted(a.graph.initializers.items()), sorted(b.graph.initializers.items())):
        np.testing.assert_array_equal(wa[1].const, wb[1].const)


def test_unknown_synthesizer_is_a_user_error():
    with pytest.raises(AlphanasError, match="unknown synthesizer"):
        mutate(zoo.build("cnn"), seed=0, synthesizer="magic")
    assert "egraph" in SYNTHESIZERS and "progressive" in SYNTHESIZERS


def _corpus_check(problems, synths):
    """Every returned subgraph passes splice-and-verify; returns the success counts."""
    wins = dict.fromkeys(synths, 0)
    for _name, problem in problems:
        for synth in synths:
            try:
                res = synthesize(problem, synth, verify=False)
            except SynthesisFailed:
                continue
            check_graph(res.graph, seed=problem.seed)  # raises on any failed check
            wins[synth] += 1
    return wins


def test_corpus_sample_splice_and_verify():
    """A 40-problem seeded sample of the corpus (narrow 16x16 variants of the same four models)."""
    problems = corpus(40, models=LIGHT)
    wins = _corpus_check(problems, ("egraph",))
    assert wins["egraph"] >= 36
    wins = _corpus_check(problems[:12], ("progressive",))
    assert wins["progressive"] >= 8


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("ALPHANAS_FULL_CORPUS"), reason="set ALPHANAS_FULL_CORPUS=1 (about 1 h)")
def test_full_corpus_splice_and_verify():
    wins = _corpus_check(corpus(200), SYNTHS)
    assert wins["egraph"] >= 190
