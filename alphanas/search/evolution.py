"""The evolution loop: mutate parents selected near the Pareto front, evaluate, store, repeat.

    evo = Evolution(seed_graph, TrainEvaluator("digits", epochs=3), Store("runs/a"), trials=30, seed=0)
    result = evo.run()
    result.front            # the done candidates on the Pareto front of the objectives

**Trials.** The search is a sequence of trials 0, 1, ..., ``trials - 1``; trial 0 is the seed model.
Trial k draws everything from ``numpy.random.default_rng([seed, k])``: the parent (``selection``
over the done candidates, αNAS's ``pareto`` by default; the seed while none is done), the mutation
(``Mutator``, αNAS's probabilities by default), and the training seed. A mutation that fails (does
not apply, or its child fails verification) or yields a structural hash already in the store is
retried with a new seed, up to ``max_attempts`` times; failures and duplicates are counted in the
candidate's ``timings``. Candidates violating a constraint are stored as ``rejected`` without
training; a crash or a diverged training (NaN) is stored as ``failed``; the search goes on. With a
zero-cost proxy ``screen`` (:class:`alphanas.search.proxies.ProxyScreen`), each trial makes
``ceil(1 / keep)`` distinct mutants and trains only the best-scoring one; a screen with ``observe``
(:class:`alphanas.search.surrogate.SurrogateScreen`) is first shown the population the trial sees.

**Determinism.** Trial k only sees the results of trials ``<= k - window`` (``window`` = the
executor's number of workers; 1 for the in-process executor, so every earlier trial), and the
driver waits for exactly those before generating trial k. Hence, for deterministic evaluators (CPU
training is), the same seed and window give the same candidates, metrics and front, whatever the
executor (in-process, process pool or Ray) and in whatever order the workers finish. Latency is a
measurement, so a front over ``latency_ms`` is not reproducible to the bit.

**Pipelining** (``pipeline=True``). Proposals (parent selection, mutation, synthesis,
splice-and-verify, cost metrics) are made by a persistent proposer thread of the driver (synthesis
itself in the warm sandbox process, :mod:`alphanas.search.sandbox`) concurrently with training,
into a bounded queue of ready candidates (as deep as the executor has workers); the driver hands
the next ready candidate to the executor as soon as a worker is free, so the training side does
not wait for a mutation. Every queued candidate passed the same splice-and-verify checks as
before. The worker pool and the synthesis sandbox start in the background (a :class:`Warmup`, which
``run_search`` begins before it loads the data); proposals that need no synthesis go ahead while the
sandbox starts (one that does waits for it: that time is shared between proposal and start-up in the
time split); while the pool starts, the process executor trains the first candidate (the seed) in the driver (see
:mod:`alphanas.search.executors`). Which finished trials a proposal may see:

- ``generation=N`` (deterministic): trials 1.. are grouped in generations of ``N`` (trial k is in
  generation ``(k - 1) // N + 1``; the seed is generation 0). Every candidate of generation g is
  proposed from the same population, the done candidates of generations ``<= g - 2``: generation g
  is proposed while generation g - 1 trains, once every trial of generation g - 2 has finished.
  Parents, mutations and hashes do not depend on timing, so the same seed (and ``N``) gives the same
  search, with any executor and number of workers.
- ``generation=0`` (asynchronous): each proposal sees the candidates done when it starts; the
  freshest parents, but the search depends on timing. It stays resumable like every mode.

Without pipelining (``pipeline=False``, the behaviour before pipelining, kept to measure it) the
driver makes trial k itself when a worker is free and trials ``<= k - window`` have finished.

**Time split.** The search records when evaluations ran and what the driver and proposer did
(:mod:`alphanas.search.timesplit`); :attr:`SearchResult.time_split` splits the run's wall time into
training, proposal, verification, storage, start-up and idle, with trials per minute and the training
side's busy fraction, and the search folder keeps it in ``time_split.json``. Its wall time is the
loop's (:meth:`Evolution.run`); given ``set_up_start`` (``run_search`` passes the moment it was called),
the same split from that moment, data loading and set-up included, is added as ``command_*`` keys.

**Resume.** Every candidate is written to the store (with its ONNX) before it is evaluated; running
the same search on the same store again keeps every finished candidate, re-evaluates the ones that
were in flight, and continues from the next trial. Since every child is built from the ONNX of its
parent in both the straight and the resumed run, both give the same search.
"""

from __future__ import annotations

import json
import math
import random
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from alphanas.errors import AlphanasError, ParameterError
from alphanas.ir.graph import Graph
from alphanas.search import objectives as obj
from alphanas.search.candidate import Candidate, CandidateStatus
from alphanas.search.executors import InProcessExecutor, TaskResult, evaluate_task
from alphanas.search.mutations import Mutant, MutationFailed, Mutator
from alphanas.search.pareto import pareto_front
from alphanas.search.protocols import CandidateStore, Evaluator, Executor, MutationStrategy, Screen
from alphanas.search.selection import SELECTIONS, select_parent
from alphanas.search.store import Store
from alphanas.search.timesplit import PARTS, Timeline
from alphanas.strenum import StrEnum
from alphanas.ir.hashing import structural_hash

#: how many candidate graphs the driver keeps in memory (the rest are reloaded from the store)
GRAPH_CACHE = 16
#: the file of the search folder that keeps the last run's time split
TIME_SPLIT_FILE = "time_split.json"


class Warmup:
    """Helper processes a search starts in the background, with when each began and was ready: the
    executor's workers (its ``warm()``, when it has one) and the synthesis sandbox. Its spans are charged
    to ``startup`` in the time split (only where they keep a training slot idle)."""

    def __init__(self) -> None:
        self._sandbox: threading.Thread | None = None
        self._spans: list[list[float | None]] = []
        self._executors: list[Any] = []

    def sandbox(self) -> None:
        """Start the synthesis sandbox's worker in a background thread (once); the worker pays its first-use
        costs (onnx, onnxruntime, autograd) before it says it is ready (:mod:`alphanas.search.sandbox`)."""
        if self._sandbox is not None:
            return
        from alphanas.search.sandbox import SANDBOX

        span: list[float | None] = [time.time(), None]
        self._spans.append(span)

        def go() -> None:
            try:
                SANDBOX.warm()
            finally:
                span[1] = time.time()

        self._sandbox = threading.Thread(target=go, name="alphanas-sandbox-warm", daemon=True)
        self._sandbox.start()

    def executor(self, executor: Any) -> None:
        """Start the executor's workers (its ``warm()``, when it has one; in the background)."""
        warm = getattr(executor, "warm", None)
        if callable(warm) and executor not in self._executors:
            self._executors.append(executor)
            warm()

    def spans(self) -> list[tuple[float, float]]:
        """``(began, ready)`` of every start-up (ready: now while it is still starting)."""
        now = time.time()
        out = [(float(a), float(b) if b is not None else now) for a, b in self._spans if a is not None]
        for ex in self._executors:
            span = getattr(ex, "warm_span", None)
            if span is not None:
                out.append((float(span[0]), float(span[1]) if span[1] is not None else now))
        return out


class SearchEvent(StrEnum):
    """What an ``on_event`` callback is told (a ``str``: ``kind == "finished"`` holds)."""

    RESUMED = "resumed"  # the store held earlier candidates (no candidate given)
    GENERATED = "generated"  # a candidate was made and stored
    FINISHED = "finished"  # a candidate got its final status


#: the events an ``on_event`` callback receives
EVENTS = tuple(SearchEvent)


def uses_sandbox(mutator: Any) -> bool:
    """Whether ``mutator``'s mutations include property-guided synthesis (in the sandbox)."""
    return getattr(mutator, "strategy", None) == "property" and \
        (getattr(mutator, "probabilities", None) or {}).get("property", 0) > 0


def onnx_bytes(graph: Graph) -> bytes:
    from alphanas.ir.onnx_io import to_onnx

    return to_onnx(graph).SerializeToString()


def graph_from_bytes(data: bytes, source: str = "candidate") -> Graph:
    import onnx

    from alphanas.ir.onnx_io import from_onnx

    return from_onnx(onnx.load_from_string(data), source=source)


def _derived_seed(*parts: int) -> int:
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(1)[0] & 0x7FFFFFFF)


def training_seed(search_seed: int, trial: int, retraining: int = 0) -> int:
    """The training seed of ``trial`` in a search seeded ``search_seed`` (``retraining`` > 0: the seed of
    that extra retraining, never the search's own; :mod:`alphanas.search.estimate` retrains with them)."""
    if retraining == 0:
        return _derived_seed(search_seed, trial, 7)
    return _derived_seed(search_seed, trial, 11, retraining)


@dataclass
class SearchState:
    """What a progress display needs after every event."""

    trials: int
    finished: int  # trials with a final status
    done: int
    failed: int
    rejected: int
    in_flight: int
    best_val_acc: float | None
    front_size: int
    elapsed_s: float
    resumed: int = 0  # finished trials found in the store at start


@dataclass
class SearchResult:
    """All candidates (trial order), the Pareto front of the done ones, and counters."""

    candidates: list[Candidate]
    front: list[Candidate]
    objectives: list[str]
    mutation_failures: int
    duplicates: int
    wall_s: float
    evaluations: int  # evaluations this run submitted (resumed candidates excluded)
    counts: dict[str, int] = field(default_factory=dict)
    #: this run's wall time split (see :mod:`alphanas.search.timesplit`): training_s, proposal_s,
    #: verification_s, storage_s, idle_s, wall_s, trials, trials_per_min, busy_fraction, ...
    time_split: dict[str, Any] = field(default_factory=dict)


def front_of(candidates: list[Candidate], objectives: list[str]) -> list[Candidate]:
    """The done candidates on the Pareto front of ``objectives`` (names such as ``accuracy``)."""
    done = [c for c in candidates if c.status == CandidateStatus.DONE]
    idx = pareto_front([c.metrics for c in done], obj.metric_keys(objectives), obj.senses(objectives))
    return [done[i] for i in idx]


class Evolution:
    """The evolutionary search over one seed graph (see the module docstring).

    ``evaluator`` follows the evaluator protocol (``evaluate(graph, *, seed, parent)``; its ``run``
    is used when present to keep the trained weights); ``objectives`` are names of
    :data:`alphanas.search.objectives.OBJECTIVES` or any reported metric (``val_mse``, ``iou:max``: see
    :func:`~alphanas.search.objectives.parse_objectives`); ``selection`` is ``pareto``, ``regularized`` or
    ``tournament`` with ``selection_options`` passed on; ``executor`` defaults to in-process.
    ``on_event(kind, candidate, state)`` is called on ``generated`` and ``finished`` candidates.
    """

    def __init__(self, seed_graph: Graph, evaluator: Evaluator, store: CandidateStore | Store, *, trials: int = 20,
                 seed: int = 0, objectives: list[str] | str = ("accuracy", "params"),
                 constraints: obj.Constraints | None = None, selection: str = "pareto",
                 selection_options: dict | None = None, mutator: MutationStrategy | None = None,
                 executor: Executor | None = None, max_attempts: int = 8, latency_provider: str = "auto",
                 on_event: Callable[[SearchEvent, Candidate | None, SearchState], None] | None = None,
                 log_path: str | Path | None = None, screen: Screen | None = None, pipeline: bool = False,
                 generation: int | None = None, warmup: Warmup | None = None,
                 set_up_start: float | None = None) -> None:
        if not isinstance(trials, int) or trials < 1:
            raise ParameterError("trials", f"{{trials}} {trials}: must be a positive integer")
        if selection not in SELECTIONS:
            raise AlphanasError(f"unknown selection {selection!r}; choose from {', '.join(SELECTIONS)}")
        if max_attempts < 1:
            raise AlphanasError(f"max_attempts {max_attempts}: must be >= 1")
        if generation is not None and (isinstance(generation, bool) or not isinstance(generation, int) or generation < 0):
            raise ParameterError("generation", f"{{generation}} {generation}: must be a non-negative integer "
                                 "(0: asynchronous)")
        if generation is not None and not pipeline:
            raise ParameterError("generation", "{generation} sets how a pipelined search proposes; it needs "
                                 "{pipeline} on", others=("pipeline",))
        self.evaluator = evaluator
        self.store = store
        self.trials = trials
        self.seed = int(seed)
        self.objectives = obj.parse_objectives(objectives)
        self.constraints = constraints or obj.Constraints()
        self.selection = selection
        self.selection_options = dict(selection_options or {})
        self.mutator: MutationStrategy = mutator or Mutator()
        self.executor: Executor = executor or InProcessExecutor()
        self.window = max(1, int(getattr(self.executor, "workers", 1)))
        self.pipeline = bool(pipeline)
        # generation size of a pipelined search (0: asynchronous); default twice the workers
        self.generation = (2 * self.window if generation is None else int(generation)) if self.pipeline else 0
        self.timeline = Timeline()
        self.warmup = warmup if warmup is not None else Warmup()
        self.set_up_start = set_up_start
        self._submitted: dict[int | None, float] = {}  # trial -> when its evaluation was submitted
        self.max_attempts = int(max_attempts)
        self.screen = screen
        self.latency_provider = latency_provider
        self.on_event = on_event
        self.log_path = Path(log_path) if log_path is not None else store.dir / "evaluations.log"
        self.need_latency = "latency_ms" in self.objectives or self.constraints.needs_latency
        seed_bytes = onnx_bytes(seed_graph)
        self.seed_graph = graph_from_bytes(seed_bytes, "seed")
        self._seed_bytes = seed_bytes
        self.store.check_config(self.settings(), set(self.settings()))
        # candidate id -> graph as generated (from its ONNX), least recently used first; bounded, since
        # any graph can be reloaded from the store and large seeds (ResNet-34: 85 MB of weights per
        # candidate) would otherwise grow the driver's memory with every trial
        self._graphs: OrderedDict[int, Graph] = OrderedDict()
        self._t0 = time.perf_counter()
        self._resumed = 0

    # -- settings -------------------------------------------------------------------------------------

    def settings(self) -> dict[str, Any]:
        """Everything that determines the search's candidates (checked against the store on resume)."""
        return {
            "search.seed": self.seed, "search.seed_hash": structural_hash(self.seed_graph),
            "search.objectives": self.objectives, "search.constraints": self.constraints.to_dict(),
            "search.selection": self.selection, "search.selection_options": self.selection_options,
            "search.strategy": self.mutator.strategy, "search.probabilities": self.mutator.probabilities,
            "search.synthesizer": self.mutator.synthesizer, "search.property_p": self.mutator.p,
            **({"search.pick": self.mutator.pick} if self.mutator.pick != "random" else {}),
            **({"search.focus": self.mutator.focus} if self.mutator.focus is not None else {}),
            "search.window": self.window, "search.max_attempts": self.max_attempts,
            "search.population": self.population_rule,
            "search.evaluator": repr(self.evaluator), "search.screen": None if self.screen is None else repr(self.screen),
        }

    @property
    def population_rule(self) -> str:
        """Which finished trials a proposal sees: ``window`` (no pipelining), ``generation:N`` or ``async``."""
        if not self.pipeline:
            return "window"
        return f"generation:{self.generation}" if self.generation else "async"

    def generation_of(self, trial: int) -> int:
        """The generation of ``trial`` in a pipelined search with a fixed generation size (0 for the seed)."""
        return 0 if trial == 0 else (trial - 1) // self.generation + 1

    # -- helpers --------------------------------------------------------------------------------------

    def _graph(self, cand: Candidate) -> Graph:
        """The candidate's graph: cached (by id, or by trial for a pipelined proposal), else from the store."""
        key = cand.id
        if key not in self._graphs and cand.trial is not None and -1 - cand.trial in self._graphs:
            key = -1 - cand.trial
        if key not in self._graphs:
            self._remember(key, self.store.load_model(cand.id))
        self._graphs.move_to_end(key)
        return self._graphs[key]


    def _remember(self, cid: int, graph: Graph) -> None:  # (negative keys: -1 - trial, before the id is known)
        self._graphs[cid] = graph
        self._graphs.move_to_end(cid)
        while len(self._graphs) > GRAPH_CACHE:
            self._graphs.popitem(last=False)

    def _log(self, text: str) -> None:
        with open(self.log_path, "a") as f:
            f.write(text + "\n")

    def _state(self, cands: list[Candidate], in_flight: int) -> SearchState:
        done = [c for c in cands if c.status == CandidateStatus.DONE]
        accs = [c.metrics.get("val_acc") for c in done if c.metrics.get("val_acc") is not None]
        return SearchState(
            trials=self.trials, finished=sum(c.final for c in cands), done=len(done),
            failed=sum(c.status == CandidateStatus.FAILED for c in cands),
            rejected=sum(c.status == CandidateStatus.REJECTED for c in cands),
            in_flight=in_flight, best_val_acc=max(accs) if accs else None,
            front_size=len(front_of(cands, self.objectives)), elapsed_s=time.perf_counter() - self._t0,
            resumed=self._resumed)

    def _emit(self, kind: SearchEvent, cand: Candidate | None, cands: list[Candidate], in_flight: int) -> None:
        if self.on_event is not None:
            self.on_event(kind, cand, self._state(cands, in_flight))

    def _cost(self, graph: Graph) -> dict[str, float]:
        return obj.cost_metrics(graph, latency=self.need_latency, provider=self.latency_provider)

    # -- generation -----------------------------------------------------------------------------------

    def _select(self, population: list[Candidate], rng: np.random.Generator) -> Candidate | None:
        if self.mutator.strategy == "random" or not population:
            return None
        opts = dict(self.selection_options)
        if self.selection == "pareto":
            opts.setdefault("objectives", obj.metric_keys(self.objectives))
            opts.setdefault("senses", obj.senses(self.objectives))
        return select_parent(self.selection, population, random.Random(int(rng.integers(2**31))), **opts)

    def _generate(self, k: int, cands: list[Candidate]) -> tuple[Candidate, bytes | None]:
        """Trial ``k``'s candidate (not yet stored) and its ONNX bytes (None when mutation failed), seeing
        the trials ``<= k - window`` (the rule without pipelining)."""
        if k == 0:
            return self._seed_candidate(), self._seed_bytes
        population = [c for c in cands if c.status == CandidateStatus.DONE and c.trial <= k - self.window]
        seed_id = next(c for c in cands if c.trial == 0).id
        return self._propose(k, population, {c.hash for c in cands}, seed_id)

    def _seed_candidate(self) -> Candidate:
        return Candidate(graph=self.seed_graph, hash=structural_hash(self.seed_graph), mutation="seed",
                         description="the seed model", trial=0)

    def _propose(self, k: int, population: list[Candidate], known: set[str],
                 seed_id: int | None) -> tuple[Candidate, bytes | None]:
        """Trial ``k``'s candidate from ``population`` (the done candidates it may see) avoiding the
        structural hashes in ``known`` (the new one is added); records the work in the time line."""
        from alphanas.search import mutations as mutations_module

        start = time.time()
        verify_s = 0.0
        rng = np.random.default_rng([self.seed, k])
        parent = self._select(population, rng)
        parent_graph = self.seed_graph if parent is None else self._graph(parent)
        parent_id = seed_id if parent is None else parent.id
        failures, duplicates, errors = 0, 0, []
        seen = set(known)  # (mutants screened out stay proposable by later trials)
        if self.screen is not None and hasattr(self.screen, "observe"):  # a learning screen (SurrogateScreen)
            self.screen.observe(population, self._graph)
        pool = 1 if self.screen is None else max(1, math.ceil(1.0 / self.screen.keep - 1e-9))
        made: list[tuple[Candidate, bytes]] = []
        t0 = time.perf_counter()
        for attempt in range(self.max_attempts * pool):
            if len(made) == pool:
                break
            sub = np.random.default_rng([self.seed, k, attempt + 1])
            try:
                mutant: Mutant = self.mutator.propose(parent_graph, self.seed_graph, sub)
                verify_s += float(mutant.timings.get("verify_s", 0.0))
                data = onnx_bytes(mutant.graph)
                child = graph_from_bytes(data)
            except MutationFailed as e:
                failures += 1
                errors.append(str(e)[:200])
                verify_s += float(getattr(mutations_module._VERIFY_CLOCK, "seconds", 0.0))
                continue
            except AlphanasError as e:  # an exported child that does not re-import counts as a failure
                failures += 1
                errors.append(f"{type(e).__name__}: {str(e)[:200]}")
                continue
            h = structural_hash(child)
            if h in seen:
                duplicates += 1
                continue
            seen.add(h)
            made.append((Candidate(graph=child, hash=h, parent_id=parent_id, mutation=mutant.mutation,
                                   description=mutant.description, properties=mutant.properties,
                                   timings=dict(mutant.timings), trial=k), data))
        counts = {"attempts": len(made) + failures + duplicates, "failed_attempts": failures,
                  "duplicate_attempts": duplicates, "generate_s": time.perf_counter() - t0}
        if made:
            best = 0
            if self.screen is not None and len(made) > 1:
                scores = self.screen.scores([c.graph for c, _ in made], seed=_derived_seed(self.seed, k, 3))
                best = max(range(len(made)), key=lambda i: (scores[i], -i))
                made[best][0].metrics[f"proxy_{self.screen.proxy}"] = float(scores[best])
                made[best][0].metrics.update(getattr(self.screen, "annotations", lambda i: {})(best))
                counts["screened_out"] = len(made) - 1
            cand, data = made[best]
            cand.timings.update(counts)
            known.add(cand.hash)
            self._record_proposal(start, verify_s)
            return cand, data
        why = f"no new valid child in {counts['attempts']} attempts ({failures} failed, {duplicates} duplicates)"
        if errors:
            why += f"; last error: {errors[-1]}"
        known.add(f"no-mutation:{self.seed}:{k}")
        self._record_proposal(start, verify_s)
        return Candidate(graph=None, hash=f"no-mutation:{self.seed}:{k}", parent_id=parent_id, mutation="none",
                         description="mutation failed", status=CandidateStatus.FAILED, error=why, timings=counts, trial=k), None

    def _record_proposal(self, start: float, verify_s: float) -> None:
        end = time.time()
        f = min(1.0, verify_s / (end - start)) if end > start else 0.0
        self.timeline.add(start, end, {"proposal": 1.0 - f, "verification": f})

    def _checked(self, cand: Candidate, data: bytes | None) -> None:
        """Cost metrics (and latency) of a new candidate, and the constraints that reject it untrained."""
        if data is None:
            return
        with self.timeline.timed("verification"):
            cand.metrics.update(self._cost(cand.graph))
        why = self.constraints.violation(cand.metrics)
        if why:
            cand.status, cand.error = CandidateStatus.REJECTED, f"constraint: {why}"

    # -- evaluation -----------------------------------------------------------------------------------

    def _submit(self, cand: Candidate, data: bytes) -> Future:
        parent_bytes = None
        with self.timeline.timed("storage"):
            if getattr(self.evaluator, "inherit", False) and cand.parent_id is not None:
                path = self.store.model_path(cand.parent_id, trained=True)
                parent_bytes = path.read_bytes() if path.is_file() else None
            self._log(f"start trial={cand.trial} id={cand.id} hash={cand.hash}")
        self._submitted[cand.trial] = time.time()
        return self.executor.submit(evaluate_task, self.evaluator, data, training_seed(self.seed, cand.trial),
                                    parent_bytes)

    def _finish(self, cand: Candidate, fut: Future) -> None:
        try:
            out: TaskResult = fut.result()
        except Exception as e:  # the worker itself died
            out = TaskResult(error=f"worker failed: {type(e).__name__}: {e}")
        now = time.time()
        started, ended = (out.started, out.ended) if 0 < out.started <= out.ended <= now + 1.0 else \
            (now - float(out.seconds), now)  # another machine's clock (Ray): as seen from here
        self.timeline.add_training(started, ended, self._submitted.pop(cand.trial, None))
        store_t0 = time.time()
        try:
            self._settle(cand, out)
        finally:
            self.timeline.add(store_t0, time.time(), "storage")

    def _settle(self, cand: Candidate, out: TaskResult) -> None:
        metrics = dict(out.metrics)
        metrics.update({k: v for k, v in cand.metrics.items() if k not in metrics or k == "latency_ms"})
        cand.metrics = metrics
        cand.timings["evaluate_s"] = float(out.seconds)
        missing = [k for k in obj.metric_keys(self.objectives)
                   if not isinstance(metrics.get(k), (int, float)) or not math.isfinite(metrics[k])]
        why = self.constraints.violation(metrics, after_training=True)
        if out.error:
            cand.status, cand.error = CandidateStatus.FAILED, out.error
        elif metrics.get("diverged", 0.0) or any(k in metrics for k in missing):
            cand.status, cand.error = CandidateStatus.FAILED, "training diverged (non-finite loss or accuracy)"
        elif missing:
            cand.status, cand.error = CandidateStatus.FAILED, (
                f"the evaluator reported no finite {', '.join(missing)} (objective); it reported "
                f"{', '.join(sorted(metrics)) or 'nothing'}")
        elif why:
            cand.status, cand.error = CandidateStatus.REJECTED, f"constraint: {why}"
        else:
            cand.status = CandidateStatus.DONE
            if out.trained:
                self.store.save_model(cand.id, out.trained, trained=True)
        self.store.update(cand)
        self._log(f"{cand.status} trial={cand.trial} id={cand.id} hash={cand.hash}")

    # -- the loop -------------------------------------------------------------------------------------

    def run(self) -> SearchResult:
        """Run (or resume) the search until ``trials`` trials have a final status."""
        self._t0 = time.perf_counter()
        self.timeline = Timeline()
        self._submitted = {}
        cands = self.store.candidates()
        if cands and cands[0].trial == 0 and cands[0].hash != structural_hash(self.seed_graph):
            raise AlphanasError(f"{self.store.dir}: trial 0 is another seed model; choose another output folder")
        self._resumed = sum(c.final for c in cands)
        if self.pipeline:
            self._warm()
        inflight: dict[int, tuple[Candidate, Future]] = {}
        evaluations = 0
        try:
            for c in cands:
                if c.status == CandidateStatus.PENDING:
                    with self.timeline.timed("storage"):
                        data = self.store.model_path(c.id).read_bytes()
                    inflight[c.trial] = (c, self._submit(c, data))
                    evaluations += 1
            if cands:
                self._emit(SearchEvent.RESUMED, None, cands, len(inflight))
            next_trial = max((c.trial for c in cands), default=-1) + 1
            if self.pipeline:
                evaluations += self._run_pipelined(cands, inflight, next_trial)
            else:
                evaluations += self._run_windowed(cands, inflight, next_trial)
        finally:
            for _cand, fut in inflight.values():
                fut.cancel()
            self._last_split = self._time_split(cands)
        return self.result(cands, evaluations)

    def _warm(self) -> None:
        """Start the executor's workers and the synthesis sandbox now, beside each other, in the background
        (no-ops for what :attr:`warmup` started already)."""
        self.warmup.executor(self.executor)
        if uses_sandbox(self.mutator):
            self.warmup.sandbox()

    def _time_split(self, cands: list[Candidate]) -> dict[str, Any]:
        from alphanas.search.timesplit import split as split_of

        finished = sum(c.final for c in cands) - self._resumed
        for a, b in self.warmup.spans():
            self.timeline.add(a, b, "startup")
        split = self.timeline.split(slots=self.window, trials=max(0, finished))
        if self.set_up_start is not None:  # the same from the call's start: data loading and set-up included
            with self.timeline._lock:
                training, work, queued = list(self.timeline.training), list(self.timeline.work), \
                    list(self.timeline.queued)
            whole = split_of(training, work, start=min(self.set_up_start, self.timeline.start), end=time.time(),
                             slots=self.window, trials=max(0, finished), queued=queued)
            split.update({f"command_{k}": whole[k] for k in (*PARTS, "wall_s", "busy_fraction",
                                                              "overhead_per_trial_s", "trials_per_min")})
        split["pipeline"] = self.pipeline
        split["lent"] = int(getattr(self.executor, "lent", 0))  # evaluations run in the driver while the pool started
        split["start_method"] = getattr(self.executor, "start_method", None)
        split["population"] = self.population_rule
        try:
            from alphanas.fileio import write_bytes_atomic

            write_bytes_atomic(self.store.dir / TIME_SPLIT_FILE, json.dumps(split, indent=2).encode())
        except OSError:  # informative only
            pass
        return split

    def _add(self, cand: Candidate, data: bytes | None, cands: list[Candidate]) -> None:
        with self.timeline.timed("storage"):
            self.store.add(cand, model=data)
        cands.append(cand)

    def _run_windowed(self, cands: list[Candidate], inflight: dict[int, tuple[Candidate, Future]],
                      next_trial: int) -> int:
        """The loop without pipelining: the driver makes trial k when a worker is free and trials
        ``<= k - window`` have finished. Returns the evaluations it submitted."""
        evaluations = 0
        while True:
            while next_trial < self.trials and len(inflight) < self.window and \
                    not any(t <= next_trial - self.window for t in inflight):
                cand, data = self._generate(next_trial, cands)
                self._checked(cand, data)
                self._add(cand, data, cands)
                if cand.graph is not None:
                    self._remember(cand.id, cand.graph)
                    cand.graph = None  # unloaded: the bounded cache or the store has it
                self._emit(SearchEvent.GENERATED, cand, cands, len(inflight))
                if cand.status == CandidateStatus.PENDING:
                    inflight[cand.trial] = (cand, self._submit(cand, data))
                    evaluations += 1
                else:
                    self._emit(SearchEvent.FINISHED, cand, cands, len(inflight))
                next_trial += 1
            if not inflight:
                if next_trial >= self.trials:
                    break
                continue
            futures = {f: t for t, (_, f) in inflight.items()}
            finished, _ = wait(list(futures), return_when=FIRST_COMPLETED)
            for t in sorted(futures[f] for f in finished):
                cand, fut = inflight.pop(t)
                self._finish(cand, fut)
                self._emit(SearchEvent.FINISHED, cand, cands, len(inflight))
        return evaluations

    # -- the pipelined loop ---------------------------------------------------------------------------

    def _population_ready(self, k: int, cands: list[Candidate]) -> bool:
        """Generation mode: every trial of generations ``<= gen(k) - 2`` has finished."""
        if not self.generation:
            return True
        g = self.generation_of(k)
        if g < 2:
            return True
        last = (g - 2) * self.generation  # the last trial of generation g - 2
        return sum(1 for c in cands if c.trial is not None and c.trial <= last and c.final) == last + 1

    def _population(self, k: int, cands: list[Candidate]) -> list[Candidate]:
        """A copy of the done candidates trial ``k`` may choose a parent from."""
        if self.generation:
            g = self.generation_of(k)
            pop = [c for c in cands if c.status == CandidateStatus.DONE and self.generation_of(c.trial) <= g - 2]
        else:
            pop = [c for c in cands if c.status == CandidateStatus.DONE]
        return [Candidate(graph=None, hash=c.hash, parent_id=c.parent_id, mutation=c.mutation, properties=c.properties,
                          metrics=dict(c.metrics), status=c.status, error=c.error, timings=dict(c.timings), id=c.id,
                          key=c.key, description=c.description, trial=c.trial) for c in pop]

    def _proposer(self, first: int, cands: list[Candidate], cv: threading.Condition, ready: deque,
                  state: dict[str, Any]) -> None:
        """The proposer thread: trials ``first``, ``first + 1``, ... into ``ready`` (bounded), in order."""
        try:
            with cv:
                known = {c.hash for c in cands}
                seed_id = next(c for c in cands if c.trial == 0).id
            for k in range(first, self.trials):
                with cv:
                    while not state["stop"] and (len(ready) >= state["depth"] or not self._population_ready(k, cands)):
                        cv.wait(0.5)
                    if state["stop"]:
                        return
                    population = self._population(k, cands)
                cand, data = self._propose(k, population, known, seed_id)
                self._checked(cand, data)
                if cand.graph is not None:
                    self._remember(-1 - k, cand.graph)  # keyed by trial until the store gives the id
                with cv:
                    ready.append((cand, data))
                    cv.notify_all()
        except BaseException as e:  # noqa: BLE001 - re-raised in the driver
            with cv:
                state["error"] = e
                cv.notify_all()
        finally:
            with cv:
                state["done"] = True
                cv.notify_all()

    def _run_pipelined(self, cands: list[Candidate], inflight: dict[int, tuple[Candidate, Future]],
                       next_trial: int) -> int:
        """The pipelined loop (see the module docstring). Returns the evaluations it submitted."""
        evaluations = 0
        cv = threading.Condition(threading.RLock())
        ready: deque[tuple[Candidate, bytes | None]] = deque()
        state: dict[str, Any] = {"stop": False, "done": False, "error": None, "depth": self.window}
        if next_trial == 0:  # the seed: stored (and training) before any proposal
            cand = self._seed_candidate()
            self._checked(cand, self._seed_bytes)
            with cv:
                ready.append((cand, self._seed_bytes))
            first = 1
        else:
            first = next_trial
        proposer: threading.Thread | None = None

        def wake(_f: Future) -> None:
            with cv:
                cv.notify_all()

        try:
            while True:
                while len(inflight) < self.window:
                    with cv:
                        item = ready.popleft() if ready else None
                        cv.notify_all()
                    if item is None:
                        break
                    cand, data = item
                    with cv:
                        self._add(cand, data, cands)
                    if cand.graph is not None:
                        cand.graph = None  # the proposer's cache or the store has it
                    self._emit(SearchEvent.GENERATED, cand, cands, len(inflight))
                    if cand.status == CandidateStatus.PENDING:
                        fut = self._submit(cand, data)
                        inflight[cand.trial] = (cand, fut)
                        evaluations += 1
                        fut.add_done_callback(wake)
                    else:
                        self._emit(SearchEvent.FINISHED, cand, cands, len(inflight))
                    next_trial += 1
                if proposer is None and first < self.trials:
                    proposer = threading.Thread(target=self._proposer, args=(first, cands, cv, ready, state),
                                                name="alphanas-proposer", daemon=True)
                    proposer.start()
                if state["error"] is not None:
                    raise state["error"]
                if not inflight and next_trial >= self.trials:
                    break
                with cv:
                    while not (any(f.done() for _, f in inflight.values()) or state["error"] is not None
                               or (ready and len(inflight) < self.window)
                               or (state["done"] and not ready and not inflight)):
                        cv.wait(1.0)
                    if state["done"] and not ready and not inflight and state["error"] is None \
                            and next_trial < self.trials:
                        raise AlphanasError("the proposer stopped before the last trial")  # (a bug, not a user error)
                done_trials = sorted(t for t, (_, f) in inflight.items() if f.done())
                for t in done_trials:
                    cand, fut = inflight.pop(t)
                    with cv:
                        self._finish(cand, fut)
                        cv.notify_all()
                    self._emit(SearchEvent.FINISHED, cand, cands, len(inflight))
        finally:
            with cv:
                state["stop"] = True
                cv.notify_all()
            if proposer is not None:
                proposer.join(timeout=60.0)  # at most one proposal in progress (synthesis has a hard limit)
        return evaluations

    def result(self, cands: list[Candidate] | None = None, evaluations: int = 0) -> SearchResult:
        cands = self.store.candidates() if cands is None else cands
        counts: dict[str, int] = {}
        for c in cands:
            status = CandidateStatus(c.status).value  # plain strings: counts print and serialize as before
            counts[status] = counts.get(status, 0) + 1
        return SearchResult(
            candidates=cands, front=front_of(cands, self.objectives), objectives=self.objectives,
            mutation_failures=int(sum(c.timings.get("failed_attempts", 0) for c in cands)),
            duplicates=int(sum(c.timings.get("duplicate_attempts", 0) for c in cands)),
            wall_s=time.perf_counter() - self._t0, evaluations=evaluations, counts=counts,
            time_split=dict(getattr(self, "_last_split", {}) or {}))
