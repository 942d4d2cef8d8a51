"""Property-guided synthesis in a separate worker process with hard time and memory limits.

The e-graph synthesizer checks its time budget between saturation steps; for an unlucky subgraph a
single step can keep growing (in time and memory). :class:`SynthesisSandbox` runs each synthesis in a
long-lived worker process (``python -m alphanas.search.sandbox``, talking length-prefixed pickles over
its stdin/stdout) and kills it when a call overruns its time limit or its resident memory grows past
:data:`MEMORY_LIMIT_BYTES` (polled while waiting); the caller records a failed mutation
and the search goes on. A plain subprocess (not ``multiprocessing``) needs no ``__main__`` guard in
the user's script. The worker exits when its parent goes away (end of its stdin).

The worker is started once and reused by every later call (it stays warm: starting Python and
importing torch, onnx and egglog costs seconds); a search calls :meth:`SynthesisSandbox.warm` when it
starts, so that the first property-guided mutation does not wait for it, and a worker stopped after that
is started again at once in the background. Calls are serialised (one worker, one request at a time), so
the search's proposer thread and the driver may share it.

**The budget is a hard cap.** A mutation's time budget (``budget_s``) covers the whole mutation,
verification included (:func:`alphanas.synth.mutate`). In the worker the clock starts once the model is
read and torch and the e-graph program are ready, and the worker reports each stage it enters (lowering
check, synthesis, each verification stage: ``stage`` frames; the first one starts the parent's clock).
The parent kills the worker when the budget plus :data:`BUDGET_SLACK_S` has passed since the clock
started, whatever the stage: the call fails with "the mutation exceeded the budget: cut at STAGE after
T s of a B s budget" (:class:`~alphanas.synth.problem.BudgetExceeded`), never with an unverified
result. :meth:`SynthesisSandbox.mutate` is this for a :class:`~alphanas.ir.graph.Graph` (``alphanas
mutate``); the search's :func:`alphanas.search.mutations.property_mutation` uses
:meth:`SynthesisSandbox.call` with its hard limit (measured from the request, start-up included) and
the same cap.
"""

from __future__ import annotations

import atexit
import os
import pickle
import select
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

_HEADER = struct.Struct("<Q")
#: how long the worker may take to start (it imports torch, onnx and egglog, then says it is ready)
STARTUP_S = 120.0
#: how often the parent checks the worker's memory while waiting for an answer
POLL_S = 0.25
#: a mutation's worker is killed this long after its budget is spent (the in-process deadline cuts at the
#: start of a stage; this bounds a stage that has started)
BUDGET_SLACK_S = 1.0


def _default_memory_limit() -> int:
    """A quarter of the machine's memory, at least 2 GiB (``ALPHANAS_SYNTH_MEMORY_GB`` overrides)."""
    if os.environ.get("ALPHANAS_SYNTH_MEMORY_GB"):
        return int(float(os.environ["ALPHANAS_SYNTH_MEMORY_GB"]) * 2**30)
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        total = 16 * 2**30
    return max(2 * 2**30, total // 4)


#: resident memory above which the synthesis worker is stopped
MEMORY_LIMIT_BYTES = _default_memory_limit()


def _rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0  # no /proc (not Linux): only the time limit applies


class MemoryLimitExceeded(Exception):
    pass


Report = Callable[[tuple], None]


def _mutate_reporting(graph, report: Report | None, **kw: Any) -> Any:
    """:func:`alphanas.synth.mutate`, telling ``report`` each stage it enters (the first when its budget's
    clock starts, after the one-time costs: torch, the e-graph program)."""
    from alphanas.synth import mutate

    return mutate(graph, on_stage=None if report is None else (lambda name: report(("stage", name))), **kw)


def _failure(e: Exception) -> dict[str, Any]:
    """A failed mutation as the worker answers it: the one-line message, the exit status, and for an
    exceeded budget its stage, elapsed and budget."""
    from alphanas.synth.problem import BudgetExceeded

    out: dict[str, Any] = {"error": str(e), "exit_code": getattr(e, "exit_code", 1), "budget": None}
    if isinstance(e, BudgetExceeded):
        out["budget"] = (e.stage, e.elapsed_s, e.budget_s, str(e))
    return out


#: the graphs of a :class:`~alphanas.synth.api.MutationResult`, sent between the processes as ONNX bytes
#: (pickling a deep graph's linked values and nodes recurses past Python's limit)
_RESULT_GRAPHS = ("graph", "old", "new")


def mutate_graph(model: bytes, kwargs: dict[str, Any], report: Report | None = None) -> dict[str, Any]:
    """One :func:`alphanas.synth.mutate` of an ONNX model (keyword arguments ``kwargs``, ``budget_s`` among
    them): ``{"error": None, "result": MutationResult}`` with its graphs as ONNX bytes, or a failure
    (see :func:`_failure`)."""
    import dataclasses

    import onnx

    from alphanas.errors import AlphanasError
    from alphanas.ir.onnx_io import from_onnx, to_onnx

    graph = from_onnx(onnx.load_from_string(model), source="parent")
    try:
        res = _mutate_reporting(graph, report, **kwargs)
    except AlphanasError as e:
        return _failure(e)
    res = dataclasses.replace(res, **{k: to_onnx(getattr(res, k)).SerializeToString() for k in _RESULT_GRAPHS})
    return {"error": None, "result": res}


def synthesize_onnx(model: bytes, seed: int, synthesizer: str, block: str | None, p: float, budget_s: float,
                    properties: tuple[str, ...], vocabulary, pick: str = "random",
                    focus: str | None = None, report: Report | None = None) -> dict[str, Any]:
    """One :func:`alphanas.synth.mutate` on an ONNX model: ``{"error"}`` or the child's ONNX bytes,
    description, property summaries (original, target, achieved) and timings. ``report`` is told when
    the budget's clock starts and each stage (the worker forwards them to its parent)."""
    import onnx

    from alphanas.errors import AlphanasError
    from alphanas.ir.onnx_io import from_onnx, to_onnx

    graph = from_onnx(onnx.load_from_string(model), source="parent")
    try:
        res = _mutate_reporting(graph, report, budget_s=budget_s, seed=seed, synthesizer=synthesizer, block=block, p=p,
                              properties=properties, vocabulary=vocabulary, pick=pick, focus=focus)
    except AlphanasError as e:  # e.g. no eligible node in the chosen block
        return _failure(e)
    return {"error": None, "model": to_onnx(res.graph).SerializeToString(), "description": res.description,
            "properties": {k: summary(v) for k, v in (("original", res.original), ("target", res.target),
                                                      ("achieved", res.achieved))},
            "timings": {"synth_ms": float(res.synth_ms), "verify_ms": float(res.verify_ms),
                        "synth_draws": float(res.draws)}}


def summary(props: Any) -> Any:
    """A JSON-able summary of a PropertySet (its own ``to_json`` when it has one)."""
    fn = getattr(props, "to_json", None)
    if callable(fn):
        try:
            return fn()
        except Exception:  # a summary is informative only
            pass
    return repr(props)[:2000]


class SynthesisSandbox:
    """A worker process for :func:`synthesize_onnx`, stopped when a call overruns its limit."""

    def __init__(self, single_thread: bool = True) -> None:
        self._proc: subprocess.Popen | None = None
        self._lock = threading.RLock()
        self.starts = 0  # worker processes started (a warm sandbox starts one per process lifetime)
        self.single_thread = single_thread  # the worker runs torch and onnxruntime on one thread
        self.keep_warm = False  # set by warm(): a stopped worker is started again in the background

    @property
    def running(self) -> bool:
        """True while the worker process is alive."""
        return self._proc is not None and self._proc.poll() is None

    def warm(self) -> bool:
        """Start the worker now unless it runs already; False when it did not start."""
        self.keep_warm = True
        with self._lock:
            if self.running:
                return True
            try:
                self._start()
                return True
            except (TimeoutError, EOFError, MemoryLimitExceeded, OSError, ValueError, AttributeError):
                self.close()  # (ValueError, AttributeError: closed meanwhile, e.g. at exit)
                return False

    def _start(self) -> None:
        env = dict(os.environ, OMP_NUM_THREADS="1", ALPHANAS_SANDBOX_THREADS="1") if self.single_thread else dict(os.environ)
        self._proc = subprocess.Popen([sys.executable, "-m", "alphanas.search.sandbox"], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
        self.starts += 1
        self._read(_HEADER.size, time.monotonic() + STARTUP_S)  # the empty "ready" frame

    def _read(self, n: int, deadline: float) -> bytes:
        if self._proc is None:
            raise EOFError
        out = self._proc.stdout
        buf = bytearray()  # extended in place: a bytes += chunk copy per 64 KiB pipe read is quadratic
        while len(buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            ready, _, _ = select.select([out], [], [], min(POLL_S, left))
            if not ready:
                if _rss_bytes(self._proc.pid) > MEMORY_LIMIT_BYTES:
                    raise MemoryLimitExceeded
                continue
            chunk = os.read(out.fileno(), n - len(buf))
            if not chunk:
                raise EOFError
            buf += chunk
        return bytes(buf)

    def call(self, limit_s: float, *args: Any, budget_s: float | None = None) -> dict[str, Any]:
        """``synthesize_onnx(*args)`` in the worker; ``{"error": ...}`` when it overran or died. ``limit_s``
        bounds the call from the request on; ``budget_s`` (the mutation's budget) also kills it
        :data:`BUDGET_SLACK_S` after the budget is spent from the worker's clock start (``"budget"``:
        stage, elapsed, budget, message)."""
        with self._lock:
            return self._call(limit_s, ("onnx", args), budget_s)

    def mutate(self, graph, *, budget_s: float, limit_s: float | None = None, **kwargs: Any):
        """:func:`alphanas.synth.mutate` of ``graph`` in the worker, killed :data:`BUDGET_SLACK_S` after
        its budget is spent whatever the stage (``limit_s``, default ``STARTUP_S + budget``, bounds
        the whole call, reading the graph in the worker included). Returns the
        :class:`~alphanas.synth.api.MutationResult`; raises :class:`~alphanas.synth.problem.BudgetExceeded`
        (the stage that was running or cut), :class:`~alphanas.synth.problem.SynthesisFailed`, or the
        :class:`~alphanas.errors.AlphanasError` the mutation raised (same message and exit status)."""
        from alphanas.errors import AlphanasError
        from alphanas.synth.problem import BudgetExceeded, SynthesisFailed

        import dataclasses

        import onnx

        from alphanas.ir.onnx_io import from_onnx, to_onnx

        limit = STARTUP_S + budget_s if limit_s is None else limit_s
        model = to_onnx(graph).SerializeToString()
        with self._lock:
            out = self._call(limit, ("graph", (model, dict(kwargs, budget_s=budget_s))), budget_s)
        if out["error"] is None:
            res = out["result"]
            return dataclasses.replace(res, **{k: from_onnx(onnx.load_from_string(getattr(res, k)), source=k)
                                              for k in _RESULT_GRAPHS})
        if out.get("budget"):
            stage, elapsed, budget, _ = out["budget"]
            err: AlphanasError = BudgetExceeded(stage, elapsed, budget, what="the mutation")
        elif out.get("exit_code", 1) == 1:
            err = SynthesisFailed(out["error"])
        else:
            err = AlphanasError(out["error"])
            err.exit_code = out.get("exit_code", 2)
        err.args = (out["error"],)  # the worker's message as it is (no second "best distance")
        if isinstance(err, SynthesisFailed):
            err.reason = out["error"]
        raise err

    def _frame(self, deadline: float) -> Any:
        (n,) = _HEADER.unpack(self._read(_HEADER.size, deadline))
        return pickle.loads(self._read(n, deadline))

    def _call(self, limit_s: float, request: tuple, budget_s: float | None = None) -> dict[str, Any]:
        data = pickle.dumps(request)
        if self._proc is None or self._proc.poll() is not None:
            try:
                self._start()
            except (TimeoutError, EOFError, MemoryLimitExceeded):
                self.close()
                return {"error": "the synthesis worker did not start"}
        t_send = time.monotonic()
        hard = t_send + limit_s
        clock: float | None = None
        stage = "start"
        try:
            self._proc.stdin.write(_HEADER.pack(len(data)) + data)
            self._proc.stdin.flush()
            while True:
                cap = hard if clock is None or budget_s is None else min(hard, clock + budget_s + BUDGET_SLACK_S)
                frame = self._frame(cap)
                if frame[0] == "stage":  # (the first: the budget's clock started in the worker)
                    stage = frame[1]
                    clock = time.monotonic() if clock is None else clock
                else:
                    return frame[1]
        except TimeoutError:
            now = time.monotonic()
            self._stopped()
            if clock is not None and budget_s is not None and now < hard:
                from alphanas.synth.problem import BudgetExceeded

                elapsed = now - clock
                e = BudgetExceeded(stage, elapsed, budget_s, "the worker was stopped", what="the mutation")
                return {"error": str(e), "exit_code": 1, "budget": (stage, elapsed, budget_s, str(e))}
            return {"error": f"synthesis exceeded the hard limit of {limit_s:.0f} s; the worker was stopped"}
        except MemoryLimitExceeded:
            self._stopped()
            return {"error": f"synthesis grew past the memory limit of {MEMORY_LIMIT_BYTES / 2**30:.1f} GiB; "
                             "the worker was stopped"}
        except (EOFError, BrokenPipeError, pickle.UnpicklingError):
            self._stopped()
            return {"error": "the synthesis worker died (e.g. out of memory); it will be restarted"}

    def _stopped(self) -> None:
        """Kill the worker after a failed call; a sandbox kept warm starts the next one in the background."""
        self.close()
        if self.keep_warm:
            threading.Thread(target=self.warm, daemon=True).start()

    def close(self) -> None:
        """Stop the worker (a later call starts a fresh one)."""
        proc, self._proc = self._proc, None  # (safe against a second close from another thread or atexit)
        if proc is not None:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            for f in (proc.stdin, proc.stdout):
                try:
                    if f is not None:
                        f.close()
                except OSError:
                    pass


#: the sandbox of this process
SANDBOX = SynthesisSandbox()
atexit.register(SANDBOX.close)


def _warm_up() -> None:
    """Run every check once on a one-node model, so that first-use costs of onnxruntime and torch autograd
    (a second or so) are paid at start-up, not inside the first mutation's budget."""
    import onnx
    from onnx import TensorProto, helper

    from alphanas.ir.onnx_io import from_onnx
    from alphanas.synth.verify import check_graph

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    w = helper.make_tensor("w", TensorProto.FLOAT, [4, 4], [0.5] * 16)
    model = helper.make_model(helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "warm", [x], [y], [w]),
                              opset_imports=[helper.make_opsetid("", 17)])
    try:
        check_graph(from_onnx(onnx.load_from_string(model.SerializeToString()), source="warm-up"))
    except Exception:  # noqa: BLE001  (a warm-up only)
        pass


def _serve() -> None:
    """Worker loop: read a request, answer it, until stdin ends."""
    channel = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything a library prints goes to stderr, not into the protocol
    stdin = sys.stdin.buffer
    import torch

    import alphanas.synth  # noqa: F401  (imported before saying ready, so calls are timed without it)

    if os.environ.get("ALPHANAS_SANDBOX_THREADS") == "1":
        torch.set_num_threads(1)
    _warm_up()

    def send(frame: tuple) -> None:
        data = pickle.dumps(frame)
        channel.write(_HEADER.pack(len(data)) + data)
        channel.flush()

    channel.write(_HEADER.pack(0))
    channel.flush()
    while True:
        head = stdin.read(_HEADER.size)
        if len(head) < _HEADER.size:
            return
        (n,) = _HEADER.unpack(head)
        kind, args = pickle.loads(stdin.read(n))
        try:
            out = synthesize_onnx(*args, report=send) if kind == "onnx" else mutate_graph(*args, report=send)
        except Exception as e:  # reported to the parent as a failed mutation
            out = {"error": f"{type(e).__name__}: {e}", "exit_code": 1, "budget": None}
        send(("result", out))


if __name__ == "__main__":
    _serve()
