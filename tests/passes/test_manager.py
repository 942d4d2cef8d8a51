"""PassManager, Pass pre/postconditions and the pass registry, on small hand-built graphs."""

from __future__ import annotations

import pytest

from alphanas.errors import AlphanasError
from alphanas.ir.builder import GraphBuilder
from alphanas.passes import (
    FixedPointError,
    Pass,
    PassConditionError,
    PassFailedError,
    PassManager,
    PassResult,
    PassVerificationError,
    get_pass,
    load_plugin,
    register_pass,
)
from alphanas.passes import registry
from alphanas.passes.util import bypass
from tests.plugin_util import fake_distribution, write_noop_pass_module


def relu_chain(length: int):
    """x -> Relu -> Relu -> ... (``length`` Relus) -> Sigmoid."""
    b = GraphBuilder("chain")
    y = b.input("x", ("N", 4))
    for i in range(length):
        y = b.op("Relu", y, name=f"relu{i}")
    return b.build(b.op("Sigmoid", y, name="out"))


def ops(graph) -> list[str]:
    return [n.op_type for n in graph.nodes]


class DropOneRelu(Pass):
    """Removes the first Relu whose input is a Relu (one per call, so a chain needs several rounds)."""

    name = "test-drop-one-relu"

    def run(self, graph):
        for node in graph.nodes:
            src = node.inputs[0].producer
            if node.op_type == "Relu" and src is not None and src.op_type == "Relu":
                return PassResult(graph, bypass(graph, node, node.inputs[0]))
        return PassResult(graph, False)


class AlwaysModified(Pass):
    """Changes nothing but always says it did (never reaches a fixed point)."""

    name = "test-always-modified"

    def run(self, graph):
        return PassResult(graph, True)


class DanglingPass(Pass):
    """Deletes the Sigmoid from the node list without rewiring its users: the graph output dangles."""

    name = "test-dangling"

    def run(self, graph):
        graph.nodes = [n for n in graph.nodes if n.op_type != "Sigmoid"]
        return PassResult(graph, True)


class CrashingPass(Pass):
    name = "test-crash"

    def run(self, graph):
        return {}["boom"]


class NeedsTwoNodes(Pass):
    name = "test-conditions"

    def __init__(self, post_ok: bool = True):
        self.post_ok = post_ok

    def precondition(self, graph):
        return None if len(graph.nodes) >= 2 else f"needs at least 2 nodes, found {len(graph.nodes)}"

    def postcondition(self, graph):
        return None if self.post_ok else "the Sigmoid went missing"

    def run(self, graph):
        return PassResult(graph, False)


def test_fixed_point_rounds_are_hand_counted():
    g = relu_chain(4)
    pm = PassManager([DropOneRelu()])
    result = pm.run(g)
    # 3 of the 4 Relus are redundant: one goes per round, then one round finds nothing
    assert [(r.round, r.modified, r.nodes_after) for r in pm.history] == [(1, True, 4), (2, True, 3), (3, True, 2),
                                                                          (4, False, 2)]
    assert result.modified and ops(result.graph) == ["Relu", "Sigmoid"]
    assert ops(g) == ["Relu"] * 4 + ["Sigmoid"], "run() must work on a copy by default"


def test_without_fixed_point_one_round():
    pm = PassManager([DropOneRelu()], fixed_point=False)
    result = pm.run(relu_chain(4))
    assert len(pm.history) == 1 and ops(result.graph) == ["Relu"] * 3 + ["Sigmoid"]


def test_unchanged_graph_reports_not_modified():
    pm = PassManager([DropOneRelu()])
    result = pm.run(relu_chain(1))
    assert not result.modified and len(pm.history) == 1


def test_step_limit_hit_is_a_clear_error():
    with pytest.raises(FixedPointError, match=r"no fixed point after 2 round\(s\): test-drop-one-relu still changed"):
        PassManager([DropOneRelu()], max_rounds=2).run(relu_chain(4))
    with pytest.raises(FixedPointError, match="test-always-modified"):
        PassManager([DropOneRelu(), AlwaysModified()], max_rounds=5).run(relu_chain(2))
    with pytest.raises(AlphanasError, match="max_rounds must be >= 1"):
        PassManager([DropOneRelu()], max_rounds=0).run(relu_chain(2))


def test_broken_pass_is_named_by_verification():
    pm = PassManager([DropOneRelu(), DanglingPass()])
    with pytest.raises(PassVerificationError, match=r"pass 'test-dangling' \(round 1\) left an invalid graph: "
                                                    r"graph output .* is not produced"):
        pm.run(relu_chain(3))
    # the pass before it ran and was recorded; the broken one was not
    assert [r.name for r in pm.history] == ["test-drop-one-relu"]
    # without verification the broken graph comes back (the caller asked not to check)
    assert "Sigmoid" not in ops(PassManager([DanglingPass()], fixed_point=False, verify=False).run(relu_chain(1)).graph)


def test_crashing_pass_is_named():
    with pytest.raises(PassFailedError, match=r"pass 'test-crash' \(round 1\) failed on graph 'chain': KeyError"):
        PassManager([CrashingPass()]).run(relu_chain(1))


def test_pre_and_postconditions():
    b = GraphBuilder("tiny")
    g = b.build(b.op("Sigmoid", b.input("x", (1, 2))))
    with pytest.raises(PassConditionError, match=r"pass 'test-conditions': precondition failed on graph 'tiny': "
                                                 r"needs at least 2 nodes, found 1"):
        NeedsTwoNodes()(g)
    assert NeedsTwoNodes()(relu_chain(1)).modified is False
    with pytest.raises(PassConditionError, match="postcondition failed on graph 'chain': the Sigmoid went missing"):
        PassManager([NeedsTwoNodes(post_ok=False)]).run(relu_chain(1))


def test_registry(clean_registry):
    register_pass(DropOneRelu)
    assert isinstance(get_pass("test-drop-one-relu"), DropOneRelu)
    assert registry.origin("test-drop-one-relu") == "builtin"

    class Impostor(DropOneRelu):
        pass

    with pytest.raises(AlphanasError, match="'test-drop-one-relu' is already registered"):
        register_pass(Impostor)
    with pytest.raises(AlphanasError, match="not a subclass of alphanas.passes.Pass"):
        register_pass(int)

    class Nameless(Pass):
        pass

    with pytest.raises(AlphanasError, match="has no name"):
        register_pass(Nameless)
    with pytest.raises(AlphanasError, match=r"unknown pass 'no-such-pass'; available: .*egraph"):
        get_pass("no-such-pass")


def test_load_plugin_module(clean_registry, tmp_path, monkeypatch):
    write_noop_pass_module(tmp_path / "my_passes.py", "test-plugin-nothing", "Does nothing.")
    (tmp_path / "no_passes.py").write_text("X = 1\n")
    (tmp_path / "broken_passes.py").write_text("raise RuntimeError('half-written plug-in')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert load_plugin("my_passes") == ["test-plugin-nothing"]
    assert registry.origin("test-plugin-nothing") == "plugin my_passes"
    assert get_pass("test-plugin-nothing").description() == "Does nothing."
    assert load_plugin("my_passes") == ["test-plugin-nothing"], "loading twice is harmless"
    with pytest.raises(AlphanasError, match="plugin no_passes: the module defines no alphanas pass"):
        load_plugin("no_passes")
    with pytest.raises(AlphanasError, match="plugin broken_passes: importing it raised RuntimeError: half-written"):
        load_plugin("broken_passes")
    with pytest.raises(AlphanasError, match="plugin not_a_module_anywhere: cannot import it"):
        load_plugin("not_a_module_anywhere")


def test_entry_points_are_loaded(clean_registry, tmp_path, monkeypatch):
    write_noop_pass_module(tmp_path / "fake_ep_passes.py", "test-ep-nothing", "Does nothing, from an entry point.")
    fake_distribution(tmp_path, "fake-alphanas-passes", "[alphanas.passes]\ntest-ep-nothing = fake_ep_passes:Nothing\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert "test-ep-nothing" in registry.load_entry_points()
    assert registry.origin("test-ep-nothing") == "entry point fake_ep_passes:Nothing"
    assert get_pass("test-ep-nothing")(relu_chain(1)).modified is False


def test_broken_entry_point_is_a_clear_error(clean_registry, tmp_path, monkeypatch):
    fake_distribution(tmp_path, "fake-alphanas-passes", "[alphanas.passes]\nghost = no_such_module_for_ep:Ghost\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(AlphanasError, match=r"plug-in entry point 'ghost' \(no_such_module_for_ep:Ghost\) of group "
                                            r"'alphanas.passes' failed to load: ModuleNotFoundError"):
        registry.load_entry_points()


class FunctionalDropOneRelu(Pass):
    """DropOneRelu as a functional pass: works on a copy and never touches its input."""

    name = "test-functional-drop-one-relu"
    in_place = False

    def run(self, graph):
        g = graph.copy()
        result = DropOneRelu().run(g)
        return PassResult(g, result.modified) if result.modified else PassResult(graph, False)


class LyingInPlace(Pass):
    """Declares in_place but returns a new graph."""

    name = "test-lying-in-place"

    def run(self, graph):
        return PassResult(graph.copy(), False)


def test_managers_nest_with_fixed_point_and_modified():
    inner = PassManager([DropOneRelu()], fixed_point=False)
    outer = PassManager([inner, PassManager([DropOneRelu()])])
    assert isinstance(inner, Pass) and inner.in_place and outer.in_place
    g = relu_chain(5)
    result = outer.run(g)
    # round 1: the inner one-shot manager drops one Relu, the fixed-point one the other three; round 2: nothing
    assert [(r.name, r.round, r.modified, r.nodes_after) for r in outer.history] == [
        ("pass-manager", 1, True, 5), ("pass-manager", 1, True, 2),
        ("pass-manager", 2, False, 2), ("pass-manager", 2, False, 2)]
    assert result.modified and ops(result.graph) == ["Relu", "Sigmoid"] and ops(g) == ["Relu"] * 5 + ["Sigmoid"]
    unchanged = PassManager([PassManager([DropOneRelu()])]).run(relu_chain(1))
    assert not unchanged.modified


def test_nested_step_limit_is_reported():
    outer = PassManager([PassManager([DropOneRelu()], max_rounds=2)])
    with pytest.raises(FixedPointError, match="no fixed point after 2 round"):
        outer.run(relu_chain(5))


def test_in_place_nested_manager_mutates_the_graph_it_is_given():
    g = relu_chain(3)
    result = PassManager([DropOneRelu()])(g)
    assert result.graph is g and ops(g) == ["Relu", "Sigmoid"]


def test_functional_pass_leaves_its_input_untouched_and_the_manager_does_not_copy(monkeypatch):
    from alphanas.ir.graph import Graph

    g = relu_chain(4)
    assert not FunctionalDropOneRelu.in_place
    direct = FunctionalDropOneRelu()(g)
    assert direct.modified and direct.graph is not g and ops(g) == ["Relu"] * 4 + ["Sigmoid"]

    copies = []
    real_copy = Graph.copy
    monkeypatch.setattr(Graph, "copy", lambda self: copies.append(self) or real_copy(self))
    functional = PassManager([FunctionalDropOneRelu()])
    assert not functional.in_place
    result = functional.run(g)
    # four rounds, one copy each made by the pass itself (of a shrinking graph); none by the manager
    assert ops(result.graph) == ["Relu", "Sigmoid"] and [len(c.nodes) for c in copies] == [5, 4, 3, 2]
    assert ops(g) == ["Relu"] * 4 + ["Sigmoid"], "the input graph is untouched"
    copies.clear()
    PassManager([DropOneRelu()]).run(relu_chain(4))
    assert len(copies) == 1, "an in-place step: the manager copies the caller's graph once"
    copies.clear()
    mixed = PassManager([FunctionalDropOneRelu(), DropOneRelu()])
    assert not mixed.in_place
    h = relu_chain(4)
    out = mixed(h)  # as a step: functional, so it copies before its in-place step and leaves h alone
    assert out.graph is not h and ops(h) == ["Relu"] * 4 + ["Sigmoid"] and ops(out.graph) == ["Relu", "Sigmoid"]


def test_in_place_pass_returning_another_graph_is_refused():
    with pytest.raises(PassConditionError, match="declares in_place = True but returned a different graph"):
        LyingInPlace()(relu_chain(1))
