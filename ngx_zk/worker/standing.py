"""What the chain says of one of my jobs: is it still the job I journaled, is it still mine, what time is it
on chain, and what a revert means. :class:`Standing` answers; it never journals or sends anything.

Its answers to "is it still mine?" and "what does this revert mean?" are :class:`Verdict` records, which
the lifecycle carries out (:meth:`ngx_zk.worker.lifecycle.Lifecycle.carry_out`): the reading of the chain
lives here, the journaling and the declines there.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import Enum

from ..chain.types import Job, JobStatus, commitments_hash
from ..errors import ContractRevert
from .journal import JobRecord, Step
from .market_view import MarketView

GONE = "no longer on chain: a reorg dropped its JobPosted event"
MAY_CLEAR = {"EnforcedPause", "JobMarket__ModelPaused", "JobMarket__InputDeadlineNotReached"}
"""Reverts that time can clear: retried (dry runs cost nothing) until the prove deadline."""
HOPELESS = {
    "JobMarket__InvalidProof",
    "JobMarket__CommitmentMismatch",
    "JobMarket__InstanceCountMismatch",
    "JobMarket__InstanceOutOfField",
    "JobMarket__VerifierCodeChanged",
    "JobMarket__VerifierHasNoCode",
    "JobMarket__VkaDigestMismatch",
}
"""Reverts of a submission that no retry clears: the job is given back at once."""
HELD = frozenset({Step.CLAIMED, Step.PROVING, Step.PROVED, Step.QUEUED, Step.SUBMITTING})
"""Steps of a job claimed by us whose work goes on: open again on chain (not by an expiry), a reorg dropped the claim."""


class Outcome(Enum):
    """What the lifecycle does with a job after reading the chain."""

    LOST = "lost"
    """Journal it lost: the chain moved on without us."""
    DONE = "done"
    """Journal it done: it settled with our proof."""
    SKIPPED = "skipped"
    """Journal it skipped: our claim was refused and the job is still open."""
    RECLAIM = "reclaim"
    """Back to SEEN: a reorg dropped our claim; claim again."""
    DECLINE_OTHER = "decline-other"
    """Still declining, without the free reason (the input was delivered on chain)."""
    RETRY = "retry"
    """Try the same step again later, backing off (a revert that time may clear)."""
    GIVE_BACK = "give-back"
    """Decline the job before it can be slashed (nothing we can send will succeed)."""
    FAILED = "failed"
    """Journal it failed: even the decline was refused."""
    CONTAIN = "contain"
    """An unexplained revert: count it against the job like any unexpected error."""


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    note: str = ""


class Standing:
    """Reads one provider's jobs on chain (``me``: the provider's address)."""

    def __init__(self, market: MarketView, me: str) -> None:
        self.market, self.me = market, me.lower()
        self._block_seen: tuple[int, float] = (-1, 0.0)  # latest block timestamp, and when (monotonic) it was first seen

    def now(self) -> float:
        """Chain time as the next block will see it, at least: the latest block's timestamp plus the wall
        time since this worker first saw that timestamp. Deadlines and auction prices are chain time, not
        the wall clock (a node's clock may lag or lead it, e.g. a devnet reverted to a snapshot or moved
        forward); but a chain that mines only on demand (anvil) keeps its latest timestamp while no
        transaction comes, and a rising auction price read at it would never reach this worker's floor."""
        latest = self.market.chain.timestamp()
        seen_ts, seen_at = self._block_seen
        if latest != seen_ts:
            self._block_seen = seen_ts, seen_at = latest, time.monotonic()
        return float(latest) + (time.monotonic() - seen_at)

    def mine(self, job: Job) -> bool:
        return job.provider is not None and job.provider.lower() == self.me

    def job_as_seen(self, record: JobRecord) -> Job | None:
        """The job on chain if it is still the one journaled; None when a reorg dropped its JobPosted
        (the id is gone, or a later post took it over)."""
        if record.job_id > self.market.job_count():
            return None
        job = self.market.job(record.job_id)
        if job.model_id != record.model_id or (
            record.commitments and job.commitments_hash != commitments_hash(record.commitments)
        ):
            return None
        return job

    def still_ours(self, record: JobRecord) -> Job | Verdict:
        """The job if it is still claimed by us inside its prove window; else what happened to it."""
        job = self.job_as_seen(record)
        if job is None:
            return Verdict(Outcome.LOST, GONE)
        if job.status is JobStatus.OPEN:  # a claimed job never reopens, except when a reorg drops the claim
            return Verdict(Outcome.RECLAIM, "a reorg dropped our claim; claiming again")
        if not (job.status is JobStatus.CLAIMED and self.mine(job)):
            return Verdict(Outcome.LOST, f"job is {job.status.value}")
        if self.now() >= job.prove_deadline:
            return Verdict(Outcome.LOST, "the prove deadline passed")
        return job

    def after_revert(self, record: JobRecord, exc: ContractRevert) -> Verdict:
        """A revert usually means the chain moved on (taken, expired, reorged): look, and say what happened,
        whether to retry later (a revert that may clear), or to give the job back (one that cannot clear)."""
        job = self.job_as_seen(record)
        if job is None:
            return Verdict(Outcome.LOST, GONE)
        if job.status is JobStatus.SETTLED and self.mine(job):
            return Verdict(Outcome.DONE, "already settled")
        if job.status is JobStatus.OPEN and record.step in (Step.SEEN, Step.CLAIMING):
            return Verdict(Outcome.SKIPPED, f"claim refused: {exc.name}")
        if job.status is JobStatus.OPEN and record.step in HELD and not job.reopened:  # not reopened by an expiry
            return Verdict(Outcome.RECLAIM, "a reorg dropped our claim; claiming again")
        if job.status.final or not self.mine(job):
            return Verdict(Outcome.LOST, f"{exc.name}: job is {job.status.value}")
        if self.now() >= job.prove_deadline:
            return Verdict(Outcome.LOST, f"{exc.name}: the prove deadline passed")
        if record.step is Step.DECLINING and exc.name == "JobMarket__InputWasDelivered":
            return Verdict(Outcome.DECLINE_OTHER, "input was delivered on chain: declining without the free reason")
        if exc.name in MAY_CLEAR:
            return Verdict(Outcome.RETRY, str(exc))
        if record.step is Step.DECLINING:
            return Verdict(Outcome.FAILED, f"decline refused: {exc.name}")
        if exc.name in HOPELESS:
            return Verdict(Outcome.GIVE_BACK, f"submission cannot succeed: {exc.name}")
        return Verdict(Outcome.CONTAIN)
