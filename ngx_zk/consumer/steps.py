"""The consumer's wait for settlement, as a step table: what to do while the job is in each status.

::

    None --the node sees the post--> Open --claim--> Claimed --proof--> Settled
                                      |  ^              |--decline--> Cancelled (the escrow comes back)
                  claim deadline -----|  '-- reopened --| prove deadline: the claim is expired; the job
                                      v                 |   reopens once for a second prover
                                    Expired <-----------'   (a second miss: expired)

    an optimistic job:  Claimed --results--> Submitted --window closed: finalize--> Settled
                                                 |--bad or unavailable proof: challenge--> Challenged
                                                 Challenged --answered--> Settled; --answer deadline: uphold--> Expired (refund)

Each look at the job (when a block arrives, or an offer resend or a deadline is due: an idle devnet
mines no block to wake us) finds its status's :class:`Step`: a line when the job enters the status, then
the step's action (deliver the input to a new claimer, expire the job at its deadline). The loop ends
when the job is final and returns :class:`Ended`; :meth:`ngx_zk.consumer.Consumer.wait` then checks the
proof. With ``confirmations`` N, a settled job ends the loop only once its settlement (its JobSettled log)
has N blocks on top; a reorg that drops it before then sends the loop back to the job's new status. It reads the chain through :class:`~.view.ConsumerView` (and an optimistic job's settlement through
:class:`~.optimistic.OptimisticView`), so an in-memory fake drives it in tests.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

from ..chain.types import Job, JobStatus
from ..errors import ContractRevert, Interrupted, NgxZkError, TransactionError
from ..units import fmt_ngx
from ..watch.proofs import Problem, ProofCheck, Submission
from ..watch.tower import NOT_YET
from ..watch.tower import TOO_LATE as TOO_LATE_TO_CHALLENGE
from .delivery import Progress, deliver_input
from .optimistic import OptimisticView, grace
from .records import JobRecord
from .view import ConsumerView

if TYPE_CHECKING:
    from ..chain.signer import Signer

OFFER_RESEND_S = 5.0
"""A provider that took the offer and claimed has the input; it is sent again (as to any claimer)
only if the job is still unsettled this long after the claim (a worker that restarted lost it)."""
TOO_LATE = frozenset({"JobMarket__InputDeadlinePassed", "JobMarket__ProveWindowClosed", "JobMarket__InvalidStatus"})
"""Reverts of ``deliverInput`` that mean this claim can no longer take the input (not worth retrying)."""


class Next(Enum):
    """What the loop does after a step acted."""

    WAIT = "wait"
    """Sleep until the next block, resend or deadline."""
    LOOK = "look"
    """Look at the job again at once (a transaction of ours changed it)."""
    DONE = "done"
    """The job is final."""


@dataclass(frozen=True)
class Step:
    """The consumer's part while its job is in one status."""

    enter: Callable[[Follow, Job], str]
    """The line shown when the job reaches the status."""
    act: Callable[[Follow, Job], Next]
    """What to do on each look at the job in that status."""


@dataclass(frozen=True)
class Ended:
    """A job followed to a final status, and the transactions of its life (post, deliver, expire)."""

    job: Job
    tx: dict[str, str]
    checked: ProofCheck | None = None
    """An optimistic job's committed proof as the wait checked it (None: not checked here)."""
    submission: Submission | None = None


def interrupted(job_id: int) -> Interrupted:
    """Ctrl-C while waiting: the job goes on, and the message says how to come back to it."""
    return Interrupted(
        f"stopped waiting for job {job_id}",
        f"the job stays on chain with its escrow: resume with `ngx-zk job wait {job_id}`, "
        f"or once its deadline passed get the refund with `ngx-zk job expire {job_id}`",
        job_id=job_id,
    )


class Follow:
    """One wait for one job: the loop over :data:`STEPS` and the state the steps share.

    ``pause`` sleeps between looks (until a new block is announced, at most the poll interval);
    ``catch_up(deadline)`` returns the chain's time, first moving an idle devnet's chain on once its own
    clock passed ``deadline`` (:func:`ngx_zk.chain.devnet.catch_up`); ``save`` keeps the record after
    each delivery; ``now`` is a monotonic clock."""

    def __init__(
        self,
        market: ConsumerView,
        signer: Signer,
        record: JobRecord,
        *,
        pause: Callable[[], None],
        catch_up: Callable[[int], int],
        save: Callable[[JobRecord], None],
        progress: Progress = lambda _: None,
        timeout_s: float | None = None,
        expire_when_due: bool = True,
        now: Callable[[], float] = time.monotonic,
        guard: OptimisticView | None = None,
        confirmations: int = 0,
        settled_block: Callable[[int], int | None] | None = None,
    ) -> None:
        self.market, self.signer, self.record, self.guard = market, signer, record, guard
        self.pause, self.catch_up, self.save, self.progress, self.now = pause, catch_up, save, progress, now
        self.timeout_s, self.expire_when_due = timeout_s, expire_when_due
        self.tx = {"post": record.post_tx}
        self.last: JobStatus | None = None
        self.block = -1
        self.due = float("inf")
        """The job's current deadline (chain time, unix seconds)."""
        self.head_time, self.head_seen = 0, now()
        """The head's chain time and when it was seen: chain time runs on between blocks."""
        self.resend_at: float | None = None
        self.too_late: set[str] = set()
        self.started = now()
        self.sub: Submission | None = None
        self.checked: ProofCheck | None = None
        self.grace_at: int | None = None
        self.said: set[str] = set()
        self.confirmations, self.settled_block = confirmations, settled_block
        """``settled_block(job_id)``: the block of the job's JobSettled log (None: the block it was first seen settled)."""
        self.settled_at: int | None = None

    def run(self) -> Ended:
        """Follow the job until it is final (see the module docstring); Ctrl-C raises :class:`Interrupted`
        naming the job."""
        try:
            while True:
                job = self.look()
                if job is None:
                    self.idle(self.last)
                    continue
                step = STEPS[job.status]
                if job.status is not self.last:
                    self.progress(step.enter(self, job))
                    self.last, self.settled_at = job.status, None
                after = step.act(self, job)
                if after is Next.DONE and self.confirmed(job):
                    return Ended(job, self.tx | self._delivered(), self.checked, self.sub)
                if after is Next.DONE:  # settled, not deep enough yet: wait for blocks, then look again
                    after = Next.WAIT
                if after is Next.WAIT:
                    self.idle(job.status)
        except KeyboardInterrupt:
            raise interrupted(self.record.job_id) from None

    def confirmed(self, job: Job) -> bool:
        """Whether a final job may end the wait: always, unless it settled less than ``confirmations`` blocks
        ago. The settlement's block is read when first needed and again once deep enough (a reorg may have
        moved it to a later block); a job the reorg took back from Settled is followed in its new status."""
        if self.confirmations <= 0 or job.status is not JobStatus.SETTLED:
            self.settled_at = None
            return True
        head = self.market.chain.block_number()
        if self.settled_at is None or head - self.settled_at >= self.confirmations:
            at = self.settled_block(job.job_id) if self.settled_block is not None else None
            self.settled_at = at if at is not None else self.settled_at if self.settled_at is not None else self.block
        if head - self.settled_at >= self.confirmations:
            return True
        if "confirming" not in self.said:
            self.said.add("confirming")
            self.progress(f"settled in block {self.settled_at}: waiting for {self.confirmations} blocks on top")
        return False

    def look(self) -> Job | None:
        """The job, read only when there may be news: a new block, a resend due, or the deadline reached by
        the chain's time (extrapolated from the head's: an idle devnet mines no block)."""
        head = self.market.chain.block_number()
        resend_due = self.resend_at is not None and self.now() >= self.resend_at
        if head == self.block and not resend_due and self.head_time + self.now() - self.head_seen < self.due:
            return None
        if head != self.block:
            self.head_time, self.head_seen = self.market.chain.timestamp(), self.now()
        self.block = head
        return self.market.job(self.record.job_id)

    def idle(self, status: JobStatus | None) -> None:
        if self.timeout_s is not None and self.now() - self.started > self.timeout_s:
            job_id = self.record.job_id
            raise NgxZkError(
                f"job {job_id} is still {status.value.lower() if status else 'open'} after {self.timeout_s:.0f}s",
                f"it stays on chain: follow it with `ngx-zk job wait {job_id}`, or once its deadline passed "
                f"get the refund with `ngx-zk job expire {job_id}`",
            )
        self.pause()

    def deliver(self, job: Job) -> None:
        """Hand the input to a provider that claimed and does not have it yet (once per claimer)."""
        provider = job.provider
        if provider is None or provider in self.record.deliveries or provider in self.too_late:
            return
        if provider == self.record.offered_to:  # it has the input from the offer, unless it restarted since
            if self.resend_at is None:
                self.resend_at = self.now() + OFFER_RESEND_S
            if self.now() < self.resend_at:
                return
        self.progress(f"delivering the encrypted input to {provider}")
        try:
            self.record.deliveries[provider] = deliver_input(self.market, self.signer, self.record, job, progress=self.progress)
        except ContractRevert as exc:
            if exc.name not in TOO_LATE:
                raise
            self.progress(f"too late to deliver to {provider}: its input deadline passed or its claim ended")
            self.too_late.add(provider)
            return
        self.save(self.record)

    def at_deadline(self, job: Job, due: int) -> Next:
        """Expire the job once ``due`` passed on the chain (for the refund, or a second prover), except a
        gasless job: expiring takes gas, and others do it (a worker, for the second-prover bounty)."""
        self.due = due
        if not self.expire_when_due or self.record.gasless or self.catch_up(due) < due:
            return Next.WAIT
        second_round = job.status is JobStatus.CLAIMED and not job.reopened
        self.progress(
            "prove deadline passed: expiring the claim (the job reopens for a second prover if the provider was at fault)"
            if second_round
            else "deadline passed: expiring the job for a refund"
        )
        self.tx["expire"] = self.market.expire(self.signer, self.record.job_id).tx
        return Next.LOOK

    # --- an optimistic job (see :mod:`.optimistic`) ---------------------------------------------------
    def submission(self, job_id: int) -> Submission | None:
        if self.sub is None and self.guard is not None:
            self.sub = self.guard.submission(job_id)
        return self.sub

    def once(self, key: str, text: str) -> None:
        if key not in self.said:
            self.said.add(key)
            self.progress(text)

    def check_submitted(self, job: Job) -> Next:
        """Check the committed proof (until it is served, or the grace point passed: then challenge), then finalize
        the job once its challenge window closed."""
        sub = self.submission(job.job_id)
        if sub is None or self.guard is None:
            return Next.WAIT
        if self.checked is None or self.checked.problem is Problem.UNAVAILABLE:
            if self.grace_at is None:
                self.grace_at = sub.challenge_deadline - grace(sub.challenge_deadline - self.head_time)
            self.once("check", "fetching the committed proof and checking it locally")
            self.checked = self.guard.check(sub)
            if self.checked.ok:
                self.progress(f"the committed proof checks out ({self.checked.source}); waiting for the challenge window")
            elif self.checked.problem is Problem.UNAVAILABLE and self.catch_up(self.grace_at) < self.grace_at:
                self.once("unavailable", f"the proof is not served yet ({self.checked.detail}); asking again")
                self.due = self.grace_at
                return Next.WAIT
        if not self.checked.ok:
            return self._challenge(sub, self.checked)
        return self._finalize(sub)

    def _challenge(self, sub: Submission, checked: ProofCheck) -> Next:
        assert self.guard is not None and checked.problem is not None
        if self.record.gasless:
            self.once("gasless", f"the result is bad ({checked.problem.value}: {checked.detail}); a gasless account cannot "
                      "challenge it: a watchtower (ngx-zk watch) will, or challenge it from an account with ETH")  # fmt: skip
            self.due = sub.challenge_deadline
            return Next.WAIT
        self.progress(f"challenging the result: {checked.problem.value} ({checked.detail})")
        try:
            self.tx["challenge"] = self.guard.challenge(self.signer, sub)[0]
        except ContractRevert as exc:
            if exc.name not in TOO_LATE_TO_CHALLENGE:
                raise
            self.progress(f"could not challenge ({exc.name}): someone else did, or the window closed")
        return Next.LOOK

    def _finalize(self, sub: Submission) -> Next:
        assert self.guard is not None
        self.due = sub.challenge_deadline
        if not self.expire_when_due or self.record.gasless or self.catch_up(sub.challenge_deadline) < sub.challenge_deadline:
            return Next.WAIT
        self.progress("challenge window closed: finalizing the batch (the provider's worker may do it first)")
        try:
            self.tx["finalize"] = self.guard.finalize(self.signer, sub)
        except ContractRevert as exc:
            self.once("finalize", f"could not finalize yet ({exc.name}); waiting")
            self.due = float("inf")
            return Next.WAIT
        except TransactionError:  # e.g. the nonce went to this key's other wait, finalizing the same batch first
            if self.market.job(self.record.job_id).status is JobStatus.SUBMITTED:
                raise
            self.once("finalize-raced", "the batch was finalized by another transaction (yours was not needed)")
        return Next.LOOK

    def follow_challenge(self, job: Job) -> Next:
        """Uphold an unanswered challenge at its answer deadline (the refund)."""
        if self.guard is None:
            return Next.WAIT
        due = self.guard.answer_deadline(job.job_id)
        self.due = due
        if not self.expire_when_due or self.record.gasless or self.catch_up(due) < due:
            return Next.WAIT
        self.progress("the provider did not answer the challenge: upholding it (the provider is slashed, you are refunded)")
        try:
            self.tx["uphold"] = self.guard.uphold(self.signer, job.job_id)
        except ContractRevert as exc:
            if exc.name not in NOT_YET | {"JobMarket__InvalidStatus"}:
                raise
            self.once("uphold", f"cannot uphold yet ({exc.name}); waiting")
            return Next.WAIT
        return Next.LOOK

    def _delivered(self) -> dict[str, str]:
        return {"deliver": list(self.record.deliveries.values())[-1]} if self.record.deliveries else {}


# --- the steps ----------------------------------------------------------------------------------------
def _enter_open(f: Follow, job: Job) -> str:
    if f.last is JobStatus.CLAIMED and job.reopened:
        extras = f.market.job_extras(job.job_id)
        return (
            f"{extras.missed_by} missed the prove deadline (slashed): job reopened for a second prover, "
            f"who earns a {fmt_ngx(extras.bounty)} bounty on top of the price"
        )
    return "waiting for a provider to claim"


def _enter_claimed(f: Follow, job: Job) -> str:
    locked = f" at {fmt_ngx(job.price)}" if job.price != f.record.price else ""  # an auction's price of the moment
    return f"claimed by {job.provider}{locked}; proving"


def _enter_cancelled(f: Follow, job: Job) -> str:
    return f"cancelled: {job.provider} declined the job; the escrow comes back" if job.provider else "cancelled"


def _open(f: Follow, job: Job) -> Next:
    return f.at_deadline(job, job.claim_deadline)


def _claimed(f: Follow, job: Job) -> Next:
    f.deliver(job)
    return f.at_deadline(job, job.prove_deadline)


def _enter_submitted(f: Follow, job: Job) -> str:
    sub = f.submission(job.job_id)
    where = f" in batch {sub.batch_id}; it finalizes at chain time {sub.challenge_deadline} unless challenged" if sub else ""
    return f"{job.provider} submitted its result optimistically{where}"


def _enter_challenged(f: Follow, job: Job) -> str:
    by = " by you" if "challenge" in f.tx else ""
    return f"the result was challenged{by}: the provider must answer with the committed proof, else it is slashed and you are refunded"


def _submitted(f: Follow, job: Job) -> Next:
    return f.check_submitted(job)


def _challenged(f: Follow, job: Job) -> Next:
    return f.follow_challenge(job)


def _wait(_f: Follow, _job: Job) -> Next:
    return Next.WAIT


def _done(_f: Follow, _job: Job) -> Next:
    return Next.DONE


STEPS: dict[JobStatus, Step] = {
    JobStatus.NONE: Step(lambda f, job: "waiting for the node to see the job", _wait),
    JobStatus.OPEN: Step(_enter_open, _open),
    JobStatus.CLAIMED: Step(_enter_claimed, _claimed),
    JobStatus.SETTLED: Step(lambda f, job: "settled", _done),
    JobStatus.EXPIRED: Step(lambda f, job: "expired", _done),
    JobStatus.CANCELLED: Step(_enter_cancelled, _done),
    JobStatus.SUBMITTED: Step(_enter_submitted, _submitted),
    JobStatus.CHALLENGED: Step(_enter_challenged, _challenged),
}
"""Every status a job can be in, and the consumer's part in it (a status added without a step fails at import in the test)."""
