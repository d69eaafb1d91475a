"""SUBMITTED and ANSWERING for optimistic jobs: defend a committed result, then finalize its batch.

A submitted result waits out its challenge window. The worker reads the JobChallenged logs once per
:data:`~.settling.SCAN_S` (and, as a safety net under a node that lost a log, each waiting job's status once per
:data:`~.settling.LOOK_S`); a challenged job is journaled ANSWERING before ``answerChallenge`` is sent with the
committed proof, so a worker killed at any point answers after its restart. Once the window closed, the worker
finalizes its batch itself (``finalizeBatch``: anyone may; the provider is the one paid). The lifecycle is
drawn in :mod:`.settling`.
"""

from __future__ import annotations

import time

from ..chain.types import Job, JobStatus
from ..errors import ContractRevert
from .endings import Endings
from .journal import JobRecord, Step
from .options import REORG_WINDOW_BLOCKS
from .settle_queue import SettleQueue
from .settling import LOOK_S, SCAN_S, SettleKit


class ChallengeWatch:
    """Optimistic results on chain: :meth:`watch` a SUBMITTED job (answer, finalize), :meth:`resume_answer` an
    ANSWERING one."""

    def __init__(self, kit: SettleKit, endings: Endings, queue: SettleQueue) -> None:
        self.kit, self.crew, self.end, self.queue = kit, kit.crew, endings, queue
        self._next_look: dict[int, float] = {}  # job id -> monotonic time of the next status read (SUBMITTED)
        self._now_read = (0.0, -SCAN_S)  # (chain time, monotonic time it was read)
        self._scanned_at, self._scan_from = 0.0, -1  # the JobChallenged logs: when last read, and from which block

    # --- SUBMITTED: watch for challenges, finalize ----------------------------------------------------
    def watch(self, record: JobRecord) -> bool:
        try:
            return self._watch(record)
        except ContractRevert as exc:  # never read as "the chain moved on": the job's result is ours to defend
            self.kit.back_off(record, str(exc))
            return False

    def _scan(self) -> None:
        """Read the JobChallenged logs since the last scan (once per SCAN_S): a challenged job of ours is looked at now."""
        c, now = self.crew, time.monotonic()
        if now < self._scanned_at + SCAN_S:
            return
        self._scanned_at = now
        waiting = [r for r in c.journal.unfinished() if r.step is Step.SUBMITTED]
        if not waiting:
            self._scan_from = -1
            return
        if self._scan_from < 0:  # first scan of this run: from the oldest claim still waiting (after a restart too)
            self._scan_from = min(r.claim_block or c.market.deployment.block for r in waiting)
        found, head = self.kit.chain().challenges_since(self._scan_from)
        self._scan_from = max(self._scan_from, head - REORG_WINDOW_BLOCKS)  # a reorg may still re-include one below
        ids = {r.job_id for r in waiting}
        for logged in found:
            if logged.event.job_id in ids:
                self._next_look[logged.event.job_id] = 0.0

    def _watch(self, record: JobRecord) -> bool:
        c, now = self.crew, time.monotonic()
        self._scan()
        if self._next_look.get(record.job_id, 0.0) > now and self._chain_now() < record.challenge_deadline:
            return False
        self._next_look[record.job_id] = now + LOOK_S
        job = c.market.job(record.job_id)
        if not c.standing.mine(job):
            return self._lost(record, job)
        if job.status is JobStatus.CHALLENGED:
            c.journal.record(
                record.job_id, record.model_id, Step.ANSWERING, note="challenged: answering with the committed proof"
            )
            c.crash_point("answering")
            c.log("job.challenged", level="warning", job_id=record.job_id, batch_id=record.batch_id)
            return self._answer(record)
        if job.status is JobStatus.SETTLED:
            return self._finished(record, "finalized")
        if job.status is JobStatus.CLAIMED:  # a reorg dropped the batch: submit the result again
            fresh = c.journal.record(record.job_id, record.model_id, Step.PROVED, note="a reorg dropped the batch")
            return self.queue.take(fresh)
        if job.status is JobStatus.SUBMITTED:
            return c.standing.now() >= record.challenge_deadline and self._finalize(record)
        return self._lost(record, job)

    def _finalize(self, record: JobRecord) -> bool:
        c, s = self.crew, self.kit.chain()
        if record.batch_id is None:
            return self.queue.adopt_batch(record)
        try:
            results = s.batch_results(record.batch_id, record.claim_block or c.market.deployment.block)
            receipt = s.finalize(c.signer, record.batch_id, results)
        except ContractRevert as exc:  # too early by the chain's clock, or paused: look again later
            self.kit.back_off(record, str(exc))
            return False
        c.log("batch.finalized", batch_id=record.batch_id, jobs=len(results), tx=receipt.tx, gas_used=receipt.gas_used)
        for r in c.journal.unfinished():
            if r.batch_id == record.batch_id:
                self._next_look.pop(r.job_id, None)
        return self.watch(record)

    # --- ANSWERING -------------------------------------------------------------------------------------
    def resume_answer(self, record: JobRecord) -> bool:
        try:
            return self._resume_answer(record)
        except ContractRevert as exc:
            self.kit.back_off(record, str(exc))
            return False

    def _resume_answer(self, record: JobRecord) -> bool:
        c = self.crew
        job = c.market.job(record.job_id)
        if job.status is JobStatus.CHALLENGED and c.standing.mine(job):
            tx = record.answer_tx
            if tx and c.market.chain.receipt(tx) is None and c.market.chain.transaction_known(tx):
                return False  # the answer is in the mempool
            return self._answer(record)
        if job.status is JobStatus.SETTLED and c.standing.mine(job):
            return self._finished(record, "challenge answered (found on chain)")
        return self._lost(record, job)

    def _answer(self, record: JobRecord) -> bool:
        c, s = self.crew, self.kit.chain()
        proof, instances = self.kit.calldata(record)
        try:
            gas = self.kit.gas(s.answer_fn(record.job_id, proof, instances))
        except ContractRevert as exc:  # a pause (the deadline moves with it), or the window closed: look again
            self.kit.back_off(record, str(exc))
            return False

        def sent(tx_hash: str) -> None:
            c.journal.record(record.job_id, record.model_id, Step.ANSWERING, answer_tx=tx_hash)
            c.crash_point("answer-sent")

        receipt = s.answer(c.signer, record.job_id, proof, instances, on_sent=sent, gas=gas, dry_run=False)
        c.log("job.answered", job_id=record.job_id, tx=receipt.tx, gas_used=receipt.gas_used)
        return self._finished(record, "challenge answered: the bond is ours")

    def _chain_now(self) -> float:
        """Chain time, read at most once per SCAN_S (the finalization time of each waiting batch is compared to it)."""
        now = time.monotonic()
        if now >= self._now_read[1] + SCAN_S:
            self._now_read = (self.crew.standing.now(), now)
        return self._now_read[0] + (now - self._now_read[1])

    # --- endings ---------------------------------------------------------------------------------------
    def _finished(self, record: JobRecord, note: str) -> bool:
        self.kit.proofs.finished(record.job_id)
        self._next_look.pop(record.job_id, None)
        # the head (at or above the settling block): the monitor watches it until a reorg can no longer drop it
        self.end.done(record, record.submit_tx, note=note, block=self.crew.market.chain.block_number())
        return True

    def _lost(self, record: JobRecord, job: Job) -> bool:
        c, why = self.crew, f"job is {job.status.value}"
        if job.status is JobStatus.EXPIRED and self.kit.settlement is not None:
            upheld = self.kit.settlement.upheld(record.job_id, record.claim_block or c.market.deployment.block)
            if upheld is not None:
                e = upheld.event
                why = f"challenge by {e.challenger} upheld: slashed {e.slashed}, consumer refunded {e.refund}"
        self.kit.proofs.drop(record.job_id)
        self._next_look.pop(record.job_id, None)
        self.end.finish(record, Step.LOST, why)
        return True
