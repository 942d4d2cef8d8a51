"""Ctrl-C of a search with the process executor, as a terminal sends it (SIGINT to the whole process group):
no worker traceback, one message naming the folder and the command that resumes, exit status 130; the
rerun resumes (the trials finished before the interrupt are kept, the search completes)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from alphanas.search.store import DB_NAME

TRIALS = 8


def _done(out) -> list[int]:
    db = out / DB_NAME
    if not db.is_file():
        return []
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            return [r[0] for r in con.execute("SELECT id FROM candidates WHERE status = 'done' ORDER BY id")]
        finally:
            con.close()
    except sqlite3.Error:  # (being created)
        return []


@pytest.mark.slow
def test_ctrl_c_of_a_process_search_says_where_and_how_to_resume(tmp_path):
    out = tmp_path / "run"
    argv = [sys.executable, "-m", "alphanas.cli", "search", "--zoo", "cnn", "--dataset", "digits", "--trials",
            str(TRIALS), "--epochs", "1", "--strategy", "random_edit", "--executor", "process", "--workers", "1",
            "--out", str(out)]
    # (a shell without job control starts background jobs with SIGINT ignored, and the child would inherit
    # that: give it the default disposition a terminal's foreground job has)
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.monotonic() + 240
        while not _done(out) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert proc.poll() is None, ("the search ended before it could be interrupted", proc.communicate())
        assert _done(out), "no trial finished in time"
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: the parent and every worker
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    kept = _done(out)
    assert proc.returncode == 130, (proc.returncode, stderr)
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.startswith("alphanas:")]
    assert len(lines) == 1 and str(out) in lines[0] and "resume" in lines[0] and "alphanas search" in lines[0], stderr
    assert kept and len(kept) < TRIALS
    # the rerun resumes: what was done is kept, the rest is evaluated
    rerun = subprocess.run(argv + ["--json"], capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    after = _done(out)
    assert set(kept) <= set(after)
    con = sqlite3.connect(f"file:{out / DB_NAME}?mode=ro", uri=True)
    total = con.execute("SELECT COUNT(*) FROM candidates").fetchone()[0]
    con.close()
    assert total == TRIALS
