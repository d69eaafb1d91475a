"""One job's lifecycle in the worker: a handler per journaled step, the same code after a crash as on the normal path.

::

    SEEN        eligible? (price, window vs. proving time, held jobs, consumer and deliverer score, NRS,
                stake, model active, callback gas, jobs held for fresh consumers) -> claim -> CLAIMED
                not eligible -> SKIPPED
                refused only while a cap on what this worker holds is full (--max-claimed, the fresh caps,
                stake locked in held jobs) -> SEEN, looked at again once a held job ends (worker/capped.py)
                (with --claim-spread: not before this provider's turn for the job, worker/claim_spread.py)
                an auction below the floor that rises to it in time -> SEEN, looked at again then
                (a job reopened after its provider missed it comes back here: JobReopened)
    ORDER       (no record yet) a gasless order offered with its input: checked, filled (post + claim in
                one transaction) -> CLAIMED; refused -> journaled refusal (worker/orders.py)
    CLAIMING    (after a crash mid-claim, or mid-fill) the chain says whether the claim landed
    CLAIMED     input (offer, endpoint, or on chain) opens the commitment? -> PROVING
                invalid on chain -> DECLINING (input invalid); invalid off chain -> dropped, wait;
                none valid by the input deadline, or too late to prove -> DECLINING (input missing)
    PROVING     proof in a child process -> PROVED; the circuit cannot take the input ->
                DECLINING (input invalid); the proof failed -> DECLINING
    PROVED      dry run (the on-chain verifier) -> send -> DONE; a revert that cannot clear
                -> DECLINING; a bounded number of sends, never after the prove deadline;
                many jobs per transaction, or an optimistic job -> QUEUED
    QUEUED      sent with others (settleResults / submitResults) when due -> DONE / SUBMITTED
    SUBMITTING  (after a crash mid-submit) settled on chain -> DONE; still ours -> send again
    SUBMITTED   optimistic: challenged -> ANSWERING -> DONE; challenge window over -> finalize -> DONE
    DECLINING   declineJob(reason) -> DECLINED
    DONE        (the monitor, inside its reorg window) our settlement dropped by a reorg -> PROVED (sent
                again); our claim dropped too -> SEEN (claimed again); a claim dropped while we held the
                job shows as a revert of the job open again -> SEEN

:meth:`Lifecycle.advance` contains every failure to the job it happened in: a chain outage is
retried on the next round, a revert is read back from the chain (:meth:`Standing.after_revert
<ngx_zk.worker.standing.Standing.after_revert>`) and its verdict carried out, and anything else
counts against the job until it is given back (declined) - the loop goes on.

The rooms: this module takes SEEN and CLAIMING (whether to take a job is
:mod:`~ngx_zk.worker.eligibility`'s answer); :mod:`~ngx_zk.worker.proving` CLAIMED to SUBMITTING;
:mod:`~ngx_zk.worker.settle_queue` QUEUED (many jobs per transaction); :mod:`~ngx_zk.worker.challenges`
SUBMITTED and ANSWERING (optimistic results defended, then finalized; drawn in :mod:`~ngx_zk.worker.settling`);
:mod:`~ngx_zk.worker.endings` DECLINING and the final steps; :mod:`~ngx_zk.worker.standing` reads
what the chain says of a job. They share one :class:`~ngx_zk.worker.crew.Crew`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from pathlib import Path

from ..chain.fees import CapNotice, FeeAboveCap, cap_lifted, gwei
from ..chain.signer import Signer
from ..chain.types import DeclineReason, JobStatus
from ..errors import ChainError, ContractRevert
from ..evm import calldata as read_calldata
from .capped import CapWaits
from .challenges import ChallengeWatch
from .claim_spread import ClaimSpread
from .crew import Crew, Mailbox, Provers, Stats
from .eligibility import Eligibility
from .endings import Endings
from .jobfiles import InputOpener, Served
from .journal import JobRecord, Journal, Step
from .market_view import MarketView, SettlementView
from .observe import Metrics
from .offers import OfferBook
from .policy import CLAIM_MARGIN_S, SUBMIT_MARGIN_S, ClaimPolicy
from .provers import ProofRun
from .proving import Proving
from .settle_queue import SettleQueue
from .settling import ProofKeeper, SettleKit
from .standing import GONE, Standing

FEE_WAIT_S = 2.0
"""While the base fee is above the operator's cap, a job's next step is tried again after this long."""

__all__ = ["GONE", "HANDLERS", "Lifecycle", "Stats"]


class Lifecycle:
    """Moves journaled jobs along; the worker's loop calls :meth:`advance` for each unfinished one."""

    def __init__(
        self,
        *,
        market: MarketView,
        signer: Signer,
        journal: Journal,
        served: Mapping[int, Served],
        opener: InputOpener,
        offers: OfferBook,
        provers: Provers,
        policy: ClaimPolicy,
        mailbox: Mailbox,
        wake: threading.Event,
        log: Callable[..., None],
        metrics: Metrics,
        crash_point: Callable[[str], None] = lambda _: None,
        calldata: Callable[[Path, int, tuple[int, int]], tuple[bytes, list[int]]] = read_calldata,
        discard_mail: Callable[[int], None] = lambda _: None,
        settlement: SettlementView | None = None,
        settle_batch: int = 1,
        settle_wait: float = 0.0,
        proofs: ProofKeeper | None = None,
        serves_proofs: bool = True,
    ) -> None:
        self.standing = Standing(market, signer.address)
        self.crew = Crew(
            market=market,
            signer=signer,
            journal=journal,
            served=served,
            opener=opener,
            offers=offers,
            provers=provers,
            policy=policy,
            mailbox=mailbox,
            wake=wake,
            log=log,
            metrics=metrics,
            standing=self.standing,
            crash_point=crash_point,
            calldata=calldata,
            discard_mail=discard_mail,
        )
        self.eligibility = Eligibility(
            market,
            self.standing,
            served,
            policy,
            lambda: self.working,
            lambda: self.holding_fresh,
            serves_proofs=serves_proofs,
            held_collateral=lambda: self.capped.load()[2],
        )
        self.end = Endings(self.crew)
        self.proving = Proving(self.crew, self.end)
        kit = SettleKit(self.crew, settlement, proofs, batch=settle_batch)
        self.settling = SettleQueue(kit, self.end, self.proving, wait_s=settle_wait, stopping=lambda: self.stopping)
        self.challenges = ChallengeWatch(kit, self.end, self.settling)
        self.proving.settle = self.settling.take
        self.max_jobs: int | None = None
        self.spread: ClaimSpread | None = None
        """Wait for this job's rank before claiming (``--claim-spread``); None: claim at once."""
        self.stopping = False
        self.fee_notice = CapNotice()
        self.capped = CapWaits(journal, self.crew.stats.claimed_ids)

    @property
    def stats(self) -> Stats:
        return self.crew.stats

    @property
    def inflight(self) -> dict[int, Future[ProofRun]]:
        return self.crew.inflight

    @property
    def policy(self) -> ClaimPolicy:
        return self.crew.policy

    @policy.setter
    def policy(self, policy: ClaimPolicy) -> None:
        """Swap the provider's terms (the one policy the eligibility check and the provers' timing share)."""
        self.crew.policy = self.eligibility.policy = policy

    # --- the entry point ---------------------------------------------------------------------------
    def advance(self, record: JobRecord) -> bool:
        """Take ``record``'s next step; True if something moved. Never raises for one job's trouble."""
        retry = self.crew.retry_at.get(record.job_id)
        if retry is not None and time.monotonic() < retry[0]:
            return False
        try:
            if record.model_id not in self.crew.served:
                return self._unserved(record)
            return HANDLERS[record.step](self, record)
        except ContractRevert as exc:
            self.after_revert(record, exc)
            return False
        except FeeAboveCap as exc:  # nothing was sent: wait for the base fee to fall below the operator's cap
            self.fee_capped(record, exc)
            return False
        except ChainError as exc:  # the node is down or slow: the next round retries
            self.crew.log("job.error", level="warning", job_id=record.job_id, step=record.step.value, error=str(exc))
            return False
        except Exception as exc:
            self.end.contain(record, exc)
            return False

    def fee_capped(self, record: JobRecord, exc: FeeAboveCap) -> None:
        """The base fee is above ``--max-fee-gwei``: look again in FEE_WAIT_S, logging the wait once. A held job
        whose prove deadline is too near to wait any longer is given back, above the cap, if that costs less
        than the slash of letting the deadline pass (:meth:`ClaimPolicy.give_back_saves`)."""
        c = self.crew
        c.retry_at[record.job_id] = (time.monotonic() + FEE_WAIT_S, 0)
        if self.fee_notice.due():
            c.log(
                "fees.above_cap",
                level="warning",
                job_id=record.job_id,
                step=record.step.value,
                base_fee_gwei=gwei(exc.base_fee),
                cap_gwei=gwei(exc.cap),
            )
        job = self.standing.job_as_seen(record) if record.step.holding else None
        if job is None or not self.standing.mine(job) or self.standing.now() + SUBMIT_MARGIN_S < job.prove_deadline:
            return
        free = record.step is Step.DECLINING and record.decline_reason not in (None, int(DeclineReason.OTHER))
        if not c.policy.give_back_saves(job.collateral, free=free):
            c.log("job.fee_slash", level="warning", job_id=record.job_id, reason="giving it back costs more than the slash")
            return
        with cap_lifted(c.market.chain):  # type: ignore[arg-type]
            if record.step is Step.DECLINING:
                self.end.decline(record)
            else:
                self.end.give_back(record, DeclineReason.OTHER, "the base fee stayed above --max-fee-gwei until the deadline")

    def after_revert(self, record: JobRecord, exc: ContractRevert) -> None:
        """A revert usually means the chain moved on: read what happened, and carry out the verdict."""
        self.end.carry_out(record, self.standing.after_revert(record, exc), cause=exc)

    @property
    def holding(self) -> int:
        """Jobs claimed by us (or being claimed) that still need work, and claims a reorg dropped (to make again)."""
        claimed = self.crew.stats.claimed_ids
        return sum(1 for r in self.crew.journal.unfinished() if r.step.holding or r.job_id in claimed)

    @property
    def working(self) -> int:
        """Of :attr:`holding`, the jobs that use this worker's capacity (not those waiting out a challenge window)."""
        claimed = self.crew.stats.claimed_ids
        return sum(1 for r in self.crew.journal.unfinished() if (r.step.holding or r.job_id in claimed) and not r.step.waiting)

    @property
    def holding_fresh(self) -> tuple[int, int]:
        """Of :attr:`holding`, the jobs of fresh consumers (journaled ``fresh`` at the claim) and their collateral."""
        claimed = self.crew.stats.claimed_ids
        fresh = [r for r in self.crew.journal.unfinished() if r.fresh and (r.step.holding or r.job_id in claimed)]
        return len(fresh), sum(r.collateral for r in fresh)

    @property
    def proofs(self) -> list[Future[ProofRun]]:
        return list(self.crew.inflight.values())

    # --- SEEN: decide, claim -----------------------------------------------------------------------
    def claim(self, record: JobRecord) -> bool:
        c = self.crew
        if self.stopping or (
            self.max_jobs is not None and c.stats.taken >= self.max_jobs and record.job_id not in c.stats.claimed_ids
        ):
            return False
        if self.waits_turn(record):
            return False  # providers ranked before this one for this job claim first (claim_spread.py): no read yet
        if self.capped.waiting(record.job_id):
            return False  # nothing held has ended since a cap refused it: no read yet
        was_waiting = self.capped.looked_at(record.job_id)
        job = self.standing.job_as_seen(record)
        if job is None:
            return self.end.finish(record, Step.LOST, GONE)
        if not record.input_path:
            record = self._adopt_offer(record, job.consumer)
        if job.status is JobStatus.CLAIMED and self.standing.mine(job):  # an order we filled, its record lost in a crash
            c.journal.record(record.job_id, record.model_id, Step.CLAIMING, note="claimed by this worker (an order)")
            c.stats.claimed_ids.add(record.job_id)
            return True  # CLAIMING's handler finds the claim on chain
        wait_s = self.eligibility.auction_wait(record, job)
        if wait_s:  # an auction below this worker's floor now, at it later: look again then
            c.retry_at[record.job_id] = (time.monotonic() + wait_s, 0)
            c.log(
                "job.waiting",
                job_id=record.job_id,
                price_now=c.market.price_at(record.job_id, int(self.standing.now())),
                floor=self.eligibility.floor(record.model_id, job.callback_gas_limit),
                wait_s=round(wait_s, 1),
            )
            return False
        c.retry_at.pop(record.job_id, None)
        verdict = self.eligibility.judge(record, job)
        if verdict.reason and verdict.wait:  # a cap on what this worker holds: it frees when a held job finishes
            self.capped.wait(record.job_id, job.claim_deadline - CLAIM_MARGIN_S - self.standing.now())
            if not was_waiting:  # said once per job, not once per look
                c.journal.record(record.job_id, record.model_id, Step.SEEN, note=f"waiting: {verdict.reason}")
                c.log("job.waiting", job_id=record.job_id, reason=verdict.reason)
            return False
        if verdict.reason:
            return self.end.finish(record, Step.SKIPPED, verdict.reason, log_as="job.skipped")
        self.proving.prove_upload_early(record)
        c.journal.record(record.job_id, record.model_id, Step.CLAIMING, fresh=verdict.fresh, collateral=verdict.collateral)

        def sent(tx_hash: str) -> None:
            c.journal.record(record.job_id, record.model_id, Step.CLAIMING, claim_tx=tx_hash)

        receipt = c.market.claim(c.signer, record.job_id, on_sent=sent)
        record = c.journal.record(record.job_id, record.model_id, Step.CLAIMED, claim_block=receipt.block_number)
        c.crash_point("claimed")
        c.stats.claimed_ids.add(record.job_id)
        c.metrics.inc("ngx_worker_claims_total")
        c.log("job.claimed", job_id=record.job_id, tx=receipt.tx)
        if record.input_path or c.mailbox.get(record.job_id, "input") is not None:  # offered or uploaded: go on now
            self.proving.await_input(record, claimed=c.market.job(record.job_id))
        return True

    def waits_turn(self, record: JobRecord) -> bool:
        """With the claim spread, whether others ranked before this provider claim ``record`` first. A job
        this worker holds the input of (offered to it, or uploaded to its endpoint) never waits."""
        c = self.crew
        if self.spread is None or record.step is not Step.SEEN or record.input_path:
            return False
        if c.offers.holds(record.model_id, record.commitments) or c.mailbox.get(record.job_id, "input") is not None:
            return False
        return self.spread.wait_s(record.job_id, record.commitments) > 0

    def _adopt_offer(self, record: JobRecord, consumer: str) -> JobRecord:
        """A job posted for an input offered to this worker: the offer's input (and running proof) become its own."""
        c = self.crew
        adopted = c.offers.adopt(record.job_id, record.model_id, consumer, record.commitments)
        if adopted is None:
            return record
        path = c.opener.save_input(record.job_id, adopted.salted)
        record = c.journal.record(
            record.job_id,
            record.model_id,
            Step.SEEN,
            note="offered",
            input_path=str(path),
            reply_to=adopted.reply_to.hex(),
            offered=True,
        )
        c.log("job.offered", job_id=record.job_id, proving_early=adopted.proof is not None)
        return record

    # --- CLAIMING: did the claim land? ----------------------------------------------------------------
    def resume_claim(self, record: JobRecord) -> bool:
        c = self.crew
        job = self.standing.job_as_seen(record)
        if job is None:
            return self.end.finish(record, Step.LOST, GONE)
        if job.status is JobStatus.CLAIMED and self.standing.mine(job):
            c.journal.record(
                record.job_id,
                record.model_id,
                Step.CLAIMED,
                note="claim found on chain",
                claim_block=c.market.deployment.block,
            )
            return True
        if job.status is JobStatus.OPEN:
            c.journal.record(record.job_id, record.model_id, Step.SEEN, note="claim not on chain; retrying")
            return True
        return self.end.finish(record, Step.LOST, f"job is {job.status.value} (not ours)")

    def _unserved(self, record: JobRecord) -> bool:
        """A journaled job of a model this run does not serve: finish what needs no circuit, release the rest."""
        if record.step is Step.SEEN:
            return self.end.finish(record, Step.SKIPPED, "model not served by this run", log_as="job.skipped")
        if record.step in (Step.CLAIMED, Step.PROVING):
            return self.end.give_back(record, DeclineReason.OTHER, "model no longer served by this worker")
        return HANDLERS[record.step](self, record)  # claiming, proved, submitting, declining: chain work only


HANDLERS: dict[Step, Callable[[Lifecycle, JobRecord], bool]] = {
    Step.SEEN: Lifecycle.claim,
    Step.CLAIMING: Lifecycle.resume_claim,
    Step.CLAIMED: lambda lc, r: lc.proving.await_input(r),
    Step.PROVING: lambda lc, r: lc.proving.prove(r),
    Step.PROVED: lambda lc, r: lc.settling.take(r),
    Step.QUEUED: lambda lc, r: lc.settling.flush(r),
    Step.SUBMITTING: lambda lc, r: lc.settling.resume(r),
    Step.SUBMITTED: lambda lc, r: lc.challenges.watch(r),
    Step.ANSWERING: lambda lc, r: lc.challenges.resume_answer(r),
    Step.DECLINING: lambda lc, r: lc.end.decline(r),
}
"""The step table: what the worker does for a job journaled at each unfinished step (after a crash too)."""
