"""The proofs a provider serves for its optimistic jobs: ``GET /v1/proofs/<job id>``.

An optimistic job's result is committed on chain with only the keccak of its proof; anyone (the consumer,
a watchtower) checks the result by fetching the proof from the provider's endpoint and verifying it. The
worker keeps each one here from the moment its result is submitted until a day after the job finished
(finalized, answered), then forgets it. The answer is the exact calldata a challenge answer would send::

    {"job_id": 7, "proof": "0x...", "instances": ["0x<64 hex digits>", ...]}

No signature is asked: the proof is public once the result is on chain. The route is bounded like the
others (the per-peer gate and the check pool in :mod:`.server`); a file here is at most the size of a proof.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..files import read_bounded, write_private

SERVE_AFTER_FINISH_S = 86_400
"""How long a finished (finalized or answered) optimistic job's proof is still served."""
MAX_PROOF_FILE_BYTES = 8 * 1024 * 1024
"""Largest kept proof file read back (a proof's calldata with its instances, hex-encoded)."""


def payload(job_id: int, proof: bytes, instances: Sequence[int]) -> dict[str, Any]:
    """The JSON the endpoint serves for ``job_id`` (instances as 0x-hex uint256 words)."""
    return {"job_id": int(job_id), "proof": "0x" + bytes(proof).hex(), "instances": [f"0x{int(v):064x}" for v in instances]}


class ProofStore:
    """Kept proofs, one JSON file per job in ``folder`` (``finished_at``: null while the job can be challenged)."""

    def __init__(self, folder: Path, clock: Callable[[], float] = time.time) -> None:
        self.folder, self.clock = folder, clock

    def _path(self, job_id: int) -> Path:
        return self.folder / f"{int(job_id)}.json"

    def keep(self, job_id: int, proof: bytes, instances: Sequence[int]) -> None:
        """Serve ``job_id``'s proof from now on (idempotent: keeping it again does not reset a finish)."""
        if self._read(job_id) is not None:
            return
        body = {**payload(job_id, proof, instances), "finished_at": None}
        write_private(self._path(job_id), json.dumps(body).encode())

    def finished(self, job_id: int) -> None:
        """The job finished (finalized or answered): serve its proof for :data:`SERVE_AFTER_FINISH_S` more."""
        kept = self._read(job_id)
        if kept is not None and kept.get("finished_at") is None:
            kept["finished_at"] = self.clock()
            write_private(self._path(job_id), json.dumps(kept).encode())

    def drop(self, job_id: int) -> None:
        """Stop serving ``job_id``'s proof (its challenge was upheld: there is no valid result to back)."""
        self._path(job_id).unlink(missing_ok=True)

    def get(self, job_id: int) -> dict[str, Any] | None:
        """What ``GET /v1/proofs/<job_id>`` answers; None when the proof is not (or no longer) served."""
        kept = self._read(job_id)
        if kept is None:
            return None
        finished = kept.get("finished_at")
        if isinstance(finished, int | float) and self.clock() - finished >= SERVE_AFTER_FINISH_S:
            self.drop(job_id)
            return None
        return {k: kept[k] for k in ("job_id", "proof", "instances")}

    def prune(self) -> int:
        """Forget proofs served long enough; returns how many went."""
        gone = 0
        for path in self.folder.glob("*.json") if self.folder.is_dir() else ():
            if path.stem.isdigit() and self._read(int(path.stem)) is not None and self.get(int(path.stem)) is None:
                gone += 1
        return gone

    def _read(self, job_id: int) -> dict[str, Any] | None:
        path = self._path(job_id)
        if not path.is_file():
            return None
        with contextlib.suppress(Exception):
            kept = json.loads(read_bounded(path, MAX_PROOF_FILE_BYTES, what="kept proof"))
            if isinstance(kept, dict) and kept.get("job_id") == int(job_id):
                return kept
        return None
