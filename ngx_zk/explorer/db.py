"""One schema, two engines: SQLite (a file, the default) and PostgreSQL (``postgresql://...``).

Statements are written once, in the SQL both engines share, with ``?`` placeholders (rewritten to
``%s`` for psycopg). Amounts are kept as decimal TEXT: 10 NGX in wei (1e19) overflows BIGINT.
Each thread gets its own connection (the HTTP server answers from a bounded pool of threads while the
indexer writes from another).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, Protocol

from . import ExplorerError

SCHEMA_VERSION = "1"

SCHEMA = [
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    # blocks whose logs were indexed, plus each batch's last block: the hashes a reorg is detected by
    "CREATE TABLE IF NOT EXISTS blocks (number BIGINT PRIMARY KEY, hash TEXT NOT NULL, time BIGINT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS events (
        block_number BIGINT NOT NULL, log_index INTEGER NOT NULL, block_hash TEXT NOT NULL, tx_hash TEXT NOT NULL,
        contract TEXT NOT NULL, name TEXT NOT NULL, job_id BIGINT, model_id BIGINT, account TEXT, args TEXT NOT NULL,
        PRIMARY KEY (block_number, log_index))""",
    "CREATE INDEX IF NOT EXISTS events_job ON events (job_id)",
    "CREATE INDEX IF NOT EXISTS events_name ON events (name)",
    "CREATE INDEX IF NOT EXISTS events_account ON events (account)",
    """CREATE TABLE IF NOT EXISTS txs (
        tx_hash TEXT PRIMARY KEY, block_number BIGINT NOT NULL, sender TEXT NOT NULL, gas_used BIGINT NOT NULL,
        method TEXT, proof_bytes BIGINT)""",
    # one row per job, folded from its events by the indexer (rebuilt for every job a batch or a rewind touches)
    """CREATE TABLE IF NOT EXISTS jobs (
        job_id BIGINT PRIMARY KEY, consumer TEXT NOT NULL, provider TEXT, model_id BIGINT NOT NULL, status TEXT NOT NULL,
        outcome TEXT NOT NULL, price TEXT NOT NULL, posted_block BIGINT NOT NULL, posted_time BIGINT NOT NULL,
        ended_time BIGINT, provider_pay TEXT, royalty TEXT, fee TEXT, reward TEXT, gas_used BIGINT NOT NULL,
        proof_bytes BIGINT, inferences INTEGER NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS jobs_status ON jobs (status)",
    "CREATE INDEX IF NOT EXISTS jobs_provider ON jobs (provider)",
    "CREATE INDEX IF NOT EXISTS jobs_consumer ON jobs (consumer)",
    # optimistic jobs' proofs copied from their providers (checked against the committed hash): the mirror
    "CREATE TABLE IF NOT EXISTS proofs (job_id BIGINT PRIMARY KEY, proof TEXT NOT NULL, instances TEXT NOT NULL, fetched_time BIGINT NOT NULL)",
]


class _Connection(Protocol):
    def execute(self, sql: str, params: Sequence[Any] = ...) -> Any: ...
    def commit(self) -> None: ...
    def rollback(self) -> None: ...
    def close(self) -> None: ...


def sqlite_path(url: str) -> Path:
    """The SQLite file a --db value names; one clear error for another scheme or a folder."""
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
    elif url.startswith("sqlite:"):
        raise ExplorerError(
            f"--db {url!r} is not a SQLite URL",
            "write sqlite:///path (three slashes) or a plain path; PostgreSQL: postgresql://user@host/dbname",
        )
    elif "://" in url:
        scheme = url.partition(":")[0]
        raise ExplorerError(
            f"--db {url!r}: the explorer does not speak {scheme!r}",
            "pass a SQLite file path, sqlite:///path, or postgresql://user@host/dbname",
        )
    else:
        path = Path(url)
    if path.is_dir():
        raise ExplorerError(f"--db {url} is a folder, not a database file", f"name a file in it, e.g. {path / 'explorer.sqlite'}")
    return path


class Database:
    """A database URL (a file path, ``sqlite:///path``, or ``postgresql://...``) and per-thread connections."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.postgres = url.startswith(("postgresql://", "postgres://"))
        self._local = threading.local()
        self._all: list[_Connection] = []
        self._lock = threading.Lock()
        if not self.postgres:
            self.path = sqlite_path(url)
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ExplorerError(
                    f"cannot create the folder for {self.path}: {exc.strerror}", "point --db at a writable place"
                ) from None
        with self.transaction():
            for statement in SCHEMA:
                self.execute(statement)
            found = self.get_meta("schema_version")
            if found is None:
                self.set_meta("schema_version", SCHEMA_VERSION)
            elif found != SCHEMA_VERSION:
                raise ExplorerError(
                    f"database {self.describe()} has explorer schema {found}, this ngx-zk writes {SCHEMA_VERSION}",
                    "point --db at a new database; the indexer rebuilds it from the chain",
                )

    def describe(self) -> str:
        """The URL without a password."""
        if self.postgres and "@" in self.url:
            scheme, _, rest = self.url.partition("://")
            return f"{scheme}://{rest.rpartition('@')[2]}"
        return self.url

    def _connection(self) -> _Connection:
        conn: _Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._open()
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def _open(self) -> _Connection:
        if self.postgres:
            try:
                import psycopg
            except ImportError:
                raise ExplorerError("PostgreSQL needs the psycopg package", "pip install 'psycopg[binary]'") from None
            try:
                return psycopg.connect(self.url)
            except psycopg.Error as exc:
                raise ExplorerError(
                    f"cannot connect to {self.describe()}: {str(exc).strip()}", "check the --db URL and that the server runs"
                ) from None
        try:
            conn = sqlite3.connect(self.path, timeout=30, check_same_thread=False, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA busy_timeout=30000")
        except sqlite3.DatabaseError as exc:
            raise ExplorerError(f"cannot open {self.path} as a SQLite database: {exc}", "point --db at a new file") from None
        return conn

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.postgres else sql

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self._connection().execute(self._sql(sql), tuple(params))

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        cursor = self._connection().execute(self._sql(sql), tuple(params))
        names = [d[0] for d in cursor.description or ()]
        rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        if self.postgres and not getattr(self._local, "in_tx", False):
            self._connection().commit()  # end psycopg's implicit read transaction: the next read sees new rows
        return rows

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        rows = self.query(sql, params)
        return next(iter(rows[0].values())) if rows else None

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All statements inside commit together or not at all."""
        conn = self._connection()
        if not self.postgres:
            conn.execute("BEGIN IMMEDIATE")
        self._local.in_tx = True
        try:
            yield
        except BaseException:
            conn.rollback()
            raise
        else:
            conn.commit()
        finally:
            self._local.in_tx = False

    def get_meta(self, key: str) -> str | None:
        value = self.scalar("SELECT value FROM meta WHERE key = ?", (key,))
        return None if value is None else str(value)

    def set_meta(self, key: str, value: str) -> None:
        self.execute("DELETE FROM meta WHERE key = ?", (key,))
        self.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (key, value))

    def release(self) -> None:
        """Close this thread's connection (for a thread about to end; the server's pooled threads keep theirs)."""
        conn: _Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            return
        self._local.conn = None
        with self._lock:
            self._all = [c for c in self._all if c is not conn]
        with suppress(Exception):
            conn.close()

    def close(self) -> None:
        with self._lock:
            conns, self._all = self._all, []
        for conn in conns:
            with suppress(Exception):
                conn.close()
        self._local = threading.local()


__all__ = ["Database", "sqlite_path"]
