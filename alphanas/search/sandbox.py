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
starts, so that the first property-guided mutation does not wait for it. Calls are serialised (one
worker, one request at a time), so the search's proposer thread and the driver may share it.
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
from typing import Any

_HEADER = struct.Struct("<Q")
#: how long the worker may take to start (it imports torch, onnx and egglog, then says it is ready)
STARTUP_S = 120.0
#: how often the parent checks the worker's memory while waiting for an answer
POLL_S = 0.25


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


def synthesize_onnx(model: bytes, seed: int, synthesizer: str, block: str | None, p: float, budget_s: float,
                    properties: tuple[str, ...], vocabulary, pick: str = "random",
                    focus: str | None = None) -> dict[str, Any]:
    """One :func:`alphanas.synth.mutate` on an ONNX model: ``{"error"}`` or the child's ONNX bytes,
    description, property summaries (original, target, achieved) and timings."""
    import onnx

    from alphanas.errors import AlphanasError
    from alphanas.ir.onnx_io import from_onnx, to_onnx
    from alphanas.synth import SynthesisFailed, mutate

    graph = from_onnx(onnx.load_from_string(model), source="parent")
    try:
        res = mutate(graph, seed=seed, synthesizer=synthesizer, block=block, p=p, budget_s=budget_s,
                     properties=properties, vocabulary=vocabulary, pick=pick, focus=focus)
    except (SynthesisFailed, AlphanasError) as e:  # e.g. no eligible node in the chosen block
        return {"error": str(e)}
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

    def __init__(self) -> None:
        self._proc: subprocess.Popen | None = None
        self._lock = threading.RLock()
        self.starts = 0  # worker processes started (a warm sandbox starts one per process lifetime)

    @property
    def running(self) -> bool:
        """True while the worker process is alive."""
        return self._proc is not None and self._proc.poll() is None

    def warm(self) -> bool:
        """Start the worker now unless it runs already; False when it did not start."""
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
        env = dict(os.environ, OMP_NUM_THREADS="1")
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

    def call(self, limit_s: float, *args: Any) -> dict[str, Any]:
        """``synthesize_onnx(*args)`` in the worker; ``{"error": ...}`` when it overran or died."""
        with self._lock:
            return self._call(limit_s, *args)

    def _call(self, limit_s: float, *args: Any) -> dict[str, Any]:
        data = pickle.dumps(args)
        if self._proc is None or self._proc.poll() is not None:
            try:
                self._start()
            except (TimeoutError, EOFError, MemoryLimitExceeded):
                self.close()
                return {"error": "the synthesis worker did not start"}
        try:
            deadline = time.monotonic() + limit_s
            self._proc.stdin.write(_HEADER.pack(len(data)) + data)
            self._proc.stdin.flush()
            (n,) = _HEADER.unpack(self._read(_HEADER.size, deadline))
            return pickle.loads(self._read(n, deadline))
        except TimeoutError:
            self.close()
            return {"error": f"synthesis exceeded the hard limit of {limit_s:.0f} s; the worker was stopped"}
        except MemoryLimitExceeded:
            self.close()
            return {"error": f"synthesis grew past the memory limit of {MEMORY_LIMIT_BYTES / 2**30:.1f} GiB; "
                             "the worker was stopped"}
        except (EOFError, BrokenPipeError, pickle.UnpicklingError):
            self.close()
            return {"error": "the synthesis worker died (e.g. out of memory); it will be restarted"}

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


def _serve() -> None:
    """Worker loop: read a request, answer it, until stdin ends."""
    channel = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything a library prints goes to stderr, not into the protocol
    stdin = sys.stdin.buffer
    import torch

    import alphanas.synth  # noqa: F401  (imported before saying ready, so calls are timed without it)

    torch.set_num_threads(1)
    channel.write(_HEADER.pack(0))
    channel.flush()
    while True:
        head = stdin.read(_HEADER.size)
        if len(head) < _HEADER.size:
            return
        (n,) = _HEADER.unpack(head)
        args = pickle.loads(stdin.read(n))
        try:
            out = synthesize_onnx(*args)
        except Exception as e:  # reported to the parent as a failed mutation
            out = {"error": f"{type(e).__name__}: {e}"}
        data = pickle.dumps(out)
        channel.write(_HEADER.pack(len(data)) + data)
        channel.flush()


if __name__ == "__main__":
    _serve()
