"""The search store: every candidate in SQLite (``OUT_DIR/search.db``), its ONNX under ``OUT_DIR/models/``.

    store = Store("runs/a", config={"dataset": "digits", ...})   # creates, or opens and checks
    cid = store.add(candidate)                                   # pending row (hash is UNIQUE)
    store.update(candidate)                                      # status, metrics, timings, error
    store.candidates()                                           # all rows, by trial order

The database uses write-ahead logging (WAL), so a reader (``alphanas report`` while a search runs)
never blocks the writer, and a killed writer loses at most the transaction in flight. Only the
search driver writes. ``config`` holds the command's settings: opening an existing store with
different settings for a key listed in ``compatible`` raises :class:`~alphanas.errors.AlphanasError`
rather than silently mixing two searches in one folder.

ONNX files are written atomically (temp file + rename): ``models/<id>.onnx`` is the candidate as
generated (its initial weights), ``models/<id>.trained.onnx`` the trained weights when the evaluator
returns them.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from alphanas.errors import AlphanasError
from alphanas.ir.graph import Graph
from alphanas.fileio import write_bytes_atomic
from alphanas.search.candidate import Candidate, CandidateStatus

DB_NAME = "search.db"
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS config (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS candidates (
    id INTEGER PRIMARY KEY,
    trial INTEGER UNIQUE,
    parent_id INTEGER REFERENCES candidates(id),
    mutation TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    properties TEXT,
    hash TEXT NOT NULL UNIQUE,
    key TEXT,
    metrics TEXT NOT NULL DEFAULT '{}',
    status TEXT NOT NULL,
    timings TEXT NOT NULL DEFAULT '{}',
    error TEXT,
    created REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS candidates_status ON candidates(status);
"""


def _dumps(obj: Any) -> str:
    """JSON with non-finite floats as strings (SQLite JSON must stay valid JSON)."""

    def fix(x):
        if isinstance(x, float) and not math.isfinite(x):
            return repr(x)
        if isinstance(x, dict):
            return {str(k): fix(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return [fix(v) for v in x]
        return x

    return json.dumps(fix(obj), sort_keys=True, default=str)


def _loads(text: str | None) -> Any:
    if text is None:
        return None

    def fix(x):
        if isinstance(x, str) and x in ("nan", "inf", "-inf"):
            return float(x)
        if isinstance(x, dict):
            return {k: fix(v) for k, v in x.items()}
        if isinstance(x, list):
            return [fix(v) for v in x]
        return x

    return fix(json.loads(text))


class Store:
    """SQLite store of one search in folder ``out_dir`` (see the module docstring).

    ``config`` (JSON-able values) is written on creation; on reopening, every key in ``compatible``
    (default: all keys of ``config``) must equal the stored value, and new keys are added.
    ``create=False`` opens an existing store only and raises if there is none. ``read_only=True``
    (implies ``create=False``; for reports) opens it through SQLite's read-only mode: the database
    file is never written, not even to set its journal mode, and a file that is not a search
    database raises :class:`~alphanas.errors.AlphanasError` instead of being initialised.
    """

    def __init__(self, out_dir: str | os.PathLike, config: dict[str, Any] | None = None, *,
                 compatible: Iterable[str] | None = None, create: bool = True, read_only: bool = False) -> None:
        self.dir = Path(out_dir)
        self.path = self.dir / DB_NAME
        self.read_only = read_only
        if read_only:
            if config is not None:
                raise ValueError("a read-only store takes no config")
            create = False
        if not create and not self.path.is_file():
            raise AlphanasError(f"{self.dir}: no search here (missing {DB_NAME}); run a search with this output folder first")
        if create:
            if self.dir.exists() and not self.dir.is_dir():
                raise AlphanasError(f"{self.dir}: exists and is not a folder; choose another output folder")
            self.dir.mkdir(parents=True, exist_ok=True)
        if read_only:
            self._open_read_only()
            return
        try:
            self.db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            if create:
                self.db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as e:
            raise AlphanasError(f"{self.path}: not a readable search database ({e})") from None
        if config is not None:
            self.check_config(config, set(config) if compatible is None else set(compatible))

    def _open_read_only(self) -> None:
        if self.path.stat().st_size == 0:
            raise AlphanasError(f"{self.path}: empty file, not a search database; run a search with this output folder")
        try:
            self.db = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, timeout=30.0,
                                      isolation_level=None)
            tables = {r[0] for r in self.db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        except sqlite3.DatabaseError as e:
            raise AlphanasError(f"{self.path}: not a readable search database ({e})") from None
        if not {"config", "candidates"} <= tables:
            self.db.close()
            raise AlphanasError(f"{self.path}: not a search database (no candidates table); run a search with this "
                                "output folder")

    # -- config --------------------------------------------------------------------------------------

    def config(self) -> dict[str, Any]:
        """The stored settings."""
        return {k: _loads(v) for k, v in self.db.execute("SELECT key, value FROM config ORDER BY key")}

    def refuse_other_settings(self, config: dict[str, Any], compatible: set[str]) -> dict[str, Any]:
        """Raise :class:`AlphanasError` if a key in ``compatible`` is stored with another value than in
        ``config`` (compared in JSON form; keys not stored yet pass); writes nothing. Returns the stored settings."""
        stored = self.config()
        wanted = {k: _loads(_dumps(v)) for k, v in config.items()}
        if stored:
            version = stored.get("schema_version", SCHEMA_VERSION)
            if version != SCHEMA_VERSION:
                raise AlphanasError(f"{self.path}: store format {version} is not {SCHEMA_VERSION}; use a new output folder")
            clashes = [k for k in sorted(compatible) if k in stored and k in wanted and stored[k] != wanted[k]]
            if clashes:
                what = "; ".join(f"{k}: stored {stored[k]!r}, now {wanted[k]!r}" for k in clashes[:4])
                raise AlphanasError(f"{self.dir} holds a search with other settings ({what}); rerun with the "
                                    "same settings to resume it, or choose another output folder")
        return stored

    def check_config(self, config: dict[str, Any], compatible: set[str]) -> None:
        """Store ``config``; if settings are already stored, every key in ``compatible`` must match
        (else :class:`AlphanasError`, see :meth:`refuse_other_settings`); other keys (e.g. the trial
        budget) are updated."""
        stored = self.refuse_other_settings(config, compatible)
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            rows = [("schema_version", _dumps(SCHEMA_VERSION))] if "schema_version" not in stored else []
            rows += [(k, _dumps(v)) for k, v in config.items() if k not in stored or k not in compatible]
            self.db.executemany("INSERT OR REPLACE INTO config(key, value) VALUES (?, ?)", rows)

    # -- candidates ------------------------------------------------------------------------------------

    def add(self, cand: Candidate, model: Graph | bytes | None = None) -> int:
        """Insert ``cand`` (its ``hash`` must be new) and set ``cand.id``; returns the id.

        With ``model``, ``models/<id>.onnx`` is written inside the same transaction, so a stored row
        always has its model file (a kill in between leaves no row, only a file a rerun overwrites).
        """
        now = time.time()
        try:
            with self.db:
                self.db.execute("BEGIN IMMEDIATE")
                cur = self.db.execute(
                    "INSERT INTO candidates(trial, parent_id, mutation, description, properties, hash, key, metrics,"
                    " status, timings, error, created, updated) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (cand.trial, cand.parent_id, cand.mutation, cand.description, _dumps(cand.properties)
                     if cand.properties is not None else None, cand.hash, None if cand.key is None else _dumps(cand.key),
                     _dumps(cand.metrics), CandidateStatus(cand.status).value, _dumps(cand.timings), cand.error, now, now))
                if model is not None:
                    self.save_model(int(cur.lastrowid), model)
        except sqlite3.IntegrityError as e:
            raise ValueError(f"candidate with hash {cand.hash[:12]} or trial {cand.trial} is already stored ({e})") from None
        cand.id = int(cur.lastrowid)
        return cand.id

    def update(self, cand: Candidate) -> None:
        """Write ``cand``'s status, metrics, timings, error, properties and description."""
        if cand.id is None:
            raise ValueError("candidate has no id; add() it first")
        with self.db:
            self.db.execute(
                "UPDATE candidates SET status=?, metrics=?, timings=?, error=?, properties=?, description=?, updated=?"
                " WHERE id=?",
                (CandidateStatus(cand.status).value, _dumps(cand.metrics), _dumps(cand.timings), cand.error,
                 None if cand.properties is None else _dumps(cand.properties), cand.description, time.time(), cand.id))

    def _row(self, row: sqlite3.Row | tuple) -> Candidate:
        (cid, trial, parent, mutation, desc, props, h, key, metrics, status, timings, error, created, updated) = row
        c = Candidate(graph=None, hash=h, parent_id=parent, mutation=mutation, properties=_loads(props),
                      metrics=_loads(metrics) or {}, status=CandidateStatus(status), error=error, timings=_loads(timings) or {},
                      id=cid, key=_loads(key), description=desc, trial=trial)
        c.timings.setdefault("created", created)
        return c

    _COLUMNS = ("id, trial, parent_id, mutation, description, properties, hash, key, metrics, status, timings, error,"
                " created, updated")

    def candidates(self, status: CandidateStatus | str | None = None) -> list[Candidate]:
        """All candidates (or those with ``status``) in trial order, without graphs."""
        q = f"SELECT {self._COLUMNS} FROM candidates"
        args: tuple = ()
        if status is not None:
            q += " WHERE status=?"
            args = (CandidateStatus(status).value,)
        return [self._row(r) for r in self.db.execute(q + " ORDER BY trial, id", args)]

    def get(self, cid: int) -> Candidate:
        row = self.db.execute(f"SELECT {self._COLUMNS} FROM candidates WHERE id=?", (cid,)).fetchone()
        if row is None:
            raise KeyError(cid)
        return self._row(row)

    def by_hash(self, h: str) -> Candidate | None:
        row = self.db.execute(f"SELECT {self._COLUMNS} FROM candidates WHERE hash=?", (h,)).fetchone()
        return None if row is None else self._row(row)

    def count(self, status: CandidateStatus | str | None = None) -> int:
        if status is None:
            return int(self.db.execute("SELECT COUNT(*) FROM candidates").fetchone()[0])
        query = "SELECT COUNT(*) FROM candidates WHERE status=?"
        return int(self.db.execute(query, (CandidateStatus(status).value,)).fetchone()[0])

    # -- models ----------------------------------------------------------------------------------------

    def model_path(self, cid: int, trained: bool = False) -> Path:
        return self.dir / "models" / (f"{cid}.trained.onnx" if trained else f"{cid}.onnx")

    def save_model(self, cid: int, model: Graph | bytes, trained: bool = False) -> Path:
        """Write the candidate's ONNX atomically (a Graph is exported first)."""
        if isinstance(model, Graph):
            from alphanas.ir.onnx_io import to_onnx

            model = to_onnx(model).SerializeToString()
        path = self.model_path(cid, trained)
        write_bytes_atomic(path, model)
        return path

    def load_model(self, cid: int, trained: bool = False) -> Graph:
        """The candidate's graph from its ONNX file."""
        from alphanas.ir.onnx_io import load_onnx

        path = self.model_path(cid, trained)
        if not path.is_file():
            raise AlphanasError(f"{path}: missing model file of candidate {cid}")
        return load_onnx(path)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
