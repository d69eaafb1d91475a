"""The consumer's wait for settlement, as a step table: what to do while the job is in each status.

::

    None --the node sees the post--> Open --claim--> Claimed --proof--> Settled
                                      |  ^              |--decline--> Cancelled (the escrow comes back)
                  claim deadline -----|  '-- reopened --| prove deadline: the claim is expired; the job
                                      v                 |   reopens once for a second prover
                                    Expired <-----------'   (a second miss: expired)

Each look at the job (when a block arrives, or an offer resend or a deadline is due: an idle devnet
mines no block to wake us) finds its status's :class:`Step`: a line when the job enters the status, then
the step's action (deliver the input to a new claimer, expire the job at its deadline). The loop ends
when the job is final and returns :class:`Ended`; :meth:`ngx_zk.consumer.Consumer.wait` then checks the
proof. It reads the chain through :class:`~.view.ConsumerView`, so an in-memory fake drives it in tests.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

from ..chain.types import Job, JobStatus
from ..errors import ContractRevert, Interrupted, NgxZkError
from ..units import fmt_ngx
from .delivery import Progress, deliver_input
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
    ) -> None:
        self.market, self.signer, self.record = market, signer, record
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
                    self.last = job.status
                after = step.act(self, job)
                if after is Next.DONE:
                    return Ended(job, self.tx | self._delivered())
                if after is Next.WAIT:
                    self.idle(job.status)
        except KeyboardInterrupt:
            raise interrupted(self.record.job_id) from None

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
}
"""Every status a job can be in, and the consumer's part in it (a status added without a step fails at import in the test)."""
