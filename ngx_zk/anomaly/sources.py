"""Where a worker (``--avoid-flagged``) and a consumer (``prove-job --avoid-flagged``) get the flags from.

``--anomalies-from`` names an explorer (``http(s)://...``: its ``/api/v1/anomalies``, fetched bounded and
without redirects, like a provider endpoint) or an explorer index (a SQLite path or ``postgresql://...``,
scored here). Without it: this machine's explorer index, ``$NGX_ZK_HOME/explorer/<chain id>.sqlite``
(``ngx-zk explorer`` keeps it). :class:`Flags` re-reads every :data:`REFRESH_S` seconds.

Trust: flags are advice. A remote explorer that lies can make you avoid honest actors (lost business, never
lost funds) or miss attackers (the same as not using flags): point it at one you run or trust.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import NgxZkError
from .report import AnomalyError, Report, reason

if TYPE_CHECKING:
    from ..explorer.db import Database

REFRESH_S = 300.0
"""Seconds a report is used before it is read again."""
API_PATH = "/api/v1/anomalies"
MAX_REPORT_BYTES = 8 << 20
"""Largest report accepted from a remote explorer."""


def default_index(home: Path, chain_id: int) -> Path:
    return home / "explorer" / f"{chain_id}.sqlite"


def resolve(source: str | None, home: Path, chain_id: Callable[[], int]) -> str:
    """``--anomalies-from`` as given, else this machine's explorer index for the chain (``chain_id`` is asked only then)."""
    return source if source else str(default_index(home, chain_id()))


def read_report(source: str, *, dev_chain: bool) -> Report:
    """The report at ``source``: an explorer URL, or an index (path or database URL) scored here."""
    if source.startswith(("http://", "https://")):
        from ..dataplane.client import exchange

        try:
            body = exchange(source.rstrip("/"), "GET", API_PATH, {}, None, dev_chain=dev_chain, max_bytes=MAX_REPORT_BYTES)
            raw = json.loads(body)
        except NgxZkError as exc:  # the data plane's client words its errors for provider endpoints
            why = exc.message.replace("provider endpoint", "explorer")
            raise AnomalyError(
                f"cannot read anomaly flags from {source}: {why}",
                "check that `ngx-zk explorer` serves there, or name another URL",
            ) from None
        except ValueError:
            raise AnomalyError(
                f"{source}{API_PATH} did not answer JSON", "point --anomalies-from at an ngx-zk explorer"
            ) from None
        return Report.from_json(raw)
    from ..explorer.db import Database

    if "://" not in source and not Path(source).is_file():
        raise AnomalyError(
            f"no explorer index at {source}",
            "run `ngx-zk explorer` (it indexes the chain there), or pass --anomalies-from URL of an explorer",
        )
    db = Database(source)
    try:
        if db.get_meta("deployment") is None:
            raise AnomalyError(
                f"{source} holds no explorer index (nothing was indexed into it)", "point it at `ngx-zk explorer`'s --db"
            )
        return score_index(db)
    finally:
        db.close()


def score_index(db: Database) -> Report:
    """The flags of an explorer index, scored here: what ``--anomalies-from PATH`` reads, and what ``ngx-zk
    explorer`` hands its app to serve at ``/api/v1/anomalies``."""
    from .history import load
    from .model import detect

    return detect(load(db))


class Flags:
    """The flags of one source, re-read every :data:`REFRESH_S` seconds (a failed re-read keeps the last report)."""

    def __init__(self, source: str, *, dev_chain: bool, clock: Callable[[], float] = time.monotonic) -> None:
        self.source, self.dev_chain, self.clock = source, dev_chain, clock
        self.report = read_report(source, dev_chain=dev_chain)  # the first read fails loudly: a wrong source is a user error
        self.read_at = clock()

    def current(self) -> Report:
        if self.clock() - self.read_at >= REFRESH_S:
            with suppress(NgxZkError):  # keep the last flags: a busy explorer must not stop the worker
                self.report = read_report(self.source, dev_chain=self.dev_chain)
            self.read_at = self.clock()
        return self.report

    def why(self, address: str, role: str) -> str | None:
        """Why ``address`` is avoided in ``role`` (one line with the first evidence), or None."""
        flag = self.current().flagged(address, role)
        return None if flag is None else reason(flag)


__all__ = ["API_PATH", "REFRESH_S", "Flags", "default_index", "read_report", "resolve"]
