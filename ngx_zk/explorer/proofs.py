"""The explorer's proof mirror for optimistic settlement.

An optimistic job's proof lives off chain, at its provider's endpoint (``GET /v1/proofs/{jobId}``), until a day
after finalization. The explorer keeps a second copy: after each sync the indexer asks the provider of every
Submitted or Challenged job not mirrored yet (:class:`ProofMirror`: the data-plane client's rules, public
hosts only, bounded size, no redirects) and keeps the answer only if it hashes to the committed ``proofHash``.
``GET /api/jobs/{id}/proof`` serves it again in the provider's own JSON, so a watchtower (``ngx-zk watch
--explorer URL``) still finds the proof when the provider is down or withholds it. The job page's settlement
block (mode, challenge window, challenges) is :func:`ngx_zk.explorer.views.settlement_view`.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any

from eth_utils.crypto import keccak

from ..chain.types import JobStatus
from ..errors import NgxZkError
from ..watch.proofs import Fetch, parse_served
from . import views
from .db import Database

log = logging.getLogger(__name__)

MIRROR_PER_SYNC = 8
"""Most proofs one sync asks providers for (a slow endpoint holds the indexer for at most its timeout each)."""
RETRY_S = 30.0
"""Seconds before a provider that did not serve a job's proof is asked again."""
WANTED = (JobStatus.SUBMITTED.value, JobStatus.CHALLENGED.value)


class ProofMirror:
    """Copies the proofs of optimistic jobs from their providers into the database (see the module docstring)."""

    def __init__(self, db: Database, fetch: Fetch, clock: Callable[[], float] = time.monotonic) -> None:
        self.db, self.fetch, self.clock = db, fetch, clock
        self._next_try: dict[int, float] = {}

    def run(self) -> int:
        """Ask for the proofs still missing (at most :data:`MIRROR_PER_SYNC`); returns how many were mirrored."""
        rows = self.db.query(
            "SELECT j.job_id, j.provider FROM jobs j LEFT JOIN proofs p ON p.job_id = j.job_id "
            "WHERE j.status IN (?, ?) AND p.job_id IS NULL ORDER BY j.job_id",
            WANTED,
        )
        now, mirrored, asked = self.clock(), 0, 0
        for row in rows:
            job_id = int(row["job_id"])
            if asked >= MIRROR_PER_SYNC or self._next_try.get(job_id, 0.0) > now:
                continue
            asked += 1
            if self._mirror(job_id, str(row["provider"] or "")):
                mirrored += 1
                self._next_try.pop(job_id, None)
            else:
                self._next_try[job_id] = now + RETRY_S
        return mirrored

    def _mirror(self, job_id: int, provider: str) -> bool:
        committed = views.committed_proof_hash(self.db, job_id)
        endpoint = views.provider_endpoint(self.db, provider)
        if committed is None or not endpoint:
            return False
        try:
            served = parse_served(self.fetch(endpoint, f"/v1/proofs/{job_id}"), job_id, "provider")
        except NgxZkError as exc:
            log.info("proof mirror: job %s: %s", job_id, exc.message)
            return False
        if "0x" + keccak(served.proof).hex() != committed:
            log.info("proof mirror: job %s: the provider serves a proof that is not the committed one", job_id)
            return False
        with self.db.transaction():
            self.db.execute("DELETE FROM proofs WHERE job_id = ?", (job_id,))
            self.db.execute(
                "INSERT INTO proofs (job_id, proof, instances, fetched_time) VALUES (?, ?, ?, ?)",
                (job_id, "0x" + served.proof.hex(), json.dumps(served.to_json()["instances"]), int(time.time())),
            )
        return True


def served_proof(db: Database, job_id: int) -> dict[str, Any] | None:
    """The mirrored proof of ``job_id`` as its provider serves it (``{"job_id", "proof", "instances"}``), or None."""
    rows = db.query("SELECT proof, instances FROM proofs WHERE job_id = ?", (job_id,))
    if not rows:
        return None
    return {"job_id": job_id, "proof": str(rows[0]["proof"]), "instances": list(json.loads(rows[0]["instances"]))}
