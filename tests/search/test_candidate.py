"""Candidate statuses: a ``str`` enum that the store writes as its plain value and reads back as the enum."""

from __future__ import annotations

import json
import sqlite3

import pytest

from alphanas.search.candidate import FINAL_STATUSES, Candidate, CandidateStatus
from alphanas.search.store import DB_NAME, Store


def test_status_compares_prints_and_serializes_as_its_value():
    s = CandidateStatus.REJECTED
    assert s == "rejected" and str(s) == "rejected" and f"{s} {s:>9}" == "rejected  rejected"
    assert json.dumps({s: s}) == '{"rejected": "rejected"}'
    assert CandidateStatus.PENDING not in FINAL_STATUSES and set(FINAL_STATUSES) == set(CandidateStatus) - {"pending"}


def test_a_plain_string_status_becomes_the_enum_and_a_wrong_one_is_refused():
    c = Candidate(None, "h", status="done")
    assert c.status is CandidateStatus.DONE and c.done and c.final
    with pytest.raises(ValueError):
        Candidate(None, "h", status="finished")


def test_the_store_keeps_the_plain_value_on_disk_and_reads_older_rows(tmp_path):
    with Store(tmp_path / "s") as st:
        cid = st.add(Candidate(None, "h1", trial=0, status=CandidateStatus.REJECTED))
        st.add(Candidate(None, "h2", trial=1))
    db = sqlite3.connect(tmp_path / "s" / DB_NAME)
    assert db.execute("SELECT status, typeof(status) FROM candidates WHERE id=?", (cid,)).fetchone() == ("rejected", "text")
    db.execute("UPDATE candidates SET status='done' WHERE trial=1")  # as a store written before the enum
    db.commit()
    db.close()
    with Store(tmp_path / "s", create=False) as st:
        a, b = st.candidates()
        assert a.status is CandidateStatus.REJECTED and b.status is CandidateStatus.DONE
        assert [c.trial for c in st.candidates(CandidateStatus.DONE)] == [1] == [c.trial for c in st.candidates("done")]
        assert st.count(CandidateStatus.REJECTED) == 1


def test_str_enums_of_other_fields_print_and_serialize_as_their_values():
    from alphanas.search.evolution import EVENTS, SearchEvent
    from alphanas.train import StopReason

    assert [str(e) for e in EVENTS] == ["resumed", "generated", "finished"] and SearchEvent.FINISHED == "finished"
    assert f"({StopReason.TIME})" == "(time)" and json.dumps({"stopped": StopReason.DIVERGED}) == '{"stopped": "diverged"}'
