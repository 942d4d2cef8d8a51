"""The report without a browser: robust axis limits, the store opened read-only, ``report --json``,
option errors, the PNG's front labels."""

from __future__ import annotations

import json
import re

import pytest

from alphanas.cli import main
from alphanas.search.report import read_search, robust_limits, write_report
from alphanas.search.store import DB_NAME


def test_robust_limits_leave_a_far_outlier_outside():
    vals = [0.80, 0.81, 0.82, 0.83, 0.84, 0.85, 0.05]
    lo, hi = robust_limits(vals)
    # quartiles 0.81 and 0.84 (IQR 0.03): fences 0.72 and 0.93; inside 0.80..0.85, padded by 5 % of 0.05
    assert lo == pytest.approx(0.7975) and hi == pytest.approx(0.8525)
    lo, hi = robust_limits([10, 100, 1000, 10_000], log=True)  # log10 values 1..4, no outlier
    assert lo == pytest.approx(10 ** 0.85) and hi == pytest.approx(10 ** 4.15)
    assert robust_limits([]) is None


def test_report_reads_the_store_without_writing_it(search_dir, capsys):
    db = search_dir / DB_NAME
    before = db.read_bytes()
    assert main(["report", str(search_dir), "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert db.read_bytes() == before
    state = read_search(search_dir)
    assert [f["id"] for f in rep["front"]] == [c.id for c in state.front]
    assert all((search_dir / "front" / f"{f['id']}.onnx").is_file() for f in rep["front"])
    html = (search_dir / "report.html").read_text()
    # self-contained: no external script, style, image or font (the SVG namespace URI is a name, not a fetch)
    assert not re.search(r"""(src|href)\s*=|<link|@import|url\(|fetch\(['"]https?:""", html)


def test_png_labels_the_front_with_its_ids(search_dir, monkeypatch):
    import matplotlib.axes

    texts: list[str] = []
    orig = matplotlib.axes.Axes.annotate
    monkeypatch.setattr(matplotlib.axes.Axes, "annotate", lambda self, text, *a, **k: (texts.append(text),
                                                                                       orig(self, text, *a, **k))[1])
    rep = write_report(search_dir)
    pairs = len(rep.objectives) * (len(rep.objectives) - 1) // 2 if len(rep.objectives) > 2 else 1
    assert sorted(texts) == sorted(str(c.id) for c in rep.front for _ in range(pairs))  # (in each panel)
    assert rep.png.read_bytes()[:4] == b"\x89PNG"


def test_empty_database_is_an_error_and_stays_empty(tmp_path, capsys):
    (tmp_path / DB_NAME).write_bytes(b"")
    assert main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "not a search database" in err and "Traceback" not in err
    assert (tmp_path / DB_NAME).read_bytes() == b""


@pytest.mark.parametrize("extra, words", [(["--port", "-1"], "--port -1"), (["--refresh", "0"], "--refresh 0"),
                                          (["--serve", "--json"], "do not combine")])
def test_bad_options_exit_2_with_one_line(search_dir, capsys, extra, words):
    assert main(["report", str(search_dir), *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and words in err


def test_png_draws_every_objective_pair_beyond_two_objectives(tmp_path, monkeypatch):
    import numpy as np

    from alphanas.search import report
    from alphanas.search.candidate import Candidate, CandidateStatus
    from alphanas.search.evolution import front_of

    rng = np.random.default_rng(0)
    cands = [Candidate(graph=None, hash=str(i), id=i, trial=i, status=CandidateStatus.DONE,
                       mutation="seed" if i == 0 else "property",
                       metrics={"val_acc": float(rng.uniform(0.5, 0.9)), "params": float(rng.integers(1e3, 1e5)),
                                "flops": float(rng.integers(1e5, 1e7))}) for i in range(12)]
    objectives = ["accuracy", "params", "flops"]
    front = front_of(cands, objectives)
    panels: list[tuple] = []
    orig = report._panel
    monkeypatch.setattr(report, "_panel", lambda ax, c, f, s, x, y, **k: (panels.append((x, y, len(f))),
                                                                          orig(ax, c, f, s, x, y, **k))[1])
    axes = report.plot(cands, front, objectives, tmp_path / "p.png")
    assert axes == ("params", "val_acc")  # the first panel: accuracy against the first cost
    assert {frozenset(p[:2]) for p in panels} == {frozenset(("params", "val_acc")), frozenset(("flops", "val_acc")),
                                                   frozenset(("params", "flops"))}
    assert len(panels) == 3 and all(n == len(front) for *_, n in panels)  # the whole front marked in each
    assert (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"
    panels.clear()
    report.plot(cands, front_of(cands, objectives[:2]), objectives[:2], tmp_path / "two.png")
    assert len(panels) == 1  # two objectives: one plot, as before
