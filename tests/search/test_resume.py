"""Kill a running `alphanas search` with SIGKILL midway; the rerun finishes, keeps every completed
candidate, trains none twice, and ends with the same candidates and front as a straight run."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter

import pytest

from alphanas.search.evolution import front_of
from alphanas.search.run import SearchConfig, run_search
from alphanas.search.store import DB_NAME, Store

TRIALS, EPOCHS, SEED = 6, 1, 5
ARGS = ["--dataset", "digits", "--zoo", "resnet_small", "--trials", str(TRIALS), "--epochs", str(EPOCHS),
        "--seed", str(SEED)]


def _done_count(path) -> int:
    try:
        with sqlite3.connect(path, timeout=5) as db:
            return db.execute("SELECT COUNT(*) FROM candidates WHERE status='done'").fetchone()[0]
    except sqlite3.Error:  # not created yet
        return 0


def _key(cands):
    trial = {c.id: c.trial for c in cands}
    return [(c.trial, c.hash, trial.get(c.parent_id), c.mutation, c.status,
             *(c.metrics.get(k) for k in ("val_acc", "test_acc", "params", "flops"))) for c in cands]


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_sigkill_midway_then_resume_equals_a_straight_run(tmp_path):
    straight = run_search(SearchConfig(zoo="resnet_small", dataset="digits", trials=TRIALS, epochs=EPOCHS, seed=SEED,
                                       out=str(tmp_path / "straight")))
    assert len(straight.candidates) == TRIALS

    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "alphanas.cli", "search", *ARGS, "--out", str(out)]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    deadline = time.time() + 300
    while _done_count(out / DB_NAME) < 2:
        assert proc.poll() is None, "the search ended before it could be killed"
        assert time.time() < deadline, "the search did not finish two candidates in time"
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    with Store(out, create=False) as st:
        before = st.candidates()
    finished_before = {c.id: c for c in before if c.final}
    assert 2 <= len(finished_before) < TRIALS  # killed midway

    rerun = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    with Store(out, create=False) as st:
        after = st.candidates()

    # every candidate completed before the kill is kept as it was
    by_id = {c.id: c for c in after}
    for cid, c in finished_before.items():
        assert (by_id[cid].hash, by_id[cid].status, by_id[cid].metrics) == (c.hash, c.status, c.metrics)
    # none was trained twice: only a candidate in flight at the kill may have been started again
    log = (out / "evaluations.log").read_text().splitlines()
    starts = Counter(line.split("hash=")[1] for line in log if line.startswith("start"))
    dones = Counter(line.split("hash=")[1] for line in log if line.startswith("done"))
    assert max(dones.values()) == 1
    in_flight = {c.hash for c in before if c.status == "pending"}
    assert {h for h, n in starts.items() if n > 1} <= in_flight
    assert all(starts[c.hash] == 1 for c in finished_before.values())
    # and the search is the straight run's
    assert len(after) == TRIALS and all(c.status != "pending" for c in after)
    assert _key(after) == _key(straight.candidates)
    assert [c.hash for c in front_of(after, ["accuracy", "params"])] == [c.hash for c in straight.front]
