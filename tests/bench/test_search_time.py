"""The search time benchmark: both runs in one call, the split's parts sum to the wall time, JSON-able."""

from __future__ import annotations

import json

import pytest

from alphanas.bench.search_time import compare, main, table
from alphanas.search.timesplit import PARTS

KEYS = {"training_s", "proposal_s", "verification_s", "storage_s", "idle_s", "wall_s", "trials", "trials_per_min",
        "busy_fraction", "overhead_per_trial_s", "pipeline"}


@pytest.mark.slow
def test_compare_runs_the_default_search_off_and_on(tmp_path):
    res = compare(trials=3, executor="local", epochs=1, out=str(tmp_path / "r"))
    json.dumps(res)
    for name, on in (("off", False), ("on", True)):
        r = res[name]
        assert KEYS <= set(r) and r["pipeline"] is on and r["trials"] == 3 and r["counts"] == {"done": 3}
        assert sum(r[k] for k in PARTS) == pytest.approx(r["wall_s"], rel=1e-3, abs=1e-3)
        assert 0 < r["busy_fraction"] <= 1 and r["command_wall_s"] >= r["wall_s"]
    assert res["overhead_ratio"] == pytest.approx(res["off"]["overhead_per_trial_s"] / res["on"]["overhead_per_trial_s"],
                                                  rel=1e-2)
    assert table(res).row_count >= 10


def test_main_refuses_a_used_folder(tmp_path, capsys):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "f").write_text("")
    with pytest.raises(SystemExit) as e:
        main(["--out", str(tmp_path / "x")])
    assert e.value.code == 2 and "not empty" in capsys.readouterr().err
