"""The watchtower's journal (SQLite): where the log scan stands, and what was decided about each result.

A restarted ``ngx-zk watch`` reads it back: a result checked valid is not fetched again, a challenge is not
sent twice (``challenging`` is written before the transaction; on restart the chain says whether it
landed), and a challenge is followed until it is upheld or answered. One file per user
(``$NGX_ZK_STATE_DIR/watch.sqlite``), rows keyed by chain id and market address.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from .proofs import Submission

SCHEMA = """
CREATE TABLE IF NOT EXISTS cursor (chain_id INTEGER, market TEXT, next_block INTEGER, PRIMARY KEY (chain_id, market));
CREATE TABLE IF NOT EXISTS results (
    chain_id INTEGER, market TEXT, job_id INTEGER, batch_id INTEGER, provider TEXT, outputs TEXT, proof_hash TEXT,
    challenge_deadline INTEGER, state TEXT, reason TEXT, detail TEXT, tx TEXT, updated_at REAL,
    PRIMARY KEY (chain_id, market, job_id)
);
"""


class State(StrEnum):
    """Where one optimistic result stands for the watchtower."""

    PENDING = "pending"
    """Seen, not decided yet (its proof not fetched, or not yet checkable)."""
    VALID = "valid"
    """Its committed proof verifies: left to finalize."""
    CHALLENGING = "challenging"
    """A challenge is being sent (journaled first)."""
    CHALLENGED = "challenged"
    """Our challenge is on chain; waiting for the answer deadline."""
    UPHELD = "upheld"
    """The challenge was upheld: the provider slashed, the consumer refunded, our bond back with a reward."""
    ANSWERED = "answered"
    """The provider answered with a valid proof: our bond went to it."""
    SKIPPED = "skipped"
    """Not ours to check (no local circuit for its model), or already finished when first seen."""

    @property
    def open(self) -> bool:
        """Still needs a look at the next pass."""
        return self in (State.PENDING, State.CHALLENGING, State.CHALLENGED)


@dataclass(frozen=True)
class Entry:
    """A journaled result and its state."""

    sub: Submission
    state: State
    reason: str = ""
    detail: str = ""
    tx: str = ""


class WatchJournal:
    """The watchtower's SQLite journal for one chain and market (thread-safe, autocommit)."""

    def __init__(self, path: Path | str, chain_id: int, market: str) -> None:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.executescript(SCHEMA)
        self._lock = threading.Lock()
        self.key = (chain_id, market.lower())

    def close(self) -> None:
        self._db.close()

    def next_block(self, default: int) -> int:
        """The first block the next scan reads (``default`` on a fresh journal)."""
        row = self._db.execute("SELECT next_block FROM cursor WHERE chain_id=? AND market=?", self.key).fetchone()
        return default if row is None else int(row[0])

    def set_next_block(self, block: int) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO cursor VALUES (?, ?, ?)", (*self.key, block))

    def add(self, sub: Submission) -> bool:
        """Journal a newly seen result as pending; False when it is known already (a rescan)."""
        with self._lock:
            cur = self._db.execute(
                "INSERT OR IGNORE INTO results VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, '', '', '', ?)",
                (
                    *self.key, sub.job_id, sub.batch_id, sub.provider, json.dumps([str(v) for v in sub.outputs]),
                    sub.proof_hash.hex(), sub.challenge_deadline, State.PENDING.value, time.time(),
                ),
            )  # fmt: skip
            return cur.rowcount == 1

    def set(self, job_id: int, state: State, reason: str = "", detail: str = "", tx: str = "") -> None:
        with self._lock:
            self._db.execute(
                "UPDATE results SET state=?, reason=COALESCE(NULLIF(?, ''), reason), detail=COALESCE(NULLIF(?, ''), detail),"
                " tx=COALESCE(NULLIF(?, ''), tx), updated_at=? WHERE chain_id=? AND market=? AND job_id=?",
                (state.value, reason, detail, tx, time.time(), *self.key, job_id),
            )

    def get(self, job_id: int) -> Entry | None:
        row = self._db.execute(
            f"SELECT {_COLUMNS} FROM results WHERE chain_id=? AND market=? AND job_id=?", (*self.key, job_id)
        ).fetchone()
        return None if row is None else _entry(row)

    def open_entries(self) -> list[Entry]:
        """Every result still needing a look, oldest job first."""
        opened = tuple(s.value for s in State if s.open)
        rows = self._db.execute(
            f"SELECT {_COLUMNS} FROM results WHERE chain_id=? AND market=? AND state IN (?, ?, ?) ORDER BY job_id",
            (*self.key, *opened),
        ).fetchall()
        return [_entry(r) for r in rows]


_COLUMNS = "job_id, batch_id, provider, outputs, proof_hash, challenge_deadline, state, reason, detail, tx"


def _entry(row: tuple[object, ...]) -> Entry:
    job_id, batch_id, provider, outputs, proof_hash, deadline, state, reason, detail, tx = row
    sub = Submission(
        int(str(job_id)), int(str(batch_id)), str(provider), tuple(int(v) for v in json.loads(str(outputs))),
        bytes.fromhex(str(proof_hash)), int(str(deadline)),
    )  # fmt: skip
    return Entry(sub, State(str(state)), str(reason), str(detail), str(tx))
