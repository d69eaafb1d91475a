"""PROVED, QUEUED and SUBMITTING for settlement at market cost: which proved jobs go out together, and when.

Eager jobs go in one ``settleResults``, optimistic ones in one ``submitResults``, up to ``--settle-batch`` per
transaction; the queue waits at most ``--settle-wait`` seconds for the batch to fill, and never past a job's
prove deadline (:func:`~.settling.due`). The lifecycle is drawn in :mod:`.settling`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from ..chain.types import FLAG_OPTIMISTIC, DeclineReason, JobStatus
from ..errors import ContractRevert, NgxZkError
from .endings import Endings
from .journal import JobRecord, Step
from .proving import MAX_SUBMIT_SENDS, Proving
from .settling import Item, SettleKit, due


class SettleQueue:
    """The settlement queue: :meth:`take` a proved job, :meth:`flush` the queue when due, :meth:`resume` a send
    a crash interrupted."""

    def __init__(
        self,
        kit: SettleKit,
        endings: Endings,
        proving: Proving,
        *,
        wait_s: float = 0.0,
        stopping: Callable[[], bool] = lambda: False,
    ) -> None:
        self.kit, self.crew, self.end, self.proving = kit, kit.crew, endings, proving
        self.wait_s = max(0.0, wait_s)
        self.stopping = stopping

    # --- PROVED: queue, or today's lone submission -----------------------------------------------------
    def take(self, record: JobRecord) -> bool:
        c = self.crew
        job = c.market.job(record.job_id)
        optimistic = bool(job.flags & FLAG_OPTIMISTIC)
        if not optimistic and self.kit.batch == 1:
            return self.proving.submit(record)
        c.journal.record(
            record.job_id,
            record.model_id,
            Step.QUEUED,
            optimistic=optimistic,
            prove_deadline=job.prove_deadline,
            queued_at=time.time(),
        )
        c.crash_point("queued")
        return self.flush(record)

    # --- QUEUED: send the queue when it is due ---------------------------------------------------------
    def flush(self, record: JobRecord) -> bool:
        c = self.crew
        fresh = c.journal.get(record.job_id)
        if fresh is None or fresh.step is not Step.QUEUED:
            return False  # sent with an earlier job's batch this round
        queue = sorted(
            (r for r in c.journal.unfinished() if r.step is Step.QUEUED and r.optimistic == fresh.optimistic),
            key=lambda r: (r.prove_deadline or float("inf"), r.job_id),
        )
        if not due(
            queue,
            batch=self.kit.batch,
            wall_now=time.time(),
            wait_s=self.wait_s,
            chain_now=c.standing.now(),
            stopping=self.stopping(),
        ):
            return False
        items = self._calldata(queue[: self.kit.batch])
        if items:
            self._send(items, optimistic=fresh.optimistic)
        return True

    def _calldata(self, group: Sequence[JobRecord]) -> list[Item]:
        items: list[Item] = []
        for r in group:
            if r.submit_sends >= MAX_SUBMIT_SENDS:
                self.end.give_back(r, DeclineReason.OTHER, f"{r.submit_sends} submissions failed on chain")
                continue
            try:
                items.append((r, *self.kit.calldata(r)))
            except Exception as exc:  # a damaged proof file: this job's trouble only
                self.end.contain(r, exc)
        return items

    def _send(self, items: list[Item], *, optimistic: bool) -> None:
        """Dry-run the whole; on a revert take out the jobs whose own dry run reverts, and send the rest."""
        c = self.crew
        if len(items) == 1 and not optimistic:  # alone: today's path
            try:
                self.proving.submit(items[0][0])
            except ContractRevert as exc:
                self.end.carry_out(items[0][0], c.standing.after_revert(items[0][0], exc), cause=exc)
            return
        try:
            gas = self.kit.gas(self._fn(items, optimistic))
        except ContractRevert as whole:
            keep = [it for it in items if self._alone_passes(it, optimistic)]
            c.log("settle.dry_run", level="warning", error=str(whole), jobs=len(items), kept=len(keep))
            if len(keep) == len(items) == 1:
                return  # the chain changed between the two dry runs: the next round tries again
            if len(keep) == len(items):  # each passes alone, not together: send them one by one
                for it in items:
                    self._send([it], optimistic=optimistic)
            elif keep:
                self._send(keep, optimistic=optimistic)
            return
        ids = [r.job_id for r, _, _ in items]
        for r, _, _ in items:
            c.journal.record(r.job_id, r.model_id, Step.SUBMITTING, submit_sends=r.submit_sends + 1)

        def sent(tx_hash: str) -> None:
            for r, _, _ in items:
                c.journal.record(r.job_id, r.model_id, Step.SUBMITTING, submit_tx=tx_hash)
            c.crash_point("submit-sent")

        try:
            if optimistic:
                self._submit_results(items, gas, sent)
            else:
                receipt = self.kit.chain().settle_many(
                    c.signer, ids, [p for _, p, _ in items], [i for _, _, i in items], on_sent=sent, gas=gas, dry_run=False
                )
                c.log("batch.settled", jobs=ids, tx=receipt.tx, gas_used=receipt.gas_used)
                for r, _, _ in items:
                    self.end.done(r, receipt.tx, block=receipt.block_number)
        except NgxZkError as exc:  # journaled SUBMITTING: the next round reads the chain for each job
            c.log("settle.failed", level="warning", jobs=ids, error=str(exc)[:300])

    def _fn(self, items: Sequence[Item], optimistic: bool) -> object:
        s = self.kit.chain()
        if optimistic:
            return s.submit_fn([self.kit.result(it) for it in items])
        return s.settle_fn([r.job_id for r, _, _ in items], [p for _, p, _ in items], [i for _, _, i in items])

    def _alone_passes(self, item: Item, optimistic: bool) -> bool:
        c, (r, proof, instances) = self.crew, item
        fn = self.kit.chain().submit_fn([self.kit.result(item)]) if optimistic else c.market.submit_fn(r.job_id, proof, instances)
        try:
            c.market.chain.call(fn, sender=c.signer.address)
            return True
        except ContractRevert as exc:  # handled as a lone submission's revert: retry, give back, or lost
            self.end.carry_out(r, c.standing.after_revert(r, exc), cause=exc)
            return False

    def _submit_results(self, items: Sequence[Item], gas: int, sent: Callable[[str], None]) -> None:
        c, s = self.crew, self.kit.chain()
        batch_id, receipt = s.submit_results(
            c.signer, [self.kit.result(it) for it in items], on_sent=sent, gas=gas, dry_run=False
        )
        for r, proof, instances in items:  # served before the batch is journaled: a restart finds it kept
            self.kit.proofs.keep(r.job_id, proof, instances)
        deadline = s.batch(batch_id).challenge_deadline
        for r, _, _ in items:
            c.journal.record(
                r.job_id, r.model_id, Step.SUBMITTED, batch_id=batch_id, challenge_deadline=deadline, submit_tx=receipt.tx
            )
        c.crash_point("submitted")
        c.log(
            "batch.submitted",
            batch_id=batch_id,
            jobs=[r.job_id for r, _, _ in items],
            tx=receipt.tx,
            gas_used=receipt.gas_used,
            until=deadline,
        )

    # --- SUBMITTING (after a crash): did the batch land? -----------------------------------------------
    def resume(self, record: JobRecord) -> bool:
        c = self.crew
        job = c.market.job(record.job_id)
        if job.status in (JobStatus.SUBMITTED, JobStatus.CHALLENGED) and c.standing.mine(job):
            return self.adopt_batch(record)
        if not (record.optimistic and job.status is JobStatus.CLAIMED and c.standing.mine(job)):
            return self.proving.resume_submit(record)  # eager, or an optimistic job that finished or left us
        if (
            record.submit_tx
            and c.market.chain.receipt(record.submit_tx) is None
            and c.market.chain.transaction_known(record.submit_tx)
        ):
            return False  # still in the mempool
        if c.standing.now() >= job.prove_deadline:
            return self.end.finish(record, Step.LOST, "prove deadline passed before the results landed")
        fresh = c.journal.record(record.job_id, record.model_id, Step.PROVED, note="results not on chain: queued again")
        return self.take(fresh)

    def adopt_batch(self, record: JobRecord) -> bool:
        """The job's result is on chain (found after a crash): journal it SUBMITTED with its batch, serve its proof."""
        c, s = self.crew, self.kit.chain()
        found = s.submitted(record.job_id, record.claim_block or c.market.deployment.block)
        if found is None:
            return False  # the node's logs lag its state: look again next round
        proof, instances = self.kit.calldata(record)
        if self.kit.result((record, proof, instances)).proof_hash != found.event.proof_hash:
            c.log("job.proof_mismatch", level="error", job_id=record.job_id, note="the kept proof is not the one committed")
        else:
            self.kit.proofs.keep(record.job_id, proof, instances)
        batch = s.batch(found.event.batch_id)
        c.journal.record(
            record.job_id,
            record.model_id,
            Step.SUBMITTED,
            note="batch found on chain",
            batch_id=found.event.batch_id,
            challenge_deadline=batch.challenge_deadline,
            submit_tx=found.meta.tx_hash,
        )
        return True
