"""The search store: SQLite round trip, WAL with a concurrent reader, unique hashes, config checks, ONNX files."""

import math
import sqlite3

import numpy as np
import onnxruntime as ort
import pytest

from alphanas.errors import AlphanasError
from alphanas.ir import zoo
from alphanas.search.candidate import Candidate
from alphanas.search.store import DB_NAME, Store
from alphanas.ir.hashing import structural_hash


@pytest.fixture
def graph():
    return zoo.build("cnn", width=4)


def test_round_trip_of_every_field(tmp_path, graph):
    with Store(tmp_path / "s", {"dataset": "digits", "epochs": 3}) as st:
        c = Candidate(graph, structural_hash(graph), mutation="seed", trial=0, description="the seed",
                      properties={"depth": [[2]]}, metrics={"params": 123.0, "val_acc": math.nan},
                      timings={"mutate_s": 0.5})
        cid = st.add(c, model=graph)
        assert c.id == cid == 1
        child = Candidate(None, "h2", parent_id=cid, mutation="random_edit", trial=1, key=["arch", 3])
        st.add(child)
        child.status, child.error, child.metrics = "failed", "training diverged", {"val_acc": 0.25, "loss": math.inf}
        st.update(child)
    with Store(tmp_path / "s", create=False) as st:
        a, b = st.candidates()
        assert (a.id, a.trial, a.mutation, a.description, a.status) == (1, 0, "seed", "the seed", "pending")
        assert a.properties == {"depth": [[2]]} and a.timings["mutate_s"] == 0.5
        assert a.metrics["params"] == 123.0 and math.isnan(a.metrics["val_acc"])  # non-finite floats survive JSON
        assert (b.parent_id, b.status, b.error, b.key) == (1, "failed", "training diverged", ["arch", 3])
        assert b.metrics == {"val_acc": 0.25, "loss": math.inf}
        assert st.by_hash(structural_hash(graph)).id == 1 and st.by_hash("nope") is None
        assert st.get(2).mutation == "random_edit"
        assert [c.id for c in st.candidates("failed")] == [2] and st.count() == 2 and st.count("pending") == 1
        assert st.config() == {"dataset": "digits", "epochs": 3, "schema_version": 1}


def test_wal_mode_and_a_reader_during_a_write(tmp_path, graph):
    st = Store(tmp_path, {"a": 1})
    mode = sqlite3.connect(tmp_path / DB_NAME).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    st.add(Candidate(None, "h0", trial=0))
    st.db.execute("BEGIN IMMEDIATE")  # the writer holds an open write transaction ...
    st.db.execute("UPDATE candidates SET status='done' WHERE id=1")
    reader = Store(tmp_path, create=False)
    assert reader.get(1).status == "pending"  # ... and a reader still sees the last committed state
    st.db.execute("COMMIT")
    assert reader.get(1).status == "done"


def test_hash_and_trial_are_unique(tmp_path):
    st = Store(tmp_path)
    st.add(Candidate(None, "same", trial=0))
    with pytest.raises(ValueError, match="already stored"):
        st.add(Candidate(None, "same", trial=1))
    with pytest.raises(ValueError, match="already stored"):
        st.add(Candidate(None, "other", trial=0))
    assert st.count() == 1


def test_incompatible_settings_are_refused_and_compatible_ones_updated(tmp_path):
    Store(tmp_path, {"epochs": 3, "trials": 10}, compatible=["epochs"]).close()
    with pytest.raises(AlphanasError, match="other settings.*epochs: stored 3, now 5"):
        Store(tmp_path, {"epochs": 5, "trials": 10}, compatible=["epochs"])
    with Store(tmp_path, {"epochs": 3, "trials": 20}, compatible=["epochs"]) as st:  # more trials: a resume
        assert st.config()["trials"] == 20


def test_model_files_are_written_atomically_and_load_back(tmp_path, graph):
    st = Store(tmp_path)
    cid = st.add(Candidate(graph, structural_hash(graph), trial=0), model=graph)
    path = st.model_path(cid)
    assert path.name == f"{cid}.onnx" and path.is_file()
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]
    back = st.load_model(cid)
    assert structural_hash(back) == structural_hash(graph)
    x = np.random.default_rng(0).standard_normal((2, 1, 8, 8)).astype(np.float32)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    ref = ort.InferenceSession(str(st.save_model(cid, graph, trained=True)), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(sess.run(None, {"input": x})[0], ref.run(None, {"input": x})[0], rtol=1e-6)
    with pytest.raises(AlphanasError, match="missing model file"):
        st.load_model(99)


def test_a_failed_insert_leaves_no_row_and_a_missing_folder_is_a_user_error(tmp_path, graph):
    st = Store(tmp_path)
    st.add(Candidate(None, "h", trial=0))
    with pytest.raises(ValueError):
        st.add(Candidate(graph, "h", trial=1), model=graph)
    assert st.count() == 1
    with pytest.raises(AlphanasError, match="no search here"):
        Store(tmp_path / "nowhere", create=False)
    (tmp_path / "file").write_text("x")
    with pytest.raises(AlphanasError, match="not a folder"):
        Store(tmp_path / "file")
