"""The explorer's state, which every route reads: the database, and (optionally) the chain for live figures
and re-verification (:class:`Explorer`); the bounded re-verify queue; the one error the routes raise."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..chain.types import JobStatus
from ..errors import NgxZkError
from . import views
from .db import Database
from .indexer import Indexer
from .live import Live

if TYPE_CHECKING:
    from ..chain.market import Marketplace
    from ..config import Settings

REVERIFY_QUEUE = 4
"""Most re-verifications running or waiting (one runs at a time: it is CPU-bound); beyond it a 429."""


class ApiError(Exception):
    """An answer other than 200, as ``{"error": {"status", "message"}}``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


class ReverifyQueue:
    """A bounded count of re-verifications admitted (running or waiting for the one verifier)."""

    def __init__(self, size: int = REVERIFY_QUEUE) -> None:
        self.size, self.pending = size, 0
        self._lock = threading.Lock()

    @contextmanager
    def slot(self) -> Iterator[None]:
        with self._lock:
            if self.pending >= self.size:
                raise ApiError(429, f"{self.pending} re-verifications are already queued: try again in a minute")
            self.pending += 1
        try:
            yield
        finally:
            with self._lock:
                self.pending -= 1


@dataclass
class Explorer:
    """What the routes read: the database, and (optionally) the chain for live figures and re-verification."""

    db: Database
    indexer: Indexer | None = None
    market: Marketplace | None = None
    settings: Settings | None = None
    head: int | None = None
    verify_lock: threading.Lock = field(default_factory=threading.Lock)
    queue: ReverifyQueue = field(default_factory=ReverifyQueue)
    live: Live | None = None
    detector: Callable[[Database], dict[str, Any]] | None = None
    """Scores the index for ``/api/v1/anomalies`` (the report as JSON): :mod:`ngx_zk.anomaly`'s, handed in by
    the CLI, since the detector reads this index (the explorer imports none of it); None: that page answers 404."""
    _anomalies: tuple[str, dict[str, Any]] | None = field(default=None, repr=False)
    _anomaly_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def anomalies(self) -> dict[str, Any]:
        """The anomaly report of the index (:attr:`detector`'s), computed again only when new events were indexed
        (one at a time: a flood of requests waits for the one computation, then reads its answer)."""
        if self.detector is None:
            raise ApiError(404, "this explorer runs no anomaly detection (`ngx-zk explorer` serves it)")
        with self._anomaly_lock:
            row = self.db.query("SELECT MAX(block_number) AS top, COUNT(*) AS n FROM events")[0]
            key = f"{row['top']}:{row['n']}"
            if self._anomalies is None or self._anomalies[0] != key:
                self._anomalies = (key, self.detector(self.db))
            return self._anomalies[1]

    def __post_init__(self) -> None:
        if self.live is None and self.market is not None:
            self.live = Live(self.market)

    def model_names(self) -> dict[int, str]:
        """Registry id -> the local circuit name this machine published or pulled it as."""
        if self.market is None:
            return {}
        return {r.model_id: name for name, r in self.market.deployment.models.items()}

    def local_circuits(self) -> dict[int, dict[str, Any]]:
        """Registry id -> name, logrows and batch size of the local circuit (name only if it is not built here)."""
        from ..circuit import load_circuit

        found: dict[int, dict[str, Any]] = {}
        for model_id, name in self.model_names().items():
            found[model_id] = {"name": name}
            if self.settings is not None:
                try:
                    manifest = load_circuit(name, self.settings).manifest
                    found[model_id].update(logrows=manifest.logrows, batch=manifest.batch)
                except NgxZkError:
                    pass
        return found

    def status(self) -> dict[str, Any]:
        indexed = int(self.db.get_meta("cursor") or 0)
        if self.indexer is not None:
            contracts = self.indexer.events.contracts
            chain_id, confirmations = self.indexer.chain.chain_id, self.indexer.confirmations
        else:
            contracts, chain_id, confirmations = {}, int((self.db.get_meta("deployment") or "0:").split(":")[0]), 0
        return {
            "chain_id": chain_id,
            "indexed_block": indexed,
            "head": self.head,
            "lag_blocks": None if self.head is None else max(0, self.head - indexed),
            "confirmations": confirmations,
            "contracts": contracts,
        }

    def job(self, job_id: int) -> dict[str, Any]:
        """One job, with its outputs decoded (or labelled as an output hash) by the local circuit."""
        job = views.get_job(self.db, job_id, self.model_names())
        if job is None:
            raise ApiError(404, f"job {job_id} is not indexed")
        job["output_kind"], job["output_values"] = self._outputs(job)
        return job

    def _outputs(self, job: dict[str, Any]) -> tuple[str | None, list[list[float]] | None]:
        """What the job's public instances after the inputs are (``public`` outputs or a ``hashed`` output), and
        the outputs as numbers when public; (None, None) when this server has no circuit for the model."""
        from ..circuit import load_circuit
        from ..prover import outputs_from_felts

        name = self.model_names().get(int(job["model_id"]))
        if name is None or self.settings is None:
            return None, None
        try:
            m = load_circuit(name, self.settings).manifest
        except NgxZkError:
            return None, None
        kind = m.visibility.output if m.visibility.output in ("public", "hashed") else None
        felts = [int(v) for v in job["outputs"] or ()]
        if kind != "public" or not felts or len(felts) != m.output_instance_count:
            return kind, None
        return kind, m.per_inference(list(outputs_from_felts(m, felts)))

    def reverify(self, job_id: int) -> dict[str, Any]:
        """Run the auditor on a settled job (blocking; one at a time). Its checks run under the lock too: cheap
        next to the proof, and it keeps every admitted request in one line."""
        from ..client import Client

        with self.verify_lock:
            if self.market is None or self.settings is None:
                raise ApiError(409, "this explorer runs without a chain connection: start it with --rpc to re-verify")
            job = views.get_job(self.db, job_id)
            if job is None:
                raise ApiError(404, f"job {job_id} is not indexed")
            if job["status"] != JobStatus.SETTLED:
                raise ApiError(409, f"job {job_id} is {job['status']}: only a settled job carries a proof to verify")
            name = self.model_names().get(int(job["model_id"]))
            if name is None:
                raise ApiError(
                    409,
                    f"model {job['model_id']} has no local circuit on this server: `ngx-zk model pull {job['model_id']}` installs it",
                )
            try:
                verdict = Client(self.settings, market=self.market).verify_job(job_id, name)
            except NgxZkError as exc:
                raise ApiError(409, str(exc)) from None
        return {
            "job_id": verdict.job_id,
            "model": verdict.model,
            "valid": verdict.valid,
            "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in verdict.checks],
            "outputs": list(verdict.outputs),
        }
