"""Where candidates are trained: in this process, in a local process pool, or on a Ray cluster.

Every executor has ``workers`` (how many evaluations run at once), ``submit(fn, *args) ->
concurrent.futures.Future`` and ``shutdown()``. Workers only evaluate: they receive the candidate as
ONNX bytes and the (picklable) evaluator, and return a :class:`TaskResult` (metrics and the trained
model's ONNX bytes, or the error); the search driver alone writes the store.

- :class:`InProcessExecutor` (``local``, the default): runs each task at ``submit``.
- :class:`ProcessExecutor` (``process``): ``concurrent.futures.ProcessPoolExecutor`` s; each worker
  uses ``cpu_count // workers`` torch threads. Start method (``start``): ``auto`` is ``forkserver`` on
  Linux, ``spawn`` elsewhere (Windows, macOS). The fork server is one fresh process that imports torch,
  onnx and the worker's alphanas modules once (:data:`PRELOAD`) and forks every worker from that state:
  N workers cost one import instead of N, and no worker inherits the driver's threads or its OpenMP pool
  (plain ``fork`` of a process that has run torch ops is not safe). :func:`prestart` starts the server
  early (a search does so before loading its data). ``spawn`` starts each worker from scratch.
  Where CUDA devices are visible, one pool per GPU with ``per_device`` workers (several candidates
  train at once on each device), every worker seeing only its GPU (``CUDA_VISIBLE_DEVICES``).
- :class:`RayExecutor` (``ray``): ``ray.init(address=ADDR)`` (a local instance when no address);
  each task asks for a GPU share when the cluster has GPUs (``1/per_device`` of one with
  ``per_device``), and trains on it (``device="auto"``).

Every :class:`TaskResult` carries when the evaluation started and ended in the worker, for the
search's time split. ``ProcessExecutor.warm()`` starts the worker processes ahead of the first task, in
the background (:attr:`ProcessExecutor.warm_span` says when it began and when every worker was ready).
While a CPU pool is still starting, its first task runs in the driver process instead (a background
thread, at most one at a time, only for an evaluator that declares ``lendable = True`` such as
:class:`~alphanas.search.evaluators.TrainEvaluator`, and only when the driver's torch thread count
equals a worker's, so the result is the same bit for bit): the search trains its seed from its first second.
The GPU paths are tested with mocked device counts only.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable

from alphanas.errors import AlphanasError, MissingDependencyError, ParameterError

EXECUTORS = ("local", "process", "ray")
#: start methods of the process pools (``auto``: forkserver on Linux, spawn elsewhere)
START_METHODS = ("auto", "forkserver", "spawn")
#: what the fork server imports once for all workers (what :func:`evaluate_task`, training and the data
#: loaders need; scikit-learn splits the data; a module that is not installed is skipped)
PRELOAD = ["torch", "onnx", "alphanas.ir.onnx_io", "alphanas.search.executors",
           "alphanas.search.evaluators", "alphanas.train", "alphanas.data", "sklearn.model_selection"]


def start_method(start: str = "auto") -> str:
    """The start method ``start`` stands for on this platform (``auto``: ``forkserver`` on Linux, else ``spawn``)."""
    if start not in START_METHODS:
        raise ParameterError("start", f"{{start}} {start!r}: choose from {', '.join(START_METHODS)}")
    if start == "auto":
        linux = sys.platform.startswith("linux") and "forkserver" in multiprocessing.get_all_start_methods()
        return "forkserver" if linux else "spawn"
    return start


def prestart(start: str = "auto") -> str:
    """Start the fork server now (it imports :data:`PRELOAD` in the background; returns at once) when
    ``start`` resolves to ``forkserver``; returns the resolved method. Idempotent."""
    method = start_method(start)
    if method == "forkserver":
        from multiprocessing import forkserver

        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(PRELOAD)  # (no effect once the server runs: it keeps its first list)
        forkserver.ensure_running()
    return method


@dataclass
class TaskResult:
    """What a worker sends back for one candidate (plain, picklable data)."""

    metrics: dict[str, float] = field(default_factory=dict)
    trained: bytes | None = None  # ONNX of the trained model, when the evaluator keeps trained weights
    error: str | None = None  # why the evaluation failed (the exception and the end of its traceback)
    seconds: float = 0.0  # wall time of the evaluation in the worker
    started: float = 0.0  # time.time() in the worker when the evaluation began (0: unknown)
    ended: float = 0.0  # time.time() in the worker when it ended


def evaluate_task(evaluator: Any, model: bytes, seed: int, parent: bytes | None = None) -> TaskResult:
    """Evaluate one candidate (worker side). An exception becomes :attr:`TaskResult.error` (with the last
    lines of its traceback), never a crash."""
    import onnx

    from alphanas.ir.onnx_io import from_onnx, to_onnx

    t0, started = time.perf_counter(), time.time()
    try:
        graph = from_onnx(onnx.load_from_string(model), source="candidate")
        parent_graph = None if parent is None else from_onnx(onnx.load_from_string(parent), source="parent")
        if hasattr(evaluator, "run"):
            out = evaluator.run(graph, seed=seed, parent=parent_graph)
            metrics, trained = dict(out.metrics), to_onnx(out.graph).SerializeToString()
        else:
            metrics, trained = dict(evaluator.evaluate(graph, seed=seed, parent=parent_graph)), None
        return TaskResult(metrics={k: float(v) for k, v in metrics.items()}, trained=trained, error=None,
                          seconds=time.perf_counter() - t0, started=started, ended=time.time())
    except Exception as e:  # a crashing candidate is recorded as failed; the search goes on
        tail = "".join(traceback.format_exception(e)[-3:]).strip()
        return TaskResult(metrics={}, trained=None, error=f"{type(e).__name__}: {e} | {tail[-600:]}",
                          seconds=time.perf_counter() - t0, started=started, ended=time.time())


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


def cuda_devices() -> int:
    """How many CUDA devices this process sees (0 without CUDA or without torch)."""
    try:
        import torch

        return max(0, int(torch.cuda.device_count()))
    except Exception:  # noqa: BLE001 - no torch, or a broken driver: train on the CPU
        return 0


def _visible_ids(gpus: int) -> list[str]:
    """The ``CUDA_VISIBLE_DEVICES`` entry of each of the ``gpus`` devices this process sees."""
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    ids = [x.strip() for x in env.split(",") if x.strip()] if env else []
    return ids[:gpus] if len(ids) >= gpus else [str(i) for i in range(gpus)]


def _init_worker(threads: int, device: str | None = None) -> None:
    import signal

    if device is not None:  # before torch initialises CUDA: this worker sees (and trains on) one GPU
        os.environ["CUDA_VISIBLE_DEVICES"] = device

    import torch

    # Ctrl-C reaches the whole process group: the parent reports the interrupt and how to resume; the
    # workers ignore it (they stop with the pool) instead of printing a KeyboardInterrupt traceback each
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    torch.set_num_threads(threads)


def _warm_task() -> float:
    """A no-op task: makes a pool start its worker processes (they import torch) before the search needs them."""
    return time.time()


class ProcessExecutor:
    """Local process pools: one pool of ``workers`` processes on the CPU, or, where CUDA
    devices are visible, one pool per GPU with ``per_device`` processes each (every process sees
    only its GPU, so several candidates train at once on each device). ``workers`` given with GPUs
    is spread evenly over them. ``gpus`` overrides the detected device count (0: CPU only).
    ``start``: the start method (see the module docstring); ``lend`` (default True): while
    :meth:`warm` is starting a CPU pool, run a task in the driver instead of queueing it."""

    name = "process"

    def __init__(self, workers: int | None = None, per_device: int = 1, gpus: int | None = None,
                 start: str = "auto", lend: bool = True) -> None:
        if not isinstance(per_device, int) or per_device < 1:
            raise ParameterError("per_device", f"{{per_device}} {per_device}: must be a positive integer")
        self.start_method = start_method(start)
        self.lend = bool(lend)
        self.warm_span: tuple[float, float | None] | None = None  # (began, every worker ready) of warm()
        self.lent = 0  # tasks run in the driver while the pool started
        self._local_busy = False
        self.gpus = cuda_devices() if gpus is None else max(0, int(gpus))
        self.per_device = per_device
        if self.gpus:
            total = int(workers) if workers else self.gpus * per_device
            counts = [total // self.gpus + (1 if i < total % self.gpus else 0) for i in range(self.gpus)]
            ids = _visible_ids(self.gpus)
            self._layout: list[tuple[int, str | None]] = [(n, ids[i]) for i, n in enumerate(counts) if n > 0]
        else:
            self._layout = [(max(1, int(workers or 2)), None)]
        self.workers = sum(n for n, _ in self._layout)
        self.threads = max(1, (os.cpu_count() or 1) // self.workers)
        self._pools = [self._make(i) for i in range(len(self._layout))]
        self._busy = [0] * len(self._pools)
        self._lock = threading.Lock()

    @property
    def devices(self) -> list[str | None]:
        """The device of each pool (a ``CUDA_VISIBLE_DEVICES`` entry, or None for the CPU)."""
        return [d for _, d in self._layout]

    def _make(self, i: int) -> cf.ProcessPoolExecutor:
        n, device = self._layout[i]
        if self.start_method == "forkserver":
            prestart("forkserver")
        return cf.ProcessPoolExecutor(max_workers=n, mp_context=multiprocessing.get_context(self.start_method),
                                      initializer=_init_worker, initargs=(self.threads, device))

    def warm(self) -> None:
        """Start every worker process now, in a background thread (starting a process waits for the fork
        server's imports), so that the first evaluations do not wait (once; later calls do nothing).
        :attr:`warm_span` records when it began and when every worker had answered."""
        if self.warm_span is not None:
            return
        self.warm_span = (time.time(), None)
        threading.Thread(target=self._warm, name="alphanas-pool-warm", daemon=True).start()

    def _warm(self) -> None:
        try:
            futs = [pool.submit(_warm_task) for pool, (n, _) in zip(self._pools, self._layout) for _ in range(n)]
            cf.wait(futs)
        except Exception:  # noqa: BLE001 - shut down meanwhile; the tasks themselves will report
            pass
        assert self.warm_span is not None
        self.warm_span = (self.warm_span[0], time.time())

    @property
    def starting(self) -> bool:
        """True while :meth:`warm` is starting the workers."""
        return self.warm_span is not None and self.warm_span[1] is None

    def _lendable(self, fn: Callable | None = None, args: tuple = ()) -> bool:
        """A task may run in the driver now: an evaluation whose evaluator says it may (``lendable``), a CPU
        pool still starting, the driver free, the same torch thread count as a worker."""
        if fn is not None and not (fn is evaluate_task and args and getattr(args[0], "lendable", False)):
            return False
        if not (self.lend and self.starting and not self.gpus and not self._local_busy):
            return False
        try:
            import torch

            return torch.get_num_threads() == self.threads
        except Exception:  # noqa: BLE001 - no torch: nothing to lend
            return False

    def _submit_local(self, fn: Callable, *args: Any) -> cf.Future:
        fut: cf.Future = cf.Future()
        fut.set_running_or_notify_cancel()

        def go() -> None:
            try:
                res = fn(*args)
            except BaseException as e:  # noqa: BLE001 - delivered through the future like a pool would
                fut.set_exception(e)
            else:
                fut.set_result(res)
            finally:
                with self._lock:
                    self._local_busy = False

        self.lent += 1
        threading.Thread(target=go, name="alphanas-driver-slot", daemon=True).start()
        return fut

    def _done(self, i: int, _fut: cf.Future) -> None:
        with self._lock:
            self._busy[i] -= 1

    def submit(self, fn: Callable, *args: Any) -> cf.Future:
        with self._lock:
            lend = self._lendable(fn, args)
            if lend:
                self._local_busy = True
        if lend:
            return self._submit_local(fn, *args)
        with self._lock:  # the pool (device) with the most free slots
            i = max(range(len(self._pools)), key=lambda j: (self._layout[j][0] - self._busy[j], -j))
            self._busy[i] += 1
        try:
            fut = self._pools[i].submit(fn, *args)
        except cf.process.BrokenProcessPool:  # a worker died (e.g. out of memory): start a fresh pool
            self._pools[i].shutdown(wait=False, cancel_futures=True)
            self._pools[i] = self._make(i)
            fut = self._pools[i].submit(fn, *args)
        except BaseException:
            with self._lock:
                self._busy[i] -= 1
            raise
        fut.add_done_callback(lambda f, i=i: self._done(i, f))
        return fut

    def shutdown(self) -> None:
        for pool in self._pools:
            pool.shutdown(wait=True, cancel_futures=True)

    def abort(self) -> None:
        """Stop at once: cancel pending tasks and terminate the worker processes (e.g. still starting)."""
        for pool in self._pools:
            procs = list((getattr(pool, "_processes", None) or {}).values())
            pool.shutdown(wait=False, cancel_futures=True)
            for proc in procs:
                if proc.is_alive():
                    proc.terminate()


class RayExecutor:
    """Tasks on a Ray cluster (``address``) or a local Ray instance (no address)."""

    name = "ray"

    def __init__(self, workers: int | None = None, address: str | None = None, per_device: int | None = None) -> None:
        if per_device is not None and (not isinstance(per_device, int) or per_device < 1):
            raise ParameterError("per_device", f"{{per_device}} {per_device}: must be a positive integer")
        try:
            import ray
        except ImportError:
            raise MissingDependencyError("the ray executor needs Ray: pip install 'alphanas[ray]' (or pip install ray)") from None
        self.ray = ray
        self.workers = max(1, int(workers or 2))
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
        if gpus > 0 and per_device:  # several candidates share each GPU: a fraction 1/per_device each
            self.gpus_per_task = 1.0 / per_device
            if not workers:
                self.workers = max(1, int(gpus * per_device))
        else:
            self.gpus_per_task = min(1.0, gpus / self.workers) if gpus > 0 else 0.0
        self._remote = ray.remote(num_cpus=1, num_gpus=self.gpus_per_task, max_retries=0)(evaluate_task)

    def submit(self, fn: Callable, *args: Any) -> cf.Future:
        if fn is not evaluate_task:
            return self.ray.remote(num_cpus=1, max_retries=0)(fn).remote(*args).future()
        return self._remote.remote(*args).future()

    def shutdown(self) -> None:
        if self._owns:
            self.ray.shutdown()


def make_executor(name: str = "local", workers: int | None = 1, address: str | None = None,
                  threads: int | None = 1, per_device: int | None = None, device: str = "auto",
                  start: str = "auto"):
    """The executor called ``name`` (``local`` | ``process`` | ``ray``) with ``workers`` slots
    (``threads``: torch threads of the in-process executor). ``per_device``: candidates trained at
    once on each GPU (process: one pool per visible GPU; ray: a GPU fraction ``1/per_device`` per
    task); ``workers`` None: ``per_device`` per GPU, 2 without GPUs (1 in-process). ``device`` ``cpu``
    keeps the process pools off the GPUs. ``start``: the process pools' start method (:data:`START_METHODS`)."""
    if per_device is not None and (not isinstance(per_device, int) or per_device < 1):
        raise ParameterError("per_device", f"{{per_device}} {per_device}: must be a positive integer")
    if name == "local":
        if address:
            raise ParameterError("address", "{address} is for {executor} ray", others=("executor",))
        if per_device not in (None, 1):
            raise ParameterError("per_device", "{per_device} trains several candidates at once: use {executor} "
                                 "process or ray", others=("executor",))
        return InProcessExecutor(workers or 1, threads)
    if name == "process":
        if address:
            raise ParameterError("address", "{address} is for {executor} ray", others=("executor",))
        return ProcessExecutor(workers, per_device or 1, gpus=0 if str(device).startswith("cpu") else None,
                               start=start)
    if name == "ray":
        return RayExecutor(workers, address, per_device)
    raise AlphanasError(f"unknown executor {name!r}; choose from {', '.join(EXECUTORS)}")
