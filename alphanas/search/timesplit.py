"""Where a search's wall time goes: training, proposal, verification, storage and idle.

The search records intervals on one clock (``time.time()``, shared by the processes of one machine):
every evaluation's run on a training worker (``training``), and the driver's or the proposer's work
(``proposal``: parent selection, mutation and synthesis; ``verification``: splice-and-verify and the
cost/latency metrics; ``storage``: store rows and model files; ``startup``: helper processes starting,
the training workers and the synthesis sandbox). An interval may be split between
proposal and verification by a fraction (a mutation whose verification took that share of it).

:func:`split` divides the wall time from the point of view of the training side, which has
``slots`` workers (one evaluation each): at every instant, the running evaluations count as
training (``running / slots`` of the instant, at most all of it) and the rest, the share of idle
slots, is charged to what the driver and proposer were doing then (shared equally among the
activities in progress), or to ``idle`` when nothing was in progress (the end of the search, waiting
for its last evaluations). Idle slots while a submitted evaluation has not started yet count as
``startup_s`` (worker processes starting: spawning Python and importing torch; dispatch), and so does
the share of idle slots charged to ``startup`` work: start-up that blocks training is counted, start-up
that runs while every slot trains costs nothing. Hence
``training_s + proposal_s + verification_s + storage_s + idle_s + startup_s == wall_s``;
``busy_fraction = training_s / wall_s``; ``any_busy_fraction`` is the fraction of
the wall time in which at least one evaluation ran (the training device's busy time when all slots
share one device); ``overhead_per_trial_s = (wall_s - training_s) / trials``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

#: the activities the non-training time is charged to, besides ``idle``
ACTIVITIES = ("proposal", "verification", "storage", "startup")
#: the keys of :func:`split`'s result that are seconds of the wall time and sum to ``wall_s``
PARTS = ("training_s", "proposal_s", "verification_s", "storage_s", "idle_s", "startup_s")


@dataclass
class Timeline:
    """Thread-safe record of a search's intervals (``time.time()`` seconds)."""

    start: float = field(default_factory=time.time)
    training: list[tuple[float, float]] = field(default_factory=list)
    queued: list[tuple[float, float]] = field(default_factory=list)  # submitted, not yet running
    # (start, end, {activity: weight}) with weights summing to 1
    work: list[tuple[float, float, dict[str, float]]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add_training(self, start: float, end: float, submitted: float | None = None) -> None:
        """One evaluation ran on a training worker from ``start`` to ``end`` (submitted at ``submitted``)."""
        with self._lock:
            self.training.append((float(start), float(end)))
            if submitted is not None and submitted < start:
                self.queued.append((float(submitted), float(start)))

    def add(self, start: float, end: float, weights: dict[str, float] | str) -> None:
        """Driver/proposer work from ``start`` to ``end``: one activity, or shares of several."""
        w = {weights: 1.0} if isinstance(weights, str) else {k: float(v) for k, v in weights.items() if v > 0}
        unknown = set(w) - set(ACTIVITIES)
        if unknown:
            raise ValueError(f"unknown activity {sorted(unknown)}; use {', '.join(ACTIVITIES)}")
        total = sum(w.values())
        if end > start and total > 0:
            with self._lock:
                self.work.append((float(start), float(end), {k: v / total for k, v in w.items()}))

    @contextmanager
    def timed(self, activity: str) -> Iterator[None]:
        """Record the ``with`` body as ``activity``."""
        t0 = time.time()
        try:
            yield
        finally:
            self.add(t0, time.time(), activity)

    def split(self, *, slots: int, trials: int, end: float | None = None) -> dict[str, float]:
        """:func:`split` of this record from :attr:`start` to ``end`` (default now)."""
        with self._lock:
            training, work, queued = list(self.training), list(self.work), list(self.queued)
        return split(training, work, start=self.start, end=time.time() if end is None else end,
                     slots=slots, trials=trials, queued=queued)


def split(training: list[tuple[float, float]], work: list[tuple[float, float, dict[str, float] | str]], *,
          start: float, end: float, slots: int, trials: int,
          queued: list[tuple[float, float]] | None = None) -> dict[str, float]:
    """The wall time from ``start`` to ``end`` split as the module docstring says (a JSON-able dict:
    the :data:`PARTS`, ``wall_s``, ``trials``, ``trials_per_min``, ``busy_fraction``,
    ``any_busy_fraction``, ``overhead_per_trial_s``, ``slots``). Intervals are clipped to the range.

    Also the *steady state*, from the moment every slot has begun its first evaluation (``startup_end_s``
    after ``start``: the worker processes have started and the first candidates arrived) to ``end``:
    ``steady_wall_s``, ``steady_busy_fraction`` and ``steady_overhead_per_trial_s`` (the time outside
    training per evaluation that ended in that span)."""
    slots = max(1, int(slots))
    res = _sweep(training, work, queued or [], start, end, slots, trials)
    starts = sorted(a for a, b in training if b > start and a < end)
    t_s = max(start, starts[slots - 1]) if len(starts) >= slots else end
    steady = _sweep(training, work, queued or [], t_s, end, slots, sum(1 for _a, b in training if t_s < b <= end))
    res.update(startup_end_s=round(t_s - start, 6), steady_wall_s=steady["wall_s"],
               steady_busy_fraction=steady["busy_fraction"],
               steady_overhead_per_trial_s=steady["overhead_per_trial_s"])
    return res


def _sweep(training: list[tuple[float, float]], work: list[tuple[float, float, dict[str, float] | str]],
           queued: list[tuple[float, float]], start: float, end: float, slots: int, trials: int) -> dict[str, float]:
    wall = max(0.0, end - start)

    def clip(a: float, b: float) -> tuple[float, float]:
        return max(a, start), min(b, end)

    tr = [clip(a, b) for a, b in training]
    tr = [(a, b) for a, b in tr if b > a]
    wk = [(*clip(a, b), {w: 1.0} if isinstance(w, str) else w) for a, b, w in work]
    wk = [(a, b, w) for a, b, w in wk if b > a]
    qu = [clip(a, b) for a, b in queued]
    qu = sorted((a, b) for a, b in qu if b > a)
    cuts = sorted({start, end, *(t for a, b in tr for t in (a, b)), *(t for a, b, _ in wk for t in (a, b)),
                   *(t for a, b in qu for t in (a, b))})
    out = {p: 0.0 for p in PARTS}
    any_busy = 0.0
    # sweep over the elementary segments; each interval list is sorted so that only live ones are scanned
    tr.sort()
    wk.sort(key=lambda x: x[0])
    live_tr: list[tuple[float, float]] = []
    live_wk: list[tuple[float, float, dict[str, float]]] = []
    live_qu: list[tuple[float, float]] = []
    i = j = q = 0
    for lo, hi in zip(cuts, cuts[1:]):
        dt = hi - lo
        if dt <= 0:
            continue
        while i < len(tr) and tr[i][0] <= lo:
            live_tr.append(tr[i])
            i += 1
        while j < len(wk) and wk[j][0] <= lo:
            live_wk.append(wk[j])
            j += 1
        while q < len(qu) and qu[q][0] <= lo:
            live_qu.append(qu[q])
            q += 1
        live_tr = [x for x in live_tr if x[1] > lo]
        live_wk = [x for x in live_wk if x[1] > lo]
        live_qu = [x for x in live_qu if x[1] > lo]
        running = min(len(live_tr), slots)
        if running:
            any_busy += dt
        out["training_s"] += dt * running / slots
        waiting = min(len(live_qu), slots - running)  # slots whose candidate is waiting in the executor
        out["startup_s"] += dt * waiting / slots
        free = dt * (slots - running - waiting) / slots
        if free <= 0:
            continue
        if not live_wk:
            out["idle_s"] += free
            continue
        share = free / len(live_wk)
        for _a, _b, w in live_wk:
            for k, v in w.items():
                out[f"{k}_s"] += share * v
    res: dict[str, float] = {k: round(v, 6) for k, v in out.items()}
    res.update(wall_s=round(wall, 6), trials=int(trials), slots=slots,
               trials_per_min=round(60.0 * trials / wall, 4) if wall > 0 else 0.0,
               busy_fraction=round(out["training_s"] / wall, 6) if wall > 0 else 0.0,
               any_busy_fraction=round(any_busy / wall, 6) if wall > 0 else 0.0,
               overhead_per_trial_s=round((wall - out["training_s"]) / trials, 6) if trials else 0.0)
    return res


def in_words(s: dict) -> str:
    """One line: the split as percentages of the wall time, trials per minute, overhead per trial."""
    wall = s.get("wall_s") or 0.0
    if wall <= 0:
        return "no time recorded"

    def pct(k: str) -> str:
        return f"{100 * s.get(k, 0.0) / wall:.0f}%"

    return (f"{wall:.1f} s: training {pct('training_s')} (busy fraction {s.get('busy_fraction', 0):.2f} of "
            f"{s.get('slots', 1)} slot(s)), proposal {pct('proposal_s')}, verification {pct('verification_s')}, "
            f"storage {pct('storage_s')}, worker start-up {pct('startup_s')}, idle {pct('idle_s')}; "
            f"{s.get('trials_per_min', 0):.1f} trials/min, "
            f"{s.get('overhead_per_trial_s', 0):.2f} s per trial outside training; after the start-up "
            f"({s.get('startup_end_s', 0):.1f} s): training {100 * s.get('steady_busy_fraction', 0):.0f}%, "
            f"{s.get('steady_overhead_per_trial_s', 0):.2f} s per trial outside training")


__all__ = ["ACTIVITIES", "PARTS", "Timeline", "in_words", "split"]
