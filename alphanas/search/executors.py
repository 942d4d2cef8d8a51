"""Where candidates are trained: in this process, in a local process pool, or on a Ray cluster.

Every executor has ``workers`` (how many evaluations run at once), ``submit(fn, *args) ->
concurrent.futures.Future`` and ``shutdown()``. Workers only evaluate: they receive the candidate as
ONNX bytes and the (picklable) evaluator, and return a :class:`TaskResult` (metrics and the trained
model's ONNX bytes, or the error); the search driver alone writes the store.

- :class:`InProcessExecutor` (``local``, the default): runs each task at ``submit``.
- :class:`ProcessExecutor` (``process``): a ``concurrent.futures.ProcessPoolExecutor`` with the
  ``spawn`` start method (safe with torch); each worker uses ``cpu_count // workers`` torch threads.
- :class:`RayExecutor` (``ray``): ``ray.init(address=ADDR)`` (a local instance when no address);
  each task asks for one GPU share when the cluster has GPUs, and trains on it (``device="auto"``).
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable

from alphanas.errors import AlphanasError, MissingDependencyError, ParameterError

EXECUTORS = ("local", "process", "ray")


@dataclass
class TaskResult:
    """What a worker sends back for one candidate (plain, picklable data)."""

    metrics: dict[str, float] = field(default_factory=dict)
    trained: bytes | None = None  # ONNX of the trained model, when the evaluator keeps trained weights
    error: str | None = None  # why the evaluation failed (the exception and the end of its traceback)
    seconds: float = 0.0  # wall time of the evaluation in the worker


def evaluate_task(evaluator: Any, model: bytes, seed: int, parent: bytes | None = None) -> TaskResult:
    """Evaluate one candidate (worker side). An exception becomes :attr:`TaskResult.error` (with the last
    lines of its traceback), never a crash."""
    import onnx

    from alphanas.ir.onnx_io import from_onnx, to_onnx

    t0 = time.perf_counter()
    try:
        graph = from_onnx(onnx.load_from_string(model), source="candidate")
        parent_graph = None if parent is None else from_onnx(onnx.load_from_string(parent), source="parent")
        if hasattr(evaluator, "run"):
            out = evaluator.run(graph, seed=seed, parent=parent_graph)
            metrics, trained = dict(out.metrics), to_onnx(out.graph).SerializeToString()
        else:
            metrics, trained = dict(evaluator.evaluate(graph, seed=seed, parent=parent_graph)), None
        return TaskResult(metrics={k: float(v) for k, v in metrics.items()}, trained=trained, error=None,
                          seconds=time.perf_counter() - t0)
    except Exception as e:  # a crashing candidate is recorded as failed; the search goes on
        tail = "".join(traceback.format_exception(e)[-3:]).strip()
        return TaskResult(metrics={}, trained=None, error=f"{type(e).__name__}: {e} | {tail[-600:]}",
                          seconds=time.perf_counter() - t0)


class InProcessExecutor:
    """Runs every task synchronously in this process; ``workers`` only sets the search's window.

    ``threads`` (default 1) is the torch thread count while a task runs: small candidates train
    fastest on one thread, and several threads on a loaded machine can be ten times slower.
    """

    name = "local"

    def __init__(self, workers: int = 1, threads: int | None = 1) -> None:
        self.workers = max(1, int(workers))
        self.threads = threads

    def submit(self, fn: Callable, *args: Any) -> cf.Future:
        import torch

        fut: cf.Future = cf.Future()
        before = torch.get_num_threads()
        try:
            if self.threads:
                torch.set_num_threads(int(self.threads))
            fut.set_result(fn(*args))
        except BaseException as e:  # noqa: BLE001 - delivered through the future like a pool would
            if isinstance(e, KeyboardInterrupt):
                raise
            fut.set_exception(e)
        finally:
            torch.set_num_threads(before)
        return fut

    def shutdown(self) -> None:
        pass


def _init_worker(threads: int) -> None:
    import signal

    import torch

    # Ctrl-C reaches the whole process group: the parent reports the interrupt and how to resume; the
    # workers ignore it (they stop with the pool) instead of printing a KeyboardInterrupt traceback each
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    torch.set_num_threads(threads)


class ProcessExecutor:
    """A local process pool (``spawn``) of ``workers`` processes."""

    name = "process"

    def __init__(self, workers: int = 2) -> None:
        self.workers = max(1, int(workers))
        self.threads = max(1, (os.cpu_count() or 1) // self.workers)
        self._pool = self._make()

    def _make(self) -> cf.ProcessPoolExecutor:
        return cf.ProcessPoolExecutor(max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"),
                                      initializer=_init_worker, initargs=(self.threads,))

    def submit(self, fn: Callable, *args: Any) -> cf.Future:
        try:
            return self._pool.submit(fn, *args)
        except cf.process.BrokenProcessPool:  # a worker died (e.g. out of memory): start a fresh pool
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = self._make()
            return self._pool.submit(fn, *args)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


class RayExecutor:
    """Tasks on a Ray cluster (``address``) or a local Ray instance (no address)."""

    name = "ray"

    def __init__(self, workers: int = 2, address: str | None = None) -> None:
        try:
            import ray
        except ImportError:
            raise MissingDependencyError("the ray executor needs Ray: pip install 'alphanas[ray]' (or pip install ray)") from None
        self.ray = ray
        self.workers = max(1, int(workers))
        self._owns = not ray.is_initialized()
        if self._owns:
            kw: dict[str, Any] = {"ignore_reinit_error": True, "include_dashboard": False, "log_to_driver": False}
            if address:
                kw["address"] = address
            else:
                kw["num_cpus"] = max(self.workers, 1)
            try:
                ray.init(**kw)
            except Exception as e:  # e.g. unreachable address
                raise AlphanasError(f"could not start or reach Ray{f' at {address}' if address else ''}: {e}") from None
        gpus = float(ray.cluster_resources().get("GPU", 0))
        self.gpus_per_task = min(1.0, gpus / self.workers) if gpus > 0 else 0.0
        self._remote = ray.remote(num_cpus=1, num_gpus=self.gpus_per_task, max_retries=0)(evaluate_task)

    def submit(self, fn: Callable, *args: Any) -> cf.Future:
        if fn is not evaluate_task:
            return self.ray.remote(num_cpus=1, max_retries=0)(fn).remote(*args).future()
        return self._remote.remote(*args).future()

    def shutdown(self) -> None:
        if self._owns:
            self.ray.shutdown()


def make_executor(name: str = "local", workers: int = 1, address: str | None = None, threads: int | None = 1):
    """The executor called ``name`` (``local`` | ``process`` | ``ray``) with ``workers`` slots
    (``threads``: torch threads of the in-process executor)."""
    if name == "local":
        if address:
            raise ParameterError("address", "{address} is for {executor} ray", others=("executor",))
        return InProcessExecutor(workers, threads)
    if name == "process":
        if address:
            raise ParameterError("address", "{address} is for {executor} ray", others=("executor",))
        return ProcessExecutor(workers)
    if name == "ray":
        return RayExecutor(workers, address)
    raise AlphanasError(f"unknown executor {name!r}; choose from {', '.join(EXECUTORS)}")
