"""The evolution loop's collaborators are protocols: the built-in ones satisfy them, and any object with the
same methods works in their place."""

from __future__ import annotations

import concurrent.futures as cf

from alphanas.ir import zoo
from alphanas.search.evaluators import CombinedEvaluator, LatencyEvaluator, TrainEvaluator
from alphanas.search.evolution import Evolution
from alphanas.search.executors import InProcessExecutor, TaskResult, evaluate_task
from alphanas.search.mutations import Mutator
from alphanas.search.protocols import Evaluator, TrainingEvaluator
from alphanas.search.store import Store
from alphanas.ir.cost import graph_params


class CountingExecutor:
    """A home-made executor (no base class): runs each task at once and counts them."""

    workers = 1

    def __init__(self) -> None:
        self.tasks = 0

    def submit(self, fn, *args) -> cf.Future:
        self.tasks += 1
        fut: cf.Future = cf.Future()
        fut.set_result(fn(*args))
        return fut

    def shutdown(self) -> None:
        pass


class ParamsEvaluator:
    """A home-made evaluator: accuracy falls with size, so the front is not trivial."""

    def evaluate(self, graph, *, seed, parent=None):
        params = float(graph_params(graph))
        return {"val_acc": 1.0 / (1.0 + params / 1e4), "params": params}


def test_built_in_evaluators_satisfy_the_protocols():
    assert isinstance(TrainEvaluator(), TrainingEvaluator) and isinstance(CombinedEvaluator([]), TrainingEvaluator)
    assert isinstance(LatencyEvaluator(), Evaluator) and not isinstance(LatencyEvaluator(), TrainingEvaluator)
    assert not isinstance(object(), Evaluator)


def test_evaluate_task_returns_a_task_result_for_a_plain_evaluator():
    from alphanas.search.evolution import onnx_bytes

    out = evaluate_task(ParamsEvaluator(), onnx_bytes(zoo.build("cnn", width=4)), seed=0)
    assert isinstance(out, TaskResult) and out.error is None and out.trained is None and out.metrics["params"] > 0


def test_duck_typed_collaborators_drive_the_search(tmp_path):
    executor = CountingExecutor()
    with Store(tmp_path / "s") as store:
        evo = Evolution(zoo.build("cnn", width=4), ParamsEvaluator(), store, trials=4, seed=0,
                        mutator=Mutator(strategy="random_edit"), executor=executor)
        result = evo.run()
    assert len(result.candidates) == 4 and executor.tasks == result.evaluations > 0
    assert all(isinstance(k, str) and type(k) is str for k in result.counts)  # plain keys: JSON and printing unchanged
    assert sum(result.counts.values()) == 4 and result.front
    assert InProcessExecutor().workers == 1
