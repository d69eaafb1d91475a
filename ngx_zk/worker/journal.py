"""The worker's journal (SQLite, WAL): every step is written *before* the worker acts on it.

A restarted worker reads the journal and takes each unfinished job's next step, the same code as on
the normal path (:mod:`ngx_zk.worker.lifecycle`), so a crash at any instant neither double-claims,
double-submits, nor loses a job. The steps and the moves allowed between them (anything else raises
:class:`IllegalTransition`)::

    seen -> claiming -> claimed -> proving -> proved -> submitting -> done
      \\-> skipped   \\-> skipped (claim refused), seen (claim not on chain; a reorg dropped it)
                         claimed/proving/proved/queued/submitting -> declining -> declined
                                                                  \\-> seen (a reorg dropped the claim)
    proved -> queued -> submitting (many jobs per transaction: worker/settling.py) -> done | submitted
    submitted (optimistic: the challenge window runs) -> done (finalized) | answering (challenged) -> done
              | proved (a reorg dropped the batch)
    any unfinished -> lost (the chain moved on without us) | failed (could not even decline)
    a finished job -> seen (a reorg gave its id to another job)
    done -> proved | submitted | seen | lost (a reorg dropped our settlement: sent again, or the job is
            claimed again; worker/monitor.py looks at each settlement until it is reorg-window blocks deep)

Each job keeps one typed :class:`JobRecord`; the history table keeps every move with its note.
Things refused from strangers (offers, uploads, sealed inputs) are kept in a table of their own; the
chain monitor's cursors and the logs it acted on inside its reorg window in two more
(:mod:`ngx_zk.worker.monitor`).
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from ..errors import NgxZkError


class Step(StrEnum):
    SEEN = "seen"
    CLAIMING = "claiming"
    CLAIMED = "claimed"
    PROVING = "proving"
    PROVED = "proved"
    QUEUED = "queued"
    """Proved, waiting for more jobs to settle in one transaction (``--settle-batch``, ``--settle-wait``)."""
    SUBMITTING = "submitting"
    SUBMITTED = "submitted"
    """An optimistic result is on chain; the job finalizes after its challenge window (or is challenged)."""
    ANSWERING = "answering"
    """A challenge of our optimistic result is being answered with the committed proof."""
    DONE = "done"
    DECLINING = "declining"
    DECLINED = "declined"
    SKIPPED = "skipped"
    FAILED = "failed"
    LOST = "lost"

    @property
    def final(self) -> bool:
        return self in FINAL

    @property
    def holding(self) -> bool:
        """The job is claimed by us (or about to be) and still needs work."""
        return not self.final and self is not Step.SEEN

    @property
    def waiting(self) -> bool:
        """Submitted optimistically: no prover or claim capacity is used, only the chain's clock runs."""
        return self is Step.SUBMITTED


FINAL = frozenset({Step.DONE, Step.DECLINED, Step.SKIPPED, Step.FAILED, Step.LOST})
_OUT = {Step.LOST, Step.FAILED}
_HELD_OUT = _OUT | {Step.DECLINING, Step.DONE}
TRANSITIONS: dict[Step, frozenset[Step]] = {
    Step.SEEN: frozenset({Step.SEEN, Step.CLAIMING, Step.SKIPPED} | _OUT),
    Step.CLAIMING: frozenset({Step.CLAIMING, Step.CLAIMED, Step.SEEN, Step.SKIPPED} | _OUT),
    Step.CLAIMED: frozenset({Step.CLAIMED, Step.PROVING, Step.SEEN} | _HELD_OUT),
    Step.PROVING: frozenset({Step.PROVING, Step.PROVED, Step.SEEN} | _HELD_OUT),
    Step.PROVED: frozenset({Step.PROVED, Step.QUEUED, Step.SUBMITTING, Step.SEEN} | _HELD_OUT),
    Step.QUEUED: frozenset({Step.QUEUED, Step.PROVED, Step.SUBMITTING, Step.SEEN} | _HELD_OUT),
    Step.SUBMITTING: frozenset({Step.SUBMITTING, Step.PROVED, Step.SUBMITTED, Step.SEEN} | _HELD_OUT),
    Step.SUBMITTED: frozenset({Step.SUBMITTED, Step.ANSWERING, Step.PROVED, Step.DONE} | _OUT),
    Step.ANSWERING: frozenset({Step.ANSWERING, Step.SUBMITTED, Step.DONE} | _OUT),
    Step.DECLINING: frozenset({Step.DECLINING, Step.DECLINED, Step.DONE} | _OUT),
    **{final: frozenset({Step.SEEN}) for final in FINAL},
    Step.DONE: frozenset({Step.SEEN, Step.PROVED, Step.SUBMITTED, Step.LOST}),
}
"""Allowed moves: ``TRANSITIONS[current]`` holds every step a job in ``current`` may be recorded at next."""


class IllegalTransition(NgxZkError):
    """A job was about to be journaled at a step its current step does not lead to (a bug, never a user error)."""

    def __init__(self, job_id: int, current: Step, new: Step) -> None:
        super().__init__(
            f"job {job_id}: the journal refuses {current.value} -> {new.value}",
            "this is a bug in the worker's lifecycle: please report it with the worker log",
        )
        self.job_id, self.current, self.new = job_id, current, new


@dataclass(frozen=True)
class JobRecord:
    """What the worker knows about one job: where it is in the lifecycle and what it needs for the next step."""

    job_id: int
    model_id: int
    step: Step
    updated: float = 0.0
    commitments: tuple[int, ...] = ()
    price: int = 0
    seen_block: int = -1
    claim_block: int | None = None
    claim_tx: str = ""
    input_path: str = ""
    reply_to: str = ""
    proof_path: str = ""
    submit_tx: str = ""
    submit_sends: int = 0
    """Submission transactions sent for this job (bounded: a submission that keeps failing is given up)."""
    decline_reason: int | None = None
    reason: str = ""
    errors: int = 0
    """Consecutive unexpected errors in this job's steps; too many and the job is given back."""
    offered: bool = False
    reopened: bool = False
    """Seen again after its first provider missed it (a second-prover round; there is at most one)."""
    fresh: bool = False
    """Claimed for a consumer with no paid history: counts against ``--max-fresh-jobs`` while held."""
    collateral: int = 0
    """The collateral the claim locked (as the worker computed it before claiming)."""
    optimistic: bool = False
    """Settled optimistically (results committed in a batch, finalized after the challenge window)."""
    prove_deadline: int = 0
    """The claim's prove deadline, kept while the job waits in the settlement queue."""
    queued_at: float = 0.0
    """Wall time the proved job entered the settlement queue."""
    batch_id: int | None = None
    """The optimistic batch that carries the job's result."""
    challenge_deadline: int = 0
    """Chain time from which the batch may be finalized."""
    answer_tx: str = ""
    settled_block: int | None = None
    """A block at or above the one that settled the job (DONE): watched for a reorg until it is deep enough."""

    def with_step(self, step: Step, **changes: Any) -> JobRecord:
        return dataclasses.replace(self, step=step, **changes)


_FIELDS = {f.name for f in dataclasses.fields(JobRecord)} - {"job_id", "model_id", "step", "updated"}


@dataclass(frozen=True)
class Refusal:
    """One thing refused from a stranger: where it came from, who sent it (if known) and why."""

    at: float
    source: str  # "offer", "upload", "input", "order"
    sender: str
    model_id: int | None
    job_id: int | None
    reason: str


@dataclass(frozen=True)
class SeenLog:
    """A chain log the worker acted on, remembered while a reorg could still remove it."""

    tx: str
    log_index: int
    block: int
    job_id: int

    @property
    def key(self) -> tuple[str, int]:
        return self.tx, self.log_index


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
CREATE TABLE IF NOT EXISTS seen_logs (
    kind TEXT, tx TEXT, log_index INTEGER, block INTEGER NOT NULL, job_id INTEGER NOT NULL,
    PRIMARY KEY (kind, tx, log_index)
);
"""


class Journal:
    """The journal file; ``Journal(":memory:")`` keeps it in memory (unit tests)."""

    def __init__(self, path: Path | str) -> None:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)
        self._lock = threading.Lock()
        self.moves = 0
        """Job records written by this process so far: what is derived from them (jobs held) is kept until it grows."""

    def close(self) -> None:
        self._db.close()

    def record(self, job_id: int, model_id: int, step: Step, note: str = "", **fields: Any) -> JobRecord:
        """Durably move ``job_id`` to ``step`` (checked against :data:`TRANSITIONS`), updating ``fields``."""
        unknown = set(fields) - _FIELDS
        if unknown:
            raise TypeError(f"JobRecord has no field(s) {sorted(unknown)}")
        if "commitments" in fields:
            fields["commitments"] = tuple(int(c) for c in fields["commitments"])
        with self._lock:
            current = self._get(job_id)
            if current is not None and step not in TRANSITIONS[current.step]:
                raise IllegalTransition(job_id, current.step, step)
            base = (
                current
                if current is not None and not (current.step.final and step is Step.SEEN)
                else JobRecord(job_id, model_id, step)
            )
            now = time.time()
            if step is not base.step:
                fields.setdefault("errors", 0)  # errors count per step: progress resets them
            new = dataclasses.replace(base, model_id=model_id, step=step, updated=now, **fields)
            data = {k: v for k, v in dataclasses.asdict(new).items() if k in _FIELDS}
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute(
                "INSERT INTO jobs (job_id, model_id, step, data, updated) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT(job_id) DO UPDATE SET model_id = excluded.model_id, step = excluded.step, "
                "data = excluded.data, updated = excluded.updated",
                (job_id, model_id, step.value, json.dumps(data), now),
            )
            self._db.execute("INSERT INTO history VALUES (?, ?, ?, ?)", (job_id, step.value, now, note))
            self._db.execute("COMMIT")
            self.moves += 1
            return new

    def get(self, job_id: int) -> JobRecord | None:
        with self._lock:
            return self._get(job_id)

    def _get(self, job_id: int) -> JobRecord | None:
        row = self._db.execute("SELECT job_id, model_id, step, data, updated FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
        return _record(row) if row else None

    def unfinished(self) -> list[JobRecord]:
        return [r for r in self.all() if not r.step.final]

    def settled_since(self, block: int) -> list[JobRecord]:
        """The DONE jobs whose settlement was journaled at ``block`` or above (a reorg may still drop it)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT job_id, model_id, step, data, updated FROM jobs WHERE step = ? "
                "AND json_extract(data, '$.settled_block') >= ? ORDER BY job_id",
                (Step.DONE.value, block),
            ).fetchall()
        return [_record(row) for row in rows]

    def all(self) -> list[JobRecord]:
        with self._lock:
            rows = self._db.execute("SELECT job_id, model_id, step, data, updated FROM jobs ORDER BY job_id").fetchall()
        return [_record(row) for row in rows]

    def history(self, job_id: int) -> list[tuple[str, float, str]]:
        with self._lock:
            return list(self._db.execute("SELECT step, at, note FROM history WHERE job_id = ? ORDER BY rowid", (job_id,)))

    def cursor(self, name: str, default: int) -> int:
        with self._lock:
            row = self._db.execute("SELECT block FROM cursor WHERE name = ?", (name,)).fetchone()
        return int(row[0]) if row else default

    def set_cursor(self, name: str, block: int) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO cursor VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET block = excluded.block", (name, block)
            )

    def seen_logs(self, kind: str) -> list[SeenLog]:
        """The logs of ``kind`` (a cursor's name) acted on and still inside the monitor's reorg window, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT tx, log_index, block, job_id FROM seen_logs WHERE kind = ? ORDER BY block, log_index", (kind,)
            ).fetchall()
        return [SeenLog(str(r[0]), int(r[1]), int(r[2]), int(r[3])) for r in rows]

    def move_cursor(self, kind: str, block: int, *, seen: list[SeenLog], vanished: list[SeenLog], forget_below: int) -> None:
        """In one transaction: the cursor ``kind`` to ``block``, the logs just acted on remembered, those a reorg
        removed and those below the reorg window forgotten."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute(
                "INSERT INTO cursor VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET block = excluded.block", (kind, block)
            )
            self._db.executemany(
                "DELETE FROM seen_logs WHERE kind = ? AND tx = ? AND log_index = ?",
                [(kind, v.tx, v.log_index) for v in vanished],
            )
            self._db.executemany(
                "INSERT OR REPLACE INTO seen_logs VALUES (?, ?, ?, ?, ?)",
                [(kind, s.tx, s.log_index, s.block, s.job_id) for s in seen],
            )
            self._db.execute("DELETE FROM seen_logs WHERE kind = ? AND block < ?", (kind, forget_below))
            self._db.execute("COMMIT")

    def refuse(
        self, source: str, reason: str, *, sender: str = "", model_id: int | None = None, job_id: int | None = None
    ) -> None:
        """Keep a record of something refused from a stranger (an offer, an upload, a sealed input)."""
        with self._lock:
            self._db.execute(
                "INSERT INTO refusals VALUES (?, ?, ?, ?, ?, ?)", (time.time(), source, sender, model_id, job_id, reason[:500])
            )

    def refusals(self) -> list[Refusal]:
        with self._lock:
            rows = self._db.execute("SELECT at, source, sender, model_id, job_id, reason FROM refusals ORDER BY rowid").fetchall()
        return [Refusal(float(r[0]), str(r[1]), str(r[2]), r[3], r[4], str(r[5])) for r in rows]

    def counts(self) -> dict[str, int]:
        with self._lock:
            return {step: n for step, n in self._db.execute("SELECT step, COUNT(*) FROM jobs GROUP BY step")}


def _record(row: tuple[Any, ...]) -> JobRecord:
    data = {k: v for k, v in json.loads(row[3]).items() if k in _FIELDS}
    if "commitments" in data:
        data["commitments"] = tuple(int(c) for c in data["commitments"])
    return JobRecord(int(row[0]), int(row[1]), Step(row[2]), float(row[4]), **data)
