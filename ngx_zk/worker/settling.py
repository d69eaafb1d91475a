"""Settlement at market cost in the worker: many jobs per transaction, optimistic results, challenges answered.

::

    PROVED      an eager job with --settle-batch 1: submitted alone (proving.py, today's path);
                otherwise -> QUEUED (its mode and prove deadline journaled)
    QUEUED      the queue of its mode is sent when N jobs are ready (--settle-batch), the oldest waited
                --settle-wait seconds, a job's prove deadline is near (never missed for batching), or the
                worker stops: eager jobs in one settleResults, optimistic ones in one submitResults. The
                whole is dry-run first; a job whose own dry run reverts is taken out and handled as a
                lone submission's revert is (standing.py), the rest go together -> SUBMITTING
    SUBMITTING  (after a crash mid-send) eager: proving.py reads the chain; optimistic: a result on chain
                (Submitted/Challenged) -> SUBMITTED with its batch from the JobSubmitted log; still
                Claimed -> QUEUED again (never past the deadline)
    SUBMITTED   optimistic, the proof kept and served (dataplane/proofs.py): challenged -> ANSWERING;
                challenge deadline passed -> finalizeBatch (anyone may; this worker does, so it is paid
                without waiting for anyone) -> DONE; settled by someone else's finalization -> DONE;
                challenge upheld -> LOST (the reason); the batch reorged away -> PROVED (sent again)
    ANSWERING   answerChallenge with the committed proof (dry run first) -> DONE (the bond is ours);
                after a crash: still challenged -> answer again, settled -> DONE

The rooms: :mod:`.settle_queue` (PROVED, QUEUED, SUBMITTING: which jobs go out together, and when) and
:mod:`.challenges` (SUBMITTED, ANSWERING: defend a committed result, then finalize it). They share a
:class:`SettleKit` (the settlement bindings, the kept proofs, a job's calldata and committed result).

Every send is journaled first and a restart resumes from the journal with the same code, so a worker
killed anywhere still answers its challenges (the answer window is the chain's; the journal knows
which jobs wait). A job waiting for finalization uses no prover: it does not count against
``--max-claimed``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from ..chain.settlement_types import MAX_BATCH, Result
from ..errors import NgxZkError
from .crew import Crew
from .endings import RETRY_BACKOFF_S
from .journal import JobRecord
from .market_view import SettlementView

SETTLE_MARGIN_S = 20.0
"""A queued job is sent at the latest this long before its prove deadline, whatever the batch."""
SCAN_S = 1.0
"""Seconds between reads of the JobChallenged logs (a challenge of ours is answered within this, plus a round)."""
LOOK_S = 10.0
"""Seconds between reads of a submitted job's status when no log calls for one (a safety net under the logs)."""
GAS_HEADROOM = (5, 4)
"""The gas of a send: the node's estimate (the dry run) times 5/4."""


class ProofKeeper(Protocol):
    """Where submitted optimistic proofs are kept for the endpoint (:class:`~ngx_zk.dataplane.proofs.ProofStore`)."""

    def keep(self, job_id: int, proof: bytes, instances: Sequence[int]) -> None: ...
    def finished(self, job_id: int) -> None: ...
    def drop(self, job_id: int) -> None: ...
    def get(self, job_id: int) -> dict[str, Any] | None: ...


class NoProofs:
    """No endpoint: nothing is served (a consumer or watchtower that cannot fetch a proof challenges it)."""

    def keep(self, job_id: int, proof: bytes, instances: Sequence[int]) -> None:
        return None

    def finished(self, job_id: int) -> None:
        return None

    def drop(self, job_id: int) -> None:
        return None

    def get(self, job_id: int) -> dict[str, Any] | None:
        return None


def due(queue: Sequence[JobRecord], *, batch: int, wait_s: float, wall_now: float, chain_now: float, stopping: bool) -> bool:
    """Send the queue now? ``batch`` jobs ready, the oldest waited ``wait_s``, a deadline near, or stopping."""
    if not queue:
        return False
    if stopping or len(queue) >= batch or wall_now - min(r.queued_at for r in queue) >= wait_s:
        return True
    return any(r.prove_deadline and chain_now + SETTLE_MARGIN_S >= r.prove_deadline for r in queue)


Item = tuple[JobRecord, bytes, list[int]]
"""A queued job and its calldata (proof bytes, public instances)."""


class SettleKit:
    """What both settlement rooms use: the crew, the settlement bindings, the kept proofs, a job's calldata
    (from its proof file, or the kept copy when its model is no longer served) and the result it commits."""

    def __init__(
        self, crew: Crew, settlement: SettlementView | None, proofs: ProofKeeper | None = None, *, batch: int = 1
    ) -> None:
        self.crew, self.settlement = crew, settlement
        self.proofs: ProofKeeper = proofs or NoProofs()
        self.batch = max(1, min(batch, MAX_BATCH))
        self._outputs: dict[int, int] = {}  # model id -> output count

    def chain(self) -> SettlementView:
        if self.settlement is None:
            raise NgxZkError("this worker was built without settlement bindings", "construct Lifecycle(settlement=...)")
        return self.settlement

    def gas(self, fn: Any) -> int:
        """The gas to send ``fn`` with: the node's estimate (which dry-runs it: a revert raises) plus headroom."""
        c = self.crew
        return c.market.chain.estimate_gas(fn, c.signer.address) * GAS_HEADROOM[0] // GAS_HEADROOM[1]

    def calldata(self, record: JobRecord) -> tuple[bytes, list[int]]:
        """The proof bytes and public instances of ``record``: what was (or will be) committed and answered."""
        served = self.crew.served.get(record.model_id)
        if served is None:  # no longer served (no circuit here): answer with the calldata kept for the endpoint
            kept = self.proofs.get(record.job_id)
            if kept is None:
                raise NgxZkError(f"job {record.job_id}: no circuit and no kept proof", "serve its model again (--model)")
            return bytes.fromhex(kept["proof"][2:]), [int(v, 16) for v in kept["instances"]]
        m = served.circuit.manifest  # a polycommit input's commitment comes from the proof
        return self.crew.calldata(Path(record.proof_path), m.commitment_points if m.polycommit else 0, m.param_slice)

    def result(self, item: Item) -> Result:
        """The :class:`Result` an optimistic submission commits for ``item`` (outputs: the last instances)."""
        r, proof, instances = item
        if r.model_id not in self._outputs:
            served = self.crew.served.get(r.model_id)
            entry = served.entry if served is not None else self.crew.market.model(r.model_id)
            self._outputs[r.model_id] = entry.output_count
        return Result.of(r.job_id, proof, instances, self._outputs[r.model_id])

    def back_off(self, record: JobRecord, why: str) -> None:
        """Look at ``record`` again later (growing waits): a revert that a later block may clear."""
        c = self.crew
        _, attempts = c.retry_at.get(record.job_id, (0.0, 0))
        wait = RETRY_BACKOFF_S[min(attempts, len(RETRY_BACKOFF_S) - 1)]
        c.retry_at[record.job_id] = (time.monotonic() + wait, attempts + 1)
        c.log("job.revert", level="warning", job_id=record.job_id, step=record.step.value, error=why, retry_in_s=wait)
