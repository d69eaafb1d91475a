"""The worker's journal (SQLite, WAL): every step is written *before* the worker acts on it.

A restarted worker reads the journal and reconciles each unfinished job with the chain, so a crash
at any instant neither double-claims, double-submits, nor loses a job. Steps::

    seen -> claiming -> claimed -> proving -> proved -> submitting -> done
              \\-> skipped          \\-> declining -> declined
    any -> failed (with the reason), lost (the chain moved on without us: expired/cancelled/taken)
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any


class Step(StrEnum):
    SEEN = "seen"
    CLAIMING = "claiming"
    CLAIMED = "claimed"
    PROVING = "proving"
    PROVED = "proved"
    SUBMITTING = "submitting"
    DONE = "done"
    DECLINING = "declining"
    DECLINED = "declined"
    SKIPPED = "skipped"
    FAILED = "failed"
    LOST = "lost"

    @property
    def final(self) -> bool:
        return self in FINAL


FINAL = {Step.DONE, Step.DECLINED, Step.SKIPPED, Step.FAILED, Step.LOST}


@dataclass(frozen=True)
class Entry:
    job_id: int
    model_id: int
    step: Step
    data: dict[str, Any]
    updated: float


@dataclass(frozen=True)
class Refusal:
    """One thing refused from a stranger: where it came from, who sent it (if known) and why."""

    at: float
    source: str  # "offer", "upload", "input"
    sender: str
    model_id: int | None
    job_id: int | None
    reason: str


SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    job_id INTEGER PRIMARY KEY,
    model_id INTEGER NOT NULL,
    step TEXT NOT NULL,
    data TEXT NOT NULL DEFAULT '{}',
    updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS history (job_id INTEGER, step TEXT, at REAL, note TEXT);
CREATE TABLE IF NOT EXISTS cursor (name TEXT PRIMARY KEY, block INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS refusals (at REAL, source TEXT, sender TEXT, model_id INTEGER, job_id INTEGER, reason TEXT);
"""


class Journal:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)
        self._lock = threading.Lock()

    def close(self) -> None:
        self._db.close()

    def record(self, job_id: int, model_id: int, step: Step, note: str = "", **data: Any) -> None:
        """Durably move ``job_id`` to ``step``, merging ``data`` into what is kept for it."""
        with self._lock:
            row = self._db.execute("SELECT data FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
            merged = {**(json.loads(row[0]) if row else {}), **data}
            now = time.time()
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute(
                "INSERT INTO jobs (job_id, model_id, step, data, updated) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT(job_id) DO UPDATE SET step = excluded.step, data = excluded.data, updated = excluded.updated",
                (job_id, model_id, step.value, json.dumps(merged), now),
            )
            self._db.execute("INSERT INTO history VALUES (?, ?, ?, ?)", (job_id, step.value, now, note))
            self._db.execute("COMMIT")

    def get(self, job_id: int) -> Entry | None:
        row = self._db.execute("SELECT job_id, model_id, step, data, updated FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
        return _entry(row) if row else None

    def unfinished(self) -> list[Entry]:
        rows = self._db.execute("SELECT job_id, model_id, step, data, updated FROM jobs ORDER BY job_id").fetchall()
        return [e for e in map(_entry, rows) if not e.step.final]

    def all(self) -> list[Entry]:
        return list(map(_entry, self._db.execute("SELECT job_id, model_id, step, data, updated FROM jobs ORDER BY job_id")))

    def history(self, job_id: int) -> list[tuple[str, float, str]]:
        return list(self._db.execute("SELECT step, at, note FROM history WHERE job_id = ? ORDER BY rowid", (job_id,)))

    def cursor(self, name: str, default: int) -> int:
        row = self._db.execute("SELECT block FROM cursor WHERE name = ?", (name,)).fetchone()
        return int(row[0]) if row else default

    def set_cursor(self, name: str, block: int) -> None:
        with self._lock:
            self._db.execute("INSERT INTO cursor VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET block = excluded.block", (name, block))

    def refuse(self, source: str, reason: str, *, sender: str = "", model_id: int | None = None,
               job_id: int | None = None) -> None:
        """Keep a record of something refused from a stranger (an offer, an upload, a sealed input)."""
        with self._lock:
            self._db.execute("INSERT INTO refusals VALUES (?, ?, ?, ?, ?, ?)", (time.time(), source, sender, model_id, job_id, reason[:500]))

    def refusals(self) -> list[Refusal]:
        rows = self._db.execute("SELECT at, source, sender, model_id, job_id, reason FROM refusals ORDER BY rowid")
        return [Refusal(float(r[0]), str(r[1]), str(r[2]), r[3], r[4], str(r[5])) for r in rows]

    def counts(self) -> dict[str, int]:
        return {step: n for step, n in self._db.execute("SELECT step, COUNT(*) FROM jobs GROUP BY step")}


def _entry(row: tuple[Any, ...]) -> Entry:
    return Entry(int(row[0]), int(row[1]), Step(row[2]), json.loads(row[3]), float(row[4]))
